"""What the simulators share: their parameters per customer and the observation window."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from clv._typing import FloatArray

__all__ = ["observe_purchases", "population_params"]


def population_params(params: Sequence[Any], n: int) -> tuple[Any, ...]:
    """A simulator's parameters: scalars as floats, or per-customer arrays of length ``n``.

    Parameters
    ----------
    params : sequence
        Population parameters (scalars), or per-customer arrays (e.g. from
        :func:`clv.models._covariates.individual_params`); when any entry is
        an array, every entry is broadcast to ``(n,)``.
    n : int
        Number of customers.

    Returns
    -------
    tuple
        Floats, or read-only float arrays of shape ``(n,)``, in the order of ``params``.

    Examples
    --------
    >>> population_params((1, 2.5), 3)
    (1.0, 2.5)
    >>> [a.tolist() for a in population_params((1.0, np.array([1.0, 2.0, 3.0])), 3)]
    [[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]]
    """
    if all(np.ndim(v) == 0 for v in params):
        return tuple(float(v) for v in params)
    return tuple(np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)) for v in params)


def observe_purchases(
    lam: Any,
    lifetime: FloatArray | None,
    T: FloatArray,
    rng: np.random.Generator,
    latent: Mapping[str, Any],
) -> dict[str, Any]:
    """RFM summary of Poisson(``lam``) buyers who stay until ``lifetime``, observed for ``T``.

    Given the number of purchases before ``min(lifetime, T)``, their times are
    uniform on that window, so the recency is the largest of ``frequency``
    uniform draws.

    Parameters
    ----------
    lam : array
        Purchase rate per customer.
    lifetime : array or None
        Time of dropout per customer; None for customers who never leave.
    T : array
        Length of each observation window.
    rng : Generator
        Draws the counts first, then one uniform per customer for the recency.
    latent : mapping
        Latent quantities to report, in order, after ``frequency``, ``recency``
        and ``T``.

    Returns
    -------
    dict
        ``frequency``, ``recency``, ``T`` (a copy), the ``latent`` entries and,
        when ``lifetime`` is given, ``alive`` (alive at ``T``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> T = np.full(3, 10.0)
    >>> sim = observe_purchases(np.ones(3), np.array([2.0, 20.0, 5.0]), T, rng, {})
    >>> sim["alive"].tolist(), bool(np.all(sim["recency"] <= [2.0, 10.0, 5.0]))
    ([False, True, False], True)
    """
    n = T.shape[0]
    end = T if lifetime is None else np.minimum(lifetime, T)
    frequency = rng.poisson(lam * end).astype(np.float64)
    last = np.exp(np.log1p(-rng.random(n)) / np.maximum(frequency, 1.0))  # max of N uniforms
    recency = np.where(frequency > 0, end * last, 0.0)
    out: dict[str, Any] = {"frequency": frequency, "recency": recency, "T": T.copy(), **latent}
    if lifetime is not None:
        out["alive"] = lifetime > T
    return out
