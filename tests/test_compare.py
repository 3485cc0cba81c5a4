"""``sktaaf compare``, the comparison harness (``sktaaf._compare``), on tiny
data; and the real single-cell data sets it can load."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sktaaf import _compare as compare
from sktaaf._cli import main
from sktaaf.datasets import (
    REAL_EXAMPLES,
    SINGLE_CELL_EXAMPLES,
    l1000_landmark_ids,
    load_real_example,
    load_single_cell_example,
)

ROOT = Path(__file__).resolve().parents[1]

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


def test_compare_writes_results_and_figures(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    models = ["linear", "knn", "dgex_tanh", "taaf"]
    argv = [*TINY, "--models", ",".join(models), "--out", str(tmp_path)]
    assert main(["compare", *argv]) == 0
    assert "| TAAF sigmoid |" in capsys.readouterr().out

    saved = json.loads((tmp_path / "results.json").read_text())
    results = saved
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


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--models", "linear,nope"], "unknown --models"),
        (["--folds", "1"], "--folds must be at least 2"),
        (["--test-fraction", "0.95"], "--validation-fraction must be in"),
        (["--landmarks", "x.txt"], "need --data"),
        (["--hidden", "300,0"], "positive sizes"),
        (["--real", "pbmc68k", "--data", "x.npz"], "not both"),
    ],
)
def test_compare_rejects_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_compare_help_has_examples(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "sktaaf compare --quick" in out
    assert "--real" in out and "--extra-model" in out


def test_pbmc68k_splits_variable_genes_into_landmarks_and_targets():
    pytest.importorskip("scanpy")
    data = load_single_cell_example("pbmc68k")
    assert data.X.shape == (700, 150) and data.y.shape == (700, 615)
    assert data.X.dtype == data.y.dtype == np.float32
    assert not set(data.landmark_ids) & set(data.target_ids)
    assert data.X.var(axis=0).min() >= data.y.var(axis=0).max()


def test_real_example_loads_single_cell_sets_with_fewer_targets():
    pytest.importorskip("scanpy")
    full = load_single_cell_example("pbmc68k")
    data = load_real_example("pbmc68k", n_targets=100)
    np.testing.assert_array_equal(data.X, full.X)
    assert data.y.shape == (700, 100) and data.sample_ids is None
    assert set(data.target_ids) <= set(full.target_ids)
    assert "-> 100 others" in data.description


def test_unknown_single_cell_example_is_rejected():
    assert SINGLE_CELL_EXAMPLES == ("pbmc68k", "celltypist")
    with pytest.raises(ValueError, match="Unknown single-cell example 'nope'"):
        load_single_cell_example("nope")


@pytest.mark.parametrize(
    "name, package", [("pbmc68k", "scanpy"), ("celltypist", "celltypist")]
)
def test_single_cell_example_names_the_extra_when_absent(name, package, monkeypatch):
    monkeypatch.setitem(sys.modules, package, None)
    with pytest.raises(ImportError, match=r'pip install "sktaaf\[real\]"'):
        load_single_cell_example(name)


def test_compare_without_matplotlib_fails_before_any_fit(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.delitem(sys.modules, "sktaaf._compare._plots", raising=False)
    with pytest.raises(ImportError, match="--no-plots"):
        compare.main([*TINY, "--out", str(tmp_path)], log=quiet)
    assert not (tmp_path / "results.json").exists()


def test_compare_reports_a_missing_extra_on_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "scanpy", None)
    assert main(["compare", "--real", "pbmc68k", "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sktaaf compare: error:") and "sktaaf[real]" in err


def test_compare_reports_folds_and_wins_over_ridgecv(tmp_path, capsys):
    """Issue 22 item 4: "genes better than" RidgeCV beside LinearRegression,
    mean ± sd over folds of MAE and r in the printed table, results.md and
    summary.csv; per_gene.csv keeps the per-gene numbers."""
    models = ["linear", "ridgecv", "mean", "mlp_raw"]
    argv = [*TINY, "--folds", "3", "--models", ",".join(models), "--no-plots"]
    assert main(["compare", *argv, "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    for text in (printed, (tmp_path / "results.md").read_text()):
        assert "genes better than RidgeCV" in text
        assert "mean ± sd over 3 splits" in text and "r (mean ± sd)" in text
    results = json.loads((tmp_path / "results.json").read_text())
    for name, model in results["models"].items():
        summary = model["summary"]
        assert len(model["splits"]) == 3
        assert summary["mae_sd"] is not None and summary["mae_sd"] >= 0
        assert (summary["win_rate_ridgecv_mean"] is None) == (name == "ridgecv")
        assert (summary["win_rate_mean"] is None) == (name == "linear")
        for split in model["splits"]:
            rate = split.get("win_rate_ridgecv")
            assert rate is None or 0 <= rate <= 1
    assert results["models"]["mlp_raw"]["label"] == "MLPRegressor (no scalers)"
    rows = (tmp_path / "summary.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert header[:3] == ["model", "label", "n_splits"]
    for column in ("mae_mean", "mae_sd", "mean_pearson_mean", "mean_pearson_sd"):
        assert column in header
    by_model = {
        row.split(",")[0]: dict(zip(header, row.split(","), strict=True))
        for row in rows[1:]
    }
    assert list(by_model) == models
    ridgecv = results["models"]["ridgecv"]["summary"]
    assert float(by_model["ridgecv"]["mae_mean"]) == pytest.approx(
        ridgecv["mae_mean"], rel=1e-5
    )
    assert float(by_model["linear"]["win_rate_ridgecv_mean"]) >= 0
    assert by_model["ridgecv"]["win_rate_ridgecv_mean"] == ""
    per_gene = (tmp_path / "per_gene.csv").read_text().splitlines()
    assert len(per_gene) == 1 + 6


@pytest.mark.parametrize(
    "name, n_samples, n_landmarks",
    [("gse1992", 124, 911), ("gse3143", 158, 790), ("gse4335", 115, 850)],
)
def test_bulk_sets_split_by_l1000_landmarks(name, n_samples, n_landmarks):
    """SurvSet's microarray sets: the L1000 landmarks present -> the 1,000
    most variable other genes; clinical columns dropped."""
    pytest.importorskip("SurvSet")
    data = load_real_example(name)
    assert data.X.shape == (n_samples, n_landmarks)
    assert data.y.shape == (n_samples, 1000)
    assert data.X.dtype == data.y.dtype == np.float32
    assert np.isfinite(data.X).all() and np.isfinite(data.y).all()
    assert set(data.landmark_ids) <= set(l1000_landmark_ids("symbol"))
    assert not set(data.target_ids) & set(l1000_landmark_ids("symbol"))
    assert len(data.sample_ids) == n_samples
    assert name in data.description and f"{n_landmarks} L1000" in data.description
    everything = load_real_example(name, n_targets="all")
    assert everything.y.shape[1] > 1000
    np.testing.assert_array_equal(everything.X, data.X)
    # The kept targets are the most variable of all non-landmark genes.
    threshold = np.sort(everything.y.var(axis=0))[-1000]
    assert data.y.var(axis=0).min() >= threshold
    assert list(data.target_ids) == [
        gene for gene in everything.target_ids if gene in set(data.target_ids)
    ]


def test_real_examples_take_the_single_cell_names_too():
    assert REAL_EXAMPLES[:2] == SINGLE_CELL_EXAMPLES
    assert set(REAL_EXAMPLES) >= {"gse1992", "gse3143", "gse4335"}
    with pytest.raises(ValueError, match="Unknown real example 'nope'"):
        load_real_example("nope")
    for bad in (0, -3, "some", 2.5, True):
        with pytest.raises(ValueError, match="n_targets must be"):
            load_real_example("gse1992", n_targets=bad)


def test_bulk_set_names_the_extra_when_absent(monkeypatch):
    monkeypatch.setitem(sys.modules, "SurvSet", None)
    monkeypatch.setitem(sys.modules, "SurvSet.data", None)
    with pytest.raises(ImportError, match=r'pip install "sktaaf\[real\]"'):
        load_real_example("gse1992")


def test_compare_runs_on_a_bulk_set(tmp_path, capsys):
    pytest.importorskip("SurvSet")
    argv = ["--real", "gse3143", "--n-targets", "20", "--n-landmarks", "30"]
    argv += ["--folds", "2", "--models", "ridgecv,median", "--in-process"]
    assert main(["compare", *argv, "--no-plots", "--out", str(tmp_path)]) == 0
    assert "gse3143 (GEO, via SurvSet)" in capsys.readouterr().out
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["data"]["n_samples"] == 158
    assert results["data"]["n_landmarks"] == 30
    assert results["data"]["n_targets"] == 20
    ridgecv = results["models"]["ridgecv"]["summary"]
    assert ridgecv["mae_mean"] < results["models"]["median"]["summary"]["mae_mean"]


HUNGRY = '''
import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin


class Hungry(RegressorMixin, BaseEstimator):
    """Touches 96 MiB during fit, then frees it."""

    def fit(self, X, y):
        block = np.ones(96 * 2**20 // 8)
        self.mean_ = np.asarray(y).mean(axis=0) + 0 * block[:1]
        return self

    def predict(self, X):
        return np.tile(self.mean_, (len(X), 1))
'''


@pytest.mark.parametrize(
    "start_method", ["forkserver", pytest.param("spawn", marks=pytest.mark.slow)]
)
def test_compare_fresh_processes_measure_each_fit_alone(tmp_path, start_method):
    """The default path, from ``python -m sktaaf compare`` (issue 24 item 3):
    fits run in processes forked from a server that imported torch once (or
    spawned); each reports its own peak memory: a dummy fitted after a model
    that touched 96 MiB reports far less."""
    (tmp_path / "hungry.py").write_text(HUNGRY)
    argv = [arg for arg in TINY if arg != "--in-process"]
    argv += ["--models", "median", "--extra-model", "hungry=hungry:Hungry"]
    argv += ["--extra-model", "hungry2=hungry:Hungry", "--folds", "2"]
    argv += ["--start-method", start_method, "--no-plots", "--out", str(tmp_path)]
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)])}
    subprocess.run(
        [sys.executable, "-m", "sktaaf", "compare", *argv],
        check=True,
        capture_output=True,
        env=environ,
        timeout=600,
    )
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["config"]["start_method"] == start_method
    assert results["wall_seconds"] >= results["fit_predict_seconds"] > 0
    models = results["models"]
    for name in ("median", "hungry", "hungry2"):
        assert len(models[name]["splits"]) == 2
    for split in models["median"]["splits"]:
        assert split["fit_peak_mib"] >= 0 and split["rss_before_fit_mib"] > 0
    if sys.platform != "linux":
        return
    for split in models["hungry"]["splits"] + models["hungry2"]["splits"]:
        assert split["memory_method"].startswith("VmHWM reset")
        assert split["fit_peak_mib"] >= 90
    # Fold 2's median fit comes after fold 1's hungry fits.
    assert models["median"]["splits"][1]["fit_peak_mib"] < 30
