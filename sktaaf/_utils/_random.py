"""Seeding torch without sharing its random state between concurrent fits.

torch draws weights and dropout masks from one process-wide generator per
device, which every thread shares. ``torch.random.fork_rng`` saves and restores
that generator around a seeded section, but two threads doing so at once
interleave their draws (the fits stop being reproducible) and may restore each
other's state (torch's global state changes). Every section that seeds or
draws from torch's global generators therefore runs under one process-wide
lock: fits in threads of one process run their training one at a time, each
reproducible and leaving the global state as it found it. Fits in separate
processes (joblib's default backend) are unaffected.
"""

from __future__ import annotations

import contextlib
import threading

import torch

# Reentrant: a callback of one fit may fit or load another estimator.
_TORCH_RNG_LOCK = threading.RLock()


@contextlib.contextmanager
def isolated_torch_rng(devices=()):
    """Hold the process-wide lock and fork torch's random state.

    Inside, code may seed (``torch.manual_seed``) and draw freely; on exit
    torch's CPU generator, and those of the CUDA ``devices`` (indices), are
    back in the state they had on entry, and no other thread has drawn from
    them meanwhile through this function.
    """
    with _TORCH_RNG_LOCK, torch.random.fork_rng(devices=list(devices)):
        yield
