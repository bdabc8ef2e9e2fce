"""Posterior model files of ``clv fit --bayes``: one netCDF file, read without PyMC.

Layout (netCDF-4/HDF5, written with ``h5netcdf``)::

    /                        no variables; attributes:
        model                 "ClvPosteriorBundle"
        schema_version        POSTERIOR_SCHEMA_VERSION
        clv_version           version of clv that wrote the file
        time_unit             period of the parameters ("W", ...)
        transaction_model     class name, e.g. "BetaGeoModel"
        spend_model           "GammaGammaModel" or ""
        method                "nuts", "map" or "advi"
        columns_json          {"customer_col", "date_col", "value_col"} as JSON
        training_json         fingerprint, observation_end, n_rows, n_customers, ... as JSON
    /transaction_posterior   one variable per parameter, dims (chain, draw)
    /spend_posterior         the same for Gamma-Gamma (absent without a value column)

Each posterior group is the ``posterior`` group of the :mod:`clv.bayes`
model, with that model's attributes (``model``, ``clv_schema_version``,
``priors_json``, ``method``...), so :func:`load_posterior_models` rebuilds the
:mod:`clv.bayes` models with :meth:`~clv.bayes.BayesModel.from_idata`.

Reading a file for scoring (:func:`read_posterior_bundle`) needs only xarray,
h5netcdf and NumPy: ``clv score`` never imports PyMC, PyTensor or ArviZ.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from clv._version import __version__
from clv.data.schema import TIME_UNITS
from clv.exceptions import ModelFileError
from clv.models.registry import cli_models, models_of_kind
from clv.persistence import atomic_write
from clv.scoring.bundle import known_unit

__all__ = [
    "POSTERIOR_MODEL",
    "POSTERIOR_SCHEMA_VERSION",
    "PosteriorBundle",
    "PosteriorDraws",
    "is_netcdf",
    "load_posterior_models",
    "read_posterior_bundle",
    "write_posterior_bundle",
]

POSTERIOR_MODEL = "ClvPosteriorBundle"
POSTERIOR_SCHEMA_VERSION = 1
"""Version of the layout above; a file of another version is refused (exit code 5)."""

#: Posterior classes ``clv score`` can score -> the module of their pure functions.
SCORABLE: dict[str, str] = {e.name: e.module for e in cli_models().values() if e.cli_bayes}
SPEND_MODELS: dict[str, str] = {
    name: e.module for name, e in models_of_kind("spend", time_varying=False).items()
}
_GROUPS = {"transaction": "transaction_posterior", "spend": "spend_posterior"}
_NC_SUFFIXES = (".nc", ".nc4", ".netcdf")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_CDF_MAGIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05")


@dataclass
class PosteriorDraws:
    """Posterior draws of one model.

    Attributes
    ----------
    model : str
        Class name (``"BetaGeoModel"``, ``"GammaGammaModel"``...).
    params : dict of str to ndarray
        Parameter name -> draws of shape ``(chains, draws)``, in the order of
        the model's parameter tuple.
    attrs : dict
        The :mod:`clv.bayes` attributes of the group (priors, method...).
    """

    model: str
    params: dict[str, np.ndarray]
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """``(chains, draws)``."""
        first = next(iter(self.params.values()))
        return int(first.shape[0]), int(first.shape[1])


@dataclass
class PosteriorBundle:
    """A posterior model file: what ``clv score`` needs, in plain NumPy.

    Same attributes as :class:`clv.scoring.bundle.Bundle` (``columns``, ``time_unit``,
    ``training``, ``sha256``); the models are :class:`PosteriorDraws`.
    """

    transaction_model: PosteriorDraws
    spend_model: PosteriorDraws | None
    time_unit: str
    columns: dict[str, str | None]
    training: dict[str, Any] = field(default_factory=dict)
    method: str = "nuts"
    sha256: str | None = None


def is_netcdf(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is (or is named as) a netCDF file: HDF5/CDF signature or ``.nc``.

    Examples
    --------
    >>> is_netcdf("missing-model.nc"), is_netcdf("missing-model.json")
    (True, False)
    """
    target = Path(path)
    if target.suffix.lower() in _NC_SUFFIXES:
        return True
    try:
        with target.open("rb") as fh:
            head = fh.read(8)
    except OSError:
        return False
    return head == _HDF5_MAGIC or head[:4] in _CDF_MAGIC


# ---------------------------------------------------------------------- checksum
#: Root attributes covered by the content checksum.
_CHECKED_ATTRS = (
    "model",
    "schema_version",
    "time_unit",
    "transaction_model",
    "spend_model",
    "method",
    "columns_json",
    "training_json",
)


def posterior_checksum(attrs: dict[str, Any], groups: dict[str, dict[str, np.ndarray]]) -> str:
    """SHA-256 of a posterior file's content: root attributes and every draw.

    ``groups`` maps the group name to its parameters' draws (any order; the
    names are sorted). Written as the root attribute ``content_sha256`` and
    verified when the file is read, so flipped bytes in the draws (which
    HDF5 does not notice) are refused instead of scored.
    """
    import hashlib

    digest = hashlib.sha256()
    for key in _CHECKED_ATTRS:
        digest.update(f"{key}={attrs.get(key, '')}\x00".encode("utf-8", "surrogateescape"))
    for group in sorted(groups):
        for name in sorted(groups[group]):
            values = np.ascontiguousarray(np.asarray(groups[group][name], dtype="<f8"))
            digest.update(f"{group}/{name}{values.shape}\x00".encode())
            digest.update(values.tobytes())
    return "sha256:" + digest.hexdigest()


# ---------------------------------------------------------------------- writing
def _posterior_dataset(model: Any) -> Any:
    """The posterior group of a fitted :mod:`clv.bayes` model, with its attributes."""
    post = model.idata_.posterior
    names = list(model.param_names())
    if any("segment" in post[n].dims for n in names):
        raise ValueError("posterior files hold models without segments")
    ds = post[names].load()
    ds.attrs = {
        str(k): v
        for k, v in dict(model.idata_.attrs).items()
        if isinstance(v, (str, int, float, np.integer, np.floating))
    }
    return ds


def write_posterior_bundle(
    transaction_model: Any,
    spend_model: Any,
    path: str | os.PathLike[str],
    *,
    time_unit: str,
    columns: dict[str, str | None],
    training: dict[str, Any],
) -> None:
    """Write fitted :mod:`clv.bayes` models to one netCDF file, atomically.

    Parameters
    ----------
    transaction_model : clv.bayes.BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel or NBDModel
        Fitted (any method).
    spend_model : clv.bayes.GammaGammaModel or None
        Fitted spend model, if any.
    path : path-like
        Destination (``.nc``); its directory must exist.
    time_unit : str
        Period of the parameters.
    columns, training : dict
        Column mapping and training-data description (JSON-serialisable).
    """
    import xarray as xr

    from clv.scoring.bundle import InputOutputError, json_ready

    root = xr.Dataset(
        attrs={
            "model": POSTERIOR_MODEL,
            "schema_version": POSTERIOR_SCHEMA_VERSION,
            "clv_version": __version__,
            "time_unit": time_unit,
            "transaction_model": type(transaction_model).__name__,
            "spend_model": "" if spend_model is None else type(spend_model).__name__,
            "method": str(getattr(transaction_model, "method_", "")),
            "columns_json": json.dumps(json_ready(columns), sort_keys=True),
            "training_json": json.dumps(json_ready(training), sort_keys=True),
        }
    )
    target = Path(path)
    datasets = {_GROUPS["transaction"]: _posterior_dataset(transaction_model)}
    if spend_model is not None:
        datasets[_GROUPS["spend"]] = _posterior_dataset(spend_model)
    root.attrs["content_sha256"] = posterior_checksum(
        root.attrs, {g: {str(n): ds[n].values for n in ds.data_vars} for g, ds in datasets.items()}
    )
    try:
        with tempfile.TemporaryDirectory(prefix="clv-") as tmpdir:
            staged = Path(tmpdir) / "model.nc"
            root.to_netcdf(staged, mode="w", engine="h5netcdf")
            for group, ds in datasets.items():
                ds.to_netcdf(staged, mode="a", group=group, engine="h5netcdf")
            with staged.open("rb") as src, atomic_write(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    except OSError as exc:
        raise InputOutputError(f"cannot write '{target}': {exc.strerror or exc}.") from None


# ---------------------------------------------------------------------- reading
def _open(path: Path, group: str | None) -> Any:
    import xarray as xr

    try:
        with xr.open_dataset(path, group=group, engine="h5netcdf") as ds:
            return ds.load()
    except FileNotFoundError:
        raise ModelFileError(f"model file '{path}' does not exist. Check --model.") from None
    except OSError as exc:
        if group is not None and ("group" in str(exc).lower() or "not found" in str(exc).lower()):
            raise ModelFileError(
                f"'{path}' is a damaged posterior model file: it has no "
                f"'{group}' group. Refit with `clv fit --bayes`."
            ) from None
        raise ModelFileError(
            f"'{path}' is not a readable netCDF file ({_short(exc)}); it may "
            "be truncated or damaged. Refit with `clv fit --bayes`."
        ) from None
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise ModelFileError(
            f"'{path}' is not a readable netCDF model file ({_short(exc)}). "
            "Refit with `clv fit --bayes`."
        ) from None


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _json_attr(attrs: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    from clv.persistence import MAX_MODEL_DEPTH, _nesting_depth

    try:
        text = attrs[key]
        if (
            not isinstance(text, str)
            or len(text) > 2**20
            or _nesting_depth(text.encode("utf-8", "surrogateescape")) > MAX_MODEL_DEPTH
        ):
            raise TypeError(key)
        value = json.loads(text)
        if not isinstance(value, dict):
            raise TypeError(key)
        return value
    except (KeyError, TypeError, ValueError, RecursionError):
        raise ModelFileError(
            f"'{path}' is a damaged posterior model file (attribute '{key}'). "
            "Refit with `clv fit --bayes`."
        ) from None


def _draws(
    path: Path, group: str, expected: str, known: dict[str, str], role: str
) -> tuple[PosteriorDraws, dict[str, np.ndarray]]:
    """The draws ``clv score`` uses, and every variable of the group (for the checksum)."""
    import importlib

    ds = _open(path, group)
    attrs = dict(ds.attrs)
    all_draws = {str(n): np.asarray(ds[n].values) for n in ds.data_vars}
    name = attrs.get("model")
    if name != expected:
        raise ModelFileError(
            f"'{path}' is a damaged posterior model file: its {role} group "
            f"holds {name!r}, the file says {expected!r}. Refit with "
            "`clv fit --bayes`."
        )
    if expected not in known:
        raise ModelFileError(
            f"'{path}' holds a {expected} {role} posterior; `clv score` scores {', '.join(known)}."
        )
    spec = importlib.import_module(known[expected]).SPEC
    params: dict[str, np.ndarray] = {}
    for p in spec.params._fields:
        if p not in ds.variables or tuple(ds[p].dims) != ("chain", "draw"):
            raise ModelFileError(
                f"'{path}' is a damaged posterior model file: the {role} "
                f"posterior has no draws of '{p}' with dims (chain, draw). "
                "Refit with `clv fit --bayes`."
            )
        values = np.asarray(ds[p].values, dtype=np.float64)
        bad = ~(np.isfinite(values) & (values > 0))
        if values.size == 0 or bad.any():
            raise ModelFileError(
                f"'{path}' is a damaged posterior model file: the {role} draws "
                f"of '{p}' are empty or not all finite and positive. Refit "
                "with `clv fit --bayes`."
            )
        params[p] = values
    return PosteriorDraws(expected, params, attrs), all_draws


def read_posterior_bundle(path: str | os.PathLike[str]) -> PosteriorBundle:
    """Read a posterior model file written by ``clv fit --bayes`` (no PyMC needed).

    Raises
    ------
    ModelFileError
        If the file is missing, not netCDF, truncated or damaged, not a clv
        posterior model file (e.g. a single :mod:`clv.bayes` posterior or a
        foreign netCDF), of another schema version, or of a model ``clv
        score`` cannot score (exit code 5).
    """
    from clv.scoring.bundle import file_sha256

    path = Path(path)
    if path.is_dir():
        raise ModelFileError(
            f"model file '{path}' is a directory; pass the .nc written by "
            "`clv fit --bayes ... --out model.nc`."
        )
    if path.suffix.lower() not in _NC_SUFFIXES:
        raise ModelFileError(
            f"'{path}' holds a netCDF posterior but is named "
            f"'{path.suffix or '(no extension)'}'; posterior model files end "
            "with .nc. Rename it, or pass the JSON bundle written by `clv fit`."
        )
    root = _open(path, None)
    attrs = dict(root.attrs)
    kind = attrs.get("model")
    if kind != POSTERIOR_MODEL:
        if "clv_schema_version" in attrs and kind is not None:
            hint = (
                f" It holds a single {kind} posterior (saved with to_netcdf); `clv score` "
                "needs the file written by `clv fit --bayes`."
            )
        else:
            hint = " It is not a clv model file."
        raise ModelFileError(
            f"'{path}' is not a clv posterior model file (model = "
            f"{kind!r}).{hint} Write one with `clv fit ... --bayes nuts --out "
            "model.nc`."
        )
    try:
        version = int(attrs["schema_version"])
    except (KeyError, TypeError, ValueError):
        raise ModelFileError(
            f"'{path}' is a damaged posterior model file (no schema_version). "
            "Refit with `clv fit --bayes`."
        ) from None
    if version != POSTERIOR_SCHEMA_VERSION:
        raise ModelFileError(
            f"'{path}' has posterior model schema version {version}, but this clv "
            f"({__version__}) reads version {POSTERIOR_SCHEMA_VERSION}. Refit with `clv fit "
            f"--bayes`, or score with the clv version that wrote it "
            f"({attrs.get('clv_version', 'unknown')})."
        )
    time_unit = attrs.get("time_unit")
    if not known_unit(time_unit):
        raise ModelFileError(
            f"'{path}' is a damaged posterior model file: time_unit "
            f"{time_unit!r} is not one of {', '.join(TIME_UNITS)}. Refit with "
            "`clv fit --bayes`."
        )
    columns = _json_attr(attrs, "columns_json", path)
    training = _json_attr(attrs, "training_json", path)
    if not isinstance(columns.get("customer_col"), str):
        raise ModelFileError(
            f"'{path}' is a damaged posterior model file (columns). Refit with `clv fit --bayes`."
        )
    transaction, transaction_draws = _draws(
        path,
        _GROUPS["transaction"],
        str(attrs.get("transaction_model")),
        SCORABLE,
        "transaction model",
    )
    groups = {_GROUPS["transaction"]: transaction_draws}
    spend_name = str(attrs.get("spend_model") or "")
    spend = None
    if spend_name:
        spend, groups[_GROUPS["spend"]] = _draws(
            path, _GROUPS["spend"], spend_name, SPEND_MODELS, "spend model"
        )
    stored = attrs.get("content_sha256")
    if stored is not None and posterior_checksum(attrs, groups) != stored:
        raise ModelFileError(
            f"'{path}' is damaged or was edited after clv wrote it: its "
            "draws or attributes do not match its checksum. Refit with `clv "
            "fit --bayes`, or restore the file."
        )
    if spend is not None:
        from clv.scoring.bundle import check_spend_q

        check_spend_q(spend.params["q"].ravel(), path)
        n_tx, n_sp = math.prod(transaction.shape), math.prod(spend.shape)
        if n_tx != n_sp and 1 not in (n_tx, n_sp):
            raise ModelFileError(
                f"'{path}' is a damaged posterior model file: {n_tx} "
                f"transaction draws but {n_sp} spend draws. Refit with `clv "
                "fit --bayes`."
            )
    return PosteriorBundle(
        transaction,
        spend,
        str(time_unit),
        columns,
        training,
        method=str(attrs.get("method", "")),
        sha256=file_sha256(path),
    )


def load_posterior_models(path: str | os.PathLike[str]) -> tuple[Any, Any]:
    """The :mod:`clv.bayes` models of a posterior model file (imports PyMC).

    Returns
    -------
    transaction_model, spend_model
        Fitted :mod:`clv.bayes` models (``spend_model`` is None without a
        spend posterior), e.g. for :func:`clv.bayes.customer_lifetime_value`.
    """
    import arviz as az

    import clv.bayes

    bundle = read_posterior_bundle(path)
    out: list[Any] = []
    for draws in (bundle.transaction_model, bundle.spend_model):
        if draws is None:
            out.append(None)
            continue
        cls = getattr(clv.bayes, draws.model)
        ds = _open(
            Path(path), _GROUPS["transaction" if draws is bundle.transaction_model else "spend"]
        )
        priors = {k: (d, kw) for k, (d, kw) in json.loads(draws.attrs["priors_json"]).items()}
        model = cls.from_idata(
            az.InferenceData(posterior=ds),
            priors=priors,
            method=str(draws.attrs.get("method", "external")),
        )
        model.time_unit_ = bundle.time_unit
        out.append(model)
    return out[0], out[1]
