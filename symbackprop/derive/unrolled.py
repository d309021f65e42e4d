"""Unrolled chain rule: every scalar ∂L/∂w of a small network, with named intermediates.

This is the view a student reads.  The network is written out neuron by neuron for one
sample (``x0, x1, ...`` in, ``y0, ...`` targets, ``W1_0_1`` the weight from input 0 to
neuron 1 of layer 1).  The derivation walks the graph backwards, micrograd-style:

* ``g{l}_k = ∂L/∂a{l}_k`` -- for the output layer, SymPy's derivative of the loss;
  below it, ``Σ_j d{l+1}_j · ∂z{l+1}_j/∂a{l}_k`` (a sum over every path), plus the same
  sum over a residual block's end when ``a{l}`` is the block's input (its skip path);
* ``d{l}_j = ∂L/∂z{l}_j = Σ_k g{l}_k · ∂a{l}_k/∂z{l}_j`` (one term unless softmax);
* ``∂L/∂W{l}_i_j = Σ_j' d{l}_j' · ∂z{l}_j'/∂W{l}_i_j`` and the same for biases.

Each local partial ``∂child/∂parent`` is ``sympy.diff`` of the child's definition; the
sums run over the graph's edges, so the chain rule's "sum over paths" is explicit.
Expressions grow with the network, so this view is for small networks; the index-level
derivation serves the rest.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sympy as sp

from ..errors import ArchitectureError
from ..model import naming
from ..model.layers import ResidualAdd
from ..model.notation import L1, L2, Where
from .rewrites import exp_through_ratio, through_output

if TYPE_CHECKING:
    from ..model.network import Network


@dataclass(frozen=True)
class Assignment:
    """``symbol = expr`` in the straight-line program; ``role`` as in the index level."""

    symbol: sp.Symbol
    expr: sp.Expr
    role: str
    layer: int

    def __str__(self) -> str:
        return f"{self.symbol} = {self.expr}"


@dataclass
class UnrolledDerivation:
    """A straight-line program for one sample: forward, loss, then every gradient."""

    network: "Network"
    inputs: list[sp.Symbol]
    targets: list[sp.Symbol]
    params: dict[str, list[list[sp.Symbol]] | list[sp.Symbol]]
    program: list[Assignment]
    loss: sp.Symbol
    #: parameter symbol -> the symbol holding ∂L/∂(parameter)
    gradients: dict[sp.Symbol, sp.Symbol]
    seconds: float
    definitions: dict[sp.Symbol, sp.Expr] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.definitions = {a.symbol: a.expr for a in self.program}

    @property
    def forward(self) -> list[Assignment]:
        return [a for a in self.program if a.role in ("z", "a", "loss")]

    @property
    def backward(self) -> list[Assignment]:
        return [a for a in self.program if a.role not in ("z", "a", "loss")]

    def expand(self, symbol: sp.Symbol) -> sp.Expr:
        """``symbol``'s value written out in inputs, targets and parameters only."""
        expr = self.definitions[symbol]
        previous = None
        while previous != expr:
            previous = expr
            expr = expr.xreplace({s: self.definitions[s] for s in expr.free_symbols if s in self.definitions})
        return expr

    def gradient(self, param: str | sp.Symbol, expanded: bool = False) -> sp.Expr:
        """∂L/∂param, e.g. ``gradient("W1_0_1")``: through the named intermediates, or
        written out in inputs, targets and parameters only with ``expanded=True``."""
        name = param if isinstance(param, str) else param.name
        by_name = {p.name: g for p, g in self.gradients.items()}
        if name not in by_name:
            raise KeyError(f"no parameter {name!r}; parameters are named like "
                           f"{', '.join(list(by_name)[:3])}, ...")
        return self.expand(by_name[name]) if expanded else self.definitions[by_name[name]]

    def __str__(self) -> str:
        return "\n".join(str(a) for a in self.program)

    def __repr__(self) -> str:
        from .display import one_line
        return one_line("UnrolledDerivation", self.network, {"forward": len(self.forward),
                                                             "backward assignments": len(self.backward)}, self.seconds)

    def _repr_html_(self) -> str:
        from .display import equations_html
        return equations_html(f"Unrolled chain rule for {self.network!r}",
                              ((a.role, a.symbol, a.expr) for a in self.program))


def _sym(name: str) -> sp.Symbol:
    return sp.Symbol(name, real=True)


def derive_unrolled(network: "Network") -> UnrolledDerivation:
    """Write out the chain rule for every weight and bias of ``network`` (one sample)."""
    if not network.unrollable:
        raise ArchitectureError("the unrolled view writes out every weight of a network of Dense layers (and "
                                f"residual blocks of them), neuron by neuron; {network!r} has other layers: use "
                                "the index-level derivation")
    start = time.perf_counter()
    sizes = network.sizes
    depth = len(network.layers)
    inputs = [_sym(f"x{i}") for i in range(sizes[0])]
    targets = [_sym(f"y{k}") for k in range(sizes[-1])]
    program: list[Assignment] = []
    params: dict = {}
    #: each boundary's values, the inputs first (a skip connection reads one further back)
    boundary = [inputs]
    zs, acts, weights = [], [], []
    for l, layer in enumerate(network.layers, start=1):
        a_prev, width = boundary[-1], sizes[l]
        z = [_sym(naming.scalar(naming.Z, l, j)) for j in range(width)]
        a = [_sym(naming.scalar(naming.A, l, j)) for j in range(width)]
        if isinstance(layer, ResidualAdd):
            skip = boundary[layer.skip_source(l)]
            program += [Assignment(z[j], a_prev[j] + skip[j], "z", l) for j in range(width)]
        else:
            W = [[_sym(naming.scalar("W", l, i, j)) for j in range(width)] for i in range(len(a_prev))]
            b = [_sym(naming.scalar("b", l, j)) for j in range(width)]
            params[naming.parameter("W", l)], params[naming.parameter("b", l)] = W, b
            weights += [w for row in W for w in row]
            for j in range(width):
                program.append(Assignment(z[j], sp.Add(*(a_prev[i] * W[i][j] for i in range(len(a_prev)))) + b[j],
                                          "z", l))
        for j in range(width):
            program.append(Assignment(a[j], _activation(layer.act, z, j), "a", l))
        zs.append(z), acts.append(a)
        boundary.append(a)
    definitions = {p.symbol: p.expr for p in program}

    # the loss of one sample, in the output activations
    A, Yb = sp.IndexedBase("A"), sp.IndexedBase("Yb")
    loss_expr = network.loss.expression(A, Yb, 0, sizes[-1]).doit()
    loss_expr = loss_expr.xreplace({A[0, k]: acts[-1][k] for k in range(sizes[-1])}
                                   | {Yb[0, k]: targets[k] for k in range(sizes[-1])})
    loss_expr = loss_expr.replace(lambda e: isinstance(e, Where), lambda e: e.as_piecewise())
    # the regularisation penalty over every weight (not the biases)
    reg = sp.S.Zero
    if network.l1 > 0:
        reg += L1 * sp.Add(*(sp.Abs(w) for w in weights))
    if network.l2 > 0:
        reg += L2 / 2 * sp.Add(*(w**2 for w in weights))
    L = _sym("L")
    program.append(Assignment(L, loss_expr + reg, "loss", 0))

    gradients: dict[sp.Symbol, sp.Symbol] = {}
    deltas: dict[int, list[sp.Symbol]] = {}
    g = [_sym(naming.scalar(naming.INCOMING, depth, k)) for k in range(sizes[-1])]
    for k, gk in enumerate(g):
        program.append(Assignment(gk, sp.diff(loss_expr, acts[-1][k]), "grad_output", depth))
    for l in range(depth, 0, -1):
        layer = network.layers[l - 1]
        z, a = zs[l - 1], acts[l - 1]
        a_in = boundary[l - 1]
        d = deltas[l] = [_sym(naming.scalar(naming.DELTA, l, j)) for j in range(sizes[l])]
        for j in range(sizes[l]):
            terms = [g[k] * local_partial(layer.act, definitions, a, z, k, j) for k in range(sizes[l])]
            program.append(Assignment(d[j], sp.Add(*terms), "delta", l))
        if naming.parameter("W", l) in params:
            W, b = params[naming.parameter("W", l)], params[naming.parameter("b", l)]
            # ∂z_j'/∂W_ij from SymPy; only z_j holds W_ij, so the sum over j' has one path
            for i in range(len(a_in)):
                for j in range(sizes[l]):
                    gsym = _sym(naming.partial(naming.scalar("W", l, i, j)))
                    local = d[j] * sp.diff(definitions[z[j]], W[i][j]) + sp.diff(reg, W[i][j])
                    program.append(Assignment(gsym, local, "grad_W", l))
                    gradients[W[i][j]] = gsym
            for j in range(sizes[l]):
                gsym = _sym(naming.partial(naming.scalar("b", l, j)))
                program.append(Assignment(gsym, d[j] * sp.diff(definitions[z[j]], b[j]), "grad_b", l))
                gradients[b[j]] = gsym
        if l > 1:
            # every layer that reads a{l-1} sends error back: this one, and a skip connection's end
            readers = network.readers(l - 1)
            g = [_sym(naming.scalar(naming.INCOMING, l - 1, i)) for i in range(len(a_in))]
            for i in range(len(a_in)):
                paths = [deltas[r][j] * sp.diff(definitions[zs[r - 1][j]], a_in[i])
                         for r in readers for j in range(sizes[r])]
                program.append(Assignment(g[i], sp.Add(*paths), "grad_input", l))
    return UnrolledDerivation(network, inputs, targets, params, program, L, gradients, time.perf_counter() - start)


def _activation(act, z: list[sp.Symbol], j: int) -> sp.Expr:
    if act.elementwise:
        return act.scalar(z[j])
    Z = sp.IndexedBase("Z")
    n = sp.Symbol("n", integer=True)
    expr = act.expression(Z, n, j, len(z)).doit()
    return expr.xreplace({Z[n, k]: z[k] for k in range(len(z))})


def local_partial(act, definitions, a: list[sp.Symbol], z: list[sp.Symbol], k: int, j: int) -> sp.Expr:
    """∂a_k/∂z_j from SymPy, written through the activations where that is exact.

    Public because :mod:`symbackprop.explain.walkthrough` writes the same factor on every
    chain-rule path it lists, so the explanation shows what the derivation used."""
    raw = sp.diff(definitions[a[k]], z[j])
    if raw == 0:
        return raw
    if act.elementwise:
        u = sp.Dummy("u", real=True)
        return through_output(raw, z[j], a[j], act.scalar(u), u)
    # softmax: exp(z_m) = a_m * S, with S the shared denominator
    out = exp_through_ratio(raw, sp.exp(z[k]) / definitions[a[k]],
                            lambda arg: a[z.index(arg)] if arg in z else None)
    return raw if out is None else sp.factor(out)
