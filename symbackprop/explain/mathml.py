"""The explanation's notation as MathML, which every current browser renders with nothing to
download (the interactive page must work offline).

Formulas go through a subclass of SymPy's presentation printer that writes the
derivation's names (``W1_0_1``, ``a2_0``, ``d1_0``) as the LaTeX layout of
:mod:`~symbackprop.explain.notation` does: W⁽¹⁾₀,₁, the layer above in parentheses.
"""
from __future__ import annotations

import html
import re

import sympy as sp
from sympy.printing.mathml import MathMLPresentationPrinter

from . import notation as nt

_INDEXED = re.compile(r"([zaWbdg])(\d+)_(\d+)(?:_(\d+))?$")
_LEAF = re.compile(r"([xy])(\d+)$")
_LETTERS = {"d": "\u03b4", "l1": "\u03bb", "l2": "\u03bb"}


class _Printer(MathMLPresentationPrinter):
    """SymPy's presentation printer, with the derivation's names in the explanation's notation:
    the layer as a parenthesised superscript (a⁽²⁾₀, not a₀², which reads as a square), and
    ``g2_0`` (∂L/∂a of a layer's output) as the fraction it stands for."""

    def _el(self, tag: str, *children, text: str | None = None):
        el = self.dom.createElement(tag)
        if text is not None:
            el.appendChild(self.dom.createTextNode(text))
        for child in children:
            el.appendChild(child)
        return el

    def _indexed(self, letter: str, layer: str | None, indices: list[str]):
        base = self._el("mi", text=letter)
        sub = self._el("mrow", *[self._el("mn", text=i) if k == 0 else self._el("mrow", self._el("mo", text=","),
                                                                              self._el("mn", text=i))
                                   for k, i in enumerate(indices)])
        if layer is None:
            return self._el("msub", base, sub)
        sup = self._el("mrow", self._el("mo", text="("), self._el("mn", text=layer), self._el("mo", text=")"))
        return self._el("msubsup", base, sub, sup)

    def _print_Symbol(self, sym, style="plain"):
        m = _INDEXED.match(sym.name)
        if m:
            indices = [g for g in m.groups()[2:] if g is not None]
            if m[1] == "g":  # ∂L/∂a
                return self._el("mfrac", self._el("mrow", self._el("mo", text="\u2202"), self._el("mi", text="L")),
                                self._el("mrow", self._el("mo", text="\u2202"), self._indexed("a", m[2], indices)))
            return self._indexed(_LETTERS.get(m[1], m[1]), m[2], indices)
        m = _LEAF.match(sym.name)
        if m:
            return self._indexed(m[1], None, [m[2]])
        if sym.name in ("l1", "l2"):
            return self._indexed("\u03bb", None, [sym.name[1]])
        return super()._print_Symbol(sym, style)


def expr(e: sp.Expr) -> str:
    """A formula of the derivation's symbols as presentation MathML (no ``<math>`` wrapper)."""
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


def math(*parts: str, display: bool = False) -> str:
    """``<math>`` around pieces joined by nothing (pass ``<mo>`` pieces between them)."""
    kind = "block" if display else "inline"
    return f'<math display="{kind}"><mrow>{"".join(parts)}</mrow></math>'


def op(text: str) -> str:
    return f"<mo>{html.escape(text)}</mo>"
