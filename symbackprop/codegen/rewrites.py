"""Rewrite rules of the kernel IR that exist for speed: each takes a statement's plain loop
nest (:func:`.ir.nest`) and returns faster IR for it, or None when it does not apply.

The lowering (:mod:`.lowering`) tries :data:`RULES` in order and expands what none of
them takes.  A rule only reorders or replaces work with the same arithmetic, so the
numbers come out as the plain nest's would (the gradients are checked against PyTorch
and finite differences wherever kernels are):

* :func:`gemm`: a contraction ``Sum_k A[., k] * B[k, .]`` becomes one BLAS call
  (``_matmul`` into an existing array, :mod:`.blas_product`; ``np.dot`` otherwise), with
  the operands transposed as their index order requires; ``A · Wᵀ`` for a narrow
  parameter ``W`` goes through a contiguous copy of ``Wᵀ`` (see :data:`SMALL_FAN_OUT`);
* :func:`row_accumulation`: a sum over the leading axis of row-major arrays (a bias
  gradient ``Sum_n d[n, j]``) is accumulated row by row into the target, so the inner
  loop walks contiguous memory (summing each column down the rows strides through
  memory: 27x slower at 128 x 256);
* :func:`flat_loop`: an elementwise statement over whole work arrays of one shape (an
  activation, its derivative times the incoming gradient) becomes one loop over their
  flat views, ``a1_flat[e] = f(z1_flat[e])``: one loop instead of one per row, with no
  short row remainder (8 rows of 10 softmax outputs are 10 vectors of 8, not 8 vectors
  and 16 scalars); 4% of a 64-16-10 step for ``exp``, 3% more for ReLU and its derivative.
"""
from __future__ import annotations

from typing import Callable, Protocol

import sympy as sp

from ..model.notation import ArgMax, InRange
from . import ir


class LoweringContext(Protocol):
    """What a rule needs of the lowering that calls it (:class:`.lowering.Lowerer`)."""

    parameters: frozenset[str]
    contiguous: dict[str, tuple[sp.Expr, ...]]
    flat_views: set[str]
    row_views: set[str]
    transposed_copies: dict[str, str]
    scratch: dict[str, tuple[tuple[sp.Expr, ...], bool]]
    unfolded: dict[tuple, str]

    def fresh(self, prefix: str) -> sp.Symbol: ...

    def expand(self, nest) -> list[ir.Node]: ...

    def allocation(self, target: sp.Expr, loops, into_existing: bool) -> list[ir.Node]: ...

#: ``A · Wᵀ`` for a ``W`` with at most this many columns is computed as a copy of ``Wᵀ``
#: and ``A · copy``.  Measured with OpenBLAS (one thread): BLAS's A·Bᵀ path costs
#: 0.22 µs against 0.16 µs with the copy for 8x10 · 10x16, and 17.9 against 13.4 µs for
#: 128x10 · 10x256; with 64 columns the copy loses (7.1 against 8.4 µs for 32x64 · 64x64).
SMALL_FAN_OUT = 16


def single_assignment(nodes) -> tuple[sp.Expr, sp.Expr, list[tuple[sp.Symbol, sp.Expr]], str]:
    """``(target, value, loops, op)`` of a nest of plain loops around one assignment."""
    loops = []
    while len(nodes) == 1 and isinstance(nodes[0], ir.Loop) and nodes[0].start is None:
        loops.append((nodes[0].index, nodes[0].stop))
        nodes = nodes[0].body
    if len(nodes) != 1 or not isinstance(nodes[0], ir.Assign):
        raise ValueError("not a loop nest around one assignment")
    return nodes[0].target, nodes[0].value, loops, nodes[0].op


def flat_view(name: str) -> str:
    """The name of work array ``name``'s one-dimensional view (made once, where it is allocated)."""
    return f"{name}_flat"


def rows_view(name: str) -> str:
    """The name of image work array ``name``'s view as one flat row per sample."""
    return f"{name}_rows"


def _name(array: sp.Indexed) -> str:
    return str(array.base.label)


# -- the gemm rule --------------------------------------------------------------------------------
def is_contraction(term: sp.Expr) -> bool:
    """``Sum(A[..] * B[..], (k, 0, K - 1))`` with two 2-D arrays sharing only ``k``."""
    if not isinstance(term, sp.Sum) or len(term.limits) != 1:
        return False
    factors = sp.Mul.make_args(term.function)
    if len(factors) != 2 or not all(isinstance(f, sp.Indexed) and len(f.indices) == 2 for f in factors):
        return False
    k, lo, _ = term.limits[0]
    return lo == 0 and all(list(f.indices).count(k) == 1 for f in factors)


def _operand(M: sp.Indexed, order: tuple) -> sp.Expr | None:
    base = sp.Symbol(_name(M))
    if tuple(M.indices) == order:
        return base
    if tuple(M.indices) == order[::-1]:
        return ir.Transposed(base)
    return None


def gemm(nest, low: LoweringContext, into_existing: bool) -> list[ir.Node] | None:
    """``t[a, b] = Sum_k A[a, k] B[k, b] + rest`` as one BLAS product, then ``t += rest``."""
    target, expr, loops, op = single_assignment(nest)
    if op or not isinstance(target, sp.Indexed) or len(target.indices) != 2:
        return None
    contraction = next((t for t in sp.Add.make_args(expr) if is_contraction(t)), None)
    if contraction is None:
        return None
    rest = expr - contraction
    t0, t1 = target.indices
    (k, _, _), = contraction.limits
    A, Bm = sp.Mul.make_args(contraction.function)
    if t0 not in A.indices:
        A, Bm = Bm, A
    if t0 not in A.indices or t1 not in Bm.indices:
        return None
    left, right = _operand(A, (t0, k)), _operand(Bm, (k, t1))
    if left is None or right is None:
        return None
    out = sp.Symbol(_name(target))
    weight = _name(Bm)
    if into_existing and tuple(Bm.indices) == (t1, k) and weight in low.parameters:  # left · weightᵀ
        copy = low.transposed_copies.setdefault(weight, f"{weight}T")
        nodes = list(through_copy(left, sp.Symbol(weight), sp.Symbol(copy), out))
    else:
        nodes = [ir.MatMul(left, right, out, into_existing)]
    if rest != 0:
        nodes += low.expand(ir.nest(target, target + rest, loops))
    return nodes


def through_copy(left: sp.Expr, matrix: sp.Symbol, copy: sp.Symbol, out: sp.Symbol) -> tuple[ir.Node, ...]:
    """``out = left · matrixᵀ``, through the contiguous ``copy`` of ``matrixᵀ`` when ``matrix``
    has at most :data:`SMALL_FAN_OUT` columns (BLAS's A·Bᵀ path is slow for them)."""
    ti, tj = ir.symbols("_ti", "_tj")
    transpose = ir.Loop(ti, ir.Dim(matrix, 0), (ir.Loop(tj, ir.Dim(matrix, 1), (
        ir.Assign(sp.IndexedBase(copy)[tj, ti], sp.IndexedBase(matrix)[ti, tj]),)),))
    return (ir.Branch(sp.Le(ir.Dim(matrix, 1), SMALL_FAN_OUT), (transpose, ir.MatMul(left, copy, out)),
                      (ir.MatMul(left, ir.Transposed(matrix), out),)),)


# -- sums over rows ---------------------------------------------------------------------------------
def row_accumulation(nest, low: LoweringContext, into_existing: bool) -> list[ir.Node] | None:
    """``t[.., j] = Sum_k f(X[k, .., j])`` as ``t = 0`` and then, for each ``k``, ``t += f``.

    Applies when the summation index is never an array's last (contiguous) axis and the
    target's last index is the last axis of every array the sum reads: the loop over
    ``k`` then goes outside, and the inner loop runs along rows.  Each entry adds its
    terms in the same order as an accumulator loop would, so the result is the same.
    """
    target, expr, loops, op = single_assignment(nest)
    if op or not (isinstance(target, sp.Indexed) and loops and isinstance(expr, sp.Sum) and len(expr.limits) == 1):
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
    zero = low.allocation(target, loops, into_existing) + low.expand(ir.nest(target, sp.S.Zero, loops))
    return zero + low.expand(ir.nest(target, target + body, [(k, hi + 1)] + list(loops)))


def sample_accumulation(nest, low: LoweringContext, into_existing: bool) -> list[ir.Node] | None:
    """``t[o] = Σ_n Σ_.. f(X[n, o, ..])`` (a convolution's bias gradient) as ``t = 0`` and then,
    for each sample ``n``, ``t[o] += Σ_.. f(X[n, o, ..])``.

    Applies when the first summation index is the first index of every array the sum
    reads and not one of the target's: each sample's part is then summed in a loop over
    ``n``, which fuses with the layer's other loops over the samples (:mod:`.fusion`).
    """
    target, expr, loops, op = single_assignment(nest)
    if op or not into_existing or not isinstance(target, sp.Indexed) or not isinstance(expr, sp.Sum) \
            or len(expr.limits) < 2:
        return None
    (k, lo, hi), *more = expr.limits
    body = expr.function
    reads = body.atoms(sp.Indexed)
    if lo != 0 or k in target.indices or not reads or any(r.indices[0] != k for r in reads) \
            or body.has(sp.Sum, ArgMax, InRange):
        return None
    zero = low.expand(ir.nest(target, sp.S.Zero, loops))
    return zero + [ir.Loop(k, hi + 1, tuple(low.expand(ir.nest(target, target + sp.Sum(body, *more), loops))))]


# -- elementwise statements over whole arrays ---------------------------------------------------------
def flat_loop(nest, low: LoweringContext, into_existing: bool) -> list[ir.Node] | None:
    """``t[n, j] = f(x[n, j], y[n, j], ...)`` as one loop over the arrays' flat views.

    Applies when the target and every array the expression reads are work arrays of
    :attr:`.lowering.Lowerer.contiguous` whose extents are the statement's loops, each indexed by
    exactly the loop indices in order, and no index appears outside an array subscript:
    then element ``e`` of every flat view is the same ``(n, j)``.
    """
    target, expr, loops, op = single_assignment(nest)
    if op or not into_existing or not (isinstance(target, sp.Indexed) and loops) or expr.has(sp.Sum, ArgMax, InRange):
        return None
    index = tuple(var for var, _ in loops)
    extents = tuple(extent for _, extent in loops)
    arrays = [target, *expr.atoms(sp.Indexed)]
    names = [_name(array) for array in arrays]
    if any(array.indices != index or low.contiguous.get(name) != extents for array, name in zip(arrays, names)):
        return None
    e = low.fresh("e")
    if len(loops) > 2:  # images: one flat row per sample, so that a layer's sample loops fuse (.fusion)
        (sample, batch), *inner = loops
        views = {array: sp.IndexedBase(rows_view(name))[sample, e] for array, name in zip(arrays, names)}
        flat_loops = [(sample, batch), (e, sp.Mul(*(extent for _, extent in inner)))]
        used = low.row_views
    else:
        views = {array: sp.IndexedBase(flat_view(name))[e] for array, name in zip(arrays, names)}
        flat_loops, used = [(e, ir.Length(sp.Symbol(flat_view(names[0]))))], low.flat_views
    body = expr.xreplace(views)
    if body.free_symbols & (set(index) - {flat_loops[0][0]}):  # the per-sample loop keeps its index
        return None
    used.update(names)
    return low.expand(ir.nest(views[target], body, flat_loops))


#: the rules, in the order the lowering tries them
RULES: tuple[Callable[..., list[ir.Node] | None], ...] = (gemm, row_accumulation, sample_accumulation, flat_loop)
