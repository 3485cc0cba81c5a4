"""One fit of ``sktaaf compare``: build, time, measure memory, score.

:func:`run_fit` is what a fresh process runs
(:func:`sktaaf.measure.run_fresh`), or the main process with
``--in-process``. It returns numbers and per-gene arrays, never predictions,
which can be large.
"""

from __future__ import annotations

import functools
import gc
import importlib
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.compose import TransformedTargetRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import ThreadpoolController

from ..measure import PeakMemory, fresh_process_context
from ..metrics import per_gene_mae, per_gene_pearson
from ..nn import taaf_parameters


# ------------------------------------------------------------------- models
def import_object(target: str):
    """The object named by ``"module:attribute"``."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"Expected 'module:Class', got {target!r}.")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"Cannot import {target!r}: {exc}") from exc


def build_model(spec: dict, seed: int, validation_fraction: float):
    """The estimator of ``spec``, with per-gene standardisation of X and y
    (by scalers around it, or, with ``standardize=True``, inside it)."""
    params = dict(spec["params"])
    if spec["seeded"]:
        params["random_state"] = seed
    if spec["network"]:
        params["validation_fraction"] = validation_fraction
    estimator = import_object(spec["target"])(**params)
    if not spec.get("scaled", True):
        return estimator  # a baseline on the data as given (mlp_raw)
    if estimator.get_params().get("standardize", False):
        return estimator  # the network standardises genes itself
    return TransformedTargetRegressor(
        regressor=make_pipeline(StandardScaler(), estimator),
        transformer=StandardScaler(),
        # float32 rounding makes the round trip inexact by ~1e-7, which
        # check_inverse would warn about.
        check_inverse=False,
    )


# ----------------------------------------------------------------- one fit
@functools.cache
def threadpool_controller() -> ThreadpoolController:
    """The BLAS/OpenMP libraries loaded in this process, found once (a scan
    of every loaded library, a tenth of a second): the fork server builds it
    after its imports, so that its children inherit it."""
    return ThreadpoolController()


def _limit_threads(threads: int):
    """Limit torch and BLAS/OpenMP threads; returns what undoes it."""
    if threads <= 0:
        return lambda: None
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    limits = threadpool_controller().limit(limits=threads)

    def restore():
        limits.restore_original_limits()
        torch.set_num_threads(torch_threads)

    return restore


def _warm_up(spec: dict) -> None:
    """Pay the one-off costs of a fresh process before anything is measured.

    A tiny training step (torch's thread pool, kernels, optimizer; on CUDA for
    a network that will train there) and a BLAS product: so that fit seconds
    and peak memory are those of the model, not of library start-up, whichever
    model a process fits first.
    """
    devices = ["cpu"]
    device = str(spec["params"].get("device", "cpu")) if spec["network"] else "cpu"
    on_cuda = device in ("auto", "cuda") or device.startswith("cuda:")
    if on_cuda and torch.cuda.is_available():
        devices.append("cuda" if device == "auto" else device)
    with torch.random.fork_rng(devices=[]):
        for name in devices:
            torch.manual_seed(0)
            network = torch.nn.Sequential(
                torch.nn.Linear(32, 32),
                torch.nn.Sigmoid(),
                torch.nn.Dropout(0.25),
                torch.nn.Linear(32, 8),
            ).to(name)
            optimizer = torch.optim.NAdam(network.parameters(), lr=1e-3)
            x = torch.randn(64, 32, device=name)
            loss = torch.nn.functional.l1_loss(
                network(x), torch.zeros(64, 8, device=name)
            )
            loss.backward()
            optimizer.step()
            loss.item()
    np.ones((64, 64), dtype=np.float32) @ np.ones((64, 64), dtype=np.float32)


def run_fit(task: dict, X=None, y=None) -> dict:
    """Fit one model on one split and score it on the test samples.

    Runs in a fresh process (data read from ``task["data_dir"]``) or, with
    ``X`` and ``y`` given, in the caller's. Returns numbers, per-gene arrays,
    the network's history and TAAF parameters: no predictions, which can be
    large.
    """
    if X is None:
        # A fresh process: what it inherited (the libraries the fork server
        # imported, millions of objects) is no garbage; frozen, it is left out
        # of every collection below (a full one would take most of a second).
        # (Forked from the server, it is frozen already.)
        gc.freeze()
    restore_threads = _limit_threads(task["threads"])
    try:
        if X is None:
            X = np.load(Path(task["data_dir"]) / "X.npy", mmap_mode="r")
            y = np.load(Path(task["data_dir"]) / "y.npy", mmap_mode="r")
        X_train, y_train = X[task["train"]], y[task["train"]]
        X_test, y_test = X[task["test"]], y[task["test"]]
        del X, y  # the memory maps (or references)
        model = build_model(task["spec"], task["seed"], task["validation_fraction"])
        _warm_up(task["spec"])
        # One full collection (frees what earlier fits left in cycles), then
        # the survivors are frozen: the collections that PeakMemory runs
        # before fit and predict only visit new objects, which is fast.
        gc.collect()
        gc.freeze()
        load_average = os.getloadavg()[0]

        with PeakMemory() as fit_memory:
            cpu_start = time.process_time()
            start = time.perf_counter()
            model.fit(X_train, y_train)
            fit_seconds = time.perf_counter() - start
            fit_cpu_seconds = time.process_time() - cpu_start
        with PeakMemory() as predict_memory:
            start = time.perf_counter()
            y_pred = model.predict(X_test)
            predict_seconds = time.perf_counter() - start
    finally:
        gc.unfreeze()
        restore_threads()

    y_pred = np.asarray(y_pred).reshape(y_test.shape)
    gene_mae = per_gene_mae(y_test, y_pred)
    gene_pearson = per_gene_pearson(y_test, y_pred)  # NaN for constant genes
    sample_mae = np.mean(np.abs(y_test - y_pred), axis=1, dtype=np.float64)
    result = {
        "mae": float(gene_mae.mean()),
        "mae_sem": float(sample_mae.std(ddof=1) / math.sqrt(len(sample_mae)))
        if len(sample_mae) > 1
        else None,
        "per_gene_mae": gene_mae,
        "per_gene_pearson": gene_pearson,
        "mean_pearson": float(np.nanmean(gene_pearson))
        if not np.isnan(gene_pearson).all()
        else None,
        "fit_seconds": fit_seconds,
        "fit_cpu_seconds": fit_cpu_seconds,
        "predict_seconds": predict_seconds,
        "fit_peak_mib": fit_memory.peak_mib,
        "predict_peak_mib": predict_memory.peak_mib,
        "fit_file_pages_mib": fit_memory.file_mib,
        "rss_before_fit_mib": fit_memory.start_mib,
        "memory_method": fit_memory.method,
        "load_average_1min": load_average,
    }
    # The fitted estimator itself, inside the scalers' wrapper if any.
    estimator = model.regressor_[-1] if hasattr(model, "regressor_") else model
    if hasattr(estimator, "history_"):
        history = estimator.history_
        result["history"] = {
            key: [float(value) for value in history[:, key]]
            for key in ("train_loss", "valid_loss", "dur")
            if key in history[-1]
        }
        result["n_epochs"] = len(history)
        result["best_epoch"] = int(estimator.best_epoch_)
        # With early stopping, the best validation loss at the last epoch means
        # that the epoch limit, not a lack of progress, stopped training.
        result["still_improving"] = bool(
            getattr(estimator, "early_stopping", False)
            and result["best_epoch"] == result["n_epochs"]
        )
        result["device"] = str(getattr(estimator, "device_", ""))
    if hasattr(estimator, "module_"):
        result["n_parameters"] = int(
            sum(p.numel() for p in estimator.module_.parameters())
        )
        result["taaf_layers"] = taaf_parameters(estimator.module_)
    return result


# ------------------------------------------------------- fresh processes
#: What the fork server imports once, so that no fit pays for it: the
#: libraries every fit needs and the modules of the built-in models.
PRELOAD = (
    "numpy",
    "scipy.stats",
    "torch",
    "torch._dynamo",  # imported by the first optimizer, seconds
    "sklearn",
    "sklearn.compose",
    "sklearn.dummy",
    "sklearn.linear_model",
    "sklearn.neighbors",
    "sklearn.neural_network",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "skorch",
    "sktaaf",
    "sktaaf.baselines",
    "sktaaf._compare._fit",
)


def process_context(start_method: str, modules=()):
    """The ``multiprocessing`` context that starts one fresh process per fit
    (see :func:`sktaaf.measure.fresh_process_context`).

    ``"forkserver"`` (where available, i.e. POSIX): a server process, started
    once, imports :data:`PRELOAD` and ``modules`` (those of the compared
    models), then :mod:`~sktaaf._compare._server`, and every fit runs in a
    child forked from it. Each fit thus gets a process of its own (its own
    heap, peak-RSS counter and thread pools: the server imports torch but runs
    nothing, so torch's OpenMP pool is not started before the fork; the
    OpenBLAS pools that numpy and scipy start on import are fork-safe, stopped
    and restarted around ``fork``), without paying for an interpreter start
    and the torch import. ``"spawn"``: a new interpreter per fit (slower:
    every fit pays the imports).
    """
    preload = [*PRELOAD, *modules, "sktaaf._compare._server"]  # _server last
    return fresh_process_context(start_method, preload)
