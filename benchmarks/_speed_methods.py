"""The data and the training methods that ``benchmarks.speed`` times: a
hand-written PyTorch loop, ``TAAFRegressor`` like for like and with its
defaults, skorch and scikit-learn (see ``benchmarks.speed``'s docstring).

Every trainer returns the :func:`sktaaf.measure.usage` of each epoch and of
the whole fit.
"""

from __future__ import annotations

import skorch
import torch
from sklearn.neural_network import MLPRegressor
from skorch.callbacks import Callback

from sktaaf import TAAFRegressor
from sktaaf.measure import usage, usage_since
from sktaaf.nn import TAAFNetwork

N_FEATURES = 942
N_TARGETS = 952
RANK = 16
BATCH_SIZE = 64
LEARNING_RATE = 5e-4
DEFAULT_LEARNING_RATE = 5e-3  # TAAFRegressor's
SEED = 0


# ----------------------------------------------------------------------- data
def make_data(n_samples: int, seed: int = SEED):
    """Synthetic float32 data, 942 features to 952 targets in about [-1, 1].

    Drawn from a seeded torch generator straight into the final arrays:
    every temporary is smaller than glibc's initial mmap threshold (128 KiB),
    so generating the data leaves malloc's thresholds as the process started
    with them.
    """
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(n_samples, N_FEATURES, generator=generator)
    A = torch.randn(N_FEATURES, RANK, generator=generator)  # 60 KiB
    B = torch.randn(RANK, N_TARGETS, generator=generator)  # 61 KiB
    B.div_((N_FEATURES * RANK) ** 0.5)
    y = torch.empty(n_samples, N_TARGETS)
    hidden = torch.empty(32, RANK)
    for start in range(0, n_samples, 32):  # 32 rows: 122 KiB of y
        rows = slice(start, start + 32)
        n_rows = len(X[rows])
        torch.matmul(X[rows], A, out=hidden[:n_rows])
        torch.matmul(hidden[:n_rows], B, out=y[rows])
        noise = torch.randn(n_rows, N_TARGETS, generator=generator)
        y[rows].tanh_().add_(noise, alpha=0.1)
    return X.numpy(), y.numpy()


# ---------------------------------------------------------------- the methods
class EpochUsage(Callback):
    """Records time, CPU and page faults of each epoch in the history."""

    def on_epoch_begin(self, net, **kwargs):
        self.start_ = usage()

    def on_epoch_end(self, net, **kwargs):
        net.history.record("usage", usage_since(self.start_))


def train_raw(X, y, width, epochs, device):
    """The hand-written PyTorch loop; ``loss.item()`` synchronises with the
    device at every batch, so epoch times are complete on CUDA too."""
    start = usage()
    X_t, y_t = torch.from_numpy(X).to(device), torch.from_numpy(y).to(device)
    torch.manual_seed(SEED)
    model = TAAFNetwork(N_FEATURES, N_TARGETS, (width, width)).to(device)
    optimizer = torch.optim.NAdam(model.parameters(), lr=LEARNING_RATE)
    criterion = torch.nn.L1Loss()
    generator = torch.Generator().manual_seed(SEED)
    losses, epoch_usage = [], []
    for _ in range(epochs):
        epoch_start = usage()
        model.train()
        order = torch.randperm(len(X_t), generator=generator).to(device)
        for begin in range(0, len(X_t), BATCH_SIZE):
            idx = order[begin : begin + BATCH_SIZE]
            optimizer.zero_grad()
            loss = criterion(model(X_t[idx]), y_t[idx])
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        epoch_usage.append(usage_since(epoch_start))
    return {"epochs": epoch_usage, "fit": usage_since(start)}


def train_raw_default(X, y, width, epochs, device):
    """The hand-written loop of the default model (see the module's docs)."""
    start = usage()
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    x_mean, x_scale = X_t.mean(0), X_t.std(0, correction=0)
    y_mean, y_scale = y_t.mean(0), y_t.std(0, correction=0)
    torch.manual_seed(SEED)
    # The blended default trains its layers alone: the linear model is
    # fitted once training ends, outside the epochs.
    model = TAAFNetwork(N_FEATURES, N_TARGETS, (width, width), dropout=0.5)
    model.to(device)
    parameters = [p for p in model.parameters() if p.requires_grad]
    X_t, y_t = X_t.to(device), y_t.to(device)
    x_mean, x_scale, y_mean, y_scale = (
        t.to(device) for t in (x_mean, x_scale, y_mean, y_scale)
    )
    optimizer = torch.optim.NAdam(parameters, lr=DEFAULT_LEARNING_RATE)
    criterion = torch.nn.MSELoss()
    generator = torch.Generator().manual_seed(SEED)
    rows = torch.randperm(len(X_t), generator=generator).to(device)
    n_valid = -(-len(X_t) // 10)
    valid, train = rows[:n_valid], rows[n_valid:]

    def batch(idx):
        return (X_t[idx] - x_mean) / x_scale, (y_t[idx] - y_mean) / y_scale

    losses, epoch_usage = [], []
    for _ in range(epochs):
        epoch_start = usage()
        model.train()
        order = train[torch.randperm(len(train), generator=generator).to(device)]
        for begin in range(0, len(order), BATCH_SIZE):
            inputs, targets = batch(order[begin : begin + BATCH_SIZE])
            optimizer.zero_grad()
            loss = criterion(model(inputs), targets)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        model.eval()
        with torch.no_grad():
            for begin in range(0, len(valid), BATCH_SIZE):
                inputs, targets = batch(valid[begin : begin + BATCH_SIZE])
                losses.append(criterion(model(inputs), targets).item())
        epoch_usage.append(usage_since(epoch_start))
    return {"epochs": epoch_usage, "fit": usage_since(start)}


def train_taaf(X, y, width, epochs, device, **params):
    start = usage()
    params = {
        # The raw loop's network and maths: TAAFNetwork's dropout, no
        # standardisation, no linear path, no validation.
        "early_stopping": False,
        "dropout": 0.25,
        "standardize": False,
        "linear_path": None,
        "learning_rate": LEARNING_RATE,
        **params,
    }
    return _fit_estimator(X, y, width, epochs, device, start, **params)


def train_default(X, y, width, epochs, device):
    """``TAAFRegressor`` as users run it: every parameter but the network's
    width and the batch size at its default."""
    return _fit_estimator(X, y, width, epochs, device, usage())


def _fit_estimator(X, y, width, epochs, device, start, **params):
    """Fit ``TAAFRegressor(**params)``; its epochs' and the whole run's usage
    since ``start``."""
    estimator = TAAFRegressor(
        hidden_layer_sizes=(width, width),
        batch_size=BATCH_SIZE,
        max_epochs=epochs,
        random_state=SEED,
        device=device,
        callbacks=[("usage", EpochUsage())],
        **params,
    ).fit(X, y)
    fit = usage_since(start)
    return {"epochs": list(estimator.history_[:, "usage"]), "fit": fit}


def train_bf16(X, y, width, epochs, device):
    """``taaf`` in bfloat16 autocast (see ``sktaaf.bf16_supported``)."""
    return train_taaf(X, y, width, epochs, device, mixed_precision="bf16")


def train_skorch(X, y, width, epochs, device):
    start = usage()
    torch.manual_seed(SEED)
    net = skorch.NeuralNetRegressor(
        TAAFNetwork,
        module__n_inputs=N_FEATURES,
        module__n_outputs=N_TARGETS,
        module__hidden_layer_sizes=(width, width),
        criterion=torch.nn.L1Loss,
        optimizer=torch.optim.NAdam,
        lr=LEARNING_RATE,
        max_epochs=epochs,
        batch_size=BATCH_SIZE,
        iterator_train__shuffle=True,
        train_split=None,
        device=device,
        verbose=0,
        callbacks=[("usage", EpochUsage())],
    ).fit(X, y)
    return {"epochs": list(net.history[:, "usage"]), "fit": usage_since(start)}


def train_mlp(X, y, width, epochs, device):
    """sklearn's ``MLPRegressor`` (always on the CPU)."""
    start = usage()
    mlp = MLPRegressor(
        hidden_layer_sizes=(width, width),
        activation="logistic",
        solver="adam",
        batch_size=BATCH_SIZE,
        learning_rate_init=LEARNING_RATE,
        random_state=SEED,
    )
    epoch_usage = []
    for _ in range(epochs):
        epoch_start = usage()
        mlp.partial_fit(X, y)
        epoch_usage.append(usage_since(epoch_start))
    return {"epochs": epoch_usage, "fit": usage_since(start)}


TRAINERS = {"raw": train_raw, "taaf": train_taaf, "skorch": train_skorch}
TRAINERS.update({"default": train_default, "bf16": train_bf16})
TRAINERS["raw-default"] = train_raw_default
TRAINERS["mlp"] = train_mlp
