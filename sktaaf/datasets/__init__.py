"""Expression data: a synthetic generator, loaders and writers of data files.

:func:`make_expression` simulates landmark and target profiles. The loaders
read GCT/GCTX (the LINCS L1000 formats), pandas HDF5 (including the two-file
layout of the TAAF-D-GEX reference code) and ``.npy`` files, and return a
:class:`sklearn.utils.Bunch` with ``X`` (landmarks), ``y`` (targets),
``landmark_ids``, ``target_ids`` and ``sample_ids``; the GCT/GCTX loaders add
``row_metadata`` and ``col_metadata`` (DataFrames), and take the landmarks
from a file's ``pr_is_lmark`` field when no ids are given.
:func:`write_gctx` and :func:`write_gct` write profiles with their metadata.
:func:`load_l1000_landmarks` and :func:`l1000_landmark_ids` give the 978 L1000
landmark genes (probe ids, Entrez ids, symbols) shipped with the package. The
file loaders need the ``io`` extra: ``pip install 'sktaaf[io]'`` (pandas,
h5py, PyTables). :func:`open_gctx` and :class:`ColumnRows` give on-disk views
instead, which the estimators stream chunk by chunk for data larger than
memory; :func:`predict_gctx` infers genes from one GCTX file into another a
chunk of samples at a time. :func:`anndata_to_frames` splits a single-cell
``AnnData`` into landmark and target frames (the ``anndata`` extra).
:func:`inference_row_metadata` gives the row metadata of inferred genes from a
model's per-gene validation scores.
:func:`load_real_example` loads a small real data set through the package
that ships it (the ``real`` extra): single-cell sets from scanpy or celltypist
(also :func:`load_single_cell_example`), bulk microarray sets with L1000
landmarks from SurvSet.
"""

from .._data._columns import ColumnRows
from ._anndata import anndata_to_frames
from ._gct import load_gct, write_gct
from ._gctx import load_gctx, open_gctx, write_gctx
from ._gctx_stream import predict_gctx
from ._hdf import load_hdf, load_hdf_pair
from ._ids import split_landmarks
from ._inference import inference_row_metadata
from ._landmarks import l1000_landmark_ids, load_l1000_landmarks, map_landmark_ids
from ._npy import load_npy
from ._real import REAL_EXAMPLES, load_real_example
from ._single_cell import SINGLE_CELL_EXAMPLES, load_single_cell_example
from ._synthetic import make_expression

__all__ = [
    "REAL_EXAMPLES",
    "SINGLE_CELL_EXAMPLES",
    "ColumnRows",
    "anndata_to_frames",
    "open_gctx",
    "load_gct",
    "load_gctx",
    "load_hdf",
    "load_hdf_pair",
    "load_l1000_landmarks",
    "l1000_landmark_ids",
    "map_landmark_ids",
    "predict_gctx",
    "load_npy",
    "load_real_example",
    "load_single_cell_example",
    "inference_row_metadata",
    "make_expression",
    "split_landmarks",
    "write_gct",
    "write_gctx",
]
