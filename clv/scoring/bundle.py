"""The model bundle file of ``clv fit`` (JSON), read by ``clv score`` and the Spark job.

A bundle is one JSON document written by :func:`clv.persistence.write_model_json`
with ``model = "ClvBundle"``; it holds the transaction model's and the spend
model's own model documents, the time unit, the column mapping and a
fingerprint of the training data; a bundle fitted with CX covariates (``clv fit
--cx-events``) also holds a ``features`` section (:mod:`clv.cli.cx_features`),
checked here when the bundle is read.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib
import json
import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from clv.data.schema import TIME_UNITS
from clv.exceptions import ModelFileError
from clv.models.registry import cli_models, models_of_kind
from clv.persistence import read_model_json, write_model_json

if TYPE_CHECKING:
    from clv.cx import FeatureBuilder

__all__ = [
    "BUNDLE_MODEL",
    "Bundle",
    "InputOutputError",
    "TRANSACTION_MODELS",
    "builder_from_section",
    "check_section",
    "check_spend_q",
    "file_sha256",
    "read_bundle",
    "write_bundle",
]

BUNDLE_MODEL = "ClvBundle"

#: ``--model`` names -> (module, class) of the transaction models (from the registry).
TRANSACTION_MODELS: dict[str, tuple[str, str]] = {
    cli: (e.module, e.name) for cli, e in cli_models().items()
}
#: Model classes a bundle may contain, by the name stored in their documents.
_MODEL_CLASSES: dict[str, tuple[str, str]] = {
    e.name: (e.module, e.name) for e in cli_models().values()
} | {name: (e.module, e.name) for name, e in models_of_kind("spend", time_varying=False).items()}
_SECTION_KEYS = (
    "builder",
    "purchase_covariates",
    "dropout_covariates",
    "spend_covariates",
    "cutoff",
)


class InputOutputError(OSError):
    """A file cannot be read or written (exit code 5)."""


def json_ready(value: Any) -> Any:
    """Turn a structure of NumPy/pandas scalars into JSON-ready Python values."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (pd.Timestamp, _dt.date)):
        return value.isoformat()
    return value


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------- bundles
@dataclass
class Bundle:
    """A fitted transaction model and optional spend model, with what scoring needs.

    Attributes
    ----------
    transaction_model : TransactionModel
        BG/NBD, MBG/NBD or Pareto/NBD.
    spend_model : SpendModel or None
        Gamma-Gamma, when the training data had a value column.
    time_unit : str
        Period of the models' parameters (``"W"``...).
    columns : dict
        ``customer_col``, ``date_col``, ``value_col`` of the training data.
    training : dict
        ``fingerprint``, ``observation_end``, ``n_rows``, ``n_customers``.
    sha256 : str
        Hash of the bundle file (set when read from disk).
    features : dict or None
        CX covariates (``clv fit --cx-events``): the fitted feature builder's
        state, the covariate column lists and the cutoff (see
        :mod:`clv.cli.cx_features`); ``None`` for a plain bundle. Optional for
        readers: plain bundles have no such key and are written as before.
    """

    transaction_model: Any
    spend_model: Any
    time_unit: str
    columns: dict[str, str | None]
    training: dict[str, Any] = field(default_factory=dict)
    sha256: str | None = None
    features: dict[str, Any] | None = None


def _model_document(model: Any) -> dict[str, Any]:
    """The model's own JSON document (what ``model.to_json`` writes)."""
    with tempfile.TemporaryDirectory(prefix="clv-") as tmpdir:
        target = Path(tmpdir) / "model.json"
        model.to_json(target)
        return json.loads(target.read_text(encoding="utf-8"))


#: Model classes allowed in each role of a bundle.
_ROLE_CLASSES = {
    "transaction model": frozenset(cls for _, cls in TRANSACTION_MODELS.values()),
    "spend model": frozenset({"GammaGammaModel"}),
}


def _short(value: Any, limit: int = 80) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _model_from_document(document: Any, path: Path, role: str) -> Any:
    if not isinstance(document, dict) or "model" not in document:
        raise ModelFileError(
            f"'{path}' is a damaged model bundle: its {role} is not a model "
            "document. Refit with `clv fit`."
        )
    name = document["model"]
    if not isinstance(name, str) or name not in _MODEL_CLASSES:
        raise ModelFileError(
            f"'{path}' holds a {role} of unknown kind {_short(repr(name))}; "
            f"this clv knows {', '.join(sorted(_MODEL_CLASSES))}."
        )
    if name not in _ROLE_CLASSES[role]:
        raise ModelFileError(
            f"'{path}' is a damaged model bundle: its {role} is a {name}, "
            f"which cannot be one ({role}s are "
            f"{', '.join(sorted(_ROLE_CLASSES[role]))}). Refit with `clv fit`."
        )
    module, cls_name = _MODEL_CLASSES[name]
    cls = getattr(importlib.import_module(module), cls_name)
    with tempfile.TemporaryDirectory(prefix="clv-") as tmpdir:
        staged = Path(tmpdir) / "model.json"
        staged.write_text(json.dumps(document), encoding="utf-8")
        try:
            model = cls.from_json(staged)
        except ModelFileError as exc:
            raise ModelFileError(
                f"'{path}' ({role}): {str(exc).replace(str(staged), 'model')}"
            ) from None
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ModelFileError(
                f"'{path}' is a damaged model bundle: its {role} cannot be "
                f"read ({_short(exc, 300)}). Refit with `clv fit`."
            ) from None
    params = getattr(model, "params_", None)
    if params is not None:
        values = np.asarray(params, dtype=np.float64)
        # base parameters are positive; covariate coefficients ("purchase[col]") any finite value
        bad = [
            str(k)
            for k, v in zip(params.index, values, strict=True)
            if not (math.isfinite(v) and (v > 0 or "[" in str(k)))
        ]
        if bad:
            raise ModelFileError(
                f"'{path}' is a damaged model bundle: its {role} has parameters "
                f"that are not finite and positive ({', '.join(bad)}). Refit "
                "with `clv fit`."
            )
    return model


def check_spend_q(q: np.ndarray, path: str | os.PathLike[str]) -> None:
    """Refuse a Gamma-Gamma spend model (or draws) with ``q <= 1`` (ModelFileError, exit 5).

    Its mean spend ``p v / (q - 1)`` is infinite, so one-time buyers would get
    no finite expected spend or CLV.
    """
    bad = ~(np.asarray(q, dtype=np.float64) > 1.0)
    if bad.any():
        share = f"{int(bad.sum())} of {bad.size} draws of " if bad.size > 1 else ""
        raise ModelFileError(
            f"'{path}': {share}the spend model's q are <= 1: the mean spend p*v/(q-1) is "
            "infinite (a very heavy right tail of customer mean spend), so expected spend and "
            "CLV of one-time buyers are undefined. Check monetary_value for outliers, or cap "
            "it, and refit."
        )


def write_bundle(bundle: Bundle, path: str | os.PathLike[str]) -> None:
    """Write a model bundle atomically with :func:`clv.persistence.write_model_json`."""
    payload = {
        "time_unit": bundle.time_unit,
        "columns": bundle.columns,
        "training": json_ready(bundle.training),
        "transaction_model": _model_document(bundle.transaction_model),
        "spend_model": (
            None if bundle.spend_model is None else _model_document(bundle.spend_model)
        ),
    }
    if bundle.features is not None:
        payload["features"] = json_ready(bundle.features)
    try:
        write_model_json(path, BUNDLE_MODEL, payload)
    except OSError as exc:
        raise InputOutputError(f"cannot write '{path}': {exc.strerror or exc}.") from None


def read_bundle(path: str | os.PathLike[str]) -> Bundle:
    """Read a model bundle written by ``clv fit``.

    Raises
    ------
    ModelFileError
        If the file is missing, not JSON, of another schema version, holds a
        single model or something else than a bundle, or is damaged (exit code 5).
    """
    path = Path(path)
    if path.is_dir():
        raise ModelFileError(
            f"model file '{path}' is a directory; pass the .json written by `clv fit --out`."
        )
    try:
        document = read_model_json(path)
    except OSError as exc:
        raise ModelFileError(f"cannot read model file '{path}': {exc.strerror or exc}.") from None
    kind = document.get("model")
    if kind != BUNDLE_MODEL:
        hint = (
            f" It holds a single {kind}; `clv score` needs the bundle written by `clv fit`"
            " (transaction and spend model together)."
            if isinstance(kind, str) and kind in _MODEL_CLASSES
            else ""
        )
        raise ModelFileError(
            f"'{path}' is not a clv model bundle (model = "
            f"{_short(repr(kind))}).{hint} Write one with `clv fit ... "
            "--out model.json`."
        )
    try:
        time_unit = document["time_unit"]
        columns = dict(document["columns"])
        training = dict(document.get("training") or {})
        tm_doc = document["transaction_model"]
        sm_doc = document.get("spend_model")
        features = document.get("features")
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(
            f"'{path}' is a damaged model bundle (missing {exc}). Refit with `clv fit`."
        ) from None
    if not isinstance(time_unit, str) or not isinstance(columns.get("customer_col"), str):
        raise ModelFileError(
            f"'{path}' is a damaged model bundle (time_unit or columns). Refit with `clv fit`."
        )
    if not known_unit(time_unit):
        raise ModelFileError(
            f"'{path}' is a damaged model bundle: time_unit {time_unit!r} is "
            f"not one of {', '.join(TIME_UNITS)} or a multiple (7D). Refit "
            "with `clv fit`."
        )
    transaction_model = _model_from_document(tm_doc, path, "transaction model")
    spend_model = None if sm_doc is None else _model_from_document(sm_doc, path, "spend model")
    unit = getattr(transaction_model, "time_unit_", None)
    if unit is not None and str(unit) != time_unit:
        raise ModelFileError(
            f"'{path}' is a damaged model bundle: its transaction model was "
            f"fitted in periods of {unit!r} but the bundle says {time_unit!r}. "
            "Refit with `clv fit`."
        )
    if spend_model is not None:
        check_spend_q(np.asarray([float(spend_model.params_["q"])]), path)
    if features is not None:
        features = check_section(features, path)
    return Bundle(
        transaction_model, spend_model, time_unit, columns, training, file_sha256(path), features
    )


def check_section(section: Any, path: Path) -> dict[str, Any]:
    """Check a bundle's ``features`` section and its builder; raise :class:`ModelFileError`."""
    damaged = f"'{path}' is a damaged model bundle: its features section"
    if not isinstance(section, dict) or any(k not in section for k in _SECTION_KEYS):
        raise ModelFileError(
            f"{damaged} lacks one of {', '.join(_SECTION_KEYS)}. Refit with `clv fit --cx-events`."
        )
    for key in _SECTION_KEYS[1:4]:
        value = section[key]
        if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
            raise ModelFileError(
                f"{damaged} has a bad {key} (a list of column names is "
                "expected). Refit with `clv fit --cx-events`."
            )
    builder = builder_from_section(section, path)
    names = set(builder.feature_names_)
    unknown = sorted({c for k in _SECTION_KEYS[1:4] for c in section[k]} - names)
    if unknown:
        raise ModelFileError(
            f"{damaged} uses covariates {unknown} that its feature builder does "
            "not make. Refit with `clv fit --cx-events`."
        )
    return section


def builder_from_section(section: Mapping[str, Any], path: Path | str) -> FeatureBuilder:
    """The fitted :class:`~clv.cx.FeatureBuilder` stored in a ``features`` section."""
    from clv.cx import FeatureBuilder
    from clv.exceptions import NotFittedError

    try:
        builder = FeatureBuilder.from_dict(section["builder"])
        builder.feature_names_  # noqa: B018 - raises when the stored builder is not fitted
    except (ModelFileError, NotFittedError, KeyError, TypeError) as exc:
        raise ModelFileError(
            f"'{path}' is a damaged model bundle: its feature builder cannot be "
            f"read ({exc}). Refit with `clv fit --cx-events`."
        ) from None
    return builder


def known_unit(time_unit: object) -> bool:
    """Whether a model file's time unit is one ``clv fit`` writes (D, W, M, Q, Y or a multiple)."""
    from clv._units import parse_time_unit

    try:
        return parse_time_unit(time_unit).base in TIME_UNITS
    except ValueError:
        return False
