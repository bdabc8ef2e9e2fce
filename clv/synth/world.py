r"""A synthetic customer base where CX drives purchasing, dropout, spend, churn and acquisition.

Timeline (weeks from ``start``): customer :math:`i` is born (first purchase)
at :math:`b_i \sim U(0, \text{birth\_weeks})`; during onboarding,
:math:`[b_i, b_i + \text{onboarding\_weeks})`, they have service contacts, may
complain and may answer an NPS survey. The calibration cutoff is
``start + calibration_weeks`` and the holdout runs ``holdout_weeks`` further.

Covariates :math:`x_i` are the features :func:`world_feature_builder`
computes from these events as of the cutoff (all events are before it), in
the order of :data:`COVARIATES`:

=========================  ====================================================================
``complaints``             number of complaints
``wait_minutes``           mean contact wait in minutes; 0 if never contacted
``wait_minutes_missing``   1 if never contacted
``fcr_rate``               share of contacts resolved at first contact; 1 if never contacted
``promoter``               last NPS answer 9-10 (0 if no answer)
``nps_missing``            1 if no NPS answer (most customers: surveys reach a minority)
=========================  ====================================================================

Behaviour is then generated from :math:`x_i` (weeks as the time unit):

- purchases: :math:`\lambda_i = \tilde\lambda_i e^{\gamma_P' x_i}`,
  :math:`\tilde\lambda_i \sim \mathrm{Gamma}(r, \alpha_0)` (rate
  :math:`\alpha_0`); dropout: :math:`\mu_i = \tilde\mu_i e^{\gamma_D' x_i}`,
  :math:`\tilde\mu_i \sim \mathrm{Gamma}(s, \beta_0)`; exponential lifetime
  from birth, Poisson purchases while alive (Pareto/NBD with covariates:
  :math:`\alpha_i = \alpha_0 e^{-\gamma_P' x_i}`, :math:`\beta_i = \beta_0 e^{-\gamma_D' x_i}`);
- spend: each transaction value :math:`z \sim \mathrm{Gamma}(p, \nu_i)` (shape,
  rate), :math:`\nu_i \sim \mathrm{Gamma}(q, v_i)`, :math:`v_i = v_0 e^{\gamma_S' x_i}`,
  so :math:`E[z \mid \nu_i] = p/\nu_i` and :math:`E[z \mid x_i] = p v_i/(q-1)`;
- contractual view: :math:`\theta_i \sim \mathrm{Beta}(\alpha_c, \beta_c)`, per-period churn
  :math:`1 - (1 - \theta_i)^{\exp(\gamma_C' x_i)}` (discrete proportional hazards);
- acquisition: weekly new-customer counts from the exponential-gamma model
  with the lagged weekly promoter share as period covariate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clv._typing import DateLike
from clv.cx.features import FeatureBuilder, count, mean, nps_groups, rate
from clv.models import acquisition as acq
from clv.models._retention_math import simulate_lifetimes
from clv.synth._frames import events_frame, purchases_frame, week_dates

__all__ = [
    "COVARIATES",
    "CXWorld",
    "Truth",
    "WorldParams",
    "simulate_cx_world",
    "world_feature_builder",
]

COVARIATES = (
    "complaints",
    "wait_minutes",
    "wait_minutes_missing",
    "fcr_rate",
    "promoter",
    "nps_missing",
)
_CHANNELS = ("web", "store", "app", "phone")
_REGIONS = ("north", "south", "east", "west")


def _coefs(**kw: float) -> Any:
    return field(default_factory=lambda: dict(kw))


@dataclass(frozen=True)
class WorldParams:
    """Every knob of the synthetic world (defaults: identifiable with 20k customers in 52 weeks).

    Coefficient dicts map covariate names (:data:`COVARIATES`) to coefficients;
    absent covariates have coefficient 0.
    """

    # Pareto/NBD (weeks)
    r: float = 0.75
    alpha0: float = 10.0
    s: float = 0.6
    beta0: float = 40.0
    gamma_purchase: Mapping[str, float] = _coefs(complaints=-0.15, wait_minutes=-0.05, promoter=0.3)
    gamma_dropout: Mapping[str, float] = _coefs(complaints=0.35, fcr_rate=-0.6, wait_minutes=0.04)
    # Gamma-Gamma spend
    p: float = 6.0
    q: float = 4.0
    v0: float = 15.0
    gamma_spend: Mapping[str, float] = _coefs(promoter=0.1, complaints=-0.05)
    # contractual (sBG with discrete proportional hazards), periods
    churn_alpha: float = 0.7
    churn_beta: float = 3.0
    gamma_churn: Mapping[str, float] = _coefs(complaints=0.3, fcr_rate=-0.5, promoter=-0.4)
    contract_periods: int = 12
    # acquisition (exponential-gamma, weekly), covariate: lagged promoter share
    acq_r: float = 1.0
    acq_alpha: float = 40.0
    acq_m: float = 25_000.0
    acq_beta: float = 2.0
    # CX processes during onboarding
    birth_weeks: float = 26.0
    onboarding_weeks: float = 4.0
    contact_rate: float = 1.2
    wait_median_seconds: float = 240.0
    complaint_after_unresolved: float = 0.4
    spontaneous_complaint_rate: float = 0.1
    nps_response_intercept: float = -1.4
    nps_response_slope: float = 0.6
    csat_response: float = 0.3
    # a randomised experiment at onboarding (e.g. a welcome call): share of customers
    # enrolled at their first purchase, half of them treated, and the treatment's log
    # multipliers on the purchase rate, the dropout rate and the mean spend
    experiment_share: float = 0.0
    experiment_effects: Mapping[str, float] = _coefs(purchase=0.2, dropout=-0.5, spend=0.0)

    def __post_init__(self) -> None:
        for name in ("gamma_purchase", "gamma_dropout", "gamma_spend", "gamma_churn"):
            unknown = sorted(set(getattr(self, name)) - set(COVARIATES))
            if unknown:
                raise ValueError(f"{name} has unknown covariates {unknown}; use {COVARIATES}.")
        if self.q <= 1:
            raise ValueError("q must be > 1 (the mean spend p*v/(q-1) must exist).")
        if not 0.0 <= self.experiment_share <= 1.0:
            raise ValueError("experiment_share must be in [0, 1].")
        unknown = sorted(set(self.experiment_effects) - {"purchase", "dropout", "spend"})
        if unknown:
            raise ValueError(
                f"experiment_effects has unknown levers {unknown}; use purchase, dropout, spend."
            )

    def coefficients(self, name: str) -> np.ndarray:
        """Coefficient vector of ``gamma_<name>`` in :data:`COVARIATES` order."""
        coefs = getattr(self, f"gamma_{name}")
        return np.array([float(coefs.get(c, 0.0)) for c in COVARIATES])

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (coefficient dicts copied)."""
        return {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in self.__dict__.items()}


def world_feature_builder() -> FeatureBuilder:
    """The feature builder that reproduces ``truth.covariates`` from ``cx_events`` at the cutoff.

    Examples
    --------
    >>> world_feature_builder().features[0].name
    'complaints'
    """
    return FeatureBuilder(
        [
            count("complaint", name="complaints"),
            mean("contact_wait_seconds", scale=60.0, name="wait_minutes", fill=0.0),
            rate("contact_resolved_first", name="fcr_rate", fill=1.0, indicator=False),
            nps_groups(groups=("promoter",)),
        ]
    )


def _lin(X: np.ndarray, coefs: np.ndarray) -> np.ndarray:
    """``X @ coefs`` without BLAS (elementwise, see the OpenBLAS note in the docs)."""
    return np.add.reduce(X * coefs, axis=1) if X.size else np.zeros(X.shape[0])


@dataclass(frozen=True)
class Truth:
    """Ground truth of a world: parameters, covariates and per-customer latent quantities.

    Attributes
    ----------
    params : WorldParams
    covariates : pandas.DataFrame
        :data:`COVARIATES` per customer (index ``customer_id``).
    latent : pandas.DataFrame
        Per customer: ``birth_week``, ``T`` (weeks from birth to the cutoff),
        ``service`` (latent service experience), ``lambda_base``,
        ``mu_base``, ``lambda``, ``mu``, ``lifetime`` (weeks after birth),
        ``alive`` (at the cutoff), ``nu`` (spend rate), ``theta`` and
        ``theta_ph`` (base and covariate-adjusted per-period churn).
    calibration_end, observation_end : pandas.Timestamp
        The cutoff (exclusive end of calibration) and the end of the holdout.
    acquisition : dict
        ``r, alpha, c, m, beta`` of the acquisition process and its covariate name.
    """

    params: WorldParams
    covariates: pd.DataFrame
    latent: pd.DataFrame
    calibration_end: pd.Timestamp
    observation_end: pd.Timestamp
    acquisition: dict[str, Any]

    def _delta(self, shift: Mapping[str, Any] | None) -> np.ndarray:
        delta = np.zeros(self.covariates.shape)
        for col, change in (shift or {}).items():
            if col not in COVARIATES:
                raise ValueError(f"shift names unknown covariate {col!r}; use {COVARIATES}.")
            if isinstance(change, pd.Series):
                change = change.reindex(self.covariates.index).to_numpy()
            delta[:, COVARIATES.index(col)] = np.broadcast_to(
                np.asarray(change, dtype=np.float64), self.covariates.shape[:1]
            )
        return delta

    def rates(self, shift: Mapping[str, Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per-customer ``(lambda, mu)`` with covariates shifted by ``shift`` (column -> change)."""
        d = self._delta(shift)
        lam = self.latent["lambda"].to_numpy() * np.exp(
            _lin(d, self.params.coefficients("purchase"))
        )
        mu = self.latent["mu"].to_numpy() * np.exp(_lin(d, self.params.coefficients("dropout")))
        return lam, mu

    def expected_purchases(
        self, horizon: float, shift: Mapping[str, Any] | None = None
    ) -> pd.Series:
        r"""True expected purchases in (cutoff, cutoff + horizon] weeks, given the latents.

        :math:`E[N_i] = 1[\text{alive at cutoff}]\,\lambda_i/\mu_i\,(1 - e^{-\mu_i h})`,
        with :math:`\lambda_i, \mu_i` under the observed covariates shifted by
        ``shift`` (a dict covariate -> additive change, scalar or per customer).
        """
        lam, mu = self.rates(shift)
        alive = self.latent["alive"].to_numpy()
        e = np.where(alive, lam * -np.expm1(-mu * float(horizon)) / mu, 0.0)
        return pd.Series(e, index=self.covariates.index, name="expected_purchases")

    def expected_spend(self, shift: Mapping[str, Any] | None = None) -> pd.Series:
        r"""Mean transaction value :math:`p/\nu_i`, times :math:`e^{\gamma_S'\Delta}` if shifted."""
        d = self._delta(shift)
        z = (
            self.params.p
            / self.latent["nu"].to_numpy()
            * np.exp(_lin(d, self.params.coefficients("spend")))
        )
        return pd.Series(z, index=self.covariates.index, name="expected_spend")


@dataclass(frozen=True)
class CXWorld:
    """A simulated customer base with its ground truth (see :func:`simulate_cx_world`)."""

    transactions: pd.DataFrame
    cx_events: pd.DataFrame
    customers: pd.DataFrame
    subscriptions: pd.DataFrame
    acquisition: pd.DataFrame
    truth: Truth
    experiment: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            {
                "customer_id": pd.Series(dtype=np.int64),
                "arm": pd.Series(dtype=object),
                "start": pd.Series(dtype="datetime64[ns]"),
            }
        )
    )

    @property
    def calibration_end(self) -> pd.Timestamp:
        """The cutoff: features use events strictly before it; calibration purchases too."""
        return self.truth.calibration_end

    @staticmethod
    def feature_builder() -> FeatureBuilder:
        """The builder reproducing ``truth.covariates`` (see :func:`world_feature_builder`)."""
        return world_feature_builder()

    def calibration_transactions(self) -> pd.DataFrame:
        """Transactions strictly before the cutoff."""
        return self.transactions[self.transactions["date"] < self.calibration_end]


def simulate_cx_world(
    n_customers: int,
    *,
    seed: int,
    start: DateLike = "2024-01-01",
    calibration_weeks: int = 52,
    holdout_weeks: int = 26,
    params: WorldParams | None = None,
) -> CXWorld:
    """Simulate a customer base where CX signals drive the BTYD levers, with known truth.

    Parameters
    ----------
    n_customers : int
    seed : int
        Seed of independent ``numpy.random.default_rng`` streams (CX, purchases,
        spend, contracts, acquisition); the same seed gives the same world.
    start : date-like
        Calendar start (week 0).
    calibration_weeks, holdout_weeks : int
        The cutoff is ``start + calibration_weeks`` weeks; the holdout ends
        ``holdout_weeks`` later.
    params : WorldParams, optional
        All other knobs (rates, coefficients, CX processes).

    Returns
    -------
    CXWorld
        ``transactions`` (customer_id, date, value), ``cx_events`` (the
        :func:`~clv.cx.validate_cx_events` schema), ``customers`` (customer_id,
        channel, region, age), ``subscriptions`` (customer_id,
        periods_observed, churned), ``acquisition`` (period, week_start,
        new_customers, promoter_share_lag1), ``truth`` and ``experiment``
        (customer_id, arm ``"control"``/``"treatment"``, start = first purchase) when
        ``params.experiment_share > 0``: a randomised onboarding treatment multiplying
        the purchase rate, dropout rate and mean spend by
        ``exp(params.experiment_effects[lever])`` (``truth.latent["treated"]``).

    Examples
    --------
    >>> w = simulate_cx_world(500, seed=1)
    >>> list(w.truth.covariates.columns) == list(COVARIATES)
    True
    """
    prm = params or WorldParams()
    if prm.birth_weeks + prm.onboarding_weeks + 1 > calibration_weeks:
        raise ValueError(
            "birth_weeks + onboarding_weeks + 1 must be <= calibration_weeks so that "
            "every CX event is before the cutoff."
        )
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(7)]
    rng_cx, rng_buy, rng_spend, rng_contract, rng_acq, rng_cust, rng_exp = streams
    n = int(n_customers)
    t0 = pd.Timestamp(start)
    cutoff = t0 + pd.Timedelta(weeks=calibration_weeks)
    end = cutoff + pd.Timedelta(weeks=holdout_weeks)
    ids = pd.RangeIndex(1, n + 1, name="customer_id")

    customers = pd.DataFrame(
        {
            "customer_id": ids.to_numpy(),
            "channel": rng_cust.choice(_CHANNELS, n, p=[0.4, 0.25, 0.25, 0.1]),
            "region": rng_cust.choice(_REGIONS, n),
            "age": np.round(rng_cust.normal(42.0, 12.0, n).clip(18, 90)),
        }
    )
    birth = rng_cust.uniform(0.0, prm.birth_weeks, n)
    service = rng_cust.standard_normal(n) - 0.3 * (customers["channel"] == "phone").to_numpy()

    events = _cx_events(prm, ids.to_numpy(), birth, service, t0, rng_cx)
    X = world_feature_builder().fit_transform(events, customer_ids=ids, cutoff=cutoff)
    Xa = X.to_numpy()

    lam_base = rng_buy.gamma(prm.r, 1.0 / prm.alpha0, n)
    mu_base = rng_buy.gamma(prm.s, 1.0 / prm.beta0, n)
    # the experiment (own stream: worlds without one are unchanged)
    enrolled = np.zeros(n, dtype=bool)
    treated = np.zeros(n)
    if prm.experiment_share > 0:
        enrolled = rng_exp.random(n) < prm.experiment_share
        treated = (enrolled & (rng_exp.random(n) < 0.5)).astype(np.float64)
    eff = {k: float(prm.experiment_effects.get(k, 0.0)) for k in ("purchase", "dropout", "spend")}
    lam = lam_base * np.exp(_lin(Xa, prm.coefficients("purchase")) + eff["purchase"] * treated)
    mu = mu_base * np.exp(_lin(Xa, prm.coefficients("dropout")) + eff["dropout"] * treated)
    lifetime = rng_buy.standard_exponential(n) / mu
    horizon = calibration_weeks + holdout_weeks
    active = np.minimum(birth + lifetime, horizon) - birth
    n_repeat = rng_buy.poisson(lam * active)
    owner = np.repeat(np.arange(n), n_repeat)
    times = birth[owner] + rng_buy.random(owner.size) * active[owner]
    owner = np.concatenate([np.arange(n), owner])
    times = np.concatenate([birth, times])

    v = prm.v0 * np.exp(_lin(Xa, prm.coefficients("spend")) + eff["spend"] * treated)
    nu = rng_spend.gamma(prm.q, 1.0 / v)
    values = rng_spend.gamma(prm.p, 1.0 / nu[owner])
    transactions = purchases_frame(ids, t0, owner, times, values)

    theta = rng_contract.beta(prm.churn_alpha, prm.churn_beta, n)
    theta_ph = -np.expm1(np.exp(_lin(Xa, prm.coefficients("churn"))) * np.log1p(-theta))
    sub = simulate_lifetimes(theta_ph, 1.0, np.full(n, float(prm.contract_periods)), rng_contract)
    subscriptions = pd.DataFrame(
        {
            "customer_id": ids.to_numpy(),
            "periods_observed": sub["periods_observed"],
            "churned": sub["churned"],
        }
    )

    acquisition, acq_truth = _acquisition(prm, X, horizon, t0, rng_acq)
    latent = pd.DataFrame(
        {
            "birth_week": birth,
            "T": calibration_weeks - birth,
            "service": service,
            "lambda_base": lam_base,
            "mu_base": mu_base,
            "lambda": lam,
            "mu": mu,
            "lifetime": lifetime,
            "alive": birth + lifetime > calibration_weeks,
            "nu": nu,
            "theta": theta,
            "theta_ph": theta_ph,
            "treated": treated,
        },
        index=ids,
    )
    truth = Truth(prm, X, latent, cutoff, end, acq_truth)
    who = np.flatnonzero(enrolled)
    experiment = pd.DataFrame(
        {
            "customer_id": ids.to_numpy()[who],
            "arm": np.where(treated[who] > 0, "treatment", "control").astype(object),
            "start": week_dates(t0, birth[who]),
        }
    )
    return CXWorld(transactions, events, customers, subscriptions, acquisition, truth, experiment)


def _cx_events(
    prm: WorldParams,
    ids: np.ndarray,
    birth: np.ndarray,
    service: np.ndarray,
    t0: pd.Timestamp,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Onboarding contacts, complaints, CSAT and NPS surveys (vectorised)."""
    n = ids.size
    ob = prm.onboarding_weeks
    n_contacts = rng.poisson(prm.contact_rate * np.exp(-0.3 * service))
    who = np.repeat(np.arange(n), n_contacts)
    c_time = birth[who] + rng.random(who.size) * ob
    wait = np.round(
        np.exp(
            np.log(prm.wait_median_seconds)
            - 0.3 * service[who]
            + 0.6 * rng.standard_normal(who.size)
        )
    )
    resolved = (rng.random(who.size) < 1.0 / (1.0 + np.exp(-(0.8 + 0.8 * service[who])))).astype(
        np.float64
    )
    follow = (resolved == 0) & (rng.random(who.size) < prm.complaint_after_unresolved)
    k_spont = rng.poisson(prm.spontaneous_complaint_rate * np.exp(-0.5 * service))
    who_s = np.repeat(np.arange(n), k_spont)
    comp_who = np.concatenate([who[follow], who_s])
    comp_time = np.concatenate(
        [
            c_time[follow] + rng.random(int(follow.sum())) * 3 / 7,
            birth[who_s] + rng.random(who_s.size) * ob,
        ]
    )
    unresolved = np.bincount(who, 1.0 - resolved, minlength=n)
    sat = service - 0.5 * unresolved + 0.5 * rng.standard_normal(n)
    p_resp = 1.0 / (1.0 + np.exp(-(prm.nps_response_intercept + prm.nps_response_slope * sat)))
    responded = rng.random(n) < p_resp
    nps = np.clip(np.round(7.0 + 1.8 * sat), 0, 10)
    nps_who = np.flatnonzero(responded)
    nps_time = birth[nps_who] + ob
    effort = np.clip(
        np.round(7.0 + 1.2 * sat[nps_who] + 0.5 * rng.standard_normal(nps_who.size), 1), 0, 10
    )
    asked = rng.random(who.size) < prm.csat_response
    csat = np.clip(np.round(3.3 + 0.8 * sat[who] + 0.8 * resolved), 1, 5)
    parts = [
        (who, c_time, "contact_wait_seconds", wait),
        (who, c_time, "contact_resolved_first", resolved),
        (comp_who, comp_time, "complaint", np.ones(comp_who.size)),
        (who[asked], c_time[asked] + 1 / 168, "csat", csat[asked]),
        (nps_who, nps_time, "nps", nps[nps_who]),
        (nps_who, nps_time, "pillar_time_effort", effort),
    ]
    return events_frame(ids, t0, parts)


def _acquisition(
    prm: WorldParams, X: pd.DataFrame, n_periods: int, t0: pd.Timestamp, rng: np.random.Generator
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Weekly new-customer counts driven by the lagged weekly promoter share."""
    answered = X["nps_missing"].to_numpy() == 0
    share = float(X["promoter"].to_numpy()[answered].mean()) if answered.any() else 0.3
    share = min(max(share, 0.02), 0.98)
    e = np.zeros(n_periods + 1)
    shocks = 0.3 * rng.standard_normal(n_periods + 1)
    for k in range(1, n_periods + 1):  # AR(1) on the logit scale: n_periods steps, cheap
        e[k] = 0.7 * e[k - 1] + shocks[k]
    series = 1.0 / (1.0 + np.exp(-(np.log(share / (1 - share)) + e)))
    lagged = series[:-1]  # x(t) = promoter share of week t - 1
    params = acq.AcquisitionParams(prm.acq_r, prm.acq_alpha, 1.0, prm.acq_m, [prm.acq_beta])
    sim = acq.simulate(params, n_periods, covariates=lagged[:, None], rng=rng)
    frame = pd.DataFrame(
        {
            "period": np.arange(1, n_periods + 1),
            "week_start": t0 + pd.to_timedelta(7 * np.arange(n_periods), unit="D"),
            "new_customers": sim["counts"],
            "promoter_share_lag1": lagged,
        }
    )
    truth = {
        "r": prm.acq_r,
        "alpha": prm.acq_alpha,
        "c": 1.0,
        "m": prm.acq_m,
        "beta": {"promoter_share_lag1": prm.acq_beta},
    }
    return frame, truth
