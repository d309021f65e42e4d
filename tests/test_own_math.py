"""A user's own math: activations and losses from formulas, layers from a rule, skip connections.

Every gradient is checked against PyTorch's autograd (the torch forms are written here
with torch's own functions) and central differences; hostile formulas must be refused
before anything runs.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symbackprop
from symbackprop import (Activation, Conv2D, Dense, Flatten, FormulaError, Loss, LossMismatchError, MaxPool2D, Network,
                         Residual, rule_layer)
from symbackprop.model import ACTIVATIONS, LAYERS, LOSSES

from .reference import finite_difference_grad, torch_loss_and_grad

torch = pytest.importorskip("torch")
F = torch.nn.functional

#: name -> (formula in z, the same function in torch)
ACTIVATION_CASES = {
    "swish": ("z / (1 + exp(-z))", lambda t: t * torch.sigmoid(t)),
    "gelu_erf": ("z * (1 + erf(z / sqrt(2))) / 2", F.gelu),
    "mish": ("z * tanh(softplus(z))", lambda t: t * torch.tanh(F.softplus(t))),
    "softplus_own": ("log1p(exp(z))", F.softplus),
    "absolute": ("abs(z)", torch.abs),
    "bent": ("where(z > 1, 2*z - 1, where(z > -1, z**2, -2*z - 1))",
             lambda t: torch.where(t > 1, 2 * t - 1, torch.where(t > -1, t ** 2, -2 * t - 1))),
}

#: name -> (Loss, the same loss in torch as a mean, the output activation)
LOSS_CASES = {
    "huber": (Loss("huber", "where(abs(a - y) <= 1, (a - y)**2 / 2, abs(a - y) - 1/2)"),
              lambda a, y: F.huber_loss(a, y, delta=1.0), "identity"),
    "log_cosh_own": (Loss("log_cosh_own", "log(cosh(a - y))"), lambda a, y: torch.log(torch.cosh(a - y)).mean(),
                     "identity"),
    "focal": (Loss("focal", "-(y * (1 - a)**2 * log(a) + (1 - y) * a**2 * log(1 - a))", output_range=(0, 1),
                   task="classify"),
              lambda a, y: (-(y * (1 - a) ** 2 * torch.log(a) + (1 - y) * a ** 2 * torch.log(1 - a))).mean(),
              "sigmoid"),
    "hinge": (Loss("hinge", "max(0, 1 - (2*y - 1) * a)", task="classify"),
              lambda a, y: torch.clamp(1 - (2 * y - 1) * a, min=0).mean(), "identity"),
}

Bilinear = rule_layer("bilinear", "sum(x[i] * W[j, i, k] * x[k], i, k) + b[j]",
                      params={"W": ("fan_out", "fan_in", "fan_in"), "b": ("fan_out",)})
Conv1D = rule_layer("Conv1D", "sum(w[p] * x[j + p], p)", params={"w": (3,)}, out="fan_in - 2")
Affine = rule_layer("affine", "s[j] * x[j] + h[j]", params={"s": ("fan_in",), "h": ("fan_in",)}, out="fan_in",
                    init={"s": 1.0})
TORCH_LAYERS = {
    "bilinear": lambda a, p: torch.einsum("ni,jik,nk->nj", a, p["W"], a) + p["b"],
    "conv1d": lambda a, p: F.conv1d(a[:, None, :], p["w"][None, None, :]).squeeze(1),
    "affine": lambda a, p: p["s"] * a + p["h"],
}


@pytest.fixture(autouse=True, scope="module")
def own_kinds():
    """Register this module's activations for its tests only, and remove everything the
    tests registered afterwards (the rest of the suite sees the built-in kinds alone)."""
    before = {registry: set(registry.names()) for registry in (ACTIVATIONS, LOSSES, LAYERS)}
    for name, (text, _) in ACTIVATION_CASES.items():
        symbackprop.model.get_activation(f"{name}={text}")
    for kind, cls in (("bilinear", Bilinear), ("conv1d", Conv1D), ("affine", Affine)):
        LAYERS.register(kind, cls, replace=True)
    yield
    for registry, names in before.items():
        for name in set(registry.names()) - names:
            registry.unregister(name)


def _check(net: Network, X, Y, tmp_path, seed: int = 1, **torch_forms) -> None:
    """loss_and_grad against PyTorch (relative 1e-9) and central differences (relative 1e-6)."""
    compiled = symbackprop.compile(net, cache_dir=tmp_path, warm_up=False)
    params = net.init_params(seed)
    loss, grads = compiled.loss_and_grad(X, Y, params)
    ref_loss, ref = torch_loss_and_grad(net, X, Y, params, **torch_forms)
    assert loss == pytest.approx(ref_loss, rel=1e-9)
    for name in params:
        np.testing.assert_allclose(grads[name], ref[name], rtol=1e-9, atol=1e-12, err_msg=name)
    numeric = finite_difference_grad(lambda: compiled.loss(X, Y, params), params)
    scale = np.max(np.abs(numeric)) + 1e-12
    assert np.max(np.abs(grads.flat - numeric)) / scale < 1e-6


def _classes(rng, n: int, k: int) -> np.ndarray:
    return np.eye(k)[rng.integers(0, k, n)]


def test_activations_from_formulas_match_pytorch(tmp_path):
    """One layer per activation (one compile for all six)."""
    rng = np.random.default_rng(0)
    names = list(ACTIVATION_CASES)
    net = Network([Dense(4, 5, names[0]), *(Dense(5, 5, name) for name in names[1:]), Dense(5, 3, "softmax")],
                  loss="cce")
    _check(net, rng.normal(size=(7, 4)) * 1.5, _classes(rng, 7, 3), tmp_path,
           activations={name: torch_form for name, (_, torch_form) in ACTIVATION_CASES.items()})


def test_activation_in_a_convolution(tmp_path):
    rng = np.random.default_rng(1)
    net = Network([Conv2D(1, 2, 3, padding="same", activation="swish"), MaxPool2D(2), Flatten(),
                   Dense(8, 2, "sigmoid")], loss="bce", input_shape=(1, 4, 4))
    _check(net, rng.normal(size=(5, 16)), rng.integers(0, 2, (5, 2)).astype(float), tmp_path,
           activations={"swish": ACTIVATION_CASES["swish"][1]})


@pytest.mark.parametrize("name", list(LOSS_CASES))
def test_loss_from_a_formula_matches_pytorch(name, tmp_path):
    loss, torch_loss, output = LOSS_CASES[name]
    rng = np.random.default_rng(2)
    net = Network([Dense(3, 6, "tanh"), Dense(6, 2, output)], loss=loss)
    Y = rng.integers(0, 2, (9, 2)).astype(float) if loss.classifies else rng.normal(size=(9, 2)) * 2
    _check(net, rng.normal(size=(9, 3)), Y, tmp_path, losses={name: torch_loss})


def test_residual_mlp_with_two_blocks(tmp_path):
    rng = np.random.default_rng(3)
    net = Network([Dense(4, 6, "tanh"), Residual([Dense(6, 6, "tanh"), Dense(6, 6)]),
                   Residual([Dense(6, 6, "swish")], "tanh"), Dense(6, 3, "softmax")], loss="cce")
    assert [l.kind for l in net.layers].count("residual_add") == 2
    _check(net, rng.normal(size=(6, 4)), _classes(rng, 6, 3), tmp_path,
           activations={"swish": ACTIVATION_CASES["swish"][1]})


@pytest.mark.slow
def test_residual_cnn_block(tmp_path):
    rng = np.random.default_rng(4)
    net = Network([Conv2D(1, 3, 3, padding="same", activation="relu"),
                   Residual([Conv2D(3, 3, 3, padding="same", activation="tanh"), Conv2D(3, 3, 3, padding=1)], "relu"),
                   MaxPool2D(2), Flatten(), Dense(27, 2, "sigmoid")], loss="bce", input_shape=(1, 6, 6))
    _check(net, rng.normal(size=(4, 36)), rng.integers(0, 2, (4, 2)).astype(float), tmp_path)


def test_the_block_input_gets_both_paths_errors():
    """δ reaching a residual block's input is the sum of the block path's and the skip's."""
    net = Network([Dense(2, 3, "tanh"), Residual([Dense(3, 3, "tanh")]), Dense(3, 1)], loss="mse")
    g1 = symbackprop.derivation(net).layers[1].grad_input
    d2, d3 = sp.IndexedBase("d2"), sp.IndexedBase("d3")
    n, i = g1.target.indices
    assert g1.expr.has(d3[n, i]) and g1.expr.has(d2)  # the skip's error and the block's, added


def test_rule_layers_match_pytorch(tmp_path):
    rng = np.random.default_rng(5)
    net = Network([Dense(4, 6, "tanh"), Conv1D(6, activation="tanh"), Affine(4), Bilinear(4, 3, "tanh"),
                   Dense(3, 2, "softmax")], loss="cce")
    assert net.shapes[2] == (4,) and net.layers[2].initial_values(lambda fans, shape: np.zeros(shape))["s"].all()
    _check(net, rng.normal(size=(5, 4)), _classes(rng, 5, 2), tmp_path, layers=TORCH_LAYERS)


@pytest.mark.parametrize("text", [
    "__import__('os').system('touch {marker}')",
    "open('{marker}', 'w')",
    "().__class__.__bases__[0].__subclasses__()",
    "z.__class__",
    "lambda: 1",
    "[z for z in (1, 2)]",
    "'{marker}'",
    "exec('1')",
    "eval('1')",
    "z if (q := 1) else 0",
    "getattr(z, 'x')",
])
def test_hostile_formulas_are_refused_before_anything_runs(text, tmp_path):
    marker = tmp_path / "ran"
    with pytest.raises(FormulaError) as info:
        Activation("evil", text.format(marker=marker))
    assert not marker.exists()
    assert "\n" not in str(info.value) and "evil" in str(info.value)


@pytest.mark.parametrize("text, complaint", [
    ("q + z", "'q' is not a name"),
    ("3", "does not depend on z"),
    ("z ** (10**10**10)", "exponent larger than 64"),
    ("x" * 3000, "the limit is 2000"),
    ("exp(" * 60 + "z" + ")" * 60, "nested too deeply"),
    ("exp(" * 300 + "z" + ")" * 300, "nested|not a formula"),
    ("-" * 100 + "z", "nested too deeply"),
    ("-" * 500 + "z", "more than 600 parts"),
    ("exp(z, 2)", "takes 1"),
    ("exp(z=1)", "keyword argument"),
    ("sign(z)", "Dirac delta"),
    ("z == 1", "is a condition where a value belongs"),
    ("z +", "is not a formula"),
    ("1j * z", "complex constant"),
    ("((((((9**64)**64)**64)**64)**64)**64) * z", "a number larger than 2..1024"),
    ("z**(0/0)", "not a finite number"),
    ("z / 0", "not finite"),
    ("where(z > sqrt(-1), z, 0)", "cannot be built"),
    ("max(max(max(max(max(max(max(z, 1), 2), 3), 4), 5), 6), 7)", "nests branches"),
    ("z\x00", "null bytes"),
])
def test_bad_formulas_get_a_named_error(text, complaint):
    with pytest.raises(FormulaError, match=complaint):
        Activation("bad", text)


def test_a_loss_must_use_the_output_and_fit_its_range():
    with pytest.raises(FormulaError, match="does not depend on a"):
        Loss("lazy", "y ** 2")
    with pytest.raises(LossMismatchError, match=r"needs outputs in \(0, 1\).*'tanh'.*use output activation 'sigmoid'"):
        Network([Dense(2, 1, "tanh")], loss=LOSS_CASES["focal"][0])
    assert Network.mlp([2, 3, 1], "tanh", loss=LOSS_CASES["focal"][0]).layers[-1].activation == "sigmoid"


def test_a_name_cannot_mean_two_formulas():
    with pytest.raises(FormulaError, match="built-in activation called 'relu'"):
        Dense(2, 2, "relu=z")
    with pytest.raises(FormulaError, match="already an activation called 'swish'"):
        Dense(2, 2, "swish=z * tanh(z)")
    assert Dense(2, 2, "swish=z / (1 + exp(-z))").activation == "swish"  # the same formula again is fine


def test_the_kernel_cache_key_holds_the_formula(tmp_path):
    """Two activations that share a name never share kernels (one redefined with replace=True)."""
    from symbackprop.codegen.compiled import kernel_structure
    symbackprop.register_activation(Activation("twice", "z ** 3"))
    first = Network([Dense(2, 3, "twice"), Dense(3, 1)], loss="mse")
    key, out = kernel_structure(first), symbackprop.compile(first, cache_dir=tmp_path).forward(np.ones((1, 2)),
                                                                                                first.init_params(0))
    symbackprop.register_activation(Activation("twice", "z ** 2"), replace=True)
    second = Network([Dense(2, 3, "twice"), Dense(3, 1)], loss="mse")
    assert kernel_structure(second) != key
    again = symbackprop.compile(second, cache_dir=tmp_path).forward(np.ones((1, 2)), second.init_params(0))
    assert not np.allclose(out, again)


@pytest.mark.slow
def test_a_checkpoint_with_own_pieces_predicts_identically_in_a_fresh_process(tmp_path):
    from symbackprop.train.checkpoint import Checkpoint, save_checkpoint
    net = Network([Dense(4, 5, "mish"), Residual([Affine(5), Dense(5, 5, "bent")]), Bilinear(5, 3),
                   Dense(3, 2, "sigmoid")], loss=LOSS_CASES["focal"][0])
    params = net.init_params(3)
    X = np.random.default_rng(6).normal(size=(8, 4))
    expected = symbackprop.compile(net, cache_dir=tmp_path / "here").forward(X, params)
    path = save_checkpoint(tmp_path / "own.npz", Checkpoint(net, params))
    np.save(tmp_path / "X.npy", X)
    script = (f"import numpy as np, symbackprop\n"
              f"from symbackprop.train.checkpoint import load_checkpoint\n"
              f"ckpt = load_checkpoint({str(path)!r})\n"
              f"c = symbackprop.compile(ckpt.network, cache_dir={str(tmp_path / 'there')!r})\n"
              f"np.save({str(tmp_path / 'out.npy')!r}, c.forward(np.load({str(tmp_path / 'X.npy')!r}), ckpt.params))\n"
              f"print(repr(ckpt.network))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "Residual([Affine(5, 'identity'), Dense(5, 5, 'bent')])" in done.stdout
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), expected)


def test_a_checkpoint_formula_goes_through_the_safe_parser(tmp_path):
    """A checkpoint edited to hold a payload is refused by the parser, not run."""
    net = Network([Dense(2, 3, "swish"), Dense(3, 1)], loss="mse")
    spec = json.loads(json.dumps(net.spec()))
    spec["definitions"]["activations"]["swish"]["formula"] = "__import__('os').getcwd()"
    ACTIVATIONS.unregister("swish")
    try:
        with pytest.raises(FormulaError, match="is not a function a formula can call"):
            Network.from_spec(spec)
    finally:
        symbackprop.model.get_activation("swish=" + ACTIVATION_CASES["swish"][0])


def test_rule_layers_refuse_rules_they_cannot_read():
    with pytest.raises(FormulaError, match="sums over k, which indexes no axis"):
        rule_layer("nosize", "sum(x[j] * k, k)", params={}, out="fan_in")
    with pytest.raises(FormulaError, match="uses j over fan_out and, in x.j., over fan_in .if the output is as wide"):
        rule_layer("narrow", "x[j]", params={})
    with pytest.raises(FormulaError, match="uses i without summing"):
        rule_layer("free", "x[i] * W[i, j]", params={"W": ("fan_in", "fan_out")})
    with pytest.raises(FormulaError, match="declared but the rule does not use them"):
        rule_layer("unused", "x[j]", params={"W": ("fan_in",)}, out="fan_in")
    with pytest.raises(FormulaError, match="'y' is not a name"):
        rule_layer("strange", "x[j] * y", params={}, out="fan_in")
    Wide = rule_layer("wide", "sum(w[p] * x[j + p], p)", params={"w": (5,)}, out="fan_in - 2")
    with pytest.raises(symbackprop.ArchitectureError, match="outside the 6 inputs"):
        Wide(6)
    LAYERS.unregister("wide")


def test_residual_shapes_are_checked_when_the_network_is_built():
    with pytest.raises(symbackprop.ArchitectureError, match="must keep the shape of its input.*takes 4 and gives 3"):
        Network([Dense(2, 4), Residual([Dense(4, 3)]), Dense(3, 1)])


def test_the_user_s_derivative_is_explained():
    net = Network([Dense(2, 2, "swish"), Dense(2, 1)], loss="mse")
    text = str(symbackprop.explanation(net, [1.0, 0.5], [1.0]))
    assert "∂a¹₁/∂z¹₁" in text and "exp(−z¹₁)/(1 + exp(−z¹₁))²" in text


def test_explain_walks_the_skip_path_too(tmp_path):
    """explain's chain rule for a weight before a residual block lists the paths through the
    block and the one along the skip; their sum is the compiled kernel's gradient."""
    net = Network([Dense(2, 2, "tanh"), Residual([Dense(2, 2, "tanh"), Dense(2, 2)], "tanh"), Dense(2, 1, "sigmoid")],
                  loss="bce")
    ex = symbackprop.explanation(net, [1.0, 0.5], [1.0], param="W1[0,1]")
    hops = [[(f.of.name, f.wrt.name) for f in path.factors] for path in ex.chain.paths]
    skips = [h for h in hops if ("z4_1", "a1_1") in h]
    assert len(hops) == 5 and len(skips) == 1  # 2 × 2 through the block's two layers, 1 along the skip
    compiled = symbackprop.compile(net, cache_dir=tmp_path, warm_up=False)
    params = symbackprop.explain.teaching_params(net)
    _, grads = compiled.loss_and_grad([[1.0, 0.5]], [[1.0]], params)
    assert sum(p.value for p in ex.chain.paths) == pytest.approx(grads["W1"][0, 1], rel=1e-12)
    text = str(ex)
    assert "residual sum" in text and "z⁴₁ = a¹₁ + a³₁" in text


def test_explain_of_a_rule_layer_shows_its_rule_and_derived_gradients():
    from symbackprop.explain import explain_image_network
    net = Network([Dense(4, 6, "tanh"), Conv1D(6, activation="tanh"), Dense(4, 2, "softmax")], loss="cce")
    text = explain_image_network(net)
    assert "this layer's own rule, z[j] = sum(w[p] * x[j + p], p)" in text
    assert "gw2[p] = Sum(a1[n, j + p]*d2[n, j], (n, 0, B - 1), (j, 0, m2 - 1))" in text


def test_a_branch_never_lets_the_other_branch_s_value_leak(tmp_path):
    """where(a > 0, log(a), 0) at a = 0 is 0: nothing of log(0) is pulled outside the branch."""
    net = Network([Dense(1, 1, "relu")], loss=Loss("safe_log", "where(a > 0, -log(a) * y, 0)"))
    compiled = symbackprop.compile(net, cache_dir=tmp_path, warm_up=False)
    params = net.init_params(0)
    params["W1"][...], params["b1"][...] = 1.0, 0.0
    loss, grads = compiled.loss_and_grad([[-1.0]], [[1.0]], params)  # z = -1: relu gives a = 0
    assert loss == 0.0 and np.all(grads.flat == 0.0)


def test_rule_indices_are_checked_before_sympy_expands_them():
    with pytest.raises(FormulaError, match="must be an index"):
        rule_layer("huge", "x[(i + j + k + p + q + r + t)**64]", params={}, out="fan_in")
    with pytest.raises(FormulaError, match="must be an index"):
        rule_layer("square", "sum(x[i * i], i)", params={}, out="fan_in")


def test_reloading_a_network_in_the_same_session_keeps_its_definitions(tmp_path):
    """A definition given as a SymPy expression (0.01*z, with a float) and the same one read
    back from its stored text (z/100) are one activation; a loss's facts survive the trip."""
    z = sp.Symbol("z")
    symbackprop.register_activation(Activation("leaky_own", sp.Piecewise((z, z > 0), (0.01 * z, True))))
    net = Network([Dense(2, 3, "leaky_own"), Dense(3, 2, "sigmoid")], loss=LOSS_CASES["focal"][0])
    again = Network.from_spec(json.loads(json.dumps(net.spec())))
    assert repr(again) == repr(net)
    assert net.spec()["definitions"]["losses"]["focal"]["output_range"] == [0.0, 1.0]


def test_residual_activation_may_be_a_formula_in_arch():
    from symbackprop.model.architecture import build_network
    net = build_network("dense:8,res(dense:8):sw=z/(1+exp(-z))", (4,), 2)
    assert repr(net.layers[2]) == "ResidualAdd(1, 'sw')"


def test_a_parameter_may_not_take_the_kernels_own_names():
    with pytest.raises(FormulaError, match="'l' already names"):
        rule_layer("lname", "l[j] * x[j]", params={"l": ("fan_in",)}, out="fan_in")


@pytest.mark.parametrize("name", ["swish", "mish", "softplus_own"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_own_activations_stay_finite_where_exp_overflows(name, dtype, tmp_path):
    """z = ±800 overflows exp in either precision: the kernels write the logistic ratios of
    these activations and their derivatives as bounded factors (and log(1 + exp) as a stable
    softplus), so the loss and every gradient stay finite, and match PyTorch at ±30."""
    net = Network([Dense(2, 3, name), Dense(3, 2, "softmax")], loss="cce")
    tmp_path = tmp_path.parent / "overflow-cache"  # the two precisions share one module
    compiled = symbackprop.compile(net, cache_dir=tmp_path, warm_up=False)
    params = net.init_params(0, dtype=dtype)
    Y = np.eye(2)[[0, 1, 0]]
    loss, grads = compiled.loss_and_grad(np.array([[800.0, 1.0], [-800.0, 2.0], [900.0, -700.0]]), Y, params)
    assert np.isfinite(loss) and np.isfinite(grads.flat).all()
    if dtype == "float64":
        X = np.array([[30.0, 1.0], [-30.0, 2.0], [25.0, -20.0]])
        _, grads = compiled.loss_and_grad(X, Y, params)
        _, ref = torch_loss_and_grad(net, X, Y, params, activations={name: ACTIVATION_CASES[name][1]})
        for key in params:
            np.testing.assert_allclose(grads[key], ref[key], rtol=1e-9, atol=1e-12, err_msg=key)


def test_a_loss_s_output_range_is_read_from_its_logs(capsys, registries_restored):
    focal = "-(y * (1 - a)**2 * log(a) + (1 - y) * a**2 * log(1 - a))"
    assert Loss("focal_read", focal).output_range == (0.0, 1.0)
    assert Loss("log_only", "-y * log(a)").output_range == (0.0, float("inf"))
    assert Loss("smooth", "log(cosh(a - y))").output_range is None  # no log of a alone
    from symbackprop.cli import main
    assert main(["train", "--dataset", "breast_cancer", "--loss", f"focal_cli={focal}", "--normalize", "standard",
                 "--hidden", "8", "--epochs", "3", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "sigmoid" in out and not re.search(r"\bnan\b", out)


def test_derive_and_explain_of_networks_the_neuron_tables_cannot_write_out(capsys):
    from symbackprop.cli import main
    assert main(["derive", "--arch", "dense:4"]) == 0  # a Flatten first: no naive comparison, no error
    net = Network([Dense(4, 6, "tanh"), Conv1D(6), Dense(4, 2, "softmax")], loss="cce")
    with pytest.raises(symbackprop.ArchitectureError, match="explain_image_network"):
        symbackprop.explanation(net, [0.0] * 4, [1, 0])
