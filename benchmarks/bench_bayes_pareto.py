"""Bayesian Pareto/NBD on CDNOW: clv.bayes vs pymc-marketing, NUTS with the same settings.

::

    python benchmarks/bench_bayes_pareto.py [--quick] [--skip-pmm] [--plain] [--pmm-python PATH]

4 chains x 1000 draws after 1000 tuning steps (``--quick``, a smoke run: 1 chain x
30 + 30, short timings, no pymc-marketing), seed 7, each
library with its default priors and sampler settings otherwise.  Wall times include
model building and compilation; CPU time (of the process and its sampler workers)
and the machine's load average are printed next to them (on a shared machine, wall
time is only comparable at similar load).  Also printed:
the mean number of leapfrog steps per draw, the smallest bulk ESS over the four
parameters, the largest r_hat and the posterior means, SDs and Monte Carlo standard errors.
``--plain`` also samples clv's model in the usual coordinates (``beta`` on the log scale,
``target_accept=0.95``) to check that the survival coordinates give the same posterior.

pymc-marketing is run in a subprocess with the Python given by ``--pmm-python``
(default ``/tmp/venv-pmm/bin/python``), a separate environment where it is
installed; if that Python cannot import ``pymc_marketing`` the peer is skipped
with a message.  The per-evaluation cost of the likelihood and its gradient at
three points of the posterior (MLE, and two points along the ``(s, beta)`` ridge)
is printed first (the data prepared once, as in the sampler:
:class:`clv.models.pareto_nbd.WeightedTotalGradient`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")

QUICK = "--quick" in sys.argv
DRAWS = 30 if QUICK else 1000
SAMPLE = {"chains": 1 if QUICK else 4, "draws": DRAWS, "tune": DRAWS, "random_seed": 7}
TIMING_SECONDS = 0.05 if QUICK else 0.5  # CPU time per per-evaluation timing
PMM_PYTHON = (
    sys.argv[sys.argv.index("--pmm-python") + 1]
    if "--pmm-python" in sys.argv
    else "/tmp/venv-pmm/bin/python"
)
POINTS = {
    "MLE": (0.553, 10.58, 0.606, 11.67),
    "s=3, beta=90": (0.553, 10.58, 3.0, 90.0),
    "s=8, beta=300": (0.553, 10.58, 8.0, 300.0),
}
NAMES = ("r", "alpha", "s", "beta")


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the sampler's workers)."""
    import resource

    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def summary(idata, seconds: float, cpu: float) -> dict:  # type: ignore[no-untyped-def]
    import arviz as az

    post = idata.posterior
    ess = az.ess(idata, var_names=list(NAMES))
    return {
        "seconds": seconds,
        "cpu": cpu,
        "load": os.getloadavg()[0],
        "n_steps": float(idata.sample_stats["n_steps"].mean()),
        "divergences": int(idata.sample_stats["diverging"].sum()),
        "min_ess": min(float(ess[n]) for n in NAMES),
        "means": {n: float(post[n].mean()) for n in NAMES},
        "sds": {n: float(post[n].std()) for n in NAMES},
        "mcse": {n: float(az.mcse(idata, var_names=[n])[n]) for n in NAMES},
        "max_rhat": max(float(az.rhat(idata, var_names=[n])[n]) for n in NAMES),
    }


def show(label: str, res: dict) -> None:
    means = ", ".join(
        f"{k}={v:.3f} (sd {res['sds'][k]:.3f}, MCSE {res['mcse'][k]:.3f})"
        for k, v in res["means"].items()
    )
    print(
        f"{label:15s} {res['seconds']:7.1f} s wall, {res['cpu']:7.1f} s CPU "
        f"(load average {res['load']:.1f})  "
        f"n_steps {res['n_steps']:.1f}  min ESS {res['min_ess']:.0f}  "
        f"max r_hat {res['max_rhat']:.3f}  divergences {res['divergences']}\n    {means}"
    )


def per_evaluation() -> None:
    from clv import _special_jit
    from clv._special import log_hyp2f1_1bc
    from clv.data.datasets import load_cdnow_summary
    from clv.models import pareto_nbd
    from clv.models._mle import compress

    d = load_cdnow_summary()
    x, t_x, T = (d[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    (x, t_x, T), w = compress([x, t_x, T], None)  # as the Bayesian model does
    x2, t2 = np.concatenate([x, x]), np.concatenate([t_x, T])
    first = np.unique(x2 * 1e4 + t2, return_index=True)[1]  # the distinct (x, t) pairs
    xs, ts = x2[first], t2[first]
    print(f"{len(d):,} customers, {x.size:,} distinct rows, {xs.size:,} distinct (x, t) pairs")
    prepared = pareto_nbd.WeightedTotalGradient(x, t_x, T, w)  # what the sampler evaluates
    for label, p in POINTS.items():
        r, alpha, s, beta = p
        b = r + xs if alpha >= beta else np.full(xs.size, s + 1.0)
        z = abs(alpha - beta) / (max(alpha, beta) + ts)
        total = cpu_ms(lambda p=p: prepared(pareto_nbd.PNBDParams(*p)))
        hyp = cpu_ms(lambda b=b, z=z, r=r, s=s: log_hyp2f1_1bc(b, r + xs + s + 1.0, z, order=1))
        line = f"logp + gradient at {label:14s} {total:6.2f} ms CPU, of which 2F1 {hyp:5.2f} ms"
        if _special_jit.AVAILABLE:
            _special_jit.AVAILABLE = False
            numpy_hyp = cpu_ms(
                lambda b=b, z=z, r=r, s=s: log_hyp2f1_1bc(b, r + xs + s + 1.0, z, order=1)
            )
            _special_jit.AVAILABLE = True
            line += f" (NumPy path of 2F1: {numpy_hyp:5.2f} ms)"
        print(line)


def cpu_ms(fn) -> float:  # type: ignore[no-untyped-def]
    """CPU milliseconds per call of ``fn`` (repeated for ``TIMING_SECONDS``)."""
    fn()
    n, t0 = 0, time.process_time()
    while time.process_time() - t0 < TIMING_SECONDS:
        fn()
        n += 1
    return 1e3 * (time.process_time() - t0) / n


def clv_run(frame, *, plain: bool = False) -> dict:  # type: ignore[no-untyped-def]
    import clv.bayes as cb

    class Plain(cb.ParetoNBDModel):  # the usual coordinates (beta_log__) at target_accept 0.95
        reparameterise = False

    t0, c0 = time.perf_counter(), cpu_seconds()
    model = (Plain if plain else cb.ParetoNBDModel)().fit(frame, log_likelihood=False, **SAMPLE)
    return summary(model.idata_, time.perf_counter() - t0, cpu_seconds() - c0)


def pmm_run(csv: str) -> dict:  # in the pymc-marketing environment
    import pandas as pd
    from pymc_marketing.clv import ParetoNBDModel

    frame = pd.read_csv(csv)
    t0, c0 = time.perf_counter(), cpu_seconds()
    model = ParetoNBDModel(data=frame)
    idata = model.fit(method="mcmc", progressbar=False, **SAMPLE)  # its default is MAP
    return summary(idata, time.perf_counter() - t0, cpu_seconds() - c0)


def main() -> None:
    from clv.data.datasets import load_cdnow_summary

    per_evaluation()
    cdnow = load_cdnow_summary()
    print(
        f"CDNOW ({len(cdnow):,} customers), {SAMPLE['chains']} chains x {DRAWS} draws after "
        f"{DRAWS} tune, seed 7; wall time incl. compilation"
    )
    ours = clv_run(cdnow)
    show("clv.bayes", ours)
    if "--plain" in sys.argv:  # the same model in the usual coordinates: same posterior?
        show("clv (usual)", clv_run(cdnow, plain=True))
    if QUICK or "--skip-pmm" in sys.argv:
        return
    probe = (
        subprocess.run(
            [PMM_PYTHON, "-c", "import pymc_marketing"], capture_output=True, check=False
        )
        if Path(PMM_PYTHON).exists()
        else None
    )
    if probe is None or probe.returncode != 0:
        print(
            f"pymc-marketing skipped: {PMM_PYTHON} cannot import pymc_marketing "
            "(install it in a separate environment, see --pmm-python)"
        )
        return
    with tempfile.TemporaryDirectory() as tmp:
        csv = str(Path(tmp) / "cdnow.csv")
        frame = cdnow[["frequency", "recency", "T"]].reset_index(drop=True)
        frame.rename_axis("customer_id").reset_index().to_csv(csv, index=False)
        out = subprocess.run(
            [PMM_PYTHON, __file__, "--peer", csv, *sys.argv[1:]],
            capture_output=True,
            text=True,
            check=False,
        )
    if out.returncode != 0:
        print("pymc-marketing failed:", out.stderr.strip().splitlines()[-1:])
        return
    peer = json.loads(out.stdout.strip().splitlines()[-1])
    show("pymc-marketing", peer)
    print(
        f"clv.bayes / pymc-marketing: {peer['seconds'] / ours['seconds']:.1f}x faster in wall "
        f"time, {peer['cpu'] / ours['cpu']:.1f}x in CPU time; smallest ESS per CPU second "
        f"{ours['min_ess'] / ours['cpu']:.1f} against {peer['min_ess'] / peer['cpu']:.1f} "
        f"(pymc-marketing ran in a subprocess with {PMM_PYTHON})"
    )


if __name__ == "__main__":
    if "--peer" in sys.argv:
        print(json.dumps(pmm_run(sys.argv[sys.argv.index("--peer") + 1])))
    else:
        main()
