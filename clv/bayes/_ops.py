"""The PyTensor ``ops`` namespace: the same functions as :data:`clv._ops.NUMPY`.

A model module's ``log_likelihood(params, *data, ops=PYTENSOR)`` then builds a
symbolic PyTensor graph instead of computing NumPy arrays, so the PyMC models
use the very likelihood the maximum-likelihood fits use (no second copy).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytensor.tensor as pt

__all__ = ["PYTENSOR"]


def _betaln(a: Any, b: Any) -> Any:
    """:math:`\\log B(a, b)` from log-gamma functions (PyTensor has no ``betaln``)."""
    return pt.gammaln(a) + pt.gammaln(b) - pt.gammaln(a + b)


def _log1mexp(x: Any) -> Any:
    """:math:`\\log(1 - e^{x})` for :math:`x \\le 0` (PyTensor's stable ``log1mexp``)."""
    return pt.log1mexp(x)


def _logsubexp(a: Any, b: Any) -> Any:
    """:math:`\\log(e^{a} - e^{b})` for :math:`a \\ge b`, as in :func:`clv._special.logsubexp`."""
    return a + pt.log1mexp(pt.minimum(b - a, 0.0))


def _log_hyp2f1(a: Any, b: Any, c: Any, z: Any) -> Any:
    """:math:`\\log {}_2F_1(a, b; c; z)` (direct: no log-space series in PyTensor)."""
    return pt.log(pt.hyp2f1(a, b, c, z))


PYTENSOR = SimpleNamespace(
    gammaln=pt.gammaln,
    betaln=_betaln,
    log=pt.log,
    log1p=pt.log1p,
    exp=pt.exp,
    logaddexp=pt.logaddexp,
    where=pt.where,
    maximum=pt.maximum,
    minimum=pt.minimum,
    log1mexp=_log1mexp,
    logsubexp=_logsubexp,
    log_hyp2f1=_log_hyp2f1,
)
