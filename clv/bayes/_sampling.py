"""Defaults for PyMC's NUTS: chains, worker processes and the mass matrix.

PyMC's own defaults suit a laptop with hyper-threading; on a small server they
leave time on the table:

- ``cores``: PyMC assumes half of the CPUs are hyper-threads and runs
  ``cpu_count() // 2`` chains at once, one chain at a time on a 2-core machine.
  Here every CPU this process may use (:func:`os.sched_getaffinity`) runs a
  chain, up to the number of chains.
- ``init``: BTYD posteriors are strongly correlated (``r`` with ``alpha``,
  ``a`` with ``b``), and a diagonal mass matrix makes NUTS take several times
  more leapfrog steps per draw than a dense one.  With at most
  :data:`DENSE_MAX_PARAMETERS` free parameters and at least
  :data:`DENSE_MIN_TUNE` tuning steps the dense mass matrix is adapted
  (``init="jitter+adapt_full"``); otherwise (large hierarchies, many
  covariates, short warm-ups) the diagonal one.  On CDNOW (4 x 1000 draws,
  one seed) the dense matrix cut the leapfrog steps per draw from 11 to 3.4
  (BG/NBD), 15.8 to 4.1 (MBG/NBD) and 28.6 to 3.0 (Gamma-Gamma), and tripled
  the smallest ESS or better.  Pareto/NBD's posterior is a curved ridge: with
  the dense matrix it needs ``target_accept=0.95`` (66 divergences at 0.8,
  none at 0.95), and then takes 198 s with an ESS of 1,148 against 493 s, one
  divergence and an ESS of 812 with the diagonal matrix at 0.8.  (NUTS now
  samples Pareto/NBD in survival coordinates that straighten the ridge, still at
  0.95: see :class:`clv.bayes.ParetoNBDModel`.)
- ``chains``: four, so that r_hat compares enough chains to be meaningful.

Every default gives way to the caller's keyword argument.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import arviz as az
import pymc as pm

from clv._cpus import usable_cpus

__all__ = [
    "DENSE_MAX_PARAMETERS",
    "advi_draws",
    "find_map",
    "nuts_kwargs",
    "quiet_sampler_warnings",
    "usable_cpus",
]

DENSE_MAX_PARAMETERS = 50
"""Up to this many free parameters (scalars) NUTS adapts a dense mass matrix."""

DENSE_MIN_TUNE = 500
"""Fewer tuning steps than this adapt the diagonal mass matrix: a dense one needs a longer
warm-up to pay off (on CDNOW, 3.4 leapfrog steps per draw against 11 for the diagonal one
after 1000 tuning steps, but no better after 300)."""

DEFAULT_CHAINS = 4


def nuts_kwargs(
    model: pm.Model, kwargs: Mapping[str, Any], *, dense_target_accept: float | None = None
) -> dict[str, Any]:
    """``kwargs`` for :func:`pymc.sample` with the defaults above filled in.

    Parameters
    ----------
    model : pymc.Model
        The model to sample (its free parameters decide the mass matrix).
    kwargs : mapping
        The caller's keyword arguments; never modified, and each one wins.
    dense_target_accept : float, optional
        ``target_accept`` to use with the default dense mass matrix (unless
        the caller gives one). A posterior shaped like a curved ridge, such as
        Pareto/NBD's on CDNOW, makes the dense matrix diverge at PyMC's 0.8.

    Returns
    -------
    dict
    """
    out = dict(kwargs)
    out.setdefault("chains", DEFAULT_CHAINS)
    out.setdefault("cores", min(int(out["chains"]), usable_cpus()))
    if "step" not in out and "init" not in out:
        size = sum(int(v.size) for v in model.initial_point().values())
        dense = size <= DENSE_MAX_PARAMETERS and int(out.get("tune", 1000)) >= DENSE_MIN_TUNE
        out["init"] = "jitter+adapt_full" if dense else "jitter+adapt_diag"
        if dense and dense_target_accept is not None:
            out.setdefault("target_accept", dense_target_accept)
    return out


@contextlib.contextmanager
def quiet_sampler_warnings() -> Iterator[None]:
    """Silence two harmless PyMC warnings of the dense mass matrix in this process.

    ``QuadPotentialFullAdapt is an experimental feature`` (it is PyMC's
    standard dense adaptation), and NumPy's ``overflow`` / ``invalid value
    encountered in dot`` in the kinetic energy when a divergent trajectory of
    early tuning reaches a huge or non-finite position (the step is rejected
    and counted as a divergence, which the convergence check reports).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="QuadPotentialFullAdapt is an experimental", category=UserWarning
        )
        warnings.filterwarnings(
            "ignore", category=RuntimeWarning, module=r"pymc\.step_methods\.hmc\.quadpotential"
        )
        yield


def find_map(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`pymc.find_MAP` in the current model, ``random_seed`` passed as its ``seed``.

    Parameters
    ----------
    kwargs : mapping
        The caller's keyword arguments; never modified.

    Returns
    -------
    dict
        The point: every named variable of the model, transformed ones included.
    """
    out = dict(kwargs)
    if "random_seed" in out:  # find_MAP calls it ``seed``
        out["seed"] = out.pop("random_seed")
    return pm.find_MAP(**out)


def advi_draws(kwargs: Mapping[str, Any]) -> az.InferenceData:
    """Fit ADVI in the current model and draw from the approximation.

    Parameters
    ----------
    kwargs : mapping
        The caller's keyword arguments for :func:`pymc.fit` (never modified):
        ``n`` iterations (default 20,000), ``draws`` from the approximation
        (default 1000) and ``random_seed``, which also seeds the draws.

    Returns
    -------
    arviz.InferenceData
    """
    out = dict(kwargs)
    n = out.pop("n", 20_000)
    draws = out.pop("draws", 1000)
    approx = pm.fit(n=n, method="advi", **out)
    return approx.sample(draws, random_seed=out.get("random_seed"))
