"""Bayesian BG/NBD: priors and wiring onto :mod:`clv.models.bgnbd` (no second likelihood)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar

from clv.bayes._base import Prior
from clv.bayes._priors import BetaPair
from clv.bayes._transaction import FusedTransactionBayesModel
from clv.models.bgnbd import BetaGeoModel as _MLEBetaGeoModel
from clv.models.bgnbd import log_likelihood_total_gradient

__all__ = ["BetaGeoModel"]


class BetaGeoModel(FusedTransactionBayesModel):
    r"""BG/NBD model of repeat purchasing with priors on ``r, alpha, a, b``.

    The default priors are weak: ``HalfNormal`` with scale 10 for the shapes
    ``r, a, b`` and 100 for the scale ``alpha`` (in periods of the data).

    Covariates (``purchase_covariates=``, ``dropout_covariates=``) as in
    :class:`clv.models.BetaGeoModel`: :math:`\alpha_i = \alpha_0 e^{-\gamma_p^\top x_i}`,
    :math:`a_i = a_0 e^{\gamma_d^\top x_i}`; priors as in
    :class:`clv.bayes.ParetoNBDModel`.

    Examples
    --------
    >>> from clv.bayes import BetaGeoModel
    >>> BetaGeoModel(priors={"r": ("Gamma", {"alpha": 1.0, "beta": 1.0})}).priors["r"]
    ('Gamma', {'alpha': 1.0, 'beta': 1.0})
    """

    fused_total_gradient = staticmethod(log_likelihood_total_gradient)

    mle_class = _MLEBetaGeoModel
    beta_pairs: ClassVar[tuple[BetaPair, ...]] = ((("phi_dropout", "kappa_dropout"), ("a", "b")),)
    default_priors: ClassVar[Mapping[str, Prior]] = MappingProxyType(
        {
            "r": ("HalfNormal", {"sigma": 10.0}),
            "alpha": ("HalfNormal", {"sigma": 100.0}),
            "a": ("HalfNormal", {"sigma": 10.0}),
            "b": ("HalfNormal", {"sigma": 10.0}),
        }
    )
