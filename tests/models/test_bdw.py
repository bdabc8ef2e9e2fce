"""BdW: sBG as the c = 1 case, reference fits, gradient, numerics, properties, recovery.

Data: Fader & Hardie (2007) Table 1 (see tests/models/test_sbg.py for the source).
Fader, Hardie, Liu, Davin & Steenburgh (2018), "How to project customer retention"
revisited: the role of duration dependence, J. Interactive Marketing 43, 1-16, fit the BdW to
the same two series with a five-year calibration period (years 0-4).
"""

from __future__ import annotations

import mpmath
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import special

from clv.exceptions import DataError
from clv.models import bdw, sbg
from clv.models._retention_data import empirical_survival
from clv.models._retention_math import residual_lifetime_sum
from clv.models.bdw import BdWParams, BetaDiscreteWeibullModel
from clv.models.sbg import SBGParams, ShiftedBetaGeoModel

REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394]
SERIES = {"regular": REGULAR, "high_end": HIGH_END}

# High end, years 0-4, fitted by the R package foretell (BdW(c(100, 86.9, 74.3, 65.3, 59.3), 6))
# and its Python port retenmod (README of apwheele/retenmod: params [0.25936956 1.72276277
# 1.58428486], negLL 122.27493183 on the percentages, i.e. -1222.7493 on 1,000 customers;
# projections 86.91, 74.19, 65.48, 59.29, 54.66, 51.04, 48.10, 45.67, 43.60, 41.82 % for
# years 1-10).  The optimisers stop within 4e-5 of each other, so 3 decimals are compared.
FORETELL_HIGH_END_5Y = {
    "params": BdWParams(alpha=0.259, beta=1.723, c=1.584),
    "neg_ll_percent": 122.27493,
    "survival": [86.91, 74.19, 65.48, 59.29, 54.66, 51.04, 48.10, 45.67, 43.60, 41.82],
}
# FHLDS (2018), high end, five-year calibration: polarization index phi = 1/(alpha+beta+1) is
# 0.099 under BG (sBG) and 0.335 under BdW (as reported in abdullahau/customer-analytics,
# BdW-Model.qmd, which reproduces the paper; the paper itself was not available to us).
PHI_HIGH_END_5Y = {"sbg": 0.099, "bdw": 0.335}
# Years 0-7 (the 2007 calibration): own MLE, checked with an independent scipy Nelder-Mead
# implementation of the same likelihood (LL -1679.6028 and -1605.3142).
SEVEN_YEARS = {
    "regular": {
        "params": BdWParams(0.456, 0.779, 1.283),
        "log_likelihood": -1679.603,
        "projected": [22.3, 20.9, 19.7, 18.6, 17.7],
    },
    "high_end": {
        "params": BdWParams(0.214, 1.427, 1.724),
        "log_likelihood": -1605.314,
        "projected": [46.8, 44.8, 43.2, 41.7, 40.4],
    },
}


def table(counts: list[int], last: int, cohort: str | None = None) -> pd.DataFrame:
    frame = pd.DataFrame({"period": range(last + 1), "n_alive": counts[: last + 1]})
    if cohort is not None:
        frame.insert(0, "cohort", cohort)
    return frame


GRID = [(0.704, 1.182), (0.668, 3.806), (3.0, 9.0), (0.05, 40.0), (200.0, 15.0)]


# ------------------------------------------------------------------------ sBG nesting
@pytest.mark.parametrize(("alpha", "beta"), GRID)
def test_c_equal_one_is_sbg(alpha, beta):
    t = np.arange(1, 301.0)
    b = BdWParams(alpha, beta, 1.0)
    s = SBGParams(alpha, beta)
    np.testing.assert_allclose(
        bdw.log_survival(b, t), sbg.log_survival(s, t), rtol=1e-12, atol=1e-13
    )
    for churned in (np.ones_like(t), np.zeros_like(t)):
        np.testing.assert_allclose(
            bdw.log_likelihood(b, t, churned),
            sbg.log_likelihood(s, t, churned),
            rtol=1e-9,
            atol=1e-12,
        )
    np.testing.assert_allclose(bdw.retention_rate(b, t), sbg.retention_rate(s, t), rtol=1e-10)
    np.testing.assert_allclose(bdw.survival(b, t), sbg.survival(s, t), rtol=1e-11)
    churned = (t % 3 == 0).astype(float)
    _, g_bdw = bdw.log_likelihood_gradient(b, t, churned)
    _, g_sbg = sbg.log_likelihood_gradient(s, t, churned)
    np.testing.assert_allclose(g_bdw[:2], g_sbg, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", ["regular", "high_end"])
def test_bdw_likelihood_at_the_sbg_optimum(name):
    data = table(SERIES[name], 7)
    fit_sbg = ShiftedBetaGeoModel().fit(data)
    fit_bdw = BetaDiscreteWeibullModel().fit(data)
    counts = empirical_survival(data)  # not used for LL; a smoke check that the data agree
    assert counts["at_risk"].iloc[0] == 1000
    model = BetaDiscreteWeibullModel()
    model.fit(data, initial_params={**fit_sbg.params_.to_dict(), "c": 1.0})
    pd.testing.assert_series_equal(model.params_, fit_bdw.params_, rtol=1e-6)
    # the nested model can only fit better
    assert fit_bdw.log_likelihood_ >= fit_sbg.log_likelihood_ - 1e-9


def test_c_equal_one_lifetimes_equal_the_sbg_closed_forms():
    b, s = BdWParams(2.0, 3.0, 1.0), SBGParams(2.0, 3.0)
    n = np.array([0.0, 2.0, 9.0])
    for d in (0.1, 0.02):
        np.testing.assert_allclose(
            residual_lifetime_sum(bdw.log_survival, b, n, d),
            sbg.expected_residual_lifetime(s, n, d),
            rtol=1e-10,
        )
    np.testing.assert_allclose(
        residual_lifetime_sum(bdw.log_survival, b, n, 0.0, tail_exponent=2.0),
        sbg.expected_residual_lifetime(s, n, 0.0),
        rtol=1e-6,
    )


def test_model_lifetimes_at_c_one_equal_sbg():
    data = table(HIGH_END, 7)
    s = ShiftedBetaGeoModel().fit(data)
    b = BetaDiscreteWeibullModel()
    b.params_ = pd.Series(
        [*s.params_.to_numpy(), 1.0], index=pd.Index(["alpha", "beta", "c"], name="param")
    )
    b.cohorts_ = ["all"]
    assert b.expected_lifetime(discount_rate=0.1) == pytest.approx(
        s.expected_lifetime(discount_rate=0.1), rel=1e-10
    )
    np.testing.assert_allclose(
        b.expected_residual_lifetime([0, 5], discount_rate=0.1),
        s.expected_residual_lifetime([0, 5], discount_rate=0.1),
        rtol=1e-10,
    )
    np.testing.assert_allclose(
        b.probability_of_churn(np.arange(1, 20)),
        s.probability_of_churn(np.arange(1, 20)),
        rtol=1e-9,
    )
    assert np.isinf(b.expected_lifetime())  # c * alpha = 0.668 <= 1: heavy tail


# ------------------------------------------------------------------------ reference fits
def test_reproduces_foretell_on_high_end_five_years():
    """Oracle: foretell / retenmod on the high end series, years 0-4 (see the constants)."""
    model = BetaDiscreteWeibullModel().fit(table(HIGH_END, 4))
    for name, value in FORETELL_HIGH_END_5Y["params"]._asdict().items():
        assert model.params_[name] == pytest.approx(value, abs=0.0005 + 1e-12)
    assert model.log_likelihood_ / 10 == pytest.approx(
        -FORETELL_HIGH_END_5Y["neg_ll_percent"], abs=1e-4
    )
    np.testing.assert_allclose(
        100 * model.survival(np.arange(1, 11)), FORETELL_HIGH_END_5Y["survival"], atol=0.006
    )
    assert model.converged_


def test_polarization_index_of_fhlds_2018():
    """High end, five-year calibration: more heterogeneity once duration dependence is allowed."""
    data = table(HIGH_END, 4)
    phi = {}
    for key, cls in (("sbg", ShiftedBetaGeoModel), ("bdw", BetaDiscreteWeibullModel)):
        p = cls().fit(data).params_
        phi[key] = 1 / (p["alpha"] + p["beta"] + 1)
    assert round(phi["sbg"], 3) == PHI_HIGH_END_5Y["sbg"]
    assert round(phi["bdw"], 3) == PHI_HIGH_END_5Y["bdw"]


@pytest.mark.parametrize("name", ["regular", "high_end"])
def test_seven_year_fits(name):
    ref = SEVEN_YEARS[name]
    model = BetaDiscreteWeibullModel().fit(table(SERIES[name], 7))
    for param, value in ref["params"]._asdict().items():
        assert model.params_[param] == pytest.approx(value, abs=0.0005 + 1e-12)
    assert model.log_likelihood_ == pytest.approx(ref["log_likelihood"], abs=0.0005)
    projected = 100 * model.survival(np.arange(8, 13))
    np.testing.assert_array_equal(np.round(projected, 1), ref["projected"])
    actual = np.array(SERIES[name][8:]) / 10
    assert np.all(np.abs(projected - actual) < 1.0)
    assert model.params_["c"] > 1  # churn propensities rise with tenure (FHLDS 2018)


def test_likelihood_ratio_against_sbg():
    """c = 1 is rejected for the high end segment (2 dLL = 11.7), not for the regular (1.3)."""
    stats = {}
    for name, counts in SERIES.items():
        data = table(counts, 7)
        stats[name] = 2 * (
            BetaDiscreteWeibullModel().fit(data).log_likelihood_
            - ShiftedBetaGeoModel().fit(data).log_likelihood_
        )
    assert stats["high_end"] == pytest.approx(11.69, abs=0.01)
    assert stats["regular"] == pytest.approx(1.32, abs=0.01)
    assert stats["high_end"] > 3.841 > stats["regular"]  # chi-square(1), 5%


# ------------------------------------------------------------------------ numerics
def test_log_beta_is_accurate_for_large_arguments():
    a = np.array([1e-3, 0.7, 3.0, 250.0])
    for y in (30.0, 1e3, 3.7e4, 1e6, 1e9, 1e13):
        ours = sbg.log_beta(a, y, sbg.NUMPY)
        exact = np.array(
            [float(mpmath.log(mpmath.beta(mpmath.mpf(float(ai)), mpmath.mpf(y)))) for ai in a]
        )
        np.testing.assert_allclose(ours, exact, rtol=1e-14, atol=1e-13)
    y = np.array([0.5, 10.0, 29.9])
    np.testing.assert_array_equal(sbg.log_beta(0.7, y, sbg.NUMPY), special.betaln(0.7, y))


def test_neighbouring_survival_differences_are_accurate():
    """log(S(t-1) - S(t)) for t^c in the millions: the relative error stays ~1e-9."""
    p = BdWParams(0.8, 2.0, 1.5)
    t = np.array([10_000.0, 20_000.0])
    ours = bdw.log_likelihood(p, t, np.ones(2))
    mp = mpmath.mp
    mp.dps = 40

    def log_s(tt: float) -> mpmath.mpf:
        x = mpmath.mpf(tt) ** mpmath.mpf(1.5)
        return mpmath.log(mpmath.beta(0.8, 2 + x)) - mpmath.log(mpmath.beta(0.8, 2))

    exact = [float(mpmath.log(mpmath.exp(log_s(tt - 1)) - mpmath.exp(log_s(tt)))) for tt in t]
    mp.dps = 15
    np.testing.assert_allclose(ours, exact, rtol=1e-9)


@pytest.mark.parametrize(
    "p",
    [
        BdWParams(0.7, 1.9, 1.3),
        BdWParams(0.2, 1.4, 0.6),
        BdWParams(3.0, 40.0, 2.5),
        BdWParams(0.5, 2.0, 40.0),
    ],
)
def test_gradient_matches_central_differences(p):
    rng = np.random.default_rng(5)
    t = rng.integers(1, 60, 400).astype(float)
    churned = (rng.random(400) < 0.5).astype(float)
    ll, grad = bdw.log_likelihood_gradient(p, t, churned)
    np.testing.assert_allclose(ll, bdw.log_likelihood(p, t, churned), rtol=1e-12)
    x = np.array(p, dtype=float)
    for j in range(3):
        step = np.zeros(3)
        step[j] = 1e-6 * x[j]
        up = bdw.log_likelihood(BdWParams(*(x + step)), t, churned)
        down = bdw.log_likelihood(BdWParams(*(x - step)), t, churned)
        numeric = (up - down) / (2 * step[j])
        ok = np.isfinite(ll)
        np.testing.assert_allclose(grad[j][ok], numeric[ok], rtol=2e-5, atol=1e-7)


def test_survival_stays_finite_where_t_to_the_c_overflows():
    p = BdWParams(0.5, 2.0, 400.0)
    t = np.array([1.0, 2.0, 10.0, 10_000.0])
    logs = bdw.log_survival(p, t)
    assert np.all(np.isfinite(logs)) and np.all(np.diff(logs) < 0)
    # far in the tail log S(t) = log Gamma(a+b) - log Gamma(b) - a c log t
    expected = special.gammaln(2.5) - special.gammaln(2.0) - 0.5 * 400 * np.log(10_000.0)
    assert logs[-1] == pytest.approx(expected, rel=1e-14)
    ll, grad = bdw.log_likelihood_gradient(p, t[1:], np.ones(3))
    assert np.all(np.isfinite(ll)) and np.all(np.isfinite(grad))


def test_duration_dependence_shapes_the_retention_curve():
    """Nearly homogeneous theta: retention falls with tenure for c > 1, rises for c < 1."""
    t = np.arange(1, 30.0)
    rising_churn = bdw.retention_rate(BdWParams(500.0, 1500.0, 1.5), t)
    falling_churn = bdw.retention_rate(BdWParams(500.0, 1500.0, 0.7), t)
    assert np.all(np.diff(rising_churn) < 0)
    assert np.all(np.diff(falling_churn) > 0)


def test_numerical_lifetimes():
    data = table(HIGH_END, 7)
    model = BetaDiscreteWeibullModel().fit(data)
    p = BdWParams(*model.params_.to_numpy())
    d = 0.1
    k = np.arange(1, 3000.0)
    brute = np.sum(bdw.survival(p, 3 + k) / bdw.survival(p, 3) * np.exp(-(k - 1) * np.log1p(d)))
    assert model.expected_residual_lifetime(3, discount_rate=d) == pytest.approx(brute, rel=1e-10)
    del_ = np.sum(bdw.survival(p, np.arange(0, 3000.0)) * np.exp(-np.arange(3000) * np.log1p(d)))
    assert model.expected_lifetime(discount_rate=d) == pytest.approx(del_, rel=1e-10)
    # c * alpha = 0.37 <= 1: the undiscounted lifetime is infinite
    assert np.isinf(model.expected_lifetime())
    finite = BdWParams(1.5, 3.0, 1.2)  # c alpha = 1.8
    t = np.arange(0, 2_000_001.0)
    brute0 = np.sum(bdw.survival(finite, t))
    from clv.models._retention_math import residual_lifetime_sum as rls

    value = 1 + rls(bdw.log_survival, finite, 0.0, 0.0, tail_exponent=1.8)
    tail = bdw.survival(finite, 2e6) * 2e6 / 0.8  # what the direct sum misses
    assert value == pytest.approx(brute0 + tail, rel=1e-6)


# ------------------------------------------------------------------------ contract
def test_contract_and_json(tmp_path):
    data = pd.concat([table(REGULAR, 7, "regular"), table(HIGH_END, 7, "high")])
    model = BetaDiscreteWeibullModel(shared=False).fit(data)
    assert model.params_.index.tolist()[:3] == [
        ("regular", "alpha"),
        ("regular", "beta"),
        ("regular", "c"),
    ]
    cov = model.covariance_.to_numpy()
    np.testing.assert_allclose(cov, cov.T, rtol=1e-12, atol=0)
    assert np.all(np.linalg.eigvalsh(cov) > 0)
    assert set(model.summary().columns) == {"coef", "se", "lower", "upper"}
    assert "c[high]=1.724" in repr(model)
    path = tmp_path / "bdw.json"
    model.to_json(path)
    loaded = BetaDiscreteWeibullModel.from_json(path)
    pd.testing.assert_series_equal(loaded.params_, model.params_)
    np.testing.assert_array_equal(
        loaded.survival([10], cohort="high"), model.survival([10], cohort="high")
    )
    with pytest.raises(DataError, match="survival cannot increase"):
        BetaDiscreteWeibullModel().fit(pd.DataFrame({"period": [0, 1, 2], "n_alive": [9, 5, 6]}))


def test_simulate_from_the_model():
    model = BetaDiscreteWeibullModel().fit(table(HIGH_END, 7))
    sim = model.simulate(1000, np.arange(1, 1001) % 7 + 1, random_state=2)
    assert (sim["periods_observed"] <= np.arange(1, 1001) % 7 + 1).all()
    assert sim["churned"].dtype == bool


# ------------------------------------------------------------------------ properties
positive = st.floats(1e-3, 1e3)


@given(alpha=positive, beta=positive, c=st.floats(1e-3, 1e3))
def test_survival_non_increasing_and_retention_in_unit_interval(alpha, beta, c):
    p = BdWParams(alpha, beta, c)
    t = np.arange(0, 1001.0)
    s = bdw.survival(p, t)
    assert s[0] == 1.0 and np.all(np.isfinite(s))
    assert np.all(np.diff(s) <= 0)
    r = bdw.retention_rate(p, t[1:])
    assert np.all((r >= 0) & (r <= 1))


@given(
    alpha=positive,
    beta=positive,
    c=st.floats(1e-3, 1e3),
    t=st.integers(1, 10_000),
    churned=st.booleans(),
)
def test_log_likelihood_is_finite(alpha, beta, c, t, churned):
    ll = bdw.log_likelihood(BdWParams(alpha, beta, c), np.array([float(t)]), np.array([churned]))
    assert np.isfinite(ll).all() and ll[0] <= 0


@given(
    alpha=st.floats(0.05, 20),
    beta=st.floats(0.05, 50),
    c=st.floats(0.2, 5),
    t=st.integers(1, 500),
    churned=st.booleans(),
)
def test_gradient_is_finite(alpha, beta, c, t, churned):
    ll, grad = bdw.log_likelihood_gradient(
        BdWParams(alpha, beta, c), np.array([float(t)]), np.array([float(churned)])
    )
    assert np.isfinite(ll).all() and np.isfinite(grad).all()


# ------------------------------------------------------------------------ recovery
def _fit_simulated(true: BdWParams, n: int, periods: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    horizon = rng.integers(2, periods + 1, n)
    sim = bdw.simulate(true, horizon, rng=rng)
    data = pd.DataFrame(
        {"periods_observed": sim["periods_observed"].astype(int), "churned": sim["churned"]}
    )
    model = BetaDiscreteWeibullModel().fit(data)
    return (model.params_.to_numpy() - np.asarray(true)) / model.summary()["se"].to_numpy()


def test_simulator_matches_the_survival_function(rng):
    p = BdWParams(0.6, 1.5, 1.4)
    sim = bdw.simulate(p, np.full(200_000, 12), rng=rng)
    data = pd.DataFrame(
        {"periods_observed": sim["periods_observed"].astype(int), "churned": sim["churned"]}
    )
    observed = empirical_survival(data)["survival"].to_numpy()
    expected = bdw.survival(p, np.arange(13))
    se = np.sqrt(expected * (1 - expected) / 200_000)
    assert np.all(np.abs(observed - expected) <= 4 * se + 1e-12)


def test_recovers_simulated_parameters():
    z = _fit_simulated(BdWParams(0.8, 2.0, 1.4), 30_000, 12, seed=21)
    assert np.all(np.abs(z) < 4), z


@pytest.mark.slow
@pytest.mark.parametrize(
    "true", [BdWParams(0.4, 1.2, 0.7), BdWParams(3.0, 10.0, 1.8), BdWParams(1.0, 1.0, 1.0)]
)
def test_recovers_simulated_parameters_grid(true):
    z = _fit_simulated(true, 200_000, 15, seed=int(true.c * 100))
    assert np.all(np.abs(z) < 4), z


# ------------------------------------------------------------------------ plots
def test_plot_bdw_with_holdout(close_figures):
    from clv.plotting.retention import plot_survival

    model = BetaDiscreteWeibullModel().fit(table(HIGH_END, 4))
    ax = plot_survival(model, table(HIGH_END, 12), calibration_end=4)
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_allclose(lines["Model"].get_ydata(), model.survival(np.arange(13)))
    np.testing.assert_allclose(lines["Actual"].get_ydata(), np.array(HIGH_END) / 1000)
    assert list(lines["End of calibration"].get_xdata()) == [4.5, 4.5]
