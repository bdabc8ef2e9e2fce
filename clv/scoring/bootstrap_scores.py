"""Bootstrap parameter draws in a model bundle, and score intervals from them.

``clv fit --bootstrap N`` refits the transaction and spend models on customers
resampled with replacement (:func:`clv.models.bootstrap.bootstrap`) and stores
the parameter draws in the bundle's ``bootstrap`` section; ``clv score
--intervals bootstrap`` scores every customer at each draw and adds the 5% and
95% quantiles of every score (``<score>_p05`` / ``<score>_p95``, the layout of
posterior scoring). No refit happens at scoring time, so scoring stays as fast
and as reproducible as the bundle.

The two models are resampled independently (the Gamma-Gamma model assumes
spend independent of the purchase process); draw ``i`` of one is paired with
draw ``i`` of the other.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clv.exceptions import ModelFileError

__all__ = [
    "QUANTILES",
    "bootstrap_score_table",
    "bootstrap_section",
    "check_bootstrap_section",
    "interval_columns",
    "used_draws",
]

#: Quantiles of each score over the draws (as for posterior model files).
QUANTILES = (0.05, 0.95)
#: Largest ``draws x rows`` block of one score held at once (bounded memory).
_BLOCK_CELLS = 4_000_000


def _draws_part(draws: pd.DataFrame) -> dict[str, Any]:
    return {
        "columns": [str(c) for c in draws.columns],
        "draws": draws.to_numpy(dtype=np.float64).tolist(),
        "n_failed": int(draws.attrs.get("n_failed", 0)),
    }


def bootstrap_section(
    transaction_draws: pd.DataFrame, spend_draws: pd.DataFrame | None, *, n: int, seed: int
) -> dict[str, Any]:
    """The bundle's ``bootstrap`` section (paired draws: both cut to the shorter).

    Parameters
    ----------
    transaction_draws, spend_draws : DataFrame
        Draws of :meth:`~clv.models._base.ParametricModel.bootstrap` (one row per draw).
    n : int
        Number of refits asked for.
    seed : int
        Seed of the resampling.
    """
    dropped = 0
    if spend_draws is not None:
        # a draw with q <= 1 has no finite mean spend for one-time buyers: left out
        finite = spend_draws["q"].to_numpy(dtype=np.float64) > 1.0
        dropped = int((~finite).sum())
        spend_draws = spend_draws.loc[finite]
    size = (
        len(transaction_draws)
        if spend_draws is None
        else min(len(transaction_draws), len(spend_draws))
    )
    return {
        "n_requested": int(n),
        "seed": int(seed),
        "n_spend_q_at_most_1": dropped,
        "transaction": _draws_part(transaction_draws.iloc[:size]),
        "spend": None if spend_draws is None else _draws_part(spend_draws.iloc[:size]),
    }


def _check_part(part: Any, model: Any, path: Path | str, role: str) -> pd.DataFrame:
    damaged = f"'{path}' is a damaged model bundle: its bootstrap draws of the {role}"
    if not isinstance(part, Mapping) or not isinstance(part.get("draws"), list):
        raise ModelFileError(f"{damaged} are missing. Refit with `clv fit --bootstrap N`.")
    columns = list(model.params_.index)
    if part.get("columns") != columns:
        raise ModelFileError(
            f"{damaged} are of parameters {part.get('columns')!r}, the model's are {columns}. "
            "Refit with `clv fit --bootstrap N`."
        )
    try:
        values = np.asarray(part["draws"], dtype=np.float64)
    except (TypeError, ValueError):
        raise ModelFileError(
            f"{damaged} are not numbers. Refit with `clv fit --bootstrap N`."
        ) from None
    if values.ndim != 2 or values.shape[1] != len(columns) or values.shape[0] < 2:
        raise ModelFileError(
            f"{damaged} are not a table of at least 2 draws of {len(columns)} parameters. "
            "Refit with `clv fit --bootstrap N`."
        )
    if not bool(np.all(np.isfinite(values) & (values > 0))):
        raise ModelFileError(
            f"{damaged} hold values that are not finite and positive. Refit with "
            "`clv fit --bootstrap N`."
        )
    return pd.DataFrame(values, columns=columns)


def check_bootstrap_section(
    section: Any, transaction_model: Any, spend_model: Any, path: Path | str
) -> dict[str, Any]:
    """Check a bundle's ``bootstrap`` section; raise :class:`ModelFileError` when damaged."""
    if not isinstance(section, Mapping):
        raise ModelFileError(
            f"'{path}' is a damaged model bundle: its bootstrap section is not a table. Refit "
            "with `clv fit --bootstrap N`."
        )
    tx = _check_part(section.get("transaction"), transaction_model, path, "transaction model")
    if spend_model is not None and section.get("spend") is not None:
        sp = _check_part(section["spend"], spend_model, path, "spend model")
        if len(sp) != len(tx):
            raise ModelFileError(
                f"'{path}' is a damaged model bundle: {len(tx)} transaction and {len(sp)} "
                "spend bootstrap draws (they are paired). Refit with `clv fit --bootstrap N`."
            )
    return dict(section)


def draws_of(section: Mapping[str, Any], role: str) -> pd.DataFrame | None:
    """The draws of ``role`` (``"transaction"`` or ``"spend"``) as a frame, or ``None``."""
    part = section.get(role)
    if part is None:
        return None
    return pd.DataFrame(np.asarray(part["draws"], dtype=np.float64), columns=part["columns"])


def interval_columns(scores: list[str]) -> list[str]:
    """``<score>_p05``, ``<score>_p95`` of each score, in order."""
    return [f"{s}_p{round(q * 100):02d}" for s in scores for q in QUANTILES]


def used_draws(n_draws: int, max_draws: int | None) -> np.ndarray:
    """Positions of the draws scored: all, or ``max_draws`` evenly spaced.

    Examples
    --------
    >>> used_draws(10, 3).tolist()
    [0, 3, 6]
    """
    from clv.scoring.posterior_scores import draw_indices

    return draw_indices(1, n_draws, max_draws=max_draws)


def bootstrap_score_table(
    bundle: Any,
    rfm: pd.DataFrame,
    *,
    horizon: int,
    discount_rate: float,
    margin: float,
    max_draws: int | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """The score table of :func:`clv.scoring.tables.score_table` plus bootstrap quantiles.

    Every customer is scored at each stored draw (at most ``max_draws`` of
    them, evenly spaced, which bounds the time; the rows in blocks, which
    bounds the memory); the 5% and 95% quantiles of each score over the draws
    follow the point scores, as ``<score>_p05`` and ``<score>_p95``.
    """
    from clv._progress import progress_bar
    from clv.models.bootstrap import model_at
    from clv.scoring.tables import score_table

    point = score_table(
        bundle.transaction_model,
        bundle.spend_model,
        rfm,
        horizon=horizon,
        discount_rate=discount_rate,
        margin=margin,
    )
    section = bundle.bootstrap
    tx_draws = draws_of(section, "transaction")
    sp_draws = draws_of(section, "spend") if bundle.spend_model is not None else None
    if tx_draws is None:
        raise ModelFileError("the model bundle holds no bootstrap draws of its transaction model.")
    keep = used_draws(len(tx_draws), max_draws)
    tx_draws = tx_draws.iloc[keep]
    sp_draws = None if sp_draws is None else sp_draws.iloc[keep]
    n_draws = len(tx_draws)
    scores = ["probability_alive", "expected_purchases"]
    if bundle.spend_model is not None:
        scores += ["expected_spend", "clv"]
    intervals = np.empty((len(rfm), 2 * len(scores)))
    block = max(1, _BLOCK_CELLS // max(n_draws, 1))
    starts = range(0, len(rfm), block)
    with progress_bar(
        total=n_draws * math.ceil(len(rfm) / block) if len(rfm) else 0,
        desc="bootstrap scores",
        progress=progress,
    ) as bar:
        for start in starts:
            part = rfm.iloc[start : start + block]
            values = np.empty((len(scores), n_draws, len(part)))
            for i in range(n_draws):
                tm = model_at(bundle.transaction_model, tx_draws.iloc[i])
                sm = None if sp_draws is None else model_at(bundle.spend_model, sp_draws.iloc[i])
                table = score_table(
                    tm, sm, part, horizon=horizon, discount_rate=discount_rate, margin=margin
                )
                for j, name in enumerate(scores):
                    values[j, i] = table[name].to_numpy(dtype=np.float64)
                bar.update(1)
            for j in range(len(scores)):
                q = np.quantile(values[j], QUANTILES, axis=0)
                intervals[start : start + len(part), 2 * j : 2 * j + 2] = q.T
    extra = pd.DataFrame(intervals, columns=interval_columns(scores), index=point.index)
    out = pd.concat([point, extra], axis=1)
    out.attrs["bootstrap_draws"] = n_draws
    return out
