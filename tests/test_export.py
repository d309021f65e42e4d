"""`symbackprop export`: a standalone kernel file that runs where SymPy and symbackprop are absent."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import symbackprop
from symbackprop import Network
from symbackprop.cli import main
from symbackprop.codegen.export import export_module
from symbackprop.errors import SymbackpropError

#: run in a fresh interpreter in which importing sympy or symbackprop fails, as if not installed
STANDALONE = """
import importlib.abc, json, sys
class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("sympy", "symbackprop"):
            raise ModuleNotFoundError(f"No module named {name!r}")
sys.meta_path.insert(0, NotInstalled())
import numpy as np
import model_kernels as k
weights = np.load("model_kernels_weights.npz")
names = [n for n in weights.files if not n.startswith("input_")]
params = [weights[n] for n in names]
X = np.load("inputs.npy")
Y = np.load("targets.npy")
out = k.forward(X, *params)
grads = [np.zeros_like(p) for p in params]
loss = k.loss_and_grad(X, Y, *params, *grads, 0.0, 0.0)
print(json.dumps({"out": out.tolist(), "loss": loss, "grads": [g.ravel().tolist() for g in grads],
                  "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("sympy", "symbackprop"))}))
"""


def test_exported_module_runs_without_sympy_or_symbackprop(tmp_path):
    net = Network.mlp([5, 4, 3], "tanh", loss="cce")
    params = net.init_params(3)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(6, 5)), np.eye(3)[rng.integers(0, 3, 6)]
    written = export_module(net, tmp_path / "model_kernels.py", params=params)
    assert [p.name for p in written] == ["model_kernels.py", "model_kernels_weights.npz"]
    np.save(tmp_path / "inputs.npy", X)
    np.save(tmp_path / "targets.npy", Y)
    result = subprocess.run([sys.executable, "-c", STANDALONE], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert got["modules"] == []
    compiled = symbackprop.compile(net, warm_up=False)
    assert np.array(got["out"]) == pytest.approx(compiled.forward(X, params), rel=1e-12)
    loss, grads = compiled.loss_and_grad(X, Y, params)
    assert got["loss"] == pytest.approx(loss, rel=1e-12)
    assert np.concatenate(got["grads"]) == pytest.approx(grads.flat, rel=1e-12, abs=1e-15)


def test_header_lists_parameters_entry_points_and_formulas(tmp_path):
    net = Network.mlp([3, 2, 1], "sigmoid", loss="bce", l2=0.5)
    (path,) = export_module(net, tmp_path / "tiny.py")
    text = path.read_text()
    doc = text.split('"""')[1]
    assert "needs only NumPy and Numba" in doc
    assert "W1: (3, 2)" in doc and "b2: (1,)" in doc
    for entry in ("forward(a0, W1, b1, W2, b2)", "loss_and_grad(", "train_epoch(", "evaluate("):
        assert entry in doc
    assert "d2[n, j] =" in doc and "gW1[i, j] =" in doc  # the formulas it implements
    assert "this model: 0, 0.5" in doc
    imports = [line.split()[1] for line in text.splitlines() if line.strip().startswith(("import ", "from "))]
    assert {module.split(".")[0] for module in imports} == {"math", "numpy", "numba", "warnings"}, imports
    assert "def update(" in text and "def _matmul(" in text  # the shared kernels, copied in


def test_cli_exports_a_trained_checkpoint(tmp_path, capsys):
    ckpt = tmp_path / "xor.npz"
    assert main(["train", "--dataset", "xor", "--hidden", "4", "--activation", "tanh", "--epochs", "3",
                 "--batch-size", "2", "--save", str(ckpt), "--no-progress", "--normalize", "minmax"]) == 0
    out = tmp_path / "xor_kernels.py"
    assert main(["export", str(ckpt), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "xor_kernels_weights.npz" in printed
    weights = np.load(tmp_path / "xor_kernels_weights.npz")
    assert {"W1", "b1", "W2", "b2", "input_shift", "input_scale"} <= set(weights.files)
    assert "input_shift" in out.read_text()


def test_export_errors_name_the_problem(tmp_path, capsys):
    assert main(["export", "-o", str(tmp_path / "k.py")]) == 2
    assert "export needs a checkpoint" in capsys.readouterr().err
    with pytest.raises(SymbackpropError, match="cannot be imported"):
        export_module(Network.mlp([2, 1], loss="mse"), tmp_path / "my-kernels.py")
    with pytest.raises(SymbackpropError, match=r"must be a \.py file"):
        export_module(Network.mlp([2, 1], loss="mse"), tmp_path / "kernels.txt")
