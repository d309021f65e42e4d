"""A new activation in one file: GELU, ``z · Φ(z) = z (1 + erf(z / √2)) / 2``.

An activation is one record: its SymPy definition.  Registering it makes it a choice of
every layer, checkpoint and the command line; the derivation differentiates it (SymPy
writes Φ's density, ``exp(-z²/2)/√(2π)``, into the derivative), the printer prints
``erf`` as ``math.erf``, and PyTorch's ``gelu`` checks the result.
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symbackprop
from symbackprop import Activation, Conv2D, Dense, Flatten, Network, register_activation
from symbackprop.model import ACTIVATIONS
from symbackprop.train import fit, load_digits

from .reference import torch_loss_and_grad

GELU = Activation("gelu", scalar=lambda u: u * (1 + sp.erf(u / sp.sqrt(2))) / 2)


@pytest.fixture(autouse=True, scope="module")
def registered():
    """``register_activation(GELU)`` for this module's tests only (the rest of the suite sees
    the built-in activations alone)."""
    register_activation(GELU)
    yield
    ACTIVATIONS.unregister(GELU.name)


def torch_gelu(z):
    import torch
    return torch.nn.functional.gelu(z)


def _network(kind: str) -> Network:
    if kind == "dense":
        return Network([Dense(5, 7, "gelu"), Dense(7, 3, "softmax")], loss="cce")
    return Network([Conv2D(1, 2, 3, padding="same", activation="gelu"), Flatten(), Dense(32, 2, "sigmoid")],
                   loss="bce", input_shape=(1, 4, 4))


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_gradients_match_pytorch(kind, tmp_path):
    net = _network(kind)
    compiled = symbackprop.compile(net, cache_dir=tmp_path, warm_up=False)
    rng = np.random.default_rng(0)
    params = net.init_params(2)
    X = rng.normal(size=(6, net.n_inputs))
    Y = np.eye(net.n_outputs)[rng.integers(0, net.n_outputs, 6)] if net.n_outputs > 1 else rng.uniform(size=(6, 1))
    loss, grads = compiled.loss_and_grad(X, Y, params)
    ref_loss, ref = torch_loss_and_grad(net, X, Y, params, activations={"gelu": torch_gelu})
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    for name in params:
        np.testing.assert_allclose(grads[name], ref[name], rtol=1e-9, atol=1e-12, err_msg=name)


def test_it_is_a_choice_everywhere_and_trains(tmp_path):
    from symbackprop.model.architecture import build_network
    assert "gelu" in ACTIVATIONS.names()
    net = build_network("dense:32:gelu", (64,), 10)
    assert net.layers[0].activation == "gelu" and Network.from_spec(net.spec()).layers[0] == net.layers[0]
    data = load_digits(seed=0)
    params = net.init_params(0)
    history = fit(symbackprop.compile(net, cache_dir=tmp_path), params, data.X_train, data.y_train, epochs=10,
                  lr=0.1, batch_size=32, optimizer="momentum", X_val=data.X_val, y_val=data.y_val)
    assert history.val_accuracy[-1] > 0.9
