"""clv: customer lifetime value from transactions and customer-experience data.

``import clv`` is light: it imports no pandas, SciPy, PyMC, ArviZ or matplotlib.
The names below are loaded on first use (PEP 562), so a scheduled job pays only
for what it touches, and ``from clv import BetaGeoModel`` works as usual.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from clv import _moved
from clv._version import __version__
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

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from clv import cx as cx
    from clv.data import calibration_holdout_split, rfm_summary
    from clv.equity import customer_equity, new_customer_value
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

# public name -> module that defines it (loaded lazily by __getattr__)
_LAZY = {
    "rfm_summary": "clv.data",
    "calibration_holdout_split": "clv.data",
    "BetaGeoModel": "clv.models",
    "ModifiedBetaGeoModel": "clv.models",
    "ParetoNBDModel": "clv.models",
    "BetaGeoBetaBinomModel": "clv.models",
    "GammaGammaModel": "clv.models",
    "ShiftedBetaGeoModel": "clv.models",
    "BetaDiscreteWeibullModel": "clv.models",
    "AcquisitionModel": "clv.models",
    "customer_lifetime_value": "clv.value",
    "customer_lifetime_value_table": "clv.value",
    "customer_equity": "clv.equity",
    "new_customer_value": "clv.equity",
}
_SUBMODULES = {"cx", "data", "models", "value", "equity", "roi", "synth"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif not name.startswith("__") and importlib.util.find_spec(f"clv.{name}") is not None:
        value = importlib.import_module(f"clv.{name}")  # clv.models etc. without an import
    else:
        raise AttributeError(f"module 'clv' has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)


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
