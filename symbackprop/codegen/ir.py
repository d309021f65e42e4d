"""The kernel IR: the statements of a generated kernel as a tree, between lowering and printing.

Lowering (:mod:`.lowering`) turns index-level statements into these nodes, rewrites
(:mod:`.rewrites`: the gemm rule, flat elementwise loops, row accumulation) are functions
from nodes to nodes, and the :class:`~.printer.KernelPrinter` prints them -- so a test
can assert on the structure of what was generated, and no stage pastes source text.

Leaves are SymPy expressions (indices, array elements, arithmetic), printed by the same
printer; the few things a kernel needs that SymPy has no node for are the small
functions below (:class:`Dim` for ``a.shape[k]``, :class:`Call` for a kernel call, ...).
Statements are frozen dataclasses; a body is a tuple of statements.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterator, Union

import sympy as sp
from sympy.logic.boolalg import BooleanFunction


# -- expression leaves SymPy lacks -------------------------------------------------------------
class Dim(sp.Function):
    """``array.shape[axis]``: an extent read from an array at run time."""

    nargs = 2
    is_integer = True
    is_positive = True


class Length(sp.Function):
    """``array.size``: the number of elements of an array (a flat loop's extent)."""

    nargs = 1
    is_integer = True
    is_nonnegative = True


class Whole(sp.Function):
    """``array[...]``: every element of an array, as the target of an assignment."""

    nargs = 1


class Transposed(sp.Function):
    """``array.T``: a transposed view, as a BLAS operand."""

    nargs = 1


class Part(sp.Function):
    """``array[i]``: the sub-array at index ``i`` of the leading axis (a view: one sample)."""

    nargs = 2


class Rows(sp.Function):
    """``array[lo:hi]``: rows ``lo`` to ``hi - 1`` of the leading axis (a view: part of a batch)."""

    nargs = 3


class Reshaped(sp.Function):
    """``array.reshape((rows, cols))``: a contiguous array (or ``Part``) seen as a matrix, a view."""

    nargs = 3


class FloorDiv(sp.Function):
    """``a // b`` on integers."""

    nargs = 2
    is_integer = True


class Call(sp.Function):
    """``name(args...)``: a call of a kernel function (the first argument is its name, a Symbol)."""


class IsFinite(BooleanFunction):
    """``math.isfinite(value)``."""

    nargs = 1


def call(name: str, *args) -> Call:
    """``name(*args)`` as an expression."""
    return Call(sp.Symbol(name), *args)


def symbols(*names: str) -> tuple[sp.Symbol, ...]:
    """Plain kernel variables (no assumptions): names of arrays and scalars of the generated code."""
    return tuple(sp.Symbol(name) for name in names)


# -- statements ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Assign:
    """``target = value``, or ``target op= value`` (``op`` is ``+``, ``-``, ``*``, ``/``)."""

    target: sp.Basic
    value: sp.Basic
    op: str = ""


@dataclass(frozen=True)
class Loop:
    """``for index in range([start,] stop): body``."""

    index: sp.Symbol
    stop: sp.Basic
    body: tuple["Node", ...]
    start: sp.Basic | None = None
    #: ``prange``: Numba runs the iterations on its threads (only in a ``parallel=True`` function)
    parallel: bool = False


@dataclass(frozen=True)
class Branch:
    """``if condition: body else: orelse``."""

    condition: sp.Basic
    body: tuple["Node", ...]
    orelse: tuple["Node", ...] = ()


@dataclass(frozen=True)
class Allocate:
    """``name = np.empty(shape, dtype=...)``: ``dtype`` is ``int64`` or the name of an array
    whose dtype the new one takes (``a0``: the kernel's precision)."""

    name: sp.Symbol
    shape: tuple[sp.Basic, ...]
    dtype: str
    #: ``np.zeros``: for arrays some of whose elements are never written (an unfolded patch
    #: matrix's padding)
    zeros: bool = False


@dataclass(frozen=True)
class FlatView:
    """``name = array.reshape(-1)``: the one-dimensional view flat loops use; ``per_sample``:
    ``array.reshape((array.shape[0], -1))``, one flat row per sample."""

    name: sp.Symbol
    array: sp.Symbol
    per_sample: bool = False


@dataclass(frozen=True)
class MatMul:
    """``out = left · right`` through BLAS: ``_matmul(left, right, out)`` into an existing
    array, or ``out = np.dot(left, right)`` creating it (``into_existing=False``)."""

    left: sp.Basic
    right: sp.Basic
    out: sp.Symbol
    into_existing: bool = True


@dataclass(frozen=True)
class Evaluate:
    """A call made for its effect: ``update(...)``, ``clip_by_value(g, limit)``."""

    call: Call


@dataclass(frozen=True)
class Return:
    """``return v`` or ``return v1, v2, ...``."""

    values: tuple[sp.Basic, ...]


@dataclass(frozen=True)
class Skip:
    """``continue``."""


@dataclass(frozen=True)
class Comment:
    """``# text``: why the next statements are there (kept in the generated file for its reader)."""

    text: str


@dataclass(frozen=True)
class KernelTableDeclaration:
    """``name = KernelTable(globals(), kernels, uses)``: the kernels a module calls by address,
    with the types they are compiled for, and which compiled function takes which
    (:mod:`.kernel_table`)."""

    name: str
    #: (kernel, result code, argument codes) for each kernel, in table order
    kernels: tuple[tuple[str, str, tuple[str, ...]], ...]
    #: (compiled function, the kernels it takes, in order)
    uses: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class KernelFunction:
    """A compiled entry point: ``@decorator`` then ``def name(arguments): body``."""

    name: str
    arguments: tuple[str, ...]
    body: tuple["Node", ...]
    decorator: str = ""
    #: lines of the function's leading comment
    doc: tuple[str, ...] = field(default_factory=tuple)


Node = Union[Assign, Loop, Branch, Allocate, FlatView, MatMul, Evaluate, Return, Skip, Comment,
             KernelTableDeclaration, KernelFunction]


#: the expression fields of each statement kind
EXPRESSION_FIELDS = {Assign: ("target", "value"), Loop: ("index", "stop", "start"), Branch: ("condition",),
                     Allocate: ("name", "shape"), FlatView: ("name", "array"), MatMul: ("left", "right", "out"),
                     Evaluate: ("call",), Return: ("values",)}


def expressions(nodes) -> Iterator[sp.Basic]:
    """Every expression of every statement of ``nodes``, bodies included, in print order."""
    for node in walk(nodes):
        for attribute in EXPRESSION_FIELDS.get(type(node), ()):
            value = getattr(node, attribute)
            for expr in value if isinstance(value, tuple) else (value,):
                if expr is not None:
                    yield sp.sympify(expr)


def map_expressions(nodes, change) -> tuple[Node, ...]:
    """``nodes`` with ``change`` applied to every expression of every statement, bodies included."""
    out = []
    for node in nodes:
        fields = {}
        for attribute in EXPRESSION_FIELDS.get(type(node), ()):
            value = getattr(node, attribute)
            if isinstance(value, tuple):
                fields[attribute] = tuple(change(v) for v in value)
            elif value is not None:
                fields[attribute] = change(value)
        for attribute in ("body", "orelse"):
            if getattr(node, attribute, None):
                fields[attribute] = map_expressions(getattr(node, attribute), change)
        out.append(replace(node, **fields) if fields else node)
    return tuple(out)


def rename_calls(nodes, names: dict[str, str]) -> tuple[Node, ...]:
    """``nodes`` with every call of a function in ``names`` made to its new name instead."""
    def change(expr):
        if not isinstance(expr, sp.Basic):
            return expr
        return expr.replace(lambda e: isinstance(e, Call) and str(e.args[0]) in names,
                            lambda e: Call(sp.Symbol(names[str(e.args[0])]), *e.args[1:]))
    return map_expressions(nodes, change)


def walk(nodes) -> Iterator[Node]:
    """Every node of ``nodes`` and of their bodies, depth first (the order they print in)."""
    for node in nodes:
        yield node
        for attribute in ("body", "orelse"):
            yield from walk(getattr(node, attribute, ()))


def around(body: tuple[Node, ...], loops) -> tuple[Node, ...]:
    """``body`` inside one loop per ``(index, extent)`` of ``loops``, outermost first."""
    for index, extent in reversed(list(loops)):
        body = (Loop(index, extent, body),)
    return body


def nest(target: sp.Basic, value: sp.Basic, loops, op: str = "") -> tuple[Node, ...]:
    """``target = value`` inside one loop per ``(index, extent)`` of ``loops``, outermost first."""
    return around((Assign(target, value, op),), loops)
