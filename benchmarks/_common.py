"""What the benchmarks share beyond measuring: table cells, argument groups
and output files.

Benchmarks declare their data, estimators and parameters and use only
sktaaf's public API; they measure with :mod:`sktaaf.measure` (time, page
faults, memory, fresh processes, the environment, Markdown tables), as
``sktaaf compare`` does.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sktaaf.measure import markdown_table


# --------------------------------------------------------------------- tables
def cells(result: dict, columns: list[tuple[str, str, str]]) -> list[str]:
    """``result``'s values under ``columns`` of (title, key, format); blank
    where a key is missing or None."""
    return [
        "" if result.get(key) is None else format(result[key], spec)
        for _, key, spec in columns
    ]


def results_table(results: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """A Markdown table of ``results`` under ``columns`` of (title, key,
    format): text (format ``"s"``) aligned left, numbers right."""
    rows = [cells(result, columns) for result in results]
    align = "".join("l" if spec == "s" else "r" for _, _, spec in columns)
    return markdown_table([title for title, _, _ in columns], rows, align)


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
