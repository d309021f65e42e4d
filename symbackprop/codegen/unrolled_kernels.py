"""The kernel module of an unrolled derivation (small teaching networks), as kernel IR.

Every scalar of the chain-rule program becomes a local variable inside one loop over the
batch.  That is readable and exact, but the code grows with the number of weights and
Numba's compile time grows faster (a 64-32-10 network would take minutes), so the
index-level kernels are the default and this view is for checking and teaching.
The module has the same entry points (:data:`.abi.ENTRY_POINTS`) as the index-level one.
"""
from __future__ import annotations

import sympy as sp

from ..derive.unrolled import UnrolledDerivation
from ..model import naming
from ..simplify.opcount import cse
from ..simplify.stabilize import logistic_forms
from . import abi, ir
from .calls_by_address import call_by_address
from .module import KernelModule
from .training_kernel import train_epoch

#: the unrolled kernels keep NumPy's default error and math model: their sums are short
DECORATOR = "@njit(cache=True)"


def _program(unrolled: UnrolledDerivation, roles: set[str]) -> list[ir.Node]:
    """The chosen part of the program, CSE'd, each shared piece assigned just before its first use."""
    program = [a for a in unrolled.program if a.role in roles]
    replacements, reduced = cse([logistic_forms(a.expr) for a in program], symbol_prefix="_c")
    pending = dict(replacements)
    out: list[ir.Node] = []

    def emit_needed(expr: sp.Expr) -> None:
        for sym in sorted(expr.free_symbols & pending.keys(), key=str):
            if sym in pending:
                value = pending.pop(sym)
                emit_needed(value)
                out.append(ir.Assign(sym, value))

    net = unrolled.network
    for assignment, expr in zip(program, reduced):
        emit_needed(expr)
        out.append(ir.Assign(assignment.symbol, expr))
        layer = assignment.layer
        width = net.sizes[layer] if layer else 0
        if assignment.role == "z" and net.layers[layer - 1].act.shift_invariant \
                and assignment.symbol.name == naming.scalar(naming.Z, layer, width - 1):
            # all of this layer's z are known: shift them by their max (softmax is shift-invariant)
            zs = [sp.Symbol(naming.scalar(naming.Z, layer, k), real=True) for k in range(width)]
            zmax = sp.Symbol("_zmax")
            out.append(ir.Assign(zmax, zs[0]))
            out += [ir.Assign(zmax, sp.Max(zmax, z, evaluate=False)) for z in zs[1:]]
            out += [ir.Assign(z, zmax, "-") for z in zs]
    return out


def unrolled_module(unrolled: UnrolledDerivation, version: str) -> KernelModule:
    """The unrolled kernel module."""
    net = unrolled.network
    params = list(net.param_shapes())
    depth = len(net.layers)
    n, B, total, out_array = ir.symbols("n", "B", "total", "out")
    a0, Y = sp.IndexedBase("a0"), sp.IndexedBase("Y")
    loads: list[ir.Node] = []
    for name, entries in unrolled.params.items():
        array = sp.IndexedBase(name)
        if len(net.param_shapes()[name]) == 2:
            loads += [ir.Assign(w, array[i, j]) for i, row in enumerate(entries) for j, w in enumerate(row)]
        else:
            loads += [ir.Assign(b, array[j]) for j, b in enumerate(entries)]
    sample_in = [ir.Assign(x, a0[n, i]) for i, x in enumerate(unrolled.inputs)]
    sample_y = [ir.Assign(y, Y[n, k]) for k, y in enumerate(unrolled.targets)]
    outputs = [sp.Symbol(naming.scalar(naming.A, depth, k), real=True) for k in range(net.n_outputs)]

    def accumulate_gradients() -> list[ir.Node]:
        out = []
        for name, entries in unrolled.params.items():
            grad = sp.IndexedBase(naming.gradient(name))
            if len(net.param_shapes()[name]) == 2:
                out += [ir.Assign(grad[i, j], unrolled.gradients[w], "+") for i, row in enumerate(entries)
                        for j, w in enumerate(row)]
            else:
                out += [ir.Assign(grad[j], unrolled.gradients[b], "+") for j, b in enumerate(entries)]
        return out

    def function(name: str, before: list, body: list, after: list) -> ir.KernelFunction:
        return ir.KernelFunction(name, abi.ENTRY_POINTS[name].signature(params), (
            ir.Assign(B, ir.Dim(sp.Symbol("a0"), 0)), *loads, *before, ir.Loop(n, B, tuple(body)), *after), DECORATOR)

    grads = [sp.Symbol(naming.gradient(p)) for p in params]
    everything = {a.role for a in unrolled.program}
    functions = (
        function("forward", [ir.Allocate(out_array, (B, sp.Integer(net.n_outputs)), "float64")],
                 sample_in + _program(unrolled, {"z", "a"})
                 + [ir.Assign(sp.IndexedBase(out_array)[n, k], o) for k, o in enumerate(outputs)],
                 [ir.Return((out_array,))]),
        function("loss", [ir.Assign(total, sp.Float(0.0))],
                 sample_in + sample_y + _program(unrolled, {"z", "a", "loss"})
                 + [ir.Assign(total, sp.Symbol("L", real=True), "+")], [ir.Return((total / B,))]),
        ir.KernelFunction("evaluate", abi.ENTRY_POINTS["evaluate"].signature(params), (ir.Return((
            ir.call("loss", *ir.symbols(*abi.ENTRY_POINTS["loss"].signature(params))),
            ir.call("forward", *ir.symbols(*abi.ENTRY_POINTS["forward"].signature(params))))),), DECORATOR),
        function("loss_and_grad", [*(ir.Assign(ir.Whole(g), sp.Float(0.0)) for g in grads),
                                   ir.Assign(total, sp.Float(0.0))],
                 sample_in + sample_y + _program(unrolled, everything)
                 + [ir.Assign(total, sp.Symbol("L", real=True), "+")] + accumulate_gradients(),
                 [*(ir.Assign(ir.Whole(g), g / B) for g in grads), ir.Return((total / B,))]),
        ir.Comment("---- one epoch of training in one call ----"),
        # this view keeps every intermediate in a local, so no work arrays
        train_epoch(params, 1, [], [ir.Assign(sp.Symbol("L"), ir.call(
            "loss_and_grad", *ir.symbols(*abi.ENTRY_POINTS["loss_and_grad"].signature(params))))]),
    )
    return KernelModule(version, repr(net) + " (unrolled)", "Formulas (one sample)",
                        tuple(str(a) for a in unrolled.program), call_by_address(functions, {}))
