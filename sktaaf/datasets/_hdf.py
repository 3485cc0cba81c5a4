"""pandas HDF5 stores, including the two-file layout of TAAF-D-GEX."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, DTypeLike
from sklearn.utils import Bunch

from ._common import PathLike, _check_file, _import
from ._ids import _as_ids, _bunch, split_landmarks

__all__ = ["load_hdf", "load_hdf_pair"]


def _read_hdf_frame(path: PathLike, key: str, what: str):
    pd = _import("pandas", "pandas", "load_hdf")
    _import("tables", "tables", "load_hdf")  # pandas.read_hdf needs PyTables
    if not isinstance(key, str):
        raise TypeError(
            f"key must be a str, the key of the DataFrame in the store; got "
            f"{type(key).__name__} {key!r}."
        )
    path = _check_file(path, what)
    try:
        store = pd.HDFStore(path, mode="r")
    except Exception as exc:  # PyTables raises several types for non-HDF5 files
        raise ValueError(
            f"The {what} file {str(path)!r} cannot be opened as a pandas HDF5 "
            f"store: {exc}"
        ) from exc
    with store:
        try:  # damaged or foreign stores: PyTables and pandas raise many types
            # pandas 3.1 with PyTables 3.11 also lists the root group, "/".
            keys = [name.strip("/") for name in store.keys() if name.strip("/")]
            frame = store.get(key) if key.strip("/") in keys else None
        except Exception as exc:
            raise ValueError(
                f"The {what} file {str(path)!r} cannot be read as a pandas HDF5 "
                f"store (damaged, or not written by pandas): "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    if key.strip("/") not in keys:
        raise KeyError(
            f"The {what} file {str(path)!r} has no key {key!r}; its keys are {keys}."
        )
    if not isinstance(frame, pd.DataFrame) or frame.ndim != 2:
        raise TypeError(
            f"Key {key!r} of {str(path)!r} holds a {type(frame).__name__}, not a "
            "DataFrame of samples x genes."
        )
    return frame


def load_hdf(
    path: PathLike,
    landmark_ids: ArrayLike,
    *,
    key: str = "table",
    target_ids: ArrayLike | None = None,
    dtype: DTypeLike | None = np.float32,
) -> Bunch:
    """Load a samples x genes DataFrame from a pandas HDF5 file and split it.

    The file is a pandas ``HDFStore`` (``DataFrame.to_hdf``, "fixed" or
    "table" format) holding, at ``key``, a DataFrame with one row per sample
    (the index gives the sample ids) and one column per gene (the columns give
    the gene ids). Requires pandas and PyTables (``tables``).

    Parameters
    ----------
    path : str or path-like
        The HDF5 file.
    landmark_ids : array-like of shape (n_landmarks,)
        Column ids of the landmark genes, in the order wanted for ``X``.
    key : str, default="table"
        The key of the DataFrame in the store.
    target_ids : array-like of shape (n_targets,), default=None
        Column ids of the target genes; None takes every other column.
    dtype : data-type or None, default=np.float32
        dtype of ``X`` and ``y``; None keeps the DataFrame's.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X``, ``y``, ``landmark_ids``, ``target_ids``, ``sample_ids``; see
        :func:`split_landmarks`.

    See Also
    --------
    load_hdf_pair : The TAAF-D-GEX layout, landmarks and targets in two files.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> from sktaaf.datasets import load_hdf
    >>> frame = pd.DataFrame([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]],
    ...                      index=["s1", "s2"], columns=["g1", "g2", "g3"])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "profiles.h5"
    ...     frame.to_hdf(path, key="table")
    ...     data = load_hdf(path, landmark_ids=["g1", "g3"])
    >>> data.X, data.target_ids
    (array([[1., 3.],
           [4., 6.]], dtype=float32), array(['g2'], dtype=object))
    """
    frame = _read_hdf_frame(path, key, "HDF5")
    return split_landmarks(
        frame, None, landmark_ids, target_ids=target_ids, dtype=dtype
    )


def load_hdf_pair(
    landmarks_path: PathLike,
    targets_path: PathLike,
    *,
    key: str = "table",
    dtype: DTypeLike | None = np.float32,
) -> Bunch:
    """Load landmarks and targets from two pandas HDF5 files (TAAF-D-GEX layout).

    The reference implementation of TAAF-D-GEX [1]_ keeps each matrix in its
    own ``HDFStore`` file, under the key ``"table"``, as a samples x genes
    DataFrame: ``ddf_lm_dataset_*_train.h5`` for the landmarks and
    ``ddf_tg_dataset_*_train.h5`` for the targets (likewise ``*_test.h5``).
    The two files must hold the same samples in the same order; when both
    have a non-default index, the sample ids must agree. Requires pandas and
    PyTables (``tables``).

    Parameters
    ----------
    landmarks_path : str or path-like
        The landmarks file (``ddf_lm_*.h5``).
    targets_path : str or path-like
        The targets file (``ddf_tg_*.h5``).
    key : str, default="table"
        The key of the DataFrame in both stores.
    dtype : data-type or None, default=np.float32
        dtype of ``X`` and ``y``; None keeps the DataFrames'.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X``, ``y``, ``landmark_ids``, ``target_ids`` (the two files'
        columns) and ``sample_ids`` (the landmarks file's index); see
        :func:`split_landmarks`.

    See Also
    --------
    load_hdf : One file holding all genes.

    References
    ----------
    .. [1] V. Kunc and J. Kléma, "On transformative adaptive activation functions
       in neural networks for gene expression inference", PLoS ONE 16(1),
       e0243915, 2021.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np, pandas as pd
    >>> from sktaaf.datasets import load_hdf_pair
    >>> landmarks = pd.DataFrame(np.ones((4, 3)), columns=["lm1", "lm2", "lm3"])
    >>> targets = pd.DataFrame(np.zeros((4, 2)), columns=["tg1", "tg2"])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     folder = pathlib.Path(folder)
    ...     landmarks.to_hdf(folder / "ddf_lm_dataset_small_train.h5", key="table")
    ...     targets.to_hdf(folder / "ddf_tg_dataset_small_train.h5", key="table")
    ...     data = load_hdf_pair(folder / "ddf_lm_dataset_small_train.h5",
    ...                          folder / "ddf_tg_dataset_small_train.h5")
    >>> data.X.shape, data.y.shape, list(data.target_ids)
    ((4, 3), (4, 2), ['tg1', 'tg2'])
    """
    pd = _import("pandas", "pandas", "load_hdf_pair")
    landmarks = _read_hdf_frame(landmarks_path, key, "landmarks")
    targets = _read_hdf_frame(targets_path, key, "targets")
    if len(landmarks) != len(targets):
        raise ValueError(
            f"The landmarks file has {len(landmarks)} samples (rows) but the "
            f"targets file has {len(targets)}; they must hold the same samples."
        )
    sample_ids = _as_ids(landmarks.index, "the landmarks file's index", unique=False)
    default = pd.RangeIndex(len(landmarks))
    if not (landmarks.index.equals(default) or targets.index.equals(default)):
        target_samples = _as_ids(
            targets.index, "the targets file's index", unique=False
        )
        differ = np.flatnonzero(sample_ids.astype(str) != target_samples.astype(str))
        if differ.size:
            first = differ[0]
            raise ValueError(
                f"The landmarks and targets files hold different samples: "
                f"{differ.size} sample ids differ, first at row {first} "
                f"({sample_ids[first]!r} vs {target_samples[first]!r})."
            )
    return _bunch(
        landmarks.to_numpy(dtype=dtype),
        targets.to_numpy(dtype=dtype),
        _as_ids(landmarks.columns, "the landmarks file's columns"),
        _as_ids(targets.columns, "the targets file's columns"),
        sample_ids,
    )
