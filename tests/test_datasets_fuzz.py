"""Fuzzing of sktaaf.datasets: make_expression, split_landmarks and the loaders
on fuzzed and damaged files (see ``_fuzzing.py`` for the property and the
strategies)."""

from __future__ import annotations

import gzip
import io

import numpy as np
import pytest
from _fuzzing import (
    _BAD_BOOL,
    NETWORK_BAD_PARAMS,
    _bad_int,
    _bad_real,
    arrays_like,
    attempt,
    float_values,
    fuzz,
    pd,
)
from hypothesis import event, given, reject
from hypothesis import strategies as st

from sktaaf import TAAFRegressor
from sktaaf.datasets import (
    load_gct,
    load_gctx,
    load_hdf,
    load_hdf_pair,
    load_npy,
    make_expression,
    split_landmarks,
)

pytestmark = [
    # Expected along the way: feature-name and data-conversion warnings, the
    # divergence warning, numpy's overflow and complex-cast warnings.
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),
]


# ================================================================== datasets
@fuzz(max_examples=30)
@given(
    n_samples=st.integers(1, 6),
    n_landmarks=st.integers(1, 6),
    n_targets=st.integers(1, 6),
    n_programs=st.integers(1, 4),
    noise=st.floats(0, 1e6),
    as_frame=st.booleans(),
)
def test_make_expression_with_valid_parameters(
    n_samples, n_landmarks, n_targets, n_programs, noise, as_frame
):
    X, y = make_expression(
        n_samples,
        n_landmarks,
        n_targets,
        n_programs=n_programs,
        noise=noise,
        as_frame=as_frame,
        random_state=0,
    )
    assert X.shape == (n_samples, n_landmarks) and y.shape == (n_samples, n_targets)
    for values in (np.asarray(X), np.asarray(y)):
        assert values.dtype == np.float32 and np.isfinite(values).all()


MAKE_EXPRESSION_BAD_PARAMS = {
    "n_samples": _bad_int(1),
    "n_landmarks": _bad_int(1),
    "n_targets": _bad_int(1),
    "n_programs": _bad_int(1),
    "noise": _bad_real(0, None, low_closed=True, high_closed=False),
    "as_frame": _BAD_BOOL,
    "random_state": NETWORK_BAD_PARAMS["random_state"],
}


@pytest.mark.parametrize("parameter", MAKE_EXPRESSION_BAD_PARAMS)
@fuzz(max_examples=12)
@given(data=st.data())
def test_invalid_make_expression_parameter(parameter, data):
    value = data.draw(MAKE_EXPRESSION_BAD_PARAMS[parameter], parameter)
    params = {"n_samples": 3, "n_landmarks": 2, "n_targets": 2, parameter: value}
    with pytest.raises(ValueError, match=parameter):
        make_expression(**params)


_IDS = st.one_of(st.text(max_size=4), st.integers(-5, 50))


@st.composite
def id_lists(draw, pool, max_size=5):
    """Ids drawn from ``pool``, sometimes with unknown or repeated ones."""
    if not pool:
        return draw(st.lists(_IDS, max_size=max_size))
    ids = draw(st.lists(st.sampled_from(pool), max_size=max_size, unique=True))
    if draw(st.sampled_from([False, False, True])):
        ids.append(draw(st.one_of(_IDS, st.sampled_from(pool))))
    return ids


@fuzz(max_examples=120)
@given(
    matrix=arrays_like(ndims=st.sampled_from([2, 2, 2, 2, 1, 3])),
    data=st.data(),
)
def test_split_landmarks_on_fuzzed_input(matrix, data):
    n_genes = matrix.shape[1] if len(matrix.shape) > 1 else 3
    right = st.lists(_IDS, min_size=n_genes, max_size=n_genes, unique=True)
    gene_ids = data.draw(
        st.one_of(
            right,
            right,
            right,
            st.lists(_IDS, max_size=6),  # maybe repeated, maybe the wrong number
            st.sampled_from([None, "abc", 3]),
        ),
        "gene_ids",
    )
    pool = list(gene_ids) if isinstance(gene_ids, list) else []
    landmark_ids = data.draw(
        st.one_of(id_lists(pool), id_lists(pool), st.sampled_from(["g", None])),
        "landmark_ids",
    )
    target_ids = data.draw(st.one_of(st.none(), id_lists(pool)), "target_ids")
    dtype = data.draw(st.sampled_from([np.float32, None, np.float64, "nope", object]))
    ok, result = attempt(
        split_landmarks,
        matrix.value,
        gene_ids,
        landmark_ids,
        target_ids=target_ids,
        dtype=dtype,
    )
    if ok:
        n_samples = matrix.shape[0]
        assert result.X.shape == (n_samples, len(landmark_ids))
        assert result.y.shape[0] == n_samples
        assert result.y.shape[1] == len(result.target_ids)
        assert set(map(str, landmark_ids)).isdisjoint(map(str, result.target_ids))


# --------------------------------------------------------------- file damage
def _damaged(data, raw: bytes, label: str) -> bytes:
    """``raw`` intact, emptied, truncated, with up to three bytes replaced, or
    random bytes instead."""
    damage = data.draw(
        st.sampled_from(
            ["intact"] * 4 + ["empty", "truncated", "bytes replaced", "random"]
        ),
        f"{label} damage",
    )
    event(f"{label}: {damage}")
    if damage == "intact":
        return raw
    if damage == "empty":
        return b""
    if damage == "truncated":
        return raw[: data.draw(st.integers(0, max(len(raw) - 1, 0)), "length")]
    if damage == "random":
        return data.draw(st.binary(max_size=300), "random bytes")
    damaged = bytearray(raw)
    for position in data.draw(
        st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=3), "positions"
    ):
        damaged[position] = data.draw(st.integers(0, 255), "byte")
    return bytes(damaged)


def _check_bunch(bunch, n_landmarks=None):
    assert bunch.X.ndim == 2 and bunch.y.ndim == 2
    assert len(bunch.X) == len(bunch.y)
    if n_landmarks is not None:
        assert bunch.X.shape[1] == n_landmarks
    for ids, width in ((bunch.landmark_ids, bunch.X), (bunch.target_ids, bunch.y)):
        if ids is not None:
            assert len(ids) == width.shape[1] and ids.dtype == object
    if bunch.sample_ids is not None:
        assert len(bunch.sample_ids) == len(bunch.X)


_GCT_ID = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\t\r\n"),
    min_size=1,
    max_size=5,
)
_GCT_CELL = st.one_of(
    st.floats().map(repr),
    st.sampled_from(["", "NA", "nan", "inf", "-inf", "1e39", "1e400", "abc", "0x1"]),
)


@st.composite
def gct_texts(draw):
    """GCT 1.2 or 1.3 text, often consistent, sometimes misdeclared."""
    version = draw(st.sampled_from(["#1.2", "#1.3", "#1.3", "#2.0", ""]))
    n_genes, n_samples = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    n_row_meta = 1 if version != "#1.3" else draw(st.integers(0, 2))
    n_col_meta = 0 if version != "#1.3" else draw(st.integers(0, 2))
    genes = draw(st.lists(_GCT_ID, min_size=n_genes, max_size=n_genes))
    samples = draw(st.lists(_GCT_ID, min_size=n_samples, max_size=n_samples))
    declared = [
        n_genes + draw(st.sampled_from([0, 0, 0, 0, 1, -1])),
        n_samples + draw(st.sampled_from([0, 0, 0, 0, 1, -1])),
    ]
    if version == "#1.3":
        declared += [n_row_meta, n_col_meta]
    meta = [f"meta{i}" for i in range(n_row_meta)]
    lines = [version, "\t".join(map(str, declared))]
    lines.append("\t".join(["id", *meta, *samples]))
    for i in range(n_col_meta):
        lines.append("\t".join([f"cmeta{i}", *["na"] * n_row_meta, *samples]))
    for gene in genes:
        cells = draw(st.lists(_GCT_CELL, min_size=n_samples, max_size=n_samples))
        lines.append("\t".join([gene, *["na"] * n_row_meta, *cells]))
    return "\n".join(lines) + "\n", genes


@fuzz(max_examples=100)
@given(text_genes=gct_texts(), gzipped=st.booleans(), data=st.data())
def test_load_gct_on_fuzzed_files(scratch, text_genes, gzipped, data):
    text, genes = text_genes
    raw = text.encode()
    if gzipped:
        raw = gzip.compress(raw, mtime=0)
    path = scratch / ("fuzz.gct.gz" if gzipped else "fuzz.gct")
    path.write_bytes(_damaged(data, raw, "GCT"))
    ok, bunch = attempt(load_gct, path, [genes[0]])
    if ok:
        _check_bunch(bunch, n_landmarks=1)


def _write_gctx(path, matrix, row_ids, col_ids, skip=None, as_group=None):
    import h5py

    nodes = {
        "0/DATA/0/matrix": matrix,
        "0/META/ROW/id": row_ids,
        "0/META/COL/id": col_ids,
    }
    with h5py.File(path, "w") as file:
        for node, value in nodes.items():
            if node == skip:
                continue
            if node == as_group:
                file.create_group(node)
            else:
                file.create_dataset(node, data=value)


@st.composite
def gctx_contents(draw):
    n_samples, n_genes = draw(st.integers(0, 3)), draw(st.integers(1, 4))
    matrix_shape = draw(
        st.sampled_from(
            [(n_samples, n_genes)] * 4
            + [(n_genes, n_samples), (n_samples,), (n_samples, n_genes, 1)]
        )
    )
    matrix_dtype = draw(st.sampled_from(["<f4", "<f8", "<i2", "<c8", "S3", "bool"]))
    matrix = draw(float_values(matrix_shape)).astype(matrix_dtype)
    gene_ids = [f"g{i}" for i in range(n_genes)]
    if draw(st.booleans()) and n_genes > 1:
        gene_ids[-1] = gene_ids[0]
    id_kind = draw(st.sampled_from(["bytes", "bytes", "ints", "invalid utf-8", "0-D"]))
    if id_kind == "bytes":
        row_ids = [name.encode() for name in gene_ids]
    elif id_kind == "ints":
        row_ids = list(range(n_genes))
    elif id_kind == "invalid utf-8":
        row_ids = [b"\xff" + name.encode() for name in gene_ids]
    else:
        row_ids = 7
    col_ids = [f"s{i}".encode() for i in range(n_samples)] or np.array([], "S2")
    node = st.sampled_from([None, None, None, "0/DATA/0/matrix", "0/META/ROW/id"])
    event(f"GCTX: matrix {len(matrix_shape)}-D {matrix_dtype}, ids {id_kind}")
    return matrix, row_ids, col_ids, draw(node), draw(node)


@fuzz(max_examples=60)
@given(contents=gctx_contents(), data=st.data())
def test_load_gctx_on_fuzzed_files(scratch, contents, data):
    pytest.importorskip("h5py")
    matrix, row_ids, col_ids, skip, as_group = contents
    _write_gctx(scratch / "made.gctx", matrix, row_ids, col_ids, skip, as_group)
    path = scratch / "fuzz.gctx"
    # No bit flips inside intact HDF5 metadata: the HDF5 C library can crash
    # the interpreter on some of them, which no Python code can catch.
    raw = (scratch / "made.gctx").read_bytes()
    damage = data.draw(st.sampled_from(["intact", "intact", "truncated", "random"]))
    event(f"GCTX: {damage}")
    if damage == "truncated":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1), "length")]
    elif damage == "random":
        raw = data.draw(st.binary(max_size=300), "random bytes")
    path.write_bytes(raw)
    landmarks = data.draw(st.sampled_from([["g0"], [0], ["zz"], []]), "landmarks")
    ok, bunch = attempt(load_gctx, path, landmarks)
    if ok:
        _check_bunch(bunch, n_landmarks=len(landmarks))


@st.composite
def hdf_frames(draw):
    """A samples x genes DataFrame, or something else stored where one goes."""
    n_samples, n_genes = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    values = draw(float_values((n_samples, n_genes)))
    kind = draw(st.sampled_from(["float", "float", "int", "str", "datetime", "Series"]))
    event(f"HDF5 content: {kind}")
    if kind == "Series":
        return pd.Series(values.ravel())
    frame = pd.DataFrame(values, columns=[f"g{i}" for i in range(n_genes)])
    if kind == "int":
        frame = frame.fillna(0).clip(-100, 100).astype(np.int64)
    elif kind == "str" and n_genes:
        frame["g0"] = "text"
    elif kind == "datetime" and n_genes:
        frame["g0"] = pd.Timestamp("2020-01-01")
    return frame.set_axis([f"s{i}" for i in range(n_samples)])


@fuzz(max_examples=40)
@given(
    frame=hdf_frames(),
    file_format=st.sampled_from(["fixed", "table"]),
    key=st.sampled_from(["table"] * 4 + ["/table", "other", "", 3, None]),
    data=st.data(),
)
def test_load_hdf_on_fuzzed_files(scratch, frame, file_format, key, data):
    pytest.importorskip("tables")
    made = scratch / "made.h5"
    made.unlink(missing_ok=True)
    try:
        frame.to_hdf(made, key="table", format=file_format)
    except (ValueError, TypeError):  # pandas cannot store it so: not our concern
        reject()
    path = scratch / "fuzz.h5"
    raw = made.read_bytes()
    damage = data.draw(st.sampled_from(["intact", "intact", "truncated", "random"]))
    if damage == "truncated":  # no bit flips: see test_load_gctx_on_fuzzed_files
        raw = raw[: data.draw(st.integers(0, len(raw) - 1), "length")]
    elif damage == "random":
        raw = data.draw(st.binary(max_size=300), "random bytes")
    path.write_bytes(raw)
    ok, result = attempt(
        load_hdf, path, ["g0"], key=key, allowed=(ValueError, TypeError, KeyError)
    )
    if isinstance(result, KeyError):  # documented: a key the store lacks
        assert "has no key" in str(result)  # (pandas writes no empty table)
    if ok:
        _check_bunch(result, n_landmarks=1)


def test_load_hdf_on_stores_with_damaged_pandas_metadata(tmp_path):
    """A store whose pandas metadata is incomplete: a clear ValueError."""
    pytest.importorskip("tables")
    h5py = pytest.importorskip("h5py")
    frame = pd.DataFrame(np.ones((2, 3)), columns=["g0", "g1", "g2"])
    for damage in ["attribute", "dataset", "pandas_type"]:
        path = tmp_path / f"{damage}.h5"
        frame.to_hdf(path, key="table", format="fixed")
        with h5py.File(path, "r+") as file:
            if damage == "attribute":
                del file["table/axis1"].attrs["kind"]
            elif damage == "dataset":
                del file["table/block0_values"]
            else:
                file["table"].attrs["pandas_type"] = "nonsense"
        with pytest.raises(ValueError, match="cannot be read as a pandas"):
            load_hdf(path, ["g0"])


@fuzz(max_examples=25)
@given(
    landmarks=hdf_frames(),
    targets=hdf_frames(),
    same_index=st.booleans(),
)
def test_load_hdf_pair_on_fuzzed_files(scratch, landmarks, targets, same_index):
    pytest.importorskip("tables")
    if same_index and len(landmarks) == len(targets):
        targets = targets.set_axis(landmarks.index)
    paths = scratch / "lm.h5", scratch / "tg.h5"
    for path, frame in zip(paths, (landmarks, targets), strict=True):
        path.unlink(missing_ok=True)
        frame.to_hdf(path, key="table")
    ok, bunch = attempt(load_hdf_pair, *paths)
    if ok:
        _check_bunch(bunch)


@fuzz(max_examples=60)
@given(
    landmarks=arrays_like(rows=st.integers(0, 4), columns=st.integers(0, 3)),
    row_offset=st.sampled_from([0, 0, 0, 1]),
    mmap_mode=st.sampled_from(["r", "r", None, "c", "r+", "w+", "w", "x", "rb", 3]),
    data=st.data(),
)
def test_load_npy_on_fuzzed_files(scratch, landmarks, row_offset, mmap_mode, data):
    n_target_rows = (landmarks.n_rows or 0) + row_offset
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(landmarks.value), allow_pickle=True)
    raw = _damaged(data, buffer.getvalue(), "npy")
    paths = scratch / "X.npy", scratch / "y.npy"
    paths[0].write_bytes(raw)
    np.save(paths[1], np.zeros((n_target_rows, 2), np.float32))
    targets_raw = paths[1].read_bytes()
    event(f"mmap_mode: {mmap_mode!r}")
    ids = data.draw(st.sampled_from([None, None, ["a", "b"], ["a"], "a"]), "ids")
    ok, bunch = attempt(load_npy, *paths, mmap_mode=mmap_mode, target_ids=ids)
    if ok:
        _check_bunch(bunch)
        del bunch  # release the memory maps
    # Whatever happened, the files are as they were.
    assert paths[0].read_bytes() == raw and paths[1].read_bytes() == targets_raw


@pytest.mark.parametrize("mmap_mode", ["w+", "w", "x", 3])
def test_load_npy_rejects_mmap_modes_that_write(tmp_path, mmap_mode):
    X = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", X)
    with pytest.raises(ValueError, match="mmap_mode"):
        load_npy(tmp_path / "X.npy", tmp_path / "y.npy", mmap_mode=mmap_mode)
    np.testing.assert_array_equal(np.load(tmp_path / "X.npy"), X)


@pytest.mark.parametrize("mmap_mode", ["r", "r+", "c", None])
def test_load_npy_rejects_a_truncated_file_and_leaves_it_alone(tmp_path, mmap_mode):
    np.save(tmp_path / "X.npy", np.arange(12.0).reshape(6, 2))
    np.save(tmp_path / "y.npy", np.ones((6, 1)))
    truncated = (tmp_path / "X.npy").read_bytes()[:-40]
    (tmp_path / "X.npy").write_bytes(truncated)
    with pytest.raises(ValueError, match="cannot be read as a .npy array"):
        load_npy(tmp_path / "X.npy", tmp_path / "y.npy", mmap_mode=mmap_mode)
    assert (tmp_path / "X.npy").read_bytes() == truncated  # "r+" once padded it


@pytest.mark.parametrize(
    "loader",
    [
        lambda path: load_gct(path, ["g"]),
        lambda path: load_gctx(path, ["g"]),
        lambda path: load_hdf(path, ["g"]),
        lambda path: load_hdf_pair(path, path),
        lambda path: load_npy(path, path),
        TAAFRegressor.load,
    ],
    ids=["gct", "gctx", "hdf", "hdf_pair", "npy", "model"],
)
def test_loaders_on_missing_files_and_folders(tmp_path, loader):
    for path in (tmp_path / "missing", tmp_path):
        with pytest.raises(FileNotFoundError):
            loader(path)
    with pytest.raises(TypeError):
        loader(None)
