"""Index-level chain rule: the rule of one generic neuron of each layer.

For a dense layer ``l`` with inputs ``a{l-1}``, the model gives two definitions for the
generic sample ``n`` and neuron ``j``::

    z{l}[n, j] = Sum_i a{l-1}[n, i] * W{l}[i, j] + b{l}[j]
    a{l}[n, j] = f(z{l}[n, j])            (softmax: a function of the whole row)

and the loss gives ``L = 1/B * Sum_n loss(a{L}[n, :], Y[n, :])``.  Backprop names the
error ``d{l}[n, j] = dL/dz{l}[n, j]`` and ``g{l}[n, j] = dL/da{l}[n, j]``; everything else
is SymPy's derivative of these definitions, collapsed with :func:`collapse_deltas`:

* ``d{L}`` of the output layer: ``d loss / d z`` of the loss composed with the output
  activation (so softmax + cross-entropy comes out as ``a - y``);
* ``d{l}`` of a hidden layer: ``d/dz`` of ``Sum_k g{l}[n, k] * a{l}[n, k]`` (a
  vector-Jacobian product, ``g * f'(z)`` for elementwise ``f``);
* ``gW{l}[i, j]``, ``gb{l}[j]`` and ``g{l-1}[n, i]``: ``d/dW``, ``d/db`` and ``d/da{l-1}``
  of ``Sum_n Sum_j d{l}[n, j] * z{l}[n, j]``.

The symbolic work is the same for a layer of 3 neurons and one of 3,000: widths are
symbols (``m0 .. mL``, batch ``B``), and the code generator turns each rule into loops or
``np.dot``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sympy as sp

from .symbolic import assert_same_function, collapse_deltas, exp_through_ratio, factor_sums, through_output

if TYPE_CHECKING:
    from ..model.network import Network

# generic indices: sample n, input i, neuron j
n, i, j = sp.symbols("n i j", integer=True, nonnegative=True)
#: the batch size
B = sp.Symbol("B", integer=True, positive=True)
#: the targets
Y = sp.IndexedBase("Y")
#: L1 and L2 regularisation coefficients (kernel arguments, so changing them does not recompile)
L1, L2 = sp.symbols("l1 l2", nonnegative=True)


def width(l: int) -> sp.Symbol:
    """Width symbol of layer ``l`` (``m0`` is the number of inputs)."""
    return sp.Symbol(f"m{l}", integer=True, positive=True)


@dataclass(frozen=True)
class Statement:
    """``target = expr`` for every value of the loop indices.

    ``loops`` lists ``(index, extent)`` pairs: the statement holds for
    ``0 <= index < extent``.  ``role`` says what the value is (``z``, ``a``, ``delta``,
    ``grad_W``, ``grad_b``, ``grad_input``, ``loss``); ``layer`` is 1-based (0 for the loss).
    """

    target: sp.Expr
    expr: sp.Expr
    loops: tuple[tuple[sp.Symbol, sp.Expr], ...]
    role: str
    layer: int

    def equation(self) -> sp.Eq:
        return sp.Eq(self.target, self.expr, evaluate=False)

    def __str__(self) -> str:
        return f"{self.target} = {self.expr}"


@dataclass
class LayerRule:
    """The chain-rule pieces of one layer, for reading (the kernels use the statements)."""

    layer: int
    activation: str
    z: Statement
    a: Statement
    delta: Statement
    grad_W: Statement
    grad_b: Statement
    grad_input: Statement | None
    #: local partial derivatives of one neuron: dz/dW, dz/db, dz/da_prev, da/dz
    local: dict[str, sp.Expr] = field(default_factory=dict)


@dataclass
class IndexDerivation:
    """Stage 2's value: index-level statements for the forward pass, loss and gradients."""

    network: "Network"
    layers: list[LayerRule]
    loss: Statement
    #: the per-sample loss written through the output layer's ``z`` (for stable logs)
    loss_through_z: sp.Expr
    seconds: float
    #: the regularisation part of the loss (zero without L1/L2)
    penalty: sp.Expr = sp.S.Zero

    @property
    def forward(self) -> list[Statement]:
        out: list[Statement] = []
        for rule in self.layers:
            out += [rule.z, rule.a]
        return out

    @property
    def backward(self) -> list[Statement]:
        out: list[Statement] = []
        for rule in reversed(self.layers):
            out += [rule.delta, rule.grad_W, rule.grad_b]
            if rule.grad_input is not None:
                out.append(rule.grad_input)
        return out

    def statements(self) -> list[Statement]:
        return self.forward + [self.loss] + self.backward

    def extents(self) -> dict[sp.Symbol, int]:
        """Concrete values of the width symbols for this network (the batch ``B`` excluded)."""
        return {width(l): size for l, size in enumerate(self.network.sizes)}

    def __str__(self) -> str:
        return "\n".join(str(s) for s in self.statements())


def _bases(l: int) -> dict[str, sp.IndexedBase]:
    return {name: sp.IndexedBase(f"{name}{l}") for name in ("z", "a", "d", "g", "b", "gW", "gb")} | {
        "W": sp.IndexedBase(f"W{l}", real=True),  # real: d|W|/dW = sign(W)
        "a_prev": sp.IndexedBase(f"a{l - 1}"), "g_prev": sp.IndexedBase(f"g{l - 1}")}


def penalty(network: "Network", W: sp.IndexedBase, m_in: sp.Expr, m_out: sp.Expr) -> sp.Expr:
    """``l1 * Σ|W| + l2/2 * ΣW²`` for one weight matrix, with the terms the network asks for."""
    limits = ((i, 0, m_in - 1), (j, 0, m_out - 1))
    out = sp.S.Zero
    if network.l1 > 0:
        out += L1 * sp.Sum(sp.Abs(W[i, j]), *limits)
    if network.l2 > 0:
        out += L2 / 2 * sp.Sum(W[i, j] ** 2, *limits)
    return out


def derive_index_level(network: "Network") -> IndexDerivation:
    """Derive the generic-neuron chain rule for every layer of ``network``."""
    start = time.perf_counter()
    depth = len(network.layers)
    rules: list[LayerRule] = []
    loss_stmt = None
    loss_through_z = None
    total_penalty = sp.S.Zero
    for l, layer in enumerate(network.layers, start=1):
        s = _bases(l)
        m_in, m_out = width(l - 1), width(l)
        act = layer.act
        z_expr = sp.Sum(s["a_prev"][n, i] * s["W"][i, j], (i, 0, m_in - 1)) + s["b"][j]
        a_expr = act.expression(s["z"], n, j, m_out)
        u = sp.Dummy("u", real=True)
        f_u = act.scalar(u) if act.elementwise else None
        checks = {m_in: 3, m_out: 4, n: 0, j: 1, i: 2, B: 2}

        # -- the error d = dL/dz of this layer's neurons ------------------------------------
        if l == depth:
            delta_expr, loss_stmt, loss_through_z = _output_delta(network, s, a_expr, f_u, u, m_out, checks)
        else:
            delta_expr = _hidden_delta(act, s, a_expr, f_u, u, m_out, checks)

        # -- parameter and input gradients from d ----------------------------------------------
        p, q = sp.Dummy("p", integer=True), sp.Dummy("q", integer=True)
        proxy = sp.Sum(sp.Sum(s["d"][n, j] * z_expr, (j, 0, m_out - 1)), (n, 0, B - 1))
        layer_penalty = penalty(network, s["W"], m_in, m_out)
        total_penalty += layer_penalty
        gW = factor_sums(collapse_deltas(sp.diff(proxy + layer_penalty, s["W"][p, q]))).subs(
            {p: i, q: j}, simultaneous=True)
        gb = factor_sums(collapse_deltas(sp.diff(proxy, s["b"][q]))).subs(q, j)
        n2 = sp.Dummy("n", integer=True)
        g_in = collapse_deltas(sp.diff(proxy, s["a_prev"][n2, p])).subs({n2: n, p: i}, simultaneous=True)

        local = {
            "dz/dW": collapse_deltas(sp.diff(z_expr, s["W"][p, j])).subs(p, i),
            "dz/db": collapse_deltas(sp.diff(z_expr, s["b"][j])),
            "dz/da_prev": collapse_deltas(sp.diff(z_expr, s["a_prev"][n, p])).subs(p, i),
        }
        if f_u is not None:
            local["da/dz"] = through_output(sp.diff(f_u, u).subs(u, s["z"][n, j]), s["z"][n, j], s["a"][n, j], f_u, u)

        rules.append(LayerRule(
            layer=l, activation=act.name,
            z=Statement(s["z"][n, j], z_expr, ((n, B), (j, m_out)), "z", l),
            a=Statement(s["a"][n, j], a_expr, ((n, B), (j, m_out)), "a", l),
            delta=Statement(s["d"][n, j], delta_expr, ((n, B), (j, m_out)), "delta", l),
            grad_W=Statement(s["gW"][i, j], gW, ((i, m_in), (j, m_out)), "grad_W", l),
            grad_b=Statement(s["gb"][j], gb, ((j, m_out),), "grad_b", l),
            grad_input=(Statement(s["g_prev"][n, i], g_in, ((n, B), (i, m_in)), "grad_input", l)
                        if l > 1 else None),
            local=local,
        ))
    assert loss_stmt is not None and loss_through_z is not None
    if total_penalty != 0:
        loss_stmt = Statement(loss_stmt.target, loss_stmt.expr + total_penalty, (), "loss", 0)
    return IndexDerivation(network, rules, loss_stmt, loss_through_z, time.perf_counter() - start, total_penalty)


def _hidden_delta(act, s, a_expr, f_u, u, m_out, checks) -> sp.Expr:
    """``d[n, j]`` of a hidden layer from the incoming gradient ``g[n, j] = dL/da[n, j]``."""
    zj, aj = s["z"][n, j], s["a"][n, j]
    if f_u is not None:
        # elementwise: a[n, k] depends on z[n, j] only for k == j, so the sum over k is one term
        raw = s["g"][n, j] * sp.diff(f_u, u).subs(u, zj)
        return through_output(raw, zj, aj, f_u, u)
    k = sp.Dummy("k", integer=True)
    vjp = sp.Sum(s["g"][n, k] * a_expr.subs(j, k), (k, 0, m_out - 1))
    raw = collapse_deltas(sp.diff(vjp, zj))
    rewritten = _softmax_through_output(raw, s, a_expr, m_out)
    assert_same_function(raw, _back_to_z(rewritten, s["a"], a_expr), checks, f"{act.name} vector-Jacobian product")
    return rewritten


def _back_to_z(expr: sp.Expr, a_base: sp.IndexedBase, a_expr: sp.Expr) -> sp.Expr:
    """Replace every ``a[n, k]`` by the activation's definition (for checking rewrites)."""
    return expr.replace(lambda e: isinstance(e, sp.Indexed) and e.base == a_base,
                        lambda e: a_expr.subs(j, e.indices[1]))


def _softmax_through_output(expr: sp.Expr, s, a_expr: sp.Expr, m_out) -> sp.Expr:
    """Replace ``exp(z[n, k]) / Sum_s exp(z[n, s])`` by ``a[n, k]`` wherever it occurs."""
    denominator = 1 / a_expr * sp.exp(s["z"][n, j])  # the Sum in the softmax definition
    if not isinstance(denominator, sp.Sum):
        return expr
    z, a = s["z"], s["a"]
    out = exp_through_ratio(expr, denominator,
                            lambda arg: a[arg.indices] if isinstance(arg, sp.Indexed) and arg.base == z else None)
    return expr if out is None else out


def _output_delta(network, s, a_expr, f_u, u, m_out, checks):
    """``d[n, j]`` of the output layer (including the batch mean's ``1/B``) and the loss."""
    loss = network.loss
    a_out = s["a"]
    per_sample = loss.expression(a_out, Y, n, m_out)
    # the loss written through z: every a[n, k] replaced by its definition
    through_z = _back_to_z(per_sample, a_out, a_expr)
    zj, aj = s["z"][n, j], s["a"][n, j]
    if f_u is not None:
        # dloss/da from SymPy, times f'(z): the chain rule through an elementwise map
        dl_da = collapse_deltas(sp.diff(per_sample, aj))
        raw = dl_da * sp.diff(f_u, u).subs(u, zj)
        delta = through_output(raw.subs(aj, f_u.subs(u, zj)), zj, aj, f_u, u)
        if delta.has(zj) and not raw.has(sp.log):
            delta = raw  # not invertible (ReLU): keep a and z as they are
        assert_same_function(raw.subs(aj, f_u.subs(u, zj)), delta.subs(aj, f_u.subs(u, zj)), checks,
                             f"output error of {loss.name} after {network.layers[-1].activation}")
    else:
        raw = collapse_deltas(sp.diff(through_z, zj))
        delta = _softmax_through_output(raw, s, a_expr, m_out)
        assert_same_function(raw, _back_to_z(delta, a_out, a_expr), checks,
                             f"output error of {loss.name} after softmax")
    delta = sp.factor_terms(delta) / B
    loss_stmt = Statement(sp.Symbol("L"), sp.Sum(per_sample, (n, 0, B - 1)) / B, (), "loss", 0)
    return delta, loss_stmt, through_z
