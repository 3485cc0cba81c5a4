"""Warnings and errors raised by sktaaf."""

from sklearn.exceptions import ConvergenceWarning

__all__ = [
    "CheckpointWarning",
    "DeviceFallbackWarning",
    "ModelVersionWarning",
    "NonFiniteLossWarning",
    "ParameterNotSavedWarning",
    "RoundTripWarning",
    "SktaafWarning",
    "SlowPrecisionWarning",
    "TrainingInterruptedWarning",
]


class SktaafWarning(UserWarning):
    """Base class of the warnings that sktaaf emits.

    Examples
    --------
    Every sktaaf warning can be filtered at once through this class:

    >>> import warnings
    >>> from sktaaf.exceptions import NonFiniteLossWarning, SktaafWarning
    >>> issubclass(NonFiniteLossWarning, SktaafWarning)
    True
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", SktaafWarning)  # fail loudly instead
    ...     try:
    ...         warnings.warn("diverged", NonFiniteLossWarning)
    ...     except SktaafWarning as warning:
    ...         print(type(warning).__name__)
    NonFiniteLossWarning
    """


class NonFiniteLossWarning(SktaafWarning, ConvergenceWarning):
    """Training stopped because the loss became NaN or infinite.

    The estimator keeps the weights of the last epoch whose loss was finite (or
    the best validation epoch, with early stopping), so it stays usable. A
    smaller ``learning_rate`` usually avoids the divergence.

    Examples
    --------
    Plain SGD with an absurd learning rate diverges within a few epochs:

    >>> import warnings
    >>> import numpy as np
    >>> from sktaaf import DGEXRegressor
    >>> from sktaaf.exceptions import NonFiniteLossWarning
    >>> X = np.random.RandomState(0).normal(size=(64, 4)).astype(np.float32)
    >>> model = DGEXRegressor(hidden_layer_sizes=(8,), loss="mse",
    ...                       optimizer="sgd", learning_rate=1e6, max_epochs=20,
    ...                       early_stopping=False, random_state=0)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = model.fit(X, X)
    >>> [w.category.__name__ for w in caught]
    ['NonFiniteLossWarning']
    >>> model.n_iter_ < 20, bool(np.isfinite(model.predict(X)).all())
    (True, True)
    """


class TrainingInterruptedWarning(SktaafWarning):
    """``fit`` was interrupted (Ctrl-C, ``KeyboardInterrupt``) and returned early.

    The estimator is fitted with the weights trained so far (the best epoch's,
    with early stopping); fitting again with ``warm_start=True`` continues from
    there.

    Examples
    --------
    A loss that raises ``KeyboardInterrupt`` on its tenth call stands in for a
    Ctrl-C pressed during the fifth epoch (two batches per epoch here: one for
    training, one for validation):

    >>> import warnings
    >>> import numpy as np
    >>> import torch
    >>> from sktaaf import TAAFRegressor
    >>> from sktaaf.exceptions import TrainingInterruptedWarning
    >>> class CtrlCOnTenthCall(torch.nn.L1Loss):
    ...     calls = 0
    ...     def forward(self, input, target):
    ...         type(self).calls += 1
    ...         if type(self).calls == 10:
    ...             raise KeyboardInterrupt
    ...         return super().forward(input, target)
    >>> X = np.random.RandomState(0).normal(size=(64, 4)).astype(np.float32)
    >>> model = TAAFRegressor(hidden_layer_sizes=(8,), loss=CtrlCOnTenthCall(),
    ...                       max_epochs=20, random_state=0)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = model.fit(X, X)
    >>> [w.category.__name__ for w in caught]
    ['TrainingInterruptedWarning']
    >>> model.predict(X).shape  # usable; warm_start=True would continue
    (64, 4)
    """


class SlowPrecisionWarning(SktaafWarning):
    """``mixed_precision="bf16"`` was asked for training on a CPU without
    native bfloat16 arithmetic (x86 AVX512-BF16 or AMX, Arm BF16): torch
    then emulates it, which is usually slower than float32, and less
    accurate. ``fit`` warns once per call and trains as asked.

    Examples
    --------
    >>> import warnings
    >>> from sktaaf.exceptions import SktaafWarning, SlowPrecisionWarning
    >>> issubclass(SlowPrecisionWarning, SktaafWarning)
    True
    >>> with warnings.catch_warnings():  # bf16 for its memory, knowingly
    ...     warnings.simplefilter("ignore", SlowPrecisionWarning)
    """


class ModelVersionWarning(SktaafWarning):
    """A saved model is loaded with other versions of sktaaf or its dependencies
    than it was saved with; it may load or behave differently.

    Examples
    --------
    Loading a model you have checked, without the warning:

    >>> import os, tempfile, warnings
    >>> import numpy as np
    >>> from sktaaf import TAAFRegressor
    >>> from sktaaf.exceptions import ModelVersionWarning
    >>> X = np.random.RandomState(0).normal(size=(40, 3)).astype(np.float32)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.pt")
    >>> TAAFRegressor(hidden_layer_sizes=(4,), max_epochs=1,
    ...               random_state=0).fit(X, X).save(path)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", ModelVersionWarning)
    ...     model = TAAFRegressor.load(path)
    >>> model.n_outputs_
    3
    """


class CheckpointWarning(SktaafWarning):
    """A checkpoint in ``checkpoint_dir`` is not resumed: it is unreadable or
    damaged (the fit starts afresh and overwrites it), or it belongs to other
    parameters or data (the fit keeps its own checkpoint beside it).

    Examples
    --------
    A damaged checkpoint is replaced by a fresh fit, with a warning:

    >>> import os, tempfile, warnings
    >>> import numpy as np
    >>> from sktaaf import TAAFRegressor
    >>> from sktaaf.exceptions import CheckpointWarning
    >>> X = np.random.RandomState(0).normal(size=(40, 3)).astype(np.float32)
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "checkpoint.pt"), "wb") as file:
    ...     _ = file.write(b"not a checkpoint")
    >>> model = TAAFRegressor(hidden_layer_sizes=(4,), max_epochs=2,
    ...                       checkpoint_dir=folder)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = model.fit(X, X[:, :2])
    >>> any(issubclass(w.category, CheckpointWarning) for w in caught)
    True
    """


class DeviceFallbackWarning(SktaafWarning):
    """A model fitted on a device this machine lacks (a GPU) is loaded on the
    CPU instead; pass ``device=`` to ``load`` to choose the device yourself.

    Examples
    --------
    >>> import warnings
    >>> from sktaaf.exceptions import DeviceFallbackWarning, SktaafWarning
    >>> issubclass(DeviceFallbackWarning, SktaafWarning)
    True
    >>> with warnings.catch_warnings():  # e.g. to load GPU models quietly
    ...     warnings.simplefilter("ignore", DeviceFallbackWarning)
    """


class ParameterNotSavedWarning(SktaafWarning):
    """``save`` leaves out a parameter that a model file cannot hold: the
    callbacks (they only matter for training) or a ``RandomState`` instance
    as ``random_state`` (saved as None).

    Examples
    --------
    >>> import os, tempfile, warnings
    >>> import numpy as np
    >>> from sktaaf import TAAFRegressor
    >>> from sktaaf.exceptions import ParameterNotSavedWarning
    >>> X = np.random.RandomState(0).normal(size=(40, 3)).astype(np.float32)
    >>> model = TAAFRegressor(hidden_layer_sizes=(4,), max_epochs=1,
    ...                       random_state=np.random.RandomState(0)).fit(X, X)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     model.save(os.path.join(tempfile.mkdtemp(), "model.pt"))
    >>> [w.category.__name__ for w in caught]
    ['ParameterNotSavedWarning']
    """


class RoundTripWarning(SktaafWarning):
    """A writer (:func:`~sktaaf.datasets.write_gctx`,
    :func:`~sktaaf.datasets.write_gct`) was given metadata that the file's
    readers (sktaaf's loaders, cmapPy) return otherwise: text equal to a CMap
    null (``"na"``, ``"NA"``, ``"-666"``, ...), read back as missing; text
    that looks like numbers (``"001"``), read back as numbers; a number
    ``-666``, read back as missing. The file is written; values that would
    come back damaged (NUL characters, complex numbers, dates) are refused.

    Examples
    --------
    >>> import os, tempfile, warnings
    >>> import pandas as pd
    >>> from sktaaf.datasets import write_gct
    >>> from sktaaf.exceptions import RoundTripWarning
    >>> frame = pd.DataFrame([[1.0]], index=["s1"], columns=["g1"])
    >>> genes = pd.DataFrame({"pr_gene_symbol": ["NA"]}, index=["g1"])
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = write_gct(os.path.join(tempfile.mkdtemp(), "a.gct"), frame, genes)
    >>> [w.category.__name__ for w in caught]
    ['RoundTripWarning']
    """
