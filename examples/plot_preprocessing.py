"""
Preparing expression profiles as D-GEX did
==========================================

Expression profiles collected from many experiments are not directly
comparable: every array or plate has its own brightness, background and
saturation, which shift and bend the distribution of all its values. D-GEX
(Chen et al., 2016) prepared its data in three steps before training:

1. quantile normalisation of every sample (profile) to a common reference
   distribution, which removes such sample-wide distortions while keeping the
   order of the genes within each sample;
2. removal of near-duplicate samples (the same profile deposited twice), so
   that no sample is tested on its own copy;
3. standardisation of every gene to mean 0 and standard deviation 1.

This example applies that chain, with
:class:`~sktaaf.preprocessing.QuantileNormalizer`,
:func:`~sktaaf.preprocessing.drop_near_duplicates` and scikit-learn's
:class:`~sklearn.preprocessing.StandardScaler`, to synthetic profiles made to
look raw, and trains a network in a :class:`~sklearn.pipeline.Pipeline` that
repeats the normalisation on any new sample.
"""

# %%
# Simulate raw profiles
# ---------------------
# :func:`~sktaaf.datasets.make_expression` gives clean profiles of landmark and
# target genes. We put them on a log2 scale (values from about 1 to 15, as in
# microarray data), then distort every sample with its own monotone curve: a
# power (which compresses or stretches high intensities, as saturation does),
# a scale and a shift. Finally we plant a few near-duplicates: copies of
# existing samples with a little measurement noise, shuffled among the others.
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.metrics import mean_absolute_error
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sktaaf import TAAFRegressor
from sktaaf.datasets import make_expression
from sktaaf.preprocessing import QuantileNormalizer, drop_near_duplicates

# SKTAAF_EXAMPLE_QUICK=1 makes a seconds-long smoke run (the tests set it).
QUICK = os.environ.get("SKTAAF_EXAMPLE_QUICK") == "1"
N_SAMPLES, MAX_EPOCHS = (200, 3) if QUICK else (1000, 40)
N_DUPLICATES = 20

# Saturating responses keep every value within a few units of the mean, so the
# log2 values below stay positive for the distortion's power law.
X, y = make_expression(n_samples=N_SAMPLES, response="tanh", random_state=0)
n_landmarks = X.shape[1]
rng = np.random.default_rng(0)


def distort(log2_profiles, rng):
    """Give every sample (row) its own monotone distortion of all its values."""
    n_samples = len(log2_profiles)
    power = rng.uniform(0.8, 1.25, size=(n_samples, 1))
    scale = rng.lognormal(0.0, 0.1, size=(n_samples, 1))
    shift = rng.normal(0.0, 0.5, size=(n_samples, 1))
    return scale * 16 * (log2_profiles / 16) ** power + shift


log2 = 8 + 1.5 * np.hstack([X, y])  # all genes of each sample
raw = distort(log2, rng)
copies = rng.choice(N_SAMPLES, size=N_DUPLICATES, replace=False)
noise = rng.normal(0, 0.01, size=(N_DUPLICATES, raw.shape[1]))
raw = np.vstack([raw, raw[copies] + noise])
raw = raw[rng.permutation(len(raw))]
print(f"{len(raw)} raw profiles of {raw.shape[1]} genes, {N_DUPLICATES} planted copies")

# %%
# Quantile normalisation
# ----------------------
# :class:`~sktaaf.preprocessing.QuantileNormalizer` learns a reference
# distribution in ``fit`` (the average of the sorted profiles) and, in
# ``transform``, gives every profile the reference's values, each gene keeping
# its rank within its sample. ``fit_transform`` on the whole collection is
# classical quantile normalisation, as D-GEX applied it to its data.
normalized = QuantileNormalizer().fit_transform(raw)

# %%
# Each box below is one sample's distribution of values: before normalisation
# the samples disagree in level and spread; after it they are identical, while
# every sample keeps its own pattern of high and low genes.
shown = slice(0, 30)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
for ax, values, title in [
    (axes[0], raw, "raw (distorted) profiles"),
    (axes[1], normalized, "after quantile normalisation"),
]:
    ax.boxplot(values[shown].T, showfliers=False)
    ax.set_title(title)
    ax.set_xlabel("sample")
    ax.set_xticks([])
axes[0].set_ylabel("log2 expression")
fig.tight_layout()
fig.savefig("preprocessing_sample_distributions.png", dpi=100)

# %%
# Remove near-duplicate samples
# -----------------------------
# :func:`~sktaaf.preprocessing.drop_near_duplicates` returns the indices of the
# samples to keep: a sample is dropped when it lies closer than ``threshold``
# (Euclidean distance between profiles) to an earlier kept one. D-GEX used a
# threshold of 1 on quantile-normalised log2 profiles. This must happen before
# the split into training and test samples, or a test sample could have its
# copy among the training ones.
kept = drop_near_duplicates(normalized, threshold=1.0)
print(f"dropped {len(raw) - len(kept)} near-duplicates, kept {len(kept)} samples")

# %%
# Landmarks, targets, training and test samples
# ---------------------------------------------
# Each normalised profile is split into landmark genes (the inputs) and target
# genes (the outputs); a quarter of the samples is kept for testing.
X_kept, y_kept = normalized[kept, :n_landmarks], normalized[kept, n_landmarks:]
raw_landmarks = raw[kept, :n_landmarks]
X_train, X_test, y_train, y_test, _, raw_test = train_test_split(
    X_kept, y_kept, raw_landmarks, test_size=0.25, random_state=0
)

# %%
# The model: normalise, standardise, infer
# ----------------------------------------
# The pipeline quantile-normalises each landmark profile to the reference of
# the training landmarks, standardises each landmark gene, then runs the
# network. :class:`~sklearn.compose.TransformedTargetRegressor` standardises
# the target genes for training and maps the network's output back, so that
# ``predict`` returns log2 expression, on the targets' own scale.
#
# For comparison, the same model without the quantile normalisation step.


def make_model(normalize):
    steps = [("quantile", QuantileNormalizer())] if normalize else []
    steps += [
        ("scale", StandardScaler()),
        (
            "network",
            TAAFRegressor(learning_rate=2e-3, max_epochs=MAX_EPOCHS, random_state=0),
        ),
    ]
    return TransformedTargetRegressor(
        regressor=Pipeline(steps), transformer=StandardScaler()
    )


models = {
    "with quantile step": make_model(normalize=True),
    "without it": make_model(normalize=False),
}

# %%
# Why the normalisation belongs in the pipeline
# ---------------------------------------------
# Both models are scored twice on the test samples: on their landmark genes as
# prepared above, and on the same landmark genes *as measured*, before any
# normalisation, as new samples from another lab would arrive. The pipeline
# with the quantile step maps them onto the training reference itself: it
# sees the same ranks either way, so its predictions do not change at all. The
# one without it sees distorted values. Errors are in log2 units.
print(f"{'model':<20} {'test MAE':>9} {'raw test landmarks MAE':>23}")
for name, model in models.items():
    model.fit(X_train, y_train)
    mae = mean_absolute_error(y_test, model.predict(X_test))
    mae_raw = mean_absolute_error(y_test, model.predict(raw_test))
    print(f"{name:<20} {mae:>9.3f} {mae_raw:>23.3f}")
print("saved preprocessing_sample_distributions.png")
