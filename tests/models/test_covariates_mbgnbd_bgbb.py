"""Static covariates on the MBG/NBD and BG/BB models (purchase and dropout processes)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clv.models import bgbb, mbgnbd
from clv.models._covariates import individual_params

RFM = ["frequency", "recency", "T"]


def _features(n: int, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "nps": rng.normal(5.0, 2.0, n),  # not centred: checks the map back to x = 0
            "complaints": rng.poisson(1.0, n).astype(float),
        },
        index=pd.RangeIndex(n, name="customer_id"),
    )


def _mbgnbd_data(n: int, seed: int, g_p: float = 0.3, g_d: float = 0.4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = _features(n, rng)
    p = individual_params(
        mbgnbd.MBGNBDParams(0.7, 20.0, 0.6, 2.5),
        mbgnbd.ModifiedBetaGeoModel._levers,
        {"purchase": X[["nps"]].to_numpy(), "dropout": X[["complaints"]].to_numpy()},
        {"purchase": [g_p], "dropout": [g_d]},
    )
    sim = mbgnbd.simulate(p, rng.uniform(20.0, 52.0, n), rng=rng)
    return pd.DataFrame({c: sim[c] for c in RFM}, index=X.index).join(X)


def _bgbb_data(n: int, seed: int, g_p: float = 0.25, g_d: float = 0.4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = _features(n, rng)
    p = individual_params(
        bgbb.BGBBParams(0.6, 1.2, 0.7, 2.8),
        bgbb.BetaGeoBetaBinomModel._levers,
        {"purchase": X[["nps"]].to_numpy(), "dropout": X[["complaints"]].to_numpy()},
        {"purchase": [g_p], "dropout": [g_d]},
    )
    sim = bgbb.simulate(p, rng.integers(6, 15, n).astype(float), rng=rng)
    return pd.DataFrame({c: sim[c] for c in RFM}, index=X.index).join(X)


def _inside(model, name: str, truth: float) -> bool:
    row = model.summary().loc[name]
    return bool(row["lower"] <= truth <= row["upper"])


@pytest.mark.parametrize(
    ("module", "cls", "params", "data"),
    [
        (
            mbgnbd,
            mbgnbd.ModifiedBetaGeoModel,
            mbgnbd.MBGNBDParams(0.52, 6.2, 0.89, 1.6),
            lambda: _mbgnbd_data(400, 0),
        ),
        (
            bgbb,
            bgbb.BetaGeoBetaBinomModel,
            bgbb.BGBBParams(1.2, 0.75, 0.66, 2.8),
            lambda: _bgbb_data(400, 0),
        ),
    ],
    ids=["MBG/NBD", "BG/BB"],
)
def test_zero_coefficients_equal_the_plain_model(module, cls, params, data):
    frame = data()
    X = frame[["nps", "complaints"]].to_numpy()
    p = individual_params(
        params,
        cls._levers,
        {"purchase": X, "dropout": X},
        {"purchase": [0.0, 0.0], "dropout": [0.0, 0.0]},
    )
    assert any(
        np.ndim(v) == 1 for v in p
    )  # per-customer arrays: the broadcasting path is exercised
    cols = [frame[c].to_numpy() for c in RFM]
    diff = np.abs(module.log_likelihood(p, *cols) - module.log_likelihood(params, *cols))
    assert diff.max() <= 1e-9
    # and through the fitted class: zero coefficients predict as the plain model
    plain = cls().fit(frame)
    with_cov = cls(purchase_covariates=["nps"], dropout_covariates=["complaints"])
    with_cov.fit(frame)
    zeroed = with_cov.params_.copy()
    zeroed[plain.params_.index] = plain.params_
    zeroed[["purchase[nps]", "dropout[complaints]"]] = 0.0
    ip = with_cov.individual_params(frame.head(5), params=zeroed)
    np.testing.assert_allclose(ip.to_numpy(), np.tile(plain.params_.to_numpy(), (5, 1)), rtol=1e-12)


def test_mbgnbd_recovers_coefficients():
    data = _mbgnbd_data(6000, 12)
    model = mbgnbd.ModifiedBetaGeoModel(
        purchase_covariates=["nps"], dropout_covariates=["complaints"]
    ).fit(data)
    assert list(model.params_.index) == [
        "r",
        "alpha",
        "a",
        "b",
        "purchase[nps]",
        "dropout[complaints]",
    ]
    assert _inside(model, "purchase[nps]", 0.3) and _inside(model, "dropout[complaints]", 0.4)
    assert _inside(model, "alpha", 20.0) and _inside(model, "a", 0.6)
    plain = mbgnbd.ModifiedBetaGeoModel().fit(data)
    assert model.log_likelihood_ > plain.log_likelihood_ + 10.0


def test_bgbb_recovers_coefficients():
    data = _bgbb_data(6000, 13)
    model = bgbb.BetaGeoBetaBinomModel(
        purchase_covariates=["nps"], dropout_covariates=["complaints"]
    ).fit(data)
    assert _inside(model, "purchase[nps]", 0.25) and _inside(model, "dropout[complaints]", 0.4)
    assert _inside(model, "alpha", 0.6) and _inside(model, "gamma", 0.7)


@pytest.fixture(scope="module")
def fitted_pair():
    mbg_data = _mbgnbd_data(1500, 3)
    bb_data = _bgbb_data(1500, 4)
    mbg = mbgnbd.ModifiedBetaGeoModel(
        purchase_covariates=["nps"], dropout_covariates=["complaints"]
    )
    bb = bgbb.BetaGeoBetaBinomModel(purchase_covariates=["nps"], dropout_covariates=["complaints"])
    return [(mbg.fit(mbg_data), mbg_data), (bb.fit(bb_data), bb_data)]


@pytest.mark.parametrize("which", [0, 1], ids=["MBG/NBD", "BG/BB"])
def test_predictions_use_each_customers_parameters(fitted_pair, which):
    model, data = fitted_pair[which]
    rows = data.iloc[[0, 5, 17, 40]]
    ip = model.individual_params(rows)
    spec = model.spec
    for i, (cid, row) in enumerate(rows.iterrows()):
        p = spec.params(*ip.loc[cid].to_numpy())
        x, t_x, T = (float(row[c]) for c in RFM)
        assert model.probability_alive(rows).iloc[i] == pytest.approx(
            float(spec.probability_alive(p, x, t_x, T)), rel=1e-10
        )
        assert model.expected_purchases(3.0, rows).iloc[i] == pytest.approx(
            float(spec.expected_purchases(p, 3.0, x, t_x, T)), rel=1e-10
        )
        new = model.probability_of_purchases(1, 4.0, covariates=rows)
        assert new.iloc[i] == pytest.approx(
            float(spec.probability_of_purchases(p, 1, 4.0)), rel=1e-10
        )
    assert model.conditional_probability_of_purchases(1, 3.0, rows).between(0, 1).all()
    assert model.probability_alive_at(2.0, rows).between(0, 1).all()


def test_bgbb_per_customer_methods_use_the_covariates(fitted_pair):
    model, data = fitted_pair[1]
    rows = data.iloc[[0, 5, 17]]
    ip = model.individual_params(rows)
    means = model.posterior_means(rows)
    edrt = model.expected_discounted_residual_transactions(rows, 0.1)
    from clv.models.conditional import (
        bgbb_expected_discounted_residual_transactions,
        bgbb_posterior_means,
    )

    for i, (cid, row) in enumerate(rows.iterrows()):
        p = bgbb.BGBBParams(*ip.loc[cid].to_numpy())
        x, t_x, n = (float(row[c]) for c in RFM)
        assert means["p"].iloc[i] == pytest.approx(float(bgbb_posterior_means(p, x, t_x, n)[0]))
        assert edrt.iloc[i] == pytest.approx(
            float(bgbb_expected_discounted_residual_transactions(p, x, t_x, n, 0.1))
        )


@pytest.mark.parametrize("which", [0, 1], ids=["MBG/NBD", "BG/BB"])
def test_covariate_direction(fitted_pair, which):
    model, data = fitted_pair[which]
    row = data.iloc[[0]]
    high_p = row.assign(nps=row["nps"] + 3.0)
    new_high = model.expected_purchases_new_customer(5.0, covariates=high_p).iloc[0]
    assert new_high > model.expected_purchases_new_customer(5.0, covariates=row).iloc[0]
    high_d = row.assign(complaints=row["complaints"] + 3.0)
    assert model.probability_alive(high_d).iloc[0] < model.probability_alive(row).iloc[0]


@pytest.mark.parametrize("which", [0, 1], ids=["MBG/NBD", "BG/BB"])
def test_json_round_trip(fitted_pair, which, tmp_path):
    model, data = fitted_pair[which]
    path = tmp_path / "m.json"
    model.to_json(path)
    doc = json.loads(path.read_text())
    assert doc["init"]["purchase_covariates"] == ["nps"]
    loaded = type(model).from_json(path)
    pd.testing.assert_series_equal(loaded.params_, model.params_)
    pd.testing.assert_series_equal(
        loaded.probability_alive(data.head(50)), model.probability_alive(data.head(50))
    )
