"""Pareto/NBD with correlated purchase and dropout rates against CLVTools 0.12.1.

CLVTools 0.12.1 (R 4.2.2), ``apparelTrans`` with 104 weeks of calibration
(the same 600 customers as ``data/apparel_trans.csv``)::

    clv.apparel <- clvdata(apparelTrans, date.format="ymd", time.unit="week",
                           estimation.split=104, name.id="Id", name.date="Date",
                           name.price="Price")
    fit <- pnbd(clv.apparel, use.cor=TRUE); coef(fit); logLik(fit)
    fit0 <- pnbd(clv.apparel); logLik(fit0)
    # log-likelihood at fixed (r, alpha, s, beta, m), m = CLVTools' correlation.param.m:
    dt <- fit@cbs[, list(n=.N), by=c("x", "t.x", "T.cal")]
    p <- c(log.r=log(r), log.alpha=log(alpha), log.s=log(s), log.beta=log(beta),
           correlation.param.m=m)
    -CLVTools:::interlayer_manager(LL.params=p, LL.param.names.to.optimx=names(p),
        LL.function.sum=CLVTools:::pnbd_nocov_LL_sum, use.interlayer.constr=FALSE,
        use.interlayer.reg=FALSE, reg.lambda.trans=NULL, reg.lambda.life=NULL,
        use.cor=TRUE, LL.function.ind=CLVTools:::pnbd_nocov_LL_ind, obj=fit,
        vX=dt$x, vT_x=dt$t.x, vT_cal=dt$T.cal, vN=dt$n, check.param.m.bounds=TRUE,
        name.prefixed.cor.param.m="correlation.param.m",
        LL.params.names.ordered=c(log.r="log.r", log.alpha="log.alpha",
                                  log.s="log.s", log.beta="log.beta"))

CLVTools' own estimate (``Cor(life,trans)`` = -0.000995, logLik -5850.820) is
not a maximum: it lies on the lower edge of the admissible correlation range
and below the plain Pareto/NBD's -5848.098 (which the correlated model nests
at rho = 0).  The maximum is on the upper edge of the range (rho = 0.0129,
-5848.026); the test checks the log-likelihood at CLVTools' estimate and that
our fit beats it and the plain model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clv.models import ParetoNBDCorrelatedModel, ParetoNBDModel, pareto_nbd
from clv.models import pareto_nbd_corr as pc

DATA = Path(__file__).parent / "data"

#: (r, alpha, s, beta, m, CLVTools' log-likelihood); rho = m * rho-per-m (see the module)
CLVTOOLS_LL = [
    (1.5, 80.0, 0.6, 50.0, 0.0, -5894.750261407858),
    (1.5, 80.0, 0.6, 50.0, 30.0, -5895.053230296269),
    (1.5, 80.0, 0.6, 50.0, -1.0, -5894.740252766536),
    (0.8, 20.0, 1.2, 30.0, 20.0, -5994.879353362279),
    (2.5, 5.0, 0.3, 5.0, 2.5, -7271.243248146816),
    (2.5, 5.0, 0.3, 5.0, -1.5, -7282.391724165691),
]
CLVTOOLS_FIT = pc.PNBDCorParams(
    1.47048801022385112,
    48.55456894526958678,
    0.24618673896477541,
    11.20518451856487552,
    -0.00099471169403475,
)
CLVTOOLS_FIT_LL = -5850.82019102573
CLVTOOLS_PLAIN_LL = -5848.09782696242


@pytest.fixture(scope="module")
def apparel() -> pd.DataFrame:
    trans = pd.read_csv(DATA / "apparel_trans.csv", parse_dates=["Date"]).drop_duplicates()
    dates = trans.groupby("Id")["Date"]
    first, last = dates.min(), dates.max()
    end = pd.Timestamp("2006-12-31")  # 104 weeks after the first purchases
    rfm = pd.DataFrame(
        {
            "frequency": (dates.nunique() - 1).astype(float),
            "recency": (last - first).dt.days / 7.0,
            "T": (end - first).dt.days / 7.0,
        }
    )
    rfm.index.name = "customer_id"
    return rfm


def _xtT(frame: pd.DataFrame) -> tuple[np.ndarray, ...]:
    return tuple(frame[c].to_numpy() for c in ("frequency", "recency", "T"))


@pytest.mark.parametrize("point", CLVTOOLS_LL, ids=lambda p: f"m={p[4]}-a={p[1]}")
def test_log_likelihood_equals_clvtools(apparel, point):
    r, alpha, s, beta, m, expected = point
    rho = m * pc._cor_factor(r, alpha, s, beta)
    params = pc.PNBDCorParams(r, alpha, s, beta, rho)
    assert pc.omega(params) == pytest.approx(m, rel=1e-12, abs=1e-12)
    total = float(np.sum(pc.log_likelihood(params, *_xtT(apparel))))
    assert total == pytest.approx(expected, abs=1e-8 * abs(expected))


def test_log_likelihood_at_clvtools_estimate_and_our_fit_beats_it(apparel):
    x, t_x, T = _xtT(apparel)
    at_clvtools = float(np.sum(pc.log_likelihood(CLVTOOLS_FIT, x, t_x, T)))
    assert at_clvtools == pytest.approx(CLVTOOLS_FIT_LL, abs=1e-7)
    lo, _ = pc.correlation_bounds(*CLVTOOLS_FIT[:4])
    assert CLVTOOLS_FIT.rho == pytest.approx(lo, rel=1e-3)  # stuck at the lower edge

    model = ParetoNBDCorrelatedModel().fit(apparel)
    plain = ParetoNBDModel().fit(apparel)
    assert plain.log_likelihood_ == pytest.approx(CLVTOOLS_PLAIN_LL, abs=1e-4)
    assert model.log_likelihood_ > plain.log_likelihood_ > CLVTOOLS_FIT_LL
    assert model.log_likelihood_ == pytest.approx(-5848.0264, abs=1e-3)
    _, hi = pc.correlation_bounds(*model.model_params_[:4])
    assert model.correlation_ == pytest.approx(hi, rel=1e-3)  # the maximum is on the edge
    est = model.params_
    assert est["r"] == pytest.approx(1.441, rel=0.01)
    assert est["alpha"] == pytest.approx(48.28, rel=0.01)


def test_zero_correlation_is_the_pareto_nbd(apparel):
    from clv.data.datasets import load_cdnow_summary

    for frame, base in (
        (apparel, (1.449, 48.64, 0.561, 46.88)),
        (load_cdnow_summary(), (0.553, 10.578, 0.606, 11.669)),
    ):
        x, t_x, T = _xtT(frame)
        ll0 = pc.log_likelihood(pc.PNBDCorParams(*base, 0.0), x, t_x, T)
        ref = pareto_nbd.log_likelihood(pareto_nbd.PNBDParams(*base), x, t_x, T)
        np.testing.assert_allclose(ll0, ref, rtol=0, atol=1e-9)
        # and through the four-component sum, a hair away from 0
        tiny = pc.log_likelihood(pc.PNBDCorParams(*base, 1e-14), x, t_x, T)
        np.testing.assert_allclose(tiny, ref, rtol=0, atol=1e-9)
        p = pc.PNBDCorParams(*base, 0.0)
        q = pareto_nbd.PNBDParams(*base)
        np.testing.assert_allclose(
            pc.expected_purchases(p, 10.0, x, t_x, T),
            pareto_nbd.expected_purchases(q, 10.0, x, t_x, T),
            rtol=1e-12,
        )


def test_gradient_matches_finite_differences(apparel):
    x, t_x, T = (v[:50] for v in _xtT(apparel))
    p = pc.PNBDCorParams(1.5, 20.0, 0.8, 15.0, 0.01)
    _, g = pc.log_likelihood_gradient(p, x, t_x, T)
    for k in range(5):
        h = 1e-6 * max(abs(p[k]), 1e-2)
        up = np.array(p, dtype=float)
        down = up.copy()
        up[k] += h
        down[k] -= h
        fd = (
            pc.log_likelihood(pc.PNBDCorParams(*up), x, t_x, T)
            - pc.log_likelihood(pc.PNBDCorParams(*down), x, t_x, T)
        ) / (2 * h)
        np.testing.assert_allclose(
            g[k], fd, rtol=1e-5, atol=1e-7, err_msg=pc.PNBDCorParams._fields[k]
        )


def test_outside_the_admissible_range_is_minus_infinity():
    lo, hi = pc.correlation_bounds(1.0, 0.5, 1.0, 0.5)
    assert lo < 0 < hi <= 1
    for rho in (hi * 1.01, lo * 1.01):
        ll = pc.log_likelihood(
            pc.PNBDCorParams(1.0, 0.5, 1.0, 0.5, rho), [0.0, 2.0], [0.0, 3.0], [5.0, 5.0]
        )
        assert np.all(np.isneginf(ll))
    with pytest.raises(ValueError, match="rho must lie in"):
        pc.simulate(
            pc.PNBDCorParams(1.0, 0.5, 1.0, 0.5, hi * 1.01),
            np.ones(3),
            rng=np.random.default_rng(0),
        )


def test_predictions_are_consistent():
    p = pc.PNBDCorParams(1.0, 0.5, 1.0, 0.5, 0.15)
    assert float(pc.probability_of_purchases(p, np.arange(400), 6.0).sum()) == pytest.approx(
        1.0, abs=1e-8
    )
    cond = pc.conditional_probability_of_purchases(p, np.arange(400), 4.0, 3.0, 2.5, 6.0)
    assert float(np.sum(cond)) == pytest.approx(1.0, abs=1e-8)
    x, t_x, T = np.array([0.0, 3.0, 10.0]), np.array([0.0, 2.5, 5.9]), np.full(3, 6.0)
    pa = pc.probability_alive(p, x, t_x, T)
    assert np.all((pa > 0) & (pa <= 1))
    np.testing.assert_allclose(pc.probability_alive_at(p, 0.0, x, t_x, T), pa, rtol=1e-12)
    # the expected purchases of a new customer is the mean over the joint prior
    sim = pc.simulate(p, np.full(200_000, 6.0), rng=np.random.default_rng(5))
    assert float(pc.expected_purchases_new_customer(p, 6.0)) == pytest.approx(
        float(np.mean(sim["frequency"])), rel=0.02
    )


def test_simulated_rates_have_the_correlation():
    p = pc.PNBDCorParams(1.0, 0.5, 1.0, 0.5, 0.15)
    sim = pc.simulate(p, np.full(300_000, 6.0), rng=np.random.default_rng(11))
    assert np.mean(sim["lambda"]) == pytest.approx(1.0 / 0.5, rel=0.01)  # Gamma(r, alpha) marginal
    assert np.mean(sim["mu"]) == pytest.approx(1.0 / 0.5, rel=0.01)
    assert float(np.corrcoef(sim["lambda"], sim["mu"])[0, 1]) == pytest.approx(0.15, abs=0.01)


@pytest.mark.slow
def test_recovers_a_known_correlation():
    """2,500 simulated customers with rho = 0.15 (admissible range [-0.111, 0.222]): recovered."""
    truth = pc.PNBDCorParams(1.0, 0.5, 1.0, 0.5, 0.15)
    rng = np.random.default_rng(1)
    sim = pc.simulate(truth, rng.uniform(4, 12, 2500), rng=np.random.default_rng(2))
    frame = pd.DataFrame({k: sim[k] for k in ("frequency", "recency", "T")})
    model = ParetoNBDCorrelatedModel().fit(frame)
    est = model.model_params_
    for name in ("r", "alpha", "s", "beta"):
        assert getattr(est, name) == pytest.approx(getattr(truth, name), rel=0.2), name
    assert model.correlation_ == pytest.approx(0.15, abs=0.06)
    assert model.correlation_ > 0.05  # distinguishable from independence


def test_individual_likelihood_mixed_over_gammas_is_the_pareto_nbd():
    """Gauss-Laguerre integration of L(x | lambda, mu) over Gamma(r, alpha) x Gamma(s, beta)."""
    from scipy import special

    r, alpha, s, beta = 0.553, 10.578, 0.606, 11.669
    u, wu = special.roots_genlaguerre(120, r - 1.0)
    v, wv = special.roots_genlaguerre(120, s - 1.0)
    lam, mu = (u / alpha)[:, None], (v / beta)[None, :]
    weights = np.outer(wu, wv) / (special.gamma(r) * special.gamma(s))
    for x, t_x, T in ((0.0, 0.0, 38.86), (2.0, 30.43, 38.86), (7.0, 12.0, 30.0)):
        ll = pareto_nbd.individual_log_likelihood(lam, mu, x, t_x, T)
        mixed = np.log(np.sum(weights * np.exp(ll)))
        ref = pareto_nbd.log_likelihood(pareto_nbd.PNBDParams(r, alpha, s, beta), x, t_x, T)
        assert mixed == pytest.approx(float(ref), abs=1e-4)
    extreme = pareto_nbd.individual_log_likelihood(1e-8, 50.0, 0.0, 0.0, 1e4)
    assert np.isfinite(extreme)
