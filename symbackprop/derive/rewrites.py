"""The rewrites that turn SymPy's raw derivatives into the forms backprop uses.

The notation they work on (``InRange`` brackets, ``ArgMax``) is the model's
(:mod:`symbackprop.model.notation`); these are the derivation's own moves:

* :func:`collapse_deltas` -- differentiating ``Sum(W[i, j] * x[i], i)`` by ``W[p, q]``
  gives ``Sum(KroneckerDelta(i, p) * ..., i)``.  A delta that ties a summation index to
  another index collapses the sum to that one term.  This is valid here because every
  index names a real neuron, so it always lies inside the summation range (the layer's
  own structural knowledge, which SymPy would otherwise carry as ``Piecewise`` bounds).
* :func:`through_output` -- a derivative written in terms of ``z`` (e.g. the sigmoid's
  ``exp(-z)/(1 + exp(-z))**2``) is rewritten in terms of the activation ``a = f(z)``
  (``a*(1 - a)``).  The kernel then reuses the stored activations instead of calling
  ``exp`` again, and nothing overflows for large ``|z|``.

Every rewrite is checked numerically against the expression it replaces
(:func:`assert_same_function`), so a wrong rewrite fails loudly at derivation time.
"""
from __future__ import annotations

import functools
import random

import sympy as sp
from sympy import KroneckerDelta, Sum

from ..model.notation import InRange


def flatten_sums(expr: sp.Expr) -> sp.Expr:
    """``Sum(f * Sum(g, inner), outer)`` as one ``Sum(f * g, outer + inner)``.

    ``sympy.diff`` keeps a proxy's nested sums nested; one Sum per term with every
    limit lets :func:`collapse_deltas` see all the deltas of a term together.  Only sums
    whose limits do not depend on outer indices are merged (all of ours).
    """

    def merge(s: Sum) -> sp.Expr:
        outer = {lim[0] for lim in s.limits}
        terms = []
        for term in sp.Add.make_args(sp.expand(s.function)):
            limits = list(s.limits)
            factors = []
            for f in sp.Mul.make_args(term):
                if isinstance(f, Sum) and not any(sp.sympify(b).free_symbols & outer
                                                  for lim in f.limits for b in lim[1:]):
                    limits += list(f.limits)
                    factors.append(f.function)
                else:
                    factors.append(f)
            terms.append(Sum(sp.Mul(*factors), *limits) if len(limits) > len(s.limits) else Sum(term, *limits))
        return sp.Add(*terms)

    previous = None
    while previous != expr:
        previous = expr
        expr = expr.replace(lambda e: isinstance(e, Sum) and e.function.has(Sum), merge)
    return expr


def _solve_delta(delta: KroneckerDelta, variables: list) -> tuple[sp.Symbol, sp.Expr] | None:
    """``(k, value)`` if ``delta`` holds exactly when summation index ``k`` equals ``value``.

    ``k`` must appear linearly with coefficient +-1, and ``value`` must not read an array
    (``p * 2 + q == am[n, c, y, x]`` stays a delta: it is a test, not an index).  Of
    several candidates the innermost summation index is solved, so the outer ones (the
    output positions of a convolution) stay as sums.
    """
    difference = delta.args[0] - delta.args[1]
    for k in reversed(variables):
        if not difference.has(k):
            continue
        coeff = difference.diff(k)
        if coeff not in (1, -1) or (difference - coeff * k).has(k):
            continue
        value = sp.expand(-(difference - coeff * k) / coeff)
        if value.has(sp.Indexed):
            continue
        return k, value
    return None


def collapse_deltas(expr: sp.Expr) -> sp.Expr:
    """Collapse every summation index that a ``KroneckerDelta`` ties to an index expression.

    SymPy's derivative of ``Sum(W[i, j] * x[i], i)`` by ``W[p, q]`` is
    ``Sum(KroneckerDelta(i, p) * ..., i)``: the delta replaces ``i`` by ``p`` and drops
    ``i``'s limit.  When the value is another index (``p``), it is taken to lie in ``i``'s
    range -- every index names a real neuron, which SymPy would otherwise carry as
    ``Piecewise`` bounds.  When the value is an expression (a convolution's
    ``u + pad - stride*y``), the range is kept as an :class:`InRange` factor.  A bracket
    left on a bare free index (``[0 <= u <= rows - 1]`` for the element differentiated
    by) holds by the same convention and is dropped.
    """

    def collapse_term(term: sp.Expr, limits: tuple) -> sp.Expr:
        remaining = list(limits)
        while True:
            variables = [lim[0] for lim in remaining]
            solved = None
            for f in sp.Mul.make_args(term):
                if isinstance(f, KroneckerDelta) and f.free_symbols & set(variables):
                    solved = _solve_delta(f, variables)
                    if solved is not None:
                        delta = f
                        break
            if solved is None:
                break
            k, value = solved
            (_, lo, hi), = [lim for lim in remaining if lim[0] == k]
            term = (term / delta).subs(k, value)
            if not (isinstance(value, sp.Symbol) and value.is_integer is not False):
                term *= InRange(value, lo, hi)
            remaining = [tuple(sp.sympify(x).subs(k, value) for x in lim) for lim in remaining if lim[0] != k]
        bound = {lim[0] for lim in remaining}
        term = term.replace(lambda e: isinstance(e, InRange) and isinstance(e.args[0], sp.Symbol)
                            and e.args[0] not in bound, lambda e: sp.S.One)
        return Sum(term, *remaining) if remaining else term

    def collapse(s: Sum) -> sp.Expr:
        return sp.Add(*(collapse_term(t, s.limits) for t in sp.Add.make_args(sp.expand(s.function))))

    expr = flatten_sums(expr)
    previous = None
    while previous != expr:
        previous = expr
        expr = expr.replace(lambda e: isinstance(e, Sum) and e.has(KroneckerDelta), collapse)
    return drop_empty_sums(expr)


def drop_empty_sums(expr: sp.Expr) -> sp.Expr:
    """``Sum(0, ...)`` is zero."""
    return expr.replace(lambda e: isinstance(e, Sum) and e.function == 0, lambda e: sp.S.Zero)


def factor_sums(expr: sp.Expr) -> sp.Expr:
    """Pull factors that do not depend on the summation indices out of each ``Sum``."""

    def pull(s: Sum) -> sp.Expr:
        variables = {lim[0] for lim in s.limits}
        inside, outside = [], []
        for f in sp.Mul.make_args(s.function):
            (inside if f.free_symbols & variables else outside).append(f)
        return sp.Mul(*outside) * Sum(sp.Mul(*inside), *s.limits) if outside else s

    return expr.replace(lambda e: isinstance(e, Sum), pull)


@functools.lru_cache(maxsize=None)
def _inverse(f_of_u: sp.Expr, u: sp.Symbol, a: sp.Symbol) -> sp.Expr | None:
    """``z`` as a function of ``a`` for an invertible scalar activation, or None."""
    if f_of_u == u:
        return a
    # only a formula that uses u once is inverted: its inverse undoes one function at a
    # time, so it is a plain expression.  swish, u/(1 + exp(-u)), would need LambertW;
    # and sp.solve on a user's longer formula may not finish.
    if f_of_u.has(sp.Piecewise) or f_of_u.count(u) != 1:
        return None
    try:
        solutions = sp.solve(sp.Eq(a, f_of_u), u)
    except NotImplementedError:
        return None
    return solutions[0] if len(solutions) == 1 else None


def through_output(expr: sp.Expr, z_elem: sp.Expr, a_elem: sp.Expr, f_of_u: sp.Expr, u: sp.Symbol) -> sp.Expr:
    """Rewrite ``expr`` (a function of ``z_elem``) in terms of ``a_elem = f(z_elem)`` if possible.

    ``f_of_u`` is the scalar activation written in the plain symbol ``u``.  The rewrite is
    kept only when it removes ``z`` entirely and no inverse function (log, atanh) is left;
    otherwise ``expr`` comes back unchanged.
    """
    a = sp.Dummy("a", real=True)
    direct = expr.subs(a_elem, a).subs(f_of_u.subs(u, z_elem), a)  # e.g. 1 - tanh(z)**2 -> 1 - a**2
    if not direct.has(z_elem):
        return sp.factor(direct).subs(a, a_elem)
    inv = _inverse(f_of_u, u, a)
    if inv is None:
        return expr
    candidate = sp.factor(sp.simplify(expr.subs(a_elem, a).subs(z_elem, inv)))
    # no inverse function, and no exp: exp of an unbounded output overflows (softplus would
    # give (exp(a) - 1)*exp(-a), inf*0 for large a, where its z form is bounded)
    if candidate.has(sp.log, sp.atanh, sp.asinh, sp.acosh, sp.LambertW, sp.exp) or candidate.has(z_elem):
        return expr
    if {type(f) for f in candidate.atoms(sp.Function)} - {type(f) for f in f_of_u.atoms(sp.Function)}:
        return expr  # the rewrite may only use functions the activation itself uses
    return candidate.subs(a, a_elem)


def assert_same_function(original: sp.Expr, rewritten: sp.Expr, substitutions: dict, what: str,
                         trials: int = 4) -> None:
    """Check numerically that two expressions agree at random points.

    ``substitutions`` must make every sum finite (give widths and indices numbers); every
    remaining Indexed element and real symbol is then given a random value in (-2, 2).
    """
    rng = random.Random(1234)
    lhs = original.subs(substitutions).doit()
    rhs = rewritten.subs(substitutions).doit()
    atoms = lhs.atoms(sp.Indexed) | rhs.atoms(sp.Indexed)
    atoms |= {x for x in lhs.free_symbols | rhs.free_symbols
              if not isinstance(x, (sp.Indexed, sp.IndexedBase)) and not x.is_integer}
    for _ in range(trials):
        values = {x: sp.Float(rng.uniform(-2, 2)) for x in atoms}
        left = complex(lhs.xreplace(values).evalf())
        right = complex(rhs.xreplace(values).evalf())
        if abs(left - right) > 1e-9 * (1 + abs(left)):
            raise AssertionError(f"rewrite of {what} changed its value: {original} vs {rewritten}")


def exp_through_ratio(expr: sp.Expr, denominator: sp.Expr, output_of) -> sp.Expr | None:
    """Rewrite a softmax-style expression through its outputs ``a_k = exp(z_k) / S``.

    ``denominator`` is ``S`` as it appears in ``expr``; ``output_of(z_k)`` returns ``a_k``
    for an argument that is one of the layer's weighted sums, else None.  Each
    ``exp(c*z_k)`` becomes ``(a_k * S)**c``; the rewrite succeeds (returns the new
    expression) only if every ``S`` cancels.
    """
    S = sp.Dummy("S", positive=True)

    def to_outputs(e: sp.Expr) -> sp.Expr:
        coeff, rest = e.args[0].as_coeff_Mul()
        a = output_of(rest)
        return e if a is None else (a * S) ** coeff

    out = expr.xreplace({denominator: S})
    out = out.replace(lambda e: isinstance(e, sp.exp), to_outputs)
    out = sp.expand(out)
    out = out.replace(lambda e: isinstance(e, Sum), lambda e: Sum(sp.expand(e.function), *e.limits))
    return None if out.has(S) else factor_sums(out)
