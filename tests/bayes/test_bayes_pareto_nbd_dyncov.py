"""The time-varying Pareto/NBD likelihood is shared with PyTensor: same value, same gradient."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pymc")
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "ArviZ is undergoing", FutureWarning)
    import pymc as pm
    import pytensor
    import pytensor.tensor as pt

    from clv.bayes._ops import PYTENSOR
from clv.models import _pareto_nbd_dyncov_math as dmath
from clv.models import time_varying_data

DATA = Path(__file__).parents[1] / "models" / "data"
COLS = ["High.Season", "Gender", "Channel"]


@pytest.fixture(scope="module")
def arrays() -> dmath.DynCovArrays:
    trans = pd.read_csv(DATA / "apparel_trans.csv")
    cov = pd.read_csv(DATA / "apparel_dyncov.csv.gz")
    data = time_varying_data(
        trans,
        cov,
        columns=COLS,
        observation_end="2006-12-31",
        customer_id_col="Id",
        date_col="Date",
        cov_date_col="Cov.Date",
    )
    return data.arrays(COLS, ["Gender", "Channel"])


def test_pytensor_log_likelihood_and_gradient_equal_numpy(arrays: dmath.DynCovArrays) -> None:
    theta = np.array([0.8, 10.0, 0.6, 12.0, 0.5, 0.2, -0.3, -0.2, 0.1])
    base = pt.dvector("base")
    gp = pt.dvector("gp")
    gd = pt.dvector("gd")
    total = pt.sum(
        dmath.log_likelihood((base[0], base[1], base[2], base[3]), gp, gd, arrays, ops=PYTENSOR)
    )
    f = pytensor.function(
        [base, gp, gd], [total, *pt.grad(total, [base, gp, gd])], mode="FAST_COMPILE"
    )  # no C compilation: seconds, not minutes
    value, g_base, g_p, g_d = f(theta[:4], theta[4:7], theta[7:])
    ll, grad = dmath.log_likelihood_gradient(theta[:4], theta[4:7], theta[7:], arrays)
    assert abs(value - ll.sum()) < 1e-8
    np.testing.assert_allclose(
        np.concatenate([g_base, g_p, g_d]), grad.sum(axis=1), rtol=1e-7, atol=1e-7
    )


def test_pymc_model_logp_equals_numpy(arrays: dmath.DynCovArrays) -> None:
    """A PyMC model with flat priors: its log-density (no Jacobian) is the NumPy LL."""
    point = {"r": 2.1, "alpha": 120.0, "s": 0.8, "beta": 60.0}
    coefs = {"gp": np.array([0.7, 0.26, 0.62]), "gd": np.array([-0.58, 0.61])}
    with pm.Model() as model:
        r = pm.HalfFlat("r")
        alpha = pm.HalfFlat("alpha")
        s = pm.HalfFlat("s")
        beta = pm.HalfFlat("beta")
        gp = pm.Flat("gp", shape=3)
        gd = pm.Flat("gd", shape=2)
        pm.Potential(
            "ll", pt.sum(dmath.log_likelihood((r, alpha, s, beta), gp, gd, arrays, ops=PYTENSOR))
        )
    logp = model.compile_logp(jacobian=False, mode="FAST_COMPILE")
    values = {f"{k}_log__": np.log(v) for k, v in point.items()} | coefs
    expected = dmath.log_likelihood(tuple(point.values()), coefs["gp"], coefs["gd"], arrays).sum()
    assert abs(float(logp(values)) - expected) < 1e-8
