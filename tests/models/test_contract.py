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


def _models():
    from clv.models.bgbb import BetaGeoBetaBinomModel
    from clv.models.bgnbd import BetaGeoModel
    from clv.models.gamma_gamma import GammaGammaModel
    from clv.models.mbgnbd import ModifiedBetaGeoModel
    from clv.models.pareto_nbd import ParetoNBDModel

    return [
        (BetaGeoModel, _cdnow),
        (ModifiedBetaGeoModel, _cdnow),
        (ParetoNBDModel, _cdnow),
        (BetaGeoBetaBinomModel, _donations),
        (GammaGammaModel, _cdnow_spend),
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
        "[]", "['numpy', 'pandas', 'scipy']",
        "BetaGeoModel rfm_summary ParetoNBDModel True", "False"]


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
    newcomer = pd.DataFrame({"frequency": [0.0], "recency": [0.0], "T": [0.0],
                             "period_days": [7.0]}, index=["new"])
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

    table = pd.DataFrame({"period": range(8),
                          "n_alive": [1000, 631, 468, 382, 326, 289, 262, 241]})
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
