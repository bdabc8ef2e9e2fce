"""BG/BB: published estimates, Hardie's spreadsheet, lifetimes oracle, gradient, properties,
simulation, recovery."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import special

from clv._ops import NUMPY
from clv.data.datasets import load_donations
from clv.exceptions import DataError
from clv.models import bgbb
from clv.models.bgbb import BetaGeoBetaBinomModel, BGBBParams

# Fader, Hardie & Shang (2010), Marketing Science 29(6), 1086-1108: BG/BB on the 1995 cohort
# of 11,104 donors with 6 annual opportunities (1996-2001): LL = -33,225.6.
PUBLISHED = BGBBParams(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
COLUMNS = ("frequency", "recency", "T")


@pytest.fixture(scope="module")
def donations() -> pd.DataFrame:
    return load_donations()


@pytest.fixture(scope="module")
def fitted(donations) -> BetaGeoBetaBinomModel:
    return BetaGeoBetaBinomModel().fit(donations)


def _arrays(frame: pd.DataFrame) -> list[np.ndarray]:
    return [frame[c].to_numpy(dtype=float) for c in COLUMNS]


@pytest.fixture(scope="module")
def lifetimes_bgbb():
    lifetimes = pytest.importorskip("lifetimes")
    model = lifetimes.BetaGeoBetaBinomFitter()
    model.params_ = pd.Series(PUBLISHED._asdict())
    return model


# --------------------------------------------------------------------------- references
def test_reproduces_published_estimates(fitted):
    """Fader, Hardie & Shang (2010), Marketing Science 29(6), 1086-1108, on the donations
    data (lifetimes' donations.csv): alpha=1.204, beta=0.750, gamma=0.657, delta=2.783,
    LL=-33,225.6 (also Hardie's BG/BB spreadsheet, note 010).  Tolerance: half a unit of the
    printed third decimal; LL to 0.05."""
    for name, value in PUBLISHED._asdict().items():
        assert fitted.params_[name] == pytest.approx(value, abs=5e-4 + 1e-12)
    assert fitted.log_likelihood_ == pytest.approx(-33225.6, abs=0.05)
    assert fitted.converged_
    assert fitted.n_customers_ == 11_104


def test_published_probability_alive(donations, fitted):
    """FHS (2010) Table 6, P(alive in 2002) given the 1996-2001 history: 0.11 for
    (x, t_x) = (0, 0), 0.59 for (2, 4), 0.93 for (6, 6) (printed to 2 decimals; lifetimes'
    ``test_prob_alive_is_close_to_Hardie_paper_table_6`` uses the same cells).  The paper's
    P(alive) is at opportunity n + 1 = 7."""
    p_alive = fitted.probability_alive(donations)
    cells = {(0, 0): 0.11, (2, 4): 0.59, (6, 6): 0.93}
    for (x, t_x), value in cells.items():
        row = (donations["frequency"] == x) & (donations["recency"] == t_x)
        assert float(p_alive[row].iloc[0]) == pytest.approx(value, abs=0.005)


def test_hardie_spreadsheet_totals(donations, fitted):
    """Hardie's BG/BB spreadsheet (brucehardie.com/notes/010, BGBB_2011-01-20.xlsx), as
    quoted by lifetimes' tests: 'Conditional Expectations (II)' column F total 12,884.2
    (expected donations in the next 5 opportunities, summed over donors) and the
    'In-Sample Fit' cells C18 / C24, 3,454.9 donors with 0 and 1,253.1 with 6 repeat
    donations in 6 opportunities (printed to 1 decimal)."""
    weights = donations["weight"].to_numpy()
    total = float(np.sum(weights * fitted.expected_purchases(5, donations).to_numpy()))
    assert total == pytest.approx(12884.2, abs=0.05)
    counts = fitted.probability_of_purchases([0, 6], 6) * weights.sum()
    np.testing.assert_allclose(counts, [3454.9, 1253.1], atol=0.05)


# --------------------------------------------------------------------------- lifetimes oracle
def test_per_customer_log_likelihood_equals_lifetimes(donations, lifetimes_bgbb):
    """lifetimes' ``BetaGeoBetaBinomFitter._loglikelihood`` takes NATURAL parameters and
    adds 1e-15 to the finite sum (negligible here: the summands are ~1e-2)."""
    x, t_x, n = _arrays(donations)
    theirs = type(lifetimes_bgbb)._loglikelihood(np.array(PUBLISHED), x, t_x, n)
    np.testing.assert_allclose(bgbb.log_likelihood(PUBLISHED, x, t_x, n), theirs, rtol=1e-8)


def test_log_likelihood_equals_lifetimes_on_a_grid(lifetimes_bgbb):
    n = np.arange(1, 31, dtype=float)
    x, t_x, T = (a.ravel() for a in np.meshgrid(n, n, n, indexing="ij"))
    keep = (x <= t_x) & (t_x <= T)
    x, t_x, T = (np.r_[v[keep], 0.0] for v in (x, t_x, T))
    T[-1] = 30.0
    p = BGBBParams(2.5, 1.5, 0.8, 3.0)
    ours = bgbb.log_likelihood(p, x, t_x, T)
    # lifetimes adds 1e-15 to the unnormalised likelihood B(a,b) B(g,d) L: keep the rows
    # where that changes L by less than 1e-10 (lifetimes is sound there)
    sound = ours + special.betaln(p.alpha, p.beta) + special.betaln(p.gamma, p.delta) > np.log(1e-5)
    assert sound.sum() > 1000
    theirs = type(lifetimes_bgbb)._loglikelihood(np.array(p), x[sound], t_x[sound], T[sound])
    np.testing.assert_allclose(ours[sound], theirs, rtol=1e-8)


def test_predictions_equal_lifetimes(donations, lifetimes_bgbb):
    x, t_x, n = _arrays(donations)
    np.testing.assert_allclose(
        bgbb.probability_alive(PUBLISHED, x, t_x, n),
        lifetimes_bgbb.conditional_probability_alive(1, x, t_x, n),
        rtol=1e-8,
    )
    for t in (1, 5, 10):
        np.testing.assert_allclose(
            bgbb.expected_purchases(PUBLISHED, t, x, t_x, n),
            lifetimes_bgbb.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, n),
            rtol=1e-8,
        )
    lifetimes_bgbb.data = pd.DataFrame({"frequency": x, "weights": donations["weight"]})
    theirs = lifetimes_bgbb.expected_number_of_transactions_in_first_n_periods(6)
    ours = bgbb.probability_of_purchases(PUBLISHED, theirs.index.to_numpy(), 6)
    np.testing.assert_allclose(ours * donations["weight"].sum(), theirs["model"], rtol=1e-8)


# --------------------------------------------------------------------------- consistency
def test_new_customer_expectation_is_mean_of_probability_of_purchases():
    for t in (1, 6, 25, 200):
        k = np.arange(t + 1)
        pmf = bgbb.probability_of_purchases(PUBLISHED, k, t)
        assert float(np.sum(pmf)) == pytest.approx(1.0, abs=1e-12)
        assert float(np.sum(k * pmf)) == pytest.approx(
            float(bgbb.expected_purchases_new_customer(PUBLISHED, t)), rel=1e-10
        )


def test_conditional_expectation_of_a_customer_without_history():
    """With no observed opportunity (x = t_x = n = 0) the likelihood is 1 and the
    conditional expectation is the new-customer expectation."""
    t = np.array([1.0, 6.0, 30.0])
    assert bgbb.log_likelihood(PUBLISHED, 0, 0, 0) == pytest.approx(0.0, abs=1e-14)
    np.testing.assert_allclose(
        bgbb.expected_purchases(PUBLISHED, t, 0, 0, 0),
        bgbb.expected_purchases_new_customer(PUBLISHED, t),
        rtol=1e-12,
    )


def test_probability_of_purchases_is_the_likelihood_summed_over_histories():
    """P(X(n) = x) = sum over t_x of (number of histories with that (x, t_x)) * L(x, t_x, n)."""
    p, n = BGBBParams(0.9, 1.7, 1.3, 2.2), 9
    for x in range(n + 1):
        t_x = np.arange(x, n + 1, dtype=float) if x else np.array([0.0])
        ways = special.comb(t_x - 1, x - 1) if x else np.ones(1)
        total = float(np.sum(ways * np.exp(bgbb.log_likelihood(p, float(x), t_x, float(n)))))
        assert total == pytest.approx(float(bgbb.probability_of_purchases(p, x, n)), rel=1e-11)


def test_loop_path_equals_grouped_path(donations):
    """The generic ``ops`` path (masked loop, used for PyTensor and parameter arrays) equals
    the NumPy fast path (grouped cumulative log-sum-exp)."""
    x, t_x, n = _arrays(donations)
    fast = bgbb.log_likelihood(PUBLISHED, x, t_x, n)
    loop = bgbb._log_likelihood_loop(PUBLISHED, x, t_x, n, NUMPY)
    np.testing.assert_allclose(loop, fast, rtol=1e-13)
    draws = BGBBParams(*(np.array([[0.9], [1.0], [1.1]]) * v for v in PUBLISHED))
    out = bgbb.log_likelihood(draws, x, t_x, n)
    assert out.shape == (3, len(x))
    np.testing.assert_allclose(out[1], fast, rtol=1e-13)
    np.testing.assert_allclose(
        bgbb.probability_alive(draws, x, t_x, n)[1],
        bgbb.probability_alive(PUBLISHED, x, t_x, n),
        rtol=1e-12,
    )


@pytest.mark.parametrize("data", ["donations", "long"])
def test_analytic_gradient_matches_central_differences(data, donations, rng):
    if data == "donations":
        x, t_x, n = _arrays(donations)
    else:
        n = rng.integers(1, 60, 300).astype(float)
        t_x = np.floor(rng.uniform(0, 1, 300) * (n + 1))
        x = np.floor(rng.uniform(0, 1, 300) * (t_x + 1))
        x[t_x == 0] = 0
        x[(t_x > 0) & (x == 0)] = 1
    p = np.array(PUBLISHED, dtype=float)
    ll, grad = bgbb.log_likelihood_gradient(PUBLISHED, x, t_x, n)
    np.testing.assert_allclose(ll, bgbb.log_likelihood(PUBLISHED, x, t_x, n), rtol=1e-13)
    for j in range(4):
        h = 1e-6 * p[j]
        up, down = p.copy(), p.copy()
        up[j] += h
        down[j] -= h
        numeric = (
            bgbb.log_likelihood(BGBBParams(*up), x, t_x, n)
            - bgbb.log_likelihood(BGBBParams(*down), x, t_x, n)
        ) / (2 * h)
        np.testing.assert_allclose(grad[j], numeric, rtol=1e-5, atol=1e-7)


def test_expected_purchases_is_continuous_at_gamma_equal_one():
    """E[X(n)] has a 0/0 at gamma = 1 (Taylor series within 1e-4 of it)."""

    def value(g: float) -> float:
        return float(bgbb.expected_purchases(BGBBParams(1.2, 0.75, g, 2.8), 10, 3, 5, 8))

    below, above = value(1 - 1.0001e-4), value(1 - 0.9999e-4)  # either side of the switch
    assert below == pytest.approx(above, rel=1e-7)
    assert value(1.0) == pytest.approx(0.5 * (value(1 - 1e-3) + value(1 + 1e-3)), rel=1e-6)
    new = [
        float(bgbb.expected_purchases_new_customer(BGBBParams(1.2, 0.75, g, 2.8), 10))
        for g in (1 - 1e-3, 1.0, 1 + 1e-3)
    ]
    assert new[1] == pytest.approx(0.5 * (new[0] + new[2]), rel=1e-6)


def test_long_histories_are_fast_and_finite():
    """n = 10,000 opportunities: one pass over the finite sum per unique (x, n)."""
    start = time.perf_counter()
    x = np.array([0.0, 1.0, 1.0, 5000.0, 10_000.0, 9999.0])
    t_x = np.array([0.0, 1.0, 9999.0, 9000.0, 10_000.0, 9999.0])
    n = np.full(6, 10_000.0)
    for p in (PUBLISHED, BGBBParams(1e-3, 1e3, 1e3, 1e-3), BGBBParams(1e3, 1e-3, 1e-3, 1e3)):
        ll, grad = bgbb.log_likelihood_gradient(p, x, t_x, n)
        assert np.all(np.isfinite(ll)) and np.all(np.isfinite(grad))
        assert np.all(np.isfinite(bgbb.expected_purchases(p, 100, x, t_x, n)))
    assert time.perf_counter() - start < 2.0


def test_probability_of_purchases_rejects_fractions():
    with pytest.raises(ValueError, match="whole number"):
        bgbb.probability_of_purchases(PUBLISHED, 1.5, 6)
    with pytest.raises(ValueError, match="whole number"):
        bgbb.probability_of_purchases(PUBLISHED, 1, 6.5)
    assert bgbb.probability_of_purchases(PUBLISHED, 7, 6) == 0.0


# --------------------------------------------------------------------------- properties
@st.composite
def bgbb_rows(draw):
    n = draw(st.integers(1, 10_000))
    t_x = draw(st.integers(0, n))
    x = draw(st.integers(1, t_x)) if t_x > 0 else 0
    return float(x), float(t_x), float(n)


params_st = st.builds(BGBBParams, *(st.floats(1e-3, 1e3) for _ in range(4)))


@given(row=bgbb_rows(), p=params_st)
def test_log_likelihood_and_gradient_are_finite(row, p):
    ll = bgbb.log_likelihood(p, *row)
    assert np.isfinite(ll) and ll <= 1e-12
    ll2, grad = bgbb.log_likelihood_gradient(p, *(np.array([v]) for v in row))
    assert np.all(np.isfinite(grad))
    assert float(ll2[0]) == pytest.approx(float(ll), rel=1e-12, abs=1e-12)


@given(row=bgbb_rows(), p=params_st)
def test_probability_alive_is_a_probability(row, p):
    value = bgbb.probability_alive(p, *row)
    assert 0.0 <= value <= 1.0


@given(row=bgbb_rows(), p=params_st, t=st.integers(0, 1000))
def test_expected_purchases_is_zero_at_zero_and_monotone(row, p, t):
    e0 = bgbb.expected_purchases(p, 0, *row)
    e1 = bgbb.expected_purchases(p, t, *row)
    e2 = bgbb.expected_purchases(p, t + 1 + t // 2, *row)
    assert e0 == 0.0
    assert np.isfinite(e1) and np.isfinite(e2)
    assert 0.0 <= e1 <= t + 1e-9  # at most one transaction per opportunity
    assert e2 >= e1 - 1e-9 * max(1.0, e1)


@given(p=params_st, n=st.integers(0, 300))
def test_probability_of_purchases_sums_to_one(p, n):
    pmf = bgbb.probability_of_purchases(p, np.arange(n + 1), n)
    assert np.all(pmf >= 0)
    assert float(np.sum(pmf)) == pytest.approx(1.0, abs=1e-9)


# --------------------------------------------------------------------------- the class
def test_weighted_fit_equals_expanded_fit(donations, fitted):
    expanded = donations.loc[donations.index.repeat(donations["weight"].astype(int)), list(COLUMNS)]
    expanded = expanded.reset_index(drop=True)
    model = BetaGeoBetaBinomModel().fit(expanded)
    np.testing.assert_allclose(model.params_, fitted.params_, rtol=1e-6)
    assert model.log_likelihood_ == pytest.approx(fitted.log_likelihood_, rel=1e-10)


def test_rejects_inconsistent_opportunity_counts(donations):
    fractional = donations[list(COLUMNS)].copy()
    fractional.loc[fractional.index[6], "T"] = 6.5
    with pytest.raises(DataError, match="'T' has non-integer values"):
        BetaGeoBetaBinomModel().fit(fractional)
    impossible = donations[list(COLUMNS)].copy()
    impossible.loc[impossible.index[5], ["frequency", "recency"]] = [5.0, 3.0]
    with pytest.raises(DataError, match="greater than 'recency'"):
        BetaGeoBetaBinomModel().fit(impossible)


def test_predictions_through_the_class(donations, fitted):
    p_alive = fitted.probability_alive(donations)
    assert list(p_alive.index) == list(donations.index)
    np.testing.assert_allclose(p_alive, bgbb.probability_alive(fitted._p, *_arrays(donations)))
    e = fitted.expected_purchases_new_customer([1, 6, 11])
    assert np.all(np.diff(e) > 0)


# --------------------------------------------------------------------------- simulation
def test_simulator_matches_model(rng):
    """Simulated (x, t_x) cells against the model's cell probabilities (multiplicity x
    likelihood), and the simulated 'alive at n + 1' flag against probability_alive."""
    p, n_opp, size = PUBLISHED, 6, 200_000
    sim = bgbb.simulate(p, np.full(size, float(n_opp)), rng=rng)
    assert np.all(sim["frequency"] <= sim["recency"]) and np.all(sim["recency"] <= sim["T"])
    assert np.all((sim["frequency"] == 0) == (sim["recency"] == 0))
    frame = pd.DataFrame({k: sim[k] for k in ("frequency", "recency", "alive")})
    cells = (
        frame.groupby(["frequency", "recency"])
        .agg(count=("alive", "size"), alive=("alive", "mean"))
        .reset_index()
    )
    x, t_x = cells["frequency"].to_numpy(), cells["recency"].to_numpy()
    ways = np.where(x > 0, special.comb(np.maximum(t_x - 1, 0), np.maximum(x - 1, 0)), 1.0)
    prob = ways * np.exp(bgbb.log_likelihood(p, x, t_x, np.full_like(x, n_opp)))
    assert len(cells) == 22
    z = (cells["count"] - size * prob) / np.sqrt(size * prob * (1 - prob))
    assert np.all(np.abs(z) < 4), z
    pa = bgbb.probability_alive(p, x, t_x, np.full_like(x, n_opp))
    z_alive = (cells["alive"] - pa) / np.sqrt(pa * (1 - pa) / cells["count"])
    assert np.all(np.abs(z_alive) < 4), z_alive


def _recovery(true: BGBBParams, size: int, rng: np.random.Generator) -> np.ndarray:
    sim = bgbb.simulate(true, rng.integers(4, 13, size).astype(float), rng=rng)
    data = pd.DataFrame({k: sim[k] for k in COLUMNS})
    fit = BetaGeoBetaBinomModel().fit(data)
    names = list(true._fields)
    se = fit.summary().loc[names, "se"].to_numpy()
    return (fit.params_[names].to_numpy() - np.asarray(true)) / se


def test_recovers_simulated_parameters_fast(rng):
    start = time.perf_counter()
    z = _recovery(PUBLISHED, 5_000, rng)
    assert np.all(np.abs(z) < 4), z
    assert time.perf_counter() - start < 5.0


@pytest.mark.slow
@pytest.mark.parametrize(
    "true",
    [
        PUBLISHED,  # donations
        BGBBParams(3.0, 1.0, 0.5, 6.0),  # frequent, loyal
        BGBBParams(0.5, 3.0, 2.0, 1.0),  # rare, high churn
    ],
)
def test_recovers_simulated_parameters(true, rng):
    start = time.perf_counter()
    z = _recovery(true, 200_000, rng)
    assert np.all(np.abs(z) < 4), z
    assert time.perf_counter() - start < 60.0


@pytest.mark.slow
def test_interval_coverage_across_seeds():
    """About 95 % of the 95 % intervals contain the truth (50 replications x 4 parameters)."""
    hits = []
    for seed in range(50):
        z = _recovery(PUBLISHED, 3_000, np.random.default_rng(2000 + seed))
        hits.extend(np.abs(z) < 1.96)
    coverage = float(np.mean(hits))
    # 200 Bernoulli(0.95) draws: sd 0.015; accept 0.89..0.995
    assert 0.89 <= coverage <= 0.995, coverage
