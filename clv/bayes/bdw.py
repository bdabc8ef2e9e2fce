"""Bayesian beta-discrete-Weibull retention model: priors and wiring onto :mod:`clv.models.bdw`."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar

from clv.bayes._base import Prior
from clv.bayes._priors import BetaPair
from clv.bayes._retention import RetentionBayesModel
from clv.models.bdw import BetaDiscreteWeibullModel as _MLEBetaDiscreteWeibullModel

__all__ = ["BetaDiscreteWeibullModel"]


class BetaDiscreteWeibullModel(RetentionBayesModel):
    """BdW contractual retention model with priors on ``alpha, beta, c``.

    Default priors: ``HalfNormal(10)`` on the Beta shapes and
    ``HalfNormal(2)`` on the Weibull shape ``c`` (``c = 1`` is the sBG model).
    ``churn_covariates=`` as in :class:`clv.bayes.ShiftedBetaGeoModel`.

    Examples
    --------
    >>> from clv.bayes import BetaDiscreteWeibullModel
    >>> BetaDiscreteWeibullModel.param_names()
    ('alpha', 'beta', 'c')
    """

    mle_class = _MLEBetaDiscreteWeibullModel
    beta_pairs: ClassVar[tuple[BetaPair, ...]] = ((("phi", "kappa"), ("alpha", "beta")),)
    default_priors: ClassVar[Mapping[str, Prior]] = MappingProxyType(
        {
            "alpha": ("HalfNormal", {"sigma": 10.0}),
            "beta": ("HalfNormal", {"sigma": 10.0}),
            "c": ("HalfNormal", {"sigma": 2.0}),
        }
    )
