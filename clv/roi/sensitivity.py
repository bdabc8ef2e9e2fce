"""One-at-a-time sensitivity of expected NPV (tornado): margin, discount rate, horizon, effect size.

Every variant reuses the shared parameter draws, so a swing is the effect of
the setting, not Monte Carlo noise. Margin scales the incremental value
exactly; discount rate and a shorter horizon re-discount the stored per-period
flows; a longer horizon re-runs the engine's flows on the same draws and
customers' latent states (:meth:`~clv.roi.engine.CounterfactualEngine.with_horizon`,
no new baseline), and the two effect sizes are evaluated together in one pass
with the investment's effect scaled (it is linear in the shift). Those runs
need only the discounted totals over their horizon, not per-period flows
(``per_period=False``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from clv._progress import progress_bar
from clv.roi import _math
from clv.roi.engine import ALL, NewCustomers
from clv.roi.finance import RoiResult

__all__ = ["sensitivity"]


def _extended(nc: NewCustomers | None, extra: int) -> NewCustomers | None:
    """Future covariates carried forward (last period repeated) for a longer horizon."""
    if nc is None or extra <= 0:
        return nc
    extra = nc.model_periods(extra)
    cov = nc.covariates
    last = cov.iloc[[-1] * extra].copy()
    last.index = pd.RangeIndex(
        int(cov.index[-1]) + 1, int(cov.index[-1]) + 1 + extra, name=cov.index.name
    )
    return replace(nc, covariates=pd.concat([cov, last]))


def _npv(
    flows: np.ndarray, later: np.ndarray, upfront: np.ndarray, rate: float, horizon: int
) -> float:
    disc = _math.discount_factors(horizon, rate)
    gain = np.add.reduce(flows[:, :horizon] * disc, axis=1)
    cost = upfront + np.add.reduce(later[:, :horizon] * disc, axis=1)
    return float((gain - cost).mean())


def _npv_total(gain: np.ndarray, later: np.ndarray, upfront: np.ndarray, rate: float) -> float:
    """Expected NPV from the discounted incremental margin over the whole horizon (S,)."""
    disc = _math.discount_factors(later.shape[1], rate)
    return float((gain - upfront - np.add.reduce(later * disc, axis=1)).mean())


def sensitivity(
    result: RoiResult,
    *,
    margin: tuple[float, float] | None = None,
    discount_rate: tuple[float, float] | None = None,
    horizon: tuple[int, int] | None = None,
    effect: tuple[float, float] = (0.5, 1.5),
    cost_per_contact: tuple[float, float] = (0.5, 1.5),
    progress: bool | None = None,
) -> pd.DataFrame:
    """Expected NPV of each investment when one setting moves to a low and a high value.

    Parameters
    ----------
    result : RoiResult
        From :func:`clv.roi.evaluate_investments`.
    margin : (low, high), optional
        Default ±20 % of the margin used (it scales the revenue, not the cost to serve).
    discount_rate : (low, high), optional
        Per period; default half and 1.5 times the rate used (and 0 when the rate is 0:
        (0, 2 × a 10 % annual rate on 52 periods)).
    horizon : (low, high), optional
        Periods; default half and 1.5 times the horizon. For the longer horizon the
        acquisition covariates (if any) are carried forward from their last period.
    effect : (low, high), default (0.5, 1.5)
        Share of the estimated effect delivered.
    cost_per_contact : (low, high), default (0.5, 1.5)
        Multiple of the cost per service contact (only with a service-cost model).
    progress : bool, optional
        Progress bar over the investments (default: only in a notebook or a terminal).

    Returns
    -------
    DataFrame
        One row per investment and factor: ``low``, ``high`` (the settings),
        ``npv_low``, ``npv_high``, ``npv_base`` and ``swing`` (``|npv_high - npv_low|``),
        sorted by investment then swing.
    """
    eng = result.engine
    h = result.horizon
    d = result.discount_rate
    m = result.margin
    margin = margin or (0.8 * m, 1.2 * m)
    discount_rate = discount_rate or ((0.5 * d, 1.5 * d) if d > 0 else (0.0, 0.00367))
    horizon = horizon or (max(1, h // 2), int(np.ceil(1.5 * h)))
    if not (1 <= horizon[0] <= h < horizon[1] or horizon[1] <= h):
        raise ValueError("horizon must be (low, high) periods with low >= 1.")
    long_engine = None
    if horizon[1] > h:  # the same draws and latent states, fitted effects taken as they are
        long_engine = eng.with_horizon(
            int(horizon[1]),
            _extended(eng.new_customers, int(horizon[1]) - h),
            fully_causal=True,
        )
    rows = []
    for name, draws in progress_bar(
        list(result.investments.items()), desc="sensitivity", progress=progress
    ):
        inv = draws.investment
        upfront, later = eng.cost_draws(inv)
        flows = draws.cash_flows
        base = float(draws.npv.mean())
        gain = draws.incremental_clv

        def add(
            factor: str,
            low: float,
            high: float,
            npv_low: float,
            npv_high: float,
            name: str = name,
            base: float = base,
        ) -> None:
            rows.append(
                {
                    "investment": name,
                    "factor": factor,
                    "low": low,
                    "high": high,
                    "npv_low": npv_low,
                    "npv_high": npv_high,
                    "npv_base": base,
                    "swing": abs(npv_high - npv_low),
                }
            )

        # the margin scales the revenue part only, not the cost to serve
        serve = (
            np.zeros_like(gain) if draws.service_cost_change is None else draws.service_cost_change
        )
        revenue = gain + serve
        add(
            "margin",
            margin[0],
            margin[1],
            float((revenue * margin[0] / m - serve - draws.cost_pv).mean()),
            float((revenue * margin[1] / m - serve - draws.cost_pv).mean()),
        )
        if draws.service_cost_change is not None:
            npv_lo, npv_hi = (
                float((revenue - k * serve - draws.cost_pv).mean()) for k in cost_per_contact
            )
            add("cost_per_contact", cost_per_contact[0], cost_per_contact[1], npv_lo, npv_hi)
        add(
            "discount_rate",
            discount_rate[0],
            discount_rate[1],
            _npv(flows, later, upfront, discount_rate[0], h),
            _npv(flows, later, upfront, discount_rate[1], h),
        )
        npv_h = []
        for hz in horizon:
            if hz <= h:
                npv_h.append(_npv(flows, later, upfront, d, int(hz)))
            else:  # the whole longer horizon: the engine's discounted total, no per-period flows
                assert long_engine is not None and hz == long_engine.horizon
                _, long_totals = long_engine.flows(
                    [long_engine.unit(inv)], full_only=True, per_period=False
                )
                up, lat = long_engine.cost_draws(inv)
                npv_h.append(_npv_total(long_totals[:, ALL], lat, up, d))
        npv_lo, npv_hi = npv_h
        add("horizon", horizon[0], horizon[1], npv_lo, npv_hi)
        # both effect sizes in one pass over the draws (the unit is scaled, not rebuilt); the
        # discounted totals over the horizon are all they need
        scaled = eng.flows_batch(
            [[eng.unit(inv, scale=k)] for k in effect], full_only=True, per_period=False
        )
        npv_e = [_npv_total(t[:, ALL], later, upfront, d) for _, t, _ in scaled]
        npv_lo, npv_hi = npv_e
        add("effect_size", effect[0], effect[1], npv_lo, npv_hi)
    out = pd.DataFrame(rows)
    order = {n: i for i, n in enumerate(result.investments)}
    out["_o"] = out["investment"].map(order)
    out = out.sort_values(["_o", "swing"], ascending=[True, False]).drop(columns="_o")
    return out.reset_index(drop=True)
