"""Dense blocks and the TAAF-D-GEX / D-GEX network builders."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ._activations import TAAF, ActivationLike, get_activation
from ._linear import LinearPath

__all__ = ["DGEXNetwork", "DenseBlock", "TAAFDenseBlock", "TAAFNetwork"]


def _glorot_(linear: nn.Linear) -> None:
    # The reference implementations are Keras models, whose Dense layers start
    # from Glorot-uniform weights and zero biases (torch's default differs).
    nn.init.xavier_uniform_(linear.weight)
    if linear.bias is not None:
        nn.init.zeros_(linear.bias)


class TAAFDenseBlock(nn.Sequential):
    """A linear layer without bias followed by a :class:`TAAF`.

    The TAAF's ``gamma`` shifts each neuron's input exactly as a bias would, so
    the linear layer has none (as in the reference implementation).

    Parameters
    ----------
    in_features, out_features : int
        Sizes of the input and of the output.
    activation : str, torch.nn.Module, type or callable, default="sigmoid"
        The TAAF's inner activation; see :func:`get_activation`.

    Examples
    --------
    >>> from sktaaf.nn import TAAFDenseBlock
    >>> block = TAAFDenseBlock(942, 300)
    >>> sum(p.numel() for p in block.parameters())  # 942 * 300 + 4 * 300
    283800
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        activation: ActivationLike = "sigmoid",
    ) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=False)
        self.taaf = TAAF(out_features, activation)
        _glorot_(self.linear)


class DenseBlock(nn.Sequential):
    """A linear layer with bias followed by a fixed activation.

    Parameters
    ----------
    in_features, out_features : int
        Sizes of the input and of the output.
    activation : str, torch.nn.Module, type, callable or None, default="tanh"
        The activation; ``None`` (or ``"identity"``) makes the block linear.

    Examples
    --------
    >>> from sktaaf.nn import DenseBlock
    >>> DenseBlock(4, 2)
    DenseBlock(
      (linear): Linear(in_features=4, out_features=2, bias=True)
      (activation): Tanh()
    )
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        activation: ActivationLike | None = "tanh",
    ) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=True)
        if activation is None:
            activation = "identity"
        self.activation = get_activation(activation)
        _glorot_(self.linear)


#: The values of the networks' ``linear_path``: trained with the network,
#: kept fixed at its ridge initialisation, or fitted apart and blended with
#: the layers after training.
LINEAR_PATHS = ("ridge", "fixed", "blend")


def _check_linear_path(linear_path):
    if linear_path is None or linear_path is False:
        return None
    if linear_path is True:
        return "ridge"
    if linear_path not in LINEAR_PATHS:
        raise ValueError(
            f"linear_path must be None, {', '.join(map(repr, LINEAR_PATHS))} or a "
            f"bool; got {linear_path!r}."
        )
    return linear_path


def _check_architecture(
    n_inputs: int, n_outputs: int, hidden_layer_sizes: Sequence[int], dropout: float
) -> tuple[int, ...]:
    sizes = tuple(int(size) for size in hidden_layer_sizes)
    if not sizes or any(size < 1 for size in (n_inputs, n_outputs, *sizes)):
        raise ValueError(
            "n_inputs, n_outputs and every hidden layer size must be positive "
            f"integers, with at least one hidden layer; got n_inputs={n_inputs}, "
            f"n_outputs={n_outputs}, hidden_layer_sizes={tuple(hidden_layer_sizes)}."
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1); got {dropout}.")
    return sizes


class _FeedForward(nn.Sequential):
    """Hidden blocks, each followed by dropout, then an output block.

    The children are named ``hidden0``, ``dropout0``, ``hidden1``, ... and
    ``output``, so that ``network.output`` or ``network.hidden0.taaf`` reach a
    layer directly.

    With ``standardize=True`` the network holds each input's and each output's
    location and scale as buffers (``x_mean``, ``x_scale``, ``y_mean``,
    ``y_scale``; zeros and ones until :meth:`set_standardization`): the layers
    see standardised inputs and learn standardised outputs, and ``forward``
    maps them back to the original units. Buffers travel with the state dict,
    so saved, pickled and checkpointed networks keep them.

    While ``standard_units`` is True (the estimators set it for the time of
    training), ``forward`` skips both maps: it takes standardised inputs and
    returns standardised outputs, so that training standardises each batch
    once as it is gathered, outside autograd, and computes the loss in
    standard units.
    """

    #: Whether ``forward`` takes and returns standard units (see above).
    standard_units = False

    def __init__(
        self,
        n_inputs,
        n_outputs,
        hidden_layer_sizes,
        dropout,
        make_hidden,
        make_output,
        standardize=False,
        linear_path=None,
    ):
        super().__init__()
        sizes = _check_architecture(n_inputs, n_outputs, hidden_layer_sizes, dropout)
        in_features = n_inputs
        for index, size in enumerate(sizes):
            self.add_module(f"hidden{index}", make_hidden(in_features, size))
            if dropout > 0:
                self.add_module(f"dropout{index}", nn.Dropout(dropout))
            in_features = size
        self.add_module("output", make_output(in_features, n_outputs))
        self.standardize = bool(standardize)
        if self.standardize:
            self.register_buffer("x_mean", torch.zeros(n_inputs))
            self.register_buffer("x_scale", torch.ones(n_inputs))
            self.register_buffer("y_mean", torch.zeros(n_outputs))
            self.register_buffer("y_scale", torch.ones(n_outputs))
        self.linear_path_mode = _check_linear_path(linear_path)
        if self.linear_path_mode is not None:
            # The last child; forward runs it beside the layers, not after.
            self.linear_path = LinearPath(
                n_inputs, n_outputs, trainable=self.linear_path_mode == "ridge"
            )
            if self.linear_path_mode == "blend":
                self.linear_path.scale.requires_grad_(False)
                # Rows: the layers' weight, the path's, the offset and the
                # slope of each output (see set_blend); the layers alone until
                # the blend is set.
                self.register_buffer("blend", torch.zeros(4, n_outputs))
                self.reset_blend()
            else:
                self.zero_output()

    @torch.no_grad()
    def reset_blend(self) -> None:
        """Make the blend the layers alone (as during training)."""
        self.blend.zero_()
        self.blend[0] = 1.0
        self.blend[3] = 1.0

    @torch.no_grad()
    def set_blend(self, layers_weight, path_weight, offset, slope) -> None:
        """Set the blend of a ``linear_path="blend"`` network: in evaluation
        mode it outputs ``offset + slope * (layers_weight * layers(z) +
        path_weight * path(z))`` (per output, in its standardised units).

        Parameters
        ----------
        layers_weight : array-like of shape (n_outputs,)
            Weight of each output of the layers.
        path_weight : array-like of shape (n_outputs,)
            Weight of each output of the linear path.
        offset : array-like of shape (n_outputs,)
            Offset of each output's calibration.
        slope : array-like of shape (n_outputs,)
            Slope of each output's calibration.
        """
        if self.linear_path_mode != "blend":
            raise ValueError('set_blend needs a network with linear_path="blend".')
        for row, values in enumerate((layers_weight, path_weight, offset, slope)):
            self.blend[row] = torch.as_tensor(
                np.asarray(values, np.float64), dtype=self.blend.dtype
            )

    @torch.no_grad()
    def zero_output(self) -> None:
        """Make the layers' output zero, so that with a linear path the
        network starts at that path: the output TAAF's ``alpha`` and
        ``delta`` (or the output layer's weight and bias) are zeroed. The
        gradients still reach them, and through them the layers below."""
        output = self.output
        taaf = getattr(output, "taaf", None)
        if taaf is not None:
            taaf.alpha.zero_()
            taaf.delta.zero_()
        else:
            output.linear.weight.zero_()
            if output.linear.bias is not None:
                output.linear.bias.zero_()

    def set_linear_path(self, stats, coef) -> None:
        """Set the linear path to a ridge solution, in this network's units.

        Parameters
        ----------
        stats : RidgeStatistics
            The statistics the solution was computed from.
        coef : ndarray of shape (n_inputs, n_outputs)
            The solution in standardised units, from
            :func:`~sktaaf.nn.ridge_gcv` on ``stats``.
        """
        if self.linear_path_mode is None:
            raise ValueError("set_linear_path needs a network with a linear_path.")
        scales = {}
        if self.standardize:
            scales = {
                "x_location": self.x_mean.cpu().double().numpy(),
                "x_scale": self.x_scale.cpu().double().numpy(),
                "y_location": self.y_mean.cpu().double().numpy(),
                "y_scale": self.y_scale.cpu().double().numpy(),
            }
        self.linear_path.set_ridge(stats, coef, **scales)

    @torch.no_grad()
    def set_standardization(self, x_mean, x_scale, y_mean, y_scale) -> None:
        """Set the location and scale of the inputs and the outputs.

        Parameters
        ----------
        x_mean, x_scale : array-like of shape (n_inputs,)
            Per-input location and (positive) scale.
        y_mean, y_scale : array-like of shape (n_outputs,)
            Per-output location and (positive) scale.
        """
        if not self.standardize:
            raise ValueError(
                "set_standardization needs a network built with standardize=True."
            )
        for name, value in zip(
            ("x_mean", "x_scale", "y_mean", "y_scale"),
            (x_mean, x_scale, y_mean, y_scale),
            strict=True,
        ):
            buffer = getattr(self, name)
            buffer.copy_(torch.as_tensor(value, dtype=buffer.dtype).reshape(-1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        standardize = self.standardize and not self.standard_units
        if standardize:
            x = (x - self.x_mean) / self.x_scale
        output = x
        for name, module in self._modules.items():
            if name != "linear_path":
                output = module(output)
        if self.linear_path_mode == "blend":
            # Trained alone (its training and validation passes run in
            # standard units), blended once trained.
            if not (self.training or self.standard_units):
                blend = self.blend
                mixed = blend[0] * output + blend[1] * self.linear_path(x)
                output = blend[2] + blend[3] * mixed
        elif self.linear_path_mode is not None:
            output = output + self.linear_path(x)
        if standardize:
            output = output * self.y_scale + self.y_mean
        return output


class TAAFNetwork(_FeedForward):
    """The TAAF-D-GEX network: TAAF dense blocks, dropout, and a TAAF output.

    Parameters
    ----------
    n_inputs : int
        Number of input features (landmark genes).
    n_outputs : int
        Number of outputs (target genes).
    hidden_layer_sizes : sequence of int, default=(300, 300)
        Number of neurons of each hidden layer.
    activation : str, torch.nn.Module, type or callable, default="sigmoid"
        The inner activation of the hidden TAAFs.
    output_activation : str, torch.nn.Module, type, callable or None, \
            default="sigmoid"
        The inner activation of the output TAAF, or ``None`` for a plain linear
        output layer with bias (no TAAF).
    dropout : float, default=0.25
        Dropout probability after each hidden layer.
    standardize : bool, default=False
        Hold each input's and output's location and scale as buffers and
        work in standardised units inside (see :meth:`set_standardization`).
        Without a linear path, the output TAAF then starts centred: its
        ``delta`` is ``-g(0)`` (-0.5 for the sigmoid; for activations given
        by name), so that the first predictions are near the means.
    linear_path : {"ridge", "fixed", "blend"}, bool or None, default=None
        Add a linear path from the (standardised) inputs to the outputs,
        ``layers(z) + s * (z @ W.T + b)`` (see :class:`LinearPath`), set by
        :meth:`set_linear_path`: ``"ridge"`` (or True) trains ``W`` and
        ``b`` with the layers, ``"fixed"`` keeps them as set; the
        per-output scale ``s`` is trained in both. The layers then start
        with a zero output (:meth:`zero_output`), so that the network
        starts at the linear path. ``"blend"`` keeps the path apart: the
        layers are trained alone (in training mode the network outputs
        them alone), and in evaluation mode the network outputs the blend
        of both that :meth:`set_blend` sets.

    References
    ----------
    .. [1] V. Kunc and J. Kléma, "On transformative adaptive activation functions
       in neural networks for gene expression inference", PLoS ONE 16(1),
       e0243915, 2021.

    Examples
    --------
    The reference example of TAAF-D-GEX, 942 landmarks to 952 targets:

    >>> from sktaaf.nn import TAAFNetwork
    >>> network = TAAFNetwork(942, 952, hidden_layer_sizes=(300, 300))
    >>> sum(p.numel() for p in network.parameters())
    664408
    """

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        hidden_layer_sizes: Sequence[int] = (300, 300),
        activation: ActivationLike = "sigmoid",
        output_activation: ActivationLike | None = "sigmoid",
        dropout: float = 0.25,
        standardize: bool = False,
        linear_path: str | bool | None = None,
    ) -> None:
        def make_output(in_features, out_features):
            if output_activation is None:
                return DenseBlock(in_features, out_features, activation=None)
            return TAAFDenseBlock(in_features, out_features, output_activation)

        super().__init__(
            n_inputs,
            n_outputs,
            hidden_layer_sizes,
            dropout,
            make_hidden=lambda i, o: TAAFDenseBlock(i, o, activation),
            make_output=make_output,
            standardize=standardize,
            linear_path=linear_path,
        )
        if (
            standardize
            and isinstance(output_activation, str)
            and self.linear_path_mode in (None, "blend")
        ):
            # Standardised targets are centred: so is the output at the start
            # (for the named activations; a custom one is not called here).
            taaf = self.output.taaf
            with torch.no_grad():
                # On the CPU: under ``torch.device("meta")`` (shapes only, as
                # load builds it first) a default tensor could not be read.
                zero = torch.zeros(1, device="cpu")
                taaf.delta.fill_(-float(taaf.activation(zero)))


class DGEXNetwork(_FeedForward):
    """The D-GEX network: dense blocks with bias, dropout, and a linear output.

    Parameters
    ----------
    n_inputs : int
        Number of input features (landmark genes).
    n_outputs : int
        Number of outputs (target genes).
    hidden_layer_sizes : sequence of int, default=(3000,)
        Number of neurons of each hidden layer.
    activation : str, torch.nn.Module, type or callable, default="tanh"
        The activation of the hidden layers.
    output_activation : str, torch.nn.Module, type, callable or None, default=None
        The activation of the output layer; ``None`` keeps it linear.
    dropout : float, default=0.1
        Dropout probability after each hidden layer.
    standardize : bool, default=False
        Hold each input's and output's location and scale as buffers and
        work in standardised units inside (see :meth:`set_standardization`).
    linear_path : {"ridge", "fixed", "blend"}, bool or None, default=None
        Add a linear path from the (standardised) inputs to the outputs,
        ``layers(z) + s * (z @ W.T + b)`` (see :class:`LinearPath`), set by
        :meth:`set_linear_path`: ``"ridge"`` (or True) trains ``W`` and
        ``b`` with the layers, ``"fixed"`` keeps them as set; the
        per-output scale ``s`` is trained in both. The layers then start
        with a zero output (:meth:`zero_output`), so that the network
        starts at the linear path. ``"blend"`` keeps the path apart: the
        layers are trained alone (in training mode the network outputs
        them alone), and in evaluation mode the network outputs the blend
        of both that :meth:`set_blend` sets.

    References
    ----------
    .. [1] Y. Chen, Y. Li, R. Narayan, A. Subramanian and X. Xie, "Gene
       expression inference with deep learning", Bioinformatics 32(12),
       1832-1839, 2016.

    Examples
    --------
    The classical counterpart of the TAAF-D-GEX reference example:

    >>> from sktaaf.nn import DGEXNetwork
    >>> network = DGEXNetwork(942, 952, hidden_layer_sizes=(300, 300),
    ...                       activation="sigmoid", dropout=0.25)
    >>> sum(p.numel() for p in network.parameters())
    659752
    """

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        hidden_layer_sizes: Sequence[int] = (3000,),
        activation: ActivationLike = "tanh",
        output_activation: ActivationLike | None = None,
        dropout: float = 0.1,
        standardize: bool = False,
        linear_path: str | bool | None = None,
    ) -> None:
        super().__init__(
            n_inputs,
            n_outputs,
            hidden_layer_sizes,
            dropout,
            make_hidden=lambda i, o: DenseBlock(i, o, activation),
            make_output=lambda i, o: DenseBlock(i, o, output_activation),
            standardize=standardize,
            linear_path=linear_path,
        )
