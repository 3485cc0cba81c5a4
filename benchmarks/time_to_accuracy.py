"""Wall seconds until the validation error reaches a target.

Run as ``python -m benchmarks.time_to_accuracy [--data NAME] [--out DIR]``.
For ``TAAFRegressor()`` (the defaults), ``TAAFRegressor(**REFERENCE_SETTINGS)``
(the TAAF-D-GEX paper's recipe, on data standardised by hand as the paper's
were) and a scaled :class:`~sklearn.neural_network.MLPRegressor`, it records
after every epoch the wall seconds spent training so far and the mean absolute
error on a validation set that no model trains on, in the units of ``y``.
Each model then gets:

- the seconds until its validation MAE first reaches that of
  :class:`~sklearn.linear_model.RidgeCV` (fitted on the same training set),
- the seconds until it reaches the reference recipe's best validation MAE
  (the goal: the defaults get there in a fifth of the reference's time),
- its best validation MAE and the seconds to it, and its whole fit time.

Only public API is used: the networks' epochs are timed by a skorch callback
passed through ``callbacks=`` (its evaluation time is excluded from the
clock), the MLP trains one epoch per ``partial_fit`` on standardised data.
Data: ``synthetic`` (``make_expression``; ``--n-samples``, ``--n-landmarks``,
``--n-targets``) or a real set of
:func:`sktaaf.datasets.load_single_cell_example` (``pbmc68k``, ``celltypist``;
the ``real`` extra). Splits: 20% test (unused here), 10% validation, the rest
training; seeded by ``--seed``. One torch and BLAS thread
(``--threads``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import Callback

from sktaaf import REFERENCE_SETTINGS, TAAFRegressor
from sktaaf.datasets import (
    SINGLE_CELL_EXAMPLES,
    load_single_cell_example,
    make_expression,
)
from sktaaf.measure import markdown_table


class ValidationClock(Callback):
    """Record, after every epoch, the training seconds so far and the MAE of
    the network on ``(X, y)`` (its evaluation is not counted)."""

    def __init__(self, X, y, inverse=None):
        self.X = X
        self.y = y
        self.inverse = inverse

    def initialize(self):
        self.records_ = []
        self._seconds = 0.0
        self._since = None
        return self

    def on_train_begin(self, net, **kwargs):
        self._since = time.perf_counter()

    def on_epoch_end(self, net, **kwargs):
        self._seconds += time.perf_counter() - self._since
        module = net.module_
        module.eval()
        with torch.inference_mode():
            prediction = module(torch.from_numpy(self.X)).numpy()
        module.train()
        if self.inverse is not None:  # back to y's units
            prediction = self.inverse(prediction)
        error = float(np.abs(prediction - self.y).mean())
        self.records_.append((self._seconds, error))
        self._since = time.perf_counter()


def _network_curve(estimator, X_train, y_train, X_valid, y_valid, inverse=None):
    clock = ValidationClock(X_valid, y_valid, inverse)
    estimator.set_params(callbacks=[("validation_clock", clock)])
    started = time.perf_counter()
    estimator.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - started
    fitted = dict(estimator.net_.callbacks_)["validation_clock"]
    return fitted.records_, fit_seconds


def _mlp_curve(X_train, y_train, X_valid, y_valid, seed, max_epochs, patience):
    """A scaled MLPRegressor (300, 300): ``X`` and ``y`` standardised once,
    then one epoch per ``partial_fit``, stopped as its own early stopping
    would (no improvement of the validation MAE for ``patience`` epochs)."""
    started = time.perf_counter()
    scaler_x, scaler_y = StandardScaler().fit(X_train), StandardScaler().fit(y_train)
    X_scaled, y_scaled = scaler_x.transform(X_train), scaler_y.transform(y_train)
    X_valid_scaled = scaler_x.transform(X_valid)
    model = MLPRegressor(hidden_layer_sizes=(300, 300), random_state=seed)
    records, best, since_best = [], np.inf, 0
    seconds = time.perf_counter() - started
    for _ in range(max_epochs):
        tick = time.perf_counter()
        model.partial_fit(X_scaled, y_scaled)
        seconds += time.perf_counter() - tick
        prediction = scaler_y.inverse_transform(model.predict(X_valid_scaled))
        error = float(np.abs(prediction - y_valid).mean())
        records.append((seconds, error))
        best, since_best = (error, 0) if error < best else (best, since_best + 1)
        if since_best >= patience:
            break
    return records, time.perf_counter() - started


def _epoch_to(records, target):
    """The first (1-based) epoch whose validation MAE is at most ``target``."""
    for epoch, (_, error) in enumerate(records, start=1):
        if error <= target:
            return epoch
    return None


def _seconds_to(records, target):
    epoch = _epoch_to(records, target)
    return None if epoch is None else records[epoch - 1][0]


def _data(args):
    if args.data == "synthetic":
        X, y = make_expression(
            n_samples=args.n_samples,
            n_landmarks=args.n_landmarks,
            n_targets=args.n_targets,
            random_state=args.seed,
        )
        description = (
            f"make_expression(n_samples={args.n_samples}, n_landmarks="
            f"{args.n_landmarks}, n_targets={args.n_targets}, random_state="
            f"{args.seed})"
        )
        return X, y, description
    data = load_single_cell_example(args.data)
    return data.X, data.y, data.description


def main(argv=None, log=print) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.time_to_accuracy", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--data", choices=("synthetic", *SINGLE_CELL_EXAMPLES), default="synthetic"
    )
    parser.add_argument("--n-samples", type=int, default=4000)
    parser.add_argument("--n-landmarks", type=int, default=200)
    parser.add_argument("--n-targets", type=int, default=300)
    parser.add_argument("--max-epochs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.threads:
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)

    X, y, description = _data(args)
    X_rest, _, y_rest, _ = train_test_split(X, y, test_size=0.2, random_state=args.seed)
    X_train, X_valid, y_train, y_valid = train_test_split(
        X_rest, y_rest, test_size=0.125, random_state=args.seed
    )
    log(f"data: {description}; {len(X_train)} training, {len(X_valid)} validation")

    ridge = TransformedTargetRegressor(
        make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 4, 7))),
        transformer=StandardScaler(),
        check_inverse=False,
    ).fit(X_train, y_train)
    ridge_mae = float(np.abs(ridge.predict(X_valid) - y_valid).mean())
    log(f"RidgeCV validation MAE {ridge_mae:.4f}")

    # Warm torch up (thread pools, first-call costs) before anything is timed.
    TAAFRegressor(hidden_layer_sizes=(8,), max_epochs=2).fit(X_train[:64], y_train[:64])
    common = {"max_epochs": args.max_epochs, "random_state": args.seed}
    scaler_x, scaler_y = StandardScaler().fit(X_train), StandardScaler().fit(y_train)
    curves = {}
    # The paper's data were z-scores: the reference recipe gets them so, and
    # the clock maps its predictions back to y's units.
    curves["reference"] = _network_curve(
        TAAFRegressor(**REFERENCE_SETTINGS, **common),
        scaler_x.transform(X_train).astype(np.float32),
        scaler_y.transform(y_train).astype(np.float32),
        scaler_x.transform(X_valid).astype(np.float32),
        y_valid,
        inverse=scaler_y.inverse_transform,
    )
    log(_summary_line("reference", curves["reference"]))
    curves["defaults"] = _network_curve(
        TAAFRegressor(**common), X_train, y_train, X_valid, y_valid
    )
    log(_summary_line("defaults", curves["defaults"]))
    curves["mlp"] = _mlp_curve(
        X_train, y_train, X_valid, y_valid, args.seed, args.max_epochs, 20
    )
    log(_summary_line("mlp", curves["mlp"]))

    reference_best = min(error for _, error in curves["reference"][0])
    results = {
        "data": description,
        "n_train": len(X_train),
        "n_valid": len(X_valid),
        "ridgecv_mae": ridge_mae,
        "reference_best_mae": reference_best,
        "models": {},
    }
    for name, (records, fit_seconds) in curves.items():
        errors = [error for _, error in records]
        best = int(np.argmin(errors))
        results["models"][name] = {
            "epochs": len(records),
            "fit_seconds": fit_seconds,
            "best_mae": errors[best],
            "seconds_to_best": records[best][0],
            "seconds_to_ridgecv": _seconds_to(records, ridge_mae),
            "seconds_to_reference_best": _seconds_to(records, reference_best),
            "epochs_to_reference_best": _epoch_to(records, reference_best),
            "curve": records,
        }
    table = results_table(results)
    log("")
    log(table)
    reference_time = results["models"]["reference"]["seconds_to_best"]
    defaults_time = results["models"]["defaults"]["seconds_to_reference_best"]
    if defaults_time is not None:
        log(
            f"\nThe defaults reach the reference's best validation MAE in "
            f"{defaults_time:.1f} s, {reference_time / max(defaults_time, 1e-9):.1f}x "
            f"faster than the reference ({reference_time:.1f} s)."
        )
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "time_to_accuracy.json").write_text(json.dumps(results, indent=1))
        (args.out / "time_to_accuracy.md").write_text(table + "\n")
    return results


LABELS = {
    "defaults": "TAAFRegressor() (defaults)",
    "reference": "TAAFRegressor(**REFERENCE_SETTINGS)",
    "mlp": "MLPRegressor (300, 300), scaled",
}


def _summary_line(name, curve):
    records, fit_seconds = curve
    best = min(error for _, error in records)
    return (
        f"{LABELS[name]}: {len(records)} epochs, fit {fit_seconds:.1f} s, best "
        f"validation MAE {best:.4f}"
    )


def _seconds(value):
    return "not reached" if value is None else f"{value:.1f}"


def results_table(results: dict) -> str:
    """The models' times to RidgeCV's and to the reference's best validation
    MAE, under a line giving both."""
    titles = ["model", "s to RidgeCV's MAE", "s (epochs) to reference's best MAE"]
    titles += ["best MAE", "s to best", "epochs", "fit (s)"]
    rows = []
    for name, model in results["models"].items():
        to_best = _seconds(model["seconds_to_reference_best"])
        if model["epochs_to_reference_best"]:
            to_best += f" ({model['epochs_to_reference_best']})"
        rows.append(
            [
                LABELS[name],
                _seconds(model["seconds_to_ridgecv"]),
                to_best,
                f"{model['best_mae']:.4f}",
                f"{model['seconds_to_best']:.1f}",
                str(model["epochs"]),
                f"{model['fit_seconds']:.1f}",
            ]
        )
    return (
        f"Validation MAE of RidgeCV: {results['ridgecv_mae']:.4f}; best of the "
        f"reference recipe: {results['reference_best_mae']:.4f}.\n\n"
        + markdown_table(titles, rows)
    )


if __name__ == "__main__":
    main()
