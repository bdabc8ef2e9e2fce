"""Slow tier: the CX covariate models recover the synthetic world's truth, and the ROI
engine's intervals cover the world's true incremental customer equity (the oracle)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from clv.cx.analysis import DAYS_PER_MONTH, run_cx_roi
from clv.models import ShiftedBetaGeoModel
from clv.roi import Investment, Shift, period_rate
from clv.roi import _math as roi_math
from clv.synth import COVARIATES, simulate_cx_world

pytestmark = pytest.mark.slow

N = 20_000
SEEDS = (1, 2, 3, 4, 5)


def _coverage_rows(model, truth: dict[str, float], process: str, z: float) -> list[tuple]:
    rows = []
    for col in COVARIATES:
        name = f"{process}[{col}]"
        if name not in model.params_.index:
            continue
        est = float(model.params_[name])
        se = float(np.sqrt(model.covariance_.loc[name, name]))
        true = float(truth.get(col, 0.0))
        rows.append((name, true, est, abs(est - true) <= z * se))
    return rows


def test_covariate_coefficients_recovered_across_seeds() -> None:
    z = stats.norm.ppf(0.975)
    rows = []
    for seed in SEEDS:
        world = simulate_cx_world(N, seed=seed)
        a = run_cx_roi(
            world.transactions,
            world.cx_events,
            world.customers,
            [Investment("noop", cost=1.0, shifts=[Shift("complaints", "add", 0.0)])],
            cutoff=world.calibration_end,
            n_draws=2,
            with_sensitivity=False,
        )
        prm = world.truth.params
        rows += _coverage_rows(a.transaction_model, prm.gamma_purchase, "purchase", z)
        rows += _coverage_rows(a.transaction_model, prm.gamma_dropout, "dropout", z)
        rows += _coverage_rows(a.spend_model, prm.gamma_spend, "spend", z)
        subs = world.subscriptions.set_index("customer_id").join(world.truth.covariates)
        churn_cols = [c for c in COVARIATES if c != "wait_minutes_missing"]
        churn = ShiftedBetaGeoModel(churn_covariates=churn_cols).fit(subs)
        rows += _coverage_rows(churn, prm.gamma_churn, "churn", z)
    table = pd.DataFrame(rows, columns=["name", "true", "estimate", "covered"])
    assert table["covered"].mean() >= 0.90, table[~table["covered"]]
    nonzero = table[table["true"] != 0]
    assert (np.sign(nonzero["estimate"]) == np.sign(nonzero["true"])).all(), nonzero


def _oracle(world, engine, inv: Investment, *, horizon: int, rate: float, margin: float) -> float:
    """True incremental customer equity: the investment applied to the world's latents."""
    unit = engine.unit(inv)
    shift = {}
    for col, d in unit.delta.items():  # no amount sd: every draw has the same change
        change = pd.Series(0.0, index=world.truth.covariates.index)
        change.loc[engine.data.index[unit.rows]] = d[0]
        shift[col] = change
    latent = world.truth.latent.reindex(engine.data.index)
    profile = unit.profile
    step = DAYS_PER_MONTH / 7.0  # valuation period in the world's weeks
    disc = roi_math.discount_factors(horizon, rate)

    def value(delta: dict) -> float:
        lam, mu = world.truth.rates(delta or None)
        lam0, mu0 = world.truth.rates(None)
        idx = world.truth.covariates.index.get_indexer(engine.data.index)
        g_lam = np.log(lam[idx] / lam0[idx])
        g_mu = np.log(mu[idx] / mu0[idx])
        lam0, mu0 = lam0[idx], mu0[idx]
        m_lam = np.exp(g_lam[:, None] * profile[None, :])
        m_mu = np.exp(g_mu[:, None] * profile[None, :])
        cum = np.concatenate([np.zeros((len(idx), 1)), np.cumsum(m_mu * step, axis=1)], axis=1)
        rate_mu = mu0[:, None] * m_mu
        # E[purchases in period k | alive at the cutoff] with piecewise-constant rates
        purchases = (
            lam0[:, None]
            * m_lam
            * np.exp(-mu0[:, None] * cum[:, :-1])
            * -np.expm1(-rate_mu * step)
            / rate_mu
        )
        alive = latent["alive"].to_numpy(dtype=float)[:, None]
        spend = world.truth.expected_spend(delta or None).to_numpy()[idx]
        base_spend = world.truth.expected_spend(None).to_numpy()[idx]
        g_s = np.log(spend / base_spend)
        spend_path = base_spend[:, None] * np.exp(g_s[:, None] * profile[None, :])
        return float(np.sum(margin * alive * purchases * spend_path * disc[None, :]))

    return value(shift) - value({})


def test_roi_intervals_cover_the_true_incremental_equity() -> None:
    horizon, rate, margin = 24, period_rate(0.10, 12), 0.3
    invs = [
        Investment(
            "Faster support",
            cost=1.0,
            shifts=[Shift("wait_minutes", "relative", -0.3)],
            target="wait_minutes_missing == 0",
            ramp_periods=3,
        ),
        Investment("Complaint recovery", cost=1.0, shifts=[Shift("complaints", "relative", -0.5)]),
        Investment(
            "FCR",
            cost=1.0,
            shifts=[Shift("fcr_rate", "add", 0.15)],
            target="wait_minutes_missing == 0",
        ),
        Investment(
            "Promoters",
            cost=1.0,
            shifts=[Shift("promoter", "set", 1.0, where="nps_missing == 0")],
            duration=12,
        ),
    ]
    covered = []
    for seed in (11, 12, 13, 14, 15):
        world = simulate_cx_world(10_000, seed=seed)
        a = run_cx_roi(
            world.transactions,
            world.cx_events,
            world.customers,
            invs,
            cutoff=world.calibration_end,
            n_draws=100,
            horizon=horizon,
            discount_rate_per_period=rate,
            margin=margin,
            with_sensitivity=False,
            random_state=seed,
        )
        for inv in invs:
            truth = _oracle(world, a.roi.engine, inv, horizon=horizon, rate=rate, margin=margin)
            # here the covariate model IS the data-generating process, so this checks the
            # estimator: the fully causal draws (the default valuation shrinks fitted
            # effects by the causal-share prior, which a causal world does not need)
            draws = a.roi.investments[inv.name].incremental_clv_if_causal
            lo, hi = np.quantile(draws, [0.05, 0.95])
            covered.append((seed, inv.name, truth, lo, hi, lo <= truth <= hi))
    frame = pd.DataFrame(covered, columns=["seed", "investment", "truth", "p05", "p95", "ok"])
    assert frame["ok"].mean() >= 0.8, frame
