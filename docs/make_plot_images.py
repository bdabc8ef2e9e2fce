"""Draw the images of docs/plotting.md from the bundled CDNOW data.

Run from the repository root: ``python docs/make_plot_images.py``. Writes PNGs into
``docs/img/`` (committed, so the docs build needs neither data nor matplotlib runs).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from clv.data import calibration_holdout_split, load_cdnow_sample_transactions
from clv.exceptions import DataWarning
from clv.models import BetaGeoModel
from clv.plotting import (
    plot_calibration_holdout,
    plot_customer_probability_alive,
    plot_period_transactions,
    plot_probability_alive_matrix,
    plot_transaction_tracking,
    transaction_tracking,
)

OUT = Path(__file__).parent / "img"
CAL_END, END = "1997-09-30", "1998-06-30"


def _save(fig: plt.Figure, name: str) -> None:
    fig.savefig(OUT / name, dpi=80, metadata={"Software": None})
    plt.close(fig)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    tx = load_cdnow_sample_transactions()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        split = calibration_holdout_split(
            tx,
            customer_id_col="customer_id",
            date_col="date",
            calibration_end=CAL_END,
            observation_end=END,
            time_unit="7D",
        )
    model = BetaGeoModel().fit(split)
    tracking = transaction_tracking(model, tx, calibration_end=CAL_END, observation_end=END)
    for cumulative, name in ((True, "tracking_cumulative.png"), (False, "tracking_weekly.png")):
        fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
        plot_transaction_tracking(tracking, cumulative=cumulative, ax=ax)
        _save(fig, name)
    fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
    plot_customer_probability_alive(
        model, tx[tx["date"] <= CAL_END], 1000, observation_end=CAL_END, ax=ax
    )
    _save(fig, "probability_alive_history.png")
    fig, ax = plt.subplots(figsize=(5.5, 4.5), layout="constrained")
    plot_probability_alive_matrix(model, data=split, ax=ax)
    _save(fig, "probability_alive_matrix.png")
    fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
    plot_period_transactions(model, split, ax=ax)
    _save(fig, "period_transactions.png")
    fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
    plot_calibration_holdout(model, split, ax=ax)
    _save(fig, "calibration_holdout.png")


if __name__ == "__main__":
    main()
