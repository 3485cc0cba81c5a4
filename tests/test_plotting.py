"""sktaaf.plotting: what each function draws, on the Agg backend."""

import sys

import numpy as np
import pytest
from conftest import FAST

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sktaaf import DGEXRegressor, TAAFRegressor  # noqa: E402
from sktaaf.metrics import per_gene_mae  # noqa: E402
from sktaaf.plotting import (  # noqa: E402
    plot_learning_curves,
    plot_measured_vs_inferred,
    plot_per_gene_error,
    plot_taaf_parameters,
    plot_target_scores,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def taaf(data):
    X, y = data
    return TAAFRegressor(**{**FAST, "max_epochs": 6}).fit(X, y)


def test_learning_curves_draw_the_history(taaf):
    ax = plot_learning_curves(taaf)
    train, valid, best = ax.get_lines()
    np.testing.assert_array_equal(train.get_xdata(), taaf.history_[:, "epoch"])
    np.testing.assert_array_equal(train.get_ydata(), taaf.history_[:, "train_loss"])
    np.testing.assert_array_equal(valid.get_ydata(), taaf.history_[:, "valid_loss"])
    assert list(best.get_xdata()) == [taaf.best_epoch_] * 2
    assert ax.get_xlabel() == "epoch"


def test_learning_curves_from_a_history_a_pipeline_and_given_axes(data):
    X, y = data
    est = DGEXRegressor(**{**FAST, "max_epochs": 3, "early_stopping": False})
    pipe = make_pipeline(StandardScaler(), est).fit(X, y)
    _, ax = plt.subplots()
    assert plot_learning_curves(pipe, ax=ax) is ax
    assert [line.get_label() for line in ax.get_lines()] == [
        "training loss",
        "best epoch",
    ]
    ax = plot_learning_curves(pipe[-1].history_)  # no best epoch without estimator
    assert [line.get_label() for line in ax.get_lines()] == ["training loss"]
    with pytest.raises(TypeError, match="fitted TAAFRegressor or DGEXRegressor"):
        plot_learning_curves(DGEXRegressor())


def test_per_gene_error_scatter(data, taaf):
    X, y = data
    baseline = np.repeat(y.mean(axis=0, keepdims=True), len(y), axis=0)
    y_pred = taaf.predict(X)
    ax = plot_per_gene_error(
        y, y_pred, baseline, model_name="TAAF", baseline_name="gene means"
    )
    points = ax.collections[0].get_offsets()
    np.testing.assert_allclose(points[:, 0], per_gene_mae(y, baseline), rtol=1e-6)
    np.testing.assert_allclose(points[:, 1], per_gene_mae(y, y_pred), rtol=1e-6)
    assert ax.get_title() == "TAAF beats gene means on 100.0% of genes"
    assert ax.get_xlabel() == "per-gene MAE, gene means"
    diagonal = ax.get_lines()[0]
    np.testing.assert_array_equal(diagonal.get_xdata(), diagonal.get_ydata())


def test_taaf_parameters_per_layer(taaf):
    axes = plot_taaf_parameters(taaf)
    assert axes.shape == (4,)
    assert [ax.get_title() for ax in axes] == ["alpha", "beta", "gamma", "delta"]
    handles, labels = axes[0].get_legend_handles_labels()
    assert labels == ["hidden0", "output"]
    for ax, initial in zip(axes, [1, 1, 0, 0], strict=True):
        assert len(ax.patches) == 2  # one histogram per layer
        assert ax.get_lines()[0].get_xdata()[0] == initial
    # Given axes (e.g. a 2 x 2 grid) are used, and a module works as well.
    _, grid = plt.subplots(2, 2)
    drawn = plot_taaf_parameters(taaf.module_, ax=grid)
    assert list(drawn) == list(grid.ravel())
    with pytest.raises(ValueError, match="4 Axes"):
        plot_taaf_parameters(taaf, ax=plt.subplots(1, 3)[1])


def test_taaf_parameters_refuse_networks_without_taaf(data):
    X, y = data
    dgex = DGEXRegressor(**{**FAST, "max_epochs": 2}).fit(X, y)
    with pytest.raises(ValueError, match="no TAAF layers"):
        plot_taaf_parameters(dgex)
    with pytest.raises(TypeError, match="torch module holding TAAF"):
        plot_taaf_parameters("network")


def test_measured_vs_inferred(data, taaf):
    pd = pytest.importorskip("pandas")
    X, y = data
    y_pred = taaf.predict(X)
    ax = plot_measured_vs_inferred(y, y_pred, genes=[2, 0])
    assert len(ax.collections) == 2
    np.testing.assert_array_equal(ax.collections[0].get_offsets()[:, 0], y[:, 2])
    np.testing.assert_array_equal(ax.collections[1].get_offsets()[:, 1], y_pred[:, 0])
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels[0].startswith("gene 2 (r = ")
    frame = pd.DataFrame(y, columns=["GAPDH", "TP53", "MYC"])
    ax = plot_measured_vs_inferred(frame, y_pred, genes="MYC")
    assert ax.get_legend().get_texts()[0].get_text().startswith("MYC (r = ")
    with pytest.raises(ValueError, match="a column of y_true"):
        plot_measured_vs_inferred(frame, y_pred, genes=["BRCA1"])
    with pytest.raises(ValueError, match=r"a column index \(0 to 2\); got 3"):
        plot_measured_vs_inferred(y, y_pred, genes=3)
    with pytest.raises(ValueError, match="same shape"):
        plot_measured_vs_inferred(y, y_pred[:, :2], genes=0)
    probes = pd.DataFrame(y, columns=["200814_at", "201000_at", "7157"])
    symbols = pd.Series({"200814_at": "PSME1", "7157": "TP53"})
    ax = plot_measured_vs_inferred(probes, y_pred, genes=[0, 1, 2], symbols=symbols)
    names = [text.get_text().split(" (")[0] for text in ax.get_legend().get_texts()]
    assert names == ["PSME1", "201000_at", "TP53"]  # an id without a symbol stays
    with pytest.raises(TypeError, match="mapping or a pandas Series"):
        plot_measured_vs_inferred(probes, y_pred, genes=0, symbols=["PSME1"])


def test_missing_matplotlib_is_a_clear_import_error(taaf, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_learning_curves(taaf)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_taaf_parameters(taaf)


def test_target_scores_histogram(taaf, data):
    scores = taaf.target_scores_
    ax = plot_target_scores(taaf)
    heights = [patch.get_height() for patch in ax.patches]
    assert sum(heights) == len(scores)
    [median] = ax.get_lines()
    assert median.get_xdata()[0] == pytest.approx(scores["r"].median())
    assert ax.get_title().startswith(f"{len(scores)} genes, median r")
    ax = plot_target_scores(scores, score="mae", bins=5)
    assert len(ax.patches) == 5
    assert "MAE" in ax.get_xlabel()
    with_flat = scores.copy()
    with_flat.loc[with_flat.index[0], "r"] = np.nan
    assert "(1 undefined)" in plot_target_scores(with_flat).get_title()
    X, y = data
    no_scores = TAAFRegressor(**{**FAST, "max_epochs": 2, "early_stopping": False})
    with pytest.raises(ValueError, match="early_stopping=False"):
        plot_target_scores(no_scores.fit(X, y))
    with pytest.raises(ValueError, match="score must be"):
        plot_target_scores(taaf, score="R2")
