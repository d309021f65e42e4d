"""Pictures of a backprop step: the numbers drawn, and the paths lit, against independent truth.

The drawn network is read back from its SVG (matplotlib keeps text as ``<text>`` and each
artist's id), and every printed z, a, δ and ∂L/∂w is compared with PyTorch's autograd and
with the compiled kernel, to the printed precision.  The highlighted paths are compared
with the chain-rule table's paths and with an enumeration of the network's routes written
here from the layer sizes alone.
"""
from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import symbackprop
import sympy as sp

from symbackprop import Dense, Network, Residual
from symbackprop.cli import main
from symbackprop.errors import ArchitectureError
from symbackprop.explain import draw_network, explain, teaching_params
from symbackprop.explain.notation import parse_number
from symbackprop.explain.op_graph import MAX_OP_NODES, op_graph
from symbackprop.explain.picture import network_picture, path_members

pytest.importorskip("matplotlib")
torch = pytest.importorskip("torch")
from tests.test_explain import CASES, torch_truth  # noqa: E402 (after the skips: it needs torch)

SVG = "{http://www.w3.org/2000/svg}"

NETWORKS = {
    **{name: (net, x, y) for name, (_, net, x, y) in CASES.items()},
    "tanh 3-4-2-2": (Network([Dense(3, 4, "tanh"), Dense(4, 2, "tanh"), Dense(2, 2, "sigmoid")], loss="bce"),
                     [0.5, -1.0, 2.0], [1.0, 0.0]),
}


def svg_texts(path) -> dict[str, list[str]]:
    """Each id'd group of the SVG → the text lines inside it."""
    root = ET.parse(path).getroot()
    return {g.get("id"): ["".join(t.itertext()) for t in g.iter(f"{SVG}text")]
            for g in root.iter(f"{SVG}g") if g.get("id")}


def printed(line: str) -> tuple[float, float]:
    """``"z = −0.2200"`` → (−0.22, 5e−5): the value and half a unit of its last printed digit."""
    text = line.split("=")[-1].strip()
    mantissa = text.split("e")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    exponent = int(text.split("e")[1].replace("−", "-")) if "e" in text else 0
    return parse_number(text), 0.5 * 10.0 ** (exponent - decimals) * (1 + 1e-9)


def assert_printed(line: str, truth: float) -> None:
    value, tolerance = printed(line)
    assert abs(value - truth) <= tolerance + 1e-12, (line, truth)


@pytest.mark.parametrize("name", list(NETWORKS))
def test_drawn_numbers_equal_the_compiled_kernel_and_torch(name, tmp_path):
    net, x, y = NETWORKS[name]
    ex = explain(net, x, y)
    ex.draw(tmp_path / "net.svg")
    texts = svg_texts(tmp_path / "net.svg")
    params = teaching_params(net, 0)
    compiled = symbackprop.compile(net, warm_up=False)
    loss, grads = compiled.loss_and_grad(np.array([x]), np.array([y]), params)
    output = compiled.forward(np.array([x]), params)[0]
    truth = torch_truth(net, params, x, y, 0.1)
    depth = len(net.layers)
    for l in range(1, depth + 1):
        for j in range(net.sizes[l]):
            lines = dict(line.split(" = ") for line in texts[f"values-n{l}_{j}"] if " = " in line)
            assert_printed(lines["z"], truth["z"][l - 1][j])
            assert_printed(lines["a"], output[j] if l == depth else truth["a"][l - 1][j])
            assert_printed(lines["δ"], grads[f"b{l}"][j])  # δ = ∂L/∂b, from the kernel
            assert_printed(lines["δ"], truth["delta"][l - 1][j])
            assert_printed(lines["b"], params[f"b{l}"][j])
    assert_printed(texts["values-L"][0], loss)
    labelled = [k for k in texts if k.startswith("label-W")]
    assert labelled, "no weight is labelled"
    for key in labelled:
        l, i, j = (int(v) for v in re.findall(r"\d+", key[len("label-W"):]))
        weight, gradient = texts[key]
        assert_printed(weight, params[f"W{l}"][i, j])
        assert_printed(gradient, grads[f"W{l}"][i, j])
    for i, value in enumerate(x):
        assert_printed(texts[f"values-x{i}"][0], value)


def routes(net: Network, layer: int, i: int, j: int) -> set[frozenset[str]]:
    """Every route from W{layer}[i,j] to the loss, as its set of edges, from the layer sizes:
    an elementwise activation passes z_j to a_j only; a softmax couples every a_k to z_j."""
    depth = len(net.layers)
    found = set()
    later = [range(net.sizes[l]) for l in range(layer + 1, depth + 1)]
    for chosen in itertools.product(*later):
        neurons = [j, *chosen]
        edges = {f"W{layer}_{i}_{j}"} | {f"W{layer + k + 1}_{a}_{b}" for k, (a, b) in
                                           enumerate(zip(neurons, neurons[1:]))}
        if net.layers[-1].act.elementwise:
            found.add(frozenset(edges | {f"loss{neurons[-1]}"}))
        else:  # the top neuron's z reaches every output of the softmax
            found |= {frozenset(edges | {f"loss{k}"}) for k in range(net.n_outputs)}
    return found


@pytest.mark.parametrize("name,param", [("2-3-1", "W1[0,1]"), ("2-3-1", "W2[2,0]"), ("softmax", "W1[1,2]"),
                                        ("tanh 3-4-2-2", "W1[2,3]"), ("tanh 3-4-2-2", "W2[1,0]")])
def test_highlighted_paths_are_the_chain_rule_tables_paths(name, param, tmp_path):
    net, x, y = NETWORKS[name]
    ex = explain(net, x, y, param=param)
    layer, i, j = (int(v) for v in re.findall(r"\d+", param))
    expected = routes(net, layer, i, j)
    table = [frozenset(path_members(net, p)[0]) for p in ex.chain.paths]
    # every path of the table is a route, none twice, and no route is missing
    # (a softmax's paths differ in the inner ∂a_k/∂z_j factor, not in their edges)
    assert set(table) == expected
    assert len(table) == len(expected)
    picture = network_picture(ex)
    assert picture.highlighted_edges == frozenset().union(*expected)
    ex.draw(tmp_path / "net.svg")
    root = ET.parse(tmp_path / "net.svg").getroot()
    drawn = {g.get("id")[len("path-"):] for g in root.iter(f"{SVG}g") if (g.get("id") or "").startswith("path-")}
    assert drawn == set(picture.highlighted_edges)


def test_another_weights_paths_can_be_drawn_without_explaining_again(tmp_path):
    net, x, y = NETWORKS["2-3-1"]
    ex = explain(net, x, y)  # W1[0,1] explained
    picture = network_picture(ex, "W2[1,0]")
    assert picture.highlighted_edges == {"W2_1_0", "loss0"}
    assert picture.highlighted_nodes == {"n1_1", "n2_0", "L"}


def test_a_residual_networks_skip_connection_is_drawn_and_lit():
    net = Network([Dense(2, 2, "tanh"), Residual([Dense(2, 2, "tanh")]), Dense(2, 1, "sigmoid")], loss="mse")
    ex = explain(net, [0.5, -0.3], [1.0], param="W1[0,1]")
    picture = network_picture(ex)
    kinds = {e.kind for e in picture.edges}
    assert {"identity", "skip", "weight", "loss"} <= kinds
    # W1[0,1] feeds a1_1, which reaches the block's end both through layer 2 and around it (the skip)
    assert picture.highlighted_edges == {"W1_0_1", "W2_1_0", "W2_1_1", "identity3_0", "identity3_1", "skip3_1",
                                         "W4_0_0", "W4_1_0", "loss0"}
    assert picture.highlighted_nodes == {"x0", "n1_1", "n2_0", "n2_1", "n3_0", "n3_1", "n4_0", "L"}


def test_a_bias_lights_its_neuron_and_its_routes_but_no_edge_of_its_own():
    net, x, y = NETWORKS["2-3-1"]
    picture = network_picture(explain(net, x, y, param="b1[2]"))
    assert picture.highlighted_edges == {"W2_2_0", "loss0"}
    assert picture.highlighted_nodes == {"n1_2", "n2_0", "L"}


def test_a_weight_with_too_many_paths_to_list_lights_its_own_edge_and_says_so(tmp_path):
    from symbackprop.explain.walkthrough import MAX_PATHS
    net = Network([Dense(2, 5, "tanh"), Dense(5, 8, "tanh"), Dense(8, 3, "softmax")], loss="cce")
    ex = explain(net, [0.5, 0.1], 0, param="W1[0,1]")
    assert not ex.chain.paths and ex.chain.paths_omitted > MAX_PATHS  # 8 · 3 · 3 = 72 paths
    picture = network_picture(ex)
    assert picture.highlighted_edges == {"W1_0_1"} and picture.highlighted_nodes == {"x0", "n1_1"}
    ex.draw(tmp_path / "net.svg")
    text = " ".join(line for lines in svg_texts(tmp_path / "net.svg").values() for line in lines)
    assert f"its {ex.chain.paths_omitted} paths are too many to list" in text


@pytest.mark.parametrize("name", ["layer", "2-3-1", "softmax"])
def test_operation_graph_gradients_are_the_derivations(name):
    """Reverse mode over the drawn graph (written in op_graph, not the derivation) gives δ and ∂L/∂w."""
    net, x, y = NETWORKS[name]
    ex = explain(net, x, y)
    graph = op_graph(ex)
    params = teaching_params(net, 0)
    _, grads = symbackprop.compile(net, warm_up=False).loss_and_grad(np.array([x]), np.array([y]), params)
    for l in range(1, len(net.layers) + 1):
        for j in range(net.sizes[l]):
            assert graph.named(f"z{l}_{j}").grad == pytest.approx(grads[f"b{l}"][j], rel=1e-9, abs=1e-12)
            for i in range(net.sizes[l - 1]):  # the L2 penalty is in the loss's graph too
                assert graph.named(f"W{l}_{i}_{j}").grad == pytest.approx(grads[f"W{l}"][i, j], rel=1e-9, abs=1e-12)
    assert graph.named("L").grad == 1.0
    assert graph.named("L").value == pytest.approx(ex.loss.value, rel=1e-12)


def test_operation_graph_is_drawn_with_values_and_refused_when_too_large(tmp_path):
    net, x, y = NETWORKS["2-3-1"]
    ex = explain(net, x, y)
    ex.draw_operations(tmp_path / "ops.svg")
    texts = svg_texts(tmp_path / "ops.svg")
    graph = op_graph(ex)
    assert len(graph.nodes) == 37  # 2 inputs, 9 weights, 4 biases, 1 target, 9 ×, 4 +, 4 σ, the loss's 4
    z = next(n for n in graph.nodes if n.name == "z¹₁")
    assert texts[f"opvalue-{z.id}"] == ["+  → z¹₁", "0.2950"]
    assert_printed(texts[f"opgrad-{z.id}"][0], ex.values[sp.Symbol("d1_1", real=True)])
    wide = Network([Dense(4, 8, "sigmoid"), Dense(8, 3, "softmax")], loss="cce")
    with pytest.raises(ArchitectureError, match=f"more than {MAX_OP_NODES} operations"):
        op_graph(explain(wide, [0.1, 0.2, 0.3, 0.4], 0))


def test_operation_graph_of_a_piecewise_loss_is_one_node_per_where():
    from symbackprop.model.losses import Loss
    huber = Loss("huber_pictured", "where(abs(a - y) <= 1, (a - y)**2 / 2, abs(a - y) - 1/2)")
    net = Network([Dense(2, 2, "tanh"), Dense(2, 1, "identity")], loss=huber)
    ex = explain(net, [0.5, -1.0], [3.0])
    graph = op_graph(ex)
    assert "where" in {n.op for n in graph.nodes}
    params = teaching_params(net, 0)
    _, grads = symbackprop.compile(net, warm_up=False).loss_and_grad(np.array([[0.5, -1.0]]), np.array([[3.0]]),
                                                                     params)
    assert graph.named("W2_1_0").grad == pytest.approx(grads["W2"][1, 0], rel=1e-9)


def test_an_image_network_is_drawn_one_box_per_layer(tmp_path):
    from symbackprop.model.architecture import build_network
    net = build_network("cnn", (1, 8, 8), 10, "relu", "softmax", "cce")
    draw_network(net, tmp_path / "cnn.svg")
    text = " ".join(line for lines in svg_texts(tmp_path / "cnn.svg").values() for line in lines)
    for shown in ("1: Conv2D (relu)", "W1 16×1×3×3", "16×8×8", "4: MaxPool2D", "32×2×2", "6: Dense (softmax)",
                  "1,290 parameters"):
        assert shown in text
    plot = draw_network(net)  # no path: the plot itself, which Jupyter shows
    assert plot._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n" and plot.figure.axes


def test_a_residual_block_is_drawn_with_its_skip_arc(tmp_path):
    net = Network([Dense(2, 2, "tanh"), Residual([Dense(2, 2, "tanh")]), Dense(2, 1, "sigmoid")], loss="mse")
    draw_network(net, tmp_path / "boxes.svg")
    ids = {g.get("id") for g in ET.parse(tmp_path / "boxes.svg").getroot().iter(f"{SVG}g")}
    assert "skip-3" in ids  # the arc from the block's input (layer 1's output) to its end, layer 3


def test_cli_writes_each_picture_and_the_page(tmp_path, capsys):
    out = tmp_path
    assert main(["explain", "--sizes", "2,3,1", "--graph", str(out / "g.png"), "--op-graph", str(out / "o.svg"),
                 "--html", str(out / "p.html")]) == 0
    printed_lines = capsys.readouterr().out.splitlines()
    assert printed_lines == [f"wrote {out / 'g.png'}", f"wrote {out / 'o.svg'}", f"wrote {out / 'p.html'}"]
    assert (out / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "p.html").read_text(encoding="utf-8")
    assert "<math" in page and 'id="edge-W1_0_1"' in page
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", page), "the page must not load anything"
    assert main(["explain", "--arch", "cnn", "--image-shape", "1,8,8", "--outputs", "10",
                 "--graph", str(out / "cnn.svg")]) == 0
    assert (out / "cnn.svg").exists()


@pytest.mark.parametrize("argv,message", [
    (["--graph", "net.txt"], "the file name must end in one of .png, .svg"),
    (["--graph", "missing/net.svg"], "does not exist"),
    (["--markdown", "-o", "same.svg", "--graph", "same.svg"], "the same file for two outputs"),
    (["--sizes", "4,8,3", "--loss", "cce", "--op-graph", "ops.svg"], "too many to draw one by one"),
    (["--arch", "cnn", "--image-shape", "1,8,8", "--outputs", "10", "--html", "p.html"], "--html writes"),
    (["--arch", "cnn", "--image-shape", "1,8,8", "--outputs", "10", "--op-graph", "o.svg"], "--op-graph draws"),
    (["--html", "page.svg"], "give it a name ending in .html"),
    (["--sizes", "8,30,10", "--html", "p.html"], "has 580 parameters (at most 200)"),
])
def test_cli_refuses_a_picture_it_cannot_make_in_one_line(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["explain", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_a_document_to_the_terminal_stays_clean_of_the_wrote_lines(tmp_path, capsys):
    assert main(["explain", "--sizes", "2,3,1", "--graph", str(tmp_path / "g.svg"), "--markdown"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("## Backpropagation, step by step") and "wrote" not in out
    assert err.strip() == f"wrote {tmp_path / 'g.svg'}"


def test_a_network_too_large_for_neurons_is_drawn_one_box_per_layer(tmp_path, capsys):
    assert main(["explain", "--sizes", "8,30,10", "--graph", str(tmp_path / "g.png")]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'g.png'} (one box per layer)"


def test_missing_matplotlib_is_named_with_the_extra(tmp_path, monkeypatch, capsys):
    import sys
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    assert main(["explain", "--graph", str(tmp_path / "g.svg")]) == 2
    assert "--graph needs matplotlib: pip install 'symbackprop[plot]' (in a checkout: pip install -e '.[plot]')" \
        in capsys.readouterr().err
    net, x, y = NETWORKS["2-3-1"]
    with pytest.raises(symbackprop.SymbackpropError, match="drawing .* needs matplotlib"):
        explain(net, x, y).draw()  # in Python too: one named error, not a ModuleNotFoundError
