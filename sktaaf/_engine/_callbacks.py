"""The callbacks every fit runs: early stopping that keeps the best weights,
and the guard that stops a diverging fit."""

from __future__ import annotations

import math
import warnings

import torch
from skorch.callbacks import Callback, EarlyStopping

from .._utils._compat import early_stopping_message, early_stopping_progress
from ..exceptions import NonFiniteLossWarning
from ._net import StopTraining, unwrap_module
from ._units import standard_inputs


class BestEpochStopping(EarlyStopping):
    """skorch's early stopping, restoring the best weights and then dropping
    its copy of them (it would otherwise double the size of a pickled model).

    A resumed fit restores its progress through
    :class:`~sktaaf._engine._state.RestoreState`. The progress and the
    messages use skorch's undocumented state and private sink, through
    :mod:`sktaaf._utils._compat`.
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
        return early_stopping_progress(self)

    def on_train_end(self, net, **kwargs):
        # skorch's, but loading into the unwrapped network.
        if (
            self.load_best
            and self.best_epoch_ != net.history[-1, "epoch"]
            and self.best_model_weights_ is not None
        ):
            unwrap_module(net.module_).load_state_dict(self.best_model_weights_)
            early_stopping_message(
                self,
                f"Restoring best model from epoch {self.best_epoch_}.",
                net.verbose,
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
        # made glibc's malloc trim and regrow its heap (see sktaaf._engine._malloc).
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
