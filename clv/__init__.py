"""clv: customer lifetime value from transactions and customer-experience data.

``import clv`` is light: it never imports PyMC, ArviZ or matplotlib.
"""

from clv import _moved
from clv import cx as cx  # the CX schema and feature builder: clv.cx.FeatureBuilder
from clv._version import __version__
from clv.data import calibration_holdout_split, rfm_summary
from clv.equity import customer_equity, new_customer_value
from clv.exceptions import (
    ClvError,
    ConvergenceError,
    ConvergenceWarning,
    DataError,
    DataWarning,
    DuplicateRowsWarning,
    ModelFileError,
    NotFittedError,
)
from clv.models import (
    AcquisitionModel,
    BetaDiscreteWeibullModel,
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    ShiftedBetaGeoModel,
)
from clv.value import customer_lifetime_value, customer_lifetime_value_table

__all__ = [
    "__version__",
    # data
    "rfm_summary",
    "calibration_holdout_split",
    # models
    "BetaGeoModel",
    "ModifiedBetaGeoModel",
    "ParetoNBDModel",
    "BetaGeoBetaBinomModel",
    "GammaGammaModel",
    "ShiftedBetaGeoModel",
    "BetaDiscreteWeibullModel",
    "AcquisitionModel",
    # value
    "customer_lifetime_value",
    "customer_lifetime_value_table",
    "customer_equity",
    "new_customer_value",
    # errors
    "ClvError",
    "ConvergenceError",
    "ConvergenceWarning",
    "DataError",
    "DataWarning",
    "DuplicateRowsWarning",
    "ModelFileError",
    "NotFittedError",
]

_moved.install()  # old module paths import, with a DeprecationWarning, for one release
