"""Every private name of scikit-learn, skorch and accelerate that sktaaf uses,
in one place, with the versions it was checked against.

A private name (one starting with an underscore, or in a module whose path
has one) may change in any release without notice. Here each use is named
for what it does, so that a new release is checked in one module; anywhere
else in ``sktaaf``, ``tests/test_architecture_private_names.py`` fails on such a name.

This module imports scikit-learn (torch where a function needs it), never
skorch or accelerate (the leaf utilities know no training engine): their
private members are reached by name on the objects handed in (a net, a
callback, an accelerator), and the one private method sktaaf overrides is
overridden by a mixin here.

The estimators keep scikit-learn's ``_parameter_constraints`` class attribute
(:data:`SKLEARN_CLASS_PROTOCOL`): the constraints are data that sktaaf
defines, read by scikit-learn's validation that :func:`fit_context` and
:func:`validate_parameters` run.

Two undocumented attributes of skorch's ``EarlyStopping`` whose names do not
start with an underscore, ``misses_`` and ``dynamic_threshold_`` (the count
of epochs without improvement and the score to beat), are read and written
only here too (:func:`early_stopping_progress`,
:func:`restore_early_stopping`): they are as much skorch's internals.
"""

from __future__ import annotations

from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_params,
)
from sklearn.utils.validation import _check_sample_weight, _get_feature_names

__all__ = [
    "CHECKED_VERSIONS",
    "SKLEARN_CLASS_PROTOCOL",
    "HasMethods",
    "Interval",
    "InvalidParameterError",
    "LossesPlacedByDevice",
    "StrOptions",
    "column_names",
    "criterion_names",
    "early_stopping_message",
    "early_stopping_progress",
    "fit_context",
    "forget_prepared",
    "has_parameter_names",
    "optimizer_names",
    "parameter_names",
    "prepared_names",
    "restore_early_stopping",
    "unwrap_optimizer",
    "validate_parameters",
    "validate_params",
    "validated_sample_weight",
]

#: The versions every use below was checked against: the oldest supported
#: (``.ci/oldest-constraints.txt``) and the newest tested.
CHECKED_VERSIONS = {
    "scikit-learn": ("1.6.0", "1.9.1"),
    "skorch": ("1.2.0", "1.4.0"),
    "accelerate": ("0.28.0", "1.16.0"),
}

# -- scikit-learn ------------------------------------------------------------
# Parameter validation: ``Interval``, ``StrOptions``, ``HasMethods``,
# ``InvalidParameterError`` and ``validate_params`` come from the private
# ``sklearn.utils._param_validation`` (no public home in 1.6.0 to 1.9.1) and
# are re-exported as they are.

#: Class attributes that scikit-learn's private machinery reads from classes
#: sktaaf defines: estimators may define them in their class body (and
#: nowhere else read them). ``_parameter_constraints``: the constraints of
#: ``__init__``'s parameters, checked by ``BaseEstimator._validate_params``.
SKLEARN_CLASS_PROTOCOL = ("_parameter_constraints",)


def fit_context(*, prefer_skip_nested_validation: bool):
    """scikit-learn's ``_fit_context``: the decorator of ``fit`` that
    validates the parameters (``_parameter_constraints``) and runs ``fit``
    in the estimator's configuration context."""
    return _fit_context(prefer_skip_nested_validation=prefer_skip_nested_validation)


def validate_parameters(estimator) -> None:
    """Check ``estimator``'s parameters against its ``_parameter_constraints``
    (``InvalidParameterError`` otherwise), as ``fit`` does first."""
    estimator._validate_params()


def parameter_names(estimator_class) -> list[str]:
    """The names of the parameters of ``estimator_class.__init__``, sorted,
    as ``get_params`` lists them (``BaseEstimator._get_param_names``)."""
    return estimator_class._get_param_names()


def has_parameter_names(obj) -> bool:
    """Whether ``obj`` lists its parameters as a scikit-learn estimator
    does (it has ``BaseEstimator._get_param_names``)."""
    return hasattr(obj, "_get_param_names")


def validated_sample_weight(sample_weight, X, *, dtype, ensure_non_negative):
    """scikit-learn's ``_check_sample_weight``: ``sample_weight`` as an array
    of ``dtype``, one finite weight per row of ``X``."""
    return _check_sample_weight(
        sample_weight, X, dtype=dtype, ensure_non_negative=ensure_non_negative
    )


def column_names(X):
    """The column names of a DataFrame ``X`` as an object array of str, None
    when they are not all strings (scikit-learn's ``_get_feature_names``,
    which sets ``feature_names_in_``)."""
    return _get_feature_names(X)


# -- skorch ------------------------------------------------------------------
# ``NeuralNet`` keeps the names of its modules, criteria and optimizers in
# the private lists ``_modules``, ``_criteria`` and ``_optimizers`` (each name
# ``x`` initialised as attribute ``x_``).


def criterion_names(net) -> list[str]:
    """The names of the skorch ``net``'s criteria (``["criterion"]``)."""
    return net._criteria


def optimizer_names(net) -> list[str]:
    """The names of the skorch ``net``'s optimizers (``["optimizer"]``)."""
    return net._optimizers


def prepared_names(net) -> list[str]:
    """The names of what skorch's ``AccelerateMixin`` prepares with the
    accelerator: the ``net``'s modules, criteria and optimizers."""
    return net._modules + net._criteria + net._optimizers


class LossesPlacedByDevice:
    """Mixin of a net with skorch's ``AccelerateMixin`` (placed before it):
    losses without trainable parameters are only moved to the accelerator's
    device, not prepared by it.

    On several CPU processes accelerate wraps every module it prepares in
    ``DistributedDataParallel``, which refuses modules without trainable
    parameters; a loss needs nothing else (it is computed under the
    accelerator's autocast). Overrides ``AccelerateMixin``'s private
    ``_initialize_accelerator`` and hides those losses from its private list
    ``_criteria`` while it runs.
    """

    def _initialize_accelerator(self):
        import torch

        if self._wrapped_with_accelerator:
            return self
        criteria = self._criteria
        self._criteria = []
        for name in criteria:
            criterion = getattr(self, name + "_")
            if isinstance(criterion, torch.nn.Module) and not any(
                parameter.requires_grad for parameter in criterion.parameters()
            ):
                criterion.to(self.accelerator.device)
            else:
                self._criteria.append(name)
        try:
            return super()._initialize_accelerator()
        finally:
            self._criteria = criteria


def early_stopping_message(callback, text: str, verbose) -> None:
    """Send ``text`` to a skorch callback's sink as the callback itself
    does: to ``print`` only when ``verbose``, to any other sink always."""
    callback._sink(text, verbose=verbose)


def early_stopping_progress(stopping) -> dict:
    """The progress of skorch's ``EarlyStopping`` that a checkpoint keeps:
    the epochs without improvement, the score to beat and the best epoch
    (its weights are kept apart, as tensors)."""
    return {
        "misses": stopping.misses_,
        "threshold": float(stopping.dynamic_threshold_),
        "best_epoch": stopping.best_epoch_,
    }


def restore_early_stopping(stopping, progress: dict, weights) -> None:
    """Restore into skorch's ``EarlyStopping`` the ``progress`` of
    :func:`early_stopping_progress` and the best epoch's ``weights`` (a state
    dict, or None)."""
    stopping.misses_ = progress["misses"]
    stopping.dynamic_threshold_ = progress["threshold"]
    stopping.best_epoch_ = progress["best_epoch"]
    stopping.best_model_weights_ = weights


# -- accelerate --------------------------------------------------------------


def unwrap_optimizer(optimizer):
    """The torch optimizer inside accelerate's ``AcceleratedOptimizer``
    (``optimizer`` itself when it wraps none).

    With loss scaling, accelerate leaves its own copy of the step method on
    the optimizer (kept as ``_optimizer_original_step_method``); the
    class's is the same method, and pickles, so the copy is removed.
    """
    import torch

    inner = getattr(optimizer, "optimizer", None)
    if not isinstance(inner, torch.optim.Optimizer):
        return optimizer
    original = getattr(optimizer, "_optimizer_original_step_method", None)
    if original is not None and vars(inner).get("step") == original:
        del inner.step
    return inner


def forget_prepared(accelerator, objects) -> None:
    """Drop ``objects`` from the lists of everything ``accelerator``
    prepared (its private ``_models`` and ``_optimizers``)."""
    ids = {id(obj) for obj in objects}
    for name in ("_models", "_optimizers"):
        prepared = getattr(accelerator, name, None)
        if isinstance(prepared, list):
            prepared[:] = [obj for obj in prepared if id(obj) not in ids]
