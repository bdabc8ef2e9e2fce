"""``BaseFitter``: lifetimes' fitted-state layout (``params_``, ``summary``, JSON save/load).

Shared by the fitters of :mod:`clv.compat.lifetimes.fitters`; the helpers turn
lifetimes-style inputs (scalars, lists, arrays, Series) into arrays and give
results back in the caller's type.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from clv.models._base import ParametricModel
from clv.persistence import atomic_write

__all__ = ["BaseFitter"]

_Z95 = 1.96  # lifetimes' confidence intervals: coef +- 1.96 se


def _float_array(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def _wrap(values: Any, *inputs: Any) -> Any:
    """Return ``values`` like lifetimes: a Series when an input is one, else an array/float."""
    arr = np.asarray(values, dtype=np.float64)
    for v in inputs:
        if isinstance(v, pd.Series) and arr.ndim == 1 and len(v) == arr.shape[0]:
            return pd.Series(arr, index=v.index)
    return arr[()] if arr.ndim == 0 else arr


class BaseFitter:
    """Common state and reprs of the lifetimes-style fitters."""

    _names: ClassVar[tuple[str, ...]] = ()
    _model: ClassVar[type[ParametricModel]]
    _time_params: ClassVar[tuple[str, ...]] = ()  # parameters in the unit of time (rescaled)
    generate_new_data: Callable[..., pd.DataFrame] | None

    def __init__(self, penalizer_coef: float = 0.0) -> None:
        self.penalizer_coef = penalizer_coef

    def __repr__(self) -> str:
        """``<lifetimes.BetaGeoFitter: fitted with 2357 subjects, a: 0.79, ...>``, as lifetimes."""
        name = type(self).__name__
        data = getattr(self, "data", None)
        shape = getattr(data, "shape", None)
        subjects = f" fitted with {shape[0]:d} subjects," if shape is not None else ""
        if not hasattr(self, "params_"):
            return f"<lifetimes.{name}>"
        params = ", ".join(f"{k}: {v:.2f}" for k, v in sorted(self.params_.items()))
        return f"<lifetimes.{name}:{subjects} {params}>"

    def _unload_params(self, *names: str) -> list[float]:
        if not hasattr(self, "params_"):
            raise ValueError("Model has not been fit yet. Please call the .fit method first.")
        return [self.params_[n] for n in names]

    def _p(self) -> Any:
        """The parameters as the model's NamedTuple (clv order)."""
        spec = self._model.spec
        return spec.params(*(float(self.params_[n]) for n in spec.params._fields))

    def _at_params(
        self, func: Callable[..., Any], *inputs: Any, like: tuple[Any, ...] | None = None
    ) -> Any:
        """``func(params, *inputs)`` on float arrays, returned as lifetimes returns it.

        A Series in ``like`` (default: ``inputs``, the first that fits) gives the result's index.
        """
        values = func(self._p(), *(_float_array(v) for v in inputs))
        return _wrap(values, *(inputs if like is None else like))

    @property
    def summary(self) -> pd.DataFrame:
        """``coef``, ``se(coef)``, ``lower 95% bound``, ``upper 95% bound`` (lifetimes' layout)."""
        df = pd.DataFrame(index=self.params_.index)
        df["coef"] = self.params_
        df["se(coef)"] = self.standard_errors_
        df["lower 95% bound"] = self.confidence_intervals_["lower 95% bound"]
        df["upper 95% bound"] = self.confidence_intervals_["upper 95% bound"]
        return df

    def print_summary(self) -> None:
        """Print :attr:`summary`."""
        print(self.summary)  # noqa: T201 - lifetimes prints here

    # ------------------------------------------------------------------ fitting
    def _native_penalizer(self, n_rows: int) -> float:
        return float(self.penalizer_coef)

    def _initial(self, initial_params: Any, scale: float) -> dict[str, float] | None:
        """lifetimes' ``initial_params`` are log-parameters of the time-rescaled problem."""
        if initial_params is None:
            return None
        logs = np.asarray(initial_params, dtype=np.float64).ravel()
        if logs.size != len(self._names):
            raise ValueError(
                f"initial_params needs {len(self._names)} values "
                f"(log {', '.join(self._names)}), got {logs.size}."
            )
        values = np.exp(logs)
        return {
            n: float(v / scale if n in self._time_params else v)
            for n, v in zip(self._names, values, strict=True)
        }

    def _fit_native(self, frame: pd.DataFrame, initial: dict[str, float] | None) -> ParametricModel:
        model = self._model(penalizer=self._native_penalizer(len(frame)))
        return model.fit(frame, initial_params=initial)

    def _fit_arrays(
        self,
        fitted: dict[str, np.ndarray],
        stored: dict[str, np.ndarray],
        weights: Any,
        initial_params: Any,
        scale: float,
        index: Any,
    ) -> np.ndarray:
        """Fit the native model on the ``fitted`` columns and store the ``stored`` ones.

        ``weights`` (customers per row) default to ones; returns them as an array.
        """
        first = next(iter(fitted.values()))
        w = np.ones(np.shape(first), dtype=np.int64) if weights is None else np.asarray(weights)
        frame = pd.DataFrame(
            {**{k: _float_array(v) for k, v in fitted.items()}, "weight": w.astype(np.float64)}
        )
        model = self._fit_native(frame, self._initial(initial_params, scale))
        self._store(model, stored, w, scale, index)
        return w

    def _set_variance(self, covariance: Any, names: list[str]) -> None:
        """``variance_matrix_``, ``standard_errors_`` and lifetimes' 95 % intervals."""
        self.variance_matrix_ = pd.DataFrame(covariance, index=names, columns=names)
        se = np.sqrt(np.clip(np.diag(self.variance_matrix_.to_numpy()), 0.0, None))
        self.standard_errors_ = pd.Series(se, index=names)
        self.confidence_intervals_ = pd.DataFrame(
            {
                "lower 95% bound": self.params_ - _Z95 * self.standard_errors_,
                "upper 95% bound": self.params_ + _Z95 * self.standard_errors_,
            },
            index=names,
        )

    def _store(
        self,
        model: ParametricModel,
        columns: dict[str, np.ndarray],
        weights: np.ndarray,
        scale: float,
        index: Any,
    ) -> None:
        names = list(self._names)
        self.params_ = pd.Series(model.params_[names].to_numpy(), index=names)
        self._set_variance(model.covariance_.loc[names, names].to_numpy(), names)
        self._scale = scale
        self.data = pd.DataFrame({**columns, "weights": weights}, index=index)
        self._negative_log_likelihood_ = self._objective(columns, weights, scale)
        self.predict = getattr(self, "conditional_expected_number_of_purchases_up_to_time", None)

    def _objective(
        self, columns: dict[str, np.ndarray], weights: np.ndarray, scale: float
    ) -> float:
        """lifetimes' minimised value: penalised mean negative log-likelihood, rescaled time."""
        spec = self._model.spec
        params = spec.params(
            *(
                float(self.params_[n]) * (scale if n in self._time_params else 1.0)
                for n in spec.params._fields
            )
        )
        data = [
            _float_array(columns[c])
            * (scale if c in ("recency", "T") and self._time_params else 1.0)
            for c in self._likelihood_columns
        ]
        ll = np.asarray(spec.log_likelihood(params, *data), dtype=np.float64)
        penalty = self.penalizer_coef * float(np.sum(np.square(np.asarray(params, dtype=float))))
        return float(-(weights * ll).sum() / self._objective_norm(weights) + penalty)

    _likelihood_columns: ClassVar[tuple[str, ...]] = ("frequency", "recency", "T")

    def _objective_norm(self, weights: np.ndarray) -> float:
        return float(weights.sum())

    # ------------------------------------------------------------------ persistence
    def save_model(
        self,
        path: str | os.PathLike[str],
        save_data: bool = True,
        save_generate_data_method: bool = True,
        values_to_save: list[Any] | None = None,
    ) -> None:
        """Save the fitted state as JSON (lifetimes pickles with dill; clv never pickles).

        ``save_data=False`` drops ``data`` (stored as ``values_to_save[0]``,
        default ``None``, like lifetimes); ``save_generate_data_method`` is
        accepted for compatibility (the simulator is rebuilt from ``params_``).
        """
        doc: dict[str, Any] = {
            "format": "clv.compat.lifetimes",
            "fitter": type(self).__name__,
            "penalizer_coef": self.penalizer_coef,
            "params": {k: float(v) for k, v in self.params_.items()},
        }
        for attr in ("_scale", "_negative_log_likelihood_"):
            if hasattr(self, attr):
                doc[attr] = float(getattr(self, attr))
        if hasattr(self, "variance_matrix_"):
            doc["variance_matrix"] = self.variance_matrix_.to_numpy().tolist()
        if save_data and getattr(self, "data", None) is not None:
            doc["data"] = json.loads(self.data.to_json(orient="split"))
        else:
            doc["data_placeholder"] = (values_to_save or [None])[0]
        doc["generate_new_data"] = bool(save_generate_data_method)
        with atomic_write(path) as fh:
            json.dump(doc, fh)

    def load_model(self, path: str | os.PathLike[str]) -> None:
        """Load a model written by :meth:`save_model`."""
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        if doc.get("format") != "clv.compat.lifetimes" or doc.get("fitter") != type(self).__name__:
            raise ValueError(
                f"'{path}' is not a saved {type(self).__name__} (clv.compat.lifetimes JSON)."
            )
        self.penalizer_coef = doc["penalizer_coef"]
        self.params_ = pd.Series(doc["params"])
        for attr in ("_scale", "_negative_log_likelihood_"):
            if attr in doc:
                setattr(self, attr, doc[attr])
        names = list(self.params_.index)
        if "variance_matrix" in doc:
            self._set_variance(doc["variance_matrix"], names)
        if "data" in doc:
            split = doc["data"]
            self.data = pd.DataFrame(split["data"], index=split["index"], columns=split["columns"])
        else:
            self.data = doc.get("data_placeholder")
        self.predict = getattr(self, "conditional_expected_number_of_purchases_up_to_time", None)
        if not doc.get("generate_new_data", True):
            self.generate_new_data = None
