"""Training progress that suits where it goes.

With ``verbose=1`` the estimators report each epoch. On a terminal they use
skorch's own display: a table of the losses (best values in colour) and a
tqdm progress bar of the batches. Written to anything else (a log file, a
pipe, a CI log, a notebook's captured output), carriage returns and colour
codes turn into clutter, so each epoch is one plain line instead::

    epoch 3: train_loss=0.4105 valid_loss=0.3986* dur=0.03s

(``*`` marks the best value so far). Each stream is judged on its own: the
bar goes to ``sys.stderr`` and only when that is a terminal, the epoch lines to
``sys.stdout``.
"""

from __future__ import annotations

import sys
from numbers import Number

from skorch.callbacks import PrintLog, ProgressBar


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or closed
        return False


class PlainPrintLog(PrintLog):
    """Print one plain line per epoch: no table, no colour codes, no carriage
    returns.

    A drop-in replacement for skorch's :class:`~skorch.callbacks.PrintLog`
    with the same parameters, so that output written to files and pipes reads
    well line by line. Like ``PrintLog``, it runs after the other callbacks,
    and prints only when the net's ``verbose`` is set.

    Parameters
    ----------
    keys_ignored : str or list of str, default=None
        History keys not printed (``batches`` and keys ending in ``_best`` never
        are).
    sink : callable, default=print
        Where the line goes.
    tablefmt : str, default='simple'
        Unused (no table is printed); kept for ``PrintLog``'s parameters.
    floatfmt : str, default='.4f'
        The format of the values.
    stralign : str, default='right'
        Unused; kept for ``PrintLog``'s parameters.

    Examples
    --------
    >>> from sktaaf._engine._progress import PlainPrintLog
    >>> log = PlainPrintLog().initialize()
    >>> log.format_line({"epoch": 3, "train_loss": 0.41046, "valid_loss": 0.39861,
    ...                  "valid_loss_best": True, "dur": 0.0312})
    'epoch 3: train_loss=0.4105 valid_loss=0.3986* dur=0.03s'
    """

    def format_line(self, row) -> str:
        """The line printed for one epoch's history ``row``."""
        ignored = set(self.keys_ignored_) | {"epoch", "dur", "batches"}
        parts = []
        for key in sorted(row):
            value = row[key]
            if key in ignored or key.endswith("_best") or isinstance(value, bool):
                continue
            if isinstance(value, Number):
                text = f"{value:{self.floatfmt}}"
                text = text if not float(value).is_integer() else f"{value:g}"
            elif isinstance(value, str):
                text = value
            else:
                continue
            best = "*" if row.get(f"{key}_best") else ""
            name = key[len("event_") :] if key.startswith("event_") else key
            parts.append(f"{name}={text}{best}")
        if "dur" in row and "dur" not in self.keys_ignored_:
            parts.append(f"dur={row['dur']:.2f}s")
        head = f"epoch {row['epoch']}" if "epoch" in row else "epoch"
        line = f"{head}: {' '.join(parts)}"
        # Whatever a key held, the line stays one plain line.
        return line.replace("\r", " ").replace("\n", " ").replace("\x1b", "")

    def on_epoch_end(self, net, **kwargs):
        if net.verbose:
            self.sink(self.format_line(net.history[-1]))


def print_log(verbose) -> PrintLog:
    """skorch's table on a terminal, one plain line per epoch elsewhere."""
    if verbose and _is_terminal(sys.stdout):
        return PrintLog()
    return PlainPrintLog()


def progress_callbacks(verbose) -> list:
    """The ``(name, callback)`` pairs that show progress within an epoch: a
    tqdm bar of the batches when ``sys.stderr`` is a terminal, else none."""
    if verbose and _is_terminal(sys.stderr):
        return [("progress_bar", ProgressBar())]
    return []
