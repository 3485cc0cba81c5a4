r"""
What the adaptive activations learn
===================================

In a TAAF-D-GEX network every neuron has its own *transformative adaptive
activation function* (TAAF),

.. math:: f(x) = \alpha \, g(\beta x + \gamma) + \delta,

a fixed activation ``g`` (here the sigmoid) whose shape is adapted by four
numbers learned with the weights, one set per neuron:

- ``beta`` scales the input: the steepness of the curve (a negative value
  mirrors it left to right);
- ``gamma`` shifts the input: it moves the curve left or right, the part a
  bias plays in a classical dense layer (which is why TAAF layers have none);
- ``alpha`` scales the output: the height of the step (a negative value turns
  it upside down);
- ``delta`` shifts the output up or down.

Every TAAF starts as the plain sigmoid (``alpha = beta = 1``,
``gamma = delta = 0``). This example trains a
:class:`~sktaaf.TAAFRegressor`, then looks at where the parameters went: their
distribution in each layer, the learned curves of a few neurons, and how the
output layer uses ``alpha`` and ``delta`` to put each target gene on its own
scale.
"""

# %%
# Train a TAAF-D-GEX network
# --------------------------
# Synthetic profiles of 942 landmark and 952 target genes from
# :func:`~sktaaf.datasets.make_expression`; the default network (two hidden
# layers of 300 neurons, a TAAF output layer). ``standardize=False`` leaves
# each gene's location and scale to the TAAFs, as in the reference, so that the
# output layer's ``alpha`` and ``delta`` show them; a larger learning rate than
# the reference's 5e-4 keeps the example short.
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import train_test_split

from sktaaf import TAAFRegressor
from sktaaf.datasets import make_expression
from sktaaf.nn import TAAF
from sktaaf.plotting import plot_taaf_parameters

# SKTAAF_EXAMPLE_QUICK=1 makes a seconds-long smoke run (the tests set it).
QUICK = os.environ.get("SKTAAF_EXAMPLE_QUICK") == "1"
N_SAMPLES, MAX_EPOCHS = (200, 3) if QUICK else (1000, 40)

X, y = make_expression(n_samples=N_SAMPLES, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
model = TAAFRegressor(
    standardize=False, learning_rate=2e-3, max_epochs=MAX_EPOCHS, random_state=0
)
model.fit(X_train, y_train)
print(f"trained {model.n_iter_} epochs, kept epoch {model.best_epoch_}")

# %%
# Find the TAAF layers
# --------------------
# ``module_`` is the trained PyTorch network. Each dense block (``hidden0``,
# ``hidden1``, ``output``) ends in a :class:`~sktaaf.nn.TAAF` layer holding the
# four parameters of its neurons as vectors. We also record, with forward
# hooks, the inputs ``x`` each TAAF receives on the test samples, to know which
# part of each curve the network actually uses.
taafs = {
    name.removesuffix(".taaf"): layer
    for name, layer in model.module_.named_modules()
    if isinstance(layer, TAAF)
}
inputs = {}


def record_input(name):
    """A forward hook that stores the input of the layer called ``name``."""

    def hook(layer, args, output):
        inputs[name] = args[0].cpu().numpy()

    return hook


hooks = [layer.register_forward_hook(record_input(n)) for n, layer in taafs.items()]
model.predict(X_test)
for hook in hooks:
    hook.remove()

PARAMETERS = ("alpha", "beta", "gamma", "delta")
INITIAL = {"alpha": 1.0, "beta": 1.0, "gamma": 0.0, "delta": 0.0}
learned = {
    name: {p: getattr(layer, p).detach().cpu().numpy() for p in PARAMETERS}
    for name, layer in taafs.items()
}


def summary(values):
    """Median and 5th-95th percentile range of one parameter over neurons."""
    low, median, high = np.percentile(values, [5, 50, 95])
    return f"{median:.2f} [{low:.2f}, {high:.2f}]"


print(f"{'layer':<8} {'neurons':>7}" + "".join(f"{p:>22}" for p in PARAMETERS))
for name, values in learned.items():
    cells = "".join(f"{summary(values[p]):>22}" for p in PARAMETERS)
    print(f"{name:<8} {len(values['alpha']):>7}{cells}")
print("(median [5th, 95th percentile] over the neurons of each layer)")

# %%
# The parameters, layer by layer
# ------------------------------
# :func:`~sktaaf.plotting.plot_taaf_parameters` draws one panel per parameter,
# with the distribution over the neurons of each layer (as densities: the
# layers differ in size); the dashed line marks the starting value. ``alpha``
# and ``beta`` moved away from 1 and ``delta`` away from 0: the network did
# use the freedom the TAAFs give it, most of all in the output layer, where
# each neuron is one target gene. In this short training ``gamma`` moved least
# (mind the scale of its axis).
axes = plot_taaf_parameters(model)
fig = axes[0].figure
fig.suptitle("Learned TAAF parameters per layer (dashed: initial value)")
fig.savefig("taaf_parameter_histograms.png", dpi=100)

# %%
# Learned activation curves
# -------------------------
# For each layer, the neurons with the smallest and the largest ``alpha`` and
# ``delta``, drawn over the range of inputs they receive (1st to 99th
# percentile on the test samples), against the plain sigmoid they started from
# (black, dashed).
#
# The last panel explains the output layer: its neurons *are* the target
# genes. The sigmoid ranges over (0, 1), so ``f`` ranges from ``delta`` to
# ``delta + alpha``, with its midpoint at ``delta + alpha / 2``; that midpoint
# rises with the gene's mean expression: the output TAAFs learned to put each
# gene's prediction on that gene's own scale.


def taaf_curve(x, alpha, beta, gamma, delta):
    """f(x) = alpha * sigmoid(beta * x + gamma) + delta."""
    return alpha / (1 + np.exp(-(beta * x + gamma))) + delta


fig, axes = plt.subplots(1, len(learned) + 1, figsize=(13, 3.4))
for ax, (name, values) in zip(axes, learned.items(), strict=False):
    low, high = np.percentile(inputs[name], [1, 99])
    x = np.linspace(low, high, 200)
    alpha, delta = values["alpha"], values["delta"]
    extremes = {alpha.argmin(), alpha.argmax(), delta.argmin(), delta.argmax()}
    for neuron in sorted(extremes):
        params = {p: values[p][neuron] for p in PARAMETERS}
        ax.plot(x, taaf_curve(x, **params), label=f"neuron {neuron}")
    ax.plot(x, taaf_curve(x, **INITIAL), "k--", label="sigmoid")
    ax.set_title(f"{name}: f(x)")
    ax.set_xlabel("x (input of the TAAF)")
    ax.legend(fontsize=7)

ax = axes[-1]
output = learned["output"]
ax.scatter(y_train.mean(axis=0), output["delta"] + output["alpha"] / 2, s=4)
ax.set_xlabel("gene mean expression (training)")
ax.set_ylabel("delta + alpha / 2")
ax.set_title("output layer: one TAAF per gene", fontsize=10)
fig.tight_layout()
fig.savefig("taaf_activation_curves.png", dpi=100)
print("saved taaf_parameter_histograms.png and taaf_activation_curves.png")
r = np.corrcoef(y_train.mean(axis=0), output["delta"] + output["alpha"] / 2)[0, 1]
print(f"correlation of delta + alpha / 2 with the genes' means: {r:.2f}")
