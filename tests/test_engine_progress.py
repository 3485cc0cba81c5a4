"""verbose=1: a bar and a table on terminals, plain lines everywhere else."""

import io
import subprocess
import sys

import pytest
from conftest import FAST
from skorch.callbacks import EpochScoring, PrintLog, ProgressBar

from sktaaf import DGEXRegressor, TAAFRegressor
from sktaaf._engine._progress import PlainPrintLog


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("Estimator", [TAAFRegressor, DGEXRegressor])
def test_non_terminal_gets_one_plain_line_per_epoch(Estimator, data, capsys):
    X, y = data
    est = Estimator(**{**FAST, "max_epochs": 3}, verbose=1).fit(X, y)
    captured = capsys.readouterr()
    for text in (captured.out, captured.err):
        assert "\r" not in text
        assert "\x1b[" not in text
    # One line per epoch; early stopping may add its "Restoring best model".
    lines = [line for line in captured.out.splitlines() if line.startswith("epoch")]
    assert [line.split(":")[0] for line in lines] == ["epoch 1", "epoch 2", "epoch 3"]
    assert all("train_loss=" in line and "valid_loss=" in line for line in lines)
    assert lines[0].endswith("s") and "dur=" in lines[0]
    assert "valid_loss=" in lines[0] and "*" in lines[0]  # the first is the best
    assert captured.err == ""
    callbacks = dict(est.net_.callbacks_)
    assert type(callbacks["print_log"]) is PlainPrintLog
    assert "progress_bar" not in callbacks


def test_verbose_0_prints_nothing(data, capsys):
    X, y = data
    TAAFRegressor(**{**FAST, "max_epochs": 2}).fit(X, y)
    assert capsys.readouterr() == ("", "")


def test_terminal_gets_skorch_table_and_bar(data, monkeypatch):
    X, y = data
    out, err = Terminal(), Terminal()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    est = TAAFRegressor(**{**FAST, "max_epochs": 2}, verbose=1).fit(X, y)
    callbacks = dict(est.net_.callbacks_)
    assert type(callbacks["print_log"]) is PrintLog
    assert isinstance(callbacks["progress_bar"], ProgressBar)
    assert "train_loss" in out.getvalue() and "-------" in out.getvalue()


def test_each_stream_is_judged_on_its_own(data, monkeypatch, capsys):
    # A terminal for the bar, a log file for the epoch lines.
    X, y = data
    monkeypatch.setattr(sys, "stderr", Terminal())
    est = TAAFRegressor(**{**FAST, "max_epochs": 2}, verbose=1).fit(X, y)
    callbacks = dict(est.net_.callbacks_)
    assert type(callbacks["print_log"]) is PlainPrintLog
    assert "progress_bar" in callbacks
    assert "\x1b[" not in capsys.readouterr().out


def test_user_scores_are_on_the_line(data, capsys):
    X, y = data
    scoring = EpochScoring("r2", lower_is_better=False, name="valid_r2")
    TAAFRegressor(**{**FAST, "max_epochs": 2}, verbose=1, callbacks=[scoring]).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert all("valid_r2=" in line for line in lines)


def test_plain_lines_through_a_pipe(tmp_path):
    # A real non-terminal: the output of a child process, read through a pipe.
    script = (
        "import numpy as np; from sktaaf import TAAFRegressor;"
        "rng = np.random.RandomState(0);"
        "X = rng.normal(size=(64, 4)).astype(np.float32);"
        "TAAFRegressor(hidden_layer_sizes=(4,), max_epochs=2, verbose=1,"
        " random_state=0).fit(X, X[:, :2])"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert b"\r" not in result.stdout + result.stderr
    assert b"\x1b" not in result.stdout + result.stderr
    assert result.stdout.decode().count("\n") == 2


def test_format_line():
    log = PlainPrintLog(keys_ignored="valid_loss").initialize()
    row = {
        "epoch": 12,
        "train_loss": 0.123456,
        "train_loss_best": False,
        "valid_loss": 1.0,
        "event_lr": 0.001,
        "batches": [{"train_loss": 1.0}],
        "note": "a\rb\x1b[31m",
        "dur": 1.23456,
    }
    assert log.format_line(row) == (
        "epoch 12: lr=0.0010 note=a b[31m train_loss=0.1235 dur=1.23s"
    )
