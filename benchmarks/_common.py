"""What every benchmark measures with: time and resource usage, fresh worker
processes, the environment, Markdown tables, argument groups and output files.

Benchmarks declare their data, estimators and parameters and use only
sktaaf's public API; the measuring lives here once.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

#: Environment variables that decide how malloc behaves, reported with every
#: result (see the user guide's performance notes).
ALLOCATOR_VARIABLES = (
    "GLIBC_TUNABLES",
    "LD_PRELOAD",
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TOP_PAD_",
    "SKTAAF_TUNE_MALLOC",
)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ measuring
def usage() -> dict:
    """Wall clock and this process's resource usage so far.

    ``minflt``/``majflt`` are page faults served without/with disk access
    (``getrusage``'s ``ru_minflt``/``ru_majflt``), ``user``/``sys`` CPU seconds
    of the process (all its threads).
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
    """What :func:`usage` grew by since ``start``."""
    return {key: value - start[key] for key, value in usage().items()}


def status_mib(field: str) -> float:
    """A memory figure of this process from ``/proc/self/status``, in MiB:
    ``VmRSS`` (resident now) or ``VmHWM`` (peak resident). Unlike
    ``getrusage``'s ``ru_maxrss``, which on Linux keeps across ``exec`` the
    peak of the parent that spawned the process, these are the process's own.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


def run_fresh(module: str, argv: list[str], environ: dict | None = None) -> dict:
    """Run ``python -m module *argv`` in a new interpreter (its own, untouched
    allocator) and return the JSON object its last line of output prints.

    ``environ`` entries are added to this process's environment; a value of
    ``None`` removes the variable.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    )
    for name, value in (environ or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = str(value)
    done = subprocess.run(
        [sys.executable, "-m", module, *argv],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"python -m {module} {' '.join(argv)} failed "
            f"(exit {done.returncode}):\n{done.stderr[-4000:]}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- environment
def environment(extra: dict | None = None) -> dict:
    """Versions, threads, allocator settings and load the numbers came with."""
    import numpy as np
    import sklearn
    import skorch
    import torch

    import sktaaf

    env = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libc": " ".join(platform.libc_ver()),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "sktaaf": sktaaf.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "skorch": skorch.__version__,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "load_average_start": os.getloadavg(),
        "variables": {
            name: os.environ[name]
            for name in ALLOCATOR_VARIABLES + THREAD_VARIABLES
            if name in os.environ
        },
    }
    return {**env, **(extra or {})}


# --------------------------------------------------------------------- tables
def markdown_table(titles: list[str], rows: list[list[str]], align: str) -> str:
    """A Markdown table; ``align`` has one letter per column, l(eft) or r(ight)."""
    rule = "|" + "".join("---:|" if side == "r" else "---|" for side in align)
    lines = ["| " + " | ".join(titles) + " |", rule]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def cells(result: dict, columns: list[tuple[str, str, str]]) -> list[str]:
    """``result``'s values under ``columns`` of (title, key, format); blank
    where a key is missing or None."""
    return [
        "" if result.get(key) is None else format(result[key], spec)
        for _, key, spec in columns
    ]


# ------------------------------------------------------------------ arguments
def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text}")
    return value


def add_output_arguments(parser: argparse.ArgumentParser, files: str) -> None:
    """``--out DIR``: where ``files`` are written."""
    group = parser.add_argument_group("output")
    group.add_argument(
        "--out", type=Path, metavar="DIR", help=f"folder for {files} (none: print)"
    )


def add_device_argument(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--device",
        default=default,
        help=f"torch device of the networks and the estimators ({default})",
    )


# --------------------------------------------------------------------- output
def write_results(out: Path, stem: str, results: dict, text: str) -> list[str]:
    """Write ``stem``.json and ``stem``.md (configuration, environment and
    ``text``) to ``out``; their names."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / f"{stem}.md").write_text(
        f"Configuration: `{json.dumps(results['config'])}`\n\n"
        f"Environment: `{json.dumps(results['environment'])}`\n\n{text}\n"
    )
    return [f"{stem}.json", f"{stem}.md"]
