"""One fit of ``sktaaf compare``: build, time, measure memory, score.

:func:`run_fit` is what a fresh process runs (:func:`run_in_subprocess`), or
the main process with ``--in-process``. It returns numbers and per-gene arrays,
never predictions, which can be large.
"""

from __future__ import annotations

import functools
import gc
import importlib
import math
import os
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import forkserver, get_all_start_methods, get_context
from pathlib import Path

import numpy as np
import torch
from sklearn.compose import TransformedTargetRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import ThreadpoolController

from ..metrics import per_gene_mae, per_gene_pearson
from ..nn import TAAF

TAAF_PARAMETERS = ("alpha", "beta", "gamma", "delta")


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


# ------------------------------------------------------------------- memory
def _status_kib(field: str) -> int | None:
    """A ``kB`` field of /proc/self/status (VmRSS, VmHWM), or None."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Set the peak RSS (VmHWM) to the current RSS (Linux 4.0+)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return _status_kib("VmHWM") is not None


def _max_rss_kib() -> int:
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss // 1024 if sys.platform == "darwin" else maxrss  # bytes on macOS


class PeakMemory:
    """Peak resident memory reached inside a ``with`` block, above its start,
    less the file-backed pages mapped in meanwhile.

    ``peak_mib``: the peak RSS (``VmHWM``, reset on entry) minus the RSS on
    entry, minus the growth of ``RssFile`` (file-backed resident pages:
    library code and data first touched in the block, which a process forked
    from a server that loaded the libraries maps in lazily, and which are
    shared, not memory the model needs); ``file_mib`` is that growth. What
    remains is, closely, the anonymous memory (heap, arrays, tensors) the
    block needed. Without ``/proc`` (not Linux): ``ru_maxrss`` after the block
    minus the RSS before, an upper bound.
    """

    def __enter__(self):
        gc.collect()
        self.exact = _reset_peak_rss()
        self.start_kib = _status_kib("VmRSS")
        if self.start_kib is None:  # no /proc: resource's max as the start
            self.start_kib = _max_rss_kib()
        self.file_start_kib = _status_kib("RssFile") if self.exact else None
        return self

    def __exit__(self, *exc_info):
        peak = _status_kib("VmHWM") if self.exact else _max_rss_kib()
        file_kib = 0
        if self.file_start_kib is not None:
            file_end_kib = _status_kib("RssFile")
            if file_end_kib is not None:
                file_kib = max(0, file_end_kib - self.file_start_kib)
        self.file_mib = file_kib / 1024
        self.peak_mib = max(0, peak - self.start_kib - file_kib) / 1024
        self.start_mib = self.start_kib / 1024
        if not self.exact:
            self.method = "ru_maxrss (upper bound)"
        elif self.file_start_kib is not None:
            self.method = "VmHWM reset, less RssFile growth"
        else:
            self.method = "VmHWM reset"
        return False


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


def _taaf_layers(network) -> dict[str, dict[str, np.ndarray]]:
    """The learned parameters of every TAAF layer of ``network``, by layer."""
    return {
        name: {
            parameter: getattr(module, parameter).detach().cpu().numpy().copy()
            for parameter in TAAF_PARAMETERS
        }
        for name, module in network.named_modules()
        if isinstance(module, TAAF)
    }


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
        result["taaf_layers"] = _taaf_layers(estimator.module_)
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
    """The ``multiprocessing`` context that starts one fresh process per fit.

    ``"forkserver"`` (where available, i.e. POSIX): a server process, started
    once, imports :data:`PRELOAD` and ``modules`` (those of the compared
    models), and every fit runs in a child forked from it. Each fit thus gets
    a process of its own (its own heap, peak-RSS counter and thread pools:
    the server imports torch but runs nothing, so torch's OpenMP pool is not
    started before the fork; the OpenBLAS pools that numpy and scipy start on
    import are fork-safe, stopped and restarted around ``fork``), without
    paying for an interpreter start and the torch import. ``"spawn"``: a new
    interpreter per fit, as before (slower: every fit pays the imports).
    """
    if start_method == "forkserver":
        if "forkserver" not in get_all_start_methods():  # pragma: no cover
            start_method = "spawn"  # Windows
    context = get_context(start_method)
    if start_method == "forkserver":
        # Takes effect when the server starts (the first fit of the process);
        # a server already running keeps what it imported.
        preload = [*PRELOAD, *modules, "sktaaf._compare._server"]  # _server last
        context.set_forkserver_preload(list(dict.fromkeys(preload)))
        # Start the server now: it imports while the caller prepares the run.
        forkserver.ensure_running()
    return context


def run_in_subprocess(task: dict, context=None) -> dict:
    """``run_fit`` in a fresh process of ``context`` (default: spawn): clean
    memory, peak-RSS counter and thread pools."""
    context = get_context("spawn") if context is None else context
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(run_fit, task).result()
