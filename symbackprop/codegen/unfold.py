"""Rewrite rules for window contractions -- convolution -- as BLAS products.

A convolution's three derived statements are sums of a product of two array reads, one of
them at window positions (an index like ``y + p - 1``):

* forward: ``z[n,o,y,x] = Σ_{c,p,q} [pad]·W[o,c,p,q]·a[n,c,y+p-1,x+q-1] + b[o]``;
* kernel gradient: ``gW[o,c,p,q] = Σ_{n,y,x} [pad]·a[n,c,y+p-1,x+q-1]·d[n,o,y,x]``;
* input gradient: ``g[n,c,u,v] = Σ_{o,y,x} [kernel]·W[o,c,u-y+1,v-x+1]·d[n,o,y,x]``.

Two rules turn them into matrix products (:func:`batched_product`):

* :func:`unfolded_product` (im2col): the window read is copied once into a patch matrix
  ``U[n,c,p,q,y,x]`` (zero where the window is in the padding); the sum is then a plain
  product per sample, ``z[n] = W · U[n]`` and ``gW += d[n] · U[n]ᵀ``.  The forward pass
  and the kernel gradient read the same window, so the kernel gradient reuses the
  forward's patch matrix (:attr:`.lowering.Lowerer.unfolded`).
* :func:`scattered_product` (col2im): where the *target's* index sits inside a window
  index (``u - y + 1``), that index is renamed ``p = u - y + 1``; the sum over the
  channels is then a product per sample, ``dU[n] = Wᵀ · d[n]``, and ``dU`` is added into
  ``g`` at ``u = p + y - 1``.  This holds at any stride: the stride only scales ``y``.

Every bracket of the statement becomes the bounds of a copy or scatter loop (no
iteration is spent on padding); what no rule takes stays the plain loop nest, so a
statement of another shape is still computed, only not through BLAS.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import sympy as sp

from ..model.notation import ArgMax, InRange, loop_bounds
from . import ir
from .rewrites import LoweringContext, single_assignment


@dataclass(frozen=True)
class _Window:
    """``Σ_limits brackets · plain · windowed`` parsed out of a statement."""

    term: sp.Sum
    plain: sp.Indexed
    windowed: sp.Indexed
    brackets: tuple[InRange, ...]
    summed: tuple[sp.Symbol, ...]


def _is_plain(array: sp.Indexed) -> bool:
    """Every index is a distinct bare variable."""
    return all(isinstance(i, sp.Symbol) for i in array.indices) and len(set(array.indices)) == len(array.indices)


def _window(term: sp.Expr, extents: dict) -> _Window | None:
    if not isinstance(term, sp.Sum) or any(lo != 0 for _, lo, _ in term.limits):
        return None
    arrays, brackets = [], []
    for factor in sp.Mul.make_args(term.function):
        if isinstance(factor, sp.Indexed):
            arrays.append(factor)
        elif isinstance(factor, InRange):
            brackets.append(factor)
        else:
            return None
    if len(arrays) != 2 or _is_plain(arrays[0]) == _is_plain(arrays[1]):
        return None
    plain, windowed = arrays if _is_plain(arrays[0]) else arrays[::-1]
    summed = tuple(k for k, _, _ in term.limits)
    variables = set(extents) | set(summed)
    if windowed.has(sp.Sum, ArgMax) or not _index_symbols(windowed) <= variables | _sizes(windowed):
        return None
    return _Window(term, plain, windowed, tuple(brackets), summed)


def _index_symbols(array: sp.Indexed) -> set:
    return {s for index in array.indices for s in index.free_symbols}


def _sizes(expr: sp.Expr) -> set:
    """Size symbols (positive integers: ``rows0``) an index may name besides variables."""
    return {s for s in expr.free_symbols if isinstance(s, sp.Symbol) and s.is_integer and s.is_positive}


def _extents(loops, term: sp.Sum) -> dict:
    return {**dict(loops), **{k: hi + 1 for k, _, hi in term.limits}}


# -- the batched product -------------------------------------------------------------------------------
def batched_product(out: sp.Indexed, left: sp.Indexed, right: sp.Indexed, summed, extents: dict,
                    low: LoweringContext) -> list[ir.Node] | None:
    """``out[T] = Σ_summed left · right`` (every index a bare variable) as BLAS products.

    The indices split into groups that are runs of adjacent axes: a leading index of the
    target and one operand is a loop over samples (each one product); a leading summed
    index of both operands is a loop whose products are added; then the target is rows
    ``I`` (from one operand) by columns ``J`` (from the other), each operand holding its
    group and the contracted ``K`` in either order (a transposed view).  None when the
    axes do not fall into such runs.
    """
    t, a, b = list(out.indices), list(left.indices), list(right.indices)
    summed = list(summed)
    loop, mode = None, None
    holders = [operand for operand in (a, b) if t and t[0] in operand]
    if t and t[0] not in summed and len(holders) == 1 and holders[0][0] == t[0]:
        loop, mode = t[0], "slice"
    elif a and b and a[0] == b[0] and a[0] in summed and a[0] not in t:
        loop, mode = a[0], "sum"
    t_rest = t[1:] if mode == "slice" else t
    a_rest = a[1:] if loop is not None and a[:1] == [loop] else a
    b_rest = b[1:] if loop is not None and b[:1] == [loop] else b
    k_rest = [k for k in summed if k != loop]
    rows = [i for i in t_rest if i in a_rest]
    cols = [i for i in t_rest if i in b_rest]
    if t_rest != rows + cols:
        if t_rest != cols + rows:
            return None
        a_rest, b_rest, rows, cols, left, right = b_rest, a_rest, cols, rows, right, left
    if not rows or not cols or set(a_rest) != set(rows) | set(k_rest) or set(b_rest) != set(k_rest) | set(cols):
        return None
    inner = [i for i in a_rest if i in k_rest]
    if not inner or inner != [i for i in b_rest if i in k_rest]:
        return None
    if a_rest not in (rows + inner, inner + rows) or b_rest not in (inner + cols, cols + inner):
        return None
    size = {id(group): math.prod(extents[i] for i in group) for group in (rows, inner, cols)}

    def matrix(array: sp.Indexed, axes: list, first: list, second: list) -> sp.Expr:
        """``array`` (one sample of it in a loop) as a ``first × second`` matrix: a view,
        transposed when its axes hold ``second`` before ``first``."""
        whole: sp.Expr = sp.Symbol(str(array.base.label))
        if loop is not None and array.indices[:1] == (loop,):
            whole = ir.Part(whole, loop)
        if axes[:len(first)] == first:
            return ir.Reshaped(whole, size[id(first)], size[id(second)])
        return ir.Transposed(ir.Reshaped(whole, size[id(second)], size[id(first)]))

    A = matrix(left, a_rest, rows, inner)
    Bm = matrix(right, b_rest, inner, cols)
    C = matrix(out, t_rest, rows, cols)
    if mode != "sum":
        product: tuple[ir.Node, ...] = (ir.MatMul(A, Bm, C),)
        return [ir.Loop(loop, extents[loop], product)] if loop is not None else list(product)
    # the products of the samples are added: the first into the target, the others through a scratch matrix
    scratch, total = low.fresh("prod"), low.fresh("sum")
    low.scratch[str(scratch)] = ((size[id(rows)], size[id(cols)]), False)
    r, c = low.fresh("r"), low.fresh("c")
    add = ir.Loop(r, size[id(rows)], (ir.Loop(c, size[id(cols)], (
        ir.Assign(sp.IndexedBase(total)[r, c], sp.IndexedBase(scratch)[r, c], "+"),)),))
    return [ir.Assign(total, C), ir.Loop(loop, extents[loop], (
        ir.Branch(sp.Eq(loop, 0), (ir.MatMul(A, Bm, total),), (ir.MatMul(A, Bm, scratch), add)),))]


# -- copy and scatter loops ------------------------------------------------------------------------------------
def _bounded_nest(statement: ir.Assign, order, extents: dict, brackets) -> tuple[ir.Node, ...] | None:
    """One loop per variable of ``order`` (outermost first) around ``statement``; each bracket
    bounds the loop of the innermost variable it names.  None if a bracket is not linear in it."""
    by_var: dict[sp.Symbol, list[InRange]] = {}
    for bracket in brackets:
        inner = max((order.index(s) for s in bracket.free_symbols if s in order), default=None)
        if inner is None:
            return None
        var = order[inner]
        e = bracket.args[0]
        slope = e.diff(var)
        if not slope.is_Integer or slope == 0 or (e - slope * var).has(var):
            return None
        by_var.setdefault(var, []).append(bracket)
    body: tuple[ir.Node, ...] = (statement,)
    for var in reversed(order):
        if var in by_var:
            lo, hi = loop_bounds(var, sp.S.Zero, extents[var] - 1, by_var[var])
            body = (ir.Loop(var, hi + 1, body, None if lo == 0 else lo),)
        else:
            body = (ir.Loop(var, extents[var], body),)
    return body


def _appearance(array: sp.Indexed) -> list[sp.Symbol]:
    """The variables of ``array``'s indices, left to right (within one index in SymPy's order)."""
    out: list[sp.Symbol] = []
    for index in array.indices:
        for s in sorted(index.free_symbols - _sizes(index), key=sp.default_sort_key):
            if s not in out:
                out.append(s)
    return out


# -- im2col ----------------------------------------------------------------------------------------------
def unfolded_product(nest, low: LoweringContext, into_existing: bool) -> list[ir.Node] | None:
    """``t = Σ [pad]·P·a[window] + rest`` as a patch matrix of ``a``, products, then ``t += rest``.

    The patch matrix's axes: the batch axis, then two runs of axes -- those shared with the
    plain factor ``P`` (in its order) and those of the target (in its order), whichever run
    the window read names first -- so the forward pass (``W[o,c,p,q]``) and the kernel
    gradient (target ``gW[o,c,p,q]``) arrive at the same ``U[n, c,p,q, y,x]``.
    """
    target, expr, loops, op = single_assignment(nest)
    if op or not isinstance(target, sp.Indexed) or not into_existing:
        return None
    for term in sp.Add.make_args(expr):
        extents = _extents(loops, term) if isinstance(term, sp.Sum) else {}
        found = _window(term, extents) if extents else None
        if found is not None:
            break
    else:
        return None
    order = _appearance(found.windowed)
    if not order or not set(order) <= set(extents) or found.windowed.indices[0] != order[0] or \
            any(s not in order for b in found.brackets for s in b.free_symbols - _sizes(b)):
        return None
    batch, rest = order[0], order[1:]
    shared = [i for i in found.plain.indices if i in rest]
    own = [i for i in target.indices if i in rest and i not in shared]
    if set(shared) | set(own) != set(rest):
        return None
    runs = sorted((run for run in (shared, own) if run), key=lambda run: min(rest.index(i) for i in run))
    axes = [batch, *runs[0], *(runs[1] if len(runs) > 1 else [])]
    key = (found.windowed, tuple(sorted(found.brackets, key=sp.default_sort_key)), tuple(axes))
    name = low.unfolded.get(key)
    nodes: list[ir.Node] = []
    if name is None:
        name = f"patches_{found.windowed.base.label}_{len(low.unfolded)}"
        copy = ir.Assign(sp.IndexedBase(name)[tuple(axes)], found.windowed)
        gather = _bounded_nest(copy, axes, extents, found.brackets)
        if gather is None:
            return None
        nodes += [ir.Comment(f"im2col: the windows of {found.windowed.base.label} as a patch matrix "
                             f"{name}[{', '.join(map(str, axes))}] (zero in the padding)"), *gather]
    patches = sp.IndexedBase(name)[tuple(axes)]
    product = batched_product(target, found.plain, patches, found.summed, extents, low)
    if product is None:
        return None
    if key not in low.unfolded:
        low.unfolded[key] = name
        low.scratch[name] = (tuple(extents[i] for i in axes), True)
    else:
        nodes.append(ir.Comment(f"the patch matrix {name} of the forward pass, again"))
    nodes += product
    rest_expr = expr - found.term
    if rest_expr != 0:
        nodes += low.expand(ir.nest(target, target + rest_expr, loops))
    return nodes


# -- col2im ----------------------------------------------------------------------------------------------
def scattered_product(nest, low: LoweringContext, into_existing: bool) -> list[ir.Node] | None:
    """``g[.., u, ..] = Σ [kernel]·W[.., u - y + P, ..]·d[.., y, ..]`` as ``dU = Wᵀ·d`` per sample,
    then ``g[.., p + y - P, ..] += dU[.., p, .., y, ..]``.

    Applies when each window index of the windowed factor holds exactly one target index,
    with slope 1, and a bracket gives that window index's range (the kernel's rows).
    """
    target, expr, loops, op = single_assignment(nest)
    if op or not isinstance(target, sp.Indexed) or not into_existing or not isinstance(expr, sp.Sum):
        return None
    extents = _extents(loops, expr)
    found = _window(expr, extents)
    if found is None:
        return None
    targets = [i for i in target.indices if isinstance(i, sp.Symbol)]
    if len(targets) != len(target.indices):
        return None
    brackets = list(found.brackets)
    renamed, position, offsets = [], {}, []
    for index in found.windowed.indices:
        if isinstance(index, sp.Symbol):
            renamed.append(index)
            continue
        inside = [t for t in targets if index.has(t)]
        if len(inside) != 1 or index.diff(inside[0]) != 1 or inside[0] in position:
            return None
        kernel = next((b for b in brackets if b.args[0] == index), None)
        if kernel is None or kernel.args[1] != 0:
            return None
        brackets.remove(kernel)
        offset = sp.Symbol(str(low.fresh("w")), integer=True, nonnegative=True)
        offsets.append(offset)
        extents[offset] = kernel.args[2] + 1
        position[inside[0]] = offset - (index - inside[0])  # u = p + y - P
        renamed.append(offset)
    if any(b.has(*position) for b in brackets):
        return None
    weights = found.windowed.base[tuple(renamed)]
    scattered = [k for k in found.summed if not weights.has(k)]
    contracted = [k for k in found.summed if weights.has(k)]
    axes = [t for t in target.indices if t not in position] + offsets + [k for k in found.plain.indices
                                                                         if k in scattered]
    if set(axes) != (set(targets) - set(position)) | set(offsets) | set(scattered):
        return None
    spread = sp.IndexedBase(f"spread_{target.base.label}")
    product = batched_product(spread[tuple(axes)], weights, found.plain, contracted, extents, low)
    if product is None:
        return None
    ranges = [InRange(where, 0, extents[t] - 1) for t, where in position.items()]
    into = ir.Assign(target.xreplace(position), spread[tuple(axes)], "+")
    scatter = _bounded_nest(into, axes, extents, ranges + brackets)
    if scatter is None:
        return None
    low.scratch[str(spread.label)] = (tuple(extents[i] for i in axes), False)
    return [*product, ir.Comment(f"col2im: each window's part of {spread.label} added back where it was read"),
            *zeroed(target, scatter)]


def zeroed(target: sp.Indexed, scatter: tuple[ir.Node, ...]) -> list[ir.Node]:
    """``target = 0``, then the ``scatter`` adding into it; per sample when the scatter's outer
    loop is over the target's first (batch) index, so that it fuses with the layer's other
    sample loops (:mod:`.fusion`)."""
    array = sp.Symbol(str(target.base.label))
    outer = scatter[0] if len(scatter) == 1 else None
    if isinstance(outer, ir.Loop) and outer.start is None and outer.index == target.indices[0]:
        zero = ir.Assign(ir.Whole(ir.Part(array, outer.index)), sp.Float(0.0))
        return [ir.Loop(outer.index, outer.stop, (zero, *outer.body))]
    return [ir.Assign(ir.Whole(array), sp.Float(0.0)), *scatter]
