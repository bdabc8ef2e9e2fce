"""sBG retention with time-varying covariates: static limit, recovery, file round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clv.exceptions import DataError
from clv.models import sbg
from clv.models.sbg import ShiftedBetaGeoModel
from clv.models.sbg_dyncov import (
    ShiftedBetaGeoDynamicModel,
    log_likelihood,
    retention_panel,
    simulate_panel,
)

TRUE = {"alpha": 0.7, "beta": 1.5, "churn[price_up]": 0.8, "churn[winter]": -0.4}
COLS = ["price_up", "winter"]


def _X(n: int, P: int, rng: np.random.Generator) -> np.ndarray:
    price_up = (np.arange(P)[None, :] >= rng.integers(3, 10, n)[:, None]).astype(float)
    winter = np.broadcast_to((np.arange(P) % 4 == 0).astype(float), (n, P))
    return np.stack([price_up, winter], axis=2)


def test_zero_coefficients_equal_static_sbg(rng: np.random.Generator) -> None:
    frame, _ = simulate_panel(TRUE, _X(500, 12, rng), COLS, rng=rng)
    panel = retention_panel(frame, columns=COLS)
    for p in [(0.704, 1.182), (3.0, 0.4), (0.1, 20.0)]:
        ll = log_likelihood(p, np.zeros(2), panel.X, panel.mask, panel.churned)
        ref = sbg.log_likelihood(sbg.SBGParams(*p), panel.periods_observed, panel.churned)
        np.testing.assert_allclose(ll, ref, rtol=0, atol=1e-9)
    dyn = ShiftedBetaGeoDynamicModel().fit(panel)
    stat = ShiftedBetaGeoModel().fit(
        pd.DataFrame({"periods_observed": panel.periods_observed, "churned": panel.churned})
    )
    assert abs(dyn.log_likelihood_ - stat.log_likelihood_) < 1e-6
    np.testing.assert_allclose(dyn.params_.to_numpy(), stat.params_.to_numpy(), rtol=1e-4)


def test_recovery_and_round_trip(rng: np.random.Generator, tmp_path: Path) -> None:
    frame, _ = simulate_panel(TRUE, _X(6000, 12, rng), COLS, rng=rng)
    panel = retention_panel(frame, columns=COLS)
    model = ShiftedBetaGeoDynamicModel(churn_covariates=COLS).fit(panel)
    assert model.converged_
    table = model.summary()
    z = (table["coef"] - pd.Series(TRUE)[table.index]) / table["se"]
    assert (z.abs() < 4).all(), table.assign(z=z)
    model.to_json(tmp_path / "m.json")
    back = ShiftedBetaGeoDynamicModel.from_json(tmp_path / "m.json")
    pd.testing.assert_series_equal(back.params_, model.params_)


def test_panel_validation() -> None:
    frame = pd.DataFrame(
        {"customer_id": [1, 1, 2, 2], "period": [1, 3, 1, 2], "churned": [0, 0, 1, 0], "x": 0.0}
    )
    with pytest.raises(DataError) as err:
        retention_panel(frame, columns=["x"])
    text = str(err.value)
    assert "without gaps" in text and "last row only" in text
