"""The engine's per-draw customer parameters: validated covariate matrices reused across draws."""

from __future__ import annotations

import numpy as np
import pytest

from clv.data.datasets import load_cdnow_summary_with_spend
from clv.models import GammaGammaModel, ParetoNBDModel
from clv.roi.engine import _individual


@pytest.fixture(scope="module")
def fitted():
    data = load_cdnow_summary_with_spend().copy()
    gen = np.random.default_rng(4)
    data["wait_minutes"] = gen.gamma(2.0, 3.0, len(data))
    data["complaints"] = gen.poisson(0.4, len(data)).astype(float)
    cols = ["wait_minutes", "complaints"]
    tm = ParetoNBDModel(purchase_covariates=cols, dropout_covariates=cols).fit(data)
    sm = GammaGammaModel(spend_covariates=cols[:1]).fit(data)
    return data, tm, sm, ParetoNBDModel().fit(data)


def test_cached_matrices_give_the_models_own_parameters(fitted) -> None:
    data, tm, sm, plain = fitted
    for model in (tm, sm, plain):
        cache: dict = {}
        draws = model.sample_params(3, random_state=np.random.default_rng(1))
        for i in range(3):
            fast = _individual(model, data, draws.iloc[i], cache)
            ref = model.individual_params(data, params=draws.iloc[i])
            assert list(fast) == list(ref.columns)
            for name in ref.columns:
                np.testing.assert_array_equal(fast[name], ref[name].to_numpy())
        assert ("X" in cache) == bool(model._design)


def test_bad_covariates_still_fail_with_the_models_message(fitted) -> None:
    data, tm, _, _ = fitted
    broken = data.drop(columns="complaints")
    draw = tm.sample_params(1, random_state=np.random.default_rng(0)).iloc[0]
    with pytest.raises(Exception, match="complaints"):
        _individual(tm, broken, draw, {})
    with pytest.raises(ValueError, match="missing"):
        _individual(tm, data, draw.drop("r"), {})
