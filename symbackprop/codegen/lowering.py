"""Lowering: index-level statements to kernel IR (:mod:`.ir`) -- loop nests and BLAS calls.

A statement ``target[n, j] = expr`` holds for every value of its loop indices.  It starts
as the plain nest (:func:`.ir.nest`: one loop per index around one assignment whose value
may still hold ``Sum`` and ``ArgMax``).  The rewrite rules of :mod:`.rewrites` (the gemm
rule, row accumulation, flat elementwise loops) are tried on that nest in turn; what is
left becomes loops here:

* an index bracket ``[lo <= a*k + b <= hi]`` on a summation index ``k`` (padding, a
  convolution's flipped kernel) becomes the bounds of ``k``'s loop, so no iteration is
  spent outside the image or the kernel;
* an ``ArgMax`` (max pooling) becomes a loop that keeps the first largest value;
* every other ``Sum`` becomes an accumulator loop, placed at the outermost loop level
  where all its free indices are bound (loop-invariant code motion: the softmax
  denominator is computed once per sample, not once per neuron);
* calls (``log``, ``exp``) whose arguments do not change in the innermost loop are
  computed once, outside it;
* common subexpressions of what remains are computed once, also at the outermost level
  their indices allow.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import sympy as sp

from ..model.notation import ArgMax, loop_bounds, take_brackets
from ..simplify.opcount import cse
from . import ir, rewrites, selection, unfold

#: the rewrite rules, in the order they are tried: max pooling's selections and window
#: contractions (convolution) first, then the rules of :mod:`.rewrites`
RULES = (selection.window_select, selection.winner_scatter, unfold.unfolded_product, unfold.scattered_product,
         *rewrites.RULES)


@dataclass
class _Item:
    """Statements that must run at a given loop depth (0 = before every loop)."""

    level: int
    nodes: list[ir.Node]


@dataclass
class Lowerer:
    """Turns statements into IR; one per generated function (it numbers temporaries)."""

    #: 2-D parameter arrays (``W1``, ...): a product with one transposed may go through a copy
    parameters: frozenset[str] = frozenset()
    #: work arrays the kernel allocates itself, C-contiguous: name -> its extents
    #: (``(B, m1)``); elementwise statements over whole arrays of one shape run flat
    contiguous: dict[str, tuple[sp.Expr, ...]] = field(default_factory=dict)
    #: arrays whose flat view (:func:`.rewrites.flat_view`) the statements lowered so far use
    flat_views: set[str] = field(default_factory=set)
    #: image work arrays whose per-sample rows view (:func:`.rewrites.rows_view`) the statements use
    row_views: set[str] = field(default_factory=set)
    #: parameter -> the work array holding its transpose, for those the statements so far use
    transposed_copies: dict[str, str] = field(default_factory=dict)
    #: arrays the rules allocate (patch matrices, products' scratch): name -> (extents, zero-filled)
    scratch: dict[str, tuple[tuple[sp.Expr, ...], bool]] = field(default_factory=dict)
    #: patch matrices made so far: (window read, brackets, axes) -> name, so the kernel gradient
    #: reuses the forward pass's (:mod:`.unfold`)
    unfolded: dict[tuple, str] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=itertools.count)

    def fresh(self, prefix: str) -> sp.Symbol:
        return sp.Symbol(f"_{prefix}{next(self._ids)}")

    # -- public -----------------------------------------------------------------------
    def lower(self, target: sp.Expr, expr: sp.Expr, loops, into_existing: bool = False) -> list[ir.Node]:
        """IR computing ``target = expr`` for every value of ``loops`` (``(index, extent)`` pairs).

        ``into_existing`` says the target array exists already (a buffer the kernel or its
        caller allocated); otherwise the statements create it.
        """
        nest = ir.nest(target, expr, loops)
        for rule in RULES:
            out = rule(nest, self, into_existing)
            if out is not None:
                return out
        return self.allocation(target, loops, into_existing) + self.expand(nest)

    @staticmethod
    def allocation(target: sp.Expr, loops, into_existing: bool) -> list[ir.Node]:
        """The allocation of ``target``'s array, unless it exists already (or is a scalar)."""
        if into_existing or not isinstance(target, sp.Indexed):
            return []
        extents = dict(loops)
        return [ir.Allocate(sp.Symbol(str(target.base.label)), tuple(extents[i] for i in target.indices), "float64")]

    def expand(self, nest) -> list[ir.Node]:
        """A single-assignment loop nest with its sums, arg maxes and shared pieces made into loops."""
        target, expr, loops, op = rewrites.single_assignment(nest)
        loop_vars = [v for v, _ in loops]
        items, value = self._lower(expr, loop_vars, {})
        items.append(_Item(len(loops), [ir.Assign(target, value, op)]))

        def body(depth: int) -> list[ir.Node]:
            nodes = [node for item in items if item.level == depth for node in item.nodes]
            if depth < len(loops):
                var, extent = loops[depth]
                nodes.append(ir.Loop(var, extent, tuple(body(depth + 1))))
            return nodes
        return body(0)

    # -- the pieces of one expression ----------------------------------------------------
    def _lower(self, expr: sp.Expr, loop_vars: list[sp.Symbol], deps: dict) -> tuple[list[_Item], sp.Expr]:
        """Items that compute the pieces of ``expr``, and ``expr`` in terms of them.

        ``deps`` maps each temporary already defined to the loop variables it depends on.
        """
        items: list[_Item] = []
        sums: dict[sp.Expr, sp.Symbol] = {}

        def hoist(e: sp.Expr) -> sp.Expr:  # outermost sums first
            if isinstance(e, (sp.Sum, ArgMax)):
                if e not in sums:
                    lower = self._lower_sum if isinstance(e, sp.Sum) else self._lower_argmax
                    sums[e] = lower(e, loop_vars, deps, items)
                return sums[e]
            return e.func(*(hoist(a) for a in e.args)) if e.args else e

        flat = self._lift_invariant_calls(hoist(expr), loop_vars, deps, items)
        replacements, (reduced,) = cse([flat], symbol_prefix=f"_x{next(self._ids)}_")
        for sym, sub in replacements:
            level = self._level(sub, loop_vars, deps)
            deps[sym] = self._vars(sub, loop_vars, deps)
            items.append(_Item(level, [ir.Assign(sym, sub)]))
        return items, reduced

    def _lift_invariant_calls(self, expr: sp.Expr, loop_vars, deps, items: list[_Item]) -> sp.Expr:
        """Compute ``log``, ``exp`` and other calls once per value of the indices they use.

        ``log(s)`` of a per-sample sum inside a loop over classes would otherwise be
        evaluated once per class; here it becomes a temporary at the sample loop's level.
        """
        innermost = len(loop_vars)
        lifted: dict[sp.Expr, sp.Symbol] = {}
        for e in sp.preorder_traversal(expr):
            if isinstance(e, sp.Function) and e not in lifted and self._level(e, loop_vars, deps) < innermost:
                if any(outer.has(e) for outer in lifted):  # already inside a lifted call
                    continue
                sym = self.fresh("f")
                lifted[e] = sym
                deps[sym] = self._vars(e, loop_vars, deps)
                items.append(_Item(self._level(e, loop_vars, deps), [ir.Assign(sym, e)]))
        return expr.xreplace(lifted) if lifted else expr

    def _lower_sum(self, s: sp.Sum, loop_vars, deps, items: list[_Item]) -> sp.Symbol:
        (k, lo, hi), *more = s.limits
        function, brackets = take_brackets(s.function, k, {lim[0] for lim in more})
        lo, hi = loop_bounds(k, lo, hi, brackets)
        body = function if not more else sp.Sum(function, *more)
        knew = self.fresh("k")
        body = body.xreplace({k: knew})
        inner_vars = loop_vars + [knew]
        inner_items, value = self._lower(body, inner_vars, deps)
        acc = self.fresh("s")
        deps[acc] = self._vars(s, loop_vars, deps)
        level = self._level(s, loop_vars, deps)
        inside = len(inner_vars)
        # body pieces that do not depend on the summation index run before the loop
        for item in inner_items:
            if item.level < inside:
                assert item.level <= level, "a sum body cannot depend on indices the sum does not"
                items.append(item)
        loop_body = [node for item in inner_items if item.level == inside for node in item.nodes]
        loop_body.append(ir.Assign(acc, value, "+"))
        items.append(_Item(level, [ir.Assign(acc, sp.Float(0.0)), ir.Loop(knew, hi + 1, tuple(loop_body), lo)]))
        return acc

    def _lower_argmax(self, e: ArgMax, loop_vars, deps, items: list[_Item]) -> sp.Symbol:
        """A loop nest over the limits keeping the first largest value and its flat position."""
        value, condition = e.function, sp.S.One
        if isinstance(value, sp.Piecewise):  # positions outside the condition take no part
            (value, cond), _ = value.args
            condition = cond.lhs if isinstance(cond, sp.Eq) else cond
        names = [self.fresh("k") for _ in e.limits]
        renames = {lim[0]: name for lim, name in zip(e.limits, names)}
        best, arg = self.fresh("best"), self.fresh("arg")
        position: sp.Expr = sp.S.Zero
        bounds = []
        for depth, ((k, lo, hi), name) in enumerate(zip(e.limits, names)):
            later = {lim[0] for lim in e.limits[depth + 1:]}
            condition, brackets = take_brackets(condition, k, later)
            lo, hi = loop_bounds(k, lo, hi, brackets)
            bounds.append((name, *(b.xreplace(renames) for b in (lo, hi))))
            position = position * (e.limits[depth][2] - e.limits[depth][1] + 1) + name
        if condition != 1:
            raise NotImplementedError(f"ArgMax condition {condition} is not a set of loop bounds")
        shown = value.xreplace(renames)
        # two selects rather than a branch: the winner of random data is unpredictable, and
        # LLVM makes ``a if c else b`` a conditional move (max pooling's forward: 2x faster)
        wins = sp.StrictGreaterThan(shown, best, evaluate=False)
        body: tuple[ir.Node, ...] = (ir.Assign(arg, sp.Piecewise((position, wins), (arg, True))),
                                     ir.Assign(best, sp.Piecewise((shown, wins), (best, True))))
        for name, lo, hi in reversed(bounds):
            body = (ir.Loop(name, hi + 1, body, lo),)
        deps[arg] = self._vars(e, loop_vars, deps)
        items.append(_Item(self._level(e, loop_vars, deps),
                           [ir.Assign(best, -sp.oo), ir.Assign(arg, sp.S.Zero), *body]))
        return arg

    def _vars(self, expr: sp.Expr, loop_vars, deps) -> set:
        free = expr.free_symbols
        out = {v for v in loop_vars if v in free}
        for sym in free:
            out |= deps.get(sym, set())
        return out & set(loop_vars)

    def _level(self, expr: sp.Expr, loop_vars, deps) -> int:
        used = self._vars(expr, loop_vars, deps)
        return max((loop_vars.index(v) + 1 for v in used), default=0)
