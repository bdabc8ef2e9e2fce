"""lifetimes' ``generate_data`` simulators on clv's vectorised ones.

Same names, arguments and columns as lifetimes (``frequency, recency, T,
lambda, p | mu, alive, customer_id``); an extra ``random_state`` argument
(seed or ``numpy.random.Generator``) makes them reproducible without touching
NumPy's global seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from clv.models import bgbb, bgnbd, mbgnbd, pareto_nbd

__all__ = [
    "beta_geometric_beta_binom_model",
    "beta_geometric_nbd_model",
    "beta_geometric_nbd_model_transactional_data",
    "modified_beta_geometric_nbd_model",
    "pareto_nbd_model",
]


def _ages(T: Any, size: int) -> np.ndarray:
    """lifetimes' rule: a number is every customer's age; an array gives the first ``size``."""
    if np.ndim(T) == 0:
        return np.full(int(size), float(T))
    ages = np.asarray(T, dtype=np.float64).ravel()
    if ages.size < size:
        raise ValueError(f"T has {ages.size} entries, fewer than size={size}.")
    return ages[: int(size)]


def _simulated(
    model: Any,
    params: Any,
    ages: Any,
    size: int,
    random_state: Any,
    latent: tuple[str, ...],
    age_name: str = "T",
) -> pd.DataFrame:
    """``model.simulate`` at ``params`` for the ages, in lifetimes' columns (one row a customer)."""
    rng = np.random.default_rng(random_state)
    sim = model.simulate(params, _ages(ages, size), rng=rng)
    out = pd.DataFrame(
        {
            "frequency": sim["frequency"],
            "recency": sim["recency"],
            age_name: sim["T"],
            **{k: sim[k] for k in latent},
            "alive": sim["alive"],
        }
    )
    out["customer_id"] = np.arange(len(out))
    return out.set_index("customer_id", drop=False)


def beta_geometric_nbd_model(
    T: Any, r: float, alpha: float, a: float, b: float, size: int = 1, random_state: Any = None
) -> pd.DataFrame:
    """Simulate BG/NBD customers of age ``T`` (see :func:`clv.models.bgnbd.simulate`)."""
    params = bgnbd.BGNBDParams(r, alpha, a, b)
    return _simulated(bgnbd, params, T, size, random_state, ("lambda", "p"))


def modified_beta_geometric_nbd_model(
    T: Any, r: float, alpha: float, a: float, b: float, size: int = 1, random_state: Any = None
) -> pd.DataFrame:
    """Simulate MBG/NBD customers of age ``T``."""
    params = mbgnbd.MBGNBDParams(r, alpha, a, b)
    return _simulated(mbgnbd, params, T, size, random_state, ("lambda", "p"))


def pareto_nbd_model(
    T: Any, r: float, alpha: float, s: float, beta: float, size: int = 1, random_state: Any = None
) -> pd.DataFrame:
    """Simulate Pareto/NBD customers of age ``T``."""
    params = pareto_nbd.PNBDParams(r, alpha, s, beta)
    return _simulated(pareto_nbd, params, T, size, random_state, ("lambda", "mu"))


def beta_geometric_beta_binom_model(
    N: Any,
    alpha: float,
    beta: float,
    gamma: float,
    delta: float,
    size: int = 1,
    random_state: Any = None,
) -> pd.DataFrame:
    """Simulate BG/BB customers with ``N`` opportunities (column ``n_periods``)."""
    params = bgbb.BGBBParams(alpha, beta, gamma, delta)
    return _simulated(bgbb, params, N, size, random_state, ("p", "theta"), age_name="n_periods")


def beta_geometric_nbd_model_transactional_data(
    T: Any, r: float, alpha: float, a: float, b: float,
    observation_period_end: Any = "2019-1-1", freq: str = "D", size: int = 1,
    random_state: Any = None,
) -> pd.DataFrame:  # fmt: skip
    """BG/NBD transaction log (``customer_id``, ``date``) ending at ``observation_period_end``.

    Customer ``i`` makes the first purchase ``T[i]`` periods of ``freq``
    (``"D"``, ``"h"``, ``"W"``) before the end; every purchase is a row.
    """
    unit = {
        "D": pd.Timedelta(days=1),
        "h": pd.Timedelta(hours=1),
        "H": pd.Timedelta(hours=1),
        "W": pd.Timedelta(weeks=1),
    }
    if freq not in unit:
        raise ValueError(f"freq must be one of {list(unit)}, got {freq!r}.")
    from clv.synth.transactions import simulate_purchase_times  # clv.synth is heavy to import

    rng = np.random.default_rng(random_state)
    ages = _ages(T, size)
    sim = simulate_purchase_times("bgnbd", bgnbd.BGNBDParams(r, alpha, a, b), ages, rng=rng)
    end = pd.Timestamp(observation_period_end)
    ids = np.concatenate([np.arange(ages.size), sim["customer"]])
    offsets = np.concatenate([-ages, sim["time"] - ages[sim["customer"]]])
    dates = end + pd.to_timedelta(offsets * unit[freq].value, unit="ns")
    return (
        pd.DataFrame({"customer_id": ids, "date": dates})
        .sort_values(["customer_id", "date"], kind="stable")
        .reset_index(drop=True)
    )
