"""Warnings and errors raised by sktaaf."""

from sklearn.exceptions import ConvergenceWarning

__all__ = [
    "ModelVersionWarning",
    "NonFiniteLossWarning",
    "SktaafWarning",
    "TrainingInterruptedWarning",
]


class SktaafWarning(UserWarning):
    """Base class of the warnings that sktaaf emits."""


class NonFiniteLossWarning(SktaafWarning, ConvergenceWarning):
    """Training stopped because the loss became NaN or infinite.

    The estimator keeps the weights of the last epoch whose loss was finite (or
    the best validation epoch, with early stopping), so it stays usable. A
    smaller ``learning_rate`` usually avoids the divergence.
    """


class TrainingInterruptedWarning(SktaafWarning):
    """``fit`` was interrupted (Ctrl-C, ``KeyboardInterrupt``) and returned early.

    The estimator is fitted with the weights trained so far (the best epoch's,
    with early stopping); fitting again with ``warm_start=True`` continues from
    there.
    """


class ModelVersionWarning(SktaafWarning):
    """A saved model is loaded with other versions of sktaaf or its dependencies
    than it was saved with; it may load or behave differently."""
