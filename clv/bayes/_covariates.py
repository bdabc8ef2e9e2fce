r"""Covariates in the Bayesian models: priors on coefficients and the PyMC side of the link.

The link itself is :func:`clv.models._covariates.individual_params` (written once,
run here with ``ops=PYTENSOR``), and the likelihood is the model module's own
``log_likelihood`` evaluated at the per-customer parameters, exactly as in the
maximum-likelihood fit.  What this module adds is the parameterisation that
makes the posterior easy to sample:

* each lever's base parameter is sampled *at the covariate means* (the
  parameter of a typical customer, e.g. ``alpha_at_mean``), so it is nearly
  uncorrelated with the coefficients; its prior is the model's prior of that
  parameter.  The parameter at :math:`x = 0` that the maximum-likelihood
  models report is the deterministic
  :math:`\theta_0 = \theta_{\bar x}\, e^{-\text{sign}\,\gamma^\top \bar x}`;
* a coefficient without a prior of its own is sampled on the standardised
  scale (per standard deviation of its column) under :data:`COEFFICIENT_PRIOR`
  (``Normal(0, 1)`` by default) and reported per natural unit,
  :math:`\gamma = g / \mathrm{sd}`;
* a coefficient with a prior of its own (e.g. an experimental estimate,
  ``{"dropout[wait_minutes]": ("Normal", {"mu": 0.03, "sigma": 0.01})}``) is
  sampled directly in natural units under that prior.

Every coefficient appears in the posterior as ``process[column]`` per natural
unit, the name the maximum-likelihood models use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pymc as pm

from clv.bayes._ops import PYTENSOR
from clv.models import _covariates as cov
from clv.models._covariates import Design

__all__ = [
    "COEFFICIENT_PRIOR",
    "at_mean_name",
    "covariate_log_likelihood",
    "free_point",
    "shared_name",
]

COEFFICIENT_PRIOR: tuple[str, dict[str, float]] = ("Normal", {"mu": 0.0, "sigma": 1.0})
"""Default prior of a coefficient on the standardised scale (effect per standard deviation)."""

AT_MEAN = "_at_mean"
STD = "_std"


def at_mean_name(param: str) -> str:
    """Name of the free variable of a lever's parameter at the covariate means.

    Examples
    --------
    >>> at_mean_name("alpha")
    'alpha_at_mean'
    """
    return f"{param}{AT_MEAN}"


def std_name(coefficient: str) -> str:
    """Name of the free variable of a coefficient on the standardised scale."""
    return f"{coefficient}{STD}"


def shared_name(column: str) -> str:
    """Name of the one variable of a coefficient shared by several processes (``constrain=``).

    Examples
    --------
    >>> shared_name("gender")
    'constrained[gender]'
    """
    return f"constrained[{column}]"


def lever_params(design: Design) -> dict[str, float]:
    """``{base parameter: sign}`` of the active levers that multiply a base parameter."""
    return {lv.param: lv.sign for lv in design.active if lv.param is not None}


def _shift(design: Design, coefs: Sequence[Any], mean: np.ndarray, param: str) -> Any:
    """:math:`\\sum_k \\gamma_k \\bar x_k` over the coefficients of the lever of ``param``."""
    total: Any = 0.0
    for k, lv in enumerate(design.coef_levers):
        if lv.param == param:
            total = total + coefs[k] * float(mean[k])
    return total


def covariate_log_likelihood(
    spec: Any,
    design: Design,
    priors: Mapping[str, Any],
    coefficient_prior: tuple[str, Mapping[str, Any]],
    mean: np.ndarray,
    scale: np.ndarray,
    cols: Sequence[Any],
    Z: Sequence[Any],
    ll_mult: cov.LikelihoodWithMultipliers | None = None,
    *,
    groups: Sequence[Sequence[int]] | None = None,
) -> Any:
    """Create the parameters and coefficients in the active PyMC model; return the per-row ll.

    Parameters
    ----------
    spec : ModelSpec
        The maximum-likelihood model's spec (its ``log_likelihood`` is used).
    design : Design
        Covariate layout of the model.
    priors : mapping
        ``{name: (distribution, kwargs)}`` for every base parameter and for the
        coefficients given a prior in natural units.
    coefficient_prior : (distribution, kwargs)
        Prior of the other coefficients on the standardised scale.
    mean, scale : ndarray
        Weighted mean and standard deviation of each coefficient's column.
    cols, Z : sequences of arrays
        The model's data columns and the covariate column of each coefficient
        (natural units), row-aligned.
    ll_mult : callable, optional
        For levers that multiply no base parameter (the proportional-hazards
        churn of the retention models): the likelihood
        ``ll_mult(params, {process: multiplier}, *cols, ops)`` the
        maximum-likelihood fit uses (e.g.
        :func:`clv.models._retention_covariates.log_likelihood`); the
        multiplier is :func:`clv.models._covariates.covariate_multiplier`.
    groups : sequence of index lists, optional
        Coefficients sharing one value (``constrain=``,
        :func:`clv.models._covariates.shared_groups`): each group of two or
        more gets one variable, ``constrained[column]`` (its prior: the one
        given under any of the group's names, else ``coefficient_prior`` per
        standard deviation of the column), and each of its names is that
        variable.
    """
    signs = lever_params(design)
    names = design.names
    coefs: list[Any] = [None] * len(names)
    for group in groups or [[k] for k in range(len(names))]:
        shared = len(group) > 1
        var = shared_name(design.coef_columns[group[0]]) if shared else names[group[0]]
        given = next((names[k] for k in group if names[k] in priors), None)
        if given is not None:
            dist, kwargs = priors[given]
            value = getattr(pm, dist)(var, **kwargs)
        else:
            dist, kwargs = coefficient_prior
            g = getattr(pm, dist)(std_name(var), **kwargs)
            value = g / float(scale[group[0]])  # one column: one scale
            if not shared:
                value = pm.Deterministic(var, value)
        for k in group:
            coefs[k] = pm.Deterministic(names[k], value) if shared else value
    values = {}
    for name in spec.params._fields:
        dist, kwargs = priors[name]
        if name in signs:
            centred = getattr(pm, dist)(at_mean_name(name), **kwargs)
            values[name] = pm.Deterministic(
                name, centred * PYTENSOR.exp(-signs[name] * _shift(design, coefs, mean, name))
            )
        else:
            values[name] = getattr(pm, dist)(name, **kwargs)
    base = spec.params(**values)
    X, gammas = design.split(list(Z)), design.split(coefs)
    ind = cov.individual_params(base, design.active, X, gammas, ops=PYTENSOR)
    direct = [lv for lv in design.active if lv.param is None]
    if not direct:
        return spec.log_likelihood(ind, *cols, ops=PYTENSOR)
    if ll_mult is None:
        raise ValueError(
            f"the {[lv.process for lv in direct]} covariates need the model's "
            "likelihood with multipliers (ll_mult)"
        )
    mult = {
        lv.process: cov.covariate_multiplier(
            X[lv.process], gammas[lv.process], lv.sign, ops=PYTENSOR
        )
        for lv in direct
    }
    return ll_mult(ind, mult, *cols, ops=PYTENSOR)


def free_point(
    model: pm.Model,
    design: Design,
    params: Mapping[str, float],
    mean: np.ndarray,
    scale: np.ndarray,
) -> dict[str, float]:
    """Values of the free variables (on their transformed scale) for parameters at ``x = 0``.

    ``params`` holds the base parameters (``x = 0``) and the coefficients per
    natural unit, as in ``params_`` of a maximum-likelihood fit; the result can
    be passed to a compiled log-density of ``model`` (or as a starting point).
    """
    signs = lever_params(design)
    coefs = [float(params[n]) for n in design.names]
    natural: dict[str, float] = {}
    for k, name in enumerate(design.names):
        natural[name] = coefs[k]
        natural[std_name(name)] = coefs[k] * float(scale[k])
        shared = shared_name(design.coef_columns[k])  # a constrained coefficient's variable
        natural.setdefault(shared, coefs[k])
        natural.setdefault(std_name(shared), coefs[k] * float(scale[k]))
    for name, value in params.items():
        if name in signs:
            natural[at_mean_name(name)] = float(value) * float(
                np.exp(signs[name] * _shift(design, coefs, mean, name))
            )
        elif name not in natural:
            natural[name] = float(value)
    import pytensor

    out: dict[str, float] = {}
    pending: dict[str, Any] = {}
    for rv in model.free_RVs:
        value_var = model.rvs_to_values[rv]
        x = natural[rv.name]
        transform = model.rvs_to_transforms.get(rv)
        if transform is None:
            out[value_var.name] = x
        else:
            pending[value_var.name] = transform.forward(np.float64(x))
    if pending:  # one small function for every transform, without C compilation
        values = pytensor.function([], list(pending.values()), mode="FAST_COMPILE")()
        out.update({k: float(v) for k, v in zip(pending, values, strict=True)})
    return out
