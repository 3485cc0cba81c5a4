"""Training through Hugging Face accelerate (the ``accelerate`` extra).

In one CPU process an ``Accelerator(cpu=True)`` wraps nothing, so a fit must
give exactly the model of a plain fit; one slow test starts two processes
(``torch.distributed.run``, gloo on the CPU) to check that they train on
disjoint shares of every batch and end with the same weights.
"""

import json
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from conftest import ESTIMATORS, FAST, NO_STOP
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from sktaaf import DGEXRegressor, TAAFRegressor
from sktaaf._data._batches import BatchIterator, TensorData, WeightedTargets


@pytest.fixture
def accelerate():
    """The accelerate module, its process-wide state reset around each test
    (an accelerator's mixed precision is fixed for the process otherwise)."""
    accelerate = pytest.importorskip("accelerate")
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    yield accelerate
    AcceleratorState._reset_state(reset_partial_state=True)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_single_process_equals_plain_fit(Estimator, accelerate, data, capsys):
    X, y = data
    accelerator = accelerate.Accelerator(cpu=True)
    plain = Estimator(**FAST).fit(X, y)
    est = Estimator(**FAST, accelerator=accelerator).fit(X, y)
    assert est.device_ == "cpu"
    assert type(est.module_) is type(plain.module_)
    assert est.module_ is est.net_.module_  # unwrapped after training
    assert type(est.net_.optimizer_) is torch.optim.NAdam
    np.testing.assert_array_equal(est.predict(X), plain.predict(X))
    assert est.history_[:, "valid_loss"] == plain.history_[:, "valid_loss"]
    assert capsys.readouterr().out == ""  # verbose=0 prints nothing


def test_bf16_through_the_accelerator(accelerate, data):
    X, y = data
    accelerator = accelerate.Accelerator(cpu=True, mixed_precision="bf16")
    est = DGEXRegressor(**FAST, accelerator=accelerator).fit(X, y)
    own = DGEXRegressor(**FAST, mixed_precision="bf16").fit(X, y)
    # Training ran under the accelerator's bfloat16 autocast, as our own does.
    assert est.history_[:, "train_loss"] == own.history_[:, "train_loss"]
    plain = DGEXRegressor(**FAST).fit(X, y)
    assert est.history_[:, "train_loss"] != plain.history_[:, "train_loss"]
    # Predictions: the unwrapped network, in float32.
    with torch.no_grad():
        float32 = est.module_(torch.from_numpy(X)).numpy()
    np.testing.assert_array_equal(est.predict(X), float32)


def test_options_the_accelerator_decides(accelerate, data):
    X, y = data
    accelerator = accelerate.Accelerator(cpu=True)
    for params, match in [
        ({"mixed_precision": "bf16"}, r"Accelerator\(mixed_precision=...\)"),
        ({"compile": True}, r"Accelerator\(dynamo_backend='inductor'\)"),
        ({"optimizer": torch.optim.LBFGS}, "LBFGS re-evaluates the loss"),
    ]:
        with pytest.raises(ValueError, match=match):
            TAAFRegressor(**FAST, accelerator=accelerator, **params).fit(X, y)
    TAAFRegressor(
        **{**FAST, "max_epochs": 1}, accelerator=accelerator, device="cpu"
    ).fit(X, y)


def test_device_must_match_the_accelerator(accelerate, data, monkeypatch):
    X, y = data
    accelerator = accelerate.Accelerator(cpu=True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match="differs from the device of the accelerator"):
        TAAFRegressor(**FAST, accelerator=accelerator, device="cuda").fit(X, y)


def test_clone_grid_search_and_no_leak(accelerate, data):
    X, y = data
    accelerator = accelerate.Accelerator(cpu=True)
    est = TAAFRegressor(**{**FAST, "max_epochs": 3}, accelerator=accelerator)
    assert clone(est).accelerator is accelerator  # accelerate copies by reference
    search = GridSearchCV(est, {"learning_rate": [1e-2, 1e-3]}, cv=2).fit(X, y)
    plain = GridSearchCV(
        TAAFRegressor(**{**FAST, "max_epochs": 3}),
        {"learning_rate": [1e-2, 1e-3]},
        cv=2,
    ).fit(X, y)
    np.testing.assert_array_equal(
        search.cv_results_["mean_test_score"], plain.cv_results_["mean_test_score"]
    )
    # The shared accelerator keeps none of the networks it trained.
    assert accelerator._models == [] and accelerator._optimizers == []


def test_pickle_save_load_and_warm_start(accelerate, data, tmp_path):
    X, y = data
    accelerator = accelerate.Accelerator(cpu=True)
    est = DGEXRegressor(**{**NO_STOP, "max_epochs": 5}, accelerator=accelerator)
    est.fit(X, y)
    expected = est.predict(X)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(X), expected)
    assert again.device_ == "cpu"

    est.save(tmp_path / "model.pt")  # the accelerator is not saved
    metadata = json.loads(torch.load(tmp_path / "model.pt")["metadata"])
    assert metadata["params"]["accelerator"] is None
    loaded = DGEXRegressor.load(tmp_path / "model.pt")
    assert loaded.accelerator is None
    np.testing.assert_array_equal(loaded.predict(X), expected)

    whole = DGEXRegressor(**{**NO_STOP, "max_epochs": 10}).fit(X, y)
    est.set_params(warm_start=True).fit(X, y)
    assert est.n_iter_ == 10
    np.testing.assert_array_equal(est.predict(X), whole.predict(X))


def test_checkpoints_with_an_accelerator(accelerate, data, tmp_path):
    X, y = data
    accelerator = accelerate.Accelerator(cpu=True)
    params = {**FAST, "max_epochs": 6}
    DGEXRegressor(**params, accelerator=accelerator, checkpoint_dir=tmp_path).fit(X, y)
    resumed = DGEXRegressor(**params, checkpoint_dir=tmp_path).fit(X, y)
    np.testing.assert_array_equal(
        resumed.predict(X), DGEXRegressor(**params).fit(X, y).predict(X)
    )


def test_batch_iterator_shards():
    X = torch.arange(21, dtype=torch.float32).reshape(-1, 1)
    data = TensorData(X, X)

    def epoch(rank, batch_size=8):
        generator = torch.Generator().manual_seed(0)
        iterator = BatchIterator(
            data, batch_size, True, generator, num_replicas=2, rank=rank
        )
        return iterator, [xb.ravel().tolist() for xb, _ in iterator]

    (iterator, first), (_, second) = epoch(0), epoch(1)
    assert len(iterator) == len(first) == len(second) == 3
    assert [len(batch) for batch in first] == [4, 4, 3]
    assert [len(batch) for batch in second] == [4, 4, 2]
    rows = sum(first, []) + sum(second, [])
    assert sorted(rows) == list(range(21))
    # A last batch smaller than the number of processes is topped up.
    tiny = TensorData(X[:9], X[:9])
    shares = [
        [len(xb) for xb, _ in BatchIterator(tiny, 4, num_replicas=3, rank=rank)]
        for rank in range(3)
    ]
    assert shares == [[2, 2, 1], [1, 1, 1], [1, 1, 1]]


def test_batch_iterator_shards_weighted_batches_alike():
    """Targets and sample weights follow their rows into each share (the
    last batch of one row topped up as the unweighted one is)."""
    X = torch.arange(9, dtype=torch.float32).reshape(-1, 1)
    data = TensorData(X, 10 * X, sample_weight=X.ravel() / 2)
    for rank in range(3):
        iterator = BatchIterator(data, 4, num_replicas=3, rank=rank)
        for xb, yb in iterator:
            assert isinstance(yb, WeightedTargets)
            torch.testing.assert_close(yb.targets, 10 * xb)
            torch.testing.assert_close(yb.weight, xb.ravel() / 2)


SCRIPT = """
import json, os, sys
import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import gather_object
from skorch.callbacks import Callback
sys.path.insert(0, {tests!r})
from conftest import FAST, make_data
from sktaaf import TAAFRegressor

torch.set_num_threads(1)


class TrainingRows(Callback):
    def on_train_begin(self, net, **kwargs):
        self.rows = []

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if training:
            self.rows.append(batch[0][:, 0].long().tolist())


accelerator = Accelerator(cpu=True)
X, y = make_data(n_samples=150)
X[:, 0] = np.arange(len(X))  # each row names itself
est = TAAFRegressor(
    **{{**FAST, "max_epochs": 4, "batch_size": 16, "random_state": None}},
    accelerator=accelerator,
    callbacks=[("rows", TrainingRows())],
).fit(X, y)
n_batches = est.history_[-1, "train_batch_count"]
rows = sum(dict(est.net_.callbacks_)["rows"].rows[-n_batches:], [])
weights = torch.cat([p.detach().ravel() for p in est.module_.parameters()])
result = gather_object(
    [
        {{
            "rows": rows,
            "n_batches": n_batches,
            "valid": est.net_.train_split.valid_indices.tolist(),
            "valid_loss": est.history_[:, "valid_loss"],
            "weights": weights.tolist(),
            "n_processes": accelerator.num_processes,
        }}
    ]
)
if accelerator.is_main_process:
    print("RESULT", json.dumps(result), flush=True)
accelerator.wait_for_everyone()
accelerator.end_training()
# Under load, a gloo process sometimes aborted in interpreter teardown
# ("terminate called without an active exception", 2-3 runs in 10), after
# all the work; the test is about the training, so skip the teardown.
sys.stdout.flush()
os._exit(0)
"""


@pytest.mark.slow
def test_two_processes_share_the_batches(accelerate, tmp_path):
    script = tmp_path / "train.py"
    tests = os.path.dirname(__file__)
    script.write_text(textwrap.dedent(SCRIPT.format(tests=tests)))
    process = subprocess.run(
        [
            *(sys.executable, "-m", "torch.distributed.run", "--standalone"),
            *("--nproc_per_node", "2", str(script)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    lines = [line for line in process.stdout.splitlines() if line.startswith("RESULT")]
    assert process.returncode == 0 and lines, process.stderr[-3000:]
    first, second = json.loads(lines[0].removeprefix("RESULT "))
    assert first["n_processes"] == second["n_processes"] == 2
    # The same split and batches everywhere (random_state=None: a shared seed),
    assert first["valid"] == second["valid"]
    assert first["n_batches"] == second["n_batches"]
    # each process training on its own share of every batch,
    assert not set(first["rows"]) & set(second["rows"])
    train_rows = sorted(set(range(150)) - set(first["valid"]))
    assert sorted(first["rows"] + second["rows"]) == train_rows
    # and the same network at the end, with the same validation losses.
    assert first["weights"] == second["weights"]
    assert first["valid_loss"] == second["valid_loss"]
