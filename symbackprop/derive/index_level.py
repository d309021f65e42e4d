"""Index-level chain rule: the rule of one generic element of each layer.

Each layer's forward rule comes from the layer itself (:meth:`Layer.forward_rule
<symbackprop.model.layers.Layer.forward_rule>`); for a dense layer ``l`` with
inputs ``a{l-1}`` the model gives, for the generic sample ``n`` and neuron ``j``::

    z{l}[n, j] = Sum_i a{l-1}[n, i] * W{l}[i, j] + b{l}[j]
    a{l}[n, j] = f(z{l}[n, j])            (softmax: a function of the whole row)

(a convolution's ``z{l}[n, o, y, x]`` sums over input channels and kernel offsets), and the
loss gives ``L = 1/B * Sum_n loss(a{L}[n, :], Y[n, :])``.  Backprop names the error
``d{l} = dL/dz{l}`` and ``g{l} = dL/da{l}``; everything else is SymPy's derivative of
these definitions, collapsed with :func:`collapse_deltas`:

* ``d{L}`` of the output layer: ``d loss / d z`` of the loss composed with the output
  activation (so softmax + cross-entropy comes out as ``a - y``);
* ``d{l}`` of a hidden layer: ``d/dz`` of ``Sum_k g{l}[n, k] * a{l}[n, k]`` (a
  vector-Jacobian product, ``g * f'(z)`` for elementwise ``f``);
* the parameter gradients ``gW{l}``, ``gb{l}`` and the input gradient ``g{l-1}``:
  ``d/dW``, ``d/db`` and ``d/da{l-1}`` of ``Sum over every z element of d{l} * z{l}``.

The symbolic work is the same for a layer of 3 neurons and one of 3,000: sizes are
symbols (``m0 .. mL``, ``C1``, ``rows1``, batch ``B``), and the code generator turns each
rule into loops or ``np.dot``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import sympy as sp

from ..model import naming
from ..model.layers import Buffer, ForwardRule, Layer
from ..model.network import Network
from ..model.notation import B, L1, L2, Y, boundary_dims, i, j, n, summed, width, without_piecewise
from .rewrites import assert_same_function, collapse_deltas, exp_through_ratio, factor_sums, through_output

__all__ = ["B", "IndexDerivation", "L1", "L2", "LayerRule", "Statement", "Y", "derive_index_level", "dims",
           "forward_rule", "i", "j", "n", "width"]


def dims(network: Network, l: int) -> tuple[sp.Symbol, ...]:
    """The size symbols of boundary ``l`` of ``network`` (``(m_l,)`` or ``(C_l, rows_l, cols_l)``)."""
    return boundary_dims(network.shapes[l], l)


def forward_rule(network: Network, l: int) -> ForwardRule:
    """The forward rule of layer ``l`` (1-based), as the layer writes it where it sits."""
    return network.forward_rule(l)


@dataclass(frozen=True)
class Statement:
    """``target = expr`` for every value of the loop indices.

    ``loops`` lists ``(index, extent)`` pairs: the statement holds for
    ``0 <= index < extent``.  ``role`` says what the value is (``argmax``, ``z``, ``a``,
    ``delta``, ``grad_<parameter>`` such as ``grad_W``, ``grad_input``, ``loss``); ``layer`` is 1-based (0
    for the loss).
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
    """The chain-rule pieces of one layer (pooling and Flatten have no parameter gradients)."""

    layer: int
    activation: str
    #: the layer the rules belong to (``explain`` reads what each rule means from it)
    kind: Layer
    z: Statement
    a: Statement
    delta: Statement
    #: parameter name (``W``, ``b``, a layer kind's own) -> the statement of its gradient
    grads: dict[str, Statement]
    grad_input: Statement | None
    #: statements the forward rule needs before ``z`` (max pooling's arg max)
    before: list[Statement] = field(default_factory=list)
    #: the arrays those statements write, with their dtypes
    buffers: list[Buffer] = field(default_factory=list)

    @property
    def forward(self) -> list[Statement]:
        return [*self.before, self.z, self.a]

    @property
    def is_identity(self) -> bool:
        """``a`` is ``z`` (identity activation, pooling, Flatten): the kernels share the buffer."""
        return self.a.expr == self.z.target.base[self.a.target.indices]

    @property
    def delta_is_gradient(self) -> bool:
        """``d`` is the incoming gradient ``g`` unchanged (identity activation): the kernels share the buffer."""
        incoming = sp.IndexedBase(naming.array(naming.INCOMING, self.layer))
        return self.delta.expr == incoming[self.delta.target.indices]

    @property
    def is_reshape(self) -> bool:
        """``z`` is the input read in row-major order into a matrix (Flatten): the kernels use a view
        of the input as ``z`` and of the incoming gradient as the input's gradient, and copy nothing."""
        target, value, loops = self.z.target, self.z.expr, self.z.loops
        if self.grads or not self.is_identity or not self.delta_is_gradient or len(target.indices) != 2:
            return False
        if not isinstance(value, sp.Indexed) or tuple(value.indices) != tuple(index for index, _ in loops):
            return False
        position = sp.S.Zero
        for index, extent in loops[1:]:
            position = position * extent + index
        return target.indices[0] == loops[0][0] and sp.expand(target.indices[1] - position) == 0

    @property
    def backward(self) -> list[Statement]:
        return [s for s in (self.delta, *self.grads.values(), self.grad_input) if s is not None]

    @property
    def grad_W(self) -> Statement | None:
        return self.grads.get("W")

    @property
    def grad_b(self) -> Statement | None:
        return self.grads.get("b")


@dataclass
class IndexDerivation:
    """Stage 2's value: index-level statements for the forward pass, loss and gradients."""

    network: Network
    layers: list[LayerRule]
    loss: Statement
    #: the per-sample loss written through the output layer's ``z`` (for stable logs)
    loss_through_z: sp.Expr
    seconds: float
    #: the regularisation part of the loss (zero without L1/L2)
    penalty: sp.Expr = sp.S.Zero

    @property
    def forward(self) -> list[Statement]:
        return [s for rule in self.layers for s in rule.forward]

    @property
    def backward(self) -> list[Statement]:
        return [s for rule in reversed(self.layers) for s in rule.backward]

    def statements(self) -> list[Statement]:
        return self.forward + [self.loss] + self.backward

    def extents(self) -> dict[sp.Symbol, int]:
        """Concrete values of the size symbols for this network (the batch ``B`` excluded)."""
        return {symbol: size for l, shape in enumerate(self.network.shapes)
                for symbol, size in zip(dims(self.network, l), shape)}

    def __str__(self) -> str:
        return "\n".join(str(s) for s in self.statements())

    def __repr__(self) -> str:
        from .display import one_line
        return one_line("IndexDerivation", self.network, {"forward": len(self.forward), "loss": 1,
                                                          "backward statements": len(self.backward)}, self.seconds)

    def _repr_html_(self) -> str:
        from .display import equations_html
        return equations_html(f"Index-level chain rule for {self.network!r}",
                              ((f"layer {s.layer} {s.role}" if s.layer else s.role, s.target, s.expr)
                               for s in self.statements()))


def penalty(network: Network, W: sp.IndexedBase, index: tuple[sp.Symbol, ...], loops) -> sp.Expr:
    """``l1 * Σ|W| + l2/2 * ΣW²`` for one weight array, with the terms the network asks for."""
    out = sp.S.Zero
    if network.l1 > 0:
        out += L1 * summed(sp.Abs(W[index]), *loops)
    if network.l2 > 0:
        out += L2 / 2 * summed(W[index] ** 2, *loops)
    return out


def derive_index_level(network: Network) -> IndexDerivation:
    """Derive the generic-element chain rule for every layer of ``network``."""
    start = time.perf_counter()
    depth = len(network.layers)
    rules: list[LayerRule] = []
    loss_stmt = None
    loss_through_z = None
    total_penalty = sp.S.Zero
    forward_rules = {l: forward_rule(network, l) for l in range(1, depth + 1)}
    proxies = {l: summed(sp.IndexedBase(naming.array(naming.DELTA, l))[r.z_target.indices] * r.z_expr, *r.z_loops)
               for l, r in forward_rules.items()}
    for l, layer in enumerate(network.layers, start=1):
        rule = forward_rules[l]
        z, a, d, g = (sp.IndexedBase(naming.array(kind, l)) for kind in (naming.Z, naming.A, naming.DELTA,
                                                                          naming.INCOMING))
        act = layer.act
        out = rule.out
        if len(out) == 2:
            a_expr = act.expression(z, n, j, width(l))
        else:
            a_expr = act.scalar(z[out])
        u = sp.Dummy("u", real=True)
        f_u = act.scalar(u) if act.elementwise else None
        checks = {width(l - 1): 3, width(l): 4, n: 0, j: 1, i: 2, B: 2}

        # -- the error d = dL/dz of this layer's outputs -------------------------------------
        if l == depth:
            delta_expr, loss_stmt, loss_through_z = _output_delta(network, l, a_expr, f_u, u, width(l), checks)
        else:
            delta_expr = _hidden_delta(act, l, out, a_expr, f_u, u, width(l), checks)

        # -- parameter and input gradients from d: d/d(element) of Sum d * z ------------------
        proxy = proxies[l]
        grads: dict[str, Statement] = {}
        for name, (base, index, loops) in rule.params.items():
            extra = penalty(network, base, index, loops) if name in type(layer).regularized else sp.S.Zero
            total_penalty += extra
            value = factor_sums(_derivative(proxy + extra, base, index))
            target = sp.IndexedBase(naming.gradient(naming.parameter(name, l)))[index]
            grads[name] = Statement(target, value, loops, f"grad_{name}", l)
        grad_input = None
        if l > 1:
            # every layer that reads a{l-1} sends error back to it (a skip connection's too)
            a_in = sp.IndexedBase(naming.array(naming.A, l - 1))
            readers = [proxies[k] for k in network.readers(l - 1) if k != l]
            value = factor_sums(_derivative(sp.Add(proxy, *readers), a_in, rule.input_index))
            grad_input = Statement(sp.IndexedBase(naming.array(naming.INCOMING, l - 1))[rule.input_index], value,
                                   rule.input_loops, "grad_input", l)

        rules.append(LayerRule(
            layer=l, activation=act.name, kind=layer,
            z=Statement(rule.z_target, rule.z_expr, rule.z_loops, "z", l),
            a=Statement(a[out], a_expr, rule.out_loops, "a", l),
            delta=Statement(d[out], delta_expr, rule.out_loops, "delta", l),
            grads=grads, grad_input=grad_input,
            before=[Statement(target, expr, loops, "argmax", l) for target, expr, loops in rule.before],
            buffers=list(rule.buffers),
        ))
    assert loss_stmt is not None and loss_through_z is not None
    if total_penalty != 0:
        loss_stmt = Statement(loss_stmt.target, loss_stmt.expr + total_penalty, (), "loss", 0)
    return IndexDerivation(network, rules, loss_stmt, loss_through_z, time.perf_counter() - start, total_penalty)


def _derivative(expr: sp.Expr, base: sp.IndexedBase, index: tuple[sp.Symbol, ...]) -> sp.Expr:
    """``d expr / d base[index]``, deltas collapsed, written in the names ``index``.

    SymPy differentiates by a fresh element ``base[_p, _q, ...]``; the names are put back
    afterwards.  A sum left in the result that runs over one of those names (a user's
    bilinear rule sums over ``i`` twice) has its index renamed first (``i`` -> ``i2``).
    """
    fresh = tuple(sp.Dummy(str(name), integer=True, nonnegative=True) for name in index)
    value = collapse_deltas(sp.diff(expr, base[fresh]))
    taken = {str(name) for name in index} | {str(e) for e in value.atoms(sp.Symbol, sp.IndexedBase)}

    def rename(s: sp.Sum) -> sp.Sum:
        for k, *_ in s.limits:
            if k in index:
                number = 2
                while f"{k}{number}" in taken:  # by name: the kernel prints names, not assumptions
                    number += 1
                taken.add(f"{k}{number}")
                s = s.xreplace({k: sp.Symbol(f"{k}{number}", integer=True, nonnegative=True)})
        return s

    value = value.replace(lambda e: isinstance(e, sp.Sum) and any(lim[0] in index for lim in e.limits), rename)
    return value.subs(dict(zip(fresh, index)), simultaneous=True)


def _hidden_delta(act, l, out, a_expr, f_u, u, m_out, checks) -> sp.Expr:
    """``d[out]`` of a hidden layer from the incoming gradient ``g[out] = dL/da[out]``."""
    s = _bases(l)
    zj, aj = s["z"][out], s["a"][out]
    if f_u is not None:
        # elementwise: a[n, k] depends on z[n, j] only for k == j, so the sum over k is one term
        raw = s["g"][out] * sp.diff(f_u, u).subs(u, zj)
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


def _bases(l: int) -> dict[str, sp.IndexedBase]:
    return {kind: sp.IndexedBase(naming.array(kind, l)) for kind in (naming.Z, naming.A, naming.INCOMING)}


def _output_delta(network, l, a_expr, f_u, u, m_out, checks):
    """``d[n, j]`` of the output layer (including the batch mean's ``1/B``) and the loss."""
    s = _bases(l)
    loss = network.loss
    a_out = s["a"]
    per_sample = loss.expression(a_out, Y, n, m_out)
    # the loss written through z: every a[n, k] replaced by its definition
    # (the activation's branches as Where: this sits inside the batch's Sum, see notation.Where)
    through_z = without_piecewise(_back_to_z(per_sample, a_out, a_expr))
    zj, aj = s["z"][n, j], s["a"][n, j]
    if f_u is not None:
        # dloss/da from SymPy, times f'(z): the chain rule through an elementwise map.  It is
        # taken in real-valued arrays, so a user's |a - y| differentiates to sign(a - y)
        # rather than through re() and im()
        real = {a_out: sp.IndexedBase(a_out.label, real=True), Y: sp.IndexedBase(Y.label, real=True)}
        real_loss = loss.expression(real[a_out], real[Y], n, m_out)
        dl_da = collapse_deltas(sp.diff(real_loss, real[a_out][n, j])).xreplace({v: k for k, v in real.items()})
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
                             f"output error of {loss.name} after {network.layers[-1].activation}")
    delta = sp.factor_terms(delta) / B
    loss_stmt = Statement(sp.Symbol("L"), sp.Sum(per_sample, (n, 0, B - 1)) / B, (), "loss", 0)
    return delta, loss_stmt, through_z
