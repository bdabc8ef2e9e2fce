"""One definition of each prediction-error metric (clv.holdout.prediction_errors)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from clv.holdout import mean_absolute_percentage_error, prediction_errors


def test_prediction_errors_by_hand():
    out = prediction_errors([0.0, 2.0, 4.0], [1.0, 2.0, 2.0])
    assert out["mae"] == pytest.approx(1.0)
    assert out["rmse"] == pytest.approx(math.sqrt(5.0 / 3.0))
    assert out["total_error_pct"] == pytest.approx(100 * (5.0 - 6.0) / 6.0)
    assert out["correlation"] == pytest.approx(np.corrcoef([0, 2, 4], [1, 2, 2])[0, 1])


def test_degenerate_inputs_give_none_or_nan_not_warnings():
    out = prediction_errors([0.0, 0.0], [0.5, 0.5])
    assert out["total_error_pct"] is None and out["correlation"] is None
    assert math.isnan(mean_absolute_percentage_error([0.0, 0.0], [1.0, 2.0]))


def test_cli_evaluate_uses_the_same_metrics():
    from clv.cli.evaluate import holdout_metrics

    a, p = [0.0, 1.0, 3.0, 7.0], [0.4, 1.5, 2.0, 6.0]
    assert holdout_metrics(a, p) == prediction_errors(a, p)
