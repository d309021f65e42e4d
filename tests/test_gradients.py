"""Gradients from the generated kernels against truth we did not write.

Every activation × every loss that fits it, on networks with 1 to 3 hidden layers:
PyTorch autograd (relative 1e-9) and central finite differences (relative 1e-6).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symbackprop
from symbackprop import Dense, Network
from symbackprop.model import ACTIVATIONS, LOSSES

from .conftest import random_problem
from .reference import finite_difference_grad, torch_loss_and_grad

HIDDEN = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax"]
# (output activation, loss) pairs that fit
OUTPUTS = [("identity", "mse"), ("sigmoid", "mse"), ("tanh", "mse"), ("relu", "mse"), ("leaky_relu", "mse"),
           ("softmax", "mse"), ("sigmoid", "bce"), ("softmax", "cce")]


def _net(widths, hidden, output, loss):
    acts = [hidden] * (len(widths) - 2) + [output]
    return Network([Dense(a, b, f) for a, b, f in zip(widths[:-1], widths[1:], acts)], loss=loss)


def _relative(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12)


def _check_against_references(net, batch=5, seed=0, fd=True):
    compiled = symbackprop.compile(net, warm_up=False)  # compiles the kernels it calls, on first call
    X, Y, params = random_problem(net, batch, seed)
    loss, grads = compiled.loss_and_grad(X, Y, params)
    ref_loss, ref_grads = torch_loss_and_grad(net, X, Y, params)
    assert loss == pytest.approx(ref_loss, rel=1e-12, abs=1e-14)
    for name in params:
        assert _relative(grads[name], ref_grads[name]) < 1e-9, name
    if fd:
        numeric = finite_difference_grad(lambda: compiled.loss(X, Y, params), params)
        assert _relative(grads.flat, numeric) < 1e-6


def test_every_activation_and_loss_is_covered():
    assert set(HIDDEN) == set(ACTIVATIONS)
    assert {loss for _, loss in OUTPUTS} == set(LOSSES)


@pytest.mark.parametrize("output,loss", OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_one_hidden_layer(hidden, output, loss):
    _check_against_references(_net([4, 5, 3 if output == "softmax" or loss != "bce" else 2], hidden, output, loss))


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("depth", [2, 3])
def test_deeper_networks(hidden, depth):
    output, loss = {"sigmoid": ("sigmoid", "bce"), "tanh": ("identity", "mse")}.get(hidden, ("softmax", "cce"))
    _check_against_references(_net([3] + [4] * depth + [3], hidden, output, loss), batch=4, seed=depth)


def test_wide_and_narrow_layers_take_both_paths_of_the_transposed_product():
    """``g = d · Wᵀ`` copies ``Wᵀ`` for a weight with at most 16 columns and uses BLAS's
    transposed product above that: W2 (20 x 24) takes one path, W3 (24 x 3) the other."""
    src = symbackprop.compile(_net([5, 20, 24, 3], "tanh", "softmax", "cce"), warm_up=False).source()
    assert "if W2.shape[1] <= 16:" in src and "if W3.shape[1] <= 16:" in src
    _check_against_references(_net([5, 20, 24, 3], "tanh", "softmax", "cce"), batch=6)


def test_unrolled_kernels_match_index_kernels():
    for hidden, output, loss in [("tanh", "softmax", "cce"), ("sigmoid", "sigmoid", "bce"), ("relu", "identity", "mse"),
                                 ("softmax", "tanh", "mse")]:
        net = _net([3, 4, 3, 3], hidden, output, loss)
        index, unrolled = symbackprop.compile(net, view="index", warm_up=False), symbackprop.compile(net, view="unrolled", warm_up=False)
        X, Y, params = random_problem(net, 6, seed=3)
        l1, g1 = index.loss_and_grad(X, Y, params)
        l2, g2 = unrolled.loss_and_grad(X, Y, params)
        assert abs(l1 - l2) <= 1e-12 * max(1.0, abs(l1))
        assert np.max(np.abs(g1.flat - g2.flat)) <= 1e-12
        assert np.max(np.abs(index.forward(X, params) - unrolled.forward(X, params))) <= 1e-12


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_architectures(data):
    depth = data.draw(st.integers(1, 3), label="hidden layers")
    widths = [data.draw(st.integers(1, 6), label="inputs")]
    hidden = data.draw(st.sampled_from(HIDDEN), label="hidden activation")
    widths += [data.draw(st.integers(2 if hidden == "softmax" else 1, 6)) for _ in range(depth)]
    output, loss = data.draw(st.sampled_from(OUTPUTS), label="output")
    widths.append(data.draw(st.integers(2 if output == "softmax" else 1, 5), label="outputs"))
    batch = data.draw(st.integers(1, 6), label="batch")
    seed = data.draw(st.integers(0, 2**16), label="seed")
    _check_against_references(_net(widths, hidden, output, loss), batch=batch, seed=seed, fd=False)
