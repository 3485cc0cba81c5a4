"""
Choosing a network with a pipeline and a grid search
====================================================

sktaaf's networks are scikit-learn estimators, so they fit in a
:class:`~sklearn.pipeline.Pipeline` with their preprocessing and in
:class:`~sklearn.model_selection.GridSearchCV` to choose between settings by
cross-validation. This example standardises the landmark genes and searches
over both kinds of network at once, TAAF-D-GEX and D-GEX, with a few sizes
each. The candidates are ranked by gene-level measures: the correlation
between true and inferred expression of each target gene, averaged over genes,
and the mean absolute error (MAE).
"""

# %%
# A small data set
# ----------------
# 600 synthetic samples of 200 landmark and 200 target genes from
# :func:`~sktaaf.datasets.make_expression`, small enough for a grid search of
# 24 network fits to take seconds. A quarter of the samples is kept aside to
# test the model the search chooses.
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sktaaf import DGEXRegressor, TAAFRegressor
from sktaaf.datasets import make_expression
from sktaaf.metrics import dgex_scorers, mean_per_gene_pearson

# SKTAAF_EXAMPLE_QUICK=1 makes a seconds-long smoke run (the tests set it).
QUICK = os.environ.get("SKTAAF_EXAMPLE_QUICK") == "1"
N_SAMPLES, MAX_EPOCHS = (120, 2) if QUICK else (600, 40)

X, y = make_expression(
    n_samples=N_SAMPLES, n_landmarks=200, n_targets=200, random_state=0
)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, random_state=0
)

# %%
# The pipeline and the grid
# -------------------------
# The pipeline standardises each landmark gene, then hands the result to a
# network. Its last step is named ``"model"``; the grid replaces it with either
# network and sets its parameters through the ``model__`` prefix. A list of
# two grids searches two families of candidates, each with its own settings:
# the hidden layers and the learning rate (the step size of the optimizer;
# the reference uses 5e-4 with many more epochs than this example can afford).
# That makes 4 TAAF and 4 D-GEX networks, all with sigmoid neurons.
pipeline = Pipeline([("scale", StandardScaler()), ("model", TAAFRegressor())])
training = dict(activation="sigmoid", max_epochs=MAX_EPOCHS, random_state=0)
param_grid = [
    {
        "model": [TAAFRegressor(**training)],
        "model__hidden_layer_sizes": [(100,), (100, 100)],
        "model__learning_rate": [2e-3, 1e-2],
    },
    {
        "model": [DGEXRegressor(**training)],
        "model__hidden_layer_sizes": [(100,), (400,)],
        "model__learning_rate": [2e-3, 1e-2],
    },
]

# %%
# Search with gene-level scores
# -----------------------------
# :func:`~sktaaf.metrics.dgex_scorers` gives two scorers: the mean per-gene
# Pearson correlation and the negated MAE (scikit-learn maximises scores, so
# errors enter with a minus sign). Every candidate is fitted on two thirds of
# the training samples and scored on the remaining third, three times
# (``cv=3``); ``refit`` names the score that picks the winner, which is then
# refitted on all training samples.
search = GridSearchCV(
    pipeline,
    param_grid,
    scoring=dgex_scorers(),
    refit="mean_per_gene_pearson",
    cv=3,
)
search.fit(X_train, y_train)

# %%
# The results
# -----------
# ``cv_results_`` holds, for every candidate, its parameters and its scores
# (mean and standard deviation over the three folds) and its rank.
results = search.cv_results_


def describe(params):
    """A short label for a candidate: network, hidden layers, learning rate."""
    network = type(params["model"]).__name__.removesuffix("Regressor")
    layers = "x".join(str(size) for size in params["model__hidden_layer_sizes"])
    return f"{network} {layers}, lr {params['model__learning_rate']:g}"


labels = [describe(params) for params in results["params"]]
pearson = results["mean_test_mean_per_gene_pearson"]
pearson_std = results["std_test_mean_per_gene_pearson"]
mae = -results["mean_test_neg_mean_absolute_error"]
print(f"{'candidate':<22} {'Pearson r':>14} {'MAE':>6} {'rank':>5} {'fit s':>6}")
for i in np.argsort(results["rank_test_mean_per_gene_pearson"]):
    print(
        f"{labels[i]:<22} {pearson[i]:>7.3f} ± {pearson_std[i]:.3f} {mae[i]:>6.3f} "
        f"{results['rank_test_mean_per_gene_pearson'][i]:>5} "
        f"{results['mean_fit_time'][i]:>6.2f}"
    )

best = search.best_estimator_
test_r = mean_per_gene_pearson(y_test, best.predict(X_test))
print(f"chosen: {labels[search.best_index_]}; test mean per-gene r = {test_r:.3f}")

# %%
# A bar per candidate: the cross-validated mean per-gene correlation, with the
# standard deviation over folds as an error bar; the chosen one is outlined.
order = np.argsort(pearson)
colors = ["tab:orange" if "TAAF" in labels[i] else "tab:blue" for i in order]
fig, ax = plt.subplots(figsize=(6.4, 3.8))
bars = ax.barh(
    [labels[i] for i in order], pearson[order], xerr=pearson_std[order], color=colors
)
chosen = bars[list(order).index(search.best_index_)]
chosen.set_edgecolor("black")
chosen.set_linewidth(2)
ax.set_xlabel("mean per-gene Pearson r (3-fold CV)")
ax.set_title("Candidates: TAAF (orange) and D-GEX (blue)")
fig.tight_layout()
fig.savefig("pipeline_gridsearch_scores.png", dpi=100)
print("saved pipeline_gridsearch_scores.png")

# %%
# The learning rate matters most here. With the smaller one, 40 epochs are too
# few for the TAAF networks: they start slowly, as their output neurons must
# first move from the sigmoid's range, 0 to 1, to the range of their own gene
# (compare the learning curves of the quickstart example). With the larger
# one, they lead. The best settings depend on the data and on the training
# budget: on real data, search again, with the number of samples and epochs
# you will train with.
