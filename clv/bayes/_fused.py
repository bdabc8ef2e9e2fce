"""A fused log-likelihood ``Op``: the MLE path's weighted total and gradient inside PyMC.

The elementwise PyTensor graph of a likelihood (``log_likelihood(...,
ops=PYTENSOR)``) evaluates and differentiates every term per row.  A model
module that also has a NumPy routine for the weighted total log-likelihood
and its gradient (e.g. :func:`clv.models.bgnbd.log_likelihood_total_gradient`,
which sums the terms of the frequency alone once per distinct frequency and
the rest in fused block sums) can be wrapped instead: :class:`TotalLogLikelihood`
calls that routine on the compressed rows, so PyMC's NUTS, ADVI and MAP use
the same code as the maximum-likelihood fit.

The ``Op`` runs Python code, so it works with PyMC's own samplers only
(nutpie, numpyro and blackjax compile the graph to numba or JAX).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType
from pytensor.graph.basic import Apply, Constant
from pytensor.graph.op import Op

from clv.bayes._ops import op_outputs

__all__ = ["TotalLogLikelihood", "VectorLogLikelihood", "total_log_likelihood"]


class _TotalAndGradient(Op):
    """An ``Op`` with two outputs, a total log-likelihood and its gradient, from NumPy code.

    A subclass sets ``n_params`` and computes ``(ll, grad)`` in ``_evaluate``.
    """

    n_params: int

    def _evaluate(self, node: Apply, inputs: Sequence[np.ndarray]) -> tuple[float, np.ndarray]:
        raise NotImplementedError

    def perform(
        self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list[list[Any]]
    ) -> None:
        try:  # a sampler's wild step (e.g. a parameter underflowing to 0) is -inf, not an error
            with np.errstate(all="ignore"):
                ll, grad = self._evaluate(node, inputs)
        except (ArithmeticError, ValueError):
            ll, grad = -np.inf, np.zeros(self.n_params)
        if not (np.isfinite(ll) and np.all(np.isfinite(grad))):  # rejected by the sampler
            ll, grad = -np.inf, np.zeros(self.n_params)
        output_storage[0][0] = np.asarray(ll, dtype=np.float64)
        output_storage[1][0] = np.asarray(grad, dtype=np.float64).reshape(self.n_params)

    def infer_shape(self, fgraph: Any, node: Apply, shapes: list[Any]) -> list[Any]:
        return [(), (self.n_params,)]


class TotalLogLikelihood(_TotalAndGradient):
    """Weighted total log-likelihood and its gradient from a NumPy routine.

    Parameters
    ----------
    func : callable
        ``func(params, *columns, weights) -> (ll, grad)`` with ``ll`` a float
        and ``grad`` the gradient w.r.t. the parameters, in their order.
    params : type
        The parameter ``NamedTuple`` that ``func`` takes.
    prepare : callable, optional
        ``prepare(*columns, weights) -> evaluate`` with ``evaluate(params)``
        equal to ``func(params, *columns, weights)``: work that depends on the
        data alone (distinct pairs, index maps) done once.  When the data
        inputs are constants (as :func:`total_log_likelihood` makes them) the
        evaluator is kept on the graph node and reused by every evaluation.

    Inputs are the scalar parameters, then the data columns and the weights
    (constants: the ``Op`` is not differentiated w.r.t. them).  Outputs are
    the total and the gradient; the gradient of the total is the gradient
    output, which is itself not differentiable (first-order samplers and
    optimisers do not need it).
    """

    __props__ = ("func", "params", "prepare")

    def __init__(
        self,
        func: Callable[..., tuple[float, np.ndarray]],
        params: type,
        prepare: Callable[..., Callable[[Any], tuple[float, np.ndarray]]] | None = None,
    ) -> None:
        self.func = func
        self.params = params
        self.prepare = prepare
        self.n_params = len(params._fields)  # type: ignore[attr-defined]

    def make_node(self, *inputs: Any) -> Apply:
        theta = [pt.as_tensor_variable(v).astype("float64") for v in inputs[: self.n_params]]
        data = [pt.as_tensor_variable(v).astype("float64") for v in inputs[self.n_params :]]
        if any(t.ndim != 0 for t in theta) or any(d.ndim != 1 for d in data):
            raise ValueError("TotalLogLikelihood takes scalar parameters and 1-D data columns")
        return Apply(self, [*theta, *data], [pt.dscalar(), pt.dvector()])

    def _evaluate(self, node: Apply, inputs: Sequence[np.ndarray]) -> tuple[float, np.ndarray]:
        theta, data = inputs[: self.n_params], inputs[self.n_params :]
        return self._evaluator(node, data)(self.params(*(float(t) for t in theta)))

    def _evaluator(
        self, node: Apply, data: Sequence[np.ndarray]
    ) -> Callable[[Any], tuple[float, np.ndarray]]:
        """``params -> (ll, grad)`` on ``data``; prepared once per node if the data are constant."""
        if self.prepare is None:
            return lambda theta: self.func(theta, *data)
        prepared = getattr(node.tag, "prepared_likelihood", None)
        if prepared is not None:
            return prepared  # type: ignore[no-any-return]
        prepared = self.prepare(*data)
        if all(isinstance(v, Constant) for v in node.inputs[self.n_params :]):
            node.tag.prepared_likelihood = prepared
        return prepared  # type: ignore[no-any-return]

    def grad(self, inputs: Sequence[Any], output_grads: Sequence[Any]) -> list[Any]:
        grad = op_outputs(self, *inputs)[1]
        g = output_grads[0]  # the gradient output is not differentiated
        return [g * grad[i] for i in range(self.n_params)] + [
            DisconnectedType()() for _ in inputs[self.n_params :]
        ]

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        n_data = len(node.inputs) - self.n_params
        return [[True, False]] * self.n_params + [[False, False]] * n_data


def total_log_likelihood(
    func: Callable[..., tuple[float, np.ndarray]],
    params: type,
    theta: Sequence[Any],
    columns: Sequence[np.ndarray],
    weights: np.ndarray,
    *,
    prepare: Callable[..., Callable[[Any], tuple[float, np.ndarray]]] | None = None,
) -> Any:
    """Symbolic weighted total log-likelihood of ``columns`` at the parameters ``theta``.

    ``prepare``: see :class:`TotalLogLikelihood`.

    Examples
    --------
    >>> import numpy as np
    >>> from clv.models import bgnbd
    >>> x, t_x, T = np.array([0.0, 2.0]), np.array([0.0, 30.43]), np.array([38.86, 38.86])
    >>> ll = total_log_likelihood(bgnbd.log_likelihood_total_gradient, bgnbd.BGNBDParams,
    ...                           [0.243, 4.414, 0.793, 2.426], [x, t_x, T], np.ones(2))
    >>> round(float(ll.eval()), 4)
    -10.0133
    """
    op = TotalLogLikelihood(func, params, prepare)
    data = [np.ascontiguousarray(c, dtype=np.float64) for c in (*columns, weights)]
    return op_outputs(op, *theta, *(pt.constant(d) for d in data))[0]


class VectorLogLikelihood(_TotalAndGradient):
    """Total log-likelihood and gradient of a parameter vector from a NumPy callable.

    For likelihoods whose data are not flat columns (the time-varying models'
    per-period arrays): ``func(theta) -> (ll, grad)`` closes over its data
    and takes the parameter vector (natural scale).  Make ``func`` a
    picklable object (e.g. a dataclass with ``__call__``) so that PyMC's
    multi-process sampling can ship it to its workers.
    """

    __props__ = ("func", "n_params")

    def __init__(self, func: Callable[[np.ndarray], tuple[float, np.ndarray]], n_params: int):
        self.func = func
        self.n_params = int(n_params)

    def make_node(self, *inputs: Any) -> Apply:
        if len(inputs) != 1:
            raise TypeError(f"VectorLogLikelihood takes one input, got {len(inputs)}")
        theta = pt.as_tensor_variable(inputs[0]).astype("float64")
        if theta.ndim != 1:
            raise ValueError("VectorLogLikelihood takes a 1-D parameter vector")
        return Apply(self, [theta], [pt.dscalar(), pt.dvector()])

    def _evaluate(self, node: Apply, inputs: Sequence[np.ndarray]) -> tuple[float, np.ndarray]:
        return self.func(np.asarray(inputs[0], dtype=np.float64))

    def grad(self, inputs: Sequence[Any], output_grads: Sequence[Any]) -> list[Any]:
        return [output_grads[0] * op_outputs(self, *inputs)[1]]

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        return [[True, False]]
