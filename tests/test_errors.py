"""Bad input gets a named, readable error before any kernel runs."""
from __future__ import annotations

import numpy as np
import pytest

import symbackprop
from symbackprop import (ArchitectureError, DataError, Dense, LossMismatchError, Network, SymbackpropError,
                         TrainingError, UnknownActivationError, UnknownLossError)
from symbackprop.cli import main


def test_layer_sizes_must_chain():
    with pytest.raises(ArchitectureError, match="layer 1 outputs 5 values but layer 2 expects 4 inputs"):
        Network([Dense(3, 5, "tanh"), Dense(4, 2, "softmax")], loss="cce")


def test_unknown_activation_lists_the_choices():
    with pytest.raises(UnknownActivationError, match="unknown activation 'swish'; choose one of: identity"):
        Dense(3, 4, "swish")


def test_unknown_loss_lists_the_choices():
    with pytest.raises(UnknownLossError, match="unknown loss 'hinge'; choose one of: mse, bce, cce"):
        Network([Dense(3, 4, "sigmoid")], loss="hinge")


@pytest.mark.parametrize("output,loss", [("tanh", "bce"), ("identity", "bce"), ("sigmoid", "cce"), ("relu", "cce")])
def test_loss_must_fit_output_layer(output, loss):
    with pytest.raises(LossMismatchError, match=f"does not fit an output layer with activation '{output}'"):
        Network([Dense(3, 2, output)], loss=loss)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_layer_widths_must_be_positive_integers(bad):
    with pytest.raises(ArchitectureError, match="must be a positive integer"):
        Dense(bad, 3)


def test_every_error_is_a_symbackprop_error():
    for cls in (ArchitectureError, DataError, LossMismatchError, TrainingError, UnknownActivationError,
                UnknownLossError):
        assert issubclass(cls, SymbackpropError)


@pytest.fixture(scope="module")
def compiled():
    net = Network([Dense(3, 4, "tanh"), Dense(4, 2, "softmax")], loss="cce")
    return symbackprop.compile(net, warm_up=False)


def _calls(compiled):
    params = compiled.network.init_params(0)
    return [lambda X, Y: compiled.loss_and_grad(X, Y, params), lambda X, Y: compiled.loss(X, Y, params)]


@pytest.mark.parametrize("X,Y,message", [
    (np.zeros((4, 5)), np.zeros((4, 2)), "X has 5 features per sample but the network expects 3"),
    (np.zeros((4, 3)), np.zeros((4, 3)), "Y has 3 targets per sample but the network has 2 outputs"),
    (np.zeros((4, 3)), np.zeros((5, 2)), "X has 4 samples but Y has 5"),
    (np.zeros(3), np.zeros((1, 2)), r"X must be 2-D \(samples × features\), got shape \(3,\)"),
    (np.zeros((0, 3)), np.zeros((0, 2)), "X is empty"),
    (np.array([[1.0, np.nan, 0.0]]), np.array([[1.0, 0.0]]), "X contains 1 non-finite value.*NaN at sample 0, column 1"),
    (np.array([[1.0, 0.0, 0.0]]), np.array([[np.inf, 0.0]]), "Y contains 1 non-finite value.*inf at sample 0, column 0"),
    (np.array([["a", "b", "c"]]), np.array([[1.0, 0.0]]), "X must hold numbers"),
    (np.zeros((2, 3)), np.array([0, 2]), "class label 2 is out of range for 2 classes"),
    (np.zeros((1, 3)), np.array([[2.0, -1.0]]), r"categorical cross-entropy needs targets in \[0, 1\]"),
])
def test_bad_data_is_named(compiled, X, Y, message):
    for call in _calls(compiled):
        with pytest.raises(DataError, match=message):
            call(X, Y)


def test_integer_labels_are_one_hot_encoded(compiled):
    params = compiled.network.init_params(0)
    X = np.random.default_rng(0).normal(size=(3, 3))
    assert compiled.loss(X, np.array([0, 1, 1]), params) == compiled.loss(X, np.eye(2)[[0, 1, 1]], params)


@pytest.mark.parametrize("settings,message", [
    ({"lr": -0.1}, "learning rate must be a positive number"),
    ({"lr": float("nan")}, "learning rate must be a positive number"),
    ({"batch_size": 0}, "batch size must be a positive integer"),
    ({"batch_size": 100}, "batch size 100 is larger than the 6 training samples"),
    ({"epochs": 0}, "epochs must be a positive integer"),
])
def test_bad_training_settings_are_named(compiled, settings, message):
    from symbackprop.train import train_sgd
    params = compiled.network.init_params(0)
    X = np.random.default_rng(0).normal(size=(6, 3))
    with pytest.raises(TrainingError, match=message):
        train_sgd(compiled, params, X, np.array([0, 1] * 3), **settings)


def test_divergence_names_the_epoch_and_batch(compiled):
    from symbackprop.train import train_sgd
    net = Network([Dense(3, 1, "identity")], loss="mse")
    c = symbackprop.compile(net, warm_up=False)
    params = net.init_params(0)
    X = np.random.default_rng(0).normal(size=(8, 3)) * 1e3
    with pytest.raises(TrainingError, match=r"training diverged at epoch \d+, batch \d+"):
        train_sgd(c, params, X, X[:, :1] * 7, lr=10.0, batch_size=4, epochs=50)


def test_cli_prints_one_line_and_exits_nonzero(capsys):
    assert main(["train", "--activation", "swish", "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["symbackprop: error: unknown activation 'swish'; choose one of: identity, sigmoid, tanh, "
                   "relu, leaky_relu, softmax; or define one as NAME=FORMULA in z, e.g. swish=z/(1+exp(-z))"]
    assert main(["train", "--loss", "bce", "--output", "softmax", "--epochs", "1"]) == 2
    assert "does not fit an output layer" in capsys.readouterr().err


def test_parameters_of_another_network_are_refused_before_any_kernel_runs(compiled):
    from symbackprop.train import fit
    other = Network.mlp([3, 5, 2], "tanh").init_params(0)
    X = np.random.default_rng(0).normal(size=(6, 3))
    for call in (lambda: compiled.loss_and_grad(X, np.array([0, 1] * 3), other),
                 lambda: fit(compiled, other, X, np.array([0, 1] * 3), epochs=1, batch_size=2)):
        with pytest.raises(ArchitectureError, match="parameters have shapes"):
            call()
