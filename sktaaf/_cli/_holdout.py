"""``sktaaf fit --holdout F --holdout-out FILE``: a fraction of the samples,
drawn with the seed, kept out of training and written, every gene with its
row and column metadata, to a file that ``sktaaf score`` reads."""

from __future__ import annotations

import sys

import numpy as np

from ._errors import UsageError
from ._paths import os_error_message
from ._profiles import load_profiles

__all__ = ["hold_out", "split_samples"]


def split_samples(n_samples: int, fraction: float, seed) -> np.ndarray:
    """Whether each of ``n_samples`` samples is held out: ``round(fraction *
    n_samples)`` of them, drawn with ``seed`` (an int, or None for fresh
    randomness); at least one on each side."""
    if not 0.0 < fraction < 1.0:
        raise UsageError(
            f"--holdout takes a fraction of the samples in (0, 1); got {fraction}."
        )
    n_held = int(round(fraction * n_samples))
    if n_held < 1 or n_held > n_samples - 2:
        raise UsageError(
            f"--holdout {fraction} of {n_samples} samples holds out {n_held}; "
            "at least 1 must be held out and 2 left to train on."
        )
    generator = np.random.RandomState(seed if isinstance(seed, int) else None)
    held = np.zeros(n_samples, dtype=bool)
    held[generator.permutation(n_samples)[:n_held]] = True
    return held


def _write(path, data, held: np.ndarray) -> None:
    """The held-out samples of ``data`` (landmarks and every other gene),
    with their metadata, as GCTX (or GCT by the name)."""
    import pandas as pd

    from ..datasets import write_gct, write_gctx

    samples = data.sample_ids
    if samples is None:
        samples = np.array([str(i) for i in range(len(data.X))], dtype=object)
    genes = [*map(str, data.landmark_ids), *map(str, data.target_ids)]
    profiles = pd.DataFrame(
        np.hstack([data.X[held], data.y[held]]),
        index=pd.Index([str(value) for value in samples[held]], dtype=object),
        columns=pd.Index(genes, dtype=object),
    )
    columns = data.col_metadata
    if columns is not None:
        columns = columns.iloc[np.flatnonzero(held)].set_axis(profiles.index, axis=0)
    writer = (
        write_gct if path.name.lower().endswith((".gct", ".gct.gz")) else (write_gctx)
    )
    try:
        writer(path, profiles, data.row_metadata, columns)
    except OSError as exc:
        raise UsageError(os_error_message(exc, path)) from exc


def hold_out(args, landmark_ids, target_ids, path):
    """The training data of ``sktaaf fit`` with ``--holdout``: the file in
    memory, its held-out samples written to ``path`` (before training) and
    left out of ``X`` and ``y``."""
    data = load_profiles(args.profiles, landmark_ids, target_ids=None)
    seed = args.resolved_seed
    held = split_samples(len(data.X), args.holdout, seed)
    _write(path, data, held)
    if target_ids is not None:  # the training targets among every gene
        position = {str(gene): i for i, gene in enumerate(data.target_ids)}
        absent = [gene for gene in target_ids if str(gene) not in position]
        if absent:
            raise UsageError(
                f"{args.profiles!r} lacks {len(absent)} of the target genes, "
                f"e.g. {absent[:5]}."
            )
        columns = [position[str(gene)] for gene in target_ids]
        data.y, data.target_ids = (
            data.y[:, columns],
            np.asarray([str(gene) for gene in target_ids], dtype=object),
        )
    kept = ~held
    data.X, data.y = data.X[kept], data.y[kept]
    if data.sample_ids is not None:
        data.sample_ids = data.sample_ids[kept]
    if data.col_metadata is not None:
        data.col_metadata = data.col_metadata.iloc[np.flatnonzero(kept)]
    if not args.quiet:
        print(
            f"Held out {int(held.sum())} of {len(held)} samples (seed {seed}); "
            f"wrote them to {str(path)!r}.",
            file=sys.stderr,
        )
    return data
