"""What the tests share: estimator settings (``FAST`` and its variants), small
synthetic data, the estimators, and a few fixtures.

Test files are named ``test_<area>.py`` or ``test_<area>_<topic>.py``, the area
being a public module or subpackage (``metrics``, ``datasets``...), the
estimators (``estimators`` for TAAFRegressor and DGEXRegressor, any other by
its public name), a private layer (``utils``, ``data``, ``engine``,
``persistence``), an application (``cli``, ``compare``) or the project
(``architecture``, ``readme``, ``examples``, ``benchmarks``); none is over 800
lines. doc/developers/testing.rst says more; test_architecture_tests.py checks
it.
"""

import signal
import threading

import numpy as np
import pytest
import torch

from sktaaf import DGEXRegressor, TAAFRegressor

ESTIMATORS = [TAAFRegressor, DGEXRegressor]


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip_cuda = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip_cuda)


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """Tiny test networks gain nothing from intra-op threads, and OpenMP
    threads competing for busy cores slow every fit down many times."""
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)


def make_data(n_samples=160, n_features=12, n_targets=3, random_state=0):
    """Small non-linear multi-output regression data, float32."""
    rng = np.random.RandomState(random_state)
    X = rng.normal(size=(n_samples, n_features)).astype(np.float32)
    weights = rng.normal(size=(n_features, n_targets)) / np.sqrt(n_features)
    y = np.tanh(2 * X @ weights) + 0.05 * rng.normal(size=(n_samples, n_targets))
    return X, y.astype(np.float32)


@pytest.fixture(scope="module")
def data():
    return make_data()


#: Small but honest settings: these networks really learn the data above.
FAST = dict(
    hidden_layer_sizes=(16,),
    max_epochs=30,
    learning_rate=1e-2,
    batch_size=32,
    random_state=0,
)
#: The settings of scikit-learn's common checks: small networks and few epochs
#: keep them fast; they still have to learn (check_regressors_train demands
#: R^2 > 0.5), and no estimator is tagged poor_score. Early stopping stays on,
#: as by default.
CHECK_PARAMS = dict(
    hidden_layer_sizes=(32,), max_epochs=60, learning_rate=1e-2, batch_size=32
)
#: FAST, trained without early stopping: every epoch runs.
NO_STOP = {**FAST, "early_stopping": False}
#: FAST, four epochs: for what a fit records, not for what it learns.
SHORT = {**FAST, "max_epochs": 4}
#: A small network trained two epochs: for what fit carries through (sparse
#: input, gene names), not for what it learns.
QUICK = {"hidden_layer_sizes": (8,), "max_epochs": 2, "random_state": 0}
#: The smallest fit that runs: one epoch of four units (the fuzz tests).
TINY = dict(
    hidden_layer_sizes=(4,),
    max_epochs=1,
    batch_size=8,
    early_stopping=False,
    random_state=0,
)


@pytest.fixture
def ctrl_c_raises():
    """Python's own SIGINT handler (Ctrl-C raises KeyboardInterrupt) for the
    test, whatever this process inherited: a shell starts background jobs
    (``cmd &`` in a script, ``nohup``) with SIGINT ignored, and Python then
    installs no handler, so a SIGINT would do nothing. Restored after."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("only the main thread can set signal handlers")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A folder for the fuzzed files, rewritten at every example."""
    return tmp_path_factory.mktemp("fuzz")
