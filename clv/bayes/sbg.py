"""Bayesian shifted-beta-geometric retention model: priors and wiring onto :mod:`clv.models.sbg`."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar

from clv.bayes._base import Prior
from clv.bayes._priors import BetaPair
from clv.bayes._retention import RetentionBayesModel
from clv.models.sbg import ShiftedBetaGeoModel as _MLEShiftedBetaGeoModel

__all__ = ["ShiftedBetaGeoModel"]


class ShiftedBetaGeoModel(RetentionBayesModel):
    """sBG contractual retention model with priors on ``alpha, beta``.

    Data as for :class:`clv.models.ShiftedBetaGeoModel` (per-customer rows or a
    survival table); one set of parameters for all cohorts.  Default priors:
    ``HalfNormal(10)`` on both Beta shapes.

    ``churn_covariates=`` as in :class:`clv.models.ShiftedBetaGeoModel`
    (discrete proportional hazards, coefficients ``churn[column]``; per-customer
    rows only); coefficient priors as in :class:`clv.bayes.ParetoNBDModel`
    (see :class:`~clv.bayes._retention.RetentionBayesModel`).

    Examples
    --------
    >>> from clv.bayes import ShiftedBetaGeoModel
    >>> ShiftedBetaGeoModel.param_names()
    ('alpha', 'beta')
    """

    mle_class = _MLEShiftedBetaGeoModel
    beta_pairs: ClassVar[tuple[BetaPair, ...]] = ((("phi", "kappa"), ("alpha", "beta")),)
    default_priors: ClassVar[Mapping[str, Prior]] = MappingProxyType(
        {
            "alpha": ("HalfNormal", {"sigma": 10.0}),
            "beta": ("HalfNormal", {"sigma": 10.0}),
        }
    )
