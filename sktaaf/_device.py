"""Device handling: which torch device a ``device`` parameter names, whether
this machine has it, how much memory it holds, and which mixed precision it
supports.

A leaf module: it imports torch, scikit-learn's error class and the standard
library, never an estimator module, so the estimators (``_base``) and the model
files (``_persistence``) share it without importing each other.
"""

from __future__ import annotations

import os
import re
import warnings

import torch
from sklearn.utils._param_validation import InvalidParameterError

#: The dtypes of the ``mixed_precision`` parameter's values.
MIXED_PRECISION_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
# What the ``device`` parameter accepts.
_DEVICE_PARAMETER = re.compile(r"(auto|cpu|cuda|cuda:\d+|mps)")
#: A concrete device, as a fitted ``device_`` (and a model file) names it.
DEVICE_PATTERN = re.compile(r"cpu|cuda|cuda:\d+|mps")


def device_memory(device: str) -> int | None:
    """Bytes of memory of ``device`` (None when unknown)."""
    try:
        if device.startswith("cuda"):
            return torch.cuda.get_device_properties(torch.device(device)).total_memory
        if device == "cpu":
            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError, RuntimeError):
        pass
    return None


def resolve_device(device: str | torch.device) -> str:
    """Turn the ``device`` parameter into a concrete, available torch device.

    ``"auto"`` picks CUDA when available, else the CPU. An explicit device that
    this machine lacks is an error rather than a silent fallback.
    """
    name = str(device)
    if not _DEVICE_PARAMETER.fullmatch(name):
        raise InvalidParameterError(
            "The 'device' parameter must be 'auto', 'cpu', 'cuda', 'cuda:N' or "
            f"'mps' (or a torch.device); got {device!r}."
        )
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={name!r} was requested but CUDA is not available on this "
                "machine (torch.cuda.is_available() is False). Use device='auto' "
                "or device='cpu'."
            )
        index = torch.device(name).index
        if index is not None and index >= torch.cuda.device_count():
            raise ValueError(
                f"device={name!r} was requested but this machine has "
                f"{torch.cuda.device_count()} CUDA device(s)."
            )
    if name == "mps" and not torch.backends.mps.is_available():
        raise ValueError(
            "device='mps' was requested but the MPS backend is not available. "
            "Use device='auto' or device='cpu'."
        )
    return name


def check_mixed_precision(mixed_precision: str | None, device: str) -> None:
    """Raise a ValueError if torch cannot autocast to ``mixed_precision`` on
    ``device`` (or, for ``"fp16"``, scale the loss there)."""
    if mixed_precision is None:
        return
    device_type = torch.device(device).type
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:  # torch warns (CPU) or raises (CUDA) on an unsupported dtype;
            # torch < 2.3 has no torch.amp.GradScaler
            torch.autocast(device_type, dtype=MIXED_PRECISION_DTYPES[mixed_precision])
            if mixed_precision == "fp16":
                torch.amp.GradScaler(device_type)
        except (RuntimeError, ValueError, AssertionError, AttributeError) as exc:
            caught.append(exc)
    problems = [
        str(getattr(item, "message", item))
        for item in caught
        if isinstance(item, Exception) or issubclass(item.category, UserWarning)
    ]
    if problems:
        raise ValueError(
            f"mixed_precision={mixed_precision!r} is not supported on device "
            f"{device!r} by torch {torch.__version__}: {problems[0]} Use "
            "mixed_precision=None (float32)"
            + (" or 'bf16'." if mixed_precision == "fp16" else ".")
        )


def is_available(device: str) -> bool:
    """Whether this machine has the concrete ``device`` (a saved ``device_``)."""
    if device.startswith("cuda"):
        index = torch.device(device).index or 0
        return torch.cuda.is_available() and index < torch.cuda.device_count()
    if device == "mps":
        return torch.backends.mps.is_available()
    return True
