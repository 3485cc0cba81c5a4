"""The synthetic generator and the loaders of sktaaf.datasets."""

import gzip
import sys

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error
from sklearn.utils._param_validation import InvalidParameterError

from sktaaf.datasets import (
    _gctx,
    load_gct,
    load_gctx,
    load_hdf,
    load_hdf_pair,
    load_npy,
    make_expression,
    split_landmarks,
)


# ---------------------------------------------------------- make_expression
def test_make_expression_shapes_and_dtypes():
    X, y = make_expression(n_samples=30, random_state=0)
    assert X.shape == (30, 942) and y.shape == (30, 952)
    assert X.dtype == np.float32 and y.dtype == np.float32
    assert np.isfinite(X).all() and np.isfinite(y).all()
    # The scale of standardised log expression.
    assert -3 < X.mean() < 3 and np.abs(X).max() < 10


def test_make_expression_is_deterministic():
    first = make_expression(n_samples=20, n_landmarks=8, n_targets=5, random_state=3)
    again = make_expression(n_samples=20, n_landmarks=8, n_targets=5, random_state=3)
    other = make_expression(n_samples=20, n_landmarks=8, n_targets=5, random_state=4)
    for a, b, c in zip(first, again, other, strict=True):
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
    rng = np.random.RandomState(3)
    from_rng = make_expression(
        n_samples=20, n_landmarks=8, n_targets=5, random_state=rng
    )
    np.testing.assert_array_equal(from_rng[0], first[0])


def test_make_expression_as_frame():
    pd = pytest.importorskip("pandas")
    X, y = make_expression(n_samples=6, n_landmarks=3, n_targets=12, as_frame=True)
    assert isinstance(X, pd.DataFrame) and isinstance(y, pd.DataFrame)
    assert list(X.columns) == ["LM0001", "LM0002", "LM0003"]
    assert y.columns[-1] == "TG0012"
    assert (X.dtypes == np.float32).all() and (y.dtypes == np.float32).all()
    wide, _ = make_expression(
        n_samples=1, n_landmarks=10000, n_targets=1, as_frame=True
    )
    assert wide.columns[0] == "LM00001" and wide.columns[-1] == "LM10000"


@pytest.mark.parametrize(
    "kwargs", [{"n_samples": 0}, {"n_programs": 0}, {"noise": -0.1}]
)
def test_make_expression_invalid_parameters(kwargs):
    with pytest.raises(InvalidParameterError):
        make_expression(**kwargs)


def knn_ge_predict(X_train, y_train, X_test, k=5):
    """Each target: the mean z-score of its k most correlated landmarks."""
    mx, sx = X_train.mean(0), X_train.std(0)
    my, sy = y_train.mean(0), y_train.std(0)
    corr = ((y_train - my) / sy).T @ ((X_train - mx) / sx) / len(X_train)
    nearest = np.argsort(-corr, axis=1)[:, :k]
    return my + sy * ((X_test - mx) / sx)[:, nearest].mean(axis=2)


def test_linear_regression_beats_gene_space_knn():
    X, y = make_expression(n_samples=600, n_landmarks=60, n_targets=40, random_state=0)
    X_train, X_test, y_train, y_test = X[:450], X[450:], y[:450], y[450:]
    linear = mean_absolute_error(
        y_test, LinearRegression().fit(X_train, y_train).predict(X_test)
    )
    knn_ge = mean_absolute_error(y_test, knn_ge_predict(X_train, y_train, X_test))
    mean = mean_absolute_error(y_test, np.broadcast_to(y_train.mean(0), y_test.shape))
    assert linear < knn_ge < mean


# ---------------------------------------------------------- split_landmarks
GENES = ["g1", "g2", "g3", "g4", "g5"]


@pytest.fixture(scope="module")
def matrix():
    return np.arange(15, dtype=np.float64).reshape(3, 5)  # 3 samples x 5 genes


def test_split_landmarks_orders_and_defaults(matrix):
    data = split_landmarks(matrix, GENES, ["g4", "g2"], sample_ids=["a", "b", "c"])
    np.testing.assert_array_equal(data.X, matrix[:, [3, 1]])
    np.testing.assert_array_equal(data.y, matrix[:, [0, 2, 4]])
    assert data.X.dtype == np.float32 and data.y.dtype == np.float32
    assert list(data.landmark_ids) == ["g4", "g2"]
    assert list(data.target_ids) == ["g1", "g3", "g5"]
    assert list(data.sample_ids) == ["a", "b", "c"]
    assert data.landmark_ids.dtype == object


def test_split_landmarks_explicit_targets_and_dtype(matrix):
    data = split_landmarks(matrix, GENES, ["g1"], target_ids=["g5", "g3"], dtype=None)
    np.testing.assert_array_equal(data.y, matrix[:, [4, 2]])
    assert data.y.dtype == np.float64 and data.sample_ids is None


def test_split_landmarks_matches_ids_as_strings():
    data = split_landmarks(np.eye(3), ["5720", "466", "6009"], [466, 6009])
    assert list(data.landmark_ids) == ["466", "6009"]
    assert list(data.target_ids) == ["5720"]


def test_split_landmarks_dataframe_and_memmap(matrix, tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(matrix, index=["a", "b", "c"], columns=GENES)
    data = split_landmarks(frame, None, ["g2"])
    np.testing.assert_array_equal(data.X, matrix[:, [1]])
    assert list(data.sample_ids) == ["a", "b", "c"]
    np.save(tmp_path / "m.npy", matrix)
    mapped = np.load(tmp_path / "m.npy", mmap_mode="r")
    np.testing.assert_array_equal(split_landmarks(mapped, GENES, ["g2"]).X, data.X)


@pytest.mark.parametrize(
    "gene_ids, landmark_ids, target_ids, error, match",
    [
        (GENES, ["g1", "g9", "g8"], None, ValueError, r"2 of the 3 landmark ids"),
        (GENES, ["g1", "g1"], None, ValueError, "landmark_ids must be unique"),
        (GENES, ["g1"], ["g1", "g2"], ValueError, "both landmark and target"),
        (GENES, ["g1"], ["g7"], ValueError, "1 of the 1 target ids"),
        (GENES[:4], ["g1"], None, ValueError, "5 columns but gene_ids has 4"),
        (["g1", "g1", "g3", "g4", "g5"], ["g3"], None, ValueError, "gene_ids must"),
        (GENES, "g1", None, TypeError, "sequence of ids"),
        (None, ["g1"], None, TypeError, "needs a DataFrame"),
    ],
)
def test_split_landmarks_errors(
    matrix, gene_ids, landmark_ids, target_ids, error, match
):
    with pytest.raises(error, match=match):
        split_landmarks(matrix, gene_ids, landmark_ids, target_ids=target_ids)


def test_split_landmarks_needs_2d():
    with pytest.raises(ValueError, match="2-D"):
        split_landmarks(np.ones(5), GENES, ["g1"])


# ---------------------------------------------------------------------- GCT
# 3 genes x 4 samples, with NaN; samples x genes is its transpose.
GCT_VALUES = np.array(
    [[1.0, 2.0, 3.0, 4.0], [5.0, np.nan, 7.0, 8.0], [9.0, 10.0, 11.0, 12.5]]
)
GCT_13 = """#1.3\t\t\t
3\t4\t2\t2
id\tpr_gene_symbol\tpr_is_lm\tS1\tS2\tS3\tS4
cell_id\t-666\t-666\tA375\tA375\tPC3\tPC3
pert_id\t-666\t-666\tDMSO\tBRD-1\tDMSO\tBRD-2
5720\tPSME1\t1\t1\t2\t3\t4
466\tATF1\t0\t5\tNaN\t7\t8
6009\tRHEB\t1\t9\t10\t11\t12.5
"""
GCT_12 = """#1.2
3\t4
Name\tDescription\tS1\tS2\tS3\tS4
5720\tPSME1\t1\t2\t3\t4
466\tATF1\t5\t\t7\t8
6009\tRHEB\t9\t10\t11\t12.5
"""


@pytest.mark.parametrize("text", [GCT_13, GCT_12], ids=["1.3", "1.2"])
@pytest.mark.parametrize("compressed", [False, True])
def test_load_gct(tmp_path, text, compressed):
    pytest.importorskip("pandas")
    path = tmp_path / ("x.gct.gz" if compressed else "x.gct")
    if compressed:
        with gzip.open(path, "wt") as file:
            file.write(text)
    else:
        path.write_text(text)
    data = load_gct(path, landmark_ids=[6009, 5720])
    np.testing.assert_array_equal(data.X, GCT_VALUES.T[:, [2, 0]])
    np.testing.assert_array_equal(data.y, GCT_VALUES.T[:, [1]])
    assert data.X.dtype == np.float32
    assert list(data.landmark_ids) == ["6009", "5720"]
    assert list(data.target_ids) == ["466"]
    assert list(data.sample_ids) == ["S1", "S2", "S3", "S4"]


@pytest.mark.parametrize(
    "text, match",
    [
        ("#1.4\n3\t4\n", "not a GCT file"),
        ("#1.2\nthree\tfour\n", "not a GCT file"),
        ("#1.3\n-3\t4\t1\t0\n", "not a GCT file"),
        (GCT_12.replace("3\t4", "3\t5"), "Line 3 .* has 6 tab-separated fields but 7"),
        (GCT_12.replace("3\t4", "4\t4"), "declares 4 genes x 4 samples but holds 3"),
        (GCT_12.replace("\t11\t", "\televen\t"), "Line 6 .*'eleven'.*not a number"),
    ],
)
def test_load_gct_errors(tmp_path, text, match):
    pytest.importorskip("pandas")
    path = tmp_path / "bad.gct"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        load_gct(path, landmark_ids=["5720"])


def test_missing_files_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="GCT file .*nope.gct' does not exist"):
        load_gct(tmp_path / "nope.gct", ["g1"])
    with pytest.raises(FileNotFoundError, match="is not a file"):
        load_gctx(tmp_path, ["g1"])
    with pytest.raises(FileNotFoundError, match="targets file"):
        np.save(tmp_path / "X.npy", np.ones((2, 2)))
        load_npy(tmp_path / "X.npy", tmp_path / "y.npy")


# --------------------------------------------------------------------- GCTX
def write_gctx(path, samples_by_genes, gene_ids, sample_ids, metadata=True):
    """The layout of cmapPy's write_gctx: the matrix as h5py sees it."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as file:
        file.attrs["version"] = np.bytes_("GCTX1.0")
        file.create_dataset("0/DATA/0/matrix", data=samples_by_genes)
        file.create_dataset("0/META/ROW/id", data=np.array(gene_ids, dtype="S"))
        file.create_dataset("0/META/COL/id", data=np.array(sample_ids, dtype="S"))
        if metadata:
            symbols = np.array([f"SYM{i}" for i in range(len(gene_ids))], dtype="S")
            file.create_dataset("0/META/ROW/pr_gene_symbol", data=symbols)
            file.create_dataset("0/META/COL/cell_id", data=np.array(sample_ids, "S"))


@pytest.fixture
def gctx_file(tmp_path):
    rng = np.random.RandomState(0)
    values = rng.normal(size=(7, 6)).astype(np.float32)  # 7 samples x 6 genes
    genes = ["10", "20", "30", "40", "50", "60"]
    samples = [f"CPC001_A375_6H:BRD-{i}" for i in range(7)]
    path = tmp_path / "level3.gctx"
    write_gctx(path, values, genes, samples)
    return path, values, genes, samples


def test_load_gctx(gctx_file):
    path, values, genes, samples = gctx_file
    data = load_gctx(path, landmark_ids=[50, 10])
    np.testing.assert_array_equal(data.X, values[:, [4, 0]])
    np.testing.assert_array_equal(data.y, values[:, [1, 2, 3, 5]])
    assert list(data.target_ids) == ["20", "30", "40", "60"]
    assert list(data.sample_ids) == samples
    assert data.X.dtype == np.float32


@pytest.mark.parametrize("chunk_elements", [2**24, 6, 12])  # 1 or 2 samples a read
def test_load_gctx_sample_subset_in_requested_order(
    gctx_file, monkeypatch, chunk_elements
):
    monkeypatch.setattr(_gctx, "_GCTX_CHUNK_ELEMENTS", chunk_elements)
    path, values, genes, samples = gctx_file
    wanted = [samples[5], samples[1], samples[2], samples[6]]
    data = load_gctx(path, ["30"], target_ids=["60", "10"], sample_ids=wanted)
    rows = [5, 1, 2, 6]
    np.testing.assert_array_equal(data.X, values[rows][:, [2]])
    np.testing.assert_array_equal(data.y, values[rows][:, [5, 0]])
    assert list(data.sample_ids) == wanted


def test_load_gctx_errors(gctx_file, tmp_path):
    h5py = pytest.importorskip("h5py")
    path, values, genes, samples = gctx_file
    with pytest.raises(ValueError, match="1 of the 2 sample ids"):
        load_gctx(path, ["10"], sample_ids=[samples[0], "nope"])
    with pytest.raises(ValueError, match="landmark ids are not among the 6 gene"):
        load_gctx(path, ["10", "99"])
    not_hdf5 = tmp_path / "text.gctx"
    not_hdf5.write_text("not HDF5")
    with pytest.raises(ValueError, match="cannot open it as HDF5"):
        load_gctx(not_hdf5, ["10"])
    with h5py.File(tmp_path / "other.h5", "w") as file:
        file.create_dataset("data", data=np.ones(3))
    with pytest.raises(ValueError, match="no /0/DATA/0/matrix"):
        load_gctx(tmp_path / "other.h5", ["10"])
    transposed = tmp_path / "transposed.gctx"
    write_gctx(transposed, values.T, genes, samples)  # genes x samples: wrong
    with pytest.raises(ValueError, match=r"shape \(6, 7\).*expected .*\(7, 6\)"):
        load_gctx(transposed, ["10"])


def test_missing_optional_package_is_clear(gctx_file, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=r"requires the 'h5py'.*sktaaf\[io\]"):
        load_gctx(gctx_file[0], ["10"])


# --------------------------------------------------------------------- HDF5
@pytest.fixture
def frames():
    pd = pytest.importorskip("pandas")
    pytest.importorskip("tables")
    rng = np.random.RandomState(0)
    samples = [f"GSM{i}" for i in range(6)]
    landmarks = pd.DataFrame(
        rng.normal(size=(6, 4)), index=samples, columns=[101, 102, 103, 104]
    )
    targets = pd.DataFrame(
        rng.normal(size=(6, 3)), index=samples, columns=["201", "202", "203"]
    )
    return landmarks, targets


@pytest.mark.parametrize("format", ["fixed", "table"])
def test_load_hdf(tmp_path, frames, format):
    pd = pytest.importorskip("pandas")
    landmarks, targets = frames
    frame = pd.concat([targets, landmarks], axis=1)
    frame.columns = frame.columns.astype(str)
    path = tmp_path / "all.h5"
    frame.to_hdf(path, key="expression", format=format)
    data = load_hdf(path, landmark_ids=[104, 101], key="expression")
    np.testing.assert_allclose(data.X, landmarks[[104, 101]].to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(data.y, frame.iloc[:, [0, 1, 2, 4, 5]], rtol=1e-6)
    assert data.X.dtype == np.float32
    assert list(data.target_ids) == ["201", "202", "203", "102", "103"]
    assert list(data.sample_ids) == list(landmarks.index)


def test_load_hdf_pair_taaf_layout(tmp_path, frames):
    landmarks, targets = frames
    lm_path = tmp_path / "ddf_lm_dataset_small_example_train.h5"
    tg_path = tmp_path / "ddf_tg_dataset_small_example_train.h5"
    landmarks.to_hdf(lm_path, key="table")
    targets.to_hdf(tg_path, key="table")
    data = load_hdf_pair(lm_path, tg_path)
    np.testing.assert_allclose(data.X, landmarks.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(data.y, targets.to_numpy(), rtol=1e-6)
    assert list(data.landmark_ids) == ["101", "102", "103", "104"]
    assert list(data.target_ids) == ["201", "202", "203"]
    assert list(data.sample_ids) == list(landmarks.index)
    as_stored = load_hdf_pair(lm_path, tg_path, dtype=None)
    assert as_stored.X.dtype == np.float64


def test_load_hdf_errors(tmp_path, frames):
    landmarks, targets = frames
    lm_path, tg_path = tmp_path / "lm.h5", tmp_path / "tg.h5"
    landmarks.to_hdf(lm_path, key="table")
    with pytest.raises(KeyError, match=r"no key 'data'; its keys are \['table'\]"):
        load_hdf(lm_path, [101], key="data")
    targets.iloc[:5].to_hdf(tg_path, key="table")
    with pytest.raises(ValueError, match="6 samples .* targets file has 5"):
        load_hdf_pair(lm_path, tg_path)
    shuffled = targets.iloc[::-1]
    shuffled.to_hdf(tg_path, key="table")
    with pytest.raises(ValueError, match="hold different samples.*'GSM0' vs 'GSM5'"):
        load_hdf_pair(lm_path, tg_path)
    landmarks.iloc[:, 0].to_hdf(tmp_path / "series.h5", key="table")
    with pytest.raises(TypeError, match="holds a Series"):
        load_hdf(tmp_path / "series.h5", [101])
    (tmp_path / "text.h5").write_text("not HDF5")
    with pytest.raises(ValueError, match="cannot be opened as a pandas HDF5"):
        load_hdf(tmp_path / "text.h5", [101])


def test_load_hdf_pair_default_index_skips_the_sample_check(tmp_path, frames):
    landmarks, targets = frames
    landmarks.to_hdf(tmp_path / "lm.h5", key="table")
    targets.reset_index(drop=True).to_hdf(tmp_path / "tg.h5", key="table")
    data = load_hdf_pair(tmp_path / "lm.h5", tmp_path / "tg.h5")
    assert list(data.sample_ids) == list(landmarks.index)


# ---------------------------------------------------------------------- npy
def test_load_npy_memory_maps(tmp_path):
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    y = np.arange(8, dtype=np.float32).reshape(4, 2)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    data = load_npy(tmp_path / "X.npy", tmp_path / "y.npy", landmark_ids=[1, 2, 3])
    assert isinstance(data.X, np.memmap) and not data.X.flags.writeable
    np.testing.assert_array_equal(data.X, X)
    np.testing.assert_array_equal(data.y, y)
    assert list(data.landmark_ids) == ["1", "2", "3"]
    assert data.target_ids is None and data.sample_ids is None
    in_memory = load_npy(tmp_path / "X.npy", tmp_path / "y.npy", mmap_mode=None)
    assert not isinstance(in_memory.X, np.memmap)
    del data


def test_load_npy_errors(tmp_path):
    np.save(tmp_path / "X.npy", np.ones((4, 3)))
    np.save(tmp_path / "y3.npy", np.ones((3, 2)))
    np.save(tmp_path / "flat.npy", np.ones(4))
    np.savez(tmp_path / "both.npz", X=np.ones((4, 3)))
    (tmp_path / "text.npy").write_text("not numpy")
    X_path = tmp_path / "X.npy"
    with pytest.raises(ValueError, match="4 samples .* targets file has 3"):
        load_npy(X_path, tmp_path / "y3.npy")
    with pytest.raises(ValueError, match=r"shape \(4,\); expected 2-D"):
        load_npy(X_path, tmp_path / "flat.npy")
    with pytest.raises(ValueError, match="npz archive"):
        load_npy(tmp_path / "both.npz", X_path)
    with pytest.raises(ValueError, match="cannot be read as a .npy"):
        load_npy(tmp_path / "text.npy", X_path)
    with pytest.raises(ValueError, match="landmark_ids has 2 ids but 3"):
        load_npy(X_path, X_path, landmark_ids=["a", "b"])


# ------------------------------------------------------------------ layout
def test_loaders_are_split_by_format():
    """One module per format; formats share only _common, _ids and _metadata,
    and the leaves sktaaf._data._columns (on-disk row access), sktaaf._utils._atomic
    (atomic writes) and sktaaf.exceptions."""
    import ast
    from pathlib import Path

    import sktaaf

    root = Path(sktaaf.__file__).parent
    shared = {"_common", "_ids", "_metadata"}
    for name in ["_gct", "_gctx", "_hdf", "_npy", "_landmarks", *shared]:
        source = (root / "datasets" / f"{name}.py").read_text()
        imported = {
            node.module
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.ImportFrom) and node.level
        }
        allowed = {module for module in shared if module != name}
        allowed |= {"_data._columns", "_utils._atomic", "exceptions"}
        assert imported <= allowed, f"{name} imports {imported - allowed}"
        assert len(source.splitlines()) <= 600
    leaf = ast.parse((root / "_data" / "_columns.py").read_text())
    assert not [
        node
        for node in ast.walk(leaf)
        if isinstance(node, ast.ImportFrom) and (node.level or "sktaaf" in node.module)
    ]
