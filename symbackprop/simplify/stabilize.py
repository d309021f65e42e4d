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
  generator, so ``exp`` never overflows and ``log(Sum exp) >= 0``;
* in every statement (:func:`logistic_forms`), the logistic ratios a user's activation and
  its derivative take -- swish's ``z·exp(-z)/(1 + exp(-z))²``, softplus's
  ``exp(z)/(1 + exp(z))``, mish's ``log(1 + exp(z))`` -- are written as products of
  ``1/(1 + exp(±x))``, each in [0, 1] for any ``x``, instead of ``inf/inf = NaN`` once
  ``exp`` overflows.
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


def _logistic_factors(mul: sp.Mul) -> sp.Expr:
    """``exp(x)**k / (1 + exp(x))**m`` (whole ``k <= m``) inside a product, as
    ``(1 + exp(-x))**-k * (1 + exp(x))**-(m - k)``: the same value, with no ratio of
    two overflowing exponentials."""
    factors = list(sp.Mul.make_args(mul))
    for d, denominator in enumerate(factors):
        base, power = denominator.as_base_exp()
        if not (power.is_Integer and power < 0 and isinstance(base, sp.Add) and len(base.args) == 2
                and sp.S.One in base.args):
            continue
        (growth,) = [t for t in base.args if t != 1]
        if not isinstance(growth, sp.exp):
            continue
        x = growth.args[0]
        for e, numerator in enumerate(factors):
            # exp(x) itself, or a whole power of it (exp's own as_base_exp would give (E, x))
            e_base, k = (numerator, sp.S.One) if isinstance(numerator, sp.exp) else numerator.as_base_exp()
            if e != d and e_base == growth and k.is_Integer and 0 < k <= -power:
                rest = [f for t, f in enumerate(factors) if t not in (d, e)]
                return sp.Mul(*rest) * (1 + sp.exp(-x)) ** -k * base ** (power + k)
    return mul


def logistic_forms(expr: sp.Expr) -> sp.Expr:
    """``expr`` with ``log(1 + exp(x))`` as :class:`softplus` and every logistic ratio as
    bounded factors (see the module docstring); unchanged when it holds none."""
    if not expr.has(sp.exp):
        return expr
    x = sp.Wild("x")
    out = expr.replace(sp.log(1 + sp.exp(x)), softplus(x))
    previous = None
    while previous != out:
        previous = out
        out = out.replace(lambda e: isinstance(e, sp.Mul) and e.has(sp.exp), _logistic_factors)
    return out
