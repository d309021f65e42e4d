"""Vanishing and exploding gradients: the contrast the docs and `symbackprop gradient-flow` show."""
from __future__ import annotations

import numpy as np
import pytest

import symbackprop
from symbackprop import Network
from symbackprop.cli import main
from symbackprop.explain.gradient_flow import default_setups, gradient_flow, plot_gradient_flow
from symbackprop.train import fit, load_xor
from symbackprop.train.monitor import layer_gradient_norms


@pytest.fixture(scope="module")
def flow():
    return gradient_flow(depth=8, width=32, epochs=2, lr=0.1)


def test_deep_sigmoid_vanishes_and_relu_he_stays_level(flow):
    sigmoid, relu = flow.run("sigmoid + Xavier"), flow.run("ReLU + He")
    assert flow.sizes == [64] + [32] * 7 + [10]
    # the criteria: ≥ 100× smaller first-layer gradient with sigmoid, within 10× with ReLU + He
    assert sigmoid.initial_ratio <= 1e-2
    assert relu.initial_spread <= 10
    # the sigmoid norms shrink monotonically towards the input
    assert np.all(np.diff(sigmoid.grad_norms[0]) > 0)


def test_clipping_rescues_the_exploding_run_and_not_the_vanishing_one(flow):
    exploding, clipped = flow.run("ReLU + 2×He (exploding)"), flow.run("ReLU + 2×He, clip 1")
    assert exploding.diverged_at == 1 and exploding.train_loss == []
    assert clipped.diverged_at is None and np.isfinite(clipped.train_loss).all()
    assert clipped.grad_norms.shape == (3, 8)  # before training and after each of 2 epochs
    assert exploding.grad_norms[0].min() > 50 * flow.run("ReLU + He").grad_norms[0].max()
    sigmoid, sigmoid_clipped = flow.run("sigmoid + Xavier"), flow.run("sigmoid + Xavier, clip 1")
    assert sigmoid_clipped.initial_ratio == sigmoid.initial_ratio
    assert "diverged in epoch 1" in flow.table()


def test_plot(flow, tmp_path):
    pytest.importorskip("matplotlib")
    plot_gradient_flow(flow, tmp_path / "flow.png")
    assert (tmp_path / "flow.png").read_bytes().startswith(b"\x89PNG")


def test_fit_records_layer_norms_of_the_same_gradient_the_kernel_returns():
    data = load_xor(seed=0)
    net = Network.mlp([2, 4, 4, 1], "tanh", loss="bce")
    compiled = symbackprop.compile(net, warm_up=False)
    params = net.init_params(0)
    before = layer_gradient_norms(compiled, params, data.X_train, data.y_train)
    _, grads = compiled.loss_and_grad(data.X_train, data.y_train, params)
    assert before == pytest.approx([np.sqrt((grads[f"W{l}"] ** 2).sum()) for l in (1, 2, 3)], rel=1e-12)
    history = fit(compiled, params, data.X_train, data.y_train, epochs=3, lr=0.5, batch_size=2,
                  monitor_gradients=True)
    assert history.grad_norms.shape == (4, 3)
    assert history.initial_grad_norms == pytest.approx(before)  # fewer rows than the monitor's sample: all of them
    assert all(len(e.grad_norms) == 3 for e in history.epochs)
    plain = fit(compiled, net.init_params(0), data.X_train, data.y_train, epochs=1, lr=0.5, batch_size=2)
    assert plain.epochs[0].grad_norms is None and plain.grad_norms.size == 0


def test_setups_pair_each_initialisation_with_clipping():
    setups = default_setups(0.5)
    assert [s.clip_norm for s in setups] == [None, 0.5] * 3
    assert {s.activation for s in setups} == {"sigmoid", "relu"}


def test_cli_prints_the_contrast(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png = tmp_path / "flow.png"
    assert main(["gradient-flow", "--epochs", "1", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "‖∂L/∂W1‖" in out and "ReLU + 2×He, clip 1" in out
    summary = next(line for line in out.splitlines() if line.startswith("before training"))
    smaller = float(summary.split("layer's gradient is ")[1].split("×")[0].replace(",", ""))
    assert smaller >= 100
    assert png.exists()
