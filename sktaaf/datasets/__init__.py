"""Expression data: a synthetic generator and loaders of real data files.

:func:`make_expression` simulates landmark and target profiles. The loaders
read GCT/GCTX (the LINCS L1000 formats), pandas HDF5 (including the two-file
layout of the TAAF-D-GEX reference code) and ``.npy`` files, and return a
:class:`sklearn.utils.Bunch` with ``X`` (landmarks), ``y`` (targets),
``landmark_ids``, ``target_ids`` and ``sample_ids``. The file loaders need the
``io`` extra: ``pip install 'sktaaf[io]'`` (pandas, h5py, PyTables).
:func:`open_gctx` and :class:`ColumnRows` give on-disk views instead, which the
estimators stream chunk by chunk for data larger than memory.
"""

from ._columns import ColumnRows, open_gctx
from ._loaders import (
    load_gct,
    load_gctx,
    load_hdf,
    load_hdf_pair,
    load_npy,
    split_landmarks,
)
from ._synthetic import make_expression

__all__ = [
    "ColumnRows",
    "open_gctx",
    "load_gct",
    "load_gctx",
    "load_hdf",
    "load_hdf_pair",
    "load_npy",
    "make_expression",
    "split_landmarks",
]
