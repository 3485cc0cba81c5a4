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

from .._utils._compat import (
    LossesPlacedByDevice,
    forget_prepared,
    optimizer_names,
    prepared_names,
    unwrap_optimizer,
)
from ._net import TrainingNet


class AcceleratedTrainingNet(LossesPlacedByDevice, AccelerateMixin, TrainingNet):
    """:class:`~sktaaf._engine._net.TrainingNet` trained through an
    ``accelerate.Accelerator``.

    Losses without trainable parameters are only moved to the accelerator's
    device (:class:`~sktaaf._utils._compat.LossesPlacedByDevice`). After
    training, the network and the optimizer are unwrapped and the accelerator
    forgets them: an accelerator shared by many estimators (clones share it)
    would otherwise keep every network it trained alive. What this needs of
    skorch's and accelerate's private members goes through
    :mod:`sktaaf._utils._compat`.
    """

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
        prepared = [getattr(self, name + "_") for name in prepared_names(self)]
        super().on_train_end(net, X=X, y=y, **kwargs)
        for name in optimizer_names(self):
            setattr(self, name + "_", unwrap_optimizer(getattr(self, name + "_")))
        forget_prepared(self.accelerator, prepared)
        return self


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
