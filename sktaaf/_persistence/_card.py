"""What a fitted model is, as plain data: its model card.

:func:`model_card` answers "what is in this model?" for a fitted network
estimator (or a :class:`~sktaaf.TargetBlockRegressor`): its class and
parameters, the genes it maps (counts and first ids), the training data's
shape, how training went, a summary of its per-gene validation scores
(``target_scores_``) and the library versions. Everything is JSON-able
(``json.dumps(model_card(model))`` works), so that ``sktaaf info`` can print
it as text or JSON.

It reads the estimator's attributes and imports no estimator module (the
library versions come from :mod:`~sktaaf._persistence._format`).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ._format import _versions

#: How many ids of the landmarks and the targets the card lists.
N_FIRST_IDS = 5
#: The r from which the card counts a gene as well inferred (as
#: :func:`sktaaf.datasets.inference_row_metadata` flags it by default).
WELL_INFERRED_R = 0.7


def _json_value(value):
    """``value`` as JSON-able data: numbers, strings, lists and dicts as they
    are (non-finite floats as None), estimators as their class and
    parameters, classes and functions by import path, anything else by
    ``repr``."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json_value(item) for key, item in value.items()}
    if hasattr(value, "get_params") and not isinstance(value, type):
        return {
            "class": type(value).__name__,
            "params": _json_value(value.get_params(deep=False)),
        }
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '?')}:{value.__qualname__}"
    return repr(value)


def _genes(count: int | None, names) -> dict:
    first = None if names is None else [str(name) for name in names[:N_FIRST_IDS]]
    return {"count": count, "named": names is not None, "first_ids": first}


def _statistics(values: np.ndarray) -> dict:
    defined = values[~np.isnan(values)]
    if not defined.size:
        return dict.fromkeys(("mean", "median", "min", "max"))
    return {
        "mean": float(defined.mean()),
        "median": float(np.median(defined)),
        "min": float(defined.min()),
        "max": float(defined.max()),
    }


def validation_summary(scores) -> dict | None:
    """A summary of ``target_scores_`` (None when there are none)."""
    if scores is None:
        return None
    r = scores["r"].to_numpy(dtype=np.float64)
    return {
        "source": scores.attrs.get("source"),
        "n_samples": scores.attrs.get("n_samples"),
        "n_targets": len(r),
        "n_targets_r_undefined": int(np.isnan(r).sum()),
        "r": _statistics(r),
        "mae": _statistics(scores["mae"].to_numpy(dtype=np.float64)),
        "well_inferred_r": WELL_INFERRED_R,
        "n_well_inferred": int(
            (np.nan_to_num(r, nan=-np.inf) >= WELL_INFERRED_R).sum()
        ),
    }


def _training(estimator) -> dict:
    """How training went: epochs, the epoch kept, its losses, the device."""
    networks = getattr(estimator, "estimators_", None) or [estimator]
    runs = []
    for network in networks:
        history = getattr(network, "history_", None)
        if history is None:
            continue
        best = getattr(network, "best_epoch_", None)
        # The losses of the epoch whose weights it holds (none for epoch 0,
        # the initial weights kept after a first epoch diverged).
        record = history[best - 1] if best and best <= len(history) else {}
        runs.append(
            {
                "n_epochs": _json_value(getattr(network, "n_iter_", None)),
                "best_epoch": _json_value(best),
                "train_loss": _json_value(record.get("train_loss")),
                "valid_loss": _json_value(record.get("valid_loss")),
                "device": _json_value(getattr(network, "device_", None)),
            }
        )
    return {
        "n_samples": _json_value(getattr(estimator, "n_samples_fit_", None)),
        "n_features": _json_value(getattr(estimator, "n_features_in_", None)),
        "n_outputs": _json_value(getattr(estimator, "n_outputs_", None)),
        "networks": runs,
    }


def model_card(estimator) -> dict:
    """The model card of a fitted estimator, as JSON-able data.

    Parameters
    ----------
    estimator : fitted estimator
        A :class:`~sktaaf.TAAFRegressor`, :class:`~sktaaf.DGEXRegressor` or
        :class:`~sktaaf.TargetBlockRegressor` (fitted, or loaded from a file).

    Returns
    -------
    card : dict
        ``"estimator"`` (the class name), ``"params"`` (``get_params(deep=
        False)``, objects by class and parameters, path or ``repr``),
        ``"landmarks"`` and ``"targets"`` (``count``, ``named`` and the
        first :data:`N_FIRST_IDS` ids, or None without names),
        ``"standardize"``, ``"training"`` (``n_samples``, ``n_features``,
        ``n_outputs``, and per network ``n_epochs``, ``best_epoch``, the
        ``train_loss`` and ``valid_loss`` of the epoch kept, ``device``),
        ``"validation"`` (:func:`validation_summary` of ``target_scores_``:
        mean, median, min and max of r and MAE, the genes of undefined r and
        those with r >= :data:`WELL_INFERRED_R`; None without scores) and
        ``"versions"`` (the libraries of this process).

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    names = getattr(estimator, "feature_names_in_", None)
    targets = getattr(estimator, "target_names_", None)
    inner = getattr(estimator, "estimator", None)
    standardize = getattr(estimator, "standardize", getattr(inner, "standardize", None))
    return {
        "estimator": type(estimator).__name__,
        "params": _json_value(estimator.get_params(deep=False)),
        "landmarks": _genes(getattr(estimator, "n_features_in_", None), names),
        "targets": _genes(getattr(estimator, "n_outputs_", None), targets),
        "standardize": _json_value(standardize),
        "training": _training(estimator),
        "validation": validation_summary(getattr(estimator, "target_scores_", None)),
        "versions": _versions(),
    }
