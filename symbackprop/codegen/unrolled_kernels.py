"""Kernel module source from an unrolled derivation (small teaching networks).

Every scalar of the chain-rule program becomes a local variable inside one loop over the
batch.  That is readable and exact, but the code grows with the number of weights and
Numba's compile time grows faster (a 64-32-10 network would take minutes), so the
index-level kernels are the default and this view is for checking and teaching.
The module has the same entry points as the index-level one.
"""
from __future__ import annotations

import sympy as sp

from ..derive.unrolled import UnrolledDerivation
from ..simplify.opcount import cse
from .index_kernels import comment, module_header
from .lowering import INDENT
from .printer import KernelPrinter
from .training_kernel import training_source


def _program_lines(unrolled: UnrolledDerivation, roles: set[str], printer: KernelPrinter) -> list[str]:
    """The chosen part of the program, CSE'd, each shared piece emitted just before its first use."""
    program = [a for a in unrolled.program if a.role in roles]
    replacements, reduced = cse([a.expr for a in program], symbol_prefix="_c")
    pending = dict(replacements)
    lines: list[str] = []

    def emit_needed(expr: sp.Expr) -> None:
        for sym in sorted(expr.free_symbols & pending.keys(), key=str):
            if sym in pending:
                value = pending.pop(sym)
                emit_needed(value)
                lines.append(f"{printer.doprint(sym)} = {printer.doprint(value)}")

    net = unrolled.network
    for assignment, expr in zip(program, reduced):
        emit_needed(expr)
        lines.append(f"{printer.doprint(assignment.symbol)} = {printer.doprint(expr)}")
        layer = assignment.layer
        if assignment.role == "z" and net.layers[layer - 1].act.shift_invariant \
                and assignment.symbol.name.endswith(f"_{net.layers[layer - 1].fan_out - 1}"):
            # all of this layer's z are known: shift them by their max (softmax is shift-invariant)
            names = [f"z{layer}_{j}" for j in range(net.layers[layer - 1].fan_out)]
            lines.append(f"_zmax = {names[0]}")
            lines += [f"_zmax = max(_zmax, {name})" for name in names[1:]]
            lines += [f"{name} -= _zmax" for name in names]
    return lines


def generate_unrolled_module(unrolled: UnrolledDerivation, version: str) -> str:
    """Python source of the unrolled kernel module."""
    net = unrolled.network
    printer = KernelPrinter()
    depth = len(net.layers)
    params = ", ".join(f"W{l}, b{l}" for l in range(1, depth + 1))
    grads = ", ".join(f"gW{l}, gb{l}" for l in range(1, depth + 1))
    formulas = "\n".join(f"#   {comment(str(a))}" for a in unrolled.program)

    loads = []
    for name, entries in unrolled.params.items():
        if name.startswith("W"):
            loads += [f"{w} = {name}[{i}, {j}]" for i, row in enumerate(entries) for j, w in enumerate(row)]
        else:
            loads += [f"{b} = {name}[{j}]" for j, b in enumerate(entries)]
    sample_in = [f"{x} = a0[n, {i}]" for i, x in enumerate(unrolled.inputs)]
    sample_y = [f"{y} = Y[n, {k}]" for k, y in enumerate(unrolled.targets)]
    outputs = [f"a{depth}_{k}" for k in range(net.n_outputs)]

    forward = _program_lines(unrolled, {"z", "a"}, printer)
    with_loss = _program_lines(unrolled, {"z", "a", "loss"}, printer)
    everything = _program_lines(unrolled, {a.role for a in unrolled.program}, printer)

    def grad_accumulate() -> list[str]:
        out = []
        for l in range(1, depth + 1):
            for i, row in enumerate(unrolled.params[f"W{l}"]):
                for j, w in enumerate(row):
                    out.append(f"gW{l}[{i}, {j}] += {unrolled.gradients[w]}")
            for j, b in enumerate(unrolled.params[f"b{l}"]):
                out.append(f"gb{l}[{j}] += {unrolled.gradients[b]}")
        return out

    def fn(signature: str, before: list[str], body: list[str], after: list[str]) -> list[str]:
        return (["@njit(cache=True)", f"def {signature}:", INDENT + "B = a0.shape[0]"]
                + [INDENT + line for line in loads + before]
                + [INDENT + "for n in range(B):"]
                + [INDENT * 2 + line for line in body]
                + [INDENT + line for line in after] + ["", ""])

    out = [module_header(version, repr(net) + " (unrolled)", formulas), "", ""]
    out += fn(f"forward(a0, {params})", [f"out = np.empty((B, {net.n_outputs}))"],
              sample_in + forward + [f"out[n, {k}] = {name}" for k, name in enumerate(outputs)], ["return out"])
    out += fn(f"loss(a0, Y, {params}, l1, l2)", ["total = 0.0"],
              sample_in + sample_y + with_loss + ["total += L"], ["return total / B"])
    out += ["@njit(cache=True)", f"def evaluate(a0, Y, {params}, l1, l2):",
            INDENT + f"return loss(a0, Y, {params}, l1, l2), forward(a0, {params})", "", ""]
    zero = [f"g{p}{l}[...] = 0.0" for l in range(1, depth + 1) for p in ("W", "b")]
    scale = [f"g{p}{l}[...] = g{p}{l} / B" for l in range(1, depth + 1) for p in ("W", "b")]
    out += fn(f"loss_and_grad(a0, Y, {params}, {grads}, l1, l2)", zero + ["total = 0.0"],
              sample_in + sample_y + everything + ["total += L"] + grad_accumulate(), scale + ["return total / B"])
    # the fused training loop: this view keeps every intermediate in a local, so no work arrays
    out.append(training_source(params, grads, 1, [], [f"L = loss_and_grad(a0, Y, {params}, {grads}, l1, l2)"]))
    return "\n".join(out).rstrip() + "\n"
