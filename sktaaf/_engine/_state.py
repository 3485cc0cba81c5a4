"""The state a fit continues from: one type, and one callback that restores it.

A :class:`TrainingState` holds everything that training carries over besides
the network's shape: the weights, the optimizer and loss-scale states, both
random streams, the history, early stopping's progress, and where the run
started. It is built from a trained skorch net (:meth:`TrainingState.from_net`)
or from a model file (:meth:`TrainingState.from_payload`), written to one
(:meth:`TrainingState.to_payload`), and restored into a new net by
:class:`RestoreState`, a callback in the style of skorch's ``LoadInitState``.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass

import torch
from skorch.callbacks import Callback
from skorch.history import History

from .._utils._compat import restore_early_stopping
from ._net import unwrap_module


def get_rng_state(device: str) -> list:
    """The state of torch's random stream on ``device`` (dropout masks)."""
    if device.startswith("cuda"):
        return [torch.get_rng_state(), torch.cuda.get_rng_state(device)]
    return [torch.get_rng_state()]


def set_rng_state(state: list, device: str) -> None:
    torch.set_rng_state(state[0])
    if device.startswith("cuda") and len(state) > 1:
        torch.cuda.set_rng_state(state[1], device)


def finished_epochs(history) -> int:
    """The epochs of ``history`` that ran to their end: all but one that a
    Ctrl-C cut short (marked ``interrupted``)."""
    return sum(not record.get("interrupted", False) for record in history)


def digest(value) -> str:
    """SHA-256 of ``value`` (nested dicts, lists, tensors and JSON values):
    the tensors' dtypes, shapes and bytes, and everything else as JSON."""
    sha = hashlib.sha256()
    _update(sha, value)
    return sha.hexdigest()


def _update(sha, value) -> None:
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous().reshape(-1)
        sha.update(f"T{tensor.dtype}{tuple(value.shape)}".encode())
        sha.update(tensor.view(torch.uint8).numpy())  # no copy
    elif isinstance(value, dict):
        sha.update(f"{{{len(value)}".encode())
        for key in sorted(value, key=repr):
            sha.update(repr(key).encode())
            _update(sha, value[key])
    elif isinstance(value, list | tuple):
        sha.update(f"[{len(value)}".encode())
        for item in value:
            _update(sha, item)
    else:
        sha.update(b"J" + json.dumps(value, sort_keys=True).encode())


def best_epoch(net) -> int:
    """The epoch whose weights ``net`` holds at the end of training: early
    stopping's best, the last finite one after a divergence, else the last."""
    callbacks = dict(net.callbacks_)
    stopping = callbacks.get("early_stopping")
    if stopping is not None:
        return int(stopping.best_epoch_)
    guard = callbacks.get("finite_loss_guard")
    if guard is not None and getattr(guard, "diverged_", False):
        return int(guard.last_finite_epoch_)
    return len(net.history_)


def _to_cpu(state):
    if isinstance(state, torch.Tensor):
        return state.detach().cpu()
    if isinstance(state, dict):
        return {key: _to_cpu(value) for key, value in state.items()}
    if isinstance(state, list | tuple):
        return type(state)(_to_cpu(value) for value in state)
    return state


@dataclass
class TrainingState:
    """Everything a fit continues from, besides the network's shape.

    Attributes
    ----------
    module : dict
        The network's state dict, under the names of the unwrapped network.
    optimizer : dict or None
        The optimizer's state dict (None: the optimizer starts afresh).
    rng_state : list of Tensor
        torch's random stream (CPU, and CUDA when training there).
    generator_state : Tensor
        The state of the generator drawing the batches.
    history : list of dict
        The per-epoch records of the training so far.
    best_epoch : int
        The epoch whose weights ``module`` holds once training ended.
    grad_scaler : dict or None
        The loss scale of ``mixed_precision="fp16"``.
    early_stopping : dict or None
        Early stopping's progress (``misses``, ``threshold``, ``best_epoch``).
    best_module : dict or None
        Early stopping's copy of the best weights, while training goes on.
    epochs_at_start : int
        The length of the history when this run of ``fit`` began.
    start_digest : str or None
        The :func:`digest` of the weights this run began from, when it
        continued a fitted network (``warm_start``).
    complete : bool
        Whether this run of ``fit`` ended (else it was cut short).
    """

    module: dict
    optimizer: dict | None
    rng_state: list
    generator_state: torch.Tensor
    history: list
    best_epoch: int
    grad_scaler: dict | None = None
    early_stopping: dict | None = None
    best_module: dict | None = None
    epochs_at_start: int = 0
    start_digest: str | None = None
    complete: bool = False

    @classmethod
    def from_net(
        cls, net, rng_state, best_epoch, *, optimizer=True, copy_optimizer=False, **run
    ):
        """The state of the skorch ``net`` (``run``: the other fields).

        Its tensors may be ``net``'s own; ``copy_optimizer`` copies the
        optimizer's, which training from this state would otherwise update in
        place (torch's optimizers adopt the tensors they load).
        """
        scaler = getattr(net, "grad_scaler_", None)
        optimizer_state = None
        if optimizer:
            optimizer_state = _to_cpu(net.optimizer_.state_dict())
            if copy_optimizer:
                optimizer_state = copy.deepcopy(optimizer_state)
        return cls(
            # The network's own names, whether training compiled or wrapped it.
            module=_to_cpu(unwrap_module(net.module_).state_dict()),
            optimizer=optimizer_state,
            rng_state=[state.cpu() for state in rng_state],
            generator_state=net.iterator_train__generator.get_state(),
            # Epoch records only: per-batch records would dwarf the weights.
            history=[
                {key: value for key, value in record.items() if key != "batches"}
                for record in net.history_
            ],
            best_epoch=int(best_epoch),
            grad_scaler=None if scaler is None else scaler.state_dict(),
            **run,
        )

    def to_payload(self) -> tuple[dict, dict]:
        """The tensors, and the JSON-able entries, of a model file."""
        tensors = {
            "module": self.module,
            "optimizer": self.optimizer,
            "rng_state": self.rng_state,
            "generator_state": self.generator_state,
        }
        if self.grad_scaler is not None:  # the loss scale, as numbers
            tensors["grad_scaler"] = self.grad_scaler
        if self.best_module is not None:
            tensors["best_module"] = _to_cpu(self.best_module)
        metadata = {
            "history": self.history,
            "fitted": {
                "best_epoch_": self.best_epoch,
                "n_iter_": finished_epochs(self.history),
            },
            "state": {
                "epochs_at_start": self.epochs_at_start,
                "start_digest": self.start_digest,
                "complete": self.complete,
                "early_stopping": self.early_stopping,
            },
        }
        return tensors, metadata

    @classmethod
    def from_payload(cls, payload: dict, metadata: dict, source: str):
        """The state in a model file's ``payload`` and ``metadata``; a
        ValueError naming ``source`` and the entry when one is missing."""
        try:
            run = metadata.get("state", {})  # absent from files of version 1
            return cls(
                module=payload["module"],
                optimizer=payload["optimizer"],
                rng_state=list(payload["rng_state"]),
                generator_state=payload["generator_state"],
                history=list(metadata["history"]),
                best_epoch=int(metadata["fitted"]["best_epoch_"]),
                grad_scaler=payload.get("grad_scaler") or None,
                early_stopping=run.get("early_stopping"),
                best_module=payload.get("best_module"),
                epochs_at_start=int(run.get("epochs_at_start", 0)),
                start_digest=run.get("start_digest"),
                complete=bool(run.get("complete", True)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(
                f"{source} is not a readable sktaaf model file: the entry {exc} "
                "is missing or damaged."
            ) from exc

    def load_weights(self, module: torch.nn.Module) -> None:
        """Load the weights into ``module`` (RuntimeError if shapes differ)."""
        module.load_state_dict(self.module)

    def apply(self, net) -> None:
        """Restore the optimizer, the loss scale, the batch order and the
        history into the initialised ``net`` (whose network already holds the
        weights, see :meth:`load_weights`)."""
        net.history_ = History([dict(record) for record in self.history])
        if self.optimizer is not None:
            # torch's optimizers adopt the tensors they are given (on their
            # device) and update them in place: see from_net's copy.
            net.optimizer_.load_state_dict(self.optimizer)
        scaler = getattr(net, "grad_scaler_", None)
        if scaler is not None and self.grad_scaler:
            scaler.load_state_dict(self.grad_scaler)
        net.iterator_train__generator.set_state(self.generator_state)


class RestoreState(Callback):
    """Restore a :class:`TrainingState` into the net it trains, as skorch's
    ``LoadInitState`` restores a checkpoint.

    It must come first among the net's callbacks: the scoring callbacks read
    the restored history, and :class:`~sktaaf._engine._callbacks.FiniteLossGuard` the
    restored weights, when training begins. Early stopping resets itself when
    training begins, so its progress is restored afterwards, before the first
    epoch (or before training ends, when no epoch is left to run).
    """

    def __init__(self, state: TrainingState, device: str) -> None:
        self.state = state
        self.device = device

    def initialize(self):
        self.stopping_restored_ = False
        return self

    def on_train_begin(self, net, **kwargs):
        self.state.apply(net)
        set_rng_state(self.state.rng_state, self.device)

    def on_epoch_begin(self, net, **kwargs):
        self._restore_early_stopping(net)

    def on_train_end(self, net, **kwargs):
        self._restore_early_stopping(net)
        self.state = None  # a model-sized copy, no longer needed

    def _restore_early_stopping(self, net) -> None:
        if self.stopping_restored_:
            return
        self.stopping_restored_ = True
        stopping = dict(net.callbacks_).get("early_stopping")
        progress = self.state.early_stopping
        if stopping is None or progress is None:
            return
        weights = self.state.best_module
        if weights is not None:
            device = next(unwrap_module(net.module_).parameters()).device
            weights = {name: tensor.to(device) for name, tensor in weights.items()}
        restore_early_stopping(stopping, progress, weights)
