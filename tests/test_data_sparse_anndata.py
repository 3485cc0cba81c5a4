"""Sparse input (densified per batch) and AnnData (through a helper, with a
clear error when passed directly)."""

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import QUICK
from numpy.testing import assert_allclose, assert_array_equal

import sktaaf._base
import sktaaf._data._rows
from sktaaf import DGEXRegressor, TAAFRegressor, TargetBlockRegressor
from sktaaf._data._rows import as_rows
from sktaaf.datasets import anndata_to_frames
from sktaaf.metrics import per_gene_mae, per_gene_pearson


def _column_statistics(array, sample_weight=None):
    return as_rows(array).column_statistics(sample_weight)


@pytest.fixture(scope="module")
def data():
    X = sp.random(90, 12, density=0.3, format="csr", random_state=0)
    X = X.astype(np.float32)
    rng = np.random.RandomState(1)
    y = (X @ rng.normal(size=(12, 4))).astype(np.float32)
    return X, np.asarray(y)


@pytest.mark.parametrize("Estimator", [TAAFRegressor, DGEXRegressor])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_sparse_fits_as_dense(Estimator, data, early_stopping):
    X, y = data
    params = {**QUICK, "early_stopping": early_stopping}
    sparse = Estimator(**params).fit(X, y)
    dense = Estimator(**params).fit(X.toarray(), y)
    assert_array_equal(sparse.predict(X), dense.predict(X.toarray()))
    for matrix in (X.tocsc(), X.tocoo(), sp.csr_array(X), X.astype(np.float64)):
        assert_allclose(sparse.predict(matrix), dense.predict(X.toarray()), rtol=1e-6)


def test_sparse_targets(data):
    X, y = data
    sparse = TAAFRegressor(**QUICK).fit(X, sp.csr_matrix(y))
    dense = TAAFRegressor(**QUICK).fit(X, y)
    assert_array_equal(sparse.predict(X), dense.predict(X))


def test_never_densified_whole(data, monkeypatch):
    X, y = data
    densified = []
    original = sp.csr_matrix.toarray

    def toarray(self, *args, **kwargs):
        densified.append(self.shape[0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(sp.csr_matrix, "toarray", toarray)
    monkeypatch.setattr(sktaaf._base, "_MIN_PREDICT_BATCH_SIZE", 8)
    # The statistics of standardize=True read chunks of rows too (CHUNK_ROWS).
    monkeypatch.setattr(sktaaf._data._rows, "CHUNK_ROWS", 16)
    model = TAAFRegressor(**QUICK, batch_size=16).fit(X, y)
    model.predict(X)
    assert densified and max(densified) <= 16


def test_blocks_take_sparse_input(data):
    X, y = data
    blocks = TargetBlockRegressor(TAAFRegressor(**QUICK), n_blocks=2)
    y_pred = blocks.fit(X, sp.csr_matrix(y)).predict(X)
    dense = TargetBlockRegressor(TAAFRegressor(**QUICK), n_blocks=2).fit(X.toarray(), y)
    assert_array_equal(y_pred, dense.predict(X.toarray()))


def test_standardization_statistics_of_sparse_input(data):
    X, _ = data
    mean, scale = _column_statistics(X)
    assert mean.dtype == scale.dtype == np.float32
    dense_mean, dense_scale = _column_statistics(X.toarray())
    assert_allclose(mean, dense_mean, rtol=1e-6, atol=1e-7)
    assert_allclose(scale, dense_scale, rtol=1e-6, atol=1e-7)
    for other in (X.tocsc(), X.tocoo()):
        assert_allclose(_column_statistics(other)[1], scale, rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------------- AnnData
anndata = pytest.importorskip("anndata")
pd = pytest.importorskip("pandas")


def _adata(sparse: bool):
    rng = np.random.RandomState(0)
    matrix = rng.poisson(1.0, size=(50, 10)).astype(np.float32)
    adata = anndata.AnnData(sp.csr_matrix(matrix) if sparse else matrix)
    adata.var_names = [f"G{i}" for i in range(10)]
    adata.obs_names = [f"cell{i}" for i in range(50)]
    adata.layers["log1p"] = np.log1p(matrix)
    return adata, matrix


def test_anndata_passed_directly_is_a_clear_error():
    adata, _ = _adata(sparse=False)
    y = np.zeros((50, 2), dtype=np.float32)
    for estimator in (
        TAAFRegressor(**QUICK),
        TargetBlockRegressor(TAAFRegressor(**QUICK)),
    ):
        with pytest.raises(TypeError, match="AnnData.*anndata_to_frames"):
            estimator.fit(adata, y)
    model = TAAFRegressor(**QUICK).fit(adata.X, y)
    with pytest.raises(TypeError, match="AnnData.*anndata_to_frames"):
        model.predict(adata)


@pytest.mark.parametrize("sparse", [False, True])
def test_anndata_to_frames(sparse):
    adata, matrix = _adata(sparse)
    data = anndata_to_frames(adata, ["G3", "G0", "G7"])
    assert list(data.X.columns) == ["G3", "G0", "G7"]
    assert list(data.y.columns) == ["G1", "G2", "G4", "G5", "G6", "G8", "G9"]
    assert list(data.X.index) == list(adata.obs_names)
    assert_array_equal(data.sample_ids, adata.obs_names)
    assert_array_equal(np.asarray(data.X.to_numpy(), np.float32), matrix[:, [3, 0, 7]])
    assert all(isinstance(t, pd.SparseDtype) for t in data.X.dtypes) == sparse
    model = TAAFRegressor(**QUICK).fit(data.X, data.y)
    assert list(model.target_names_) == list(data.y.columns)
    y_pred = model.predict(data.X, as_frame=True)
    assert y_pred.index.equals(data.X.index)
    layer = anndata_to_frames(adata, ["G3"], target_ids=["G1", "G2"], layer="log1p")
    assert_allclose(layer.y.to_numpy(), np.log1p(matrix[:, [1, 2]]))


@pytest.mark.parametrize("sparse", [False, True])
def test_backed_anndata(sparse, tmp_path):
    """An AnnData opened in backed mode: anndata_to_frames reads it (sparse
    stays sparse); its backed sparse matrix given to fit is a clear error."""
    adata, matrix = _adata(sparse)
    path = tmp_path / "cells.h5ad"
    adata.write_h5ad(path)
    backed = anndata.read_h5ad(path, backed="r")
    try:
        data = anndata_to_frames(backed, ["G3", "G0", "G7"])
        assert_array_equal(data.X.to_numpy(np.float32), matrix[:, [3, 0, 7]])
        assert all(isinstance(t, pd.SparseDtype) for t in data.y.dtypes) == sparse
        model = TAAFRegressor(**QUICK).fit(data.X, data.y)
        assert list(model.target_names_) == list(data.y.columns)
        if sparse:
            with pytest.raises(TypeError, match=r"X is an anndata .*to_memory\(\)"):
                TAAFRegressor(**QUICK).fit(backed.X, data.y)
            with pytest.raises(TypeError, match=r"X is an anndata .*to_memory\(\)"):
                model.predict(backed.X)
    finally:
        backed.file.close()
    # views of arrays and sparse matrices are arrays and matrices
    view = adata[:20]
    TAAFRegressor(**QUICK).fit(view.X, np.zeros((20, 2), dtype=np.float32))


def test_anndata_to_frames_reads_raw():
    """adata.raw holds the genes and values from before filtering and
    scaling: use_raw=True reads them, its sparse frames train and score."""
    adata, matrix = _adata(sparse=True)
    adata.raw = adata  # the full, unscaled matrix
    scaled = adata[:, ["G0", "G3", "G7", "G8"]].copy()
    scaled.X = np.asarray(scaled.X.todense()) * 100.0
    data = anndata_to_frames(
        scaled, ["G3", "G0"], target_ids=["G1", "G9"], use_raw=True
    )
    assert_array_equal(data.X.to_numpy(np.float32), matrix[:, [3, 0]])
    assert_array_equal(data.y.to_numpy(np.float32), matrix[:, [1, 9]])
    assert all(isinstance(t, pd.SparseDtype) for t in data.y.dtypes)
    model = TAAFRegressor(**QUICK).fit(data.X, data.y)
    y_pred = model.predict(data.X, as_frame=True)
    dense = data.y.sparse.to_dense()
    assert_allclose(per_gene_pearson(data.y, y_pred), per_gene_pearson(dense, y_pred))
    assert_allclose(per_gene_mae(data.y, y_pred), per_gene_mae(dense, y_pred))
    assert list(per_gene_mae(data.y, y_pred).index) == ["G1", "G9"]
    with pytest.raises(ValueError, match="adata.raw is not a layer: use_raw=True"):
        anndata_to_frames(scaled, ["G3"], layer="raw")
    with pytest.raises(ValueError, match="cannot be combined with layer"):
        anndata_to_frames(scaled, ["G3"], layer="log1p", use_raw=True)
    no_raw, _ = _adata(sparse=True)
    with pytest.raises(ValueError, match=r"adata.raw is None"):
        anndata_to_frames(no_raw, ["G3"], use_raw=True)
    with pytest.raises(ValueError, match="has no adata.raw either"):
        anndata_to_frames(no_raw, ["G3"], layer="raw")


def test_anndata_to_frames_errors():
    adata, _ = _adata(sparse=True)
    with pytest.raises(ValueError, match="layer='counts' is not a layer"):
        anndata_to_frames(adata, ["G0"], layer="counts")
    with pytest.raises(ValueError, match="not among"):
        anndata_to_frames(adata, ["TP53"])
    with pytest.raises(TypeError, match="must be an anndata.AnnData"):
        anndata_to_frames(np.zeros((2, 2)), ["G0"])


def test_pbmc68k_reduced():
    """A real (small) single-cell data set, through scanpy."""
    scanpy = pytest.importorskip("scanpy")
    try:
        adata = scanpy.datasets.pbmc68k_reduced()
    except Exception as exc:  # e.g. a scanpy without its bundled file
        pytest.skip(f"pbmc68k_reduced is unavailable: {exc}")
    landmarks = list(adata.var_names[:40])
    targets = list(adata.var_names[40:100])
    counts = adata.copy()
    counts.X = sp.csr_matrix(counts.X)  # sparse, as most files hold it
    data = anndata_to_frames(counts, landmarks, target_ids=targets)
    model = TAAFRegressor(**QUICK).fit(data.X, data.y)
    y_pred = model.predict(data.X, as_frame=True)
    assert y_pred.shape == (adata.n_obs, 60)
    assert list(y_pred.columns) == targets
    assert y_pred.index.equals(pd.Index(adata.obs_names))
    assert np.isfinite(y_pred.to_numpy()).all()
