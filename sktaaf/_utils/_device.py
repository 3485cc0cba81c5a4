"""Device handling: which torch device a ``device`` parameter names, whether
this machine has it, how much memory it holds, and which mixed precision it
supports.

A leaf module: it imports torch, scikit-learn's error class (through
:mod:`sktaaf._utils._compat`) and the standard library, never an estimator
module, so the estimators (``_base``) and the model files (``_persistence``)
share it without importing each other.
"""

from __future__ import annotations

import os
import re
import warnings

import torch

from ._compat import InvalidParameterError

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


#: CPU flags (Linux ``/proc/cpuinfo``) of native bfloat16 arithmetic: x86
#: AVX512-BF16 and AMX-BF16, Arm's BF16 extension.
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool | None:
    """Whether this CPU computes in bfloat16 natively (AVX512-BF16, AMX or
    Arm BF16), as torch's own CPU checks or the flags in ``cpuinfo`` tell;
    None when neither can tell (e.g. macOS)."""
    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        check = getattr(torch.cpu, name, None)  # private: may go away
        try:
            if check is not None and check():
                return True
        except Exception:  # noqa: BLE001 - a probe; the flags decide then
            pass
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as file:
            text = file.read()
    except OSError:
        return None
    flags = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    if not flags:
        return None
    return bool(flags & BF16_CPU_FLAGS)


def is_available(device: str) -> bool:
    """Whether this machine has the concrete ``device`` (a saved ``device_``)."""
    if device.startswith("cuda"):
        index = torch.device(device).index or 0
        return torch.cuda.is_available() and index < torch.cuda.device_count()
    if device == "mps":
        return torch.backends.mps.is_available()
    return True
