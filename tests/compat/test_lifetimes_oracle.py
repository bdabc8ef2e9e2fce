"""clv.compat.lifetimes against the installed lifetimes 0.11.3 at the same parameters.

Where lifetimes still runs on this pandas/NumPy, the compat layer must give its
numbers (``rtol=1e-9``): predictions at lifetimes' fitted parameters, the RFM
summaries, and lifetimes' CLV sum. lifetimes' ``calibration_and_holdout_data``
and monthly summaries fail on pandas 3 (checked below), so those are compared
with lifetimes' published expectations in ``test_lifetimes_utils.py`` instead.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import clv.compat.lifetimes as C

L = pytest.importorskip("lifetimes")


def _lifetimes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes.datasets
        import lifetimes.utils

    return lifetimes


@pytest.fixture(scope="module")
def cd():
    return C.datasets.load_cdnow_summary()


def _call(f, name, *args):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return np.asarray(getattr(f, name)(*args), dtype=np.float64)


@pytest.mark.parametrize("name", ["BetaGeoFitter", "ModifiedBetaGeoFitter", "ParetoNBDFitter"])
def test_transaction_predictions_equal_lifetimes(name, cd):
    lt = _lifetimes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = getattr(lt, name)().fit(cd["frequency"], cd["recency"], cd["T"])
    ours = getattr(C, name)()
    ours.params_ = ref.params_.copy()
    x, t_x, T = cd["frequency"], cd["recency"], cd["T"]
    for method, args in [
        ("conditional_expected_number_of_purchases_up_to_time", (10, x, t_x, T)),
        ("conditional_probability_alive", (x, t_x, T)),
        ("expected_number_of_purchases_up_to_time", (np.arange(1, 60.0),)),
    ]:
        np.testing.assert_allclose(_call(ours, method, *args), _call(ref, method, *args), rtol=1e-9)
    if name == "ParetoNBDFitter":
        for n in range(8):
            np.testing.assert_allclose(
                _call(ours, "conditional_probability_of_n_purchases_up_to_time", n, 10, 3, 20, 38),
                _call(ref, "conditional_probability_of_n_purchases_up_to_time", n, 10, 3, 20, 38),
                rtol=1e-9,
            )
    else:
        for n in range(8):
            np.testing.assert_allclose(
                _call(ours, "probability_of_n_purchases_up_to_time", 30, n),
                _call(ref, "probability_of_n_purchases_up_to_time", 30, n),
                rtol=1e-9,
            )
    one = pd.Series(np.ones(len(cd)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clv_ref = lt.utils._customer_lifetime_value(ref, x, t_x, T, one, time=6, freq="W")
    clv_ours = C.utils.customer_lifetime_value(ours, x, t_x, T, one, time=6, freq="W")
    np.testing.assert_allclose(clv_ours.to_numpy(), clv_ref.to_numpy(), rtol=1e-9)


def test_bgbb_predictions_equal_lifetimes():
    lt = _lifetimes()
    d = C.datasets.load_donations()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = lt.BetaGeoBetaBinomFitter().fit(
            d["frequency"], d["recency"], d["periods"], d["weights"]
        )
    ours = C.BetaGeoBetaBinomFitter().fit(d["frequency"], d["recency"], d["periods"], d["weights"])
    np.testing.assert_allclose(ours.params_, ref.params_, rtol=1e-5)
    ours.params_ = ref.params_.copy()
    args = (d["frequency"], d["recency"], d["periods"])
    for m in (1, 3, 10):
        np.testing.assert_allclose(
            _call(ours, "conditional_probability_alive", m, *args),
            _call(ref, "conditional_probability_alive", m, *args),
            rtol=1e-9,
        )
        np.testing.assert_allclose(
            _call(ours, "conditional_expected_number_of_purchases_up_to_time", m, *args),
            _call(ref, "conditional_expected_number_of_purchases_up_to_time", m, *args),
            rtol=1e-9,
        )
    pd.testing.assert_frame_equal(
        ours.expected_number_of_transactions_in_first_n_periods(6),
        ref.expected_number_of_transactions_in_first_n_periods(6),
        check_index_type=False,
        rtol=1e-9,
    )


def test_gamma_gamma_equals_lifetimes():
    lt = _lifetimes()
    d = C.datasets.load_cdnow_summary_data_with_monetary_value()
    r = d[d["frequency"] > 0]
    ref = lt.GammaGammaFitter().fit(r["frequency"], r["monetary_value"])
    ours = C.GammaGammaFitter().fit(r["frequency"], r["monetary_value"])
    np.testing.assert_allclose(ours.params_, ref.params_, rtol=1e-5)
    assert ours._negative_log_likelihood_ == pytest.approx(ref._negative_log_likelihood_, rel=1e-9)
    ours.params_ = ref.params_.copy()
    np.testing.assert_allclose(
        ours.conditional_expected_average_profit(d["frequency"], d["monetary_value"]),
        ref.conditional_expected_average_profit(d["frequency"], d["monetary_value"]),
        rtol=1e-12,
    )


@pytest.mark.parametrize("freq", ["D", "W"])
def test_summary_equals_lifetimes(freq):
    lt = _lifetimes()
    tx = C.datasets.load_transaction_data(parse_dates=["date"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = lt.utils.summary_data_from_transaction_data(
            tx, "id", "date", freq=freq, observation_period_end="2014-12-31"
        )
    ours = C.utils.summary_data_from_transaction_data(
        tx, "id", "date", freq=freq, observation_period_end="2014-12-31"
    )
    pd.testing.assert_frame_equal(ours, ref)


def test_lifetimes_itself_fails_on_this_pandas_where_compat_runs():
    """Why the compat layer exists: lifetimes 0.11.3 breaks on pandas 3 in these calls."""
    lt = _lifetimes()
    if int(pd.__version__.split(".")[0]) < 3:
        pytest.skip("lifetimes runs on pandas < 3")
    tx = C.datasets.load_transaction_data(parse_dates=["date"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError):  # pandas 3: "No objects to concatenate"
            lt.utils.calibration_and_holdout_data(tx, "id", "date", "2014-09-01", "2014-12-31")
        with pytest.raises(ValueError):  # np.timedelta64(1, "M") is refused by pandas 3
            lt.utils.summary_data_from_transaction_data(tx, "id", "date", freq="M")
    out = C.utils.calibration_and_holdout_data(tx, "id", "date", "2014-09-01", "2014-12-31")
    assert len(out) > 0 and out["duration_holdout"].iloc[0] == 121.0
    monthly = C.utils.summary_data_from_transaction_data(tx, "id", "date", freq="M")
    assert monthly["T"].max() == 11.0  # whole months (2014-01 .. 2014-12)


@pytest.mark.parametrize("freq", ["D", "W"])
def test_summary_with_monetary_value_equals_lifetimes_on_cdnow(freq):
    lt = _lifetimes()
    tx = C.datasets.load_dataset(
        "CDNOW_sample.txt", sep=r"\s+", header=None, names=["_id", "id", "date", "cds", "spent"]
    )
    tx["date"] = pd.to_datetime(tx["date"].astype(str), format="%Y%m%d")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = lt.utils.summary_data_from_transaction_data(
            tx, "id", "date", "spent", freq=freq, observation_period_end="1998-06-30"
        )
    ours = C.utils.summary_data_from_transaction_data(
        tx, "id", "date", "spent", freq=freq, observation_period_end="1998-06-30"
    )
    pd.testing.assert_frame_equal(ours, ref, rtol=1e-12)


@pytest.mark.parametrize("pen", [0.0, 0.1])
@pytest.mark.parametrize(
    "name", ["ModifiedBetaGeoFitter", "ParetoNBDFitter", "BetaGeoBetaBinomFitter"]
)
def test_minimised_objective_equals_lifetimes(name, pen, cd):
    """``_negative_log_likelihood_`` (lifetimes' penalised objective) at the optimum.

    lifetimes' Pareto/NBD starts from ``np.random.normal(1, 0.05)`` (NumPy's global
    seed) and stops at BFGS' tolerance in a likelihood that is flat in ``beta``
    (standard error 6.2), so its estimates move by up to 1e-3 between runs; clv's
    objective is never worse than lifetimes' and the parameters agree within 0.05
    standard errors.
    """
    lt = _lifetimes()
    if name == "BetaGeoBetaBinomFitter":
        d = C.datasets.load_donations()
        args = (d["frequency"], d["recency"], d["periods"], d["weights"])
    else:
        args = (cd["frequency"], cd["recency"], cd["T"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = getattr(lt, name)(penalizer_coef=pen).fit(*args)
    ours = getattr(C, name)(penalizer_coef=pen).fit(*args)
    assert ours._negative_log_likelihood_ == pytest.approx(ref._negative_log_likelihood_, rel=1e-8)
    assert ours._negative_log_likelihood_ <= ref._negative_log_likelihood_ * (1 + 1e-12)
    gap = np.abs(ours.params_.to_numpy() - ref.params_.to_numpy())
    assert np.all(gap <= 0.05 * ours.standard_errors_.to_numpy()), gap
