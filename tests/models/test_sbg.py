"""sBG: published estimates and projections, closed forms, data contract, properties, plots.

Reference data: Fader & Hardie (2007), "How to project customer retention", Journal of
Interactive Marketing 21(1), 76-90, Table 1: percentage of 1,000 "regular" and 1,000
"high end" customers still active after years 0-12 (from Berry & Linoff 2004).  The
series are transcribed identically in pymc-marketing's
``tests/clv/models/test_shifted_beta_geo.py`` (regular, years 0-7) and in
abdullahau/customer-analytics ``data/2-segment-retention.csv`` (both, years 0-12).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import special

from clv.exceptions import DataError, ModelFileError, NotFittedError
from clv.models import sbg
from clv.models._retention_data import (
    empirical_survival,
    retention_counts,
    survival_table_to_counts,
)
from clv.models._retention_math import residual_lifetime_sum
from clv.models.sbg import SBGParams, ShiftedBetaGeoModel

# FH (2007) Table 1, customers still active (of 1,000) after year 0..12
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394]
CALIBRATION_END = 7  # the paper fits years 1-7 and projects years 8-12

# FH (2007) p. 82 (Figure 3) and Appendix B: MLE on years 0-7.  The preprint's text prints
# alpha = 0.688 for the high end segment, its Appendix B 0.668 (the maximum, confirmed here).
PUBLISHED = {
    "regular": {"params": SBGParams(alpha=0.704, beta=1.182), "log_likelihood": -1680.27},
    "high_end": {"params": SBGParams(alpha=0.668, beta=3.806), "log_likelihood": -1611.16},
}
# FH (2007) p. 83: the year-12 survival projections are off by "only 4% and 2%" (high end,
# regular).  Projected survival (%) for years 8-12 at the published parameters, printed
# like Table 1 (one decimal); own calculation, identical at the refitted MLE.
PROJECTED = {"regular": [22.0, 20.4, 19.1, 18.0, 17.0], "high_end": [46.0, 43.6, 41.4, 39.5, 37.8]}
YEAR_12_ERROR = {"regular": 0.02, "high_end": 0.04}


def table(
    counts: list[int], last: int = CALIBRATION_END, cohort: str | int | None = None
) -> pd.DataFrame:
    frame = pd.DataFrame({"period": range(last + 1), "n_alive": counts[: last + 1]})
    if cohort is not None:
        frame.insert(0, "cohort", cohort)
    return frame


SERIES = {"regular": REGULAR, "high_end": HIGH_END}


@pytest.fixture(scope="module")
def fitted() -> dict[str, ShiftedBetaGeoModel]:
    return {name: ShiftedBetaGeoModel().fit(table(counts)) for name, counts in SERIES.items()}


def expand(counts: pd.DataFrame) -> pd.DataFrame:
    """Weighted count rows -> one row per customer."""
    reps = counts["weight"].to_numpy().astype(int)
    out = counts.loc[counts.index.repeat(reps), ["periods_observed", "churned"]]
    return out.reset_index(drop=True).astype({"periods_observed": int})


# ------------------------------------------------------------------------ reference values
@pytest.mark.parametrize("name", ["regular", "high_end"])
def test_reproduces_published_estimates(fitted, name):
    """FH (2007): regular alpha=0.704, beta=1.182; high end alpha=0.668, beta=3.806 (3 decimals).

    LL at the MLE, recomputed here and in abdullahau/customer-analytics (BdW-Model.qmd,
    sBG fit on 2-segment-retention.csv): -1680.2652 and -1611.1581."""
    model = fitted[name]
    ref = PUBLISHED[name]
    for param, value in ref["params"]._asdict().items():
        assert model.params_[param] == pytest.approx(value, abs=0.0005 + 1e-12)
    assert model.log_likelihood_ == pytest.approx(ref["log_likelihood"], abs=0.005)
    assert model.converged_
    assert model.n_customers_ == 1000


@pytest.mark.parametrize("name", ["regular", "high_end"])
def test_projected_survival_years_8_to_12(fitted, name):
    """Projections beyond the calibration years at Table 1's precision (0.1 percentage points),
    the paper's year-12 errors (FH 2007 p. 83: 2% regular, 4% high end) and the actuals."""
    model = fitted[name]
    years = np.arange(8, 13)
    projected = 100 * model.survival(years)
    np.testing.assert_array_equal(np.round(projected, 1), PROJECTED[name])
    at_published = 100 * sbg.survival(PUBLISHED[name]["params"], years)
    np.testing.assert_array_equal(np.round(at_published, 1), PROJECTED[name])
    actual = np.array(SERIES[name][8:]) / 10
    assert round(abs(projected[-1] / actual[-1] - 1), 2) == YEAR_12_ERROR[name]
    assert np.all(np.abs(projected - actual) < 2.0)  # every holdout year within 2 points
    assert np.all(projected < actual)  # the replication sits slightly below the actuals


def test_published_retention_rate_of_a_seven_year_customer():
    """r_8 = (3.806 + 7) / (0.668 + 3.806 + 7) = 0.942 for the high end segment (FH 2007 eq. 8)."""
    assert sbg.retention_rate(PUBLISHED["high_end"]["params"], 8) == pytest.approx(0.942, abs=5e-4)
    assert sbg.retention_rate(PUBLISHED["high_end"]["params"], 1) == pytest.approx(0.851, abs=5e-4)


def test_per_customer_data_gives_the_table_estimates(fitted):
    counts = survival_table_to_counts(table(REGULAR))
    customers = expand(counts)
    assert len(customers) == 1000
    model = ShiftedBetaGeoModel().fit(customers)
    pd.testing.assert_series_equal(model.params_, fitted["regular"].params_, rtol=1e-9)
    assert model.log_likelihood_ == pytest.approx(fitted["regular"].log_likelihood_, rel=1e-12)


def test_pmf_matches_the_forward_recursion():
    """FH (2007) eq. (7): P(T=1) = alpha/(alpha+beta),
    P(T=t) = (beta+t-2)/(alpha+beta+t-1) P(T=t-1)."""
    a, b = 0.704, 1.182
    p = [a / (a + b)]
    for t in range(2, 30):
        p.append((b + t - 2) / (a + b + t - 1) * p[-1])
    t = np.arange(1, 30.0)
    ll = sbg.log_likelihood(SBGParams(a, b), t, np.ones_like(t))
    np.testing.assert_allclose(np.exp(ll), p, rtol=1e-12)
    surv = sbg.survival(SBGParams(a, b), t)
    np.testing.assert_allclose(surv, 1 - np.cumsum(p), rtol=1e-12)


# ------------------------------------------------------------------------ cohorts
def test_shared_and_per_cohort_fits():
    both = pd.concat([table(REGULAR, cohort="regular"), table(HIGH_END, cohort="high")])
    per = ShiftedBetaGeoModel(shared=False).fit(both)
    assert per.params_.index.names == ["cohort", "param"]
    assert per.cohorts_ == ["regular", "high"]
    assert per.params_[("regular", "alpha")] == pytest.approx(0.704, abs=5e-4)
    assert per.params_[("high", "beta")] == pytest.approx(3.806, abs=5e-4)
    assert per.log_likelihood_ == pytest.approx(-1680.265 - 1611.158, abs=0.01)
    np.testing.assert_allclose(per.survival([8, 12], cohort="high") * 100, [46.0, 37.8], atol=0.05)
    with pytest.raises(ValueError, match="cohort="):
        per.survival(3)
    with pytest.raises(ValueError, match="unknown cohort"):
        per.survival(3, cohort="premium")
    # the covariance is block diagonal: cohorts are estimated independently
    assert per.covariance_.loc["regular", "high"].to_numpy().max() == 0.0
    shared = ShiftedBetaGeoModel().fit(both)
    assert list(shared.params_.index) == ["alpha", "beta"]
    assert shared.log_likelihood_ < per.log_likelihood_
    np.testing.assert_allclose(shared.survival([1, 2], cohort="high"), shared.survival([1, 2]))


def test_per_cohort_needs_a_cohort_column():
    with pytest.raises(DataError, match="shared=False"):
        ShiftedBetaGeoModel(shared=False).fit(table(REGULAR))


def test_time_unit_argument_is_recorded_and_checked_against_the_frame():
    data = table(REGULAR)
    assert ShiftedBetaGeoModel().fit(data).time_unit_ is None
    fitted_y = ShiftedBetaGeoModel().fit(data, time_unit="Y")
    assert fitted_y.time_unit_ == "Y"
    assert fitted_y.params_["alpha"] == pytest.approx(0.704, abs=5e-4)  # the unit is a label
    weekly = data.copy()
    weekly.attrs["time_unit"] = "W"
    assert ShiftedBetaGeoModel().fit(weekly).time_unit_ == "W"
    with pytest.raises(DataError, match="time_unit"):
        ShiftedBetaGeoModel().fit(weekly, time_unit="M")


def test_per_cohort_refuses_cohorts_without_renewals():
    data = pd.concat([table(REGULAR, cohort="old"), table(REGULAR, last=0, cohort="new")])
    assert ShiftedBetaGeoModel().fit(data).params_["alpha"] == pytest.approx(0.704, abs=5e-4)
    with pytest.raises(DataError, match="without any observed renewal"):
        ShiftedBetaGeoModel(shared=False).fit(data)


def test_multi_cohort_table_with_different_lengths():
    """A triangle of cohorts acquired in successive years (recent ones observed for less)."""
    data = pd.concat([table(REGULAR, last=7 - k, cohort=2000 + k) for k in range(4)])
    model = ShiftedBetaGeoModel().fit(data)
    counts = retention_counts(data)
    assert counts["weight"].sum() == 4000
    assert model.n_customers_ == 4000
    assert model.cohorts_ == [2000, 2001, 2002, 2003]
    assert model.converged_


# ------------------------------------------------------------------------ closed forms
def test_gradient_and_hessian_match_central_differences():
    rng = np.random.default_rng(3)
    t = rng.integers(1, 40, 300).astype(float)
    churned = (rng.random(300) < 0.6).astype(float)
    w = rng.integers(1, 5, 300).astype(float)
    p = np.array([0.7, 1.9])
    ll, grad = sbg.log_likelihood_gradient(SBGParams(*p), t, churned)
    np.testing.assert_allclose(ll, sbg.log_likelihood(SBGParams(*p), t, churned), rtol=1e-13)
    total, g, h = sbg.log_likelihood_hessian(SBGParams(*p), t, churned, w)
    assert total == pytest.approx(float(w @ ll), rel=1e-13)
    np.testing.assert_allclose(g, grad @ w, rtol=1e-13)
    for j in range(2):
        step = np.zeros(2)
        step[j] = 1e-6 * p[j]
        up = sbg.log_likelihood(SBGParams(*(p + step)), t, churned)
        down = sbg.log_likelihood(SBGParams(*(p - step)), t, churned)
        np.testing.assert_allclose(grad[j], (up - down) / (2 * step[j]), rtol=1e-6, atol=1e-8)
        g_up = sbg.log_likelihood_hessian(SBGParams(*(p + step)), t, churned, w)[1]
        g_down = sbg.log_likelihood_hessian(SBGParams(*(p - step)), t, churned, w)[1]
        np.testing.assert_allclose(h[:, j], (g_up - g_down) / (2 * step[j]), rtol=1e-6)
    np.testing.assert_array_equal(h, h.T)


def brute_force_derl(p: SBGParams, renewals: int, d: float, terms: int = 20_000) -> float:
    k = np.arange(1, terms + 1)
    s = sbg.survival(p, renewals + k) / sbg.survival(p, renewals)
    return float(np.sum(s * np.exp(-(k - 1) * np.log1p(d))))


@pytest.mark.parametrize("d", [0.1, 0.01, 0.5])
@pytest.mark.parametrize("renewals", [0, 1, 4, 20])
@pytest.mark.parametrize(
    "p", [SBGParams(0.704, 1.182), SBGParams(0.668, 3.806), SBGParams(3.0, 9.0)]
)
def test_derl_equals_brute_force_discounted_sum(p, renewals, d):
    """FH (2010) eq. (6) with their n - 1 = renewals: the DERL of a customer who has renewed
    n - 1 times, valued just before the next renewal decision, is
    sum_{t >= n} S(t) / S(n - 1) / (1 + d)^(t - n)."""
    assert sbg.expected_residual_lifetime(p, renewals, d) == pytest.approx(
        brute_force_derl(p, renewals, d), rel=1e-9
    )
    # the printed form (beta+n-1)/(alpha+beta+n-1) 2F1(1, beta+n; alpha+beta+n; 1/(1+d))
    n = renewals + 1
    printed = (
        (p.beta + n - 1)
        / (p.alpha + p.beta + n - 1)
        * special.hyp2f1(1, p.beta + n, p.alpha + p.beta + n, 1 / (1 + d))
    )
    assert sbg.expected_residual_lifetime(p, renewals, d) == pytest.approx(printed, rel=1e-9)


@pytest.mark.parametrize("d", [0.0, 0.1, 0.01])
def test_del_is_the_fader_hardie_hypergeometric(d):
    """FH (2010): DEL(d) = 2F1(1, beta; alpha + beta; 1/(1 + d)); with d = 0, E[T] =
    (alpha + beta - 1)/(alpha - 1) for alpha > 1; DEL = 1 + DERL(0)/(1 + d)."""
    p = SBGParams(3.0, 5.0)
    expected = 3.5 if d == 0 else special.hyp2f1(1, 5.0, 8.0, 1 / (1 + d))
    assert sbg.expected_lifetime(p, d) == pytest.approx(expected, rel=1e-12)
    assert sbg.expected_lifetime(p, d) == pytest.approx(
        1 + sbg.expected_residual_lifetime(p, 0, d) / (1 + d), rel=1e-14
    )


def test_undiscounted_lifetime_is_infinite_for_alpha_at_most_one(fitted):
    assert np.isinf(sbg.expected_lifetime(SBGParams(0.7, 1.2)))
    assert np.isinf(fitted["regular"].expected_lifetime())
    assert np.isinf(sbg.expected_residual_lifetime(SBGParams(1.0, 1.2), 3))
    assert np.isfinite(fitted["regular"].expected_lifetime(discount_rate=0.1))
    # undiscounted residual lifetime for alpha > 1: expected number of future renewals
    p = SBGParams(2.5, 4.0)
    assert sbg.expected_residual_lifetime(p, 6) == pytest.approx((4.0 + 6) / 1.5, rel=1e-14)


def test_numerical_sums_agree_with_the_closed_forms():
    p = SBGParams(2.0, 3.0)
    n = np.array([0.0, 3.0, 10.0])
    for d in (0.1, 0.01):
        np.testing.assert_allclose(
            residual_lifetime_sum(sbg.log_survival, p, n, d),
            sbg.expected_residual_lifetime(p, n, d),
            rtol=1e-10,
        )
    np.testing.assert_allclose(
        residual_lifetime_sum(sbg.log_survival, p, n, 0.0, tail_exponent=2.0),
        sbg.expected_residual_lifetime(p, n, 0.0),
        rtol=1e-11,
    )
    assert np.isinf(
        residual_lifetime_sum(sbg.log_survival, SBGParams(0.9, 3.0), 2, 0.0, tail_exponent=0.9)
    )


@pytest.mark.parametrize("alpha", [1.05, 1.2, 2.0, 3.0])
def test_undiscounted_heavy_tails_are_summed_to_the_closed_form(alpha: float) -> None:
    """d = 0 and a tail exponent near 1: the remainder after one block by quadrature matches
    (beta + n) / (alpha - 1); plain summation would need ~1e15 terms for 1e-12 at 1.05."""
    p, n = SBGParams(alpha, 1.5), np.array([0.0, 3.0, 50.0, 400.0])
    for tail in (alpha, None):  # the asymptotic exponent given, or estimated locally
        got = residual_lifetime_sum(sbg.log_survival, p, n, 0.0, tail_exponent=tail)
        np.testing.assert_allclose(got, (1.5 + n) / (alpha - 1.0), rtol=1e-10)


def test_undiscounted_sum_with_a_churn_multiplier_matches_the_integral() -> None:
    """With a churn multiplier k, S(t) = E[(1 - theta)^(k t)]: the sum of S(n + j) / S(n)
    over j >= 1 is E[q^(n+1) / (1 - q)] / E[q^n] with q = (1 - theta)^k, by quadrature."""
    from scipy import integrate, stats

    from clv.models import _retention_covariates as ph

    p = SBGParams(1.6, 2.5)
    dist = stats.beta(p.alpha, p.beta)

    def expectation(f) -> float:  # E[f(theta)] for theta ~ Beta(alpha, beta)
        return integrate.quad(
            lambda th: f(th) * dist.pdf(th), 0, 1, epsabs=0, epsrel=1e-12, limit=500
        )[0]

    for n, k in [(0.0, 0.5), (4.0, 2.0), (12.0, 1.3)]:
        num = expectation(
            lambda th, n=n, k=k: (1.0 - th) ** (k * (n + 1)) / -np.expm1(k * np.log1p(-th))
        )
        den = expectation(lambda th, n=n, k=k: (1.0 - th) ** (k * n))
        got = residual_lifetime_sum(
            lambda pp, t, m: ph.log_survival(pp, m, t),
            p,
            n,
            0.0,
            tail_exponent=p.alpha,
            multiplier=k,
        )
        assert float(got) == pytest.approx(num / den, rel=1e-8), (n, k)


def test_model_predictions(fitted):
    model = fitted["high_end"]
    p = SBGParams(*model.params_.to_numpy())
    t = np.arange(1, 13)
    np.testing.assert_allclose(model.survival(t), sbg.survival(p, t), rtol=1e-14)
    np.testing.assert_allclose(model.retention_rate(t), sbg.retention_rate(p, t), rtol=1e-12)
    churn = model.probability_of_churn(t)
    np.testing.assert_allclose(np.cumsum(churn), 1 - model.survival(t), rtol=1e-12)
    assert model.survival(0) == 1.0
    derl = model.expected_residual_lifetime(
        pd.Series([0, 3, 7], index=["a", "b", "c"]), discount_rate=0.1
    )
    assert list(derl.index) == ["a", "b", "c"]
    np.testing.assert_allclose(derl, sbg.expected_residual_lifetime(p, [0, 3, 7], 0.1))
    assert derl.is_monotonic_increasing  # longer-tenured customers are worth more
    assert model.expected_lifetime(discount_rate=0.1) == pytest.approx(
        float(sbg.expected_lifetime(p, 0.1))
    )
    with pytest.raises(ValueError, match="t must be"):
        model.retention_rate(0)
    with pytest.raises(ValueError, match="discount_rate"):
        model.expected_lifetime(discount_rate=-0.1)


# ------------------------------------------------------------------------ contract
def test_contract_surface(fitted, tmp_path):
    model = fitted["regular"]
    cov = model.covariance_.to_numpy()
    np.testing.assert_array_equal(cov, cov.T)
    assert np.all(np.linalg.eigvalsh(cov) > 0)
    summary = model.summary()
    assert list(summary.columns) == ["coef", "se", "lower", "upper"]
    assert np.all(summary["lower"] < summary["coef"]) and np.all(summary["coef"] < summary["upper"])
    assert repr(model).startswith("<ShiftedBetaGeoModel fitted on 1000 customers: alpha=0.7041")
    assert "alpha" in model._repr_html_()
    path = tmp_path / "sbg.json"
    model.to_json(path)
    loaded = ShiftedBetaGeoModel.from_json(path)
    pd.testing.assert_series_equal(loaded.params_, model.params_)
    pd.testing.assert_frame_equal(loaded.covariance_, model.covariance_)
    np.testing.assert_array_equal(loaded.survival([3, 9]), model.survival([3, 9]))
    assert repr(loaded) == repr(model)
    doc = json.loads(path.read_text())
    doc["schema_version"] = 99
    path.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="schema_version"):
        ShiftedBetaGeoModel.from_json(path)


def test_json_round_trip_per_cohort(tmp_path):
    data = pd.concat([table(REGULAR, cohort=2001), table(HIGH_END, cohort=2002)])
    model = ShiftedBetaGeoModel(shared=False).fit(data)
    path = tmp_path / "sbg_cohorts.json"
    model.to_json(path)
    loaded = ShiftedBetaGeoModel.from_json(path)
    assert loaded.shared is False
    assert loaded.cohorts_ == [2001, 2002]
    pd.testing.assert_series_equal(loaded.params_, model.params_)
    pd.testing.assert_frame_equal(loaded.summary(), model.summary())
    np.testing.assert_array_equal(
        loaded.survival([4], cohort=2002), model.survival([4], cohort=2002)
    )
    with pytest.raises(ModelFileError, match="BetaDiscreteWeibullModel"):
        from clv.models.bdw import BetaDiscreteWeibullModel

        BetaDiscreteWeibullModel.from_json(path)


def test_unfitted_model_and_refit():
    model = ShiftedBetaGeoModel(shared=False, penalizer=0.0)
    assert model.shared is False and model.penalizer == 0.0
    assert repr(model) == "<ShiftedBetaGeoModel (unfitted)>"
    assert "unfitted" in model._repr_html_()
    with pytest.raises(NotFittedError, match=r"\.fit\("):
        model.survival(3)
    with pytest.raises(NotFittedError):
        model.summary()
    model = ShiftedBetaGeoModel()
    assert model.fit(table(REGULAR)) is model
    model.fit(table(HIGH_END))
    assert model.params_["beta"] == pytest.approx(3.806, abs=5e-4)


def test_callers_frame_is_not_modified():
    data = pd.concat([table(REGULAR, cohort="a"), table(HIGH_END, cohort="b")])
    before = data.copy()
    model = ShiftedBetaGeoModel(shared=False).fit(data)
    empirical_survival(data)
    model.expected_residual_lifetime(pd.Series([1, 2]), cohort="a")
    pd.testing.assert_frame_equal(data, before)


def test_time_unit_and_simulate():
    data = table(REGULAR)
    data.attrs["time_unit"] = "Y"
    model = ShiftedBetaGeoModel().fit(data)
    assert model.time_unit_ == "Y"
    sim = model.simulate(500, 8, random_state=4)
    assert list(sim.columns) == ["periods_observed", "churned"]
    assert sim.index.name == "customer_id" and len(sim) == 500
    assert sim["periods_observed"].between(1, 8).all()
    assert (sim.loc[~sim["churned"], "periods_observed"] == 8).all()
    pd.testing.assert_frame_equal(sim, model.simulate(500, 8, random_state=4))


# ------------------------------------------------------------------------ data errors
def _problems(excinfo: pytest.ExceptionInfo[DataError]) -> str:
    return str(excinfo.value)


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (pd.DataFrame({"period": [0, 1, 2], "n_alive": [100, -5, -10]}), "negative counts"),
        (pd.DataFrame({"period": [0, 1, 2], "n_alive": [100, 60, 70]}), "survival cannot increase"),
        (pd.DataFrame({"period": [0, 1], "n_alive": [0, 0]}), "cohort of size 0"),
        (pd.DataFrame({"period": [0, 2, 1], "n_alive": [100, 50, 60]}), "out of order"),
        (pd.DataFrame({"period": [0, 1, 1], "n_alive": [100, 60, 60]}), "duplicated periods"),
        (pd.DataFrame({"period": [1, 2], "n_alive": [100, 60]}), "does not start at 0"),
        (pd.DataFrame({"period": [0, 1, 3], "n_alive": [100, 60, 40]}), "skips periods"),
        (pd.DataFrame({"period": [0, 1], "n_alive": [100.0, 63.1]}), "not percentages"),
        (pd.DataFrame({"period": [0, 0.5], "n_alive": [100, 60]}), "non-integer"),
        (pd.DataFrame({"period": [0, 1], "n_alive": [100, np.nan]}), "missing or infinite"),
        (pd.DataFrame({"period": [0, 1]}), "'n_alive' is required"),
    ],
    ids=[
        "negative",
        "increasing",
        "size-0",
        "order",
        "duplicate",
        "no-period-0",
        "gap",
        "percent",
        "fractional-period",
        "nan",
        "missing-column",
    ],
)
def test_survival_table_errors(frame, match):
    with pytest.raises(DataError, match=match):
        ShiftedBetaGeoModel().fit(frame)


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (pd.DataFrame({"periods_observed": [1, 2], "churned": ["yes", "no"]}), "not boolean"),
        (pd.DataFrame({"periods_observed": [1, 2], "churned": [0, 2]}), "not boolean"),
        (pd.DataFrame({"periods_observed": [1, 2], "churned": [True, None]}), "not boolean"),
        (pd.DataFrame({"periods_observed": [0, 2], "churned": [True, False]}), "below 1"),
        (pd.DataFrame({"periods_observed": [1.5, 2], "churned": [True, False]}), "non-integer"),
        (
            pd.DataFrame(
                {"periods_observed": [1, 2], "churned": [True, False], "weight": [1.0, 0.0]}
            ),
            "weight",
        ),
        (
            pd.DataFrame(
                {"periods_observed": [1, 2], "churned": [True, False], "cohort": ["a", None]}
            ),
            "cohort",
        ),
        (pd.DataFrame({"churned": [True]}), "'periods_observed' is required"),
    ],
    ids=[
        "strings",
        "two",
        "none",
        "zero-periods",
        "fractional",
        "zero-weight",
        "no-cohort",
        "missing",
    ],
)
def test_per_customer_errors(frame, match):
    with pytest.raises(DataError, match=match):
        ShiftedBetaGeoModel().fit(frame)


def test_every_problem_is_reported_at_once():
    frame = pd.DataFrame({"periods_observed": [0, 2.5, 3], "churned": [True, "x", False]})
    with pytest.raises(DataError) as excinfo:
        ShiftedBetaGeoModel().fit(frame)
    columns = {p.column for p in excinfo.value.problems}
    assert columns == {"periods_observed", "churned"}
    assert len(excinfo.value.problems) == 3  # non-integer, below 1, not boolean
    assert "Fix:" in _problems(excinfo)


def test_cohort_errors_name_the_cohorts():
    frame = pd.DataFrame(
        {"cohort": ["a", "a", "b", "b"], "period": [0, 1, 0, 1], "n_alive": [10, 12, 0, 0]}
    )
    with pytest.raises(DataError) as excinfo:
        ShiftedBetaGeoModel().fit(frame)
    rows = {p.message.split(" for ")[0]: list(p.rows) for p in excinfo.value.problems}
    assert rows == {
        "increases within a cohort (survival cannot increase)": ["a"],
        "is 0 at period 0 (a cohort of size 0)": ["b"],
    }


def test_other_inputs_are_refused():
    with pytest.raises(DataError, match="DataFrame"):
        ShiftedBetaGeoModel().fit([1, 2, 3])
    with pytest.raises(DataError, match="no renewal period"):
        ShiftedBetaGeoModel().fit(pd.DataFrame({"period": [0], "n_alive": [100]}))


def test_boolean_like_churned_columns_are_accepted():
    base = pd.DataFrame({"periods_observed": [1, 2, 3, 3], "churned": [True, True, False, False]})
    as_int = base.assign(churned=base["churned"].astype(int))
    as_object = base.assign(churned=base["churned"].astype(object))
    expected = retention_counts(base)
    for frame in (as_int, as_object):
        pd.testing.assert_frame_equal(retention_counts(frame), expected)


def test_survival_table_round_trip():
    counts = survival_table_to_counts(table(HIGH_END, last=12))
    assert counts["weight"].sum() == 1000
    assert counts.loc[~counts["churned"], "weight"].item() == 394
    observed = empirical_survival(table(HIGH_END, last=12))
    np.testing.assert_allclose(observed["survival"], np.array(HIGH_END) / 1000, rtol=1e-14)
    np.testing.assert_allclose(
        observed["retention_rate"].iloc[1:],
        np.array(HIGH_END[1:]) / np.array(HIGH_END[:-1]),
        rtol=1e-14,
    )
    per_customer = empirical_survival(expand(counts))
    np.testing.assert_allclose(per_customer["survival"], observed["survival"], rtol=1e-12)


def test_empirical_survival_censors_customers_observed_for_less():
    """Kaplan-Meier: 4 customers, one lost in period 1, one active after 1 (censored),
    two followed to period 2 of whom one is lost: S(1) = 3/4, S(2) = 3/4 * 1/2."""
    data = pd.DataFrame({"periods_observed": [1, 1, 2, 2], "churned": [True, False, True, False]})
    observed = empirical_survival(data)
    np.testing.assert_allclose(observed["survival"], [1.0, 0.75, 0.375])
    np.testing.assert_allclose(observed["at_risk"], [4, 4, 2])


# ------------------------------------------------------------------------ properties
params_st = st.floats(1e-3, 1e3)


@given(alpha=params_st, beta=params_st)
def test_survival_non_increasing_and_retention_increasing(alpha, beta):
    p = SBGParams(alpha, beta)
    t = np.arange(0, 2001.0)
    s = sbg.survival(p, t)
    assert np.all(np.isfinite(s)) and s[0] == 1.0
    assert np.all(np.diff(s) <= 0)
    r = sbg.retention_rate(p, t[1:])
    assert np.all((r >= 0) & (r <= 1))
    assert np.all(np.diff(r) > 0)  # the heterogeneity ("sorting") effect


@given(alpha=params_st, beta=params_st, t=st.integers(1, 10_000), churned=st.booleans())
def test_log_likelihood_is_finite(alpha, beta, t, churned):
    p = SBGParams(alpha, beta)
    ll, grad = sbg.log_likelihood_gradient(p, np.array([t]), np.array([churned]))
    assert np.isfinite(ll).all() and np.isfinite(grad).all()
    assert ll[0] <= 0
    assert sbg.log_likelihood(p, np.array([float(t)]), np.array([churned])) == pytest.approx(ll[0])


@given(
    alpha=st.floats(1e-3, 1e3),
    beta=st.floats(1e-3, 1e3),
    n=st.integers(0, 1000),
    d=st.floats(1e-3, 1.0),
)
def test_derl_is_finite_and_bounded(alpha, beta, n, d):
    value = sbg.expected_residual_lifetime(SBGParams(alpha, beta), n, d)
    assert np.isfinite(value)
    assert 0 <= value <= (1 + d) / d * (1 + 1e-12)  # at most sum_k (1+d)^-(k-1)


def test_pure_functions_broadcast():
    alpha = np.array([0.5, 1.0, 2.0])[:, None]
    t = np.arange(1, 5.0)
    p = SBGParams(alpha, 1.5)
    assert sbg.survival(p, t).shape == (3, 4)
    assert sbg.log_likelihood(p, t, np.ones(4)).shape == (3, 4)
    assert sbg.expected_residual_lifetime(p, t, 0.1).shape == (3, 4)
    assert sbg.retention_rate(p, t).shape == (3, 4)


# ------------------------------------------------------------------------ recovery
def _recovery_z(true: SBGParams, n_customers: int, periods: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    horizon = rng.integers(1, periods + 1, n_customers)
    sim = sbg.simulate(true, horizon, rng=rng)
    data = pd.DataFrame(
        {"periods_observed": sim["periods_observed"].astype(int), "churned": sim["churned"]}
    )
    model = ShiftedBetaGeoModel().fit(data)
    se = model.summary()["se"].to_numpy()
    return (model.params_.to_numpy() - np.asarray(true)) / se


def test_simulator_matches_the_survival_function(rng):
    p = SBGParams(0.8, 2.5)
    sim = sbg.simulate(p, np.full(200_000, 10), rng=rng)
    data = pd.DataFrame(
        {"periods_observed": sim["periods_observed"].astype(int), "churned": sim["churned"]}
    )
    observed = empirical_survival(data)["survival"].to_numpy()
    expected = sbg.survival(p, np.arange(11))
    se = np.sqrt(expected * (1 - expected) / 200_000)
    assert np.all(np.abs(observed - expected) <= 4 * se + 1e-12)


def test_recovers_simulated_parameters():
    z = _recovery_z(SBGParams(0.9, 2.2), 20_000, 10, seed=11)
    assert np.all(np.abs(z) < 4), z


@pytest.mark.slow
@pytest.mark.parametrize("true", [SBGParams(0.3, 0.6), SBGParams(2.0, 8.0), SBGParams(5.0, 1.5)])
def test_recovers_simulated_parameters_grid(true):
    z = _recovery_z(true, 100_000, 12, seed=int(true.alpha * 100))
    assert np.all(np.abs(z) < 4), z


@pytest.mark.slow
def test_interval_coverage():
    """About 95% of the 95% intervals contain the truth: 200 fits, each parameter separately
    (a 4-SD binomial band)."""
    true = SBGParams(0.9, 2.2)
    hits = np.array(
        [np.abs(_recovery_z(true, 3_000, 8, seed=1000 + seed)) < 1.959964 for seed in range(200)]
    )
    rate = hits.mean(axis=0)
    assert np.all(np.abs(rate - 0.95) < 4 * np.sqrt(0.95 * 0.05 / 200)), rate


# ------------------------------------------------------------------------ plots
def test_retention_curves_numbers(fitted):
    from clv.plotting.retention import retention_curves

    data = table(REGULAR, last=12)
    curves = retention_curves(fitted["regular"], data)
    assert list(curves.columns) == [
        "cohort",
        "period",
        "survival_model",
        "retention_model",
        "survival_actual",
        "retention_actual",
        "at_risk",
    ]
    assert curves["period"].tolist() == list(range(13))
    np.testing.assert_allclose(curves["survival_actual"], np.array(REGULAR) / 1000)
    np.testing.assert_allclose(curves["survival_model"], fitted["regular"].survival(range(13)))
    assert np.isnan(curves["retention_model"].iloc[0])
    no_data = retention_curves(fitted["regular"], t_max=5)
    assert no_data["cohort"].unique().tolist() == ["all"] and len(no_data) == 6
    assert no_data["survival_actual"].isna().all()


def test_plot_survival(fitted, close_figures):
    from clv.plotting.retention import plot_survival

    data = table(REGULAR, last=12)
    data.attrs["time_unit"] = "Y"
    ax = plot_survival(fitted["regular"], data, calibration_end=CALIBRATION_END)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"Actual", "Model", "End of calibration"}
    np.testing.assert_allclose(lines["Actual"].get_ydata(), np.array(REGULAR) / 1000)
    np.testing.assert_allclose(lines["Model"].get_ydata(), fitted["regular"].survival(range(13)))
    assert list(lines["End of calibration"].get_xdata()) == [7.5, 7.5]
    assert ax.get_xlabel() == "Tenure (years)"
    assert ax.get_ylabel() == "Share of the cohort still active"
    assert ax.get_title() == "Survival: actual vs model"


def test_plot_retention_rates_per_cohort(close_figures):
    import matplotlib.pyplot as plt

    from clv.plotting.retention import plot_retention_rates

    data = pd.concat(
        [table(REGULAR, last=12, cohort="regular"), table(HIGH_END, last=12, cohort="high end")]
    )
    model = ShiftedBetaGeoModel(shared=False).fit(
        pd.concat([table(REGULAR, cohort="regular"), table(HIGH_END, cohort="high end")])
    )
    _, ax = plt.subplots()
    out = plot_retention_rates(model, data, calibration_end=7, ax=ax)
    assert out is ax
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {
        "Actual (regular)",
        "Model (regular)",
        "Actual (high end)",
        "Model (high end)",
        "End of calibration",
    }
    np.testing.assert_allclose(
        lines["Actual (high end)"].get_ydata(), np.array(HIGH_END[1:]) / np.array(HIGH_END[:-1])
    )
    np.testing.assert_allclose(lines["Model (regular)"].get_xdata(), np.arange(1, 13))
    np.testing.assert_allclose(
        lines["Model (regular)"].get_ydata(),
        model.retention_rate(np.arange(1, 13), cohort="regular"),
    )
    assert ax.get_ylabel() == "Retention rate" and ax.get_xlabel() == "Tenure (periods)"


def test_plot_without_data_shows_the_model(fitted, close_figures):
    from clv.plotting.retention import plot_survival

    ax = plot_survival(fitted["high_end"], t_max=30)
    (line,) = ax.get_lines()
    assert line.get_label() == "Model"
    assert len(line.get_xdata()) == 31
