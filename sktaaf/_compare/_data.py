"""Data and splits of ``sktaaf compare``: synthetic data or a file."""

from __future__ import annotations

import argparse
import os
import zipfile
from pathlib import Path

import numpy as np
from sklearn.model_selection import KFold
from sklearn.utils import Bunch

from .._cli._errors import UsageError
from .._cli._profiles import file_format, load_profiles, read_id_list
from .._utils._arrays import gene_names
from ..datasets import make_expression, split_landmarks


def read_ids(path: Path, option: str = "--landmarks") -> list[str]:
    """Gene ids, one per line of a UTF-8 file (a byte-order mark allowed);
    blank lines and ``#`` comments are skipped; ``option`` names the file in
    errors. The command line's reader
    (:func:`~sktaaf._cli._profiles.read_id_list`), its errors as ValueError;
    a file named ``l1000`` is read as a file, not as the shipped list."""
    spec = str(path)
    if spec.lower() == "l1000":
        spec = os.path.join(os.curdir, spec)
    try:
        return list(read_id_list(spec, "", option.removeprefix("--")))
    except UsageError as exc:
        raise ValueError(str(exc)) from exc


def _matrix_bunch(matrix, gene_ids, landmark_ids, target_ids, sample_ids=None):
    if landmark_ids is None:
        raise ValueError(
            "A samples x genes matrix needs --landmarks FILE (landmark gene ids, "
            "one per line) to be split into landmarks and targets."
        )
    if matrix.dtype.kind not in "biuf":
        raise ValueError(
            f"its matrix holds {matrix.dtype} values; expected numbers (samples x "
            "genes)"
        )
    if gene_ids is None:  # columns are known by their number
        gene_ids = [str(column) for column in range(matrix.shape[1])]
    return split_landmarks(
        matrix, gene_ids, landmark_ids, target_ids=target_ids, sample_ids=sample_ids
    )


def _need(landmark_ids, path):
    if landmark_ids is None:
        raise ValueError(f"{path.name} needs --landmarks FILE (one gene id per line).")
    return landmark_ids


def load_data(
    path: Path,
    landmark_ids: list[str] | None = None,
    target_ids: list[str] | None = None,
    hdf_key: str = "table",
) -> Bunch:
    """Load landmarks ``X`` and targets ``y`` from a data file, by its suffix.

    ``.gctx``, ``.gct`` (or ``.gct.gz``) and ``.h5``/``.hdf5`` (a pandas
    samples x genes DataFrame under ``hdf_key``) are read as the command line
    reads them (:func:`~sktaaf._cli._profiles.load_profiles`) and split by
    ``landmark_ids``. A ``.npz`` holds either arrays ``X`` and
    ``y`` (optionally ``landmark_ids``, ``target_ids``, ``sample_ids``) or a
    samples x genes matrix (the array ``matrix``, or its only 2-D array) with
    optional ``gene_ids`` and ``sample_ids``; a ``.npy`` is such a matrix.
    A matrix without gene ids has its column numbers ("0", "1", ...) as ids.
    ``target_ids`` None takes every gene that is not a landmark.
    """
    path = Path(path)
    if path.name.lower().endswith(".npy"):
        matrix = np.load(path, mmap_mode="r")  # only the columns used are read
        return _matrix_bunch(matrix, None, landmark_ids, target_ids)
    kind = file_format(path)
    if kind is None:
        raise ValueError(
            f"Unknown data file type {path.name!r}: expected .gctx, .gct, "
            ".gct.gz, .h5, .hdf5, .npz or .npy."
        )
    if kind != "npz":  # the command line's reader of profile files
        return load_profiles(
            path, _need(landmark_ids, path), target_ids, hdf_key=hdf_key
        )
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    if "X" in arrays and "y" in arrays:
        if landmark_ids is not None or target_ids is not None:
            raise ValueError(
                f"{path.name} holds X and y already split; --landmarks and "
                "--targets are for samples x genes matrices."
            )
        y = arrays["y"]
        return Bunch(
            X=arrays["X"].astype(np.float32, copy=False),
            y=(y.reshape(len(y), -1)).astype(np.float32, copy=False),
            landmark_ids=arrays.get("landmark_ids"),
            target_ids=arrays.get("target_ids"),
            sample_ids=arrays.get("sample_ids"),
        )
    matrices = [key for key, value in arrays.items() if value.ndim == 2]
    key = "matrix" if "matrix" in arrays else (matrices[0] if matrices else None)
    if key is None or (key != "matrix" and len(matrices) > 1):
        raise ValueError(
            f"{path.name} holds arrays {sorted(arrays)}: expected X and y, an "
            "array named 'matrix', or a single 2-D (samples x genes) array."
        )
    return _matrix_bunch(
        arrays[key],
        arrays.get("gene_ids"),
        landmark_ids,
        target_ids,
        arrays.get("sample_ids"),
    )


def _load_named(path: Path, landmark_ids, target_ids, hdf_key) -> Bunch:
    """:func:`load_data`, its errors naming the file."""
    try:
        return load_data(path, landmark_ids, target_ids, hdf_key)
    except (
        OSError,
        ValueError,
        KeyError,
        EOFError,
        zipfile.BadZipFile,
        UsageError,
    ) as exc:
        message = " ".join(str(exc).strip("'\"").split())
        if path.name not in message:
            message = f"cannot read --data {str(path)!r}: {message}"
        raise ValueError(message) from exc


def get_data(args: argparse.Namespace) -> tuple[Bunch, dict]:
    """The data of this run and a description of it."""
    real = getattr(args, "real", None)
    if real is not None:
        from ..datasets import load_real_example

        # --n-targets: the most variable non-landmark genes (the loader's
        # choice), not the first ones.
        data = load_real_example(real, n_targets=args.n_targets)
        source = data.pop("description")
    elif args.data is None:
        X, y = make_expression(
            n_samples=args.n_samples,
            n_landmarks=args.n_landmarks,
            n_targets=args.n_targets,
            random_state=args.seed,
        )
        data = Bunch(
            X=X,
            y=y,
            # The names make_expression(as_frame=True) gives: LM0001, TG0001, ...
            landmark_ids=gene_names("LM", X.shape[1]),
            target_ids=gene_names("TG", y.shape[1]),
            sample_ids=None,
        )
        source = f"make_expression(random_state={args.seed})"
    if args.data is not None:
        landmarks = read_ids(args.landmarks) if args.landmarks else None
        targets = read_ids(args.targets, "--targets") if args.targets else None
        data = _load_named(args.data, landmarks, targets, args.hdf_key)
        source = str(args.data)
    if args.data is not None or real is not None:
        n_total = len(data.X)
        if args.n_samples is not None and args.n_samples < n_total:
            rows = np.sort(
                np.random.RandomState(args.seed).choice(
                    n_total, args.n_samples, replace=False
                )
            )
            data.X, data.y = data.X[rows], data.y[rows]
            if data.sample_ids is not None:
                data.sample_ids = data.sample_ids[rows]
            source += f" ({args.n_samples} of {n_total} samples, seed {args.seed})"
        for field, ids, n_keep in (
            ("X", "landmark_ids", args.n_landmarks),
            ("y", "target_ids", None if real else args.n_targets),
        ):
            if n_keep is not None and n_keep < data[field].shape[1]:
                data[field] = data[field][:, :n_keep]
                if data[ids] is not None:
                    data[ids] = data[ids][:n_keep]
                source += f" (first {n_keep} {ids[:-4]}s)"
    data.X = np.ascontiguousarray(data.X, dtype=np.float32)
    data.y = np.ascontiguousarray(data.y, dtype=np.float32)
    for field in ("X", "y"):
        n_bad = int(np.size(data[field]) - np.isfinite(data[field]).sum())
        if n_bad:
            raise ValueError(
                f"The {'landmark' if field == 'X' else 'target'} matrix has "
                f"{n_bad} missing or infinite values; impute or drop them first."
            )
    description = {
        "source": source,
        "n_samples": int(data.X.shape[0]),
        "n_landmarks": int(data.X.shape[1]),
        "n_targets": int(data.y.shape[1]),
    }
    return data, description


def make_splits(n_samples: int, args: argparse.Namespace) -> list[dict]:
    """Seeded test splits: a fixed fraction or K folds, for each repeat."""
    splits = []
    for repeat in range(args.seeds):
        seed = args.seed + repeat
        if args.folds:
            folds = KFold(args.folds, shuffle=True, random_state=seed).split(
                np.zeros(n_samples)
            )
        else:
            order = np.random.RandomState(seed).permutation(n_samples)
            n_test = max(1, round(args.test_fraction * n_samples))
            folds = [(np.sort(order[n_test:]), np.sort(order[:n_test]))]
        for fold, (train, test) in enumerate(folds):
            splits.append({"seed": seed, "fold": fold, "train": train, "test": test})
    return splits
