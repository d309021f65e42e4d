"""`symbackprop explain`: every printed number against PyTorch, the chain rule against the kernel.

The independent truth is PyTorch's autograd on the same network, weights and sample:
forward values (z, a, loss), ∂L/∂a and δ = ∂L/∂z of every neuron (``retain_grad``),
∂L/∂W and ∂L/∂b, the local Jacobians of the activations, and the update w − η·∂L/∂w.
"""
from __future__ import annotations

import io
import itertools
import re

import numpy as np
import pytest

import symbackprop
from symbackprop import Dense, Network
from symbackprop.cli import main
from symbackprop.errors import ArchitectureError, DataError
from symbackprop.explain import explain, parse_param, teaching_params
from symbackprop.explain.notation import parse_number

torch = pytest.importorskip("torch")

NUMBER = re.compile(r"−?\d+\.\d+(?:e[−+]\d+)?")

#: the CLI's two default examples and a softmax / ReLU / L2 variant with several paths
CASES = {
    "layer": (["explain"], Network([Dense(2, 3, "sigmoid")], loss="mse"), [1.0, 0.5], [1.0, 0.0, 1.0]),
    "2-3-1": (["explain", "--sizes", "2,3,1"], Network([Dense(2, 3, "sigmoid"), Dense(3, 1, "sigmoid")], loss="mse"),
              [1.0, 0.5], [1.0]),
    "softmax": (["explain", "--sizes", "2,3,2", "--activation", "relu", "--loss", "cce", "--l2", "0.01",
                 "--param", "W1[1,2]"],
                Network([Dense(2, 3, "relu"), Dense(3, 2, "softmax")], loss="cce", l2=0.01), [1.0, 0.5], [1.0, 0.0]),
}

ACTIVATIONS = {"sigmoid": torch.sigmoid, "relu": torch.relu, "tanh": torch.tanh,
               "softmax": lambda z: torch.softmax(z, dim=0), "identity": lambda z: z}


def torch_truth(net: Network, params, x, y, lr: float) -> dict:
    """Every quantity of one backprop step, from PyTorch."""
    W = [torch.tensor(params[f"W{l}"], dtype=torch.float64, requires_grad=True) for l in range(1, len(net.layers) + 1)]
    b = [torch.tensor(params[f"b{l}"], dtype=torch.float64, requires_grad=True) for l in range(1, len(net.layers) + 1)]
    a = torch.tensor(x, dtype=torch.float64)
    target = torch.tensor(y, dtype=torch.float64)
    zs, acts, jacobians = [], [], []
    for layer, Wl, bl in zip(net.layers, W, b):
        z = a @ Wl + bl
        z.retain_grad()
        f = ACTIVATIONS[layer.activation]
        a = f(z)
        a.retain_grad()
        jacobians.append(torch.autograd.functional.jacobian(f, z.detach()))
        zs.append(z), acts.append(a)
    if net.loss.name == "mse":
        data_loss = torch.mean((a - target) ** 2)
    elif net.loss.name == "bce":
        data_loss = torch.nn.functional.binary_cross_entropy(a, target)
    else:
        data_loss = -torch.sum(target * torch.log(a))
    dloss_da = torch.autograd.grad(data_loss, a, retain_graph=True)[0]
    loss = data_loss + sum(net.l1 * Wl.abs().sum() + net.l2 / 2 * (Wl ** 2).sum() for Wl in W)
    loss.backward()
    return {"z": [t.detach().numpy() for t in zs], "a": [t.detach().numpy() for t in acts],
            "dL/da": [t.grad.numpy() for t in acts], "delta": [t.grad.numpy() for t in zs],
            "jacobian": [j.numpy() for j in jacobians], "dL/da_out": dloss_da.numpy(),
            "gW": [t.grad.numpy() for t in W], "gb": [t.grad.numpy() for t in b], "loss": loss.item(),
            "W": [t.detach().numpy() for t in W], "b": [t.detach().numpy() for t in b],
            "new": [(t - lr * t.grad).detach().numpy() for t in W + b]}


def all_values(truth: dict, x, y, lr: float, l2: float) -> np.ndarray:
    """Every number an explanation may print, computed independently (and path products)."""
    parts = [np.ravel(x), np.ravel(y), [lr, truth["loss"], l2]]
    for key in ("z", "a", "dL/da", "delta", "jacobian", "gW", "gb", "W", "b", "new"):
        parts += [np.ravel(v) for v in truth[key]]
    parts.append(np.ravel(truth["dL/da_out"]))
    parts += [np.ravel(l2 * w) for w in truth["W"]]
    return np.concatenate([np.asarray(p, dtype=float) for p in parts])


def path_products(truth: dict, net: Network, layer: int, i: int, j: int, x) -> list[float]:
    """∂L/∂W{layer}[i, j] path by path, from PyTorch's Jacobians (independent of the explanation)."""
    inputs = np.asarray(x, dtype=float) if layer == 1 else truth["a"][layer - 2]
    depth = len(net.layers)
    products = []
    # a path: z{layer}_j -> a{layer}_k -> z{layer+1}_q -> a{layer+1}_r -> ... -> L
    choices = []
    for l in range(layer, depth + 1):
        choices.append(range(net.sizes[l]))  # the activation output a{l}_k
        if l < depth:
            choices.append(range(net.sizes[l + 1]))  # the next weighted sum z{l+1}_q
    for route in itertools.product(*choices):
        value, z_index = inputs[i], j
        for step, l in enumerate(range(layer, depth + 1)):
            k = route[2 * step]
            if net.layers[l - 1].act.elementwise and k != z_index:
                break  # a{l}_k does not depend on z{l}_j: no such path
            value *= truth["jacobian"][l - 1][k, z_index]
            if l < depth:
                q = route[2 * step + 1]
                value *= truth["W"][l][k, q]
                z_index = q
            else:
                value *= truth["dL/da_out"][k]
        else:
            products.append(value)
    return products


def printed_numbers(text: str) -> list[float]:
    """The numbers in ``text``.  A minus sign directly before a product or quotient
    (``−0.7966·0.2034``, ``−1.0000/0.2034``) negates the whole term, not the number: negative
    numbers inside formulas are printed in parentheses, ``(−0.1300)·1.0000``."""
    out = []
    for m in NUMBER.finditer(text):
        value = parse_number(m.group(0))
        if value < 0 and text[m.end():m.end() + 1] in ("·", "/", "²"):
            value = -value
        out.append(value)
    return out


def close_to_printed(printed: float, truth: np.ndarray) -> bool:
    return bool(np.any(np.abs(truth - printed) <= 5.001e-5 + 5e-4 * np.abs(printed)))


@pytest.mark.parametrize("case", list(CASES))
def test_every_printed_number_is_an_independently_computed_value(case, capsys):
    argv, net, x, y = CASES[case]
    assert main(argv) == 0
    text = capsys.readouterr().out
    params = teaching_params(net, 0)
    truth = torch_truth(net, params, x, y, lr=0.1)
    param = argv[argv.index("--param") + 1] if "--param" in argv else "W1[0,1]"
    layer, i, j = (int(v) for v in re.findall(r"\d+", param))
    products = path_products(truth, net, layer, i, j, x)
    values = np.concatenate([all_values(truth, x, y, 0.1, net.l2), products, np.zeros(1)])
    numbers = printed_numbers(text)
    assert len(numbers) > 60
    wrong = [n for n in numbers if not close_to_printed(n, values)]
    assert not wrong, f"printed numbers with no independent counterpart: {wrong[:10]}"
    # the computation-specific rows, where they are printed
    for l, (z, a) in enumerate(zip(truth["z"], truth["a"]), start=1):
        for k in range(len(z)):
            row = re.search(rf"^  {k} .*z{_sup(l)}{_sub(k)} = .*$", text, re.M).group(0)
            row_numbers = printed_numbers(row)
            assert abs(row_numbers[-2] - z[k]) <= 5.001e-5 and abs(row_numbers[-1] - a[k]) <= 5.001e-5
    loss_line = re.search(r"^  L = .*$", text, re.M).group(0)
    assert abs(printed_numbers(loss_line)[-1] - truth["loss"]) <= 5.001e-5
    for l, delta in enumerate(truth["delta"], start=1):
        for k, d in enumerate(delta):
            line = re.search(rf"^  δ{_sup(l)}{_sub(k)} = .*$", text, re.M).group(0)
            assert abs(printed_numbers(line)[-1] - d) <= 5.001e-5
    grad = truth["gW"][layer - 1][i, j]
    lines = re.findall(rf"^  ∂L/∂W{_sup(layer)}{_sub(i)},{_sub(j)} = .*$", text, re.M)
    assert len(lines) >= 3  # the chain of factors, δ's form, the backward pass
    assert all(abs(printed_numbers(line)[-1] - grad) <= 5.001e-5 for line in lines if printed_numbers(line))


def _sup(k: int) -> str:
    return str(k).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))


def _sub(k: int) -> str:
    return str(k).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


@pytest.mark.parametrize("case", list(CASES))
def test_chain_rule_paths_sum_to_the_compiled_kernels_gradient(case):
    _, net, x, y = CASES[case]
    param = "W1[1,2]" if case == "softmax" else "W1[0,1]"
    ex = explain(net, x, y, param=param)
    params = teaching_params(net, 0)
    _, grads = symbackprop.compile(net, warm_up=False).loss_and_grad(np.array([x]), np.array([y]), params)
    layer, i, j = (int(v) for v in re.findall(r"\d+", param))
    kernel = grads[f"W{layer}"][i, j]
    paths = sum(p.value for p in ex.chain.paths) + (ex.chain.penalty.value if ex.chain.penalty else 0.0)
    assert paths == pytest.approx(kernel, rel=1e-12, abs=1e-15)
    assert ex.chain.gradient.value == pytest.approx(kernel, rel=1e-12, abs=1e-15)
    assert ex.gradient(param) == pytest.approx(kernel, rel=1e-12, abs=1e-15)
    # each path's factors are the local derivatives torch finds
    truth = torch_truth(net, params, x, y, 0.1)
    assert sorted(p.value for p in ex.chain.paths) == pytest.approx(sorted(path_products(truth, net, layer, i, j, x)),
                                                                    rel=1e-12, abs=1e-15)


def test_softmax_example_sums_over_every_path():
    _, net, x, y = CASES["softmax"]
    ex = explain(net, x, y, param="W1[1,2]")
    # W1[1,2] feeds z1_2 -> a1_2 -> both z2_q -> both softmax outputs: 4 paths
    assert len(ex.chain.paths) == 4
    assert all(len(p.factors) == 5 for p in ex.chain.paths)
    assert ex.chain.penalty is not None and ex.chain.penalty.value == pytest.approx(0.01 * ex.values[
        parse_param(net, "W1[1,2]")[0]])
    assert "along 4 paths" in ex.to_text()


def test_bias_and_output_layer_parameters():
    _, net, x, y = CASES["2-3-1"]
    for name in ("b1[2]", "W2[1,0]", "b2_0", "W1_1_0"):
        ex = explain(net, x, y, param=name)
        assert sum(p.value for p in ex.chain.paths) == pytest.approx(ex.chain.gradient.value, rel=1e-12)


def test_updates_move_against_the_gradient():
    _, net, x, y = CASES["2-3-1"]
    ex = explain(net, x, y, lr=0.5)
    truth = torch_truth(net, teaching_params(net, 0), x, y, 0.5)
    new = np.concatenate([np.ravel(v) for v in truth["new"]])
    ours = np.array([u.new_value for u in ex.updates])
    # ours lists layers from the output down; compare as multisets of (old, new) pairs
    assert sorted(ours) == pytest.approx(sorted(new), rel=1e-12)


def test_many_paths_are_summarised_by_delta():
    net = Network([Dense(3, 4, "tanh"), Dense(4, 4, "softmax"), Dense(4, 4, "tanh"), Dense(4, 3, "softmax")],
                  loss="cce")
    ex = explain(net, [1.0, 0.0, -1.0], [0.0, 1.0, 0.0], param="W1[0,0]")
    assert ex.chain.paths == () and ex.chain.paths_omitted == 4 * 4 * 4 * 3 * 3
    assert "too many to list" in ex.to_text()


def test_bad_requests_name_the_problem():
    _, net, x, y = CASES["2-3-1"]
    with pytest.raises(ArchitectureError, match=r"no parameter 'W3\[0,0\]'.*W1\[0..1,0..2\]"):
        explain(net, x, y, param="W3[0,0]")
    with pytest.raises(ArchitectureError, match="write it like W1"):
        explain(net, x, y, param="weights")
    with pytest.raises(DataError, match="the input has 3 values"):
        explain(net, [1, 2, 3], y)
    with pytest.raises(DataError, match="NaN"):
        explain(net, [float("nan"), 1.0], y)
    with pytest.raises(ArchitectureError, match="at most 200"):
        explain(Network.mlp([64, 16, 10]), np.zeros(64), np.eye(10)[0])


def test_cli_errors_are_one_line(capsys):
    assert main(["explain", "--sizes", "2,3,1", "--param", "W9[0,0]"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("symbackprop: error: there is no parameter") and err.count("\n") == 1


def test_markdown_and_latex_carry_the_same_numbers():
    _, net, x, y = CASES["2-3-1"]
    ex = explain(net, x, y)
    text_numbers = sorted(printed_numbers(ex.to_text()))
    md = ex.to_markdown().replace("-", "−")
    md_numbers = sorted(printed_numbers(md))
    assert md_numbers == text_numbers
    assert ex._repr_markdown_() == ex.to_markdown()
    assert ex._repr_latex_().startswith("$$")


def _math_snippets(latex: str) -> list[str]:
    display = re.findall(r"\\\[ (.*?) \\\]", latex)
    inline = re.findall(r"\$([^$]+)\$", re.sub(r"\\\[ .*? \\\]", "", latex))
    return display + inline


@pytest.mark.parametrize("case", list(CASES))
def test_latex_renders_with_matplotlib_mathtext(case, tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib import mathtext

    _, net, x, y = CASES[case]
    ex = explain(net, x, y, param="W1[1,2]" if case == "softmax" else "W1[0,1]")
    snippets = _math_snippets(ex.to_latex())
    assert len(snippets) > 30
    for k, snippet in enumerate(snippets):
        buffer = io.BytesIO()
        mathtext.math_to_image(f"${snippet}$", buffer, dpi=50, format="png")
        assert buffer.getvalue().startswith(b"\x89PNG"), snippet
    # one of them to a file a person can look at
    chain = next(s for s in snippets if r"\frac{\partial L}{\partial W^{(1)}" in s)
    mathtext.math_to_image(f"${chain}$", tmp_path / "chain.png", dpi=100)
    assert (tmp_path / "chain.png").stat().st_size > 1000


def test_notebook_latex_is_display_math_only():
    _, net, x, y = CASES["layer"]
    notebook = explain(net, x, y)._repr_latex_()
    assert r"\begin{tabular}" not in notebook and r"\section" not in notebook
    blocks = [b for b in notebook.split("\n") if b]
    assert all(b.startswith("$$") and b.endswith("$$") for b in blocks)


def test_cli_writes_latex_to_a_file(tmp_path, capsys):
    out = tmp_path / "step.tex"
    assert main(["explain", "--sizes", "2,3,1", "--latex", "-o", str(out)]) == 0
    assert r"\section*{Backpropagation, step by step" in out.read_text()
    assert f"wrote {out}" in capsys.readouterr().out


def test_output_piped_into_head_stops_quietly():
    """A closed pipe (``symbackprop explain | head -1``) ends the command quietly with status 0."""
    import subprocess
    import sys
    code = ("import sys, symbackprop.cli as cli\n"
            "def closed(args):\n"
            "    raise BrokenPipeError(32, 'Broken pipe')\n"
            "cli.cmd_explain = closed\n"
            "sys.exit(cli.main(['explain']))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stderr == ""
