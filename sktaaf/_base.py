"""Shared machinery of the network regressors: validation, device, skorch wiring."""

from __future__ import annotations

import contextlib
import copy
import warnings
from abc import ABCMeta, abstractmethod

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback

from ._data._batches import BatchIterator, ShuffledSplit, pad_rows, training_data
from ._data._rows import as_rows, as_tensor
from ._data._targets import as_frame as predictions_frame
from ._data._validation import (
    check_split_weights,
    validate_predict_data,
    validate_training_data,
)
from ._engine._accelerate import AcceleratedTrainingNet, net_params, shared_random_state
from ._engine._callbacks import BestEpochStopping, FiniteLossGuard
from ._engine._linear_path import fit_blend, init_linear_path
from ._engine._net import TrainingNet, as_float32, autocast, unwrap_module
from ._engine._progress import print_log, progress_callbacks
from ._engine._scores import validation_scores
from ._engine._state import (
    RestoreState,
    TrainingState,
    best_epoch,
    digest,
    finished_epochs,
    get_rng_state,
)
from ._params import NetworkParameters, explain_out_of_memory
from ._persistence._checkpoint import CheckpointFolder, fingerprint
from ._persistence._checks import RUN_ONLY_PARAMS
from ._save_load import SaveLoadMixin
from ._utils._compat import fit_context
from ._utils._random import isolated_torch_rng
from .exceptions import TrainingInterruptedWarning

# Rows per forward pass in predict: large batches amortise per-call overhead
# (more so on a GPU, where a forward pass of 4,096 rows is mostly launches).
_MIN_PREDICT_BATCH_SIZE = 4096
_MIN_CUDA_PREDICT_BATCH_SIZE = 16384
# Predict pads each batch to a multiple of this many rows. CPU GEMM kernels
# compute rows in small tiles and treat a ragged last tile differently, so
# without padding a sample's prediction would change in its last bits with the
# number of samples predicted alongside it.
_PREDICT_ROW_MULTIPLE = 8


def _finish_copy(y_pred, start, host, done) -> None:
    done.synchronize()
    y_pred[start : start + len(host)] = host.numpy()


class BaseNetworkRegressor(
    NetworkParameters, SaveLoadMixin, RegressorMixin, BaseEstimator, metaclass=ABCMeta
):
    """Base class of the network regressors; not for direct use.

    Subclasses define ``__init__`` (with their own defaults) and
    ``_make_network(n_features, n_outputs, hidden_layer_sizes)``.
    """

    @abstractmethod
    def _make_network(
        self, n_features: int, n_outputs: int, hidden_layer_sizes: tuple[int, ...]
    ) -> torch.nn.Module:
        """The untrained network mapping ``n_features`` inputs to ``n_outputs``
        through hidden layers of ``hidden_layer_sizes`` neurons."""

    def _validation_split(self, n_samples: int, rng: np.random.RandomState):
        n_valid = int(np.ceil(self.validation_fraction * n_samples))
        if n_samples - n_valid < 1:
            raise ValueError(
                f"early_stopping=True holds out validation_fraction="
                f"{self.validation_fraction} of the data, which leaves no training "
                f"sample from n_samples = {n_samples}. Provide more samples or set "
                "early_stopping=False."
            )
        order = rng.permutation(n_samples)
        return ShuffledSplit(np.sort(order[:n_valid]), np.sort(order[n_valid:]))

    # --------------------------------------------------------------- training
    def _make_callbacks(self) -> list:
        callbacks = [("finite_loss_guard", FiniteLossGuard())]
        if self.early_stopping:
            callbacks.append(
                (
                    "early_stopping",
                    BestEpochStopping(
                        monitor="valid_loss",
                        patience=self.n_iter_no_change,
                        threshold=0.0,
                        load_best=True,
                    ),
                )
            )
        callbacks.extend(progress_callbacks(self.verbose))  # a bar on terminals
        # Copies: skorch initialises callbacks in place, and fit must leave the
        # estimator's parameters untouched.
        for entry in self.callbacks or []:
            callback = (
                entry[1] if isinstance(entry, tuple) and len(entry) == 2 else entry
            )
            if not isinstance(callback, Callback):
                raise TypeError(
                    "The 'callbacks' parameter must hold skorch callbacks (or "
                    f"(name, callback) pairs); got {entry!r}."
                )
        callbacks.extend(copy.deepcopy(list(self.callbacks or [])))
        return callbacks

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the network on ``X`` and ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data (landmark genes). Converted once to float32; a SciPy
            sparse matrix stays sparse (as CSR) and is densified one batch at
            a time.
        y : {array-like, sparse matrix} of shape (n_samples,) or \
                (n_samples, n_outputs)
            Targets (target genes). Converted once to float32. When ``y`` is a
            pandas DataFrame, its column names become ``target_names_``.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample in the loss: each batch's loss
            is the weighted mean, over its samples, of each sample's mean loss
            over the targets, normalised by the sum of the batch's weights (the
            validation loss of early stopping is weighted alike). Only the
            relative weights matter (they are divided by their mean). Weights
            that are all equal weigh like none (the same fit, bit for bit).
            Needs a loss with a ``reduction`` argument (``"mae"``, ``"mse"``
            or a ``torch.nn`` loss).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        hidden_layer_sizes = self._check_params()
        # Validated before any data work.
        device = self._training_device(self._optimizer_class())
        warm = self.warm_start and hasattr(self, "net_")
        X, y, sample_weight = validate_training_data(  # row sources
            self, X, y, sample_weight, reset=not warm
        )
        target_is_1d = y.ndim == 1
        n_targets = 1 if target_is_1d else y.shape[1]
        if warm and n_targets != self.n_outputs_:
            raise ValueError(
                f"y has {n_targets} targets, but {type(self).__name__} was fitted "
                f"with {self.n_outputs_}; warm_start=True continues training the "
                "same network."
            )
        self._check_network(self.n_features_in_, n_targets, hidden_layer_sizes, device)
        self._target_is_1d = target_is_1d
        self.n_outputs_ = n_targets

        random_state = self.random_state
        if self.accelerator is not None:  # processes must draw alike
            random_state = shared_random_state(self.accelerator, random_state)
        rng = check_random_state(random_state)
        n_samples = self.n_samples_fit_ = X.shape[0]
        split = self._validation_split(n_samples, rng) if self.early_stopping else None
        check_split_weights(split, sample_weight, self.validation_fraction)
        torch_seed, shuffle_seed = (int(s) for s in rng.randint(2**31 - 1, size=2))

        folder = self._checkpoint_folder(X.array, y.array, warm, sample_weight)
        with folder as checkpoint:
            state = self._initial_state(checkpoint, warm)
            data = training_data(X, y, sample_weight, device)
            # Seed torch (weights, dropout) without leaving its global state changed,
            # nor sharing it with fits in other threads (see sktaaf._utils._random).
            cuda = device.startswith("cuda")
            fork_devices = [torch.device(device).index or 0] if cuda else []
            with isolated_torch_rng(fork_devices):
                torch.manual_seed(torch_seed)
                module = self._make_network(
                    self.n_features_in_, self.n_outputs_, hidden_layer_sizes
                )
                if getattr(module, "standardize", False) and state is None:
                    module.set_standardization(
                        *X.column_statistics(sample_weight),
                        *y.column_statistics(sample_weight),
                    )
                if getattr(module, "linear_path_mode", None) and state is None:
                    init_linear_path(module, X, y, sample_weight, split)
                if self.accelerator is not None and self.accelerator.num_processes > 1:
                    # The same weights everywhere, but each its own dropout masks.
                    torch.manual_seed(torch_seed + self.accelerator.process_index)
                generator = torch.Generator().manual_seed(shuffle_seed)
                if state is not None:  # continue the weights, and (as training
                    # begins) the optimizer, the history and both random streams
                    self._restore_weights(module, state)
                if getattr(module, "linear_path_mode", None) == "blend":
                    module.reset_blend()  # the layers alone, until trained
                net = self._build_net(module, device, split, generator, state)
                if checkpoint is not None:
                    model = self._saved_model(device)
                    callback = checkpoint.callback(model, device)
                    net.callbacks_.append(("checkpoint", callback))
                best, rng_state = self._train(net, data, state, device)
                valid = None if split is None else split.valid_indices
                fit_blend(module, X, y, sample_weight, shuffle_seed, valid)
        self._set_fitted(net, device, best, rng_state)
        if split is not None:  # each gene's scores on the held-out rows
            self.target_scores_ = validation_scores(
                lambda chunk: self._predict_validated(as_rows(chunk)),
                X, y, split.valid_indices, sample_weight,
                getattr(self, "target_names_", None),
            )  # fmt: skip
        if getattr(net, "interrupted_", False):
            self._warn_interrupted()
        return self

    def _train(self, net, data, state, device) -> tuple[int, list]:
        """Train ``net`` for what is left of ``max_epochs`` from ``state``;
        return the epoch whose weights it ends with, and torch's random state.

        A run that had ended is not trained again; one with no epoch left
        (killed between its last epoch and its end) only ends."""
        if state is not None and state.complete:
            state.apply(net)
            return state.best_epoch, state.rng_state
        epochs = self.max_epochs
        if state is not None:
            epochs -= len(state.history) - state.epochs_at_start
        with explain_out_of_memory(self, device, "training"):
            net.partial_fit(data, epochs=max(epochs, 0))
        return best_epoch(net), get_rng_state(device)

    def _set_fitted(
        self, net, device: str, best: int, rng_state, target_scores=None
    ) -> None:
        """Set the fitted attributes of training: at the end of ``fit``, and
        of ``load``."""
        self.target_scores_ = target_scores
        net.module_.eval()
        self.net_ = net
        self.module_ = unwrap_module(net.module_)
        self.history_ = net.history_
        self.device_ = device
        self.n_iter_ = finished_epochs(net.history_)
        self.best_epoch_ = int(best)
        self._rng_state = list(rng_state)

    def _warn_interrupted(self) -> None:
        n_epochs = len(self.history_)
        last = self.history_[-1] if n_epochs else {}
        cut_short = (
            f", after {self.n_iter_} finished epochs and "
            f"{last['train_batch_count']} batches of the last"
            if last.get("interrupted")
            else ""
        )
        warnings.warn(
            f"fit was interrupted at epoch {n_epochs}{cut_short}; the "
            f"estimator keeps the weights of epoch {self.best_epoch_} and can "
            "predict. Fit with warm_start=True to continue training.",
            TrainingInterruptedWarning,
            stacklevel=4,  # the caller of fit, past sklearn's fit wrapper
        )

    def _build_net(
        self, module, device, split=None, generator=None, state=None
    ) -> TrainingNet:
        """The initialised skorch net that trains ``module`` with our settings,
        continuing ``state`` (a :class:`~sktaaf._engine._state.TrainingState`) when
        training begins."""
        training_device, net_class, options = device, TrainingNet, {}
        # Options are passed only when used: with none, this is plain skorch
        # with a leaner loop (see TrainingNet).
        if self.mixed_precision is not None:
            options["mixed_precision"] = self.mixed_precision
        if self._compiles():
            options["compile"] = True
            if isinstance(self.compile, dict):
                options.update(
                    {f"compile__{key}": value for key, value in self.compile.items()}
                )
        if self.accelerator is not None:
            net_class = AcceleratedTrainingNet
            options.update(net_params(self.accelerator, self.batch_size, self.verbose))
            if self.accelerator.device_placement:
                device = None  # the accelerator places the network
        net = net_class(
            module=module,
            criterion=self._criterion(),
            optimizer=self._optimizer_class(),
            lr=self.learning_rate,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train=BatchIterator,
            iterator_train__shuffle=True,
            iterator_train__generator=generator,
            iterator_valid=BatchIterator,
            train_split=split,
            callbacks=self._make_callbacks(),
            callbacks__print_log=print_log(self.verbose),  # plain lines in logs
            device=device,
            verbose=int(self.verbose),
            **{
                f"optimizer__{key}": value
                for key, value in (self.optimizer_kwargs or {}).items()
            },
            **options,
        ).initialize()
        if state is not None and not state.complete:
            # First: the callbacks after it start from the restored state.
            restore = RestoreState(state, training_device).initialize()
            net.callbacks_.insert(0, ("restore_state", restore))
        return net

    def _checkpoint_folder(self, X, y, warm: bool, sample_weight=None):
        """The context in which this fit reads and writes its checkpoint: a
        locked :class:`~sktaaf._persistence._checkpoint.CheckpointFolder`, or None."""
        if self.checkpoint_dir is None:
            return contextlib.nullcontext()
        if warm:  # this run continues the fitted network: from where it is
            start = len(self.history_), digest(self.module_.state_dict())
        else:
            start = 0, None
        fingerprint = self._fingerprint(X, y, sample_weight)
        return CheckpointFolder(self.checkpoint_dir, fingerprint, *start)

    def _fingerprint(self, X, y, sample_weight=None) -> str:
        """Identify the estimator class, parameters and data a checkpoint
        belongs to."""
        params = self.get_params(deep=False)
        for name in (*RUN_ONLY_PARAMS, "verbose", "warm_start"):
            params.pop(name)
        return fingerprint(type(self), params, X, y, sample_weight)

    def _initial_state(self, checkpoint, warm: bool) -> TrainingState | None:
        """The state this fit continues from: its checkpoint's, else (with
        ``warm_start``) the fitted network's, else none (a new network)."""
        if checkpoint is not None and checkpoint.state is not None:
            return checkpoint.state
        if not warm:
            return None
        same_optimizer = type(self.net_.optimizer_) is self._optimizer_class()
        return TrainingState.from_net(
            self.net_,
            self._rng_state,
            self.best_epoch_,
            optimizer=same_optimizer,
            copy_optimizer=True,  # the fitted estimator's stays as it is
            epochs_at_start=len(self.history_),
        )

    def _restore_weights(self, module, state: TrainingState) -> None:
        try:
            state.load_weights(module)
        except RuntimeError as exc:
            raise ValueError(
                "warm_start=True continues training the fitted network, but the "
                "parameters now describe a network of another shape (was "
                "hidden_layer_sizes or output_activation changed?). Set "
                "warm_start=False to train a new network."
            ) from exc

    # ------------------------------------------------------------- prediction
    def predict(self, X, *, as_frame=False):
        """Predict targets for ``X``, in batches and without gradients.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data; a SciPy sparse matrix is densified one batch at a time.
        as_frame : bool, default=False
            Return a pandas DataFrame (a Series for a 1-D target) indexed like
            ``X`` (when ``X`` is a DataFrame) whose columns are
            ``target_names_`` (0, 1, ... when ``y`` had no column names),
            instead of an array.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions, of X's floating dtype (float32 or float64), and 1-D when
            the estimator was fitted on a 1-D ``y``; a DataFrame or Series with
            ``as_frame=True``.
        """
        check_is_fitted(self)
        frame_index = X
        X, dtype = validate_predict_data(self, X)  # a row source
        y_pred = self._predict_validated(X).astype(dtype, copy=False)
        y_pred = y_pred.ravel() if self._target_is_1d else y_pred
        return predictions_frame(self, y_pred, frame_index) if as_frame else y_pred

    def _predict_validated(self, X) -> np.ndarray:
        """The float32 predictions (n_samples, n_outputs_) for validated ``X``
        (a row source, :class:`~sktaaf._data._rows.Rows`)."""
        y_pred = np.empty((X.shape[0], self.n_outputs_), dtype=np.float32)
        module = self.net_.module_  # compiled, with compile=True
        was_training = module.training
        module.eval()
        try:
            with (
                explain_out_of_memory(self, self.device_, "prediction"),
                torch.inference_mode(),
                autocast(self.device_, self.mixed_precision),
            ):
                self._predict_into(y_pred, X, module)
        finally:
            module.train(was_training)
        return y_pred

    def _predict_into(self, y_pred, X, module) -> None:
        """Fill ``y_pred`` with the predictions of ``module`` for ``X``, batch
        by batch.

        On CUDA, batches travel through pinned memory, asynchronously: the CPU
        reads and checks the next batch while the GPU computes this one.
        """
        device = self.device_
        cuda = str(device).startswith("cuda")
        batch_size = max(
            self.batch_size,
            _MIN_CUDA_PREDICT_BATCH_SIZE if cuda else _MIN_PREDICT_BATCH_SIZE,
        )
        pending = None  # on CUDA: the batch being computed and copied back
        for start in range(0, X.shape[0], batch_size):
            chunk = X.read(start, start + batch_size)
            if not np.isfinite(chunk).all():  # e.g. 1e39 in float64 input
                raise ValueError(
                    "Input X contains infinity or a value too large for "
                    "dtype('float32')."
                )
            # Padded rows keep each sample's prediction independent of the
            # batch it is computed in (see _PREDICT_ROW_MULTIPLE).
            inputs = as_tensor(pad_rows(chunk, _PREDICT_ROW_MULTIPLE))
            if not cuda:
                output = module(inputs.to(device))[: len(chunk)]
                y_pred[start : start + len(chunk)] = as_float32(output).cpu().numpy()
                continue
            output = module(inputs.pin_memory().to(device, non_blocking=True))
            output = as_float32(output[: len(chunk)])
            host = torch.empty(output.shape, dtype=torch.float32, pin_memory=True)
            host.copy_(output, non_blocking=True)
            done = torch.cuda.current_stream(device).record_event()
            if pending is not None:
                _finish_copy(y_pred, *pending)
            pending = (start, host, done)
        if pending is not None:
            _finish_copy(y_pred, *pending)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True
        return tags
