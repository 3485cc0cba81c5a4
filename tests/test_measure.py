"""Tests of sktaaf.measure, the measuring tools of ``sktaaf compare`` and the
benchmarks, and of the plotting functions ``sktaaf compare`` draws with."""

import os

import numpy as np
import pytest

from sktaaf import measure
from sktaaf.nn import TAAF_PARAMETERS, TAAFNetwork, taaf_parameters


def _variables():
    return os.environ.get("SKTAAF_MEASURE_TEST"), os.environ.get("HOME")


def test_run_fresh_sets_the_environment_of_the_new_process_only(monkeypatch):
    monkeypatch.setenv("HOME", "/somewhere")
    changes = {"SKTAAF_MEASURE_TEST": 7, "HOME": None}
    assert measure.run_fresh(_variables, environ=changes) == ("7", None)
    assert _variables() == (None, "/somewhere")  # restored here


def _fail():
    raise KeyError("from the child")


def test_run_fresh_raises_the_exception_of_the_process():
    with pytest.raises(KeyError, match="from the child"):
        measure.run_fresh(_fail)


def test_run_fresh_refuses_environ_for_a_fork_server():
    context = measure.fresh_process_context("spawn")
    assert measure.run_fresh(abs, -3, context=context) == 3

    class Forked:
        def get_start_method(self):
            return "forkserver"

    with pytest.raises(ValueError, match="spawned processes only"):
        measure.run_fresh(abs, -3, context=Forked(), environ={"A": "1"})


def test_usage_since_grows():
    start = measure.usage()
    sum(range(100_000))
    spent = measure.usage_since(start)
    assert set(spent) == {"wall", "user", "sys", "minflt", "majflt"}
    assert spent["wall"] > 0 and spent["minflt"] >= 0


def _peak_of_a_block(n_bytes):
    with measure.PeakMemory() as memory:
        block = np.ones(n_bytes, dtype=np.uint8)  # touched
        del block
    return memory.peak_mib, memory.start_mib, memory.file_mib, memory.method


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="no /proc")
def test_peak_memory_sees_a_block_freed_inside():
    assert measure.status_mib("VmRSS") > 0
    assert measure.status_mib("NoSuchField") is None
    # In a fresh process, as compare measures: in this one, memory that earlier
    # tests freed (and malloc kept) could serve the block without growing RSS.
    peak, start, file, method = measure.run_fresh(_peak_of_a_block, 2**25)
    assert 24 < peak < 200
    assert start > 0 and file >= 0
    assert method == "VmHWM reset, less RssFile growth"


def test_environment_names_versions_threads_and_load():
    env = measure.environment()
    assert env["versions"]["sktaaf"] and env["versions"]["torch"]
    assert env["torch_threads"] >= 1 and env["cpu_count"] >= 1
    assert len(env["load_average_start"]) == 3
    assert set(env["variables"]) <= {
        *measure.ALLOCATOR_VARIABLES,
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
    }


def test_markdown_table_aligns_as_told():
    table = measure.markdown_table(["a", "b", "c"], [["1", "2", "3"]], "lrl")
    assert table.splitlines() == ["| a | b | c |", "|---|---:|---|", "| 1 | 2 | 3 |"]
    default = measure.markdown_table(["a", "b", "c"], [])
    assert default.splitlines()[1] == "|---|---:|---:|"


def test_taaf_parameters_are_copies_by_layer():
    network = TAAFNetwork(6, 3, hidden_layer_sizes=(5,))
    layers = taaf_parameters(network)
    assert list(layers) == ["hidden0.taaf", "output.taaf"]
    assert list(layers["hidden0.taaf"]) == list(TAAF_PARAMETERS)
    alpha = layers["hidden0.taaf"]["alpha"]
    assert alpha.dtype == np.float32 and alpha.shape == (5,)
    alpha[:] = 5  # a copy: the network keeps its own
    assert taaf_parameters(network)["hidden0.taaf"]["alpha"][0] == 1


def test_plot_functions_compare_draws_with():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from sktaaf import plotting

    ax = plotting.plot_model_scores(
        {"a": 1.0, "b": 2.0}, errors={"a": 0.1}, reference="b", ylabel="MAE"
    )
    assert [bar.get_height() for bar in ax.patches] == [1.0, 2.0]
    assert ax.get_ylabel() == "MAE"
    ax = plotting.plot_per_gene_mae([1, 2], [2, 1])
    assert ax.get_title() == "model beats baseline on 50.0% of genes"
    with pytest.raises(ValueError, match="one error per gene"):
        plotting.plot_per_gene_mae([1, 2], [1, 2, 3])
    # Parameters by layer (e.g. pooled over fits) draw as the module does.
    layers = taaf_parameters(TAAFNetwork(6, 3, hidden_layer_sizes=(5,)))
    axes = plotting.plot_taaf_parameters(layers)
    assert axes[0].get_legend_handles_labels()[1] == ["hidden0", "output"]
    with pytest.raises(ValueError, match="no TAAF layers"):
        plotting.plot_taaf_parameters({})
    history = [{"epoch": 1, "train_loss": 1.0}, {"epoch": 2, "train_loss": 0.5}]
    ax = plotting.plot_learning_curves(history, best_epoch=2)
    assert [line.get_label() for line in ax.get_lines()] == [
        "training loss",
        "best epoch",
    ]
