"""The index-level notation every stage shares: index names, size symbols and the two
node types a forward rule may contain beyond SymPy's own (``InRange``, ``ArgMax``).

A layer writes its forward rule for one generic output element in this notation
(:mod:`.layers`); the derivation differentiates it, the op-count report counts it and
the lowering turns it into loops.  So the notation belongs to the first stage, and the
later ones read it: how a bracket on a loop index becomes that loop's bounds
(:func:`loop_bounds`) is part of what a bracket *means*, so it lives here too.

Index names: ``n`` sample; dense ``i`` input, ``j`` neuron; images ``o`` output channel,
``c`` input channel, ``y, x`` output row and column, ``p, q`` kernel/window row and
column, ``u, v`` input row and column.  Sizes are symbols: ``B`` the batch, ``m{l}`` the
width of a vector boundary, ``C{l}, rows{l}, cols{l}`` an image boundary's.
"""
from __future__ import annotations

import sympy as sp
from sympy.concrete.expr_with_limits import ExprWithLimits

n, i, j = sp.symbols("n i j", integer=True, nonnegative=True)
o, c, y, x, p, q, u, v = sp.symbols("o c y x p q u v", integer=True, nonnegative=True)
#: the batch size
B = sp.Symbol("B", integer=True, positive=True)
#: the targets
Y = sp.IndexedBase("Y")
#: L1 and L2 regularisation coefficients (kernel arguments, so changing them does not recompile)
L1, L2 = sp.symbols("l1 l2", nonnegative=True)

#: ``((index, extent), ...)``: a statement holds for ``0 <= index < extent``
Loops = tuple[tuple[sp.Symbol, sp.Expr], ...]


def size_symbol(name: str) -> sp.Symbol:
    """A size: a positive integer symbol."""
    return sp.Symbol(name, integer=True, positive=True)


def width(l: int) -> sp.Symbol:
    """Width symbol of vector boundary ``l`` (``m0`` is the number of inputs)."""
    return size_symbol(f"m{l}")


def boundary_dims(shape: tuple[int, ...], l: int) -> tuple[sp.Symbol, ...]:
    """The size symbols of boundary ``l`` of this shape: ``(m_l,)`` for vectors,
    ``(C_l, rows_l, cols_l)`` for images."""
    if len(shape) == 1:
        return (width(l),)
    return (size_symbol(f"C{l}"), size_symbol(f"rows{l}"), size_symbol(f"cols{l}"))


def summed(body: sp.Expr, *limits: tuple[sp.Symbol, sp.Expr]) -> sp.Sum:
    """``Σ body`` over ``0 <= index < extent`` for each ``(index, extent)``: the one way
    the notation writes a sum over a layer's loops (SymPy's limits are inclusive)."""
    return sp.Sum(body, *((index, 0, extent - 1) for index, extent in limits))


class InRange(sp.Function):
    """The bracket ``[lo <= e <= hi]`` on integer indices: 1 inside the range, 0 outside.

    Convolution and pooling read their input at ``stride*y + p - pad``, which falls outside
    the image where the padding is: the forward rule multiplies such reads by ``InRange``.
    When the chain rule solves a ``KroneckerDelta`` for a summation index, the index's own
    range becomes an ``InRange`` too (``p = u + pad - stride*y`` must lie in the kernel).
    The code generator turns a bracket on a loop variable into that loop's bounds.  It
    does not depend on any array, so its derivative is zero.
    """

    nargs = 3
    is_integer = True
    is_nonnegative = True

    @classmethod
    def eval(cls, e, lo, hi):
        below, above = e - lo, hi - e
        if below.is_negative or above.is_negative:
            return sp.S.Zero
        if below.is_nonnegative and above.is_nonnegative:
            return sp.S.One
        return None

    def _eval_derivative(self, x):
        return sp.S.Zero

    def _sympystr(self, printer) -> str:
        e, lo, hi = (printer._print(a) for a in self.args)
        return f"[{lo} <= {e} <= {hi}]"

    def _latex(self, printer) -> str:
        e, lo, hi = (printer._print(a) for a in self.args)
        return rf"\left[{lo} \le {e} \le {hi}\right]"


class Where(sp.Function):
    """``value_if_true if condition else value_if_false``: a user's ``where`` inside a sum.

    SymPy's ``Piecewise`` is lifted out of every enclosing ``Sum`` by ``piecewise_fold``,
    even when its condition reads the sum's own index (``Sum_n Sum_k Piecewise(.., a[n, k]
    > 1)`` becomes a Piecewise whose condition names ``k`` outside its sum).  A loss or a
    layer rule summed over outputs writes its branches as ``Where`` instead (see
    :func:`without_piecewise`).  Its derivative is taken branch by branch (the condition's
    own derivative is zero almost everywhere, ReLU's convention), and a ``KroneckerDelta``
    every nonzero branch holds (from the chain rule) moves outside, so it can collapse
    its sum.
    """

    nargs = 3

    @classmethod
    def eval(cls, condition, yes, no):
        if condition is sp.true:
            return yes
        if condition is sp.false:
            return no
        if yes == no:
            return yes
        # only KroneckerDeltas move out: any other factor may be inf or NaN where its branch
        # is not taken (where(x > 0, log(x), 0)), and inf * 0 would poison the other branch
        deltas = [{f for f in sp.Mul.make_args(b) if isinstance(f, sp.KroneckerDelta)} for b in (yes, no) if b != 0]
        shared = set.intersection(*deltas) if deltas else set()
        if shared:
            delta = sp.Mul(*shared)
            return delta * cls(condition, yes if yes == 0 else yes / delta, no if no == 0 else no / delta)
        return None

    def _eval_derivative(self, s):
        condition, yes, no = self.args
        return Where(condition, yes.diff(s), no.diff(s))

    def _eval_is_real(self):
        return self.args[1].is_real and self.args[2].is_real

    def as_piecewise(self) -> sp.Piecewise:
        """The same branches as a ``Piecewise`` (to print or evaluate alone, outside sums)."""
        condition, yes, no = self.args
        return sp.Piecewise((yes, condition), (no, True))

    def _sympystr(self, printer) -> str:
        condition, yes, no = (printer._print(a) for a in self.args)
        return f"where({condition}, {yes}, {no})"


def without_piecewise(expr: sp.Expr) -> sp.Expr:
    """Every ``Piecewise`` of ``expr`` as nested :class:`Where` (safe to put inside a ``Sum``)."""

    def nest(pieces) -> sp.Expr:
        (value, condition), *rest = pieces
        if condition is sp.true:
            return value
        return Where(condition, value, nest(rest) if rest else sp.nan)  # no piece applies: NaN, as SymPy's

    def convert(p: sp.Piecewise) -> sp.Expr:
        return nest(p.args)

    return expr.replace(lambda e: isinstance(e, sp.Piecewise), convert)


class ArgMax(ExprWithLimits):
    """Where the maximum of ``function`` over the limits is: ``p * extent(q) + q`` for two limits.

    The first maximum wins (PyTorch's choice for ties).  A ``Piecewise((value, condition),
    (-oo, True))`` function marks positions that take no part (max pooling's padding).
    Max pooling stores this index in its forward pass and selects the window element
    with it, so the chain rule sends each window's error to the element that won.
    """

    def _sympystr(self, printer) -> str:
        names = ", ".join(printer._print(lim[0]) for lim in self.limits)
        return f"argmax_({names}) {printer._print(self.function)}"

    def _latex(self, printer) -> str:
        names = ", ".join(printer._print(lim[0]) for lim in self.limits)
        return rf"\operatorname{{argmax}}_{{{names}}} {printer._print(self.function)}"


def take_brackets(function: sp.Expr, k: sp.Symbol, inner: set) -> tuple[sp.Expr, list[InRange]]:
    """Split the ``InRange`` factors on ``k`` (and no inner summation index) off ``function``:
    they are bounds of ``k``'s loop (see :func:`loop_bounds`), not work done in it."""
    taken, kept = [], []
    for f in sp.Mul.make_args(function):
        (taken if isinstance(f, InRange) and f.has(k) and not f.free_symbols & inner
         and _linear(f.args[0], k) is not None else kept).append(f)
    return sp.Mul(*kept), taken


def _linear(e: sp.Expr, k: sp.Symbol) -> tuple[int, sp.Expr] | None:
    """``(a, b)`` with ``e == a*k + b`` for a nonzero integer ``a``, else None."""
    a = e.diff(k)
    if not a.is_Integer or a == 0 or (e - a * k).has(k):
        return None
    return int(a), e - a * k


def trip_count(k: sp.Symbol, extent: int, brackets: list[InRange], values: dict) -> int:
    """How many values of ``k`` a bracketed loop typically runs: a bracket ``[l <= a*k + b <= h]``
    admits about ``(h - l + 1) / |a|`` of them (counting only, for the op-count report)."""
    count = extent
    for bracket in brackets:
        e, low, high = bracket.args
        a, _ = _linear(e, k)  # type: ignore[misc]
        count = min(count, -(-int(sp.sympify(high - low + 1).subs(values)) // abs(a)))
    return max(count, 1)


def loop_bounds(k: sp.Symbol, lo: sp.Expr, hi: sp.Expr, brackets: list[InRange]) -> tuple[sp.Expr, sp.Expr]:
    """The first and last ``k`` in ``[lo, hi]`` for which every bracket ``[l <= a*k + b <= h]`` holds."""
    lows, highs = [lo], [hi]
    for bracket in brackets:
        e, low, high = bracket.args
        a, b = _linear(e, k)  # type: ignore[misc]
        if a > 0:
            lows.append(sp.ceiling((low - b) / a))
            highs.append(sp.floor((high - b) / a))
        else:
            lows.append(sp.ceiling((b - high) / -a))
            highs.append(sp.floor((b - low) / -a))
    return sp.Max(*lows), sp.Min(*highs)
