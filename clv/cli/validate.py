"""``clv validate``: check a transaction log and summarise it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from clv.cli.steps import (
    EXIT_OK,
    Run,
    column_kwargs,
    input_columns,
    observation_end_of,
    read_input,
    summarise,
)

if TYPE_CHECKING:
    pass

__all__ = ["run_validate"]

logger = logging.getLogger("clv")


def run_validate(run: Run) -> int:
    import json

    from clv.data import validate_transactions

    opts = run.opts
    columns = input_columns(opts)
    transactions, info = read_input(run, columns)
    with run.step("validate", "validating"):
        validate_transactions(transactions, **column_kwargs(columns))
    rfm = summarise(run, transactions, columns, opts.time_unit or "W")
    dates = transactions[columns["date_col"]]
    result = {
        "input": info["path"],
        "n_rows": info["n_rows"],
        "n_customers": len(rfm),
        "n_repeat_buyers": int((rfm["frequency"] > 0).sum()),
        "first_date": str(dates.min())[:10],
        "last_date": str(dates.max())[:10],
        "observation_end": observation_end_of(rfm, opts.as_of),
        "time_unit": opts.time_unit or "W",
        "mean_frequency": float(rfm["frequency"].mean()),
        "mean_T": float(rfm["T"].mean()),
        "fingerprint": info["fingerprint"],
    }
    if opts.json:
        print(json.dumps(result, indent=2))
    else:
        run.say(
            f"OK: {info['path']}: {result['n_rows']} transactions, {result['n_customers']} "
            f"customers ({result['n_repeat_buyers']} repeat buyers), "
            f"{result['first_date']} to {result['last_date']}."
        )
    return EXIT_OK
