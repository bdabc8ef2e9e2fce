r"""A dated regional service failure: one region's support vendor degrades, its customers leave.

This world is built to test causal claims about a *dated* change, and it does
not follow the assumptions of the package's models:

* weekly discrete time from ``start``; customer :math:`i` is acquired (first
  purchase) in week :math:`b_i \sim U(0, \text{birth\_weeks})` in one of
  several regions;
* purchase rate while alive :math:`\lambda_i = \ell_i\, \rho_{g(i)}\, s_t`
  per week with **log-normal** heterogeneity :math:`\ell_i`, a region level
  :math:`\rho_g` and a common seasonality :math:`s_t` (not the gamma mixture of
  the Pareto/NBD); purchases are Poisson per week;
* weekly dropout hazard :math:`h_i` with **logit-normal** heterogeneity (not
  gamma), constant in time except that from ``change_week`` the hazard of the
  degraded region is multiplied by ``hazard_multiplier`` (3 by default) until
  ``fix_week`` ("already fixed") or for ever ("ongoing"); death is the first
  week whose cumulative hazard exceeds the customer's own
  :math:`E_i \sim \mathrm{Exp}(1)`, so every scenario uses the same random numbers;
* service contacts (wait times) and complaints: contact probability per alive
  week, log-normal waits and a complaint probability per contact, both worse
  in the degraded region while the vendor is degraded; they are symptoms of
  the vendor, they do not cause dropout themselves;
* spend per purchase: log-normal around a customer mean.

``pretrend`` adds a log-linear trend (per year) to the degraded region's
purchase rate over the whole period: a world where parallel trends fail.

The oracle (:meth:`DatedChangeTruth.fix_value`) is the true expected
incremental margin of fixing the vendor at the cutoff over a horizon, from the
latent states at the cutoff (same latent draws with and without the fix);
:meth:`DatedChangeTruth.log_rate_ratio` is the true effect of the change on the
degraded region's purchases over a window, against the same customers without
the change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from clv._typing import DateLike
from clv.synth._frames import events_frame, purchases_frame

__all__ = [
    "DatedChangeParams",
    "DatedChangeTruth",
    "DatedChangeWorld",
    "simulate_dated_change_world",
]


@dataclass(frozen=True)
class DatedChangeParams:
    """Knobs of :func:`simulate_dated_change_world` (weeks as the time unit)."""

    regions: tuple[str, ...] = ("north", "south", "east", "west")
    degraded_region: str = "south"
    region_levels: tuple[float, ...] = (1.0, 0.8, 1.1, 0.9)
    weeks: int = 104  # cutoff = start + weeks
    birth_weeks: float = 40.0
    change_weeks_before_cutoff: int = 12
    fix_weeks_before_cutoff: int | None = None  # None: ongoing
    hazard_multiplier: float = 3.0
    pretrend: float = 0.0  # log purchase-rate trend per year, degraded region only
    rate_median: float = 0.12  # purchases per week while alive
    rate_sdlog: float = 0.8
    hazard_median: float = 0.010  # weekly dropout probability
    hazard_sdlogit: float = 0.7
    season_amplitude: float = 0.15
    spend_median: float = 30.0
    spend_sdlog: float = 0.4
    contact_prob: float = 0.04  # per alive week
    wait_median_seconds: float = 180.0
    degraded_wait_factor: float = 3.0
    complaint_prob: float = 0.08  # per contact
    degraded_complaint_prob: float = 0.35

    def __post_init__(self) -> None:
        if self.degraded_region not in self.regions:
            raise ValueError(
                f"degraded_region {self.degraded_region!r} is not one of {self.regions}."
            )
        if len(self.region_levels) != len(self.regions):
            raise ValueError("region_levels needs one level per region.")
        if not 0 < self.change_weeks_before_cutoff < self.weeks - self.birth_weeks:
            raise ValueError(
                "the change must fall after every customer's acquisition and before the cutoff."
            )
        fix = self.fix_weeks_before_cutoff
        if fix is not None and not 0 <= fix < self.change_weeks_before_cutoff:
            raise ValueError("fix_weeks_before_cutoff must be >= 0 and after the change.")

    @property
    def change_week(self) -> int:
        """Week index (from ``start``) in which the vendor degrades."""
        return self.weeks - self.change_weeks_before_cutoff

    @property
    def fix_week(self) -> int | None:
        """Week index in which the vendor was fixed (None: still degraded at the cutoff)."""
        fix = self.fix_weeks_before_cutoff
        return None if fix is None else self.weeks - fix


@dataclass(frozen=True)
class DatedChangeTruth:
    """Latent truth of a dated-change world (arrays per customer, in ``customer_id`` order)."""

    params: DatedChangeParams
    customers: pd.DataFrame  # customer_id, region, birth_week, rate, hazard, spend, exp1
    start: pd.Timestamp
    cutoff: pd.Timestamp

    @property
    def degraded(self) -> np.ndarray:
        """True for customers of the degraded region."""
        return (self.customers["region"] == self.params.degraded_region).to_numpy()

    def _multiplier(
        self, weeks: np.ndarray, *, changed: bool, fixed_at: float | None
    ) -> np.ndarray:
        """Hazard multiplier per (customer, week) under a scenario."""
        p = self.params
        on = np.zeros(weeks.shape, dtype=bool)
        if changed:
            on = weeks >= p.change_week
            if fixed_at is not None:
                on &= weeks < fixed_at
        return np.where(self.degraded[:, None] & on[None, :], p.hazard_multiplier, 1.0)

    def _season(self, weeks: np.ndarray) -> np.ndarray:
        return 1.0 + self.params.season_amplitude * np.sin(2 * np.pi * weeks / 52.0)

    def _rates(self, weeks: np.ndarray) -> np.ndarray:
        """Purchase rate per (customer, week) while alive."""
        c = self.customers
        trend = np.where(
            self.degraded[:, None], np.exp(self.params.pretrend * weeks[None, :] / 52.0), 1.0
        )
        return c["rate"].to_numpy()[:, None] * self._season(weeks)[None, :] * trend

    def _alive(self, weeks: np.ndarray, mult: np.ndarray) -> np.ndarray:
        """Alive at the start of each week (after the birth week), same E_i in every scenario."""
        c = self.customers
        h = c["hazard"].to_numpy()[:, None]
        born = weeks[None, :] >= c["birth_week"].to_numpy()[:, None]
        step = np.where(born, -np.log1p(-np.minimum(h * mult, 0.999)), 0.0)
        cum = np.cumsum(step, axis=1) - step  # hazard accumulated before the week
        return born & (cum < c["exp1"].to_numpy()[:, None])

    def expected_purchases(
        self, weeks: np.ndarray, *, changed: bool = True, fixed_at: float | None = None
    ) -> np.ndarray:
        """Expected purchases per (customer, week) given the latents, under a scenario."""
        weeks = np.asarray(weeks, dtype=np.float64)
        alive = self._alive(weeks, self._multiplier(weeks, changed=changed, fixed_at=fixed_at))
        return np.where(alive, self._rates(weeks), 0.0)

    def _all_weeks(self, end: int) -> np.ndarray:
        return np.arange(0, end, dtype=np.float64)

    def log_rate_ratio(
        self,
        first_week: int | None = None,
        last_week: int | None = None,
        *,
        group: str = "degraded",
    ) -> float:
        """True log ratio of the degraded region's purchases with vs without the change.

        Over weeks ``[first_week, last_week)`` (default: from the change to the
        cutoff), for the region's customers, given their latent rates, hazards and
        the same death thresholds: the estimand of a difference-in-differences of
        purchase counts.
        """
        p = self.params
        first = p.change_week if first_week is None else int(first_week)
        last = p.weeks if last_week is None else int(last_week)
        weeks = self._all_weeks(last)
        mask = self.degraded if group == "degraded" else ~self.degraded
        with_change = self.expected_purchases(weeks, changed=True, fixed_at=p.fix_week)
        without = self.expected_purchases(weeks, changed=False)
        num = with_change[mask][:, first:last].sum()
        den = without[mask][:, first:last].sum()
        return float(np.log(num / den))

    def fix_value(
        self, horizon_weeks: int = 52, *, annual_discount: float = 0.10, margin: float = 0.3
    ) -> float:
        """True expected incremental margin of fixing the vendor at the cutoff (present value).

        Expected margin over ``horizon_weeks`` after the cutoff with the region's
        hazard back to normal from the cutoff, minus the same without the fix
        (the degradation continues in an ongoing world; nothing changes in an
        already-fixed one), given each customer's latent state; weekly discounting.
        """
        p = self.params
        weeks = self._all_weeks(p.weeks + int(horizon_weeks))
        future = slice(p.weeks, p.weeks + int(horizon_weeks))
        fixed_at = p.fix_week if p.fix_week is not None else p.weeks
        fixed = self.expected_purchases(weeks, changed=True, fixed_at=fixed_at)[:, future]
        as_is = self.expected_purchases(weeks, changed=True, fixed_at=p.fix_week)[:, future]
        d = (1.0 + annual_discount) ** (-np.arange(1, int(horizon_weeks) + 1) / 52.0)
        money = margin * self.customers["spend"].to_numpy()[:, None]
        return float(np.sum((fixed - as_is) * money * d[None, :]))


@dataclass(frozen=True)
class DatedChangeWorld:
    """Tables of a dated-change world and its truth (see :func:`simulate_dated_change_world`)."""

    transactions: pd.DataFrame  # customer_id, date, value
    cx_events: pd.DataFrame  # customer_id, timestamp, signal, value
    customers: pd.DataFrame  # customer_id, region
    truth: DatedChangeTruth

    @property
    def cutoff(self) -> pd.Timestamp:
        """End of the observed data (exclusive)."""
        return self.truth.cutoff

    @property
    def change_date(self) -> pd.Timestamp:
        """When the degraded region's vendor changed."""
        return self.truth.start + pd.Timedelta(weeks=self.truth.params.change_week)


def simulate_dated_change_world(
    n_customers: int,
    *,
    seed: int,
    start: DateLike = "2024-01-01",
    params: DatedChangeParams | None = None,
) -> DatedChangeWorld:
    """Simulate customers in several regions, one of which suffers a dated service failure.

    Parameters
    ----------
    n_customers : int
    seed : int
        Same seed, same world; scenario variants with the same seed share every
        customer's latent draws.
    start : date-like
        Week 0. The cutoff is ``start + params.weeks`` weeks.
    params : DatedChangeParams, optional
        Use ``fix_weeks_before_cutoff=4`` for the "already fixed" variant and
        ``pretrend`` for diverging trends.

    Returns
    -------
    DatedChangeWorld

    Examples
    --------
    >>> w = simulate_dated_change_world(300, seed=1)
    >>> sorted(w.customers["region"].unique())
    ['east', 'north', 'south', 'west']
    >>> w.truth.log_rate_ratio() < 0
    True
    """
    p = params or DatedChangeParams()
    n = int(n_customers)
    rng_cust, rng_buy, rng_cx = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
    )
    t0 = pd.Timestamp(start)
    ids = np.arange(1, n + 1)
    region_idx = rng_cust.integers(0, len(p.regions), n)
    levels = np.asarray(p.region_levels)[region_idx]
    rate = p.rate_median * levels * np.exp(p.rate_sdlog * rng_cust.standard_normal(n))
    logit = np.log(
        p.hazard_median / (1 - p.hazard_median)
    ) + p.hazard_sdlogit * rng_cust.standard_normal(n)
    hazard = 1.0 / (1.0 + np.exp(-logit))
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "region": np.asarray(p.regions, dtype=object)[region_idx],
            "birth_week": np.floor(rng_cust.uniform(0.0, p.birth_weeks, n)),
            "rate": rate,
            "hazard": hazard,
            "spend": p.spend_median * np.exp(p.spend_sdlog * rng_cust.standard_normal(n)),
            "exp1": rng_cust.standard_exponential(n),
        }
    )
    truth = DatedChangeTruth(p, customers, t0, t0 + pd.Timedelta(weeks=p.weeks))
    weeks = np.arange(p.weeks, dtype=np.float64)
    mult = truth._multiplier(weeks, changed=True, fixed_at=p.fix_week)
    alive = truth._alive(weeks, mult)
    lam = np.where(alive, truth._rates(weeks), 0.0)
    counts = rng_buy.poisson(lam)
    birth = customers["birth_week"].to_numpy().astype(np.int64)
    counts[np.arange(n), birth] += 1  # the first purchase
    who, week = np.nonzero(counts)
    reps = counts[who, week]
    who, week = np.repeat(who, reps), np.repeat(week, reps)
    t = week + rng_buy.random(who.size)
    value = customers["spend"].to_numpy()[who] * np.exp(
        0.3 * rng_buy.standard_normal(who.size) - 0.045
    )
    transactions = purchases_frame(ids, t0, who, t, value)

    degraded_now = mult > 1.0
    contact = alive & (rng_cx.random(alive.shape) < p.contact_prob)
    cw, ck = np.nonzero(contact)
    bad = degraded_now[cw, ck]
    wait = np.round(
        p.wait_median_seconds
        * np.where(bad, p.degraded_wait_factor, 1.0)
        * np.exp(0.5 * rng_cx.standard_normal(cw.size))
    )
    complain = rng_cx.random(cw.size) < np.where(bad, p.degraded_complaint_prob, p.complaint_prob)
    tc = ck + rng_cx.random(cw.size)
    last = p.weeks - 1e-6  # a complaint a day after a contact in the last week stays in it
    parts = [
        (cw, np.minimum(tc, last), "contact_wait_seconds", wait),
        (
            cw[complain],
            np.minimum(tc[complain] + 1 / 7, last),
            "complaint",
            np.ones(int(complain.sum())),
        ),
    ]
    events = events_frame(ids, t0, parts)
    return DatedChangeWorld(
        transactions, events, customers[["customer_id", "region"]].copy(), truth
    )
