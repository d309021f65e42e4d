"""Lowering: index-level statements to loop nests (or BLAS calls) as Python source lines.

A statement ``target[n, j] = expr`` holds for every value of its loop indices.  Lowering
turns it into nested ``for`` loops, with these rewrites, which matter for speed:

* a contraction ``Sum_k A[., k] * B[k, .]`` becomes one BLAS call (``_matmul`` into an
  existing array, :mod:`.blas_product`; ``np.dot`` otherwise), with the operands
  transposed as their index order requires;
* an elementwise statement over whole work arrays of one shape (an activation, its
  derivative times the incoming gradient) becomes one flat loop over their flat views,
  ``a1_flat[e] = f(z1_flat[e])``: one loop instead of one per row, with no short row
  remainder (8 rows of 10 softmax outputs are 10 vectors of 8, not 8 vectors and 16
  scalars); 4% of a 64-16-10 step for ``exp``, 3% more for ReLU and its derivative;
* ``A · Wᵀ`` into an existing array, for a weight ``W`` with a transpose buffer, goes
  through a contiguous copy of ``Wᵀ`` when ``W`` has few columns (see :data:`SMALL_FAN_OUT`);
* a sum over the leading axis of row-major arrays (a bias gradient ``Sum_n d[n, j]``) is
  accumulated row by row into the target, so the inner loop walks contiguous memory
  (summing each column down the rows strides through memory: 27x slower at 128 x 256);
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

from ..model.notation import ArgMax, InRange, loop_bounds, take_brackets
from ..simplify.opcount import cse
from .printer import KernelPrinter

INDENT = "    "

#: ``A · Wᵀ`` for a ``W`` with at most this many columns is computed as a copy of ``Wᵀ``
#: and ``A · copy``.  Measured with OpenBLAS (one thread): BLAS's A·Bᵀ path costs
#: 0.22 µs against 0.16 µs with the copy for 8x10 · 10x16, and 17.9 against 13.4 µs for
#: 128x10 · 10x256; with 64 columns the copy loses (7.1 against 8.4 µs for 32x64 · 64x64).
SMALL_FAN_OUT = 16


@dataclass
class _Item:
    """Lines of code that must run at a given loop depth (0 = before every loop)."""

    level: int
    lines: list[str]


@dataclass
class Lowerer:
    """Turns statements into source lines; one per generated function (it numbers temporaries)."""

    printer: KernelPrinter = field(default_factory=KernelPrinter)
    #: weight name -> name of a buffer of its transpose's shape (the backward pass's ``Wᵀ``)
    transposed: dict[str, str] = field(default_factory=dict)
    #: work arrays the kernel allocates itself, C-contiguous: name -> the code of its extents
    #: (``("B", "m1")``); elementwise statements over whole arrays of one shape run flat
    contiguous: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: arrays whose flat view (:func:`flat_view`) the lines produced so far use
    flat_views: set[str] = field(default_factory=set)
    _ids: itertools.count = field(default_factory=itertools.count)

    def fresh(self, prefix: str) -> sp.Symbol:
        return sp.Symbol(f"_{prefix}{next(self._ids)}")

    # -- public -----------------------------------------------------------------------
    def assign(self, target: sp.Expr, expr: sp.Expr, loops: list[tuple[sp.Symbol, str]],
               into_existing: bool = False) -> list[str]:
        """Lines computing ``target = expr`` for every value of ``loops`` (index, extent code).

        ``into_existing`` says the target array exists already (a gradient buffer passed in
        by the caller); otherwise the lines create it, through ``np.dot`` or ``np.empty``.
        """
        dot = self._as_dot(target, expr, loops, into_existing)
        if dot is not None:
            return dot
        rows = self._as_row_accumulation(target, expr, loops, into_existing)
        if rows is not None:
            return rows
        flat = self._as_flat_loop(target, expr, loops) if into_existing else None
        if flat is not None:
            return flat
        return self._loop_nest(target, expr, loops, allocate=not into_existing)

    # -- contractions -----------------------------------------------------------------------
    def _as_dot(self, target, expr, loops, into_existing) -> list[str] | None:
        if not isinstance(target, sp.Indexed) or len(target.indices) != 2:
            return None
        contraction = next((t for t in sp.Add.make_args(expr) if is_contraction(t)), None)
        if contraction is None:
            return None
        rest = expr - contraction
        t0, t1 = target.indices
        (k, _, _), = contraction.limits
        A, Bm = [f for f in sp.Mul.make_args(contraction.function)]
        if t0 not in A.indices:
            A, Bm = Bm, A
        if t0 not in A.indices or t1 not in Bm.indices:
            return None
        left = self._operand(A, (t0, k))
        right = self._operand(Bm, (k, t1))
        if left is None or right is None:
            return None
        name = self.printer.doprint(target.base)
        # into an existing array: BLAS writes the product in place, no temporary
        weight = self.printer.doprint(Bm.base)
        if into_existing and tuple(Bm.indices) == (t1, k) and weight in self.transposed:  # left · weightᵀ
            lines = self._dot_through_copy(left, weight, self.transposed[weight], name)
        else:
            lines = [f"_matmul({left}, {right}, {name})" if into_existing else f"{name} = np.dot({left}, {right})"]
        if rest != 0:
            lines += self._loop_nest(target, target + rest, loops, allocate=False)
        return lines

    @staticmethod
    def _dot_through_copy(left: str, matrix: str, copy: str, out: str) -> list[str]:
        """``out = left · matrixᵀ``, through the contiguous ``copy`` of ``matrixᵀ`` when ``matrix``
        has at most :data:`SMALL_FAN_OUT` columns (BLAS's A·Bᵀ path is slow for them)."""
        return [f"if {matrix}.shape[1] <= {SMALL_FAN_OUT}:",
                f"    for _ti in range({matrix}.shape[0]):",
                f"        for _tj in range({matrix}.shape[1]):",
                f"            {copy}[_tj, _ti] = {matrix}[_ti, _tj]",
                f"    _matmul({left}, {copy}, {out})",
                "else:",
                f"    _matmul({left}, {matrix}.T, {out})"]

    def _operand(self, M: sp.Indexed, order: tuple) -> str | None:
        name = self.printer.doprint(M.base)
        if tuple(M.indices) == order:
            return name
        if tuple(M.indices) == order[::-1]:
            return f"{name}.T"
        return None

    # -- reductions over rows ------------------------------------------------------------------
    def _as_row_accumulation(self, target, expr, loops, into_existing) -> list[str] | None:
        """``t[.., j] = Sum_k f(X[k, .., j])`` as ``t = 0`` and then, for each ``k``, ``t += f``.

        Applies when the summation index is never an array's last (contiguous) axis and the
        target's last index is the last axis of every array the sum reads: the loop over
        ``k`` then goes outside, and the inner loop runs along rows.  Each entry adds its
        terms in the same order as an accumulator loop would, so the result is the same.
        """
        if not (isinstance(target, sp.Indexed) and loops and isinstance(expr, sp.Sum) and len(expr.limits) == 1):
            return None
        (k, lo, hi), = expr.limits
        body = expr.function
        if lo != 0 or body.has(sp.Sum, ArgMax, InRange):
            return None
        last = target.indices[-1]
        if last != loops[-1][0]:
            return None
        reads = [e for e in body.atoms(sp.Indexed) if k in e.free_symbols]
        if not reads or any(e.indices[-1] != last or k in e.indices[-1].free_symbols for e in reads):
            return None
        extent = self.printer.doprint(hi + 1)
        return (self._loop_nest(target, sp.S.Zero, loops, allocate=not into_existing)
                + self._loop_nest(target, target + body, [(k, extent)] + list(loops), allocate=False))

    # -- elementwise statements over whole arrays -------------------------------------------------
    def _as_flat_loop(self, target, expr, loops) -> list[str] | None:
        """``t[n, j] = f(x[n, j], y[n, j], ...)`` as one loop over the arrays' flat views.

        Applies when the target and every array the expression reads are work arrays of
        :attr:`contiguous` whose extents are the statement's loops, each indexed by exactly
        the loop indices in order, and no index appears outside an array subscript: then
        element ``e`` of every flat view is the same ``(n, j)``.
        """
        if not (isinstance(target, sp.Indexed) and loops) or expr.has(sp.Sum, ArgMax, InRange):
            return None
        index = tuple(var for var, _ in loops)
        extents = tuple(extent for _, extent in loops)
        arrays = [target, *expr.atoms(sp.Indexed)]
        names = [self.printer.doprint(array.base) for array in arrays]
        if any(array.indices != index or self.contiguous.get(name) != extents for array, name in zip(arrays, names)):
            return None
        e = self.fresh("e")
        views = {array: sp.IndexedBase(flat_view(name))[e] for array, name in zip(arrays, names)}
        body = expr.xreplace(views)
        if body.free_symbols & set(index):
            return None
        self.flat_views.update(names)
        return self._loop_nest(views[target], body, [(e, f"{flat_view(names[0])}.size")], allocate=False)

    # -- loop nests ----------------------------------------------------------------------------
    def _loop_nest(self, target, expr, loops, allocate: bool) -> list[str]:
        loop_vars = [v for v, _ in loops]
        items, value = self._lower(expr, loop_vars, {})
        items.append(_Item(len(loops), [f"{self.printer.doprint(target)} = {value}"]))
        lines: list[str] = []
        if allocate and isinstance(target, sp.Indexed):
            extents = dict(loops)
            shape = ", ".join(extents[i] for i in target.indices)
            lines.append(f"{self.printer.doprint(target.base)} = np.empty(({shape},))")
        for depth in range(len(loops) + 1):
            if depth > 0:
                var, extent = loops[depth - 1]
                lines.append(INDENT * (depth - 1) + f"for {self.printer.doprint(var)} in range({extent}):")
            for item in items:
                if item.level == depth:
                    lines += [INDENT * depth + line for line in item.lines]
        return lines

    def _lower(self, expr: sp.Expr, loop_vars: list[sp.Symbol], deps: dict) -> tuple[list[_Item], str]:
        """Items that compute the pieces of ``expr``, and the code of ``expr`` itself.

        ``deps`` maps each temporary already defined to the loop variables it depends on.
        """
        items: list[_Item] = []
        sums: dict[sp.Sum, sp.Symbol] = {}

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
            items.append(_Item(level, [f"{self.printer.doprint(sym)} = {self.printer.doprint(sub)}"]))
        return items, self.printer.doprint(reduced)

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
                items.append(_Item(self._level(e, loop_vars, deps),
                                   [f"{self.printer.doprint(sym)} = {self.printer.doprint(e)}"]))
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
        lines = [f"{acc} = 0.0",
                 f"for {self.printer.doprint(knew)} in range({self.printer.doprint(lo)}, "
                 f"{self.printer.doprint(hi + 1)}):"]
        for item in inner_items:
            if item.level == inside:
                lines += [INDENT + line for line in item.lines]
        lines.append(INDENT + f"{acc} += {value}")
        items.append(_Item(level, lines))
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
        lines = [f"{best} = -math.inf", f"{arg} = 0"]
        position: sp.Expr = sp.S.Zero
        for depth, ((k, lo, hi), name) in enumerate(zip(e.limits, names)):
            later = {lim[0] for lim in e.limits[depth + 1:]}
            condition, brackets = take_brackets(condition, k, later)
            lo, hi = loop_bounds(k, lo, hi, brackets)
            lo, hi = (b.xreplace(renames) for b in (lo, hi))
            lines.append(INDENT * depth + f"for {name} in range({self.printer.doprint(lo)}, "
                                          f"{self.printer.doprint(hi + 1)}):")
            position = position * (e.limits[depth][2] - e.limits[depth][1] + 1) + name
        inner = INDENT * len(names)
        if condition != 1:
            raise NotImplementedError(f"ArgMax condition {condition} is not a set of loop bounds")
        shown = self.printer.doprint(value.xreplace(renames))
        lines += [inner + f"if {shown} > {best}:",
                  inner + INDENT + f"{best} = {shown}",
                  inner + INDENT + f"{arg} = {self.printer.doprint(position)}"]
        deps[arg] = self._vars(e, loop_vars, deps)
        items.append(_Item(self._level(e, loop_vars, deps), lines))
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


def flat_view(name: str) -> str:
    """The name of work array ``name``'s one-dimensional view (made once, where it is allocated)."""
    return f"{name}_flat"


def is_contraction(term: sp.Expr) -> bool:
    """``Sum(A[..] * B[..], (k, 0, K - 1))`` with two 2-D arrays sharing only ``k``."""
    if not isinstance(term, sp.Sum) or len(term.limits) != 1:
        return False
    factors = sp.Mul.make_args(term.function)
    if len(factors) != 2 or not all(isinstance(f, sp.Indexed) and len(f.indices) == 2 for f in factors):
        return False
    k, lo, _ = term.limits[0]
    return lo == 0 and all(list(f.indices).count(k) == 1 for f in factors)
