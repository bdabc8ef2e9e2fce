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
