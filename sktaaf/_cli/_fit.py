"""``sktaaf fit``: train a model on a profiles file and save it.

The estimator's ``random_state`` is ``--seed`` (default 0), so that two runs
of the same command write the same model (but for the epochs' durations in
its history); ``--param random_state=...`` may name it instead, and a
``--seed`` that disagrees with it is refused. ``--holdout F`` keeps a
fraction ``F`` of the samples (drawn with the seed) out of training and
writes them, every gene with its metadata, to ``--holdout-out``, for
``sktaaf score``. The model file keeps the genes' ids, their symbols and
every row-metadata field the training file has for the targets.
"""

from __future__ import annotations

import ast
import contextlib
import math
import signal
import sys
import threading
import warnings
from pathlib import Path

import numpy as np

from ..exceptions import TrainingInterruptedWarning
from ._errors import UsageError
from ._genes import genes_file
from ._match import hinting, match_landmarks
from ._model import estimators
from ._paths import check_output, os_error_message
from ._profiles import (
    is_gctx,
    landmark_symbols,
    load_profiles,
    open_profiles,
    read_id_list,
)

__all__ = ["run"]

# The longest --param value read (a literal nested deeper exhausts the parser).
_MAX_PARAM_CHARS = 2000
#: The seed of ``sktaaf fit`` when neither --seed nor --param random_state is given.
DEFAULT_SEED = 0


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


def _seed(settings: dict, seed: int | None) -> int | None:
    """The estimator's random_state: ``--seed``, else ``--param
    random_state``, else :data:`DEFAULT_SEED`; the two must agree."""
    if "random_state" in settings:
        given = settings["random_state"]
        if seed is not None and given != seed:
            raise UsageError(
                f"--seed {seed} and --param random_state={given!r} disagree; give one."
            )
        return given
    return DEFAULT_SEED if seed is None else seed


def make_estimator(model: str, params: list[str], verbose: int, seed=None):
    """The estimator ``--model`` names, with the ``--param`` settings and the
    random_state of :func:`_seed`, its parameters checked as fit checks them."""
    from .._utils._compat import validate_parameters

    cls = estimators()[model]
    estimator = cls(verbose=verbose)
    valid = estimator.get_params(deep=False)
    settings = dict(_parse_param(text) for text in params)
    unknown = sorted(set(settings) - set(valid))
    if unknown:
        raise UsageError(
            f"--param: {cls.__name__} has no parameter {', '.join(unknown)}; "
            f"its parameters are {', '.join(sorted(valid))}."
        )
    settings["random_state"] = _seed(settings, seed)
    estimator.set_params(**settings)
    try:  # fit's own checks of its parameters, before the data are read
        validate_parameters(estimator)
        estimator._check_params()
    except (ValueError, TypeError) as exc:
        raise UsageError(f"--param: {exc}") from exc
    return estimator


def frame(values, index, columns):
    import pandas as pd

    return pd.DataFrame(values, index=pd.Index(index), columns=pd.Index(columns))


def _echo(args, message: str) -> None:
    if not args.quiet:
        print(message, file=sys.stderr)


def _check_fit_paths(args) -> tuple[Path, Path | None]:
    """The model file and the held-out file to write, checked before any
    work (see ``_paths``)."""
    landmarks = args.landmarks
    if landmarks is not None and landmarks.lower() == "l1000":
        landmarks = None
    inputs = {
        "the profiles file": args.profiles,
        "the landmarks file": landmarks,
        "the targets file": args.targets,
    }
    if (args.holdout is None) != (args.holdout_out is None):
        raise UsageError(
            "--holdout and --holdout-out go together: the fraction of samples "
            "to hold out and the file to write them to."
        )
    output = check_output(args.output, inputs)
    if args.holdout is None:
        return output, None
    held_out = check_output(
        args.holdout_out, {**inputs, "the model file": args.output}, "--holdout-out"
    )
    if held_out.resolve() == output.resolve():
        raise UsageError("--holdout-out and -o name the same file; give two names.")
    return output, held_out


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


def _plain(value):
    """A metadata value as the model file keeps it: str, int, float or None."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def target_row_metadata(target_ids, row_metadata) -> dict | None:
    """Every row-metadata field of the training file, for the targets."""
    if row_metadata is None or not len(row_metadata.columns):
        return None
    rows = row_metadata.reindex([str(value) for value in target_ids])
    return {
        str(field): [_plain(value) for value in rows[field].tolist()]
        for field in rows.columns
        if str(field) and str(field) != "id"
    }


def _save(estimator, output: Path, data) -> None:
    """Write the model file, with the genes' symbols and the targets' row
    metadata inside it."""
    from .._save_load import save_estimator

    symbols = {
        "landmarks": landmark_symbols(data.landmark_ids, data.row_metadata),
        "targets": landmark_symbols(data.target_ids, data.row_metadata),
    }
    try:
        save_estimator(
            estimator,
            output,
            gene_symbols=symbols,
            target_row_metadata=target_row_metadata(data.target_ids, data.row_metadata),
        )
    except OSError as exc:
        raise UsageError(os_error_message(exc, output)) from exc
    old = genes_file(output)  # an earlier version's, now stale: the model
    if old.is_file() and not old.is_symlink():  # holds the genes itself
        with contextlib.suppress(OSError):
            old.unlink()


def _ids(args, what: str):
    spec = getattr(args, what)
    if spec is None:
        return None
    if what == "targets":
        if spec.lower() == "l1000":
            raise UsageError("--targets takes a file of gene ids, not l1000.")
        return read_id_list(spec, "", "targets")
    return read_id_list(spec, args.id_type, "landmarks")


def run(args) -> int:
    output, held_out = _check_fit_paths(args)
    landmark_ids, target_ids = _ids(args, "landmarks"), _ids(args, "targets")
    estimator = make_estimator(
        args.model, args.param, verbose=0 if args.quiet else 1, seed=args.seed
    )
    _set_device(estimator, args.device)
    args.resolved_seed = estimator.random_state
    data = _training_profiles(args, landmark_ids, target_ids, held_out)
    try:
        if len(data.landmark_ids) == 0:
            raise UsageError(
                f"{args.profiles!r} flags no row as a landmark; give --landmarks."
            )
        if len(data.target_ids) == 0:
            raise UsageError(
                f"{args.profiles!r} has no target genes besides the landmarks."
            )
        _echo(
            args,
            f"Training a {type(estimator).__name__} on {len(data.X)} samples: "
            f"{len(data.landmark_ids)} landmark genes -> {len(data.target_ids)} "
            f"targets{' (streamed from the file)' if 'file' in data else ''}"
            f" (seed {estimator.random_state}).",
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


def _training_profiles(args, landmark_ids, target_ids, held_out):
    """The training data: views of a GCTX file, streamed (its ``file`` open),
    or the whole file in memory (other formats, ``--in-memory`` or
    ``--holdout``, whose held-out samples are written to ``held_out``)."""
    if args.id_field is not None and landmark_ids is None:
        raise UsageError(
            f"--id-field {args.id_field} matches the ids of --landmarks; give them."
        )
    l1000 = args.landmarks is not None and args.landmarks.lower() == "l1000"
    with hinting(args.id_type if l1000 else None):
        landmark_ids = match_landmarks(args.profiles, landmark_ids, args.id_field)
        if held_out is not None:
            from ._holdout import hold_out

            return hold_out(args, landmark_ids, target_ids, held_out)
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
        frame(data.X, samples, data.landmark_ids),
        frame(data.y, samples, data.target_ids),
    )
