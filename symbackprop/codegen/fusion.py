"""Loop fusion over the samples: a layer's statements run sample by sample, in one loop.

Lowered one by one, a convolution layer's statements are each a loop over the batch: copy
the windows, multiply, add the bias, apply the activation.  Each pass streams the whole
batch's arrays (3 MB for 16 channels of 28×28 at batch 32) through memory.  Run in one
loop over ``n``, sample ``n``'s arrays (100 KB) stay in cache from one statement to the
next: the layer's memory passes cost what they cost in cache.

Two adjacent sample loops are fused when every array both touch, and one of them writes,
is touched by both only at sample ``n`` (an index ``[n, ...]`` or the view ``X[n]``): then
sample ``n`` of the second statement needs only sample ``n`` of the first, which the fused
loop has computed.  A view assigned between them (``total = gW.reshape(...)``) moves before
the fused loop.  Anything else (a loop over channels, a whole-array statement) ends a run.
The statements inside keep their order, so each sample's arithmetic is unchanged.
"""
from __future__ import annotations

from typing import Sequence

import sympy as sp

from . import ir


def _accesses(node: ir.Node, sample: sp.Symbol) -> tuple[dict[str, bool], set[str]]:
    """``({array: accessed only at [sample, ...]}, arrays written)`` of a statement tree."""
    only: dict[str, bool] = {}
    written: set[str] = set()

    def note(name: str, at_sample: bool) -> None:
        only[name] = only.get(name, True) and at_sample

    def visit(expr, target: bool = False) -> None:
        if expr is None:
            return
        if isinstance(expr, tuple):
            for e in expr:
                visit(e, target)
            return
        expr = sp.sympify(expr)
        if isinstance(expr, sp.Indexed):
            name = str(expr.base.label)
            note(name, expr.indices[0] == sample)
            if target:
                written.add(name)
            for index in expr.indices:
                visit(index)
            return
        if isinstance(expr, ir.Part) and isinstance(expr.args[0], sp.Symbol):
            note(str(expr.args[0]), expr.args[1] == sample)
            if target:
                written.add(str(expr.args[0]))
            return
        if isinstance(expr, sp.Symbol):
            note(str(expr), False)
            if target:
                written.add(str(expr))
            return
        if isinstance(expr, (ir.Reshaped, ir.Transposed, ir.Whole)):  # a view: its array is the target
            visit(expr.args[0], target)
            visit(expr.args[1:])
            return
        for arg in expr.args:
            visit(arg)

    for n in ir.walk([node]):
        if isinstance(n, ir.Assign):
            visit(n.target, True)
            visit(n.value)
        elif isinstance(n, ir.MatMul):
            visit(n.out, True)
            visit((n.left, n.right))
        elif isinstance(n, ir.Branch):
            visit(n.condition)
        elif isinstance(n, ir.Loop):
            visit((n.stop, n.start))
        elif isinstance(n, ir.Evaluate):
            visit(n.call)
    locals_ = {str(n.index) for n in ir.walk([node]) if isinstance(n, ir.Loop)}
    locals_ |= {str(n.target) for n in ir.walk([node]) if isinstance(n, ir.Assign) and isinstance(n.target, sp.Symbol)}
    return {k: v for k, v in only.items() if k not in locals_}, written - locals_


def view_aliases(nodes: Sequence[ir.Node], known: dict[str, str] | None = None) -> dict[str, str]:
    """``known`` and, for each view or alias the statements make (``a2 = z2``, ``d3_rows =
    d3.reshape(...)``, ``total = gW1.reshape(...)``), its name -> the name of the array it views."""
    out = dict(known or {})
    for node in nodes:
        if isinstance(node, ir.FlatView):
            base: sp.Basic = node.array
        elif isinstance(node, ir.Assign) and isinstance(node.target, sp.Symbol) and not node.op:
            base = node.value.args[0] if isinstance(node.value, ir.Reshaped) else node.value
            while isinstance(base, ir.Part):
                base = base.args[0]
        else:
            continue
        if isinstance(base, sp.Symbol):
            out[str(node.name if isinstance(node, ir.FlatView) else node.target)] = out.get(str(base), str(base))
    return out


def _canonical(accesses: tuple[dict[str, bool], set[str]], aliases: dict[str, str]):
    only, written = accesses
    out: dict[str, bool] = {}
    for name, at_sample in only.items():
        base = aliases.get(name, name)
        out[base] = out.get(base, True) and at_sample
    return out, {aliases.get(name, name) for name in written}


def _fusable(first: ir.Node, second: ir.Node, sample: sp.Symbol, aliases: dict[str, str]) -> bool:
    """Every array both touch, and one writes, is touched by both only at ``[sample, ...]``."""
    a_only, a_written = _canonical(_accesses(first, sample), aliases)
    b_only, b_written = _canonical(_accesses(second, sample), aliases)
    for name in set(a_only) & set(b_only):
        if (name in a_written or name in b_written) and not (a_only[name] and b_only[name]):
            return False
    return True


def _independent(first: ir.Node, second: ir.Node, sample: sp.Symbol, aliases: dict[str, str]) -> bool:
    """No array written by one is touched by the other: the two may run in either order."""
    a_only, a_written = _canonical(_accesses(first, sample), aliases)
    b_only, b_written = _canonical(_accesses(second, sample), aliases)
    return not (a_written & set(b_only)) and not (b_written & set(a_only))


def fuse_sample_loops(nodes: Sequence[ir.Node], sample: sp.Symbol, batch: sp.Expr,
                      aliases: dict[str, str] | None = None) -> list[ir.Node]:
    """``nodes`` with each run of fusable loops over ``sample in range(batch)`` made one loop.

    ``aliases``: names of the same memory (``a2`` for ``z2``, ``d3_rows`` for ``d3``) ->
    the array's own name.  A statement between two fusable loops that is independent of the
    first (a comment, a view, the zeroing of a bias gradient) moves before the fused loop.
    """
    aliases = view_aliases(nodes, aliases)  # and the views made here (``total = gW1.reshape(...)``)
    out: list[ir.Node] = []
    group: ir.Loop | None = None
    pending: list[ir.Node] = []  # independent of the group so far: before it if the group grows

    def close() -> None:
        nonlocal group
        if group is not None:
            out.append(group)
        out.extend(pending)
        pending.clear()
        group = None

    for node in nodes:
        is_sample_loop = isinstance(node, ir.Loop) and node.index == sample and node.stop == batch \
            and node.start is None
        if group is not None and is_sample_loop and _fusable(group, node, sample, aliases):
            comments = tuple(p for p in pending if isinstance(p, ir.Comment))  # they stay with their statement
            out.extend(p for p in pending if not isinstance(p, ir.Comment))
            pending.clear()
            group = ir.Loop(sample, batch, group.body + comments + node.body)
        elif group is not None and not is_sample_loop and _independent(group, node, sample, aliases):
            pending.append(node)
        else:
            close()
            if is_sample_loop:
                group = node
            else:
                out.append(node)
    close()
    return out
