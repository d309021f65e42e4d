"""An explanation as a document: Unicode text for the terminal and Markdown here, LaTeX in
:mod:`~symbackprop.explain.render_latex`, HTML in :mod:`~symbackprop.explain.render_html`.

:func:`document` turns an :class:`~symbackprop.explain.explanation.Explanation` into a
list of blocks (headings, paragraphs, equations, tables) whose pieces of math carry their
Unicode, LaTeX and MathML spellings; each ``render_*`` function only lays the blocks
out.  So the formats cannot disagree on a number or a formula.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import sympy as sp

from . import mathml as mm
from . import notation as nt
from .param_names import user_name

# ``Explanation``, ``ChainRule``, ``Factor`` and ``Quantity`` below are the records of .explanation, named in
# annotations but not imported: that module imports this one to render itself.


@dataclass(frozen=True)
class Math:
    """A piece of mathematics in each spelling: Unicode, LaTeX and presentation MathML."""

    text: str
    tex: str
    #: MathML without the ``<math>`` wrapper; None: the Unicode text, as ``<mtext>``
    mathml: str | None = None

    @property
    def ml(self) -> str:
        return self.mathml if self.mathml is not None else mm.text(self.text)


Cell = Union[str, Math]


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    parts: tuple[Cell, ...]


@dataclass(frozen=True)
class Equation:
    """``parts[0] = parts[1] = ...``"""

    parts: tuple[Math, ...]


@dataclass(frozen=True)
class Table:
    header: tuple[Cell, ...]
    rows: tuple[tuple[Cell, ...], ...]
    #: columns whose cells are numbers (right-aligned in text)
    numeric: frozenset[int] = frozenset()


Block = Union[Heading, Paragraph, Equation, Table]


# -- pieces ------------------------------------------------------------------------------

def sym(s: sp.Symbol) -> Math:
    return Math(nt.display_name(s.name), nt.display_name(s.name, latex=True), mm.symbol(s.name))


def expr(e: sp.Expr) -> Math:
    return Math(nt.unicode(e), nt.latex(e), mm.expr(e))


def value(v: float) -> Math:
    text = nt.number(v)
    return Math(text, text.replace("−", "-"), mm.number(v))


def numbers(e: sp.Expr, values: dict) -> Math:
    return Math(nt.with_numbers(e, values), nt.with_numbers(e, values, latex_out=True))


def partial(f: "Factor") -> Math:
    return loss_partial(f.of, f.wrt)


def loss_partial(of: sp.Symbol, wrt: sp.Symbol) -> Math:
    """∂of/∂wrt in each spelling."""
    return Math(nt.partial(of, wrt), nt.partial(of, wrt, latex=True), mm.partial(of, wrt))


def equals(*parts: Math) -> Math:
    """``a = b = …`` as one piece of math (inside a table cell or a sentence)."""
    return Math(" = ".join(p.text for p in parts), " = ".join(p.tex for p in parts),
                mm.op("=").join(p.ml for p in parts))


def product(parts: list[Math]) -> Math:
    return Math(" · ".join(p.text for p in parts), r" \cdot ".join(p.tex for p in parts),
                mm.op("·").join(p.ml for p in parts))


def _negative(p: Math) -> bool:
    return p.text.startswith("−")


def sum_of(parts: list[Math]) -> Math:
    """``a + b + …``, a negative number after the first in parentheses: ``0.1 + (−0.2)``."""
    def text(k: int, p: Math) -> str:
        return f"({p.text})" if k and _negative(p) else p.text

    def tex(k: int, p: Math) -> str:
        return rf"\left({p.tex}\right)" if k and _negative(p) else p.tex

    def ml(k: int, p: Math) -> str:
        return f"<mrow><mo>(</mo>{p.ml}<mo>)</mo></mrow>" if k and _negative(p) else f"<mrow>{p.ml}</mrow>"
    if len(parts) > 2 and sum(len(p.text) for p in parts) > 60:  # a long sum: one term per line
        rows = "".join(f"<mtr><mtd>{mm.op('+') if k else ''}{ml(k, p)}</mtd></mtr>" for k, p in enumerate(parts))
        mathml = f"<mtable class='terms'>{rows}</mtable>"
    else:
        mathml = mm.op("+").join(ml(k, p) for k, p in enumerate(parts))
    return Math(" + ".join(text(k, p) for k, p in enumerate(parts)), " + ".join(tex(k, p) for k, p in enumerate(parts)),
                mathml)


def _tuple(pieces: list[str]) -> str:
    return "<mrow><mo>(</mo>" + mm.op(",").join(pieces) + "<mo>)</mo></mrow>"


def vector(vs) -> Math:
    shown = [nt.number(v) for v in vs]
    return Math("(" + ", ".join(shown) + ")", r"\left(" + ", ".join(s.replace("−", "-") for s in shown) + r"\right)",
                _tuple([mm.number(v) for v in vs]))


def symbols(ss) -> Math:
    return Math("(" + ", ".join(nt.display_name(s.name) for s in ss) + ")",
                r"\left(" + ", ".join(nt.display_name(s.name, latex=True) for s in ss) + r"\right)",
                _tuple([mm.symbol(s.name) for s in ss]))


def definition(q: "Quantity", values: dict) -> Equation:
    """``symbol = formula = formula with numbers = value`` (steps that add nothing are left out)."""
    parts = [sym(q.symbol)]
    if q.expr is not None and q.expr != q.symbol:
        parts.append(expr(q.expr))
        if q.expr.free_symbols and not (isinstance(q.expr, sp.Symbol)):
            parts.append(numbers(q.expr, values))
    parts.append(value(q.value))
    return Equation(tuple(parts))


# -- the document ---------------------------------------------------------------------------

def document(ex: "Explanation") -> list[Block]:
    net = ex.network
    v = ex.values
    blocks: list[Block] = [
        Heading(f"Backpropagation, step by step: {net!r}", 1),
        Paragraph(("input ", Math("x", "x"), " = ", vector(ex.x), ", target ", Math("y", "y"), " = ",
                   vector(ex.y), ", learning rate ", Math("η", r"\eta"), " = ", value(ex.lr))),
        Heading("1. Forward pass"),
        Paragraph(("Each neuron j of layer l sums its inputs times its weights plus its bias, ",
                   Math("zˡⱼ = Σᵢ aˡ⁻¹ᵢ·Wˡᵢ,ⱼ + bˡⱼ", r"z^{(l)}_{j} = \sum_i a^{(l-1)}_{i} W^{(l)}_{i,j} + b^{(l)}_{j}"),
                   ", then applies its activation, ", Math("aˡⱼ = f(zˡⱼ)", r"a^{(l)}_{j} = f(z^{(l)}_{j})"),
                   "; the inputs of layer 1 are ", Math("x", "x"), ".")),
    ]
    for rows in ex.forward:
        if rows[0].bias is None:  # a residual block's end: its block's output plus its input
            blocks.append(Heading(f"Layer {rows[0].layer}: residual sum ({rows[0].activation})", 3))
            blocks.append(Paragraph(("The skip connection: each neuron adds the block's output to the block's "
                                     "input, then applies the activation.",)))
            header = ("neuron", "block output", "block input", "z = output + input", "z", "a = f(z)", "a")
            table_rows = tuple((str(r.neuron), value(r.inputs[0].value), value(r.inputs[1].value),
                                equals(sym(r.z.symbol), expr(r.z.expr)), value(r.z.value),
                                equals(sym(r.a.symbol), expr(r.a.expr)), value(r.a.value)) for r in rows)
            blocks.append(Table(header, table_rows, frozenset({1, 2, 4, 6})))
            continue
        blocks.append(Heading(f"Layer {rows[0].layer} ({rows[0].activation})", 3))
        inputs = symbols([q.symbol for q in rows[0].inputs])
        header = ("neuron", Math(f"inputs {inputs.text}", rf"\mathrm{{inputs}}\; {inputs.tex}"), "weights", "bias",
                  "z = Σ input·weight + bias", "z", "a = f(z)", "a")
        table_rows = []
        for r in rows:
            table_rows.append((
                str(r.neuron),
                vector([q.value for q in r.inputs]),
                vector([q.value for q in r.weights]),
                value(r.bias.value),
                equals(sym(r.z.symbol), expr(r.z.expr)),
                value(r.z.value),
                equals(sym(r.a.symbol), expr(r.a.expr)),
                value(r.a.value)))
        blocks.append(Table(header, tuple(table_rows), frozenset({3, 5, 7})))
        for r in rows:
            blocks.append(Equation((sym(r.z.symbol), numbers(r.z.expr, v), value(r.z.value))))
    blocks += [Heading("2. Loss"), Paragraph((f"{net.loss.long_name}, for this one sample:",)),
               definition(ex.loss, v)]
    blocks += chain_blocks(ex)
    blocks += _backward_blocks(ex)
    blocks += _update_blocks(ex)
    return blocks


def chain_blocks(ex: "Explanation", c: "ChainRule | None" = None, number: str = "3. ") -> list[Block]:
    """The chain rule of one parameter (default: the explained one): its paths, each as a
    product of local derivatives with their values, their sum, and δ's form of the same sum."""
    c = c or ex.chain
    v = ex.values
    name = user_name(c.param)
    deriv_loss = sp.Symbol("L")
    grad = loss_partial(deriv_loss, c.param)
    blocks: list[Block] = [Heading(f"{number}The chain rule for {nt.display_name(c.param.name)} ({name})")]
    if c.paths:
        count = len(c.paths)
        blocks.append(Paragraph((sym(c.param), f" reaches the loss along {count} path{'s' * (count > 1)}; "
                                 "each contributes the product of the local derivatives along it"
                                 + (", and the contributions add up:" if count > 1 else ":"),)))
        penalty_term = [expr(c.penalty.expr)] if c.penalty is not None else []
        blocks.append(Equation((grad, sum_of([product([partial(f) for f in p.factors]) for p in c.paths]
                                             + penalty_term))))
        for k, p in enumerate(c.paths, start=1):
            if count > 1:
                blocks.append(Heading(f"path {k}", 3))
            rows = tuple((partial(f), expr(f.expr), numbers(f.expr, v) if f.expr.free_symbols else value(f.value),
                          value(f.value)) for f in p.factors)
            rows += (("product", "", "", value(p.value)),)
            blocks.append(Table(("factor", "formula", "with numbers", "value"), rows, frozenset({3})))
        terms = [value(p.value) for p in c.paths]
        if c.penalty is not None:
            terms.append(value(c.penalty.value))
        if len(terms) > 1:
            blocks.append(Equation((grad, sum_of(terms), value(sum(p.value for p in c.paths)
                                                            + (c.penalty.value if c.penalty else 0.0)))))
    else:
        blocks.append(Paragraph((sym(c.param), f" reaches the loss along {c.paths_omitted} paths, too many to "
                                 "list one by one: backprop sums them layer by layer into δ, below.",)))
    if c.penalty is not None:
        blocks.append(Paragraph(("The regularisation penalty adds its own derivative, ",
                                 equals(expr(c.penalty.expr), numbers(c.penalty.expr, v), value(c.penalty.value)),
                                 ".")))
    blocks.append(Paragraph(("Backprop computes the same sum once per neuron: the error ",
                             equals(sym(c.delta.symbol), loss_partial(deriv_loss, c.local.of)),
                             " gathers every path above the neuron, and",)))
    with_numbers = [] if isinstance(c.gradient.expr, sp.Symbol) else [numbers(c.gradient.expr, v)]  # a bias: δ itself
    blocks.append(Equation((grad, expr(c.gradient.expr), *with_numbers, value(c.gradient.value))))
    return blocks


def _backward_blocks(ex: "Explanation") -> list[Block]:
    v = ex.values
    blocks: list[Block] = [
        Heading("4. Backward pass, layer by layer"),
        Paragraph(("From the output down: ", Math("∂L/∂aˡ", r"\frac{\partial L}{\partial a^{(l)}}"),
                   " (from the loss, or summed over the next layer's neurons), the error ",
                   Math("δˡ = ∂L/∂zˡ", r"\delta^{(l)} = \frac{\partial L}{\partial z^{(l)}}"),
                   ", and each parameter's gradient from δ.",)),
    ]
    for layer in ex.backward:
        blocks.append(Heading(f"Layer {layer.layer}", 3))
        for q in (*layer.grad_outputs, *layer.deltas, *layer.gradients):
            blocks.append(definition(q, v))
    return blocks


def _update_blocks(ex: "Explanation") -> list[Block]:
    rows = tuple((sym(u.param), value(u.value), value(u.gradient), value(u.new_value)) for u in ex.updates)
    return [Heading(f"5. Gradient-descent update, η = {nt.number(ex.lr)}"),
            Paragraph(("Every parameter moves against its gradient: ",
                       Math("w ← w − η·∂L/∂w", r"w \leftarrow w - \eta \frac{\partial L}{\partial w}"), ".")),
            Table(("parameter", "w", "∂L/∂w", "w − η·∂L/∂w"), rows, frozenset({1, 2, 3}))]


# -- layouts -------------------------------------------------------------------------------

def _text(cell: Cell) -> str:
    return cell.text if isinstance(cell, Math) else cell


def render_text(ex: "Explanation") -> str:
    """Unicode text for a terminal."""
    lines: list[str] = []
    for b in document(ex):
        if isinstance(b, Heading):
            if lines:
                lines.append("")
            lines.append(b.text)
            if b.level < 3:
                lines.append(("=" if b.level == 1 else "-") * len(b.text))
        elif isinstance(b, Paragraph):
            lines.append("".join(_text(p) for p in b.parts))
        elif isinstance(b, Equation):
            lines.append("  " + " = ".join(p.text for p in b.parts))
        else:
            cells = [[_text(c) for c in b.header]] + [[_text(c) for c in row] for row in b.rows]
            widths = [max(len(r[k]) for r in cells) for k in range(len(b.header))]
            for k, row in enumerate(cells):
                lines.append("  " + "  ".join(c.rjust(w) if i in b.numeric and k else c.ljust(w)
                                              for i, (c, w) in enumerate(zip(row, widths))).rstrip())
    return "\n".join(lines) + "\n"


def _md(cell: Cell) -> str:
    if isinstance(cell, Math):
        return f"${cell.tex}$" if cell.tex else ""
    return cell.replace("|", "\\|")


def render_markdown(ex: "Explanation") -> str:
    """Markdown with ``$…$`` math (GitHub, Jupyter and most static-site generators render it)."""
    out: list[str] = []
    for b in document(ex):
        if isinstance(b, Heading):
            out.append(f"{'#' * (b.level + 1)} {b.text}\n")
        elif isinstance(b, Paragraph):
            out.append("".join(_md(p) for p in b.parts) + "\n")
        elif isinstance(b, Equation):
            out.append("$$" + " = ".join(p.tex for p in b.parts) + "$$\n")
        else:
            out.append("| " + " | ".join(_md(c) for c in b.header) + " |")
            out.append("|" + "|".join("---:" if k in b.numeric else "---" for k in range(len(b.header))) + "|")
            out += ["| " + " | ".join(_md(c) for c in row) + " |" for row in b.rows]
            out.append("")
    return "\n".join(out)
