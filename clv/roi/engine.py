r"""Counterfactual engine: incremental customer equity of experience investments, per draw.

For every parameter draw (draws from the MLE's asymptotic normal, shared by
all investments: common random numbers) the engine

1. conditions each customer on their actual history and actual covariates
   (P(alive), the posterior purchase rate, expected spend);
2. applies the investment's signal shifts :math:`\Delta x_i` to the future
   only, period by period (ramp-up, duration), as rate multipliers
   :math:`e^{\gamma^\top \Delta x_i}` on the purchase rate, the dropout rate
   and the mean spend (:mod:`clv.roi._math`);
3. sums margin × expected purchases × expected spend per future period and
   discounts at :math:`(1+d)^{-k}` per period of the data.

With a :class:`ServiceCost` the margin is net of the cost to serve: each
customer's future service contacts (a rate model fitted on the CX events,
:class:`clv.cx.contacts.ContactModel`) times the cost per contact, while
alive. Investments that lower the contact rate (first-contact resolution,
self-service) then pay through fewer contacts, and investments that keep
customers longer also pay for serving them longer.

The gain is split into the levers (acquisition, retention, repeat purchase,
spend and, with a service-cost model, service cost) by the exact Shapley value
over the processes switched on one at a time, so the parts sum to the total.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from clv._units import per_period_rate
from clv.exceptions import DataError, Problem
from clv.models import _covariates as _cov
from clv.models import gamma_gamma, pareto_nbd
from clv.models._base import ParametricModel
from clv.roi import _jit, _math
from clv.roi import scope as _scope
from clv.roi.conditions import ConditionError, evaluate_condition
from clv.roi.spec import PATH_MODES, Evidence, Investment, Shift, coefficient_parts

__all__ = ["ALL", "LEVERS", "CounterfactualEngine", "NewCustomers", "ServiceCost", "period_rate"]

#: The levers of customer value, in report order: the four of Fader's customer value and the
#: cost to serve (fewer or more service contacts).
LEVERS = ("acquisition", "retention", "repeat_purchase", "spend", "service_cost")
_PROCESS_LEVER = {
    "dropout": "retention",
    "purchase": "repeat_purchase",
    "spend": "spend",
    "contact": "service_cost",
}
#: Coalition index with every lever switched on (bits: retention, repeat, spend, acquisition,
#: service cost).
ALL = 31
_N_COALITIONS = 32
_RFM = ("frequency", "recency", "T")


def period_rate(annual_rate: float, periods_per_year: float) -> float:
    """Discount rate per period equivalent to an annual rate.

    Examples
    --------
    >>> round(period_rate(0.10, 52), 6)
    0.001835
    """
    return per_period_rate(annual_rate, periods_per_year)


_coef_name = coefficient_parts


def _seed(*parts: object) -> list[int]:
    return [zlib.crc32(repr(p).encode()) for p in parts]


def model_family(model: Any) -> type:
    """The maximum-likelihood class a model mirrors: its own class, or a Bayesian model's
    ``mle_class`` (so a :mod:`clv.bayes` model counts as its maximum-likelihood family)."""
    family = getattr(model, "mle_class", None)
    return family if isinstance(family, type) else type(model)


def _model_draws(model: Any, n_draws: int, seed: int) -> pd.DataFrame:
    """Parameter draws (``sample_params``): MLE asymptotic normal, or posterior draws."""
    rng = np.random.default_rng(_seed(seed, "params", type(model).__name__))
    return model.sample_params(n_draws, random_state=rng)


def _individual(
    model: Any, data: pd.DataFrame, draw: pd.Series, cache: dict[str, Any] | None = None
) -> Mapping[str, np.ndarray]:
    """Each customer's base parameters under one parameter draw (covariates applied).

    ``individual_params`` validates the covariate columns and builds their matrices on
    every call; for the maximum-likelihood models (whose ``individual_params`` is
    :class:`~clv.models._base.ParametricModel`'s) the validated matrices are kept in
    ``cache`` and each draw only applies its coefficients (the same function,
    :func:`clv.models._covariates.individual_params`, on the same numbers).
    """
    kind = type(model)
    series = pd.Series(draw, dtype=np.float64)
    if (
        cache is None
        or kind.individual_params is not ParametricModel.individual_params
        or kind._customer_params is not ParametricModel._customer_params
        or not all(isinstance(k, str) for k in series.index)
    ):
        ind = model.individual_params(data, params=draw)
        return {c: ind[c].to_numpy(dtype=np.float64) for c in ind.columns}
    p = dict(zip(series.index, series.to_numpy(), strict=True))  # scalar lookups, not pandas
    missing = [n for n in model._param_names() if n not in p]
    if missing:
        raise ValueError(f"params is missing {missing}; expected {model._param_names()}.")
    base = model.spec.params(*(np.float64(p[f]) for f in model.spec.params._fields))
    if model._design:
        if "X" not in cache:
            cache["X"] = model._design.matrices(data, f"the covariates passed to {kind.__name__}")
        base = _cov.individual_params(base, model._levers, cache["X"], model._coefficients(p))
    n = len(data)
    return {
        k: np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)) for k, v in base._asdict().items()
    }


@dataclass
class _Unit:
    """One investment's effect on a set of rows: what changes, when, with which coefficients."""

    rows: np.ndarray  # positions in the scoring frame
    delta: dict[str, np.ndarray]  # column -> (S, len(rows)) change of the feature
    profile: np.ndarray  # (H,) share of the effect in force per period
    coefs: dict[str, np.ndarray]  # "process[column]" -> (S,) coefficient draws
    acquisition: list[tuple[str, str, np.ndarray, float]] = field(default_factory=list)
    #  (covariate, mode, (S,) amounts, scale): shifts of the acquisition model's future covariates
    scope: dict[str, np.ndarray] = field(default_factory=dict)
    #  scoped evidence coefficient -> in-scope mask over rows (clv.roi.scope); such a
    #  coefficient's draws are (S, rows): evidence inside, the fitted fallback outside
    changed: tuple[tuple[np.ndarray, ...], np.ndarray] | None = field(default=None, repr=False)
    #  (the delta arrays it was found from, mask over rows of the customers they change)


def changed_rows(unit: _Unit) -> np.ndarray:
    """Mask over ``unit.rows`` of the customers whose features change in some draw.

    The others add exactly nothing to any value (their rate multipliers are 1), so the
    engine leaves them out of its passes. Kept on the unit with the arrays it was found
    from (a unit given other changes, e.g. by ``dataclasses.replace``, finds it anew).
    """
    arrays = tuple(unit.delta.values())
    if unit.changed is not None:
        source, mask = unit.changed
        if len(source) == len(arrays) and all(a is b for a, b in zip(source, arrays, strict=True)):
            return mask
    mask = np.zeros(len(unit.rows), dtype=bool)
    for d in arrays:
        mask |= d[0] != 0 if d.strides[0] == 0 else np.any(d != 0, axis=0)
    unit.changed = (arrays, mask)
    return mask


@dataclass(frozen=True)
class NewCustomers:
    """Future cohorts: an acquisition model with period covariates and the value of a newcomer.

    Parameters
    ----------
    model : AcquisitionModel
        Fitted with period covariates (e.g. the share of promoters, referral
        volume); its periods must be the valuation periods (e.g. monthly counts
        for monthly valuation).
    covariates : DataFrame
        The covariates of the future periods as they would be without any
        investment (index: the model's period numbers, as for
        ``AcquisitionModel.expected_arrivals``).
    value_per_customer : float
        Present value, at acquisition, of a new customer's contribution margin
        (e.g. :func:`clv.new_customer_value` with the same margin).
    start_period : int, optional
        The model's period that is valuation period 1 (default: the first period
        after its calibration).
    periods_per_valuation : float, default 1.0
        Acquisition-model periods per valuation period, e.g. ``365.25 / 12 / 7``
        for a weekly model valued monthly (``covariates`` then cover
        ``ceil(horizon * periods_per_valuation)`` future model periods). Arrivals
        are cumulated over model periods and read off at the valuation periods'
        boundaries (linear within a model period); an investment's ramp-up and
        duration act on the model period whose middle falls in the valuation period.
    """

    model: Any
    covariates: pd.DataFrame
    value_per_customer: float
    start_period: int | None = None
    periods_per_valuation: float = 1.0

    def model_periods(self, horizon: int) -> int:
        """Future acquisition-model periods that cover ``horizon`` valuation periods."""
        return max(1, math.ceil(horizon * float(self.periods_per_valuation) - 1e-9))


@dataclass(frozen=True)
class ServiceCost:
    """Cost to serve: future service contacts per customer times the cost per contact.

    Parameters
    ----------
    model : ContactModel
        Fitted :class:`clv.cx.contacts.ContactModel`: contacts per unit of the
        data's time unit, with covariates from the scoring frame. Its coefficients
        ``contact[<column>]`` let investments that shift those columns change the
        number of contacts (an association, evidence grade C, unless an
        investment's evidence gives ``contact[<column>]``).
    cost_per_contact : float or mapping
        Currency per contact; or per channel ``{"phone": 6.0, "web": 1.5}`` with
        the customer's channel in ``channel_column`` (a ``"default"`` key covers
        channels not listed).
    channel_column : str, optional
        Column of the scoring frame with each customer's service channel.
    eligible_column : str, optional
        Column whose value is > 0 for the customers the model covers (e.g. the
        number of past contacts: the model of repeat contacts is fitted on
        customers who have contacted); the others carry no modelled service cost.
    """

    model: Any
    cost_per_contact: float | Mapping[str, float]
    channel_column: str | None = None
    eligible_column: str | None = None

    def costs(self, data: pd.DataFrame) -> np.ndarray:
        """Cost per contact of each row of ``data`` (0 where not eligible)."""
        cpc = self.cost_per_contact
        if isinstance(cpc, Mapping):
            if self.channel_column is None or self.channel_column not in data.columns:
                raise ValueError(
                    "cost_per_contact by channel needs channel_column, a column of "
                    f"the scoring data; got {self.channel_column!r}."
                )
            table = {str(k): float(v) for k, v in cpc.items()}
            bad = [k for k, v in table.items() if not (math.isfinite(v) and v >= 0)]
            if bad:
                raise ValueError(f"cost_per_contact must be finite and >= 0; check {bad}.")
            channels = data[self.channel_column].astype(str)
            unknown = sorted(set(channels) - set(table))
            if unknown and "default" not in table:
                raise ValueError(
                    f"no cost per contact for channel(s) {unknown[:5]} of column "
                    f"{self.channel_column!r}; add them or a 'default' cost."
                )
            out = channels.map(lambda c: table.get(c, table.get("default", 0.0))).to_numpy(
                dtype=np.float64
            )
        else:
            value = float(cpc)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"cost_per_contact must be finite and >= 0, got {cpc!r}.")
            out = np.full(len(data), value)
        if self.eligible_column is not None:
            if self.eligible_column not in data.columns:
                raise ValueError(
                    f"eligible_column {self.eligible_column!r} is not in the scoring data."
                )
            out = out * (data[self.eligible_column].to_numpy(dtype=np.float64) > 0)
        return out


@dataclass
class _DrawState:
    """Per-draw, per-customer quantities shared by every investment (the baseline)."""

    weight: np.ndarray  # margin × P(alive) × E[rate | alive] × E[spend]   (n,)
    s: np.ndarray | None  # dropout shape, per customer (n,); None with sampled rates ``mu``
    base: np.ndarray | None  # beta_i + T (n,); None with sampled rates ``mu``
    stored_j0: np.ndarray | None  # baseline per-period integrals (n, H); None: from ``mu``
    mu: np.ndarray | None = None  # sampled dropout rates (customer uncertainty), else None
    contact: np.ndarray | None = None  # cost to serve per unit time alive × P(alive) (n,)
    horizon: int = 0
    step: float = 1.0

    @property
    def j0(self) -> np.ndarray:
        """Baseline per-period integrals (n, H); with sampled dropout rates recomputed on
        demand (a closed form), so the engine does not hold S × n × H numbers."""
        if self.stored_j0 is not None:
            return self.stored_j0
        assert self.mu is not None
        return _math.period_survival_integrals(self.mu, None, self.horizon, self.step)

    def integrals(
        self, rows: np.ndarray, multiplier: np.ndarray, horizon: int, step: float
    ) -> np.ndarray:
        """Per-period survival-weighted time under a dropout multiplier (rows, H)."""
        if self.mu is None:
            assert self.s is not None and self.base is not None
            return _math.period_purchase_integrals(
                self.s[rows], self.base[rows], multiplier, horizon, step
            )
        return _math.period_survival_integrals(self.mu[rows], multiplier, horizon, step)

    def baseline_flows(
        self, rows: np.ndarray | None = None, weight: np.ndarray | None = None
    ) -> np.ndarray:
        """Undiscounted baseline margin per period of ``rows`` (all customers if None), (H,).

        ``weight`` replaces the margin weight (n,) of every customer (e.g. net of the cost
        to serve)."""
        w = self.weight if weight is None else weight
        w = w if rows is None else w[rows]
        if self.mu is None:  # einsum: no BLAS threads for a product this small
            return np.einsum("n,nh->h", w, self.j0 if rows is None else self.j0[rows])
        if _jit.AVAILABLE:  # one compiled pass per customer (clv.roi._jit)
            index = np.arange(len(self.mu)) if rows is None else np.asarray(rows)
            every_w = self.weight if weight is None else weight
            return _jit.baseline_sums(index, every_w, self.mu, self.horizon, self.step)
        mu = self.mu if rows is None else self.mu[rows]
        lengths = np.array([self.horizon])
        runs = _math.survival_runs(mu, None, lengths, self.step)
        lead = self.step * runs.start * runs.frac * w
        return _math.run_period_sums([lead], [runs.factor], lengths)


@dataclass
class CounterfactualEngine:
    """Evaluate investments against fitted models, with shared parameter draws.

    Parameters
    ----------
    transaction_model : ParetoNBDModel
        Fitted Pareto/NBD (with or without covariates), maximum-likelihood or
        Bayesian (:class:`clv.bayes.ParetoNBDModel`: its posterior draws are
        used). Its covariates act as individual rate multipliers, so "shift
        the future" is exact.
    spend_model : GammaGammaModel or float
        Fitted Gamma-Gamma (with or without spend covariates; MLE or
        Bayesian), or a fixed value per purchase.
    data : DataFrame
        One row per customer (index = customer id): ``frequency``, ``recency``,
        ``T``, ``monetary_value`` (for Gamma-Gamma), every model covariate, and any
        column used by investment targets.
    horizon : int
        Future periods valued (data's time unit).
    discount_rate : float
        Per period of the data (see :func:`period_rate`).
    margin : float
        Contribution margin as a share of spend.
    n_draws : int, default 200
        Parameter draws (Monte Carlo size of every interval).
    random_state : int, default 0
        Seed: the same seed gives the same numbers.
    period_length : float, default 1.0
        Length of a valuation period in the data's time unit: e.g. 7 to value in
        weeks a model fitted on daily RFM data. ``horizon``, ``discount_rate``,
        ramp-up, duration and cost periods are then in valuation periods.
    customer_uncertainty : bool, default True
        Each draw also samples every customer's latent state from its posterior
        given the history (alive or not, purchase rate, dropout rate, mean spend),
        so intervals describe the value this customer base will generate, not only
        the parameter uncertainty. The same latent draws serve every investment
        (common random numbers). ``False``: expectations over the latent states.
    new_customers : NewCustomers, optional
        Future cohorts through an acquisition model: investments that shift its
        covariates (e.g. the promoter share) bring more (or fewer) new customers,
        the acquisition lever.
    service_cost : ServiceCost, optional
        Cost to serve: the margin becomes net of future service contacts, and
        investments that shift the contact model's covariates act on the
        service-cost lever.
    causal_share : CausalShare, optional
        Prior on the causal share of the fitted (grade C) coefficients: each draw
        scales them by a share drawn from it (:mod:`clv.roi.confounding`). None:
        the fitted coefficients as they are (fully causal).
    """

    transaction_model: Any
    spend_model: Any
    data: pd.DataFrame
    horizon: int
    discount_rate: float
    margin: float = 1.0
    n_draws: int = 200
    random_state: int = 0
    period_length: float = 1.0
    customer_uncertainty: bool = True
    new_customers: NewCustomers | None = None
    service_cost: ServiceCost | None = None
    causal_share: Any = None
    closed_form: bool = field(default=True, repr=False)
    _states: list[_DrawState] = field(default_factory=list, init=False, repr=False)
    _unit_cache: dict[Any, Any] = field(default_factory=dict, init=False, repr=False)
    # validated covariate matrices of the models, built once for every draw (see _individual)
    _param_cache: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"transaction": {}, "spend": {}}, init=False, repr=False
    )

    def __post_init__(self) -> None:
        self._check_inputs()
        self.horizon = int(self.horizon)
        seed = int(self.random_state)
        self.transaction_draws_ = _model_draws(self.transaction_model, self.n_draws, seed)
        if isinstance(self.spend_model, int | float):
            self.spend_draws_ = None
        else:
            self.spend_draws_ = _model_draws(self.spend_model, self.n_draws, seed)
        self.discount_ = _math.discount_factors(self.horizon, self.discount_rate)
        self.share_draws_ = (
            None if self.causal_share is None else self.causal_share.draws(self.n_draws, seed)
        )
        self._x = self.data[list(_RFM)].to_numpy(dtype=np.float64)
        # customers' latent draws follow an order of the data's numeric columns, not of the
        # ids, so the same customers get the same draws however the ids are typed or sorted
        numeric = self.data.select_dtypes(include="number")
        self._order = np.lexsort(numeric.to_numpy(dtype=np.float64).T[::-1])
        self._service_setup()
        # draws are independent (each seeds its own latent draws): threads on large frames
        self._states = _jit.map_draws(self._baseline, range(self.n_draws), len(self.data))
        self._acquisition_setup()

    def with_horizon(
        self,
        horizon: int,
        new_customers: NewCustomers | None = None,
        *,
        fully_causal: bool = False,
    ) -> CounterfactualEngine:
        """The same engine over another horizon: the same parameter draws, causal shares and
        customers' latent states (none of them depends on the horizon), so only the
        per-period integrals and the acquisition periods are redone, not the baseline.

        ``new_customers`` replaces the future cohorts (their covariates must cover the new
        horizon); by default the engine's own. ``fully_causal`` drops the causal-share
        prior (fitted effects taken as they are). An engine class with its own ``flows``
        is rebuilt instead (its states may depend on the horizon).
        """
        if not (isinstance(horizon, int | np.integer) and horizon >= 1):
            raise ValueError(f"horizon must be a whole number of periods >= 1, got {horizon!r}.")
        nc = self.new_customers if new_customers is None else new_customers
        if type(self).flows is not CounterfactualEngine.flows:
            share = None if fully_causal else self.causal_share
            return replace(self, horizon=int(horizon), new_customers=nc, causal_share=share)
        other = copy.copy(self)
        other.horizon = int(horizon)
        other.new_customers = nc
        if fully_causal:
            other.causal_share = None
            other.share_draws_ = None
        other.discount_ = _math.discount_factors(other.horizon, self.discount_rate)
        other._unit_cache = {}
        step = float(self.period_length)
        other._states = [
            replace(
                st,
                horizon=other.horizon,
                stored_j0=None
                if st.stored_j0 is None or st.s is None or st.base is None
                else _math.period_purchase_integrals(st.s, st.base, None, other.horizon, step),
            )
            for st in self._states
        ]
        other._acquisition_setup()
        return other

    # ------------------------------------------------------------------ service cost
    def _service_setup(self) -> None:
        sc = self.service_cost
        self.contact_draws_ = None
        if sc is None:
            return
        if not isinstance(sc, ServiceCost):
            raise TypeError("service_cost must be a ServiceCost.")
        sc.model._check_fitted()
        self._contact_cost = sc.costs(self.data)
        rng = np.random.default_rng(_seed(self.random_state, "params", "contact"))
        self.contact_draws_ = sc.model.sample_params(self.n_draws, random_state=rng)

    def _contact_weight(self, i: int, alive: np.ndarray) -> np.ndarray | None:
        """Cost to serve per unit of time alive under draw ``i`` (times P(alive)), (n,)."""
        if self.contact_draws_ is None:
            return None
        assert self.service_cost is not None
        rate = self.service_cost.model.rate(self.data, self.contact_draws_.iloc[i])
        return self._contact_cost * rate * alive

    # ------------------------------------------------------------------ acquisition
    def _acquisition_setup(self) -> None:
        nc = self.new_customers
        self.acquisition_draws_ = None
        if nc is None:
            return
        model = nc.model
        model._check_fitted()
        names = list(getattr(model, "covariate_names_", []) or [])
        if not names:
            raise ValueError(
                "new_customers.model must be an AcquisitionModel fitted with period "
                "covariates (investments act on the lever through them)."
            )
        value = float(nc.value_per_customer)
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"new_customers.value_per_customer must be >= 0, got {value!r}.")
        start = int(model.n_periods_) + 1 if nc.start_period is None else int(nc.start_period)
        if start < 1:
            raise ValueError("new_customers.start_period must be >= 1.")
        ratio = float(nc.periods_per_valuation)
        if not (math.isfinite(ratio) and ratio > 0):
            raise ValueError(
                "new_customers.periods_per_valuation must be > 0, "
                f"got {nc.periods_per_valuation!r}."
            )
        n_future = nc.model_periods(self.horizon)
        self._acq_n = start + n_future - 1
        self._acq_future = np.arange(start - 1, self._acq_n)
        # valuation period of each future model period (by its middle), and the
        # valuation periods' ends in model periods
        self._acq_slot = np.minimum(
            ((np.arange(n_future) + 0.5) / ratio).astype(np.int64), self.horizon - 1
        )
        self._acq_ends = np.minimum(np.arange(1, self.horizon + 1) * ratio, n_future)
        self._acq_ratio = ratio
        self._acq_X0 = np.asarray(
            model._covariates_for(self._acq_n, nc.covariates), dtype=np.float64
        )
        self._acq_names = names
        self._acq_value = value
        self.acquisition_draws_ = _model_draws(model, self.n_draws, int(self.random_state))

    def _acquisition_flow(self, units: Sequence[_Unit], i: int) -> np.ndarray | None:
        """Incremental margin from extra new customers per valuation period, draw ``i``."""
        shifts = [(u, s) for u in units for s in u.acquisition]
        if not shifts or self.acquisition_draws_ is None:
            return None
        from clv.models import acquisition as acq

        model = self.new_customers.model  # type: ignore[union-attr]
        row = self.acquisition_draws_.iloc[i].copy()
        for unit in units:
            for name, draws in unit.coefs.items():
                parsed = _coef_name(name)
                if parsed and parsed[0] == "acquisition":
                    row[name] = draws[i]
        params = model._canonical(row.to_numpy(dtype=np.float64), list(row.index))
        X1 = self._acq_X0.copy()
        fut = self._acq_future
        for unit, (col, mode, amounts, scale) in shifts:
            j = self._acq_names.index(col)
            x = self._acq_X0[fut, j]
            w = scale * unit.profile[self._acq_slot]  # share of the change in force per period
            if mode == "add":
                change = amounts[i] * w
            elif mode == "relative":
                change = x * amounts[i] * w
            else:  # set: move towards the target
                change = (amounts[i] - x) * w
            X1[fut, j] += change
        base = acq.expected_arrivals(params, self._acq_n, self._acq_X0)[fut]
        shifted = acq.expected_arrivals(params, self._acq_n, X1)[fut]
        extra = shifted - base
        if self._acq_ratio != 1.0:  # cumulate over model periods, read at valuation ends
            cum = np.concatenate([[0.0], np.cumsum(extra)])
            at = np.interp(self._acq_ends, np.arange(len(cum)), cum)
            extra = np.diff(np.concatenate([[0.0], at]))
        return extra * self._acq_value

    # ------------------------------------------------------------------ checks
    def _check_inputs(self) -> None:
        if not issubclass(model_family(self.transaction_model), pareto_nbd.ParetoNBDModel):
            raise TypeError(
                "the counterfactual engine needs a fitted clv.models.ParetoNBDModel (or "
                "clv.bayes.ParetoNBDModel): its "
                "covariates multiply each customer's purchase and dropout rates, so a shift of the "
                f"future is exact. Got {type(self.transaction_model).__name__}; BG/NBD covariates "
                "move the population distribution, not individual customers."
            )
        self.transaction_model._check_fitted()
        spend = self.spend_model
        ok = isinstance(spend, int | float) or issubclass(
            model_family(spend), gamma_gamma.GammaGammaModel
        )
        if isinstance(spend, bool) or not ok:
            raise TypeError("spend_model must be a fitted GammaGammaModel or a value per purchase.")
        if isinstance(spend, int | float) and not (math.isfinite(spend) and spend > 0):
            raise ValueError(f"a fixed spend per purchase must be > 0, got {spend!r}.")
        if not isinstance(self.data, pd.DataFrame):
            raise DataError(
                f"expected a pandas DataFrame, got {type(self.data).__name__}",
                what="the scoring data",
            )
        need = list(_RFM) + ([] if isinstance(spend, int | float) else ["monetary_value"])
        missing = [c for c in need if c not in self.data.columns]
        if missing:
            raise DataError(
                [
                    Problem(
                        c,
                        "column is missing",
                        "pass the RFM frame (clv.data.rfm_summary) joined with the features",
                    )
                    for c in missing
                ],
                what="the scoring data",
            )
        if len(self.data) == 0:
            raise DataError(
                [Problem(None, "there are no customers", "pass a non-empty frame")],
                what="the scoring data",
            )
        if not (isinstance(self.horizon, int | np.integer) and self.horizon >= 1):
            raise ValueError(
                f"horizon must be a whole number of periods >= 1, got {self.horizon!r}."
            )
        if not (math.isfinite(self.discount_rate) and self.discount_rate >= 0):
            raise ValueError(f"discount_rate must be >= 0 per period, got {self.discount_rate!r}.")
        if not (math.isfinite(self.margin) and self.margin > 0):
            raise ValueError(f"margin must be > 0, got {self.margin!r}.")
        if not (np.isfinite(self.period_length) and self.period_length > 0):
            raise ValueError(f"period_length must be > 0, got {self.period_length!r}.")
        if not (isinstance(self.n_draws, int) and self.n_draws >= 2):
            raise ValueError(f"n_draws must be a whole number >= 2, got {self.n_draws!r}.")

    # ------------------------------------------------------------------ baseline
    def _baseline(self, i: int) -> _DrawState:
        draw = self.transaction_draws_.iloc[i]
        ind = _individual(self.transaction_model, self.data, draw, self._param_cache["transaction"])
        r, alpha, s, beta = (ind[c] for c in ("r", "alpha", "s", "beta"))
        x, t_x, T = self._x.T
        params = pareto_nbd.PNBDParams(r, alpha, s, beta)
        p_alive = np.asarray(pareto_nbd.probability_alive(params, x, t_x, T), dtype=np.float64)
        base = beta + T
        if self.customer_uncertainty:
            rng = np.random.default_rng(_seed(self.random_state, "customers", i))
            alive = self._canonical(lambda o: rng.random(len(o)) < p_alive[o])
            lam = self._canonical(lambda o: rng.gamma((r + x)[o])) / (alpha + T)
            mu = self._canonical(lambda o: rng.gamma(np.broadcast_to(s, x.shape)[o])) / base
            weight = self.margin * alive * lam * self._spend(i, rng)
            return _DrawState(  # s and base are in mu: not kept (S × n numbers each)
                weight,
                None,
                None,
                None,
                mu,
                self._contact_weight(i, alive),
                self.horizon,
                float(self.period_length),
            )
        rate = (r + x) / (alpha + T)
        weight = self.margin * p_alive * rate * self._spend(i)
        j0 = _math.period_purchase_integrals(s, base, None, self.horizon, self.period_length)
        return _DrawState(
            weight,
            s,
            base,
            j0,
            None,
            self._contact_weight(i, p_alive),
            self.horizon,
            float(self.period_length),
        )

    def _canonical(self, draw: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Values drawn in the canonical customer order, returned in the data's row order."""
        out = np.empty(len(self._order), dtype=np.float64)
        out[self._order] = draw(self._order)
        return out

    def _spend(self, i: int, rng: np.random.Generator | None = None) -> np.ndarray:
        r"""Expected spend per purchase; with ``rng``, a draw of each customer's mean spend
        :math:`p/\nu_i` from the posterior :math:`\nu_i \sim \mathrm{Gamma}(px+q, v_i+x\bar z)`."""
        if self.spend_draws_ is None:
            return np.full(len(self.data), float(self.spend_model))
        draw = self.spend_draws_.iloc[i]
        ind = _individual(self.spend_model, self.data, draw, self._param_cache["spend"])
        params = gamma_gamma.GGParams(*(ind[c] for c in ("p", "q", "v")))
        freq = self.data["frequency"].to_numpy(float)
        mv = self.data["monetary_value"].to_numpy(float)
        if rng is not None:
            p, q, v = params
            xm = np.where(freq > 0, freq * np.where(freq > 0, mv, 0.0), 0.0)
            shape = np.broadcast_to(p * freq + q, freq.shape)
            nu = self._canonical(lambda o: rng.gamma(shape[o])) / (v + xm)
            return p / nu
        out = np.asarray(gamma_gamma.expected_spend(params, freq, mv), dtype=np.float64)
        bad = ~np.isfinite(out)
        if bad.any():
            raise DataError(
                [
                    Problem(
                        "monetary_value",
                        "expected spend is undefined for "
                        f"{int(bad.sum())} customers under a parameter draw",
                        "check the Gamma-Gamma fit (q must exceed 1)",
                        rows=list(self.data.index[bad][:5]),
                    )
                ],
                what="the scoring data",
            )
        return out

    def baseline_rows(self, rows: np.ndarray) -> np.ndarray:
        """Undiscounted baseline margin per period of the customers ``rows``, per draw (S, H)."""
        return np.stack(
            [
                st.baseline_flows(rows)
                if hasattr(st, "baseline_flows")
                else np.einsum("n,nh->h", st.weight[rows], st.j0[rows])
                for st in self._states
            ]
        )

    def baseline_cash_flows(self) -> np.ndarray:
        """Undiscounted expected margin per future period, all customers, net of the modelled
        cost to serve: shape (S, H)."""
        return np.stack(
            [
                st.baseline_flows(weight=None if st.contact is None else st.weight - st.contact)
                for st in self._states
            ]
        )

    # ------------------------------------------------------------------ coefficients
    def coefficient_names(self) -> list[str]:
        """Covariate coefficients of the fitted models (``process[column]``)."""
        names = [n for n in self.transaction_draws_.columns if _coef_name(n)]
        for frame in (self.spend_draws_, self.contact_draws_):
            if frame is not None:
                names += [n for n in frame.columns if _coef_name(n)]
        return names

    def coefficient_grades(self, inv: Investment) -> dict[str, str]:
        """Evidence grade of each coefficient an investment uses: its evidence's grade for the
        coefficients its evidence gives, C (observational: a fitted model) for the others."""
        grades = dict.fromkeys(self.coefficient_names(), "C")
        grades.update({n: inv.evidence.coefficient_grade(n) for n in inv.evidence.coefficients})
        return grades

    def _coefficients(
        self, inv: Investment, share: float | np.ndarray | None = None, evidenced_only: bool = False
    ) -> dict[str, np.ndarray]:
        """Coefficient draws for ``inv``: fitted ones scaled by the causal share (``share``, else
        the engine's prior draws), the investment's evidence as given; ``evidenced_only``
        zeroes fitted and assumed (grade C and D) coefficients, keeping grades A and B."""
        coefs: dict[str, np.ndarray] = {}
        if share is None:
            share = self.share_draws_
        for frame in (self.transaction_draws_, self.spend_draws_, self.contact_draws_):
            if frame is None:
                continue
            for name in frame.columns:
                if _coef_name(name):
                    values = frame[name].to_numpy(dtype=np.float64)
                    if evidenced_only:
                        values = np.zeros_like(values)
                    elif share is not None:
                        values = values * share
                    coefs[name] = values
        for name, (mean, se) in inv.evidence.coefficients.items():
            parsed = _coef_name(name)
            if parsed is None or parsed[0] not in (*_PROCESS_LEVER, "acquisition"):
                raise ValueError(
                    f"investment {inv.name!r}: evidence coefficient {name!r} must be named "
                    "'purchase[<column>]', 'dropout[<column>]', 'spend[<column>]', "
                    "'contact[<column>]' or 'acquisition[<covariate>]'."
                )
            if parsed[0] == "contact" and self.service_cost is None:
                raise ValueError(
                    f"investment {inv.name!r}: {name!r} needs service_cost= (a "
                    "contact-rate model and the cost per contact)."
                )
            if parsed[0] == "acquisition" and (
                self.new_customers is None or parsed[1] not in self._acq_names
            ):
                raise ValueError(
                    f"investment {inv.name!r}: {name!r} needs new_customers= with "
                    f"an acquisition model that has the covariate {parsed[1]!r}."
                )
            if parsed[0] == "spend" and self.spend_draws_ is None:
                raise ValueError(
                    f"investment {inv.name!r}: {name!r} needs a Gamma-Gamma spend "
                    "model, not a fixed spend per purchase."
                )
            z = np.random.default_rng(_seed(self.random_state, "evidence", name)).standard_normal(
                self.n_draws
            )
            coefs[name] = mean + se * z
            if evidenced_only and inv.evidence.coefficient_grade(name) not in ("A", "B"):
                coefs[name] = np.zeros(self.n_draws)
        return coefs

    # ------------------------------------------------------------------ targets and shifts
    def _target_rows(self, inv: Investment) -> np.ndarray:
        data = self.data
        target = inv.target
        if isinstance(target, str) and target == "all":
            return np.arange(len(data))
        if isinstance(target, Mapping):
            mask = np.ones(len(data), dtype=bool)
            for col, values in target.items():
                if col not in data.columns:
                    raise ValueError(
                        f"investment {inv.name!r}: target column {col!r} is not in "
                        f"the scoring data (columns: {list(data.columns)})."
                    )
                vals = list(values) if isinstance(values, list | tuple | set) else [values]
                mask &= data[col].isin(vals).to_numpy()
            return np.flatnonzero(mask)
        return np.flatnonzero(self._query(inv, target, data))

    def _shift_rows_and_amount(
        self, inv: Investment, shift: Shift, k: int, sub: pd.DataFrame
    ) -> tuple[np.ndarray, np.ndarray]:
        """Which of the targeted rows ``sub`` a shift moves, and its amount per draw.

        A row is moved where the shift's ``where`` condition holds and the
        column was observed (its ``<column>_missing`` indicator is 0); the
        amount is drawn once per investment and shift (common random numbers
        across the engine's passes). Shared by the static and the path engine.
        """
        ok = np.ones(len(sub), dtype=bool)
        if shift.where:
            ok &= self._query(inv, shift.where, sub)
        miss = f"{shift.column}_missing"
        if miss in self.data.columns:
            ok &= sub[miss].to_numpy(dtype=np.float64) == 0
        amount = shift.amount + shift.sd * np.random.default_rng(
            _seed(self.random_state, "shift", inv.name, k)
        ).standard_normal(self.n_draws)
        return ok, amount

    @staticmethod
    def _query(inv: Investment, expr: str, frame: pd.DataFrame) -> np.ndarray:
        # parsed by clv.roi.conditions' own grammar: never eval'd by Python or pandas
        try:
            return evaluate_condition(expr, frame)
        except ConditionError as exc:
            raise ValueError(f"investment {inv.name!r}: {exc}") from None

    def _unit(
        self,
        inv: Investment,
        coefs: Mapping[str, np.ndarray] | None = None,
        scale: float = 1.0,
        share: float | np.ndarray | None = None,
        evidenced_only: bool = False,
    ) -> _Unit:
        coefs = dict(self._coefficients(inv, share, evidenced_only) if coefs is None else coefs)
        rows = self._target_rows(inv)
        columns = {c for n in coefs if (p := _coef_name(n)) for c in [p[1]]}
        delta: dict[str, np.ndarray] = {}
        acquisition: list[tuple[str, str, np.ndarray, float]] = []
        sub = self.data.iloc[rows]
        acq_names = self._acq_names if self.new_customers is not None else []
        for k, shift in enumerate(inv.shifts):
            if shift.mode in PATH_MODES:
                raise ValueError(
                    f"investment {inv.name!r}: mode {shift.mode!r} of {shift.column!r} changes "
                    "a per-period covariate path, which the static-covariate models do not "
                    "have; value it with the time-varying models (run_cx_roi(..., "
                    "time_varying=True), clv roi --time-varying) or use add/relative/set."
                )
            if shift.column in acq_names and shift.column not in self.data.columns:
                amount = shift.amount + shift.sd * np.random.default_rng(
                    _seed(self.random_state, "shift", inv.name, k)
                ).standard_normal(self.n_draws)
                if f"acquisition[{shift.column}]" not in inv.evidence.coefficients:
                    # a fitted acquisition coefficient is observational: its causal share
                    # scales the shift (exactly for 'add'/'relative' shifts of a log-linear hazard)
                    if evidenced_only:
                        amount = np.zeros_like(amount)
                    elif (s_ := self.share_draws_ if share is None else share) is not None:
                        amount = amount * s_
                elif evidenced_only and inv.grade not in ("A", "B"):
                    amount = np.zeros_like(amount)
                acquisition.append((shift.column, shift.mode, amount, scale))
                continue
            if shift.column not in self.data.columns:
                raise ValueError(
                    f"investment {inv.name!r}: shifted column {shift.column!r} is not "
                    "in the scoring data."
                )
            if shift.column not in columns:
                raise ValueError(
                    f"investment {inv.name!r}: {shift.column!r} is not a covariate of the fitted "
                    "models (nor of a contact model), so shifting it changes nothing. Fit the "
                    "models with it as a covariate, or give its effect as evidence, e.g. "
                    f"Evidence.assumption({{'dropout[{shift.column}]': (mean, se)}})."
                )
            x = sub[shift.column].to_numpy(dtype=np.float64)
            ok, amount = self._shift_rows_and_amount(inv, shift, k, sub)
            full = self.data[shift.column].to_numpy(dtype=np.float64)
            lo, hi = float(np.nanmin(full)), float(np.nanmax(full))  # stay in the observed range
            # one row serves every draw when the amount is certain (sd = 0): the (S, n) change
            # is then a read-only broadcast view, not S copies
            a = amount[:1] if bool(np.all(amount == amount[0])) else amount
            current = x + delta.get(shift.column, 0.0)
            if shift.mode == "add":
                new = current + a[:, None]
            elif shift.mode == "relative":
                new = current * (1.0 + a[:, None])
            else:
                new = np.broadcast_to(a[:, None], (len(a), len(rows)))
            new = np.clip(new, lo, hi)
            change = np.where(ok, new - x, delta.get(shift.column, 0.0))
            delta[shift.column] = change * scale
        delta = {c: np.broadcast_to(v, (self.n_draws, len(rows))) for c, v in delta.items()}
        profile = _math.ramp_profile(
            self.horizon,
            ramp_periods=inv.ramp_periods,
            duration=inv.duration,
            start=1 + inv.start_periods,
        )
        if not delta:
            rows = np.zeros(0, dtype=np.int64)
        masks: dict[str, np.ndarray] = {}
        if inv.evidence.scoped and len(rows):
            masks = _scope.scope_masks(
                inv, self.data.iloc[rows], self.data, self.transaction_model,
                lambda expr, frame: self._query(inv, expr, frame),
            )  # fmt: skip
            observational = dataclasses.replace(inv, evidence=Evidence())
            fallback = self._coefficients(observational, share, evidenced_only)
            coefs = _scope.apply_scope(coefs, fallback, masks)
        return _Unit(rows, delta, profile, coefs, acquisition, masks)

    # ------------------------------------------------------------------ evaluation
    def flows(
        self,
        units: Sequence[_Unit],
        draws: Sequence[int] | None = None,
        *,
        full_only: bool = False,
        per_period: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Incremental margin of the units applied together, per draw.

        Returns
        -------
        full : array (S, H)
            Undiscounted incremental margin (net of the cost to serve, if modelled) per
            period with every lever switched on.
        totals : array (S, 32)
            Present value of the incremental margin for each lever coalition ``b``:
            bit 0 = retention, bit 1 = repeat purchase, bit 2 = spend, bit 3 =
            acquisition, bit 4 = service cost (the contact rate) switched on
            (``b = ALL`` = 31: everything, the discounted ``full`` up to rounding).
            With ``full_only`` only column 31 is computed.

        ``per_period=False`` skips the per-period flows (``full`` is then zero) for
        callers that need the totals only: the totals come from sums per run of
        periods, the per-period flows cost a product per customer and period.

        After the call, ``last_service_change_`` (S,) holds the present value of the
        change in the cost to serve with every lever on (positive: more cost), which
        ``full`` and ``totals`` already subtract.

        Notes
        -----
        Coalitions of the existing customers' levers need totals only, so the
        per-period integrals are first discounted and summed within groups of
        periods that share the same effect profile (ramp-up, duration):
        ``O(customers × groups)`` per coalition. Acquisition adds its own value
        to every coalition that contains it. The cost to serve follows each
        customer's time alive: with retention switched on it covers the longer
        lives, with service cost switched on the contact rate changes.
        """
        full, totals, service = self.flows_batch(
            [units], draws, full_only=full_only, per_period=per_period
        )[0]
        #: present value of the change in the cost to serve per draw of the last call
        self.last_service_change_ = service
        return full, totals

    def flows_batch(
        self,
        variants: Sequence[Sequence[_Unit]],
        draws: Sequence[int] | None = None,
        *,
        full_only: bool = False,
        per_period: bool | Sequence[bool] = True,
    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """:meth:`flows` of several sets of units in one pass over the draws.

        Variants of one investment (its causal-share, evidenced-only and evidence-grade
        versions, scaled effects) share the customers, so each draw's baseline survival is
        computed once for all of them.

        ``per_period`` (one flag, or one per variant) as in :meth:`flows`.

        Returns
        -------
        list of (full, totals, service_change)
            Per variant: :meth:`flows`' two arrays and ``last_service_change_``.
        """
        if type(self).flows is not CounterfactualEngine.flows:  # an engine with its own flows
            out = []
            for units in variants:
                full, totals = self.flows(list(units), draws, full_only=full_only)
                service = getattr(self, "last_service_change_", None)
                service = np.zeros(len(full)) if service is None else np.array(service)
                out.append((full, totals, service))
            return out
        idx = range(self.n_draws) if draws is None else list(draws)
        plans = [self._plan(list(units)) for units in variants]
        wanted = (
            [bool(per_period)] * len(plans)
            if isinstance(per_period, bool | np.bool_)
            else [bool(v) for v in per_period]
        )
        if len(wanted) != len(plans):
            raise ValueError(f"per_period: one flag per variant ({len(plans)}), got {len(wanted)}.")
        for k, plan in enumerate(plans):  # variants on the same customers share baselines
            plan["per_period"] = wanted[k]
            plan["key"] = k
            for other in plans[:k]:
                if np.array_equal(other["rows"], plan["rows"]):
                    plan["key"] = other["key"]
                    break
        out = [
            (
                np.zeros((len(idx), self.horizon)),
                np.zeros((len(idx), _N_COALITIONS)),
                np.zeros(len(idx)),
            )
            for _ in plans
        ]
        for slot, i in enumerate(idx):
            shared: dict[Any, Any] = {}
            for plan, (full, totals, service) in zip(plans, out, strict=True):
                self._draw(plan, i, slot, full, totals, service, full_only, shared)
        return out

    def _plan(self, units: list[_Unit]) -> dict[str, Any]:
        """What every draw of :meth:`flows` needs about a set of units.

        Only the customers whose features some unit changes are evaluated: for the others
        the shifted and the baseline values are the same numbers, which cancel.
        """
        masks = [changed_rows(u) for u in units]
        kept = [u.rows if m.all() else u.rows[m] for u, m in zip(units, masks, strict=True)]
        rows = np.unique(np.concatenate(kept)) if units else np.zeros(0, int)
        rows = rows.astype(np.int64)
        profiles = np.stack([u.profile for u in units]) if units else np.zeros((0, self.horizon))
        plan: dict[str, Any] = {"units": units, "rows": rows, "profiles": profiles}
        if len(rows):
            _, first, group = np.unique(profiles.T, axis=0, return_index=True, return_inverse=True)
            group = group.reshape(-1)
            plan["rho"] = profiles[:, first]  # (U, G)
            summing = np.zeros((self.horizon, len(first)))
            summing[np.arange(self.horizon), group] = self.discount_  # (H, G)
            plan["summing"] = summing
            plan["starts"], plan["lengths"] = _math.profile_runs(profiles)
            plan["rho_runs"] = profiles[:, plan["starts"]]  # (U, R)
        # each unit's rows among ``rows`` (None: all of them) and its coefficient x change terms
        plan["g_rows"] = [None if len(k) == len(rows) else np.searchsorted(rows, k) for k in kept]
        # positions of those customers among each unit's rows (None: all of them)
        plan["keep"] = [None if m.all() else np.flatnonzero(m) for m in masks]
        plan["terms"] = [
            [
                (parts[0], coef, u.delta[parts[1]])
                for name, coef in u.coefs.items()
                if (parts := _coef_name(name))
                and parts[0] in _PROCESS_LEVER
                and parts[1] in u.delta
            ]
            for u in units
        ]
        return plan

    def _draw(
        self,
        plan: dict[str, Any],
        i: int,
        slot: int,
        full: np.ndarray,
        totals: np.ndarray,
        service: np.ndarray,
        full_only: bool,
        shared: dict[Any, Any],
    ) -> None:
        """Draw ``i`` of one set of units into row ``slot`` of the outputs."""
        units, rows = plan["units"], plan["rows"]
        acq_bit = 8
        acq = self._acquisition_flow(units, i)
        acq_total = 0.0 if acq is None else float(np.add.reduce(acq * self.discount_))
        if acq is not None and plan["per_period"]:
            full[slot] += acq
        if len(rows) == 0:
            for b in range(_N_COALITIONS):
                if b & acq_bit:
                    totals[slot, b] = acq_total
            return
        st = self._states[i]
        # per-process log multipliers at full effect, (units, rows) each, as one array
        stacked = np.zeros((len(_PROCESS_LEVER), len(units), len(rows)))
        g = dict(zip(_PROCESS_LEVER, stacked, strict=True))
        for u, target in enumerate(plan["g_rows"]):
            keep = plan["keep"][u]
            for process, coef, change in plan["terms"][u]:
                c_i, x_i = coef[i], change[i]
                if keep is not None:  # scoped coefficients have a draw per row
                    x_i = x_i[keep]
                    c_i = c_i[keep] if np.ndim(c_i) else c_i
                if target is None:
                    g[process][u] += c_i * x_i
                else:
                    g[process][u, target] += c_i * x_i
        if st.mu is not None and self.closed_form and _jit.AVAILABLE:
            self._compiled_draw(st, plan, stacked, full, totals, service, slot, full_only)
        elif st.mu is not None and self.closed_form:
            key = (plan["key"], tuple(plan["starts"].tolist()))
            self._closed_form_draw(
                st, plan, g, full, totals, service, slot, full_only, shared.setdefault(key, {})
            )
        else:
            g_cols = {p: v.T for p, v in g.items()}  # (rows, units)
            self._reference_draw(
                st,
                rows,
                g_cols,
                plan["profiles"],
                plan["rho"],
                plan["summing"],
                full if plan["per_period"] else np.zeros_like(full),
                totals,
                service,
                slot,
                full_only,
            )
        for b in range(_N_COALITIONS):
            if b & acq_bit:
                totals[slot, b] = totals[slot, b & ~acq_bit] + acq_total

    def _compiled_draw(
        self,
        st: _DrawState,
        plan: dict[str, Any],
        g: np.ndarray,
        full: np.ndarray,
        totals: np.ndarray,
        service: np.ndarray,
        slot: int,
        full_only: bool,
    ) -> None:
        """:meth:`_closed_form_draw` in one compiled pass per customer (:mod:`clv.roi._jit`):
        the same sums, to rounding; ``g`` (processes, units, rows) are the log multipliers."""
        rows = plan["rows"]
        shifted_dropout = bool(np.any(g[0]))
        contact_moves = bool(np.any(g[3]))
        serve = (
            st.contact is not None
            and (contact_moves or shifted_dropout)
            and bool(np.any(st.contact if len(rows) == len(self._order) else st.contact[rows]))
        )
        assert st.mu is not None
        sums = _jit.draw_sums(
            rows,
            st.weight,
            st.mu,
            st.contact if serve else None,
            g,
            plan["rho_runs"],
            plan["lengths"],
            self.discount_,
            float(self.period_length),
            shifted_dropout=shifted_dropout,
            serve=serve,
            contact_moves=contact_moves,
            per_period=plan["per_period"],
        )
        acc, cost, flows = sums[:8], sums[8 : _jit.N_SUMS], sums[_jit.N_SUMS :]
        coalitions = (7,) if full_only else range(8)
        for b in coalitions:
            totals[slot, b] = acc[b] - acc[0]
        totals[slot, 16:24] = totals[slot, :8]
        if serve:
            extra = 0.0
            for b in coalitions:
                extra = cost[b & 1] - cost[0]
                totals[slot, b] -= extra
                if contact_moves:
                    extra = cost[2 + (b & 1)] - cost[0]
                totals[slot, b | 16] -= extra
            service[slot] = extra  # b = 7: every lever on
        if plan["per_period"]:
            full[slot] += flows

    def _closed_form_draw(
        self,
        st: _DrawState,
        plan: dict[str, Any],
        g: dict[str, np.ndarray],
        full: np.ndarray,
        totals: np.ndarray,
        service: np.ndarray,
        slot: int,
        full_only: bool,
        base: dict[str, Any],
    ) -> None:
        """One draw of :meth:`flows` with sampled dropout rates, in closed form per run of
        periods with the same effect profile: ``O(customers × runs)`` for the coalition totals
        and two products per customer and period for the per-period flows, instead of the
        (customers × periods) integrals of :meth:`_reference_draw` (the same numbers up to
        rounding, tested). ``base`` caches the draw's baseline for variants on the same rows."""
        rows, rho = plan["rows"], plan["rho_runs"]
        starts, lengths = plan["starts"], plan["lengths"]
        every = len(rows) == len(self._order)  # sorted distinct positions: every customer
        step = float(self.period_length)
        d = float(self.discount_rate)
        if not base:
            pick = (lambda v: v) if every else (lambda v: v[rows])
            base["w"] = pick(st.weight)
            base["mu"] = pick(st.mu)
            base["c"] = None if st.contact is None else pick(st.contact)
            base["run0"] = _math.survival_runs(base["mu"], None, lengths, step)
            base["r0"] = _math.discounted_run_sums(base["run0"], starts, lengths, d, step)
        w, mu, run0, r0 = base["w"], base["mu"], base["run0"], base["r0"]

        def per_run(p: np.ndarray) -> np.ndarray:  # (R, n) from (U, n), without BLAS threads
            if p.shape[0] == 1:
                return rho[0][:, None] * p
            return np.einsum("ur,un->rn", rho, p)

        run1 = (
            _math.survival_runs(mu, per_run(g["dropout"]), lengths, step)
            if np.any(g["dropout"])
            else run0
        )
        r1 = r0 if run1 is run0 else _math.discounted_run_sums(run1, starts, lengths, d, step)
        gp, gs, gc = g["purchase"], g["spend"], g["contact"]
        contact_moves = bool(np.any(gc))
        serve = (
            base["c"] is not None
            and (contact_moves or run1 is not run0)
            and bool(np.any(base["c"]))
        )
        d0 = w * r0
        d1 = d0 if r1 is r0 else w * r1
        base_total = float(np.add.reduce(d0, axis=None))
        factors: dict[int, np.ndarray | None] = {}
        for b in range(8) if not full_only else (7,):
            key = b & 6
            if key not in factors:
                exponent = (gp if b & 2 else 0.0) + (gs if b & 4 else 0.0)
                factors[key] = (
                    np.exp(per_run(exponent))
                    if isinstance(exponent, np.ndarray) and np.any(exponent)
                    else None
                )
            value = d1 if b & 1 else d0
            f = factors[key]
            totals[slot, b] = float(np.add.reduce(value if f is None else value * f, axis=None))
            totals[slot, b] -= base_total
        totals[slot, 16:24] = totals[slot, :8]
        fc = np.exp(per_run(gc)) if serve and contact_moves else None
        c = base["c"] if serve else None
        if serve:
            assert c is not None
            e0 = c * r0
            e1 = e0 if r1 is r0 else c * r1
            cost_base = float(np.add.reduce(e0, axis=None))
            extra = 0.0
            for b in range(8) if not full_only else (7,):
                e = e1 if b & 1 else e0
                extra = float(np.add.reduce(e, axis=None)) - cost_base
                totals[slot, b] -= extra
                if fc is not None:
                    extra = float(np.add.reduce(e * fc, axis=None)) - cost_base
                totals[slot, b | 16] -= extra
            service[slot] = extra  # b = 7: every lever on
        if not plan["per_period"]:
            return
        # per-period flows: sum_i a_i q_i^t within each run, shifted minus baseline
        rest = factors.get(6)
        lead1 = step * run1.start * run1.frac
        lead0 = lead1 if run1 is run0 else step * run0.start * run0.frac
        a1 = lead1 * w if rest is None else lead1 * (w * rest)
        a0 = lead0 * w
        if serve:
            a1 = a1 - (lead1 * c if fc is None else lead1 * (c * fc))
            a0 = a0 - lead0 * c
        full[slot] += _math.run_period_sums([a1, -a0], [run1.factor, run0.factor], lengths)

    def _reference_draw(
        self,
        st: _DrawState,
        rows: np.ndarray,
        g: dict[str, np.ndarray],
        profiles: np.ndarray,
        rho: np.ndarray,
        summing: np.ndarray,
        full: np.ndarray,
        totals: np.ndarray,
        service: np.ndarray,
        slot: int,
        full_only: bool,
    ) -> None:
        """One draw of :meth:`flows` from the (customers × periods) integrals."""
        j0 = st.j0[rows]
        j1 = (
            st.integrals(rows, np.exp(g["dropout"] @ profiles), self.horizon, self.period_length)
            if np.any(g["dropout"])
            else j0
        )
        w = st.weight[rows][:, None]
        wj0, wj1 = w * j0, w * j1
        rest = g["purchase"] + g["spend"]
        term = wj1 * np.exp(rest @ profiles) if np.any(rest) else wj1
        existing = np.add.reduce(term, axis=0) - np.add.reduce(wj0, axis=0)
        gc = g["contact"]
        contact_moves = bool(np.any(gc))
        # the cost to serve changes only with the contact rate or the time alive
        serve = (
            st.contact is not None
            and (contact_moves or j1 is not j0)
            and bool(np.any(st.contact[rows]))
        )
        if serve:
            c = st.contact[rows][:, None]  # type: ignore[index]
            cj0, cj1 = c * j0, c * j1
            cost1 = cj1 * np.exp(gc @ profiles) if contact_moves else cj1
            extra_cost = np.add.reduce(cost1, axis=0) - np.add.reduce(cj0, axis=0)
            existing = existing - extra_cost
            service[slot] = np.add.reduce(extra_cost * self.discount_)
        full[slot] += existing
        if full_only:  # the acquisition bit is added by the caller
            totals[slot, ALL & ~8] = np.add.reduce(existing * self.discount_)
            return
        d0 = wj0 @ summing  # (n, G)
        d1 = d0 if j1 is j0 else wj1 @ summing
        base_total = np.add.reduce(np.add.reduce(d0, axis=1))
        for b in range(8):  # the same arithmetic for every coalition: exact Shapley zeros
            exponent = (g["purchase"] if b & 2 else 0.0) + (g["spend"] if b & 4 else 0.0)
            d = d1 if b & 1 else d0
            value = d * np.exp(exponent @ rho) if np.any(exponent) else d
            totals[slot, b] = np.add.reduce(np.add.reduce(value, axis=1)) - base_total
        totals[slot, 16:24] = totals[slot, :8]
        if serve:
            e0 = cj0 @ summing
            e1 = e0 if j1 is j0 else cj1 @ summing
            cost_base = np.add.reduce(np.add.reduce(e0, axis=1))
            shifted_rate = np.exp(gc @ rho) if contact_moves else None
            for b in range(8):
                e = e1 if b & 1 else e0
                extra = np.add.reduce(np.add.reduce(e, axis=1)) - cost_base
                totals[slot, b] -= extra
                if shifted_rate is not None:
                    extra = np.add.reduce(np.add.reduce(e * shifted_rate, axis=1)) - cost_base
                totals[slot, b | 16] -= extra

    def unit(
        self,
        inv: Investment,
        scale: float = 1.0,
        *,
        share: float | np.ndarray | None = None,
        evidenced_only: bool = False,
    ) -> _Unit:
        """The effect of one investment (shifts scaled by ``scale``) on the scoring frame.

        ``share`` overrides the causal share of fitted coefficients (1.0: fully
        causal); ``evidenced_only`` keeps only experiment and quasi-experiment
        coefficients (grades A and B).

        The effect is linear in ``scale`` (each shift's change is scaled after it is
        clipped to the observed range), so the unit at ``scale = 1`` of the last
        investment asked for is kept and scaled (break-even searches, effect-size
        sensitivity) instead of being rebuilt, when the investment shifts each column once.
        """
        if (share is not None and not isinstance(share, int | float)) or type(
            self
        )._unit is not CounterfactualEngine._unit:
            return self._unit(inv, scale=scale, share=share, evidenced_only=evidenced_only)
        columns = [shift.column for shift in inv.shifts]
        if len(set(columns)) < len(columns):  # a column shifted twice compounds the scale
            return self._unit(inv, scale=scale, share=share, evidenced_only=evidenced_only)
        key = (share, evidenced_only)
        cache = self._unit_cache
        # the draws a unit's coefficients come from (replaced draws invalidate the cache)
        source = [
            self.transaction_draws_,
            self.spend_draws_,
            self.contact_draws_,
            self.share_draws_,
            getattr(self, "acquisition_draws_", None),
        ]
        if cache.get("inv") is not inv or any(
            a is not b for a, b in zip(cache.get("source", ()), source, strict=False)
        ):
            cache.clear()
            cache["inv"] = inv
            cache["source"] = source
        if key not in cache:
            cache[key] = self._unit(inv, share=share, evidenced_only=evidenced_only)
        return scaled_unit(cache[key], scale)

    def affected(self, unit: _Unit) -> int:
        """Number of customers whose features the investment changes (in any draw)."""
        if not unit.delta:
            return 0
        return int(changed_rows(unit).sum())

    def cost_draws(self, inv: Investment) -> tuple[np.ndarray, np.ndarray]:
        """Per-draw cost: upfront (period 0) amount (S,) and per-period amounts (S, H)."""
        sched = inv.cost_schedule
        if inv.cost_sd > 0:
            sigma = math.sqrt(math.log1p(inv.cost_sd**2))
            z = np.random.default_rng(_seed(self.random_state, "cost", inv.name)).standard_normal(
                self.n_draws
            )
            mult = np.exp(sigma * z - 0.5 * sigma**2)
        else:
            mult = np.ones(self.n_draws)
        upfront = sched.get(0, 0.0) * mult
        later = np.zeros(self.horizon)
        for period, amount in sched.items():
            if 1 <= period <= self.horizon:
                later[period - 1] += amount
            elif period > self.horizon:
                raise ValueError(
                    f"investment {inv.name!r}: a cost falls in period {period}, after "
                    f"the horizon of {self.horizon} periods."
                )
        return upfront, mult[:, None] * later[None, :]

    def discounted(self, flows: np.ndarray) -> np.ndarray:
        """Present value of per-period flows (last axis)."""
        return np.add.reduce(flows * self.discount_, axis=-1)


def scaled_unit(unit: _Unit, scale: float) -> _Unit:
    """``unit`` with every feature change (and acquisition shift) multiplied by ``scale``."""
    if scale == 1.0:
        return unit
    k = float(scale)
    delta = {
        c: np.broadcast_to(d[0] * k, d.shape) if d.strides[0] == 0 else d * k
        for c, d in unit.delta.items()
    }
    acquisition = [(c, mode, amounts, s * k) for c, mode, amounts, s in unit.acquisition]
    # a non-zero scale keeps every zero change at zero: the same customers change
    changed = None if k == 0.0 else (tuple(delta.values()), changed_rows(unit))
    return replace(unit, delta=delta, acquisition=acquisition, changed=changed)


def shapley_split(values: Callable[[frozenset[int]], np.ndarray], n_players: int) -> np.ndarray:
    """Exact Shapley value of each player from a coalition value function (vectorised over draws).

    Examples
    --------
    >>> v = lambda c: np.array([float(len(c) ** 2)])   # superadditive game of 2 players
    >>> shapley_split(v, 2)[:, 0].tolist()
    [2.0, 2.0]
    """
    cache: dict[frozenset[int], np.ndarray] = {}

    def val(c: frozenset[int]) -> np.ndarray:
        if c not in cache:
            cache[c] = np.asarray(values(c), dtype=np.float64)
        return cache[c]

    out = []
    for j in range(n_players):
        total = 0.0
        for (player, coalition), w in _math.shapley_weights(n_players).items():
            if player == j:
                total = total + w * (val(coalition | {j}) - val(coalition))
        out.append(total)
    return np.stack(out)
