"""``constrain=`` on the Bayesian covariate models: one coefficient shared by both processes."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pymc")
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "ArviZ is undergoing", FutureWarning)
    import arviz as az

    import clv.bayes as cb
import clv.models as cm
from clv.bayes import _covariates as bcov
from clv.exceptions import DataError
from clv.models import bgnbd
from clv.models._covariates import individual_params

RFM = ["frequency", "recency", "T"]
KW = {"purchase_covariates": ["gender", "nps"], "dropout_covariates": ["gender", "nps"]}
SHARED = 0.4


def _world(n: int, seed: int) -> pd.DataFrame:
    """BG/NBD customers; ``gender`` acts on both processes with the same coefficient."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {"gender": rng.integers(0, 2, n).astype(float), "nps": rng.normal(5.0, 2.0, n)},
        index=pd.RangeIndex(n, name="customer_id"),
    )
    Z = X[["gender", "nps"]].to_numpy()
    p = individual_params(
        bgnbd.BGNBDParams(0.6, 4.0, 0.8, 2.5),
        cm.BetaGeoModel._levers,
        {"purchase": Z, "dropout": Z},
        {"purchase": [SHARED, 0.1], "dropout": [SHARED, -0.1]},
    )
    sim = bgnbd.simulate(p, rng.uniform(30.0, 60.0, n), rng=rng)
    return pd.DataFrame({c: sim[c] for c in RFM}, index=X.index).join(X)


@pytest.fixture(scope="module")
def world() -> pd.DataFrame:
    return _world(1200, 7)


@pytest.fixture(scope="module")
def mle(world: pd.DataFrame) -> cm.BetaGeoModel:
    return cm.BetaGeoModel(**KW, constrain=["gender"]).fit(world)


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return _world(300, 8)


@pytest.fixture(scope="module")
def small_mle(small: pd.DataFrame) -> cm.BetaGeoModel:
    return cm.BetaGeoModel(**KW, constrain=["gender"]).fit(small)


def _flat() -> cb.BetaGeoModel:
    return cb.BetaGeoModel(
        priors=cb.BetaGeoModel.flat_priors(),
        coefficient_prior=("Flat", {}),
        constrain=["gender"],
        **KW,
    )


def test_one_variable_enters_both_links_and_the_log_density_is_the_mle_likelihood(small, small_mle):
    world, mle = small, small_mle
    bayes = _flat()
    model = bayes.build_model(world)
    free = {v.name for v in model.free_RVs}
    assert "constrained[gender]_std" in free
    assert not free & {"purchase[gender]_std", "dropout[gender]_std"}
    assert {"purchase[nps]_std", "dropout[nps]_std"} <= free  # the others stay per process
    scaling = bayes.covariate_scaling_
    # the Python linker: no C compilation (seconds instead of a minute on a busy machine)
    logp = model.compile_fn(model.logp(jacobian=False), mode="FAST_COMPILE")

    def at(params: pd.Series) -> float:
        point = bcov.free_point(
            model, bayes._design, params, scaling["mean"].to_numpy(), scaling["scale"].to_numpy()
        )
        return float(logp(point))

    assert at(mle.params_) == pytest.approx(mle.log_likelihood_, rel=1e-8)
    moved = mle.params_.copy()
    moved[["purchase[gender]", "dropout[gender]"]] = SHARED + 0.2
    moved["alpha"] *= 1.1
    theta = mle._customer_params(world, moved)
    expected = float(np.sum(bgnbd.log_likelihood(theta, *(world[c].to_numpy(float) for c in RFM))))
    assert at(moved) == pytest.approx(expected, rel=1e-8)


@pytest.mark.slow
def test_map_with_flat_priors_is_the_constrained_mle(world, mle):
    fitted = _flat().fit(world, method="map")
    got = fitted.params_
    assert got["purchase[gender]"] == got["dropout[gender]"]
    np.testing.assert_allclose(got[mle.params_.index], mle.params_, rtol=2e-3, atol=2e-3)


def test_round_trip_keeps_the_constraint(small, small_mle, tmp_path):
    world, mle = small, small_mle
    rng = np.random.default_rng(0)
    post = {k: v + 0.01 * rng.standard_normal((2, 3)) for k, v in mle.params_.items()}
    post["dropout[gender]"] = post["purchase[gender]"]
    model = cb.BetaGeoModel.from_idata(az.from_dict(posterior=post), constrain=["gender"], **KW)
    assert model.get_params()["constrain"] == ["gender"]
    path = tmp_path / "constrained.nc"
    model.to_netcdf(path)
    again = cb.BetaGeoModel.from_netcdf(path)
    assert again.get_params()["constrain"] == ["gender"]
    assert again._constrained == ("gender",)
    pd.testing.assert_frame_equal(again.summary(), model.summary())
    head = world.head(15)
    np.testing.assert_array_equal(
        again.expected_purchases(10.0, head).values, model.expected_purchases(10.0, head).values
    )
    # and an unconstrained model does not read it as constrained
    assert cb.BetaGeoModel(**KW).get_params()["constrain"] is None


@pytest.mark.parametrize(
    ("kwargs", "column"),
    [
        ({"purchase_covariates": ["gender"], "dropout_covariates": ["nps"]}, "gender"),
        (KW, "no_such_column"),
    ],
)
def test_bad_constrain_names_are_a_clear_error(kwargs, column):
    with pytest.raises(DataError, match=column) as info:
        cb.ParetoNBDModel(**kwargs, constrain=[column])
    assert info.value.problems[0].column == column
    with pytest.raises(DataError, match=column):  # the same check as the MLE model's
        cm.ParetoNBDModel(**kwargs, constrain=[column])


def test_a_shared_coefficient_takes_one_prior():
    prior = {"dropout[gender]": ("Normal", {"mu": 0.4, "sigma": 0.1})}
    cb.BetaGeoModel(priors=prior, constrain=["gender"], **KW)
    with pytest.raises(ValueError, match="different priors"):
        cb.BetaGeoModel(
            priors={
                "purchase[gender]": ("Normal", {"mu": 0.0, "sigma": 1.0}),
                "dropout[gender]": ("Normal", {"mu": 0.4, "sigma": 0.1}),
            },
            constrain=["gender"],
            **KW,
        )


@pytest.mark.slow
def test_nuts_posterior_mean_is_near_the_constrained_mle(world, mle):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short chains
        fitted = cb.BetaGeoModel(constrain=["gender"], **KW).fit(
            world, draws=400, tune=400, chains=2, cores=2, random_seed=3, progressbar=False
        )
    post = fitted.idata_.posterior
    np.testing.assert_array_equal(post["purchase[gender]"].values, post["dropout[gender]"].values)
    table = fitted.summary()
    for name in ("purchase[gender]", "purchase[nps]", "dropout[nps]"):
        row = table.loc[name]
        assert row["mean"] == pytest.approx(mle.params_[name], abs=0.5 * row["sd"]), name
    row = table.loc["dropout[gender]"]
    assert row["lower"] < SHARED < row["upper"]
