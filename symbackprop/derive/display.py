"""How a derivation shows itself in a REPL and in Jupyter.

A derivation holds thousands of SymPy nodes; the dataclass ``repr`` would dump them all.
Its ``repr`` is one line that says what it is and how to see it, and its HTML is the
equations as MathML (SymPy's presentation printer), which browsers and Jupyter render
with nothing to download.
"""
from __future__ import annotations

import html
from typing import Iterable

import sympy as sp

#: more equations than this are cut from the HTML, with a line saying how many
HTML_LIMIT = 60


def one_line(kind: str, network, counts: dict[str, int], seconds: float) -> str:
    """``IndexDerivation(Network(...): 4 forward, 6 backward statements, derived in 0.12 s; print() shows them)``."""
    shown = ", ".join(f"{n} {what}" for what, n in counts.items())
    return f"{kind}({network!r}: {shown}, derived in {seconds:.2f} s; print() shows them)"


def _mathml(expr: sp.Expr) -> str:
    return sp.printing.mathml(expr, printer="presentation")


def equations_html(title: str, equations: Iterable[tuple[str, sp.Expr, sp.Expr]]) -> str:
    """A titled list of ``lhs = rhs`` equations in MathML, each with a short label (its role)."""
    rows, cut = [], 0
    for k, (label, lhs, rhs) in enumerate(equations):
        if k >= HTML_LIMIT:
            cut += 1
            continue
        rows.append(f"<tr><td style='text-align:left;color:#666'>{html.escape(label)}</td>"
                    f"<td style='text-align:left'><math display='inline'><mrow>{_mathml(lhs)}<mo>=</mo>"
                    f"{_mathml(rhs)}</mrow></math></td></tr>")
    more = f"<p>… and {cut} more (print() shows them all)</p>" if cut else ""
    return f"<div><strong>{html.escape(title)}</strong><table>{''.join(rows)}</table>{more}</div>"
