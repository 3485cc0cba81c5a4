"""Smoke tests of the benchmark scripts (``benchmarks/``), on tiny data."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ is not installed with the package
    sys.path.insert(0, str(ROOT))

from benchmarks import compare, speed  # noqa: E402

TINY = [
    "--n-samples",
    "120",
    "--n-landmarks",
    "12",
    "--n-targets",
    "6",
    "--hidden",
    "16,16",
    "--epochs",
    "2",
    "--in-process",
]
FIGURES = [
    "mae.png",
    "per_gene_mae_vs_linear.png",
    "learning_curves.png",
    "taaf_parameters.png",
]


def quiet(*args):
    pass


def test_compare_writes_results_and_figures(tmp_path):
    models = ["linear", "knn", "dgex_tanh", "taaf"]
    argv = [*TINY, "--models", ",".join(models), "--out", str(tmp_path)]
    results = compare.main(argv, log=quiet)

    saved = json.loads((tmp_path / "results.json").read_text())
    assert set(saved) >= {
        "config",
        "data",
        "environment",
        "splits",
        "reference",
        "models",
        "wall_seconds",
    }
    assert saved["data"] == results["data"]
    assert saved["data"]["n_landmarks"] == 12 and saved["data"]["n_targets"] == 6
    assert saved["environment"]["versions"]["sktaaf"]
    assert list(saved["models"]) == models
    assert len(saved["splits"]) == 1 and saved["splits"][0]["n_test"] == 24
    for name, model in saved["models"].items():
        summary = model["summary"]
        assert -1 <= summary["mean_pearson_mean"] <= 1
        for key in (
            "mae_mean",
            "fit_seconds_mean",
            "predict_seconds_mean",
            "fit_peak_mib_mean",
        ):
            assert summary[key] is not None and summary[key] >= 0, (name, key)
        assert (summary.get("win_rate_mean") is None) == (name == "linear")
        (split,) = model["splits"]
        if name.startswith(("dgex", "taaf")):
            assert len(split["history"]["train_loss"]) == 2
            assert len(split["history"]["valid_loss"]) == 2
            assert split["n_parameters"] > 0
    taaf_layers = saved["models"]["taaf"]["splits"][0]["taaf_layers"]
    assert list(taaf_layers) == ["hidden0.taaf", "hidden1.taaf", "output.taaf"]
    assert set(taaf_layers["output.taaf"]) == {"alpha", "beta", "gamma", "delta"}

    table = (tmp_path / "results.md").read_text()
    assert "| TAAF sigmoid |" in table and "test MAE" in table
    per_gene = (tmp_path / "per_gene.csv").read_text().splitlines()
    assert len(per_gene) == 1 + 6 and per_gene[0].startswith("gene_id,mae__linear")
    with np.load(tmp_path / "taaf_parameters.npz") as archive:
        assert archive["taaf__split0__output.taaf__alpha"].shape == (6,)
    for figure in FIGURES:
        assert (tmp_path / figure).stat().st_size > 10_000, figure


def _expression(n_samples=90, n_genes=14, seed=0):
    rng = np.random.RandomState(seed)
    programs = rng.normal(size=(n_samples, 3))
    matrix = np.tanh(programs @ rng.normal(size=(3, n_genes)))
    matrix += 0.1 * rng.normal(size=matrix.shape)
    gene_ids = [f"g{index}" for index in range(n_genes)]
    return matrix.astype(np.float32), gene_ids


def _write_gct(path, matrix, gene_ids):
    """A GCT 1.2 file: genes as rows, samples as columns."""
    samples = [f"s{index}" for index in range(len(matrix))]
    lines = ["#1.2", f"{len(gene_ids)}\t{len(samples)}"]
    lines.append("\t".join(["Name", "Description", *samples]))
    for gene, values in zip(gene_ids, matrix.T, strict=True):
        lines.append("\t".join([gene, "na", *(f"{value:.6f}" for value in values)]))
    path.write_text("\n".join(lines) + "\n")


def _write_gctx(path, matrix, gene_ids):
    h5py = pytest.importorskip("h5py")
    samples = [f"s{index}".encode() for index in range(len(matrix))]
    with h5py.File(path, "w") as file:  # h5py's view: samples x genes
        file.create_dataset("0/DATA/0/matrix", data=matrix)
        file.create_dataset("0/META/ROW/id", data=[g.encode() for g in gene_ids])
        file.create_dataset("0/META/COL/id", data=samples)


def _write_hdf(path, matrix, gene_ids):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("tables")
    pd.DataFrame(matrix, columns=gene_ids).to_hdf(path, key="table")


@pytest.mark.parametrize("kind", ["gct", "gctx", "h5", "npz_matrix", "npz_xy"])
def test_compare_loads_data_files(tmp_path, kind):
    matrix, gene_ids = _expression()
    landmarks = ["g9", "g1", "g4", "g6", "g11"]
    (tmp_path / "landmarks.txt").write_text("# landmarks\n" + "\n".join(landmarks))
    landmark_args = ["--landmarks", str(tmp_path / "landmarks.txt")]
    if kind in ("gct", "gctx", "h5"):
        data = tmp_path / f"profiles.{kind}"
        writer = {"gct": _write_gct, "gctx": _write_gctx, "h5": _write_hdf}[kind]
        writer(data, matrix, gene_ids)
    elif kind == "npz_matrix":
        data = tmp_path / "profiles.npz"
        np.savez(data, matrix=matrix, gene_ids=np.array(gene_ids))
    else:
        data = tmp_path / "profiles.npz"
        np.savez(data, X=matrix[:, :5], y=matrix[:, 5:])
        landmark_args = []
    results = compare.main(
        [
            "--data",
            str(data),
            *landmark_args,
            "--models",
            "linear,knn_ge,mean",
            "--model-params",
            'knn_ge={"n_neighbors": 3}',
            "--folds",
            "3",
            "--in-process",
            "--no-plots",
            "--out",
            str(tmp_path / "out"),
        ],
        log=quiet,
    )
    assert results["data"]["n_samples"] == 90
    assert results["data"]["n_landmarks"] == 5
    assert results["data"]["n_targets"] == 9
    assert [split["n_test"] for split in results["splits"]] == [30, 30, 30]
    assert results["models"]["linear"]["summary"]["mae_sd"] is not None
    # Gene ids of the file reach the per-gene table: the targets in file order.
    rows = (tmp_path / "out" / "per_gene.csv").read_text().splitlines()[1:]
    if kind != "npz_xy":
        expected = [gene for gene in gene_ids if gene not in landmarks]
        assert [row.split(",")[0] for row in rows] == expected
    # The linear baseline recovers these nearly linear targets far better than
    # predicting each gene's mean: the data were split and read correctly.
    summaries = {name: m["summary"] for name, m in results["models"].items()}
    assert summaries["linear"]["mae_mean"] < 0.5 * summaries["mean"]["mae_mean"]


def test_compare_fits_in_a_fresh_process():
    """The default path: every fit in a spawned process, memory from VmHWM."""
    argv = [arg for arg in TINY if arg != "--in-process"]
    results = compare.main([*argv, "--models", "linear", "--no-plots"], log=quiet)
    (split,) = results["models"]["linear"]["splits"]
    assert split["fit_peak_mib"] >= 0 and split["rss_before_fit_mib"] > 0
    if sys.platform == "linux":
        assert split["memory_method"] == "VmHWM reset"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--models", "linear,nope"], "unknown --models"),
        (["--folds", "1"], "--folds must be at least 2"),
        (["--test-fraction", "0.95"], "--validation-fraction must be in"),
        (["--landmarks", "x.txt"], "need --data"),
        (["--hidden", "300,0"], "positive sizes"),
    ],
)
def test_compare_rejects_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit):
        compare.parse_args(argv)
    assert message in capsys.readouterr().err


def test_speed_benchmark_is_importable():
    X, y = speed.make_data(8)
    assert X.shape == (8, speed.N_FEATURES) and y.shape == (8, speed.N_TARGETS)
    assert set(speed.RUNS) == {speed.RAW, speed.TAAF, speed.SKORCH, speed.MLP}
