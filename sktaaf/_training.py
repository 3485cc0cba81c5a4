"""The training machinery under the estimators: data feeding and callbacks.

Data are fed to skorch as whole-batch tensor slices rather than through a
per-sample ``Dataset.__getitem__`` and a collate function: the float32 arrays are
wrapped once, without copying, and each batch is one gather.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import warnings

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping
from skorch.dataset import unpack_data
from skorch.utils import TeeGenerator

from ._device import MIXED_PRECISION_DTYPES
from ._malloc import tune_malloc_for_training
from ._units import standard_batch, standard_inputs, standard_units, target_units
from .exceptions import NonFiniteLossWarning

#: The ``mixed_precision`` options and the dtypes autocast computes in.


class StopTraining(KeyboardInterrupt):
    """Raised by callbacks to end training early (skorch stops on any
    ``KeyboardInterrupt``); tells a deliberate stop from a user's Ctrl-C."""


def as_tensor(array: np.ndarray) -> torch.Tensor:
    """Wrap a numpy array as a tensor sharing its memory.

    Read-only arrays (memory maps, broadcast views) are shared too: sktaaf never
    writes to its input, so torch's warning about them does not apply.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not")
        return torch.from_numpy(array)


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


def pad_rows(array: np.ndarray, multiple: int) -> np.ndarray:
    """Return ``array`` as C-contiguous float32, zero-padded to a multiple of
    ``multiple`` rows (no copy when it already is all that)."""
    n_missing = -len(array) % multiple
    if n_missing:
        padding = np.zeros((n_missing, array.shape[1]), dtype=np.float32)
        array = np.concatenate([array.astype(np.float32, copy=False), padding])
    return np.ascontiguousarray(array, dtype=np.float32)


class TensorData(torch.utils.data.Dataset):
    """Feature and target tensors, restricted to some rows by ``indices``.

    A subset holds indices into the full tensors, not a copy of the rows. With
    ``sample_weight`` (a 1-D tensor), the targets of a batch are the pair
    ``(y, sample_weight)``, which :meth:`TrainingNet.get_loss` weighs by.
    """

    def __init__(
        self, X: torch.Tensor, y: torch.Tensor, indices=None, sample_weight=None
    ) -> None:
        self.X = X
        self.y = y
        self.indices = indices
        self.sample_weight = sample_weight

    def __len__(self) -> int:
        return len(self.X) if self.indices is None else len(self.indices)

    def __getitem__(self, i):
        rows = i if self.indices is None else self.indices[i]
        return self.X[rows], self._targets(rows)

    def _targets(self, rows):
        if self.sample_weight is None:
            return self.y[rows]
        return self.y[rows], self.sample_weight[rows]

    def subset(self, indices: np.ndarray) -> TensorData:
        rows = torch.as_tensor(indices, dtype=torch.long, device=self.X.device)
        if self.indices is not None:
            rows = self.indices[rows]
        return TensorData(self.X, self.y, rows, self.sample_weight)

    def iter_batches(self, batch_size: int, shuffle: bool, generator):
        X, rows = self.X, self.indices
        n_samples = len(self)
        if not shuffle:
            for start in range(0, n_samples, batch_size):
                if rows is None:  # contiguous views: no copy at all
                    batch = slice(start, start + batch_size)
                else:
                    batch = rows[start : start + batch_size]
                yield X[batch], self._targets(batch)
            return
        order = torch.randperm(n_samples, generator=generator).to(X.device)
        if rows is not None:
            order = rows[order]
        for start in range(0, n_samples, batch_size):
            batch = order[start : start + batch_size]
            yield X[batch], self._targets(batch)


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


class BatchIterator:
    """Iterate over a :class:`TensorData` (or an on-disk
    :class:`~sktaaf._disk.DiskData`) in mini-batches of tensor slices.

    skorch calls it as it would a ``DataLoader``; each ``iter`` is one epoch.
    With ``shuffle``, every epoch draws a new permutation from ``generator`` (a
    CPU ``torch.Generator``, seeded by the estimator), so a seeded fit sees the
    same batches every time, and a continued fit continues the same stream.

    For data-parallel training over ``num_replicas`` processes, each process
    iterates over the same batches (its generator in the same state) and
    yields only its share, the ``rank``-th of ``num_replicas`` near-equal
    pieces of each batch: together the processes cover every sample once per
    epoch and take the same number of steps. A last batch smaller than
    ``num_replicas`` rows is topped up by repeating its rows, so that no
    process gets an empty one.
    """

    def __init__(
        self,
        dataset: TensorData,
        batch_size: int,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator
        self.num_replicas = num_replicas
        self.rank = rank

    def __len__(self) -> int:
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self):
        batches = self.dataset.iter_batches(
            self.batch_size, self.shuffle, self.generator
        )
        if self.num_replicas == 1:
            return batches
        return self._shards(batches)

    def _shards(self, batches):
        for X, y in batches:
            weighted = isinstance(y, tuple)  # (targets, sample weights)
            parts = (X, *y) if weighted else (X, y)
            if len(X) < self.num_replicas:
                rows = torch.arange(self.num_replicas, device=X.device) % len(X)
                parts = tuple(part[rows] for part in parts)
            parts = tuple(
                part.tensor_split(self.num_replicas)[self.rank] for part in parts
            )
            yield parts[0], (parts[1:] if weighted else parts[1])


class ShuffledSplit:
    """skorch ``train_split`` holding out given rows (drawn by the estimator)."""

    def __init__(self, valid_indices: np.ndarray, train_indices: np.ndarray) -> None:
        self.valid_indices = valid_indices
        self.train_indices = train_indices

    def __call__(self, dataset: TensorData, y=None, **fit_params):
        return dataset.subset(self.train_indices), dataset.subset(self.valid_indices)


class BestEpochStopping(EarlyStopping):
    """skorch's early stopping, restoring the best weights and then dropping
    its copy of them (it would otherwise double the size of a pickled model).

    A resumed fit restores its progress through
    :class:`~sktaaf._state.RestoreState`.
    """

    def on_epoch_end(self, net, **kwargs):
        best_epoch = self.best_epoch_
        super().on_epoch_end(net, **kwargs)
        if self.best_epoch_ != best_epoch and self.best_model_weights_ is not None:
            # Kept under the names of the unwrapped network, which training
            # may wrap (torch.compile, data parallelism) and then unwrap.
            self.best_model_weights_ = _unwrapped_state(
                net.module_, self.best_model_weights_
            )

    def state(self) -> dict:
        """The progress a checkpoint keeps (weights separately, as tensors)."""
        return {
            "misses": self.misses_,
            "threshold": float(self.dynamic_threshold_),
            "best_epoch": self.best_epoch_,
        }

    def on_train_end(self, net, **kwargs):
        # skorch's, but loading into the unwrapped network.
        if (
            self.load_best
            and self.best_epoch_ != net.history[-1, "epoch"]
            and self.best_model_weights_ is not None
        ):
            unwrap_module(net.module_).load_state_dict(self.best_model_weights_)
            self._sink(
                f"Restoring best model from epoch {self.best_epoch_}.",
                verbose=net.verbose,
            )
        self.best_model_weights_ = None


def _unwrapped_state(module: torch.nn.Module, state: dict) -> dict:
    """``state``, a state dict of ``module``, under the names of the network
    inside its wrappers (same tensors, same order)."""
    inner = unwrap_module(module)
    if inner is module:
        return state
    return dict(zip(inner.state_dict(), state.values(), strict=True))


class FiniteLossGuard(Callback):
    """Stop training when the loss or the weights become NaN or infinite.

    The weights of the last epoch known to be finite are restored and a
    :class:`~sktaaf.exceptions.NonFiniteLossWarning` is emitted, so the
    estimator remains usable.

    An epoch's training loss is measured *before* each of its steps, so the
    weights an epoch ends with can be finite yet so large that they predict
    infinities. On divergence, the guard checks that the last snapshot
    predicts finite values on a batch of training rows, and otherwise falls
    back to the snapshot before it (it keeps two).
    """

    def on_train_begin(self, net, **kwargs):
        state = unwrap_module(net.module_).state_dict()
        # The tensors of both snapshots, allocated once per fit: each epoch's
        # is written over the older one. A model-sized allocation per epoch
        # made glibc's malloc trim and regrow its heap (see sktaaf._malloc).
        self._buffers = [
            {name: tensor.detach().clone() for name, tensor in state.items()}
            for _ in range(2)
        ]
        self.snapshots_ = [(len(net.history), self._buffers[0])]
        self.diverged_ = False

    def _snapshot(self, net, epoch):
        latest = self.snapshots_[-1][1]
        weights = self._buffers[1] if latest is self._buffers[0] else self._buffers[0]
        for name, tensor in unwrap_module(net.module_).state_dict().items():
            weights[name].copy_(tensor.detach())
        self.snapshots_ = [*self.snapshots_[-1:], (epoch, weights)]

    @property
    def last_finite_epoch_(self):
        return self.snapshots_[-1][0]

    def on_epoch_end(self, net, dataset_train=None, **kwargs):
        epoch = net.history[-1]
        losses = [epoch[key] for key in ("train_loss", "valid_loss") if key in epoch]
        losses_finite = all(math.isfinite(loss) for loss in losses)
        # Frozen parameters (a fixed linear path's) cannot change: only the
        # trained ones are checked, a few milliseconds less per epoch.
        weights_finite = all(
            bool(torch.isfinite(parameter).all())
            for parameter in net.module_.parameters()
            if parameter.requires_grad
        )
        # Processes training together must stop together (the training loss
        # is each one's own, on its share of the data).
        if _all_processes_agree(net, losses_finite and weights_finite):
            self._snapshot(net, epoch["epoch"])
            return
        self.diverged_ = True
        module = unwrap_module(net.module_)
        module.load_state_dict(self.snapshots_[-1][1])
        if len(self.snapshots_) > 1 and not _predicts_finitely(net, dataset_train):
            self.snapshots_.pop()
            module.load_state_dict(self.snapshots_[-1][1])
        warnings.warn(
            f"Training diverged at epoch {epoch['epoch']}: "
            f"{_divergence(epoch, losses_finite, weights_finite)}. "
            f"Training stopped, keeping the weights of epoch "
            f"{self.last_finite_epoch_}, the last finite one (epoch 0 is the "
            "initialisation). A lower learning_rate, or scaled inputs and "
            "targets, usually avoid this.",
            NonFiniteLossWarning,
            stacklevel=2,
        )
        raise StopTraining

    def on_train_end(self, net, **kwargs):
        # Keep the epoch number, drop the weights (a model-sized copy).
        self.snapshots_ = [(epoch, None) for epoch, _ in self.snapshots_[-1:]]
        self._buffers = None


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


def _divergence(epoch, losses_finite: bool, weights_finite: bool) -> str:
    """What became non-finite in ``epoch`` (a history record)."""
    if not losses_finite:
        return (
            "the loss became non-finite ("
            + ", ".join(
                f"{key} {epoch[key]}"
                for key in ("train_loss", "valid_loss")
                if key in epoch and not math.isfinite(epoch[key])
            )
            + ")"
        )
    if not weights_finite:
        return "the weights became non-finite (the losses were still finite)"
    return "the loss or the weights became non-finite in another process"


def _all_processes_agree(net, flag: bool) -> bool:
    agree = getattr(net, "all_processes_agree", None)  # plain skorch nets lack it
    return flag if agree is None else agree(flag)


def _predicts_finitely(net, dataset) -> bool:
    rows = dataset[: net.batch_size][0]
    rows = standard_inputs(getattr(net, "_standardization", None), rows)
    net.module_.eval()
    with torch.no_grad():
        return bool(torch.isfinite(net.infer(rows)).all())


def _on_cpu(module: torch.nn.Module) -> bool:
    parameter = next(module.parameters(), None)
    return parameter is None or parameter.device.type == "cpu"


class TrainingNet(NeuralNet):
    """The skorch net under the estimators: skorch's loop, extended only
    through its public hooks (``train_step``, ``train_step_single``,
    ``validation_step``, ``evaluation_step``, ``fit_loop``, ``notify``).

    Earlier versions also overrode skorch's private per-batch methods (the
    train/eval flags, tensor conversions, the optimizer closure, a copy of
    ``run_single_epoch``). Measured against them in the same fresh processes
    (n = 2,000 x 942 -> 952, TAAF 300 x 300, batch 64, 1 CPU thread, epochs
    1-3, the two versions and a raw loop interleaved): this version's time
    over theirs was 0.998 (median of 18 pairs), so they were dropped; the
    speed of the estimators comes from :class:`BatchIterator`. (Timed alone,
    skorch's per-batch ``module.train()`` and ``get_len`` cost about 0.2 ms
    per batch on a loaded machine: ~1% of a batch of 64 through 300-wide
    layers, below what the paired benchmark resolves.)

    ``mixed_precision`` (``"bf16"`` or ``"fp16"``) runs the forward passes and
    the loss under ``torch.autocast``; ``"fp16"`` also scales the loss with a
    ``torch.amp.GradScaler`` (``grad_scaler_``), which unscales the gradients
    before ``on_grad_computed`` callbacks see them and skips the steps whose
    gradients overflowed. With ``None`` (the default) none of this runs.
    ``compile=True`` (skorch's option) compiles the network, not the loss.

    A network built with ``standardize=True`` is trained in standard units
    (see :mod:`sktaaf._units`): each batch's inputs and targets are
    standardised as the step receives them, outside autograd, the network
    skips its own maps, and the loss compares standard-unit outputs with
    standard-unit targets. The steps' ``y_pred`` (which callbacks receive)
    are mapped back to the targets' units, without gradients.
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
        if name in self._criteria:
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
            # batch in many process states (see sktaaf._malloc).
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
        if isinstance(y_true, tuple):  # (targets, sample weights)
            return weighted_loss(self.criterion_, y_pred, *y_true)
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
