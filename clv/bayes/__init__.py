"""Bayesian versions of the clv models, on PyMC and ArviZ (``pip install clv[bayes]``).

Same class names and prediction methods as :mod:`clv.models`; the PyMC models
evaluate the very same likelihood functions (through the PyTensor ``ops``
namespace), predictions are :class:`xarray.DataArray` objects over the
posterior draws.  ``import clv`` never imports this package.
"""

from clv.bayes._base import BAYES_SCHEMA_VERSION, METHODS, BayesModel, summarize_draws
from clv.bayes._ops import PYTENSOR
from clv.bayes.bgnbd import BetaGeoModel
from clv.bayes.gamma_gamma import GammaGammaModel

__all__ = [
    "BetaGeoModel",
    "GammaGammaModel",
    "BayesModel",
    "summarize_draws",
    "BAYES_SCHEMA_VERSION",
    "METHODS",
    "PYTENSOR",
]
