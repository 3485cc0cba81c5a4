"""Measuring tools: time, page faults, peak memory, fresh processes, the
environment, Markdown tables.

What ``sktaaf compare`` and the benchmarks of the source tree (``benchmarks/``)
measure with, public so that a user's own benchmark measures the same way.
Every function works without sktaaf's estimators; the memory readers need
Linux's ``/proc`` and say so (None, or an upper bound) where it is absent.
"""

from __future__ import annotations

import gc
import importlib
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import forkserver, get_all_start_methods, get_context
from pathlib import Path

from ._version import __version__

__all__ = [
    "ALLOCATOR_VARIABLES",
    "PeakMemory",
    "environment",
    "fresh_process_context",
    "markdown_table",
    "run_fresh",
    "status_mib",
    "usage",
    "usage_since",
]

#: Environment variables that decide how malloc behaves, reported by
#: :func:`environment` (see the user guide's performance notes).
ALLOCATOR_VARIABLES = (
    "GLIBC_TUNABLES",
    "LD_PRELOAD",
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TOP_PAD_",
    "SKTAAF_TUNE_MALLOC",
)
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
_VERSIONED = ("torch", "skorch", "sklearn", "numpy", "scipy", "matplotlib")
_VERSIONED += ("pandas", "h5py")


# ------------------------------------------------------------ time and faults
def usage() -> dict:
    """Wall clock and this process's resource usage so far.

    Returns
    -------
    usage : dict
        ``wall`` (``time.perf_counter``, seconds), ``user`` and ``sys`` (CPU
        seconds of the process, all its threads), ``minflt`` and ``majflt``
        (page faults served without and with disk access; ``getrusage``'s
        ``ru_minflt`` and ``ru_majflt``). Differences of two are what
        :func:`usage_since` returns.

    Examples
    --------
    >>> from sktaaf.measure import usage, usage_since
    >>> start = usage()
    >>> block = bytearray(2**20)
    >>> spent = usage_since(start)
    >>> sorted(spent)
    ['majflt', 'minflt', 'sys', 'user', 'wall']
    >>> spent["wall"] > 0
    True
    """
    now = time.perf_counter()
    own = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "wall": now,
        "user": own.ru_utime,
        "sys": own.ru_stime,
        "minflt": own.ru_minflt,
        "majflt": own.ru_majflt,
    }


def usage_since(start: dict) -> dict:
    """What :func:`usage` grew by since ``start``.

    Parameters
    ----------
    start : dict
        A result of :func:`usage`, taken before the work measured.

    Returns
    -------
    usage : dict
        The same keys, each the amount it grew by since ``start``.

    Examples
    --------
    >>> from sktaaf.measure import usage, usage_since
    >>> start = usage()
    >>> sorted(usage_since(start)) == sorted(start)
    True
    """
    return {key: value - start[key] for key, value in usage().items()}


# --------------------------------------------------------------------- memory
def _first_line(path: str, prefix: str) -> str | None:
    """What follows the colon on the first line of the file at ``path``
    that starts with ``prefix`` (``/proc`` files), or None."""
    try:
        with open(path) as file:
            for line in file:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _status_kib(field: str) -> int | None:
    """A ``kB`` field of ``/proc/self/status``, or None."""
    value = _first_line("/proc/self/status", field + ":")
    return None if value is None else int(value.split()[0])


def status_mib(field: str) -> float | None:
    """A memory figure of this process from ``/proc/self/status``, in MiB.

    Unlike ``getrusage``'s ``ru_maxrss``, which on Linux keeps across ``exec``
    the peak of the parent that spawned the process, these figures are the
    process's own.

    Parameters
    ----------
    field : str
        ``"VmRSS"`` (resident now), ``"VmHWM"`` (peak resident), ``"RssFile"``
        (file-backed resident pages) or another ``kB`` field.

    Returns
    -------
    mib : float or None
        None where there is no ``/proc`` (not Linux) or no such field.

    Examples
    --------
    >>> from sktaaf.measure import status_mib
    >>> rss = status_mib("VmRSS")
    >>> rss is None or rss > 0
    True
    """
    kib = _status_kib(field)
    return None if kib is None else kib / 1024


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

    On entry a garbage collection runs and the kernel's peak-RSS counter is
    reset (``/proc/self/clear_refs``); on exit the peak (``VmHWM``) is read
    back. What remains after subtracting the RSS on entry and the growth of
    ``RssFile`` (library code and data first touched in the block, shared,
    not memory the block needs) is, closely, the anonymous memory (heap,
    arrays, tensors) the block needed. Without ``/proc`` (not Linux) it is
    ``ru_maxrss`` after the block minus the RSS before: an upper bound.

    Attributes
    ----------
    peak_mib : float
        The block's peak above its start, less ``file_mib``.
    file_mib : float
        The growth of the file-backed resident pages (0 where unknown).
    start_mib : float
        The resident memory on entry.
    method : str
        How the peak was measured: ``"VmHWM reset, less RssFile growth"``,
        ``"VmHWM reset"`` or ``"ru_maxrss (upper bound)"``.

    Examples
    --------
    >>> import numpy as np
    >>> from sktaaf.measure import PeakMemory
    >>> with PeakMemory() as memory:
    ...     block = np.ones(2**26, dtype=np.uint8)  # 64 MiB, touched
    ...     del block
    >>> memory.peak_mib > 32
    True
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


# ------------------------------------------------------------ fresh processes
def fresh_process_context(start_method: str = "spawn", preload: Iterable[str] = ()):
    """The ``multiprocessing`` context of :func:`run_fresh`.

    Parameters
    ----------
    start_method : {"spawn", "forkserver"}, default="spawn"
        ``"spawn"``: a new interpreter per call, which pays every import.
        ``"forkserver"`` (POSIX; spawn elsewhere): a server process, started
        now, imports ``preload`` once and every call runs in a child forked
        from it: a process of its own (heap, peak-RSS counter, thread pools)
        without the cost of the imports. The server keeps the environment it
        started with.
    preload : iterable of str, default=()
        Modules the fork server imports, in this order (a server already
        running keeps what it imported).

    Returns
    -------
    context : multiprocessing context
        The context to start processes from (``Process``, ``Pool``,
        ``get_start_method``).

    Examples
    --------
    >>> from sktaaf.measure import fresh_process_context
    >>> fresh_process_context("spawn").get_start_method()
    'spawn'
    """
    if start_method == "forkserver" and "forkserver" not in get_all_start_methods():
        start_method = "spawn"  # pragma: no cover (Windows)
    context = get_context(start_method)
    if start_method == "forkserver":
        context.set_forkserver_preload(list(dict.fromkeys(preload)))
        forkserver.ensure_running()  # it imports while the caller prepares
    return context


@contextmanager
def _environ(changes: dict):
    """``os.environ`` with ``changes`` (None removes a variable), restored."""
    saved = {name: os.environ.get(name) for name in changes}

    def apply(values):
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = str(value)

    apply(changes)
    try:
        yield
    finally:
        apply(saved)


def run_fresh(
    function: Callable,
    *args,
    context=None,
    environ: dict | None = None,
):
    """Call ``function(*args)`` in a fresh process and return its result.

    The process has its own, untouched allocator, peak-RSS counter and thread
    pools, so what it measures is not shaped by what ran before.

    Parameters
    ----------
    function : callable
        A module-level function (it is pickled by name).
    *args
        Its arguments (pickled).
    context : multiprocessing context, default=None
        From :func:`fresh_process_context`; None spawns a new interpreter.
    environ : dict, default=None
        Environment variables of the new interpreter (a value of None removes
        the variable): read at its start, as allocator and thread settings
        must be. Only for spawned processes (a fork server's children keep its
        environment).

    Returns
    -------
    result : object
        What ``function`` returned; its exception is raised here.

    Examples
    --------
    >>> import math
    >>> from sktaaf.measure import run_fresh
    >>> run_fresh(math.factorial, 5)
    120
    """
    context = get_context("spawn") if context is None else context
    if environ and context.get_start_method() != "spawn":
        raise ValueError(
            "run_fresh sets environ for spawned processes only; got a "
            f"{context.get_start_method()!r} context."
        )
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        with _environ(environ or {}):
            future = pool.submit(function, *args)  # spawns the process
        return future.result()


# ---------------------------------------------------------------- environment
def _git_revision() -> str | None:
    """The commit of a source checkout of sktaaf (``+modified`` when it has
    uncommitted changes); None for an installed package."""

    def git(*words: str) -> str:
        root = Path(__file__).resolve().parents[1]
        command = ["git", *words]
        run = subprocess.run(command, cwd=root, capture_output=True, text=True)
        run.check_returncode()
        return run.stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("+modified" if dirty else "")


def environment() -> dict:
    """The machine, versions, threads, allocator settings and load that
    measurements come with.

    Returns
    -------
    environment : dict
        ``platform``, ``libc``, ``processor`` (the CPU's model name),
        ``cpu_count``, ``memory`` (``MemTotal``), ``torch_threads``,
        ``torch_interop_threads``, ``cuda`` (torch's CUDA version),
        ``cuda_device`` (the name of the current CUDA device, or None),
        ``git_revision`` (of a source checkout, else None), ``versions`` (of
        Python, sktaaf and the libraries installed), ``variables`` (the
        allocator and thread variables set, :data:`ALLOCATOR_VARIABLES`,
        ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``) and ``load_average_start``.

    Examples
    --------
    >>> from sktaaf.measure import environment
    >>> env = environment()
    >>> env["versions"]["sktaaf"] == __import__("sktaaf").__version__
    True
    >>> len(env["load_average_start"])
    3
    """
    import torch

    versions = {"python": platform.python_version(), "sktaaf": __version__}
    for package in _VERSIONED:
        try:
            versions[package] = importlib.import_module(package).__version__
        except ImportError:
            pass
    cuda = torch.cuda.is_available()
    return {
        "platform": platform.platform(),
        "libc": " ".join(platform.libc_ver()),
        "processor": _first_line("/proc/cpuinfo", "model name") or platform.processor(),
        "cpu_count": os.cpu_count(),
        "memory": _first_line("/proc/meminfo", "MemTotal"),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "cuda": torch.version.cuda,
        "cuda_device": torch.cuda.get_device_name() if cuda else None,
        "git_revision": _git_revision(),
        "versions": versions,
        "variables": {
            name: os.environ[name]
            for name in ALLOCATOR_VARIABLES + _THREAD_VARIABLES
            if name in os.environ
        },
        "load_average_start": os.getloadavg(),
    }


# --------------------------------------------------------------------- tables
def markdown_table(
    titles: Sequence[str], rows: Iterable[Sequence[str]], align: str | None = None
) -> str:
    """A Markdown table of text cells.

    Parameters
    ----------
    titles : sequence of str
        The column titles.
    rows : iterable of sequences of str
        The cells, row by row.
    align : str, default=None
        One letter per column, ``"l"`` (left) or ``"r"`` (right); None aligns
        the first column left and the others right.

    Returns
    -------
    table : str
        The Markdown table: a header row, an alignment row and the rows.

    Examples
    --------
    >>> from sktaaf.measure import markdown_table
    >>> print(markdown_table(["model", "MAE"], [["linear", "0.31"]]))
    | model | MAE |
    |---|---:|
    | linear | 0.31 |
    """
    if align is None:
        align = "l" + "r" * (len(titles) - 1)
    rule = "|" + "".join("---:|" if side == "r" else "---|" for side in align)
    lines = ["| " + " | ".join(titles) + " |", rule]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
