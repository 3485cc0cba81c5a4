"""Keep glibc's malloc from returning memory to the system after every batch.

On Linux with glibc, ``free`` gives the top of the heap back to the system
(``brk``) once more than the *trim threshold* is free there, and serves blocks
larger than the *mmap threshold* with ``mmap``/``munmap``. Both thresholds
start low (128 KiB) and glibc raises them only when the process happens to
free a large ``mmap``-ed block, so their values depend on what the process did
before. One training step of a few-hundred-wide network allocates and frees
several megabytes (gradients released by ``zero_grad``, the optimizer's
temporaries, activations): with the low thresholds every batch grows the heap
and trims it back, and every regrowth touches fresh pages. On CPU that costs
tens of thousands of page faults and a fifth of a second of system time per
epoch of a 6,000-sample data set, 15-35% of the epoch.

:func:`tune_malloc_for_training` fixes both thresholds at values above what a
training step frees (``mallopt(M_TRIM_THRESHOLD, 64 MiB)``,
``mallopt(M_MMAP_THRESHOLD, 32 MiB)``), the values the
``GLIBC_TUNABLES=glibc.malloc.trim_threshold=67108864:glibc.malloc.mmap_threshold=33554432``
environment variable sets at start-up. This module imports nothing from the
estimators.
"""

from __future__ import annotations

import ctypes
import os
import sys

#: ``mallopt`` parameters of glibc's ``<malloc.h>``.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

#: Free memory a process may keep at the top of its heap (64 MiB).
TRIM_THRESHOLD = 64 * 2**20
#: Blocks from this size on (32 MiB, glibc's largest dynamic value) are mapped
#: with ``mmap``; smaller ones come from the heap.
MMAP_THRESHOLD = 32 * 2**20

#: Set to ``"0"`` to leave the allocator alone.
ENV_SWITCH = "SKTAAF_TUNE_MALLOC"
#: The user's own malloc settings, which sktaaf never overrides.
_USER_SETTINGS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_")
_USER_TUNABLES = ("glibc.malloc.trim_threshold", "glibc.malloc.mmap_threshold")

_tuned = False


def _glibc():
    """glibc's C library, or ``None`` on any other platform (macOS, Windows,
    musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
    except OSError:  # pragma: no cover - a Linux without a dynamic libc
        return None
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return None
    return libc


def _user_configured(environ) -> bool:
    """Whether the user chose the allocator or its thresholds, or turned this
    off."""
    if environ.get(ENV_SWITCH, "1").strip() == "0":
        return True
    if any(name in environ for name in _USER_SETTINGS):
        return True
    tunables = environ.get("GLIBC_TUNABLES", "")
    if any(name in tunables for name in _USER_TUNABLES):
        return True
    preload = environ.get("LD_PRELOAD", "")
    return any(name in preload for name in ("jemalloc", "tcmalloc", "mimalloc"))


def tune_malloc_for_training(environ=None) -> bool:
    """Fix glibc's trim and mmap thresholds for the rest of the process.

    Called before CPU training. Does nothing where the C library is not
    glibc, when the environment variable ``SKTAAF_TUNE_MALLOC`` is ``"0"``,
    when the user set the thresholds (``MALLOC_TRIM_THRESHOLD_``,
    ``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TOP_PAD_``, or the
    ``glibc.malloc.trim_threshold``/``mmap_threshold`` tunables) or preloads
    another allocator (jemalloc, tcmalloc, mimalloc), and after its first call.

    The change is process-wide and lasts until the process ends (glibc cannot
    report the values it replaces, so they cannot be restored): the process
    keeps up to 64 MiB of freed memory at the top of its heap instead of
    returning it to the system at once, blocks under 32 MiB come from the heap
    rather than from ``mmap``, and glibc no longer adjusts either threshold by
    itself (``mallopt`` turns that off).

    Parameters
    ----------
    environ : mapping, default=None
        The environment to read; ``os.environ`` when None.

    Returns
    -------
    tuned : bool
        Whether this call changed the thresholds.
    """
    global _tuned
    if _tuned:
        return False
    _tuned = True
    if _user_configured(os.environ if environ is None else environ):
        return False
    libc = _glibc()
    if libc is None:
        return False
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    # Trim threshold first: setting the mmap threshold alone would leave the
    # trim threshold at its old value.
    trimmed = libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    mapped = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    return bool(trimmed and mapped)
