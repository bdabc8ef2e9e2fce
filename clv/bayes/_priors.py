"""Declarative priors: the accepted forms, and priors on a Beta pair's mean and concentration.

A prior is data, never code: a PyMC distribution *name* and its keyword
arguments, looked up with ``getattr(pymc, name)`` (nothing is evaluated).
Three spellings are accepted and normalised to the pair
``(name, kwargs)`` that is stored (JSON) with the model:

* ``("Gamma", {"alpha": 1.0, "beta": 1.0})``;
* ``{"dist": "Gamma", "alpha": 1.0, "beta": 1.0}`` (e.g. from a JSON or YAML
  config file);
* a ``pymc_extras.prior.Prior`` (or any object with ``distribution`` and
  ``parameters`` attributes) with plain-number parameters, e.g.
  ``Prior("Gamma", alpha=1.0, beta=1.0)`` as in pymc-marketing's
  ``model_config``.  Hierarchical priors (a ``Prior`` as a parameter),
  ``dims`` and ``transform`` are not supported and raise ``ValueError``.

A model whose parameters include a pair of Beta shapes (sBG's ``alpha, beta``,
the dropout ``a, b`` of BG/NBD ...) also takes priors on the pair's mean
:math:`\\phi = x/(x+y)` and concentration :math:`\\kappa = x + y` instead, as
pymc-marketing parametrises them (its sBG test uses
:math:`\\phi \\sim U(0, 1)`, :math:`\\kappa \\sim \\mathrm{Pareto}(1, 1)`):
the shapes are then the deterministic :math:`x = \\phi\\kappa`,
:math:`y = (1-\\phi)\\kappa`, so the posterior still has ``x`` and ``y``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["BetaPair", "base_variables", "beta_pair_priors", "parse_prior"]

BetaPair = tuple[tuple[str, str], tuple[str, str]]
"""``((phi_name, kappa_name), (x, y))``: derived names and the Beta shapes they replace."""


def parse_prior(name: str, prior: Any) -> tuple[str, dict[str, Any]]:
    """The ``(distribution, kwargs)`` pair of any accepted prior spelling (module docstring).

    Examples
    --------
    >>> parse_prior("phi", {"dist": "Uniform", "lower": 0, "upper": 1})
    ('Uniform', {'lower': 0, 'upper': 1})
    >>> parse_prior("r", ("Gamma", {"alpha": 1.0, "beta": 1.0}))
    ('Gamma', {'alpha': 1.0, 'beta': 1.0})
    """
    if isinstance(prior, Mapping):
        if "dist" not in prior or not isinstance(prior["dist"], str):
            raise ValueError(
                f"the prior of '{name}' as a mapping needs the distribution under 'dist', e.g. "
                f"{{'dist': 'Gamma', 'alpha': 1.0, 'beta': 1.0}}; got {dict(prior)!r}"
            )
        return prior["dist"], {str(k): v for k, v in prior.items() if k != "dist"}
    if hasattr(prior, "distribution") and hasattr(prior, "parameters"):
        dims = getattr(prior, "dims", None)
        if dims:
            raise ValueError(f"the prior of '{name}' has dims {dims!r}; give a scalar prior.")
        if getattr(prior, "transform", None):
            raise ValueError(f"the prior of '{name}' has a transform; it is not supported.")
        params = dict(prior.parameters)
        nested = [k for k, v in params.items() if hasattr(v, "distribution")]
        if nested:
            raise ValueError(
                f"the prior of '{name}' is hierarchical (a prior on {nested}); give numbers "
                "(use segment= and pooling= for hierarchical parameters)."
            )
        return str(prior.distribution), {str(k): _plain(v) for k, v in params.items()}
    try:
        dist, kwargs = prior
        ok = isinstance(dist, str) and isinstance(kwargs, Mapping)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            f"the prior of '{name}' must be a pair (distribution name, kwargs), e.g. "
            f"('Gamma', {{'alpha': 1.0, 'beta': 1.0}}), a mapping with 'dist', or a "
            f"pymc_extras Prior; got {prior!r}"
        )
    return dist, dict(kwargs)


def _plain(value: Any) -> Any:
    """Array-likes of a ``Prior`` (NumPy scalars, 0-d arrays) as plain Python numbers."""
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) else value


def beta_pair_priors(
    defaults: Mapping[str, Any], user: Mapping[str, Any], pairs: tuple[BetaPair, ...]
) -> tuple[dict[str, Any], tuple[BetaPair, ...]]:
    """Merge ``user`` priors over ``defaults``; swap a Beta pair for its mean/concentration.

    Returns the merged priors and the pairs given as mean and concentration.

    Examples
    --------
    >>> pairs = ((("phi", "kappa"), ("alpha", "beta")),)
    >>> merged, used = beta_pair_priors(
    ...     {"alpha": ("HalfNormal", {}), "beta": ("HalfNormal", {})},
    ...     {"phi": ("Uniform", {}), "kappa": ("Pareto", {"alpha": 1, "m": 1})},
    ...     pairs,
    ... )
    >>> sorted(merged), used == pairs
    (['kappa', 'phi'], True)
    """
    merged = {**dict(defaults), **dict(user)}
    used = []
    for (m, c), (x, y) in pairs:
        given = [k for k in (m, c) if k in user]
        if not given:
            continue
        if len(given) == 1:
            raise ValueError(
                f"priors on '{m}' (mean {x}/({x}+{y})) and '{c}' (concentration {x}+{y}) "
                f"go together; got only '{given[0]}'."
            )
        clash = [k for k in (x, y) if k in user]
        if clash:
            raise ValueError(
                f"give priors either on {x}, {y} or on {m}, {c}, not both (got {clash} too)."
            )
        merged.pop(x, None)
        merged.pop(y, None)
        used.append(((m, c), (x, y)))
    return merged, tuple(used)


def base_variables(
    pm: Any, priors: Mapping[str, Any], names: tuple[str, ...], pairs: tuple[BetaPair, ...]
) -> list[Any]:
    """The model parameters ``names`` as PyMC variables (inside a model context).

    A parameter of a pair in ``pairs`` is a ``Deterministic`` of the pair's
    mean and concentration variables; the others are drawn from their prior.
    """
    values: dict[str, Any] = {}
    for (m, c), (x, y) in pairs:
        phi = getattr(pm, priors[m][0])(m, **priors[m][1])
        kappa = getattr(pm, priors[c][0])(c, **priors[c][1])
        values[x] = pm.Deterministic(x, phi * kappa)
        values[y] = pm.Deterministic(y, (1.0 - phi) * kappa)
    for name in names:
        if name not in values:
            dist, kwargs = priors[name]
            values[name] = getattr(pm, dist)(name, **kwargs)
    return [values[n] for n in names]
