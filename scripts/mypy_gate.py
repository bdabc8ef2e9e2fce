"""Fail when mypy reports more errors on clv/ than the committed baseline.

The baseline (``.mypy-baseline``, one integer) may only shrink: when mypy
reports fewer errors, this prints the new count; write it with ``--update``
and commit it with the fix. Configuration: ``[tool.mypy]`` in pyproject.toml.

Usage: ``python scripts/mypy_gate.py [--update]`` (``make lint`` runs it).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / ".mypy-baseline"


def error_count(output: str) -> int:
    """Number of ``error:`` lines in mypy's output."""
    return sum(1 for line in output.splitlines() if re.search(r":\d+: error:", line))


def main(argv: list[str]) -> int:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if proc.returncode not in (0, 1):  # 2: mypy itself failed (bad config, crash)
        sys.stderr.write(proc.stdout + proc.stderr)
        return proc.returncode
    count = error_count(proc.stdout)
    baseline = int(BASELINE.read_text().split()[0])
    if count > baseline:
        sys.stdout.write(proc.stdout)
        print(
            f"mypy: {count} errors, above the baseline of {baseline} in {BASELINE.name}: "
            "fix the new ones (listed above).",
            file=sys.stderr,
        )
        return 1
    if count < baseline:
        if "--update" in argv:
            BASELINE.write_text(f"{count}\n")
            print(f"mypy: {count} errors; {BASELINE.name} lowered from {baseline}.")
        else:
            print(
                f"mypy: {count} errors, below the baseline of {baseline}: run "
                f"`python scripts/mypy_gate.py --update` and commit {BASELINE.name}."
            )
        return 0
    print(f"mypy: {count} errors (baseline {baseline}).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
