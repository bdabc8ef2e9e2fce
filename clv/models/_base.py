"""Base classes: the one contract every fitted model follows.

A concrete model declares ``spec`` (a :class:`~clv.models._spec.ModelSpec`) and
thin methods that map its pure functions over customers; validation, fitting,
``summary``, JSON persistence and reprs live here once.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from scipy import special

from clv.exceptions import DataError, ModelFileError, NotFittedError, Problem
from clv.io import read_model_json, write_model_json
from clv.models._mle import MLEResult, maximise
from clv.models._spec import ModelSpec

__all__ = ["ParametricModel", "rfm_problems"]


def _ids(frame: pd.DataFrame, mask: Any) -> list[object]:
    return list(frame.index[np.asarray(mask, dtype=bool)][:5])


def rfm_problems(
    frame: pd.DataFrame, columns: Iterable[str], *, integer_T: bool = False
) -> list[Problem]:
    """Check the RFM columns a model needs; return every problem found.

    Parameters
    ----------
    frame : DataFrame
        RFM data, one row per customer (index = customer id).
    columns : iterable of str
        Columns the model uses (a subset of ``frequency, recency, T,
        monetary_value``; ``weight`` is checked when present).
    integer_T : bool
        Whether ``recency`` and ``T`` count discrete opportunities (BG/BB).
    """
    problems: list[Problem] = []
    columns = list(columns)
    missing = [c for c in columns if c not in frame.columns]
    for c in missing:
        problems.append(
            Problem(
                c,
                "is required but missing",
                "pass an RFM frame with the columns "
                f"{columns} (clv.data.rfm_summary builds one from transactions)",
            )
        )
    present = [c for c in columns if c in frame.columns]
    if "weight" in frame.columns:
        present.append("weight")
    values: dict[str, np.ndarray] = {}
    for c in present:
        col = frame[c]
        if not (pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)):
            problems.append(
                Problem(c, f"is not numeric (dtype {col.dtype})", f"convert '{c}' to numbers")
            )
            continue
        v = col.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(v)
        if bad.any():
            problems.append(
                Problem(
                    c,
                    f"has {int(bad.sum())} missing or infinite values",
                    "drop or fill those customers",
                    _ids(frame, bad),
                )
            )
            continue
        values[c] = v
    if "frequency" in values:
        x = values["frequency"]
        neg = x < 0
        if neg.any():
            problems.append(
                Problem(
                    "frequency",
                    f"is negative for {int(neg.sum())} customers",
                    "frequency counts repeat purchases and must be >= 0",
                    _ids(frame, neg),
                )
            )
        frac = x != np.round(x)
        if frac.any():
            problems.append(
                Problem(
                    "frequency",
                    f"has non-integer values for {int(frac.sum())} customers",
                    "frequency counts repeat purchases; round or re-aggregate the transactions",
                    _ids(frame, frac),
                )
            )
    if "T" in values:
        T = values["T"]
        # T = 0 is a customer first seen in the last period: valid (they contribute nothing to
        # the likelihood and score as a brand-new customer) unless they already repeat-bought
        # or the model counts discrete opportunities
        if integer_T or "frequency" not in values:
            bad = T <= 0
        else:
            bad = (T < 0) | ((T == 0) & (values["frequency"] > 0))
        if bad.any():
            problems.append(
                Problem(
                    "T",
                    f"is <= 0 for {int(bad.sum())} customers"
                    + ("" if integer_T else " (0 is allowed only with frequency 0)"),
                    "T is the time from first purchase to the end of observation "
                    "and must be > 0; check observation_end",
                    _ids(frame, bad),
                )
            )
        if integer_T and (np.round(T) != T).any():
            problems.append(
                Problem(
                    "T",
                    "has non-integer values",
                    "T counts purchase opportunities for this model",
                    _ids(frame, np.round(T) != T),
                )
            )
    if "recency" in values:
        tx = values["recency"]
        neg = tx < 0
        if neg.any():
            problems.append(
                Problem(
                    "recency",
                    f"is negative for {int(neg.sum())} customers",
                    "recency is the time from first to last purchase and must be >= 0",
                    _ids(frame, neg),
                )
            )
        if "T" in values:
            over = tx > values["T"]
            if over.any():
                problems.append(
                    Problem(
                        "recency",
                        f"is greater than 'T' for {int(over.sum())} customers",
                        "recency must be <= T; check that observation_end is after every "
                        "transaction",
                        _ids(frame, over),
                    )
                )
        if "frequency" in values:
            zero = (values["frequency"] == 0) & (tx != 0)
            if zero.any():
                problems.append(
                    Problem(
                        "recency",
                        f"is non-zero for {int(zero.sum())} customers with frequency 0",
                        "a customer with no repeat purchase has recency 0",
                        _ids(frame, zero),
                    )
                )
            pos = (values["frequency"] > 0) & (tx == 0)
            if integer_T and pos.any():
                problems.append(
                    Problem(
                        "recency",
                        f"is 0 for {int(pos.sum())} customers with repeat purchases",
                        "recency is the opportunity of the last purchase (>= 1 when frequency > 0)",
                        _ids(frame, pos),
                    )
                )
        if integer_T and (tx != np.round(tx)).any():
            problems.append(
                Problem(
                    "recency",
                    "has non-integer values",
                    "recency counts purchase opportunities for this model",
                    _ids(frame, tx != np.round(tx)),
                )
            )
    if "monetary_value" in values and "frequency" in values:
        bad = (values["frequency"] > 0) & (values["monetary_value"] <= 0)
        if bad.any():
            problems.append(
                Problem(
                    "monetary_value",
                    f"is <= 0 for {int(bad.sum())} repeat buyers",
                    "monetary_value is the mean value of repeat purchases and must be > 0 "
                    "(drop returns or zero-value rows before summarising)",
                    _ids(frame, bad),
                )
            )
    if "weight" in values and (values["weight"] <= 0).any():
        problems.append(
            Problem(
                "weight",
                "has values <= 0",
                "weight counts identical customers and must be > 0",
                _ids(frame, values["weight"] <= 0),
            )
        )
    if not frame.index.is_unique:
        dup = frame.index.duplicated(keep=False)
        problems.append(
            Problem(
                None,
                "the index (customer_id) has duplicated values",
                "give each customer one row",
                _ids(frame, dup),
            )
        )
    return problems


class ParametricModel:
    """Base class of the maximum-likelihood models.

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty on the parameters (on the rescaled problem), as in lifetimes.
        Keep 0 for maximum-likelihood estimates; a small value (0.001-0.1)
        stabilises fits on tiny or degenerate data sets.
    """

    spec: ClassVar[ModelSpec]
    _integer_T: ClassVar[bool] = False

    def __init__(self, *, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    # ------------------------------------------------------------------ data
    def _frame(self, data: pd.DataFrame, columns: Iterable[str] | None = None) -> pd.DataFrame:
        if not isinstance(data, pd.DataFrame):
            raise DataError(
                f"expected a pandas DataFrame of RFM data, got {type(data).__name__}",
                what=f"the data passed to {type(self).__name__}",
            )
        cols = list(self.spec.columns if columns is None else columns)
        problems = rfm_problems(data, cols, integer_T=self._integer_T)
        if problems:
            raise DataError(problems, what=f"the data passed to {type(self).__name__}")
        return data

    def _arrays(self, data: pd.DataFrame, columns: Iterable[str] | None = None) -> list[np.ndarray]:
        cols = list(self.spec.columns if columns is None else columns)
        frame = self._frame(data, cols)
        return [frame[c].to_numpy(dtype=np.float64) for c in cols]

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        data: pd.DataFrame,
        *,
        initial_params: Mapping[str, float] | None = None,
        n_starts: int = 1,
        random_state: int | np.random.Generator | None = None,
    ) -> Self:
        """Estimate the parameters by maximum likelihood.

        Parameters
        ----------
        data : DataFrame
            RFM frame, one row per customer (``clv.data.rfm_summary``). An
            optional ``weight`` column says how many identical customers a row
            stands for.
        initial_params : mapping, optional
            Starting values on the natural scale.
        n_starts : int, default 1
            Number of starting points (extra ones are seeded perturbations).
        random_state : int or Generator, optional
            Seed for the extra starting points.

        Returns
        -------
        self
        """
        frame = self._frame(data)
        if self.spec.fit_rows is not None:
            frame = frame[np.asarray(self.spec.fit_rows(frame), dtype=bool)]
        if len(frame) == 0:
            raise DataError(
                [
                    Problem(
                        None,
                        "there are no customers to fit on",
                        "pass a non-empty RFM frame"
                        + (" with repeat buyers (frequency > 0)" if self.spec.fit_rows else ""),
                    )
                ],
                what=f"the data passed to {type(self).__name__}",
            )
        arrays = {c: frame[c].to_numpy(dtype=np.float64) for c in self.spec.columns}
        weights = frame["weight"].to_numpy(dtype=np.float64) if "weight" in frame.columns else None
        result = maximise(
            self.spec,
            arrays,
            weights,
            initial_params=initial_params,
            penalizer=self.penalizer,
            n_starts=n_starts,
            random_state=random_state,
        )
        self._set_result(
            result, n_customers=float(len(frame) if weights is None else weights.sum())
        )
        self.time_unit_ = data.attrs.get("time_unit")
        return self

    def _set_result(self, result: MLEResult, *, n_customers: float) -> None:
        names = list(self.spec.params._fields)
        self.params_ = pd.Series(result.params, index=names, name="coef", dtype=np.float64)
        self.covariance_ = pd.DataFrame(result.covariance, index=names, columns=names)
        self.log_likelihood_ = result.log_likelihood
        self.n_customers_ = int(n_customers) if float(n_customers).is_integer() else n_customers
        self.converged_ = result.converged
        self.optimizer_ = result

    # ------------------------------------------------------------------ state
    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet. Call .fit(data) first "
                f"(or {type(self).__name__}.from_json(path))."
            )

    @property
    def _p(self) -> Any:
        self._check_fitted()
        return self.spec.params(*self.params_.to_numpy())

    def summary(self, alpha: float = 0.05) -> pd.DataFrame:
        """Parameter table: estimate, standard error and a ``1 - alpha`` interval.

        The interval is computed on the log scale and mapped back
        (``coef * exp(±z·se/coef)``), so it never includes impossible
        non-positive values; ``se`` is the delta-method standard error.
        """
        self._check_fitted()
        z = float(special.ndtri(1 - alpha / 2))
        coef = self.params_.to_numpy()
        se = np.sqrt(np.clip(np.diag(self.covariance_.to_numpy()), 0, None))
        with np.errstate(invalid="ignore"):  # NaN se (singular Hessian) stays NaN
            se_log = se / coef
        out = pd.DataFrame(
            {
                "coef": coef,
                "se": se,
                "lower": coef * np.exp(-z * se_log),
                "upper": coef * np.exp(z * se_log),
            },
            index=pd.Index(self.params_.index, name="param"),
        )
        return out

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """The fitted state as a JSON-serialisable document (without the file header)."""
        self._check_fitted()
        return {
            "init": self._init_kwargs(),
            "params": {k: float(v) for k, v in self.params_.items()},
            "covariance": self.covariance_.to_numpy().tolist(),
            "log_likelihood": self.log_likelihood_,
            "n_customers": self.n_customers_,
            "converged": self.converged_,
            "time_unit": self.time_unit_,
        }

    def to_json(self, path: str | os.PathLike[str]) -> None:
        """Save the fitted model as JSON (atomically; never pickle)."""
        write_model_json(path, type(self).__name__, self.to_dict())

    def _init_kwargs(self) -> dict[str, Any]:
        return {"penalizer": self.penalizer}

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> Self:
        """Load a model saved with :meth:`to_json`.

        Raises
        ------
        ModelFileError
            For a file of another model, an unknown schema version or a corrupt file.
        """
        return cls.from_dict(read_model_json(path, model=cls.__name__), source=str(path))

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], *, source: str = "the model document") -> Self:
        """Rebuild a fitted model from :meth:`to_dict` output (or a loaded model file)."""
        names = list(cls.spec.params._fields)
        try:
            model = cls(**doc.get("init", {}))
            params = [float(doc["params"][n]) for n in names]
            cov = np.asarray(doc["covariance"], dtype=np.float64).reshape(len(names), len(names))
            model.params_ = pd.Series(params, index=names, name="coef", dtype=np.float64)
            model.covariance_ = pd.DataFrame(cov, index=names, columns=names)
            model.log_likelihood_ = float(doc["log_likelihood"])
            model.n_customers_ = doc["n_customers"]
            model.converged_ = bool(doc["converged"])
            model.time_unit_ = doc.get("time_unit")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelFileError(
                f"'{source}' is a damaged {cls.__name__} file ({type(exc).__name__}: "
                f"{exc}). Refit and save the model again."
            ) from None
        return model

    # ------------------------------------------------------------------ reprs
    def __repr__(self) -> str:
        name = type(self).__name__
        if not hasattr(self, "params_"):
            return f"<{name} (unfitted)>"
        ps = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        ll = self.log_likelihood_
        return f"<{name} fitted on {self.n_customers_} customers: {ps}, log-likelihood={ll:.2f}>"

    def _repr_html_(self) -> str:
        name = html.escape(type(self).__name__)
        if not hasattr(self, "params_"):
            return f"<p><b>{name}</b> (unfitted)</p>"
        head = (
            f"<p><b>{name}</b> ({html.escape(self.spec.name)}) fitted on {self.n_customers_} "
            "customers; "
            f"log-likelihood {self.log_likelihood_:.3f}; converged: {self.converged_}"
            + (f"; time unit: {html.escape(str(self.time_unit_))}" if self.time_unit_ else "")
            + "</p>"
        )
        return head + self.summary().to_html(float_format=lambda v: f"{v:.4g}")
