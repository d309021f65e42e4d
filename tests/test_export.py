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
    assert {module.split(".")[0] for module in imports} - sys.stdlib_module_names == {"numpy", "numba"}, imports
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


def _exported(tmp_path, net, name, view="index"):
    """The module exported from ``net``, imported (nothing compiles until a kernel is called)."""
    import importlib.util
    (path,) = export_module(net, tmp_path / f"{name}.py", view=view)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("view", ["index", "unrolled"])
def test_exported_entry_points_refuse_wrong_arrays_by_name_before_any_kernel_runs(tmp_path, view):
    """A kernel called by address cannot raise: an exported module checks its arguments in
    Python, so a wrong array is one error naming it, never numbers read past an array's end."""
    net = Network.mlp([4, 3, 2], "sigmoid", loss="mse")
    k = _exported(tmp_path, net, f"checked_{view}", view)
    assert k.PARAMETER_SHAPES == {"W1": (4, 3), "b1": (3,), "W2": (3, 2), "b2": (2,)}
    assert (k.INPUT_SHAPE, k.OUTPUTS) == ((4,), 2)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(5, 4)), rng.normal(size=(5, 2))
    params = [rng.normal(size=s) for s in k.PARAMETER_SHAPES.values()]
    W1, b1, W2, b2 = params
    refused = [
        (lambda: k.forward(X, W1.T.copy(), b1, W2, b2), ValueError, r"forward: W1 has shape \(3, 4\); this network's W1 is \(4, 3\)"),
        (lambda: k.forward(X[:, :3].copy(), *params), ValueError, r"forward: a0 has shape \(5, 3\); .* \(samples, 4\)"),
        (lambda: k.forward(X.astype(np.float32), *params), TypeError, "W1 is float64, the inputs are float32"),
        (lambda: k.forward(X.T.copy().T, *params), ValueError, "a0 must be C-contiguous"),
        (lambda: k.forward(X.tolist(), *params), TypeError, "a0 must be a float64 or float32 NumPy array"),
        (lambda: k.loss(X, Y[:4], *params, 0.0, 0.0), ValueError, r"loss: Y has shape \(4, 2\); .* \(5, 2\)"),
        (lambda: k.loss_and_grad(X, Y, *params, *(np.zeros(3) for _ in params), 0.0, 0.0), ValueError,
         r"loss_and_grad: gW1 has shape \(3,\)"),
    ]
    for call, error, message in refused:
        with pytest.raises(error, match=message):
            call()
    out = k.forward(X, *params)  # and right arrays still run
    assert out == pytest.approx(symbackprop.compile(net, warm_up=False).forward(X, _params(net, params)), rel=1e-12)


def _read_only(array):
    array = array.copy()
    array.flags.writeable = False
    return array


def _params(net, arrays):
    params = net.init_params(0)
    for name, array in zip(params, arrays):
        params[name][...] = array
    return params


def test_exported_train_epoch_checks_the_epoch_and_runs_as_symbackprop_does(tmp_path):
    from symbackprop.train.optimizers import Optimizer
    net = Network.mlp([4, 3, 2], "tanh", loss="mse")
    k = _exported(tmp_path, net, "checked_epoch")
    compiled = symbackprop.compile(net, warm_up=False)
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(8, 4)), rng.normal(size=(8, 2))
    order = rng.permutation(8)
    params, grads = net.init_params(2), net.init_params(2)
    adam = Optimizer("adam")
    args = list(compiled._epoch_arguments(X, Y, order, 4, params, grads, adam.kernel_args(params.flat), 0.01))
    names = list(k.train_epoch.__wrapped__.__code__.co_varnames[:len(args)])

    def changed(**change):
        return [change.get(name, value) for name, value in zip(names, args)]
    for call, message in [
        (changed(order=order + 1), "order holds row 8; the rows of X are numbered 0 to 7"),
        (changed(order=order.astype(float)), "order must be a non-empty 1-D integer array"),
        (changed(batch_size=0), "batch_size must be at least 1, got 0"),
        (changed(batch_size=4.0), "batch_size must be an integer, got 4.0"),
        (changed(rule=1.5), "rule must be an integer"),
        (changed(X=_read_only(X)), "X is read-only"),
        (changed(W1=params["W1"].copy()), "W1 must be a view into flat"),
        (changed(gW1=grads.flat[-12:].reshape(4, 3)), "gW1 must lie in gflat where W1 lies in flat"),
        (changed(b1=params.flat[:3], gb1=grads.flat[:3]), "b1 and W1 overlap in flat"),
        (changed(state_2=np.zeros(0)), r"state_2 has shape \(0,\); this network's state_2 is \(23,\): this rule keeps it"),
        (changed(rule=7), "rule 7 is not one of"),
    ]:
        with pytest.raises((ValueError, TypeError), match=message):
            k.train_epoch(*call)
    copy_params, copy_grads = net.init_params(2), net.init_params(2)
    k.train_epoch(*changed(batch_size=99, order=order.astype(np.int32), rule=0))  # one short batch, sgd: allowed
    params.flat[:] = copy_params.flat
    total = k.train_epoch(*args)[0]
    expected = compiled.train_epoch(X, Y, order, 4, copy_params, copy_grads,
                                    Optimizer("adam").kernel_args(copy_params.flat), 0.01)[0]
    assert total == pytest.approx(expected, rel=1e-12)
    assert params.flat == pytest.approx(copy_params.flat, rel=1e-12)


def test_an_exported_image_network_names_the_image_shape_it_needs(tmp_path):
    from symbackprop import Conv2D, Dense, Flatten
    net = Network([Conv2D(1, 2, 3, activation="relu"), Flatten(), Dense(2 * 4 * 4, 3, "softmax")], loss="cce",
                  input_shape=(1, 6, 6))
    k = _exported(tmp_path, net, "checked_conv")
    params = [np.zeros(s) for s in k.PARAMETER_SHAPES.values()]
    with pytest.raises(ValueError, match=r"forward: a0 has shape \(2, 36\); this network's a0 is \(samples, 1, 6, 6\)"):
        k.forward(np.zeros((2, 36)), *params)
