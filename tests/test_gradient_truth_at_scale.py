"""Gradient truth at scale: hundreds of drawn architectures against PyTorch and finite differences.

Slow (every drawn structure compiles its own kernels): run with ``pytest -m slow``;
``.ci/run`` runs it after the default suite.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symbackprop
from symbackprop import Dense, Network

from .conftest import random_problem
from .reference import finite_difference_grad, torch_loss_and_grad
from .test_gradients import HIDDEN, OUTPUTS


@st.composite
def problems(draw):
    depth = draw(st.integers(1, 4), label="hidden layers")
    hidden = [draw(st.sampled_from(HIDDEN), label=f"activation {k + 1}") for k in range(depth)]
    widths = [draw(st.integers(1, 32), label="inputs")]
    widths += [draw(st.integers(2 if act == "softmax" else 1, 32), label=f"width {k + 1}") for k, act in enumerate(hidden)]
    output, loss = draw(st.sampled_from(OUTPUTS), label="output, loss")
    widths.append(draw(st.integers(2 if output == "softmax" else 1, 12), label="outputs"))
    l1 = draw(st.sampled_from([0.0, 0.01]), label="l1")
    l2 = draw(st.sampled_from([0.0, 0.1]), label="l2")
    layers = [Dense(a, b, f) for a, b, f in zip(widths[:-1], widths[1:], hidden + [output])]
    net = Network(layers, loss=loss, l1=l1, l2=l2)
    batch = draw(st.sampled_from([1, 2, 7, 33]), label="batch")
    return net, batch, draw(st.integers(0, 2**20), label="seed")


@pytest.mark.slow
@settings(max_examples=220, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(problem=problems())
def test_gradients_of_drawn_architectures(problem):
    net, batch, seed = problem
    compiled = symbackprop.compile(net, warm_up=False)
    X, Y, params = random_problem(net, batch, seed)
    loss, grads = compiled.loss_and_grad(X, Y, params)
    ref_loss, ref = torch_loss_and_grad(net, X, Y, params)
    assert loss == pytest.approx(ref_loss, rel=1e-10, abs=1e-13)
    scale = max(np.max(np.abs(np.concatenate([ref[k].ravel() for k in params]))), 1e-12)
    for name in params:
        assert np.max(np.abs(grads[name] - ref[name])) / scale < 1e-9, name
    if net.n_params <= 400:  # central differences cost two loss calls per parameter
        numeric = finite_difference_grad(lambda: compiled.loss(X, Y, params), params)
        assert np.max(np.abs(grads.flat - numeric)) / max(np.max(np.abs(numeric)), 1e-8) < 1e-6
