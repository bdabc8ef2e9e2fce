r"""Bayesian MBG/CNBD-k and BG/CNBD-k at a fixed Erlang order ``k`` (no second likelihood).

The PyMC model evaluates :func:`clv.models._cnbd_math.log_likelihood` (the
function the maximum-likelihood fit uses) through the PyTensor ``ops``, with
``k`` bound; the predictions map the same module's NumPy functions over the
draws of ``r, alpha, a, b``.

The order ``k`` is a fixed whole-number hyperparameter, not sampled (a
discrete parameter would need a non-gradient sampler, and the posterior of the
continuous parameters differs in scale from one order to the next). It
defaults to 1, which is the MBG/NBD (BG/NBD) exactly. To choose it:

- fit the maximum-likelihood model first and use its profile-likelihood order,
  ``clv.models.ModifiedBetaGeoCNBDModel().fit(rfm).k_``; or
- fit the posterior at a few orders and compare them with
  :func:`clv.bayes.compare` (PSIS-LOO): for ``k > 1`` the pointwise
  log-likelihood includes the ``litt`` term, so orders are comparable, as in
  the profile likelihood.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from clv._ops import NUMPY
from clv._typing import Ops
from clv.bayes._base import Prior
from clv.bayes._priors import BetaPair
from clv.bayes._transaction import FusedTransactionBayesModel
from clv.bayes.bgnbd import BetaGeoModel as _BayesBetaGeoModel
from clv.models import _cnbd_math as m
from clv.models._base import ParametricModel
from clv.models._spec import RFM_COLUMNS, ModelSpec
from clv.models.cnbd import BetaGeoCNBDModel as _MLEBetaGeoCNBDModel
from clv.models.cnbd import CNBDRates
from clv.models.cnbd import ModifiedBetaGeoCNBDModel as _MLEModifiedBetaGeoCNBDModel

__all__ = ["BetaGeoCNBDModel", "ModifiedBetaGeoCNBDModel", "order_spec"]


class _AtOrder:
    """The pure functions of :mod:`clv.models._cnbd_math` at a fixed order ``k``.

    Each takes ``CNBDRates(r, alpha, a, b)`` (what the posterior holds) and
    calls the model module's function with ``CNBDParams(k, r, alpha, a, b)``.
    """

    def __init__(self, k: int, dropout_at_zero: bool) -> None:
        self.k = k
        self.dropout_at_zero = dropout_at_zero

    def _params(self, rates: Any) -> m.CNBDParams:
        return m.CNBDParams(self.k, *rates)

    def log_likelihood(
        self, rates: Any, x: Any, t_x: Any, T: Any, litt: Any = 0.0, *, ops: Ops = NUMPY
    ) -> Any:
        return m.log_likelihood(
            self._params(rates), x, t_x, T, litt, dropout_at_zero=self.dropout_at_zero, ops=ops
        )

    def total_gradient(self, rates: Any, *columns: Any) -> tuple[float, np.ndarray]:
        """Weighted total log-likelihood and its gradient w.r.t. ``(r, alpha, a, b)``.

        ``columns``: ``frequency, recency, T`` [, ``litt``], then the weights
        (the maximum-likelihood fit's routine, for the fused ``Op``).
        """
        *data, weights = columns
        w = np.asarray(weights, dtype=np.float64)
        ll, grad = m.core_log_likelihood_gradient(
            self._params(rates), *data[:3], dropout_at_zero=self.dropout_at_zero
        )
        total = float(w @ ll)
        if len(data) > 3:
            total += float(w @ m.litt_term(self.k, data[0], data[3]))
        return total, grad @ w

    def probability_alive(self, rates: Any, x: Any, t_x: Any, T: Any) -> Any:
        return m.probability_alive(
            self._params(rates), x, t_x, T, dropout_at_zero=self.dropout_at_zero
        )

    def expected_purchases(self, rates: Any, t: Any, x: Any, t_x: Any, T: Any) -> Any:
        return m.expected_purchases(
            self._params(rates), t, x, t_x, T, dropout_at_zero=self.dropout_at_zero
        )

    def expected_purchases_new_customer(self, rates: Any, t: Any) -> Any:
        return m.expected_purchases_new_customer(
            self._params(rates), t, dropout_at_zero=self.dropout_at_zero
        )

    def probability_of_purchases(self, rates: Any, n: Any, t: Any) -> Any:
        return m.probability_of_purchases(
            self._params(rates), n, t, dropout_at_zero=self.dropout_at_zero
        )

    def simulate(self, rates: Any, T: Any, *, rng: np.random.Generator) -> Any:
        return m.simulate(self._params(rates), T, rng=rng, dropout_at_zero=self.dropout_at_zero)


@lru_cache(maxsize=64)
def _at_order(k: int, dropout_at_zero: bool) -> _AtOrder:
    """One :class:`_AtOrder` per order and variant (so equal ``Op`` instances compare equal)."""
    return _AtOrder(k, dropout_at_zero)


@lru_cache(maxsize=64)
def order_spec(k: int, *, dropout_at_zero: bool) -> ModelSpec:
    """The spec of the (M)BG/CNBD-k model at the order ``k``: parameters ``r, alpha, a, b``.

    Columns ``frequency, recency, T`` and, for ``k > 1``, ``litt``; the
    log-likelihood is the full one (with the ``litt`` term), so its values are
    comparable across orders.

    Examples
    --------
    >>> spec = order_spec(2, dropout_at_zero=True)
    >>> spec.params._fields, spec.columns
    (('r', 'alpha', 'a', 'b'), ('frequency', 'recency', 'T', 'litt'))
    """
    at = _at_order(int(k), dropout_at_zero)
    return ModelSpec(
        name=("MBG" if dropout_at_zero else "BG") + f"/CNBD-{int(k)}",
        params=CNBDRates,
        start=CNBDRates(1.0, 3.0 * int(k), 1.0, 3.0),
        columns=RFM_COLUMNS if int(k) == 1 else (*RFM_COLUMNS, "litt"),
        log_likelihood=at.log_likelihood,
        probability_alive=at.probability_alive,
        expected_purchases=at.expected_purchases,
        expected_purchases_new_customer=at.expected_purchases_new_customer,
        probability_of_purchases=at.probability_of_purchases,
        simulate=at.simulate,
    )


def _check_order(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(
            f"k must be a whole number >= 1 (the Erlang order, fixed in the Bayesian "
            f"model), got {k!r}; e.g. the maximum-likelihood model's k_."
        )
    return int(k)


class _CNBDBayesModel(FusedTransactionBayesModel):
    """Shared wiring of the two Bayesian CNBD-k models (order ``k`` fixed).

    Without segments, PyMC's samplers, ADVI and MAP evaluate the likelihood
    with the maximum-likelihood fit's NumPy routine and analytic gradient
    inside one ``Op`` (:mod:`clv.bayes._fused`); segments, ``mutable_data``
    and nutpie use the elementwise PyTensor graph of the same function.
    """

    mle_class: ClassVar[type[ParametricModel]]
    _dropout_at_zero: ClassVar[bool]
    beta_pairs: ClassVar[tuple[BetaPair, ...]] = _BayesBetaGeoModel.beta_pairs
    # the same rates and dropout as BG/NBD (CNBD-k only regularises the gaps): its priors
    default_priors: ClassVar[Mapping[str, Prior]] = _BayesBetaGeoModel.default_priors

    def __init__(
        self,
        priors: Mapping[str, Prior] | None = None,
        *,
        k: int = 1,
        segment: str | None = None,
        pooling: str = "partial",
    ) -> None:
        self.k = _check_order(k)
        super().__init__(priors, segment=segment, pooling=pooling)
        self.k = k  # as given (get_params / clone)

    @property
    def _spec(self) -> ModelSpec:
        return order_spec(int(self.k), dropout_at_zero=self._dropout_at_zero)

    @property
    def _total_gradient(self) -> Any:
        return _at_order(int(self.k), self._dropout_at_zero).total_gradient

    @classmethod
    def param_names(cls) -> tuple[str, ...]:
        """Names of the sampled parameters, ``('r', 'alpha', 'a', 'b')`` (``k`` is fixed)."""
        return tuple(CNBDRates._fields)

    def _new_mle(self) -> ParametricModel:
        """An unfitted maximum-likelihood model at this order (its ``k_`` set for predictions)."""
        factory: Any = self.mle_class
        model = factory(k=int(self.k))
        model.k_ = int(self.k)
        return model

    def _covariates_json(self) -> str:
        # the constructor arguments besides the priors, read back by from_netcdf
        return json.dumps({"k": int(self.k)})

    def __repr__(self) -> str:
        return super().__repr__().replace(">", f"; k={int(self.k)}>", 1)


class ModifiedBetaGeoCNBDModel(_CNBDBayesModel):
    r"""MBG/CNBD-k with priors on ``r, alpha, a, b`` at a fixed Erlang order ``k``.

    As :class:`clv.models.ModifiedBetaGeoCNBDModel` (inter-purchase times
    Erlang-k with rate :math:`\lambda \sim \mathrm{Gamma}(r, \alpha)`,
    dropout with probability :math:`p \sim \mathrm{Beta}(a, b)` right after
    the first and every repeat purchase), except that ``k`` is given, not
    estimated (see :mod:`clv.bayes.cnbd` for choosing it).

    Parameters
    ----------
    priors : mapping, optional
        Priors of ``r, alpha, a, b`` (default ``HalfNormal(10)`` on the shapes
        ``r, a, b``, ``HalfNormal(100)`` on ``alpha``; or ``phi_dropout`` /
        ``kappa_dropout`` for the mean and concentration of the dropout Beta).
    k : int, default 1
        Erlang order. ``k = 1`` is the MBG/NBD; for ``k > 1`` the fit data
        need the ``litt`` column (``rfm_summary(..., litt=True)``).
    segment, pooling : optional
        Parameters per segment (see :class:`clv.bayes.BayesModel`).

    Examples
    --------
    >>> from clv.bayes import ModifiedBetaGeoCNBDModel
    >>> ModifiedBetaGeoCNBDModel(k=2).param_names()
    ('r', 'alpha', 'a', 'b')
    """

    mle_class = _MLEModifiedBetaGeoCNBDModel
    _dropout_at_zero = True


class BetaGeoCNBDModel(_CNBDBayesModel):
    r"""BG/CNBD-k with priors on ``r, alpha, a, b`` at a fixed Erlang order ``k``.

    As :class:`ModifiedBetaGeoCNBDModel` without the dropout coin at the first
    purchase (:class:`clv.models.BetaGeoCNBDModel`); ``k = 1`` is the BG/NBD.

    Parameters
    ----------
    priors : mapping, optional
        Priors of ``r, alpha, a, b`` (defaults as for
        :class:`ModifiedBetaGeoCNBDModel`).
    k : int, default 1
        Erlang order (``litt`` column needed for ``k > 1``).
    segment, pooling : optional
        Parameters per segment (see :class:`clv.bayes.BayesModel`).
    """

    mle_class = _MLEBetaGeoCNBDModel
    _dropout_at_zero = False
