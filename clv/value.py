r"""Customer lifetime value: a transaction model × a spend model × discounting.

The residual lifetime value of an existing customer over the next ``horizon``
periods is

.. math::

   \mathrm{CLV} = \text{margin} \times E[\text{spend}] \times
   \sum_{k=1}^{H} \frac{E[N(0, k]] - E[N(0, k-1]]}{(1+d)^{k}}

where :math:`E[N(0, t]]` is the transaction model's expected number of
repeat purchases in the next :math:`t` periods given the customer's history,
:math:`E[\text{spend}]` the spend model's expected value per transaction
(assumed independent of the number of purchases, as in the Gamma-Gamma model),
and :math:`d` the discount rate **per period** of the data (weeks for a weekly
RFM frame). There are no hidden month factors: ``horizon=52`` on weekly data is
one year. Rates are given **annually** (``annual_discount_rate=0.10``) and
converted once, exactly, to the period of the data:
:math:`d = (1 + r)^{\text{period}/\text{year}} - 1` with a mean Gregorian year
of 365.2425 days (:func:`clv.data.rate_per_period`); a per-period rate is asked
for by name (``discount_rate_per_period=``).

References
----------
.. [FHL2005c] Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005). RFM and CLV:
   Using iso-value curves for customer base analysis. Journal of Marketing
   Research, 42(4), 415-430.
"""

from __future__ import annotations

import logging
import numbers
from typing import Any

import numpy as np
import pandas as pd

from clv._rates import (
    DEFAULT_ANNUAL_DISCOUNT_RATE,
    DEFAULT_MARGIN,
    DiscountRate,
    resolve_discount_rate,
)
from clv._units import PERIOD_DAYS, TimeUnit, check_same_period, data_time_unit, with_time_unit
from clv.models._mle import unique_rows

__all__ = [  # the rate names live in clv._rates (shared with clv.equity); public here
    "DEFAULT_ANNUAL_DISCOUNT_RATE",
    "DEFAULT_MARGIN",
    "DiscountRate",
    "customer_lifetime_value",
    "customer_lifetime_value_table",
    "resolve_discount_rate",
]

logger = logging.getLogger(__name__)


_RFM = ("frequency", "recency", "T")
_MAX_CELLS = 2_000_000  # customers × grid points evaluated at once (bounds memory)


def _validate(horizon: Any, margin: Any, steps_per_period: Any) -> tuple[int, float, int]:
    h = _check_whole(
        horizon, "horizon", "periods of the data's time unit, e.g. 52 for a year of weekly data"
    )
    s = _check_whole(steps_per_period, "steps_per_period", "sub-steps per period for discounting")
    try:
        g = float(margin)
    except (TypeError, ValueError):
        g = float("nan")
    if not (np.isfinite(g) and g > 0):
        raise ValueError(
            f"margin must be a finite number > 0 (the share of spend that is profit, "
            f"usually 0 < margin <= 1), got {margin!r}."
        )
    return h, g, s


def _check_whole(value: Any, name: str, what: str) -> int:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        f = float(value)
        ok = np.isfinite(f) and f >= 1 and f == round(f)
    if not ok:
        raise ValueError(f"{name} must be a whole number >= 1 ({what}), got {value!r}.")
    return round(float(value))


def _data_unit(transaction_model: Any, data: pd.DataFrame, time_unit: Any) -> TimeUnit | None:
    """The common period of model and data (DataError when they differ)."""
    return check_same_period(
        getattr(transaction_model, "time_unit_", None),
        data,
        time_unit,
        model="the transaction model",
        what="the data to score",
    )


def _purchases_and_discounted(
    model: Any, data: pd.DataFrame, grid: np.ndarray, factors: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Expected purchases in ``(0, grid[-1]]`` and their discounted sum, per customer.

    Purchases in ``(grid[j-1], grid[j]]`` are weighted by ``factors[j-1]``. Customers
    are taken in blocks of at most ``_MAX_CELLS`` (customer, grid point) cells and
    only two numbers per customer are kept, so memory does not grow with
    customers x horizon (100,000 customers x 2,600 periods would be 2 GB at once).
    """
    spec = getattr(type(model), "spec", None)
    pure = getattr(spec, "expected_purchases", None)
    if pure is not None and hasattr(model, "_arrays"):
        x, t_x, T = (a[:, None] for a in model._arrays(data, _RFM))
        # per-customer parameters when the model has covariates (scalars otherwise)
        params = model._customer_params(data) if hasattr(model, "_customer_params") else model._p
        n = x.shape[0]
        total, discounted = np.empty(n), np.empty(n)
        step = max(1, _MAX_CELLS // max(grid.size, 1))
        t = grid[None, :]
        for lo in range(0, n, step):
            hi = min(n, lo + step)
            rows = type(params)(*(np.asarray(v)[lo:hi, None] if np.ndim(v) else v for v in params))
            block = np.broadcast_to(
                pure(rows, t, x[lo:hi], t_x[lo:hi], T[lo:hi]), (hi - lo, grid.size)
            )
            total[lo:hi] = block[:, -1]
            # elementwise: no BLAS call, so results do not depend on the BLAS build
            discounted[lo:hi] = (np.diff(block, axis=1) * factors).sum(axis=1)
        return total, discounted
    # any object with expected_purchases(t, data): one call per grid point (not per customer)
    previous = np.zeros(len(data))
    discounted = np.zeros(len(data))
    for j, t in enumerate(grid[1:]):
        current = np.asarray(model.expected_purchases(float(t), data), dtype=np.float64).reshape(-1)
        discounted += (current - previous) * factors[j]
        previous = current
    return previous, discounted


def _expected_spend(spend_model: Any, data: pd.DataFrame) -> np.ndarray:
    spend = spend_model.expected_spend(data)
    if isinstance(spend, pd.Series):
        if not spend.index.equals(data.index):
            spend = spend.reindex(data.index)
        spend = spend.to_numpy(dtype=np.float64)
    return np.broadcast_to(np.asarray(spend, dtype=np.float64), (len(data),))


def _has_covariates(model: Any) -> bool:
    """Whether a transaction model has purchase or dropout covariates (per-customer parameters)."""
    return any(getattr(model, f"{lever}_covariates", None) for lever in ("purchase", "dropout"))


def _compute(
    transaction_model: Any,
    spend_model: Any,
    data: pd.DataFrame,
    horizon: Any,
    rate: DiscountRate,
    margin: Any,
    steps_per_period: Any,
) -> dict[str, np.ndarray]:
    h, g, s = _validate(horizon, margin, steps_per_period)
    d = rate.per_period
    spend = _expected_spend(spend_model, data)
    j = np.arange(h * s + 1, dtype=np.float64)
    grid = j / s
    # customers with the same (x, t_x, T) have the same predictions: compute each row once
    inverse = None
    rows = data
    # (not with covariates: customers with the same RFM row then differ in their parameters)
    if (
        hasattr(transaction_model, "_arrays")
        and len(data) > 1000
        and not _has_covariates(transaction_model)
    ):
        unique, key = unique_rows(transaction_model._arrays(data, _RFM))
        if len(unique[0]) < 0.9 * len(data):
            rows = pd.DataFrame(dict(zip(_RFM, unique, strict=True)))
            rows.attrs = dict(data.attrs)
            if rate.time_unit is not None:
                rows[PERIOD_DAYS] = rate.time_unit.days
            inverse = key
    # purchases in ((j-1)/s, j/s] are discounted to the end of that sub-period
    factors = np.exp(-grid[1:] * np.log1p(d))
    total, discounted = _purchases_and_discounted(transaction_model, rows, grid, factors)
    if inverse is not None:
        discounted, total = discounted[inverse], total[inverse]
    return {
        "expected_purchases": total,
        "discounted_purchases": discounted,
        "expected_spend": spend,
        "clv": g * spend * discounted,
    }


def _prepare(
    transaction_model: Any,
    data: Any,
    time_unit: Any,
    annual_discount_rate: Any,
    discount_rate_per_period: Any,
    discount_rate: Any,
) -> DiscountRate:
    """Check the data and its unit, and resolve the discount rate once (logged)."""
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame of RFM data, got {type(data).__name__}.")
    unit = _data_unit(transaction_model, data, time_unit)
    rate = resolve_discount_rate(
        annual_discount_rate=annual_discount_rate,
        discount_rate_per_period=discount_rate_per_period,
        time_unit=unit,
        discount_rate=discount_rate,
        stacklevel=3,
    )
    logger.info("discount rate: %s", rate.describe())
    return rate


def _labelled(data: pd.DataFrame, rate: DiscountRate) -> pd.DataFrame:
    """``data`` carrying the resolved unit (a copy only when it must be labelled)."""

    if rate.time_unit is None or data_time_unit(data) is not None:
        return data
    return with_time_unit(data, rate.time_unit)


def customer_lifetime_value(
    transaction_model: Any,
    spend_model: Any,
    data: pd.DataFrame,
    *,
    horizon: int,
    annual_discount_rate: float | None = None,
    discount_rate_per_period: float | None = None,
    margin: float = DEFAULT_MARGIN,
    steps_per_period: int = 1,
    time_unit: str | None = None,
    discount_rate: float | None = None,
) -> pd.Series:
    r"""Discounted expected value of each customer's purchases over the next ``horizon`` periods.

    .. math::

       \mathrm{CLV}_i = \text{margin}\times E[Z_i]\times\sum_{j=1}^{Hs}
       \frac{E[N_i(0, j/s]] - E[N_i(0, (j-1)/s]]}{(1+d)^{j/s}}

    with :math:`H` = ``horizon``, :math:`s` = ``steps_per_period`` and
    :math:`d` the discount rate per period ([FHL2005c]_, discrete-time version),
    converted once from the annual rate: :math:`d = (1 + r)^{\text{period}/\text{year}} - 1`.
    With ``steps_per_period=1`` the purchases of period :math:`k` are
    discounted at its end, :math:`(1+d)^{-k}`; larger values discount each
    fraction of a period separately and approach continuous discounting.

    Parameters
    ----------
    transaction_model : TransactionModel
        A fitted model with ``expected_purchases(t, data)`` (e.g.
        :class:`~clv.models.bgnbd.BetaGeoModel`).  Models built on a
        :class:`~clv.models._spec.ModelSpec` are evaluated in one vectorised
        call over a (customers × periods) grid.
    spend_model : SpendModel
        A fitted model with ``expected_spend(data)`` (e.g.
        :class:`~clv.models.gamma_gamma.GammaGammaModel`).
    data : DataFrame
        RFM frame (``frequency``, ``recency``, ``T``, ``monetary_value``),
        one row per customer.
    horizon : int
        Number of future periods (of the data's time unit), >= 1.
    annual_discount_rate : float, optional
        Effective **annual** discount rate (0.10 for 10 % a year), converted
        exactly to the period of the data. Default
        :data:`DEFAULT_ANNUAL_DISCOUNT_RATE` (10 %) when no rate is given.
        Needs the period: from the data's ``period_days`` column /
        ``attrs``, the model's ``time_unit_`` or ``time_unit=``.
    discount_rate_per_period : float, optional
        Discount rate per period of the data, used as is (a warning is
        issued above 0.5, which is probably an annual rate).
    margin : float, default 1.0
        Profit margin applied to spend (> 0; usually 0 < margin <= 1).
    steps_per_period : int, default 1
        Sub-steps per period for discounting.
    time_unit : str, optional
        Period of ``recency`` and ``T`` (``"W"``, ``"7D"``, ``"M"``) when the
        frame carries none; required then if the model has one.
    discount_rate : float, optional
        Deprecated: a rate per period, like ``discount_rate_per_period``.

    Returns
    -------
    Series
        ``clv``, aligned to ``data.index``, in the currency of ``monetary_value``.
        ``attrs`` holds the resolved rate (``annual_discount_rate``,
        ``discount_rate_per_period``, ``time_unit``).

    Raises
    ------
    ValueError
        For an invalid horizon, discount rate, margin or steps.
    DataError
        When the transaction model was fitted on another period length than
        ``data``'s, or an annual rate has no known period.

    Examples
    --------
    >>> from clv.models.bgnbd import BGNBDParams, BetaGeoModel, simulate
    >>> from clv.models.gamma_gamma import GGParams, GammaGammaModel, simulate as simulate_spend
    >>> rng = np.random.default_rng(42)
    >>> rfm = pd.DataFrame(simulate(BGNBDParams(0.25, 4.0, 0.8, 2.5), np.full(3000, 39.0), rng=rng))
    >>> rfm["monetary_value"] = simulate_spend(GGParams(6.0, 3.7, 15.0), rfm["frequency"],
    ...                                        rng=rng)["monetary_value"]
    >>> purchases, spend = BetaGeoModel().fit(rfm), GammaGammaModel().fit(rfm)
    >>> clv = customer_lifetime_value(purchases, spend, rfm, horizon=52, annual_discount_rate=0.1,
    ...                               time_unit="W")
    >>> clv.index.equals(rfm.index), bool((clv > 0).all())
    (True, True)
    """
    rate = _prepare(
        transaction_model,
        data,
        time_unit,
        annual_discount_rate,
        discount_rate_per_period,
        discount_rate,
    )
    out = _compute(
        transaction_model,
        spend_model,
        _labelled(data, rate),
        horizon,
        rate,
        margin,
        steps_per_period,
    )
    series = pd.Series(out["clv"], index=data.index, name="clv")
    series.attrs.update(rate.as_record())
    return series


def customer_lifetime_value_table(
    transaction_model: Any,
    spend_model: Any,
    data: pd.DataFrame,
    *,
    horizon: int,
    annual_discount_rate: float | None = None,
    discount_rate_per_period: float | None = None,
    margin: float = DEFAULT_MARGIN,
    steps_per_period: int = 1,
    time_unit: str | None = None,
    discount_rate: float | None = None,
) -> pd.DataFrame:
    """Scoring table: the ingredients of CLV and CLV itself, one row per customer.

    Same arguments as :func:`customer_lifetime_value`; ``attrs`` holds the resolved rate.

    Returns
    -------
    DataFrame
        Indexed like ``data``, with columns

        ``expected_purchases``
            Expected repeat purchases in the next ``horizon`` periods (undiscounted).
        ``discounted_purchases``
            The same, each purchase discounted to today.
        ``probability_alive``
            Probability the customer is still active (NaN when the transaction
            model has no ``probability_alive``).
        ``expected_spend``
            Expected value per transaction.
        ``clv``
            ``margin * expected_spend * discounted_purchases``.

    Examples
    --------
    >>> from clv.models.bgnbd import BGNBDParams, BetaGeoModel, simulate
    >>> from clv.models.gamma_gamma import GGParams, GammaGammaModel, simulate as simulate_spend
    >>> rng = np.random.default_rng(7)
    >>> rfm = pd.DataFrame(simulate(BGNBDParams(0.25, 4.0, 0.8, 2.5), np.full(2000, 39.0), rng=rng))
    >>> rfm["monetary_value"] = simulate_spend(GGParams(6.0, 3.7, 15.0), rfm["frequency"],
    ...                                        rng=rng)["monetary_value"]
    >>> table = customer_lifetime_value_table(BetaGeoModel().fit(rfm), GammaGammaModel().fit(rfm),
    ...                                       rfm, horizon=52, discount_rate_per_period=0.002,
    ...                                       margin=0.3)
    >>> list(table.columns)
    ['expected_purchases', 'discounted_purchases', 'probability_alive', 'expected_spend', 'clv']
    """
    rate = _prepare(
        transaction_model,
        data,
        time_unit,
        annual_discount_rate,
        discount_rate_per_period,
        discount_rate,
    )
    labelled = _labelled(data, rate)
    out = _compute(
        transaction_model, spend_model, labelled, horizon, rate, margin, steps_per_period
    )
    if hasattr(transaction_model, "probability_alive"):
        alive = np.asarray(transaction_model.probability_alive(labelled), dtype=np.float64)
    else:
        alive = np.full(len(data), np.nan)
    table = pd.DataFrame(
        {
            "expected_purchases": out["expected_purchases"],
            "discounted_purchases": out["discounted_purchases"],
            "probability_alive": alive,
            "expected_spend": out["expected_spend"],
            "clv": out["clv"],
        },
        index=data.index,
    )
    table.attrs.update(rate.as_record())
    return table
