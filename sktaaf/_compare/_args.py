"""The options of ``sktaaf compare``, one argument group per helper."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from .._utils._atomic import same_file
from ..datasets import REAL_EXAMPLES
from ._models import DEFAULT_MODELS, FULL, MODELS, QUICK

# numpy's seeds are below 2**32.
_MAX_SEED = 2**32 - 1
#: The files that ``--out`` receives (the figure of the per-gene scatter is
#: named after the reference model).
OUTPUT_FILES = (
    "results.json",
    "results.md",
    "per_gene.csv",
    "per_gene.npz",
    "taaf_parameters.npz",
    "mae.png",
    "per_gene_mae_vs_linear.png",
    "learning_curves.png",
    "taaf_parameters.png",
)
DESCRIPTION = (
    "Test error, win rate over linear regression, time and memory of "
    "TAAF-D-GEX, D-GEX and baselines on one data set."
)
EXAMPLES = """\
examples:
  # a quick smoke run on synthetic data (1.5 to 2 minutes on 2 cores)
  sktaaf compare --quick --out results/
  # the default run: 4,000 synthetic samples, 942 landmarks, 952 targets
  sktaaf compare --out results/
  # a GCTX file, its pr_is_lmark landmarks, 5-fold cross-validation
  sktaaf compare --data profiles.gctx --folds 5 --out results/
  # a real single-cell data set (pip install "sktaaf[real]")
  sktaaf compare --real pbmc68k --models linear,knn_ge,taaf --out results/
  # real bulk microarrays, the L1000 landmarks they hold, 5-fold baselines
  sktaaf compare --real gse1992 --folds 5 --models ridgecv,knn,mean,mlp
  # your own regressor, other parameters for a built-in one
  sktaaf compare --extra-model lasso=sklearn.linear_model:Lasso \\
      --model-params knn='{"n_neighbors": 20}'
"""


def _pair(text: str, what: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(f"expected NAME={what}, got {text!r}")
    return name.strip(), value.strip()


def _extra_model(text: str) -> tuple[str, str]:
    return _pair(text, "module:Class")


def _model_params(text: str) -> tuple[str, dict]:
    name, value = _pair(text, "JSON")
    try:
        params = json.loads(value)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"{name}: invalid JSON: {exc}") from exc
    if not isinstance(params, dict):
        raise argparse.ArgumentTypeError(f"{name}: expected a JSON object")
    return name, params


def _int_list(text: str) -> list[int]:
    try:
        values = [int(value) for value in text.split(",") if value.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected e.g. 300,300: {exc}") from exc
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive sizes, got {text!r}")
    return values


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    models = parser.add_argument_group("models")
    models.add_argument(
        "--models",
        metavar="NAMES",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        default=DEFAULT_MODELS,
        help=f"comma-separated, among {', '.join(MODELS)} (default: "
        f"{','.join(DEFAULT_MODELS)})",
    )
    models.add_argument(
        "--extra-model",
        type=_extra_model,
        action="append",
        default=[],
        metavar="NAME=module:Class",
        help="also compare this regressor (repeatable); subclasses of sktaaf's "
        "regressors get the network budget",
    )
    models.add_argument(
        "--model-params",
        type=_model_params,
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="override parameters, e.g. knn='{\"n_neighbors\": 20}' (repeatable)",
    )


def _add_network_arguments(parser: argparse.ArgumentParser) -> None:
    networks = parser.add_argument_group("network budget (every network)")
    networks.add_argument(
        "--hidden",
        metavar="SIZES",
        type=_int_list,
        help="hidden layer sizes, e.g. 300,300 (default: each estimator's)",
    )
    networks.add_argument(
        "--epochs",
        metavar="N",
        type=int,
        help=f"max epochs (default {FULL['epochs']}; --quick: {QUICK['epochs']})",
    )
    networks.add_argument(
        "--patience",
        metavar="N",
        type=int,
        help=f"early-stopping patience in epochs (default {FULL['patience']}; "
        f"--quick: "
        f"{QUICK['patience']})",
    )
    networks.add_argument("--dropout", type=float, help="(default: each estimator's)")
    networks.add_argument(
        "--learning-rate", type=float, help="(default: each estimator's)"
    )
    networks.add_argument("--batch-size", type=int, help="(default: each estimator's)")
    networks.add_argument(
        "--device",
        default="auto",
        help="torch device of the networks (default: auto, CUDA when available)",
    )


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    data.add_argument(
        "--data",
        metavar="FILE",
        type=Path,
        help="a .gctx, .gct, .h5 (pandas), .npz or .npy file; default: make_expression",
    )
    data.add_argument(
        "--real",
        metavar="NAME",
        choices=REAL_EXAMPLES,
        help="a real data set shipped by a package (the 'real' extra): "
        f"{', '.join(REAL_EXAMPLES)} (single-cell: scanpy, celltypist; bulk "
        "microarrays with L1000 landmarks: SurvSet); see "
        "sktaaf.datasets.load_real_example",
    )
    data.add_argument(
        "--landmarks",
        metavar="FILE",
        type=Path,
        help="landmark gene ids, one per line (--data)",
    )
    data.add_argument(
        "--targets",
        metavar="FILE",
        type=Path,
        help="target gene ids, one per line (--data; default: all non-landmarks)",
    )
    data.add_argument(
        "--hdf-key",
        metavar="KEY",
        default="table",
        help="key of the HDF5 DataFrame (table)",
    )
    data.add_argument(
        "--n-samples",
        metavar="N",
        type=int,
        help=f"make_expression samples (default {FULL['n_samples']}; --quick: "
        f"{QUICK['n_samples']}); with --data or --real, a seeded random subset",
    )
    data.add_argument(
        "--n-landmarks",
        metavar="N",
        type=int,
        help=f"make_expression landmarks (default {FULL['n_landmarks']}; --quick: "
        f"{QUICK['n_landmarks']}); with --data or --real, keep the first N",
    )
    data.add_argument(
        "--n-targets",
        metavar="N",
        type=int,
        help=f"make_expression targets (default {FULL['n_targets']}; --quick: "
        f"{QUICK['n_targets']}); with --data, keep the first N; with --real, "
        "the N most variable (default: 615 single-cell, 1000 bulk)",
    )


def _add_split_arguments(parser: argparse.ArgumentParser) -> None:
    split = parser.add_argument_group("splits")
    split.add_argument(
        "--test-fraction",
        metavar="F",
        type=float,
        default=0.2,
        help="share of all samples in the test set, fixed split (%(default)s)",
    )
    split.add_argument(
        "--validation-fraction",
        metavar="F",
        type=float,
        default=0.1,
        help="share of all samples that the networks hold out for early "
        "stopping (%(default)s)",
    )
    split.add_argument(
        "--folds",
        metavar="K",
        type=int,
        help="K-fold cross-validation instead of a fixed split",
    )
    split.add_argument(
        "--seed", type=int, default=0, help="data and first split seed (0)"
    )
    split.add_argument(
        "--seeds",
        metavar="N",
        type=int,
        default=1,
        help="repeats, with seeds seed, seed+1, ... (default 1)",
    )


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    run = parser.add_argument_group("run")
    run.add_argument(
        "--quick",
        action="store_true",
        help="a small, fast run: the synthetic problem scaled down 4x in "
        "samples and genes, fewer epochs (see the defaults above)",
    )
    run.add_argument(
        "--threads",
        metavar="N",
        type=int,
        default=1,
        help="torch and BLAS threads per fit (default 1; 0: the libraries' defaults)",
    )
    run.add_argument(
        "--in-process",
        action="store_true",
        help="fit in this process, not a fresh one per fit (faster start, "
        "less exact peak memory)",
    )
    run.add_argument(
        "--start-method",
        choices=("forkserver", "spawn"),
        default="forkserver",
        help="how the fresh process of each fit starts: forked from a server "
        "that imported torch once (forkserver, the default), or a new "
        "interpreter per fit (spawn: slower, every fit pays the imports)",
    )
    run.add_argument("--no-plots", action="store_true", help="skip the figures")
    run.add_argument(
        "--out", metavar="DIR", type=Path, help="folder for results and figures"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add every option of ``sktaaf compare`` to ``parser``."""
    _add_model_arguments(parser)
    _add_network_arguments(parser)
    _add_data_arguments(parser)
    _add_split_arguments(parser)
    _add_run_arguments(parser)


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace):
    """Fill the defaults that depend on ``--quick`` and reject inconsistent
    options through ``parser.error``; returns ``args``."""

    defaults = QUICK if args.quick else FULL
    for key in ("epochs", "patience"):
        if getattr(args, key) is None:
            setattr(args, key, defaults[key])
    if args.data is not None and args.real is not None:
        parser.error("give --data or --real, not both")
    if args.data is None and args.real is None:
        for key in ("n_samples", "n_landmarks", "n_targets"):
            if getattr(args, key) is None:
                setattr(args, key, defaults[key])
    unknown = [name for name in args.models if name not in MODELS]
    if unknown:
        parser.error(f"unknown --models {unknown}; choose among {list(MODELS)}")
    clashes = [name for name, _ in args.extra_model if name in MODELS]
    if clashes:
        parser.error(f"--extra-model names {clashes} are built-in model names")
    compared = args.models + [name for name, _ in args.extra_model]
    if not compared:
        parser.error("no model to compare: give --models or --extra-model")
    args.model_params = dict(args.model_params)
    strangers = sorted(set(args.model_params) - set(compared))
    if strangers:
        parser.error(f"--model-params names models not compared: {strangers}")
    for name in (
        "epochs",
        "patience",
        "batch_size",
        "seeds",
        "n_samples",
        "n_landmarks",
        "n_targets",
    ):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {value}")
    if args.folds is not None and args.folds < 2:
        parser.error(f"--folds must be at least 2, got {args.folds}")
    test_fraction = 1 / args.folds if args.folds else args.test_fraction
    if not 0 < test_fraction < 1:
        parser.error(f"--test-fraction must be in (0, 1), got {args.test_fraction}")
    if not 0 < args.validation_fraction < 1 - test_fraction:
        parser.error(
            f"--validation-fraction must be in (0, {1 - test_fraction:g}) (the "
            f"share left by the test set), got {args.validation_fraction}"
        )
    if args.data is None and (args.landmarks or args.targets):
        parser.error("--landmarks and --targets need --data")
    last_seed = args.seed + args.seeds - 1
    if args.seed < 0 or last_seed > _MAX_SEED:
        parser.error(
            f"--seed must be in [0, {_MAX_SEED - args.seeds + 1}] (the seeds of the "
            f"--seeds {args.seeds} repeats are --seed to --seed + {args.seeds - 1}), "
            f"got {args.seed}"
        )
    return args


def check_paths(args: argparse.Namespace) -> None:
    """Check the files of ``args`` before any work: the inputs are files,
    ``--out`` is a folder (or a new one) that can be written, and no output
    would replace an input. A ValueError names the option and the path."""
    inputs = {
        option: None if path is None else Path(path)
        for option, path in [
            ("--data", args.data),
            ("--landmarks", args.landmarks),
            ("--targets", args.targets),
        ]
    }
    for option, path in inputs.items():
        if path is None:
            continue
        if path.is_dir():
            raise ValueError(f"{option} {str(path)!r} is a folder, not a file.")
        if not path.is_file():
            raise ValueError(f"{option}: no file at {str(path)!r}.")
    if args.out is None:
        return
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        kind = next(
            (
                f"the {option} file"
                for option, path in inputs.items()
                if path is not None and same_file(out, path)
            ),
            "a file",
        )
        raise ValueError(
            f"--out {str(out)!r} is {kind}, not a folder; give a folder for the "
            "results."
        )
    for name in OUTPUT_FILES:
        for option, path in inputs.items():
            if path is not None and same_file(out / name, path):
                raise ValueError(
                    f"--out {str(out)!r}: the results file {name!r} written there "
                    f"would replace the {option} file {str(path)!r}; give another "
                    "folder."
                )
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(
            f"--out {str(out)!r} cannot be created: {str(existing)!r} is a file."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"--out {str(out)!r}: {str(existing)!r} is not writable.")


def build_parser(prog: str = "sktaaf compare") -> argparse.ArgumentParser:
    """A stand-alone parser of ``sktaaf compare``'s options."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return parser


def parse_args(argv=None) -> argparse.Namespace:
    """Parse and check the options of ``sktaaf compare``."""
    parser = build_parser()
    return check_args(parser, parser.parse_args(argv))
