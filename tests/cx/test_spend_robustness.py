"""Spend covariates: do Gamma-Gamma intervals cover 0 when spend ignores the signal?

Null world: a CX signal raises the purchase rate (and so frequency) and the tenure, but
spend does not depend on it; transactions are gamma as the model assumes. The 95 %
interval of ``spend[signal]`` must cover 0 about 95 % of the time (it does: the
Hessian standard errors are right when the model holds). The distribution-free check
of :func:`clv.cx.diagnostics.spend_robustness` must agree there, and flag a spend
effect the Gamma-Gamma calls significant but a robust fit of mean spend does not.
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from clv.cx.diagnostics import column_flags, spend_robustness
from clv.exceptions import DataWarning
from clv.models import GammaGammaModel


def _null_world(seed: int, n: int = 3000) -> pd.DataFrame:
    gen = np.random.default_rng(seed)
    signal = gen.standard_normal(n)
    rate = gen.gamma(0.8, 1 / 5.0, n) * np.exp(0.6 * signal)  # the signal drives frequency
    tenure = gen.uniform(20, 60, n) * np.exp(0.3 * signal).clip(0.5, 2)  # and tenure
    freq = gen.poisson(rate * tenure)
    nu = gen.gamma(4.0, 1 / 15.0, n)  # spend does not depend on the signal
    total = np.zeros(n)
    buyers = freq > 0
    total[buyers] = gen.gamma(6.0 * freq[buyers], 1.0 / nu[buyers])  # sum of gamma purchases
    mv = np.where(buyers, total / np.maximum(freq, 1), 0.0)
    return pd.DataFrame({"frequency": freq.astype(float), "monetary_value": mv, "signal": signal})


def _fit(data: pd.DataFrame) -> GammaGammaModel:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # spend-frequency correlation check
        return GammaGammaModel(spend_covariates=["signal"]).fit(data)


@pytest.mark.slow
def test_null_spend_effect_interval_covers_zero() -> None:
    z, z_robust, flags = [], [], []
    for seed in range(24):
        data = _null_world(seed)
        model = _fit(data)
        row = model.summary().loc["spend[signal]"]
        z.append(row["coef"] / row["se"])
        check = spend_robustness(model, data)
        z_robust.append(check.loc["signal", "robust_z"])
        flags.append(bool(check.loc["signal", "flag"]))
    z, z_robust = np.array(z), np.array(z_robust)
    # 95 % intervals: about 23 of 24 cover 0 (binomial: >= 20 with probability > 0.99)
    assert np.sum(np.abs(z) < 1.96) >= 20
    assert 0.6 < z.std() < 1.4 and abs(z.mean()) < 0.6
    assert np.sum(np.abs(z_robust) < 1.96) >= 20
    assert sum(flags) <= 3


def test_robust_check_agrees_and_flags() -> None:
    data = _null_world(1, n=2000)
    model = _fit(data)
    check = spend_robustness(model, data)
    assert list(check.columns) == [
        "gg_coef",
        "gg_z",
        "robust_coef",
        "robust_se",
        "robust_z",
        "flag",
    ]
    assert check.loc["signal", "gg_coef"] == pytest.approx(model.params_["spend[signal]"])
    # both estimate the log multiplier of mean spend per unit of the signal: close to 0 here
    assert abs(check.loc["signal", "robust_coef"]) < 4 * check.loc["signal", "robust_se"]
    # a Gamma-Gamma that claims a strong effect the mean spend does not show is flagged
    claims = SimpleNamespace(
        params_=pd.Series({"p": 6.0, "q": 4.0, "v": 15.0, "spend[signal]": 0.3}),
        summary=lambda: pd.DataFrame(
            {"coef": [0.3], "se": [0.01]}, index=pd.Index(["spend[signal]"], name="param")
        ),
    )
    flagged = spend_robustness(claims, data)
    assert bool(flagged.loc["signal", "flag"])
    text = column_flags(None, None, {}, flagged)["signal"][0]
    assert text.startswith("spend-robustness:") and "z = 30.0" in text
    # no spend covariates: nothing to check
    assert spend_robustness(SimpleNamespace(params_=pd.Series({"p": 1.0})), data) is None
