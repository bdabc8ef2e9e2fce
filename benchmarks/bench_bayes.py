"""Bayesian BG/NBD: clv.bayes vs pymc-marketing, NUTS on CDNOW and on 100k simulated customers.

Run in an environment with pymc-marketing (and optionally nutpie) installed next
to clv, e.g. a separate virtual environment::

    python -m venv /tmp/venv-pmm
    /tmp/venv-pmm/bin/pip install pymc-marketing nutpie
    /tmp/venv-pmm/bin/pip install -e .
    /tmp/venv-pmm/bin/python benchmarks/bench_bayes.py [--quick] [--skip-pmm] [--skip-100k] \
        [--cores N] [--sampler pymc|nutpie]

Wall times include model building and compilation (each fit runs in a fresh
model).  4 chains x 1000 draws after 1000 tuning steps, unless ``--quick``: a
smoke run of clv's side on CDNOW alone (1 chain x 30 draws after 30 tuning
steps, PyMC's sampler; no pymc-marketing, no 100k customers).

clv.bayes runs with its defaults (a worker per usable CPU, a dense mass matrix
for models this small: :mod:`clv.bayes._sampling`).  pymc-marketing runs three
ways: with its defaults (PyMC's: ``cpu_count() // 2`` workers, a diagonal mass
matrix), with as many workers as clv, and with clv's sampler settings too, so
that the ratios separate the settings from the likelihood.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import warnings

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")

import clv.bayes as cb  # noqa: E402
from clv.data.datasets import load_cdnow_summary  # noqa: E402
from clv.models import bgnbd  # noqa: E402

QUICK = "--quick" in sys.argv
SKIP_PMM = QUICK or "--skip-pmm" in sys.argv
SKIP_BIG = QUICK or "--skip-100k" in sys.argv
CORES = int(sys.argv[sys.argv.index("--cores") + 1]) if "--cores" in sys.argv else None
DRAWS = 30 if QUICK else 1000
CHAINS = 1 if QUICK else 4
SAMPLE = {
    "chains": CHAINS,
    "draws": DRAWS,
    "tune": DRAWS,
    "random_seed": 7,
    **({"cores": CORES} if CORES else {}),
}


def simulated(n: int, seed: int = 1) -> pd.DataFrame:
    """``n`` customers, ages up to two years, in whole weeks (many identical rows)."""
    rng = np.random.default_rng(seed)
    T = rng.integers(1, 105, n).astype(float)
    sim = bgnbd.simulate(bgnbd.BGNBDParams(0.25, 4.0, 0.8, 2.5), T, rng=rng)
    return pd.DataFrame({"frequency": sim["frequency"], "recency": np.ceil(sim["recency"]), "T": T})


def timed(fn) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def clv_fit(data: pd.DataFrame, sampler: str) -> tuple[float, cb.BetaGeoModel]:
    return timed(
        lambda: cb.BetaGeoModel().fit(data, sampler=sampler, log_likelihood=False, **SAMPLE)
    )  # type: ignore[return-value]


PMM_VARIANTS = {
    "defaults": {},
    "same cores": {"cores": "clv"},
    "same settings": {"cores": "clv", "init": "jitter+adapt_full"},
}


def pmm_fit(data: pd.DataFrame, sampler: str, variant: str = "defaults") -> tuple[float, object]:
    from pymc_marketing.clv import BetaGeoModel

    from clv.bayes._sampling import usable_cpus

    frame = data.reset_index(drop=True).rename_axis("customer_id").reset_index()
    model = BetaGeoModel(data=frame)
    kwargs = dict(SAMPLE, progressbar=False)
    if sampler == "pymc":
        for key, value in PMM_VARIANTS[variant].items():
            kwargs.setdefault(key, min(CHAINS, usable_cpus()) if value == "clv" else value)
    if sampler != "pymc":
        kwargs["nuts_sampler"] = sampler
    return timed(lambda: model.fit(**kwargs))


def describe(idata) -> str:  # type: ignore[no-untyped-def]
    post = idata.posterior
    return ", ".join(f"{n}={float(post[n].mean()):.3f}" for n in ("r", "alpha", "a", "b"))


def main() -> None:
    samplers = ["pymc"] + (["nutpie"] if importlib.util.find_spec("nutpie") and not QUICK else [])
    if "--sampler" in sys.argv:
        samplers = [sys.argv[sys.argv.index("--sampler") + 1]]
    cdnow = load_cdnow_summary()
    print(
        f"{CHAINS} chains x {DRAWS} draws after {DRAWS} tune; wall time incl. compilation; "
        f"cores={CORES or 'PyMC default'}"
    )
    for sampler in samplers:
        sec, model = clv_fit(cdnow, sampler)
        print(
            f"clv.bayes     BG/NBD CDNOW (2,357)      {sampler:7s} {sec:7.1f} s  "
            f"{describe(model.idata_)}"
        )  # type: ignore[attr-defined]
        if SKIP_PMM:
            continue
        for variant in PMM_VARIANTS if sampler == "pymc" else ["defaults"]:
            sec_p, idata = pmm_fit(cdnow, sampler, variant)
            print(
                f"pymc-marketing BG/NBD CDNOW (2,357)     {sampler:7s} {sec_p:7.1f} s  "
                f"{describe(idata)}   ratio {sec_p / sec:.1f}x  ({variant})"
            )
    if SKIP_BIG:
        return
    big = simulated(100_000)
    unique = len(big.drop_duplicates())
    for sampler in samplers:
        sec, model = clv_fit(big, sampler)
        print(
            f"clv.bayes     BG/NBD 100k simulated ({unique:,} distinct rows) {sampler:7s} "
            f"{sec:7.1f} s  {describe(model.idata_)}"
        )  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
