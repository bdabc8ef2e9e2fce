"""The PyTensor ``ops`` namespace: the same functions as :data:`clv._ops.NUMPY`.

A model module's ``log_likelihood(params, *data, ops=PYTENSOR)`` then builds a
symbolic PyTensor graph instead of computing NumPy arrays, so the PyMC models
use the very likelihood the maximum-likelihood fits use (no second copy).

``log_hyp2f1`` of the Pareto/NBD family (``a = 1``) is a PyTensor ``Op``
around :func:`clv._special.log_hyp2f1_1bc`, the NumPy routine the
maximum-likelihood fit uses, with its analytic first derivatives as the
gradient.  PyTensor's own ``hyp2f1`` agrees in value on CDNOW, but its
gradient graph fails to compile there (NaN gradients) and it takes ~18 s to
compile.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from clv._special import log_gammainc_with_grad, log_hyp2f1_1bc

__all__ = ["PYTENSOR", "LogGammaInc", "LogHyp2F1OneBC", "op_outputs"]


def op_outputs(op: Op, *inputs: Any) -> list[pt.TensorVariable]:
    """The output variables of an ``Op`` with several outputs, applied to ``inputs``.

    ``Op.__call__`` returns a list for several outputs and the variable itself
    for one; this says which, for the type checker and the reader.
    """
    out = op(*inputs)
    if not isinstance(out, list):
        raise TypeError(f"{type(op).__name__} has a single output; call it directly.")
    return [pt.as_tensor_variable(v) for v in out]


def _betaln(a: Any, b: Any) -> Any:
    """:math:`\\log B(a, b)` from log-gamma functions (PyTensor has no ``betaln``)."""
    return pt.gammaln(a) + pt.gammaln(b) - pt.gammaln(a + b)


def _log1mexp(x: Any) -> Any:
    """:math:`\\log(1 - e^{x})` for :math:`x \\le 0` (PyTensor's stable ``log1mexp``)."""
    return pt.log1mexp(x)


def _logsubexp(a: Any, b: Any) -> Any:
    """:math:`\\log(e^{a} - e^{b})` for :math:`a \\ge b`, as in :func:`clv._special.logsubexp`.

    ``-inf`` where ``a == b``, with a zero (not NaN) gradient there: e.g. a
    Pareto/NBD customer whose last purchase is at the end of observation.
    """
    diff = pt.minimum(b - a, 0.0)
    inside = diff < 0.0
    safe = pt.where(inside, diff, -1.0)
    return pt.where(inside, a + pt.log1mexp(safe), -np.inf)


class LogHyp2F1OneBC(Op):
    """:math:`\\log {}_2F_1(1, b; c; z)` and its partial derivatives, elementwise.

    Inputs ``b, c, z`` (float64, same shape); outputs ``log F, d/db, d/dc,
    d/dz`` computed by :func:`clv._special.log_hyp2f1_1bc` with ``order=1``.
    The gradient of ``log F`` uses the derivative outputs; the derivative
    outputs themselves are not differentiable (first-order samplers and
    optimisers do not need them).
    """

    __props__ = ()

    def make_node(self, *inputs: Any) -> Apply:
        b, c, z = (pt.as_tensor_variable(v).astype("float64") for v in inputs)
        b, c, z = pt.broadcast_arrays(b, c, z)
        outputs = [b.type() for _ in range(4)]
        return Apply(self, [b, c, z], outputs)

    def perform(
        self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list[list[Any]]
    ) -> None:
        b, c, z = inputs
        values = log_hyp2f1_1bc(b, c, z, order=1)
        for store, value in zip(output_storage, values, strict=True):
            store[0] = np.asarray(value, dtype=np.float64).reshape(b.shape)

    def infer_shape(self, fgraph: Any, node: Apply, shapes: list[Any]) -> list[Any]:
        return [shapes[0]] * 4

    def grad(self, inputs: Sequence[Any], output_grads: Sequence[Any]) -> list[Any]:
        _, d_b, d_c, d_z = op_outputs(self, *inputs)
        g = output_grads[0]  # the derivative outputs are not differentiated
        return [g * d_b, g * d_c, g * d_z]

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        return [[True, False, False, False]] * 3


_LOG_HYP2F1_1BC = LogHyp2F1OneBC()


def _log_hyp2f1(a: Any, b: Any, c: Any, z: Any) -> Any:
    """:math:`\\log {}_2F_1(a, b; c; z)`.

    For ``a == 1`` (the Pareto/NBD family, :math:`0 < b < c`, :math:`c > 1`,
    :math:`0 \\le z < 1`) the accurate NumPy routine of the maximum-likelihood
    path with its analytic gradient; otherwise PyTensor's ``hyp2f1``.
    """
    if isinstance(a, int | float) and float(a) == 1.0:
        return op_outputs(_LOG_HYP2F1_1BC, b, c, z)[0]
    if isinstance(b, int | float) and float(b) == 1.0:
        return op_outputs(_LOG_HYP2F1_1BC, a, c, z)[0]
    return pt.log(pt.hyp2f1(a, b, c, z))


class LogGammaInc(Op):
    """:math:`\\log P(a, x)` (regularised lower incomplete gamma) and its partial derivatives.

    Inputs ``a, x`` (float64, broadcast); outputs ``log P, d/da, d/dx`` from
    :func:`clv._special.log_gammainc` and :func:`clv._special.log_gammainc_grad`,
    the NumPy routines (PyTensor's own ``gammainc`` gradient in ``a`` is a
    series loop that takes ~40 s to compile).  The derivative outputs are
    not differentiable.
    """

    __props__ = ()

    def make_node(self, *inputs: Any) -> Apply:
        a, x = (pt.as_tensor_variable(v).astype("float64") for v in inputs)
        a, x = pt.broadcast_arrays(a, x)
        return Apply(self, [a, x], [a.type() for _ in range(3)])

    def perform(
        self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list[list[Any]]
    ) -> None:
        a, x = inputs
        values = log_gammainc_with_grad(a, x)
        for store, value in zip(output_storage, values, strict=True):
            store[0] = np.asarray(value, dtype=np.float64).reshape(a.shape)

    def infer_shape(self, fgraph: Any, node: Apply, shapes: list[Any]) -> list[Any]:
        return [shapes[0]] * 3

    def grad(self, inputs: Sequence[Any], output_grads: Sequence[Any]) -> list[Any]:
        _, d_a, d_x = op_outputs(self, *inputs)
        g = output_grads[0]
        return [g * d_a, g * d_x]

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        return [[True, False, False]] * 2


_LOG_GAMMAINC = LogGammaInc()


def _log_gammainc(a: Any, x: Any) -> Any:
    """:math:`\\log P(a, x)`, as :func:`clv._special.log_gammainc`."""
    return op_outputs(_LOG_GAMMAINC, a, x)[0]


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
    log_gammainc=_log_gammainc,
    sum=pt.sum,
    cumsum=pt.cumsum,
    logsumexp=pt.logsumexp,
)
