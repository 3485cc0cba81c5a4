"""The skorch net under the estimators: skorch's training loop, extended
through its hooks (mixed precision, standard units, weighted losses, Ctrl-C)."""

from __future__ import annotations

import contextlib
import signal
import threading

import numpy as np
import torch
from skorch import NeuralNet
from skorch.dataset import unpack_data
from skorch.utils import TeeGenerator

from .._data._batches import WeightedTargets
from .._utils._compat import criterion_names
from .._utils._device import MIXED_PRECISION_DTYPES
from ._malloc import tune_malloc_for_training
from ._units import (
    standard_batch,
    standard_inputs,
    standard_targets,
    standard_units,
    target_units,
)


class StopTraining(KeyboardInterrupt):
    """Raised by callbacks to end training early (skorch stops on any
    ``KeyboardInterrupt``); tells a deliberate stop from a user's Ctrl-C."""


def unwrap_module(module: torch.nn.Module) -> torch.nn.Module:
    """The network inside the wrappers training may put around it.

    ``torch.compile`` wraps a module in an ``OptimizedModule`` (whose state dict
    keys start with ``_orig_mod.``), data-parallel training in
    ``DistributedDataParallel`` (keys start with ``module.``); both share the
    parameters of the module they wrap.
    """
    while True:
        inner = getattr(module, "_orig_mod", None)  # torch.compile
        if inner is None and isinstance(
            module,
            torch.nn.parallel.DistributedDataParallel | torch.nn.DataParallel,
        ):
            inner = module.module
        if not isinstance(inner, torch.nn.Module):
            return module
        module = inner


def autocast(device: str, mixed_precision: str | None):
    """The autocast context of ``mixed_precision`` (``"bf16"``, ``"fp16"``) on
    ``device``; a context doing nothing for ``None``."""
    if mixed_precision is None:
        return contextlib.nullcontext()
    return torch.autocast(
        torch.device(device).type, dtype=MIXED_PRECISION_DTYPES[mixed_precision]
    )


def as_float32(y_pred):
    """Half-precision outputs of an autocast forward pass, as float32 (numpy
    and skorch's scoring callbacks do not take bfloat16)."""
    if isinstance(y_pred, torch.Tensor) and y_pred.dtype in (
        torch.bfloat16,
        torch.float16,
    ):
        return y_pred.float()
    return y_pred


def weighted_loss(criterion, y_pred, y_true, sample_weight) -> torch.Tensor:
    """The loss of a batch weighted per sample: the criterion's element-wise
    losses averaged over each sample's targets, then averaged over the samples
    with weights ``sample_weight`` (normalised by their sum in the batch; a
    batch whose weights are all 0 has loss 0)."""
    reduction = criterion.reduction
    criterion.reduction = "none"
    try:
        losses = criterion(y_pred, y_true)
    finally:
        criterion.reduction = reduction
    per_sample = losses.reshape(len(losses), -1).mean(dim=1)
    weight = sample_weight.to(per_sample.dtype)
    total = weight.sum().clamp_min(torch.finfo(weight.dtype).tiny)
    return (weight * per_sample).sum() / total


@contextlib.contextmanager
def _noting_sigint(net):
    """Set ``net.sigint_`` when a SIGINT (Ctrl-C) arrives, so that a Ctrl-C
    during a callback is told from a callback raising ``KeyboardInterrupt``
    to stop training (skorch's idiom). Only the main thread receives signals."""
    net.sigint_ = False
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(
        previous
    ):  # SIG_IGN or SIG_DFL: a Ctrl-C raises nothing here
        yield
        return

    def note(signum, frame):
        net.sigint_ = True
        previous(signum, frame)  # Python's own raises KeyboardInterrupt

    signal.signal(signal.SIGINT, note)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _close_interrupted_epoch(history) -> None:
    """Give an epoch that a Ctrl-C cut short the training loss of the batches
    it ran (weighted by their sizes, as skorch's), and mark it
    ``interrupted``; drop it if it ran none. Every epoch in the history then
    has a training loss, which training continued later relies on."""
    if not len(history) or "train_loss" in history[-1]:
        return
    batches = [
        batch for batch in history[-1].get("batches", []) if "train_loss" in batch
    ]
    if not batches:
        del history[-1]
        return
    sizes = [batch["train_batch_size"] for batch in batches]
    losses = [batch["train_loss"] for batch in batches]
    history.record("train_loss", float(np.average(losses, weights=sizes)))
    history.record("train_batch_count", len(batches))
    history.record("interrupted", True)


def _on_cpu(module: torch.nn.Module) -> bool:
    parameter = next(module.parameters(), None)
    return parameter is None or parameter.device.type == "cpu"


class TrainingNet(NeuralNet):
    """The skorch net under the estimators: skorch's loop, extended by
    overriding only public methods of ``NeuralNet`` (``initialize_optimizer``,
    ``torch_compile``, ``fit_loop``, ``notify``, ``train_step``,
    ``train_step_single``, ``validation_step``, ``evaluation_step``,
    ``get_loss``). The one private member of skorch it reads, the names of
    the net's losses (which ``torch_compile`` leaves uncompiled), it reads
    through :func:`sktaaf._utils._compat.criterion_names`.

    ``mixed_precision`` (``"bf16"`` or ``"fp16"``) runs the forward passes and
    the loss under ``torch.autocast``; ``"fp16"`` also scales the loss with a
    ``torch.amp.GradScaler`` (``grad_scaler_``), which unscales the gradients
    before ``on_grad_computed`` callbacks see them and skips the steps whose
    gradients overflowed. With ``None`` (the default) none of this runs.
    ``compile=True`` (skorch's option) compiles the network, not the loss.

    A network built with ``standardize=True`` is trained in standard units
    (see :mod:`sktaaf._engine._units`): each batch's inputs are standardised
    as the step receives them and its targets as the loss does, outside
    autograd, the network skips its own maps, and the loss compares
    standard-unit outputs with standard-unit targets. The steps' ``y_pred``
    (which callbacks receive) are mapped back to the targets' units, without
    gradients.
    """

    #: While the network is trained in standard units (during ``fit_loop``):
    #: its buffers ``(x_mean, x_scale, y_mean, y_scale)``.
    _standardization = None

    def __init__(self, *args, mixed_precision=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.mixed_precision = mixed_precision

    def initialize_optimizer(self, triggered_directly=None):
        super().initialize_optimizer(triggered_directly=triggered_directly)
        # The loss scale belongs with the optimizer it protects.
        self.grad_scaler_ = (
            torch.amp.GradScaler(torch.device(self.device).type)
            if self.mixed_precision == "fp16"
            else None
        )
        return self

    def torch_compile(self, module, name):
        # The loss is a kernel or two: compiling it would cost a graph per
        # batch shape and fuse nothing with the network.
        if name in criterion_names(self):
            return module
        return super().torch_compile(module, name)

    @property
    def is_main_process(self) -> bool:
        """Whether this process writes checkpoints (the only one, here)."""
        return True

    def all_processes_agree(self, flag: bool) -> bool:
        """Whether ``flag`` holds in every process training this network."""
        return flag

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        self.interrupted_ = False
        if _on_cpu(self.module_):
            # Without it, glibc's malloc trims and regrows the heap at every
            # batch in many process states (see sktaaf._engine._malloc).
            tune_malloc_for_training()
        try:
            module = unwrap_module(self.module_)
            with _noting_sigint(self), standard_units(self, module):
                return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except StopTraining:
            raise
        except KeyboardInterrupt:
            self.interrupted_ = True  # a user's Ctrl-C: skorch returns early
            _close_interrupted_epoch(self.history)
            raise

    def notify(self, method_name, **cb_kwargs):
        try:
            super().notify(method_name, **cb_kwargs)
        except KeyboardInterrupt as stop:  # a callback stopping training...
            if isinstance(stop, StopTraining) or getattr(self, "sigint_", False):
                raise  # ... or a Ctrl-C that came while a callback ran
            raise StopTraining from stop

    def standard_inputs(self, X: torch.Tensor) -> torch.Tensor:
        """``X`` in the units the network takes now: standardised while it
        is trained in standard units, else unchanged."""
        return standard_inputs(self._standardization, X)

    def train_step(self, batch, **fit_params):
        batch = standard_batch(self._standardization, batch)
        scaler = self.grad_scaler_
        if scaler is None:
            step = super().train_step(batch, **fit_params)
            return target_units(self._standardization, step)
        # GradScaler.step takes no closure: one pass, then the scaled step.
        optimizer = self.optimizer_
        optimizer.zero_grad()
        step = self.train_step_single(batch, **fit_params)
        scaler.unscale_(optimizer)  # callbacks (e.g. clipping) see true gradients
        self.notify(
            "on_grad_computed",
            named_parameters=TeeGenerator(self.get_all_learnable_params()),
            batch=batch,
            training=True,
        )
        scaler.step(optimizer)  # skips the step when the gradients overflowed
        scaler.update()
        return target_units(self._standardization, step)

    def _autocast(self):
        return autocast(self.device, self.mixed_precision)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        # The one place that tells weighted batches (sktaaf._data._batches).
        weight = None
        if isinstance(y_true, WeightedTargets):
            y_true, weight = y_true.targets, y_true.weight
        y_true = standard_targets(self._standardization, y_true)
        if weight is not None:
            return weighted_loss(self.criterion_, y_pred, y_true, weight)
        return super().get_loss(y_pred, y_true, X=X, training=training)

    def train_step_single(self, batch, **fit_params):
        if self.mixed_precision is None:
            return super().train_step_single(batch, **fit_params)
        self.module_.train()
        self.criterion_.train()
        Xi, yi = unpack_data(batch)
        with self._autocast():
            y_pred = self.infer(Xi, **fit_params)
            loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        scaler = self.grad_scaler_
        (loss if scaler is None else scaler.scale(loss)).backward()
        return {"loss": loss, "y_pred": y_pred}

    def validation_step(self, batch, **fit_params):
        batch = standard_batch(self._standardization, batch)
        if self.mixed_precision is None:
            step = super().validation_step(batch, **fit_params)
        else:
            with self._autocast():
                step = super().validation_step(batch, **fit_params)
            step = {**step, "y_pred": as_float32(step["y_pred"])}
        return target_units(self._standardization, step)

    def evaluation_step(self, batch, training=False):
        if self.mixed_precision is None:
            return super().evaluation_step(batch, training=training)
        with self._autocast():
            return as_float32(super().evaluation_step(batch, training=training))
