"""What a simulated customer's observation window shows, shared by the simulators."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from clv._typing import FloatArray

__all__ = ["observe_purchases"]


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
