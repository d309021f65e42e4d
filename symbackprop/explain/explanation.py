"""What an explanation of one backprop step holds: plain records, no computation.

:func:`symbackprop.explain.explain` (in :mod:`~symbackprop.explain.walkthrough`) fills these
records; :mod:`~symbackprop.explain.render` lays them out.  They live apart from both so
that the renderer can read an explanation without importing the evaluation, and the
evaluation can build one without knowing how it is drawn.  :class:`Explanation` only
forwards its ``to_*`` methods and Jupyter hooks to the renderer.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sympy as sp

from .param_names import parse_param

if TYPE_CHECKING:
    from ..model.network import Network


@dataclass(frozen=True)
class Quantity:
    """A named value of the derivation: its symbol, its defining formula (if any) and its value."""

    symbol: sp.Symbol
    expr: sp.Expr | None
    value: float


@dataclass(frozen=True)
class NeuronRow:
    """One row of the forward-pass table."""

    layer: int
    neuron: int
    activation: str
    inputs: tuple[Quantity, ...]
    weights: tuple[Quantity, ...]
    #: None for a residual block's end (no weights: its inputs are the block's output and input)
    bias: Quantity | None
    z: Quantity
    a: Quantity


@dataclass(frozen=True)
class Factor:
    """One local derivative ∂of/∂wrt on a path: SymPy's derivative of ``of``'s definition."""

    of: sp.Symbol
    wrt: sp.Symbol
    expr: sp.Expr
    value: float


@dataclass(frozen=True)
class Path:
    """One path from a parameter to the loss; its contribution is the product of its factors."""

    factors: tuple[Factor, ...]

    @property
    def value(self) -> float:
        return math.prod(f.value for f in self.factors)


@dataclass(frozen=True)
class ChainRule:
    """∂L/∂w for one parameter: the sum over paths, and the same through the layer's δ."""

    param: sp.Symbol
    paths: tuple[Path, ...]
    #: the regularisation term ∂(penalty)/∂w, if the network has one
    penalty: Quantity | None
    #: ∂L/∂w = δ · ∂z/∂w (+ penalty): the backprop form of the same sum
    delta: Quantity
    local: Factor
    gradient: Quantity
    #: paths were too many to list (only δ's form is shown)
    paths_omitted: int = 0

    @property
    def value(self) -> float:
        return self.gradient.value


@dataclass(frozen=True)
class LayerBackward:
    """The backward pass through one layer: ∂L/∂a and δ of its neurons, its parameters' gradients."""

    layer: int
    grad_outputs: tuple[Quantity, ...]
    deltas: tuple[Quantity, ...]
    gradients: tuple[Quantity, ...]


@dataclass(frozen=True)
class Update:
    """``w ← w − η·∂L/∂w`` for one parameter."""

    param: sp.Symbol
    value: float
    gradient: float
    lr: float

    @property
    def new_value(self) -> float:
        return self.value - self.lr * self.gradient


@dataclass
class Explanation:
    """Everything :func:`~symbackprop.explain.explain` found; render with :meth:`to_text`, :meth:`to_markdown`, :meth:`to_latex`."""

    network: "Network"
    x: tuple[float, ...]
    y: tuple[float, ...]
    lr: float
    forward: list[list[NeuronRow]]
    loss: Quantity
    chain: ChainRule
    backward: list[LayerBackward]
    updates: list[Update]
    values: dict[sp.Symbol, float] = field(repr=False, default_factory=dict)
    #: every parameter's chain rule (``chain`` is the chosen one's), for the picture and the page
    chains: dict[sp.Symbol, ChainRule] = field(repr=False, default_factory=dict)

    def gradient(self, name: str) -> float:
        """∂L/∂param by the user's name (``"W1[0,1]"``), from the backward pass."""
        symbol = parse_param(self.network, name)[0]
        return next(g.value for layer in self.backward for g in layer.gradients if g.symbol.name == f"dL_d{symbol}")

    def to_text(self) -> str:
        from .render import render_text
        return render_text(self)

    def to_markdown(self) -> str:
        from .render import render_markdown
        return render_markdown(self)

    def to_latex(self, standalone: bool = False) -> str:
        """LaTeX: a fragment to paste into a document, or with ``standalone`` a whole document."""
        from .render_latex import render_latex
        return render_latex(self, standalone=standalone)

    def to_html(self) -> str:
        """HTML (what Jupyter shows): the same blocks as the text, math as MathML with its LaTeX attached."""
        from .render_html import render_html
        return render_html(self)

    def draw(self, path: "str | os.PathLike | None" = None, param: str | None = None):
        """The network picture: neurons with z, a, δ, b; weights with w and ∂L/∂w (their colour);
        the paths of ``param`` (default: the explained parameter, ``W1[0,1]``) to the loss lit.

        Returns a :class:`~symbackprop.plotting.Plot`, which Jupyter shows and ``.save(path)``
        writes (.svg, .png, .pdf); given ``path``, it is written first.  Needs matplotlib."""
        from .draw import draw_explanation
        return draw_explanation(self, path, param)

    def draw_operations(self, path: "str | os.PathLike | None" = None):
        """The computation graph, micrograd-style: every ×, + and activation with its value and
        ∂L/∂(node), every arrow with its local derivative.  Tiny networks only (at most
        :data:`~symbackprop.explain.op_graph.MAX_OP_NODES` nodes, else ArchitectureError);
        returns a :class:`~symbackprop.plotting.Plot`, as :meth:`draw` does."""
        from .draw import draw_operations
        return draw_operations(self, path)

    def to_page(self) -> str:
        """The interactive page (what ``explain --html`` writes) as one HTML string: offline, with
        the picture, a click-a-weight chain-rule panel and a step control.  Save it with
        ``Path("step.html").write_text(ex.to_page(), encoding="utf-8")``.  (:meth:`to_html` is
        the static walk-through Jupyter shows.)  Needs matplotlib for the picture."""
        from .page import render_page
        return render_page(self)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return (f"Explanation({self.network!r}, x={[float(v) for v in self.x]}, y={[float(v) for v in self.y]}: loss {self.loss.value:.6g}, "
                f"{len(self.updates)} updates at lr {self.lr:g}; print() shows the walk-through)")

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def _repr_latex_(self) -> str:
        from .render_latex import render_latex
        return render_latex(self, notebook=True)
