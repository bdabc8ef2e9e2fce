r"""MBG/CNBD-k and BG/CNBD-k models: regular (Erlang-k) purchasing with dropout.

Reutterer, Platzer & Schröder (2021): the MBG/NBD and BG/NBD with Erlang-k
inter-purchase times, so customers who buy at regular intervals are told apart
from customers who stopped. The pure functions are in
:mod:`clv.models._cnbd_math`; this module declares the two models and their
classes.

The order ``k`` is a whole number estimated by profile likelihood, as BTYDplus
does: the rate and dropout parameters are fitted for ``k = 1, 2, ...`` and the
``k`` with the highest log-likelihood is kept (the search stops once the
log-likelihood has fallen twice in a row, or at ``max_k``). The likelihood of
different orders is comparable only through the sum of the log inter-purchase
times, ``litt`` (``clv.data.rfm_summary(..., litt=True)``); ``k = 1`` is the
MBG/NBD (BG/NBD) exactly. Standard errors are conditional on the chosen ``k``.

References
----------
.. [RPS2021] Reutterer, T., Platzer, M., & Schröder, N. (2021). Leveraging
   purchase regularity for predicting customer behavior the easy way.
   International Journal of Research in Marketing, 38(1), 194-215.
.. [BTYDplus] Platzer, M. BTYDplus: Customer Analytics for Non-Contractual
   Settings. R package, ``mbgcnbd.*`` and ``bgcnbd.*`` functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any, ClassVar, NamedTuple, Self

import numpy as np
import pandas as pd

from clv._units import resolve_time_unit
from clv.exceptions import ConvergenceError, DataError, Problem
from clv.models import _cnbd_math as m
from clv.models._base import damaged_file
from clv.models._cnbd_math import CNBDParams
from clv.models._mle import MLEResult, maximise
from clv.models._spec import ModelSpec
from clv.models._transaction import TransactionModel

__all__ = [
    "BGCNBD_SPEC",
    "MBGCNBD_SPEC",
    "BetaGeoCNBDModel",
    "CNBDParams",
    "ModifiedBetaGeoCNBDModel",
    "rate_spec",
]

_RFM = ("frequency", "recency", "T")


class CNBDRates(NamedTuple):
    """The continuous parameters of a CNBD-k model at a fixed order ``k``."""

    r: Any
    alpha: Any
    a: Any
    b: Any


def _spec(dropout_at_zero: bool) -> ModelSpec:
    at_zero = dropout_at_zero
    return ModelSpec(
        name="MBG/CNBD-k" if dropout_at_zero else "BG/CNBD-k",
        params=CNBDParams,
        start=CNBDParams(k=1, r=1.0, alpha=3.0, a=1.0, b=3.0),
        columns=("frequency", "recency", "T", "litt"),
        log_likelihood=partial(m.log_likelihood, dropout_at_zero=at_zero),
        probability_alive=partial(m.probability_alive, dropout_at_zero=at_zero),
        expected_purchases=partial(m.expected_purchases, dropout_at_zero=at_zero),
        expected_purchases_new_customer=partial(
            m.expected_purchases_new_customer, dropout_at_zero=at_zero
        ),
        probability_of_purchases=partial(m.probability_of_purchases, dropout_at_zero=at_zero),
        simulate=partial(m.simulate, dropout_at_zero=at_zero),
    )


MBGCNBD_SPEC = _spec(True)
BGCNBD_SPEC = _spec(False)


class _AtOrder:
    """The core likelihood and gradient at a fixed order ``k`` (picklable, unlike a lambda)."""

    def __init__(self, k: int, dropout_at_zero: bool) -> None:
        self.k = k
        self.dropout_at_zero = dropout_at_zero

    def log_likelihood(self, rates: CNBDRates, x: Any, t_x: Any, T: Any, *, ops: Any = None) -> Any:
        return m.core_log_likelihood(
            CNBDParams(self.k, *rates), x, t_x, T, dropout_at_zero=self.dropout_at_zero
        )

    def gradient(self, rates: CNBDRates, x: Any, t_x: Any, T: Any) -> Any:
        return m.core_log_likelihood_gradient(
            CNBDParams(self.k, *rates), x, t_x, T, dropout_at_zero=self.dropout_at_zero
        )

    def initial(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> CNBDRates:
        """r = 1, b = 3 (BTYDplus's start), alpha from the mean stage rate k x / T."""
        rate = max(float(np.mean(x) / np.mean(T)), 1e-3)
        return CNBDRates(r=1.0, alpha=1.0 / (self.k * rate), a=1.0, b=3.0)


def rate_spec(k: int, *, dropout_at_zero: bool) -> ModelSpec:
    """The spec the engine fits at a fixed order ``k``: ``(r, alpha, a, b)`` on ``(x, t_x, T)``.

    Its likelihood leaves out :func:`clv.models._cnbd_math.litt_term`, which
    does not depend on these parameters.
    """
    at = _AtOrder(int(k), dropout_at_zero)
    return ModelSpec(
        name=("MBG" if dropout_at_zero else "BG") + f"/CNBD-{int(k)}",
        params=CNBDRates,
        start=CNBDRates(1.0, 3.0, 1.0, 3.0),
        columns=_RFM,
        log_likelihood=at.log_likelihood,
        gradient=at.gradient,
        initial=at.initial,
        scale_columns=("recency", "T"),
        scale_params=("alpha",),
    )


def _litt_problems(frame: pd.DataFrame) -> list[Problem]:
    """``litt`` must be 0 without repeat purchases and at most ``x log(t_x / x)`` (AM-GM)."""
    x = frame["frequency"].to_numpy(dtype=np.float64)
    t_x = frame["recency"].to_numpy(dtype=np.float64)
    litt = frame["litt"].to_numpy(dtype=np.float64)
    problems = []
    bad = (x == 0) & (litt != 0)
    if bad.any():
        problems.append(
            Problem(
                "litt",
                f"is not 0 for {int(bad.sum())} customer(s) without repeat purchases",
                "litt sums the log times between purchases; it is 0 when frequency is 0 "
                "(rfm_summary(..., litt=True) computes it).",
                list(frame.index[bad]),
            )
        )
    with np.errstate(divide="ignore", invalid="ignore"):  # x = 0 or t_x = 0: no bound
        bound = np.where((x > 0) & (t_x > 0), x * np.log(t_x / np.maximum(x, 1.0)), np.inf)
    over = litt > bound + 1e-6 * np.maximum(1.0, np.abs(bound))
    if over.any():
        problems.append(
            Problem(
                "litt",
                f"is larger than frequency * log(recency / frequency) for {int(over.sum())} "
                "customer(s), which no purchase times allow",
                "measure litt in the same periods as recency and T (rfm_summary(..., "
                "litt=True) does).",
                list(frame.index[over]),
            )
        )
    return problems


class _CNBDModel(TransactionModel):
    """Shared fit (profile likelihood over k), state and persistence of the two models."""

    _dropout_at_zero: ClassVar[bool]
    _RATES: ClassVar[tuple[str, ...]] = CNBDRates._fields

    def __init__(self, *, k: int | None = None, max_k: int = 12, penalizer: float = 0.0) -> None:
        super().__init__(penalizer=penalizer)
        if k is not None and not (float(k) == int(k) and int(k) >= 1):
            raise ValueError(f"k must be a whole number >= 1 (or None to estimate it), got {k!r}.")
        if not (float(max_k) == int(max_k) and int(max_k) >= 1):
            raise ValueError(f"max_k must be a whole number >= 1, got {max_k!r}.")
        self.k = k
        self.max_k = max_k

    # ------------------------------------------------------------------ parameters
    def _param_names(self) -> list[str]:
        return list(self._RATES)

    @property
    def _p(self) -> Any:
        self._check_fitted()
        return CNBDParams(self.k_, *self.params_[list(self._RATES)].to_numpy(dtype=np.float64))

    def _customer_params(self, data: pd.DataFrame, params: Any = None) -> Any:
        self._check_fitted()
        p = self.params_ if params is None else pd.Series(params, dtype=np.float64)
        missing = [n for n in self._RATES if n not in p.index]
        if missing:
            raise ValueError(f"params is missing {missing}; expected {list(self._RATES)}.")
        return CNBDParams(self.k_, *p[list(self._RATES)].to_numpy(dtype=np.float64))

    def individual_params(self, data: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        """Per-customer ``r, alpha, a, b`` (constant: no covariates); ``k_`` is shared."""
        return super().individual_params(data, params).drop(columns="k")

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        data: pd.DataFrame,
        *,
        initial_params: Mapping[str, float] | None = None,
        n_starts: int = 1,
        random_state: int | np.random.Generator | None = None,
        time_unit: str | None = None,
    ) -> Self:
        """Estimate ``r, alpha, a, b`` at each order ``k`` and keep the best ``k``.

        Parameters
        ----------
        data : DataFrame
            RFM frame with ``frequency``, ``recency``, ``T`` and ``litt`` (the
            sum of the log inter-purchase times: ``rfm_summary(..., litt=True)``;
            not needed when the model was built with ``k=1``), optional ``weight``.
        initial_params : mapping, optional
            Starting ``r, alpha, a, b`` (used at every order).
        n_starts, random_state
            As for every model (extra seeded starting points).
        time_unit : str, optional
            Unit of ``recency`` and ``T`` when the frame carries none.

        Returns
        -------
        self
            With ``k_`` (the order), ``profile_`` (log-likelihood per order tried)
            and the fitted state of every model.
        """
        what = f"the data passed to {type(self).__name__}"
        unit = resolve_time_unit(data, time_unit, what=what)
        fixed = None if self.k is None else int(self.k)
        columns = list(_RFM) if fixed == 1 else [*_RFM, "litt"]
        frame = self._frame(data, columns, for_fit=True, check_unit=False)
        problems = _litt_problems(frame) if "litt" in columns else []
        if len(frame) and not bool((frame["frequency"].to_numpy() > 0).any()):
            problems.append(
                Problem(
                    "frequency",
                    f"is 0 for all {len(frame)} customers (nobody made a repeat purchase)",
                    "use a longer observation window, or check the transaction log",
                )
            )
        if problems:
            raise DataError(problems, what=what)
        arrays = {c: frame[c].to_numpy(dtype=np.float64) for c in _RFM}
        weights = frame["weight"].to_numpy(dtype=np.float64) if "weight" in frame.columns else None
        w = np.ones(len(frame)) if weights is None else weights
        litt = frame["litt"].to_numpy(dtype=np.float64) if "litt" in columns else None
        orders = [fixed] if fixed is not None else list(range(1, int(self.max_k) + 1))
        fits: dict[int, MLEResult] = {}
        profile: dict[int, float] = {}
        for k in orders:
            try:
                result = maximise(
                    rate_spec(k, dropout_at_zero=self._dropout_at_zero),
                    arrays,
                    weights,
                    initial_params=initial_params,
                    penalizer=self.penalizer,
                    n_starts=n_starts,
                    random_state=random_state,
                )
            except ConvergenceError:
                if fixed is not None or not fits:
                    raise
                break  # as BTYDplus: stop the search at the first order that cannot be fitted
            if litt is not None:
                result.log_likelihood += float(w @ m.litt_term(k, arrays["frequency"], litt))
            fits[k], profile[k] = result, result.log_likelihood
            lls = list(profile.values())
            if len(lls) >= 3 and lls[-1] < lls[-2] < lls[-3]:
                break  # the log-likelihood fell twice in a row
        best = max(profile, key=lambda k: profile[k])
        self._set_result(fits[best], n_customers=float(w.sum()))
        self.k_ = best
        self.profile_ = pd.Series(profile, name="log_likelihood", dtype=np.float64)
        self.profile_.index.name = "k"
        self.time_unit_ = None if unit is None else unit.name
        return self

    # ------------------------------------------------------------------ persistence
    def _init_kwargs(self) -> dict[str, Any]:
        return {"k": self.k, "max_k": self.max_k, "penalizer": self.penalizer}

    def _bootstrap_fixed_params(self) -> dict[str, Any]:
        """Bootstrap refits keep the fitted order ``k_`` (the draws are of ``r, alpha, a, b``)."""
        return {"k": int(self.k_)}

    def to_dict(self) -> dict[str, Any]:
        """The fitted state, with the order ``k_`` and the profile log-likelihoods."""
        doc = super().to_dict()
        doc["k"] = int(self.k_)
        doc["profile"] = {str(k): float(v) for k, v in self.profile_.items()}
        return doc

    def _restore(self, doc: Mapping[str, Any], index: pd.Index, params: Any) -> None:
        with damaged_file(type(self).__name__, "the model document"):
            self.k_ = int(doc["k"])
            profile = {int(k): float(v) for k, v in doc["profile"].items()}
        self.profile_ = pd.Series(profile, name="log_likelihood", dtype=np.float64)
        self.profile_.index.name = "k"
        super()._restore(doc, index, params)

    def __repr__(self) -> str:
        text = super().__repr__()
        return text if not hasattr(self, "k_") else text.replace(": r=", f": k={self.k_}, r=", 1)


class ModifiedBetaGeoCNBDModel(_CNBDModel):
    r"""MBG/CNBD-k model ([RPS2021]_): Erlang-k purchasing, dropout also at the first purchase.

    Assumptions: inter-purchase times are Erlang-k with rate :math:`\lambda`
    (mean :math:`k/\lambda`), :math:`\lambda \sim \mathrm{Gamma}(r, \alpha)`;
    right after the first and after every repeat purchase a customer leaves
    with probability :math:`p \sim \mathrm{Beta}(a, b)`. ``k = 1`` is the
    MBG/NBD.

    Required columns: ``frequency``, ``recency``, ``T`` and ``litt``
    (``rfm_summary(..., litt=True)``; only the first three for predictions).
    Fitted state adds ``k_`` and ``profile_``.

    Parameters
    ----------
    k : int, optional
        Fix the order; by default it is estimated by profile likelihood.
    max_k : int, default 12
        Largest order tried (BTYDplus's grid is 1..12).
    penalizer : float, default 0.0
        L2 penalty on ``r, alpha, a, b`` (see :class:`~clv.models.ModifiedBetaGeoModel`).

    Examples
    --------
    >>> from clv.data import rfm_summary
    >>> from clv.data.datasets import load_cdnow_sample_transactions
    >>> tx = load_cdnow_sample_transactions().drop_duplicates()
    >>> rfm = rfm_summary(tx[tx["date"] <= "1997-09-30"], customer_id_col="customer_id",
    ...                   date_col="date", time_unit="7D", observation_end="1997-09-30",
    ...                   litt=True)
    >>> model = ModifiedBetaGeoCNBDModel().fit(rfm)
    >>> model.k_, model.params_.round(3).to_dict()
    (1, {'r': 0.525, 'alpha': 6.183, 'a': 0.891, 'b': 1.614})
    """

    spec = MBGCNBD_SPEC
    _dropout_at_zero = True


class BetaGeoCNBDModel(_CNBDModel):
    r"""BG/CNBD-k model ([RPS2021]_): Erlang-k purchasing, dropout after repeat purchases.

    As :class:`ModifiedBetaGeoCNBDModel` without the dropout coin at the first
    purchase; ``k = 1`` is the BG/NBD, so a customer without repeat purchases
    is alive.

    Parameters
    ----------
    k : int, optional
        Fix the order; by default it is estimated by profile likelihood.
    max_k : int, default 12
        Largest order tried.
    penalizer : float, default 0.0
        L2 penalty on ``r, alpha, a, b``.
    """

    spec = BGCNBD_SPEC
    _dropout_at_zero = False
