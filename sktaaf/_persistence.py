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
"""

from __future__ import annotations

import importlib
import json
import os
import warnings
from pathlib import Path

import numpy as np
import sklearn
import skorch
import torch
from skorch.history import History

from ._training import unwrap_module
from .exceptions import ModelVersionWarning

FORMAT = "sktaaf-model"
FORMAT_VERSION = 1
# Saved classes and functions of these packages are imported back by path.
_TRUSTED_PACKAGES = ("torch",)


def _versions() -> dict:
    from . import __version__

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
            UserWarning,
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


def _decode_param(value, custom_objects):
    if isinstance(value, list):
        return [_decode_param(item, custom_objects) for item in value]
    if isinstance(value, dict) and set(value) == {"__reference__"}:
        return _resolve_reference(value["__reference__"], custom_objects)
    if isinstance(value, dict):
        return {key: _decode_param(item, custom_objects) for key, item in value.items()}
    return value


def _resolve_reference(reference: str, custom_objects: dict):
    module_name, _, qualname = reference.partition(":")
    for key in (reference, qualname):
        if key in custom_objects:
            return custom_objects[key]
    if module_name.split(".")[0] not in _TRUSTED_PACKAGES:
        raise ValueError(
            f"The model refers to {reference!r}, which load does not import from a "
            "file. Pass it yourself: load(path, custom_objects="
            f"{{{qualname!r}: ...}})."
        )
    return _import(module_name, qualname)


def model_metadata(estimator, device: str) -> dict:
    """What a model file says besides its tensors, known once fit has
    validated the data: class, versions, parameters and the data's shape."""
    params = estimator.get_params(deep=False)
    params["callbacks"] = None  # training-time objects: not saved
    params["checkpoint_dir"] = None
    params["accelerator"] = None
    names = getattr(estimator, "feature_names_in_", None)
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
            "target_is_1d": estimator._target_is_1d,
            "device_": device,
        },
    }


def write_model(path, metadata: dict, net, rng_state, best_epoch: int, **extra) -> None:
    """Write a model file: ``metadata`` plus the state of the skorch ``net``.

    ``extra`` entries (tensors, or JSON-able values under ``"metadata"``-free
    keys) are stored alongside, for checkpoints.
    """
    metadata = {
        **metadata,
        "fitted": {
            **metadata["fitted"],
            "best_epoch_": best_epoch,
            "n_iter_": len(net.history_),
        },
        # Epoch records only: per-batch records would dwarf the weights.
        "history": [
            {key: value for key, value in record.items() if key != "batches"}
            for record in net.history_
        ],
    }
    payload = {
        "metadata": json.dumps(metadata),
        # The network's own names, whether training compiled or wrapped it.
        "module": _to_cpu(unwrap_module(net.module_).state_dict()),
        "optimizer": _to_cpu(net.optimizer_.state_dict()),
        "rng_state": [state.cpu() for state in rng_state],
        "generator_state": net.iterator_train__generator.get_state(),
        **extra,
    }
    scaler = getattr(net, "grad_scaler_", None)
    if scaler is not None:  # mixed_precision="fp16": the loss scale, as numbers
        payload["grad_scaler"] = scaler.state_dict()
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"Cannot save to {str(path)!r}: the folder {str(path.parent)!r} does "
            "not exist."
        )
    if path.is_dir():
        raise IsADirectoryError(
            f"Cannot save to {str(path)!r}: it is a folder; give a file name "
            "such as 'model.pt'."
        )
    partial = path.with_name(path.name + ".partial")
    try:
        torch.save(payload, partial)
        os.replace(partial, path)  # a crash mid-write never leaves a broken file
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def save_estimator(estimator, path) -> None:
    """Write a fitted network estimator to ``path`` (see the module docstring)."""
    if estimator.callbacks:
        warnings.warn(
            "callbacks are not saved; the loaded estimator has callbacks=None "
            "(they only matter for training).",
            UserWarning,
            stacklevel=3,
        )
    write_model(
        path,
        model_metadata(estimator, estimator.device_),
        estimator.net_,
        estimator._rng_state,
        estimator.best_epoch_,
    )


def _to_cpu(state):
    if isinstance(state, torch.Tensor):
        return state.detach().cpu()
    if isinstance(state, dict):
        return {key: _to_cpu(value) for key, value in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(_to_cpu(value) for value in state)
    return state


def read_model(path) -> tuple[dict, dict]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No sktaaf model file at {str(path)!r}.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        metadata = json.loads(payload["metadata"])
        if metadata.get("format") != FORMAT:
            raise ValueError("it is not an sktaaf model")
        if not isinstance(metadata.get("format_version"), int):
            raise ValueError("it has no format version")
    except Exception as exc:
        raise ValueError(
            f"{str(path)!r} is not a readable sktaaf model file (truncated, "
            f"corrupted, or another kind of file): {exc}"
        ) from exc
    if metadata["format_version"] > FORMAT_VERSION:
        raise ValueError(
            f"{str(path)!r} was saved in format version "
            f"{metadata['format_version']}, newer than this sktaaf reads "
            f"({FORMAT_VERSION}); upgrade sktaaf."
        )
    return payload, metadata


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
    from ._base import resolve_device

    if metadata["class"] != cls.__name__:
        raise TypeError(
            f"{str(path)!r} holds a {metadata['class']}, not a {cls.__name__}; "
            f"load it with {metadata['class']}.load."
        )
    check_versions(metadata, path)
    params = {
        name: _decode_param(value, custom_objects or {})
        for name, value in metadata["params"].items()
    }
    params.setdefault("standardize", False)  # saved before the parameter existed
    unknown = sorted(set(params) - set(cls._get_param_names()))
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
    fitted = metadata["fitted"]
    saved_device = fitted["device_"]
    if device is None:
        device = saved_device
        if saved_device.startswith("cuda") and not torch.cuda.is_available():
            warnings.warn(
                f"The model was fitted on {saved_device}, which this machine lacks; "
                "it is loaded on the CPU.",
                UserWarning,
                stacklevel=3,
            )
            device = "cpu"
    device = resolve_device(device)

    estimator.n_features_in_ = fitted["n_features_in_"]
    if fitted["feature_names_in_"] is not None:
        estimator.feature_names_in_ = np.asarray(fitted["feature_names_in_"], object)
    estimator.n_outputs_ = fitted["n_outputs_"]
    estimator._target_is_1d = fitted["target_is_1d"]
    module = estimator._make_network(
        estimator.n_features_in_,
        estimator.n_outputs_,
        estimator._hidden_layer_sizes(),
    )
    try:
        module.load_state_dict(payload["module"])
    except RuntimeError as exc:
        raise ValueError(
            f"The weights in {str(path)!r} do not fit the network its parameters "
            f"describe: {exc}"
        ) from exc
    generator = torch.Generator()
    generator.set_state(payload["generator_state"])
    net = estimator._build_net(module, device, generator=generator)
    net.optimizer_.load_state_dict(payload["optimizer"])
    scaler = getattr(net, "grad_scaler_", None)
    if scaler is not None and payload.get("grad_scaler"):
        scaler.load_state_dict(payload["grad_scaler"])
    net.history_ = History(metadata["history"])
    net.module_.eval()
    estimator.net_ = net
    estimator.module_ = unwrap_module(net.module_)
    estimator.history_ = net.history_
    estimator.device_ = device
    estimator.n_iter_ = fitted["n_iter_"]
    estimator.best_epoch_ = fitted["best_epoch_"]
    estimator._rng_state = list(payload["rng_state"])
    return estimator
