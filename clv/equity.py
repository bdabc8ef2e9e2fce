r"""Customer equity: the value of today's customers plus the customers still to come.

.. math::

   \mathrm{CE} = \underbrace{\sum_i \mathrm{CLV}_i}_{\text{existing}}
   + \underbrace{\sum_{k=1}^{H} \frac{n_k\,(v_k - c_k)}{(1+d)^{k}}}_{\text{future cohorts}}

where :math:`\mathrm{CLV}_i` is each existing customer's discounted residual
value over the horizon (:func:`clv.value.customer_lifetime_value`),
:math:`n_k` the expected number of customers acquired in future period
:math:`k` (an acquisition model's forecast), :math:`v_k` the value of one of
them at the time they are acquired, :math:`c_k` the acquisition cost per
customer and :math:`d` the discount rate **per period** ([GLS2004]_,
[MFH2017]_). Everything is in the periods of the data (weeks for weekly
models); there are no hidden month factors.

Timing convention: a customer acquired in future period :math:`k` is counted
at the end of that period, so their value and acquisition cost are discounted
by :math:`(1+d)^{-k}`, the same convention :mod:`clv.value` uses for
purchases. :func:`new_customer_value` gives :math:`v`, the expected
discounted value of a brand-new customer over a number of periods after
acquisition; with ``horizon`` an array it gives one value per cohort, so that
a customer acquired in period :math:`k` only counts the :math:`H - k` periods
left in the horizon (the *within-horizon* convention, consistent with valuing
existing customers over the same :math:`H` periods). A single number instead
gives every cohort the same value (the *lifetime* convention, e.g. each new
customer's value over a fixed number of periods after acquisition).

References
----------
.. [GLS2004] Gupta, S., Lehmann, D. R., & Stuart, J. A. (2004). Valuing
   customers. Journal of Marketing Research, 41(1), 7-18.
.. [MFH2017] McCarthy, D. M., Fader, P. S., & Hardie, B. G. S. (2017). Valuing
   subscription-based businesses using publicly disclosed customer data.
   Journal of Marketing, 81(1), 17-35.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = ["CustomerEquity", "customer_equity", "new_customer_value"]


def _whole(value: Any, name: str, *, minimum: int) -> int:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        f = float(value)
        ok = np.isfinite(f) and f >= minimum and f == round(f)
    if not ok:
        raise ValueError(f"{name} must be a whole number of periods >= {minimum}, got {value!r}.")
    return round(float(value))


def _rate(annual: Any, per_period: Any, old: Any, unit: Any) -> float:
    """The per-period rate: annual by default (converted once), or per period by name."""
    from clv._rates import resolve_discount_rate

    return resolve_discount_rate(
        annual_discount_rate=annual,
        discount_rate_per_period=per_period,
        discount_rate=old,
        time_unit=unit,
        stacklevel=3,
    ).per_period


def _per_period(value: Any, horizon: int, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(horizon, float(arr))
    if arr.shape != (horizon,):
        raise ValueError(
            f"{name} must be a number or have one value per period of the horizon "
            f"({horizon}), got shape {arr.shape}."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} has missing or infinite values.")
    return arr


def new_customer_value(
    transaction_model: Any,
    spend_model: Any,
    *,
    horizon: int | ArrayLike,
    annual_discount_rate: float | None = None,
    discount_rate_per_period: float | None = None,
    margin: float = 1.0,
    include_first_purchase: bool = True,
    time_unit: str | None = None,
    discount_rate: float | None = None,
) -> float | np.ndarray:
    r"""Expected discounted value of a brand-new customer, at the time of acquisition.

    .. math::

       v(h) = \text{margin}\times E[Z]\times\Bigl(\mathbb{1}_{\text{first}}
       + \sum_{j=1}^{h}\frac{E[X(j)] - E[X(j-1)]}{(1+d)^{j}}\Bigr)

    with :math:`E[X(t)]` the transaction model's expected repeat purchases of
    a new customer in :math:`(0, t]` (``expected_purchases_new_customer``)
    and :math:`E[Z]` the spend model's mean transaction value
    (``expected_spend_new_customer``). The first (acquisition) purchase is
    counted undiscounted when ``include_first_purchase``.

    Parameters
    ----------
    transaction_model : TransactionModel
        Fitted, with ``expected_purchases_new_customer(t)`` (e.g. BG/NBD).
    spend_model : SpendModel
        Fitted, with ``expected_spend_new_customer()`` (e.g. Gamma-Gamma).
    horizon : int or array_like of int
        Periods after acquisition (>= 0). An array gives one value per entry,
        e.g. ``H - np.arange(1, H + 1)`` for the periods each future cohort
        has left within a horizon of ``H`` (see the module docstring).
    annual_discount_rate : float, optional
        Annual rate (default 10 %), converted exactly to the period
        (:func:`clv.value.resolve_discount_rate`); needs the period, from
        ``time_unit=`` or the model's ``time_unit_``.
    discount_rate_per_period : float, optional
        Rate per period, >= 0, used as is (instead of the annual rate).
    margin : float, default 1.0
        Share of spend that is profit.
    include_first_purchase : bool, default True
        Count the acquisition purchase itself.
    time_unit : str, optional
        Period of the horizon when the model carries none.
    discount_rate : float, optional
        Deprecated name of ``discount_rate_per_period``.

    Returns
    -------
    float or numpy.ndarray
        One value per horizon, in the currency of the spend model.

    Examples
    --------
    >>> from clv.data.datasets import load_cdnow_summary
    >>> from clv.models.bgnbd import BetaGeoModel
    >>> purchases = BetaGeoModel().fit(load_cdnow_summary())
    >>> class Spend:  # anything with expected_spend_new_customer(), e.g. GammaGammaModel
    ...     def expected_spend_new_customer(self):
    ...         return 35.0
    >>> round(new_customer_value(purchases, Spend(), horizon=52, discount_rate_per_period=0.0), 2)
    85.54
    >>> new_customer_value(purchases, Spend(), horizon=[0, 52],
    ...                    discount_rate_per_period=0.0).round(2).tolist()
    [35.0, 85.54]
    """
    h = np.asarray(horizon)
    scalar = h.ndim == 0
    flat = np.atleast_1d(h).astype(np.float64)
    if flat.size == 0 or not np.all(np.isfinite(flat) & (flat >= 0) & (flat == np.round(flat))):
        raise ValueError(f"horizon must be whole numbers of periods >= 0, got {horizon!r}.")
    d = _rate(
        annual_discount_rate,
        discount_rate_per_period,
        discount_rate,
        time_unit or getattr(transaction_model, "time_unit_", None),
    )
    g = float(margin)
    if not (np.isfinite(g) and g > 0):
        raise ValueError(f"margin must be a finite number > 0, got {margin!r}.")
    spend = float(spend_model.expected_spend_new_customer())
    n = int(flat.max())
    grid = np.arange(n + 1, dtype=np.float64)
    if n > 0:
        cumulative = np.asarray(
            transaction_model.expected_purchases_new_customer(grid[1:]), dtype=np.float64
        ).reshape(n)
        increments = np.diff(np.concatenate([[0.0], cumulative]))
        discounted = np.concatenate([[0.0], np.cumsum(increments * (1.0 + d) ** -grid[1:])])
    else:
        discounted = np.zeros(1)
    first = 1.0 if include_first_purchase else 0.0
    value = g * spend * (discounted[flat.astype(np.int64)] + first)
    return float(value[0]) if scalar else value.reshape(h.shape)


@dataclass(frozen=True)
class CustomerEquity:
    """Result of :func:`customer_equity`.

    Attributes
    ----------
    cash_flows : DataFrame
        One row per future period ``1..horizon`` (index ``period``):
        ``model_period`` (the acquisition model's period number, or NaN),
        ``new_customers``, ``value_from_new`` (new customers × value per new
        customer), ``acquisition_spend`` (new customers × cost per customer),
        ``net``, ``discount_factor`` :math:`(1+d)^{-k}` and ``discounted``
        (``net × discount_factor``).
    existing : float
        Total discounted CLV of the existing customers.
    future : float
        Discounted net value of the future cohorts (sum of ``discounted``).
    total : float
        ``existing + future``.
    """

    cash_flows: pd.DataFrame
    existing: float
    future: float
    total: float

    @property
    def totals(self) -> pd.Series:
        """``existing``, ``future`` and ``total`` as a Series."""
        return pd.Series(
            {"existing": self.existing, "future": self.future, "total": self.total},
            name="customer_equity",
        )

    @property
    def future_value(self) -> float:
        """Discounted value brought by future cohorts, before acquisition costs."""
        cf = self.cash_flows
        return float((cf["value_from_new"] * cf["discount_factor"]).sum())

    @property
    def future_cost(self) -> float:
        """Discounted acquisition spend on future cohorts."""
        cf = self.cash_flows
        return float((cf["acquisition_spend"] * cf["discount_factor"]).sum())

    def __repr__(self) -> str:
        return (
            f"<CustomerEquity over {len(self.cash_flows)} periods: "
            f"existing={self.existing:,.2f}, future={self.future:,.2f}, "
            f"total={self.total:,.2f}>"
        )


def customer_equity(
    existing_clv: Any,
    acquisition_model: Any = None,
    *,
    horizon: int,
    annual_discount_rate: float | None = None,
    discount_rate_per_period: float | None = None,
    value_per_new_customer: float | ArrayLike = 0.0,
    acquisition_cost: float | ArrayLike = 0.0,
    start_period: int | None = None,
    covariates: pd.DataFrame | None = None,
    time_unit: str | None = None,
    discount_rate: float | None = None,
) -> CustomerEquity:
    r"""Customer equity: existing customers' CLV plus the discounted net value of future cohorts.

    Parameters
    ----------
    existing_clv : Series, array_like or float
        Discounted CLV of each existing customer over ``horizon`` periods
        (:func:`clv.value.customer_lifetime_value`), or their total.
    acquisition_model : AcquisitionModel, array_like or None
        A fitted :class:`~clv.models.acquisition.AcquisitionModel` (its
        expected arrivals are used), or the expected new customers of each
        future period (length ``horizon``), or ``None`` (no acquisition).
    horizon : int
        Number of future periods, >= 1, in the data's time unit.
    annual_discount_rate : float, optional
        Annual rate (default 10 %), converted exactly to the period; the period
        comes from ``time_unit=``, the acquisition model's ``time_unit_`` or
        ``existing_clv.attrs`` (a Series from :func:`clv.value.customer_lifetime_value`).
    discount_rate_per_period : float, optional
        Rate per period, >= 0, used as is (instead of the annual rate).
    value_per_new_customer : float or array_like
        Value of one new customer at acquisition (already discounted to that
        time), e.g. from :func:`new_customer_value`; one number for every
        cohort, or one per future period.
    acquisition_cost : float or array_like, default 0.0
        Cost per acquired customer, one number or one per future period.
    start_period : int, optional
        The acquisition model's period that is future period 1; default the
        first period after its calibration (``n_periods_ + 1``).
    covariates : DataFrame, optional
        Covariates of the forecast periods, for models with covariates.
    time_unit : str, optional
        Period of the horizon when no input carries one.
    discount_rate : float, optional
        Deprecated name of ``discount_rate_per_period``.

    Returns
    -------
    CustomerEquity
        Per-period ``cash_flows`` and the totals ``existing``, ``future``,
        ``total``.

    Examples
    --------
    >>> ce = customer_equity([120.0, 80.0], [10.0, 10.0], horizon=2,
    ...                      discount_rate_per_period=0.1, value_per_new_customer=50.0,
    ...                      acquisition_cost=20.0)
    >>> ce.cash_flows["discounted"].round(2).tolist()
    [272.73, 247.93]
    >>> round(ce.total, 2) == round(200.0 + 300.0 / 1.1 + 300.0 / 1.1**2, 2)
    True
    """
    h = _whole(horizon, "horizon", minimum=1)
    unit = (
        time_unit
        or getattr(acquisition_model, "time_unit_", None)
        or getattr(existing_clv, "attrs", {}).get("time_unit")
    )
    d = _rate(annual_discount_rate, discount_rate_per_period, discount_rate, unit)
    existing_values = np.asarray(existing_clv, dtype=np.float64)
    if not np.all(np.isfinite(existing_values)):
        raise ValueError("existing_clv has missing or infinite values; score every customer first.")
    existing = float(existing_values.sum())
    model_period = np.full(h, np.nan)
    if acquisition_model is None:
        arrivals = np.zeros(h)
    elif hasattr(acquisition_model, "expected_arrivals"):
        first = (
            int(acquisition_model.n_periods_) + 1
            if start_period is None
            else _whole(start_period, "start_period", minimum=1)
        )
        model_period = np.arange(first, first + h, dtype=np.float64)
        forecast = acquisition_model.expected_arrivals(
            model_period.astype(np.int64), covariates=covariates
        )
        arrivals = forecast["expected"].to_numpy(dtype=np.float64)
    else:
        arrivals = _per_period(acquisition_model, h, "acquisition_model (expected new customers)")
    if np.any(arrivals < 0):
        raise ValueError("expected new customers must be >= 0.")
    value = _per_period(value_per_new_customer, h, "value_per_new_customer")
    cost = _per_period(acquisition_cost, h, "acquisition_cost")
    k = np.arange(1, h + 1, dtype=np.float64)
    factor = np.exp(-k * np.log1p(d))
    net = arrivals * (value - cost)
    flows = pd.DataFrame(
        {
            "model_period": model_period,
            "new_customers": arrivals,
            "value_from_new": arrivals * value,
            "acquisition_spend": arrivals * cost,
            "net": net,
            "discount_factor": factor,
            "discounted": net * factor,
        },
        index=pd.RangeIndex(1, h + 1, name="period"),
    )
    future = float(flows["discounted"].sum())
    return CustomerEquity(flows, existing, future, existing + future)
