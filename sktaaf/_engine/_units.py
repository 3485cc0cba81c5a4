"""Training in standard units, for networks built with ``standardize=True``.

While :func:`standard_units` holds, the network's forward skips its maps to
and from standard units, and the training net standardises each batch as its
step receives it (the inputs) and as the loss receives it (the targets),
outside autograd, with the network's own buffers: the loss compares
standard-unit outputs with standard-unit targets, and the map back
to the data's units is left to ``predict`` and the exported models.
"""

from __future__ import annotations

import contextlib

import torch
from skorch.dataset import unpack_data

#: The network buffers holding the standardisation, in this order.
BUFFERS = ("x_mean", "x_scale", "y_mean", "y_scale")


@contextlib.contextmanager
def standard_units(net, module: torch.nn.Module):
    """Train ``module`` (``net``'s network, unwrapped) in standard units if
    it was built with ``standardize=True``: set its ``standard_units`` and
    note its buffers (updated in place when weights are loaded) as
    ``net._standardization``; both undone on exit, so that the fitted
    network predicts in the data's units."""
    if not getattr(module, "standardize", False):
        yield
        return
    module.standard_units = True
    net._standardization = tuple(getattr(module, name) for name in BUFFERS)
    try:
        yield
    finally:
        module.standard_units = False
        net._standardization = None


def standard_inputs(standardization, X: torch.Tensor) -> torch.Tensor:
    """``X`` standardised by ``standardization`` (the buffers of
    :data:`BUFFERS`); unchanged when that is None."""
    if standardization is None:
        return X
    x_mean, x_scale, _, _ = standardization
    with torch.no_grad():
        return (X - x_mean) / x_scale


def standard_batch(standardization, batch):
    """``batch`` (inputs and targets) with its inputs standardised (its
    targets are standardised by the loss, :func:`standard_targets`);
    unchanged when ``standardization`` is None."""
    if standardization is None:
        return batch
    Xi, yi = unpack_data(batch)
    return standard_inputs(standardization, Xi), yi


def standard_targets(standardization, y: torch.Tensor) -> torch.Tensor:
    """The targets ``y`` standardised by ``standardization`` (the buffers
    of :data:`BUFFERS`); unchanged when that is None."""
    if standardization is None:
        return y
    _, _, y_mean, y_scale = standardization
    with torch.no_grad():
        return (y - y_mean) / y_scale


def target_units(standardization, step: dict) -> dict:
    """A training or validation ``step`` with its standard-unit ``y_pred``
    mapped to the targets' units, without gradients (for callbacks)."""
    y_pred = step.get("y_pred")
    if standardization is None or not isinstance(y_pred, torch.Tensor):
        return step
    _, _, y_mean, y_scale = standardization
    with torch.no_grad():
        y_pred = torch.addcmul(y_mean, y_pred.detach(), y_scale)
    return {**step, "y_pred": y_pred}
