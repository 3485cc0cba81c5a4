"""Hyper-parameter searches on a distributed engine: joblib's Dask and Ray backends.

Each backend gets a small local cluster (2 worker processes, 1 CPU each) for the
whole module, and each search must give exactly the results of ``n_jobs=1``,
having run its fits in the cluster's worker processes. The tests skip when the
``dask`` or ``ray`` extra is not installed.
"""

import contextlib
import os

import joblib
import numpy as np
import pytest
import torch
from conftest import ESTIMATORS, FAST, make_data
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import Pipeline

pytestmark = pytest.mark.slow  # each cluster takes seconds to start

SETTINGS = {**FAST, "max_epochs": 5}
N_WORKERS = 2

#: One search over both estimators (each worker start-up costs seconds, so the
#: searches are few): 8 candidates, 16 fits.
_GRID = [
    {
        "regressor": [Estimator(**SETTINGS)],
        "regressor__hidden_layer_sizes": [(8,), (16,)],
        "regressor__learning_rate": [1e-2, 3e-2],
    }
    for Estimator in ESTIMATORS
]


def _where_fits_run():
    """Two "scores" that report where each fit ran: the process id and the
    number of torch threads there.

    Defined in a function so that they are pickled by value: the workers need
    not import this test module (Ray's do not see the tests directory).
    """

    def process_id(estimator, X, y):
        return float(os.getpid())

    def torch_threads(estimator, X, y):
        return float(torch.get_num_threads())

    return {"pid": process_id, "torch_threads": torch_threads}


#: The scores compared, and the read-outs of where and how each fit ran.
SCORING = {"r2": "r2", **_where_fits_run()}


@contextlib.contextmanager
def _dask_cluster():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=N_WORKERS,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@contextlib.contextmanager
def _ray_cluster():
    ray = pytest.importorskip("ray")
    from joblib.pool import PicklingPool
    from ray.util.joblib import register_ray

    # The Ray backend re-parents joblib's PicklingPool onto Ray's pool (for the
    # whole process, on every search); put it back afterwards.
    pool_bases = PicklingPool.__bases__
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("RAY_USAGE_STATS_ENABLED", "0")  # no reports sent home
            # Ray sets OMP_NUM_THREADS in its workers only when it is unset
            # (Dask's workers always get 1).
            env.delenv("OMP_NUM_THREADS", raising=False)
            ray.init(
                address="local",  # a new instance, never a running cluster
                num_cpus=N_WORKERS,
                include_dashboard=False,
                log_to_driver=False,
                object_store_memory=100 * 2**20,  # Ray's minimum is 75 MiB
            )
        register_ray()
        yield ray
    finally:
        ray.shutdown()
        PicklingPool.__bases__ = pool_bases


@pytest.fixture(scope="module", params=["dask", "ray"])
def backend(request):
    """The name of a joblib backend, with a local cluster running behind it."""
    start_cluster = {"dask": _dask_cluster, "ray": _ray_cluster}[request.param]
    with start_cluster():
        yield request.param


@pytest.fixture(scope="module")
def data():
    return make_data(n_samples=120, n_features=8)


def _grid_search(n_jobs):
    return GridSearchCV(
        Pipeline([("regressor", ESTIMATORS[0](**SETTINGS))]),
        _GRID,
        cv=2,
        scoring=SCORING,
        refit="r2",
        n_jobs=n_jobs,
    )


@pytest.fixture(scope="module")
def serial_search(data):
    X, y = data
    return _grid_search(n_jobs=1).fit(X, y)


def _assert_ran_on_workers(pids, torch_threads):
    pids = set(np.asarray(pids).ravel())
    assert os.getpid() not in pids
    assert 1 <= len(pids) <= N_WORKERS
    # Both engines start their 1-CPU workers with OMP_NUM_THREADS=1: one torch
    # thread per fit, no oversubscription.
    np.testing.assert_array_equal(torch_threads, 1.0)


def test_grid_search_matches_serial(backend, serial_search, data):
    X, y = data
    # Ray's backend runs in the calling process unless n_jobs asks for workers;
    # Dask's uses every worker thread whatever n_jobs says.
    with joblib.parallel_config(backend=backend):
        search = _grid_search(n_jobs=-1).fit(X, y)

    results, expected = search.cv_results_, serial_search.cv_results_
    _assert_ran_on_workers(
        [results[f"split{i}_test_pid"] for i in range(2)],
        [results[f"split{i}_test_torch_threads"] for i in range(2)],
    )
    # Seeded CPU fits are deterministic: the same numbers, not merely close ones.
    assert search.best_params_ == serial_search.best_params_
    assert list(results["params"]) == list(expected["params"])
    for key in ("mean_test_r2", "split0_test_r2", "split1_test_r2"):
        np.testing.assert_array_equal(results[key], expected[key])
    assert search.best_estimator_.predict(X).shape == y.shape


def test_cross_validate_returns_fitted_estimators(backend, data):
    X, y = data
    Estimator = ESTIMATORS[-1]  # the grid search covers both; one suffices here
    cv = KFold(n_splits=3, shuffle=True, random_state=0)

    def run(n_jobs):
        return cross_validate(
            Estimator(**SETTINGS),
            X,
            y,
            cv=cv,
            scoring=SCORING,
            n_jobs=n_jobs,
            return_estimator=True,
        )

    serial = run(n_jobs=1)
    with joblib.parallel_config(backend=backend):
        distributed = run(n_jobs=-1)

    _assert_ran_on_workers(distributed["test_pid"], distributed["test_torch_threads"])
    np.testing.assert_array_equal(distributed["test_r2"], serial["test_r2"])
    # The fitted networks came back from the workers by pickle, and predict
    # here exactly as the ones fitted here.
    for remote, local in zip(
        distributed["estimator"], serial["estimator"], strict=True
    ):
        assert remote.device_ == "cpu"
        np.testing.assert_array_equal(remote.predict(X), local.predict(X))
