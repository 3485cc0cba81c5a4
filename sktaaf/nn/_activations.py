"""Activation functions and the transformative adaptive activation function."""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

__all__ = [
    "ACTIVATIONS",
    "TAAF",
    "TAAF_PARAMETERS",
    "get_activation",
    "taaf_parameters",
]

#: Names accepted wherever an activation is expected, mapped to their module.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "identity": nn.Identity,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "softplus": nn.Softplus,
    "silu": nn.SiLU,
    "gelu": nn.GELU,
}

ActivationLike = str | nn.Module | type | Callable[[torch.Tensor], torch.Tensor]


class _FunctionActivation(nn.Module):
    """Wrap a plain tensor function so that it can sit in a network.

    The function must be picklable (defined at module level, not a lambda) for
    the network to be pickled.
    """

    def __init__(self, function: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.function = function

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.function(x)

    def extra_repr(self) -> str:
        return getattr(self.function, "__name__", repr(self.function))


def get_activation(activation: ActivationLike) -> nn.Module:
    """Return a fresh activation module from a name, module, class or function.

    Parameters
    ----------
    activation : str, torch.nn.Module, type or callable
        One of the names in :data:`ACTIVATIONS`; an ``nn.Module`` instance
        (deep-copied, so that layers never share the parameters of a module such
        as ``nn.PReLU``); an ``nn.Module`` subclass (instantiated without
        arguments); or a function mapping a tensor to a tensor of the same shape.

    Returns
    -------
    module : torch.nn.Module
        A new module computing the activation.

    Raises
    ------
    ValueError
        If ``activation`` is a string that names no known activation.
    TypeError
        If ``activation`` is neither a string nor callable, or is an
        ``nn.Module`` subclass that needs constructor arguments.

    Examples
    --------
    >>> import torch
    >>> from sktaaf.nn import get_activation
    >>> get_activation("sigmoid")
    Sigmoid()
    >>> get_activation(torch.nn.Softsign)
    Softsign()
    >>> get_activation(torch.sin)(torch.zeros(2))
    tensor([0., 0.])
    """
    if isinstance(activation, str):
        try:
            return ACTIVATIONS[activation]()
        except KeyError:
            raise ValueError(
                f"Unknown activation {activation!r}. Expected one of "
                f"{sorted(ACTIVATIONS)}, an nn.Module or a callable."
            ) from None
    if isinstance(activation, nn.Module):
        return copy.deepcopy(activation)
    if isinstance(activation, type) and issubclass(activation, nn.Module):
        try:
            return activation()
        except TypeError as exc:  # e.g. nn.Linear: required arguments
            raise TypeError(
                f"The activation class {activation.__name__} cannot be created "
                f"without arguments ({exc}). Pass an instance instead, e.g. "
                f"{activation.__name__}(...), or an element-wise function."
            ) from exc
    if callable(activation):
        return _FunctionActivation(activation)
    raise TypeError(
        "activation must be a string, an nn.Module, an nn.Module subclass or a "
        f"callable; got {type(activation).__name__}."
    )


class TAAF(nn.Module):
    r"""Transformative adaptive activation function.

    Applies, feature-wise, the transformation

    .. math:: f(x) = \alpha \, g(\beta x + \gamma) + \delta

    where :math:`g` is a fixed activation and :math:`\alpha, \beta, \gamma,
    \delta` are learned, one of each per feature (neuron). ``beta`` and
    ``gamma`` adapt the input of :math:`g` (its slope and its shift, so
    ``gamma`` plays the part of the bias of the preceding linear layer);
    ``alpha`` and ``delta`` adapt its output (its amplitude and offset, which
    lets a bounded :math:`g` such as the sigmoid reach any target range).
    At initialisation (``alpha = beta = 1``, ``gamma = delta = 0``) the layer
    computes :math:`g` itself.

    Parameters
    ----------
    num_features : int
        Size of the last dimension of the input.
    activation : str, torch.nn.Module, type or callable, default="sigmoid"
        The inner activation :math:`g`; see :func:`get_activation`.

    Attributes
    ----------
    alpha, beta, gamma, delta : torch.nn.Parameter of shape (num_features,)
        The adaptive parameters.
    activation : torch.nn.Module
        The inner activation :math:`g`.

    References
    ----------
    .. [1] V. Kunc and J. Kléma, "On transformative adaptive activation functions
       in neural networks for gene expression inference", PLoS ONE 16(1),
       e0243915, 2021.

    Examples
    --------
    >>> import torch
    >>> from sktaaf.nn import TAAF
    >>> layer = TAAF(3, activation="tanh")
    >>> sum(p.numel() for p in layer.parameters())
    12
    >>> layer(torch.zeros(2, 3))
    tensor([[0., 0., 0.],
            [0., 0., 0.]], grad_fn=<AddcmulBackward0>)
    """

    def __init__(self, num_features: int, activation: ActivationLike = "sigmoid"):
        super().__init__()
        self.num_features = num_features
        self.activation = get_activation(activation)
        self.alpha = nn.Parameter(torch.empty(num_features))
        self.beta = nn.Parameter(torch.empty(num_features))
        self.gamma = nn.Parameter(torch.empty(num_features))
        self.delta = nn.Parameter(torch.empty(num_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Set ``alpha`` and ``beta`` to one, ``gamma`` and ``delta`` to zero."""
        nn.init.ones_(self.alpha)
        nn.init.ones_(self.beta)
        nn.init.zeros_(self.gamma)
        nn.init.zeros_(self.delta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # addcmul fuses each affine step into one kernel: 3 passes, not 5.
        inner = torch.addcmul(self.gamma, x, self.beta)
        return torch.addcmul(self.delta, self.activation(inner), self.alpha)

    def extra_repr(self) -> str:
        return f"num_features={self.num_features}"


#: The parameters of a :class:`TAAF`, in the order of
#: f(x) = alpha g(beta x + gamma) + delta, with their initial values.
TAAF_PARAMETERS = {"alpha": 1.0, "beta": 1.0, "gamma": 0.0, "delta": 0.0}


def taaf_parameters(module: nn.Module) -> dict[str, dict[str, np.ndarray]]:
    """The learned parameters of every :class:`TAAF` layer of ``module``.

    Parameters
    ----------
    module : torch.nn.Module
        A network holding TAAF layers (e.g. a fitted ``TAAFRegressor``'s
        ``module_``), or a TAAF layer itself.

    Returns
    -------
    parameters : dict
        By layer name (as ``module.named_modules()`` gives it; ``""`` for
        ``module`` itself), a dict of ``alpha``, ``beta``, ``gamma`` and
        ``delta``, each a float32 numpy copy of shape (num_features,). Empty
        when ``module`` holds no TAAF layer.

    Examples
    --------
    >>> from sktaaf.nn import TAAFNetwork, taaf_parameters
    >>> layers = taaf_parameters(TAAFNetwork(8, 4, hidden_layer_sizes=(16,)))
    >>> list(layers)
    ['hidden0.taaf', 'output.taaf']
    >>> layers["hidden0.taaf"]["alpha"].shape
    (16,)
    """
    return {
        name: {
            parameter: getattr(layer, parameter).detach().float().cpu().numpy().copy()
            for parameter in TAAF_PARAMETERS
        }
        for name, layer in module.named_modules()
        if isinstance(layer, TAAF)
    }
