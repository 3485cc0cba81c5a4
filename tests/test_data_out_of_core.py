"""Training and predicting from data on disk, streamed chunk by chunk."""

import numpy as np
import pytest
import torch
from conftest import ESTIMATORS, FAST

import sktaaf._data._batches
import sktaaf._data._rows
from sktaaf import TAAFRegressor
from sktaaf._data._batches import DiskData
from sktaaf._data._rows import as_rows, read_rows


@pytest.fixture
def on_disk(data, tmp_path):
    X, y = data
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    return np.load(tmp_path / "X.npy", mmap_mode="r"), np.load(
        tmp_path / "y.npy", mmap_mode="r"
    )


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("early_stopping", [True, False])
def test_memmap_fit_equals_in_memory_fit(Estimator, early_stopping, data, on_disk):
    X, y = data
    params = {**FAST, "early_stopping": early_stopping}
    in_memory = Estimator(**params).fit(X, y)
    streamed = Estimator(**params).fit(*on_disk)
    assert streamed.history_[:, "train_loss"] == in_memory.history_[:, "train_loss"]
    np.testing.assert_array_equal(streamed.predict(on_disk[0]), in_memory.predict(X))
    assert streamed.predict(on_disk[0]).dtype == np.float32


def test_hdf5_column_views_equal_in_memory_fit(data, tmp_path):
    h5py = pytest.importorskip("h5py")
    from sktaaf.datasets import open_gctx

    X, y = data
    matrix = np.hstack([y[:, :1], X, y[:, 1:]])  # targets around the landmarks
    gene_ids = [f"g{i}" for i in range(matrix.shape[1])]
    path = tmp_path / "data.gctx"
    with h5py.File(path, "w") as file:
        file.create_dataset("0/DATA/0/matrix", data=matrix, chunks=(16, 15))
        file.create_dataset("0/META/ROW/id", data=[g.encode() for g in gene_ids])
        file.create_dataset("0/META/COL/id", data=[b"s%d" % i for i in range(len(X))])
    data_on_disk = open_gctx(path, landmark_ids=gene_ids[1 : 1 + X.shape[1]])
    with data_on_disk.file:
        streamed = TAAFRegressor(**FAST).fit(data_on_disk.X, data_on_disk.y)
        y_pred = streamed.predict(data_on_disk.X)
    expected = TAAFRegressor(**FAST).fit(X, np.hstack([y[:, :1], y[:, 1:]]))
    np.testing.assert_array_equal(y_pred, expected.predict(X))


def test_several_chunks_visit_every_row_once_per_epoch(monkeypatch):
    monkeypatch.setattr(sktaaf._data._batches, "CHUNK_BYTES", 4 * 3 * 40)  # 40 rows
    monkeypatch.setattr(sktaaf._data._batches, "BLOCK_ROWS", 10)
    X = np.arange(230, dtype=np.float32).reshape(-1, 1).repeat(2, axis=1)
    data = DiskData(as_rows(X), as_rows(X[:, 0]), rows=np.arange(5, 230))
    generator = torch.Generator().manual_seed(0)
    epochs = []
    for _ in range(2):
        batches = list(data.iter_batches(16, shuffle=True, generator=generator))
        assert all(len(xb) == 16 for xb, _ in batches[:-1])
        seen = torch.cat([xb[:, 0] for xb, _ in batches]).numpy()
        assert sorted(seen.tolist()) == list(range(5, 230))
        epochs.append(seen)
    assert not np.array_equal(*epochs)
    ordered = torch.cat([yb for _, yb in data.iter_batches(16, False, None)])
    np.testing.assert_array_equal(ordered.numpy().ravel(), np.arange(5, 230))


def test_several_chunks_train_well(monkeypatch, data, on_disk):
    monkeypatch.setattr(sktaaf._data._batches, "CHUNK_BYTES", 4 * 15 * 64)
    monkeypatch.setattr(sktaaf._data._batches, "BLOCK_ROWS", 16)
    X, y = data
    streamed = TAAFRegressor(**FAST).fit(*on_disk)
    in_memory = TAAFRegressor(**FAST).fit(X, y)
    assert streamed.score(X, y) > 0.5
    assert streamed.score(X, y) == pytest.approx(in_memory.score(X, y), abs=0.1)


def test_pages_are_released_after_each_read(monkeypatch, on_disk):
    released = []
    monkeypatch.setattr(sktaaf._data._rows, "release", released.append)
    block = read_rows(on_disk[0], np.array([0, 1, 2, 7, 8]))
    assert block.shape == (5, on_disk[0].shape[1]) and block.flags.c_contiguous
    assert released and all(array is on_disk[0] for array in released)


def test_streamed_input_is_validated(tmp_path, on_disk):
    X, y = on_disk
    bad = np.array(X)
    bad[100, 3] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    bad = np.load(tmp_path / "bad.npy", mmap_mode="r")
    with pytest.raises(ValueError, match="Input X contains NaN.*rows 0-"):
        TAAFRegressor(**FAST).fit(bad, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        TAAFRegressor(**FAST).fit(X, y[:50])
    np.save(tmp_path / "cube.npy", np.zeros((4, 3, 2), np.float32))
    with pytest.raises(ValueError, match="Expected a 2D array for X"):
        TAAFRegressor(**FAST).fit(np.load(tmp_path / "cube.npy", mmap_mode="r"), y[:4])
    fitted = TAAFRegressor(**FAST).fit(X, y)
    np.save(tmp_path / "narrow.npy", np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match="X has 3 features, but TAAFRegressor"):
        fitted.predict(np.load(tmp_path / "narrow.npy", mmap_mode="r"))


def test_float64_memmap_predicts_float64(data, tmp_path):
    X, y = data
    np.save(tmp_path / "X64.npy", X.astype(np.float64))
    X64 = np.load(tmp_path / "X64.npy", mmap_mode="r")
    est = TAAFRegressor(**FAST).fit(X, y)
    assert est.predict(X64).dtype == np.float64
    np.testing.assert_allclose(est.predict(X64), est.predict(X), rtol=1e-6, atol=1e-6)


def test_long_reads_release_pages_as_they_go(monkeypatch, on_disk):
    released = []
    monkeypatch.setattr(sktaaf._data._rows, "release", released.append)
    monkeypatch.setattr(
        sktaaf._data._rows, "RELEASE_BYTES", 4 * on_disk[0].shape[1] * 10
    )
    monkeypatch.setattr(sktaaf._data._rows, "_MAPPED_PER_SLICE_BYTES", 0)
    block = read_rows(on_disk[0], start=0, stop=95)
    np.testing.assert_array_equal(block, on_disk[0][:95])
    assert len(released) == 10  # every 10 rows, and once for the last 5


@pytest.mark.cuda
def test_cuda_chunks_match_cpu_chunks(monkeypatch):
    monkeypatch.setattr(sktaaf._data._batches, "CHUNK_BYTES", 4 * 3 * 40)
    monkeypatch.setattr(sktaaf._data._batches, "BLOCK_ROWS", 10)
    X = np.arange(460, dtype=np.float32).reshape(-1, 2)
    batches = {}
    for device in ("cpu", "cuda"):
        generator = torch.Generator().manual_seed(0)
        data = DiskData(as_rows(X), as_rows(X[:, 0]), device=device)
        batches[device] = []
        for xb, yb in data.iter_batches(16, shuffle=True, generator=generator):
            assert xb.device.type == yb.device.type == device
            batches[device].append(torch.cat([xb, yb], dim=1).cpu())
    for cpu, cuda in zip(batches["cpu"], batches["cuda"], strict=True):
        torch.testing.assert_close(cpu, cuda, rtol=0, atol=0)


def test_copy_on_write_changes_are_kept(on_disk, tmp_path):
    X = np.load(tmp_path / "X.npy", mmap_mode="c")
    X[:] = 5.0  # changed in memory only
    assert (read_rows(X, start=0, stop=len(X)) == 5.0).all()
    assert (read_rows(X, np.arange(0, len(X), 3)) == 5.0).all()
    assert (np.asarray(X) == 5.0).all()


def test_column_views_release_the_map_they_view():
    from sktaaf.datasets import ColumnRows

    class Map:
        advised = 0

        def madvise(self, option):
            Map.advised += 1

    class Matrix:  # stands for a np.memmap: rows, a map and a mode
        shape, dtype, _mmap = (4, 3), np.float32, Map()

        def __init__(self, mode):
            self.mode = mode

    sktaaf._data._rows.release(ColumnRows(Matrix("r"), [2, 0]))
    assert Map.advised == 1
    sktaaf._data._rows.release(ColumnRows(Matrix("c"), [2, 0]))  # copy-on-write: kept
    assert Map.advised == 1


class CountingMatrix:  # a file's samples x genes matrix, counting reads
    def __init__(self, array):
        self.array, self.shape, self.dtype = array, array.shape, array.dtype
        self.reads = 0

    def __len__(self):
        return len(self.array)

    def __getitem__(self, rows):
        self.reads += 1
        return self.array[rows]


def test_column_views_of_one_matrix_read_each_row_once():
    from sktaaf.datasets import ColumnRows

    matrix = CountingMatrix(np.arange(60 * 7, dtype=np.float64).reshape(60, 7))
    X, y = ColumnRows(matrix, [5, 1, 3]), ColumnRows(matrix, [0, 6, 2, 4])
    generator = torch.Generator().manual_seed(0)
    batches = list(DiskData(as_rows(X), as_rows(y)).iter_batches(16, True, generator))
    assert matrix.reads == 1  # one chunk, one slice: X and y from one read
    rows = torch.cat([xb for xb, _ in batches]).numpy()
    order = np.argsort(rows[:, 0])
    np.testing.assert_array_equal(rows[order], X[0:60])
    np.testing.assert_array_equal(torch.cat([yb for _, yb in batches])[order], y[0:60])


def test_statistics_and_gathers_read_one_matrix_once():
    # The ridge statistics' chunks and the gathered rows of the scores and
    # the blend read column views of one matrix once for X and y.
    from sktaaf._data._rows import chunks_both, read_both
    from sktaaf.datasets import ColumnRows

    array = np.random.RandomState(0).normal(size=(50, 7))
    matrix = CountingMatrix(array)
    X = as_rows(ColumnRows(matrix, [5, 1, 3]))
    y = as_rows(ColumnRows(matrix, [0, 6, 2, 4]))
    ((start, x_chunk, y_chunk),) = chunks_both(X, y)
    assert start == 0 and matrix.reads == 1
    np.testing.assert_array_equal(x_chunk, X.chunk(0, 50))
    np.testing.assert_array_equal(y_chunk, y.chunk(0, 50))
    matrix.reads = 0
    rows = np.array([2, 3, 4, 10])
    x_rows, y_rows = read_both(X, y, rows)
    assert matrix.reads == 2  # two runs of rows, each read once for both
    np.testing.assert_array_equal(x_rows, X.gather(rows))
    np.testing.assert_array_equal(y_rows, y.gather(rows))
    # Other row sources: each read as gather reads it.
    x_memory, y_memory = as_rows(array[:, :3].astype(np.float32)), as_rows(array[:, 0])
    x_rows, y_rows = read_both(x_memory, y_memory, rows)
    np.testing.assert_array_equal(x_rows, x_memory.gather(rows))
    np.testing.assert_array_equal(y_rows, y_memory.gather(rows))
    chunks = list(chunks_both(x_memory, y_memory))
    assert [start for start, *_ in chunks] == [0]
    np.testing.assert_array_equal(chunks[0][2], y_memory.chunk(0, 50))
