"""A formula's value at one sample: the one evaluation the walk-through, its chain rules and
the operation graph share (a module of its own so that each can import it without the others).
"""
from __future__ import annotations

import math

import sympy as sp


def value_of(expr: sp.Expr, values: dict) -> float | None:
    """``expr``'s value as a float, or None where it is not a finite real number (log(0), 0/0): the
    one evaluation the walk-through, its chain rules and the operation graph share."""
    result = sp.sympify(expr).xreplace({s: sp.Float(values[s]) for s in expr.free_symbols}).evalf()
    if not result.is_real or not result.is_finite:
        return None
    value = float(result)
    return value if math.isfinite(value) else None
