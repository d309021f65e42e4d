"""A user's definition -- a formula string, a SymPy expression or a Python function -- made
into the SymPy expression an activation or a loss holds, and checked once, when it is given.

The checks are the ones the later stages rely on: the definition uses only its own
variables, depends on the one it is differentiated by, has a derivative a kernel can
compute, and -- to be stored in a checkpoint -- has a text that reads back through the
safe parser (:mod:`.formula`) as the same function.
"""
from __future__ import annotations

from typing import Mapping

import sympy as sp

from ..errors import FormulaError
from .formula import parse, quoted


def check_depends(expr: sp.Expr, text: str, what: str, symbol: sp.Symbol) -> None:
    """Refuse a formula that does not use ``symbol`` (an activation that ignores ``z``)."""
    if not expr.has(symbol):
        raise FormulaError(f"{what}: formula {quoted(text)} does not depend on {symbol}")


def check_differentiable(expr: sp.Expr, text: str, what: str, symbol: sp.Symbol) -> sp.Expr:
    """``d expr / d symbol``; refuses a formula SymPy can only leave as an unevaluated derivative."""
    derivative = sp.diff(expr, symbol)
    if derivative.has(sp.Derivative, sp.Subs) or derivative.has(sp.nan, sp.zoo):
        raise FormulaError(f"{what}: SymPy cannot differentiate formula {quoted(text)} by {symbol} "
                           f"(it gives {derivative})")
    if derivative.has(sp.DiracDelta, sp.Heaviside):
        raise FormulaError(f"{what}: the derivative of formula {quoted(text)} by {symbol} is {derivative}, a "
                           "Dirac delta, which no kernel can compute (sign and steps have zero gradient almost "
                           "everywhere: write the branches with where(...) instead)")
    return derivative


def read(definition, what: str, variables: Mapping[str, sp.Symbol]) -> tuple[sp.Expr, str | None]:
    """``(expression, text)`` of a user's definition in ``variables`` (``{"z": z}``): a formula
    string (read by :func:`parse`; its text is kept), a SymPy expression in symbols of those
    names, or a Python function of the variables, called with them in order (no text: it
    is made on demand by :func:`as_text`)."""
    if isinstance(definition, str):
        return parse(definition, what, variables), definition.strip()
    called = callable(definition) and not isinstance(definition, sp.Basic)
    expr = definition(*variables.values()) if called else definition
    if not isinstance(expr, sp.Expr):
        raise FormulaError(f"{what}: the definition must give a SymPy expression in {', '.join(variables)}, got "
                           f"{type(expr).__name__}")
    expr = expr.xreplace({s: variables[s.name] for s in expr.free_symbols if s.name in variables})
    extra = expr.free_symbols - set(variables.values())
    if extra:
        raise FormulaError(f"{what}: {expr} uses {', '.join(sorted(map(str, extra)))}; it may use "
                           f"{', '.join(variables)} only")
    for piecewise in expr.atoms(sp.Piecewise):
        if piecewise.args[-1][1] is not sp.true:
            raise FormulaError(f"{what}: {piecewise} has no last piece (value, True) for the values its "
                               "conditions leave out")
    return expr, None


def same(first: sp.Expr, second: sp.Expr) -> bool:
    """Whether two definitions are the same function (``0.01*z`` and ``z/100``)."""
    if first == second:
        return True
    try:
        return sp.simplify(first - second) == 0
    except Exception:  # SymPy could not decide: not the same, as far as we can tell
        return False


def as_text(expr: sp.Expr, what: str, variables: Mapping[str, sp.Basic]) -> str | None:
    """``str(expr)`` if it reads back through :func:`parse` as the same function (how an
    expression or Python function of the user's is stored in checkpoints), else None."""
    text = str(expr)
    try:
        back = parse(text, what, variables)
    except FormulaError:
        return None
    return text if same(back, expr) else None


def domain(expr: sp.Expr, symbol: sp.Symbol) -> tuple[float, float] | None:
    """The interval of ``symbol`` on which every ``log`` and square root of ``expr`` that
    depends on ``symbol`` alone is defined (``log(a)`` and ``log(1 - a)``: ``(0, 1)``), or
    None when no such function restricts it.  A loss that does not declare the outputs it
    needs gets this range, so a formula taking ``log(a)`` is not put after an output that
    can be negative."""
    low, high, found = float("-inf"), float("inf"), False
    arguments = [f.args[0] for f in expr.atoms(sp.log)]
    arguments += [p.base for p in expr.atoms(sp.Pow) if p.exp.is_Rational and p.exp.q == 2]
    for argument in arguments:
        if argument.free_symbols != {symbol}:
            continue
        try:
            allowed = sp.solve_univariate_inequality(argument > 0, symbol, relational=False)
        except (NotImplementedError, ValueError, TypeError):
            continue
        if isinstance(allowed, sp.Interval):
            low, high, found = max(low, float(allowed.start)), min(high, float(allowed.end)), True
    return (low, high) if found and low < high else None
