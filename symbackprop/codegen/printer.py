"""The kernel printer: SymPy's Python printer, taught what a Numba kernel needs.

Subclassing the printer (rather than pasting ``str(expr)``) gets precedence, numeric
literals and special functions right.  Scalar functions print through ``math`` (Numba
compiles ``math.log`` on floats to the same code as C), except ``exp``, which prints as
the module's arithmetic-only ``_exp`` (:mod:`.vector_exp`); the stable :class:`softplus`
prints as the module helper ``_softplus``; ``Piecewise``, ``KroneckerDelta`` and the
index bracket ``InRange`` print as conditional expressions; ``floor`` and ``ceiling`` of
an integer ratio (loop bounds) print as integer floor division.  ``Sum`` and ``ArgMax``
must have been lowered to loops before printing.
"""
from __future__ import annotations

import keyword
import re

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class CodegenError(Exception):
    """Internal: an expression the kernel printer cannot print."""


def safe_identifier(name: str) -> str:
    """Return ``name`` if it is a plain Python identifier that is not a keyword, else raise.

    Every name in generated code comes from the model (``W1``, ``z2``) or the generator
    (``_x3``); this check makes sure nothing else, such as a quote or newline, ever can.
    """
    if not _IDENTIFIER.match(name) or keyword.iskeyword(name):
        raise CodegenError(f"refusing to print {name!r}: not a plain Python identifier")
    return name


class KernelPrinter(PythonCodePrinter):
    """Prints scalar SymPy expressions as Numba-compilable Python."""

    def __init__(self, settings: dict | None = None) -> None:
        super().__init__({"fully_qualified_modules": True, "standard": "python3", **(settings or {})})

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        return safe_identifier(expr.name)

    _print_Dummy = _print_Symbol

    def _print_IndexedBase(self, expr: sp.IndexedBase) -> str:
        return safe_identifier(str(expr.label))

    def _print_Indexed(self, expr: sp.Indexed) -> str:
        return f"{self._print(expr.base)}[{', '.join(self._print(i) for i in expr.indices)}]"

    def _print_exp(self, expr: sp.Function) -> str:
        return f"_exp({self._print(expr.args[0])})"

    def _print_softplus(self, expr: sp.Function) -> str:
        return f"_softplus({self._print(expr.args[0])})"

    def _print_sign(self, expr: sp.Function) -> str:
        return f"np.sign({self._print(expr.args[0])})"

    def _print_Sum(self, expr: sp.Sum) -> str:
        raise CodegenError("Sum reached the printer: it should have been lowered to a loop")

    def _print_ArgMax(self, expr: sp.Expr) -> str:
        raise CodegenError("ArgMax reached the printer: it should have been lowered to a loop")

    def _print_InRange(self, expr: sp.Function) -> str:
        e, lo, hi = (self._print(a) for a in expr.args)
        return f"(1 if {lo} <= {e} <= {hi} else 0)"

    def _integer_ratio(self, arg: sp.Expr) -> tuple[str, int] | None:
        numerator, denominator = sp.fraction(sp.together(arg))
        if denominator.is_Integer and denominator > 0 and numerator.is_integer:
            return self._print(numerator), int(denominator)
        return None

    def _print_floor(self, expr: sp.Function) -> str:
        ratio = self._integer_ratio(expr.args[0])
        return f"(({ratio[0]}) // {ratio[1]})" if ratio else super()._print_floor(expr)

    def _print_ceiling(self, expr: sp.Function) -> str:
        ratio = self._integer_ratio(expr.args[0])
        return f"(-((-({ratio[0]})) // {ratio[1]}))" if ratio else super()._print_ceiling(expr)

    def _print_Rational(self, expr: sp.Rational) -> str:
        return f"({expr.p}/{expr.q})" if expr.q != 1 else str(expr.p)

    def _print_Integer(self, expr: sp.Integer) -> str:
        return str(int(expr))

    def _print_Float(self, expr: sp.Float) -> str:
        return repr(float(expr))

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        base, exp = expr.as_base_exp()
        if exp == -1:
            return f"1.0/{self.parenthesize(base, sp.printing.precedence.PRECEDENCE['Pow'])}"
        return super()._print_Pow(expr, rational=rational)
