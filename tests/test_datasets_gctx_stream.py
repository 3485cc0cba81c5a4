"""Streaming inference from GCTX to GCTX (``predict_gctx``) and the streamed
``sktaaf fit`` / ``sktaaf predict`` of GCTX files."""

import io

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
h5py = pytest.importorskip("h5py")

from sktaaf import TAAFRegressor  # noqa: E402
from sktaaf._cli import main  # noqa: E402
from sktaaf.datasets import (  # noqa: E402
    _gctx_stream,  # noqa: E402
    load_gctx,
    predict_gctx,
    write_gctx,
)

N_LANDMARKS, N_TARGETS = 12, 7
LANDMARKS = [f"L{i}" for i in range(N_LANDMARKS)]
TARGETS = [f"T{i}" for i in range(N_TARGETS)]
SETTINGS = dict(
    hidden_layer_sizes=(16,),
    max_epochs=3,
    batch_size=32,
    early_stopping=False,
    random_state=0,
    device="cpu",
)


def _write_profiles(path, n_samples, seed=0, dtype=np.float32):
    """A GCTX file of landmarks (flagged) and targets, with row and column
    metadata; the landmark rows come in a shuffled order."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, N_LANDMARKS)).astype(np.float32)
    W = rng.normal(size=(N_LANDMARKS, N_TARGETS)).astype(np.float32) / 4
    y = np.tanh(X @ W) + 3.0
    genes = [LANDMARKS[i] for i in rng.permutation(N_LANDMARKS)] + TARGETS
    frame = pd.DataFrame(
        np.hstack([X, y]), index=[f"s{i}" for i in range(n_samples)]
    ).set_axis(LANDMARKS + TARGETS, axis=1)[genes]
    rows = pd.DataFrame(
        {
            "pr_gene_symbol": [f"SYM_{gene}" for gene in genes],
            "pr_is_lmark": [int(gene in LANDMARKS) for gene in genes],
        },
        index=genes,
    )
    cols = pd.DataFrame(
        {
            "cell_id": rng.choice(["A375", "MCF7"], n_samples),
            "pert_dose": rng.choice([0.1, 10.0, np.nan], n_samples),
        },
        index=frame.index,
    )
    return write_gctx(path, frame, rows, cols, dtype=dtype)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stream")
    _write_profiles(folder / "train.gctx", 150)
    _write_profiles(folder / "new.gctx", 103, seed=1)
    return folder


@pytest.fixture(scope="module")
def model(folder):
    data = load_gctx(folder / "train.gctx", LANDMARKS)
    X = pd.DataFrame(data.X, columns=LANDMARKS)
    y = pd.DataFrame(data.y, columns=data.target_ids)
    return TAAFRegressor(**SETTINGS).fit(X, y)


def _expected(model, path):
    landmarks = list(model.feature_names_in_)
    X = load_gctx(path, landmarks, target_ids=[]).X
    return model.predict(pd.DataFrame(X, columns=landmarks))


@pytest.mark.parametrize("chunk_size", [1, 10, 102, 103, 500, None])
def test_chunks_of_any_size_give_the_in_memory_predictions(
    folder, model, tmp_path, chunk_size
):
    # 103 samples: not a multiple of 10 nor of 102; one chunk of 500.
    out = predict_gctx(
        model, folder / "new.gctx", tmp_path / "out.gctx", chunk_size=chunk_size
    )
    inferred = load_gctx(out, landmark_ids=[])
    assert list(inferred.target_ids) == TARGETS
    np.testing.assert_allclose(
        inferred.y, _expected(model, folder / "new.gctx"), rtol=1e-6, atol=1e-6
    )


def test_one_sample(model, tmp_path):
    source = _write_profiles(tmp_path / "one.gctx", 1, seed=2)
    out = predict_gctx(model, source, tmp_path / "out.gctx", chunk_size=4)
    inferred = load_gctx(out, landmark_ids=[])
    assert inferred.y.shape == (1, N_TARGETS)
    assert list(inferred.sample_ids) == ["s0"]
    np.testing.assert_allclose(
        inferred.y, _expected(model, source), rtol=1e-6, atol=1e-6
    )


def test_metadata_and_layout_are_carried(folder, model, tmp_path):
    symbols = pd.DataFrame({"pr_gene_symbol": [f"G{i}" for i in range(N_TARGETS)]})
    symbols.index = TARGETS
    out = predict_gctx(
        model,
        folder / "new.gctx",
        tmp_path / "out.gctx",
        row_metadata=symbols,
        chunk_size=10,
    )
    inferred = load_gctx(out, landmark_ids=[])
    source = load_gctx(folder / "new.gctx", LANDMARKS, target_ids=[])
    assert list(inferred.sample_ids) == list(source.sample_ids)
    pd.testing.assert_frame_equal(inferred.col_metadata, source.col_metadata)
    assert (
        inferred.row_metadata["pr_gene_symbol"].tolist()
        == symbols["pr_gene_symbol"].tolist()
    )
    # The layout of write_gctx: the same nodes, chunking and compression.
    reference = write_gctx(
        tmp_path / "reference.gctx",
        pd.DataFrame(inferred.y, index=inferred.sample_ids, columns=TARGETS),
        symbols,
        source.col_metadata,
    )
    with h5py.File(out, "r") as streamed, h5py.File(reference, "r") as written:
        assert dict(streamed.attrs) == {
            "version": b"GCTX1.0",
            "src": b"out.gctx",
        }
        names = []
        streamed.visit(names.append)
        expected = []
        written.visit(expected.append)
        assert sorted(names) == sorted(expected)
        matrix = streamed["0/DATA/0/matrix"]
        assert matrix.dtype == np.float32
        assert matrix.chunks == written["0/DATA/0/matrix"].chunks
        assert matrix.compression is None
        assert streamed["0/META/COL/cell_id"].compression == "gzip"
        assert streamed["0/META/ROW/id"].compression == "gzip"


def test_a_float64_file_and_a_model_without_names(model, tmp_path):
    """float64 values are read as float32; a plain array model gets arrays
    and the ids it is given."""
    from sklearn.linear_model import Ridge

    source = _write_profiles(tmp_path / "f64.gctx", 30, dtype=np.float64)
    data = load_gctx(source, LANDMARKS)
    ridge = Ridge().fit(data.X, data.y)  # numpy: no feature_names_in_
    with pytest.raises(ValueError, match="landmark_ids"):
        predict_gctx(ridge, source, tmp_path / "out.gctx")
    out = predict_gctx(
        ridge,
        source,
        tmp_path / "out.gctx",
        landmark_ids=LANDMARKS,
        target_ids=list(data.target_ids),
        chunk_size=8,
    )
    inferred = load_gctx(out, landmark_ids=[])
    assert inferred.y.dtype == np.float32
    np.testing.assert_allclose(inferred.y, ridge.predict(data.X), rtol=1e-5, atol=1e-5)


class _Interrupting:
    """A model whose predict is interrupted on its second chunk."""

    def __init__(self, model, error):
        self.model, self.error, self.calls = model, error, 0
        self.feature_names_in_ = model.feature_names_in_
        self.target_names_ = model.target_names_

    def predict(self, X):
        self.calls += 1
        if self.calls == 2:
            raise self.error
        return self.model.predict(X)


@pytest.mark.parametrize("error", [KeyboardInterrupt(), RuntimeError("boom")])
def test_an_interrupted_run_leaves_no_partial_file(folder, model, tmp_path, error):
    destination = tmp_path / "out.gctx"
    with pytest.raises(type(error)):
        predict_gctx(
            _Interrupting(model, error), folder / "new.gctx", destination, chunk_size=10
        )
    assert list(tmp_path.iterdir()) == []  # nor a temporary file
    # An existing file stays as it was.
    destination.write_bytes(b"earlier results")
    with pytest.raises(type(error)):
        predict_gctx(
            _Interrupting(model, error), folder / "new.gctx", destination, chunk_size=10
        )
    assert list(tmp_path.iterdir()) == [destination]
    assert destination.read_bytes() == b"earlier results"


def test_the_input_is_never_the_output(folder, model, tmp_path):
    source = _write_profiles(tmp_path / "in.gctx", 5)
    before = source.read_bytes()
    with pytest.raises(ValueError, match="is the source file"):
        predict_gctx(model, source, source)
    with pytest.raises(ValueError, match="not a regular file"):
        predict_gctx(model, source, tmp_path)
    with pytest.raises(ValueError, match="lacks|landmark"):
        predict_gctx(model, source, tmp_path / "out.gctx", landmark_ids=["nope"])
    assert source.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.gctx"]


def test_batch_size_is_the_models_only_while_it_runs(folder, model, tmp_path):
    out = predict_gctx(
        model, folder / "new.gctx", tmp_path / "out.gctx", batch_size=8192
    )
    assert model.batch_size == SETTINGS["batch_size"]
    np.testing.assert_allclose(
        load_gctx(out, landmark_ids=[]).y,
        _expected(model, folder / "new.gctx"),
        rtol=1e-6,
        atol=1e-6,
    )


def test_progress_plain_lines_in_a_log_and_a_bar_on_a_terminal(
    folder, model, tmp_path, monkeypatch, capsys
):
    predict_gctx(
        model, folder / "new.gctx", tmp_path / "a.gctx", chunk_size=10, progress=True
    )
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1  # runs of under 30 s: the last line only
    assert lines[0].startswith("predicted 103/103 samples (100%), ")
    assert "samples/s" in lines[0] and "\r" not in lines[0]

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    predict_gctx(
        model, folder / "new.gctx", tmp_path / "b.gctx", chunk_size=10, progress=True
    )
    assert "103/103" in terminal.getvalue() and "sample/s" in terminal.getvalue()
    assert "\r" in terminal.getvalue()


def test_progress_lines_every_so_often(monkeypatch, capsys):
    monkeypatch.setattr(_gctx_stream, "_PLAIN_EVERY_SECONDS", 0.0)
    meter = _gctx_stream._Progress(40, enabled=True)
    for _ in range(4):
        meter.update(10)
    meter.close()
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" samples")[0] for line in lines] == [
        "predicted 10/40",
        "predicted 20/40",
        "predicted 30/40",
        "predicted 40/40",
        "predicted 40/40",
    ]


# ------------------------------------------------------------ command line
PARAMS = [
    item
    for text in ["hidden_layer_sizes=(16,)", "max_epochs=3", "batch_size=32"]
    + ["random_state=0"]
    for item in ("--param", text)
]


@pytest.fixture(scope="module")
def fitted(folder):
    """`sktaaf fit` of the same file, streamed and loaded into memory."""
    streamed, loaded = folder / "streamed.pt", folder / "loaded.pt"
    train = str(folder / "train.gctx")
    assert (
        main(["fit", train, *PARAMS, "--device", "cpu", "-q", "-o", str(streamed)]) == 0
    )
    assert main(["fit", train, *PARAMS, "--in-memory", "-q", "-o", str(loaded)]) == 0
    return TAAFRegressor.load(streamed), TAAFRegressor.load(loaded)


def test_fit_streamed_from_a_gctx_gives_the_in_memory_model(folder, fitted):
    streamed, loaded = fitted
    assert list(streamed.feature_names_in_) == list(loaded.feature_names_in_)
    assert list(streamed.target_names_) == list(loaded.target_names_) == TARGETS
    assert streamed.device_ == "cpu"
    X = load_gctx(folder / "new.gctx", list(loaded.feature_names_in_), target_ids=[]).X
    X = pd.DataFrame(X, columns=loaded.feature_names_in_)
    np.testing.assert_allclose(
        streamed.predict(X), loaded.predict(X), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        streamed.history_[:, "train_loss"], loaded.history_[:, "train_loss"], rtol=1e-5
    )


def test_predict_streamed_equals_predict_in_memory(folder, fitted, tmp_path):
    model = str(folder / "streamed.pt")
    new = str(folder / "new.gctx")
    streamed, text = tmp_path / "out.gctx", tmp_path / "out.gct"
    options = ["--device", "cpu", "--batch-size", "64", "--chunk-size", "9", "-q"]
    assert main(["predict", model, new, *options, "-o", str(streamed)]) == 0
    assert main(["predict", model, new, "-q", "-o", str(text)]) == 0  # in memory
    from sktaaf.datasets import load_gct

    out, reference = load_gctx(streamed, []), load_gct(text, [])
    assert list(out.sample_ids) == list(reference.sample_ids)
    np.testing.assert_allclose(out.y, reference.y, rtol=1e-5, atol=1e-5)
    assert out.row_metadata["pr_gene_symbol"].tolist() == [
        f"SYM_{gene}" for gene in TARGETS
    ]
    pd.testing.assert_frame_equal(
        out.col_metadata,
        load_gctx(new, [], target_ids=[]).col_metadata,
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--device", "gpu"], "expected cpu, cuda, cuda:N"),
        (["--batch-size", "0"], "expected a positive integer"),
        (["--chunk-size", "x"], "expected a positive integer"),
    ],
)
def test_predict_options_are_checked(folder, fitted, tmp_path, capsys, argv, message):
    model, new = str(folder / "streamed.pt"), str(folder / "new.gctx")
    with pytest.raises(SystemExit) as exit_:
        main(["predict", model, new, *argv, "-o", str(tmp_path / "o.gctx")])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_fit_device_and_param_device_must_agree(folder, tmp_path, capsys):
    argv = ["fit", str(folder / "train.gctx"), "--param", "device=cpu"]
    argv += ["--device", "cuda", "-o", str(tmp_path / "m.pt")]
    assert main(argv) == 2
    assert "disagree" in capsys.readouterr().err


@pytest.mark.cuda
def test_predict_on_cuda_matches_the_cpu(folder, fitted, tmp_path):
    """The estimator on a GPU (pinned, asynchronous copies) streams the same
    predictions, through predict_gctx and through `sktaaf predict`."""
    model_path, new = folder / "streamed.pt", folder / "new.gctx"
    on_cpu = TAAFRegressor.load(model_path, device="cpu")
    on_gpu = TAAFRegressor.load(model_path, device="cuda")
    expected = _expected(on_cpu, new)
    out = predict_gctx(on_gpu, new, tmp_path / "a.gctx", chunk_size=9)
    np.testing.assert_allclose(
        load_gctx(out, landmark_ids=[]).y, expected, rtol=1e-4, atol=1e-4
    )
    argv = ["predict", str(model_path), str(new), "--device", "cuda:0", "-q"]
    assert main([*argv, "-o", str(tmp_path / "b.gctx")]) == 0
    np.testing.assert_allclose(
        load_gctx(tmp_path / "b.gctx", landmark_ids=[]).y,
        expected,
        rtol=1e-4,
        atol=1e-4,
    )
    argv = ["fit", str(folder / "train.gctx"), *PARAMS, "--device", "cuda", "-q"]
    assert main([*argv, "-o", str(tmp_path / "gpu.pt")]) == 0
    assert TAAFRegressor.load(tmp_path / "gpu.pt").device_.startswith("cuda")


FULL_DISK_SCRIPT = f"""
import resource, sys
import numpy as np
from sktaaf.datasets import predict_gctx


class Model:
    def predict(self, X):
        return np.ones((len(X), 2000), dtype=np.float32)


source, destination = sys.argv[1], sys.argv[2]
resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))
try:
    predict_gctx(
        Model(), source, destination, landmark_ids={LANDMARKS!r},
        target_ids=[f"g{{i}}" for i in range(2000)], chunk_size=20,
        compression_level=None,
    )
    print("no error")
except OSError as exc:
    print(f"{{type(exc).__name__}}: {{exc}}")
"""


@pytest.mark.slow
def test_a_full_disk_is_an_os_error_not_a_crash(folder, tmp_path):
    import os
    import subprocess
    import sys

    pytest.importorskip("resource")
    destination = tmp_path / "out.gctx"
    destination.write_bytes(b"previous")
    process = subprocess.run(
        [
            sys.executable,
            "-c",
            FULL_DISK_SCRIPT,
            str(folder / "new.gctx"),
            str(destination),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert process.returncode == 0, (process.returncode, process.stderr[-3000:])
    assert process.stdout.startswith("OSError: "), process.stdout
    assert "disk full or file size limit" in process.stdout, process.stdout
    assert destination.read_bytes() == b"previous"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.gctx"]
