"""Bootstrapped parameter draws and prediction intervals for the maximum-likelihood models.

The asymptotic normal of :meth:`~clv.models._base.ParametricModel.sample_params`
is cheap but relies on a large-sample approximation; the nonparametric
bootstrap resamples *customers* with replacement, refits the model on each
resample (warm-started at the original estimates, so a refit takes a few
Newton or BFGS steps) and returns one parameter draw per refit.  The draws
have the layout of :meth:`sample_params` (one row per draw, one column per
entry of ``params_``), so everything that takes parameter draws takes them,
and :func:`predictions_over_draws` / :func:`percentile_interval` turn them into
percentile intervals of any prediction (expected purchases, CLV ...).

Resampling is done on row weights (a multinomial draw of how often each
customer appears), which is the same as copying rows but keeps the data
compressed; a ``weight`` column (identical customers per row) is resampled as
the customers it stands for.
"""

from __future__ import annotations

import copy
import inspect
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from clv._progress import progress_bar
from clv.exceptions import ClvError, ConvergenceWarning

__all__ = ["bootstrap", "model_at", "percentile_interval", "predictions_over_draws"]

MAX_DRAWS = 10_000
"""Upper bound on ``n`` (each draw is a full refit)."""


def _weights(data: pd.DataFrame) -> np.ndarray:
    if "weight" not in data.columns:
        return np.ones(len(data))
    w = data["weight"].to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(w) & (w >= 0)):
        raise ValueError("the weight column must be finite and >= 0 to resample customers.")
    return w


def _resample(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """How many times each row's customers appear in a bootstrap sample of the same size."""
    total = float(weights.sum())
    n = round(total)
    if abs(total - n) > 1e-9 * max(total, 1.0):
        # fractional weights: resample rows, each keeping its weight
        return rng.multinomial(len(weights), np.full(len(weights), 1.0 / len(weights))) * weights
    return rng.multinomial(n, weights / total).astype(np.float64)


def bootstrap(
    model: Any,
    data: pd.DataFrame,
    n: int = 200,
    *,
    random_state: int | np.random.Generator | None = None,
    progress: bool | None = None,
    max_seconds: float | None = None,
) -> pd.DataFrame:
    """Parameter draws from refits of ``model`` on customers resampled with replacement.

    Parameters
    ----------
    model : TransactionModel or SpendModel
        A fitted maximum-likelihood model of customer rows (its constructor
        arguments, e.g. covariates or penalties, are reused for every refit).
    data : DataFrame
        The data it was fitted on (one row per customer; a ``weight`` column
        counts identical customers).
    n : int, default 200
        Number of bootstrap refits (at most :data:`MAX_DRAWS`).
    random_state : int or Generator, optional
        Seed; the same seed gives the same draws.
    progress : bool, optional
        Progress bar (see :func:`clv._progress.progress_enabled`).
    max_seconds : float, optional
        Stop after this much time with the draws made so far (a
        :class:`~clv.exceptions.ConvergenceWarning` says how many).

    Returns
    -------
    DataFrame
        One row per successful refit (index ``draw``), columns as ``params_``.
        Refits that fail to converge are left out (a warning says how many
        when more than 5 % fail); ``attrs["n_failed"]`` counts them.

    Examples
    --------
    >>> from clv.data.datasets import load_cdnow_summary
    >>> from clv.models import BetaGeoModel
    >>> rfm = load_cdnow_summary()
    >>> draws = BetaGeoModel().fit(rfm).bootstrap(rfm, n=5, random_state=0, progress=False)
    >>> draws.shape
    (5, 4)
    """
    from clv.models._spend import SpendModel
    from clv.models._transaction import TransactionModel

    if not isinstance(model, TransactionModel | SpendModel):
        raise NotImplementedError(
            f"bootstrap resamples customers (one row each); {type(model).__name__} is fitted "
            "on other rows (periods, cohorts), so use sample_params() for its uncertainty."
        )
    model._check_fitted()
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 2 <= n <= MAX_DRAWS:
        raise ValueError(f"n must be a whole number in [2, {MAX_DRAWS}], got {n!r}.")
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds must be > 0, got {max_seconds!r}.")
    if not isinstance(data, pd.DataFrame) or len(data) == 0:
        raise ValueError("data must be the (non-empty) DataFrame the model was fitted on.")
    rng = np.random.default_rng(random_state)
    weights = _weights(data)
    # the refits start at the estimates; structural settings chosen by the fit (the order k
    # of the CNBD-k models) stay fixed at the fitted value, so every draw has the same layout
    base = [k for k in model.spec.params._fields if k in model.params_.index]
    start = {k: float(model.params_[k]) for k in base}
    kwargs = {**model.get_params(), **model._bootstrap_fixed_params()}
    fit_kwargs: dict[str, Any] = {"initial_params": start}
    time_unit = getattr(model, "time_unit_", None)
    if time_unit is not None and "time_unit" in inspect.signature(model.fit).parameters:
        fit_kwargs["time_unit"] = time_unit
    columns = model.params_.index
    draws: list[np.ndarray] = []
    failed = 0
    began = time.monotonic()
    stopped = False
    with progress_bar(
        total=int(n), desc=f"bootstrap {type(model).__name__}", progress=progress
    ) as bar:
        for _ in range(int(n)):
            if max_seconds is not None and time.monotonic() - began > max_seconds:
                stopped = True
                break
            counts = _resample(weights, rng)
            keep = counts > 0
            sample = data.loc[keep].assign(weight=counts[keep])
            refit = type(model)(**kwargs)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # warnings of a resample: judged in aggregate
                    refit.fit(sample, **fit_kwargs)
                ok = bool(refit.converged_) and np.all(np.isfinite(refit.params_.to_numpy()))
            except (ClvError, ValueError, FloatingPointError):
                ok = False
            if ok:
                draws.append(refit.params_[columns].to_numpy(dtype=np.float64))
            else:
                failed += 1
            bar.update(1)
    if stopped:
        warnings.warn(
            f"bootstrap stopped after max_seconds={max_seconds:g} with {len(draws)} of {n} "
            "draws; intervals from few draws are rough (use more time or a smaller n).",
            ConvergenceWarning,
            stacklevel=2,
        )
    if failed > 0.05 * (len(draws) + failed):
        warnings.warn(
            f"{failed} of {len(draws) + failed} bootstrap refits did not converge and are left "
            "out; the intervals may be too narrow. The estimates may be poorly identified.",
            ConvergenceWarning,
            stacklevel=2,
        )
    if len(draws) < 2:
        raise ClvError(
            f"only {len(draws)} of {len(draws) + failed} bootstrap refits converged; no "
            "interval can be formed."
        )
    out = pd.DataFrame(
        np.vstack(draws), columns=columns, index=pd.RangeIndex(len(draws), name="draw")
    )
    out.attrs["n_failed"] = failed
    return out


def model_at(model: Any, params: Mapping[str, float] | pd.Series) -> Any:
    """A copy of a fitted ``model`` whose parameters are ``params`` (e.g. one bootstrap draw).

    The copy predicts with those parameters; its covariance is the original's.
    """
    model._check_fitted()
    values = pd.Series(params, dtype=np.float64)
    missing = [k for k in model.params_.index if k not in values.index]
    if missing:
        raise ValueError(f"params is missing {missing}; expected {list(model.params_.index)}.")
    twin = copy.copy(model)
    twin.params_ = values[model.params_.index].rename("coef")
    return twin


def predictions_over_draws(
    model: Any, draws: pd.DataFrame, predict: Callable[[Any], pd.Series]
) -> pd.DataFrame:
    """``predict(model at each draw)``: one row per draw, one column per customer.

    Examples
    --------
    >>> from clv.data.datasets import load_cdnow_summary
    >>> from clv.models import BetaGeoModel
    >>> rfm = load_cdnow_summary().head(50)
    >>> m = BetaGeoModel().fit(load_cdnow_summary())
    >>> draws = m.sample_params(3, random_state=0)
    >>> predictions_over_draws(m, draws, lambda d: d.expected_purchases(10, rfm)).shape
    (3, 50)
    """
    results = [predict(model_at(model, row)) for _, row in draws.iterrows()]
    rows = [np.asarray(r, dtype=np.float64) for r in results]
    columns = results[0].index if isinstance(results[0], pd.Series) else None
    return pd.DataFrame(np.vstack(rows), index=draws.index, columns=columns)


def percentile_interval(values: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Percentile interval of each column of ``values`` (draws x customers).

    Returns
    -------
    DataFrame
        ``median``, ``lower`` (``alpha/2`` quantile) and ``upper`` per column.

    Examples
    --------
    >>> v = pd.DataFrame({"a": np.arange(101.0)})
    >>> percentile_interval(v, alpha=0.1).loc["a"].tolist()
    [50.0, 5.0, 95.0]
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}.")
    arr = values.to_numpy(dtype=np.float64)
    lo, mid, hi = np.quantile(arr, [alpha / 2, 0.5, 1 - alpha / 2], axis=0)
    return pd.DataFrame({"median": mid, "lower": lo, "upper": hi}, index=values.columns)
