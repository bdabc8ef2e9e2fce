"""Bayesian NBD: priors and wiring onto :mod:`clv.models.nbd` (no second likelihood)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar

from clv.bayes._base import Prior
from clv.bayes._transaction import TransactionBayesModel
from clv.models.nbd import NBDModel as _MLENBDModel

__all__ = ["NBDModel"]


class NBDModel(TransactionBayesModel):
    """NBD model of repeat purchasing (no dropout) with priors on ``r, alpha``.

    Each customer buys as a Poisson process with a Gamma(r, alpha) rate and
    never leaves, as in :class:`clv.models.NBDModel`; the PyMC model evaluates
    :func:`clv.models.nbd.log_likelihood` through the PyTensor ``ops``.
    Default priors: ``HalfNormal(10)`` on the shape ``r`` and
    ``HalfNormal(100)`` on the scale ``alpha`` (periods of the data).
    ``probability_alive`` is 1 for every customer and draw.

    Parameters
    ----------
    priors : mapping, optional
        ``{"r": (distribution, kwargs), "alpha": ...}`` (see :class:`clv.bayes.BayesModel`).
    segment, pooling : optional
        Parameters per segment (see :class:`clv.bayes.BayesModel`).

    Examples
    --------
    >>> from clv.bayes import NBDModel
    >>> NBDModel.param_names()
    ('r', 'alpha')
    """

    mle_class = _MLENBDModel
    default_priors: ClassVar[Mapping[str, Prior]] = MappingProxyType(
        {
            "r": ("HalfNormal", {"sigma": 10.0}),
            "alpha": ("HalfNormal", {"sigma": 100.0}),
        }
    )

    def __init__(
        self,
        priors: Mapping[str, Prior] | None = None,
        *,
        segment: str | None = None,
        pooling: str = "partial",
    ) -> None:
        super().__init__(priors, segment=segment, pooling=pooling)
