"""Property-based fuzzing of the public API: the checks and strategies that
the fuzz tests (``tests/test_*_fuzz.py``) share; bad input fails early and clearly.

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

Runs are deterministic and sized for CI (about 20 s on two cores, all the fuzz
files together). ``SKTAAF_FUZZ_SCALE=20 pytest tests/test_*_fuzz.py`` runs
twenty times as many examples from random seeds. Each bug found has a
deterministic regression test next to the property that found it.
"""

from __future__ import annotations

import os
import re
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st

from sktaaf import DGEXRegressor, TAAFRegressor
from sktaaf.nn import ACTIVATIONS

pd = pytest.importorskip("pandas")

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


NETWORKS = [TAAFRegressor, DGEXRegressor]


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
