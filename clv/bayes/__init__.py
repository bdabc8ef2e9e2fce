"""Bayesian versions of the clv models, on PyMC and ArviZ (``pip install clv[bayes]``).

Same class names and prediction methods as :mod:`clv.models`; the PyMC models
evaluate the very same likelihood functions (through the PyTensor ``ops``
namespace), predictions are :class:`xarray.DataArray` objects over the
posterior draws.  ``import clv`` never imports this package.
"""

from clv.bayes._base import BAYES_SCHEMA_VERSION, METHODS, BayesModel, summarize_draws
from clv.bayes._ops import PYTENSOR
from clv.bayes.abe import AbeParetoNBDModel
from clv.bayes.acquisition import AcquisitionModel
from clv.bayes.bdw import BetaDiscreteWeibullModel
from clv.bayes.bgbb import BetaGeoBetaBinomModel
from clv.bayes.bgnbd import BetaGeoModel
from clv.bayes.cnbd import BetaGeoCNBDModel, ModifiedBetaGeoCNBDModel
from clv.bayes.compare import compare
from clv.bayes.dyncov import BetaGeoDynamicModel, ParetoNBDDynamicModel
from clv.bayes.gamma_gamma import GammaGammaModel
from clv.bayes.mbgnbd import ModifiedBetaGeoModel
from clv.bayes.nbd import NBDModel
from clv.bayes.pareto_ggg import ParetoGGGModel
from clv.bayes.pareto_nbd import ParetoNBDModel
from clv.bayes.sbg import ShiftedBetaGeoModel
from clv.bayes.value import customer_lifetime_value

__all__ = [
    "BetaGeoModel",
    "ModifiedBetaGeoModel",
    "NBDModel",
    "ModifiedBetaGeoCNBDModel",
    "BetaGeoCNBDModel",
    "ParetoNBDModel",
    "AbeParetoNBDModel",
    "ParetoGGGModel",
    "ParetoNBDDynamicModel",
    "BetaGeoDynamicModel",
    "BetaGeoBetaBinomModel",
    "GammaGammaModel",
    "ShiftedBetaGeoModel",
    "BetaDiscreteWeibullModel",
    "AcquisitionModel",
    "customer_lifetime_value",
    "compare",
    "BayesModel",
    "summarize_draws",
    "BAYES_SCHEMA_VERSION",
    "METHODS",
    "PYTENSOR",
]
