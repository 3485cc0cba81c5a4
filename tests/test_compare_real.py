"""The real data sets of benchmarks.compare (the 'real' extra)."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks import compare  # noqa: E402
from benchmarks._compare_real import load_real  # noqa: E402


def test_pbmc68k_splits_variable_genes_into_landmarks_and_targets():
    pytest.importorskip("scanpy")
    data = load_real("pbmc68k")
    assert data.X.shape == (700, 150) and data.y.shape == (700, 615)
    assert data.X.dtype == data.y.dtype == np.float32
    assert not set(data.landmark_ids) & set(data.target_ids)
    assert data.X.var(axis=0).min() >= data.y.var(axis=0).max()


def test_unknown_real_data_set_is_rejected():
    with pytest.raises(ValueError, match="Unknown real data set"):
        load_real("nope")


def test_real_and_data_exclude_each_other(capsys):
    with pytest.raises(SystemExit):
        compare.parse_args(["--real", "pbmc68k", "--data", "x.npz"])
    assert "not both" in capsys.readouterr().err
