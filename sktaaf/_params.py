"""The parameters of the network estimators: their constraints, the checks
``fit`` (and ``load``) runs on them beyond those constraints, and what they
resolve to (the loss, the optimizer, the activations, the training device).

:class:`NetworkParameters` is a mixin of
:class:`~sktaaf._base.BaseNetworkRegressor`; it holds no state of its own.
"""

from __future__ import annotations

import contextlib
import copy
import os
import warnings
from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np
import torch

from ._utils._compat import HasMethods, Interval, InvalidParameterError, StrOptions
from ._utils._device import (
    MIXED_PRECISION_DTYPES,
    check_mixed_precision,
    cpu_has_native_bf16,
    device_memory,
    resolve_device,
)
from ._utils._random import isolated_torch_rng
from .exceptions import SlowPrecisionWarning
from .nn import ACTIVATIONS, get_activation

LOSSES = {"mae": torch.nn.L1Loss, "mse": torch.nn.MSELoss}
OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "nadam": torch.optim.NAdam,
    "rmsprop": torch.optim.RMSprop,
    "sgd": torch.optim.SGD,
}


# Numeric parameters, which sklearn's Interval constraints let bools through.
_NUMERIC_PARAMS = (
    "hidden_layer_sizes",
    "dropout",
    "learning_rate",
    "batch_size",
    "max_epochs",
    "validation_fraction",
    "n_iter_no_change",
)
# Optimizer arguments that other parameters set, and which.
_RESERVED_OPTIMIZER_KWARGS = {
    "lr": "the 'learning_rate' parameter sets",
    "params": "the estimator sets (the network's parameters)",
}


def _check_activation_shape(module, param: str, width: int, estimator, device) -> None:
    """Raise if the activation ``module`` fails on, or changes the shape of, a
    batch of ``width`` features on ``device``."""
    inputs = torch.zeros(2, width, device=device)
    try:
        with torch.no_grad():
            outputs = module(inputs)
    except (MemoryError, torch.cuda.OutOfMemoryError):
        raise  # not a problem of the parameter
    except Exception as exc:
        raise ValueError(
            f"The {param!r} parameter of {type(estimator).__name__}, "
            f"{getattr(estimator, param)!r}, fails on a batch of shape "
            f"{tuple(inputs.shape)}: {type(exc).__name__}: {exc}"
        ) from exc
    shape = getattr(outputs, "shape", type(outputs).__name__)
    if not isinstance(outputs, torch.Tensor) or outputs.shape != inputs.shape:
        raise ValueError(
            f"The {param!r} parameter of {type(estimator).__name__} must map a "
            f"tensor to a tensor of the same shape (an element-wise function); "
            f"{getattr(estimator, param)!r} maps shape {tuple(inputs.shape)} to "
            f"{tuple(shape) if isinstance(shape, torch.Size) else shape}."
        )


@contextlib.contextmanager
def explain_out_of_memory(estimator, device: str, stage: str):
    """Raise a CUDA out-of-memory error of the block again, saying what ran
    out of memory (``stage`` of ``estimator`` on ``device``) and what to
    change, from the original error."""
    try:
        yield
    except torch.cuda.OutOfMemoryError as exc:
        n_parameters = (
            sum(p.numel() for p in estimator.module_.parameters())
            if hasattr(estimator, "module_")
            else None
        )
        size = f" with {n_parameters:,} parameters" if n_parameters else ""
        raise torch.cuda.OutOfMemoryError(
            f"{device} ran out of memory during {stage} of "
            f"{type(estimator).__name__}{size} (batch_size="
            f"{estimator.batch_size}). Use a smaller batch_size, narrower hidden "
            "layers, or split the target genes into blocks and fit one "
            "estimator per block; see the original error above."
        ) from exc


class NetworkParameters:
    """The parameter checks and resolutions of the network estimators."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS)), callable],
        "output_activation": [StrOptions({"same", *ACTIVATIONS}), callable, None],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "loss": [StrOptions(set(LOSSES)), torch.nn.Module],
        "optimizer": [StrOptions(set(OPTIMIZERS)), type],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "optimizer_kwargs": [dict, None],
        "standardize": ["boolean"],
        "linear_path": [StrOptions({"ridge", "fixed", "blend"}), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "warm_start": ["boolean"],
        "checkpoint_dir": [str, os.PathLike, None],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "callbacks": [list, tuple, None],
        "device": [str, torch.device],
        "mixed_precision": [StrOptions(set(MIXED_PRECISION_DTYPES)), None],
        "compile": ["boolean", dict],
        "accelerator": [HasMethods(["prepare", "autocast", "backward"]), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> tuple[int, ...]:
        """The checks of the parameters that ``_parameter_constraints`` cannot
        express, run by ``fit`` (and ``load``) before any data work; returns
        the hidden layer sizes."""
        name = type(self).__name__
        for param in _NUMERIC_PARAMS:
            value = getattr(self, param)
            if isinstance(value, bool | np.bool_):
                raise InvalidParameterError(
                    f"The {param!r} parameter of {name} must be a number, not a "
                    f"bool; got {value!r}."
                )
        hidden_layer_sizes = self._hidden_layer_sizes()
        self._check_optimizer_kwargs(self._optimizer_class())
        for param in ("activation", "output_activation"):
            self._activation_module(param)
        self._check_compile()
        self._check_checkpoint_dir()
        return hidden_layer_sizes

    def _check_checkpoint_dir(self) -> None:
        """Refuse a ``checkpoint_dir`` that is empty (an unset variable: it
        would mean the current folder) or that is, or lies inside, a file."""
        if self.checkpoint_dir is None:
            return
        path = os.fspath(self.checkpoint_dir)
        name = type(self).__name__
        if path in ("", b""):
            raise InvalidParameterError(
                f"The 'checkpoint_dir' parameter of {name} must be the path of a "
                "folder or None; got '' (an empty path; pass '.' for the current "
                "folder)."
            )
        folder = os.path.abspath(path)
        while not os.path.lexists(folder) and os.path.dirname(folder) != folder:
            folder = os.path.dirname(folder)  # the nearest part that exists
        if not os.path.isdir(folder):
            where = "is" if folder == os.path.abspath(path) else "lies inside"
            raise ValueError(
                f"The 'checkpoint_dir' parameter of {name} must be a folder (made "
                f"if absent); got {path!r}, which {where} the file {folder!r}, "
                "not a folder."
            )

    def _hidden_layer_sizes(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, np.ndarray):
            sizes = sizes.tolist() if sizes.ndim else [sizes.item()]
        if isinstance(sizes, Integral) and not isinstance(sizes, bool):
            sizes = (sizes,)
        # One level only: ((16, 8),) is not two layers; and an order (no sets).
        if isinstance(sizes, Sequence) and not isinstance(sizes, str):
            sizes = tuple(sizes)
        else:
            sizes = ()
        if not sizes or not all(
            isinstance(size, Integral)
            and not isinstance(size, bool | np.bool_)
            and size >= 1
            for size in sizes
        ):
            raise InvalidParameterError(
                f"The 'hidden_layer_sizes' parameter of {type(self).__name__} must be "
                "a positive int or a non-empty flat sequence of positive ints; got "
                f"{self.hidden_layer_sizes!r}."
            )
        return tuple(int(size) for size in sizes)

    def _optimizer_class(self) -> type:
        if isinstance(self.optimizer, str):
            return OPTIMIZERS[self.optimizer]
        if not issubclass(self.optimizer, torch.optim.Optimizer):
            raise InvalidParameterError(
                f"The 'optimizer' parameter of {type(self).__name__} must be one of "
                f"{sorted(OPTIMIZERS)} or a torch.optim.Optimizer subclass; got "
                f"{self.optimizer!r}."
            )
        return self.optimizer

    def _check_optimizer_kwargs(self, optimizer_class: type) -> None:
        """Refuse ``optimizer_kwargs`` that conflict with other parameters or
        that the optimizer does not accept (tried on a dummy parameter)."""
        kwargs = self.optimizer_kwargs or {}
        optimizer = optimizer_class.__name__
        keys = [key for key in kwargs if not isinstance(key, str)]
        if keys:
            raise InvalidParameterError(
                "The 'optimizer_kwargs' parameter must have str keys (names of "
                f"arguments of the optimizer {optimizer}); got {keys[0]!r}."
            )
        for key, instead in _RESERVED_OPTIMIZER_KWARGS.items():
            if key in kwargs:
                raise ValueError(
                    f"optimizer_kwargs={kwargs!r} sets {key!r} of the optimizer "
                    f"{optimizer}, which {instead}: remove it from optimizer_kwargs."
                )
        dummy = torch.nn.Parameter(torch.zeros(1))
        try:
            optimizer_class([dummy], lr=self.learning_rate, **kwargs)
        except Exception as exc:
            if kwargs:
                problem = f"optimizer_kwargs={kwargs!r} are not accepted by"
            else:  # e.g. a custom optimizer with required arguments
                problem = "optimizer_kwargs=None: cannot create"
            raise InvalidParameterError(  # a ValueError and a TypeError
                f"{problem} the optimizer {optimizer} (with "
                f"lr=learning_rate={self.learning_rate!r}): {exc}"
            ) from exc

    def _activation_module(self, param: str) -> torch.nn.Module | None:
        """A fresh module of the activation parameter ``param``, or None (a
        linear output); errors name the parameter."""
        value = getattr(self, param)
        if param == "output_activation":
            value = self._output_activation()
        if value is None:
            return None
        try:
            # A copy: checking a stateful callable must not change the user's.
            return get_activation(copy.deepcopy(value))
        except (TypeError, ValueError) as exc:
            raise type(exc)(
                f"The {param!r} parameter of {type(self).__name__} is unusable: {exc}"
            ) from exc

    def _check_compile(self) -> None:
        if not isinstance(self.compile, dict):
            return
        keys = [key for key in self.compile if not isinstance(key, str)]
        if keys or "model" in self.compile:
            raise InvalidParameterError(
                "The 'compile' parameter must map names of arguments of "
                f"torch.compile (other than 'model') to values; got {self.compile!r}."
            )
        try:  # torch.compile checks its arguments eagerly and compiles lazily
            torch.compile(torch.nn.Identity(), **self.compile)
        except Exception as exc:
            raise InvalidParameterError(  # a ValueError and a TypeError
                f"compile={self.compile!r} is not accepted by torch.compile "
                f"{torch.__version__}: {exc}"
            ) from exc

    def _check_loss(self, n_outputs: int, device: str) -> None:
        """Raise if the loss does not turn a batch of predictions and targets
        (on ``device``) into one number."""
        predictions = torch.zeros(2, n_outputs, device=device)
        try:
            with torch.no_grad():
                criterion = self._criterion().to(device)
                loss = criterion(predictions, torch.zeros_like(predictions))
        except (MemoryError, torch.cuda.OutOfMemoryError):
            raise
        except Exception as exc:
            raise ValueError(
                f"The 'loss' parameter of {type(self).__name__}, {self.loss!r}, "
                f"fails on predictions and targets of shape (2, {n_outputs}): "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else loss
            raise ValueError(
                f"The 'loss' parameter of {type(self).__name__} must reduce "
                "predictions and targets to one number (a tensor of one "
                f"element); {self.loss!r} gives {shape!r} for a batch of shape "
                f"(2, {n_outputs})."
            )

    def _check_network(
        self, n_features: int, n_outputs: int, hidden_layer_sizes, device: str
    ) -> None:
        """Check, without building it, that the network fits in ``device``'s
        memory, that its activations keep the shape of their input and that
        its loss gives one number."""
        widths = [n_features, *hidden_layer_sizes, n_outputs]
        # Weights and biases, and TAAF's four parameters per neuron: an upper
        # bound of both networks' parameters (gradients and optimizer state
        # need two to three times more).
        n_parameters = sum(
            (n_in + 5) * n_out
            for n_in, n_out in zip(widths[:-1], widths[1:], strict=True)
        )
        needed = 4 * n_parameters
        available = device_memory(device)
        if available is not None and needed > available:
            raise ValueError(
                f"hidden_layer_sizes={self.hidden_layer_sizes!r} describes, with "
                f"{n_features} features and {n_outputs} targets, a network of "
                f"about {n_parameters:,} parameters, whose float32 weights alone "
                f"need {needed / 2**30:,.1f} GiB, more than the "
                f"{available / 2**30:,.1f} GiB of memory of device {device!r}. "
                "Use smaller hidden layers."
            )
        shapes = {"activation": sorted(set(hidden_layer_sizes))}
        shapes["output_activation"] = [n_outputs]
        with isolated_torch_rng():  # an activation or a loss may draw
            self._check_loss(n_outputs, device)
            for param, param_widths in shapes.items():
                module = self._activation_module(param)
                if module is None:
                    continue
                module.to(device).eval()
                for width in param_widths:
                    with explain_out_of_memory(
                        self, device, "the check of the activations"
                    ):
                        _check_activation_shape(module, param, width, self, device)

    def _criterion(self):
        if isinstance(self.loss, str):
            criterion = LOSSES[self.loss]()
        else:  # a copy: fit must leave its parameters untouched
            criterion = copy.deepcopy(self.loss)
        # With standardize=True, the network is trained in standard units
        # (sktaaf._engine._net.standard_units): the loss compares them directly.
        return criterion

    def _output_activation(self):
        if isinstance(self.output_activation, str) and self.output_activation == "same":
            return self.activation
        return self.output_activation

    def _training_device(self, optimizer_class) -> str:
        """The device training runs on, once the options that decide it (and
        how) are checked against each other."""
        closure = issubclass(optimizer_class, torch.optim.LBFGS)
        if self.accelerator is None:
            if closure and self.mixed_precision == "fp16":
                raise ValueError(
                    f"optimizer={optimizer_class.__name__} re-evaluates the loss "
                    "in a closure, which the loss scaling of "
                    "mixed_precision='fp16' does not support. Use "
                    "mixed_precision='bf16' or None, or another optimizer."
                )
            device = resolve_device(self.device)
            check_mixed_precision(self.mixed_precision, device)
            if (
                self.mixed_precision == "bf16"
                and device == "cpu"
                and cpu_has_native_bf16() is False
            ):
                warnings.warn(
                    "mixed_precision='bf16' on a CPU without native bfloat16 "
                    "arithmetic (no AVX512-BF16, AMX or Arm BF16 flag): torch "
                    "emulates it, usually more slowly than float32. Use "
                    "mixed_precision=None on this machine.",
                    SlowPrecisionWarning,
                    stacklevel=4,  # the caller of fit, past sklearn's wrapper
                )
            return device
        for name, value, instead in [
            (
                "mixed_precision",
                self.mixed_precision,
                "Accelerator(mixed_precision=...)",
            ),
            ("compile", self._compiles(), "Accelerator(dynamo_backend='inductor')"),
        ]:
            if value:
                raise ValueError(
                    f"{name}={getattr(self, name)!r} cannot be combined with an "
                    f"accelerator, which sets it itself: use {instead} and leave "
                    f"{name} at its default."
                )
        if closure:
            raise ValueError(
                f"optimizer={optimizer_class.__name__} re-evaluates the loss in a "
                "closure, which training through an accelerator does not support. "
                "Use another optimizer or accelerator=None."
            )
        accelerator_device = torch.device(self.accelerator.device)
        if str(self.device) != "auto":
            wanted = torch.device(resolve_device(self.device))
            if wanted.type != accelerator_device.type or wanted.index not in (
                None,
                accelerator_device.index,
            ):
                raise ValueError(
                    f"device={self.device!r} differs from the device of the "
                    f"accelerator, {str(accelerator_device)!r}, which places the "
                    "network itself. Leave device='auto' when passing an "
                    "accelerator."
                )
        return str(accelerator_device)

    def _compiles(self) -> bool:
        return isinstance(self.compile, dict) or bool(self.compile)
