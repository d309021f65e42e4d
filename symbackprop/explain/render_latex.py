"""An explanation as LaTeX: a fragment to paste into a document, a whole document that
pdflatex compiles, or display math for a notebook (MathJax) -- one more layout of
:func:`~symbackprop.explain.render.document`'s blocks, so it cannot disagree with the text.

The prose outside math is plain ASCII: the explanation's Unicode symbols become LaTeX
commands, and runs of Unicode super- and subscripts (W¹₀,₁) become math.
"""
from __future__ import annotations

import re

from .render import Cell, Equation, Heading, Math, Paragraph, document

# ``Explanation`` is named in annotations, not imported: explanation.py imports this module to render itself


_SUPERSCRIPTS = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻ˡ", "0123456789+-l"))
_SUBSCRIPTS = dict(zip("₀₁₂₃₄₅₆₇₈₉₊₋ⱼᵢₖ", "0123456789+-jik"))


def _scripts(text: str) -> str:
    """Runs of Unicode super- and subscripts (W¹₀,₁) as LaTeX math (W$^{1}_{0,1}$)."""
    out, k = [], 0
    while k < len(text):
        for table, mark in ((_SUPERSCRIPTS, "^"), (_SUBSCRIPTS, "_")):
            run = ""
            while k < len(text) and (text[k] in table or (run and text[k] == "," and k + 1 < len(text)
                                                           and text[k + 1] in table)):
                run += table.get(text[k], ",")
                k += 1
            if run:
                out.append(f"${mark}{{{run}}}$")
                break
        else:
            out.append(text[k])
            k += 1
    return "".join(out)


def _tex_text(text: str) -> str:
    """Prose as LaTeX text: special characters escaped, the explanation's Unicode symbols as
    commands, so the result is plain ASCII that any LaTeX compiles."""
    for a, b in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("&", r"\&"), ("%", r"\%"), ("#", r"\#"),
                 ("{", r"\{"), ("}", r"\}"), ("$", r"\$"), ("^", r"\^{}"), ("~", r"\~{}"), ("Σ", r"$\Sigma$"),
                 ("·", r"$\cdot$"), ("η", r"$\eta$"), ("δ", r"$\delta$"), ("∂", r"$\partial$"), ("−", "-"),
                 ("←", r"$\leftarrow$"), ("→", r"$\rightarrow$"), ("×", r"$\times$"), ("≤", r"$\leq$"),
                 ("≥", r"$\geq$"), ("σ", r"$\sigma$"), ("ε", r"$\varepsilon$"), ("…", r"\ldots{}"),
                 ("–", "--"), ("—", "---"), ("‖", r"$\|$"), ("²", r"$^{2}$")):
        text = text.replace(a, b)
    text = re.sub(r"(?<!\\)\$\$", "", _scripts(text))  # W$^{1}$$_{0}$ -> W$^{1}_{0}$
    return "".join(ch if ord(ch) < 128 else f"[U+{ord(ch):04X}]" for ch in text)  # never raw Unicode


#: what a standalone document wraps the fragment in (standard packages of every TeX distribution)
_PREAMBLE = r"""\documentclass[10pt]{article}
\usepackage[T1]{fontenc}
\usepackage{amsmath,amssymb}
\usepackage[margin=1.5cm,landscape]{geometry}
\setlength{\parindent}{0pt}
\begin{document}
\small
"""


def _tex(cell: Cell) -> str:
    return (f"${cell.tex}$" if cell.tex else "") if isinstance(cell, Math) else _tex_text(cell)


def render_latex(ex: "Explanation", notebook: bool = False, standalone: bool = False) -> str:
    """LaTeX: a document fragment (sections, ``tabular``, display math), a whole document that
    pdflatex compiles (``standalone=True``), or for a notebook (``notebook=True``) display
    math only, which MathJax renders.  The text outside math is plain ASCII."""
    out: list[str] = [_PREAMBLE] if standalone else []
    for b in document(ex):
        if isinstance(b, Heading):
            if notebook:
                out.append(rf"$$\textbf{{{_tex_text(b.text).replace('$', '')}}}$$")
            else:
                out.append(rf"\{'sub' * (b.level - 1)}section*{{{_tex_text(b.text)}}}")
        elif isinstance(b, Paragraph):
            if notebook:
                out.append("$$" + " ".join(p.tex if isinstance(p, Math) else rf"\text{{{p}}}" for p in b.parts) + "$$")
            else:
                out.append("".join(_tex(p) for p in b.parts) + "\n")
        elif isinstance(b, Equation):
            body = " = ".join(p.tex for p in b.parts)
            out.append(f"$${body}$$" if notebook else rf"\[ {body} \]")
        else:
            cols = "".join("r" if k in b.numeric else "l" for k in range(len(b.header)))
            if notebook:
                def cell(c: Cell) -> str:
                    return c.tex if isinstance(c, Math) else rf"\text{{{c}}}"
                rows = [" & ".join(cell(c) for c in b.header)] + [" & ".join(cell(c) for c in r) for r in b.rows]
                out.append(rf"$$\begin{{array}}{{{cols}}}" + r" \\ ".join(rows) + r"\end{array}$$")
            else:
                out.append(rf"\begin{{tabular}}{{{cols}}}")
                out.append(" & ".join(_tex(c) for c in b.header) + r" \\ \hline")
                out += [" & ".join(_tex(c) for c in row) + r" \\" for row in b.rows]
                out.append(r"\end{tabular}" + "\n")
    if standalone:
        out.append(r"\end{document}")
    return "\n".join(out) + "\n"
