"""Maximum-likelihood models of the four levers of customer value.

Repeat purchase and (non-contractual) retention: :class:`BetaGeoModel`,
:class:`ModifiedBetaGeoModel`, :class:`ParetoNBDModel`,
:class:`GGompertzNBDModel`, :class:`NBDModel` (no dropout),
:class:`ModifiedBetaGeoCNBDModel`, :class:`BetaGeoCNBDModel` (regular purchasing),
:class:`BetaGeoBetaBinomModel`; with time-varying covariates
:class:`ParetoNBDDynamicModel` (data from :func:`time_varying_data`).
Spend: :class:`GammaGammaModel`; with covariates at each transaction's time
:class:`GammaGammaDynamicModel` (data from :func:`time_varying_spend_data`). Contractual retention:
:class:`ShiftedBetaGeoModel`, :class:`BetaDiscreteWeibullModel`.
Acquisition: :class:`AcquisitionModel`.
"""

from clv.models.acquisition import AcquisitionModel
from clv.models.bdw import BetaDiscreteWeibullModel
from clv.models.bgbb import BetaGeoBetaBinomModel
from clv.models.bgnbd import BetaGeoModel
from clv.models.bgnbd_dyncov import BetaGeoDynamicModel
from clv.models.cnbd import BetaGeoCNBDModel, ModifiedBetaGeoCNBDModel
from clv.models.gamma_gamma import GammaGammaModel
from clv.models.gamma_gamma_dyncov import (
    GammaGammaDynamicModel,
    TimeVaryingSpendData,
    time_varying_spend_data,
)
from clv.models.ggompertz_nbd import GGompertzNBDModel
from clv.models.mbgnbd import ModifiedBetaGeoModel
from clv.models.nbd import NBDModel
from clv.models.pareto_nbd import ParetoNBDModel
from clv.models.pareto_nbd_dyncov import (
    ParetoNBDDynamicModel,
    TimeVaryingData,
    future_covariates,
    time_varying_data,
)
from clv.models.sbg import ShiftedBetaGeoModel
from clv.models.sbg_dyncov import ShiftedBetaGeoDynamicModel, retention_panel

__all__ = [
    "BetaGeoModel",
    "BetaGeoDynamicModel",
    "ModifiedBetaGeoModel",
    "ParetoNBDModel",
    "GGompertzNBDModel",
    "NBDModel",
    "ModifiedBetaGeoCNBDModel",
    "BetaGeoCNBDModel",
    "ParetoNBDDynamicModel",
    "TimeVaryingData",
    "future_covariates",
    "time_varying_data",
    "BetaGeoBetaBinomModel",
    "GammaGammaModel",
    "GammaGammaDynamicModel",
    "TimeVaryingSpendData",
    "time_varying_spend_data",
    "ShiftedBetaGeoModel",
    "ShiftedBetaGeoDynamicModel",
    "retention_panel",
    "BetaDiscreteWeibullModel",
    "AcquisitionModel",
]
