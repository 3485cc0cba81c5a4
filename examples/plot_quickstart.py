"""
Quickstart: infer target genes from landmark genes
==================================================

The L1000 assay measures about 1,000 *landmark* genes and infers the rest of
the transcriptome from them. This example fits the two networks of sktaaf on a
synthetic problem of that shape (942 landmark genes in, 952 target genes out,
as in the TAAF-D-GEX reference example) and compares them with a
:class:`~sklearn.dummy.DummyRegressor` that predicts each gene's training mean:

- :class:`~sktaaf.DGEXRegressor`, the classical D-GEX network: dense layers
  with a bias and a fixed activation;
- :class:`~sktaaf.TAAFRegressor`, TAAF-D-GEX: every neuron has its own
  *transformative adaptive activation function*
  ``f(x) = alpha * g(beta * x + gamma) + delta`` with learned
  ``alpha, beta, gamma, delta``.

Both networks run with their defaults (see the user guide's *Choosing the
defaults*): genes standardised inside the network, mean absolute error (MAE)
loss, Nadam, batches of 64, early stopping, and the same epoch limit.
"""

# %%
# Simulated expression profiles
# -----------------------------
# :func:`~sktaaf.datasets.make_expression` simulates profiles driven by a few
# shared expression programmes, with target responses of mixed shapes
# (linear, saturating, threshold, log-like and zero-inflated). Each row is a
# sample, each column a gene; we keep a quarter of the samples aside to test.
import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from sklearn.dummy import DummyRegressor
from sklearn.metrics import mean_absolute_error
from sklearn.model_selection import train_test_split

from sktaaf import DGEXRegressor, TAAFRegressor
from sktaaf.datasets import make_expression
from sktaaf.plotting import plot_learning_curves, plot_measured_vs_inferred

# SKTAAF_EXAMPLE_QUICK=1 makes a seconds-long smoke run (the tests set it).
QUICK = os.environ.get("SKTAAF_EXAMPLE_QUICK") == "1"
N_SAMPLES, MAX_EPOCHS = (300, 3) if QUICK else (2000, 60)

X, y = make_expression(n_samples=N_SAMPLES, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, random_state=0
)
print(f"{N_SAMPLES} samples, {X.shape[1]} landmarks -> {y.shape[1]} targets")

# %%
# Two networks with their defaults
# --------------------------------
# The estimators follow the scikit-learn API: ``fit(X, y)`` trains, ``predict``
# infers all target genes at once, in the units of ``y``: no scalers needed.
# With early stopping (the default), 10% of the training samples are held out;
# training stops once their loss has not improved for ``n_iter_no_change``
# epochs, and the weights of the best epoch are kept. The paper's recipe is
# ``TAAFRegressor(**sktaaf.REFERENCE_SETTINGS)``.
budget = dict(max_epochs=MAX_EPOCHS, random_state=0)
models = {
    "Dummy (gene means)": DummyRegressor(),
    "DGEXRegressor": DGEXRegressor(**budget),
    "TAAFRegressor": TAAFRegressor(**budget),
}

# %%
# Fit each model and measure its test error
# -----------------------------------------
# The mean absolute error over all test samples and target genes, in the units
# of the expression values (lower is better).
print(f"{'model':<20} {'test MAE':>9} {'epochs':>7} {'fit s':>7}")
for name, model in models.items():
    start = time.perf_counter()
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    mae = mean_absolute_error(y_test, model.predict(X_test))
    epochs = getattr(model, "n_iter_", "-")
    print(f"{name:<20} {mae:>9.4f} {epochs:>7} {seconds:>7.1f}")

# %%
# Learning curves
# ---------------
# ``history_`` records the losses of every epoch: the training loss (on
# batches, with dropout on) and the validation loss (on the held-out samples).
# :func:`~sktaaf.plotting.plot_learning_curves` draws them; the dotted line
# marks ``best_epoch_``, the epoch whose weights each model kept.
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
for ax, name in zip(axes, ("DGEXRegressor", "TAAFRegressor"), strict=True):
    plot_learning_curves(models[name], ax=ax)
    ax.set_title(name)
axes[0].set_ylabel("MAE loss (standard units)")
fig.tight_layout()
fig.savefig("quickstart_learning_curves.png", dpi=100)
print("saved quickstart_learning_curves.png")

# %%
# Measured against inferred
# -------------------------
# For a few target genes, the expression the TAAF network infers for each test
# sample against the measured one
# (:func:`~sktaaf.plotting.plot_measured_vs_inferred`); the legend gives each
# gene's correlation across the test samples.
ax = plot_measured_vs_inferred(
    y_test, models["TAAFRegressor"].predict(X_test), genes=[0, 1, 2]
)
ax.set_title("TAAFRegressor, three target genes")
ax.figure.savefig("quickstart_measured_vs_inferred.png", dpi=100)

# %%
# Both networks are far better than predicting each gene's mean. The D-GEX
# network levels off within a few epochs; the TAAF network starts slower, as
# its output neurons move from the sigmoid's range (0 to 1) to their genes'
# ranges, then overtakes it with the same number of epochs. On real data, train
# for longer: ``max_epochs=200`` by default, with early stopping.
