"""One set of money options: an annual rate by default, converted once, printed, recorded."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clv.cli.main import main
from clv.data import rfm_summary
from clv.models import BetaGeoModel, GammaGammaModel
from clv.value import customer_lifetime_value
from tests.cli.test_cli import AS_OF, make_transactions

WEEKLY_10 = 1.10 ** (7 / 365.2425) - 1  # 10 % a year per week, exactly


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("rates")
    tx = make_transactions(np.random.default_rng(11), n_customers=250)
    tx.to_csv(base / "tx.csv", index=False)
    assert (
        main(
            [
                "fit",
                str(base / "tx.csv"),
                "--value-col",
                "value",
                "--as-of",
                AS_OF,
                "--out",
                str(base / "model.json"),
                "--quiet",
            ]
        )
        == 0
    )
    return base, tx


def _score(base, capsys, name, *flags):
    out = base / f"{name}.csv"
    code = main(
        [
            "score",
            str(base / "tx.csv"),
            "--model",
            str(base / "model.json"),
            "--as-of",
            AS_OF,
            "--horizon",
            "52",
            "--out",
            str(out),
            *flags,
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    record = json.loads(out.with_name(out.name + ".run.json").read_text())
    return pd.read_csv(out).set_index("customer_id")["clv"], record, captured


def test_annual_rate_equals_its_per_period_rate_and_the_api(setup, capsys):
    base, tx = setup
    annual, rec_a, out_a = _score(base, capsys, "annual", "--annual-discount-rate", "0.10")
    per, _, _ = _score(base, capsys, "per", "--discount-rate-per-period", repr(WEEKLY_10))
    default, rec_d, _ = _score(base, capsys, "default")
    np.testing.assert_allclose(annual, per, rtol=1e-9)
    np.testing.assert_allclose(default, annual, rtol=0)
    assert rec_a["parameters"]["discount_rate_per_period"] == pytest.approx(WEEKLY_10, rel=1e-14)
    assert rec_a["parameters"]["annual_discount_rate"] == 0.10
    assert rec_d["parameters"]["discount_rate_given_as"] == "default annual rate"
    assert rec_d["parameters"]["margin"] == 1.0
    assert "10 % a year = 0.1828 % per week" in out_a.out  # the per-period rate is printed
    rfm = rfm_summary(
        tx,
        customer_id_col="customer_id",
        date_col="date",
        value_col="value",
        time_unit="W",
        observation_end=AS_OF,
    )
    api = customer_lifetime_value(
        BetaGeoModel().fit(rfm),
        GammaGammaModel().fit(rfm),
        rfm,
        horizon=52,
        annual_discount_rate=0.10,
    )
    np.testing.assert_allclose(annual.loc[api.index], api, rtol=1e-9)
    # a different rate gives different values: the comparison above can fail
    other, _, _ = _score(base, capsys, "other", "--annual-discount-rate", "0.30")
    assert (other < annual - 1e-9)[annual > 0.01].all()


def test_deprecated_flag_still_works_and_says_what_it_means(setup, capsys):
    base, _ = setup
    old, record, captured = _score(base, capsys, "old", "--discount-rate", "0.002")
    new, _, _ = _score(base, capsys, "new", "--discount-rate-per-period", "0.002")
    np.testing.assert_allclose(old, new, rtol=0)
    assert any(
        "--discount-rate is deprecated" in w and "PER WEEK" in w for w in record["warnings"]
    ), record["warnings"]
    assert "deprecated" in captured.err


def test_two_rates_are_a_usage_error(setup, capsys):
    base, _ = setup
    code = main(
        [
            "score",
            str(base / "tx.csv"),
            "--model",
            str(base / "model.json"),
            "--horizon",
            "52",
            "--annual-discount-rate",
            "0.1",
            "--discount-rate-per-period",
            "0.001",
            "--out",
            str(base / "x.csv"),
        ]
    )
    assert code == 2
    assert "give one discount rate" in capsys.readouterr().err
