"""The one model registry: every name-based look-up reads clv.models.registry."""

from __future__ import annotations

import pytest

import clv.models
from clv.models.registry import MODELS, cli_models, model_class, model_entry, models_of_kind


def test_registry_lists_every_public_model_once():
    names = [e.name for e in MODELS]
    public = [
        n
        for n in clv.models.__all__
        if isinstance(getattr(clv.models, n), type) and hasattr(getattr(clv.models, n), "fit")
    ]
    assert sorted(names) == sorted(public)
    assert len(set(names)) == len(names)
    for entry in MODELS:
        cls = entry.cls
        assert cls is getattr(clv.models, entry.name)
        assert cls.__module__ == entry.module


def test_lookups():
    assert model_class("GammaGammaModel").__name__ == "GammaGammaModel"
    assert list(cli_models()) == ["bgnbd", "mbgnbd", "pnbd", "nbd", "mbgcnbd", "bgcnbd"]
    assert set(models_of_kind("retention")) == {
        "ShiftedBetaGeoModel",
        "BetaDiscreteWeibullModel",
        "ShiftedBetaGeoDynamicModel",
    }
    with pytest.raises(KeyError, match="not a clv model"):
        model_entry("pickle")


def test_scoring_and_spark_read_the_registry():
    from clv.scoring.bundle import _MODEL_CLASSES, TRANSACTION_MODELS
    from clv.scoring.posterior import SCORABLE, SPEND_MODELS

    assert {k: (e.module, e.name) for k, e in cli_models().items()} == TRANSACTION_MODELS
    assert set(_MODEL_CLASSES) == {e.name for e in cli_models().values()} | set(SPEND_MODELS)
    assert set(SCORABLE) == {"BetaGeoModel", "ModifiedBetaGeoModel", "ParetoNBDModel", "NBDModel"}
    assert SPEND_MODELS == {"GammaGammaModel": "clv.models.gamma_gamma"}


def test_spark_document_refuses_classes_outside_the_registry():
    from clv.spark.score import model_document, models_from_document

    class NotAModel:
        pass

    with pytest.raises(TypeError, match="not a clv model"):
        model_document(NotAModel())
    doc = {"transaction_model": {"module": "os", "class": "system", "state": {}}}
    with pytest.raises(TypeError, match="refusing to load"):
        models_from_document(doc)
