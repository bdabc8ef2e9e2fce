"""Bayesian Gamma-Gamma spend model: priors and wiring onto :mod:`clv.models.gamma_gamma`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import ClassVar

import pandas as pd
import xarray as xr

from clv.bayes._base import BayesModel, Prior
from clv.models import gamma_gamma
from clv.models.gamma_gamma import GammaGammaModel as _MLEGammaGammaModel

__all__ = ["GammaGammaModel"]

_SPEND = ("frequency", "monetary_value")


class GammaGammaModel(BayesModel):
    r"""Gamma-Gamma model of the mean transaction value with priors on ``p, q, v``.

    Only repeat buyers enter the fit.  The default priors are weak:
    ``HalfNormal(10)`` on the shapes ``p, q`` and a flat prior on ``v``, which
    is in the currency of ``monetary_value`` (so no fixed scale suits it).

    Covariates (``spend_covariates=``) as in :class:`clv.models.GammaGammaModel`:
    :math:`v_i = v_0 e^{\gamma_s^\top x_i}`; priors as in
    :class:`clv.bayes.ParetoNBDModel`.
    """

    mle_class = _MLEGammaGammaModel
    default_priors: ClassVar[Mapping[str, Prior]] = MappingProxyType(
        {
            "p": ("HalfNormal", {"sigma": 10.0}),
            "q": ("HalfNormal", {"sigma": 10.0}),
            "v": ("HalfFlat", {}),
        }
    )

    def __init__(
        self,
        priors: Mapping[str, Prior] | None = None,
        *,
        spend_covariates: Sequence[str] | None = None,
        coefficient_prior: Prior | None = None,
        segment: str | None = None,
        pooling: str = "partial",
    ) -> None:
        super().__init__(
            priors,
            segment=segment,
            pooling=pooling,
            covariates={"spend": spend_covariates},
            coefficient_prior=coefficient_prior,
        )

    def expected_spend(self, data: pd.DataFrame) -> xr.DataArray:
        """Expected mean transaction value per customer and draw: (chain, draw, customer_id).

        Draws with ``q <= 1`` give NaN for customers without repeat purchases
        (the population mean does not exist there).
        """
        filled = self.mle_class()._frame(data)  # NaN spend of non-repeat buyers -> 0
        out = self._over_draws(gamma_gamma.expected_spend, filled, _SPEND, name="expected_spend")
        assert isinstance(out, xr.DataArray)  # summary_only=False: the draws themselves
        return out

    def expected_spend_new_customer(self) -> xr.DataArray:
        """Population mean transaction value ``p v / (q - 1)`` per draw: (chain, draw)."""
        out = self._over_draws(
            gamma_gamma.expected_spend_new_customer, None, (), name="expected_spend_new_customer"
        )
        assert isinstance(out, xr.DataArray)  # summary_only=False: the draws themselves
        return out
