"""``checkpoint_dir``: where a fit keeps its training state, and finds it again.

A fit's checkpoint is identified by its *fingerprint* (the estimator class,
the parameters that shape the result, and the data) and by where the run
started (a fresh network, or a fitted one continued with ``warm_start``).

Several fits may share one folder, one after another or at the same time
(the fits of a grid search): the first fit to use the folder keeps its
checkpoint in ``checkpoint.pt``; a fit of other parameters or data, or one
that finds another fit training in the folder, keeps its own in
``<key>/checkpoint.pt``, ``key`` drawn from its fingerprint. A fit holds an
exclusive lock on the folder of its checkpoint while it trains (where the
platform has ``fcntl``), so no two fits write one file.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path

import joblib
from skorch.callbacks import Callback

from .._engine._state import TrainingState, best_epoch, get_rng_state
from ..exceptions import CheckpointWarning
from ._format import SavedModel, encode_metadata, read_file, write_state

try:
    import fcntl
except ImportError:  # Windows: no lock
    fcntl = None

CHECKPOINT_NAME = "checkpoint.pt"


# The names under which the estimators were fingerprinted when checkpoints
# began: a class that moves to another module keeps its fits' checkpoints.
_FINGERPRINT_NAMES = {
    "sktaaf._taaf_regressor.TAAFRegressor": "sktaaf._taaf.TAAFRegressor",
    "sktaaf._dgex_regressor.DGEXRegressor": "sktaaf._dgex.DGEXRegressor",
}


def fingerprint(estimator_class: type, params: dict, X, y, sample_weight=None) -> str:
    """Identify the estimator class, its parameters (those that change the
    fit) and the data a checkpoint belongs to: a hash of the class's name, the
    parameters, the shapes, every ``step``-th row of ``X`` and ``y`` (about
    1,024 rows: cheap on data of any size) and all the sample weights."""
    name = f"{estimator_class.__module__}.{estimator_class.__qualname__}"
    name = _FINGERPRINT_NAMES.get(name, name)
    step = max(1, X.shape[0] // 1024)
    data = (X.shape, y.shape, X[::step], y[::step])
    if sample_weight is not None:  # all of them: one number per sample
        data = (*data, sample_weight)
    return joblib.hash((name, params, *data))


class CheckpointFolder:
    """The checkpoint of one fit in ``folder``, locked while the fit trains.

    Use as a context manager: on entry it picks the file (see the module
    docstring), locks its folder and reads the state to resume from into
    ``state`` (None when there is none for this run).
    """

    def __init__(self, folder, fingerprint: str, epochs_at_start: int, start_digest):
        self.folder = Path(folder)
        self.fingerprint = fingerprint
        self.epochs_at_start = epochs_at_start
        self.start_digest = start_digest
        self.path = None
        self.state = None
        self._lock = None

    def __enter__(self) -> CheckpointFolder:
        try:
            self._open()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        own = self.folder / self.fingerprint[:16]
        if (own / CHECKPOINT_NAME).is_file():
            self._use(own)
            return
        self._lock = _try_lock(self.folder)
        if self._lock is None:  # another fit is training in the folder now
            self._use(own)
            return
        top = self.folder / CHECKPOINT_NAME
        found = self._read(top)
        if found is not None and found[1] != self.fingerprint:
            _unlock(self._lock)
            self._lock = None
            self._use(own)
            warnings.warn(
                f"The checkpoint {str(top)!r} belongs to other parameters or "
                f"data; this fit keeps its own in {str(self.path)!r}.",
                CheckpointWarning,
                stacklevel=5,
            )
            return
        self.path = top
        self.state = self._matching(found)

    def __exit__(self, *exc_info) -> None:
        if self._lock is not None:
            _unlock(self._lock)
            self._lock = None

    def _use(self, folder: Path) -> None:
        folder.mkdir(exist_ok=True)
        self._lock = _try_lock(folder)
        if self._lock is None:
            raise RuntimeError(
                f"Another fit of the same parameters and data is training with "
                f"the checkpoint in {str(folder)!r} now; wait for it to finish "
                "or give this fit another checkpoint_dir."
            )
        self.path = folder / CHECKPOINT_NAME
        found = self._read(self.path)
        self.state = None if found is None else self._matching(found)

    def _read(self, path: Path):
        """``(state, fingerprint)`` of the checkpoint at ``path``; None, with
        a warning, if it cannot be used (absent, unreadable, damaged)."""
        if not path.is_file():
            return None
        try:
            payload, metadata = read_file(path)  # its checksum verified
            fingerprint = metadata.get("checkpoint", {}).get("fingerprint")
            state = TrainingState.from_payload(payload, metadata, repr(str(path)))
        except (ValueError, AttributeError) as exc:
            warnings.warn(
                f"Ignoring an unreadable checkpoint; training starts afresh and "
                f"will overwrite it: {exc}",
                CheckpointWarning,
                stacklevel=6,
            )
            return None
        return state, fingerprint

    def _matching(self, found):
        """The state found, if it is this fit's and starts where it does."""
        if found is None or found[1] != self.fingerprint:
            return None
        state = found[0]
        if (state.epochs_at_start, state.start_digest) != (
            self.epochs_at_start,
            self.start_digest,
        ):  # another run of this training (warm_start): overwritten
            return None
        return state

    def callback(self, model: SavedModel, device: str) -> EpochCheckpoint:
        """The callback writing this fit's checkpoint after every epoch: the
        file of ``model`` (its state taken from the net)."""
        model = dataclasses.replace(model, checkpoint={"fingerprint": self.fingerprint})
        with warnings.catch_warnings():
            # A resumed fit takes random_state from the estimator, not from
            # the checkpoint: that it is not saved there does not matter.
            warnings.filterwarnings("ignore", "random_state is a RandomState")
            metadata = encode_metadata(model)
        return EpochCheckpoint(
            self.path,
            metadata,
            device,
            epochs_at_start=self.epochs_at_start,
            start_digest=self.start_digest,
        ).initialize()


def _try_lock(folder: Path):
    """An exclusive lock on ``folder`` (an open descriptor), or None if
    another fit holds it. The system drops it if the process dies."""
    if fcntl is None:
        return -1
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(descriptor)
        return None
    return descriptor


def _unlock(descriptor: int) -> None:
    if descriptor >= 0:
        os.close(descriptor)  # releases the lock


class EpochCheckpoint(Callback):
    """Write the training state to ``path`` after every epoch.

    The file is a model file (see :mod:`sktaaf._persistence._format`) whose metadata
    also say which data and parameters it belongs to and how far training got,
    so that a fit killed at any point resumes from the last finished epoch.
    After a fit that ends normally it holds the final model, marked complete;
    after a Ctrl-C it keeps the last finished epoch.
    """

    def __init__(self, path, metadata: dict, device: str, **run):
        self.path = path
        self.metadata = metadata
        self.device = device
        self.run = run

    def on_epoch_end(self, net, **kwargs):
        self._write(net, complete=False)

    def on_train_end(self, net, **kwargs):
        if not getattr(net, "interrupted_", False):
            self._write(net, complete=True)

    def _write(self, net, complete: bool) -> None:
        if not getattr(net, "is_main_process", True):
            return  # one writer when processes train together
        stopping = dict(net.callbacks_).get("early_stopping")
        state = TrainingState.from_net(
            net,
            get_rng_state(self.device),
            best_epoch(net),
            early_stopping=None if stopping is None else stopping.state(),
            best_module=None if stopping is None else stopping.best_model_weights_,
            complete=complete,
            **self.run,
        )
        write_state(self.path, self.metadata, state)
