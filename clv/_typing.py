"""Type aliases and the ``Ops`` protocol shared by the pure model functions."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["ArrayLike", "FloatArray", "Ops"]

FloatArray = NDArray[np.float64]


class Ops(Protocol):
    """Array functions a likelihood may use; NumPy/SciPy here, PyTensor in ``clv.bayes``."""

    def gammaln(self, x: Any) -> Any: ...  # noqa: D102
    def betaln(self, a: Any, b: Any) -> Any: ...  # noqa: D102
    def log(self, x: Any) -> Any: ...  # noqa: D102
    def log1p(self, x: Any) -> Any: ...  # noqa: D102
    def exp(self, x: Any) -> Any: ...  # noqa: D102
    def logaddexp(self, a: Any, b: Any) -> Any: ...  # noqa: D102
    def where(self, cond: Any, a: Any, b: Any) -> Any: ...  # noqa: D102
    def maximum(self, a: Any, b: Any) -> Any: ...  # noqa: D102
    def minimum(self, a: Any, b: Any) -> Any: ...  # noqa: D102
    def log1mexp(self, x: Any) -> Any: ...  # noqa: D102
    def logsubexp(self, a: Any, b: Any) -> Any: ...  # noqa: D102
