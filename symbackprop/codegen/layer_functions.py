"""Each layer's forward and backward statements as a function of its own, called by the entry points.

Numba types and optimizes a function once per signature, and a caller links the compiled
callee in rather than optimizing its body again.  When every entry point (``forward``,
``evaluate``, ``loss_and_grad``, ``train_epoch``) held a copy of every layer's loops, each
copy was optimized anew: the README CNN's two training entry points took 14 s to compile.
With one function per layer pass, a layer's loops are compiled once and each entry point
is a short list of calls (measured in ``docs/performance.md``).

A function's arguments are the arrays its statements read or write (work arrays,
parameters, gradients, patch matrices), found by walking its IR; the sizes it uses are
assigned at its top, as the entry points assign them.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import sympy as sp

from . import ir
from .module import entry_point

def names_used(nodes: Iterable[ir.Node]) -> list[str]:
    """Every symbol name the statements mention (arrays by their label), in order of appearance."""
    seen: dict[str, None] = {}
    for expr in ir.expressions(nodes):
        for sym in sorted(expr.free_symbols, key=sp.default_sort_key):
            seen.setdefault(str(sym.base.label) if isinstance(sym, sp.Indexed) else str(sym))
    return list(seen)


def layer_function(name: str, body: Sequence[ir.Node], arrays: Sequence[str],
                   sizes: Sequence[ir.Assign]) -> tuple[ir.KernelFunction, ir.Evaluate]:
    """The function ``name`` running ``body``, and the statement that calls it.

    ``arrays``: the names the caller has bound (its arrays and scalar arguments); those the
    body uses become the function's arguments.  ``sizes``: the caller's size assignments;
    those the body uses are repeated at the function's top (with the arrays they read).
    """
    used = set(names_used(body))
    needed_sizes: list[ir.Assign] = []
    for assignment in sizes:  # in order: a size may be read from an array the body does not name
        if str(assignment.target) in used:
            needed_sizes.append(assignment)
            used |= set(names_used([assignment]))
    ordered = names_used([*needed_sizes, *body])
    arguments = tuple(a for a in arrays if a in used and a in ordered)
    function = entry_point(name, arguments, [*needed_sizes, *body])
    return function, ir.Evaluate(ir.call(name, *(sp.Symbol(a) for a in arguments)))


def binding_codes(arrays: dict[str, int], scalars: Iterable[str], allocations: Iterable[ir.Node]) -> dict[str, str]:
    """The type code (:mod:`.kernel_table`) of every name an entry point binds, from which a
    layer function called by address is compiled.

    ``arrays``: float arrays the entry point is given, with their numbers of axes (the input,
    the targets, the parameters and gradients); ``scalars``: its float arguments (the
    penalties); then whatever ``allocations`` make or view.
    """
    codes = {name: f"f{ndim}" for name, ndim in arrays.items()}
    codes.update({name: "d" for name in scalars})
    for node in allocations:
        if isinstance(node, ir.Allocate):
            codes[str(node.name)] = ("i" if node.dtype == "int64" else "f") + str(len(node.shape))
        elif isinstance(node, ir.FlatView):
            codes[str(node.name)] = codes[str(node.array)][0] + ("2" if node.per_sample else "1")
        elif isinstance(node, ir.Assign) and isinstance(node.value, ir.Reshaped):
            codes[str(node.target)] = codes[str(node.value.args[0])][0] + str(len(node.value.args) - 1)
        elif isinstance(node, ir.Assign) and str(node.value) in codes:  # an alias (a is z)
            codes[str(node.target)] = codes[str(node.value)]
    return codes
