r"""Investments as changes of the future covariate path: the time-varying valuation engine.

:class:`PathEngine` values investments with the time-varying Pareto/NBD
(:class:`clv.models.ParetoNBDDynamicModel`) fitted on per-period CX paths
(:func:`clv.cx.paths.feature_paths`). It has the interface of the static
:class:`~clv.roi.engine.CounterfactualEngine` (units, flows per draw, the lever
coalitions, costs), so the finance table, the decision columns, the evidence
grades, the causal-share prior, the portfolio and the sensitivity analysis of
:mod:`clv.roi` consume it unchanged.

**The future path.** Without an investment every customer's covariates stay at
their last observed values (carried forward). An investment changes the path
from its start (``Investment.start``: periods after the cutoff or a date) on,
never the past, for its targeted customers:

* ``add`` / ``relative`` / ``set``: :math:`x+a`, :math:`x(1+a)`, :math:`a`
  (clipped to the range the paths have taken);
* ``restore``: :math:`x + a\,(x_{pre} - x)` with :math:`x_{pre}` the median of
  the customer's path before ``Shift.before`` (the problem's start; customers
  without a period before it get the median over all customers): "fix an
  ongoing problem". Only paths whose current value lies outside the pre-change
  noise band (twice the robust SD of the path before ``before``) change: a
  problem already fixed leaves them as they are, so its fix is worth 0;
* ``prevent``: the baseline is the path in which the signal moves by :math:`a`
  from the start; the investment keeps it where it is ("prevent future bad
  experiences").

Ramp-up and duration count valuation periods from the start.

**Valuation per draw.** Parameter draws come from the dynamic model's
asymptotic normal (``sample_params``, seeded); each draw conditions every
customer on the actual history. The change of the path :math:`\Delta x(t)`
enters as extra log multipliers :math:`\gamma'^\top \Delta x(t)` of the future
purchase and dropout rates, where :math:`\gamma'` is the investment's
coefficient (the fitted one scaled by the causal share, or its evidence); a
``prevent`` baseline moves by :math:`\gamma'^\top \Delta x_0(t)` alike. Per
valuation period :math:`k` the incremental margin is
:math:`m\,\bar s_i\,(E_{ik}^{inv} - E_{ik}^{base})` (expected purchases from
:meth:`~clv.models.ParetoNBDDynamicModel.expected_purchases_by_period`, expected
spend from the Gamma-Gamma draw), discounted at :math:`(1+d)^{-k}` like the
static engine. The lever split switches the dropout (retention) and purchase
(repeat purchase) multipliers on one at a time (exact Shapley). Intervals
describe parameter uncertainty only (no sampling of the customers' latent
states).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clv.exceptions import DataError, Problem
from clv.roi import _math
from clv.roi.engine import ALL, CounterfactualEngine, _model_draws, _seed
from clv.roi.spec import Investment, coefficient_parts

__all__ = ["PathEngine"]

_UNIT_DAYS = {"D": 1.0, "W": 7.0, "H": 1.0 / 24.0}
_CHUNK = 8  # parameter draws per model call
# scenarios of one model call: baseline, every lever, retention only, repeat purchase only
_BASE, _ALL, _DROPOUT, _PURCHASE = 0, 1, 2, 3


@dataclass
class _Change:
    """One shift of one column for the unit's rows."""

    mode: str
    amount: np.ndarray  # (S,)
    ok: np.ndarray  # (rows,) bool: shifted rows
    level: np.ndarray | None = None  # (rows,) restore target
    lo: float = -np.inf
    hi: float = np.inf


@dataclass
class _PathUnit:
    """One investment's change of the future path for a set of rows (the engine's unit)."""

    rows: np.ndarray
    delta: dict[str, list[_Change]]
    profile: np.ndarray  # (H,) share in force per valuation period (reporting)
    coefs: dict[str, np.ndarray]
    weight: np.ndarray  # (rows, Hm) share in force per future model period, times the scale
    acquisition: list[Any] = field(default_factory=list)
    scope: dict[str, np.ndarray] = field(default_factory=dict)  # evidence scopes: not on paths


class _PathState:
    """Per-draw baseline of the path engine: ``weight`` (margin x spend) and ``j0``, the
    expected purchases per valuation period of the rows valued so far (NaN elsewhere)."""

    def __init__(self, engine: PathEngine, i: int) -> None:
        self._engine, self._i = engine, i

    @property
    def weight(self) -> np.ndarray:
        return self._engine._weight[self._i]

    @property
    def j0(self) -> np.ndarray:
        return self._engine._j0[self._i]

    contact = None


@dataclass
class PathEngine(CounterfactualEngine):
    """Evaluate investments as future-path changes under a time-varying Pareto/NBD.

    Parameters
    ----------
    transaction_model : ParetoNBDDynamicModel
        Fitted on ``tv_data``.
    spend_model : GammaGammaModel or float
        Expected spend per purchase (fitted without covariates on ``data``), or a value.
    data : DataFrame
        Scoring frame, one row per customer in the order of ``tv_data.customer_ids``:
        ``frequency``, ``recency``, ``T``, ``monetary_value`` (for Gamma-Gamma) and the
        columns investment targets use.
    horizon, discount_rate, margin, n_draws, random_state
        As for :class:`~clv.roi.engine.CounterfactualEngine` (per valuation period).
    period_length : float
        Valuation period in the time unit of ``data`` (``data_time_unit``), e.g.
        30.44 days for months.
    causal_share : CausalShare, optional
        Prior on the causal share of fitted (grade C) coefficients.
    tv_data : TimeVaryingData
        Histories and covariate paths the model was fitted on.
    paths : DataFrame
        The per-period covariate paths (customer id, period start, columns), for
        the pre-change levels of ``restore`` shifts.
    data_time_unit : {"D", "W", "H"}, default "D"
        Time unit of ``data`` and ``period_length``.
    """

    tv_data: Any = None
    paths: pd.DataFrame | None = None
    data_time_unit: str = "D"
    customer_id_col: str = "customer_id"
    cov_date_col: str = "cov_date"

    def __post_init__(self) -> None:
        self._check_path_inputs()
        self.customer_uncertainty = False
        self.horizon = int(self.horizon)
        seed = int(self.random_state)
        fixed = isinstance(self.spend_model, int | float)
        self.spend_draws_ = None if fixed else _model_draws(self.spend_model, self.n_draws, seed)
        self.discount_ = _math.discount_factors(self.horizon, self.discount_rate)
        self.share_draws_ = (
            None if self.causal_share is None else self.causal_share.draws(self.n_draws, seed)
        )
        self.contact_draws_ = None
        self.acquisition_draws_ = None
        self.last_service_change_ = np.zeros(self.n_draws)
        model, tv = self.transaction_model, self.tv_data
        self.step = (
            float(self.period_length)
            * _UNIT_DAYS[self.data_time_unit]
            / _UNIT_DAYS[str(model.time_unit_)]
        )
        self._ends = np.arange(1, self.horizon + 1) * self.step
        self.transaction_draws_ = self._finite_draws(seed)
        self._cols = list(dict.fromkeys([*model.purchase_covariates, *model.dropout_covariates]))
        future = tv.future(float(self._ends[-1]), self._cols, [])
        self._X = future.purchase  # (n, Hm, k): the carried-forward future path
        self._fstart = np.cumsum(future.length, axis=1) - future.length  # model periods
        hist = tv.hist_X if tv.hist_X.size else np.zeros((0, 0, len(tv.columns)))
        self._range = {}
        for c in self._cols:
            j = tv.columns.index(c)
            seen = np.concatenate([hist[..., j].ravel(), tv.post_X[..., j].ravel()])
            seen = np.concatenate([seen, tv.current_X[:, j]])
            self._range[c] = (float(np.nanmin(seen)), float(np.nanmax(seen)))
        n = len(self.data)
        self._weight = np.stack([self.margin * self._spend(i) for i in range(self.n_draws)])
        self._j0 = np.full((self.n_draws, n, self.horizon), np.nan)
        self._states = [_PathState(self, i) for i in range(self.n_draws)]  # type: ignore[misc]
        self._levels: dict[tuple[str, str], np.ndarray] = {}

    def _finite_draws(self, seed: int, probe: int = 300, rounds: int = 5) -> pd.DataFrame:
        """Parameter draws whose predictions are finite for a probe of customers.

        Along a flat likelihood direction (the s/beta ridge when dropout is nearly
        homogeneous) the asymptotic normal can reach parameter sets where the
        predictions are numerically undefined; those draws are redrawn (at most
        ``rounds`` times, then replaced by the estimate). ``rejected_draws_`` counts them.
        """
        model, tv = self.transaction_model, self.tv_data
        draws = _model_draws(model, self.n_draws, seed)
        pick = np.linspace(0, tv.n_customers - 1, min(probe, tv.n_customers)).astype(np.int64)
        ids = tv.customer_ids[pick]
        ends = np.array([float(self.horizon * self.step)])

        def bad(frame: pd.DataFrame) -> np.ndarray:
            with np.errstate(all="ignore"):
                e = model.expected_purchases_by_period(tv, ends, params=frame, customers=ids)
            return ~np.isfinite(e).all(axis=(1, 2))

        wrong = bad(draws)
        self.rejected_draws_ = int(wrong.sum())
        for k in range(rounds):
            if not wrong.any():
                break
            fresh = model.sample_params(
                int(wrong.sum()), random_state=np.random.default_rng(_seed(seed, "redraw", k))
            )
            draws.iloc[np.flatnonzero(wrong)] = fresh.to_numpy()
            wrong[wrong] = bad(fresh)
        if wrong.any():
            draws.iloc[np.flatnonzero(wrong)] = model.params_.to_numpy()
        return draws

    # ------------------------------------------------------------------ checks
    def _check_path_inputs(self) -> None:
        from clv.models import ParetoNBDDynamicModel
        from clv.models._dyncov_data import TimeVaryingData

        if not isinstance(self.transaction_model, ParetoNBDDynamicModel):
            raise TypeError(
                "PathEngine needs a fitted clv.models.ParetoNBDDynamicModel, got "
                f"{type(self.transaction_model).__name__}."
            )
        self.transaction_model._check_fitted()
        if not isinstance(self.tv_data, TimeVaryingData):
            raise TypeError("PathEngine needs tv_data=, the model's TimeVaryingData.")
        if self.data_time_unit not in _UNIT_DAYS:
            raise ValueError(f"data_time_unit must be one of {sorted(_UNIT_DAYS)}.")
        if not isinstance(self.data, pd.DataFrame) or not self.data.index.equals(
            self.tv_data.customer_ids
        ):
            raise DataError(
                [
                    Problem(
                        None,
                        "the scoring frame's rows are not the customers of the "
                        "time-varying data, in the same order",
                        "reindex it by tv_data.customer_ids",
                    )
                ],
                what="the scoring data",
            )
        spend = self.spend_model
        if not isinstance(spend, int | float) and "monetary_value" not in self.data.columns:
            raise DataError(
                [Problem("monetary_value", "column is missing", "pass the RFM frame")],
                what="the scoring data",
            )
        if not (isinstance(self.horizon, int | np.integer) and self.horizon >= 1):
            raise ValueError(f"horizon must be a whole number >= 1, got {self.horizon!r}.")
        if not (np.isfinite(self.discount_rate) and self.discount_rate >= 0):
            raise ValueError(f"discount_rate must be >= 0 per period, got {self.discount_rate!r}.")
        if not (np.isfinite(self.margin) and self.margin > 0):
            raise ValueError(f"margin must be > 0, got {self.margin!r}.")
        if not (isinstance(self.n_draws, int) and self.n_draws >= 2):
            raise ValueError(f"n_draws must be a whole number >= 2, got {self.n_draws!r}.")

    # ------------------------------------------------------------------ units
    def start_time(self, inv: Investment) -> float:
        """Model periods from the cutoff to the investment's start (``DataError`` if before)."""
        if inv.start is None or isinstance(inv.start, int):
            return inv.start_periods * self.step
        unit = pd.Timedelta(days=_UNIT_DAYS[str(self.transaction_model.time_unit_)])
        when = pd.Timestamp(inv.start)
        t = (when - self.tv_data.observation_end) / unit
        if t < -1e-9:
            raise DataError(
                [
                    Problem(
                        "start",
                        f"investment {inv.name!r} starts on {when.date()}, before the "
                        f"cutoff {self.tv_data.observation_end.date()}: an investment "
                        "changes the future only",
                        "start at or after the cutoff (or give periods after it)",
                    )
                ],
                what="the investments",
            )
        return max(float(t), 0.0)

    def restore_level(self, column: str, before: str) -> tuple[np.ndarray, np.ndarray]:
        """Each customer's pre-change level of ``column`` and its noise band.

        The level is the median of the customer's path before ``before``; the band
        is twice the robust standard deviation (1.4826 x the median absolute
        deviation) of those values. Customers without a period before ``before``
        get the median and band over all customers.
        """
        key = (column, before)
        if key not in self._levels:
            paths, idc, dc = self.paths, self.customer_id_col, self.cov_date_col
            when = pd.Timestamp(before)
            if when >= self.tv_data.observation_end:
                raise DataError(
                    [
                        Problem(
                            "before",
                            f"restore of {column!r}: before={before} is not before the "
                            f"cutoff {self.tv_data.observation_end.date()}",
                            "give the date the problem began",
                        )
                    ],
                    what="the investments",
                )
            if paths is None or column not in paths.columns:
                raise DataError(
                    [Problem(column, "has no covariate path", "pass paths= with the column")],
                    what="the investments",
                )
            past = paths[pd.to_datetime(paths[dc]) < when]
            if past.empty:
                raise DataError(
                    [
                        Problem(
                            "before",
                            f"restore of {column!r}: no covariate period starts before "
                            f"{before}, so there is no pre-change level",
                            "give a later date (after the first purchases)",
                        )
                    ],
                    what="the investments",
                )
            values = past[column].astype(np.float64)
            med = values.groupby(past[idc]).median()
            mad = (values - past[idc].map(med)).abs().groupby(past[idc]).median()
            ids = self.tv_data.customer_ids
            all_med = float(values.median())
            all_band = 2.0 * 1.4826 * float((values - all_med).abs().median())
            level = med.reindex(ids).fillna(all_med).to_numpy(np.float64)
            band = (2.0 * 1.4826 * mad).reindex(ids).fillna(all_band).to_numpy(np.float64)
            self._levels[key] = np.stack([level, band])
        level, band = self._levels[key]
        return level, band

    def _unit(  # type: ignore[override]  # a path unit in place of the static engine's unit
        self,
        inv: Investment,
        coefs: Any = None,
        scale: float = 1.0,
        share: float | np.ndarray | None = None,
        evidenced_only: bool = False,
    ) -> _PathUnit:
        coefs = dict(self._coefficients(inv, share, evidenced_only) if coefs is None else coefs)
        rows = self._target_rows(inv)
        fitted = {
            p[1] for n in coefs if (p := coefficient_parts(n)) and p[0] in ("purchase", "dropout")
        }
        sub = self.data.iloc[rows]
        delta: dict[str, list[_Change]] = {}
        for k, shift in enumerate(inv.shifts):
            col = shift.column
            if col not in self._cols or col not in fitted:
                raise ValueError(
                    f"investment {inv.name!r}: {col!r} is not a covariate of the time-varying "
                    f"model ({', '.join(self._cols) or 'none'}), so shifting it changes "
                    "nothing; shift one of those, or give its effect as evidence."
                )
            ok, amount = self._shift_rows_and_amount(inv, shift, k, sub)
            level = None
            if shift.mode == "restore":
                assert shift.before is not None
                pre, band = self.restore_level(col, shift.before)
                level = pre[rows]
                # a problem still there: the current level is outside the pre-change band
                now = self._X[rows, 0, self._cols.index(col)]
                ok &= np.abs(now - level) > band[rows]
            lo, hi = self._range[col]
            delta.setdefault(col, []).append(_Change(shift.mode, amount, ok, level, lo, hi))
        t0 = self.start_time(inv)
        since = self._fstart[rows] - t0  # (rows, Hm) model periods since the start
        k = np.floor(since / self.step + 1e-9) + 1.0  # valuation periods of effect
        w = np.where(since >= -1e-9, 1.0, 0.0)
        if inv.ramp_periods > 0:
            w = w * np.clip(k / inv.ramp_periods, 0.0, 1.0)
        if inv.duration is not None:
            w = np.where(k <= inv.duration, w, 0.0)
        profile = _math.ramp_profile(
            self.horizon,
            ramp_periods=inv.ramp_periods,
            duration=inv.duration,
            start=1 + int(np.floor(t0 / self.step + 1e-9)),
        )
        if not delta:
            rows = np.zeros(0, dtype=np.int64)
        return _PathUnit(rows, delta, profile, coefs, w * float(scale))

    def _path_changes(self, unit: _PathUnit, i: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per column: (investment path - baseline path, baseline - carried forward), draw ``i``."""
        out = {}
        for col, changes in unit.delta.items():
            x = self._X[unit.rows, :, self._cols.index(col)]
            cur = x.copy()
            base_dev = np.zeros_like(x)
            for ch in changes:
                a = float(ch.amount[i])
                on = unit.weight * ch.ok[:, None]
                if ch.mode == "prevent":
                    base_dev += a * on
                    continue
                if ch.mode == "add":
                    new = np.clip(cur + a, ch.lo, ch.hi)
                elif ch.mode == "relative":
                    new = np.clip(cur * (1.0 + a), ch.lo, ch.hi)
                elif ch.mode == "set":
                    new = np.full_like(cur, np.clip(a, ch.lo, ch.hi))
                else:  # restore
                    assert ch.level is not None
                    new = cur + a * (ch.level[:, None] - cur)
                cur = cur + (new - cur) * on
            out[col] = (cur - x - base_dev, base_dev)
        return out

    def affected(self, unit: Any) -> int:
        """Customers whose future path the investment changes (under the first draw)."""
        if not unit.delta:
            return 0
        moved = np.zeros(len(unit.rows), dtype=bool)
        for change, base_dev in self._path_changes(unit, 0).values():
            moved |= np.any(change != 0, axis=1) | np.any(base_dev != 0, axis=1)
        return int(moved.sum())

    # ------------------------------------------------------------------ evaluation
    def flows(
        self, units: Any, draws: Any = None, *, full_only: bool = False, per_period: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """Incremental margin of the units applied together, per draw: ``(S, H)`` flows and the
        ``(S, 32)`` lever-coalition totals of :meth:`CounterfactualEngine.flows` (retention =
        the dropout multipliers, repeat purchase = the purchase multipliers; spend,
        acquisition and service cost are not path levers and add nothing). The totals come
        from the per-period flows here, so ``per_period=False`` still returns them."""
        units = list(units)
        rows = np.unique(np.concatenate([u.rows for u in units])) if units else np.zeros(0)
        rows = rows.astype(np.int64)
        idx = list(range(self.n_draws)) if draws is None else list(draws)
        full = np.zeros((len(idx), self.horizon))
        totals = np.zeros((len(idx), 32))
        self.last_service_change_ = np.zeros(len(idx))
        if len(rows) == 0:
            return full, totals
        n_scen = 2 if full_only else 4
        width = self._X.shape[1]
        ids = self.tv_data.customer_ids[rows]
        for lo in range(0, len(idx), _CHUNK):
            chunk = idx[lo : lo + _CHUNK]
            shape = (len(chunk), n_scen, len(rows), width)
            off = {p: np.zeros(shape) for p in ("purchase", "dropout")}
            for c, i in enumerate(chunk):
                for unit in units:
                    pos = np.searchsorted(rows, unit.rows)
                    for col, (change, base_dev) in self._path_changes(unit, i).items():
                        for p in ("purchase", "dropout"):
                            g = unit.coefs.get(f"{p}[{col}]")
                            if g is None or g[i] == 0:
                                continue
                            base = g[i] * base_dev
                            eff = g[i] * change
                            on_in = (_ALL,) + ((_DROPOUT,) if p == "dropout" else (_PURCHASE,))
                            for s in range(n_scen):
                                off[p][c, s, pos] += base + (eff if s in on_in else 0.0)
            plain = not any(np.any(off[p][:, _BASE]) for p in off)
            E = self.transaction_model.expected_purchases_by_period(
                self.tv_data,
                self._ends,
                params=self.transaction_draws_.iloc[chunk],
                customers=ids,
                log_multipliers=off,
            )  # (chunk, scenarios, rows, H)
            for c, i in enumerate(chunk):
                slot = lo + c
                if plain:
                    self._j0[i, rows] = E[c, _BASE]
                w = self._weight[i, rows][:, None]
                gain = [np.add.reduce(w * (E[c, s] - E[c, _BASE]), axis=0) for s in range(n_scen)]
                full[slot] = gain[_ALL]
                pv = [float(np.add.reduce(g * self.discount_)) for g in gain]
                if full_only:
                    totals[slot, ALL] = pv[_ALL]
                    continue
                by_bits = {0: 0.0, 1: pv[_DROPOUT], 2: pv[_PURCHASE], 3: pv[_ALL]}
                for b in range(32):
                    totals[slot, b] = by_bits[b & 3]
        return full, totals


def evaluate_path_investments(
    investments: Any,
    *,
    transaction_model: Any,
    spend_model: Any,
    data: pd.DataFrame,
    tv_data: Any,
    paths: pd.DataFrame | None,
    horizon: int,
    discount_rate: float,
    margin: float | None = None,
    n_draws: int = 200,
    random_state: int = 0,
    breakeven: bool = True,
    period_length: float = 1.0,
    data_time_unit: str = "D",
    causal_share: Any = None,
    progress: bool | None = None,
    customer_id_col: str = "customer_id",
    cov_date_col: str = "cov_date",
) -> Any:
    """:func:`clv.roi.evaluate_investments` for the time-varying model: a :class:`RoiResult`
    with the same finance table, decision columns, grades and causal-share handling.

    Parameters are those of :class:`PathEngine` (``causal_share=None``: fitted
    effects fully causal; pass :class:`~clv.roi.CausalShare` for the prior);
    ``margin=None`` values revenue (margin 1) and says so in the table, as
    :func:`clv.roi.evaluate_investments` does.
    """
    from clv._progress import progress_bar
    from clv.roi.finance import RoiResult, _evaluate_one

    invs = list(investments)
    if not invs:
        raise ValueError("give at least one Investment.")
    names = [i.name for i in invs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"investment names must be unique; repeated: {dupes}.")
    engine = PathEngine(
        transaction_model,
        spend_model,
        data,
        int(horizon),
        discount_rate,
        1.0 if margin is None else margin,
        n_draws,
        random_state,
        period_length,
        False,
        None,
        None,
        causal_share,
        tv_data=tv_data,
        paths=paths,
        data_time_unit=data_time_unit,
        customer_id_col=customer_id_col,
        cov_date_col=cov_date_col,
    )
    results = {
        inv.name: _evaluate_one(engine, inv, breakeven=breakeven)
        for inv in progress_bar(invs, desc="valuing investments", progress=progress)
    }
    return RoiResult(results, engine, margin_given=margin is not None)
