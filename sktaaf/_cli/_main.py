"""The ``sktaaf`` command: train a model on a profiles file, infer genes with it,
compare models.

``sktaaf fit`` reads a profiles file (GCTX, GCT, pandas HDF5 or .npz), trains
a :class:`~sktaaf.TAAFRegressor` or :class:`~sktaaf.DGEXRegressor` on its
landmark and target genes and saves the model file; ``sktaaf predict`` reads
new profiles, matches their genes to the model's landmarks by id and writes
the inferred target genes as GCTX (or GCT) with their symbols and the input's
sample metadata; ``sktaaf compare`` runs the comparison harness
(:mod:`sktaaf._compare`). Errors the user can fix print one line and exit with
status 2.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import signal
import sys
import threading
import warnings
from pathlib import Path

import numpy as np

from ..exceptions import TrainingInterruptedWarning
from ._genes import genes_file, model_genes
from ._parser import build_parser
from ._paths import check_output, os_error_message
from ._profiles import (
    UsageError,
    gctx_rows,
    is_gctx,
    landmark_symbols,
    load_profiles,
    open_profiles,
    read_id_list,
)

__all__ = ["main"]

# The longest --param value read (a literal nested deeper exhausts the parser).
_MAX_PARAM_CHARS = 2000


def _estimators() -> dict:
    from .. import DGEXRegressor, TAAFRegressor, TargetBlockRegressor

    return {
        "taaf": TAAFRegressor,
        "dgex": DGEXRegressor,
        "blocks": TargetBlockRegressor,
    }


def _parse_param(text: str) -> tuple[str, object]:
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise UsageError(f"--param takes key=value (e.g. max_epochs=50); got {text!r}.")
    name = name.strip()
    if len(value) > _MAX_PARAM_CHARS:
        raise UsageError(
            f"--param {name}: the value is {len(value)} characters long; at most "
            f"{_MAX_PARAM_CHARS} are read."
        )
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        parsed = value  # a string, e.g. activation=relu
    except (MemoryError, RecursionError) as exc:
        raise UsageError(
            f"--param {name}: the value is nested too deeply to be read."
        ) from exc
    return name, parsed


def _make_estimator(model: str, params: list[str], verbose: int):
    cls = _estimators()[model]
    estimator = cls(verbose=verbose)
    valid = estimator.get_params(deep=False)
    settings = dict(_parse_param(text) for text in params)
    unknown = sorted(set(settings) - set(valid))
    if unknown:
        raise UsageError(
            f"--param: {cls.__name__} has no parameter {', '.join(unknown)}; "
            f"its parameters are {', '.join(sorted(valid))}."
        )
    estimator.set_params(**settings)
    try:  # fit's own checks of its parameters, before the data are read
        estimator._validate_params()
        estimator._check_params()
    except (ValueError, TypeError) as exc:
        raise UsageError(f"--param: {exc}") from exc
    return estimator


def _frame(values, index, columns):
    import pandas as pd

    return pd.DataFrame(values, index=pd.Index(index), columns=pd.Index(columns))


def _echo(args, message: str) -> None:
    if not args.quiet:
        print(message, file=sys.stderr)


# ------------------------------------------------------------------- fit
def _check_fit_paths(args) -> Path:
    """The model file to write, checked before any work (see ``_paths``)."""
    landmarks = args.landmarks
    if landmarks is not None and landmarks.lower() == "l1000":
        landmarks = None
    return check_output(
        args.output,
        {
            "the profiles file": args.profiles,
            "the landmarks file": landmarks,
            "the targets file": args.targets,
        },
    )


@contextlib.contextmanager
def _noting_ctrl_c():
    """Yield a list that a SIGINT (Ctrl-C) appends to; the interrupt then goes
    on as before (``fit`` stops training and keeps what it trained)."""
    pressed = []
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(
        previous
    ):  # ignored, or not ours to handle
        yield pressed
        return

    def note(signum, frame):
        pressed.append(signum)
        previous(signum, frame)

    signal.signal(signal.SIGINT, note)
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, previous)


def _save(estimator, output: Path, data) -> None:
    """Write the model file, with the genes' symbols inside it."""
    from .._persistence import save_estimator

    symbols = {
        "landmarks": landmark_symbols(data.landmark_ids, data.row_metadata),
        "targets": landmark_symbols(data.target_ids, data.row_metadata),
    }
    try:
        save_estimator(estimator, output, gene_symbols=symbols)
    except OSError as exc:
        raise UsageError(os_error_message(exc, output)) from exc
    old = genes_file(output)  # an earlier version's, now stale: the model
    if old.is_file() and not old.is_symlink():  # holds the genes itself
        with contextlib.suppress(OSError):
            old.unlink()


def _fit(args) -> int:
    output = _check_fit_paths(args)
    landmark_ids = (
        None
        if args.landmarks is None
        else read_id_list(args.landmarks, args.id_type, "landmarks")
    )
    if args.targets is not None and args.targets.lower() == "l1000":
        raise UsageError("--targets takes a file of gene ids, not l1000.")
    target_ids = (
        None if args.targets is None else read_id_list(args.targets, "", "targets")
    )
    estimator = _make_estimator(args.model, args.param, verbose=0 if args.quiet else 1)
    _set_device(estimator, args.device)
    data = _training_profiles(args, landmark_ids, target_ids)
    try:
        if len(data.target_ids) == 0:
            raise UsageError(
                f"{args.profiles!r} has no target genes besides the landmarks."
            )
        _echo(
            args,
            f"Training a {type(estimator).__name__} on {len(data.X)} samples: "
            f"{len(data.landmark_ids)} landmark genes -> {len(data.target_ids)} "
            f"targets{' (streamed from the file)' if 'file' in data else ''}.",
        )
        with _noting_ctrl_c() as pressed, warnings.catch_warnings():
            # Said below, in the command's words.
            warnings.simplefilter("ignore", TrainingInterruptedWarning)
            _fit_profiles(estimator, data)
    finally:
        if "file" in data:
            data.file.close()
    _save(estimator, output, data)
    if pressed:
        print(
            f"sktaaf fit: training was interrupted (Ctrl-C) after "
            f"{estimator.n_iter_} finished epochs; saved the model trained so far "
            f"(the weights of epoch {estimator.best_epoch_}) to {str(output)!r}.",
            file=sys.stderr,
        )
        return 130
    _echo(args, f"Saved the model to {str(output)!r}.")
    return 0


def _set_device(estimator, device) -> None:
    """``--device`` as the estimator's ``device`` (unless it is left out)."""
    if device is None:
        return
    given = estimator.get_params()["device"]
    if given not in ("auto", device):
        raise UsageError(
            f"--device {device} and --param device={given} disagree; give one."
        )
    estimator.set_params(device=device)


def _training_profiles(args, landmark_ids, target_ids):
    """The training data: views of a GCTX file, streamed (its ``file`` open),
    or the whole file in memory (other formats, or ``--in-memory``)."""
    if is_gctx(args.profiles) and not args.in_memory:
        return open_profiles(args.profiles, landmark_ids, target_ids)
    return load_profiles(args.profiles, landmark_ids, target_ids)


def _fit_profiles(estimator, data) -> None:
    """Fit ``estimator`` on the landmarks and targets of ``data``; the model
    keeps the landmark ids (``feature_names_in_``) and the target ids
    (``target_names_``) either way."""
    if "file" in data:  # on-disk views: streamed chunk by chunk
        estimator.fit(data.X, data.y)
        estimator.feature_names_in_ = np.asarray(
            [str(value) for value in data.landmark_ids], dtype=object
        )
        estimator.target_names_ = np.asarray(
            [str(value) for value in data.target_ids], dtype=object
        )
        return
    samples = np.arange(len(data.X)) if data.sample_ids is None else data.sample_ids
    estimator.fit(
        _frame(data.X, samples, data.landmark_ids),
        _frame(data.y, samples, data.target_ids),
    )


# --------------------------------------------------------------- predict
def _load_model(path: str, device: str = "cpu"):
    """The estimator of the model file at ``path`` (on ``device``) and the
    file's metadata."""
    from .._persistence import read_model

    if not Path(path).is_file():
        raise UsageError(f"No model file at {path!r}.")
    _, metadata = read_model(path)
    classes = {cls.__name__: cls for cls in _estimators().values()}
    cls = classes.get(metadata.get("class"))
    if cls is None:
        raise UsageError(f"{path!r} holds a {metadata.get('class')}, not a model.")
    return cls.load(path, device=device), metadata


def _model_genes(estimator, metadata: dict, path: str) -> dict:
    """The model's genes (see ``_genes``), target ids filled in if unknown."""
    genes = model_genes(estimator, metadata, path)
    if genes["landmark_ids"] is None:
        raise UsageError(
            f"The model {path!r} was fitted without gene ids (on arrays, not "
            "DataFrames), so its landmarks cannot be matched by id; refit it "
            "with `sktaaf fit`."
        )
    if genes["target_ids"] is None:
        genes["target_ids"] = [f"target_{i}" for i in range(estimator.n_outputs_)]
        print(
            f"Note: the model {path!r} names no target genes; the output rows "
            "are named target_0, target_1, ...",
            file=sys.stderr,
        )
    return genes


def _check_predict_paths(args) -> Path:
    """The output file, checked before any work (see ``_paths``)."""
    return check_output(
        args.output,
        {
            "the model file": args.model,
            "the profiles file": args.profiles,
            "the model's genes file": genes_file(args.model),
        },
    )


def _predict(args) -> int:
    output = _check_predict_paths(args)
    estimator, metadata = _load_model(args.model, args.device or "auto")
    if args.batch_size is not None:
        estimator.set_params(batch_size=args.batch_size)
    genes = _model_genes(estimator, metadata, args.model)
    landmark_ids, target_ids = genes["landmark_ids"], genes["target_ids"]
    streamed = is_gctx(args.profiles) and not _is_gct(output)
    if streamed:
        n_samples, row_metadata = gctx_rows(args.profiles, landmark_ids)
    else:
        data = load_profiles(args.profiles, landmark_ids, target_ids=[])
        n_samples, row_metadata = len(data.X), data.row_metadata
    _echo(
        args,
        f"Inferring {len(target_ids)} target genes for {n_samples} samples "
        f"from {len(landmark_ids)} landmark genes"
        f"{' (streamed, a chunk at a time)' if streamed else ''}.",
    )
    row_ids, rows = _output_rows(args, genes, target_ids, row_metadata)
    if streamed:
        from ..datasets import predict_gctx

        predict_gctx(
            estimator,
            args.profiles,
            output,
            landmark_ids=landmark_ids,
            target_ids=row_ids,
            row_metadata=rows,
            chunk_size=args.chunk_size,
            progress=not args.quiet,
        )
    else:
        _predict_in_memory(estimator, data, landmark_ids, row_ids, rows, output)
    _echo(args, f"Wrote {len(row_ids)} genes x {n_samples} samples to {args.output!r}.")
    return 0


def _is_gct(path: Path) -> bool:
    return path.name.lower().endswith((".gct", ".gct.gz"))


def _output_rows(args, genes: dict, target_ids, row_metadata):
    """The output's row ids (target ids, or their symbols with ``--symbols``)
    and its row metadata (``pr_gene_symbol``, and ``pr_gene_id``)."""
    symbols = genes["target_symbols"] or [None] * len(target_ids)
    if any(symbol is None for symbol in symbols):
        found = landmark_symbols(target_ids, row_metadata)
        symbols = [
            new if old is None else old for old, new in zip(symbols, found, strict=True)
        ]
    row_ids = target_ids
    rows = {"pr_gene_symbol": symbols}
    if args.symbols:
        unnamed = [gene for gene, s in zip(target_ids, symbols, strict=True) if not s]
        if unnamed:
            raise UsageError(
                f"--symbols: {len(unnamed)} target genes have no known symbol, "
                f"e.g. {unnamed[:5]}; leave --symbols out to name rows by id."
            )
        if len(set(symbols)) < len(symbols):
            raise UsageError("--symbols: some target genes share a symbol.")
        row_ids = symbols
        rows = {"pr_gene_id": _numeric_ids(target_ids), "pr_gene_symbol": symbols}
    import pandas as pd

    return row_ids, pd.DataFrame(rows, index=pd.Index(row_ids), dtype=object)


def _numeric_ids(ids) -> list:
    """Ids that are whole numbers (Entrez ids) as numbers, as LINCS files hold
    them and as the readers return them; other ids as they are."""
    ids = [str(value) for value in ids]
    if all(v.isascii() and v.isdigit() and (v == "0" or v[0] != "0") for v in ids):
        return [int(value) for value in ids]
    return ids


def _predict_in_memory(estimator, data, landmark_ids, row_ids, rows, output) -> None:
    """Predict the loaded ``data`` at once and write it as GCT or GCTX."""
    samples = np.arange(len(data.X)) if data.sample_ids is None else data.sample_ids
    samples = [str(value) for value in samples]
    y_pred = np.asarray(estimator.predict(_frame(data.X, samples, landmark_ids)))
    y_pred = y_pred.reshape(len(samples), -1)
    col_metadata = data.col_metadata
    if col_metadata is not None:
        col_metadata = col_metadata.set_axis(samples, axis=0)
    profiles = _frame(y_pred, samples, row_ids)
    from ..datasets import write_gct, write_gctx

    try:
        if _is_gct(output):
            write_gct(output, profiles, rows, col_metadata)
        else:
            write_gctx(output, profiles, rows, col_metadata)
    except OSError as exc:
        raise UsageError(os_error_message(exc, output)) from exc


def _compare(args) -> int:
    from .._compare import check_args, run

    options = argparse.Namespace(
        **{
            key: value
            for key, value in vars(args).items()
            if key not in ("command", "run", "parser")
        }
    )
    run(check_args(args.parser, options))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the ``sktaaf`` command with ``argv`` (default: ``sys.argv[1:]``);
    return its exit status."""
    parser = build_parser({"fit": _fit, "predict": _predict, "compare": _compare})
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except (UsageError, OSError, ImportError, ValueError, TypeError) as exc:
        message = " ".join(str(exc).split())
        print(f"sktaaf {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sktaaf {args.command}: interrupted", file=sys.stderr)
        return 130
