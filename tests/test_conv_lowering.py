"""Convolution and max pooling lowered to BLAS products, copies and scatters.

The numbers are checked where every image kernel's are (``test_conv.py``: PyTorch and
central differences on drawn networks with every stride and padding).  Here: that the
rules fire on the derived statements (every convolution of the drawn networks goes
through gemm, not scalar loops), that each layer's passes are one shared function, and
that training with them gives the weights the plain loop nests give.
"""
import numpy as np
import pytest
import sympy as sp
from sklearn.datasets import load_digits

import symbackprop
from symbackprop.codegen import compiled as compiled_module
from symbackprop.codegen import ir, lowering, selection, unfold
from symbackprop.codegen.index_kernels import index_module
from symbackprop.derive import derive_index_level
from symbackprop.model.architecture import build_network
from symbackprop.train import Optimizer

from .test_conv import draw_network


def _function(module, name: str) -> ir.KernelFunction:
    """The compiled function ``name``: an entry point that calls kernels by address is ``_name``."""
    functions = {f.name: f for f in module.functions if isinstance(f, ir.KernelFunction)}
    return functions.get(f"_{name}", functions.get(name))


def _products(function: ir.KernelFunction) -> list[ir.MatMul]:
    return [node for node in ir.walk(function.body) if isinstance(node, ir.MatMul)]


def _depth(nodes, level: int = 0) -> int:
    return max((_depth(node.body, level + 1) if isinstance(node, ir.Loop) else level for node in nodes),
               default=level)


@pytest.mark.parametrize("seed", range(15))
def test_every_convolution_of_the_drawn_networks_is_a_blas_product(seed):
    net = draw_network(seed)
    module = index_module(derive_index_level(net), "test")
    for l, layer in enumerate(net.layers, start=1):
        if type(layer).__name__ != "Conv2D":
            continue
        forward, backward = _function(module, f"forward{l}"), _function(module, f"backward{l}")
        assert len(_products(forward)) == 1, f"layer {l} forward of {net}"
        # kernel gradient (first and later samples), and the input gradient unless l == 1
        assert len(_products(backward)) == (2 if l == 1 else 3), f"layer {l} backward of {net}"
        # no loop nest deeper than the copy into the patch matrix (6: sample, channel, 2 offsets, 2 positions)
        assert _depth(forward.body) <= 6 and _depth(backward.body) <= 6


def test_kernel_gradient_reuses_the_forward_patch_matrix():
    net = build_network("cnn", (1, 8, 8), 10, "relu", "softmax", "cce")
    module = index_module(derive_index_level(net), "test")
    forward, backward = _function(module, "forward3"), _function(module, "backward3")
    copies = [n for n in ir.walk(forward.body) if isinstance(n, ir.Assign) and str(n.target).startswith("patches_")]
    assert len(copies) == 1
    patches = str(copies[0].target.base.label)
    assert patches in backward.arguments
    assert not [n for n in ir.walk(backward.body) if isinstance(n, ir.Assign) and str(n.target).startswith("patches_")]


def test_layers_are_functions_shared_by_the_entry_points():
    net = build_network("cnn", (1, 8, 8), 10, "relu", "softmax", "cce")
    module = index_module(derive_index_level(net), "test")
    names = [f.name for f in module.functions if isinstance(f, ir.KernelFunction)]
    layers = [name for name in names if name.startswith(("forward", "backward")) and name[-1].isdigit()]
    # one forward and one backward function per layer, but Flatten (5): a view, nothing to run
    assert sorted(layers) == sorted([f"forward{l}" for l in (1, 2, 3, 4, 6)] + [f"backward{l}" for l in (1, 2, 3, 4, 6)])

    def called(entry: str) -> list[str]:
        return [str(node.call.args[0]) for node in ir.walk(_function(module, entry).body)
                if isinstance(node, ir.Evaluate) and str(node.call.args[0]) in layers]
    forward = [f"forward{l}" for l in (1, 2, 3, 4, 6)]
    assert called("forward") == called("evaluate") == forward
    assert called("loss_and_grad") == called("train_epoch") == forward + [f"backward{l}" for l in (6, 4, 3, 2, 1)]
    # ... from plain Python entry points: a step is a dozen kernel calls of 0.5 ms or more, and
    # compiling that glue with Numba took longer than any layer; the module's table lists which
    # kernels each calls, so that a cold compile compiles them (with their declared types) first
    table = next(node for node in module.functions if isinstance(node, ir.KernelTableDeclaration))
    uses = dict(table.uses)
    for entry in ("forward", "evaluate", "loss_and_grad", "train_epoch"):
        function = _function(module, entry)
        assert function.name == entry and not function.decorator
        assert set(called(entry)) <= set(uses[entry])
    assert "gather_rows" in uses["train_epoch"] and "batch_loss" in uses["evaluate"]
    # the batch-parallel step (--threads) is compiled and takes them by address
    step = _function(module, "step")
    assert step.decorator and step.arguments[0] == "kernels"
    assert set(uses["step"]) == set(uses["loss_and_grad"])


def test_flatten_is_a_view():
    net = build_network("cnn", (1, 8, 8), 10, "relu", "softmax", "cce")
    function = _function(index_module(derive_index_level(net), "test"), "loss_and_grad")
    views = {str(n.target): n.value for n in function.body if isinstance(n, ir.Assign)
             and isinstance(n.value, ir.Reshaped)}
    assert views["z5"].args[0] == sp.Symbol("a4") and views["g5"].args[0] == sp.Symbol("g4")


def test_max_pooling_reads_its_winner_and_scatters_to_it():
    net = build_network("cnn", (1, 8, 8), 10, "relu", "softmax", "cce")
    module = index_module(derive_index_level(net), "test")
    backward = _function(module, "backward2")
    deltas = [n for n in ir.walk(backward.body) if isinstance(n, ir.Assign) and n.value.has(sp.KroneckerDelta)]
    assert not deltas
    scatter, = [n for n in ir.walk(backward.body) if isinstance(n, ir.Assign) and n.op == "+"]
    assert scatter.target.has(ir.FloorDiv) and scatter.value == sp.IndexedBase("d2")[scatter.value.indices]


def _train_one_epoch(net, X, Y, cache_dir) -> np.ndarray:
    compiled = symbackprop.compile(net, cache_dir=cache_dir)
    params = net.init_params(0)
    grads = params.zeros_like()
    optimizer = Optimizer("momentum", momentum=0.9)
    order = np.random.default_rng(0).permutation(len(X))
    compiled.train_epoch(X, Y, order, 32, params, grads, optimizer.kernel_args(params.flat), 0.05)
    return params.flat.copy()


def test_trained_weights_equal_the_plain_loop_kernels(tmp_path, monkeypatch):
    """One epoch of the README CNN on the digits: through BLAS, and with the rules switched off
    (scalar loop nests, the kernels before this lowering) -- relative difference under 1e-10."""
    net = build_network("cnn", (1, 8, 8), 10, "relu", "softmax", "cce")
    digits = load_digits()
    X = (digits.images / 16.0).reshape(-1, 1, 8, 8)[:640]
    Y = np.eye(10)[digits.target[:640]]
    fast = _train_one_epoch(net, X, Y, tmp_path / "fast")
    plain_rules = tuple(rule for rule in lowering.RULES if rule not in (
        unfold.unfolded_product, unfold.scattered_product, selection.window_select, selection.winner_scatter))
    monkeypatch.setattr(lowering, "RULES", plain_rules)
    plain_module = compiled_module.kernel_module(derive_index_level(net))
    assert not any(isinstance(n, ir.MatMul) for f in plain_module.functions if isinstance(f, ir.KernelFunction)
                   and f.name == "backward3" for n in ir.walk(f.body))
    plain = _train_one_epoch(net, X, Y, tmp_path / "plain")
    assert np.abs(fast - plain).max() / np.abs(plain).max() < 1e-10
    start = net.init_params(0).flat
    assert np.abs(fast - start).max() > 1e-3  # the epoch did train


@pytest.mark.slow  # the parallel epoch compiles in about 30 s, cold
def test_two_threads_split_each_batch_and_train_to_the_same_weights(tmp_path):
    """``parallel_epoch``: each batch in one part per thread, the parts' gradients added by size.
    The same weights as one thread, to rounding (the sums run in another order); a batch of 5
    splits 3 + 2 and a last batch of 1 is not split."""
    from symbackprop import Conv2D, Dense, Flatten, MaxPool2D, Network
    net = Network([Conv2D(1, 2, 3, padding="same", activation="relu"), MaxPool2D(2), Flatten(),
                   Dense(128, 3, "softmax")], loss="cce", input_shape=(1, 16, 16), l2=0.01)
    compiled = symbackprop.compile(net, cache_dir=tmp_path)
    assert compiled.splits_batches  # 256 values per sample: the smallest image that is split
    rng = np.random.default_rng(0)
    X, Y = rng.random((11, 1, 16, 16)), np.eye(3)[rng.integers(0, 3, 11)]
    order = rng.permutation(11)
    weights, totals = [], []
    for threads in (1, 2):
        params, optimizer = net.init_params(0), Optimizer("momentum", momentum=0.9)
        grads = params.zeros_like()
        with symbackprop.using_threads(threads):
            total, bad, _ = compiled.train_epoch(X, Y, order, 5, params, grads, optimizer.kernel_args(params.flat),
                                                 0.1, threads=threads)
        assert bad == -1
        weights.append(params.flat.copy())
        totals.append(total)
    assert ("parallel_epoch", "float64") in compiled.warm
    assert totals[1] == pytest.approx(totals[0], rel=1e-12)
    assert np.abs(weights[1] - weights[0]).max() < 1e-12 * np.abs(weights[0]).max()
    assert np.abs(weights[0] - net.init_params(0).flat).max() > 1e-3


def test_small_images_and_dense_networks_leave_the_threads_to_blas(tmp_path):
    small = build_network("cnn", (1, 8, 8), 10, "relu", "softmax", "cce")  # 64 values: splitting lost
    dense = build_network("dense:16", (64,), 10, "relu", "softmax", "cce")
    for net in (small, dense):
        assert not symbackprop.compile(net, cache_dir=tmp_path, warm_up=False).splits_batches


def test_more_threads_than_numba_may_start_is_one_line_before_any_work(capsys):
    import numba
    from symbackprop.cli import main
    too_many = numba.config.NUMBA_NUM_THREADS + 1
    assert main(["train", "--threads", str(too_many), "--epochs", "1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # not even the data were loaded
    assert captured.err.strip() == (f"symbackprop: error: threads: this machine runs at most "
                                    f"{numba.config.NUMBA_NUM_THREADS} (Numba's NUMBA_NUM_THREADS), not {too_many}")
