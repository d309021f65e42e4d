"""How the unrolled derivation's symbols are shown to a reader, in Unicode and in LaTeX.

The unrolled derivation names its scalars for code (``z1_0``, ``W1_0_1``, ``g2_0``,
``d1_1``, ``dL_dW1_0_1``); a student reads them as textbook notation: ``z¹₀``,
``W¹₀,₁``, ``∂L/∂a²₀``, ``δ¹₁``, ``∂L/∂W¹₀,₁`` (layer as superscript, neuron as
subscript).  Everything here is presentation: the expressions themselves are SymPy's
and are printed by SymPy's printers.
"""
from __future__ import annotations

import re

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _indexed(letter: str, layer: str | None, indices: list[str], latex: bool) -> str:
    if latex:
        sup = f"^{{({layer})}}" if layer is not None else ""
        return f"{letter}{sup}_{{{','.join(indices)}}}"
    sup = layer.translate(_SUPERSCRIPT) if layer is not None else ""
    return f"{letter}{sup}{','.join(i.translate(_SUBSCRIPT) for i in indices)}"


def parse_name(name: str) -> tuple[str, str, str | None, list[str]] | None:
    """What a derivation name stands for, as ``(kind, letter, layer, indices)``, or None:

    * ``("loss_partial", letter, layer, indices)``: ``dL_dW1_0_1`` (∂L/∂W¹₀,₁) and ``g2_0`` (∂L/∂a²₀);
    * ``("indexed", letter, layer, indices)``: ``z1_0``, ``a1_0``, ``W1_0_1``, ``b1_0``, ``d1_1``
      (letter ``δ``);
    * ``("indexed", letter, None, [index])``: an input or target ``x0``, ``y1``, or ``l1``/``l2`` (λ).

    The Unicode, LaTeX and MathML spellings are all made from this one reading."""
    m = re.match(r"dL_d([Wb])(\d+)_(\d+)(?:_(\d+))?$", name)
    if m:
        return "loss_partial", m[1], m[2], [g for g in m.groups()[2:] if g is not None]
    m = re.match(r"([zaWb])(\d+)_(\d+)(?:_(\d+))?$", name)
    if m:
        return "indexed", m[1], m[2], [g for g in m.groups()[2:] if g is not None]
    m = re.match(r"g(\d+)_(\d+)$", name)
    if m:
        return "loss_partial", "a", m[1], [m[2]]
    m = re.match(r"d(\d+)_(\d+)$", name)
    if m:
        return "indexed", "δ", m[1], [m[2]]
    m = re.match(r"([xy])(\d+)$", name)
    if m:
        return "indexed", m[1], None, [m[2]]
    if name in ("l1", "l2"):
        return "indexed", "λ", None, [name[1]]
    return None


def display_name(name: str, latex: bool = False) -> str:
    """``z1_0`` → ``z¹₀`` (or ``z^{(1)}_{0}``); names that are not the derivation's come back as they are."""
    parts = parse_name(name)
    if parts is None:
        return name
    kind, letter, layer, indices = parts
    if latex:
        letter = {"δ": r"\delta", "λ": r"\lambda"}.get(letter, letter)
    inner = _indexed(letter, layer, indices, latex)
    if kind == "loss_partial":
        return rf"\frac{{\partial L}}{{\partial {inner}}}" if latex else f"∂L/∂{inner}"
    return inner


def partial(of: sp.Symbol, wrt: sp.Symbol, latex: bool = False) -> str:
    """``∂a²₀/∂z²₀`` (or its LaTeX fraction)."""
    top, bottom = display_name(of.name, latex), display_name(wrt.name, latex)
    return rf"\frac{{\partial {top}}}{{\partial {bottom}}}" if latex else f"∂{top}/∂{bottom}"


def tidy(expr: sp.Expr) -> sp.Expr:
    """Textbook sign conventions: ``-a·(a - 1)`` reads better as ``a·(1 - a)``."""

    def flip(e: sp.Mul) -> sp.Expr:
        coeff, rest = e.as_coeff_Mul()
        if coeff >= 0:
            return e
        for f in sp.Mul.make_args(rest):
            if isinstance(f, sp.Add) and _mostly_negative(-f) is False:
                negated = sp.Add(*(-t for t in f.args), evaluate=False)
                others = [g for g in sp.Mul.make_args(rest / f) if g != 1]
                scale = [] if -coeff == 1 else [-coeff]
                return sp.Mul(*scale, *others, negated, evaluate=False)
        return e

    return expr.replace(lambda e: isinstance(e, sp.Mul), flip)


def _mostly_negative(add: sp.Expr) -> bool:
    terms = sp.Add.make_args(add)
    return sum(t.could_extract_minus_sign() for t in terms) > len(terms) / 2


def _names(expr: sp.Expr, latex: bool) -> dict[sp.Symbol, str]:
    """How each symbol of ``expr`` is shown inside a formula."""
    names = {}
    for s in expr.free_symbols:
        shown = display_name(s.name, latex)
        if not latex and "/" in shown:
            shown = f"({shown})"  # ∂L/∂a inside a product must not read as a division
        names[s] = shown
    return names


def _print(expr: sp.Expr, names: dict[sp.Symbol, str], latex: bool) -> str:
    """``expr`` through the textbook printer of either spelling, with ``names`` for its symbols."""
    if latex:
        return _LatexPrinter({"symbol_names": names, "mul_symbol": "dot"}).doprint(expr)
    return _UnicodePrinter(names).doprint(expr).replace("-", "−")


class _UnicodePrinter(StrPrinter):
    """SymPy's one-line printer with textbook symbols: ``·`` for products, superscript powers."""

    def __init__(self, names: dict, **settings) -> None:
        super().__init__(settings)
        self._names = names

    def _print_Symbol(self, expr) -> str:
        return self._names.get(expr, expr.name)

    def _print_Pow(self, expr, rational=False) -> str:
        base, exp = expr.args
        if exp.is_Integer and exp > 1:
            return self.parenthesize(base, PRECEDENCE["Pow"]) + str(exp).translate(_SUPERSCRIPT)
        return super()._print_Pow(expr, rational)

    def _print_Mul(self, expr) -> str:
        return super()._print_Mul(expr).replace("*", "·")

    def _print_Piecewise(self, expr) -> str:
        return _piecewise(expr, self._print, "[{}]", "max(0, {})", "{} if {}, else {}")

    def _print_Abs(self, expr) -> str:
        return f"|{self._print(expr.args[0])}|"


def unicode(expr: sp.Expr) -> str:
    """``expr`` in one line of Unicode text with textbook names."""
    expr = tidy(sp.sympify(expr))
    return _print(expr, _names(expr, False), latex=False)


class _LatexPrinter(LatexPrinter):
    """SymPy's LaTeX printer, with ReLU's pieces on one line (matplotlib's mathtext has no ``cases``)."""

    def _print_Piecewise(self, expr) -> str:
        return _piecewise(expr, self._print, r"\left[{}\right]", r"\max\left(0, {}\right)",
                          r"{} \;\mathrm{{if}}\; {},\; \mathrm{{else}}\; {}")


def piecewise_form(expr: sp.Piecewise) -> tuple:
    """How a ``Piecewise`` reads: ``("step", c)`` (an Iverson bracket ``[c]``), ``("ramp", e)``
    (``max(0, e)``), ``("general", e1, c, e2)`` (``e1 if c, else e2``) or ``("pieces", args)``.
    The Unicode, LaTeX and MathML printers each spell these forms."""
    if len(expr.args) == 2 and expr.args[1].cond == sp.true:
        (e1, c1), (e2, _) = expr.args
        if e1 == 1 and e2 == 0:
            return "step", c1
        if e2 == 0 and isinstance(c1, sp.StrictGreaterThan) and c1.rhs == 0 and c1.lhs == e1:
            return "ramp", e1
        return "general", e1, c1, e2
    return "pieces", expr.args


def _piecewise(expr: sp.Piecewise, show, step: str, ramp: str, general: str) -> str:
    """A ``Piecewise`` in one line, in the spelling of ``step``, ``ramp`` and ``general``."""
    form = piecewise_form(expr)
    if form[0] == "step":
        return step.format(show(form[1]))
    if form[0] == "ramp":
        return ramp.format(show(form[1]))
    if form[0] == "general":
        return general.format(show(form[1]), show(form[2]), show(form[3]))
    return " or ".join(f"{show(e)} if {show(c)}" for e, c in form[1])


def latex(expr: sp.Expr) -> str:
    """``expr`` in LaTeX with textbook names (what matplotlib's mathtext can also draw)."""
    expr = tidy(sp.sympify(expr))
    return _print(expr, _names(expr, True), latex=True)


def number(value: float) -> str:
    """A value as printed everywhere in an explanation: 4 decimals, or 4 significant digits if tiny."""
    if value == 0:
        value = 0.0  # no "−0.0000" for a negative zero
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        text = f"{value:.4f}"
    else:
        text = f"{value:.3e}"
    return text.replace("-", "−")


def parse_number(text: str) -> float:
    """The inverse of :func:`number` (for tests and for reading printed tables back)."""
    return float(text.replace("−", "-"))


def with_numbers(expr: sp.Expr, values: dict[sp.Symbol, float], latex_out: bool = False) -> str:
    """``expr`` with every symbol replaced by its printed value, keeping the expression's shape."""
    expr = tidy(sp.sympify(expr))
    # stand-ins named so that they sort as the symbols they replace: the terms keep their order
    ordered = sorted(expr.free_symbols, key=sp.default_sort_key)
    stand_ins = {s: sp.Symbol(f"_v{k:04d}") for k, s in enumerate(ordered)}
    names = {}
    for s, stand_in in stand_ins.items():
        shown = number(values[s])
        if shown.startswith("−"):
            shown = f"\\left({shown.replace('−', '-')}\\right)" if latex_out else f"({shown})"
        names[stand_in] = shown
    return _print(expr.xreplace(stand_ins), names, latex=latex_out)
