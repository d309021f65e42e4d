"""Pictures of a backprop step, drawn with matplotlib: the network after its backward pass
(here), its computation graph and an image network's layers
(:mod:`~symbackprop.explain.draw_graphs`), and the public ``draw_*`` functions.

matplotlib is already the plots' library (an optional extra) and writes SVG and PNG with
no system binary, so a fresh machine draws what ``pip install 'symbackprop[plot]'`` gives.
The layouts come from :mod:`~symbackprop.explain.picture` and
:mod:`~symbackprop.explain.op_graph`; these modules only place them on a figure.

In SVG every element keeps an id (``edge-W1_0_1``, ``node-n1_0``, ``values-n1_0``,
``path-W1_0_1`` for an edge's highlight) and text stays text, so a reader, a test or the
interactive page can find each number again.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..plotting import DRAWING as FEATURE
from . import notation as nt
from .picture import LOSS, NetworkPicture

if TYPE_CHECKING:
    from ..plotting import Plot
# ``Explanation`` is named in annotations, not imported: explanation.py imports this module to draw itself

#: the diverging colour map of ∂L/∂w: blue where w should grow, red where it should shrink
GRADIENT_CMAP = "RdBu_r"
#: the colour behind the highlighted paths (not in the colour map, so it cannot be read as a gradient)
HIGHLIGHT = "#f2b200"
#: more weights than this between two layers and they are shown by colour only (their labels
#: would overlap); the chosen parameter's own edge is labelled anyway, and the page shows every number
MAX_EDGE_LABELS = 8
#: how far apart columns and rows stand (inches); a box's half width
COLUMN_SPACING, ROW_SPACING, HALF_BOX = 3.0, 1.25, 0.55
#: how high a skip connection's arc rises above the tops of the boxes (below the row above)
SKIP_RISE = 0.28
#: where along an edge its label may sit (fractions from the source), and a label's size (inches)
LABEL_SPOTS = tuple(k / 20 for k in range(3, 18))
LABEL_W, LABEL_H = 1.2, 0.42


def _place_labels(segments: dict[str, tuple[tuple[float, float], tuple[float, float]]],
                  boxes: list[tuple[float, float, float, float]]) -> dict[str, tuple[float, float]]:
    """A spot on each edge for its label, chosen greedily so that labels overlap each other and
    the neurons' boxes as little as possible (near the middle when all else is equal)."""
    placed: list[tuple[float, float, float, float]] = []

    def overlap(a, b) -> float:
        return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    spots = {}
    for name, ((x0, y0), (x1, y1)) in segments.items():
        def cost(t: float) -> float:
            x, y = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
            box = (x - LABEL_W / 2, y - LABEL_H / 2, x + LABEL_W / 2, y + LABEL_H / 2)
            return (sum(overlap(box, other) for other in placed) + sum(overlap(box, b) for b in boxes)
                    + 0.01 * abs(t - 0.5))
        t = min(LABEL_SPOTS, key=cost)
        x, y = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
        placed.append((x - LABEL_W / 2, y - LABEL_H / 2, x + LABEL_W / 2, y + LABEL_H / 2))
        spots[name] = (x, y)
    return spots


def _positions(picture: NetworkPicture, labelled: set[str]) -> dict[str, tuple[float, float]]:
    """Each node's centre: one column per layer, each column centred vertically; a gap whose
    weights are labelled is wider the more weights it has, so that their labels find room."""
    tallest = max(len(c) for c in picture.columns)
    xs, x = [], 0.0
    for k, column in enumerate(picture.columns):
        if k:
            n_labels = len(column) * len(picture.columns[k - 1]) if f"n{k}" in labelled else 0
            x += min(max(COLUMN_SPACING, 1.1 + 0.55 * n_labels), 2 * COLUMN_SPACING)
        xs.append(x)
    return {n.id: (xs[k], ((tallest - 1) / 2 - row) * ROW_SPACING)
            for k, column in enumerate(picture.columns) for row, n in enumerate(column)}


def _node_text(node) -> str:
    names = {"x": node.label}
    return "\n".join([node.label] * (node.values[0][0] not in ("x", "L")) +
                     [f"{names.get(name, name)} = {nt.number(value)}" for name, value in node.values])


def _line(ax, e, start, end, **style) -> None:
    """One edge: straight, or for a skip connection an arc over the block it skips."""
    if e.kind == "skip":
        from matplotlib.patches import FancyArrowPatch
        style.pop("solid_capstyle", None)
        # an arc that rises SKIP_RISE above the boxes it passes, whatever its length
        rad = -2 * SKIP_RISE / max(abs(end[0] - start[0]), 1e-9)
        ax.add_patch(FancyArrowPatch(start, end, connectionstyle=f"arc3,rad={rad:.4f}", arrowstyle="-",
                                     linestyle=style.pop("linestyle", "--"), color=style.pop("color"),
                                     linewidth=style.pop("lw"), alpha=style.pop("alpha", 1.0), **style))
    else:
        ax.plot([start[0], end[0]], [start[1], end[1]], **style)


def network_figure(picture: NetworkPicture, every_halo: bool = False):
    """The network on a matplotlib figure: nodes with their values, edges coloured by ∂L/∂w.

    ``every_halo`` draws each edge's highlight, invisible unless lit (the page lights them
    with its style sheet); otherwise only the chosen parameter's paths carry one.
    """
    from ..plotting import new_figure, require_matplotlib
    require_matplotlib(FEATURE)
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyBboxPatch

    weights = [e for e in picture.edges if e.gradient is not None]
    into: dict[str, list[str]] = {}  # the weights into each layer
    for e in weights:
        into.setdefault(e.target.split("_")[0], []).append(e.id)
    labelled = {layer for layer, ids in into.items() if len(ids) <= MAX_EDGE_LABELS}
    pos = _positions(picture, labelled)
    right = max(x for x, _ in pos.values())
    tallest = max(len(c) for c in picture.columns)
    fig = new_figure(FEATURE, figsize=(right + 4.0, ROW_SPACING * max(tallest, 2) + 1.8))
    ax = fig.subplots()
    largest = max((abs(e.gradient) for e in weights), default=0.0) or 1.0
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-largest, vmax=largest)
    cmap = matplotlib.colormaps[GRADIENT_CMAP]
    heaviest = max((abs(e.weight) for e in weights), default=0.0) or 1.0
    segments: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {}  # the labelled weights
    for e in picture.edges:
        (x0, y0), (x1, y1) = pos[e.source], pos[e.target]
        start, end = (x0 + HALF_BOX, y0), (x1 - HALF_BOX, y1)
        if e.kind == "skip":  # leave the top of the source box, land on the top of the target box
            start, end = (x0, y0 + 0.45), (x1, y1 + 0.45)
        lit = e.id in picture.highlighted_edges
        if lit or every_halo:
            _line(ax, e, start, end, color=HIGHLIGHT, lw=9, alpha=0.55 if lit else 0.0, linestyle="-",
                  solid_capstyle="round",
                  zorder=1, gid=f"path-{e.id}")
        if e.gradient is None:
            style = {"skip": "--", "identity": "-", "loss": "-"}[e.kind]
            _line(ax, e, start, end, linestyle=style, color="0.45", lw=1.3, zorder=2, gid=f"edge-{e.id}")
            continue
        lw = 1.0 + 3.0 * abs(e.weight) / heaviest
        _line(ax, e, start, end, color="0.72", lw=lw + 0.8, zorder=2)  # visible where ∂L/∂w ≈ 0 is white
        _line(ax, e, start, end, color=cmap(norm(e.gradient)), lw=lw, zorder=2, gid=f"edge-{e.id}")
        if e.target.split("_")[0] in labelled or e.id == picture.param:
            segments[e.id] = (start, end)
    boxes = [(x - HALF_BOX, y - 0.45, x + HALF_BOX, y + 0.45) for x, y in pos.values()]
    by_id = {e.id: e for e in picture.edges}
    for name, (x, y) in _place_labels(segments, boxes).items():
        e = by_id[name]
        ax.text(x, y, f"{nt.display_name(e.id)} = {nt.number(e.weight)}\n∂L/∂w = {nt.number(e.gradient)}",
                fontsize=6.5, ha="center", va="center", zorder=4, gid=f"label-{e.id}",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85})
    for node in picture.nodes:
        x, y = pos[node.id]
        lit = node.id in picture.highlighted_nodes
        face = "#f4f4f4" if node.layer == 0 else "#fff7e0" if node.id == LOSS else "white"
        ax.add_patch(FancyBboxPatch((x - HALF_BOX, y - 0.45), 2 * HALF_BOX, 0.9, fc=face, zorder=3,
                                    boxstyle="round,pad=0.02,rounding_size=0.12", ec=HIGHLIGHT if lit else "0.3",
                                    lw=2.6 if lit else 1.0, gid=f"node-{node.id}"))
        ax.text(x, y, _node_text(node), ha="center", va="center", fontsize=7, zorder=5, linespacing=1.25,
                gid=f"values-{node.id}")
    for k, column in enumerate(picture.columns):
        name = "input" if k == 0 else "loss" if k == len(picture.columns) - 1 else f"layer {k}"
        ax.text(pos[column[0].id][0], ROW_SPACING * (tallest - 1) / 2 + 0.95, name, ha="center", fontsize=8,
                color="0.35")
    ax.set_xlim(-0.9, right + 0.9)
    ax.set_ylim(-ROW_SPACING * (tallest - 1) / 2 - 0.8, ROW_SPACING * (tallest - 1) / 2 + 1.2)
    ax.set_aspect("equal")
    ax.axis("off")
    if weights:
        bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.6, pad=0.01, fraction=0.04)
        bar.set_label("∂L/∂w of each weight (edge colour; width ∝ |w|)", fontsize=7)
        bar.ax.tick_params(labelsize=6)
    ax.legend(handles=_legend(picture, Line2D), loc="upper left", bbox_to_anchor=(0.0, 0.0), fontsize=7,
              frameon=False, ncol=2)
    ax.set_title(picture.title + "\n" + _caption(picture, set(into) - labelled), fontsize=8)
    return fig


def _legend(picture: NetworkPicture, Line2D) -> list:
    handles = []
    if picture.param:
        name = nt.display_name(picture.param)
        label = (f"the {picture.paths} path{'s' * (picture.paths != 1)} from {name} to the loss"
                 if picture.paths_listed else
                 f"{name}'s own edge and neuron (its {picture.paths} paths are too many to list; δ sums them)")
        if picture.coupled and picture.paths_listed:
            label += "; in a softmax layer every output is lit: they are coupled (∂aₖ/∂zⱼ)"
        handles.append(Line2D([], [], color=HIGHLIGHT, lw=7, alpha=0.55, label=label))
    kinds = {e.kind for e in picture.edges}
    if "skip" in kinds:
        handles.append(Line2D([], [], color="0.45", lw=1.3, linestyle="--",
                              label="residual skip: the block's input, added at its end (arc)"))
        handles.append(Line2D([], [], color="0.45", lw=1.3, label="the block's output into its end, and the "
                                                                   "outputs into the loss"))
    else:
        handles.append(Line2D([], [], color="0.45", lw=1.3, label="output into the loss"))
    return handles


def _caption(picture: NetworkPicture, unlabelled: set[str]) -> str:
    caption = "z = weighted sum, a = activation, δ = ∂L/∂z, b = bias"
    if picture.penalised:
        caption += "; L and each ∂L/∂w include the L1/L2 penalty"
    if unlabelled:
        layers = sorted(int(layer[1:]) for layer in unlabelled)
        caption += (f"\nthe weights into layer{'s' * (len(layers) > 1)} {', '.join(map(str, layers))} "
                    "by colour only (too many to label: explain --html shows each)")
    return caption


def _shown(plot: "Plot", path: str | os.PathLike | None) -> "Plot":
    """The plot (Jupyter shows it), written to ``path`` first when one is given."""
    if path is not None:
        plot.save(path)
    return plot


def draw_explanation(ex: "Explanation", path: str | os.PathLike | None = None,  # noqa: F821
                     param: str | None = None) -> "Plot":
    """The network of ``ex``: z, a, δ and b on each neuron, each weight with ∂L/∂w (its colour)
    and the paths of ``param`` (default: the explained parameter) highlighted."""
    from ..plotting import Plot
    from .picture import network_picture
    return _shown(Plot(network_figure(network_picture(ex, param)), dpi=150, tight=True, feature=FEATURE), path)


def draw_operations(ex: "Explanation", path: str | os.PathLike | None = None) -> "Plot":  # noqa: F821
    """The per-operation computation graph of ``ex``: every ×, + and activation with its value
    and ∂L/∂(node), every arrow with its local derivative.  Tiny networks only: a graph of more
    than :data:`~symbackprop.explain.op_graph.MAX_OP_NODES` nodes is refused (ArchitectureError)."""
    from .op_graph import op_graph
    return _shown(operations_plot(op_graph(ex)), path)


def operations_plot(graph) -> "Plot":
    """An :class:`~symbackprop.explain.op_graph.OpGraph` already built, drawn."""
    from ..plotting import Plot
    from .draw_graphs import op_graph_figure
    return Plot(op_graph_figure(graph), dpi=150, tight=True, feature=FEATURE)


def draw_network(network, path: str | os.PathLike | None = None) -> "Plot":
    """Any network's layers, one box each, with shapes and parameter counts (no sample needed);
    a residual block's skip connection as an arc.  Returns the plot (Jupyter shows it;
    ``.save(path)`` writes .svg, .png or .pdf), written to ``path`` first when given."""
    from ..plotting import Plot
    from .draw_graphs import layers_figure
    return _shown(Plot(layers_figure(network), dpi=150, tight=True, feature=FEATURE), path)
