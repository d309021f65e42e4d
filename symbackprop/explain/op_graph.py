"""The per-operation computation graph of one backprop step, as micrograd's ``draw_dot`` shows it.

Every ×, + and power of the forward definitions (z, a and the loss, as the derivation
wrote them) is a node with its value and its gradient ∂L/∂node; every edge carries its
local derivative ∂parent/∂child.  An activation is one node, as in micrograd (its local
derivative is the derivation's own ∂a/∂z).  The gradients are accumulated here by plain
reverse-mode over this graph, so a z node's gradient agreeing with the derivation's δ is
a check of the derivation, not a copy of it.

Only tiny networks: a 2-3-1 network has 37 nodes, and past :data:`MAX_OP_NODES` the
picture is unreadable (draw the network instead).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import sympy as sp

from ..errors import ArchitectureError
from . import notation as nt
from .evaluate import value_of

# ``Explanation`` and its records are named in annotations, not imported: explanation.py imports
# this module to draw itself.

#: the largest graph drawn node by node
MAX_OP_NODES = 100

_ACTIVATION_LABELS = {"sigmoid": "σ", "identity": "id"}


@dataclass(frozen=True)
class OpNode:
    """A leaf (input, target, parameter, constant) or one operation of the forward pass."""

    id: int
    #: what the node does: "×", "+", "^2", "σ", "log", … (a leaf: its name or its number)
    op: str
    #: the derivation's symbol this node computes (z¹₀, a¹₀, L) or is (x₀, W¹₀,₁), if any
    name: str | None
    value: float
    #: ∂L/∂(this node), accumulated over every path from it to the loss
    grad: float
    rank: int
    leaf: bool


@dataclass(frozen=True)
class OpEdge:
    """``child`` feeds ``parent``; ``local`` is ∂parent/∂child at this sample."""

    child: int
    parent: int
    local: float


@dataclass(frozen=True)
class OpGraph:
    nodes: tuple[OpNode, ...]
    edges: tuple[OpEdge, ...]
    title: str

    def named(self, name: str) -> OpNode:
        """The node of a derivation symbol by its unrolled name (``z1_0``, ``W1_0_1``, ``L``)."""
        shown = nt.display_name(name)
        return next(n for n in self.nodes if n.name == shown)


def _op_label(expr: sp.Expr) -> str:
    if isinstance(expr, sp.Add):
        return "+"
    if isinstance(expr, sp.Mul):
        return "×"
    if isinstance(expr, sp.Pow) and expr.exp.is_Number:
        return f"^{nt.unicode(expr.exp)}"
    return type(expr).__name__.lower()


class _Builder:
    def __init__(self, ex: "Explanation"):
        self.values = ex.values
        self.defs: dict[sp.Symbol, sp.Expr] = {}
        self.activation: dict[sp.Symbol, str] = {}
        for rows in ex.forward:
            for r in rows:
                self.defs[r.z.symbol], self.defs[r.a.symbol] = r.z.expr, r.a.expr
                self.activation[r.a.symbol] = r.activation
        self.defs[ex.loss.symbol] = ex.loss.expr
        self.loss = ex.loss.symbol
        self.ops: list[dict] = []
        self.edges: list[tuple[int, int, float]] = []
        self.by_symbol: dict[sp.Symbol, int] = {}

    def node(self, op: str, name: str | None, value: float, leaf: bool) -> int:
        if len(self.ops) >= MAX_OP_NODES:
            raise _TooLarge
        self.ops.append({"op": op, "name": name, "value": value, "leaf": leaf})
        return len(self.ops) - 1

    def symbol(self, s: sp.Symbol) -> int:
        """One node per symbol, shared by every operation that reads it."""
        if s not in self.by_symbol:
            if s not in self.defs:
                self.by_symbol[s] = self.node(nt.display_name(s.name), nt.display_name(s.name), self.values[s], True)
            elif s in self.activation:
                self.by_symbol[s] = self._activation(s)
            else:
                self.by_symbol[s] = self.expr(self.defs[s], name=nt.display_name(s.name))
        return self.by_symbol[s]

    def _activation(self, a: sp.Symbol) -> int:
        name = self.activation[a]
        return self._whole(self.defs[a], _ACTIVATION_LABELS.get(name, name), nt.display_name(a.name))

    def _whole(self, e: sp.Expr, label: str, name: str | None) -> int:
        """``e`` as one node (an activation, a piecewise formula) fed by the symbols it reads."""
        inputs = sorted(e.free_symbols, key=lambda s: s.name)
        children = [self.symbol(s) for s in inputs]
        me = self.node(label, name, _number(e, self.values), False)
        for s, child in zip(inputs, children):
            self.edges.append((child, me, _number(sp.diff(e, s), self.values)))
        return me

    def expr(self, e: sp.Expr, name: str | None = None) -> int:
        if isinstance(e, sp.Symbol):
            return self.symbol(e)
        if e.is_Number:
            return self.node(nt.number(float(e)), None, float(e), True)
        if isinstance(e, sp.Piecewise):  # a formula's where(...): one node, as an activation is
            return self._whole(e, "where", name)
        if isinstance(e, sp.Pow) and e.exp.is_Number:  # x² is one operation on x
            args = [e.base]
        else:
            args = list(e.args)
        children = [self.expr(arg) for arg in args]
        child_values = [self.ops[c]["value"] for c in children]
        dummies = [sp.Dummy(real=True) for _ in args]
        local_form = e.func(*dummies, *([e.exp] if len(args) == 1 and isinstance(e, sp.Pow) else []))
        at = dict(zip(dummies, child_values))
        value = _number(local_form, at)
        me = self.node(_op_label(e), name, value, False)
        for d, child in zip(dummies, children):
            self.edges.append((child, me, _number(sp.diff(local_form, d), at)))
        return me


class _TooLarge(Exception):
    pass


def _number(e: sp.Expr, values: dict) -> float:
    """``e``'s value (the walk-through's evaluation); not finite is refused in one line."""
    result = value_of(e, values)
    if result is None:
        raise ArchitectureError(f"{nt.unicode(e)} is not a finite number at this sample, so the computation "
                                "graph cannot be drawn; explain another input")
    return result


def op_graph(ex: "Explanation") -> OpGraph:
    """The computation graph of ``ex``'s forward pass, with every node's value and ∂L/∂node."""
    b = _Builder(ex)
    try:
        root = b.symbol(b.loss)
    except _TooLarge:
        raise ArchitectureError(f"the computation graph of {ex.network!r} has more than {MAX_OP_NODES} operations, "
                                "too many to draw one by one; draw the network instead "
                                "(explain --graph FILE)") from None
    grads = [0.0] * len(b.ops)
    grads[root] = 1.0
    parents = defaultdict(list)
    for child, parent, local in b.edges:
        parents[parent].append((child, local))
    # nodes are created after their children, so reverse creation order is a reverse topological order
    for node in range(len(b.ops) - 1, -1, -1):
        for child, local in parents[node]:
            grads[child] += grads[node] * local
    ranks = _ranks(len(b.ops), b.edges)
    nodes = tuple(OpNode(k, o["op"], o["name"], o["value"], grads[k], ranks[k], o["leaf"]) for k, o in enumerate(b.ops))
    return OpGraph(nodes, tuple(OpEdge(*e) for e in b.edges),
                   f"{ex.network!r}: each operation with its value and ∂L/∂(node)")


def _ranks(n: int, edges) -> list[int]:
    """Columns left to right, each node as late as its readers allow (one column before its
    first reader): a weight stands beside the product it enters, and the target's
    subtraction beside the loss rather than at the far left."""
    children = defaultdict(list)
    readers = defaultdict(list)
    for child, parent, _ in edges:
        children[parent].append(child)
        readers[child].append(parent)
    rank = [0] * n
    for k in range(n):  # children are created before their parents
        if children[k]:
            rank[k] = 1 + max(rank[c] for c in children[k])
    for k in range(n - 1, -1, -1):  # so parents are settled before their children
        if readers[k]:
            rank[k] = min(rank[p] for p in readers[k]) - 1
    return rank
