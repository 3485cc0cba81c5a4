"""Property-based fuzzing of the public API: bad input fails early and clearly.

Every public estimator, transformer, function and loader is fed inputs drawn by
hypothesis: arrays of random shape (0-D to 3-D, empty ones included) and dtype
(floats of every width, ints, bools, complex, objects holding numbers or
strings, strings, bytes, datetimes) with NaN, infinities and extreme
magnitudes; lists, pandas and scipy.sparse containers; DataFrames with odd
column names, or with columns reordered or missing at predict; targets of the
wrong length or dimension; invalid parameter values; damaged or malformed
files. The property is always the same: a call either succeeds, with output of
the documented shape and dtype (finite when the input's magnitude is moderate),
or raises a ``ValueError`` or ``TypeError`` (``FileNotFoundError`` for missing
files) that has a message and is not raised from inside torch or skorch.

Runs are deterministic and sized for CI (about 20 s on two cores).
``SKTAAF_FUZZ_SCALE=20 pytest tests/test_fuzz.py`` runs twenty times as many
examples from random seeds. Each bug found has a deterministic regression test
next to the property that found it.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import struct
import traceback
import zipfile
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import HealthCheck, event, given, reject, settings
from hypothesis import strategies as st

import sktaaf._base
from sktaaf import DGEXRegressor, TAAFRegressor, TargetBlockRegressor
from sktaaf._engine._state import digest
from sktaaf.baselines import KNNGERegressor
from sktaaf.datasets import (
    load_gct,
    load_gctx,
    load_hdf,
    load_hdf_pair,
    load_npy,
    make_expression,
    split_landmarks,
)
from sktaaf.metrics import (
    mean_per_gene_pearson,
    per_gene_mae,
    per_gene_pearson,
    win_rate,
)
from sktaaf.nn import ACTIVATIONS
from sktaaf.preprocessing import QuantileNormalizer, drop_near_duplicates

pd = pytest.importorskip("pandas")

pytestmark = [
    # Expected along the way: feature-name and data-conversion warnings, the
    # divergence warning, numpy's overflow and complex-cast warnings.
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),
]

_SCALE = float(os.environ.get("SKTAAF_FUZZ_SCALE", "1"))


def fuzz(max_examples: int):
    """hypothesis settings: deterministic unless SKTAAF_FUZZ_SCALE is set."""
    deterministic = _SCALE == 1
    return settings(
        max_examples=max(1, round(max_examples * _SCALE)),
        deadline=None,
        derandomize=deterministic,
        database=None if deterministic else settings.default.database,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


# ===================================================================== checks
ALLOWED_ERRORS = (ValueError, TypeError)
#: Inputs within this magnitude must give finite output; larger finite values
#: may legitimately overflow float32 arithmetic (or float64 sums of squares).
MODERATE = 1e30


def _raised_inside(exc: BaseException, packages=("torch", "skorch")) -> str | None:
    """The package among ``packages`` whose code raised ``exc``, if any."""
    filename = traceback.extract_tb(exc.__traceback__)[-1].filename
    parts = Path(filename).parts
    return next((package for package in packages if package in parts), None)


def attempt(function, *args, allowed=ALLOWED_ERRORS, **kwargs):
    """Call ``function``: ``(True, result)``, or ``(False, error)`` when it
    raised one of ``allowed``, checked to be clear. Any other exception
    propagates and fails the test with its own traceback."""
    try:
        result = function(*args, **kwargs)
    except allowed as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        inside = _raised_inside(exc)
        assert inside is None, f"{type(exc).__name__} from inside {inside}: {exc}"
        event(f"outcome: {type(exc).__name__}")
        return False, exc
    event("outcome: success")
    return True, result


# ================================================================= strategies
SPECIAL_VALUES = {
    "nan": np.nan,
    "inf": np.inf,
    "-inf": -np.inf,
    "1e39 (beyond float32)": 1e39,
    "-1e39": -1e39,
    "float32 max": float(np.finfo(np.float32).max),
    "1e30": 1e30,
    "1e-39 (float32 subnormal)": 1e-39,
    "5e-324 (float64 subnormal)": 5e-324,
    "-0.0": -0.0,
}
# Most data at unit scale; some far out, to reach overflow and underflow.
SCALES = [1.0, 1.0, 1.0, 1e-3, 1e3, 1e-160, 1e150]
DTYPES = [
    "float64",
    "float32",
    "float16",
    "int64",
    "int8",
    "uint8",
    "bool",
    "complex128",
    "object of numbers",
    "object of mixed types",
    "str of numbers",
    "object of str",
    "str of words",
    "bytes",
    "datetime64",
    "timedelta64",
]
SPARSE_FORMATS = [
    sp.csr_matrix,
    sp.csc_matrix,
    sp.coo_matrix,
    sp.lil_matrix,
    sp.dok_matrix,
    sp.csr_array,
    sp.coo_array,
]
_ODD_OBJECTS = [None, "abc", "", b"x", [1, 2], {"a": 1}, (), 1j, object]


@dataclass
class Fuzzed:
    """A fuzzed input: the value passed, and the float64 numbers a float
    conversion of it gives (None when it holds non-numbers)."""

    value: object
    numbers: np.ndarray | None
    shape: tuple
    label: str

    @property
    def moderate(self) -> bool:
        return self.numbers is not None and bool(
            np.all(np.abs(self.numbers) <= MODERATE)
        )

    @property
    def n_rows(self) -> int | None:
        return self.shape[0] if self.shape else None


@st.composite
def float_values(draw, shape):
    """float64 values of ``shape``: ordinary, tied or constant, at some scale,
    with up to three special values (NaN, infinities, extremes)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    base = draw(st.sampled_from(["normal", "ties", "constant"]))
    if base == "normal":
        values = rng.normal(size=shape)
    elif base == "ties":
        values = rng.integers(-2, 3, size=shape).astype(np.float64)
    else:
        values = np.full(shape, rng.normal())
    values *= draw(st.sampled_from(SCALES))
    if values.size:
        for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2, 3]))):
            name = draw(st.sampled_from(sorted(SPECIAL_VALUES)))
            values.flat[draw(st.integers(0, values.size - 1))] = SPECIAL_VALUES[name]
            event(f"special value: {name}")
    return values


def with_dtype(values: np.ndarray, kind: str, odd=None):
    """``values`` as ``kind``, and the float64 numbers that converting the
    result to float gives (None when it holds things that are not numbers)."""
    with np.errstate(all="ignore"):
        if kind.startswith("float"):
            array = values.astype(kind)
            return array, array.astype(np.float64)
        if kind in ("int64", "int8", "uint8"):
            info = np.iinfo(kind)
            array = np.clip(np.nan_to_num(values), info.min, info.max).astype(kind)
            return array, array.astype(np.float64)
        if kind == "bool":
            array = values > 0
            return array, array.astype(np.float64)
        if kind == "complex128":
            return values + 0.5j, None
        if kind == "object of numbers":
            return values.astype(object), values
        if kind == "object of mixed types":
            array = values.astype(object)
            if array.size:
                array.flat[array.size // 2] = odd
            return array, None
        if kind == "str of numbers":
            return values.astype(str), values
        if kind == "object of str":
            return values.astype(str).astype(object), values
        if kind == "str of words":
            return np.full(values.shape, "gene"), None
        if kind == "bytes":
            return values.astype("S24"), None
        seconds = np.clip(np.nan_to_num(values), -1e15, 1e15).astype(np.int64)
        unit = "datetime64[s]" if kind == "datetime64" else "timedelta64[s]"
        return seconds.astype(unit), seconds.astype(np.float64)


def column_names(n_columns: int):
    """Column names: unique strings, ints, a mix of both, or repeated ones."""
    texts = st.text(max_size=6)
    return st.one_of(
        st.lists(texts, min_size=n_columns, max_size=n_columns, unique=True).map(
            lambda names: ("str names", names)
        ),
        st.just(("int names", list(range(n_columns)))),
        st.lists(
            st.one_of(texts, st.integers(-3, 3)),
            min_size=n_columns,
            max_size=n_columns,
            unique=True,
        ).map(lambda names: ("mixed names", names)),
        st.lists(
            st.sampled_from(["a", "b"]), min_size=n_columns, max_size=n_columns
        ).map(lambda names: ("maybe repeated names", names)),
    )


@st.composite
def containers(draw, array: np.ndarray):
    """``array`` as an ndarray, a list, a pandas object or a sparse matrix."""
    options = ["ndarray", "ndarray", "list"]
    if array.ndim == 1:
        options.append("Series")
    if array.ndim == 2:
        options.append("DataFrame")
        if array.dtype.kind in "iubf" and array.dtype != np.float16:
            options.append("sparse")
    kind = draw(st.sampled_from(options))
    if kind == "ndarray":
        return array, "ndarray"
    if kind == "list":
        return array.tolist(), "list"
    if kind == "Series":
        return pd.Series(array), "Series"
    if kind == "sparse":
        form = draw(st.sampled_from(SPARSE_FORMATS))
        return form(array), f"sparse {form.__name__}"
    names_kind, names = draw(column_names(array.shape[1]))
    frame = pd.DataFrame(array, columns=names)
    extension = draw(st.sampled_from([None, None, "Float64", "category"]))
    if extension == "Float64" and array.dtype.kind == "f":
        frame = frame.astype("Float64")  # NaN becomes pd.NA
    elif extension == "category" and array.size and array.dtype.char in "?bBhHiIlLqQfd":
        # (pandas cannot build categories of float16 or of unhashable objects)
        frame[frame.columns[0]] = frame[frame.columns[0]].astype("category")
    else:
        extension = None
    return frame, f"DataFrame ({names_kind}{', ' + extension if extension else ''})"


# Weighted towards what passes validation, so that the properties of the
# output are exercised too: mostly 2-D, non-empty, float.
_ROWS = st.integers(1, 30)
_COLUMNS = st.integers(1, 8)
_NDIMS = st.sampled_from([2] * 12 + [1, 1, 3, 0])
_EMPTY = st.sampled_from([False] * 7 + [True])  # then one axis has length 0
_DTYPES = st.sampled_from(["float64"] * 8 + ["float32"] * 4 + DTYPES)


@st.composite
def arrays_like(
    draw, rows=_ROWS, columns=_COLUMNS, ndims=_NDIMS, dtypes=_DTYPES, empty=_EMPTY
):
    """An array-like of random shape, dtype, values and container."""
    ndim = draw(ndims)
    if ndim == 0:
        shape = ()
    elif ndim == 1:
        shape = (draw(rows),)
    elif ndim == 2:
        shape = (draw(rows), draw(columns))
    else:
        shape = (draw(rows), draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    if shape and draw(empty):
        axis = draw(st.integers(0, ndim - 1))
        shape = shape[:axis] + (0,) + shape[axis + 1 :]
    kind = draw(dtypes)
    array, numbers = with_dtype(
        draw(float_values(shape)), kind, odd=draw(st.sampled_from(_ODD_OBJECTS))
    )
    value, container = draw(containers(array))
    label = f"{ndim}-D {kind} {container}"
    event(f"input: {ndim}-D, {'empty' if 0 in shape else 'non-empty'}")
    event(f"input: {kind}")
    event(f"input: {container}")
    return Fuzzed(value, numbers, shape, label)


def _float_dtype(value) -> np.dtype:
    """The floating dtype the documented output keeps: float32 input stays
    float32, everything else becomes float64."""
    dtype = getattr(value, "dtype", None)
    if isinstance(value, pd.DataFrame):
        dtypes = set(value.dtypes)
        dtype = dtypes.pop() if len(dtypes) == 1 else None
    return np.dtype(np.float32) if dtype == np.float32 else np.dtype(np.float64)


def clean_data(n_samples=24, n_features=4, n_targets=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features))
    return X, np.tanh(X[:, :n_targets]) + 0.1 * rng.normal(size=(n_samples, n_targets))


# ================================================================ estimators
TINY = dict(
    hidden_layer_sizes=(4,),
    max_epochs=1,
    batch_size=8,
    early_stopping=False,
    random_state=0,
)
NETWORKS = [TAAFRegressor, DGEXRegressor]
ESTIMATORS = {
    "TAAFRegressor": lambda: TAAFRegressor(**TINY),
    "DGEXRegressor": lambda: DGEXRegressor(**TINY),
    "KNNGERegressor": lambda: KNNGERegressor(n_neighbors=1),
    "TargetBlockRegressor": lambda: TargetBlockRegressor(TAAFRegressor(**TINY)),
    "QuantileNormalizer": QuantileNormalizer,
}
REGRESSORS = [name for name in ESTIMATORS if name != "QuantileNormalizer"]


def _apply(estimator, X):
    if isinstance(estimator, QuantileNormalizer):
        return estimator.transform(X)
    return estimator.predict(X)


def _fit_apply(estimator, X, y):
    if isinstance(estimator, QuantileNormalizer):
        return estimator.fit(X).transform(X)
    return estimator.fit(X, y).predict(X)


def _check_output(output, X: Fuzzed, n_outputs):
    expected = (X.n_rows, n_outputs)
    assert output.shape == expected, f"{output.shape} != {expected} for {X.label}"
    assert output.dtype == _float_dtype(X.value), f"{output.dtype} for {X.label}"
    if X.moderate:
        assert np.isfinite(output).all(), f"non-finite output for {X.label}"


@pytest.mark.parametrize("name", ESTIMATORS)
@fuzz(max_examples=60)
@given(X=arrays_like())
def test_fit_on_fuzzed_X(name, X):
    estimator = ESTIMATORS[name]()
    n_rows = X.n_rows if X.n_rows is not None else 5
    y = np.random.default_rng(0).normal(size=(n_rows, 2))
    ok, output = attempt(_fit_apply, estimator, X.value, y)
    if ok:
        n_outputs = X.shape[1] if name == "QuantileNormalizer" else 2
        assert estimator.n_features_in_ == X.shape[1]
        _check_output(output, X, n_outputs)
        if name == "KNNGERegressor":  # valid landmark columns for both targets
            neighbors = estimator.neighbors_
            assert neighbors.shape == (2, 1) and neighbors.dtype == np.intp
            assert ((0 <= neighbors) & (neighbors < X.shape[1])).all()


@pytest.mark.parametrize("name", REGRESSORS)
@fuzz(max_examples=50)
@given(
    y=arrays_like(columns=st.integers(0, 4), ndims=st.sampled_from([2, 2, 1, 1, 3])),
    row_offset=st.sampled_from([0, 0, 0, 0, 1, -1]),
)
def test_fit_on_fuzzed_y(name, y, row_offset):
    n_rows = max(y.n_rows + row_offset, 0) if y.n_rows is not None else 6
    if row_offset:
        event("y: length differs from X")
    X = np.random.default_rng(1).normal(size=(n_rows, 3))
    estimator = ESTIMATORS[name]()
    ok, prediction = attempt(lambda: estimator.fit(X, y.value).predict(X))
    if ok:
        assert row_offset == 0
        one_dimensional = len(y.shape) == 1
        n_outputs = None if one_dimensional else y.shape[1]
        assert prediction.shape == (
            (n_rows,) if one_dimensional else (n_rows, n_outputs)
        )
        assert prediction.dtype == np.float64  # that of X
        if y.moderate:
            assert np.isfinite(prediction).all()


@pytest.fixture(scope="module")
def fitted():
    """Every estimator, fitted on clean data as an ndarray and as a DataFrame."""
    X, y = clean_data()
    frame = pd.DataFrame(X, columns=[f"LM{i}" for i in range(X.shape[1])])
    models = {}
    for name, make in ESTIMATORS.items():
        models[name, "ndarray"] = make().fit(X, y)
        models[name, "DataFrame"] = make().fit(frame, y)
    return models


@pytest.mark.parametrize("fitted_on", ["ndarray", "DataFrame"])
@pytest.mark.parametrize("name", ESTIMATORS)
@fuzz(max_examples=80)
@given(X=arrays_like(columns=st.sampled_from([4, 4, 4, 0, 3, 5])))
def test_predict_on_fuzzed_X(fitted, name, fitted_on, X):
    estimator = fitted[name, fitted_on]
    ok, output = attempt(_apply, estimator, X.value)
    if ok:
        assert X.shape[1] == 4
        _check_output(output, X, 4 if name == "QuantileNormalizer" else 2)


# Decision: a DataFrame whose columns differ from those seen in fit, reordered
# or missing included, is a ValueError (scikit-learn's feature-name check).
@pytest.mark.parametrize("name", ESTIMATORS)
@fuzz(max_examples=12)
@given(
    names=st.lists(st.text(max_size=8), min_size=2, max_size=6, unique=True),
    change=st.sampled_from(["reordered", "missing", "extra", "renamed"]),
    data=st.data(),
)
def test_dataframe_with_other_columns_is_rejected(name, names, change, data):
    X, y = clean_data(n_features=len(names))
    frame = pd.DataFrame(X, columns=names)
    estimator = ESTIMATORS[name]().fit(frame, y)
    event(f"columns: {change}")
    if change == "reordered":
        order = data.draw(st.permutations(names), "order")
        if order == names:  # a rotation is never the identity
            order = order[1:] + order[:1]
        other = frame[order]
    elif change == "missing":
        other = frame.drop(columns=data.draw(st.sampled_from(names), "dropped"))
    elif change == "extra":
        other = frame.assign(**{"".join(names) + "_extra": 1.0})
    else:
        other = frame.rename(columns={names[0]: "".join(names) + "_renamed"})
    with pytest.raises(ValueError, match="(?i)feature names"):
        _apply(estimator, other)
    # The same columns in the same order are fine; so is a bare ndarray (with
    # scikit-learn's warning that it has no feature names).
    assert _apply(estimator, frame).shape[0] == len(frame)
    with pytest.warns(UserWarning, match="valid feature names"):
        assert _apply(estimator, X).shape[0] == len(X)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_dataframe_with_int_column_names(name):
    """Non-string names are not feature names (scikit-learn): reordering them
    is not detected, but a missing column still is, by its count."""
    X, y = clean_data(n_features=3)
    frame = pd.DataFrame(X, columns=[0, 1, 2])
    estimator = ESTIMATORS[name]().fit(frame, y)
    assert not hasattr(estimator, "feature_names_in_")
    assert _apply(estimator, frame[[2, 0, 1]]).shape[0] == len(X)
    with pytest.raises(ValueError, match="expecting 3 features"):
        _apply(estimator, frame[[0, 1]])
    mixed = pd.DataFrame(X, columns=["a", 1, "c"])
    with pytest.raises(TypeError, match="string names"):
        ESTIMATORS[name]().fit(mixed, y)


@pytest.mark.parametrize("Estimator", NETWORKS)
@fuzz(max_examples=15)
@given(X=arrays_like(columns=st.sampled_from([4, 4, 3])))
def test_warm_start_on_fuzzed_X(Estimator, X):
    data, y = clean_data()
    estimator = Estimator(**{**TINY, "warm_start": True}).fit(data, y)
    n_rows = X.n_rows if X.n_rows is not None else 5
    ok, _ = attempt(estimator.fit, X.value, y[:1].repeat(n_rows, axis=0))
    if ok:
        assert X.shape[1] == 4 and estimator.n_iter_ == 2
        assert np.isfinite(estimator.predict(data)).all()


# ------------------------------------------------------------ bad parameters
def _not(valid):
    return lambda value: value not in valid


_TEXT = st.text(max_size=10)
_NON_NUMBERS = st.sampled_from(["1", "abc", None, [1], {"a": 1}, object(), 1j])
# bool is an int to scikit-learn's validation, so it is never drawn as bad.
_FLOATS = st.floats(allow_nan=True, allow_infinity=True)


def _bad_int(low):
    """Not an int >= ``low``."""
    return st.one_of(st.integers(max_value=low - 1), _FLOATS, _NON_NUMBERS)


def _bad_real(low, high, *, low_closed, high_closed):
    """Not a finite real in the interval: below, above, NaN, infinite, or not
    a number at all."""
    below = st.floats(max_value=low, exclude_max=low_closed)
    if low_closed:
        below = below.filter(lambda value: value != low)  # -0.0 when low is 0
    above = (
        st.nothing()
        if high is None
        else st.floats(min_value=high, exclude_min=high_closed)
    )
    non_finite = st.sampled_from([np.nan, np.inf, -np.inf])
    return st.one_of(below, above, non_finite, _NON_NUMBERS)


_BAD_BOOL = st.one_of(st.integers(2, 10), st.floats(), _TEXT, st.none())
_DEVICE = re.compile(r"(auto|cpu|cuda|cuda:\d+|mps)")
_UNAVAILABLE_DEVICES = [
    name
    for name, available in [
        ("cuda", torch.cuda.is_available()),
        ("cuda:0", torch.cuda.is_available()),
        ("cuda:99", False),
        ("mps", torch.backends.mps.is_available()),
    ]
    if not available
]

NETWORK_BAD_PARAMS = {
    "hidden_layer_sizes": st.one_of(
        st.integers(max_value=0),
        st.booleans(),
        st.just(()),
        st.lists(st.integers(1, 8), min_size=1, max_size=2).map(lambda s: (tuple(s),)),
        st.lists(
            st.one_of(st.integers(max_value=0), st.floats(), st.booleans(), _TEXT),
            min_size=1,
            max_size=3,
        ).map(tuple),
        _TEXT,
        st.floats(),
        st.none(),
    ),
    "activation": st.one_of(_TEXT.filter(_not(ACTIVATIONS)), st.integers(), st.none()),
    "output_activation": st.one_of(
        _TEXT.filter(_not({"same", *ACTIVATIONS})), st.integers(), st.floats()
    ),
    "dropout": _bad_real(0, 1, low_closed=True, high_closed=False),
    "loss": st.one_of(
        _TEXT.filter(_not({"mae", "mse"})),
        st.sampled_from([None, 3, torch.nn.functional.l1_loss, torch.nn.L1Loss]),
    ),
    "optimizer": st.one_of(
        _TEXT.filter(_not({"adam", "adamw", "nadam", "rmsprop", "sgd"})),
        st.sampled_from([None, 3, int, dict, torch.nn.Linear]),
    ),
    "learning_rate": st.one_of(
        _bad_real(0, None, low_closed=False, high_closed=False), st.just(True)
    ),
    "optimizer_kwargs": st.one_of(
        st.lists(st.integers()),
        _TEXT,
        st.integers(),
        st.dictionaries(st.sampled_from(["lr", "params", "foo"]), st.floats()).filter(
            bool
        ),
        st.builds(dict, weight_decay=st.floats(max_value=-1e-9)),
    ),
    "batch_size": st.one_of(_bad_int(1), st.booleans()),
    "max_epochs": st.one_of(_bad_int(1), st.booleans()),
    "early_stopping": _BAD_BOOL,
    "validation_fraction": _bad_real(0, 1, low_closed=False, high_closed=False),
    "n_iter_no_change": st.one_of(_bad_int(1), st.booleans()),
    "warm_start": _BAD_BOOL,
    "checkpoint_dir": st.one_of(st.integers(), st.floats(), st.binary(), st.just([])),
    "callbacks": st.one_of(_TEXT, st.integers(), st.just({})),
    "device": st.one_of(
        _TEXT.filter(lambda name: not _DEVICE.fullmatch(name)),
        st.sampled_from(_UNAVAILABLE_DEVICES or ["tpu"]),
        st.integers(),
        st.none(),
    ),
    "random_state": st.one_of(
        st.integers(max_value=-1), st.integers(min_value=2**32), st.floats(), _TEXT
    ),
    "verbose": st.one_of(st.integers(max_value=-1), st.floats(), _TEXT, st.none()),
}


@pytest.fixture
def no_torch_work():
    """Fail the test if fit gets past validation into the torch work."""
    reached = AssertionError("fit got past validation into the torch work")
    with (
        mock.patch.object(sktaaf._data._batches, "TensorData", side_effect=reached),
        mock.patch.object(sktaaf._base, "TrainingNet", side_effect=reached),
    ):
        yield


@pytest.mark.parametrize("parameter", NETWORK_BAD_PARAMS)
@pytest.mark.parametrize("Estimator", NETWORKS)
@fuzz(max_examples=8)
@given(data=st.data())
def test_invalid_network_parameter(Estimator, parameter, data, no_torch_work):
    value = data.draw(NETWORK_BAD_PARAMS[parameter], parameter)
    X, y = clean_data()
    estimator = Estimator(**TINY).set_params(**{parameter: value})
    with pytest.raises(ValueError, match=parameter) as caught:
        estimator.fit(X, y)
    assert _raised_inside(caught.value) is None
    assert not hasattr(estimator, "net_")


OTHER_BAD_PARAMS = {
    ("KNNGERegressor", "n_neighbors"): st.one_of(
        _bad_int(1),
        st.integers(5, 100),  # more than the 4 landmarks
    ),
    ("KNNGERegressor", "metric"): st.one_of(
        _TEXT.filter(_not({"euclidean", "correlation"})), st.integers(), st.none()
    ),
    ("TargetBlockRegressor", "n_blocks"): _bad_int(1),
    ("TargetBlockRegressor", "estimator"): st.one_of(
        st.none(),
        st.integers(),
        _TEXT,
        st.builds(QuantileNormalizer),  # no predict
    ),
    ("TargetBlockRegressor", "random_state"): NETWORK_BAD_PARAMS["random_state"],
}


@pytest.mark.parametrize("name, parameter", OTHER_BAD_PARAMS)
@fuzz(max_examples=15)
@given(data=st.data())
def test_invalid_parameter(name, parameter, data):
    value = data.draw(OTHER_BAD_PARAMS[name, parameter], parameter)
    X, y = clean_data()
    estimator = ESTIMATORS[name]().set_params(**{parameter: value})
    with pytest.raises(ValueError, match=parameter):
        estimator.fit(X, y)


# ============================================================= preprocessing
def _check_kept(kept, n_samples):
    assert kept.dtype == np.intp and kept.ndim == 1
    assert np.all(np.diff(kept) > 0), "not ascending and unique"
    assert kept.size == 0 or 0 <= kept[0] and kept[-1] < n_samples
    assert (n_samples == 0) == (kept.size == 0)
    if n_samples:
        assert kept[0] == 0, "the first sample is always kept"


@fuzz(max_examples=120)
@given(
    X=arrays_like(),
    threshold=st.one_of(
        st.sampled_from([1e-3, 0.5, 1.0, 3.0]),
        st.floats(min_value=5e-324, max_value=1.7e308),
    ),
    block_size=st.integers(1, 12),
)
def test_drop_near_duplicates_on_fuzzed_X(X, threshold, block_size):
    ok, kept = attempt(drop_near_duplicates, X.value, threshold, block_size=block_size)
    if ok:
        _check_kept(kept, X.shape[0])
        everything = drop_near_duplicates(
            X.value, threshold, block_size=block_size, compare_with="all"
        )
        _check_kept(everything, X.shape[0])
        if X.moderate and X.shape[0]:  # beyond, squared distances overflow
            # A sample dropped as close to a kept one is close to an earlier one.
            assert set(everything) <= set(kept)
            # Exact duplicates go, whatever the threshold.
            rows = X.numbers.astype(_float_dtype(X.value)).reshape(X.shape[0], -1)
            _, first = np.unique(rows, axis=0, return_index=True)
            assert set(kept) <= set(first)


DND_BAD_PARAMS = {
    "threshold": _bad_real(0, None, low_closed=False, high_closed=False),
    "block_size": _bad_int(1),
    "compare_with": st.one_of(_TEXT.filter(_not({"kept", "all"})), st.integers()),
}


@pytest.mark.parametrize("parameter", DND_BAD_PARAMS)
@fuzz(max_examples=20)
@given(data=st.data())
def test_invalid_drop_near_duplicates_parameter(parameter, data):
    value = data.draw(DND_BAD_PARAMS[parameter], parameter)
    with pytest.raises(ValueError, match=parameter):
        drop_near_duplicates(clean_data()[0], **{parameter: value})


@pytest.mark.parametrize("compare_with", ["kept", "all"])
def test_drop_near_duplicates_with_thresholds_whose_square_is_out_of_range(
    compare_with,
):
    X = np.array([[0.0, 0.0], [1.0, 1.0], [1e10, 0.0], [1.0, 1.0]])
    for threshold in (1.4e154, 1e200, np.finfo(np.float64).max):
        kept = drop_near_duplicates(X, threshold, compare_with=compare_with)
        np.testing.assert_array_equal(kept, [0])
    # A threshold whose square underflows still drops exact duplicates, also
    # those equal to the mean (all zeros once centred).
    for threshold in (1e-170, 5e-324):
        kept = drop_near_duplicates(X, threshold, compare_with=compare_with)
        np.testing.assert_array_equal(kept, [0, 1, 2])
        for dtype in (np.float64, np.float32):
            same = np.ones((3, 2), dtype=dtype)
            kept = drop_near_duplicates(same, threshold, compare_with=compare_with)
            np.testing.assert_array_equal(kept, [0])


# =================================================================== metrics
@fuzz(max_examples=150)
@given(
    y_true=arrays_like(columns=st.integers(0, 4), ndims=st.sampled_from([2, 2, 1, 3])),
    data=st.data(),
)
def test_per_gene_metrics_on_fuzzed_input(y_true, data):
    # y_pred: the same shape (mostly), its own dtype, values and container.
    same = data.draw(st.sampled_from([True, True, True, False]), "same shape")
    shape = y_true.shape if same and y_true.shape else None
    y_pred = data.draw(
        arrays_like(
            rows=st.just(shape[0]) if shape else _ROWS,
            columns=st.just(shape[1])
            if shape and len(shape) > 1
            else st.integers(0, 4),
            ndims=st.just(len(shape)) if shape else st.sampled_from([2, 1]),
            empty=st.just(False) if shape else _EMPTY,
        ),
        "y_pred",
    )
    n_targets = y_true.shape[1] if len(y_true.shape) == 2 else 1
    moderate = y_true.moderate and y_pred.moderate

    ok, mae = attempt(per_gene_mae, y_true.value, y_pred.value)
    if ok:
        assert mae.shape == (n_targets,) and mae.dtype == np.float64
        assert not np.isnan(mae).any() and (mae >= 0).all()
        if moderate:
            assert np.isfinite(mae).all()
    ok, r = attempt(per_gene_pearson, y_true.value, y_pred.value)
    if ok:
        assert r.shape == (n_targets,) and r.dtype == np.float64
        defined = r[~np.isnan(r)]
        assert ((-1 <= defined) & (defined <= 1)).all()
        if moderate:
            # NaN only for the genes constant in y_true or y_pred.
            true = y_true.numbers.reshape(y_true.shape[0], -1)
            pred = y_pred.numbers.reshape(y_pred.shape[0], -1)
            varies = (true != true[:1]).any(axis=0) & (pred != pred[:1]).any(axis=0)
            assert not np.isnan(r[varies]).any(), f"NaN r for varying genes: {r}"
    ok, mean_r = attempt(mean_per_gene_pearson, y_true.value, y_pred.value)
    if ok:
        assert isinstance(mean_r, float)
        assert np.isnan(mean_r) or -1 <= mean_r <= 1


@pytest.mark.parametrize("scale", [1e-200, 1e-160, 1e150, 1e200, 1e300])
def test_per_gene_pearson_is_scale_invariant(scale):
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.normal(size=(2, 20, 3))
    expected = per_gene_pearson(y_true, y_pred)
    np.testing.assert_allclose(
        per_gene_pearson(scale * y_true, scale * y_pred),
        expected,
        rtol=1e-12,
        atol=1e-12,
    )


@fuzz(max_examples=80)
@given(
    errors_a=arrays_like(ndims=st.sampled_from([1, 1, 1, 2, 0])),
    data=st.data(),
)
def test_win_rate_on_fuzzed_input(errors_a, data):
    length = errors_a.shape[0] if len(errors_a.shape) == 1 else None
    errors_b = data.draw(
        arrays_like(
            rows=st.just(length) if length is not None else _ROWS,
            ndims=st.sampled_from([1, 1, 1, 2]),
            empty=st.just(False) if length is not None else _EMPTY,
        ),
        "errors_b",
    )
    ok, rate = attempt(win_rate, errors_a.value, errors_b.value)
    if ok:
        assert isinstance(rate, float)
        assert np.isnan(rate) or 0 <= rate <= 1


# ================================================================== datasets
@fuzz(max_examples=30)
@given(
    n_samples=st.integers(1, 6),
    n_landmarks=st.integers(1, 6),
    n_targets=st.integers(1, 6),
    n_programs=st.integers(1, 4),
    noise=st.floats(0, 1e6),
    as_frame=st.booleans(),
)
def test_make_expression_with_valid_parameters(
    n_samples, n_landmarks, n_targets, n_programs, noise, as_frame
):
    X, y = make_expression(
        n_samples,
        n_landmarks,
        n_targets,
        n_programs=n_programs,
        noise=noise,
        as_frame=as_frame,
        random_state=0,
    )
    assert X.shape == (n_samples, n_landmarks) and y.shape == (n_samples, n_targets)
    for values in (np.asarray(X), np.asarray(y)):
        assert values.dtype == np.float32 and np.isfinite(values).all()


MAKE_EXPRESSION_BAD_PARAMS = {
    "n_samples": _bad_int(1),
    "n_landmarks": _bad_int(1),
    "n_targets": _bad_int(1),
    "n_programs": _bad_int(1),
    "noise": _bad_real(0, None, low_closed=True, high_closed=False),
    "as_frame": _BAD_BOOL,
    "random_state": NETWORK_BAD_PARAMS["random_state"],
}


@pytest.mark.parametrize("parameter", MAKE_EXPRESSION_BAD_PARAMS)
@fuzz(max_examples=12)
@given(data=st.data())
def test_invalid_make_expression_parameter(parameter, data):
    value = data.draw(MAKE_EXPRESSION_BAD_PARAMS[parameter], parameter)
    params = {"n_samples": 3, "n_landmarks": 2, "n_targets": 2, parameter: value}
    with pytest.raises(ValueError, match=parameter):
        make_expression(**params)


_IDS = st.one_of(st.text(max_size=4), st.integers(-5, 50))


@st.composite
def id_lists(draw, pool, max_size=5):
    """Ids drawn from ``pool``, sometimes with unknown or repeated ones."""
    if not pool:
        return draw(st.lists(_IDS, max_size=max_size))
    ids = draw(st.lists(st.sampled_from(pool), max_size=max_size, unique=True))
    if draw(st.sampled_from([False, False, True])):
        ids.append(draw(st.one_of(_IDS, st.sampled_from(pool))))
    return ids


@fuzz(max_examples=120)
@given(
    matrix=arrays_like(ndims=st.sampled_from([2, 2, 2, 2, 1, 3])),
    data=st.data(),
)
def test_split_landmarks_on_fuzzed_input(matrix, data):
    n_genes = matrix.shape[1] if len(matrix.shape) > 1 else 3
    right = st.lists(_IDS, min_size=n_genes, max_size=n_genes, unique=True)
    gene_ids = data.draw(
        st.one_of(
            right,
            right,
            right,
            st.lists(_IDS, max_size=6),  # maybe repeated, maybe the wrong number
            st.sampled_from([None, "abc", 3]),
        ),
        "gene_ids",
    )
    pool = list(gene_ids) if isinstance(gene_ids, list) else []
    landmark_ids = data.draw(
        st.one_of(id_lists(pool), id_lists(pool), st.sampled_from(["g", None])),
        "landmark_ids",
    )
    target_ids = data.draw(st.one_of(st.none(), id_lists(pool)), "target_ids")
    dtype = data.draw(st.sampled_from([np.float32, None, np.float64, "nope", object]))
    ok, result = attempt(
        split_landmarks,
        matrix.value,
        gene_ids,
        landmark_ids,
        target_ids=target_ids,
        dtype=dtype,
    )
    if ok:
        n_samples = matrix.shape[0]
        assert result.X.shape == (n_samples, len(landmark_ids))
        assert result.y.shape[0] == n_samples
        assert result.y.shape[1] == len(result.target_ids)
        assert set(map(str, landmark_ids)).isdisjoint(map(str, result.target_ids))


# --------------------------------------------------------------- file damage
@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A folder for the fuzzed files, rewritten at every example."""
    return tmp_path_factory.mktemp("fuzz")


def _damaged(data, raw: bytes, label: str) -> bytes:
    """``raw`` intact, emptied, truncated, with up to three bytes replaced, or
    random bytes instead."""
    damage = data.draw(
        st.sampled_from(
            ["intact"] * 4 + ["empty", "truncated", "bytes replaced", "random"]
        ),
        f"{label} damage",
    )
    event(f"{label}: {damage}")
    if damage == "intact":
        return raw
    if damage == "empty":
        return b""
    if damage == "truncated":
        return raw[: data.draw(st.integers(0, max(len(raw) - 1, 0)), "length")]
    if damage == "random":
        return data.draw(st.binary(max_size=300), "random bytes")
    damaged = bytearray(raw)
    for position in data.draw(
        st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=3), "positions"
    ):
        damaged[position] = data.draw(st.integers(0, 255), "byte")
    return bytes(damaged)


def _check_bunch(bunch, n_landmarks=None):
    assert bunch.X.ndim == 2 and bunch.y.ndim == 2
    assert len(bunch.X) == len(bunch.y)
    if n_landmarks is not None:
        assert bunch.X.shape[1] == n_landmarks
    for ids, width in ((bunch.landmark_ids, bunch.X), (bunch.target_ids, bunch.y)):
        if ids is not None:
            assert len(ids) == width.shape[1] and ids.dtype == object
    if bunch.sample_ids is not None:
        assert len(bunch.sample_ids) == len(bunch.X)


_GCT_ID = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\t\r\n"),
    min_size=1,
    max_size=5,
)
_GCT_CELL = st.one_of(
    st.floats().map(repr),
    st.sampled_from(["", "NA", "nan", "inf", "-inf", "1e39", "1e400", "abc", "0x1"]),
)


@st.composite
def gct_texts(draw):
    """GCT 1.2 or 1.3 text, often consistent, sometimes misdeclared."""
    version = draw(st.sampled_from(["#1.2", "#1.3", "#1.3", "#2.0", ""]))
    n_genes, n_samples = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    n_row_meta = 1 if version != "#1.3" else draw(st.integers(0, 2))
    n_col_meta = 0 if version != "#1.3" else draw(st.integers(0, 2))
    genes = draw(st.lists(_GCT_ID, min_size=n_genes, max_size=n_genes))
    samples = draw(st.lists(_GCT_ID, min_size=n_samples, max_size=n_samples))
    declared = [
        n_genes + draw(st.sampled_from([0, 0, 0, 0, 1, -1])),
        n_samples + draw(st.sampled_from([0, 0, 0, 0, 1, -1])),
    ]
    if version == "#1.3":
        declared += [n_row_meta, n_col_meta]
    meta = [f"meta{i}" for i in range(n_row_meta)]
    lines = [version, "\t".join(map(str, declared))]
    lines.append("\t".join(["id", *meta, *samples]))
    for i in range(n_col_meta):
        lines.append("\t".join([f"cmeta{i}", *["na"] * n_row_meta, *samples]))
    for gene in genes:
        cells = draw(st.lists(_GCT_CELL, min_size=n_samples, max_size=n_samples))
        lines.append("\t".join([gene, *["na"] * n_row_meta, *cells]))
    return "\n".join(lines) + "\n", genes


@fuzz(max_examples=100)
@given(text_genes=gct_texts(), gzipped=st.booleans(), data=st.data())
def test_load_gct_on_fuzzed_files(scratch, text_genes, gzipped, data):
    text, genes = text_genes
    raw = text.encode()
    if gzipped:
        raw = gzip.compress(raw, mtime=0)
    path = scratch / ("fuzz.gct.gz" if gzipped else "fuzz.gct")
    path.write_bytes(_damaged(data, raw, "GCT"))
    ok, bunch = attempt(load_gct, path, [genes[0]])
    if ok:
        _check_bunch(bunch, n_landmarks=1)


def _write_gctx(path, matrix, row_ids, col_ids, skip=None, as_group=None):
    import h5py

    nodes = {
        "0/DATA/0/matrix": matrix,
        "0/META/ROW/id": row_ids,
        "0/META/COL/id": col_ids,
    }
    with h5py.File(path, "w") as file:
        for node, value in nodes.items():
            if node == skip:
                continue
            if node == as_group:
                file.create_group(node)
            else:
                file.create_dataset(node, data=value)


@st.composite
def gctx_contents(draw):
    n_samples, n_genes = draw(st.integers(0, 3)), draw(st.integers(1, 4))
    matrix_shape = draw(
        st.sampled_from(
            [(n_samples, n_genes)] * 4
            + [(n_genes, n_samples), (n_samples,), (n_samples, n_genes, 1)]
        )
    )
    matrix_dtype = draw(st.sampled_from(["<f4", "<f8", "<i2", "<c8", "S3", "bool"]))
    matrix = draw(float_values(matrix_shape)).astype(matrix_dtype)
    gene_ids = [f"g{i}" for i in range(n_genes)]
    if draw(st.booleans()) and n_genes > 1:
        gene_ids[-1] = gene_ids[0]
    id_kind = draw(st.sampled_from(["bytes", "bytes", "ints", "invalid utf-8", "0-D"]))
    if id_kind == "bytes":
        row_ids = [name.encode() for name in gene_ids]
    elif id_kind == "ints":
        row_ids = list(range(n_genes))
    elif id_kind == "invalid utf-8":
        row_ids = [b"\xff" + name.encode() for name in gene_ids]
    else:
        row_ids = 7
    col_ids = [f"s{i}".encode() for i in range(n_samples)] or np.array([], "S2")
    node = st.sampled_from([None, None, None, "0/DATA/0/matrix", "0/META/ROW/id"])
    event(f"GCTX: matrix {len(matrix_shape)}-D {matrix_dtype}, ids {id_kind}")
    return matrix, row_ids, col_ids, draw(node), draw(node)


@fuzz(max_examples=60)
@given(contents=gctx_contents(), data=st.data())
def test_load_gctx_on_fuzzed_files(scratch, contents, data):
    pytest.importorskip("h5py")
    matrix, row_ids, col_ids, skip, as_group = contents
    _write_gctx(scratch / "made.gctx", matrix, row_ids, col_ids, skip, as_group)
    path = scratch / "fuzz.gctx"
    # No bit flips inside intact HDF5 metadata: the HDF5 C library can crash
    # the interpreter on some of them, which no Python code can catch.
    raw = (scratch / "made.gctx").read_bytes()
    damage = data.draw(st.sampled_from(["intact", "intact", "truncated", "random"]))
    event(f"GCTX: {damage}")
    if damage == "truncated":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1), "length")]
    elif damage == "random":
        raw = data.draw(st.binary(max_size=300), "random bytes")
    path.write_bytes(raw)
    landmarks = data.draw(st.sampled_from([["g0"], [0], ["zz"], []]), "landmarks")
    ok, bunch = attempt(load_gctx, path, landmarks)
    if ok:
        _check_bunch(bunch, n_landmarks=len(landmarks))


@st.composite
def hdf_frames(draw):
    """A samples x genes DataFrame, or something else stored where one goes."""
    n_samples, n_genes = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    values = draw(float_values((n_samples, n_genes)))
    kind = draw(st.sampled_from(["float", "float", "int", "str", "datetime", "Series"]))
    event(f"HDF5 content: {kind}")
    if kind == "Series":
        return pd.Series(values.ravel())
    frame = pd.DataFrame(values, columns=[f"g{i}" for i in range(n_genes)])
    if kind == "int":
        frame = frame.fillna(0).clip(-100, 100).astype(np.int64)
    elif kind == "str" and n_genes:
        frame["g0"] = "text"
    elif kind == "datetime" and n_genes:
        frame["g0"] = pd.Timestamp("2020-01-01")
    return frame.set_axis([f"s{i}" for i in range(n_samples)])


@fuzz(max_examples=40)
@given(
    frame=hdf_frames(),
    file_format=st.sampled_from(["fixed", "table"]),
    key=st.sampled_from(["table"] * 4 + ["/table", "other", "", 3, None]),
    data=st.data(),
)
def test_load_hdf_on_fuzzed_files(scratch, frame, file_format, key, data):
    pytest.importorskip("tables")
    made = scratch / "made.h5"
    made.unlink(missing_ok=True)
    try:
        frame.to_hdf(made, key="table", format=file_format)
    except (ValueError, TypeError):  # pandas cannot store it so: not our concern
        reject()
    path = scratch / "fuzz.h5"
    raw = made.read_bytes()
    damage = data.draw(st.sampled_from(["intact", "intact", "truncated", "random"]))
    if damage == "truncated":  # no bit flips: see test_load_gctx_on_fuzzed_files
        raw = raw[: data.draw(st.integers(0, len(raw) - 1), "length")]
    elif damage == "random":
        raw = data.draw(st.binary(max_size=300), "random bytes")
    path.write_bytes(raw)
    ok, result = attempt(
        load_hdf, path, ["g0"], key=key, allowed=(ValueError, TypeError, KeyError)
    )
    if isinstance(result, KeyError):  # documented: a key the store lacks
        assert "has no key" in str(result)  # (pandas writes no empty table)
    if ok:
        _check_bunch(result, n_landmarks=1)


def test_load_hdf_on_stores_with_damaged_pandas_metadata(tmp_path):
    """A store whose pandas metadata is incomplete: a clear ValueError."""
    pytest.importorskip("tables")
    h5py = pytest.importorskip("h5py")
    frame = pd.DataFrame(np.ones((2, 3)), columns=["g0", "g1", "g2"])
    for damage in ["attribute", "dataset", "pandas_type"]:
        path = tmp_path / f"{damage}.h5"
        frame.to_hdf(path, key="table", format="fixed")
        with h5py.File(path, "r+") as file:
            if damage == "attribute":
                del file["table/axis1"].attrs["kind"]
            elif damage == "dataset":
                del file["table/block0_values"]
            else:
                file["table"].attrs["pandas_type"] = "nonsense"
        with pytest.raises(ValueError, match="cannot be read as a pandas"):
            load_hdf(path, ["g0"])


@fuzz(max_examples=25)
@given(
    landmarks=hdf_frames(),
    targets=hdf_frames(),
    same_index=st.booleans(),
)
def test_load_hdf_pair_on_fuzzed_files(scratch, landmarks, targets, same_index):
    pytest.importorskip("tables")
    if same_index and len(landmarks) == len(targets):
        targets = targets.set_axis(landmarks.index)
    paths = scratch / "lm.h5", scratch / "tg.h5"
    for path, frame in zip(paths, (landmarks, targets), strict=True):
        path.unlink(missing_ok=True)
        frame.to_hdf(path, key="table")
    ok, bunch = attempt(load_hdf_pair, *paths)
    if ok:
        _check_bunch(bunch)


@fuzz(max_examples=60)
@given(
    landmarks=arrays_like(rows=st.integers(0, 4), columns=st.integers(0, 3)),
    row_offset=st.sampled_from([0, 0, 0, 1]),
    mmap_mode=st.sampled_from(["r", "r", None, "c", "r+", "w+", "w", "x", "rb", 3]),
    data=st.data(),
)
def test_load_npy_on_fuzzed_files(scratch, landmarks, row_offset, mmap_mode, data):
    n_target_rows = (landmarks.n_rows or 0) + row_offset
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(landmarks.value), allow_pickle=True)
    raw = _damaged(data, buffer.getvalue(), "npy")
    paths = scratch / "X.npy", scratch / "y.npy"
    paths[0].write_bytes(raw)
    np.save(paths[1], np.zeros((n_target_rows, 2), np.float32))
    targets_raw = paths[1].read_bytes()
    event(f"mmap_mode: {mmap_mode!r}")
    ids = data.draw(st.sampled_from([None, None, ["a", "b"], ["a"], "a"]), "ids")
    ok, bunch = attempt(load_npy, *paths, mmap_mode=mmap_mode, target_ids=ids)
    if ok:
        _check_bunch(bunch)
        del bunch  # release the memory maps
    # Whatever happened, the files are as they were.
    assert paths[0].read_bytes() == raw and paths[1].read_bytes() == targets_raw


@pytest.mark.parametrize("mmap_mode", ["w+", "w", "x", 3])
def test_load_npy_rejects_mmap_modes_that_write(tmp_path, mmap_mode):
    X = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", X)
    with pytest.raises(ValueError, match="mmap_mode"):
        load_npy(tmp_path / "X.npy", tmp_path / "y.npy", mmap_mode=mmap_mode)
    np.testing.assert_array_equal(np.load(tmp_path / "X.npy"), X)


@pytest.mark.parametrize("mmap_mode", ["r", "r+", "c", None])
def test_load_npy_rejects_a_truncated_file_and_leaves_it_alone(tmp_path, mmap_mode):
    np.save(tmp_path / "X.npy", np.arange(12.0).reshape(6, 2))
    np.save(tmp_path / "y.npy", np.ones((6, 1)))
    truncated = (tmp_path / "X.npy").read_bytes()[:-40]
    (tmp_path / "X.npy").write_bytes(truncated)
    with pytest.raises(ValueError, match="cannot be read as a .npy array"):
        load_npy(tmp_path / "X.npy", tmp_path / "y.npy", mmap_mode=mmap_mode)
    assert (tmp_path / "X.npy").read_bytes() == truncated  # "r+" once padded it


@pytest.mark.parametrize(
    "loader",
    [
        lambda path: load_gct(path, ["g"]),
        lambda path: load_gctx(path, ["g"]),
        lambda path: load_hdf(path, ["g"]),
        lambda path: load_hdf_pair(path, path),
        lambda path: load_npy(path, path),
        TAAFRegressor.load,
    ],
    ids=["gct", "gctx", "hdf", "hdf_pair", "npy", "model"],
)
def test_loaders_on_missing_files_and_folders(tmp_path, loader):
    for path in (tmp_path / "missing", tmp_path):
        with pytest.raises(FileNotFoundError):
            loader(path)
    with pytest.raises(TypeError):
        loader(None)


# =============================================================== persistence
@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A saved TAAFRegressor, its bytes, and the span of its pickled payload."""
    X, y = clean_data()
    path = tmp_path_factory.mktemp("model") / "model.pt"
    TAAFRegressor(**TINY).fit(X, y).save(path)
    raw = path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith("data.pkl"))
    name_length, extra_length = struct.unpack_from("<HH", raw, info.header_offset + 26)
    start = info.header_offset + 30 + name_length + extra_length
    return path, raw, (start, start + info.compress_size)


_LOAD_ERRORS = (ValueError, TypeError, FileNotFoundError)


def _check_loaded(result):
    X, _ = clean_data()
    assert result.predict(X).shape == (len(X), 2)


@fuzz(max_examples=60)
@given(data=st.data())
def test_load_truncated_or_random_model_file(model_file, scratch, data):
    _, raw, _ = model_file
    damage = data.draw(st.sampled_from(["truncated", "random", "empty"]))
    event(f"model file: {damage}")
    if damage == "truncated":
        content = raw[: data.draw(st.integers(0, len(raw) - 1), "length")]
    elif damage == "random":
        content = data.draw(st.binary(max_size=500), "bytes")
    else:
        content = b""
    path = scratch / "damaged.pt"
    path.write_bytes(content)
    ok, _ = attempt(TAAFRegressor.load, path, allowed=_LOAD_ERRORS)
    assert not ok


@fuzz(max_examples=80)
@given(data=st.data())
def test_load_bit_flipped_model_file(model_file, scratch, data):
    """Bit flips anywhere, half of them in the pickled payload (key names and
    JSON metadata), a small part of the file where damage is structural."""
    _, raw, (start, end) = model_file
    content = bytearray(raw)
    anywhere, in_payload = st.integers(0, len(raw) - 1), st.integers(start, end - 1)
    for _ in range(data.draw(st.integers(1, 3), "n_flips")):
        position = data.draw(st.one_of(in_payload, anywhere), "at")
        event(f"flip in the {'payload' if start <= position < end else 'tensors'}")
        content[position] ^= 1 << data.draw(st.integers(0, 7), "bit")
    path = scratch / "flipped.pt"
    path.write_bytes(bytes(content))
    ok, loaded = attempt(TAAFRegressor.load, path, allowed=_LOAD_ERRORS)
    if ok:
        _check_loaded(loaded)


@fuzz(max_examples=25)
@given(
    payload=st.one_of(
        st.integers(),
        st.text(),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
        st.builds(lambda text: {"metadata": text}, st.text(max_size=30)),
        st.builds(
            lambda entries: {"metadata": json.dumps(entries)},
            st.dictionaries(st.sampled_from(["format", "class"]), st.text(max_size=8)),
        ),
    )
)
def test_load_torch_archives_that_are_not_models(scratch, payload):
    path = scratch / "other.pt"
    torch.save(payload, path)
    ok, _ = attempt(TAAFRegressor.load, path, allowed=_LOAD_ERRORS)
    assert not ok


@pytest.mark.parametrize("Estimator", NETWORKS)
def test_loaded_model_rejects_reordered_columns(tmp_path, Estimator):
    X, y = clean_data()
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    Estimator(**TINY).fit(frame, y).save(tmp_path / "model.pt")
    loaded = Estimator.load(tmp_path / "model.pt")
    with pytest.raises(ValueError, match="(?i)feature names"):
        loaded.predict(frame[["b", "a", "c", "d"]])
    with pytest.raises(ValueError, match="(?i)feature names"):
        loaded.predict(frame[["a", "b", "c"]])
    with pytest.raises(TypeError, match="holds a"):
        [other for other in NETWORKS if other is not Estimator][0].load(
            tmp_path / "model.pt"
        )


# ================================================================ regressions
# Bugs of the estimator core (_base.py, _persistence.py) that this fuzzing
# found, since fixed; deterministic cases.


@pytest.mark.parametrize("Estimator", NETWORKS)
def test_predict_rejects_values_beyond_float32(Estimator):
    X, y = clean_data()
    estimator = Estimator(**TINY).fit(X, y)
    X_huge = X.copy()
    X_huge[0, 0] = 1e39
    with pytest.raises(ValueError, match="too large for dtype\\('float32'\\)"):
        estimator.predict(X_huge)


@pytest.mark.parametrize("callbacks", [[3], [("name", "not a callback")]])
def test_callbacks_entries_are_validated(callbacks):
    X, y = clean_data()
    with pytest.raises((ValueError, TypeError), match="callbacks"):
        TAAFRegressor(**TINY, callbacks=callbacks).fit(X, y)


def _flip_key(raw: bytes, key: bytes) -> bytes:
    """``raw`` with the first letter of the JSON key ``key`` upper-cased: one
    bit flipped in the metadata."""
    position = raw.index(b'"' + key + b'"') + 1
    return raw[:position] + bytes([raw[position] ^ 0x20]) + raw[position + 1 :]


def _rewrite(raw: bytes, change) -> bytes:
    """``raw`` re-saved with ``change`` applied to its payload and metadata."""
    payload = torch.load(io.BytesIO(raw), weights_only=True)
    metadata = json.loads(payload["metadata"])
    change(payload, metadata)
    payload["metadata"] = json.dumps(metadata)
    # A valid checksum: what is tested is the check of the structure, not of
    # the checksum (see test_persistence.py for damage).
    payload.pop("checksum", None)
    payload["checksum"] = digest(payload)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


DAMAGED_STRUCTURE = {
    "bit flip in key 'fitted'": lambda raw: _flip_key(raw, b"fitted"),
    "bit flip in key 'params'": lambda raw: _flip_key(raw, b"params"),
    "no weights": lambda raw: _rewrite(raw, lambda p, m: p.pop("module")),
    "no format_version": lambda raw: _rewrite(
        raw, lambda p, m: m.pop("format_version")
    ),
    "device_ not a str": lambda raw: _rewrite(
        raw, lambda p, m: m["fitted"].update(device_=0)
    ),
    "unknown torch function": lambda raw: _rewrite(
        raw,
        lambda p, m: m["params"].update(activation={"__reference__": "torch:nope"}),
    ),
    "generator state of the wrong size": lambda raw: _rewrite(
        raw, lambda p, m: p.update(generator_state=torch.zeros(3, dtype=torch.uint8))
    ),
}


@pytest.mark.parametrize("damage", DAMAGED_STRUCTURE)
def test_load_model_file_with_damaged_structure(model_file, tmp_path, damage):
    _, raw, _ = model_file
    path = tmp_path / "damaged.pt"
    path.write_bytes(DAMAGED_STRUCTURE[damage](raw))
    with pytest.raises(ValueError):
        TAAFRegressor.load(path)


def test_save_into_a_missing_folder(tmp_path):
    X, y = clean_data()
    estimator = TAAFRegressor(**TINY).fit(X, y)
    with pytest.raises(FileNotFoundError):
        estimator.save(tmp_path / "missing" / "model.pt")


def test_origin_check_sees_errors_from_inside_torch():
    with pytest.raises(RuntimeError) as caught:
        torch.nn.Linear(2, 2)(torch.zeros(3, 3))
    assert _raised_inside(caught.value) == "torch"
    with pytest.raises(ValueError) as caught:
        TAAFRegressor(**TINY).fit(np.zeros((3, 2)), np.zeros(4))
    assert _raised_inside(caught.value) is None
