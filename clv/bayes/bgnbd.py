"""Bayesian BG/NBD: priors and wiring onto :mod:`clv.models.bgnbd` (no second likelihood)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar

import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike

from clv.bayes._base import BayesModel, Prior
from clv.models import bgnbd
from clv.models.bgnbd import BetaGeoModel as _MLEBetaGeoModel

__all__ = ["BetaGeoModel"]

_RFM = ("frequency", "recency", "T")


class BetaGeoModel(BayesModel):
    """BG/NBD model of repeat purchasing with priors on ``r, alpha, a, b``.

    The default priors are weak: ``HalfNormal`` with scale 10 for the shapes
    ``r, a, b`` and 100 for the scale ``alpha`` (in periods of the data).

    Examples
    --------
    >>> from clv.bayes import BetaGeoModel
    >>> BetaGeoModel(priors={"r": ("Gamma", {"alpha": 1.0, "beta": 1.0})}).priors["r"]
    ('Gamma', {'alpha': 1.0, 'beta': 1.0})
    """

    mle_class = _MLEBetaGeoModel
    default_priors: ClassVar[Mapping[str, Prior]] = MappingProxyType({
        "r": ("HalfNormal", {"sigma": 10.0}),
        "alpha": ("HalfNormal", {"sigma": 100.0}),
        "a": ("HalfNormal", {"sigma": 10.0}),
        "b": ("HalfNormal", {"sigma": 10.0}),
    })

    def probability_alive(self, data: pd.DataFrame) -> xr.DataArray:
        """Probability that each customer is alive, per draw: dims (chain, draw, customer_id)."""
        return self._over_draws(bgnbd.probability_alive, data, _RFM, name="probability_alive")

    def expected_purchases(self, t: ArrayLike, data: pd.DataFrame) -> xr.DataArray:
        """Expected repeat purchases in the next ``t`` periods (scalar ``t``), per draw."""
        return self._over_draws(bgnbd.expected_purchases, data, _RFM, float(t),  # type: ignore[arg-type]
                                name="expected_purchases")

    def expected_purchases_new_customer(self, t: ArrayLike) -> xr.DataArray:
        """Expected repeat purchases of a new customer in ``(0, t]``, per draw: (chain, draw)."""
        return self._over_draws(bgnbd.expected_purchases_new_customer, None, (), float(t),  # type: ignore[arg-type]
                                name="expected_purchases_new_customer")
