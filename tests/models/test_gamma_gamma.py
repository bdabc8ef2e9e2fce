"""Gamma-Gamma spend model: published values, lifetimes oracle, properties, recovery."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, special

from clv.data.datasets import load_cdnow_summary_with_spend
from clv.exceptions import DataError, DataWarning, NotFittedError
from clv.models import gamma_gamma as gg
from clv.models.gamma_gamma import GammaGammaModel, GGParams

PUBLISHED = GGParams(p=6.25, q=3.74, v=15.44)
# Recomputed here: Nelder-Mead (xatol 1e-10) on the same objective, and lifetimes 0.11.3
# GammaGammaFitter().fit(rb.frequency, rb.monetary_value) both give these to 6 digits.
MLE = GGParams(p=6.248803, q=3.744588, v=15.447748)
MLE_LL = -4055.923244


@pytest.fixture(scope="module")
def cdnow_spend() -> pd.DataFrame:
    """CDNOW 2,357 customers, 39 weeks, with mean repeat-transaction value (lifetimes' CSV)."""
    return load_cdnow_summary_with_spend()


@pytest.fixture(scope="module")
def fitted(cdnow_spend: pd.DataFrame) -> GammaGammaModel:
    return GammaGammaModel().fit(cdnow_spend)


def _with_params(params: GGParams) -> GammaGammaModel:
    model = GammaGammaModel()
    model.params_ = pd.Series(list(params), index=list(GGParams._fields), dtype=np.float64)
    model.time_unit_ = None
    return model


def _textbook_ll(params: GGParams, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Hardie note 025 eq. (1), term by term (the form lifetimes and CLVTools use)."""
    p, q, v = params
    return (
        special.gammaln(p * x + q)
        - special.gammaln(p * x)
        - special.gammaln(q)
        + q * np.log(v)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(x * m + v)
    )


# --------------------------------------------------------------------------- data
def test_cdnow_spend_data_has_946_repeat_buyers(cdnow_spend: pd.DataFrame) -> None:
    assert len(cdnow_spend) == 2357
    repeat = cdnow_spend["frequency"] > 0
    assert int(repeat.sum()) == 946
    assert (cdnow_spend.loc[repeat, "monetary_value"] > 0).all()
    assert (cdnow_spend.loc[~repeat, "monetary_value"] == 0).all()


# --------------------------------------------------------------------------- reference values
def test_log_likelihood_at_published_params(cdnow_spend: pd.DataFrame) -> None:
    """Hardie note 025 / FHL (2005): LL -4055.92 at p=6.25, q=3.74, v=15.44 (946 repeat buyers)."""
    ll = gg.log_likelihood(
        PUBLISHED, cdnow_spend["frequency"].to_numpy(), cdnow_spend["monetary_value"].to_numpy()
    )
    assert float(np.sum(ll)) == pytest.approx(-4055.92, abs=0.05)
    assert float(np.sum(ll)) == pytest.approx(-4055.924713, abs=1e-5)  # recomputed here


def test_log_likelihood_equals_textbook_form(cdnow_spend: pd.DataFrame) -> None:
    rb = cdnow_spend[cdnow_spend["frequency"] > 0]
    x, m = rb["frequency"].to_numpy(), rb["monetary_value"].to_numpy()
    np.testing.assert_allclose(
        gg.log_likelihood(PUBLISHED, x, m), _textbook_ll(PUBLISHED, x, m), rtol=1e-11
    )


def test_log_likelihood_matches_lifetimes_and_clvtools_conventions(
    cdnow_spend: pd.DataFrame,
) -> None:
    """Same constant terms as lifetimes and CLVTools.

    lifetimes 0.11.3 ``GammaGammaFitter._negative_log_likelihood`` and CLVTools
    ``gg_LL`` (src/gg_LL.cpp) both include every term of the density of the
    mean, including ``(p x) log x`` and ``-log(m)``; CLVTools skips rows with
    ``x == 0`` (as we do: they contribute 0). CLVTools' test_correctness_gg.R
    expects LL = -4055.9177 at its own estimate (its CDNOW mean spends come from
    its transaction data); ours is -4055.9232 at ours on lifetimes' CSV.
    """
    from lifetimes import GammaGammaFitter

    rb = cdnow_spend[cdnow_spend["frequency"] > 0]
    x, m = rb["frequency"].to_numpy(), rb["monetary_value"].to_numpy()
    for params in (PUBLISHED, MLE, GGParams(0.5, 1.5, 200.0)):
        nll_mean = GammaGammaFitter._negative_log_likelihood(
            np.log(np.asarray(params)), x, m, np.ones_like(x), 0.0
        )
        ours = float(np.sum(gg.log_likelihood(params, x, m)))
        assert ours == pytest.approx(-nll_mean * len(x), rel=1e-12)


def test_reproduces_published_estimates(fitted: GammaGammaModel) -> None:
    """FHL (2005) JMR / Hardie note 025: p=6.25, q=3.74, v=15.44, LL=-4055.92.

    The printed v=15.44 is 0.008 below the MLE on these data (15.4477), hence
    the wider tolerance on v.
    """
    assert fitted.params_["p"] == pytest.approx(6.25, abs=0.005)
    assert fitted.params_["q"] == pytest.approx(3.74, abs=0.005)
    assert fitted.params_["v"] == pytest.approx(15.44, abs=0.05)
    assert fitted.log_likelihood_ == pytest.approx(-4055.92, abs=0.05)
    np.testing.assert_allclose(fitted.params_.to_numpy(), np.asarray(MLE), rtol=2e-6)
    assert fitted.log_likelihood_ == pytest.approx(MLE_LL, abs=1e-5)
    assert fitted.n_customers_ == 946
    assert fitted.converged_


def test_fit_ignores_non_repeat_buyers(cdnow_spend: pd.DataFrame, fitted: GammaGammaModel) -> None:
    only_repeat = GammaGammaModel().fit(cdnow_spend[cdnow_spend["frequency"] > 0])
    np.testing.assert_allclose(only_repeat.params_, fitted.params_, rtol=1e-10)
    # NaN monetary_value for customers without repeat purchases is accepted, not an error
    with_nan = cdnow_spend.copy()
    with_nan.loc[with_nan["frequency"] == 0, "monetary_value"] = np.nan
    before = with_nan.copy()
    nan_fit = GammaGammaModel().fit(with_nan)
    np.testing.assert_allclose(nan_fit.params_, fitted.params_, rtol=1e-10)
    pd.testing.assert_frame_equal(with_nan, before)
    spend = nan_fit.expected_spend(with_nan)
    assert np.isfinite(spend).all()


def test_standard_errors_are_finite_and_covariance_symmetric(fitted: GammaGammaModel) -> None:
    summary = fitted.summary()
    assert list(summary.columns) == ["coef", "se", "lower", "upper"]
    assert np.all(np.isfinite(summary["se"])) and np.all(summary["se"] > 0)
    cov = fitted.covariance_.to_numpy()
    np.testing.assert_allclose(cov, cov.T)
    assert np.all(np.linalg.eigvalsh(cov) > 0)


# --------------------------------------------------------------------------- predictions
def test_expected_spend_matches_lifetimes(
    cdnow_spend: pd.DataFrame, fitted: GammaGammaModel
) -> None:
    """``GammaGammaFitter.conditional_expected_average_profit`` at the same params, all 2,357."""
    from lifetimes import GammaGammaFitter

    ref = GammaGammaFitter()
    ref.params_ = pd.Series(fitted.params_.to_dict())
    expected = ref.conditional_expected_average_profit(
        cdnow_spend["frequency"], cdnow_spend["monetary_value"]
    )
    ours = fitted.expected_spend(cdnow_spend)
    assert ours.index.equals(cdnow_spend.index)
    np.testing.assert_allclose(ours.to_numpy(), expected.to_numpy(), rtol=1e-10)


def test_expected_spend_published_values() -> None:
    """Hardie note 025 form: p(v + x m)/(p x + q - 1); population mean p v/(q - 1)."""
    assert gg.expected_spend(PUBLISHED, 2, 22.35) == pytest.approx(6.25 * (15.44 + 44.7) / 15.24)
    assert gg.expected_spend_new_customer(PUBLISHED) == pytest.approx(6.25 * 15.44 / 2.74)


def test_zero_frequency_customers_get_the_population_mean(
    cdnow_spend: pd.DataFrame, fitted: GammaGammaModel
) -> None:
    spend = fitted.expected_spend(cdnow_spend)
    zero = cdnow_spend["frequency"] == 0
    np.testing.assert_allclose(spend[zero], fitted.expected_spend_new_customer(), rtol=1e-14)
    assert spend.name == "expected_spend"


def test_expected_spend_order_and_index_follow_the_input(
    cdnow_spend: pd.DataFrame, fitted: GammaGammaModel
) -> None:
    shuffled = cdnow_spend.sample(frac=1.0, random_state=3)
    shuffled.index = shuffled.index.astype(str)
    spend = fitted.expected_spend(shuffled)
    assert spend.index.equals(shuffled.index)
    np.testing.assert_allclose(
        spend.to_numpy(),
        fitted.expected_spend(cdnow_spend).loc[shuffled.index.astype(float).astype(int)].to_numpy(),
    )


def test_q_at_most_one_has_no_population_mean() -> None:
    assert np.isnan(gg.expected_spend_new_customer(GGParams(2.0, 0.8, 10.0)))
    assert np.isnan(gg.expected_spend(GGParams(2.0, 0.8, 10.0), 0, 0.0))
    # a repeat buyer still has a posterior mean when p x + q > 1
    assert np.isfinite(gg.expected_spend(GGParams(2.0, 0.8, 10.0), 1, 5.0))
    model = _with_params(GGParams(2.0, 0.8, 10.0))
    with pytest.raises(ValueError, match=r"q = 0\.8 <= 1"):
        model.expected_spend_new_customer()
    frame = pd.DataFrame({"frequency": [0.0, 2.0], "monetary_value": [0.0, 5.0]})
    with pytest.raises(ValueError, match="infinite"):
        model.expected_spend(frame)
    assert np.isfinite(model.expected_spend(frame.iloc[[1]])).all()


def test_pure_functions_broadcast_over_draws_and_customers() -> None:
    draws = GGParams(
        np.array([[5.0], [6.0], [7.0]]),
        np.array([[3.0], [3.5], [4.0]]),
        np.array([[14.0], [15.0], [16.0]]),
    )
    x = np.array([1.0, 2.0, 5.0, 0.0])
    m = np.array([10.0, 30.0, 25.0, 0.0])
    ll = gg.log_likelihood(draws, x, m)
    spend = gg.expected_spend(draws, x, m)
    assert ll.shape == spend.shape == (3, 4)
    for i in range(3):
        single = GGParams(*(float(a[i, 0]) for a in draws))
        np.testing.assert_allclose(ll[i], gg.log_likelihood(single, x, m), rtol=1e-14)
        np.testing.assert_allclose(spend[i], gg.expected_spend(single, x, m), rtol=1e-14)
    assert ll[:, 3].tolist() == [0.0, 0.0, 0.0]
    assert isinstance(gg.log_likelihood(PUBLISHED, 3.0, 10.0), float | np.floating | np.ndarray)
    assert np.ndim(gg.expected_spend(PUBLISHED, 3.0, 10.0)) == 0


def test_density_of_the_mean_integrates_to_one() -> None:
    for params, x in ((PUBLISHED, 1.0), (PUBLISHED, 7.0), (GGParams(0.8, 2.5, 3.0), 2.0)):
        total, _ = integrate.quad(
            lambda m, params=params, x=x: np.exp(gg.log_likelihood(params, x, m)),
            0.0,
            np.inf,
            limit=200,
        )
        assert total == pytest.approx(1.0, abs=1e-7)


# --------------------------------------------------------------------------- gradient
@pytest.mark.parametrize(
    "params", [PUBLISHED, GGParams(0.3, 1.2, 0.05), GGParams(40.0, 12.0, 900.0)]
)
def test_analytic_gradient_matches_central_differences(
    params: GGParams, cdnow_spend: pd.DataFrame
) -> None:
    rb = cdnow_spend[cdnow_spend["frequency"] > 0]
    x = np.concatenate([rb["frequency"].to_numpy()[:200], [1.0, 250.0, 0.0]])
    m = np.concatenate([rb["monetary_value"].to_numpy()[:200], [0.01, 1e4, 0.0]])
    ll, grad = gg.log_likelihood_gradient(params, x, m)
    np.testing.assert_allclose(ll, gg.log_likelihood(params, x, m), rtol=1e-12, atol=1e-12)
    assert grad.shape == (3, x.size)
    theta = np.asarray(params, dtype=np.float64)
    for j in range(3):
        h = 1e-6 * theta[j]
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        numeric = (
            gg.log_likelihood(GGParams(*up), x, m) - gg.log_likelihood(GGParams(*down), x, m)
        ) / (2 * h)
        tolerance = 1e-5 * np.abs(numeric) + 1e-6 * (1.0 + np.abs(ll)) / theta[j]
        assert np.all(np.abs(grad[j] - numeric) <= tolerance), (
            j,
            np.max(np.abs(grad[j] - numeric)),
        )
    assert np.all(grad[:, -1] == 0.0)  # frequency 0 carries no information


@pytest.mark.parametrize(
    "params", [PUBLISHED, GGParams(0.3, 1.2, 0.05), GGParams(40.0, 12.0, 900.0)]
)
def test_analytic_hessian_matches_differences_of_the_gradient(
    params: GGParams, cdnow_spend: pd.DataFrame, rng: np.random.Generator
) -> None:
    x = cdnow_spend["frequency"].to_numpy()
    m = cdnow_spend["monetary_value"].to_numpy()
    w = rng.integers(1, 4, x.size).astype(float)
    total, grad, hess = gg.log_likelihood_hessian(params, x, m, w)
    ll, per_row = gg.log_likelihood_gradient(params, x, m)
    assert total == pytest.approx(float(np.sum(w * ll)), rel=1e-13)
    np.testing.assert_allclose(grad, per_row @ w, rtol=1e-12)
    np.testing.assert_array_equal(hess, hess.T)
    theta = np.asarray(params, dtype=np.float64)
    for j in range(3):
        h = 1e-6 * theta[j]
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        numeric = (
            gg.log_likelihood_gradient(GGParams(*up), x, m)[1] @ w
            - gg.log_likelihood_gradient(GGParams(*down), x, m)[1] @ w
        ) / (2 * h)
        scale = np.abs(numeric) + np.abs(grad) / theta[j] + 1e-8
        np.testing.assert_array_less(np.abs(hess[:, j] - numeric), 1e-5 * scale)


def test_hessian_at_the_mle_is_negative_definite(cdnow_spend: pd.DataFrame) -> None:
    rb = cdnow_spend[cdnow_spend["frequency"] > 0]
    _, grad, hess = gg.log_likelihood_hessian(
        MLE, rb["frequency"].to_numpy(), rb["monetary_value"].to_numpy(), np.ones(len(rb))
    )
    assert np.max(np.abs(grad * np.asarray(MLE))) < 1e-2  # MLE rounded to 7 digits
    assert np.all(np.linalg.eigvalsh(hess) < 0)


def test_tabulated_gradient_equals_direct_evaluation(cdnow_spend: pd.DataFrame) -> None:
    """Large inputs tabulate functions of p*x per distinct frequency; small ones do not."""
    x = cdnow_spend["frequency"].to_numpy()
    m = cdnow_spend["monetary_value"].to_numpy()
    ll, grad = gg.log_likelihood_gradient(PUBLISHED, x, m)
    pieces = [
        gg.log_likelihood_gradient(PUBLISHED, x[i : i + 100], m[i : i + 100])
        for i in range(0, x.size, 100)
    ]
    np.testing.assert_allclose(ll, np.concatenate([p[0] for p in pieces]), rtol=1e-13)
    np.testing.assert_allclose(
        grad, np.concatenate([p[1] for p in pieces], axis=1), rtol=1e-12, atol=1e-15
    )


# --------------------------------------------------------------------------- properties
positive = st.floats(1e-3, 1e3, allow_nan=False, allow_infinity=False)


@given(x=st.integers(1, 10_000), m=st.floats(1e-3, 1e6), p=positive, q=positive, v=positive)
def test_log_likelihood_and_gradient_are_finite(
    x: int, m: float, p: float, q: float, v: float
) -> None:
    params = GGParams(p, q, v)
    ll = gg.log_likelihood(params, float(x), m)
    assert np.isfinite(ll)
    ll2, grad = gg.log_likelihood_gradient(params, [float(x)], [m])
    assert np.all(np.isfinite(grad))
    _, _, hess = gg.log_likelihood_hessian(params, [float(x)], [m], [1.0])
    assert np.all(np.isfinite(hess))
    assert ll2[0] == pytest.approx(float(ll), rel=1e-9, abs=1e-9)


@given(
    x=st.integers(0, 10_000),
    m=st.floats(1e-3, 1e6),
    p=positive,
    q=st.floats(1.001, 1e3),
    v=positive,
)
def test_expected_spend_is_between_own_mean_and_population_mean(
    x: int, m: float, p: float, q: float, v: float
) -> None:
    params = GGParams(p, q, v)
    spend = float(gg.expected_spend(params, float(x), m))
    population = float(gg.expected_spend_new_customer(params))
    assert np.isfinite(spend)
    if x == 0:
        assert spend == pytest.approx(population, rel=1e-12)
    else:
        lo, hi = min(m, population), max(m, population)
        assert lo * (1 - 1e-12) <= spend <= hi * (1 + 1e-12)


@given(
    c=st.floats(1e-3, 1e3),
    x=st.integers(1, 500),
    m=st.floats(1e-2, 1e4),
    p=positive,
    q=st.floats(1.001, 1e3),
    v=positive,
)
def test_currency_rescaling_of_pure_functions(
    c: float, x: int, m: float, p: float, q: float, v: float
) -> None:
    """Measuring spend in another currency (× c) scales v by c: the density gains -log c."""
    base, scaled = GGParams(p, q, v), GGParams(p, q, v * c)
    ll, ll_c = gg.log_likelihood(base, float(x), m), gg.log_likelihood(scaled, float(x), m * c)
    assert float(ll_c) == pytest.approx(float(ll) - np.log(c), rel=1e-9, abs=1e-9)
    assert float(gg.expected_spend(scaled, float(x), m * c)) == pytest.approx(
        c * float(gg.expected_spend(base, float(x), m)), rel=1e-12
    )


def test_currency_rescaling_of_the_fit(cdnow_spend: pd.DataFrame, fitted: GammaGammaModel) -> None:
    c = 137.5
    scaled = cdnow_spend.copy()
    scaled["monetary_value"] *= c
    refit = GammaGammaModel().fit(scaled)
    np.testing.assert_allclose(refit.params_[["p", "q"]], fitted.params_[["p", "q"]], rtol=1e-6)
    assert refit.params_["v"] == pytest.approx(c * fitted.params_["v"], rel=1e-6)
    assert refit.log_likelihood_ == pytest.approx(
        fitted.log_likelihood_ - 946 * np.log(c), abs=1e-6
    )
    np.testing.assert_allclose(
        refit.expected_spend(scaled), c * fitted.expected_spend(cdnow_spend), rtol=1e-6
    )


def test_weights_equal_repeated_rows(rng: np.random.Generator) -> None:
    base = pd.DataFrame(
        {
            "frequency": rng.integers(1, 8, 300).astype(float),
            "monetary_value": rng.gamma(5.0, 6.0, 300),
        }
    )
    counts = rng.integers(1, 5, 300)
    weighted = base.assign(weight=counts.astype(float))
    expanded = base.loc[base.index.repeat(counts)].reset_index(drop=True)
    a = GammaGammaModel().fit(weighted)
    b = GammaGammaModel().fit(expanded)
    np.testing.assert_allclose(a.params_, b.params_, rtol=1e-6)
    assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, rel=1e-9)


# --------------------------------------------------------------------------- assumption check
def test_spend_frequency_correlation_on_cdnow(
    cdnow_spend: pd.DataFrame, fitted: GammaGammaModel
) -> None:
    rb = cdnow_spend[cdnow_spend["frequency"] > 0]
    r = gg.spend_frequency_correlation(cdnow_spend)
    assert r == pytest.approx(
        float(np.corrcoef(rb["frequency"], rb["monetary_value"])[0, 1]), rel=1e-12
    )
    assert r == pytest.approx(0.1139, abs=1e-4)  # lifetimes' docs report 0.113558 on this data
    assert fitted.spend_frequency_correlation_ == pytest.approx(r)


def test_fit_warns_when_spend_depends_on_frequency(rng: np.random.Generator) -> None:
    x = rng.integers(1, 20, 2000).astype(float)
    spend = (10.0 + 3.0 * x) * rng.gamma(4.0, 0.25, x.size)  # mean spend grows with frequency
    frame = pd.DataFrame({"frequency": x, "monetary_value": spend})
    with pytest.warns(DataWarning, match=r"Pearson r = 0\.6"):
        model = GammaGammaModel().fit(frame)
    assert model.spend_frequency_correlation_ > 0.3


def test_spend_frequency_correlation_degenerate_cases() -> None:
    two = pd.DataFrame({"frequency": [0.0, 1.0, 2.0], "monetary_value": [0.0, 5.0, 6.0]})
    assert np.isnan(gg.spend_frequency_correlation(two))
    constant = pd.DataFrame({"frequency": [1.0, 2.0, 3.0, 4.0], "monetary_value": [5.0] * 4})
    assert np.isnan(gg.spend_frequency_correlation(constant))


# --------------------------------------------------------------------------- errors and state
def test_invalid_data_names_the_column() -> None:
    frame = pd.DataFrame(
        {"frequency": [1.0, 2.0, 0.0], "monetary_value": [10.0, -3.0, 0.0]}, index=["a", "b", "c"]
    )
    with pytest.raises(DataError, match="monetary_value") as info:
        GammaGammaModel().fit(frame)
    assert list(info.value.problems[0].rows) == ["b"]
    with pytest.raises(DataError, match="frequency > 0"):
        GammaGammaModel().fit(pd.DataFrame({"frequency": [0.0, 0.0], "monetary_value": [0.0, 0.0]}))
    with pytest.raises(DataError, match="monetary_value"):
        GammaGammaModel().fit(pd.DataFrame({"frequency": [1.0, 2.0]}))


def test_unfitted_model_raises() -> None:
    model = GammaGammaModel()
    with pytest.raises(NotFittedError, match="fit"):
        model.expected_spend_new_customer()
    assert repr(model) == "<GammaGammaModel (unfitted)>"


def test_json_round_trip(
    tmp_path: Path, fitted: GammaGammaModel, cdnow_spend: pd.DataFrame
) -> None:
    path = tmp_path / "gg.json"
    fitted.to_json(path)
    loaded = GammaGammaModel.from_json(path)
    assert list(loaded.params_.index) == ["p", "q", "v"]
    np.testing.assert_array_equal(loaded.params_.to_numpy(), fitted.params_.to_numpy())
    pd.testing.assert_series_equal(
        loaded.expected_spend(cdnow_spend), fitted.expected_spend(cdnow_spend)
    )
    assert loaded.time_unit_ == "W"


def test_simulate_class_method(fitted: GammaGammaModel) -> None:
    sim = fitted.simulate([0, 1, 3, 10], random_state=5)
    assert list(sim.columns) == ["frequency", "monetary_value", "nu"]
    assert sim.index.name == "customer_id"
    assert sim["monetary_value"].iloc[0] == 0.0 and (sim["monetary_value"].iloc[1:] > 0).all()
    pd.testing.assert_frame_equal(sim, fitted.simulate([0, 1, 3, 10], random_state=5))
    with pytest.raises(ValueError, match="whole numbers"):
        fitted.simulate([1.5])


# --------------------------------------------------------------------------- recovery
def _recovery_z(true: GGParams, n: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.integers(1, 12, n).astype(float)
    frame = pd.DataFrame(gg.simulate(true, x, rng=rng))
    model = GammaGammaModel().fit(frame)
    se = model.summary()["se"].to_numpy()
    return (model.params_.to_numpy() - np.asarray(true)) / se


def test_simulate_matches_the_density(rng: np.random.Generator) -> None:
    """The simulated mean spend has the distribution whose density is the likelihood."""
    from scipy import stats

    x = 3.0
    sim = gg.simulate(PUBLISHED, np.full(4000, x), rng=rng)["monetary_value"]

    def cdf(m: float) -> float:
        return integrate.quad(
            lambda u: np.exp(gg.log_likelihood(PUBLISHED, x, u)), 0.0, m, limit=200
        )[0]

    grid = np.quantile(sim, np.linspace(0.05, 0.95, 10))
    empirical = np.array([np.mean(sim <= g) for g in grid])
    np.testing.assert_allclose(empirical, [cdf(g) for g in grid], atol=4 * 0.5 / np.sqrt(4000))
    # and the mean of m over customers is p/nu averaged: E[m] = p v/(q-1)
    assert stats.ttest_1samp(sim, gg.expected_spend_new_customer(PUBLISHED)).pvalue > 1e-4


def test_recovers_simulated_parameters_fast(rng: np.random.Generator) -> None:
    start = time.perf_counter()
    z = _recovery_z(PUBLISHED, 5_000, rng)
    assert np.all(np.abs(z) < 4), z
    assert time.perf_counter() - start < 5.0


@pytest.mark.slow
@pytest.mark.parametrize("true", [PUBLISHED, GGParams(1.5, 2.2, 40.0), GGParams(15.0, 8.0, 4.0)])
def test_recovers_simulated_parameters_large(true: GGParams, rng: np.random.Generator) -> None:
    start = time.perf_counter()
    z = _recovery_z(true, 100_000, rng)
    assert np.all(np.abs(z) < 4), z
    assert time.perf_counter() - start < 60.0


@pytest.mark.slow
def test_confidence_intervals_cover_the_truth(rng: np.random.Generator) -> None:
    """About 95 % of the 95 % (log-scale) intervals contain the true parameters."""
    reps, n = 200, 2_000
    covered = np.zeros(3)
    for _ in range(reps):
        x = rng.integers(1, 12, n).astype(float)
        model = GammaGammaModel().fit(pd.DataFrame(gg.simulate(PUBLISHED, x, rng=rng)))
        table = model.summary()
        covered += (
            (table["lower"] <= np.asarray(PUBLISHED)) & (np.asarray(PUBLISHED) <= table["upper"])
        ).to_numpy()
    rate = covered / reps
    assert np.all(np.abs(rate - 0.95) < 4 * np.sqrt(0.95 * 0.05 / reps)), rate
