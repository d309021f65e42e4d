"""A new layer kind in one file: an elementwise scale-and-shift ``z = a ⊙ γ + β``.

Everything the pipeline needs from a layer is declared here, in the class: its
parameters and their starting values, its shape, its forward rule for one generic
element, its spec and its ``--arch`` form.  Nothing outside this file knows it: the chain
rule derives its gradients (``∂L/∂γ_j = Σ_n a[n, j] δ[n, j]``, ``∂L/∂a = γ ⊙ δ``), the code
generator compiles them, and PyTorch's autograd checks them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import sympy as sp

import symbackprop
from symbackprop import Dense, Layer, Network, register_layer
from symbackprop.model.layers import LAYERS, ForwardRule, RuleContext
from symbackprop.model.notation import B, i, j, n
from symbackprop.train import fit, load_digits

from .reference import torch_loss_and_grad


@dataclass(frozen=True)
class ScaleShift(Layer):
    """``z[n, j] = a[n, j] · γ[j] + β[j]``: a learned per-feature scale and shift."""

    width: int
    activation: str = "identity"

    kind = "scale_shift"
    arch_form = "scale_shift[:ACTIVATION]"
    takes = "vector"
    meanings = {"z": "each input scaled by its own γ and shifted by its own β",
                "grad_gamma": "scale gradient: input times error, summed over the batch"}

    def param_shapes(self):
        return {"gamma": (self.width,), "beta": (self.width,)}

    def initial_values(self, draw):
        return {"gamma": np.ones(self.width)}  # start as the identity map

    def output_shape(self, shape, where):
        if shape != (self.width,):
            raise symbackprop.ArchitectureError(f"{where} (ScaleShift) expects {self.width} values, gets {shape}")
        return shape

    def forward_rule(self, ctx: RuleContext) -> ForwardRule:
        (width,) = ctx.d_out
        gamma, beta = ctx.parameter("gamma"), ctx.parameter("beta")
        loops = ((n, B), (j, width))
        return ForwardRule(ctx.z[n, j], ctx.a_prev[n, j] * gamma[j] + beta[j], loops, (n, j), loops,
                           params={"gamma": (gamma, (j,), ((j, width),)), "beta": (beta, (j,), ((j, width),))},
                           input_index=(n, i), input_loops=((n, B), (i, width)))

    def spec(self):
        return {"type": self.kind, "width": self.width, "activation": self.activation}

    @classmethod
    def from_spec(cls, spec):
        return cls(spec["width"], spec["activation"])

    @classmethod
    def from_arch(cls, item, settings, shape, activation):
        return cls(shape[0], settings[0] if settings else "identity")


@pytest.fixture(autouse=True, scope="module")
def registered():
    """``register_layer(ScaleShift)`` (usually a decorator) for this module's tests only, so the
    rest of the suite sees the built-in kinds alone."""
    register_layer(ScaleShift)
    yield
    LAYERS.unregister(ScaleShift.kind)


def torch_scale_shift(a, p):
    return a * p["gamma"] + p["beta"]


def _net() -> Network:
    return Network([Dense(64, 16, "tanh"), ScaleShift(16, "relu"), Dense(16, 10, "softmax")], loss="cce")


def test_gradients_match_pytorch(tmp_path):
    net = _net()
    compiled = symbackprop.compile(net, cache_dir=tmp_path, warm_up=False)
    rng = np.random.default_rng(0)
    params = net.init_params(1)
    params["gamma2"][...] = rng.uniform(0.5, 1.5, 16)
    params["beta2"][...] = rng.normal(0, 0.1, 16)
    X, labels = rng.normal(size=(9, 64)), rng.integers(0, 10, 9)
    Y = np.eye(10)[labels]
    loss, grads = compiled.loss_and_grad(X, Y, params)
    ref_loss, ref = torch_loss_and_grad(net, X, Y, params, layers={"scale_shift": torch_scale_shift})
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    for name in params:
        np.testing.assert_allclose(grads[name], ref[name], rtol=1e-9, atol=1e-12, err_msg=name)


def test_the_derived_rules_are_the_textbook_ones():
    rule = symbackprop.derivation(_net()).layers[1]
    a1, d2 = sp.IndexedBase("a1"), sp.IndexedBase("d2")
    assert rule.grad_input.expr == sp.IndexedBase("gamma2")[i] * d2[n, i]  # ∂L/∂a = γ ⊙ δ
    assert rule.grad_W is None and rule.kind.meanings["z"].startswith("each input")
    gamma_grad = symbackprop.derivation(_net()).statements()
    assert any(str(s.target) == "ggamma2[j]" and s.expr == sp.Sum(a1[n, j] * d2[n, j], (n, 0, B - 1))
               for s in gamma_grad)


def test_it_trains_checkpoints_and_reads_from_arch(tmp_path):
    data = load_digits(seed=0)
    net = _net()
    assert net.init_params(0)["gamma2"].tolist() == [1.0] * 16
    compiled = symbackprop.compile(net, cache_dir=tmp_path)
    params = net.init_params(0)
    history = fit(compiled, params, data.X_train, data.y_train, epochs=15, lr=0.1, batch_size=32,
                  optimizer="momentum", X_val=data.X_val, y_val=data.y_val)
    assert history.val_accuracy[-1] > 0.9
    assert Network.from_spec(net.spec()).layers[1] == ScaleShift(16, "relu")  # checkpoints round-trip
    from symbackprop.model.architecture import arch_forms, build_network
    assert "scale_shift[:ACTIVATION]" in arch_forms()
    built = build_network("dense:16,scale_shift:relu", (64,), 10, "tanh")
    assert repr(built) == repr(net)
