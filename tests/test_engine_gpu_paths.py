"""GPU throughput options: mixed precision, torch.compile, large predict batches.

Everything runs on the CPU (CPU autocast supports bfloat16 and float16 in the
torch versions sktaaf supports); the ``cuda`` tests repeat the essentials on a
GPU and skip without one.
"""

import pickle
import warnings

import numpy as np
import pytest
import torch
from conftest import ESTIMATORS, FAST, NO_STOP
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError
from skorch.callbacks import Callback
from torch._dynamo.eval_frame import OptimizedModule

import sktaaf._base
from sktaaf import DGEXRegressor, TAAFRegressor
from sktaaf._engine._net import TrainingNet

#: torch.compile's "eager" backend: dynamo traces and wraps the network as a
#: real compile does, in a fraction of a second and with eager arithmetic.
EAGER = {"backend": "eager"}


class RecordAutocast(Callback):
    """Record, for every forward pass of the network, whether it ran in
    training mode and the autocast dtype in effect (None when off)."""

    def on_train_begin(self, net, **kwargs):
        calls = self.calls_ = []

        def hook(module, args):
            device = args[0].device.type
            enabled = torch.is_autocast_enabled(device)
            dtype = torch.get_autocast_dtype(device) if enabled else None
            calls.append((module.training, dtype))

        net.module_.register_forward_pre_hook(hook)


def scaled_data(data, factor=300.0):
    """Targets large enough that float16 gradients overflow at first, so the
    loss scale of mixed_precision="fp16" backs off (with standardize=False:
    standardised targets would not overflow)."""
    X, y = data
    return X, y * np.float32(factor)


# ------------------------------------------------------------- validation
@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize(
    "params, match",
    [
        ({"mixed_precision": "fp8"}, "'mixed_precision' parameter"),
        ({"mixed_precision": "float16"}, "'mixed_precision' parameter"),
        ({"compile": "yes"}, "'compile' parameter"),
        ({"accelerator": "cpu"}, "'accelerator' parameter"),
    ],
)
def test_invalid_options(Estimator, params, match, data):
    X, y = data
    with pytest.raises(InvalidParameterError, match=match):
        Estimator(**FAST, **params).fit(X, y)


def test_unsupported_mixed_precision_names_the_device(monkeypatch, data):
    # As torch does for a dtype its CPU autocast lacks: a warning, then off.
    real_autocast = torch.autocast

    def autocast_without_fp16(device_type, dtype=None, **kwargs):
        if dtype == torch.float16:
            warnings.warn("CPU Autocast only supports torch.bfloat16.", stacklevel=2)
        return real_autocast(device_type, dtype=torch.bfloat16, **kwargs)

    monkeypatch.setattr(torch, "autocast", autocast_without_fp16)
    X, y = data
    with pytest.raises(
        ValueError,
        match=r"mixed_precision='fp16' is not supported on device 'cpu'.*bfloat16"
        r".*or 'bf16'",
    ):
        TAAFRegressor(**FAST, mixed_precision="fp16").fit(X, y)
    TAAFRegressor(**{**FAST, "max_epochs": 1}, mixed_precision="bf16").fit(X, y)


def test_loss_scaling_refuses_closure_optimizers(data):
    X, y = data
    with pytest.raises(ValueError, match="LBFGS re-evaluates the loss in a closure"):
        DGEXRegressor(**FAST, optimizer=torch.optim.LBFGS, mixed_precision="fp16").fit(
            X, y
        )
    est = DGEXRegressor(
        **{**FAST, "max_epochs": 3, "learning_rate": 0.1},
        optimizer=torch.optim.LBFGS,
        mixed_precision="bf16",
    ).fit(X, y)
    assert np.isfinite(est.history_[:, "train_loss"]).all()


# -------------------------------------------------------- mixed precision
@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("mixed_precision", ["bf16", "fp16"])
def test_mixed_precision_trains_and_predicts(Estimator, mixed_precision, data):
    X, y = data
    record = RecordAutocast()
    # Without the linear path, which would start the fit near its end: the
    # layers must learn under autocast.
    est = Estimator(
        **FAST,
        linear_path=None,
        mixed_precision=mixed_precision,
        callbacks=[("record", record)],
    ).fit(X[:120], y[:120])
    losses = est.history_[:, "train_loss"]
    assert losses[-1] < 0.5 * losses[0]
    assert est.score(X[120:], y[120:]) > 0.5
    # Weights and optimizer stay float32; predictions come in X's dtype.
    assert all(p.dtype == torch.float32 for p in est.module_.parameters())
    assert est.predict(X).dtype == np.float32
    assert est.predict(X.astype(np.float64)).dtype == np.float64
    # Training and validation forward passes, then predict, all autocast.
    calls = dict(est.net_.callbacks_)["record"].calls_
    n_training = len(calls)
    est.predict(X)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[mixed_precision]
    assert {call[1] for call in calls} == {dtype}
    assert {call[0] for call in calls[:n_training]} == {True, False}
    assert len(calls) > n_training and not calls[-1][0]
    # Predictions are those of the autocast network, not of float32.
    with torch.no_grad():
        float32 = est.module_(torch.from_numpy(X)).numpy()
    assert not np.array_equal(est.predict(X), float32)
    np.testing.assert_allclose(est.predict(X), float32, atol=0.05)
    # Large inputs are predicted in the same batches of padded rows.
    np.testing.assert_array_equal(
        est.predict(np.tile(X, (40, 1))), np.tile(est.predict(X), (40, 1))
    )


def test_mixed_precision_off_is_float32_training(data):
    # None is the default, and the net then gets no mixed_precision at all.
    X, y = data
    est = TAAFRegressor(**FAST).fit(X, y)
    assert est.mixed_precision is None
    assert est.net_.mixed_precision is None and est.net_.grad_scaler_ is None


def test_fp16_scales_the_loss(data):
    X, y = scaled_data(data)
    est = DGEXRegressor(
        **NO_STOP, loss="mse", mixed_precision="fp16", standardize=False
    ).fit(X, y)
    scaler = est.net_.grad_scaler_
    assert isinstance(scaler, torch.amp.GradScaler) and scaler.is_enabled()
    # Overflowing steps were skipped and the scale backed off; training went on.
    assert scaler.get_scale() < 2.0**16
    losses = est.history_[:, "train_loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]


def test_fp16_gradients_are_unscaled_for_callbacks(data):
    X, y = data
    seen = {}

    class GradientNorm(Callback):
        def on_grad_computed(self, net, named_parameters, **kwargs):
            grads = [p.grad for _, p in named_parameters if p.grad is not None]
            seen.setdefault("norms", []).append(  # a fixed linear path has none
                float(sum(grad.norm() ** 2 for grad in grads) ** 0.5)
            )

    DGEXRegressor(**{**NO_STOP, "max_epochs": 1}, callbacks=[GradientNorm()]).fit(X, y)
    float32_norms = seen.pop("norms")
    DGEXRegressor(
        **{**NO_STOP, "max_epochs": 1},
        mixed_precision="fp16",
        callbacks=[GradientNorm()],
    ).fit(X, y)
    # Scaled by 65,536 they would be far larger.
    np.testing.assert_allclose(seen["norms"][0], float32_norms[0], rtol=0.01)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("mixed_precision", ["bf16", "fp16"])
def test_warm_start_with_mixed_precision(Estimator, mixed_precision, data):
    # On the CPU, two fits of 5 epochs give exactly one fit of 10: the loss
    # scale (fp16) carries on with the weights and the optimizer.
    X, y = scaled_data(data)
    params = {**NO_STOP, "loss": "mse", "mixed_precision": mixed_precision}
    # Raw units and no linear path: large early gradients, so that the fp16
    # loss scale backs off and there is a state worth carrying on.
    params.update(standardize=False, linear_path=None)
    whole = Estimator(**{**params, "max_epochs": 10}).fit(X, y)
    warm = Estimator(**{**params, "max_epochs": 5}, warm_start=True).fit(X, y)
    warm.fit(X, y)
    assert warm.n_iter_ == 10
    np.testing.assert_array_equal(warm.predict(X), whole.predict(X))
    if mixed_precision == "fp16":
        state = warm.net_.grad_scaler_.state_dict()
        assert state == whole.net_.grad_scaler_.state_dict()
        assert state["scale"] < 2.0**16


@pytest.mark.parametrize("mixed_precision", ["bf16", "fp16"])
def test_save_load_with_mixed_precision(mixed_precision, data, tmp_path):
    X, y = scaled_data(data)
    params = {**NO_STOP, "loss": "mse", "mixed_precision": mixed_precision}
    est = DGEXRegressor(**{**params, "max_epochs": 5}).fit(X, y)
    est.save(tmp_path / "model.pt")
    loaded = DGEXRegressor.load(tmp_path / "model.pt")
    assert loaded.mixed_precision == mixed_precision
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    if mixed_precision == "fp16":
        assert (
            loaded.net_.grad_scaler_.state_dict() == est.net_.grad_scaler_.state_dict()
        )
    # ... and training resumes exactly.
    loaded.set_params(warm_start=True).fit(X, y)
    whole = DGEXRegressor(**{**params, "max_epochs": 10}).fit(X, y)
    np.testing.assert_array_equal(loaded.predict(X), whole.predict(X))


def test_pickle_with_mixed_precision(data):
    X, y = scaled_data(data)
    est = DGEXRegressor(**NO_STOP, loss="mse", mixed_precision="fp16").fit(X, y)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    assert again.net_.grad_scaler_.get_scale() == est.net_.grad_scaler_.get_scale()


def test_checkpoint_resumes_mixed_precision_exactly(data, tmp_path):
    X, y = scaled_data(data)
    params = {**FAST, "max_epochs": 8, "loss": "mse", "mixed_precision": "fp16"}

    class Crash(Callback):
        def on_epoch_end(self, net, **kwargs):
            if len(net.history) == 4:
                raise RuntimeError("simulated crash")

    whole = DGEXRegressor(**params).fit(X, y)
    with pytest.raises(RuntimeError, match="simulated crash"):
        DGEXRegressor(**params, checkpoint_dir=tmp_path, callbacks=[Crash()]).fit(X, y)
    resumed = DGEXRegressor(**params, checkpoint_dir=tmp_path).fit(X, y)
    np.testing.assert_array_equal(resumed.predict(X), whole.predict(X))


# ------------------------------------------------------------ torch.compile
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_compile_wraps_the_network_for_training(Estimator, data):
    X, y = data
    plain = Estimator(**FAST).fit(X, y)
    compiled = Estimator(**FAST, compile=EAGER).fit(X, y)
    assert isinstance(compiled.net_.module_, OptimizedModule)
    assert compiled.module_ is compiled.net_.module_._orig_mod
    assert type(compiled.module_) is type(plain.module_)
    assert not isinstance(compiled.net_.criterion_, OptimizedModule)
    # The eager backend computes as uncompiled torch: the same model.
    np.testing.assert_array_equal(compiled.predict(X), plain.predict(X))
    assert compiled.history_[:, "valid_loss"] == plain.history_[:, "valid_loss"]


def test_compile_through_aot_autograd(data):
    # "aot_eager" also traces the backward pass (as inductor does), then runs
    # both graphs eagerly: a few seconds, and still the same model.
    X, y = data
    params = {**FAST, "max_epochs": 10}
    plain = DGEXRegressor(**params).fit(X, y)
    compiled = DGEXRegressor(**params, compile={"backend": "aot_eager"}).fit(X, y)
    np.testing.assert_array_equal(compiled.predict(X), plain.predict(X))


def test_compiled_model_pickles_saves_clones_and_warm_starts(data, tmp_path):
    X, y = data
    est = TAAFRegressor(**{**NO_STOP, "max_epochs": 5}, compile=EAGER).fit(X, y)
    expected = est.predict(X)
    again = pickle.loads(pickle.dumps(est))
    assert again.module_ is again.net_.module_._orig_mod
    np.testing.assert_array_equal(again.predict(X), expected)

    est.save(tmp_path / "model.pt")
    payload = torch.load(tmp_path / "model.pt", weights_only=True)
    assert not any(key.startswith("_orig_mod") for key in payload["module"])
    loaded = TAAFRegressor.load(tmp_path / "model.pt")
    assert loaded.compile == EAGER
    np.testing.assert_array_equal(loaded.predict(X), expected)

    assert clone(est).get_params()["compile"] == EAGER
    loaded.set_params(warm_start=True).fit(X, y)
    whole = TAAFRegressor(**{**NO_STOP, "max_epochs": 10}, compile=EAGER).fit(X, y)
    np.testing.assert_array_equal(loaded.predict(X), whole.predict(X))
    # A compiled and an uncompiled fit continue each other.
    plain = TAAFRegressor(**{**NO_STOP, "max_epochs": 5}, warm_start=True).fit(X, y)
    plain.set_params(compile=EAGER).fit(X, y)
    np.testing.assert_array_equal(plain.predict(X), whole.predict(X))


def test_compiled_early_stopping_restores_the_best_epoch(data, tmp_path):
    X, y = data
    params = {**FAST, "max_epochs": 40, "learning_rate": 0.05, "n_iter_no_change": 3}
    plain = TAAFRegressor(**params).fit(X, y)
    compiled = TAAFRegressor(**params, compile=EAGER, checkpoint_dir=tmp_path)
    compiled.fit(X, y)
    assert compiled.best_epoch_ == plain.best_epoch_ < compiled.n_iter_
    np.testing.assert_array_equal(compiled.predict(X), plain.predict(X))
    payload = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert not any(key.startswith("_orig_mod") for key in payload["module"])


@pytest.mark.slow
def test_compile_with_inductor(data):
    # A real compilation (a C++ compiler is needed on the CPU): about 10-40 s
    # on 2 busy cores, most of it spent once per process.
    # Inductor's kernels round differently from eager ones (and Nadam's first
    # steps amplify that), so the check is on the compiled forward pass.
    X, y = data
    est = DGEXRegressor(**{**NO_STOP, "max_epochs": 3}, compile=True).fit(X, y)
    losses = est.history_[:, "train_loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    with torch.no_grad():
        eager = est.module_(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(est.predict(X), eager, atol=1e-5)


# -------------------------------------------------------------- prediction
def test_predict_batches_of_padded_rows(monkeypatch, data):
    X, y = data
    est = DGEXRegressor(**{**FAST, "max_epochs": 1}).fit(X, y)
    sizes = []
    forward = est.net_.module_.forward

    def spy(inputs):
        sizes.append(len(inputs))
        return forward(inputs)

    monkeypatch.setattr(est.net_.module_, "forward", spy)
    monkeypatch.setattr(sktaaf._base, "_MIN_PREDICT_BATCH_SIZE", 64)
    monkeypatch.setattr(sktaaf._base, "_MIN_CUDA_PREDICT_BATCH_SIZE", 128)
    est.predict(X[:150])
    assert sizes == [64, 64, 24]  # the last one padded to a multiple of 8


# --------------------------------------------------------------------- CUDA
@pytest.mark.cuda
@pytest.mark.parametrize("mixed_precision", ["fp16", "bf16"])
def test_cuda_mixed_precision(mixed_precision, data):
    if mixed_precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bfloat16")
    X, y = data
    est = TAAFRegressor(**FAST, device="cuda", mixed_precision=mixed_precision).fit(
        X[:120], y[:120]
    )
    scaler = est.net_.grad_scaler_
    assert (scaler is not None) == (mixed_precision == "fp16")
    assert est.score(X[120:], y[120:]) > 0.5
    assert est.predict(X).dtype == np.float32
    reference = TAAFRegressor(**FAST, device="cuda").fit(X[:120], y[:120])
    np.testing.assert_allclose(est.predict(X), reference.predict(X), atol=0.1)


@pytest.mark.cuda
def test_cuda_predict_through_pinned_memory(monkeypatch, data):
    X, y = data
    est = DGEXRegressor(**FAST, device="cuda").fit(X, y)
    pinned = []
    pin_memory = torch.Tensor.pin_memory

    def spy(tensor, *args, **kwargs):
        pinned.append(len(tensor))
        return pin_memory(tensor, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "pin_memory", spy)
    X_large = np.tile(X, (250, 1))  # 40,000 rows: 3 batches of up to 16,384
    y_large = est.predict(X_large)
    assert pinned == [16384, 16384, 7232]
    np.testing.assert_allclose(y_large, np.tile(est.predict(X), (250, 1)), atol=1e-5)


@pytest.mark.cuda
def test_cuda_compile(data, tmp_path):
    X, y = data
    # No dropout: compiled code draws its dropout masks from another generator.
    params = {**FAST, "dropout": 0.0, "device": "cuda"}
    est = DGEXRegressor(**params, compile=True).fit(X, y)
    assert isinstance(est.net_.module_, OptimizedModule)
    assert next(est.module_.parameters()).is_cuda
    # The compiled forward is the network's: its weights give the same
    # predictions on the CPU.
    est.save(tmp_path / "model.pt")
    uncompiled = DGEXRegressor.load(tmp_path / "model.pt", device="cpu")
    np.testing.assert_allclose(est.predict(X), uncompiled.predict(X), atol=1e-4)
    # Training compiled learns as well as uncompiled (fused kernels round
    # differently, and 30 epochs at lr 1e-2 carry the difference further than
    # any fixed tolerance on the predictions).
    reference = DGEXRegressor(**params).fit(X, y)
    assert est.score(X, y) == pytest.approx(reference.score(X, y), abs=0.05)


@pytest.mark.cuda
def test_cuda_fp16_model_loads_on_cpu(data, tmp_path, monkeypatch):
    X, y = data
    est = DGEXRegressor(**FAST, device="cuda", mixed_precision="fp16").fit(X, y)
    est.save(tmp_path / "model.pt")
    loaded = DGEXRegressor.load(tmp_path / "model.pt", device="cpu")
    np.testing.assert_allclose(loaded.predict(X), est.predict(X), atol=0.02)


def test_training_net_default_has_no_amp_overhead(monkeypatch, data):
    # With mixed_precision=None, the per-batch path never enters autocast.
    X, y = data
    entered = []
    real_autocast = torch.autocast

    def spy(*args, **kwargs):
        entered.append(args)
        return real_autocast(*args, **kwargs)

    monkeypatch.setattr(torch, "autocast", spy)
    est = TAAFRegressor(**FAST).fit(X, y)
    est.predict(X)
    assert entered == []
    assert type(est.net_) is TrainingNet
