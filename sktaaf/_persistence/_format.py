"""The model file: written and read without running pickled code.

A model file is a ``torch.save`` archive holding only tensors, strings and
numbers: the weights, the optimizer state and the random streams as tensors,
and everything else (parameters, fitted attributes, history, library versions)
as one JSON string. It is read back with ``torch.load(weights_only=True)``,
which refuses anything else, so loading an untrusted file cannot execute code.
Parameters that are Python objects are saved by reference: classes and
functions of torch by their import path, the user's own by name (they are
passed back to ``load`` in ``custom_objects``); callbacks and the accelerator
(objects of the training run) are not saved.

Reading trusts nothing in the file: its checksum is verified first, a
reference resolves only to an entry of an explicit allow-list (the
activations, losses and optimizers of torch and the modules of
:mod:`sktaaf.nn` that each parameter may name) or of the user's
``custom_objects``, never by importing or walking attributes, and every
fitted attribute and tensor entry is checked for its type and range
(:mod:`~sktaaf._persistence._checks`).

This module knows no estimator: :func:`write_model` takes, and
:func:`read_model` returns, a :class:`SavedModel`, a plain description of a
fitted estimator. The estimators build it on save and rebuild themselves
from it on load (:mod:`sktaaf._save_load`), where the parameters also pass
``fit``'s checks and the weights' shapes are checked against the network they
describe. :func:`read_file` and :func:`write_state` are the raw file, for the
checkpoints (:mod:`~sktaaf._persistence._checkpoint`) and the commands, which
look at the metadata first and then pass what they read to
:func:`model_from_file` (the file is read once).
"""

from __future__ import annotations

import functools
import importlib
import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import sklearn
import skorch
import torch

from .. import nn as sktaaf_nn
from .._engine._scores import decode_scores, encode_scores
from .._engine._state import TrainingState, digest
from .._utils._atomic import as_path, atomic_binary_file
from .._version import __version__
from ..exceptions import ModelVersionWarning, ParameterNotSavedWarning
from ..nn import ACTIVATIONS
from ._checks import (
    GENE_SYMBOLS_FIELD,
    RUN_ONLY_PARAMS,
    TARGET_METADATA_FIELD,
    validate_metadata,
)

FORMAT = "sktaaf-model"
# Version 2 added the checksum: a file of version 2 or later must carry one.
FORMAT_VERSION = 2
# Element-wise functions a saved activation may name, besides the activation
# classes of torch.nn and sktaaf.nn.
_TORCH_FUNCTIONS = (
    "abs", "atan", "cos", "erf", "exp", "relu", "sigmoid", "sign", "sin",
    "sinh", "square", "tanh",
)  # fmt: skip
_FUNCTIONAL_ACTIVATIONS = (
    "celu", "elu", "gelu", "hardshrink", "hardsigmoid", "hardswish", "hardtanh",
    "leaky_relu", "logsigmoid", "mish", "relu", "relu6", "rrelu", "selu",
    "sigmoid", "silu", "softplus", "softshrink", "softsign", "tanh",
    "tanhshrink",
)  # fmt: skip


def _versions() -> dict:
    return {
        "sktaaf": __version__,
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "skorch": skorch.__version__,
        "numpy": np.__version__,
    }


def _encode_param(name, value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return [_encode_param(name, item) for item in value]
    if isinstance(value, dict):
        return {str(key): _encode_param(name, item) for key, item in value.items()}
    if isinstance(value, np.integer | np.floating):
        return value.item()
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, np.random.RandomState):
        warnings.warn(
            "random_state is a RandomState instance, which is saved as None.",
            ParameterNotSavedWarning,
            stacklevel=4,
        )
        return None
    if callable(value) and not isinstance(value, torch.nn.Module):
        reference = _reference_to(value)
        if reference is not None:
            return {"__reference__": reference}
    raise TypeError(
        f"Cannot save the parameter {name}={value!r} safely: only names, numbers, "
        "and classes or functions defined at module level can be saved. Pass a "
        "name or a class instead of an instance, or persist this estimator with "
        "pickle/joblib (which load only from trusted sources)."
    )


def _reference_to(function) -> str | None:
    """``"module:name"`` under which ``function`` can be imported back, if any."""
    module_name = getattr(function, "__module__", None)
    for name in (getattr(function, "__qualname__", None), function.__name__):
        if not module_name or not name or "<" in name:
            continue
        try:
            if _import(module_name, name) is function:
                return f"{module_name}:{name}"
        except (ImportError, AttributeError):
            continue
    return None


def _import(module_name: str, qualname: str):
    target = importlib.import_module(module_name)
    for attribute in qualname.split("."):
        target = getattr(target, attribute)
    return target


@functools.cache
def _allowed_references() -> dict[str, dict[str, object]]:
    """The classes and functions each parameter may name in a model file, by
    the reference under which :func:`_encode_param` saves them."""
    activation_classes = torch.nn.modules.activation
    activations = [
        *(("torch.nn", value) for value in ACTIVATIONS.values()),
        *(
            ("torch.nn", getattr(activation_classes, name))
            for name in activation_classes.__all__
            if name != "MultiheadAttention"
        ),
        *(
            ("sktaaf.nn", getattr(sktaaf_nn, name))
            for name in sktaaf_nn.__all__
            if isinstance(getattr(sktaaf_nn, name), type)
        ),
        *(("torch", getattr(torch, name)) for name in _TORCH_FUNCTIONS),
        *(
            ("torch.nn.functional", getattr(torch.nn.functional, name))
            for name in _FUNCTIONAL_ACTIVATIONS
        ),
    ]
    losses = [
        ("torch.nn", getattr(torch.nn.modules.loss, name))
        for name in torch.nn.modules.loss.__all__
    ]
    optimizers = [
        ("torch.optim", value)
        for value in vars(torch.optim).values()
        if isinstance(value, type)
        and issubclass(value, torch.optim.Optimizer)
        and value is not torch.optim.Optimizer
    ]

    def by_reference(entries):
        """Each object under the reference save gives it with this torch, and
        under its public path (the same object may live elsewhere in another
        version of torch)."""
        references = {}
        for public_module, value in entries:
            references[f"{public_module}:{value.__name__}"] = value
            reference = _reference_to(value)
            if reference is not None:
                references[reference] = value
        return references

    activations = by_reference(activations)
    return {
        "activation": activations,
        "output_activation": activations,
        "loss": by_reference(losses),
        "optimizer": by_reference(optimizers),
    }


def _decode_params(params: dict, custom_objects: dict) -> dict:
    """The parameters saved as ``params``, references resolved safely."""
    if not isinstance(custom_objects, dict):
        raise TypeError(
            "custom_objects must be a dict mapping names to your classes and "
            f"functions; got {type(custom_objects).__name__}."
        )
    allowed = _allowed_references()
    return {
        name: _decode_param(name, value, custom_objects, allowed.get(name, {}))
        for name, value in params.items()
    }


def _decode_param(name, value, custom_objects, allowed):
    # References inside lists and dicts (e.g. optimizer_kwargs) can only be
    # the user's own: no torch object is allowed there.
    if isinstance(value, list):
        return [_decode_param(name, item, custom_objects, {}) for item in value]
    if isinstance(value, dict) and set(value) == {"__reference__"}:
        return _resolve_reference(name, value["__reference__"], custom_objects, allowed)
    if isinstance(value, dict):
        return {
            key: _decode_param(name, item, custom_objects, {})
            for key, item in value.items()
        }
    return value


def _resolve_reference(name: str, reference, custom_objects: dict, allowed: dict):
    """The object ``reference`` names: the user's, from ``custom_objects``, or
    one of the ``allowed`` ones; nothing is imported."""
    if not isinstance(reference, str):
        raise ValueError(
            f"The model's parameter {name!r} holds a damaged reference, "
            f"{reference!r}; expected a 'module:name' string."
        )
    qualname = reference.partition(":")[2]
    for key in (reference, qualname):
        if key in custom_objects:
            return custom_objects[key]
    if reference in allowed:
        return allowed[reference]
    raise ValueError(
        f"The model's parameter {name!r} refers to {reference!r}, which is not "
        f"one of the torch and sktaaf classes and functions that load accepts for "
        f"{name!r}. If it is your own, pass it yourself: load(path, "
        f"custom_objects={{{qualname!r}: ...}})."
    )


#: The fitted attributes a model file records, in the order it records them
#: (besides ``best_epoch_`` and ``n_iter_``, which come with the training
#: state, and ``target_scores_``).
FITTED_ATTRIBUTES = (
    "n_features_in_",
    "feature_names_in_",
    "n_outputs_",
    "target_names_",
    "target_is_1d",
    "n_samples_fit_",
    "device_",
)


@dataclass
class SavedModel:
    """What a model file holds, as plain data: the description an estimator
    gives :func:`write_model` and rebuilds itself from after
    :func:`read_model`.

    Attributes
    ----------
    class_name : str
        The estimator's class name.
    params : dict
        The estimator's parameters (``get_params(deep=False)``). Written with
        references for classes and functions and None for the run-only
        parameters (:data:`~sktaaf._persistence._checks.RUN_ONLY_PARAMS`);
        read back with references resolved and the parameters that older
        files lack filled in.
    fitted : dict
        The fitted attributes of :data:`FITTED_ATTRIBUTES` as JSON values:
        counts, lists of names (or None), ``target_is_1d`` (a bool: predict
        returns 1-D predictions) and ``device_``; ``n_samples_fit_`` and
        ``target_names_`` are None when older files lack them.
    state : TrainingState or None
        The weights, optimizer state, history, random streams and best epoch
        (None only in the description a checkpoint starts from, whose state
        comes from the net after every epoch).
    target_scores : pandas.DataFrame or None
        ``target_scores_``. A checkpoint records none (they are computed when
        training has ended).
    gene_symbols : dict or None
        ``{"landmarks": [...], "targets": [...]}``, written by ``sktaaf fit``.
    target_row_metadata : dict or None
        ``{field: [one value per target]}``, written by ``sktaaf fit``.
    checkpoint : dict or None
        ``{"fingerprint": ...}`` in a checkpoint of ``checkpoint_dir``.
    versions : dict
        The library versions the file was written with (read back; a written
        file records those of the writing process).
    """

    class_name: str
    params: dict
    fitted: dict
    state: TrainingState | None = None
    target_scores: object = None
    gene_symbols: dict | None = None
    target_row_metadata: dict | None = None
    checkpoint: dict | None = None
    versions: dict = field(default_factory=dict)


def encode_metadata(model: SavedModel) -> dict:
    """What the file of ``model`` says besides its tensors and training state:
    format, class, versions, parameters and fitted attributes, as JSON values.

    Warns (:class:`~sktaaf.exceptions.ParameterNotSavedWarning`) when a
    parameter is saved as None; raises a TypeError when one cannot be saved.
    """
    params = {
        name: None if name in RUN_ONLY_PARAMS else _encode_param(name, value)
        for name, value in model.params.items()
    }
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": model.class_name,
        "versions": _versions(),
        "params": params,
        "fitted": {name: model.fitted[name] for name in FITTED_ATTRIBUTES},
    }
    if model.checkpoint is None:
        metadata["fitted"]["target_scores_"] = encode_scores(model.target_scores)
    else:
        metadata["checkpoint"] = model.checkpoint
    if model.gene_symbols is not None:
        metadata[GENE_SYMBOLS_FIELD] = model.gene_symbols
    if model.target_row_metadata is not None:
        metadata[TARGET_METADATA_FIELD] = model.target_row_metadata
    return metadata


def write_model(path, model: SavedModel) -> None:
    """Write ``model`` (with its training state) to ``path``, atomically."""
    write_state(path, encode_metadata(model), model.state)


def write_state(path, metadata: dict, state: TrainingState) -> None:
    """Write a model file: ``metadata`` (see :func:`encode_metadata`) plus
    the training ``state``, and the SHA-256 checksum of both, which
    :func:`read_file` checks."""
    tensors, state_metadata = state.to_payload()
    metadata = {
        **metadata,
        **state_metadata,
        "fitted": {**metadata["fitted"], **state_metadata["fitted"]},
    }
    payload = {"metadata": json.dumps(metadata), **tensors}
    payload["checksum"] = digest(payload)
    with atomic_binary_file(path, "save the model to") as file:
        torch.save(payload, file)


def read_file(path) -> tuple[dict, dict]:
    """The payload and the metadata of the model file at ``path``, its
    checksum verified: a ValueError naming the file if it is unreadable or
    damaged.

    The checksum is verified before anything of the content is interpreted,
    so that damage is reported as damage (not, say, as a parameter this
    version lacks); only files of format version 1, written before files
    carried one, have none."""
    path = as_path(path, "load a model from")
    if not path.is_file():
        raise FileNotFoundError(f"No sktaaf model file at {str(path)!r}.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(payload, dict) or "metadata" not in payload:
            raise ValueError("it is not an sktaaf model")
    except Exception as exc:
        raise _unreadable(path, exc) from exc
    if "checksum" in payload:
        _check_digest(payload, path)
    try:
        metadata = json.loads(payload["metadata"])
        if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
            raise ValueError("it is not an sktaaf model")
        if not isinstance(metadata.get("format_version"), int):
            raise ValueError("it has no format version")
    except Exception as exc:
        raise _unreadable(path, exc) from exc
    if metadata["format_version"] > FORMAT_VERSION:
        raise ValueError(
            f"{str(path)!r} was saved in format version "
            f"{metadata['format_version']}, newer than this sktaaf reads "
            f"({FORMAT_VERSION}); upgrade sktaaf."
        )
    if "checksum" not in payload and metadata["format_version"] >= 2:
        raise ValueError(
            f"{str(path)!r} is damaged: it lacks the checksum that files of "
            f"format version {metadata['format_version']} carry."
        )
    return payload, metadata


def _unreadable(path, exc: Exception) -> ValueError:
    # torch's own errors may say little ("105", or nothing): name their kind.
    reason = f"{type(exc).__name__}: {exc}".rstrip(": ")
    if type(exc) is ValueError:
        reason = str(exc)
    return ValueError(
        f"{str(path)!r} is not a readable sktaaf model file (truncated, "
        f"corrupted, or another kind of file): {reason}"
    )


def _check_digest(payload: dict, path) -> None:
    """Raise a ValueError naming ``path`` if the content read from it does not
    match the checksum it was written with."""
    content = {key: value for key, value in payload.items() if key != "checksum"}
    try:
        intact = payload["checksum"] == digest(content)
    except (TypeError, ValueError):  # content no writer of ours produces
        intact = False
    if not intact:
        raise ValueError(
            f"{str(path)!r} is damaged: its content does not match the checksum "
            "it was saved with (a changed byte, or an edited file). Save or fit "
            "the model again, or use an intact copy."
        )


def check_versions(metadata, path) -> None:
    """Warn when ``metadata`` was written with other library versions."""
    now = _versions()
    differing = {
        name: (saved, now.get(name))
        for name, saved in metadata["versions"].items()
        if now.get(name) != saved
    }
    if differing:
        details = ", ".join(
            f"{name} {saved} (now {now})" for name, (saved, now) in differing.items()
        )
        warnings.warn(
            f"{str(path)!r} was saved with {details}.",
            ModelVersionWarning,
            stacklevel=5,  # the caller of load
        )


#: What reading a damaged entry raises before it is reported as damage.
_READ_ERRORS = (KeyError, AttributeError, IndexError, RuntimeError)


@contextmanager
def damage_named(path) -> Iterator[None]:
    """Report a missing or damaged entry met in the block (a KeyError,
    AttributeError, IndexError or RuntimeError) as a ValueError naming
    ``path``."""
    try:
        yield
    except _READ_ERRORS as exc:
        raise ValueError(
            f"{str(path)!r} is not a readable sktaaf model file: an entry is "
            f"missing or damaged ({type(exc).__name__}: {exc})."
        ) from exc


def read_model(path, *, class_name=None, custom_objects=None) -> SavedModel:
    """The model in the file at ``path``, every field validated.

    Parameters
    ----------
    path : str or path-like
        A model file (or a checkpoint).
    class_name : str, default=None
        The class the reader expects: a TypeError if the file holds another.
    custom_objects : dict, default=None
        The user's classes and functions the parameters may refer to, by
        name.

    Raises
    ------
    FileNotFoundError, ValueError, TypeError
        No file; an unreadable, damaged or invalid one (naming ``path``);
        another class.
    """
    payload, metadata = read_file(path)
    return model_from_file(path, payload, metadata, class_name, custom_objects)


def model_from_file(
    path, payload, metadata, class_name=None, custom_objects=None
) -> SavedModel:
    """:func:`read_model` of the ``payload`` and ``metadata`` that
    :func:`read_file` read from ``path``: for a reader that looked at the
    metadata first, so that the file is read once."""
    with damage_named(path):
        if class_name is not None and metadata["class"] != class_name:
            raise TypeError(
                f"{str(path)!r} holds a {metadata['class']}, not a {class_name}; "
                f"load it with {metadata['class']}.load."
            )
        validate_metadata(metadata, payload, path)
        check_versions(metadata, path)
        params = _decode_params(metadata["params"], custom_objects or {})
        # Parameters added since the first format: older files lack them.
        params.setdefault("standardize", False)
        params.setdefault("linear_path", None)
        if isinstance(params["hidden_layer_sizes"], list):
            params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
        saved = metadata["fitted"]
        optional = {"target_names_", "n_samples_fit_"}  # older files lack them
        fitted = {
            name: saved.get(name) if name in optional else saved[name]
            for name in FITTED_ATTRIBUTES
        }
        return SavedModel(
            class_name=metadata["class"],
            params=params,
            fitted=fitted,
            state=TrainingState.from_payload(payload, metadata, repr(str(path))),
            target_scores=decode_scores(
                saved.get("target_scores_"),
                fitted["target_names_"],
                fitted["n_outputs_"],
            ),
            gene_symbols=metadata.get(GENE_SYMBOLS_FIELD),
            target_row_metadata=metadata.get(TARGET_METADATA_FIELD),
            checkpoint=metadata.get("checkpoint"),
            versions=metadata["versions"],
        )
