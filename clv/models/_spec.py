"""``ModelSpec``: what a model module declares so the generic machinery can fit and use it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["RFM_COLUMNS", "ModelSpec", "rfm_spec"]

RFM_COLUMNS = ("frequency", "recency", "T")


@dataclass(frozen=True)
class ModelSpec:
    """Declaration of a model: parameters, data columns and its pure functions.

    Attributes
    ----------
    name : str
        Display name, e.g. ``"BG/NBD"``.
    params : type
        The ``NamedTuple`` of parameters; field order is the parameter order.
    start : NamedTuple
        Default starting values (natural scale, unscaled data).
    columns : tuple of str
        RFM columns passed positionally to the likelihood, in order.
    log_likelihood : callable
        ``log_likelihood(params, *columns, ops=NUMPY) -> per-row log-likelihood``.
    gradient : callable, optional
        ``gradient(params, *columns) -> (ll, dll)`` with ``dll`` of shape
        ``(n_params, n_rows)``: per-row derivatives w.r.t. each parameter.
    row_gradient : callable, optional
        Like ``gradient`` but for per-customer parameter arrays: ``dll[j, i]``
        is the derivative of row ``i`` w.r.t. its own parameter ``j``. Covariate
        fits use it through the chain rule (central differences otherwise).
    hessian : callable, optional
        ``hessian(params, *columns, weights) -> (ll, grad, hess)``: the weighted
        total log-likelihood, its gradient ``(n_params,)`` and Hessian
        ``(n_params, n_params)``; when given, the engine uses Newton's method
        and the exact Hessian for standard errors.
    initial : callable, optional
        ``initial(*columns) -> params``: data-driven starting values, used when
        the user gives none (computed on the rescaled data).
    scale_columns, scale_params : tuple of str
        Columns divided by a common factor before optimisation, and the
        parameters measured in the same unit (multiplied back afterwards).
    transforms : tuple of str, optional
        How the engine makes each parameter unconstrained, one entry per
        parameter: ``"log"`` (positive), ``"logit"`` (a share in (0, 1)) or
        ``"identity"`` (any sign, e.g. a covariate coefficient). Empty (the
        default) means every parameter is on the log scale.
    penalty : callable, optional
        ``penalty(theta) -> (value, gradient)``: a penalty in units of the total
        log-likelihood, subtracted from it in the objective (the L2 penalty and
        Gaussian priors on covariate coefficients); the gradient is w.r.t. the
        natural parameters.
    fit_rows : callable, optional
        ``fit_rows(frame) -> boolean mask`` of rows that enter the likelihood
        (Gamma-Gamma uses repeat buyers only).
    probability_alive, expected_purchases, expected_purchases_new_customer, \
    probability_of_purchases, simulate : callable, optional
        The model's pure prediction functions (transaction models).
    expected_purchases_if_alive : callable, optional
        ``expected_purchases_if_alive(params, t, frequency, T)``: expected purchases
        in the next ``t`` periods of a customer known to be alive at ``T``, i.e.
        ``expected_purchases / probability_alive`` without computing either (used
        by posterior scoring, which multiplies by P(alive) once per customer).
    homogeneous_limits : tuple of (str, str, str)
        Gamma mixing distributions the fit may collapse to a point mass:
        ``(shape, scale, what)``, e.g. ``("s", "beta", "dropout rate")``. When
        ``shape`` runs towards infinity with ``shape / scale`` (the mean rate)
        fixed, every customer has the same rate and the data cannot identify
        the shape; the engine holds it at a large value instead of following the
        ridge (see :func:`clv.models._mle.maximise`).
    """

    name: str
    params: Any
    start: Any
    columns: tuple[str, ...]
    log_likelihood: Callable[..., Any]
    gradient: Callable[..., Any] | None = None
    row_gradient: Callable[..., Any] | None = None
    hessian: Callable[..., Any] | None = None
    initial: Callable[..., Any] | None = None
    scale_columns: tuple[str, ...] = ()
    scale_params: tuple[str, ...] = ()
    transforms: tuple[str, ...] = ()
    fit_rows: Callable[..., Any] | None = None
    penalty: Callable[..., Any] | None = None
    probability_alive: Callable[..., Any] | None = None
    expected_purchases: Callable[..., Any] | None = None
    expected_purchases_if_alive: Callable[..., Any] | None = None
    expected_purchases_new_customer: Callable[..., Any] | None = None
    probability_of_purchases: Callable[..., Any] | None = None
    simulate: Callable[..., Any] | None = None
    homogeneous_limits: tuple[tuple[str, str, str], ...] = ()


def rfm_spec(
    name: str, params: Any, start: Any, functions: Mapping[str, Any], **options: Any
) -> ModelSpec:
    """:class:`ModelSpec` of an RFM transaction model from the standard names of its module.

    Parameters
    ----------
    name, params, start
        As in :class:`ModelSpec`.
    functions : mapping
        The model module's namespace (its ``globals()``); it must define
        ``log_likelihood``, ``log_likelihood_gradient``, ``_initial``,
        ``probability_alive``, ``expected_purchases``,
        ``expected_purchases_new_customer``, ``probability_of_purchases`` and
        ``simulate``.
    **options
        The other :class:`ModelSpec` fields (``hessian``, ``scale_params`` ...).
    """
    return ModelSpec(
        name=name,
        params=params,
        start=start,
        columns=RFM_COLUMNS,
        log_likelihood=functions["log_likelihood"],
        gradient=functions["log_likelihood_gradient"],
        initial=functions["_initial"],
        probability_alive=functions["probability_alive"],
        expected_purchases=functions["expected_purchases"],
        expected_purchases_new_customer=functions["expected_purchases_new_customer"],
        probability_of_purchases=functions["probability_of_purchases"],
        simulate=functions["simulate"],
        **options,
    )
