"""Rewrite rules for max pooling's two derived statements: read the winner, send δ to it.

Max pooling stores each window's winner as a flat position ``am = kw·p + q`` (the
``ArgMax`` statement), and its rules select with a Kronecker delta:

* forward: ``z[n,c,y,x] = Σ_p Σ_q δ(kw·p + q, am[n,c,y,x]) · a[n,c,s·y+p-P, s·x+q-P]``;
* input gradient: ``g[n,c,u,v] = Σ_y Σ_x [0 <= u-s·y+P < kh]·[..]·δ(kw·(u-s·y+P) + (v-s·x+P), am[n,c,y,x]) · d[n,c,y,x]``.

As loops, the forward visits every window element to keep one, and the gradient visits,
for every input element, every window that may hold it.  :func:`window_select` reads the
winner at ``p = am // kw, q = am % kw`` directly; :func:`winner_scatter` zeroes ``g`` and
adds each window's δ at its winner's place (overlapping windows add up, as the sum does).
Both do the sum's arithmetic, so for finite values the numbers are the same.  A window
holding NaN or ±inf makes the step non-finite either way (0·inf in the sum), which
training's finiteness check reports; which non-finite value appears may differ.
"""
from __future__ import annotations

import sympy as sp

from ..model.notation import ArgMax, InRange
from . import ir
from .rewrites import LoweringContext, single_assignment
from .unfold import zeroed


def _delta_split(function: sp.Expr) -> tuple[sp.Expr, sp.Expr, sp.Expr] | None:
    """``(position, winner, rest)`` of ``δ(position, winner) · rest``, the winner an array read."""
    deltas = [f for f in sp.Mul.make_args(function) if isinstance(f, sp.KroneckerDelta)]
    if len(deltas) != 1:
        return None
    first, second = deltas[0].args
    position, winner = (first, second) if isinstance(second, sp.Indexed) else (second, first)
    if not isinstance(winner, sp.Indexed):
        return None
    return position, winner, sp.Mul(*(f for f in sp.Mul.make_args(function) if f is not deltas[0]))


def _selection(expr: sp.Expr) -> tuple[sp.Indexed, int, sp.Expr, sp.Symbol, sp.Symbol] | None:
    """``(am, kw, f, p, q)`` of ``Σ_p Σ_q δ(kw·p + q, am)·f(p, q)`` (p, q from 0), else None."""
    if not isinstance(expr, sp.Sum) or len(expr.limits) != 2:
        return None
    (p, p0, _), (q, q0, q1) = expr.limits
    split = _delta_split(expr.function)
    if split is None or p0 != 0 or q0 != 0:
        return None
    position, winner, rest = split
    width = q1 + 1
    if sp.expand(position - (width * p + q)) != 0 or winner.has(p, q):
        return None
    return winner, width, rest, p, q


def window_select(nest, low: LoweringContext, into_existing: bool) -> list[ir.Node] | None:
    """``t = Σ_p Σ_q δ(kw·p + q, am)·f(p, q)`` as ``t = f(am // kw, am % kw)``."""
    target, expr, loops, op = single_assignment(nest)
    selection = None if op else _selection(expr)
    if selection is None:
        return None
    winner, width, rest, p, q = selection
    value = rest.xreplace({p: ir.FloorDiv(winner, width), q: sp.Mod(winner, width, evaluate=False)})
    return low.allocation(target, loops, into_existing) + low.expand(ir.nest(target, value, loops))


def winner_scatter(nest, low: LoweringContext, into_existing: bool) -> list[ir.Node] | None:
    """``g[.., u, v] = Σ_y Σ_x [..]·δ(kw·e_u + e_v, am[..])·d[..]`` as ``g = 0``, then, for every
    window, ``g[.., u, v] += d`` at the ``u``, ``v`` whose ``e_u``, ``e_v`` the winner names."""
    target, expr, loops, op = single_assignment(nest)
    if op or not into_existing or not isinstance(target, sp.Indexed) or not isinstance(expr, sp.Sum):
        return None
    split = _delta_split(expr.function)
    if split is None:
        return None
    position, winner, rest = split
    brackets = [f for f in sp.Mul.make_args(rest) if isinstance(f, InRange)]
    values = [f for f in sp.Mul.make_args(rest) if not isinstance(f, InRange)]
    if len(values) != 1 or not isinstance(values[0], sp.Indexed) or len(brackets) != 2:
        return None
    value = values[0]
    summed = [k for k, _, _ in expr.limits]
    if any(lo != 0 for _, lo, _ in expr.limits) or tuple(value.indices) != tuple(winner.indices):
        return None
    *outer, u, v = target.indices
    e_u, e_v = (next((b for b in brackets if b.args[0].has(axis)), None) for axis in (u, v))
    if e_u is None or e_v is None or e_u is e_v or any(b.args[1] != 0 for b in (e_u, e_v)):
        return None
    width = e_v.args[2] + 1
    if sp.expand(position - (width * e_u.args[0] + e_v.args[0])) != 0:
        return None
    if e_u.args[0].diff(u) != 1 or e_v.args[0].diff(v) != 1 or e_u.args[0].has(v) or e_v.args[0].has(u):
        return None
    if set(value.indices) != set(outer) | set(summed):
        return None
    place = {u: u - e_u.args[0] + ir.FloorDiv(winner, width), v: v - e_v.args[0] + sp.Mod(winner, width, evaluate=False)}
    scatter: ir.Node = ir.Assign(target.xreplace(place), value, "+")
    extents = {**dict(loops), **{k: hi + 1 for k, _, hi in expr.limits}}
    if any((axis - e.args[0]).as_coeff_Add()[0] != 0 for axis, e in ((u, e_u), (v, e_v))):
        # padding: a window whose real values are all -inf or NaN keeps its first place, which
        # may be padding; the sum sends nothing there, and neither does this
        inside = sp.And(*(sp.And(sp.Ge(where, 0), sp.Le(where, extents[axis] - 1))
                          for axis, where in place.items()))
        scatter = ir.Branch(inside, (scatter,))
    adds = ir.around((scatter,), [(i, extents[i]) for i in value.indices])
    return [ir.Comment(f"each window's error to its winner (max pooling): {target.base.label} = 0, then add"),
            *zeroed(target, adds)]


def winners_and_values(winner, value, low: LoweringContext) -> list[ir.Node] | None:
    """Max pooling's two forward statements in one pass: ``am = argmax`` and ``z`` = the winner.

    ``winner``, ``value``: the ``(target, expr, loops)`` of the ``ArgMax`` statement and of the
    selection that reads it.  With no padding (every window element takes part), the winner's
    value is the running maximum itself, so ``z`` is that maximum and ``am`` where it was first
    reached: the selection's second pass over the windows goes.  The comparison is the same
    strict ``>`` in the same order, so for finite values both arrays are as the two
    statements compute them (an all-NaN window gives -inf here, NaN there: non-finite
    either way).  Padded pooling keeps the two statements.
    (Comparing a row of windows at a time, offsets outside the last axis, measured slower:
    1.85 against 1.35 ms for the README CNN's first pooling at 28×28.)  None if not this pattern.
    """
    (am, argmax, loops), (z, select, z_loops) = winner, value
    if not isinstance(argmax, ArgMax) or len(argmax.limits) != 2 or loops != z_loops:
        return None
    selection = _selection(select)
    (p, p0, p1), (q, q0, q1) = argmax.limits
    element = argmax.function
    if selection is None or p0 != 0 or q0 != 0 or not isinstance(element, sp.Indexed) \
            or element.has(InRange, sp.Piecewise):
        return None
    winner_read, width, rest, sp_, sq = selection
    if winner_read != am or width != q1 + 1 or rest.xreplace({sp_: p, sq: q}) != element:
        return None
    best, arg = low.fresh("best"), low.fresh("arg")
    wins = sp.StrictGreaterThan(element, best, evaluate=False)
    window = (ir.Assign(best, -sp.oo), ir.Assign(arg, sp.S.Zero),
              ir.Loop(p, p1 + 1, (ir.Loop(q, q1 + 1, (
                  ir.Assign(arg, sp.Piecewise((width * p + q, wins), (arg, True))),
                  ir.Assign(best, sp.Piecewise((element, wins), (best, True))))),)),
              ir.Assign(am, arg), ir.Assign(z, best))
    return [ir.Comment("max pooling: each window's maximum and where it is, in one pass"), *ir.around(window, loops)]
