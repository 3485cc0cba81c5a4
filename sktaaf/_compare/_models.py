"""The models that ``sktaaf compare`` knows, and the budget every network gets."""

from __future__ import annotations

import argparse

from .. import DGEXRegressor, TAAFRegressor
from ._fit import import_object

REFERENCE = "linear"
#: The models whose per-gene MAE every other model is compared with ("genes
#: better than"): LinearRegression (the LINCS method) and the strongest linear
#: baseline, RidgeCV. Result keys: ``win_rate`` (vs ``linear``, as before) and
#: ``win_rate_<name>`` for the others.
REFERENCES = ("linear", "ridgecv")
#: Models fitted on the data as given, without the StandardScaler wrapper.
UNSCALED = ("mlp_raw",)
DEFAULT_MODELS = [
    "linear",
    "ridgecv",
    "mean",
    "median",
    "knn_ge",
    "knn",
    "mlp",
    "dgex_tanh",
    "taaf",
]
#: name -> (label, "module:Class", parameters). Networks get the shared budget.
MODELS = {
    "linear": ("LinearRegression", "sklearn.linear_model:LinearRegression", {}),
    "ridge": ("Ridge (alpha=1)", "sklearn.linear_model:Ridge", {"alpha": 1.0}),
    "ridgecv": (
        "RidgeCV",
        "sklearn.linear_model:RidgeCV",
        {"alphas": [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0]},
    ),
    "mean": ("Dummy (mean)", "sklearn.dummy:DummyRegressor", {"strategy": "mean"}),
    "median": (
        "Dummy (median)",
        "sklearn.dummy:DummyRegressor",
        {"strategy": "median"},
    ),
    "mlp": (
        "MLPRegressor",
        "sklearn.neural_network:MLPRegressor",
        {"hidden_layer_sizes": [300, 300], "early_stopping": True},
    ),
    "mlp_raw": (
        "MLPRegressor (no scalers)",
        "sklearn.neural_network:MLPRegressor",
        {"hidden_layer_sizes": [300, 300], "early_stopping": True},
    ),
    "knn_ge": ("KNN-GE (k=10)", "sktaaf.baselines:KNNGERegressor", {"n_neighbors": 10}),
    "knn": (
        "KNeighbors (k=10)",
        "sklearn.neighbors:KNeighborsRegressor",
        {"n_neighbors": 10},
    ),
    "dgex_tanh": ("D-GEX tanh", "sktaaf:DGEXRegressor", {"activation": "tanh"}),
    "dgex_sigmoid": (
        "D-GEX sigmoid",
        "sktaaf:DGEXRegressor",
        {"activation": "sigmoid"},
    ),
    "taaf": ("TAAF sigmoid", "sktaaf:TAAFRegressor", {"activation": "sigmoid"}),
    "taaf_tanh": ("TAAF tanh", "sktaaf:TAAFRegressor", {"activation": "tanh"}),
}
NETWORK_CLASSES = (DGEXRegressor, TAAFRegressor)
# --quick scales the synthetic problem down 4x in samples and in genes alike, so
# that LinearRegression has as many samples per coefficient as in the full run
# (with 800 samples and 942 landmarks it would be underdetermined).
QUICK = {
    "n_samples": 1000,
    "n_landmarks": 236,
    "n_targets": 238,
    "epochs": 100,
    "patience": 10,
}
FULL = {
    "n_samples": 4000,
    "n_landmarks": 942,
    "n_targets": 952,
    "epochs": 200,
    "patience": 20,
}


# ------------------------------------------------------------------- models
def is_network(estimator_class: type) -> bool:
    return issubclass(estimator_class, NETWORK_CLASSES)


def network_params(args: argparse.Namespace) -> dict:
    """The training budget that every network gets: the estimators' defaults
    but for the options given on the command line."""
    params = {
        "max_epochs": args.epochs,
        "early_stopping": True,
        "n_iter_no_change": args.patience,
        "device": args.device,
    }
    for name, value in (
        ("hidden_layer_sizes", None if args.hidden is None else tuple(args.hidden)),
        ("dropout", args.dropout),
        ("learning_rate", args.learning_rate),
        ("batch_size", args.batch_size),
    ):
        if value is not None:
            params[name] = value
    return params


def model_specs(args: argparse.Namespace) -> dict[str, dict]:
    """Label, class and parameters of every model to compare (seed excluded).

    Each model is built once here, so that an unknown class or parameter fails
    before any fit.
    """
    available = dict(MODELS)
    for name, target in args.extra_model:
        available[name] = (name, target, {})
    names = list(args.models) + [name for name, _ in args.extra_model]
    specs = {}
    for name in dict.fromkeys(names):  # in order, without repeats
        label, target, params = available[name]
        estimator_class = import_object(target)
        if not isinstance(estimator_class, type) or not (
            hasattr(estimator_class, "fit") and hasattr(estimator_class, "predict")
        ):
            raise ValueError(
                f"--extra-model {name}={target}: {target!r} is a "
                f"{type(estimator_class).__name__}, not an estimator class (a "
                "class with fit and predict, e.g. sklearn.linear_model:Lasso)."
            )
        params = dict(params)
        network = is_network(estimator_class)
        if network:
            params = {**network_params(args), **params}
        params.update(args.model_params.get(name, {}))
        estimator = estimator_class(**params)  # fails early on unknown parameters
        specs[name] = {
            "label": label,
            "target": target,
            "params": params,
            "network": network,
            "seeded": "random_state" in estimator.get_params(),
            "scaled": name not in UNSCALED,
        }
    return specs
