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
from typing import ClassVar

import pandas as pd
import xarray as xr

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
    dense_target_accept = 0.95  # the (s, beta) ridge diverges with a dense mass matrix at 0.8
    default_priors: ClassVar[Mapping[str, Prior]] = MappingProxyType(
        {
            "r": ("HalfNormal", {"sigma": 10.0}),
            "alpha": ("HalfNormal", {"sigma": 100.0}),
            "s": ("HalfNormal", {"sigma": 10.0}),
            "beta": ("HalfNormal", {"sigma": 100.0}),
        }
    )

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

        def func(params: pareto_nbd.PNBDParams, *cols: object) -> object:
            return pareto_nbd.expected_discounted_residual_transactions(
                params, *cols, float(discount_rate)
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
