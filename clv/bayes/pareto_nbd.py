"""Bayesian Pareto/NBD: priors and wiring onto :mod:`clv.models.pareto_nbd` (no second likelihood).

Without segments or covariates the likelihood is one fused ``Op`` around the
maximum-likelihood path's per-customer log-likelihood and analytic gradient
(:func:`clv.models.pareto_nbd.log_likelihood_total_gradient`: one series gives the
hypergeometric function and all its partial derivatives, on the distinct rows).
With segments or covariates, the elementwise graph's Gauss hypergeometric
function goes through ``PYTENSOR.log_hyp2f1``, an ``Op`` around the NumPy
routine with its analytic gradient (see :mod:`clv.bayes._ops`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike

from clv._typing import FloatArray
from clv.bayes._base import Prior
from clv.bayes._transaction import _RFM, FusedTransactionBayesModel
from clv.models import pareto_nbd
from clv.models.pareto_nbd import ParetoNBDModel as _MLEParetoNBDModel

__all__ = ["ParetoNBDModel"]


class ParetoNBDModel(FusedTransactionBayesModel):
    r"""Pareto/NBD model of repeat purchasing with priors on ``r, alpha, s, beta``.

    Default priors: ``HalfNormal(10)`` on the shapes ``r, s`` and
    ``HalfNormal(100)`` on the scales ``alpha, beta`` (periods of the data).

    Covariates (``purchase_covariates=``, ``dropout_covariates=``) as in
    :class:`clv.models.ParetoNBDModel`: :math:`\alpha_i = \alpha_0 e^{-\gamma_p^\top x_i}`,
    :math:`\beta_i = \beta_0 e^{-\gamma_d^\top x_i}`.  The priors of ``alpha`` and
    ``beta`` then apply to a customer with average covariates; coefficients
    without a prior in ``priors`` get ``coefficient_prior`` per standard
    deviation (see :mod:`clv.bayes._covariates`).

    Examples
    --------
    >>> from clv.bayes import ParetoNBDModel
    >>> ParetoNBDModel.param_names()
    ('r', 'alpha', 's', 'beta')
    """

    mle_class = _MLEParetoNBDModel
    nutpie_ok = False  # the 2F1 Op runs NumPy code: no numba implementation
    fused_total_gradient = staticmethod(pareto_nbd.log_likelihood_total_gradient)
    fused_prepare = pareto_nbd.WeightedTotalGradient
    reparameterise: ClassVar[bool] = True
    """Sample ``beta`` through the dropout survival at the median age (``_fused_parameters``)."""

    # the ridge diverges with a dense mass matrix at 0.8 (usual coordinates, 66 divergences on
    # CDNOW) and at 0.9 in the survival coordinates on one seed of two (6 of 4,000 draws)
    dense_target_accept = 0.95

    def build_model(self, data: pd.DataFrame, *, mutable_data: bool = False) -> Any:
        """The PyMC model (see :meth:`FusedTransactionBayesModel.build_model`)."""
        self._survival_coordinates = False  # set by _fused_parameters when they are used
        return super().build_model(data, mutable_data=mutable_data)

    def fit(
        self,
        data: pd.DataFrame,
        method: str = "nuts",
        *,
        sampler: str = "pymc",
        log_likelihood: bool | None = None,
        **sampler_kwargs: object,
    ) -> Self:
        """See :meth:`clv.bayes._base.BayesModel.fit`.

        NUTS samples the survival coordinates of ``_fused_parameters``; MAP
        and ADVI, whose results depend on the coordinates, keep the usual ones.
        """
        self._for_nuts = method == "nuts"
        try:
            return super().fit(
                data, method, sampler=sampler, log_likelihood=log_likelihood, **sampler_kwargs
            )
        finally:
            del self._for_nuts

    default_priors: ClassVar[Mapping[str, Prior]] = MappingProxyType(
        {
            "r": ("HalfNormal", {"sigma": 10.0}),
            "alpha": ("HalfNormal", {"sigma": 100.0}),
            "s": ("HalfNormal", {"sigma": 10.0}),
            "beta": ("HalfNormal", {"sigma": 100.0}),
        }
    )

    def _fused_parameters(self, cols: list[np.ndarray], counts: np.ndarray) -> list[Any]:
        r"""``r, alpha, s`` as usual; ``beta`` through the dropout survival at a reference age.

        The data pin down the survival :math:`S(t) = (1 + t/\beta)^{-s}` of the
        dropout process over the observed ages, not ``s`` and ``beta`` apart:
        the posterior is a ridge along which both grow, bent in
        :math:`(\log s, \log\beta)` (its slope goes from below 1 to 1 as
        :math:`S` turns exponential).  NUTS samples :math:`\log s` and
        :math:`\log\kappa`, :math:`\kappa = -\log S(t_0) = s \log(1 + t_0/\beta)`
        with :math:`t_0` the median age ``T``, which straightens the ridge;
        ``beta = t_0 / \operatorname{expm1}(\kappa / s)`` keeps its prior
        (its log-density plus the log-Jacobian :math:`\log|\partial\beta/\partial\log\kappa|`
        is a ``Potential``).  The posterior is the same distribution; on
        CDNOW (4 x 1000 draws, ``target_accept=0.95``) NUTS takes 9.8 instead
        of 11 leapfrog steps per draw and the smallest bulk ESS is 1,881
        instead of 1,043 (see ``docs/benchmarks.md``).
        """
        import pymc as pm
        import pytensor.tensor as pt

        if not (self.reparameterise and getattr(self, "_for_nuts", False)):
            return super()._fused_parameters(cols, counts)
        priors = self._priors
        r, alpha, s = (getattr(pm, priors[n][0])(n, **priors[n][1]) for n in ("r", "alpha", "s"))
        self._survival_coordinates = True
        ages = cols[2]
        order = np.argsort(ages)
        cum = np.cumsum(counts[order])
        t0 = float(ages[order][np.searchsorted(cum, 0.5 * cum[-1])])  # weighted median of T
        t0 = max(t0, 1e-8)
        log_kappa = pm.Flat("kappa_log__", initval=np.log(0.5))  # shown as "kappa"
        kappa = pt.exp(log_kappa)
        y = kappa / s
        beta = pm.Deterministic("beta", t0 / pt.expm1(y))
        name, kwargs = self._priors["beta"]
        log_jacobian = np.log(t0) + log_kappa + y - pt.log(s) - 2.0 * pt.log(pt.expm1(y))
        pm.Potential("beta_prior__", pm.logp(getattr(pm, name).dist(**kwargs), beta) + log_jacobian)
        return [r, alpha, s, beta]

    def expected_discounted_residual_transactions(
        self,
        data: pd.DataFrame,
        discount_rate: float,
        *,
        thin: int = 1,
        summary_only: bool = False,
        chunk_size: int | None = None,
    ) -> xr.DataArray | pd.DataFrame:
        """Discounted expected residual transactions per customer and draw (see the function)."""

        def func(
            params: pareto_nbd.PNBDParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
        ) -> FloatArray:
            return pareto_nbd.expected_discounted_residual_transactions(
                params, frequency, recency, T, float(discount_rate)
            )

        return self._over_draws(
            func,
            data,
            _RFM,
            name="expected_discounted_residual_transactions",
            thin=thin,
            summary_only=summary_only,
            chunk_size=chunk_size,
        )
