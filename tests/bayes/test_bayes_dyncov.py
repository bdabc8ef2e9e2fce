"""Bayesian time-varying models: the MLE's likelihood in one Op; MAP = MLE; NUTS near the MLE."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pymc")
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "ArviZ is undergoing", FutureWarning)
    from clv.bayes.dyncov import BetaGeoDynamicModel, ParetoNBDDynamicModel
from clv.models import BetaGeoDynamicModel as MLEBetaGeo
from clv.models import ParetoNBDDynamicModel as MLEPareto
from clv.models import time_varying_data
from clv.models.bgnbd_dyncov import simulate_bgnbd_transactions
from clv.models.pareto_nbd_dyncov import simulate_transactions

START = pd.Timestamp("2020-01-05")
END = START + pd.Timedelta(weeks=52)
TRUE = {"r": 1.0, "alpha": 5.0, "s": 3.0, "beta": 20.0, "purchase[season]": 0.6}
TRUE |= {"dropout[tier]": 0.8}
KW = {"purchase_covariates": ["season"], "dropout_covariates": ["tier"]}
FLAT = {
    **{n: ("HalfFlat", {}) for n in ("r", "alpha", "s", "beta", "a", "b")},
    "purchase[season]": ("Flat", {}),
    "dropout[tier]": ("Flat", {}),
}


def _data(n: int, seed: int, bgnbd: bool = False) -> object:
    """A season every 8 weeks on purchases; a dated tier change (week 26) on dropout."""
    rng = np.random.default_rng(seed)
    ids, week = np.arange(n), np.arange(53)
    dates = START + pd.to_timedelta(7 * week, unit="D")
    first = pd.Series(START + pd.to_timedelta(rng.uniform(0, 56, n), unit="D"), index=ids)
    cov = pd.DataFrame(
        {
            "customer_id": np.repeat(ids, week.size),
            "cov_date": np.tile(dates, n),
            "season": np.tile(((week // 8) % 2).astype(float), n),
            "tier": np.tile((dates >= START + pd.Timedelta(weeks=26)).astype(float), n),
        }
    )
    if bgnbd:
        params = {"r": 1.0, "alpha": 5.0, "a": 1.0, "b": 3.0, "purchase[season]": 0.6}
        tx, _ = simulate_bgnbd_transactions(
            params | {"dropout[tier]": 0.8}, cov, first, end=END, rng=rng, **KW
        )
    else:
        tx, _ = simulate_transactions(TRUE, cov, first, end=END, rng=rng, **KW)
    return time_varying_data(tx, cov, columns=["season", "tier"], observation_end=END)


@pytest.mark.parametrize(
    ("cls", "mle_cls"),
    [(ParetoNBDDynamicModel, MLEPareto), (BetaGeoDynamicModel, MLEBetaGeo)],
)
def test_pymc_logp_and_gradient_are_the_mle_likelihood(cls, mle_cls) -> None:
    data = _data(150, 1, bgnbd=cls is BetaGeoDynamicModel)
    model = cls({k: v for k, v in FLAT.items() if k in cls(**KW).param_names}, **KW)
    pm_model = model.build_model(data)
    logp = pm_model.compile_logp(jacobian=False)
    dlogp = pm_model.compile_dlogp(jacobian=False)
    mle = mle_cls(**KW)
    base = mle._base
    theta = np.array([0.9, 6.0, 2.0, 15.0, 0.5, 0.3])
    point = {f"{n}_log__": np.log(v) for n, v in zip(base, theta[:4], strict=True)}
    point |= {"purchase[season]": theta[4], "dropout[tier]": theta[5]}
    b, gp, gd = mle._split(theta)
    ll, grad = mle._ll_grad(b, gp, gd, mle._arrays(data))
    assert float(logp(point)) == pytest.approx(ll.sum(), abs=1e-8)
    # the gradient w.r.t. the sampler's (log) base parameters and the coefficients
    g = grad.sum(axis=1) * np.concatenate([theta[:4], np.ones(2)])
    order = [v.name for v in pm_model.value_vars]
    names = [f"{n}_log__" for n in base] + ["purchase[season]", "dropout[tier]"]
    np.testing.assert_allclose(dlogp(point), g[[names.index(o) for o in order]], rtol=1e-6)


@pytest.mark.slow
def test_map_with_flat_priors_is_the_mle() -> None:
    data = _data(400, 2)
    mle = MLEPareto(**KW).fit(data)
    flat = {k: v for k, v in FLAT.items() if k not in ("a", "b")}
    bayes = ParetoNBDDynamicModel(flat, **KW).fit(data, method="map", random_seed=0)
    np.testing.assert_allclose(bayes.params_[mle.params_.index], mle.params_, rtol=2e-3)
    assert list(bayes.summary().index) == list(mle.params_.index)
    pred = bayes.predict(data, 8.0, thin=1)
    np.testing.assert_allclose(pred, mle.predict(data, 8.0).to_numpy(), rtol=1e-2)


def test_summary_of_draws_has_intervals_and_diagnostics() -> None:
    import arviz as az

    model = ParetoNBDDynamicModel(**KW)
    rng = np.random.default_rng(0)
    means = {"r": 1.0, "alpha": 5.0, "s": 3.0, "beta": 20.0}
    means |= {"purchase[season]": 0.6, "dropout[tier]": 0.8}
    model.idata_ = az.from_dict(
        posterior={n: m + 0.1 * rng.standard_normal((2, 200)) for n, m in means.items()}
    )
    table = model.summary(alpha=0.1)
    assert list(table.index) == model.param_names
    np.testing.assert_allclose(table["mean"], list(means.values()), atol=0.03)
    assert (table["lower"] < table["mean"]).all() and (table["mean"] < table["upper"]).all()
    assert (table["r_hat"] < 1.05).all() and (table["ess_bulk"] > 100).all()


@pytest.mark.slow
def test_nuts_posterior_mean_is_near_the_mle_and_covers_the_truth() -> None:
    """300 simulated customers, 2 chains x (200 tune + 100 draws) of PyMC's NUTS.

    Flat priors on the coefficients (weak HalfNormal on the base parameters),
    so the posterior of a coefficient is centred on its MLE; the dropout
    coefficient shares a curved ridge with ``s, beta``, so it gets a wider
    band than the purchase coefficient.  About 450 s on a machine with 5
    busy processes per core; well under a minute when idle.
    """
    data = _data(300, 0)
    mle = MLEPareto(**KW).fit(data)
    flat = {"purchase[season]": ("Flat", {}), "dropout[tier]": ("Flat", {})}
    bayes = ParetoNBDDynamicModel(flat, **KW).fit(
        data, draws=100, tune=200, chains=2, cores=1, random_seed=1
    )
    table = bayes.summary(alpha=0.01)
    for name, band in (("purchase[season]", 0.5), ("dropout[tier]", 1.0), ("r", 1.0)):
        gap = abs(table.loc[name, "mean"] - mle.params_[name])
        assert gap < band * table.loc[name, "sd"], (name, table.loc[name].to_dict())
    truth = pd.Series(TRUE)[table.index]
    assert ((table["lower"] < truth) & (truth < table["upper"])).all(), table.assign(truth=truth)
