"""Transactions + per-period covariates -> the compact arrays of the time-varying models.

Layout of the covariates (CLVTools' ``data.cov.life`` / ``data.cov.trans``):
one row per customer and covariate period, with the customer id, the date the
period starts and one column per covariate.  A period lasts one time unit
(``"W"``: 7 days, ``"D"``: 1 day) from its start date; each customer's rows
must form a gap-free grid covering the first purchase up to the observation
end.  Time is continuous (fractions of a period), measured from each
customer's first purchase, as in CLVTools; purchases at the same timestamp
are merged into one.

:func:`time_varying_data` builds a :class:`TimeVaryingData`, from which a
model takes :class:`~clv.models._pareto_nbd_dyncov_math.DynCovArrays` for its
covariate columns (:meth:`TimeVaryingData.arrays`) and future paths
(:meth:`TimeVaryingData.future`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from clv._typing import DateLike, FloatArray
from clv.exceptions import DataError, Problem
from clv.models._pareto_nbd_dyncov_math import DynCovArrays, FutureArrays

__all__ = ["TimeVaryingData", "future_covariates", "time_varying_data"]

_UNITS = {"D": pd.Timedelta(days=1), "W": pd.Timedelta(weeks=1), "H": pd.Timedelta(hours=1)}
_WHAT = "the time-varying covariate data"


def _unit(time_unit: str) -> pd.Timedelta:
    if time_unit not in _UNITS:
        raise DataError(
            [
                Problem(
                    None,
                    f"time_unit {time_unit!r} is not supported by the time-varying models",
                    f"use one of {sorted(_UNITS)} (periods of fixed length)",
                )
            ],
            what=_WHAT,
        )
    return _UNITS[time_unit]


@dataclass(frozen=True)
class TimeVaryingData:
    """Per-customer histories with covariate paths, ready for the time-varying models.

    Attributes
    ----------
    customer_ids : Index
        One entry per customer (customers with a purchase by ``observation_end``).
    columns : tuple of str
        Covariate columns, in the order of the last axis of the ``*_X`` arrays.
    time_unit : str
    observation_end : Timestamp
    frequency, recency, T : ndarray, shape (n,)
        Repeat purchases, time of the last one and age, in periods since the
        first purchase.
    hist_length, hist_X : ndarray, shapes (n, K), (n, K, k)
        Covariate periods overlapping ``(0, recency]``: exposure and values.
    post_length, post_X : ndarray, shapes (n, J), (n, J, k)
        Covariate periods overlapping ``(recency, T]``.
    purchase_X_sum : ndarray, shape (n, k)
        Sum of the covariates in force at the repeat purchases.
    repeat_count, repeat_X : ndarray, shapes (n, M), (n, M, k)
        The distinct covariate rows in force at a customer's repeat purchases
        and how many repeat purchases saw each (0 = padding).
    last_X : ndarray, shape (n, k)
        Covariates at the last purchase (of the first one when ``frequency = 0``).
    current_start : ndarray of datetime64[ns], shape (n,)
        Start of the last covariate period of the history (the one containing
        the instant just before ``observation_end``).
    current_offset : ndarray, shape (n,)
        Time from that start to ``observation_end``, in periods (in (0, 1]).
    current_X : ndarray, shape (n, k)
        Covariates of that period (carried forward by default).  Covariate
        rows starting at or after ``observation_end`` are future: pass them
        as ``path`` to use them.
    """

    customer_ids: pd.Index
    columns: tuple[str, ...]
    time_unit: str
    observation_end: pd.Timestamp
    frequency: FloatArray
    recency: FloatArray
    T: FloatArray
    hist_length: FloatArray
    hist_X: FloatArray
    post_length: FloatArray
    post_X: FloatArray
    purchase_X_sum: FloatArray
    repeat_count: FloatArray
    repeat_X: FloatArray
    last_X: FloatArray
    current_start: np.ndarray
    current_offset: FloatArray
    current_X: FloatArray

    @property
    def n_customers(self) -> int:
        """Number of customers."""
        return len(self.customer_ids)

    def _index(self, cols: Sequence[str], role: str) -> list[int]:
        missing = [c for c in cols if c not in self.columns]
        if missing:
            raise DataError(
                [
                    Problem(
                        c,
                        f"is not among the covariates of the data ({role})",
                        "pass it in `columns` of time_varying_data()",
                    )
                    for c in missing
                ],
                what=_WHAT,
            )
        return [self.columns.index(c) for c in cols]

    def arrays(self, purchase: Sequence[str], dropout: Sequence[str]) -> DynCovArrays:
        """The likelihood's arrays for the given purchase and dropout covariate columns."""
        ip, idd = self._index(purchase, "purchase"), self._index(dropout, "dropout")
        sel = sorted(set(ip) | set(idd))
        kp, kd = [sel.index(i) for i in ip], [sel.index(i) for i in idd]
        n = self.n_customers
        # periods with equal covariates share one multiplier: merge them (exact). In the
        # history only sums matter (any equal rows); after t_x adjacent runs are one segment.
        hist_length, hist_X = _merge(self.hist_length, self.hist_X[..., sel], n, adjacent=False)
        post_length, post_X = _merge(self.post_length, self.post_X[..., sel], n, adjacent=True)
        return DynCovArrays(
            frequency=self.frequency,
            recency=self.recency,
            T=self.T,
            hist_length=hist_length,
            hist_purchase=hist_X[..., kp],
            hist_dropout=hist_X[..., kd],
            post_length=post_length,
            post_purchase=post_X[..., kp],
            post_dropout=post_X[..., kd],
            purchase_sum=self.purchase_X_sum[:, ip],
        )

    def bgnbd_arrays(self, purchase: Sequence[str], dropout: Sequence[str]) -> Any:
        """The time-varying BG/NBD's arrays for the given covariate columns."""
        from clv.models._bgnbd_dyncov_math import BGDynCovArrays

        ip, idd = self._index(purchase, "purchase"), self._index(dropout, "dropout")
        n = self.n_customers
        hist_length, hist_X = _merge(self.hist_length, self.hist_X[..., ip], n, adjacent=False)
        post_length, post_X = _merge(self.post_length, self.post_X[..., ip], n, adjacent=False)
        count, rep_X = _merge(self.repeat_count, self.repeat_X[..., idd], n, adjacent=False)
        return BGDynCovArrays(
            frequency=self.frequency,
            hist_length=hist_length,
            hist_purchase=hist_X,
            post_length=post_length,
            post_purchase=post_X,
            purchase_sum=self.purchase_X_sum[:, ip],
            repeat_count=count,
            repeat_dropout=rep_X,
            last_dropout=self.last_X[:, idd],
        )

    def future(
        self,
        horizon: float,
        purchase: Sequence[str],
        dropout: Sequence[str],
        path: pd.DataFrame | None = None,
        *,
        customer_id_col: str = "customer_id",
        cov_date_col: str = "cov_date",
    ) -> FutureArrays:
        """Covariates from ``observation_end`` to ``observation_end + horizon``.

        Future period 0 is the rest of the last history period (length 0 when
        ``observation_end`` is on the period grid), then whole periods.

        Parameters
        ----------
        horizon : float
            Periods ahead.
        purchase, dropout : sequence of str
            The model's covariate columns.
        path : DataFrame, optional
            Future covariate values in the input layout (customer id, period
            start date, covariate columns), e.g. from :func:`future_covariates`.
            Periods must start at or after ``observation_end`` (the past is
            never changed).  Every period without a row carries the previous
            period's values forward; without ``path`` every customer keeps the
            values of the period containing ``observation_end``.

        Returns
        -------
        FutureArrays
        """
        h = float(horizon)
        if not (np.isfinite(h) and h >= 0):
            raise ValueError(f"horizon must be a number >= 0 of periods, got {horizon!r}.")
        n, k = self.current_X.shape
        H = int(np.ceil(float(self.current_offset.max(initial=0.0)) + h)) + 1
        values = np.full((n, H, k), np.nan)
        values[:, 0, :] = self.current_X
        if path is not None:
            self._place_path(values, path, customer_id_col, cov_date_col)
        for j in range(1, H):  # carry forward
            gap = np.isnan(values[:, j, :])
            values[:, j, :][gap] = values[:, j - 1, :][gap]
        length = np.ones((n, H))
        length[:, 0] = 1.0 - self.current_offset
        ip, idd = self._index(purchase, "purchase"), self._index(dropout, "dropout")
        return FutureArrays(length=length, purchase=values[..., ip], dropout=values[..., idd])

    def _place_path(
        self, values: np.ndarray, path: pd.DataFrame, id_col: str, date_col: str
    ) -> None:
        if not isinstance(path, pd.DataFrame):
            raise DataError(
                f"the future path must be a DataFrame, got {type(path).__name__}",
                what="the future covariate path",
            )
        what = "the future covariate path"
        problems = [
            Problem(c, "is missing", f"add it (columns: {id_col}, {date_col}, covariates)")
            for c in (id_col, date_col, *self.columns)
            if c not in path.columns
        ]
        if problems:
            raise DataError(problems, what=what)
        unit = _unit(self.time_unit)
        pos = self.customer_ids.get_indexer(pd.Index(path[id_col]))
        dates = pd.to_datetime(path[date_col]).to_numpy(dtype="datetime64[ns]")
        if (pos < 0).any():
            problems.append(
                Problem(
                    id_col,
                    "has customers that are not in the data",
                    "drop them or rebuild the data with them",
                    list(path[id_col][pos < 0]),
                )
            )
        past = dates < np.datetime64(self.observation_end)
        if past.any():
            problems.append(
                Problem(
                    date_col,
                    "has periods that start before observation_end "
                    f"({self.observation_end.date()}): a future path cannot "
                    "change the past",
                    "start the path at or after observation_end",
                    list(path[id_col][past]),
                )
            )
        X = path[list(self.columns)].to_numpy(dtype=np.float64)
        if not np.isfinite(X).all():
            problems.append(Problem(None, "has missing or infinite covariate values", "fill them"))
        if problems:
            raise DataError(problems, what=what)
        steps = (dates - self.current_start[pos]) / unit.to_timedelta64()
        j = np.rint(steps).astype(np.int64)
        off = np.abs(steps - j) > 1e-9
        if off.any():
            raise DataError(
                [
                    Problem(
                        date_col,
                        "has dates off the customers' covariate period grid",
                        "give period start dates",
                        list(path[id_col][off]),
                    )
                ],
                what=what,
            )
        keep = j < values.shape[1]
        values[pos[keep], j[keep], :] = X[keep]


def _problems_columns(frame: Any, cols: Sequence[str], name: str) -> list[Problem]:
    if not isinstance(frame, pd.DataFrame):
        return [
            Problem(
                None,
                f"{name} must be a pandas DataFrame, got {type(frame).__name__}",
                "pass a DataFrame",
            )
        ]
    return [
        Problem(
            c,
            f"is missing from {name}",
            f"add it or name the right column (columns are {list(frame.columns)[:10]})",
        )
        for c in cols
        if c not in frame.columns
    ]


def _merge(
    length: FloatArray, X: FloatArray, n: int, *, adjacent: bool
) -> tuple[FloatArray, FloatArray]:
    """Merge a customer's periods with equal covariates, summing their exposures.

    ``adjacent=True`` merges consecutive runs only (order matters after
    ``t_x``); otherwise every equal row of a customer is merged.
    """
    valid = length > 0
    cust = np.nonzero(valid)[0]
    L = length[valid]
    Xv = X[valid]
    if adjacent:
        change = np.ones(cust.size, dtype=bool)
        change[1:] = (cust[1:] != cust[:-1]) | np.any(Xv[1:] != Xv[:-1], axis=1)
        group = np.cumsum(change) - 1
        first = np.flatnonzero(change)
    else:
        keys = np.column_stack([cust.astype(np.float64), Xv])
        _, first, group = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        group = group.ravel()
    total = np.bincount(group, weights=L, minlength=first.size)
    order = np.argsort(cust[first], kind="stable")
    return tuple(_pad(cust[first][order], n, total[order], Xv[first][order]))  # type: ignore[return-value]


def _pad(cust: np.ndarray, n: int, *cols: np.ndarray) -> list[np.ndarray]:
    """Scatter rows (sorted by customer) into (n, width, ...) arrays padded with zeros."""
    counts = np.bincount(cust, minlength=n)
    width = max(int(counts.max(initial=0)), 1)
    starts = np.cumsum(counts) - counts
    slot = np.arange(cust.size) - starts[cust]
    out = []
    for c in cols:
        a = np.zeros((n, width, *c.shape[1:]))
        a[cust, slot] = c
        out.append(a)
    return out


def time_varying_data(
    transactions: pd.DataFrame,
    covariates: pd.DataFrame,
    *,
    columns: Sequence[str],
    observation_end: Any,
    customer_id_col: str = "customer_id",
    date_col: str = "date",
    cov_date_col: str = "cov_date",
    time_unit: str = "W",
) -> TimeVaryingData:
    """Build the per-customer arrays of the time-varying models.

    Parameters
    ----------
    transactions : DataFrame
        One row per purchase: ``customer_id_col``, ``date_col``.  Purchases
        after ``observation_end`` are ignored; same-timestamp purchases merged.
    covariates : DataFrame
        One row per customer and covariate period: ``customer_id_col``,
        ``cov_date_col`` (period start) and ``columns``.
    columns : sequence of str
        Covariate columns to keep (numeric, no missing values).
    observation_end : date-like
        End of the calibration period.
    time_unit : {"W", "D", "H"}
        Length of a covariate period and unit of all times.

    Returns
    -------
    TimeVaryingData
    """
    columns = tuple(columns)
    unit = _unit(time_unit)
    problems = _problems_columns(
        transactions, [customer_id_col, date_col], "transactions"
    ) + _problems_columns(covariates, [customer_id_col, cov_date_col, *columns], "covariates")
    if problems:
        raise DataError(problems, what=_WHAT)
    end = pd.Timestamp(observation_end)
    unit_ns = unit.value
    tx = pd.DataFrame(
        {
            "id": transactions[customer_id_col].to_numpy(),
            "date": pd.to_datetime(transactions[date_col]),
        }
    )
    if tx["date"].isna().any() or tx["id"].isna().any():
        raise DataError(
            [
                Problem(
                    date_col,
                    "or the customer id is missing in some transactions",
                    "drop or fill those rows",
                )
            ],
            what=_WHAT,
        )
    tx = tx[tx["date"] <= end].drop_duplicates()
    if tx.empty:
        raise DataError(
            [
                Problem(
                    date_col,
                    "has no purchase on or before observation_end",
                    "check observation_end",
                )
            ],
            what=_WHAT,
        )
    ids, cust_tx = np.unique(tx["id"].to_numpy(), return_inverse=True)
    n = ids.size
    tx_ns = tx["date"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    first_ns = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first_ns, cust_tx, tx_ns)
    last_ns = np.full(n, np.iinfo(np.int64).min)
    np.maximum.at(last_ns, cust_tx, tx_ns)
    counts = np.bincount(cust_tx, minlength=n)
    end_ns = end.to_datetime64().astype("datetime64[ns]").astype(np.int64)
    x = (counts - 1).astype(np.float64)
    t_x = (last_ns - first_ns) / unit_ns
    T = (end_ns - first_ns) / unit_ns

    cv = covariates[[customer_id_col, cov_date_col, *columns]]
    cov_ids = cv[customer_id_col].to_numpy()
    pos = pd.Index(ids).get_indexer(cov_ids)
    cov_dates = pd.to_datetime(cv[cov_date_col])
    problems = []
    if cov_dates.isna().any():
        problems.append(Problem(cov_date_col, "has missing dates", "fill or drop those rows"))
    X_all = cv[list(columns)].to_numpy(dtype=np.float64) if columns else np.zeros((len(cv), 0))
    bad = ~np.isfinite(X_all).all(axis=1)
    if bad.any():
        problems.append(
            Problem(
                None,
                f"covariates {list(columns)} have missing or infinite values",
                "fill them",
                list(cov_ids[bad]),
            )
        )
    if problems:
        raise DataError(problems, what=_WHAT)
    keep = pos >= 0
    cust = pos[keep]
    c_ns = cov_dates.to_numpy(dtype="datetime64[ns]").astype(np.int64)[keep]
    X_all = X_all[keep]
    order = np.lexsort((c_ns, cust))
    cust, c_ns, X_all = cust[order], c_ns[order], X_all[order]
    # ---- grid checks: consecutive periods, covering first purchase .. observation_end
    same = cust[1:] == cust[:-1]
    step = np.diff(c_ns)
    gap = same & (step != unit_ns)
    has = np.bincount(cust, minlength=n) > 0
    first_c = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first_c, cust, c_ns)
    last_c = np.full(n, np.iinfo(np.int64).min)
    np.maximum.at(last_c, cust, c_ns)
    if (~has).any():
        problems.append(
            Problem(
                customer_id_col,
                "has customers without covariate rows",
                "give every customer one row per period",
                list(ids[~has]),
            )
        )
    if gap.any():
        problems.append(
            Problem(
                cov_date_col,
                f"is not a gap-free grid of one {time_unit} "
                "period per row for some customers (duplicate or missing "
                "periods)",
                "give exactly one row per customer and period",
                list(np.unique(ids[cust[1:][gap]])),
            )
        )
    late = has & (first_c > first_ns)
    if late.any():
        problems.append(
            Problem(
                cov_date_col,
                "starts after the customer's first purchase",
                "add covariate periods back to the first purchase",
                list(ids[late]),
            )
        )
    short = has & (last_c + unit_ns < end_ns)
    if short.any():
        problems.append(
            Problem(
                cov_date_col,
                "ends before observation_end",
                "add covariate periods up to observation_end",
                list(ids[short]),
            )
        )
    if problems:
        raise DataError(problems, what=_WHAT)
    # ---- per covariate period: start (customer time), exposures
    s = (c_ns - first_ns[cust]) / unit_ns
    hist = np.clip(np.minimum(s + 1.0, t_x[cust]) - np.maximum(s, 0.0), 0.0, None)
    post = np.clip(np.minimum(s + 1.0, T[cust]) - np.maximum(s, t_x[cust]), 0.0, None)
    in_hist = hist > 0
    in_post = post > 0
    hist_length, hist_X = _pad(cust[in_hist], n, hist[in_hist], X_all[in_hist])
    post_length, post_X = _pad(cust[in_post], n, post[in_post], X_all[in_post])
    # ---- covariates at the repeat purchases: period index from exact integer time
    row0 = np.searchsorted(cust, np.arange(n))  # first covariate row of each customer
    repeat = tx_ns != first_ns[cust_tx]
    k = (tx_ns[repeat] - first_c[cust_tx[repeat]]) // unit_ns
    purchase_sum = np.zeros((n, len(columns)))
    X_rep = X_all[row0[cust_tx[repeat]] + k]
    np.add.at(purchase_sum, cust_tx[repeat], X_rep)
    counts2d = np.zeros((n, 1))
    if repeat.any():
        order_r = np.argsort(cust_tx[repeat], kind="stable")
        c_r = cust_tx[repeat][order_r]
        ones, Xr = _pad(c_r, n, np.ones(c_r.size), X_rep[order_r])
        counts2d, repeat_X = _merge(ones, Xr, n, adjacent=False)
    else:
        repeat_X = np.zeros((n, 1, len(columns)))
    k_last = (last_ns - first_c) // unit_ns
    last_X = X_all[row0 + k_last]
    # ---- the last period of the history (it contains observation_end - 0): its values
    # carry forward; rows starting at or after observation_end are not history
    kc = (end_ns - 1 - first_c) // unit_ns
    cur_row = row0 + np.minimum(kc, np.bincount(cust, minlength=n) - 1)
    current_start = c_ns[cur_row]
    current_offset = (end_ns - current_start) / unit_ns  # in (0, 1]
    return TimeVaryingData(
        customer_ids=pd.Index(ids, name=customer_id_col),
        columns=columns,
        time_unit=time_unit,
        observation_end=end,
        frequency=x,
        recency=t_x,
        T=T,
        hist_length=hist_length,
        hist_X=hist_X,
        post_length=post_length,
        post_X=post_X,
        purchase_X_sum=purchase_sum,
        repeat_count=counts2d,
        repeat_X=repeat_X,
        last_X=last_X,
        current_start=current_start.astype("datetime64[ns]"),
        current_offset=current_offset,
        current_X=X_all[cur_row],
    )


def future_covariates(
    data: TimeVaryingData,
    start: DateLike,
    periods: int,
    *,
    set_values: Mapping[str, float] | None = None,
    add: Mapping[str, float] | None = None,
    customers: Sequence[Any] | None = None,
    customer_id_col: str = "customer_id",
    cov_date_col: str = "cov_date",
) -> pd.DataFrame:
    """An alternative future path: values carried forward, changed from ``start`` on.

    Parameters
    ----------
    data : TimeVaryingData
    start : date-like
        First changed period; must be at or after ``observation_end`` and on
        the covariate period grid.
    periods : int
        Number of changed periods (later periods keep the last changed values).
    set_values, add : mapping of column to float, optional
        New values, or shifts added to the carried-forward values.
    customers : sequence, optional
        Customers whose path changes (default all); the others keep theirs.

    Returns
    -------
    DataFrame
        Long layout (customer id, period start, covariates) for ``path=``.
    """
    start = pd.Timestamp(start)
    if start < data.observation_end:
        raise DataError(
            [
                Problem(
                    cov_date_col,
                    f"start {start.date()} is before observation_end "
                    f"{data.observation_end.date()}: a future path cannot change "
                    "the past",
                    "start at or after observation_end",
                )
            ],
            what="the future covariate path",
        )
    unknown = [c for c in {**(set_values or {}), **(add or {})} if c not in data.columns]
    if unknown:
        raise DataError(
            [
                Problem(c, "is not a covariate of the data", f"use one of {list(data.columns)}")
                for c in unknown
            ],
            what="the future covariate path",
        )
    rows = (
        np.arange(data.n_customers)
        if customers is None
        else data.customer_ids.get_indexer(pd.Index(list(customers)))
    )
    if (rows < 0).any():
        raise DataError(
            [Problem(customer_id_col, "names customers not in the data", "drop them")],
            what="the future covariate path",
        )
    unit = _unit(data.time_unit).to_timedelta64()
    # datetime64 minus a datetime64 array is a timedelta64 array (NumPy's stub says datetime64)
    elapsed = cast(NDArray[np.timedelta64], np.datetime64(start) - data.current_start[rows])
    first = data.current_start[rows] + np.ceil(elapsed / unit).astype(np.int64) * unit
    n_per = int(periods)
    dates = first[:, None] + np.arange(n_per)[None, :] * unit
    X = np.repeat(data.current_X[rows][:, None, :], n_per, axis=1)
    for c, v in (set_values or {}).items():
        X[..., data.columns.index(c)] = float(v)
    for c, v in (add or {}).items():
        X[..., data.columns.index(c)] += float(v)
    frame = pd.DataFrame(X.reshape(-1, len(data.columns)), columns=list(data.columns))
    frame.insert(0, cov_date_col, dates.ravel())
    frame.insert(0, customer_id_col, np.repeat(data.customer_ids[rows].to_numpy(), n_per))
    return frame
