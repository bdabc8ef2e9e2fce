r"""Worlds built to fool a CX-to-ROI analysis, each with its known causal truth.

Every world has the same customer base and the same CX signals as
:func:`clv.synth.simulate_cx_world` (service contacts with a wait and a
first-contact resolution flag, complaints, NPS answers) and the same
behaviour (exponential lifetimes, Poisson purchases while alive, Gamma-Gamma
spend), but the *causal* link between experience and behaviour is written in
the world's own terms, not in the covariate form of the models that analyse it
(linear rate multipliers, effects that start after onboarding, experience that
follows behaviour). Weeks are the time unit; the cutoff is week 52 and the
holdout runs 26 weeks further.

=====================  ============================================================  ==========
world                  mechanism                                                      CX effect
=====================  ============================================================  ==========
``segment_hidden``     premium customers (30 %) get shorter waits and buy more and    none
                       stay longer; the tier is not in the customer table
``segment_observed``   the same world with ``tier`` in the customer table             none
``purchase_triggered`` every purchase may trigger a contact, a complaint or a         none
                       survey (post-purchase contacts and surveys)
``exit_contacts``      customers call and complain in the weeks before they leave     none
``survey_on_outcome``  promoters buy 30 % more; promoters answer the survey only if   promoter
                       they bought recently (detractors and passives always may)
``survey_on_cause``    promoters buy 30 % more; satisfied customers answer more       promoter
``onboarding_effect``  each minute of onboarding wait raises the dropout rate by      wait
                       30 %, from the end of onboarding on (linear, not log-linear)
``true_positive``      each minute of wait raises dropout by 30 % (linear) and        wait, FCR
                       resolution at first contact raises purchasing
=====================  ============================================================  ==========

:meth:`TrapWorld.true_value` is the oracle: the true incremental margin of a
change of the features (as the ROI engine applies it), from the latent rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from clv._typing import DateLike
from clv.roi import _math as roi_math
from clv.synth._frames import events_frame, purchases_frame

__all__ = ["TRAP_WORLDS", "CausalEffects", "TrapWorld", "simulate_trap_world"]

#: World name -> (one-line mechanism, whether CX has any causal effect).
TRAP_WORLDS: dict[str, tuple[str, bool]] = {
    "segment_hidden": ("premium customers get shorter waits and buy more; tier unobserved", False),
    "segment_observed": ("premium customers get shorter waits and buy more; tier observed", False),
    "purchase_triggered": ("purchases trigger contacts, complaints and surveys", False),
    "exit_contacts": ("leavers contact support and complain on their way out", False),
    "survey_on_outcome": ("promoters buy more; promoters answer only after buying", True),
    "survey_on_cause": ("promoters buy more; satisfied customers answer more", True),
    "onboarding_effect": ("waits raise dropout, from the end of onboarding on", True),
    "true_positive": ("waits raise dropout, first-contact resolution raises purchasing", True),
}

_CALIBRATION_WEEKS = 52.0
_HOLDOUT_WEEKS = 26.0
_BIRTH_WEEKS = 26.0
_ONBOARDING_WEEKS = 4.0


@dataclass(frozen=True)
class CausalEffects:
    """The world's causal effects of experience on behaviour (all 0: no effect).

    Multipliers are linear in the features, which the models fit log-linearly:
    dropout rate :math:`\\times (1 + d_w \\cdot \\text{wait\\_minutes})` for contacted
    customers; purchase rate :math:`\\times (1 + p_f (\\text{fcr\\_rate} - 1))`
    for contacted customers and :math:`\\times (1 + p_p \\cdot \\text{promoter})`.
    """

    dropout_per_wait_minute: float = 0.0
    purchase_per_fcr: float = 0.0
    purchase_promoter: float = 0.0

    @property
    def any(self) -> bool:
        """Whether experience changes behaviour at all."""
        return bool(self.dropout_per_wait_minute or self.purchase_per_fcr or self.purchase_promoter)

    def multipliers(self, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Purchase and dropout rate multipliers of each customer's features."""
        n = len(features)
        contacted = (
            features["wait_minutes_missing"].to_numpy(dtype=np.float64) == 0
            if "wait_minutes_missing" in features.columns
            else np.ones(n, dtype=bool)
        )
        lam = np.ones(n)
        mu = np.ones(n)
        if self.dropout_per_wait_minute:
            wait = features["wait_minutes"].to_numpy(dtype=np.float64)
            mu = np.where(contacted, 1.0 + self.dropout_per_wait_minute * wait, 1.0)
        if self.purchase_per_fcr:
            fcr = features["fcr_rate"].to_numpy(dtype=np.float64)
            lam = lam * np.where(contacted, 1.0 + self.purchase_per_fcr * (fcr - 1.0), 1.0)
        if self.purchase_promoter:
            lam = lam * (
                1.0 + self.purchase_promoter * features["promoter"].to_numpy(dtype=np.float64)
            )
        return lam, mu


@dataclass(frozen=True)
class TrapWorld:
    """A simulated base whose CX-behaviour link is known (see the module table).

    Attributes
    ----------
    name, description : str
    transactions, cx_events, customers : DataFrame
        Inputs of :func:`clv.cx.analysis.run_cx_roi` (``customers`` has
        ``customer_id, channel, region, acquisition_source, age`` and, in
        ``segment_observed``, ``tier``).
    calibration_end, observation_end : Timestamp
    effects : CausalEffects
        The causal effects (all zero in the no-effect worlds).
    latent : DataFrame
        Per customer: ``birth_week``, ``lambda_base``, ``mu_base`` (rates without
        the CX multipliers), ``alive`` (at the cutoff), ``spend`` (mean ticket),
        ``premium``.
    features : DataFrame
        The causal features (the world's ``wait_minutes``, ``wait_minutes_missing``,
        ``fcr_rate``, ``promoter``: the true experience, observed or not).
    """

    name: str
    description: str
    transactions: pd.DataFrame
    cx_events: pd.DataFrame
    customers: pd.DataFrame
    calibration_end: pd.Timestamp
    observation_end: pd.Timestamp
    effects: CausalEffects
    latent: pd.DataFrame
    features: pd.DataFrame

    @property
    def has_effect(self) -> bool:
        """Whether experience changes behaviour in this world."""
        return self.effects.any

    def true_value(
        self,
        customers: pd.Index,
        delta: dict[str, np.ndarray],
        profile: np.ndarray,
        *,
        discount_rate: float,
        margin: float,
        period_weeks: float,
    ) -> float:
        """True present value of the incremental margin of a change of the features.

        Parameters
        ----------
        customers : Index
            The customers the change applies to (ids), in the order of ``delta``.
        delta : dict
            Feature column -> change per customer (as the ROI engine's unit holds it).
        profile : (H,) array
            Share of the change in force per valuation period.
        discount_rate, margin : float
            Per valuation period; contribution margin.
        period_weeks : float
            Length of a valuation period in weeks.
        """
        if not self.has_effect or not delta:
            return 0.0
        idx = self.latent.index.get_indexer(customers)
        if (idx < 0).any():
            raise ValueError("customers not in this world.")
        base = self.features.iloc[idx]
        new = base.copy()
        for col, change in delta.items():
            if col in new.columns:
                new[col] = new[col].to_numpy(dtype=np.float64) + np.asarray(change, np.float64)
        lam0_m, mu0_m = self.effects.multipliers(base)
        lam1_m, mu1_m = self.effects.multipliers(new)
        lat = self.latent.iloc[idx]
        lam0 = lat["lambda_base"].to_numpy() * lam0_m
        mu0 = lat["mu_base"].to_numpy() * mu0_m
        g_lam = np.log(lam1_m / lam0_m)
        g_mu = np.log(mu1_m / mu0_m)
        horizon = len(profile)
        disc = roi_math.discount_factors(horizon, discount_rate)
        alive = lat["alive"].to_numpy(dtype=np.float64)[:, None]
        spend = lat["spend"].to_numpy()[:, None]

        def value(g_l: np.ndarray, g_m: np.ndarray) -> float:
            m_lam = np.exp(g_l[:, None] * profile[None, :])
            m_mu = np.exp(g_m[:, None] * profile[None, :])
            rate = mu0[:, None] * m_mu
            cum = np.concatenate(
                [np.zeros((len(idx), 1)), np.cumsum(rate * period_weeks, axis=1)], axis=1
            )
            purchases = (
                lam0[:, None]
                * m_lam
                * np.exp(-cum[:, :-1])
                * -np.expm1(-rate * period_weeks)
                / rate
            )
            return float(np.sum(margin * alive * purchases * spend * disc[None, :]))

        return value(g_lam, g_mu) - value(np.zeros(len(idx)), np.zeros(len(idx)))


def _lifetimes(
    rng: np.random.Generator, mu_pre: np.ndarray, mu_post: np.ndarray, switch: float
) -> np.ndarray:
    """Exponential lifetimes: hazard ``mu_pre`` before ``switch`` weeks, ``mu_post`` after."""
    e = rng.standard_exponential(mu_pre.size)
    early = e < mu_pre * switch
    return np.where(early, e / mu_pre, switch + (e - mu_pre * switch) / mu_post)


def _purchases(
    rng: np.random.Generator, birth: np.ndarray, lifetime: np.ndarray, lam: np.ndarray, end: float
) -> tuple[np.ndarray, np.ndarray]:
    """First purchase at birth, then Poisson(``lam``) repeat purchases while alive, to ``end``."""
    active = np.clip(np.minimum(birth + lifetime, end) - birth, 0.0, None)
    k = rng.poisson(lam * active)
    owner = np.repeat(np.arange(birth.size), k)
    times = birth[owner] + rng.random(owner.size) * active[owner]
    return (np.concatenate([np.arange(birth.size), owner]), np.concatenate([birth, times]))


def _contacts(
    rng: np.random.Generator,
    who: np.ndarray,
    times: np.ndarray,
    median_wait: np.ndarray,
    p_resolved: float | np.ndarray,
) -> list[tuple[np.ndarray, np.ndarray, str, np.ndarray]]:
    wait = np.round(median_wait * np.exp(0.5 * rng.standard_normal(who.size)))
    resolved = (rng.random(who.size) < p_resolved).astype(np.float64)
    return [
        (who, times, "contact_wait_seconds", wait),
        (who, times, "contact_resolved_first", resolved),
    ]


def simulate_trap_world(
    name: str, n_customers: int = 8000, *, seed: int = 0, start: DateLike = "2024-01-01"
) -> TrapWorld:
    """Simulate one of :data:`TRAP_WORLDS` with its causal truth.

    Parameters
    ----------
    name : str
        A key of :data:`TRAP_WORLDS`.
    n_customers : int, default 8000
    seed : int, default 0
        The same seed gives the same world.
    start : date-like
        Calendar start (week 0); the cutoff is 52 weeks later.

    Examples
    --------
    >>> w = simulate_trap_world("exit_contacts", 300, seed=1)
    >>> w.has_effect, sorted(w.cx_events["signal"].unique())[:2]
    (False, ['complaint', 'contact_resolved_first'])
    """
    if name not in TRAP_WORLDS:
        raise ValueError(f"unknown trap world {name!r}; choose from {sorted(TRAP_WORLDS)}.")
    n = int(n_customers)
    if n < 10:
        raise ValueError("n_customers must be >= 10.")
    rng_cust, rng_cx, rng_buy, rng_spend = (
        np.random.default_rng(s) for s in np.random.SeedSequence([seed, 1713]).spawn(4)
    )
    t0 = pd.Timestamp(start)
    cut_w, end_w = _CALIBRATION_WEEKS, _CALIBRATION_WEEKS + _HOLDOUT_WEEKS
    ob = _ONBOARDING_WEEKS
    ids = np.arange(1, n + 1)
    birth = rng_cust.uniform(0.0, _BIRTH_WEEKS, n)
    premium = rng_cust.random(n) < 0.3
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "channel": rng_cust.choice(
                ["web", "store", "app", "phone"], n, p=[0.4, 0.25, 0.25, 0.1]
            ),
            "region": rng_cust.choice(["north", "south", "east", "west"], n),
            "acquisition_source": rng_cust.choice(["search", "social", "referral"], n),
            "age": np.round(rng_cust.normal(42.0, 12.0, n).clip(18, 90)),
        }
    )
    if name == "segment_observed":
        customers["tier"] = np.where(premium, "premium", "standard")
    lam_base = rng_buy.gamma(0.75, 1.0 / 10.0, n)
    mu_base = rng_buy.gamma(0.6, 1.0 / 40.0, n)
    if name.startswith("segment"):
        lam_base = np.where(premium, 2.0 * lam_base, lam_base)
        mu_base = np.where(premium, 0.5 * mu_base, mu_base)
    effects = {
        "survey_on_outcome": CausalEffects(purchase_promoter=0.3),
        "survey_on_cause": CausalEffects(purchase_promoter=0.3),
        "onboarding_effect": CausalEffects(dropout_per_wait_minute=0.3),
        "true_positive": CausalEffects(dropout_per_wait_minute=0.3, purchase_per_fcr=0.5),
    }.get(name, CausalEffects())
    parts: list[tuple[np.ndarray, np.ndarray, str, np.ndarray]] = []
    sat = rng_cx.standard_normal(n)
    nps_score = np.clip(np.round(7.0 + 1.8 * sat), 0, 10)
    # onboarding contacts (every world but the purchase-triggered one)
    if name != "purchase_triggered":
        rate = 0.6 if name == "exit_contacts" else 1.2
        k = rng_cx.poisson(rate, n)
        who = np.repeat(np.arange(n), k)
        when = birth[who] + rng_cx.random(who.size) * ob
        median = np.full(who.size, 240.0)
        if name.startswith("segment"):
            median = np.where(premium[who], 120.0, 360.0)
        parts += _contacts(rng_cx, who, when, median, 0.7)
    # the causal features (the true experience, at the cutoff)
    feats = _onboarding_features(parts, n, nps_score)
    lam_m, mu_m = effects.multipliers(feats)
    lam = lam_base * lam_m
    if name == "onboarding_effect":
        lifetime = _lifetimes(rng_buy, mu_base, mu_base * mu_m, ob)
    else:
        lifetime = _lifetimes(rng_buy, mu_base * mu_m, mu_base * mu_m, ob)
    owner, times = _purchases(rng_buy, birth, lifetime, lam, end_w)
    if name == "purchase_triggered":
        trig = rng_cx.random(owner.size) < 0.35
        k_trig = int(trig.sum())
        parts += _contacts(
            rng_cx,
            owner[trig],
            times[trig] + rng_cx.random(k_trig) * 3 / 7,
            np.full(k_trig, 240.0),
            0.7,
        )
        comp = rng_cx.random(owner.size) < 0.12
        parts.append(
            (
                owner[comp],
                times[comp] + rng_cx.random(int(comp.sum())) * 5 / 7,
                "complaint",
                np.ones(int(comp.sum())),
            )
        )
        surv = rng_cx.random(owner.size) < 0.15
        parts.append((owner[surv], times[surv] + 1 / 7, "nps", nps_score[owner[surv]]))
    else:
        # complaints after unresolved onboarding contacts
        c_who, c_time, _, _ = parts[0]
        unresolved = parts[1][3] == 0
        comp = unresolved & (rng_cx.random(c_who.size) < 0.4)
        parts.append((c_who[comp], c_time[comp] + 2 / 7, "complaint", np.ones(int(comp.sum()))))
    if name == "exit_contacts":
        death = birth + lifetime
        leaving = (death < end_w) & (rng_cx.random(n) < 0.7)
        who = np.flatnonzero(leaving)
        when = np.maximum(death[who] - rng_cx.random(who.size) * 3.0, birth[who])
        parts += _contacts(rng_cx, who, when, np.full(who.size, 300.0), 0.3)
        comp = rng_cx.random(who.size) < 0.5
        parts.append((who[comp], when[comp] + 1 / 7, "complaint", np.ones(int(comp.sum()))))
    if name != "purchase_triggered":
        survey = birth + 8.0
        promoter = nps_score >= 9
        if name == "survey_on_outcome":
            recent = np.zeros(n)
            sel = (times > birth[owner]) & (times <= survey[owner])
            np.add.at(recent, owner[sel], 1.0)
            p_resp = np.where(promoter, np.where(recent > 0, 0.6, 0.03), 0.3)
        elif name == "survey_on_cause":
            p_resp = 1.0 / (1.0 + np.exp(-(-1.2 + 0.9 * sat)))
        else:
            p_resp = np.full(n, 0.3)
        alive_then = lifetime > 8.0
        resp = np.flatnonzero(alive_then & (rng_cx.random(n) < p_resp))
        parts.append((resp, survey[resp], "nps", nps_score[resp]))
    # spend: Gamma-Gamma, no CX effect
    nu = rng_spend.gamma(4.0, 1.0 / 15.0, n)
    values = rng_spend.gamma(6.0, 1.0 / nu[owner])
    transactions = purchases_frame(ids, t0, owner, times, values)
    transactions = transactions[transactions["date"] < t0 + pd.Timedelta(weeks=end_w)]
    events = events_frame(ids, t0, parts, end=end_w)
    latent = pd.DataFrame(
        {
            "birth_week": birth,
            "lambda_base": lam_base,
            "mu_base": mu_base,
            "alive": birth + lifetime > cut_w,
            "spend": 6.0 / nu,
            "premium": premium,
        },
        index=pd.Index(ids, name="customer_id"),
    )
    feats.index = latent.index
    return TrapWorld(
        name,
        TRAP_WORLDS[name][0],
        transactions.reset_index(drop=True),
        events,
        customers,
        t0 + pd.Timedelta(weeks=cut_w),
        t0 + pd.Timedelta(weeks=end_w),
        effects,
        latent,
        feats,
    )


def _onboarding_features(
    parts: list[tuple[np.ndarray, np.ndarray, str, np.ndarray]], n: int, nps_score: np.ndarray
) -> pd.DataFrame:
    """The true experience: mean onboarding wait (minutes), first-contact resolution, promoter."""
    wait = np.zeros(n)
    fcr = np.ones(n)
    contacted = np.zeros(n, dtype=bool)
    if parts:
        who, _, _, seconds = parts[0]
        resolved = parts[1][3]
        k = np.bincount(who, minlength=n)
        contacted = k > 0
        safe = np.maximum(k, 1)
        wait = np.where(contacted, np.bincount(who, seconds / 60.0, minlength=n) / safe, 0.0)
        fcr = np.where(contacted, np.bincount(who, resolved, minlength=n) / safe, 1.0)
    return pd.DataFrame(
        {
            "wait_minutes": wait,
            "wait_minutes_missing": (~contacted).astype(np.float64),
            "fcr_rate": fcr,
            "promoter": (nps_score >= 9).astype(np.float64),
        }
    )


def describe(world: TrapWorld) -> dict[str, Any]:
    """Name, mechanism and whether experience has a causal effect (for tables)."""
    return {"world": world.name, "mechanism": world.description, "cx_effect": world.has_effect}
