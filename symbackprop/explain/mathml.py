"""The explanation's notation as MathML, which every current browser renders with nothing to
download (the interactive page must work offline, and Jupyter shows it as it is).

Formulas go through a subclass of SymPy's presentation printer that writes the
derivation's names as the LaTeX layout of :mod:`~symbackprop.explain.notation` does:
W⁽¹⁾₀,₁, the layer above in parentheses (a bare a₀² would read as a square), and ∂L/∂a as a
fraction.  Names are read by :func:`~symbackprop.explain.notation.parse_name`, the same
reading the Unicode and LaTeX spellings use; ReLU's ``Piecewise`` is spelled by
:func:`~symbackprop.explain.notation.piecewise_form`, as in the other layouts.
"""
from __future__ import annotations

import functools
import html

import sympy as sp
from sympy.printing.mathml import MathMLPresentationPrinter

from . import notation as nt


class _Printer(MathMLPresentationPrinter):
    """SymPy's presentation printer with the explanation's names and its ReLU spelling."""

    def _el(self, tag: str, *children, text: str | None = None):
        el = self.dom.createElement(tag)
        if text is not None:
            el.appendChild(self.dom.createTextNode(text))
        for child in children:
            el.appendChild(child)
        return el

    def _indexed(self, letter: str, layer: str | None, indices: list[str]):
        sub = self._el("mrow", *[node for k, i in enumerate(indices)
                                 for node in ([self._el("mo", text=",")] if k else []) + [self._el("mn", text=i)]])
        base = self._el("mi", text=letter)
        if layer is None:
            return self._el("msub", base, sub)
        sup = self._el("mrow", self._el("mo", text="("), self._el("mn", text=layer), self._el("mo", text=")"))
        return self._el("msubsup", base, sub, sup)

    def _print_Symbol(self, sym, style="plain"):
        parts = nt.parse_name(sym.name)
        if parts is None:
            return super()._print_Symbol(sym, style)
        kind, letter, layer, indices = parts
        inner = self._indexed(letter, layer, indices)
        if kind == "loss_partial":
            return self._el("mfrac", self._el("mrow", self._el("mo", text="\u2202"), self._el("mi", text="L")),
                            self._el("mrow", self._el("mo", text="\u2202"), inner))
        return inner

    def _print_Piecewise(self, expr):
        form = nt.piecewise_form(expr)
        if form[0] == "step":  # the Iverson bracket [z > 0]
            return self._el("mrow", self._el("mo", text="["), self._print(form[1]), self._el("mo", text="]"))
        if form[0] == "ramp":
            return self._el("mrow", self._el("mi", text="max"), self._el("mo", text="("), self._el("mn", text="0"),
                            self._el("mo", text=","), self._print(form[1]), self._el("mo", text=")"))
        pieces = [(form[1], form[2]), (form[3], None)] if form[0] == "general" else [(e, c) for e, c in form[1]]
        row = []
        for k, (e, c) in enumerate(pieces):
            if k:
                row.append(self._el("mtext", text=", else " if c is None else " or "))
            row.append(self._print(e))
            if c is not None and c != sp.true:
                row += [self._el("mtext", text=" if "), self._print(c)]
        return self._el("mrow", *row)


@functools.lru_cache(maxsize=4096)
def expr(e: sp.Expr) -> str:
    """A formula of the derivation's symbols as presentation MathML (no ``<math>`` wrapper); cached,
    since every path of a layer repeats the same local derivatives."""
    return _Printer().doprint(nt.tidy(sp.sympify(e)))


def symbol(name: str) -> str:
    """One of the derivation's names (``W1_0_1``) as MathML."""
    return expr(sp.Symbol(name, real=True))


def partial(of: sp.Symbol, wrt: sp.Symbol) -> str:
    """∂of/∂wrt as a MathML fraction."""
    return (f"<mfrac><mrow><mo>&#8706;</mo>{symbol(of.name)}</mrow>"
            f"<mrow><mo>&#8706;</mo>{symbol(wrt.name)}</mrow></mfrac>")


def number(value: float) -> str:
    """A value as the text layouts print it (four decimals, a real minus sign)."""
    return f"<mn>{html.escape(nt.number(value))}</mn>"


def text(words: str) -> str:
    """Words or a pre-printed formula inside math, as they are."""
    return f"<mtext>{html.escape(words)}</mtext>"


def op(sign: str) -> str:
    """An operator, spaced as an infix one even where it opens a line (``= 0.13·…``)."""
    return f'<mo form="infix" lspace="0.25em" rspace="0.25em">{html.escape(sign)}</mo>'



def math(*parts: str, display: bool = False) -> str:
    """``<math>`` around the pieces (pass ``<mo>`` pieces between them)."""
    kind = "block" if display else "inline"
    return f'<math display="{kind}"><mrow>{"".join(parts)}</mrow></math>'
