"""Bayesian BG/BB: priors and wiring onto :mod:`clv.models.bgbb` (no second likelihood)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar

from clv.bayes._base import Prior
from clv.bayes._priors import BetaPair
from clv.bayes._transaction import CovariateTransactionBayesModel
from clv.models.bgbb import BetaGeoBetaBinomModel as _MLEBetaGeoBetaBinomModel

__all__ = ["BetaGeoBetaBinomModel"]


class BetaGeoBetaBinomModel(CovariateTransactionBayesModel):
    """BG/BB model of discrete-time repeat transactions, priors on ``alpha, beta, gamma, delta``.

    Same data as :class:`clv.models.BetaGeoBetaBinomModel` (whole numbers of
    transaction opportunities).  Default priors: ``HalfNormal(10)`` on all four
    Beta shapes.

    Covariates (``purchase_covariates=``, ``dropout_covariates=``) and their
    priors as in the maximum-likelihood model and
    :class:`clv.bayes.ParetoNBDModel`.

    Examples
    --------
    >>> from clv.bayes import BetaGeoBetaBinomModel
    >>> BetaGeoBetaBinomModel.param_names()
    ('alpha', 'beta', 'gamma', 'delta')
    """

    mle_class = _MLEBetaGeoBetaBinomModel
    per_draw = frozenset({"probability_of_purchases"})
    beta_pairs: ClassVar[tuple[BetaPair, ...]] = (
        (("phi_purchase", "kappa_purchase"), ("alpha", "beta")),
        (("phi_dropout", "kappa_dropout"), ("gamma", "delta")),
    )
    default_priors: ClassVar[Mapping[str, Prior]] = MappingProxyType(
        {
            "alpha": ("HalfNormal", {"sigma": 10.0}),
            "beta": ("HalfNormal", {"sigma": 10.0}),
            "gamma": ("HalfNormal", {"sigma": 10.0}),
            "delta": ("HalfNormal", {"sigma": 10.0}),
        }
    )
