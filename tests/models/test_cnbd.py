"""MBG/CNBD-k and BG/CNBD-k (Reutterer, Platzer & Schröder 2021): limits, BTYDplus, recovery, MC."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clv.exceptions import DataError
from clv.models import _cnbd_math as m
from clv.models import bgnbd, conditional, mbgnbd
from clv.models.cnbd import BetaGeoCNBDModel, ModifiedBetaGeoCNBDModel
from clv.models.cnbd import CNBDParams as P

#: the simulation set-up of BTYDplus's own test (tests/testthat/test-mbg-cnbd-k.R)
REGULAR = P(k=3, r=0.85, alpha=1.45, a=0.79, b=2.42)
X = np.array([0.0, 0, 1, 2, 7, 26, 150])
TX = np.array([0.0, 0, 0.5, 30.43, 20.0, 30.86, 38.0])
TT = np.array([38.86, 0.0, 1.0, 38.86, 52.0, 31.0, 38.86])


@pytest.fixture(scope="module")
def cdnow_litt():
    from clv.data import rfm_summary
    from clv.data.datasets import load_cdnow_sample_transactions

    tx = load_cdnow_sample_transactions().drop_duplicates()
    return rfm_summary(
        tx[tx["date"] <= "1997-09-30"],
        customer_id_col="customer_id",
        date_col="date",
        time_unit="7D",
        observation_end="1997-09-30",
        litt=True,
    )


@pytest.mark.parametrize(
    ("at_zero", "base", "params"),
    [
        (True, mbgnbd, mbgnbd.MBGNBDParams(0.525, 6.183, 0.891, 1.614)),
        (False, bgnbd, bgnbd.BGNBDParams(0.243, 4.414, 0.793, 2.426)),
    ],
    ids=["MBG", "BG"],
)
def test_k1_is_the_mbgnbd_and_the_bgnbd(at_zero, base, params):
    p = P(1, *params)
    kw = {"dropout_at_zero": at_zero}
    litt = np.zeros_like(X) + np.where(X > 0, 1.7, 0.0)  # any litt: (k - 1) litt = 0
    rtol = 1e-9
    np.testing.assert_allclose(
        m.log_likelihood(p, X, TX, TT, litt, **kw),
        base.log_likelihood(params, X, TX, TT),
        rtol,
        atol=1e-12,
    )
    np.testing.assert_allclose(
        m.probability_alive(p, X, TX, TT, **kw), base.probability_alive(params, X, TX, TT), rtol
    )
    rows = TT > 0
    for t in (1.0, 39.0, 260.0):
        np.testing.assert_allclose(
            m.expected_purchases(p, t, X[rows], TX[rows], TT[rows], **kw),
            base.expected_purchases(params, t, X[rows], TX[rows], TT[rows]),
            rtol,
        )
        np.testing.assert_allclose(
            m.expected_purchases_new_customer(p, t, **kw),
            base.expected_purchases_new_customer(params, t),
            rtol,
        )
    n = np.arange(8.0)
    np.testing.assert_allclose(
        m.probability_of_purchases(p, n, 39.0, **kw),
        base.probability_of_purchases(params, n, 39.0),
        rtol=rtol,
        atol=1e-13,
    )
    name = "mbgnbd" if at_zero else "bgnbd"
    pmf = getattr(conditional, f"{name}_probability_of_purchases")
    alive_at = getattr(conditional, f"{name}_probability_alive_at")
    for k in range(4):
        np.testing.assert_allclose(
            m.conditional_probability_of_purchases(p, k, 39.0, X[rows], TX[rows], TT[rows], **kw),
            pmf(params, k, 39.0, X[rows], TX[rows], TT[rows]),
            rtol=1e-8,
            atol=1e-13,
        )
    np.testing.assert_allclose(
        m.probability_alive_at(p, 26.0, X[rows], TX[rows], TT[rows], **kw),
        alive_at(params, 26.0, X[rows], TX[rows], TT[rows]),
        rtol=1e-8,
    )


def test_log_likelihood_equals_btydplus_at_fixed_parameters():
    """BTYDplus 1.2.0 ``R/mbg-cnbd-k.R`` (sourced into R 4, BTYD not needed)::

    mbgcnbd.LL(c(2, 0.58, 2.29, 1.13, 1.58), c(2, 0, 5), c(30.43, 0, 20), c(38.86, 30, 31),
               c(5, 0, 7))   # -9.541702247018  -0.493772561412 -14.849151316277
    bgcnbd.LL(c(3, 0.6, 2, 1.1, 1.9), c(0, 4, 1), c(0, 20, 2), c(30, 31, 2), c(0, 3, 0.5))
                             # -0.978249230245 -19.108254620518  -3.353229121748
    """
    mbg = m.log_likelihood(
        P(2, 0.58, 2.29, 1.13, 1.58),
        np.array([2.0, 0, 5]),
        np.array([30.43, 0, 20]),
        np.array([38.86, 30, 31]),
        np.array([5.0, 0, 7]),
        dropout_at_zero=True,
    )
    np.testing.assert_allclose(mbg, [-9.541702247018, -0.493772561412, -14.849151316277], 1e-11)
    bg = m.log_likelihood(
        P(3, 0.6, 2.0, 1.1, 1.9),
        np.array([0.0, 4, 1]),
        np.array([0.0, 20, 2]),
        np.array([30.0, 31, 2]),
        np.array([0.0, 3, 0.5]),
        dropout_at_zero=False,
    )
    np.testing.assert_allclose(bg, [-0.978249230245, -19.108254620518, -3.353229121748], 1e-11)


#: BTYDplus 1.2.0 on CDNOW (2,357 customers, 39-week calibration), from R:
#:   cbs <- elog2cbs(cdnowElog, T.cal = "1997-09-30", T.tot = "1998-06-30")
#:   mbgcnbd.EstimateParameters(cbs, k = k); mbgcnbd.cbs.LL(params, cbs)   (and bgcnbd.*)
#: The profile search of mbgcnbd.EstimateParameters(cbs) picks k = 1 ("no regularity
#: detected for CDNow", BTYDplus demo/cdnow.R); k = 1 are the MBG/NBD and BG/NBD estimates
#: (Batislam et al. 2007; Fader, Hardie & Lee 2005: r = 0.243, alpha = 4.414, a = 0.793,
#: b = 2.426, LL = -9582.4).
BTYDPLUS_CDNOW = {
    ("MBG", 1): ((0.5248435586, 6.1830928451, 0.8913877802, 1.6140483344), -9582.135716),
    ("MBG", 2): ((0.5799, 2.2882, 1.1343, 1.5848), -9853.253129),
    ("MBG", 3): ((0.5330, 1.2582, 1.2885, 1.8449), -10394.36265),
    ("BG", 1): ((0.2425981523, 4.4136841632, 0.7929898736, 2.4261666960), -9582.429207),
    ("BG", 2): ((0.2269, 1.4629, 0.9440, 2.0743), -9855.326974),
    ("BG", 3): ((0.2195, 0.8334, 1.0261, 2.0941), -10393.56505),
}


@pytest.mark.parametrize("case", list(BTYDPLUS_CDNOW), ids=lambda c: f"{c[0]}-k{c[1]}")
def test_reproduces_btydplus_estimates_on_cdnow(case, cdnow_litt):
    variant, k = case
    params, ll = BTYDPLUS_CDNOW[case]
    cls = ModifiedBetaGeoCNBDModel if variant == "MBG" else BetaGeoCNBDModel
    model = cls(k=k).fit(cdnow_litt)
    # BTYDplus stops R's L-BFGS-B at its default tolerance (factr 1e7), so its estimates are
    # the optimum to about 3e-4 relative; ours is at least as high a likelihood
    for name, value in zip(("r", "alpha", "a", "b"), params, strict=True):
        assert model.params_[name] == pytest.approx(value, rel=3e-4, abs=5e-5)
    assert model.log_likelihood_ == pytest.approx(ll, abs=2e-3)
    assert model.log_likelihood_ >= ll - 1e-5
    assert model.k_ == k


def test_profile_likelihood_picks_k1_on_cdnow(cdnow_litt):
    model = ModifiedBetaGeoCNBDModel().fit(cdnow_litt)
    assert model.k_ == 1
    assert list(model.profile_.index) == [1, 2, 3]  # fell twice in a row: the search stops
    np.testing.assert_allclose(
        model.profile_.to_numpy(), [v[1] for k, v in BTYDPLUS_CDNOW.items() if k[0] == "MBG"],
        atol=2e-3,
    )
    plain = mbgnbd.ModifiedBetaGeoModel().fit(cdnow_litt)
    np.testing.assert_allclose(model.params_, plain.params_, rtol=1e-5)
    assert model.log_likelihood_ == pytest.approx(plain.log_likelihood_, abs=1e-6)


@pytest.mark.parametrize("at_zero", [True, False])
@pytest.mark.parametrize("k", [1, 2, 4])
def test_gradient_matches_finite_differences(at_zero, k):
    p = P(k, 0.7, 2.0, 1.2, 2.5)
    kw = {"dropout_at_zero": at_zero}
    x = np.array([0.0, 1, 3, 10, 400])
    t_x = np.array([0.0, 0.5, 10, 25, 29.9])
    T = np.full(5, 30.0)
    _, grad = m.core_log_likelihood_gradient(p, x, t_x, T, **kw)
    for j, name in enumerate(("r", "alpha", "a", "b")):
        h = 1e-6 * getattr(p, name)
        up = m.core_log_likelihood(p._replace(**{name: getattr(p, name) + h}), x, t_x, T, **kw)
        down = m.core_log_likelihood(p._replace(**{name: getattr(p, name) - h}), x, t_x, T, **kw)
        np.testing.assert_allclose(grad[j], (up - down) / (2 * h), rtol=1e-5, atol=1e-7)


def _simulated(params, n, seed, at_zero=True):
    rng = np.random.default_rng(seed)
    T = np.round(rng.uniform(36, 96, n) / 12) * 12  # BTYDplus's test: whole quarters-ish
    sim = m.simulate(params, T, rng=rng, dropout_at_zero=at_zero)
    frame = pd.DataFrame({c: sim[c] for c in ("frequency", "recency", "T", "litt")})
    frame.index.name = "customer_id"
    return frame, sim


@pytest.mark.parametrize("cls", [ModifiedBetaGeoCNBDModel, BetaGeoCNBDModel])
def test_recovers_simulated_parameters_and_k(cls):
    at_zero = cls is ModifiedBetaGeoCNBDModel
    data, _ = _simulated(REGULAR, 6000, 1 if at_zero else 2, at_zero)
    model = cls(max_k=6).fit(data)
    assert model.k_ == REGULAR.k
    truth = pd.Series(REGULAR._asdict()).drop("k")
    z = (model.params_ - truth) / model.summary()["se"]
    assert np.all(np.abs(z) < 4), z
    assert model.profile_.idxmax() == REGULAR.k and model.profile_[1] < model.profile_[3] - 100


def test_predictions_match_monte_carlo():
    """Purchase logs of the transaction simulator, cut at T: what the customers did next."""
    from clv.synth.transactions import (
        litt_from_purchase_times,
        rfm_from_purchase_times,
        simulate_purchase_times,
    )

    rng = np.random.default_rng(21)
    n, t = 8_000, 26.0
    T = rng.uniform(20, 40, n)
    for model, at_zero in (("mbgcnbd", True), ("bgcnbd", False)):
        sim = simulate_purchase_times(model, REGULAR, T + t, rng=rng)
        rfm = rfm_from_purchase_times(sim["customer"], sim["time"], T)
        litt = litt_from_purchase_times(sim["customer"], sim["time"], T)
        assert np.all(litt[rfm["frequency"] == 0] == 0)
        x, t_x = rfm["frequency"], rfm["recency"]
        later = (sim["time"] > T[sim["customer"]]) & (sim["time"] <= T[sim["customer"]] + t)
        future = np.bincount(sim["customer"][later], minlength=n)
        alive = ~(sim["death"] <= T)
        alive_later = ~(sim["death"] <= T + t)
        kw = {"dropout_at_zero": at_zero}
        for rows in (x == 0, (x > 0) & (x <= 3), x > 3):
            size = int(rows.sum())
            args = (x[rows], t_x[rows], T[rows])
            pa = m.probability_alive(REGULAR, *args, **kw)
            assert abs(pa.mean() - alive[rows].mean()) < 4 * np.sqrt(0.25 / size) + 1e-3
            ep = m.expected_purchases(REGULAR, t, *args, **kw)
            assert abs(ep.mean() - future[rows].mean()) < 4 * future[rows].std() / np.sqrt(size)
            pl = m.probability_alive_at(REGULAR, t, *args, **kw)
            assert abs(pl.mean() - alive_later[rows].mean()) < 4 * np.sqrt(0.25 / size) + 1e-3
            for k in range(3):
                share = float(np.mean(future[rows] == k))
                pmf = m.conditional_probability_of_purchases(REGULAR, k, t, *args, **kw)
                assert abs(pmf.mean() - share) < 4 * np.sqrt(share * (1 - share) / size) + 1e-3
        first = sim["time"] <= 20.0
        counts = np.bincount(sim["customer"][first], minlength=n)
        for k in range(4):
            share = float(np.mean(counts == k))
            pred = float(m.probability_of_purchases(REGULAR, k, 20.0, **kw))
            assert abs(pred - share) < 4 * np.sqrt(share * (1 - share) / n) + 1e-4


def test_identities_and_extreme_inputs():
    kw = {"dropout_at_zero": True}
    n = np.arange(600.0)
    pmf = m.probability_of_purchases(REGULAR, n, 52.0, **kw)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-10)
    assert n @ pmf == pytest.approx(float(m.expected_purchases_new_customer(REGULAR, 52.0, **kw)))
    cond = m.conditional_probability_of_purchases(REGULAR, n, 26.0, 4, 20.0, 30.0, **kw)
    assert cond.sum() == pytest.approx(1.0, abs=1e-10)
    expected = float(m.expected_purchases(REGULAR, 26.0, 4, 20.0, 30.0, **kw))
    assert n @ cond == pytest.approx(expected)
    x = np.array([0.0, 3000, 3000, 1])
    t_x = np.array([0.0, 9999, 10, 1e-3])
    T = np.array([1e-3, 1e4, 1e4, 1e4])
    litt = np.where(x > 0, x * np.log(np.maximum(t_x, 1e-3) / np.maximum(x, 1)) - 1, 0.0)
    for values in (
        m.log_likelihood(REGULAR, x, t_x, T, litt, **kw),
        m.core_log_likelihood_gradient(REGULAR, x, t_x, T, **kw)[1],
        m.probability_alive(REGULAR, x, t_x, T, **kw),
        m.expected_purchases(REGULAR, 10.0, x, t_x, T, **kw),
        m.probability_alive_at(REGULAR, 10.0, x, t_x, T, **kw),
    ):
        assert np.all(np.isfinite(values))
    # regular buyers: a long silence after a steady rhythm means more likely gone than with k = 1
    k1 = REGULAR._replace(k=1)
    assert m.probability_alive(REGULAR, 10, 20.0, 40.0, **kw) < m.probability_alive(
        k1, 10, 20.0, 40.0, **kw
    )


def test_data_checks_and_fixed_k(cdnow_litt):
    with pytest.raises(DataError, match="litt"):
        ModifiedBetaGeoCNBDModel().fit(cdnow_litt.drop(columns="litt"))
    bad = cdnow_litt.copy()
    bad.loc[bad["frequency"] > 0, "litt"] += 50.0  # litt of days with recency in weeks
    with pytest.raises(DataError, match=r"frequency \* log") as info:
        BetaGeoCNBDModel().fit(bad)
    assert "Fix:" in str(info.value)
    zero = cdnow_litt.copy()
    zero.loc[zero["frequency"] == 0, "litt"] = 1.0
    with pytest.raises(DataError, match="without repeat purchases"):
        BetaGeoCNBDModel().fit(zero)
    # k = 1 needs no litt
    k1 = BetaGeoCNBDModel(k=1).fit(cdnow_litt.drop(columns="litt"))
    assert k1.k_ == 1
    with pytest.raises(ValueError, match="k must be"):
        BetaGeoCNBDModel(k=1.5)


def test_fitted_order_is_used_and_persisted(cdnow_litt, tmp_path):
    model = ModifiedBetaGeoCNBDModel(k=2).fit(cdnow_litt)
    rows = cdnow_litt.head(50)
    p = m.CNBDParams(2, *model.params_.to_numpy())
    x, t_x, T = (rows[c].to_numpy() for c in ("frequency", "recency", "T"))
    np.testing.assert_allclose(
        model.expected_purchases(10, rows),
        m.expected_purchases(p, 10, x, t_x, T, dropout_at_zero=True),
    )
    path = tmp_path / "m.json"
    model.to_json(path)
    assert json.loads(path.read_text())["k"] == 2
    loaded = ModifiedBetaGeoCNBDModel.from_json(path)
    assert loaded.k_ == 2 and loaded.k == 2
    pd.testing.assert_series_equal(loaded.profile_, model.profile_)
    pd.testing.assert_series_equal(
        loaded.probability_alive_at(5, rows), model.probability_alive_at(5, rows)
    )
    assert "k=2" in repr(model)
    sim = model.simulate(np.full(100, 39.0), random_state=1)
    assert {"frequency", "recency", "T", "litt"} <= set(sim.columns)
    draws = model.sample_params(50, random_state=0)
    assert list(draws.columns) == ["r", "alpha", "a", "b"]


def test_time_rescaling_chunking_and_duplicates(monkeypatch):
    """Periods c times shorter (t_x, T, t and alpha times c) leave every prediction unchanged;
    the row grouping, memory chunks and duplicate rows do not change any value."""
    rng = np.random.default_rng(4)
    x = rng.integers(0, 30, 300).astype(float)
    T = rng.uniform(5, 60, 300)
    t_x = np.where(x > 0, T * rng.uniform(0, 1, 300), 0.0)
    kw = {"dropout_at_zero": True}
    base = m.expected_purchases(REGULAR, 13.0, x, t_x, T, **kw)
    c = 7.0
    scaled = REGULAR._replace(alpha=REGULAR.alpha * c)
    np.testing.assert_allclose(
        m.expected_purchases(scaled, 13.0 * c, x, t_x * c, T * c, **kw), base, rtol=1e-9
    )
    np.testing.assert_allclose(
        m.probability_alive_at(scaled, 13.0 * c, x, t_x * c, T * c, **kw),
        m.probability_alive_at(REGULAR, 13.0, x, t_x, T, **kw),
        rtol=1e-9,
    )
    # the likelihood is a density of the x purchase times: each is c times larger, so
    # log L drops by x log c (litt grows by x log c)
    litt = np.where(x > 0, x * np.log(np.maximum(t_x, 1e-9) / np.maximum(x, 1.0)) - 0.5, 0.0)
    np.testing.assert_allclose(
        m.log_likelihood(scaled, x, t_x * c, T * c, litt + x * np.log(c), **kw),
        m.log_likelihood(REGULAR, x, t_x, T, litt, **kw) - x * np.log(c),
        rtol=1e-10,
        atol=1e-9,
    )
    order = rng.permutation(300)
    repeated = np.r_[order, order[:50]]
    monkeypatch.setattr(m, "_MAX_CELLS", 500)
    np.testing.assert_allclose(
        m.expected_purchases(REGULAR, 13.0, x[repeated], t_x[repeated], T[repeated], **kw),
        base[repeated],
        rtol=1e-12,
    )
