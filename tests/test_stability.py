"""Numerically stable kernels: no NaN or inf for extreme logits, where the math is finite."""
from __future__ import annotations

import math

import numpy as np
import pytest

import symbackprop
from symbackprop import Dense, Network

from .reference import torch_loss_and_grad


def _single_layer(activation, loss, n_out):
    return Network([Dense(2, n_out, activation)], loss=loss)


def _params_with_logits(net, logits):
    """Parameters that make the output layer's z equal ``logits`` for input x = (1, 0)."""
    params = net.init_params(0)
    params["W1"][...] = 0.0
    params["W1"][0, :] = logits
    return params


@pytest.mark.parametrize("scale", [1e3, -1e3])
def test_softmax_cross_entropy_extreme_logits(scale):
    net = _single_layer("softmax", "cce", 3)
    compiled = symbackprop.compile(net, warm_up=False)
    params = _params_with_logits(net, np.array([scale, 0.0, -scale]))
    X = np.array([[1.0, 0.0], [1.0, 0.0]])
    Y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    loss, grads = compiled.loss_and_grad(X, Y, params)
    assert np.isfinite(loss) and np.all(np.isfinite(grads.flat))
    ref_loss, ref = torch_loss_and_grad(net, X, Y, params)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    np.testing.assert_allclose(grads["W1"], ref["W1"], rtol=1e-12, atol=1e-15)
    assert np.all(np.isfinite(compiled.forward(X, params)))


@pytest.mark.parametrize("logit", [1e3, -1e3, 40.0, -40.0])
@pytest.mark.parametrize("target", [0.0, 1.0])
def test_sigmoid_binary_cross_entropy_extreme_logits(logit, target):
    net = _single_layer("sigmoid", "bce", 1)
    compiled = symbackprop.compile(net, warm_up=False)
    params = _params_with_logits(net, np.array([logit]))
    X, Y = np.array([[1.0, 0.0]]), np.array([[target]])
    loss, grads = compiled.loss_and_grad(X, Y, params)
    assert np.isfinite(loss) and np.all(np.isfinite(grads.flat))
    ref_loss, ref = torch_loss_and_grad(net, X, Y, params)
    # torch rounds log(1 + e^-40) to 0; the exact value is log1p(e^-40) = 4.2e-18
    assert loss == pytest.approx(ref_loss, rel=1e-12, abs=1e-15)
    exact = max(logit, 0) - logit * target + math.log1p(math.exp(-abs(logit)))
    assert loss == pytest.approx(exact, rel=1e-12)
    np.testing.assert_allclose(grads["W1"], ref["W1"], rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("hidden", ["sigmoid", "tanh", "softmax"])
def test_saturated_hidden_layers_stay_finite(hidden):
    net = Network([Dense(3, 4, hidden), Dense(4, 3, "softmax")], loss="cce")
    compiled = symbackprop.compile(net, warm_up=False)
    params = net.init_params(1)
    params["W1"][...] *= 1e3  # hidden z of order 1e3
    X = np.random.default_rng(0).normal(size=(5, 3))
    Y = np.eye(3)[[0, 1, 2, 0, 1]]
    loss, grads = compiled.loss_and_grad(X, Y, params)
    assert np.isfinite(loss) and np.all(np.isfinite(grads.flat))


def test_relu_derivative_at_zero_is_zero():
    """The documented convention: relu'(0) = 0, as in PyTorch."""
    net = Network([Dense(1, 1, "relu")], loss="mse")
    compiled = symbackprop.compile(net, warm_up=False)
    params = net.init_params(0)
    params["W1"][...] = 1.0
    params["b1"][...] = 0.0
    _, grads = compiled.loss_and_grad(np.array([[0.0]]), np.array([[1.0]]), params)
    assert grads["b1"][0] == 0.0
