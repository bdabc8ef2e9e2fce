"""Shared (constrained) coefficients and per-process L2 penalties on the covariate models."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clv.models import BetaGeoModel, GammaGammaModel, ParetoNBDModel, pareto_nbd
from clv.models._covariates import individual_params

RFM = ["frequency", "recency", "T"]


def _world(n: int, seed: int) -> pd.DataFrame:
    """Pareto/NBD customers; ``gender`` raises purchasing and dropout by the same 0.3."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "gender": rng.integers(0, 2, n).astype(float),
            "nps": rng.normal(5.0, 2.0, n),
        },
        index=pd.RangeIndex(n, name="customer_id"),
    )
    p = individual_params(
        pareto_nbd.PNBDParams(0.8, 15.0, 0.7, 20.0),
        ParetoNBDModel._levers,
        {"purchase": X[["gender", "nps"]].to_numpy(), "dropout": X[["gender", "nps"]].to_numpy()},
        {"purchase": [0.3, 0.1], "dropout": [0.3, -0.15]},
    )
    sim = pareto_nbd.simulate(p, rng.uniform(30.0, 60.0, n), rng=rng)
    return pd.DataFrame({c: sim[c] for c in RFM}, index=X.index).join(X)


KW = {"purchase_covariates": ["gender", "nps"], "dropout_covariates": ["gender", "nps"]}


@pytest.fixture(scope="module")
def world() -> pd.DataFrame:
    return _world(1500, 5)


@pytest.fixture(scope="module")
def free_and_shared(world):
    free = ParetoNBDModel(**KW).fit(world)
    shared = ParetoNBDModel(**KW, constrain=["gender"]).fit(world)
    return free, shared


def test_constrained_coefficient_is_shared(free_and_shared):
    free, shared = free_and_shared
    p = shared.params_
    assert p["purchase[gender]"] == p["dropout[gender]"]
    assert p["purchase[nps]"] != p["dropout[nps]"]
    cov = shared.covariance_
    np.testing.assert_allclose(cov.loc["purchase[gender]"], cov.loc["dropout[gender]"], rtol=1e-12)
    # one parameter fewer: the maximum is lower, but not by much when the truth is shared
    assert shared.log_likelihood_ <= free.log_likelihood_ + 1e-9
    assert free.log_likelihood_ - shared.log_likelihood_ < 3.0  # LR statistic < 6 (1 df)
    row = shared.summary().loc["purchase[gender]"]
    assert row["lower"] <= 0.3 <= row["upper"]
    # the shared estimate is more precise than either free one
    assert (
        shared.summary().loc["dropout[gender]", "se"] < free.summary().loc["dropout[gender]", "se"]
    )


def test_constrained_model_round_trips(free_and_shared, world, tmp_path):
    _, shared = free_and_shared
    path = tmp_path / "m.json"
    shared.to_json(path)
    assert json.loads(path.read_text())["init"]["constrain"] == ["gender"]
    loaded = ParetoNBDModel.from_json(path)
    assert loaded.get_params()["constrain"] == ["gender"]
    pd.testing.assert_series_equal(loaded.params_, shared.params_)
    pd.testing.assert_series_equal(
        loaded.probability_alive(world.head(20)), shared.probability_alive(world.head(20))
    )


def test_constraint_on_other_transaction_models(world):
    model = BetaGeoModel(**KW, constrain="gender").fit(world)
    assert model.params_["purchase[gender]"] == model.params_["dropout[gender]"]
    assert model.converged_


def test_bad_constraints_and_penalties_are_refused():
    with pytest.raises(ValueError, match="two processes"):
        ParetoNBDModel(purchase_covariates=["gender"], constrain=["gender"])
    with pytest.raises(ValueError, match="two processes"):
        ParetoNBDModel(**KW, constrain=["age"])
    with pytest.raises(ValueError, match="unknown process"):
        ParetoNBDModel(**KW, covariate_penalty={"trans": 1.0})
    with pytest.raises(ValueError, match=">= 0"):
        ParetoNBDModel(**KW, covariate_penalty={"purchase": -1.0})
    with pytest.raises(ValueError, match="covariate_penalty_units"):
        ParetoNBDModel(**KW, covariate_penalty_units="raw")


def test_per_process_penalty_shrinks_only_its_process(world):
    model = BetaGeoModel(**KW, covariate_penalty={"purchase": 50.0}).fit(world)
    coefs = model.params_
    assert abs(coefs["purchase[gender]"]) < 0.01 and abs(coefs["purchase[nps]"]) < 0.01
    assert abs(coefs["dropout[nps]"]) > 0.05
    both = BetaGeoModel(**KW, covariate_penalty=0.7).fit(world)
    same = BetaGeoModel(**KW, covariate_penalty={"purchase": 0.7, "dropout": 0.7}).fit(world)
    np.testing.assert_allclose(both.params_, same.params_, rtol=1e-8)


def test_penalty_units(world):
    """A standardised penalty ignores the unit of a column; a natural one does not (BG/NBD)."""
    tenfold = world.assign(nps=world["nps"] * 10.0)
    kw = {**KW, "covariate_penalty": 0.01}
    std = BetaGeoModel(**kw).fit(world)
    std10 = BetaGeoModel(**kw).fit(tenfold)
    assert std10.params_["dropout[nps]"] == pytest.approx(
        std.params_["dropout[nps]"] / 10, rel=1e-5
    )
    nat = BetaGeoModel(**kw, covariate_penalty_units="natural").fit(world)
    nat10 = BetaGeoModel(**kw, covariate_penalty_units="natural").fit(tenfold)
    # per unit of the tenfold column the coefficient is 10x smaller, so it is penalised less
    assert abs(nat10.params_["dropout[nps]"] * 10) > abs(nat.params_["dropout[nps]"]) * 1.01
    assert (
        BetaGeoModel(**kw, covariate_penalty_units="natural").get_params()[
            "covariate_penalty_units"
        ]
        == "natural"
    )


def test_penalty_mapping_on_single_process_models():
    rng = np.random.default_rng(3)
    n = 800
    frame = pd.DataFrame(
        {
            "frequency": rng.integers(1, 6, n).astype(float),
            "monetary_value": rng.gamma(4.0, 10.0, n),
            "nps": rng.normal(0.0, 1.0, n),
        }
    )
    a = GammaGammaModel(spend_covariates=["nps"], covariate_penalty={"spend": 0.5}).fit(frame)
    b = GammaGammaModel(spend_covariates=["nps"], covariate_penalty=0.5).fit(frame)
    np.testing.assert_allclose(a.params_, b.params_, rtol=1e-8)
    doc = json.loads(json.dumps(a.to_dict()))
    assert doc["init"]["covariate_penalty"] == {"spend": 0.5}
    np.testing.assert_array_equal(GammaGammaModel.from_dict(doc).params_, a.params_)
