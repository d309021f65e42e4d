"""A new loss in one file: log-cosh, ``mean_k log(cosh(a_k − y_k))``, a smooth Huber.

A loss is one record: its per-sample SymPy expression in the outputs ``a`` and targets
``y`` (averaged over the batch, as MSE is), with the facts the other stages check: the
output activations it fits (any), the one a network built for it gets (identity), its
target range (none) and its task (regression).  The chain rule derives its output error,
``sinh(a − y) / cosh(a − y) / (m B)`` = ``tanh(a − y) / (m B)``; PyTorch's autograd checks it.
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symbackprop
from symbackprop import Dense, Loss, Network, register_loss
from symbackprop.model import LOSSES
from symbackprop.model.notation import summed
from symbackprop.train import fit


def _log_cosh(a, y, n, width):
    k = sp.Dummy("k", integer=True)
    return summed(sp.log(sp.cosh(a[n, k] - y[n, k])), (k, width)) / width


LOG_COSH = Loss("logcosh", long_name="log-cosh error", per_sample=_log_cosh)


@pytest.fixture(autouse=True, scope="module")
def registered():
    """``register_loss(LOG_COSH)`` for this module's tests only (the rest of the suite sees the
    built-in losses alone)."""
    register_loss(LOG_COSH, aliases=("log_cosh",))
    yield
    LOSSES.unregister(LOG_COSH.name)


def torch_log_cosh(a, y):
    import torch
    return torch.log(torch.cosh(a - y)).mean()


def _net(l2=0.0) -> Network:
    return Network.mlp([3, 8, 2], "tanh", loss="log_cosh", l2=l2)


@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_gradients_match_pytorch(l2, tmp_path):
    from .reference import torch_loss_and_grad
    net = _net(l2)
    assert net.layers[-1].activation == "identity"  # the loss's own default output
    compiled = symbackprop.compile(net, cache_dir=tmp_path, warm_up=False)
    rng = np.random.default_rng(0)
    params = net.init_params(0)
    X, Y = rng.normal(size=(7, 3)), rng.normal(size=(7, 2)) * 3
    loss, grads = compiled.loss_and_grad(X, Y, params)
    ref_loss, ref = torch_loss_and_grad(net, X, Y, params, losses={"logcosh": torch_log_cosh})
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    for name in params:
        np.testing.assert_allclose(grads[name], ref[name], rtol=1e-9, atol=1e-12, err_msg=name)


def test_the_output_error_is_tanh_of_the_residual():
    from symbackprop.model.notation import B, Y, j, n
    d2 = symbackprop.derivation(_net()).layers[-1].delta
    a2, m2 = sp.IndexedBase("a2"), sp.Symbol("m2", integer=True, positive=True)
    assert sp.simplify((d2.expr - sp.tanh(a2[n, j] - Y[n, j]) / (B * m2)).rewrite(sp.exp)) == 0


def test_it_trains_a_regression(tmp_path):
    net = _net()
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(256, 3))
    Y = np.stack([np.sin(2 * X[:, 0]) + X[:, 1], X[:, 2] ** 2], axis=1)
    compiled = symbackprop.compile(net, cache_dir=tmp_path)
    params = net.init_params(0)
    before = compiled.loss(X, Y, params)
    history = fit(compiled, params, X, Y, epochs=40, lr=0.1, batch_size=16, optimizer="momentum")
    assert history.train_loss[-1] < before / 10
