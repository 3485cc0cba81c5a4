"""The torch modules, independent of any estimator."""

import pickle

import pytest
import torch
from torch import nn

from sktaaf.nn import (
    ACTIVATIONS,
    TAAF,
    DenseBlock,
    DGEXNetwork,
    TAAFDenseBlock,
    TAAFNetwork,
    get_activation,
)


def n_parameters(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def test_reference_parameter_counts():
    # The TAAF-D-GEX reference example: 942 -> 300 -> 300 -> 952.
    taaf = TAAFNetwork(942, 952, (300, 300), "sigmoid", "sigmoid", dropout=0.25)
    classical = DGEXNetwork(942, 952, (300, 300), "sigmoid", None, dropout=0.25)
    assert n_parameters(taaf) == 664_408
    assert n_parameters(classical) == 659_752


def test_taaf_initialisation_is_identity_transform():
    layer = TAAF(5, "tanh")
    torch.testing.assert_close(layer.alpha.data, torch.ones(5))
    torch.testing.assert_close(layer.beta.data, torch.ones(5))
    torch.testing.assert_close(layer.gamma.data, torch.zeros(5))
    torch.testing.assert_close(layer.delta.data, torch.zeros(5))
    x = torch.randn(4, 5)
    torch.testing.assert_close(layer(x), torch.tanh(x))


def test_taaf_formula_per_neuron():
    layer = TAAF(3, "sigmoid")
    with torch.no_grad():
        layer.alpha.copy_(torch.tensor([2.0, -1.0, 0.5]))
        layer.beta.copy_(torch.tensor([0.5, 3.0, 1.0]))
        layer.gamma.copy_(torch.tensor([1.0, 0.0, -2.0]))
        layer.delta.copy_(torch.tensor([0.0, 1.0, 4.0]))
    x = torch.randn(7, 3)
    expected = layer.alpha * torch.sigmoid(layer.beta * x + layer.gamma) + layer.delta
    torch.testing.assert_close(layer(x), expected)


def test_taaf_parameters_receive_gradients():
    layer = TAAF(4)
    layer(torch.randn(8, 4)).sum().backward()
    for name in ("alpha", "beta", "gamma", "delta"):
        assert getattr(layer, name).grad is not None, name


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "identity"])
def test_named_activations(name):
    x = torch.linspace(-3, 3, 11)
    expected = {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "identity": lambda t: t,
    }[name]
    torch.testing.assert_close(TAAF(11, name)(x), expected(x))
    assert name in ACTIVATIONS


def test_user_activations():
    assert isinstance(get_activation(nn.Softsign()), nn.Softsign)
    assert isinstance(get_activation(nn.Softsign), nn.Softsign)
    x = torch.randn(6)
    torch.testing.assert_close(get_activation(torch.sin)(x), torch.sin(x))
    # Module instances are copied: layers never share activation parameters.
    prelu = nn.PReLU()
    network = TAAFNetwork(3, 2, (4, 4), activation=prelu, output_activation=None)
    first, second = network.hidden0.taaf.activation, network.hidden1.taaf.activation
    assert first is not prelu and first.weight is not second.weight


def test_unknown_activation():
    with pytest.raises(ValueError, match="Unknown activation 'swish2'"):
        get_activation("swish2")
    with pytest.raises(TypeError, match="activation must be"):
        get_activation(3)


def test_blocks():
    taaf_block = TAAFDenseBlock(10, 4)
    assert taaf_block.linear.bias is None
    assert n_parameters(taaf_block) == 10 * 4 + 4 * 4
    dense = DenseBlock(10, 4, activation=None)
    assert isinstance(dense.activation, nn.Identity)
    assert n_parameters(dense) == 10 * 4 + 4


def test_network_layout():
    network = TAAFNetwork(8, 3, (6, 5), dropout=0.2)
    names = [name for name, _ in network.named_children()]
    assert names == ["hidden0", "dropout0", "hidden1", "dropout1", "output"]
    assert network(torch.randn(4, 8)).shape == (4, 3)
    assert isinstance(network.output, TAAFDenseBlock)
    # No dropout layers at all when dropout is 0; a linear TAAF-free output.
    plain = TAAFNetwork(8, 3, (6,), dropout=0.0, output_activation=None)
    assert [name for name, _ in plain.named_children()] == ["hidden0", "output"]
    assert plain.output.linear.bias is not None


def test_dgex_network_defaults():
    network = DGEXNetwork(8, 3, (6,))
    assert isinstance(network.hidden0.activation, nn.Tanh)
    assert isinstance(network.output.activation, nn.Identity)
    assert network.dropout0.p == 0.1


def test_glorot_initialisation():
    torch.manual_seed(0)
    linear = TAAFDenseBlock(900, 900).linear
    bound = (6 / (900 + 900)) ** 0.5  # Glorot-uniform, as Keras's Dense
    assert linear.weight.abs().max() <= bound
    assert linear.weight.abs().max() > 0.95 * bound


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(hidden_layer_sizes=()), "at least one hidden layer"),
        (dict(hidden_layer_sizes=(4, 0)), "positive integers"),
        (dict(dropout=1.0), "dropout must be in"),
    ],
)
def test_invalid_architecture(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TAAFNetwork(3, 2, **kwargs)


@pytest.mark.parametrize("network_class", [TAAFNetwork, DGEXNetwork])
def test_networks_pickle(network_class):
    network = network_class(5, 2, (4,))
    clone = pickle.loads(pickle.dumps(network))
    x = torch.randn(3, 5)
    network.eval()
    clone.eval()
    torch.testing.assert_close(network(x), clone(x))
