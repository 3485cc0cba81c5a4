"""Export fitted networks to ONNX and TorchScript, for serving without sktaaf.

The exported graph is the estimator's whole network, ``estimator.module_``,
in evaluation mode (no dropout) and in float32 on the CPU: it maps a batch of
landmark profiles, shape ``(n_samples, n_features_in_)``, to the inferred
targets, shape ``(n_samples, n_outputs_)``, exactly as the estimator's
``predict`` does (within float32 rounding). Whatever the estimator applies to
the data lives inside that module, so the exported graph takes raw landmark
values and returns targets in their original units. The batch axis is
dynamic. The estimator itself is left as it was (a copy is exported).

Only torch is needed for TorchScript; ONNX needs the ``onnx`` extra
(``pip install 'sktaaf[onnx]'``: onnx, onnxscript, and onnxruntime to run the
file).
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import numbers
import warnings
from pathlib import Path

from ._utils._atomic import atomic_write, check_target
from ._version import __version__

__all__ = ["to_onnx", "to_torchscript"]

#: Names of the graph's input and output (ONNX ``input_names``/``output_names``).
INPUT_NAME = "landmarks"
OUTPUT_NAME = "targets"
#: The keys :func:`to_onnx` writes into the model's ``metadata_props``.
METADATA_KEYS = (
    "sktaaf.estimator",
    "sktaaf.landmark_ids",
    "sktaaf.target_ids",
    "sktaaf.standardize",
    "sktaaf.versions",
)
# What torch's ONNX exporter logs, at WARNING level, about operators of
# torchvision (which sktaaf's networks never use) when torchvision is absent.
_TORCHVISION_LOGGER = "torch.onnx._internal.exporter._registration"
_TORCHVISION_MESSAGE = "torchvision is not installed. Skipping "


def _export_module(estimator):
    """A float32 CPU copy of the fitted network in eval mode, and a dummy
    input of two samples (a batch of one would fix the batch axis)."""
    import torch
    from sklearn.utils.validation import check_is_fitted

    from ._utils._compat import has_parameter_names

    if not has_parameter_names(estimator):
        raise TypeError(
            f"estimator must be a fitted sktaaf network estimator (TAAFRegressor, "
            f"DGEXRegressor); got {type(estimator).__name__}."
        )
    check_is_fitted(estimator)
    module = getattr(estimator, "module_", None)
    if not isinstance(module, torch.nn.Module):
        raise TypeError(
            f"{type(estimator).__name__} holds no single network (module_) to "
            "export; export the networks of TAAFRegressor or DGEXRegressor."
        )
    module = copy.deepcopy(module).to(device="cpu", dtype=torch.float32).eval()
    dummy = torch.zeros(2, estimator.n_features_in_, dtype=torch.float32)
    return module, dummy


def _check_path(path) -> Path:
    """``path`` as a Path, checked writable (a regular file or a new name in
    an existing folder) before any work."""
    check_target(path, "export to")
    return Path(path)


def _check_opset(opset_version) -> None:
    if opset_version is not None and (
        isinstance(opset_version, bool)
        or not isinstance(opset_version, numbers.Integral)
        or opset_version < 1
    ):
        raise ValueError(
            "opset_version must be None (PyTorch's default) or a positive int, an "
            f"ONNX opset such as 18; got {opset_version!r}."
        )


def to_torchscript(estimator, path) -> Path:
    """Save the fitted network as TorchScript, loadable with ``torch.jit.load``.

    The network is traced with a dummy batch of ``n_features_in_`` landmarks;
    the saved module takes a float32 tensor of shape ``(n_samples,
    n_features_in_)`` and returns ``(n_samples, n_outputs_)``, and runs from
    C++ (libtorch) or Python without sktaaf. PyTorch 2.13 deprecates
    TorchScript in favour of ``torch.export``; its deprecation warnings are
    not repeated here, but prefer :func:`to_onnx` for new deployments.

    Parameters
    ----------
    estimator : TAAFRegressor or DGEXRegressor
        A fitted network estimator.
    path : str or path-like
        The file to write (``.pt`` by convention). It is written under a
        temporary name and moved into place: a failed export leaves the
        previous file as it was (see :func:`~sktaaf.datasets.write_gctx` for
        the rules every writer of sktaaf follows).

    Returns
    -------
    path : pathlib.Path
        The file written.

    See Also
    --------
    to_onnx : The same network as ONNX.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np, torch
    >>> from sktaaf import TAAFRegressor
    >>> from sktaaf.export import to_torchscript
    >>> X = np.random.RandomState(0).normal(size=(40, 5)).astype(np.float32)
    >>> model = TAAFRegressor(hidden_layer_sizes=(8,), max_epochs=2,
    ...                       random_state=0).fit(X, X[:, :2])
    >>> path = to_torchscript(model, os.path.join(tempfile.mkdtemp(), "m.pt"))
    >>> import warnings
    >>> with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript
    ...     warnings.simplefilter("ignore", DeprecationWarning)
    ...     scripted = torch.jit.load(path)
    >>> y = scripted(torch.from_numpy(X)).detach().numpy()
    >>> bool(np.allclose(y, model.predict(X), atol=1e-5))
    True
    """
    import torch

    module, dummy = _export_module(estimator)
    path = _check_path(path)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.filterwarnings(
            "ignore", r"`torch\.jit\.\w+` is deprecated", DeprecationWarning
        )
        traced = torch.jit.trace(module, dummy)
        # Saved through a Python file: torch's own file writer aborts the
        # process when a write fails (a full disk).
        with atomic_write(path, "export to") as partial, open(partial, "wb") as file:
            torch.jit.save(traced, file)
    return path


def to_onnx(estimator, path, *, opset_version: int | None = None, dynamo=None) -> Path:
    """Save the fitted network as ONNX, with a dynamic batch axis.

    The graph has one input, ``"landmarks"`` (float32, shape ``("batch",
    n_features_in_)``), and one output, ``"targets"`` (float32, shape
    ``("batch", n_outputs_)``); run it with ONNX Runtime or any ONNX runtime,
    without Python or sktaaf. Needs the ``onnx`` extra (onnx and onnxscript).

    The file says which genes it maps, in its ``metadata_props`` (read with
    ``onnx.load(path).metadata_props``, or ONNX Runtime's
    ``session.get_modelmeta().custom_metadata_map``); each value is a JSON
    string:

    ``sktaaf.estimator``
        The estimator's class name, e.g. ``"TAAFRegressor"``.
    ``sktaaf.landmark_ids``
        The landmark ids in the order of the input's columns
        (``feature_names_in_``); ``null`` when ``X`` had no column names.
    ``sktaaf.target_ids``
        The target ids in the order of the output's columns
        (``target_names_``); ``null`` when ``y`` had none.
    ``sktaaf.standardize``
        Whether the network standardises its inputs and outputs inside the
        graph (``standardize``); either way, the graph takes and returns
        values in the data's own units.
    ``sktaaf.versions``
        ``{"sktaaf": ..., "torch": ...}``, the versions that exported it.

    PyTorch's exporter notes that torchvision is not installed (its
    operators are not needed here): those log lines are dropped, nothing
    else.

    Parameters
    ----------
    estimator : TAAFRegressor or DGEXRegressor
        A fitted network estimator.
    path : str or path-like
        The file to write (``.onnx`` by convention), written under a
        temporary name and moved into place, as :func:`to_torchscript` does.
    opset_version : int, default=None
        The ONNX opset; None lets PyTorch choose (its default).
    dynamo : bool, default=None
        Which exporter of ``torch.onnx.export``: True the ``torch.export``
        based one (PyTorch's default, needs onnxscript), False the older
        TorchScript-based one; None tries the first and falls back on the
        second if it fails.

    Returns
    -------
    path : pathlib.Path
        The file written.

    See Also
    --------
    to_torchscript : The same network as TorchScript.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sktaaf import TAAFRegressor
    >>> from sktaaf.export import to_onnx
    >>> X = np.random.RandomState(0).normal(size=(40, 5)).astype(np.float32)
    >>> model = TAAFRegressor(hidden_layer_sizes=(8,), max_epochs=2,
    ...                       random_state=0).fit(X, X[:, :2])
    >>> path = os.path.join(tempfile.mkdtemp(), "m.onnx")
    >>> path = to_onnx(model, path)  # doctest: +SKIP
    >>> import onnxruntime  # doctest: +SKIP
    >>> session = onnxruntime.InferenceSession(path)  # doctest: +SKIP
    >>> y = session.run(None, {"landmarks": X})[0]  # doctest: +SKIP
    >>> bool(np.allclose(y, model.predict(X), atol=1e-5))  # doctest: +SKIP
    True
    """
    import torch

    if dynamo not in (None, True, False):
        raise ValueError(f"dynamo must be None, True or False; got {dynamo!r}.")
    _check_opset(opset_version)
    module, dummy = _export_module(estimator)
    path = _check_path(path)
    options = dict(
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        opset_version=opset_version,
    )
    metadata = onnx_metadata(estimator)
    with atomic_write(path, "export to") as partial:
        _export_onnx(torch, module, dummy, partial, options, dynamo)
        _add_metadata(partial, metadata)
    return path


def onnx_metadata(estimator) -> dict[str, str]:
    """The ``metadata_props`` :func:`to_onnx` writes for ``estimator``: each
    value a JSON string (see :func:`to_onnx`)."""
    import torch

    names = getattr(estimator, "feature_names_in_", None)
    targets = getattr(estimator, "target_names_", None)
    values = {
        "sktaaf.estimator": type(estimator).__name__,
        "sktaaf.landmark_ids": None if names is None else [str(n) for n in names],
        "sktaaf.target_ids": None if targets is None else [str(n) for n in targets],
        "sktaaf.standardize": bool(getattr(estimator, "standardize", False)),
        "sktaaf.versions": {"sktaaf": __version__, "torch": torch.__version__},
    }
    return {key: json.dumps(value) for key, value in values.items()}


def _add_metadata(path: Path, metadata: dict[str, str]) -> None:
    """Write ``metadata`` into the ``metadata_props`` of the ONNX file at
    ``path`` (keeping any entry the exporter wrote under other keys)."""
    import onnx

    model = onnx.load(str(path))
    props = {entry.key: entry.value for entry in model.metadata_props}
    props.update(metadata)
    onnx.helper.set_model_props(model, props)
    onnx.save(model, str(path))


class _DropTorchvisionNotes(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_TORCHVISION_MESSAGE)


@contextlib.contextmanager
def _quiet_exporter():
    """Drop the exporter's log lines about torchvision's operators, which no
    sktaaf network uses, while it runs; every other line stays."""
    logger = logging.getLogger(_TORCHVISION_LOGGER)
    note = _DropTorchvisionNotes()
    logger.addFilter(note)
    try:
        yield
    finally:
        logger.removeFilter(note)


def _export_onnx(torch, module, dummy, partial: Path, options: dict, dynamo) -> None:
    if dynamo is not False:
        try:
            _export_dynamo(torch, module, dummy, partial, options)
            return
        except OSError:  # a full disk, not the exporter
            raise
        except Exception:
            if dynamo:
                raise
    with warnings.catch_warnings(), torch.no_grad():
        warnings.filterwarnings(
            "ignore", "You are using the legacy TorchScript-based ONNX export"
        )
        warnings.filterwarnings("ignore", "The feature will be removed")
        torch.onnx.export(
            module,
            (dummy,),
            str(partial),
            dynamo=False,
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            **options,
        )


def _export_dynamo(torch, module, dummy, path: Path, options: dict) -> None:
    import onnxscript  # noqa: F401  (a clear ImportError before torch's)

    batch = torch.export.Dim("batch")
    with warnings.catch_warnings(), torch.no_grad(), _quiet_exporter():
        warnings.simplefilter("ignore", FutureWarning)  # torch's internals
        program = torch.onnx.export(
            module,
            (dummy,),
            dynamo=True,
            dynamic_shapes=({0: batch},),
            verbose=False,
            **options,
        )
    program.save(str(path))
