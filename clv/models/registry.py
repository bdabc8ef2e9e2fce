"""The one list of clv's maximum-likelihood models.

Everything that looks a model up by name -- the model files, ``clv fit --model``,
``clv score`` bundles and posterior files, the Spark broadcast document and the
contract test of every model -- reads this registry; a new model is added here
once. Classes are imported on first use (``entry.cls``), so reading the registry
loads no model module.

Examples
--------
>>> from clv.models.registry import cli_models, model_class
>>> model_class("BetaGeoModel").__name__
'BetaGeoModel'
>>> list(cli_models())
['bgnbd', 'mbgnbd', 'pnbd', 'nbd', 'mbgcnbd', 'bgcnbd']
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["MODELS", "ModelEntry", "cli_models", "model_class", "model_entry", "models_of_kind"]

Kind = Literal["transaction", "spend", "retention", "acquisition"]


@dataclass(frozen=True)
class ModelEntry:
    """One registered model.

    Attributes
    ----------
    name : str
        Class name, also the ``model`` field of its JSON files.
    module : str
        Module that defines the class and its ``SPEC`` (pure functions).
    kind : {"transaction", "spend", "retention", "acquisition"}
        The lever it models.
    cli_name : str or None
        Its ``clv fit --model`` name (``None``: not fitted by the CLI).
    time_varying : bool
        Fits on time-varying covariate data (``clv.models.time_varying_data``
        and relatives) instead of an RFM frame; not scored from RFM files.
    cli_bayes : bool
        Whether ``clv fit --bayes`` fits it (a :mod:`clv.bayes` class of that
        name) and ``clv score`` scores its posterior model files.
    """

    name: str
    module: str
    kind: Kind
    cli_name: str | None = None
    time_varying: bool = False
    cli_bayes: bool = False

    @property
    def cls(self) -> Any:
        """The model class (its module is imported on first use)."""
        return getattr(importlib.import_module(self.module), self.name)


MODELS: tuple[ModelEntry, ...] = (
    ModelEntry("BetaGeoModel", "clv.models.bgnbd", "transaction", "bgnbd", cli_bayes=True),
    ModelEntry(
        "ModifiedBetaGeoModel", "clv.models.mbgnbd", "transaction", "mbgnbd", cli_bayes=True
    ),
    ModelEntry("ParetoNBDModel", "clv.models.pareto_nbd", "transaction", "pnbd", cli_bayes=True),
    ModelEntry("ParetoNBDCorrelatedModel", "clv.models.pareto_nbd_corr", "transaction"),
    ModelEntry("GGompertzNBDModel", "clv.models.ggompertz_nbd", "transaction"),
    ModelEntry("NBDModel", "clv.models.nbd", "transaction", "nbd", cli_bayes=True),
    ModelEntry("ModifiedBetaGeoCNBDModel", "clv.models.cnbd", "transaction", "mbgcnbd"),
    ModelEntry("BetaGeoCNBDModel", "clv.models.cnbd", "transaction", "bgcnbd"),
    ModelEntry("BetaGeoBetaBinomModel", "clv.models.bgbb", "transaction"),
    ModelEntry("GammaGammaModel", "clv.models.gamma_gamma", "spend"),
    ModelEntry("ShiftedBetaGeoModel", "clv.models.sbg", "retention"),
    ModelEntry("BetaDiscreteWeibullModel", "clv.models.bdw", "retention"),
    ModelEntry("AcquisitionModel", "clv.models.acquisition", "acquisition"),
    ModelEntry("BetaGeoDynamicModel", "clv.models.bgnbd_dyncov", "transaction", time_varying=True),
    ModelEntry(
        "ParetoNBDDynamicModel", "clv.models.pareto_nbd_dyncov", "transaction", time_varying=True
    ),
    ModelEntry(
        "ShiftedBetaGeoDynamicModel", "clv.models.sbg_dyncov", "retention", time_varying=True
    ),
    ModelEntry(
        "GammaGammaDynamicModel", "clv.models.gamma_gamma_dyncov", "spend", time_varying=True
    ),
)
_BY_NAME = {e.name: e for e in MODELS}


def model_entry(name: str) -> ModelEntry:
    """The entry of the model class called ``name``.

    Raises
    ------
    KeyError
        For a name that is not a registered model (the message lists them).
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a clv model; known: {', '.join(_BY_NAME)}.") from None


def model_class(name: str) -> Any:
    """The model class called ``name`` (see :func:`model_entry`)."""
    return model_entry(name).cls


def models_of_kind(*kinds: Kind, time_varying: bool | None = None) -> dict[str, ModelEntry]:
    """Registered models of the given kinds (all without arguments), by class name.

    ``time_varying=False`` keeps the models fitted on an RFM frame only
    (``True``: the time-varying ones only; ``None``: both).
    """
    return {
        e.name: e
        for e in MODELS
        if (not kinds or e.kind in kinds)
        and (time_varying is None or e.time_varying == time_varying)
    }


def cli_models() -> dict[str, ModelEntry]:
    """The models ``clv fit --model`` fits, by their CLI name (``"bgnbd"``...)."""
    return {e.cli_name: e for e in MODELS if e.cli_name is not None}
