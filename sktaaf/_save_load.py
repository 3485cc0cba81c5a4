"""Saving and loading the network estimators: what the estimator puts in a
model file, and how it rebuilds itself from one.

:mod:`sktaaf._persistence._format` reads, writes and validates the files and
knows nothing of the estimators: it takes and returns a
:class:`~sktaaf._persistence._format.SavedModel`, a plain description
(class name, parameters, fitted attributes, training state, scores).
:class:`SaveLoadMixin` (a mixin of
:class:`~sktaaf._base.BaseNetworkRegressor`) builds that description from the
estimator (:meth:`~SaveLoadMixin._saved_model`) and rebuilds a fitted
estimator from it (:meth:`~SaveLoadMixin._from_saved`): the parameters pass
``fit``'s own checks, and the network the parameters and fitted attributes
describe must match the saved weights' shapes before any weight is loaded.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from ._engine._net import unwrap_module
from ._engine._state import TrainingState
from ._persistence._checks import MAX_COUNT, invalid_field
from ._persistence._format import SavedModel, damage_named, read_model, write_model
from ._utils._compat import parameter_names, validate_parameters
from ._utils._device import is_available, resolve_device
from ._utils._random import isolated_torch_rng
from .exceptions import DeviceFallbackWarning, ParameterNotSavedWarning


def save_estimator(
    estimator, path, gene_symbols=None, target_row_metadata=None
) -> None:
    """Write the fitted network ``estimator`` to ``path`` (see
    :meth:`SaveLoadMixin.save`), with the optional ``gene_symbols``
    (``{"landmarks": [...], "targets": [...]}``) and ``target_row_metadata``
    (``{field: [one value per target]}``) that ``sktaaf fit`` records, checked
    by :func:`~sktaaf._persistence._checks.validate_metadata` when read."""
    check_is_fitted(estimator)
    if estimator.callbacks:
        warnings.warn(
            "callbacks are not saved; the loaded estimator has callbacks=None "
            "(they only matter for training).",
            ParameterNotSavedWarning,
            stacklevel=3,
        )
    state = TrainingState.from_net(
        estimator.net_, estimator._rng_state, estimator.best_epoch_, complete=True
    )
    model = estimator._saved_model(estimator.device_, state)
    model.target_scores = getattr(estimator, "target_scores_", None)
    model.gene_symbols = gene_symbols
    model.target_row_metadata = target_row_metadata
    write_model(path, model)


class SaveLoadMixin:
    """``save`` and ``load`` of the network estimators (and their pickling)."""

    def _saved_model(self, device: str, state=None) -> SavedModel:
        """The description of this estimator that a model file holds, on
        ``device``, with the training ``state`` (None: a checkpoint's, whose
        state comes from the net after each epoch); set once ``fit`` has
        validated the data."""
        names = getattr(self, "feature_names_in_", None)
        targets = getattr(self, "target_names_", None)
        return SavedModel(
            class_name=type(self).__name__,
            params=self.get_params(deep=False),
            fitted={
                "n_features_in_": self.n_features_in_,
                "feature_names_in_": None if names is None else names.tolist(),
                "n_outputs_": self.n_outputs_,
                "target_names_": None if targets is None else targets.tolist(),
                "target_is_1d": self._target_is_1d,
                "n_samples_fit_": getattr(self, "n_samples_fit_", None),
                "device_": device,
            },
            state=state,
        )

    def save(self, path) -> None:
        """Save the fitted estimator to ``path``, in a file safe to load.

        The file holds the weights, the optimizer state and the random streams
        as tensors, and the parameters, fitted attributes, training history
        (per epoch) and library versions as JSON: :meth:`load` reads it with
        ``torch.load(weights_only=True)``, which never executes pickled code,
        so a file from an untrusted source cannot run anything. (Pickle and
        joblib work too, but load only files you trust.)

        Parameters given as torch classes or functions are saved by their
        import path, your own by name (pass them back to :meth:`load` in
        ``custom_objects``); module *instances* (e.g. ``loss=nn.HuberLoss()``)
        cannot be saved safely and raise a ``TypeError``. ``callbacks`` are not
        saved.

        Parameters
        ----------
        path : str or path-like
            The file to write (replaced atomically if it exists).

        Examples
        --------
        >>> import numpy as np, tempfile, os
        >>> from sktaaf import TAAFRegressor
        >>> X = np.random.RandomState(0).normal(size=(50, 4)).astype(np.float32)
        >>> model = TAAFRegressor(hidden_layer_sizes=(8,), max_epochs=2,
        ...                       random_state=0).fit(X, X[:, :2])
        >>> path = os.path.join(tempfile.mkdtemp(), "model.pt")
        >>> model.save(path)
        >>> loaded = TAAFRegressor.load(path)
        >>> bool((loaded.predict(X) == model.predict(X)).all())
        True
        """
        save_estimator(self, path)

    @classmethod
    def load(cls, path, *, device=None, custom_objects=None):
        """Load an estimator saved with :meth:`save`.

        Parameters
        ----------
        path : str or path-like
            A file written by :meth:`save`.
        device : str or torch.device, default=None
            Where to put the model; by default where it was fitted, or the CPU
            (with a warning) when that was a GPU this machine lacks.
        custom_objects : dict, default=None
            Your own classes or functions the model's parameters refer to
            (e.g. a custom activation), by name.

        Returns
        -------
        estimator : object
            The fitted estimator, able to predict and, with
            ``warm_start=True``, to continue training.

        Raises
        ------
        FileNotFoundError
            If there is no file at ``path``.
        ValueError
            If the file is truncated, corrupted or not an sktaaf model.
        TypeError
            If the file holds another estimator class, or ``path`` is no file
            name (e.g. None).
        """
        model = read_model(path, class_name=cls.__name__, custom_objects=custom_objects)
        return cls._from_saved(model, path, device)

    @classmethod
    def _from_saved(cls, model: SavedModel, path, device):
        """The fitted estimator ``model`` (read from ``path``) describes, on
        ``device`` (None: where it was fitted, else the CPU); a ValueError
        naming ``path`` when an entry is missing or damaged."""
        with damage_named(path):  # a missing entry: damage, named
            unknown = sorted(set(model.params) - set(parameter_names(cls)))
            if unknown:
                raise TypeError(
                    f"{str(path)!r} holds a {cls.__name__} with parameters this "
                    f"version of sktaaf does not have: {unknown}. It was saved with "
                    f"sktaaf {model.versions.get('sktaaf', 'of unknown version')}; "
                    "load it with that version."
                )
            estimator = cls(**model.params)
            estimator._check_saved_params(path)
            fitted = model.fitted
            device = resolve_device(_load_device(device, fitted["device_"]))
            names, targets = fitted["feature_names_in_"], fitted["target_names_"]
            estimator.n_features_in_ = fitted["n_features_in_"]
            if names is not None:
                estimator.feature_names_in_ = np.asarray(names, object)
            estimator.n_outputs_ = fitted["n_outputs_"]
            if targets is not None:  # older files lack it
                estimator.target_names_ = np.asarray(targets, object)
            estimator._target_is_1d = fitted["target_is_1d"]
            if fitted["n_samples_fit_"] is not None:  # older files lack it
                estimator.n_samples_fit_ = fitted["n_samples_fit_"]
            state = model.state
            module = estimator._network_for(state.module, device, path)
            try:
                state.load_weights(module)
            except RuntimeError as exc:
                raise ValueError(
                    f"The weights in {str(path)!r} do not fit the network its "
                    f"parameters describe: {exc}"
                ) from exc
            net = estimator._build_net(module, device, generator=torch.Generator())
            state.apply(net)
            estimator._set_fitted(
                net, device, state.best_epoch, state.rng_state, model.target_scores
            )
            return estimator

    def _check_saved_params(self, path) -> None:
        """Run ``fit``'s checks of the parameters on those read from a file."""
        try:
            validate_parameters(self)
            self._check_params()
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"{str(path)!r} is not a valid sktaaf model file: its parameters "
                f"are invalid: {exc}"
            ) from exc

    def _network_for(self, weights: dict, device: str, path) -> torch.nn.Module:
        """A new network of this estimator's parameters and fitted
        attributes, checked to fit ``weights``, built without touching
        torch's random state."""
        n_features, n_outputs = self.n_features_in_, self.n_outputs_
        hidden_layer_sizes = self._hidden_layer_sizes()
        if max(hidden_layer_sizes) > MAX_COUNT:
            raise invalid_field(
                path,
                "parameter hidden_layer_sizes",
                self.hidden_layer_sizes,
                f"sizes of at most {MAX_COUNT}",
            )
        with torch.device("meta"):  # shapes only: allocates and draws nothing
            expected = self._make_network(n_features, n_outputs, hidden_layer_sizes)
        expected = {
            name: tuple(value.shape) for name, value in expected.state_dict().items()
        }
        found = {name: tuple(value.shape) for name, value in weights.items()}
        if found != expected:
            differences = [
                f"{name}: {found.get(name, 'missing')} in the file, "
                f"{expected.get(name, 'none')} expected"
                for name in sorted(set(found) | set(expected), key=str)
                if found.get(name) != expected.get(name)
            ]
            raise ValueError(
                f"The weights in {str(path)!r} do not fit the network its "
                f"parameters and fitted attributes describe (n_features_in_="
                f"{n_features}, n_outputs_={n_outputs}, hidden_layer_sizes="
                f"{hidden_layer_sizes}): " + "; ".join(differences[:3])
            )
        self._check_network(n_features, n_outputs, hidden_layer_sizes, device)
        with isolated_torch_rng():  # initial weights, overwritten: no trace left
            return self._make_network(n_features, n_outputs, hidden_layer_sizes)

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("module_", None)  # net_.module_, or the network it wraps
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "net_" in state:
            # skorch maps CUDA tensors to the CPU when CUDA is unavailable.
            self.module_ = unwrap_module(self.net_.module_)
            self.device_ = str(self.net_.device)


def _load_device(device, saved_device: str):
    """``device``, or when None the one the model was fitted on, or the CPU
    (with a warning) when this machine lacks it."""
    if device is not None:
        return device
    if not is_available(saved_device):
        warnings.warn(
            f"The model was fitted on {saved_device}, which this machine lacks; "
            "it is loaded on the CPU.",
            DeviceFallbackWarning,
            stacklevel=4,  # the caller of load
        )
        return "cpu"
    return saved_device
