"""An explanation as HTML, for Jupyter's ``_repr_html_``: the same blocks as the text,
Markdown and LaTeX layouts (:func:`~symbackprop.explain.render.document`), so no format
can disagree on a number.

Math is shown in its Unicode spelling, which needs no renderer; each piece carries its
LaTeX spelling in ``data-tex`` (and as a tooltip), for a reader who wants to copy it.
"""
from __future__ import annotations

import html

from .render import Cell, Equation, Heading, Math, Paragraph, document

_STYLE = ("<style>.symbackprop-explanation .math {font-family: 'DejaVu Serif', 'Cambria Math', serif; "
          "white-space: nowrap}</style>")


def _cell(cell: Cell) -> str:
    if isinstance(cell, Math):
        tex = html.escape(cell.tex, quote=True)
        return f'<span class="math" data-tex="{tex}" title="{tex}">{html.escape(cell.text)}</span>'
    return html.escape(cell)


def render_html(ex: "Explanation") -> str:  # noqa: F821 (the record of .explanation, not imported: it imports us)
    """One ``<div>`` with headings, paragraphs, equations and tables."""
    out = ['<div class="symbackprop-explanation">', _STYLE]
    for b in document(ex):
        if isinstance(b, Heading):
            level = min(b.level + 2, 6)
            out.append(f"<h{level}>{html.escape(b.text)}</h{level}>")
        elif isinstance(b, Paragraph):
            out.append("<p>" + "".join(_cell(p) for p in b.parts) + "</p>")
        elif isinstance(b, Equation):
            out.append("<p style='margin-left:2em'>" + " = ".join(_cell(p) for p in b.parts) + "</p>")
        else:
            def row(cells, tag: str) -> str:
                return "<tr>" + "".join(f"<{tag} style='text-align:{'right' if k in b.numeric else 'left'}'>"
                                        f"{_cell(c)}</{tag}>" for k, c in enumerate(cells)) + "</tr>"
            out.append("<table><thead>" + row(b.header, "th") + "</thead><tbody>"
                       + "".join(row(r, "td") for r in b.rows) + "</tbody></table>")
    out.append("</div>")
    return "\n".join(out)
