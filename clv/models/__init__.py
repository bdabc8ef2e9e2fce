"""Maximum-likelihood models of the four levers of customer value.

Repeat purchase and (non-contractual) retention: :class:`BetaGeoModel`,
:class:`ModifiedBetaGeoModel`, :class:`ParetoNBDModel`,
:class:`GGompertzNBDModel`,
:class:`BetaGeoBetaBinomModel`. Spend: :class:`GammaGammaModel`. Contractual
retention: :class:`ShiftedBetaGeoModel`, :class:`BetaDiscreteWeibullModel`.
Acquisition: :class:`AcquisitionModel`.
"""

from clv.models.acquisition import AcquisitionModel
from clv.models.bdw import BetaDiscreteWeibullModel
from clv.models.bgbb import BetaGeoBetaBinomModel
from clv.models.bgnbd import BetaGeoModel
from clv.models.gamma_gamma import GammaGammaModel
from clv.models.ggompertz_nbd import GGompertzNBDModel
from clv.models.mbgnbd import ModifiedBetaGeoModel
from clv.models.pareto_nbd import ParetoNBDModel
from clv.models.sbg import ShiftedBetaGeoModel

__all__ = [
    "BetaGeoModel",
    "ModifiedBetaGeoModel",
    "ParetoNBDModel",
    "GGompertzNBDModel",
    "BetaGeoBetaBinomModel",
    "GammaGammaModel",
    "ShiftedBetaGeoModel",
    "BetaDiscreteWeibullModel",
    "AcquisitionModel",
]
