"""Training end to end: the README's command reaches the promised accuracy."""
from __future__ import annotations

import re

import numpy as np

import symbackprop
from symbackprop import Network
from symbackprop.cli import main
from symbackprop.train import load_digits, train_sgd


def test_default_train_command_reaches_97_percent_on_digits(capsys):
    assert main(["train"]) == 0
    out = capsys.readouterr().out
    assert "Operation counts per sample" in out
    assert re.search(r"epoch\s+100/100\s+lr [0-9.e-]+\s+loss \d\.\d+\s+val loss \d\.\d+\s+val acc \d\.\d+", out)
    accuracy = float(re.search(r"held-out test accuracy: (\d\.\d+)", out).group(1))
    assert accuracy >= 0.97


def test_same_seed_gives_identical_weights():
    data = load_digits(seed=1)
    net = Network.mlp([64, 16, 10], "tanh")
    compiled = symbackprop.compile(net, warm_up=False)
    finals = []
    for _ in range(2):
        params = net.init_params(7)
        train_sgd(compiled, params, data.X_train, data.y_train, epochs=3, lr=0.1, batch_size=32, seed=7)
        finals.append(params.flat.copy())
    np.testing.assert_array_equal(finals[0], finals[1])


def test_derive_command_prints_formulas_and_counts(capsys):
    assert main(["derive", "--sizes", "2,3,1", "--loss", "bce"]) == 0
    out = capsys.readouterr().out
    delta = next(line for line in out.splitlines() if line.strip().startswith("d2[n, j] ="))
    assert "a2[n, j]" in delta and "Y[n, j]" in delta and "B*m2" in delta  # (a - y)/(B*m), see test_derivation
    assert "naive + CSE" in out and "shared partial derivatives save" in out
