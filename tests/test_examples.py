"""The examples a new user runs first must run, and do what their docstrings say."""
from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, *argv: str) -> None:
    old = sys.argv
    sys.argv = [name, *argv]
    try:
        runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    finally:
        sys.argv = old


def test_xor_explains_a_step_and_learns(capsys):
    run_example("xor.py")
    out = capsys.readouterr().out
    assert "∂L/∂W1_0_1 = d1_1*x0" in out
    assert "3. The chain rule for W¹₁,₁ (W1[1,1])" in out
    outputs = [float(v) for v in out.rsplit("outputs [", 1)[1].split("]")[0].split()]
    assert outputs[0] < 0.1 and outputs[1] > 0.9 and outputs[2] > 0.9 and outputs[3] < 0.1


def test_breast_cancer_classifier(capsys):
    run_example("breast_cancer.py")
    out = capsys.readouterr().out
    assert float(out.rsplit("held-out test accuracy: ", 1)[1].split()[0]) >= 0.95


def test_digits_classifier(capsys):
    run_example("digits.py")
    out = capsys.readouterr().out
    assert float(out.rsplit("held-out test accuracy: ", 1)[1].split()[0]) >= 0.95


def test_vanishing_gradients_contrast(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    run_example("vanishing_gradients.py", "--epochs", "1", "--plot", str(tmp_path / "flow.png"))
    out = capsys.readouterr().out
    ratio = float(out.split("first layer's gradient / last layer's = ")[1].split()[0])
    spread = float(out.split("largest / smallest layer gradient = ")[1].split()[0])
    assert ratio <= 1e-2 and spread <= 10
    assert (tmp_path / "flow.png").exists()
