"""Numerical-stability rewrites, in the spirit of PyTensor's stabilisation passes.

The derivation writes the loss as the model defines it, e.g. ``-y*log(sigmoid(z))``.
Printed literally, that is ``log(0) = -inf`` once ``sigmoid(z)`` rounds to 0 (z < -37),
and ``0 * -inf = NaN``.  These rewrites keep the mathematics and change only the
floating-point behaviour:

* logs of quotients and products are expanded (``log(exp(z)/S) -> z - log(S)``), so a
  log is never taken of a value that has underflowed;
* ``log(1 + exp(u))`` becomes :class:`softplus`, printed as a stable helper
  (``max(u, 0) + log1p(exp(-|u|))``);
* shift-invariant activations (softmax) are evaluated on ``z - max(z)`` by the code
  generator, so ``exp`` never overflows and ``log(Sum exp) >= 0``.
"""
from __future__ import annotations

import sympy as sp


class softplus(sp.Function):
    """``log(1 + exp(x))``, printed as a numerically stable helper by the kernel printer."""

    nargs = 1

    def _eval_rewrite_as_log(self, x, **kwargs):
        return sp.log(1 + sp.exp(x))

    def _eval_is_real(self):
        return self.args[0].is_real


def _as_real(expr: sp.Expr) -> tuple[sp.Expr, dict]:
    """Replace every Indexed element by a real Dummy so log(exp(x)) -> x is allowed."""
    mapping = {e: sp.Dummy(real=True) for e in expr.atoms(sp.Indexed)}
    return expr.xreplace(mapping), {v: k for k, v in mapping.items()}


def _log_domain(expr: sp.Expr) -> sp.Expr:
    expr = expr.replace(lambda e: isinstance(e, sp.log), lambda e: sp.log(sp.together(e.args[0])))
    expr = sp.expand_log(expr, force=True)
    x = sp.Wild("x")
    return expr.replace(sp.log(1 + sp.exp(x)), softplus(x))


def stabilize(expr: sp.Expr) -> sp.Expr:
    """Rewrite ``expr`` into a form that cannot produce ``log(0)`` or overflow inside a log.

    Works inside ``Sum`` bodies.  A ``Sum`` met inside a log's argument is handled as an
    opaque positive quantity (a sum of exponentials, in every loss we build), after its
    own body has been rewritten.
    """
    if not expr.has(sp.log):
        return expr
    if isinstance(expr, sp.Sum):
        return sp.Sum(stabilize(expr.function), *expr.limits)
    sums: dict[sp.Sum, sp.Dummy] = {}

    def hide(e: sp.Expr) -> sp.Expr:  # top-down: only the outermost sums are hidden
        if isinstance(e, sp.Sum):
            return sums.setdefault(e, sp.Dummy("S", positive=True))
        return e.func(*(hide(a) for a in e.args)) if e.args else e

    hidden = hide(expr)
    real, back = _as_real(hidden)
    out = _log_domain(real).xreplace(back)
    return out.xreplace({v: stabilize(k) for k, v in sums.items()})
