"""An explanation as HTML, for Jupyter's ``_repr_html_`` and the interactive page: the same
blocks as the text, Markdown and LaTeX layouts (:func:`~symbackprop.explain.render.document`),
so no format can disagree on a number.

Math is MathML (:mod:`~symbackprop.explain.mathml`), which browsers and Jupyter render
with nothing to download; each piece carries its LaTeX spelling as a tooltip and in
``data-tex``, for a reader who wants to copy it.
"""
from __future__ import annotations

import html
from typing import Iterable

from . import mathml as mm
from .render import Block, Cell, Equation, Heading, Math, Paragraph, document

#: MathML Core has no columnalign: an aligned equation's columns are aligned by CSS
MATH_STYLE = (".eq mtd:first-child {text-align: right} .eq mtd:last-child {text-align: left} "
              "mtable.terms mtd {text-align: left}")
_STYLE = ("<style>.symbackprop-explanation table {border-collapse: collapse} "
          ".symbackprop-explanation td, .symbackprop-explanation th {padding: 2px 8px; "
          f"border-bottom: 1px solid #eee}} {MATH_STYLE}</style>")


def _math(m: Math, display: bool = False) -> str:
    tex = html.escape(m.tex, quote=True)
    kind = "block" if display else "inline"
    return f'<math display="{kind}" data-tex="{tex}" title="{tex}"><mrow>{m.ml}</mrow></math>'


def _cell(cell: Cell) -> str:
    return _math(cell) if isinstance(cell, Math) else html.escape(cell)


def blocks_html(blocks: Iterable[Block], heading_offset: int = 2) -> str:
    """Headings, paragraphs, display equations and tables as HTML (numeric columns right-aligned)."""
    out = []
    for b in blocks:
        if isinstance(b, Heading):
            level = min(b.level + heading_offset, 6)
            out.append(f"<h{level}>{html.escape(b.text)}</h{level}>")
        elif isinstance(b, Paragraph):
            out.append("<p>" + "".join(_cell(p) for p in b.parts) + "</p>")
        elif isinstance(b, Equation):
            out.append(f"<div class='eq'>{_math(_aligned(b), display=True)}</div>")
        else:
            def row(cells, tag: str) -> str:
                return "<tr>" + "".join(f"<{tag} class='{'num' if k in b.numeric else 'txt'}' "
                                        f"style='text-align:{'right' if k in b.numeric else 'left'}'>"
                                        f"{_cell(c)}</{tag}>" for k, c in enumerate(cells)) + "</tr>"
            out.append("<table><thead>" + row(b.header, "th") + "</thead><tbody>"
                       + "".join(row(r, "td") for r in b.rows) + "</tbody></table>")
    return "\n".join(out)


def _aligned(eq: Equation) -> Math:
    """``a = b = c = d`` as rows aligned on their equals signs (LaTeX's ``align``): a formula, the
    same with numbers and the value each get a line, so no equation runs off the page."""
    first, *rest = eq.parts
    if len(rest) < 2:  # a = b fits one line
        ml = mm.op("=").join(f"<mrow>{p.ml}</mrow>" for p in eq.parts)
    else:
        cells = [(first.ml, rest[0].ml)] + [("", p.ml) for p in rest[1:]]
        ml = ("<mtable columnalign='right left' columnspacing='0.2em'>"
              + "".join(f"<mtr><mtd><mrow>{lhs}</mrow></mtd><mtd><mrow>{mm.op('=')}<mspace width='0.3em'/>{rhs}</mrow></mtd></mtr>"
                        for lhs, rhs in cells) + "</mtable>")
    return Math(" = ".join(p.text for p in eq.parts), " = ".join(p.tex for p in eq.parts), ml)


def render_html(ex: "Explanation") -> str:  # noqa: F821 (the record of .explanation, not imported: it imports us)
    """One ``<div>`` with headings, paragraphs, equations and tables."""
    return f'<div class="symbackprop-explanation">{_STYLE}\n{blocks_html(document(ex))}\n</div>'
