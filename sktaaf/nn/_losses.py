"""Losses measured in each output's own units."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["StandardizedLoss"]


class StandardizedLoss(nn.Module):
    """A loss computed on outputs and targets divided by each output's scale.

    ``StandardizedLoss(loss, scale)(y_pred, y_true)`` is
    ``loss(y_pred / scale, y_true / scale)``: for the mean absolute or squared
    error, the error of each output in standard units, so that every gene
    weighs alike however large its values are. The networks built with
    ``standardize=True`` predict in the original units; this loss trains them
    as if their targets had been standardised.

    Parameters
    ----------
    loss : torch.nn.Module
        The loss to wrap, e.g. ``torch.nn.L1Loss()``.
    scale : torch.Tensor of shape (n_outputs,)
        The (positive) scale of each output, e.g. ``network.y_scale``.

    Examples
    --------
    >>> import torch
    >>> from sktaaf.nn import StandardizedLoss
    >>> loss = StandardizedLoss(torch.nn.L1Loss(), torch.tensor([1.0, 10.0]))
    >>> loss(torch.tensor([[1.0, 10.0]]), torch.zeros(1, 2))
    tensor(1.)
    """

    def __init__(self, loss: nn.Module, scale: torch.Tensor) -> None:
        super().__init__()
        self.loss = loss
        self.register_buffer("scale", torch.as_tensor(scale).detach().clone())

    @property
    def reduction(self) -> str:
        """The wrapped loss's ``reduction`` (AttributeError if it has none)."""
        return self.loss.reduction

    @reduction.setter
    def reduction(self, value: str) -> None:
        self.loss.reduction = value

    def forward(self, y_pred: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
        scale = self.scale.to(y_pred.device)
        if y_pred.ndim == 1:  # one output
            scale = scale.reshape(())
        return self.loss(y_pred / scale, y_true / scale)
