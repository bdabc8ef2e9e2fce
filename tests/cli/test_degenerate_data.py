"""Degenerate but valid logs: an honest warning or a clear refusal, never silent nonsense.

The table of docs/production.md ("Degenerate data") lists these cases; each row is checked
here: the exit code, the message, and that scores which are written stay finite.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clv.cli.main import main
from clv.data.datasets import load_cdnow_summary_with_spend
from clv.exceptions import DataError
from clv.models import GammaGammaModel
from tests.cli.test_cli import AS_OF, make_transactions


@pytest.fixture(scope="module")
def tx() -> pd.DataFrame:
    return make_transactions(np.random.default_rng(2), n_customers=200)


def no_repeat(tx: pd.DataFrame) -> pd.DataFrame:
    return tx.drop_duplicates("customer_id")


def no_churn(tx: pd.DataFrame) -> pd.DataFrame:
    rows = [
        (f"c{i}", pd.Timestamp("2021-01-04") + pd.Timedelta(days=int(d)), 5.0 + (i * 7 + d) % 23)
        for i in range(40)
        for d in range(i % 14, 365, 14)
    ]
    return pd.DataFrame(rows, columns=["customer_id", "date", "value"])


def one_customer(tx: pd.DataFrame) -> pd.DataFrame:
    return tx[tx["customer_id"] == tx["customer_id"].value_counts().index[0]]


def one_day(tx: pd.DataFrame) -> pd.DataFrame:
    return tx.assign(date=pd.Timestamp("2021-06-01"))


def one_value(tx: pd.DataFrame) -> pd.DataFrame:
    """Every purchase the same amount, one purchase per week: one monetary_value."""
    frame = tx.assign(week=pd.to_datetime(tx["date"]).dt.to_period("W"))
    return frame.drop_duplicates(["customer_id", "week"]).drop(columns="week").assign(value=25.0)


@pytest.mark.parametrize(
    ("make", "fit_code", "message"),
    [
        (no_repeat, 3, "is 0 for all"),
        (one_customer, 3, "there is a single customer"),
        (one_day, 3, "is 0 for all"),
        (one_value, 3, "is 25 for all"),
        (no_churn, 0, "Hessian at the optimum is not positive definite"),
    ],
)
def test_degenerate_logs(tmp_path, capsys, tx, make, fit_code, message):
    src = tmp_path / "tx.csv"
    make(tx).to_csv(src, index=False)
    model = tmp_path / "model.json"
    # without churn the purchase model alone is the point (and Gamma-Gamma on customers whose
    # mean spend hardly differs is slow to run to its edge)
    value = [] if make is no_churn else ["--value-col", "value"]
    code = main(["fit", str(src), *value, "--as-of", AS_OF, "--out", str(model)])
    err = capsys.readouterr().err
    assert code == fit_code and message in err, err
    assert "Traceback" not in err
    if fit_code != 0:
        assert not model.exists()
        return
    out = tmp_path / "scores.csv"
    assert (
        main(
            [
                "score",
                str(src),
                "--model",
                str(model),
                "--as-of",
                AS_OF,
                "--horizon",
                "52",
                "--discount-rate",
                "0.002",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    scores = pd.read_csv(out)
    numbers = scores.drop(columns="customer_id").to_numpy(dtype=float)
    assert np.isfinite(numbers).all()
    record = json.loads((tmp_path / "model.json.run.json").read_text())
    assert any("not positive definite" in w for w in record["warnings"])


def test_constant_spend_is_a_data_error_in_the_api():
    data = load_cdnow_summary_with_spend().copy()
    data.loc[data["frequency"] > 0, "monetary_value"] = 25.0
    with pytest.raises(DataError, match="'monetary_value' is 25 for all"):
        GammaGammaModel().fit(data)


def test_fit_refuses_a_spend_model_with_infinite_mean_spend(tmp_path, capsys, tx):
    """Pareto(0.6) purchase values: Gamma-Gamma's q <= 1. `clv score` would refuse such a
    bundle, so `clv fit` refuses to write it (exit 3, the value column named)."""
    heavy = tx.assign(value=np.round(10 * (1 + np.random.default_rng(1).pareto(0.6, len(tx))), 2))
    src = tmp_path / "tx.csv"
    heavy.to_csv(src, index=False)
    model = tmp_path / "model.json"
    code = main(["fit", str(src), "--value-col", "value", "--as-of", AS_OF, "--out", str(model)])
    err = capsys.readouterr().err
    assert code == 3 and "column 'monetary_value' has so heavy a right tail" in err, err
    assert not model.exists()
