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

from .._columns import ColumnRows
from ._gct import load_gct, write_gct
from ._gctx import load_gctx, open_gctx, write_gctx
from ._hdf import load_hdf, load_hdf_pair
from ._ids import split_landmarks
from ._landmarks import l1000_landmark_ids, load_l1000_landmarks, map_landmark_ids
from ._npy import load_npy
from ._synthetic import make_expression

__all__ = [
    "ColumnRows",
    "open_gctx",
    "load_gct",
    "load_gctx",
    "load_hdf",
    "load_hdf_pair",
    "load_l1000_landmarks",
    "l1000_landmark_ids",
    "map_landmark_ids",
    "load_npy",
    "make_expression",
    "split_landmarks",
    "write_gct",
    "write_gctx",
]
