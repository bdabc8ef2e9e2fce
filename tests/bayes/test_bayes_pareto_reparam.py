"""Bayesian Pareto/NBD in the survival coordinates: the same posterior, other coordinates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pymc")

import clv.bayes as cb


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    n = 300
    T = rng.uniform(30.0, 40.0, n)
    freq = np.floor(rng.exponential(2.0, n))
    rec = np.where(freq > 0, T * rng.uniform(0.1, 1.0, n), 0.0)
    return pd.DataFrame({"frequency": freq, "recency": rec, "T": T})


@pytest.fixture(scope="module")
def models(data: pd.DataFrame):  # type: ignore[no-untyped-def]
    plain = cb.ParetoNBDModel()
    plain_model = plain.build_model(data)
    survival = cb.ParetoNBDModel()
    survival._for_nuts = True  # what fit(method="nuts") sets
    survival_model = survival.build_model(data)
    return (
        plain,
        plain_model,
        survival,
        survival_model,
        plain_model.compile_logp(),
        survival_model.compile_logp(),
    )


def test_survival_coordinates_are_only_used_for_nuts(models) -> None:
    plain, plain_model, survival, survival_model, _, _ = models
    assert not plain._survival_coordinates and plain.dense_target_accept == 0.95
    assert survival._survival_coordinates and survival.dense_target_accept == 0.9
    assert "log_kappa__" in survival_model.named_vars
    assert "log_kappa__" not in plain_model.named_vars


@pytest.mark.parametrize(
    ("r", "alpha", "s", "beta"),
    [
        (0.55, 10.6, 0.6, 11.7),
        (0.4, 5.0, 3.0, 90.0),
        (1.2, 20.0, 12.0, 600.0),
        (0.5, 9.0, 0.05, 0.3),
    ],
)
def test_same_density_up_to_the_jacobian(data: pd.DataFrame, models, r, alpha, s, beta) -> None:
    _, _, _, _, logp_plain, logp_survival = models
    t0 = float(np.sort(data["T"])[(len(data) - 1) // 2])  # the lower median: rows are distinct
    kappa = s * np.log1p(t0 / beta)

    def beta_of(log_kappa: float) -> float:
        return t0 / np.expm1(np.exp(log_kappa) / s)

    assert beta_of(np.log(kappa)) == pytest.approx(beta, rel=1e-12)
    base = {"r_log__": np.log(r), "alpha_log__": np.log(alpha), "s_log__": np.log(s)}
    old = float(logp_plain({**base, "beta_log__": np.log(beta)}))
    new = float(logp_survival({**base, "log_kappa__": np.log(kappa)}))
    h = 1e-6  # d log(beta) / d log(kappa), numerically
    dlog = (np.log(beta_of(np.log(kappa) + h)) - np.log(beta_of(np.log(kappa) - h))) / (2 * h)
    assert np.isfinite(old) and np.isfinite(new)
    assert new - old == pytest.approx(np.log(abs(dlog)), abs=1e-6)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::clv.exceptions.ConvergenceWarning")  # a short chain
def test_nuts_fit_reports_the_parameters_only(data: pd.DataFrame) -> None:
    model = cb.ParetoNBDModel().fit(
        data, chains=1, cores=1, draws=60, tune=60, random_seed=1, progressbar=False,
        compute_convergence_checks=False, log_likelihood=False,
    )  # fmt: skip
    post = model.idata_.posterior
    assert sorted(post.data_vars) == ["alpha", "beta", "r", "s"]
    assert bool((post["beta"] > 0).all()) and np.isfinite(post["beta"]).all()
