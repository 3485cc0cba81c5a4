"""Smoke tests of the benchmark scripts (``benchmarks/``), on tiny data."""

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ is not installed with the package
    sys.path.insert(0, str(ROOT))

from benchmarks import _speed_plots, gpu_throughput, speed  # noqa: E402


def quiet(*args):
    pass


def test_speed_data_are_float32_and_reproducible():
    X, y = speed.make_data(40)
    assert X.shape == (40, speed.N_FEATURES) and y.shape == (40, speed.N_TARGETS)
    assert X.dtype == y.dtype == np.float32
    assert np.abs(y).max() < 2
    np.testing.assert_array_equal(speed.make_data(40)[1], y)
    assert set(speed.TRAINERS) == set(speed.METHODS)


SPEED_TINY = ["--n-samples", "64", "--widths", "8", "--epochs", "2"]


def test_speed_measures_fresh_processes(tmp_path):
    argv = [*SPEED_TINY, "--rounds", "2", "--processes", "1"]
    argv += ["--methods", "raw", "taaf"]
    argv += ["--malloc", "glibc", "tunables", "--out", str(tmp_path)]
    results = speed.main(argv, log=quiet)

    saved = json.loads((tmp_path / "results.json").read_text())
    assert set(saved) == {"config", "environment", "points"}
    assert saved["points"] == json.loads(json.dumps(results["points"]))
    glibc, tunables = saved["points"]
    assert (glibc["malloc"], tunables["malloc"]) == ("glibc", "tunables")
    assert "GLIBC_TUNABLES" not in glibc["environ"]
    assert tunables["environ"]["GLIBC_TUNABLES"] == speed.TUNABLES
    assert glibc["torch_threads"] == 1
    for point in saved["points"]:
        # Two rounds, the order rotated: each method first once.
        runs = point["runs"]
        assert [(r["round"], r["method"]) for r in runs] == [
            (0, "raw"),
            (0, "taaf"),
            (1, "taaf"),
            (1, "raw"),
        ]
        for run in runs:
            assert len(run["epochs"]) == 2
            for usage in [run["fit"], *run["epochs"]]:
                assert set(usage) == {"wall", "user", "sys", "minflt", "majflt"}
                assert usage["wall"] > 0 and usage["minflt"] >= 0
            assert run["fit"]["wall"] >= sum(e["wall"] for e in run["epochs"])
        raw, taaf = (point["methods"][name] for name in ("raw", "taaf"))
        assert raw["paired_ratio"] == raw["paired_fit_ratio"] == 1
        totals = {
            (r["round"], r["method"]): sum(e["wall"] for e in r["epochs"]) for r in runs
        }
        assert taaf["paired_ratio"] == pytest.approx(
            np.median([totals[i, "taaf"] / totals[i, "raw"] for i in (0, 1)])
        )
    table = (tmp_path / "results.md").read_text()
    assert "| 64 | 8 | 1 | glibc | TAAFRegressor |" in table
    assert "faults/epoch" in table and "sys s/epoch" in table
    assert (tmp_path / "speed.png").stat().st_size > 10_000
    figure = _speed_plots.plot_speed(saved["points"], speed.METHODS, speed.COLORS, "")
    assert len(figure.axes) == 2


def test_speed_summary_pairs_runs_of_the_same_round():
    def run(round_, method, walls, faults):
        epochs = [
            {"wall": w, "user": w, "sys": 0.0, "minflt": f, "majflt": 0}
            for w, f in zip(walls, faults, strict=True)
        ]
        fit = {"wall": sum(walls) + 1, "user": 0, "sys": 0, "minflt": 0, "majflt": 0}
        position = {"raw": 0, "taaf": 1}[method] ^ round_
        return {
            "round": round_,
            "position": position,
            "method": method,
            "epochs": epochs,
            "fit": fit,
        }

    process = {
        "runs": [
            run(0, "raw", [1.0, 1.0], [100, 100]),
            run(0, "taaf", [1.5, 1.5], [50, 50]),
            run(1, "taaf", [2.0, 2.0], [10, 10]),
            run(1, "raw", [2.0, 2.0], [0, 0]),
        ]
    }
    summary = speed.summarize([process], ["raw", "taaf"])["methods"]
    assert summary["taaf"]["paired_ratio"] == pytest.approx((1.5 + 1.0) / 2)
    assert summary["taaf"]["paired_fit_ratio"] == pytest.approx((4 / 3 + 1) / 2)
    assert summary["taaf"]["minflt_per_epoch"] == 30
    assert summary["taaf"]["faults_ratio"] == pytest.approx(30 / 50)
    assert summary["taaf"]["sec_per_epoch"] == pytest.approx(1.75)
    assert summary["raw"]["fresh_minflt_per_epoch"] == 100
    assert summary["taaf"]["fresh_minflt_per_epoch"] is None  # never first


def test_speed_runs_the_defaults_and_bf16(tmp_path):
    """The default estimator beside its own raw loop, and bf16 (run here
    whatever the CPU: on one without native bf16 it is only slow)."""
    argv = [*SPEED_TINY, "--rounds", "1", "--processes", "1", "--out", str(tmp_path)]
    argv += ["--methods", "raw", "default", "raw-default", "bf16"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SlowPrecisionWarning, tiny data
        results = speed.main(argv, log=quiet)
    (point,) = results["points"]
    methods = point["methods"]
    assert list(methods) == ["raw", "default", "raw-default", "bf16"]
    for run in point["runs"]:
        assert len(run["epochs"]) == 2  # epochs 1 and 2, both counted
    runs = {run["method"]: run for run in point["runs"]}
    total = {name: sum(e["wall"] for e in run["epochs"]) for name, run in runs.items()}
    assert methods["default"]["own_raw_ratio"] == pytest.approx(
        total["default"] / total["raw-default"]
    )
    assert "own_raw_ratio" not in methods["bf16"]
    table = (tmp_path / "results.md").read_text()
    for name in ("default", "raw-default", "bf16"):
        assert f"| {speed.METHODS[name]} |" in table
    assert "own-raw ratio" in table


def test_speed_defaults(monkeypatch):
    args = speed.parse_args([])
    assert (args.n_samples, args.widths, args.threads) == ([2000], [300], [1])
    assert (args.epochs, args.rounds, args.processes) == (3, 2, 2)
    assert args.malloc == ["glibc"]
    assert args.methods[:4] == ["raw", "taaf", "default", "raw-default"]
    for native, methods in [
        (True, [*args.methods[:4], "bf16"]),
        (False, args.methods[:4]),
    ]:
        monkeypatch.setattr(speed, "cpu_has_native_bf16", lambda n=native: n)
        assert speed.default_methods() == methods
    assert len(speed.grid(speed.parse_args(["--threads", "1", "2"]))) == 2


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--epochs", "0"], "must be a positive integer"),
        (["--n-samples", "-5"], "must be a positive integer"),
        (["--malloc", "jemalloc"], "invalid choice"),
        (["--methods", "nope"], "invalid choice"),
    ],
)
def test_speed_rejects_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit):
        speed.parse_args(argv)
    assert message in capsys.readouterr().err


def test_gpu_throughput_counts_the_dgex_network():
    layers = gpu_throughput.linear_layers(gpu_throughput.FULL)
    assert layers == [(943, 9000), (9000, 9000), (9000, 9000), (9000, 4760)]
    weights = 943 * 9000 + 2 * 9000**2 + 9000 * 4760
    assert gpu_throughput.forward_flops(256, layers) == 2 * 256 * weights
    assert gpu_throughput.spec_peaks("NVIDIA H100 80GB HBM3")["tflops"]["bf16"] == 989.4
    assert gpu_throughput.spec_peaks("NVIDIA H100 PCIe")["part"] == "H100 PCIe"
    assert gpu_throughput.spec_peaks("NVIDIA A100-SXM4-80GB")["tflops"]["fp32"] == 19.5
    assert gpu_throughput.spec_peaks("NVIDIA GeForce RTX 4090") is None


def _check_gpu_throughput(results, tmp_path, precisions, memory):
    saved = json.loads((tmp_path / "results.json").read_text())
    assert set(saved) == {
        "config",
        "environment",
        "spec_peaks",
        "n_matmul_weights",
        "peaks",
        "results",
        "wall_seconds",
    }
    assert saved["results"] == json.loads(json.dumps(results["results"]))
    config = saved["config"]
    n_samples, layers = config["n_samples"], gpu_throughput.linear_layers(config)
    assert (n_samples, config["batch_size"], config["epochs"]) == (512, 64, 2)
    assert set(precisions) <= set(saved["peaks"])
    rows = saved["results"]
    assert [(row["model"], row["precision"]) for row in rows] == [
        (model, precision)
        for model in ("DGEXRegressor", "TAAFRegressor")
        for precision in precisions
    ]
    for row in rows:
        assert row["note"] == "", row["note"]
        train, predict = row["train"], row["predict"]
        assert len(train["epoch_times"]) == 2
        assert train["samples_per_sec"] == pytest.approx(
            n_samples / train["sec_per_epoch"]
        )
        assert train["tflops"] == pytest.approx(
            3
            * gpu_throughput.forward_flops(n_samples, layers)
            / train["sec_per_epoch"]
            / 1e12
        )
        peak = saved["peaks"][train["peak_kind"]]["square_tflops"]
        assert train["share_of_peak"] == pytest.approx(train["tflops"] / peak)
        assert len(predict["seconds"]) == 3 and predict["samples_per_sec"] > 0
        for stage in (train, predict):
            assert (stage["peak_memory_bytes"] is not None) == memory
    table = (tmp_path / "results.md").read_text()
    assert "| DGEXRegressor | bf16 | no |" in table
    assert "share of measured peak" in table and "Matmul peaks" in table


def test_gpu_throughput_runs_tiny_on_cpu(tmp_path):
    argv = ["--device", "cpu", "--tiny", "--precisions", "fp32", "bf16"]
    results = gpu_throughput.main([*argv, "--out", str(tmp_path)], log=quiet)
    _check_gpu_throughput(results, tmp_path, ["fp32", "bf16"], memory=False)
    assert set(results["peaks"]) == {"fp32", "bf16"}
    assert results["spec_peaks"] is None


@pytest.mark.cuda
def test_gpu_throughput_runs_tiny_on_cuda(tmp_path):
    argv = ["--device", "cuda", "--tiny", "--out", str(tmp_path)]
    results = gpu_throughput.main(argv, log=quiet)
    bf16 = results["results"][1]
    if bf16["note"]:  # an older GPU: skipped, not failed
        assert "not supported" in bf16["note"]
        return
    _check_gpu_throughput(results, tmp_path, ["fp32", "bf16", "fp16"], memory=True)
    assert set(results["peaks"]) == {"fp32", "tf32", "bf16", "fp16"}
    assert results["environment"]["device_name"]


@pytest.mark.cuda
def test_gpu_throughput_compiles_on_cuda(tmp_path):
    argv = ["--device", "cuda", "--tiny", "--model", "dgex", "--precisions", "fp32"]
    results = gpu_throughput.main([*argv, "--compile", "--tf32"], log=quiet)
    assert [row["compile"] for row in results["results"]] == [False, True]
    for row in results["results"]:
        assert row["train"]["peak_kind"] == "tf32" and row["predict"]["tflops"] > 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--device", "cpu", "--epochs", "1"], "--epochs must be at least 2"),
        (["--device", "cpu", "--tf32"], "--tf32 needs a CUDA device"),
        (["--device", "cpu", "--batch-size", "0"], "must be positive"),
    ],
)
def test_gpu_throughput_rejects_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit):
        gpu_throughput.parse_args(argv)
    assert message in capsys.readouterr().err


def test_out_of_core_fits_from_files_in_a_fresh_process(tmp_path):
    from benchmarks import out_of_core

    argv = ["--sizes-gb", "0.004", "--dir", str(tmp_path), "--out", str(tmp_path)]
    results = out_of_core.main(argv, log=quiet)
    (result,) = results["results"]
    assert result["n_samples"] == 95 and result["epochs"] == 1
    assert result["fit_seconds"] > 0 and result["fit_page_faults"] > 0
    assert result["rss_growth_mib"] >= 0
    assert not list(tmp_path.glob("*.npy"))  # the data files are removed
    saved = json.loads((tmp_path / "results.json").read_text())
    assert set(saved) == {"config", "environment", "results"}
    assert "| page faults |" in (tmp_path / "results.md").read_text()


@pytest.mark.slow
def test_predict_scale_measures_fresh_processes(tmp_path):
    from benchmarks import predict_scale

    argv = ["--sizes", "30", "70", "--fit-sizes", "40", "--lincs-samples", "20"]
    argv += ["--dir", str(tmp_path), "--out", str(tmp_path)]
    results = predict_scale.main(argv, log=quiet)
    predict, fit = results["predict"], results["fit"]
    assert [(p["n_samples"], p["n_targets"]) for p in predict] == [
        (30, 2000),
        (30, 2000),
        (30, 2000),
        (70, 2000),
        (70, 2000),
        (70, 2000),
        (20, 11000),
    ]
    assert {p["how"] for p in predict} == set(predict_scale.PREDICT_WAYS.values())
    for point in predict + fit:
        assert point["samples_per_second"] > 0 and point["peak_rss_mib"] > 0
    assert [p["how"] for p in fit] == ["out of core", "in memory"]
    assert all(p["seconds_per_epoch"] > 0 for p in fit)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json", "results.md"]
    assert "| samples/s |" in (tmp_path / "results.md").read_text()
