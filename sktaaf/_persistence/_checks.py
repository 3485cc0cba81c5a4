"""What a model file may hold: the run-only parameters it leaves out, and the
checks of everything read from one before it is used.

:func:`~sktaaf._persistence._format.read_model` reads a file with
``torch.load(weights_only=True)`` and hands its metadata and tensors here:
every fitted attribute and tensor entry is checked for its type and range
(the estimator then checks the weights' shapes against the network they
describe). It imports torch, :mod:`sktaaf._utils._device` and the scores'
check, never an estimator module.
"""

from __future__ import annotations

import torch

from .._engine._scores import check_encoded_scores
from .._utils._device import DEVICE_PATTERN

#: Parameters that are objects of one training run (not of the model): not
#: saved (a loaded model has them None), nor part of a checkpoint's identity.
RUN_ONLY_PARAMS = ("callbacks", "checkpoint_dir", "accelerator")
#: The optional metadata field of the genes' symbols (``sktaaf fit`` writes it).
GENE_SYMBOLS_FIELD = "gene_symbols"
#: The optional metadata field of the target genes' row metadata in the
#: training file (``sktaaf fit`` writes it): ``{field: [one value per
#: target]}``, each value a str, a number or None.
TARGET_METADATA_FIELD = "target_row_metadata"
# Largest number of features, targets or neurons a model file may state.
MAX_COUNT = 2**31 - 1


def invalid_field(path, field: str, value, expected: str) -> ValueError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return ValueError(
        f"{str(path)!r} is not a valid sktaaf model file: its {field} is {shown}; "
        f"expected {expected}. The file is damaged or was edited."
    )


def _is_count(value, low: int, high: int = MAX_COUNT) -> bool:
    return type(value) is int and low <= value <= high


def _are_names(value, count) -> bool:
    """Whether ``value`` is None or a list of ``count`` str."""
    return value is None or (
        isinstance(value, list)
        and len(value) == count
        and all(isinstance(name, str) for name in value)
    )


def validate_metadata(metadata: dict, payload: dict, path) -> None:
    """Check the type and range of every field of a model file that load
    uses, before any of it is used (the estimator checks the parameters as
    ``fit`` does, and the weights' shapes against the network they describe,
    when it rebuilds itself: :mod:`sktaaf._save_load`)."""
    for field, kind in [
        ("class", str),
        ("params", dict),
        ("fitted", dict),
        ("history", list),
        ("versions", dict),
    ]:
        if not isinstance(metadata.get(field), kind):
            raise invalid_field(path, field, metadata.get(field), f"a {kind.__name__}")
    for name in RUN_ONLY_PARAMS:  # objects of a training run: never saved
        if metadata["params"].get(name) is not None:
            raise invalid_field(
                path, f"parameter {name}", metadata["params"][name], "None"
            )
    for name, version in metadata["versions"].items():
        if not isinstance(version, str):
            raise invalid_field(path, f"version of {name}", version, "a str")
    history = metadata["history"]
    for record in history:
        if not isinstance(record, dict):
            raise invalid_field(path, "history", record, "a list of per-epoch dicts")
    fitted = metadata["fitted"]
    n_epochs = len(history)
    checks = {
        "n_features_in_": (
            lambda value: _is_count(value, 1),
            f"an int in [1, {MAX_COUNT}]",
        ),
        "n_outputs_": (
            lambda value: _is_count(value, 1),
            f"an int in [1, {MAX_COUNT}]",
        ),
        "n_iter_": (
            lambda value: _is_count(value, 0, n_epochs),
            f"an int in [0, {n_epochs}] (the epochs in the history)",
        ),
        "best_epoch_": (
            lambda value: _is_count(value, 0, n_epochs),
            f"an int in [0, {n_epochs}] (the epochs in the history)",
        ),
        "target_is_1d": (
            lambda value: (
                isinstance(value, bool) and (not value or fitted.get("n_outputs_") == 1)
            ),
            "a bool, and False unless n_outputs_ is 1",
        ),
        "device_": (
            lambda value: isinstance(value, str) and DEVICE_PATTERN.fullmatch(value),
            "'cpu', 'cuda', 'cuda:N' or 'mps'",
        ),
        "feature_names_in_": (
            lambda value: _are_names(value, fitted.get("n_features_in_")),
            "None or a list of n_features_in_ str",
        ),
        "target_names_": (
            lambda value: _are_names(value, fitted.get("n_outputs_")),
            "None or a list of n_outputs_ str",
        ),
        "n_samples_fit_": (
            lambda value: value is None or _is_count(value, 1),
            f"None or an int in [1, {MAX_COUNT}]",
        ),
        "target_scores_": (
            lambda value: check_encoded_scores(value, fitted.get("n_outputs_")),
            "None or a dict of 'source', 'n_samples', and 'mae' and 'r' "
            "(n_outputs_ finite numbers or null each)",
        ),
    }
    # absent from files of earlier versions
    optional = {"target_names_", "target_scores_", "n_samples_fit_"}
    for field, (is_valid, expected) in checks.items():
        if field in optional and field not in fitted:
            continue
        if field not in fitted:
            raise invalid_field(path, f"fitted attribute {field}", "missing", expected)
        if not is_valid(fitted[field]):
            raise invalid_field(
                path, f"fitted attribute {field}", fitted[field], expected
            )
    _validate_gene_symbols(metadata, path)
    _validate_target_metadata(metadata, path)
    _validate_payload(payload, path)


def _validate_gene_symbols(metadata: dict, path) -> None:
    """Check the optional ``gene_symbols`` field: ``{"landmarks": [...],
    "targets": [...]}``, one str or None per feature and per output."""
    if GENE_SYMBOLS_FIELD not in metadata:
        return
    symbols = metadata[GENE_SYMBOLS_FIELD]
    expected = (
        "a dict of 'landmarks' (n_features_in_ str or None) and 'targets' "
        "(n_outputs_ str or None)"
    )
    if not isinstance(symbols, dict) or set(symbols) != {"landmarks", "targets"}:
        raise invalid_field(path, GENE_SYMBOLS_FIELD, symbols, expected)
    fitted = metadata["fitted"]
    for key, count in (
        ("landmarks", fitted.get("n_features_in_")),
        ("targets", fitted.get("n_outputs_")),
    ):
        values = symbols[key]
        if not (
            isinstance(values, list)
            and len(values) == count
            and all(value is None or isinstance(value, str) for value in values)
        ):
            raise invalid_field(path, f"{GENE_SYMBOLS_FIELD} {key}", values, expected)


def _validate_target_metadata(metadata: dict, path) -> None:
    """Check the optional ``target_row_metadata`` field: a dict of field
    names to lists of n_outputs_ str, finite numbers or None."""
    if TARGET_METADATA_FIELD not in metadata:
        return
    fields = metadata[TARGET_METADATA_FIELD]
    count = metadata["fitted"].get("n_outputs_")
    expected = (
        "a dict of field names to lists of n_outputs_ values (str, numbers or None)"
    )
    if not isinstance(fields, dict):
        raise invalid_field(path, TARGET_METADATA_FIELD, fields, expected)
    for name, values in fields.items():
        if not (
            name
            and name != "id"
            and isinstance(values, list)
            and len(values) == count
            and all(
                value is None
                or (isinstance(value, str | int | float) and value == value)
                for value in values
            )
        ):
            raise invalid_field(
                path, f"{TARGET_METADATA_FIELD} {name!r}", values, expected
            )


def _validate_payload(payload: dict, path) -> None:
    """Check the types of the tensor entries of a model file."""
    tensors = {
        "module": lambda value: (
            isinstance(value, dict)
            and all(
                isinstance(key, str) and isinstance(tensor, torch.Tensor)
                for key, tensor in value.items()
            )
        ),
        "optimizer": lambda value: (
            isinstance(value, dict)
            and isinstance(value.get("state"), dict)
            and isinstance(value.get("param_groups"), list)
        ),
        "rng_state": lambda value: (
            isinstance(value, list | tuple)
            and len(value) >= 1
            and all(
                isinstance(state, torch.Tensor) and state.dtype == torch.uint8
                for state in value
            )
        ),
        "generator_state": lambda value: (
            isinstance(value, torch.Tensor) and value.dtype == torch.uint8
        ),
    }
    for entry, is_valid in tensors.items():
        if entry not in payload:
            raise ValueError(
                f"{str(path)!r} is not a valid sktaaf model file: the entry "
                f"{entry!r} is missing (the file is damaged or was edited)."
            )
        if not is_valid(payload[entry]):
            raise invalid_field(
                path, f"entry {entry!r}", type(payload[entry]).__name__, "tensors"
            )
