"""Parameter documentation shared by the network estimators' docstrings.

``TAAFRegressor`` and ``DGEXRegressor`` take the same training parameters;
their descriptions are written once here, as numpydoc fragments, and
:func:`fill_doc` puts them into a docstring in place of a line that holds only
``{name}`` (indented as that line is). ``{training_parameters}`` stands for all
of them, in the order below. Other braces in a docstring are left alone.

A leaf module: it imports only the standard library.
"""

from __future__ import annotations

import re
import textwrap
from typing import TypeVar

_T = TypeVar("_T")

#: numpydoc entries (``name : type`` and its indented description), by name.
PARAMETER_DOCS: dict[str, str] = {
    "optimizer": (
        'optimizer : {"nadam", "adam", "adamw", "rmsprop", "sgd"} or '
        'torch.optim.Optimizer subclass, default="nadam"\n'
        "    The optimizer."
    ),
    "optimizer_kwargs": """\
optimizer_kwargs : dict, default=None
    Further keyword arguments of the optimizer, e.g.
    ``{"weight_decay": 1e-5}`` or ``{"momentum": 0.9}`` for SGD.""",
    "linear_path": """\
linear_path : {"blend", "fixed", "ridge"} or None, default="blend"
    A linear model beside the layers: the ridge regression of ``y`` on
    ``X``, from statistics gathered in one pass over the data, chunk by
    chunk, and one ``n_features x n_features`` eigendecomposition.
    ``"blend"``: the layers are trained alone; then the ridge regression is
    fitted on all the rows of positive weight, each target's penalty chosen
    by its exact leave-one-out error (as :class:`~sklearn.linear_model.RidgeCV`
    chooses it), and the two predictions, each divided by its spread over
    the training rows, are weighed (the layers' share, 0.2 to 0.65, the one
    whose blend correlates best with the early-stopping rows) and calibrated
    per gene: an offset and
    a slope minimising the absolute error on the ridge's leave-one-out and
    the layers' predictions of the training rows (a seeded sample of them
    when there are many). The blend has the correlation of the two models
    together and the absolute error of the best constant-and-slope fit; a
    gene best predicted by its median keeps a tiny slope (``1e-3`` of its
    score's spread), so that its order of the samples is the models'.
    ``"fixed"`` and ``"ridge"``: the output is ``layers(x) + s * (W x + b)``
    in standard units, ``W`` and ``b`` the ridge regression over the
    training rows (penalty by generalised cross-validation), ``s`` one
    trained scale per target, and the layers start at zero output;
    ``"fixed"`` keeps ``W`` and ``b``, ``"ridge"`` trains them too. None
    leaves the linear model out (the networks of the references). See
    :ref:`defaults` for every variant's numbers.""",
    "standardize": """\
standardize : bool, default=True
    Learn each gene's location and scale: ``fit`` computes the mean and
    standard deviation of every column of ``X`` and ``y`` (in float32, in
    one pass, chunk by chunk for data on disk; genes that do not vary get
    the scale 1) and stores them in the network as buffers (``x_mean``,
    ``x_scale``, ``y_mean``, ``y_scale`` of ``module_``), which
    standardises the inputs and maps the outputs back to ``y``'s units.
    Training works in standard units: each batch of ``X`` and ``y`` is
    standardised as it is gathered (outside autograd, no copy of the
    data), and the loss compares the network's standard-unit output with
    the standard-unit targets, so every target gene weighs alike however
    large its values; ``history_``'s losses are in those units. The map
    back to ``y``'s units is applied in ``predict`` and export only. The
    statistics travel with the weights through :meth:`save`, pickle and
    checkpoints, and ``warm_start`` keeps those of the first fit.
    ``False`` trains on the data as given, as before this option existed.""",
    "batch_size": """\
batch_size : int, default=64
    Samples per mini-batch.""",
    "max_epochs": """\
max_epochs : int, default=200
    Maximum number of passes over the training data.""",
    "early_stopping": """\
early_stopping : bool, default=True
    Hold out ``validation_fraction`` of the samples (a shuffled split
    seeded by ``random_state``), stop when the validation loss has not
    improved for ``n_iter_no_change`` epochs, and restore the weights of
    the best epoch. When False, all samples train for ``max_epochs``.""",
    "validation_fraction": """\
validation_fraction : float, default=0.1
    Share of the samples held out for early stopping, in (0, 1).""",
    "n_iter_no_change": """\
n_iter_no_change : int, default=20
    Epochs without improvement of the validation loss before stopping.""",
    "warm_start": """\
warm_start : bool, default=False
    When True and the estimator is fitted, ``fit`` continues training the
    fitted network for ``max_epochs`` more epochs: weights, optimizer
    state, history and random streams carry on, so on the CPU two
    successive fits of 5 epochs (without early stopping) give exactly one
    fit of 10. Data must have the same features and targets: a ``y``
    whose column names differ from ``target_names_`` (other genes, or the
    same in another order) is refused, as ``X``'s are; pass
    ``y[model.target_names_]`` to realign it.""",
    "checkpoint_dir": """\
checkpoint_dir : str or path-like, default=None
    A directory where ``fit`` saves its state after every epoch (as
    ``checkpoint.pt``, in the safe format of :meth:`save`). A fit that
    finds there a checkpoint of the same parameters and data resumes from
    its last finished epoch (optimizer, early stopping and random streams
    included: on the CPU the result equals an uninterrupted fit), or
    returns its final model if it had finished. Lets a killed process pick
    up where it stopped. Fits of other parameters or data sharing the
    directory (e.g. those of a grid search) each keep their own checkpoint
    in a sub-folder; see :ref:`persistence`. An empty path, or a path
    that is (or lies inside) a file, is an error.""",
    "callbacks": """\
callbacks : list of skorch callbacks, default=None
    Extra skorch callbacks (instances, or ``(name, callback)`` pairs), e.g.
    a learning-rate schedule; see the example below. They are copied at
    each fit.""",
    "device": """\
device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device, default="auto"
    Where to train: ``"auto"`` uses CUDA when available, else the CPU. An
    explicit CUDA device on a machine without CUDA is an error.""",
    "mixed_precision": """\
mixed_precision : {"bf16", "fp16"} or None, default=None
    Train and predict in mixed precision: the forward passes and the loss
    run under ``torch.autocast`` in bfloat16 or float16, the weights and
    the optimizer stay float32, and predictions come back in ``X``'s
    dtype. ``"fp16"`` also scales the loss (``torch.amp.GradScaler``,
    whose state carries on with ``warm_start`` and through :meth:`save`);
    steps whose gradients overflow are skipped. Worth it on GPUs with
    tensor cores (``"bf16"`` from the Ampere generation on); on most CPUs
    it is slower than float32. ``None`` trains in float32. An option
    torch does not support on the device is an error. See :ref:`devices`.""",
    "compile": """\
compile : bool or dict, default=False
    Compile the network with ``torch.compile`` (skorch's ``compile``
    option); a dict passes keyword arguments to it, e.g.
    ``{"mode": "max-autotune"}``. The first batches and the first
    :meth:`predict` pay for the compilation, so this pays off for long
    fits of large networks. ``module_`` is the network itself, sharing
    its weights with the compiled wrapper in ``net_.module_``; pickles
    and saved models hold the weights under their usual names. With
    inductor (the default backend), dropout draws other masks than
    uncompiled torch does.""",
    "accelerator": """\
accelerator : accelerate.Accelerator, default=None
    Train through Hugging Face accelerate (the ``accelerate`` extra), e.g.
    on several GPUs in data-parallel processes started with
    ``accelerate launch``. The
    accelerator chooses the device (leave ``device="auto"``) and the mixed
    precision (``Accelerator(mixed_precision="bf16")``; leave
    ``mixed_precision=None`` and ``compile=False``). ``batch_size`` is per
    process, as with accelerate's data loaders, unless the accelerator
    splits batches; the processes share the seed, and each trains on its
    share of every batch and scores the whole validation set. After
    training, the network is unwrapped: :meth:`predict` runs in float32 on
    the local device, and in every process. Clones share the accelerator
    (accelerate copies it by reference); :meth:`save` does not keep it
    (call it from the main process only, ``accelerator.is_main_process``).
    Closure optimizers (LBFGS) are not supported. See :ref:`devices`.""",
    "random_state": """\
random_state : int, RandomState instance or None, default=None
    Seeds the weights, dropout, the validation split and the shuffling of
    the batches. An int makes fits on the CPU reproducible bit for bit,
    also when fits run in threads beside it: torch's random generator is
    process-wide, so fits in threads of one process train one at a time
    (fit in processes, joblib's default backend, to train in parallel).
    torch's global random state is left as it was.""",
    "verbose": """\
verbose : int, default=0
    0 is silent; 1 or more reports the losses of each epoch: on a terminal
    as a table, with a progress bar of the batches; written to a file, a
    pipe or a CI log, as one plain line per epoch (no carriage returns or
    colour codes).""",
}
PARAMETER_DOCS["training_parameters"] = "\n".join(
    PARAMETER_DOCS[name] for name in list(PARAMETER_DOCS)
)
#: Fitted attributes both estimators document alike (``{name}`` lines of their
#: Attributes sections).
ATTRIBUTE_DOCS = {
    "target_scores_": """\
target_scores_ : pandas.DataFrame or None
    How well each target gene is inferred: its mean absolute error
    (``"mae"``, in the gene's units) and Pearson correlation (``"r"``)
    between measured and predicted values on early stopping's validation
    rows, computed at the end of every ``fit`` with the weights kept
    (weighted by ``sample_weight`` when given). Indexed by
    ``target_names_`` (0, 1, ... without names); ``attrs["source"]`` is
    ``"validation"`` and ``attrs["n_samples"]`` the number of validation
    rows (of positive weight). ``r`` is NaN for a gene that is constant
    on those rows, measured or predicted. The validation rows chose the
    epoch kept, so these scores are slightly optimistic; score held-out
    data for an unbiased estimate. None with ``early_stopping=False`` (no
    rows were held out). Saved in model files (None when loaded from a
    file saved before this attribute existed); see
    :func:`sktaaf.datasets.inference_row_metadata` and
    :func:`sktaaf.plotting.plot_target_scores`.""",
}
_PLACEHOLDER = re.compile(r"^(?P<indent>[ ]*)\{(?P<name>\w+)\}$", re.MULTILINE)


def fill_docstring(docstring: str, fragments: dict[str, str] | None = None) -> str:
    """``docstring`` with every line ``{name}`` (``name`` a key of
    ``fragments``, by default :data:`PARAMETER_DOCS` and
    :data:`ATTRIBUTE_DOCS`) replaced by that fragment, indented as the line
    was; other lines are unchanged."""
    fragments = {**PARAMETER_DOCS, **ATTRIBUTE_DOCS} if fragments is None else fragments

    def fill(match: re.Match) -> str:
        name = match["name"]
        if name not in fragments:
            return match[0]
        return textwrap.indent(fragments[name], match["indent"])

    return _PLACEHOLDER.sub(fill, docstring)


def fill_doc(obj: _T) -> _T:
    """Class or function decorator: :func:`fill_docstring` on its docstring."""
    if obj.__doc__:
        obj.__doc__ = fill_docstring(obj.__doc__)
    return obj
