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
    future_panel_path,
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


# ---------------------------------------------------------------------- predictions
def _truth(params: dict[str, float]) -> ShiftedBetaGeoDynamicModel:
    return ShiftedBetaGeoDynamicModel.from_dict(
        {
            "init": {"churn_covariates": COLS},
            "params": params,
            "covariance": np.eye(4).tolist(),
            "log_likelihood": 0.0,
            "n_customers": 1,
            "converged": True,
            "time_unit": None,
        }
    )


def _observed(frame: pd.DataFrame, P0: int) -> pd.DataFrame:
    return frame[frame["period"] <= P0]


def _path(X: np.ndarray, P0: int, ids: pd.Index) -> pd.DataFrame:
    n, P, _ = X.shape
    path = pd.DataFrame(
        {
            "customer_id": np.repeat(np.arange(n), P - P0),
            "period": np.tile(np.arange(P0 + 1, P + 1), n),
        }
    )
    for j, c in enumerate(COLS):
        path[c] = X[:, P0:, j].ravel()
    return path[path["customer_id"].isin(ids)]


def test_zero_coefficients_predict_as_static_sbg(rng: np.random.Generator) -> None:
    X = _X(800, 30, rng)
    frame, _ = simulate_panel(TRUE, X, COLS, rng=rng)
    panel = retention_panel(_observed(frame, 8), columns=COLS)
    path = _path(X, 8, panel.customer_ids)  # covariates that change: no effect at zero
    active = panel.churned == 0
    n = panel.periods_observed[active]
    for alpha, beta in [(0.7, 1.5), (1.7, 1.5), (3.0, 0.4)]:
        model = _truth({"alpha": alpha, "beta": beta, "churn[price_up]": 0.0, "churn[winter]": 0.0})
        p = sbg.SBGParams(alpha, beta)
        for d in (0.1, 0.0) if alpha > 1 else (0.1,):
            derl = model.expected_residual_lifetime(panel, path, discount_rate=d)
            ref = sbg.expected_residual_lifetime(p, n, d)
            np.testing.assert_allclose(derl[active], ref, rtol=1e-9)
            assert (derl[~active] == 0).all()
        surv = model.survival(panel, 5, path)
        np.testing.assert_allclose(
            surv[active], sbg.survival(p, n + 5) / sbg.survival(p, n), rtol=1e-12
        )
        periods = model.expected_active_periods(panel, 6, path)
        ref = sum(sbg.survival(p, n + k) for k in range(1, 7)) / sbg.survival(p, n)
        np.testing.assert_allclose(periods[active], ref, rtol=1e-12)


def test_predictions_match_monte_carlo_with_a_future_change(rng: np.random.Generator) -> None:
    """Price rises for everyone 3 periods after the cutoff: predictions given that path
    match the simulated future; the carried-forward path predicts differently."""
    n, P, P0, h = 20000, 60, 8, 10
    X = _X(n, P, rng)
    X[:, P0 + 3 :, 0] = 1.0
    frame, _ = simulate_panel(TRUE, X, COLS, rng=rng)
    panel = retention_panel(_observed(frame, P0), columns=COLS)
    model = _truth(TRUE)
    path = _path(X, P0, panel.customer_ids)
    pred = model.predict(panel, h, path, discount_rate=0.3)
    last = frame.groupby("customer_id").agg(last=("period", "max"), lost=("churned", "max"))
    life = np.where(last["lost"] > 0, last["last"], np.inf)  # lost in period `life`
    survived = np.clip(np.minimum(life - 1, P) - P0, 0, None)  # periods after P0 survived
    k = np.arange(1, P - P0 + 1)
    realised_derl = ((survived[:, None] >= k) * 1.3 ** -(k - 1.0)).sum(axis=1)

    def close(predicted: pd.Series, realised: np.ndarray) -> None:
        se = realised.std() / np.sqrt(realised.size)
        assert abs(predicted.mean() - realised.mean()) < 4 * se, (
            predicted.mean(),
            realised.mean(),
            se,
        )

    close(pred["survival_end"], (survived >= h).astype(float))
    close(pred["expected_active_periods"], np.minimum(survived, h))
    close(pred["expected_residual_lifetime"], realised_derl)
    default = model.predict(panel, h)  # price_up carried forward from the last period
    assert default["survival_end"].mean() > pred["survival_end"].mean() + 0.005


def test_future_panel_path_changes_only_the_future(rng: np.random.Generator) -> None:
    X = _X(300, 12, rng)
    frame, _ = simulate_panel(TRUE, X, COLS, rng=rng)
    panel = retention_panel(frame, columns=COLS)
    model = _truth(TRUE)
    path = future_panel_path(panel, 4, start=2, set_values={"price_up": 1.0})
    assert (path.groupby("customer_id")["period"].min() == panel.periods_observed + 2).all()
    base = model.survival(panel, 1)
    np.testing.assert_array_equal(model.survival(panel, 1, path), base)  # period 1 unchanged
    raised = model.survival(panel, 5, path)
    plain = model.survival(panel, 5)
    active = panel.churned == 0
    assert (raised[active] <= plain[active] + 1e-15).all()
    past = path.assign(period=path["period"] - 3)
    with pytest.raises(DataError, match="cannot change the past"):
        model.survival(panel, 5, past)
