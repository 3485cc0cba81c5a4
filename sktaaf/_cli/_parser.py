"""The options of the ``sktaaf`` command: one sub-parser per command, with
its examples; the commands themselves are in ``_main``."""

from __future__ import annotations

import argparse

__all__ = ["build_parser"]

_ID_TYPES = ("entrez_id", "probe_id", "symbol")

_FIT_EXAMPLES = """\
examples:
  # landmarks from the file's pr_is_lmark rows, every other gene a target
  sktaaf fit profiles.gctx -o model.pt
  # the 978 L1000 landmarks of the shipped list, rows keyed by Entrez id
  sktaaf fit profiles.gctx --landmarks l1000 --id-type entrez_id -o model.pt
  # a D-GEX network, your own landmark list, network parameters
  sktaaf fit profiles.gct --landmarks landmarks.txt --model dgex \\
      --param hidden_layer_sizes=(3000,3000) --param max_epochs=100 -o model.pt
  # rows keyed by probe id: find the landmarks by their symbols
  sktaaf fit profiles.gctx --landmarks l1000 --id-type symbol \\
      --id-field pr_gene_symbol -o model.pt
  # hold out 20% of the samples, then score the model on them
  sktaaf fit profiles.gctx --seed 1 --holdout 0.2 --holdout-out test.gctx -o model.pt
  sktaaf score model.pt test.gctx -o scores.csv
"""

_PREDICT_EXAMPLES = """\
examples:
  sktaaf predict model.pt new_profiles.gctx -o inferred.gctx
  # rows named by gene symbol instead of gene id; GCT text output
  sktaaf predict model.pt new_profiles.gctx --symbols -o inferred.gct
"""

_SCORE_EXAMPLES = """\
examples:
  sktaaf fit profiles.gctx --holdout 0.2 --holdout-out test.gctx -o model.pt
  sktaaf score model.pt test.gctx -o scores.csv --markdown scores.md
"""

_INFO_EXAMPLES = """\
examples:
  sktaaf info model.pt
  sktaaf info model.pt --json > card.json
"""

_MAIN_EXAMPLES = """\
examples:
  sktaaf fit profiles.gctx --landmarks l1000 -o model.pt
  sktaaf predict model.pt new_profiles.gctx -o inferred.gctx
  sktaaf score model.pt measured.gctx -o scores.csv
  sktaaf info model.pt
  sktaaf compare --quick --out results/
  sktaaf fit --help

The model file is read by TAAFRegressor.load / DGEXRegressor.load in Python;
it holds the gene ids and symbols too.
"""


def _add_fit_command(commands, quiet, formatter, runs: dict) -> None:
    fit = commands.add_parser(
        "fit",
        parents=[quiet],
        help="train a model on a profiles file and save it",
        description="Train a network that infers the target genes of a profiles "
        "file from its landmark genes, and save it as a model file.",
        epilog=_FIT_EXAMPLES,
        formatter_class=formatter,
    )
    fit.add_argument(
        "profiles",
        metavar="PROFILES",
        help="expression profiles: .gctx, .gct, .h5 (pandas samples x genes) "
        "or .npz (arrays matrix, gene_ids, sample_ids)",
    )
    fit.add_argument(
        "--landmarks",
        metavar="FILE|l1000",
        help="the landmark genes: a file with one gene id per line, or l1000 for "
        "the 978 L1000 landmarks shipped with sktaaf (ids of --id-type); "
        "default: the rows the file's pr_is_lmark metadata flags",
    )
    fit.add_argument(
        "--id-type",
        choices=_ID_TYPES,
        default="entrez_id",
        help="the kind of row id of the file, for --landmarks l1000 "
        "(default: entrez_id, as in the LINCS GCTX files)",
    )
    _add_id_field_argument(fit, "the ids of --landmarks")
    fit.add_argument(
        "--targets",
        metavar="FILE",
        help="the target genes, one id per line (default: every other gene)",
    )
    fit.add_argument(
        "--model",
        choices=("taaf", "dgex"),
        default="taaf",
        help="TAAFRegressor (default) or DGEXRegressor",
    )
    fit.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter of the estimator, as a Python literal or a string "
        "(repeatable), e.g. --param max_epochs=50 --param "
        "hidden_layer_sizes=(3000,3000)",
    )
    fit.add_argument(
        "--in-memory",
        action="store_true",
        help="load a GCTX file into memory instead of streaming it from disk "
        "(rows shuffled one by one, as in Python with arrays, where streaming "
        "shuffles blocks of rows; needs the RAM for the whole file)",
    )
    fit.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="the estimator's random_state, saved in the model file, and the "
        "draw of --holdout: the same command and seed train the same model "
        "(default: 0, or the random_state of --param; a --seed that disagrees "
        "with --param random_state is refused)",
    )
    fit.add_argument(
        "--holdout",
        type=float,
        metavar="FRACTION",
        help="hold out this fraction of the samples (drawn with --seed) from "
        "training and write them to --holdout-out, for `sktaaf score`; the "
        "file is then loaded into memory",
    )
    fit.add_argument(
        "--holdout-out",
        metavar="TEST.gctx",
        help="the held-out samples, every gene with its row and column "
        "metadata: GCTX, or GCT when the name ends in .gct",
    )
    _add_device_argument(fit, "the estimator's own, auto: CUDA when available")
    fit.add_argument(
        "-o", "--output", required=True, metavar="MODEL.pt", help="the model file"
    )
    fit.set_defaults(run=runs["fit"])


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}")
    return value


def _correlation(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not -1.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(
            f"expected a Pearson r in [-1, 1]; got {text!r}"
        )
    return value


def _device(text: str) -> str:
    if text in ("cpu", "cuda", "auto") or (
        text.startswith("cuda:") and text[5:].isdigit()
    ):
        return text
    raise argparse.ArgumentTypeError(
        f"expected cpu, cuda, cuda:N (a GPU's index) or auto; got {text!r}"
    )


def _add_id_field_argument(command, ids: str, note: str = "") -> None:
    command.add_argument(
        "--id-field",
        metavar="FIELD",
        help=f"find the landmarks by {ids} in this row-metadata field (e.g. "
        f"pr_gene_symbol, pr_gene_id) instead of the row ids{note}",
    )


def _add_device_argument(command, default: str) -> None:
    command.add_argument(
        "--device",
        type=_device,
        metavar="cpu|cuda|cuda:N|auto",
        help=f"where the network runs (default: {default})",
    )


def _add_predict_command(commands, quiet, formatter, runs: dict) -> None:
    predict = commands.add_parser(
        "predict",
        parents=[quiet],
        help="infer the target genes of new profiles with a saved model",
        description="Infer the target genes of new profiles with a model saved by "
        "`sktaaf fit`. The landmark genes are matched by row id, in any order; "
        "the output holds the inferred genes with their symbols (pr_gene_symbol) "
        "and the input's sample metadata.",
        epilog=_PREDICT_EXAMPLES,
        formatter_class=formatter,
    )
    predict.add_argument("model", metavar="MODEL.pt", help="a model file")
    predict.add_argument(
        "profiles", metavar="PROFILES", help="new profiles holding the landmarks"
    )
    predict.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT.gctx",
        help="the inferred profiles: GCTX, or GCT when the name ends in .gct",
    )
    predict.add_argument(
        "--symbols",
        action="store_true",
        help="name the output rows by gene symbol (Entrez ids go to pr_gene_id, "
        "ids of other kinds to pr_source_id)",
    )
    _add_id_field_argument(
        predict, "the model's landmark ids", "; the file is then read into memory"
    )
    predict.add_argument(
        "--r-threshold",
        type=_correlation,
        metavar="R",
        help="flag as well inferred the genes whose validation Pearson r is at "
        "least R (for models that know their per-gene scores)",
    )
    _add_device_argument(predict, "auto: CUDA when available")
    predict.add_argument(
        "--batch-size",
        type=_positive_int,
        metavar="N",
        help="rows per forward pass (default: the model's batch_size; at least "
        "4,096 on a CPU, 16,384 on CUDA)",
    )
    predict.add_argument(
        "--chunk-size",
        type=_positive_int,
        metavar="N",
        help="GCTX to GCTX: samples read, inferred and written at a time "
        "(default: about 16 MiB of values)",
    )
    predict.set_defaults(run=runs["predict"])


def _add_score_command(commands, quiet, formatter, runs: dict) -> None:
    score = commands.add_parser(
        "score",
        parents=[quiet],
        help="score a saved model on profiles with measured target genes",
        description="Infer the samples of a profiles file from its landmark "
        "genes and compare the inference with the file's measured target genes "
        "(those of the model's targets that the file has): per-gene MAE and "
        "Pearson r, with the genes' symbols, to a CSV file, and a summary line.",
        epilog=_SCORE_EXAMPLES,
        formatter_class=formatter,
    )
    score.add_argument("model", metavar="MODEL.pt", help="a model file")
    score.add_argument(
        "truth",
        metavar="TRUTH",
        help="profiles holding the landmarks and measured target genes "
        "(.gctx, .gct, .h5, .npz)",
    )
    score.add_argument(
        "-o", "--output", metavar="SCORES.csv", help="the per-gene scores (CSV)"
    )
    score.add_argument(
        "--markdown",
        metavar="SCORES.md",
        help="the per-gene scores as a Markdown table too",
    )
    _add_id_field_argument(score, "the model's landmark ids")
    _add_device_argument(score, "auto: CUDA when available")
    score.set_defaults(run=runs["score"])


def _add_info_command(commands, formatter, runs: dict) -> None:
    info = commands.add_parser(
        "info",
        help="describe a model file (a model card)",
        description="Print what a model file holds: its class and parameters, "
        "genes, training, validation scores, versions and checksum.",
        epilog=_INFO_EXAMPLES,
        formatter_class=formatter,
    )
    info.add_argument("model", metavar="MODEL.pt", help="a model file")
    info.add_argument(
        "--json", action="store_true", help="the model card as JSON, on stdout"
    )
    info.set_defaults(run=runs["info"])


def build_parser(runs: dict, compare_options: bool = True) -> argparse.ArgumentParser:
    """The parser of the ``sktaaf`` command; ``runs`` maps each command
    (``fit``, ``predict``, ``score``, ``info``, ``compare``) to the function
    that runs it. ``compare``'s options, which import the estimators, are
    added only with ``compare_options``."""
    from .._version import __version__

    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="sktaaf",
        description="Infer target genes from L1000 landmark genes with TAAF-D-GEX "
        "and D-GEX networks.",
        epilog=_MAIN_EXAMPLES,
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"sktaaf {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    quiet = argparse.ArgumentParser(add_help=False)
    quiet.add_argument(
        "-q", "--quiet", action="store_true", help="no progress on the terminal"
    )

    _add_fit_command(commands, quiet, formatter, runs)
    _add_predict_command(commands, quiet, formatter, runs)
    _add_score_command(commands, quiet, formatter, runs)
    _add_info_command(commands, formatter, runs)
    _add_compare_command(commands, formatter, runs, compare_options)
    return parser


def _add_compare_command(commands, formatter, runs: dict, options: bool) -> None:
    text = "compare TAAF-D-GEX, D-GEX and baselines on a data set"
    if not options:  # named in the list of commands, parsed only when run
        compare = commands.add_parser("compare", help=text, add_help=False)
        compare.set_defaults(run=runs["compare"], parser=compare)
        return
    from .._compare import add_arguments
    from .._compare._args import DESCRIPTION, EXAMPLES

    compare = commands.add_parser(
        "compare",
        help=text,
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=formatter,
    )
    add_arguments(compare)
    compare.set_defaults(run=runs["compare"], parser=compare)
