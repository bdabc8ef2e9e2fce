"""Bayesian MBG/NBD: priors and wiring onto :mod:`clv.models.mbgnbd` (no second likelihood)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from clv.bayes._base import Prior
from clv.bayes._priors import BetaPair
from clv.bayes._transaction import CovariateTransactionBayesModel
from clv.bayes.bgnbd import BetaGeoModel as _BayesBetaGeoModel
from clv.models.mbgnbd import ModifiedBetaGeoModel as _MLEModifiedBetaGeoModel

__all__ = ["ModifiedBetaGeoModel"]


class ModifiedBetaGeoModel(CovariateTransactionBayesModel):
    """MBG/NBD model of repeat purchasing with priors on ``r, alpha, a, b``.

    Default priors as for :class:`clv.bayes.BetaGeoModel`: ``HalfNormal(10)`` on
    the shapes ``r, a, b`` and ``HalfNormal(100)`` on the scale ``alpha``.

    Covariates (``purchase_covariates=``, ``dropout_covariates=``) and their
    priors as in the maximum-likelihood model and
    :class:`clv.bayes.ParetoNBDModel`.

    Examples
    --------
    >>> from clv.bayes import ModifiedBetaGeoModel
    >>> ModifiedBetaGeoModel.param_names()
    ('r', 'alpha', 'a', 'b')
    """

    mle_class = _MLEModifiedBetaGeoModel
    beta_pairs: ClassVar[tuple[BetaPair, ...]] = ((("phi_dropout", "kappa_dropout"), ("a", "b")),)
    default_priors: ClassVar[Mapping[str, Prior]] = _BayesBetaGeoModel.default_priors
