"""Training through Hugging Face accelerate (the optional ``accelerate`` extra).

The estimators' ``accelerator`` parameter trains with
:class:`AcceleratedTrainingNet`: skorch's ``AccelerateMixin`` over
:class:`~sktaaf._engine._net.TrainingNet`. The accelerator places the network,
wraps it for data-parallel training when several processes train together
(``accelerate launch``), and applies its own mixed precision.

The batches are not a ``DataLoader`` (which ``Accelerator.prepare`` would
shard); :class:`~sktaaf._data._batches.BatchIterator` shards them itself: every
process draws the same permutation and trains on its piece of each batch.
Validation is not sharded: each process scores the whole validation set, so
early stopping reaches the same decision everywhere.
"""

from __future__ import annotations

from numbers import Integral

import torch
from sklearn.utils import check_random_state
from skorch.hf import AccelerateMixin

from ._net import TrainingNet


class AcceleratedTrainingNet(AccelerateMixin, TrainingNet):
    """:class:`~sktaaf._engine._net.TrainingNet` trained through an
    ``accelerate.Accelerator``.

    After training, the network and the optimizer are unwrapped and the
    accelerator forgets them: an accelerator shared by many estimators (clones
    share it) would otherwise keep every network it trained alive.
    """

    def _initialize_accelerator(self):
        # Losses without trainable parameters are only moved to the device:
        # on several CPU processes accelerate wraps every module it prepares
        # in DistributedDataParallel, which refuses them, and they need
        # nothing else (the loss is computed under the accelerator's autocast).
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

    @property
    def is_main_process(self) -> bool:
        return self.accelerator.is_main_process

    def all_processes_agree(self, flag: bool) -> bool:
        if self.accelerator.num_processes == 1:
            return flag
        value = torch.tensor([float(flag)], device=self.accelerator.device)
        return bool(self.accelerator.gather(value).min() > 0)

    def __getstate__(self):
        state = super().__getstate__()
        if state["device"] is None:  # placed by the accelerator: say where
            state["device"] = str(self.accelerator.device)
        return state

    def on_train_end(self, net, X=None, y=None, **kwargs):
        prepared = [
            getattr(self, name + "_")
            for name in self._modules + self._criteria + self._optimizers
        ]
        super().on_train_end(net, X=X, y=y, **kwargs)
        for name in self._optimizers:
            setattr(self, name + "_", _unwrap_optimizer(getattr(self, name + "_")))
        _forget(self.accelerator, prepared)
        return self


def _unwrap_optimizer(optimizer):
    inner = getattr(optimizer, "optimizer", None)
    if not isinstance(inner, torch.optim.Optimizer):
        return optimizer
    # With loss scaling, accelerate leaves its own copy of the step method on
    # the optimizer; the class's is the same method, and pickles.
    original = getattr(optimizer, "_optimizer_original_step_method", None)
    if original is not None and vars(inner).get("step") == original:
        del inner.step
    return inner


def _forget(accelerator, objects) -> None:
    """Drop ``objects`` from the lists of everything ``accelerator`` prepared."""
    ids = {id(obj) for obj in objects}
    for name in ("_models", "_optimizers"):
        prepared = getattr(accelerator, name, None)
        if isinstance(prepared, list):
            prepared[:] = [obj for obj in prepared if id(obj) not in ids]


def shared_random_state(accelerator, random_state):
    """``random_state`` as one seed shared by all processes of ``accelerator``.

    The processes must draw the same validation split and the same batch
    order; an int seeds them all alike, otherwise the main process draws a
    seed and sends it to the others.
    """
    if accelerator.num_processes == 1 or isinstance(random_state, Integral):
        return random_state
    from accelerate.utils import broadcast_object_list

    seed = [int(check_random_state(random_state).randint(2**31 - 1))]
    broadcast_object_list(seed, from_process=0)
    return seed[0]


def _quiet(text) -> None:
    """A print log sink printing nothing (skorch calls sinks other than
    ``print`` whatever the net's verbosity)."""


def net_params(accelerator, batch_size: int, verbose) -> dict:
    """skorch parameters of an :class:`AcceleratedTrainingNet`: the epoch log
    printed by the main process only, and the training batches sharded over
    the processes.

    As with accelerate's data loaders, ``batch_size`` is per process unless
    the accelerator splits batches (``split_batches=True``).
    """
    params = {
        "accelerator": accelerator,
        "callbacks__print_log__sink": accelerator.print if verbose else _quiet,
    }
    n_processes = accelerator.num_processes
    if n_processes > 1:
        split = getattr(accelerator, "split_batches", False)
        params.update(
            iterator_train__batch_size=batch_size * (1 if split else n_processes),
            iterator_train__num_replicas=n_processes,
            iterator_train__rank=accelerator.process_index,
        )
    return params
