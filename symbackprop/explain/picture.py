"""A drawing of one backprop step as data: where each neuron and weight goes, what it shows.

The static drawing (:mod:`~symbackprop.explain.draw`, matplotlib: SVG or PNG) and the
interactive page (:mod:`~symbackprop.explain.page`) both lay out this record, so the two
cannot disagree on a number or on which edges a weight's gradient flows through.

The highlighted paths are read off the chain rule's own factors
(:attr:`~symbackprop.explain.explanation.ChainRule.paths`): a factor ∂zʳ_q/∂aˡ_k *is* the
edge from neuron k of layer l to neuron q of layer r, so what is drawn is exactly what the
chain-rule table sums, never a second enumeration of the graph.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from ..model.layers import ResidualAdd
from . import notation as nt
from .param_names import param_name_parts, parse_param, user_name

# ``Explanation`` and its records are named in annotations, not imported: explanation.py imports
# this module to draw itself.

#: node id of the loss, the right-most node
LOSS = "L"


@dataclass(frozen=True)
class Node:
    """An input, a neuron or the loss; ``values`` are what its label prints, in order."""

    id: str
    layer: int
    index: int
    label: str
    #: ``(name, value)``: ("z", …), ("a", …), ("δ", …), ("b", …) for a neuron; ("x", …) for an input
    values: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Edge:
    """A weight (``param`` set) or a residual block's identity/skip connection (no weight)."""

    id: str
    source: str
    target: str
    param: str | None = None
    weight: float | None = None
    #: ∂L/∂w
    gradient: float | None = None
    #: "weight", "identity" (a block's output into its end) or "skip" (the block's input)
    kind: str = "weight"


@dataclass(frozen=True)
class NetworkPicture:
    """Columns of nodes (inputs, each layer, the loss) and the edges between them."""

    title: str
    columns: tuple[tuple[Node, ...], ...]
    edges: tuple[Edge, ...]
    #: the parameter whose paths are highlighted (its unrolled name, ``W1_0_1``), if any
    param: str | None
    #: edge ids and node ids on that parameter's paths to the loss
    highlighted_edges: frozenset[str]
    highlighted_nodes: frozenset[str]
    #: how many paths the parameter has, and whether the chain rule listed them (≤ MAX_PATHS)
    paths: int = 0
    paths_listed: bool = True
    #: the loss has an L1/L2 penalty (so ∂L/∂w includes its derivative)
    penalised: bool = False
    #: a layer's activation couples its neurons (softmax: a path may pass from one to another)
    coupled: bool = False

    @property
    def nodes(self) -> tuple[Node, ...]:
        return tuple(n for column in self.columns for n in column)


def neuron_id(layer: int, index: int) -> str:
    """``x0`` for an input (layer 0), ``n1_0`` for neuron 0 of layer 1."""
    return f"x{index}" if layer == 0 else f"n{layer}_{index}"


def edge_id(param: sp.Symbol | str) -> str:
    """A weight's edge id is its unrolled name, ``W1_0_1``."""
    return str(param)


_NEURON = re.compile(r"([az])(\d+)_(\d+)$")


def _neuron_of(symbol: sp.Symbol) -> tuple[int, int] | None:
    m = _NEURON.match(symbol.name)
    return (int(m[2]), int(m[3])) if m else None


def path_members(network, path: "Path") -> tuple[list[str], list[str]]:
    """The edges and the nodes one chain-rule path runs through, from the parameter to the loss.

    Each factor names its own edge: ∂zʳ_q/∂aˡ_k is the weight Wʳ[k,q] (or a residual block's
    identity or skip connection), ∂z/∂W is the parameter's own edge, ∂L/∂a the output's edge
    into the loss; ∂a/∂z stays inside a neuron (between two neurons of a softmax layer).
    """
    edges: list[str] = []
    nodes: list[str] = []
    for f in reversed(path.factors):  # from the parameter up to the loss
        wrt, of = _neuron_of(f.wrt), _neuron_of(f.of)
        if of is not None:
            nodes.append(neuron_id(*of))
        own = param_name_parts(f.wrt.name)
        if f.of.name.startswith("z") and own is not None:  # the parameter's own edge (a bias has none)
            if own[0] == "W":
                edges.append(edge_id(f.wrt))
                nodes.insert(0, neuron_id(own[1] - 1, own[2][0]))
        elif f.of.name.startswith("z") and wrt is not None:
            (l, k), (r, q) = wrt, of
            if isinstance(network.layers[r - 1], ResidualAdd):
                edges.append(f"{'identity' if l == r - 1 else 'skip'}{r}_{q}")
            else:
                edges.append(f"W{r}_{k}_{q}")
        elif f.of.name == "L":
            edges.append(f"loss{wrt[1]}")
            nodes.append(LOSS)
    return edges, list(dict.fromkeys(nodes))


def lit_members(network, chain: "ChainRule") -> tuple[frozenset[str], frozenset[str]]:
    """What to light for ``chain``'s parameter: every edge and node of its listed paths; when
    they were too many to list, its own edge and neuron (the picture and the page agree)."""
    edges: set[str] = set()
    nodes: set[str] = set()
    for path in chain.paths:
        e, n = path_members(network, path)
        edges.update(e)
        nodes.update(n)
    if not chain.paths:
        kind, layer, index = param_name_parts(chain.param.name)
        nodes.add(neuron_id(layer, index[-1]))
        if kind == "W":
            edges.add(edge_id(chain.param))
            nodes.add(neuron_id(layer - 1, index[0]))
    return frozenset(edges), frozenset(nodes)


def network_picture(ex: "Explanation", param: str | None = None) -> NetworkPicture:
    """The picture of ``ex``: inputs, neurons with z, a, δ and b, weights with ∂L/∂w, the loss.

    ``param`` (a user name, ``W1[0,1]``) chooses whose paths are highlighted; the default is
    the explanation's own chosen parameter.
    """
    net, v = ex.network, ex.values
    chain: "ChainRule" = ex.chain if param is None else ex.chains[parse_param(net, param)[0]]
    deltas = {q.symbol.name: q.value for layer in ex.backward for q in layer.deltas}
    inputs = tuple(Node(neuron_id(0, i), 0, i, nt.display_name(f"x{i}"), (("x", value),))
                   for i, value in enumerate(ex.x))
    columns = [inputs]
    for rows in ex.forward:
        column = []
        for r in rows:
            values = [("z", r.z.value), ("a", r.a.value), ("δ", deltas[f"d{r.layer}_{r.neuron}"])]
            if r.bias is not None:
                values.append(("b", r.bias.value))
            column.append(Node(neuron_id(r.layer, r.neuron), r.layer, r.neuron,
                               nt.display_name(f"a{r.layer}_{r.neuron}"), tuple(values)))
        columns.append(tuple(column))
    columns.append((Node(LOSS, len(net.layers) + 1, 0, "L", (("L", ex.loss.value),)),))
    gradient = {g.symbol.name: g.value for layer in ex.backward for g in layer.gradients}
    edges: list[Edge] = []
    for l, layer in enumerate(net.layers, start=1):
        for j in range(net.sizes[l]):
            if isinstance(layer, ResidualAdd):
                edges.append(Edge(f"identity{l}_{j}", neuron_id(l - 1, j), neuron_id(l, j), kind="identity"))
                edges.append(Edge(f"skip{l}_{j}", neuron_id(layer.skip_source(l), j), neuron_id(l, j), kind="skip"))
                continue
            for i in range(net.sizes[l - 1]):
                name = f"W{l}_{i}_{j}"
                symbol = sp.Symbol(name, real=True)
                edges.append(Edge(name, neuron_id(l - 1, i), neuron_id(l, j), user_name(symbol),
                                  v[symbol], gradient[f"dL_d{name}"]))
    depth = len(net.layers)
    edges += [Edge(f"loss{k}", neuron_id(depth, k), LOSS, kind="loss") for k in range(net.n_outputs)]
    lit_edges, lit_nodes = lit_members(net, chain)
    title = f"{net!r}: loss {nt.number(ex.loss.value)}"
    return NetworkPicture(title, tuple(columns), tuple(edges), chain.param.name, lit_edges, lit_nodes,
                          paths=len(chain.paths) or chain.paths_omitted, paths_listed=bool(chain.paths),
                          penalised=bool(net.l1 or net.l2),
                          coupled=any(not layer.act.elementwise for layer in net.layers))
