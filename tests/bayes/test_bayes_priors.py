"""Declarative priors: accepted spellings, and priors on a Beta pair's mean and concentration."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pymc")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pymc as pm

    import clv.bayes as cb
import clv.models as cm

REGULAR = pd.DataFrame({"period": range(8), "n_alive": [1000, 631, 468, 382, 326, 289, 262, 241]})
#: pymc-marketing's sBG test priors: phi ~ U(0, 1), kappa ~ Pareto(1, 1)
SBG_PRIORS = {
    "phi": {"dist": "Uniform", "lower": 0.0, "upper": 1.0},
    "kappa": {"dist": "Pareto", "alpha": 1.0, "m": 1.0},
}


@dataclass
class FakePrior:
    """The attributes of a ``pymc_extras.prior.Prior`` (the package is optional)."""

    distribution: str
    parameters: dict[str, Any] = field(default_factory=dict)
    dims: tuple[str, ...] = ()
    transform: str | None = None


def test_every_spelling_gives_the_same_stored_prior():
    spellings = [
        ("Gamma", {"alpha": 2.0, "beta": 0.5}),
        {"dist": "Gamma", "alpha": 2.0, "beta": 0.5},
        FakePrior("Gamma", {"alpha": np.float64(2.0), "beta": np.array(0.5)}),
    ]
    stored = [cb.BetaGeoModel(priors={"r": s}).priors["r"] for s in spellings]
    assert stored == [("Gamma", {"alpha": 2.0, "beta": 0.5})] * 3
    json.dumps(stored)  # plain numbers: the config goes into the netCDF attributes


@pytest.mark.parametrize(
    ("prior", "match"),
    [
        ({"alpha": 1.0}, "'dist'"),
        ({"dist": "NoSuchDist"}, "unknown PyMC distribution"),
        ({"dist": "__import__"}, "unknown PyMC distribution"),
        (FakePrior("Gamma", {"alpha": FakePrior("HalfNormal")}), "hierarchical"),
        (FakePrior("Gamma", {"alpha": 1.0}, dims=("segment",)), "dims"),
        ("Gamma(1, 1)", "pair"),
    ],
)
def test_bad_priors_are_refused(prior, match):
    with pytest.raises(ValueError, match=match):
        cb.BetaGeoModel(priors={"r": prior})


def test_pair_priors_go_together_and_replace_the_shapes():
    with pytest.raises(ValueError, match="go together"):
        cb.ShiftedBetaGeoModel(priors={"phi": SBG_PRIORS["phi"]})
    with pytest.raises(ValueError, match="not both"):
        cb.ShiftedBetaGeoModel(priors={**SBG_PRIORS, "alpha": ("HalfNormal", {"sigma": 1.0})})
    with pytest.raises(ValueError, match="covariates"):
        cb.BetaGeoModel(
            priors={"phi_dropout": ("Uniform", {}), "kappa_dropout": ("HalfNormal", {})},
            purchase_covariates=["x"],
        )
    model = cb.ShiftedBetaGeoModel(priors=SBG_PRIORS)
    assert sorted(model.priors) == ["kappa", "phi"]


def test_the_prior_reaches_the_model_graph_and_the_prior_predictive():
    model = cb.ShiftedBetaGeoModel(priors=SBG_PRIORS).build_model(REGULAR)
    assert sorted(v.name for v in model.free_RVs) == ["kappa", "phi"]
    assert sorted(v.name for v in model.deterministics) == ["alpha", "beta"]
    assert type(model["phi"].owner.op).__name__.startswith("Uniform")
    assert type(model["kappa"].owner.op).__name__.startswith("Pareto")
    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prior = pm.sample_prior_predictive(draws=2000, random_seed=1).prior
    phi, kappa = prior["phi"].values.ravel(), prior["kappa"].values.ravel()
    alpha, beta = prior["alpha"].values.ravel(), prior["beta"].values.ravel()
    assert phi.min() > 0 and phi.max() < 1 and kappa.min() >= 1.0
    np.testing.assert_allclose(alpha, phi * kappa, rtol=1e-12)
    np.testing.assert_allclose(alpha + beta, kappa, rtol=1e-12)
    # Pareto(1, 1): P(kappa > 10) = 0.1
    assert abs(np.mean(kappa > 10.0) - 0.1) < 0.03
    # the log-density at a point adds the two priors to the likelihood
    logp = model.compile_logp(jacobian=False)
    # phi = logit^-1(0) = 0.5; kappa = 1 + e^0 = 2 (Pareto's support starts at m = 1)
    point = {"phi_interval__": 0.0, "kappa_interval__": 0.0}
    plain = cb.ShiftedBetaGeoModel(priors=cb.ShiftedBetaGeoModel.flat_priors())
    flat = plain.build_model(REGULAR).compile_logp(jacobian=False)
    expected = flat({"alpha_log__": 0.0, "beta_log__": 0.0}) + np.log(1.0) + np.log(1.0 / 4.0)
    assert float(logp(point)) == pytest.approx(float(expected), rel=1e-10)


@pytest.mark.slow
def test_map_fit_with_pymc_marketing_sbg_priors():
    """MAP with phi ~ U(0, 1), kappa ~ Pareto(1, 1) lands near the MLE (0.704, 1.182)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = cb.ShiftedBetaGeoModel(priors=SBG_PRIORS).fit(REGULAR, method="map")
    got = model.summary()["mean"]
    mle = cm.ShiftedBetaGeoModel().fit(REGULAR).params_
    # the Pareto prior (density 1/kappa^2) pulls the concentration down a little
    assert got["alpha"] == pytest.approx(mle["alpha"], rel=0.15)
    assert got["beta"] == pytest.approx(mle["beta"], rel=0.15)
    assert got["alpha"] + got["beta"] < mle["alpha"] + mle["beta"]
    survival = np.asarray(model.survival(np.arange(1, 8)).mean(("chain", "draw")))
    observed = REGULAR["n_alive"].to_numpy()[1:] / 1000
    assert np.max(np.abs(survival - observed)) < 0.02


def test_bgnbd_dropout_pair_builds_without_the_fused_likelihood():
    from clv.data.datasets import load_cdnow_summary

    priors = {
        "phi_dropout": {"dist": "Uniform", "lower": 0.0, "upper": 1.0},
        "kappa_dropout": {"dist": "Pareto", "alpha": 1.0, "m": 1.0},
    }
    model = cb.BetaGeoModel(priors=priors).build_model(load_cdnow_summary())
    assert sorted(v.name for v in model.free_RVs) == ["alpha", "kappa_dropout", "phi_dropout", "r"]
    assert sorted(v.name for v in model.deterministics) == ["a", "b"]
