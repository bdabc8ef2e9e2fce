"""NUTS defaults: four chains, a worker per usable CPU, a dense mass matrix for small models."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pymc")
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "ArviZ is undergoing", FutureWarning)
    import clv.bayes as cb
from clv.bayes import _sampling
from clv.exceptions import ConvergenceWarning


def test_defaults_fill_in_and_the_caller_wins(cdnow: pd.DataFrame, monkeypatch) -> None:
    monkeypatch.setattr(_sampling, "usable_cpus", lambda: 2)
    model = cb.BetaGeoModel().build_model(cdnow)
    given = {"draws": 10}
    out = _sampling.nuts_kwargs(model, given)
    assert out == {"draws": 10, "chains": 4, "cores": 2, "init": "jitter+adapt_full"}
    assert given == {"draws": 10}  # not modified
    assert _sampling.nuts_kwargs(model, {"chains": 1})["cores"] == 1
    mine = {"chains": 3, "cores": 3, "init": "adapt_diag"}
    assert _sampling.nuts_kwargs(model, mine) == mine
    assert "init" not in _sampling.nuts_kwargs(model, {"step": object()})
    assert _sampling.nuts_kwargs(model, {"tune": 300})["init"] == "jitter+adapt_diag"
    # a model that needs a higher target acceptance with the dense matrix gets it, unless given
    assert _sampling.nuts_kwargs(model, {}, dense_target_accept=0.95)["target_accept"] == 0.95
    assert (
        _sampling.nuts_kwargs(model, {"target_accept": 0.9}, dense_target_accept=0.95)[
            "target_accept"
        ]
        == 0.9
    )
    assert "target_accept" not in _sampling.nuts_kwargs(
        model, {"tune": 300}, dense_target_accept=0.95
    )
    assert cb.ParetoNBDModel.dense_target_accept == 0.95
    assert cb.BetaGeoModel.dense_target_accept is None


def test_large_models_adapt_a_diagonal_mass_matrix(cdnow: pd.DataFrame) -> None:
    rfm = cdnow.copy()
    rfm["cohort"] = np.arange(len(rfm)) % 13  # 13 segments x 4 parameters, plus hyperparameters
    model = cb.BetaGeoModel(segment="cohort").build_model(rfm)
    size = sum(v.size for v in model.initial_point().values())
    assert size > _sampling.DENSE_MAX_PARAMETERS
    assert _sampling.nuts_kwargs(model, {})["init"] == "jitter+adapt_diag"


def test_dense_default_samples_without_stray_warnings(cdnow: pd.DataFrame) -> None:
    """In-process (``cores=1``) the dense adaptation's PyMC warnings are silenced: under
    ``filterwarnings = error`` any other warning than a convergence one fails this test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 2 x 100 draws is short
        fit = cb.BetaGeoModel().fit(
            cdnow.iloc[:300], chains=2, cores=1, draws=100, tune=500, random_seed=1
        )
    assert dict(fit.idata_.posterior.sizes) == {"chain": 2, "draw": 100}
    assert float(fit.idata_.sample_stats["n_steps"].mean()) < 8


@pytest.mark.slow
def test_dense_mass_matrix_takes_fewer_leapfrog_steps(cdnow: pd.DataFrame) -> None:
    steps = {}
    for init in ("jitter+adapt_diag", "jitter+adapt_full"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fit = cb.BetaGeoModel().fit(
                cdnow, chains=2, cores=1, draws=300, tune=500, random_seed=5, init=init
            )
        steps[init] = float(fit.idata_.sample_stats["n_steps"].mean())
    assert steps["jitter+adapt_full"] < 0.6 * steps["jitter+adapt_diag"], steps
