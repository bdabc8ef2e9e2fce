"""Type aliases and the ``Ops`` protocol shared by the pure model functions."""

from __future__ import annotations

import datetime
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["ArrayLike", "DateLike", "FloatArray", "IndexArray", "Ops", "OpsData"]

FloatArray = NDArray[np.float64]

IndexArray = NDArray[np.integer[Any]]
"""Integer positions into another array (e.g. the rows a function is evaluated at)."""

DateLike = str | datetime.date | np.datetime64
"""A calendar date or time ``pandas.Timestamp`` accepts: text, ``date``/``datetime``
(``Timestamp`` included) or ``numpy.datetime64``."""

OpsData = NDArray[Any] | float
"""A data argument of a function written against ``ops`` (``f(params, *data, ops=NUMPY)``).

A NumPy array or scalar, which the arithmetic and comparisons of the
likelihoods accept; the Bayesian path passes PyTensor variables instead, which
behave alike but which the type checker does not follow through ``ops``.
(``ArrayLike`` would also admit strings and nested lists, on which ``x > 0``
means nothing.)
"""


class Ops(Protocol):
    """Array functions a likelihood may use; NumPy/SciPy here, PyTensor in ``clv.bayes``."""

    def gammaln(self, x: Any) -> Any: ...
    def betaln(self, a: Any, b: Any) -> Any: ...
    def log(self, x: Any) -> Any: ...
    def log1p(self, x: Any) -> Any: ...
    def exp(self, x: Any) -> Any: ...
    def logaddexp(self, a: Any, b: Any) -> Any: ...
    def where(self, cond: Any, a: Any, b: Any) -> Any: ...
    def maximum(self, a: Any, b: Any) -> Any: ...
    def minimum(self, a: Any, b: Any) -> Any: ...
    def log1mexp(self, x: Any) -> Any: ...
    def logsubexp(self, a: Any, b: Any) -> Any: ...
    def log_hyp2f1(self, a: Any, b: Any, c: Any, z: Any) -> Any: ...
    def sum(self, x: Any, axis: Any = None) -> Any: ...
    def cumsum(self, x: Any, axis: Any = None) -> Any: ...
    def logsumexp(self, x: Any, axis: Any = None) -> Any: ...
