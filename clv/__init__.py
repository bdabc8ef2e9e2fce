"""clv: customer lifetime value from transactions and customer-experience data."""

from clv._version import __version__
from clv.exceptions import (
    ClvError,
    ConvergenceError,
    ConvergenceWarning,
    DataError,
    DataWarning,
    ModelFileError,
    NotFittedError,
)
from clv.models import BetaGeoModel

__all__ = [
    "__version__",
    "BetaGeoModel",
    "ClvError",
    "ConvergenceError",
    "ConvergenceWarning",
    "DataError",
    "DataWarning",
    "ModelFileError",
    "NotFittedError",
]
