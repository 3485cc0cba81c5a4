"""Saving fitted estimators to a file that loads without running pickled code.

A model file is a ``torch.save`` archive holding only tensors, strings and
numbers: the weights, the optimizer state and the random streams as tensors,
and everything else (parameters, fitted attributes, history, library versions)
as one JSON string. It is read back with ``torch.load(weights_only=True)``,
which refuses anything else, so loading an untrusted file cannot execute code.
Parameters that are Python objects are saved by reference: classes and
functions of torch by their import path, the user's own by name (they are
passed back to ``load`` in ``custom_objects``); callbacks and the accelerator
(objects of the training run) are not saved.

Loading trusts nothing in the file: a reference resolves only to an entry of
an explicit allow-list (the activations, losses and optimizers of torch and the
modules of :mod:`sktaaf.nn` that each parameter may name) or of the user's
``custom_objects``, never by importing or walking attributes; the parameters
then pass the estimator's own validation, and every fitted attribute is checked
for its type, its range and its agreement with the weights' shapes.
"""

from __future__ import annotations

import functools
import importlib
import json
import warnings
from pathlib import Path

import numpy as np
import sklearn
import skorch
import torch

from .. import nn as sktaaf_nn
from .._engine._scores import decode_scores, encode_scores
from .._engine._state import TrainingState, digest
from .._utils._atomic import DeferredErrorsFile, atomic_write
from .._utils._compat import parameter_names, validate_parameters
from .._utils._device import is_available, resolve_device
from .._utils._random import isolated_torch_rng
from .._version import __version__
from ..exceptions import (
    DeviceFallbackWarning,
    ModelVersionWarning,
    ParameterNotSavedWarning,
)
from ..nn import ACTIVATIONS
from ._checks import (
    GENE_SYMBOLS_FIELD,
    MAX_COUNT,
    RUN_ONLY_PARAMS,
    TARGET_METADATA_FIELD,
    invalid_field,
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


def model_metadata(estimator, device: str) -> dict:
    """What a model file says besides its tensors, known once fit has
    validated the data: class, versions, parameters and the data's shape."""
    params = estimator.get_params(deep=False)
    params.update(dict.fromkeys(RUN_ONLY_PARAMS))  # not saved
    names = getattr(estimator, "feature_names_in_", None)
    targets = getattr(estimator, "target_names_", None)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": type(estimator).__name__,
        "versions": _versions(),
        "params": {name: _encode_param(name, value) for name, value in params.items()},
        "fitted": {
            "n_features_in_": estimator.n_features_in_,
            "feature_names_in_": None if names is None else names.tolist(),
            "n_outputs_": estimator.n_outputs_,
            "target_names_": None if targets is None else targets.tolist(),
            "target_is_1d": estimator._target_is_1d,
            "n_samples_fit_": getattr(estimator, "n_samples_fit_", None),
            "device_": device,
        },
    }


def write_model(path, metadata: dict, state: TrainingState) -> None:
    """Write a model file: ``metadata`` plus the training ``state``, and the
    SHA-256 checksum of both, which :func:`read_model` checks."""
    tensors, state_metadata = state.to_payload()
    metadata = {
        **metadata,
        **state_metadata,
        "fitted": {**metadata["fitted"], **state_metadata["fitted"]},
    }
    payload = {"metadata": json.dumps(metadata), **tensors}
    payload["checksum"] = digest(payload)
    with atomic_write(path, "save the model to") as partial:
        with DeferredErrorsFile(partial) as file:  # torch.save sees no failed write
            torch.save(payload, file)


def save_estimator(
    estimator, path, gene_symbols=None, target_row_metadata=None
) -> None:
    """Write a fitted network estimator to ``path`` (see the module docstring),
    with the optional ``gene_symbols`` (``{"landmarks": [...], "targets":
    [...]}``) and ``target_row_metadata`` (``{field: [one value per
    target]}``), checked by :func:`~sktaaf._persistence._checks.validate_metadata`."""
    if estimator.callbacks:
        warnings.warn(
            "callbacks are not saved; the loaded estimator has callbacks=None "
            "(they only matter for training).",
            ParameterNotSavedWarning,
            stacklevel=3,
        )
    state = TrainingState.from_net(
        estimator.net_, estimator._rng_state, estimator.best_epoch_, complete=True
    )
    metadata = model_metadata(estimator, estimator.device_)
    scores = encode_scores(getattr(estimator, "target_scores_", None))
    metadata["fitted"]["target_scores_"] = scores
    if gene_symbols is not None:
        metadata[GENE_SYMBOLS_FIELD] = gene_symbols
    if target_row_metadata is not None:
        metadata[TARGET_METADATA_FIELD] = target_row_metadata
    write_model(path, metadata, state)


def read_model(path) -> tuple[dict, dict]:
    """The payload and the metadata of the model file at ``path``, its
    checksum verified: a ValueError naming the file if it is unreadable or
    damaged.

    The checksum is verified before anything of the content is interpreted,
    so that damage is reported as damage (not, say, as a parameter this
    version lacks); only files of format version 1, written before files
    carried one, have none."""
    path = Path(path)
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
    return ValueError(
        f"{str(path)!r} is not a readable sktaaf model file (truncated, "
        f"corrupted, or another kind of file): {exc}"
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
    differing = {
        name: (saved, _versions().get(name))
        for name, saved in metadata["versions"].items()
        if _versions().get(name) != saved
    }
    if differing:
        details = ", ".join(
            f"{name} {saved} (now {now})" for name, (saved, now) in differing.items()
        )
        warnings.warn(
            f"{str(path)!r} was saved with {details}.",
            ModelVersionWarning,
            stacklevel=3,
        )


def load_estimator(cls, path, *, device=None, custom_objects=None):
    """Read an estimator of class ``cls`` written by :func:`save_estimator`."""
    payload, metadata = read_model(path)
    try:
        return _rebuild(cls, path, payload, metadata, device, custom_objects)
    except (KeyError, AttributeError, IndexError, RuntimeError) as exc:
        raise ValueError(
            f"{str(path)!r} is not a readable sktaaf model file: an entry is "
            f"missing or damaged ({type(exc).__name__}: {exc})."
        ) from exc


def _rebuild(cls, path, payload, metadata, device, custom_objects):
    if metadata["class"] != cls.__name__:
        raise TypeError(
            f"{str(path)!r} holds a {metadata['class']}, not a {cls.__name__}; "
            f"load it with {metadata['class']}.load."
        )
    validate_metadata(metadata, payload, path)
    check_versions(metadata, path)
    params = _decode_params(metadata["params"], custom_objects or {})
    params.setdefault("standardize", False)  # saved before the parameter existed
    params.setdefault("linear_path", None)  # likewise
    unknown = sorted(set(params) - set(parameter_names(cls)))
    if unknown:
        raise TypeError(
            f"{str(path)!r} holds a {cls.__name__} with parameters this version "
            f"of sktaaf does not have: {unknown}. It was saved with sktaaf "
            f"{metadata.get('versions', {}).get('sktaaf', 'of unknown version')}; "
            "load it with that version."
        )
    if isinstance(params["hidden_layer_sizes"], list):
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    estimator = cls(**params)
    _check_saved_params(estimator, path)
    fitted = metadata["fitted"]
    saved_device = fitted["device_"]
    if device is None:
        device = saved_device
        if not is_available(saved_device):
            warnings.warn(
                f"The model was fitted on {saved_device}, which this machine lacks; "
                "it is loaded on the CPU.",
                DeviceFallbackWarning,
                stacklevel=3,
            )
            device = "cpu"
    device = resolve_device(device)

    estimator.n_features_in_ = fitted["n_features_in_"]
    if fitted["feature_names_in_"] is not None:
        estimator.feature_names_in_ = np.asarray(fitted["feature_names_in_"], object)
    estimator.n_outputs_ = fitted["n_outputs_"]
    if fitted.get("target_names_") is not None:  # older files lack it
        estimator.target_names_ = np.asarray(fitted["target_names_"], object)
    estimator._target_is_1d = fitted["target_is_1d"]
    if fitted.get("n_samples_fit_") is not None:  # older files lack it
        estimator.n_samples_fit_ = fitted["n_samples_fit_"]
    module = _network_for(estimator, payload["module"], device, path)
    state = TrainingState.from_payload(payload, metadata, repr(str(path)))
    try:
        state.load_weights(module)
    except RuntimeError as exc:
        raise ValueError(
            f"The weights in {str(path)!r} do not fit the network its parameters "
            f"describe: {exc}"
        ) from exc
    net = estimator._build_net(module, device, generator=torch.Generator())
    state.apply(net)
    scores = decode_scores(  # older files have none
        fitted.get("target_scores_"),
        getattr(estimator, "target_names_", None),
        estimator.n_outputs_,
    )
    estimator._set_fitted(net, device, state.best_epoch, state.rng_state, scores)
    return estimator


def _check_saved_params(estimator, path) -> None:
    """Run ``fit``'s checks of the parameters on those read from a file."""
    try:
        validate_parameters(estimator)
        estimator._check_params()
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"{str(path)!r} is not a valid sktaaf model file: its parameters are "
            f"invalid: {exc}"
        ) from exc


def _network_for(estimator, weights: dict, device: str, path) -> torch.nn.Module:
    """A new network of ``estimator``'s parameters and fitted attributes,
    checked to fit ``weights``, built without touching torch's random state."""
    n_features, n_outputs = estimator.n_features_in_, estimator.n_outputs_
    hidden_layer_sizes = estimator._hidden_layer_sizes()
    if max(hidden_layer_sizes) > MAX_COUNT:
        raise invalid_field(
            path,
            "parameter hidden_layer_sizes",
            estimator.hidden_layer_sizes,
            f"sizes of at most {MAX_COUNT}",
        )
    with torch.device("meta"):  # shapes only: allocates and draws nothing
        expected = estimator._make_network(n_features, n_outputs, hidden_layer_sizes)
    expected = {
        name: tuple(value.shape) for name, value in expected.state_dict().items()
    }
    found = {name: tuple(value.shape) for name, value in weights.items()}
    if found != expected:
        differences = [
            f"{name}: {found.get(name, 'missing')} in the file, "
            f"{expected.get(name, 'none')} expected"
            for name in sorted(set(found) | set(expected), key=str)
            if found.get(name) != expected.get(name)
        ]
        raise ValueError(
            f"The weights in {str(path)!r} do not fit the network its parameters "
            f"and fitted attributes describe (n_features_in_={n_features}, "
            f"n_outputs_={n_outputs}, hidden_layer_sizes={hidden_layer_sizes}): "
            + "; ".join(differences[:3])
        )
    estimator._check_network(n_features, n_outputs, hidden_layer_sizes, device)
    with isolated_torch_rng():  # initial weights, overwritten: no trace left
        return estimator._make_network(n_features, n_outputs, hidden_layer_sizes)
