"""The fused ``train_epoch`` kernel against a step-by-step loop, and the float32 option.

The reference loop is the unfused one: the generated ``loss_and_grad`` kernel, clipping
and :meth:`Optimizer.step` called from Python once per batch.  The fused kernel must give
the same weights, optimizer state and reported loss for every optimizer, with clipping
and a short last batch.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import symbackprop
from symbackprop import Network, TrainingError
from symbackprop.codegen.export import export_source
from symbackprop.train import Optimizer, fit
from symbackprop.train.data import load_digits
from symbackprop.train.loop import accuracy
from symbackprop.train.optimizers import clip_by_norm, clip_by_value

from .conftest import random_problem

ROOT = Path(__file__).resolve().parent.parent


def step_by_step(compiled, params, X, Y, orders, batch_size, opt, lr, clip_value=None, clip_norm=None):
    grads = params.zeros_like()
    losses = []
    for order in orders:
        total = 0.0
        for first in range(0, len(order), batch_size):
            idx = order[first:first + batch_size]
            loss, _ = compiled.loss_and_grad(X[idx], Y[idx], params, grads)
            if clip_value is not None:
                clip_by_value(grads.flat, clip_value)
            if clip_norm is not None:
                clip_by_norm(grads.flat, clip_norm)
            opt.step(params.flat, grads.flat, lr)
            total += loss * len(idx)
        losses.append(total / len(order))
    return losses


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "rmsprop", "adam"])
@pytest.mark.parametrize("clip", [{}, {"clip_value": 0.05}, {"clip_norm": 0.5}])
def test_fused_epoch_equals_the_step_by_step_loop(optimizer, clip):
    net = Network.mlp([5, 7, 3], "tanh", l2=0.01)
    compiled = symbackprop.compile(net)
    X, Y, start = random_problem(net, 23, seed=3)  # 23 rows, batch 5: the last batch has 3
    lr = 0.01 if optimizer in ("rmsprop", "adam") else 0.1
    fused_params, loop_params = start.copy(), start.copy()
    fused_opt, loop_opt = Optimizer(optimizer), Optimizer(optimizer)
    history = fit(compiled, fused_params, X, Y, epochs=3, lr=lr, batch_size=5, optimizer=fused_opt, seed=11, **clip)
    rng = np.random.default_rng(11)
    orders = [rng.permutation(len(X)) for _ in range(3)]
    losses = step_by_step(compiled, loop_params, X, Y, orders, 5, loop_opt, lr, **clip)
    np.testing.assert_allclose(fused_params.flat, loop_params.flat, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(history.train_loss, losses, rtol=1e-12)
    assert fused_opt.steps == loop_opt.steps == 3 * 5
    for key, value in loop_opt.state.items():
        np.testing.assert_allclose(fused_opt.state[key], value, rtol=1e-12, atol=1e-15)


def test_unrolled_and_index_kernels_train_to_the_same_weights():
    net = Network.mlp([3, 4, 2], "sigmoid")
    X, Y, start = random_problem(net, 10, seed=1)
    results = []
    for view in ("index", "unrolled"):
        params = start.copy()
        fit(symbackprop.compile(net, view=view), params, X, Y, epochs=2, lr=0.5, batch_size=4, optimizer="momentum",
            seed=2)
        results.append(params.flat)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10, atol=1e-13)


def test_divergence_inside_the_fused_epoch_names_the_batch_and_keeps_the_step_count():
    net = Network.mlp([4, 8, 1], "relu", loss="mse")
    X, _, params = random_problem(net, 40)
    Y = np.full((40, 1), 1e200)
    opt = Optimizer("sgd")
    with pytest.raises(TrainingError, match=r"diverged at epoch 1, batch \d+"):
        fit(symbackprop.compile(net), params, X, Y, epochs=1, lr=1.0, batch_size=8, optimizer=opt)
    assert opt.steps < 5


def _imported_modules(source: str) -> set[str]:
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    return imported


def test_cached_module_imports_the_shared_kernels_and_its_standalone_form_copies_them():
    """The cache's module takes the model-independent kernels (compiled once per installation)
    from symbackprop.codegen; the standalone form needs only NumPy, Numba and the standard library."""
    source = symbackprop.compile(Network.mlp([3, 4, 3], "relu")).source()
    cached = _imported_modules(source)
    assert {m for m in cached if m.startswith("symbackprop")} == {"symbackprop.codegen.batch_rows",
                                                                  "symbackprop.codegen.blas_product",
                                                                  "symbackprop.codegen.kernel_files",
                                                                  "symbackprop.codegen.kernel_table",
                                                                  "symbackprop.codegen.update_rules"}
    assert {m.split(".")[0] for m in cached} == {"math", "numpy", "numba", "symbackprop"}
    assert "def train_epoch(" in source and "def update(" not in source
    alone = export_source(Network.mlp([3, 4, 3], "relu"))
    assert {m.split(".")[0] for m in _imported_modules(alone)} - sys.stdlib_module_names == {"numpy", "numba"}
    assert "def update(" in alone and "def _matmul(" in alone and "def train_epoch(" in alone
    assert "class KernelTable:" in alone


def test_float32_training_runs_in_float32_and_tracks_float64():
    data = load_digits(seed=0)
    net = Network.mlp([64, 32, 10], "relu")
    compiled = symbackprop.compile(net)
    results = {}
    for dtype in ("float64", "float32"):
        params = net.init_params(0, dtype=dtype)
        fit(compiled, params, data.X_train, data.y_train, epochs=5, lr=0.05, batch_size=16, optimizer="momentum")
        assert params.flat.dtype == np.dtype(dtype)
        assert compiled.forward(data.X_test, params).dtype == np.dtype(dtype)
        results[dtype] = (params.flat.astype(np.float64), accuracy(compiled, params, data.X_test, data.y_test))
    assert np.max(np.abs(results["float32"][0] - results["float64"][0])) < 1e-3
    assert results["float32"][1] > 0.9 and abs(results["float32"][1] - results["float64"][1]) <= 0.01


def test_unsupported_precision_is_refused_by_name():
    with pytest.raises(Exception, match="unsupported precision 'float16'"):
        Network.mlp([2, 2, 1], "tanh", loss="mse").init_params(0, dtype="float16")


def test_benchmark_script_runs_and_peers_agree_on_the_weights(tmp_path):
    """The benchmark's own correctness check: NumPy and PyTorch end at symbackprop's weights."""
    out = tmp_path / "bench.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "train_step.py"), "--nets", "64-8-10:32", "--epochs", "1",
           "--peers", "numpy", "torch", "--no-compile-times", "--json", str(out)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "symbackprop faster" in run.stdout and "FLOP limit" in run.stdout
    rows = json.loads(out.read_text())["results"][0]["rows"]
    assert [r["impl"] for r in rows] == ["symbackprop", "numpy", "pytorch"]
    for row in rows:
        assert row["max_weight_diff"] < 1e-10
        assert row["accuracy"] == rows[0]["accuracy"]


def test_a_dense_networks_passes_are_kernels_called_by_address():
    """A dense network's forward and backward passes are one kernel each, shared by the entry
    points and called by address from the compiled ones: compiled once, not once per entry
    point (and not one per layer: the layers' short loops are optimized together)."""
    from symbackprop.codegen import ir
    from symbackprop.codegen.index_kernels import index_module
    from symbackprop.derive import derive_index_level
    module = index_module(derive_index_level(Network.mlp([4, 5, 6, 3], "relu")), "test")
    functions = {f.name: f for f in module.functions if isinstance(f, ir.KernelFunction)}
    assert {"forward_pass", "backward_pass"} <= set(functions)
    assert not [name for name in functions if name[-1].isdigit()]
    uses = dict(next(n for n in module.functions if isinstance(n, ir.KernelTableDeclaration)).uses)
    assert uses["_evaluate"] == ("forward_pass",)
    assert uses["_train_epoch"][:2] == ("forward_pass", "backward_pass") and "update" in uses["_train_epoch"]
    for entry in ("forward", "evaluate", "loss_and_grad", "train_epoch"):
        assert functions[f"_{entry}"].decorator and not functions[entry].decorator
    body = [node for node in ir.walk(functions["_loss_and_grad"].body) if isinstance(node, ir.Evaluate)]
    assert [str(node.call.args[0]) for node in body] == ["forward_pass", "backward_pass"]
