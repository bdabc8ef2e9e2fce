"""Small timing helpers shared by the benchmark scripts (not part of the package)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def best_of(fn: Callable[[], Any], *, repeat: int = 5, budget: float = 20.0) -> float:
    """Best wall time of ``fn`` over up to ``repeat`` runs (stop after ``budget`` seconds)."""
    times = []
    start = time.perf_counter()
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - start > budget:
            break
    return min(times)


def report(rows: list[tuple[str, float, float | None]]) -> None:
    """Print ``(task, ours, theirs)`` rows with the speed-up ratio."""
    print(f"{'task':58s} {'clv':>10s} {'lifetimes':>10s} {'ratio':>8s}")
    for task, ours, theirs in rows:
        ratio = f"{theirs / ours:7.1f}x" if theirs else "     n/a"
        their_s = f"{theirs:9.4f}s" if theirs else "       n/a"
        print(f"{task:58s} {ours:9.4f}s {their_s} {ratio}")
