"""A dated regional CX change, simulated without the time-varying model's functional form.

Weekly calendar from ``ORIGIN``; customers make a first purchase in the first
52 weeks and are observed until ``CUTOFF`` (week 104). In region ``"A"`` the
support vendor degrades ``12`` weeks before the cutoff: contact waits go from
about 2 to about 15 minutes and the dropout hazard triples while it lasts.
Variants: ``ongoing`` (still degraded at the cutoff) and ``fixed`` (back to
normal 4 weeks before the cutoff). The oracle values use the true rates and
who is alive at the cutoff.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

ORIGIN = pd.Timestamp("2024-01-01")
WEEK = pd.Timedelta(weeks=1)
CUT_W = 104
CUTOFF = ORIGIN + CUT_W * WEEK
SPEND = 50.0
NORMAL_WAIT, BAD_WAIT = 2.0, 15.0  # minutes


@dataclass(frozen=True)
class World:
    transactions: pd.DataFrame
    events: pd.DataFrame
    region: pd.Series
    lam: pd.Series
    mu: pd.Series
    alive: pd.Series
    bad_from: float  # week of the degradation start
    bad_to: float  # week it ends (inf: ongoing)


def _invert(y: np.ndarray, t0: np.ndarray, a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Time at which the effective time (hazard multiplier k on [a, b)) reaches ``y``."""
    e_a = a - t0
    e_b = e_a + k * (b - a)
    return np.where(y <= e_a, t0 + y, np.where(y <= e_b, a + (y - e_a) / k, b + (y - e_b)))


def simulate(
    n: int = 3000,
    *,
    variant: str = "ongoing",
    seed: int = 0,
    contact_rate: float = 2.0,
    factor: float = 3.0,
) -> World:
    rng = np.random.default_rng(seed)
    ids = np.arange(n)
    region = np.where(rng.random(n) < 0.5, "A", "B")
    t0 = rng.uniform(0, 52, n)
    lam = rng.gamma(2.0, 1 / 8.0, n)
    mu = rng.gamma(1.5, 1 / 60.0, n)
    bad_from = CUT_W - 12.0
    bad_to = np.inf if variant == "ongoing" else CUT_W - 4.0
    in_a = region == "A"
    a = np.where(in_a, np.maximum(t0, bad_from), t0)
    b = np.where(in_a, np.maximum(t0, min(bad_to, 1e9)), t0)
    death = _invert(rng.exponential(1.0, n) / mu, t0, a, b, factor)
    alive = death > CUT_W
    stop = np.minimum(death, CUT_W)
    k = rng.poisson(lam * (stop - t0))
    cust = np.repeat(ids, k)
    t = t0[cust] + rng.random(cust.size) * (stop - t0)[cust]
    tx = pd.DataFrame(
        {
            "customer_id": np.concatenate([ids, cust]),
            "date": ORIGIN + pd.to_timedelta(np.concatenate([t0, t]) * 7, unit="D"),
        }
    )
    kc = rng.poisson(contact_rate * (stop - t0))
    cc = np.repeat(ids, kc)
    tc = t0[cc] + rng.random(cc.size) * (stop - t0)[cc]
    bad = in_a[cc] & (tc >= bad_from) & (tc < bad_to)
    wait = np.where(bad, BAD_WAIT, NORMAL_WAIT) * np.exp(rng.normal(0, 0.3, cc.size))
    events = pd.DataFrame(
        {
            "customer_id": cc,
            "signal": "contact_wait_seconds",
            "value": wait * 60.0,
            "timestamp": ORIGIN + pd.to_timedelta(tc * 7, unit="D"),
        }
    )
    idx = pd.Index(ids, name="customer_id")
    return World(
        tx.sort_values(["customer_id", "date"]).reset_index(drop=True),
        events,
        pd.Series(region, idx),
        pd.Series(lam, idx),
        pd.Series(mu, idx),
        pd.Series(alive, idx),
        bad_from,
        bad_to,
    )


def _dect(lam: np.ndarray, rate: np.ndarray, delta: float, lo: float, hi: float) -> np.ndarray:
    """lam * integral_lo^hi exp(-(rate + delta) u) du."""
    c = rate + delta
    return lam * (np.exp(-c * lo) - np.exp(-c * hi)) / c


def oracle_fix(
    world: World, horizon: int, discount_rate: float, margin: float, factor: float = 3.0
) -> float:
    """True ΔCLV of restoring normal service in region A from the cutoff on."""
    d = np.log1p(discount_rate)
    m = (world.region == "A").to_numpy() & world.alive.to_numpy()
    if np.isfinite(world.bad_to):
        return 0.0
    lam, mu = world.lam.to_numpy()[m], world.mu.to_numpy()[m]
    gain = _dect(lam, mu, d, 0, horizon) - _dect(lam, factor * mu, d, 0, horizon)
    return float(margin * SPEND * gain.sum())


def oracle_prevent(
    world: World, start: int, horizon: int, discount_rate: float, margin: float, factor: float = 3.0
) -> float:
    """True ΔCLV of preventing a region-A degradation that would start ``start`` weeks ahead."""
    d = np.log1p(discount_rate)
    m = (world.region == "A").to_numpy() & world.alive.to_numpy()
    lam, mu = world.lam.to_numpy()[m], world.mu.to_numpy()[m]
    good_after = _dect(lam, mu, d, start, horizon)
    bad_after = np.exp(-mu * start * (1 - factor)) * _dect(lam, factor * mu, d, start, horizon)
    return float(margin * SPEND * (good_after - bad_after).sum())
