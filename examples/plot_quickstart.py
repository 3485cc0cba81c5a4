"""
Quickstart: infer target genes from landmark genes
==================================================

Fit :class:`~sktaaf.TAAFRegressor` and :class:`~sktaaf.DGEXRegressor` on a
synthetic expression problem shaped like the TAAF-D-GEX reference example (942
landmark genes, 952 target genes), compare their test mean absolute error with
a :class:`~sklearn.dummy.DummyRegressor` that predicts each gene's training mean,
and plot the learning curves.

Both networks get the same budget: two hidden layers of 300 neurons, sigmoid,
dropout 0.25, MAE loss, Nadam at 5e-4, batches of 64 and the same number of
epochs; they differ only in TAAF (adaptive activations, no bias) versus the
classical dense layers.
"""

import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.dummy import DummyRegressor
from sklearn.metrics import mean_absolute_error
from sklearn.model_selection import train_test_split

from sktaaf import DGEXRegressor, TAAFRegressor

# Set SKTAAF_EXAMPLE_QUICK=1 for a seconds-long smoke run (the tests do).
QUICK = os.environ.get("SKTAAF_EXAMPLE_QUICK") == "1"
N_SAMPLES, MAX_EPOCHS = (300, 3) if QUICK else (2000, 150)


def make_profiles(n_samples, n_landmarks=942, n_targets=952, n_programs=16, seed=0):
    """Expression driven by a few latent programmes, with saturating targets."""
    rng = np.random.default_rng(seed)
    programs = rng.normal(size=(n_samples, n_programs))
    landmark_loadings = rng.normal(size=(n_programs, n_landmarks)) / np.sqrt(n_programs)
    target_loadings = rng.normal(size=(n_programs, n_targets)) / np.sqrt(n_programs)
    X = programs @ landmark_loadings + 0.5 * rng.normal(size=(n_samples, n_landmarks))
    y = np.tanh(1.5 * programs @ target_loadings)
    y += 0.1 * rng.normal(size=(n_samples, n_targets))
    return X.astype(np.float32), y.astype(np.float32)


X, y = make_profiles(N_SAMPLES)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, random_state=0
)

budget = dict(
    hidden_layer_sizes=(300, 300),
    activation="sigmoid",
    dropout=0.25,
    max_epochs=MAX_EPOCHS,
    n_iter_no_change=20,
    random_state=0,
)
models = {
    "Dummy (gene means)": DummyRegressor(),
    "DGEXRegressor": DGEXRegressor(**budget),
    "TAAFRegressor": TAAFRegressor(**budget),
}

print(f"{N_SAMPLES} samples, {X.shape[1]} landmarks -> {y.shape[1]} targets")
print(f"{'model':<20} {'test MAE':>9} {'epochs':>7} {'fit s':>7}")
for name, model in models.items():
    start = time.perf_counter()
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    mae = mean_absolute_error(y_test, model.predict(X_test))
    epochs = getattr(model, "n_iter_", "-")
    print(f"{name:<20} {mae:>9.4f} {epochs:>7} {seconds:>7.1f}")

fig, ax = plt.subplots(figsize=(6, 4))
for name in ("DGEXRegressor", "TAAFRegressor"):
    history = models[name].history_
    (line,) = ax.plot(
        history[:, "epoch"], history[:, "train_loss"], label=f"{name} train"
    )
    ax.plot(
        history[:, "epoch"],
        history[:, "valid_loss"],
        "--",
        color=line.get_color(),
        label=f"{name} validation",
    )
    ax.axvline(models[name].best_epoch_, color=line.get_color(), lw=0.8, alpha=0.5)
ax.set_xlabel("epoch")
ax.set_ylabel("MAE loss")
ax.set_title("Learning curves (vertical lines: restored best epoch)")
ax.legend()
fig.tight_layout()
fig.savefig("quickstart_learning_curves.png", dpi=100)
print("saved quickstart_learning_curves.png")
