"""One contract for every maximum-likelihood model (ARCHITECTURE §12.5)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from clv.exceptions import DataError, ModelFileError, NotFittedError


def _cdnow():
    from clv.data.datasets import load_cdnow_summary

    return load_cdnow_summary()


def _cdnow_spend():
    from clv.data.datasets import load_cdnow_summary_with_spend

    return load_cdnow_summary_with_spend()


def _donations():
    from clv.data.datasets import load_donations

    return load_donations()


def _ageing():
    """Customers whose dropout hazard grows with age (GGompertz/NBD with b = 0.05)."""
    from clv.models.ggompertz_nbd import GGNBDParams, simulate

    rng = np.random.default_rng(2024)
    sim = simulate(GGNBDParams(0.5, 5.0, 0.05, 1.5, 3.0), rng.uniform(26, 78, 1500), rng=rng)
    frame = pd.DataFrame({k: sim[k] for k in ("frequency", "recency", "T")})
    frame.index.name = "customer_id"
    return frame


def _correlated():
    """Customers whose purchase and dropout rates correlate (rho = 0.15, monthly periods)."""
    from clv.models.pareto_nbd_corr import PNBDCorParams, simulate

    rng = np.random.default_rng(7)
    sim = simulate(PNBDCorParams(1.0, 0.5, 1.0, 0.5, 0.15), rng.uniform(4, 12, 800), rng=rng)
    frame = pd.DataFrame({k: sim[k] for k in ("frequency", "recency", "T")})
    frame.index.name = "customer_id"
    return frame


def _cdnow_litt():
    """CDNOW calibration summary with litt, in 7-day weeks (BTYDplus's elog2cbs)."""
    from clv.data import rfm_summary
    from clv.data.datasets import load_cdnow_sample_transactions

    tx = load_cdnow_sample_transactions().drop_duplicates()
    return rfm_summary(
        tx[tx["date"] <= "1997-09-30"],
        customer_id_col="customer_id",
        date_col="date",
        time_unit="7D",
        observation_end="1997-09-30",
        litt=True,
    )


def _models():
    from clv.models.bgbb import BetaGeoBetaBinomModel
    from clv.models.bgnbd import BetaGeoModel
    from clv.models.cnbd import BetaGeoCNBDModel, ModifiedBetaGeoCNBDModel
    from clv.models.gamma_gamma import GammaGammaModel
    from clv.models.ggompertz_nbd import GGompertzNBDModel
    from clv.models.mbgnbd import ModifiedBetaGeoModel
    from clv.models.nbd import NBDModel
    from clv.models.pareto_nbd import ParetoNBDModel

    return [
        (BetaGeoModel, _cdnow),
        (ModifiedBetaGeoModel, _cdnow),
        (ParetoNBDModel, _cdnow),
        (BetaGeoBetaBinomModel, _donations),
        (GammaGammaModel, _cdnow_spend),
        (GGompertzNBDModel, _ageing),
        (NBDModel, _cdnow),
        (ModifiedBetaGeoCNBDModel, _cdnow_litt),
        (BetaGeoCNBDModel, _cdnow_litt),
    ]


CASES = _models()
IDS = [cls.__name__ for cls, _ in CASES]


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def fitted(request):
    cls, loader = request.param
    data = loader()
    return cls().fit(data), data


def _per_customer(model, data):
    if hasattr(model, "probability_alive"):
        return {
            "probability_alive": model.probability_alive(data),
            "expected_purchases": model.expected_purchases(4, data),
        }
    return {"expected_spend": model.expected_spend(data)}


@pytest.mark.parametrize(("cls", "loader"), CASES, ids=IDS)
def test_init_stores_arguments_and_fit_returns_self(cls, loader):
    model = cls(penalizer=0.0)
    assert model.penalizer == 0.0
    assert repr(model).endswith("(unfitted)>")
    assert "unfitted" in model._repr_html_()
    with pytest.raises(NotFittedError, match=r"\.fit\("):
        model.summary()
    assert model.fit(loader()) is model


def test_summary_and_covariance(fitted):
    model, _ = fitted
    summary = model.summary()
    assert list(summary.columns) == ["coef", "se", "lower", "upper"]
    assert list(summary.index) == list(model.params_.index)
    assert np.all(summary["se"] > 0)
    assert np.all((summary["lower"] < summary["coef"]) & (summary["coef"] < summary["upper"]))
    cov = model.covariance_.to_numpy()
    np.testing.assert_allclose(cov, cov.T, rtol=1e-12, atol=0)
    assert np.all(np.linalg.eigvalsh(cov) > 0)
    assert model.converged_ and np.isfinite(model.log_likelihood_)
    assert type(model).__name__ in repr(model) and "<table" in model._repr_html_()


def test_predictions_are_aligned_and_data_unchanged(fitted):
    model, data = fitted
    shuffled = data.sample(frac=1.0, random_state=3).iloc[:300]
    before = shuffled.copy(deep=True)
    for name, series in _per_customer(model, shuffled).items():
        assert isinstance(series, pd.Series), name
        assert series.index.equals(shuffled.index), name
        assert np.all(np.isfinite(series.to_numpy())), name
    pd.testing.assert_frame_equal(shuffled, before)


def test_fit_does_not_modify_the_callers_data(fitted):
    model, data = fitted
    before = data.copy(deep=True)
    type(model)().fit(data)
    pd.testing.assert_frame_equal(data, before)


def test_refit_is_deterministic_and_overwrites_state(fitted):
    model, data = fitted
    again = type(model)().fit(data)
    pd.testing.assert_series_equal(again.params_, model.params_)
    other = type(model)().fit(data)
    # a different data set of the same kind: half the customers (pattern data: half the weight)
    half = data.assign(weight=data["weight"] / 2) if "weight" in data.columns else data.iloc[::2]
    other.fit(half)
    assert other.n_customers_ < model.n_customers_
    assert not np.allclose(other.log_likelihood_, model.log_likelihood_)


def test_json_round_trip(fitted, tmp_path):
    model, data = fitted
    path = tmp_path / "model.json"
    model.to_json(path)
    doc = json.loads(path.read_text())
    assert doc["schema_version"] == 1 and doc["model"] == type(model).__name__
    loaded = type(model).from_json(path)
    pd.testing.assert_series_equal(loaded.params_, model.params_)
    pd.testing.assert_frame_equal(loaded.covariance_, model.covariance_)
    for name, series in _per_customer(model, data).items():
        pd.testing.assert_series_equal(_per_customer(loaded, data)[name], series, check_exact=True)


def test_model_files_are_checked(fitted, tmp_path):
    model, _ = fitted
    path = tmp_path / "model.json"
    model.to_json(path)
    doc = json.loads(path.read_text())
    doc["schema_version"] = 999
    path.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="schema_version"):
        type(model).from_json(path)
    doc["schema_version"] = 1
    doc["model"] = "SomethingElse"
    path.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="SomethingElse"):
        type(model).from_json(path)
    path.write_bytes(b"\x80\x04garbage")
    with pytest.raises(ModelFileError, match="not a clv model file"):
        type(model).from_json(path)
    del doc["params"]
    doc["model"] = type(model).__name__
    path.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="damaged"):
        type(model).from_json(path)


def test_bad_data_is_a_clear_error(fitted):
    model, data = fitted
    bad = data.copy()
    column = "frequency"
    bad.iloc[0, bad.columns.get_loc(column)] = -1.0
    with pytest.raises(DataError, match="frequency") as info:
        type(model)().fit(bad)
    assert "Fix:" in str(info.value)
    with pytest.raises(DataError, match="missing"):
        type(model)().fit(data.drop(columns=[column]))
    with pytest.raises(DataError):
        type(model)().fit(data.iloc[:0])


def test_import_clv_is_light():
    code = (
        "import sys, clv; "
        "print(sorted(m for m in ('pymc','arviz','pytensor','matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_import_clv_loads_nothing_heavy_until_a_name_is_used():
    """``import clv`` is a few ms: pandas and SciPy load when a model or function is first used."""
    code = (
        "import sys, clv; heavy = ('pandas', 'scipy', 'numpy'); "
        "print(sorted(m for m in heavy if m in sys.modules)); "
        "m = clv.BetaGeoModel; f = clv.rfm_summary; sub = clv.models.ParetoNBDModel; "
        "cx = clv.cx.FeatureBuilder; "
        "print(sorted(m for m in heavy if m in sys.modules)); "
        "print(m.__name__, f.__name__, sub.__name__, 'BetaGeoModel' in dir(clv)); "
        "print(hasattr(clv, 'no_such_name'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:4] == [
        "[]",
        "['numpy', 'pandas', 'scipy']",
        "BetaGeoModel rfm_summary ParetoNBDModel True",
        "False",
    ]


def test_weighted_compressed_fit_equals_expanded_fit(fitted):
    """Fitting distinct rows with a ``weight`` column equals fitting every customer."""
    model, data = fitted
    columns = list(model.spec.columns)
    if "weight" in data.columns:  # pattern-level data: expand it instead
        expanded = data.loc[data.index.repeat(data["weight"].astype(int)), columns]
        expanded = expanded.reset_index(drop=True)
        other = type(model)().fit(expanded)
    else:
        rows = data[columns]
        if model.spec.fit_rows is not None:
            rows = rows[np.asarray(model.spec.fit_rows(rows), dtype=bool)]
        weighted = rows.groupby(columns).size().rename("weight").reset_index()
        other = type(model)().fit(weighted)
    np.testing.assert_allclose(other.params_, model.params_, rtol=1e-5)
    assert other.log_likelihood_ == pytest.approx(model.log_likelihood_, rel=1e-9)


@pytest.mark.parametrize("name", ["BetaGeoModel", "ModifiedBetaGeoModel", "ParetoNBDModel"])
def test_customers_first_seen_in_the_last_period_are_valid(name):
    """T = 0 (first purchase in the observation-end period) scores as a brand-new customer."""
    import clv.models as models

    cls = getattr(models, name)
    data = _cdnow()
    model = cls().fit(data)
    newcomer = pd.DataFrame(
        {"frequency": [0.0], "recency": [0.0], "T": [0.0], "period_days": [7.0]}, index=["new"]
    )
    with_newcomer = pd.concat([data, newcomer])
    refit = cls().fit(with_newcomer)
    np.testing.assert_allclose(refit.params_, model.params_, rtol=1e-6)
    assert refit.log_likelihood_ == pytest.approx(model.log_likelihood_, abs=1e-6)
    expected = model.expected_purchases(10.0, newcomer).iloc[0]
    assert expected == pytest.approx(float(model.expected_purchases_new_customer(10.0)), rel=1e-10)
    bad = pd.DataFrame({"frequency": [1.0], "recency": [0.0], "T": [0.0], "period_days": [7.0]})
    with pytest.raises(DataError, match="'T'"):
        model.expected_purchases(10.0, bad)


def test_sample_params_and_individual_params(fitted):
    model, data = fitted
    draws = model.sample_params(4000, random_state=3)
    assert list(draws.columns) == list(model.params_.index) and len(draws) == 4000
    assert draws.equals(model.sample_params(4000, random_state=3))
    assert np.all(np.isfinite(draws.to_numpy()))
    # the draws' median maps to the estimate (normal on the optimised scale)
    np.testing.assert_allclose(draws.median(), model.params_, rtol=0.05)
    ip = model.individual_params(data.head(3))
    assert ip.index.equals(data.head(3).index)
    assert list(ip.columns) == list(model.params_.index)
    np.testing.assert_allclose(ip.iloc[0], model.params_)
    ip_draw = model.individual_params(data.head(3), params=draws.iloc[0])
    np.testing.assert_allclose(ip_draw.iloc[0], draws.iloc[0])


def test_sample_params_on_retention_and_acquisition_models():
    from clv.models.acquisition import AcquisitionModel
    from clv.models.sbg import ShiftedBetaGeoModel

    table = pd.DataFrame({"period": range(8), "n_alive": [1000, 631, 468, 382, 326, 289, 262, 241]})
    sbg_model = ShiftedBetaGeoModel().fit(table)
    draws = sbg_model.sample_params(2000, random_state=0)
    np.testing.assert_allclose(draws.median(), sbg_model.params_, rtol=0.05)
    acq = AcquisitionModel(distribution="exponential", pool_size=2000)
    counts = pd.Series([120, 100, 90, 70, 60, 55, 40, 35, 30, 25], index=range(1, 11))
    acq.fit(counts)
    draws = acq.sample_params(4000, random_state=0)
    assert list(draws.columns) == list(acq.params_.index)
    assert ((draws["p"] > 0) & (draws["p"] < 1)).all()  # logit scale: always a share
    np.testing.assert_allclose(draws.median(), acq.params_, rtol=0.05)


# ---------------------------------------------------------------------------------------------
# One contract over the registry: every registered model, plain, per-cohort and with covariates
# ---------------------------------------------------------------------------------------------
_RETENTION = [1000, 631, 468, 382, 326, 289, 262, 241]
_HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]


def _with_covariate(data: pd.DataFrame, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return data.assign(nps=rng.normal(5.0, 2.0, len(data)))


def _cohort_table() -> pd.DataFrame:
    return pd.concat(
        [
            pd.DataFrame({"cohort": "regular", "period": range(8), "n_alive": _RETENTION}),
            pd.DataFrame({"cohort": "high", "period": range(8), "n_alive": _HIGH_END}),
        ],
        ignore_index=True,
    )


def _customers_with_covariate() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 1500
    nps = rng.normal(5.0, 2.0, n)
    theta = np.clip(rng.beta(1.0, 3.0, n) * np.exp(-0.1 * (nps - 5.0)), 1e-3, 0.999)
    lifetime = rng.geometric(theta)
    observed = np.minimum(lifetime, 10)
    return pd.DataFrame(
        {"periods_observed": observed.astype(float), "churned": lifetime <= 10, "nps": nps}
    )


def _acquisition_counts() -> pd.Series:
    counts = [120, 100, 90, 70, 60, 55, 40, 35, 30, 25, 22, 18]
    return pd.Series(
        counts, index=pd.RangeIndex(1, len(counts) + 1, name="period"), name="new_customers"
    )


def _acquisition_covariates() -> pd.DataFrame:
    promo = np.zeros(12)
    promo[[2, 7]] = 1.0
    return pd.DataFrame({"promo": promo}, index=pd.RangeIndex(1, 13, name="period"))


def _predictions(model, data) -> dict[str, np.ndarray]:
    """What each kind of model predicts on its fitted data."""
    from clv.models.registry import model_entry

    entry = model_entry(type(model).__name__)
    kind = entry.kind
    if entry.time_varying and kind == "transaction":
        pred = model.predict(data, 4.0, discount_rate=0.01)
        return {c: pred[c].to_numpy() for c in pred.columns}
    if entry.time_varying and kind == "retention":
        pred = model.predict(data, 4, discount_rate=0.1)
        return {c: pred[c].to_numpy() for c in pred.columns}
    if entry.time_varying and kind == "spend":
        return {
            "expected_spend": model.expected_spend(data).to_numpy(),
            "by_period": model.expected_spend_by_period(data, 4.0).to_numpy().ravel(),
        }
    if kind == "transaction":
        return {
            "probability_alive": model.probability_alive(data).to_numpy(),
            "expected_purchases": model.expected_purchases(4, data).to_numpy(),
        }
    if kind == "spend":
        return {"expected_spend": model.expected_spend(data).to_numpy()}
    if kind == "acquisition":
        return {"expected_arrivals": model.expected_arrivals(12).to_numpy(dtype=float)}
    t = np.arange(1, 6)
    if getattr(model, "churn_covariates", None):
        return {"survival": model.survival(3, covariates=data.head(50)).to_numpy()}
    cohorts = model.cohorts_ if not model.shared else [None]
    return {f"survival[{c}]": np.asarray(model.survival(t, cohort=c)) for c in cohorts}


#: Registered models without a case yet, and why (the list may only shrink).
_PENDING: dict[str, str] = {}


# time-varying covariate worlds: small, seeded, with a dated change in the covariates
_TV_START = pd.Timestamp("2020-01-05")
_TV_END = _TV_START + pd.Timedelta(weeks=40)


def _tv_world(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series, np.random.Generator]:
    rng = np.random.default_rng(seed)
    ids = np.arange(n)
    first = pd.Series(_TV_START + pd.to_timedelta(rng.uniform(0, 70, n), unit="D"), index=ids)
    week = np.arange(42)
    dates = _TV_START + pd.to_timedelta(7 * week, unit="D")
    cov = pd.DataFrame(
        {
            "customer_id": np.repeat(ids, week.size),
            "cov_date": np.tile(dates, n),
            "season": np.tile(((week // 6) % 2).astype(float), n),
            "promo": (rng.random(n * week.size) < 0.3).astype(float),
            "tier": np.tile((dates >= _TV_START + pd.Timedelta(weeks=20)).astype(float), n),
        }
    )
    return cov, first, rng


def _tv_pareto():
    from clv.models import time_varying_data
    from clv.models.pareto_nbd_dyncov import simulate_transactions

    cov, first, rng = _tv_world(800, 31)
    params = {"r": 1.0, "alpha": 5.0, "s": 0.8, "beta": 12.0}
    params |= {"purchase[season]": 0.5, "dropout[promo]": -0.5}
    tx, _ = simulate_transactions(
        params,
        cov,
        first,
        end=_TV_END,
        purchase_covariates=["season"],
        dropout_covariates=["promo"],
        rng=rng,
    )
    return time_varying_data(tx, cov, columns=["season", "promo"], observation_end=_TV_END)


def _tv_bgnbd():
    from clv.models import time_varying_data
    from clv.models.bgnbd_dyncov import simulate_bgnbd_transactions

    cov, first, rng = _tv_world(800, 32)
    params = {"r": 1.0, "alpha": 5.0, "a": 0.8, "b": 3.0}
    params |= {"purchase[season]": 0.5, "dropout[promo]": -0.5}
    tx, _ = simulate_bgnbd_transactions(
        params,
        cov,
        first,
        end=_TV_END,
        purchase_covariates=["season"],
        dropout_covariates=["promo"],
        rng=rng,
    )
    return time_varying_data(tx, cov, columns=["season", "promo"], observation_end=_TV_END)


def _tv_spend():
    from clv.models import time_varying_spend_data
    from clv.models.bgnbd_dyncov import simulate_bgnbd_transactions
    from clv.models.gamma_gamma_dyncov import simulate_spends

    cov, first, rng = _tv_world(800, 33)
    tx, _ = simulate_bgnbd_transactions(
        {"r": 2.0, "alpha": 5.0, "a": 0.8, "b": 3.0}, cov, first, end=_TV_END, rng=rng
    )
    params = {"p": 6.0, "q": 4.0, "v": 15.0, "spend[tier]": 0.3}
    tx, _ = simulate_spends(params, tx, cov, spend_covariates=["tier"], rng=rng)
    return time_varying_spend_data(tx, cov, columns=["tier"], observation_end=_TV_END)


def _tv_panel():
    from clv.models.sbg_dyncov import retention_panel, simulate_panel

    rng = np.random.default_rng(34)
    n, periods = 1500, 10
    price_up = (np.arange(periods)[None, :] >= rng.integers(3, 8, n)[:, None]).astype(float)
    frame, _ = simulate_panel(
        {"alpha": 0.8, "beta": 1.6, "churn[price_up]": 0.6},
        price_up[..., None],
        ["price_up"],
        rng=rng,
    )
    return retention_panel(frame, columns=["price_up"])


def _registry_cases():
    from clv.models.registry import MODELS

    def case(name, make, load, fit_kwargs=None):
        return pytest.param((name, make, load, fit_kwargs or {}), id=f"{name}-{make.__name__}")

    def plain():
        return {}

    def per_cohort():
        return {"shared": False}

    def covariate():
        return {"covariates": True}

    spend = _cdnow_spend
    cases = [
        case("BetaGeoModel", plain, _cdnow),
        case("BetaGeoModel", covariate, lambda: _with_covariate(_cdnow())),
        case("ModifiedBetaGeoModel", plain, _cdnow),
        case("ModifiedBetaGeoModel", covariate, lambda: _with_covariate(_cdnow())),
        case("ParetoNBDModel", plain, _cdnow),
        case("GGompertzNBDModel", plain, _cdnow),
        case("ParetoNBDCorrelatedModel", plain, _correlated),
        case("NBDModel", plain, _cdnow),
        case("ModifiedBetaGeoCNBDModel", plain, _cdnow_litt),
        case("BetaGeoCNBDModel", plain, _cdnow_litt),
        case("BetaGeoBetaBinomModel", plain, _donations),
        case("BetaGeoBetaBinomModel", covariate, lambda: _with_covariate(_donations())),
        case("GammaGammaModel", plain, spend),
        case("GammaGammaModel", covariate, lambda: _with_covariate(spend())),
        case(
            "ShiftedBetaGeoModel",
            plain,
            lambda: _cohort_table().query("cohort == 'regular'").drop(columns="cohort"),
        ),
        case("ShiftedBetaGeoModel", per_cohort, _cohort_table),
        case("ShiftedBetaGeoModel", covariate, _customers_with_covariate),
        case(
            "BetaDiscreteWeibullModel",
            plain,
            lambda: _cohort_table().iloc[:8].drop(columns="cohort"),
        ),
        case("BetaDiscreteWeibullModel", per_cohort, _cohort_table),
        case("AcquisitionModel", plain, _acquisition_counts),
        case(
            "AcquisitionModel",
            covariate,
            _acquisition_counts,
            {"covariates": _acquisition_covariates},
        ),
        case("ParetoNBDDynamicModel", covariate, _tv_pareto),
        case("BetaGeoDynamicModel", covariate, _tv_bgnbd),
        case("ShiftedBetaGeoDynamicModel", covariate, _tv_panel),
        case("GammaGammaDynamicModel", covariate, _tv_spend),
    ]
    covered = {c.values[0][0] for c in cases}
    missing = [e.name for e in MODELS if e.name not in covered and e.name not in _PENDING]
    assert not missing, f"registered models without a contract case: {missing}"
    return cases


_COVARIATE_ARG = {
    "BetaGeoModel": ("purchase_covariates", ["nps"]),
    "ModifiedBetaGeoModel": ("dropout_covariates", ["nps"]),
    "BetaGeoBetaBinomModel": ("purchase_covariates", ["nps"]),
    "GammaGammaModel": ("spend_covariates", ["nps"]),
    "ShiftedBetaGeoModel": ("churn_covariates", ["nps"]),
    "ShiftedBetaGeoDynamicModel": ("churn_covariates", ["price_up"]),
    "GammaGammaDynamicModel": ("spend_covariates", ["tier"]),
}


_DEFAULT_ARGS = {
    "AcquisitionModel": {"distribution": "exponential", "pool_size": 2000.0},
    "ParetoNBDDynamicModel": {"purchase_covariates": ["season"], "dropout_covariates": ["promo"]},
    "BetaGeoDynamicModel": {"purchase_covariates": ["season"], "dropout_covariates": ["promo"]},
}


def _construct(name: str, make) -> object:
    from clv.models.registry import model_class

    kwargs = {**_DEFAULT_ARGS.get(name, {}), **make()}
    if kwargs.pop("covariates", False) and name in _COVARIATE_ARG:
        key, value = _COVARIATE_ARG[name]
        kwargs[key] = value
    return model_class(name)(**kwargs)


@pytest.fixture(scope="module", params=_registry_cases())
def registered(request):
    name, make, load, fit_kwargs = request.param
    data = load()
    model = _construct(name, make)
    kwargs = {k: v() for k, v in fit_kwargs.items()}
    model.fit(data, **kwargs)
    return model, data


def test_registered_model_fits_summarises_and_predicts_finite_values(registered):
    model, data = registered
    summary = model.summary()
    assert len(summary) == len(model.params_)
    assert np.all(np.isfinite(summary["coef"].to_numpy()))
    for name, values in _predictions(model, data).items():
        assert values.size and np.all(np.isfinite(values)), name


def test_registered_model_round_trips_through_json_text(registered):
    model, data = registered
    text = json.dumps(model.to_dict())
    loaded = type(model).from_dict(json.loads(text))
    pd.testing.assert_series_equal(loaded.params_, model.params_)
    pd.testing.assert_frame_equal(loaded.covariance_, model.covariance_)
    before, after = _predictions(model, data), _predictions(loaded, data)
    assert before.keys() == after.keys()
    for name in before:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)


def test_to_json_and_from_json_are_final():
    """Models customise the ``to_dict``/``from_dict`` hooks; the file format is written once."""
    from clv.models._base import ParametricModel

    with pytest.raises(TypeError, match=r"to_json.*final"):
        type("Custom", (ParametricModel,), {"to_json": lambda self, path: None})
    with pytest.raises(TypeError, match=r"from_json.*final"):
        type("Custom", (ParametricModel,), {"from_json": classmethod(lambda cls, path: None)})


def test_per_cohort_retention_document_is_json_with_text_keys():
    from clv.models.sbg import ShiftedBetaGeoModel

    model = ShiftedBetaGeoModel(shared=False).fit(_cohort_table())
    doc = json.loads(json.dumps(model.to_dict()))
    assert [c for c, _ in doc["params"]] == ["regular", "high"]
    loaded = ShiftedBetaGeoModel.from_dict(doc)
    np.testing.assert_array_equal(
        loaded.survival([1, 5], cohort="high"), model.survival([1, 5], cohort="high")
    )
    doc["params"] = [["regular", {"alpha": 1.0}]]
    with pytest.raises(ModelFileError, match="damaged ShiftedBetaGeoModel"):
        ShiftedBetaGeoModel.from_dict(doc, source="x.json")


def test_registered_model_get_params_round_trip(registered):
    model, _ = registered
    from clv.models.registry import model_entry

    params = model.get_params()
    assert set(params) == set(type(model)._get_param_names())
    copy = type(model)(**params)
    assert not hasattr(copy, "params_")
    # the constructor stores its arguments as given (what sklearn.base.clone checks)
    assert all(copy.get_params()[k] is v for k, v in params.items())
    if model_entry(type(model).__name__).time_varying:  # covariates, no penalizer
        key = sorted(params)[0]
        assert copy.set_params(**{key: ["other"]}) is copy
        assert copy.get_params()[key] == ["other"] and model.get_params()[key] == params[key]
    else:
        assert "penalizer" in params
        assert copy.set_params(penalizer=0.5) is copy and copy.get_params()["penalizer"] == 0.5
        assert model.get_params()["penalizer"] == params["penalizer"]
    with pytest.raises(ValueError, match="no parameter"):
        copy.set_params(no_such_argument=1)


def test_registered_model_clones_with_sklearn(registered):
    base = pytest.importorskip("sklearn.base")
    model, _ = registered
    twin = base.clone(model)
    assert type(twin) is type(model) and not hasattr(twin, "params_")
    assert twin.get_params().keys() == model.get_params().keys()


def test_set_params_validates_like_the_constructor():
    from clv.models import BetaGeoModel, ShiftedBetaGeoModel

    model = BetaGeoModel(purchase_covariates=["nps"])
    with pytest.raises(ValueError, match="covariate_penalty"):
        model.set_params(covariate_penalty=-1.0)
    model.set_params(purchase_covariates=None, dropout_covariates=["complaints"])
    assert model._covariate_kwargs() == {"dropout_covariates": ["complaints"]}
    with pytest.raises(ValueError, match="shared=True"):
        ShiftedBetaGeoModel(churn_covariates=["nps"]).set_params(shared=False)


def test_convergence_error_has_structured_fields():
    import copy

    from clv.exceptions import ConvergenceError
    from clv.models._mle import maximise
    from clv.models.bgnbd import SPEC

    data = _cdnow()
    arrays = {c: data[c].to_numpy(dtype=float) for c in SPEC.columns}
    with pytest.raises(ConvergenceError, match="did not converge") as info:
        maximise(SPEC, arrays, None, n_starts=2, random_state=0, max_iterations=1)
    error = info.value
    assert error.reason == "not_converged" and error.params_at_bound == ()
    assert len(error.attempts) == 2 and error.attempts[0].startswith("start 1:")
    assert str(error) == f"{error.message} {error.remedy}" and "n_starts=10" in error.remedy
    # the fields survive copying (__reduce__: the keyword-only fields are not in args)
    again = copy.deepcopy(error)
    assert (again.reason, again.attempts, str(again)) == (error.reason, error.attempts, str(error))


def test_time_varying_models_persist_through_the_final_json_methods():
    from clv.models.pareto_nbd_dyncov import ParetoNBDDynamicModel
    from clv.persistence import JsonModel

    assert issubclass(ParetoNBDDynamicModel, JsonModel)
    assert "to_json" not in vars(ParetoNBDDynamicModel)


@pytest.mark.parametrize(
    "name", ["BetaGeoDynamicModel", "ParetoNBDDynamicModel", "ShiftedBetaGeoDynamicModel"]
)
def test_time_varying_models_have_get_params(name):
    from clv.models.registry import model_class

    cls = model_class(name)
    key = "churn_covariates" if "Shifted" in name else "purchase_covariates"
    cols = ["promo"]
    model = cls(**{key: cols})
    params = model.get_params()
    assert params[key] is cols
    assert type(model)(**params).get_params()[key] is cols
    assert model.set_params(**{key: ["season"]}) is model and model.get_params()[key] == ["season"]


def test_registered_model_bootstraps_customers_or_refuses(registered):
    """Customer-row models give bootstrap draws shaped like ``sample_params``; others refuse."""
    from clv.models.registry import model_entry

    model, data = registered
    if model_entry(type(model).__name__).time_varying:
        with pytest.raises(NotImplementedError, match="per-period rows"):
            model.bootstrap(data, n=2)
        return
    if model_entry(type(model).__name__).kind not in ("transaction", "spend"):
        with pytest.raises(NotImplementedError, match="sample_params"):
            model.bootstrap(data, n=2)
        return
    draws = model.bootstrap(data, n=2, random_state=0, progress=False)
    assert list(draws.columns) == list(model.params_.index) and len(draws) == 2
    assert np.all(np.isfinite(draws.to_numpy()))


# The Bayesian twins (clv.bayes) meet the same get_params/set_params/clone contract


def _bayes_classes():
    bayes = pytest.importorskip("clv.bayes")
    return [
        getattr(bayes, n)
        for n in bayes.__all__
        if isinstance(getattr(bayes, n), type)
        and issubclass(getattr(bayes, n), bayes.BayesModel)
        and getattr(bayes, n) is not bayes.BayesModel
    ]


BAYES_CLASSES = [
    "BetaGeoModel",
    "ModifiedBetaGeoModel",
    "NBDModel",
    "ModifiedBetaGeoCNBDModel",
    "BetaGeoCNBDModel",
    "ParetoNBDModel",
    "BetaGeoBetaBinomModel",
    "GammaGammaModel",
    "ShiftedBetaGeoModel",
    "BetaDiscreteWeibullModel",
    "AcquisitionModel",
    "AbeParetoNBDModel",
]


def test_every_bayesian_model_is_in_the_params_contract():
    assert sorted(c.__name__ for c in _bayes_classes()) == sorted(BAYES_CLASSES)


@pytest.mark.parametrize("name", BAYES_CLASSES)
def test_bayesian_model_get_params_round_trip(name):
    bayes = pytest.importorskip("clv.bayes")
    cls = getattr(bayes, name)
    first = cls.param_names()[0] if name != "AcquisitionModel" else "r"
    priors = {first: ("HalfNormal", {"sigma": 3.0})}
    kwargs = {"priors": priors}
    takes = set(cls._get_param_names())
    if "coefficient_prior" in takes:  # models with covariates
        kwargs["coefficient_prior"] = ("Normal", {"mu": 0.0, "sigma": 0.5})
    covariate_arg = next((k for k in cls._get_param_names() if k.endswith("_covariates")), None)
    if covariate_arg is not None:
        kwargs[covariate_arg] = ["nps"]
    model = cls(**kwargs)
    params = model.get_params()
    assert set(params) == set(cls._get_param_names())
    # the constructor stores its arguments as given (what sklearn.base.clone checks) ...
    assert all(params[k] is v for k, v in kwargs.items())
    copy = cls(**params)
    assert all(copy.get_params()[k] is v for k, v in params.items())
    # ... while the attributes of the same names stay the merged, validated priors
    assert model.priors[first] == priors[first] and len(model.priors) > 1
    if "coefficient_prior" in kwargs:
        assert model.coefficient_prior == kwargs["coefficient_prior"]
    if covariate_arg is not None:
        assert model.coefficient_names  # the covariate reached the model
    with pytest.raises(ValueError, match="no parameter"):
        copy.set_params(no_such_argument=1)
    if "lkj_eta" in takes:  # AbeParetoNBDModel: its LKJ concentration, validated
        assert copy.set_params(lkj_eta=3.0) is copy and copy.get_params()["lkj_eta"] == 3.0
        with pytest.raises(ValueError, match="lkj_eta"):
            copy.set_params(lkj_eta=-1.0)
    if "pooling" not in takes:
        return
    assert copy.set_params(pooling="full") is copy and copy.get_params()["pooling"] == "full"
    assert model.get_params()["pooling"] == "partial"
    with pytest.raises(ValueError, match="no parameter"):
        copy.set_params(no_such_argument=1)
    with pytest.raises(ValueError, match="pooling"):
        copy.set_params(pooling="sideways")  # validated as by the constructor


@pytest.mark.parametrize("name", BAYES_CLASSES)
def test_bayesian_model_clones_with_sklearn(name):
    base = pytest.importorskip("sklearn.base")
    bayes = pytest.importorskip("clv.bayes")
    cls = getattr(bayes, name)
    takes = cls._get_param_names()
    kwargs = {"pooling": "full"} if "pooling" in takes else {}
    if "lkj_eta" in takes:
        kwargs["lkj_eta"] = 2.0
    model = cls(**kwargs)
    model.idata_ = object()  # stands in for a posterior: clone must not carry it over
    twin = base.clone(model)
    assert type(twin) is type(model) and not hasattr(twin, "idata_")
    assert twin.get_params() == model.get_params()
    assert twin.priors == model.priors
