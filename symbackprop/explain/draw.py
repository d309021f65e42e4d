"""Pictures of a backprop step, drawn with matplotlib: the network, its computation graph,
an image network's layers.

matplotlib is already the plots' library (an optional extra) and writes SVG and PNG with
no system binary, so a fresh machine draws what ``pip install 'symbackprop[plot]'`` gives.
The layouts come from :mod:`~symbackprop.explain.picture` and
:mod:`~symbackprop.explain.op_graph`; this module only places them on a figure.

In SVG every element keeps an id (``edge-W1_0_1``, ``node-n1_0``, ``values-n1_0``) and text
stays text, so a reader, a test or the interactive page can find each number again.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from . import notation as nt
from .picture import LOSS, NetworkPicture

if TYPE_CHECKING:
    from .op_graph import OpGraph
# ``Explanation`` is named in annotations, not imported: explanation.py imports this module to draw itself

#: what the error says needs matplotlib when it is missing
FEATURE = "drawing (explain --graph, --op-graph, --html)"
#: the diverging colour map of ∂L/∂w: blue where w should grow, red where it should shrink
GRADIENT_CMAP = "RdBu_r"
#: the colour behind the highlighted paths (not in the colour map, so it cannot be read as a gradient)
HIGHLIGHT = "#f2b200"
#: more weights than this between two layers and they are shown by colour only (their labels
#: would overlap); the page and the tables give every number
MAX_EDGE_LABELS = 8
#: how far apart columns and rows stand (inches)
COLUMN_SPACING, ROW_SPACING = 2.6, 1.25


@contextmanager
def _svg_text() -> Iterator[None]:
    """SVG text as ``<text>`` elements (not glyph outlines), so the numbers can be read back."""
    import matplotlib
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "symbackprop"}):
        yield


def _positions(picture: NetworkPicture, labelled: set[str]) -> dict[str, tuple[float, float]]:
    """Each node's centre: one column per layer, each column centred vertically; a gap with
    many labelled weights is wider, so that their labels fit side by side."""
    tallest = max(len(c) for c in picture.columns)
    xs, x = [], 0.0
    for k, column in enumerate(picture.columns):
        if k:
            n_edges = len(column) * len(picture.columns[k - 1]) if f"n{k}" in labelled else 0
            x += min(max(COLUMN_SPACING, 1.4 + 0.42 * n_edges), 3 * COLUMN_SPACING)
        xs.append(x)
    return {n.id: (xs[k], ((tallest - 1) / 2 - row) * ROW_SPACING)
            for k, column in enumerate(picture.columns) for row, n in enumerate(column)}


def _node_text(node) -> str:
    names = {"x": node.label}
    return "\n".join([node.label] * (node.values[0][0] not in ("x", "L")) +
                     [f"{names.get(name, name)} = {nt.number(value)}" for name, value in node.values])


def network_figure(picture: NetworkPicture):
    """The network on a matplotlib figure: nodes with their values, edges coloured by ∂L/∂w."""
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyBboxPatch

    from ..plotting import pyplot
    plt = pyplot(FEATURE)
    weights = [e for e in picture.edges if e.gradient is not None]
    between: dict[str, list[str]] = {}  # the weights into each layer
    for e in weights:
        between.setdefault(e.target.split("_")[0], []).append(e.id)
    labelled = {layer for layer, ids in between.items() if len(ids) <= MAX_EDGE_LABELS}
    pos = _positions(picture, labelled)
    right = max(x for x, _ in pos.values())
    tallest = max(len(c) for c in picture.columns)
    height = ROW_SPACING * max(tallest, 2) + 1.6
    fig, ax = plt.subplots(figsize=(right + 4.0, height))
    largest = max((abs(e.gradient) for e in weights), default=0.0) or 1.0
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-largest, vmax=largest)
    cmap = plt.get_cmap(GRADIENT_CMAP)
    heaviest = max((abs(e.weight) for e in weights), default=0.0) or 1.0
    for e in picture.edges:
        (x0, y0), (x1, y1) = pos[e.source], pos[e.target]
        x0, x1 = x0 + 0.55, x1 - 0.55
        if e.id in picture.highlighted_edges:
            ax.plot([x0, x1], [y0, y1], color=HIGHLIGHT, lw=9, alpha=0.55, solid_capstyle="round", zorder=1,
                    gid=f"path-{e.id}")
        if e.gradient is None:
            style = {"skip": "--", "identity": "-", "loss": "-"}[e.kind]
            ax.plot([x0, x1], [y0, y1], style, color="0.55", lw=1.2, zorder=2, gid=f"edge-{e.id}")
            continue
        lw = 1.0 + 3.0 * abs(e.weight) / heaviest
        ax.plot([x0, x1], [y0, y1], color="0.72", lw=lw + 0.8, zorder=2)  # visible where ∂L/∂w ≈ 0 is white
        ax.plot([x0, x1], [y0, y1], color=cmap(norm(e.gradient)), lw=lw, zorder=2, gid=f"edge-{e.id}")
        gap = e.target.split("_")[0]
        if gap in labelled:
            # each edge between two layers at its own distance along it, so that their labels stand apart
            # (where the layer narrows, its edges converge: their labels stay near their sources)
            column = picture.columns[int(gap[1:])]
            narrows = len(column) < len(picture.columns[int(gap[1:]) - 1])
            t = 0.3 if narrows else 0.22 + 0.56 * between[gap].index(e.id) / max(len(between[gap]) - 1, 1)
            ax.text(x0 + t * (x1 - x0), y0 + t * (y1 - y0),
                    f"{nt.display_name(e.id)} = {nt.number(e.weight)}\n∂L/∂w = {nt.number(e.gradient)}",
                    fontsize=6.5, ha="center", va="center", zorder=4, gid=f"label-{e.id}",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85})
    for node in picture.nodes:
        x, y = pos[node.id]
        lit = node.id in picture.highlighted_nodes
        face = "#f4f4f4" if node.layer == 0 else "#fff7e0" if node.id == LOSS else "white"
        ax.add_patch(FancyBboxPatch((x - 0.55, y - 0.45), 1.1, 0.9, boxstyle="round,pad=0.02,rounding_size=0.12",
                                    fc=face, ec=HIGHLIGHT if lit else "0.3", lw=2.6 if lit else 1.0, zorder=3,
                                    gid=f"node-{node.id}"))
        ax.text(x, y, _node_text(node), ha="center", va="center", fontsize=7, zorder=5, linespacing=1.25,
                gid=f"values-{node.id}")
    for k, column in enumerate(picture.columns):
        name = "input" if k == 0 else "loss" if k == len(picture.columns) - 1 else f"layer {k}"
        ax.text(pos[column[0].id][0], ROW_SPACING * (tallest - 1) / 2 + 0.75, name, ha="center", fontsize=8,
                color="0.35")
    ax.set_xlim(-0.9, right + 0.9)
    ax.set_ylim(-ROW_SPACING * (tallest - 1) / 2 - 0.8, ROW_SPACING * (tallest - 1) / 2 + 1.0)
    ax.set_aspect("equal")
    ax.axis("off")
    if weights:
        mappable = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
        bar = fig.colorbar(mappable, ax=ax, shrink=0.6, pad=0.01, fraction=0.04)
        bar.set_label("∂L/∂w of each weight (edge colour; width ∝ |w|)", fontsize=7)
        bar.ax.tick_params(labelsize=6)
    handles = []
    if picture.param:
        handles.append(Line2D([], [], color=HIGHLIGHT, lw=7, alpha=0.55,
                              label=f"paths from {nt.display_name(picture.param)} to the loss"))
    kinds = {e.kind for e in picture.edges}
    if "identity" in kinds:
        handles.append(Line2D([], [], color="0.55", lw=1.2, label="residual: block output (solid), skip (dashed)"))
    handles.append(Line2D([], [], color="0.55", lw=1.2, label="output into the loss"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, 0.0), fontsize=7, frameon=False,
              ncol=len(handles))
    caption = "z = weighted sum, a = activation, δ = ∂L/∂z, b = bias"
    unlabelled = sorted(int(layer[1:]) for layer in set(between) - labelled)
    if unlabelled:
        caption += (f"; the weights into layer{'s' * (len(unlabelled) > 1)} {', '.join(map(str, unlabelled))} "
                    "by colour only (too many to label: explain --html shows each)")
    ax.set_title(picture.title + "\n" + caption, fontsize=8)
    return fig


def save_picture(fig, path: str | os.PathLike) -> None:
    """Write a picture's figure to ``path`` (SVG text kept as text), atomically."""
    from ..plotting import check_plot_path, save_figure
    check_plot_path(path, FEATURE)
    with _svg_text():
        save_figure(fig, path, dpi=150, tight=True)


def _shown(fig, path: str | os.PathLike | None):
    """The figure itself (Jupyter shows it), or written to ``path`` and closed (returns None)."""
    if path is None:
        return fig
    save_picture(fig, path)
    return None


def draw_explanation(ex: "Explanation", path: str | os.PathLike | None = None, param: str | None = None):
    """The network of ``ex``: z, a, δ and b on each neuron, each weight with ∂L/∂w (its colour)
    and the paths of ``param`` (default: the explained parameter) highlighted."""
    from .picture import network_picture
    return _shown(network_figure(network_picture(ex, param)), path)


def draw_operations(ex: "Explanation", path: str | os.PathLike | None = None):
    """The per-operation computation graph of ``ex`` (tiny networks: at most
    :data:`~symbackprop.explain.op_graph.MAX_OP_NODES` nodes)."""
    from .op_graph import op_graph
    return _shown(op_graph_figure(op_graph(ex)), path)


def draw_network(network, path: str | os.PathLike | None = None):
    """Any network's layers, one box each, with shapes and parameter counts (no sample needed)."""
    return _shown(layers_figure(network), path)


def svg_text(fig) -> str:
    """The figure as an SVG document string (for the interactive page)."""
    import io
    from ..plotting import pyplot
    buffer = io.StringIO()
    with _svg_text():
        fig.savefig(buffer, format="svg", bbox_inches="tight")
    pyplot(FEATURE).close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _op_positions(graph: "OpGraph") -> dict[int, tuple[float, float]]:
    """Columns by rank; within a column, nodes ordered by the mean height of their
    neighbours (a few barycentre sweeps), which keeps most edges short and uncrossed."""
    columns: dict[int, list[int]] = {}
    for n in graph.nodes:
        columns.setdefault(n.rank, []).append(n.id)
    neighbours: dict[int, list[int]] = {n.id: [] for n in graph.nodes}
    for e in graph.edges:
        neighbours[e.child].append(e.parent)
        neighbours[e.parent].append(e.child)

    def place() -> dict[int, float]:
        return {node: (len(ids) - 1) / 2 - row for ids in columns.values() for row, node in enumerate(ids)}
    y = place()
    for _ in range(8):
        for ids in columns.values():
            ids.sort(key=lambda k: sum(y[m] for m in neighbours[k]) / len(neighbours[k]) if neighbours[k] else y[k],
                     reverse=True)
        y = place()
    return {k: (graph.nodes[k].rank * OP_COLUMN_SPACING, y[k] * OP_ROW_SPACING) for k in y}


#: how far apart the computation graph's columns and rows stand (inches)
OP_COLUMN_SPACING, OP_ROW_SPACING = 1.55, 0.62


def op_graph_figure(graph: "OpGraph"):
    """The computation graph: each operation a box with its value and ∂L/∂(node), each edge
    labelled with its local derivative ∂parent/∂child (micrograd's ``draw_dot``, with numbers)."""
    from matplotlib.patches import FancyBboxPatch

    from ..plotting import pyplot
    plt = pyplot(FEATURE)
    pos = _op_positions(graph)
    xs = [x for x, _ in pos.values()]
    ys = [y for _, y in pos.values()]
    fig, ax = plt.subplots(figsize=(max(xs) - min(xs) + 2.0, max(ys) - min(ys) + 1.6))
    half_w, half_h = 0.58, 0.25
    for e in graph.edges:
        (x0, y0), (x1, y1) = pos[e.child], pos[e.parent]
        ax.annotate("", xy=(x1 - half_w, y1), xytext=(x0 + half_w, y0), zorder=1,
                    arrowprops={"arrowstyle": "-|>", "color": "0.55", "lw": 0.8, "shrinkA": 0, "shrinkB": 0})
        start, end = x0 + half_w, x1 - half_w
        t = max(end - start - 0.3, 0.0) / (end - start) if end > start else 0.5  # just before the arrow head
        ax.text(start + t * (end - start), y0 + t * (y1 - y0), nt.number(e.local), fontsize=5, ha="center", va="center",
                color="#7a4f00", zorder=3, gid=f"local-{e.child}-{e.parent}",
                bbox={"boxstyle": "round,pad=0.08", "fc": "white", "ec": "none", "alpha": 0.8})
    for n in graph.nodes:
        x, y = pos[n.id]
        face = "#eef3fb" if n.leaf and n.name else "#f4f4f4" if n.leaf else "#fff7e0" if n.name else "white"
        ax.add_patch(FancyBboxPatch((x - half_w, y - half_h), 2 * half_w, 2 * half_h, zorder=2, fc=face, ec="0.35",
                                    lw=0.8, boxstyle="round,pad=0.01,rounding_size=0.06", gid=f"op-{n.id}"))
        head = n.op if n.leaf else f"{n.op}  → {n.name}" if n.name else n.op
        constant = n.leaf and not n.name
        ax.text(x, y + (0.0 if constant else 0.05), head if constant else f"{head}\n{nt.number(n.value)}",
                fontsize=6, ha="center", va="center", zorder=4, linespacing=1.1, gid=f"opvalue-{n.id}")
        if constant:
            continue
        ax.text(x, y - 0.17, f"∂L/∂ = {nt.number(n.grad)}", fontsize=5, ha="center", va="center", zorder=4,
                color="#1f4e99", gid=f"opgrad-{n.id}")
    ax.set_xlim(min(xs) - 0.8, max(xs) + 0.8)
    ax.set_ylim(min(ys) - 0.5, max(ys) + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(graph.title + "\nin each box: the operation (→ the symbol it computes), its value, "
                 "∂L/∂(node) in blue; on each arrow: the local derivative ∂parent/∂child", fontsize=7)
    return fig


#: a box's fill by the kind of layer it is
_LAYER_COLOURS = {"Conv2D": "#dbe8f7", "MaxPool2D": "#e6f2df", "AvgPool2D": "#e6f2df", "Flatten": "#f1f1f1",
                  "Dense": "#fdebd3", "ResidualAdd": "#efe1f5"}


def layers_figure(network):
    """An image network (or any network too wide to draw neuron by neuron): one box per layer
    with its parameters, output shape and parameter count; forward arrows carry the shape,
    and the dashed arrows below say what flows back (δ, the error of each layer's output)."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    from ..plotting import pyplot
    plt = pyplot(FEATURE)
    summary = network.summary()
    rows = list(summary.rows) + [("loss", network.loss.name, "1", "")]
    step, width, height = 2.5, 1.6, 1.25
    fig, ax = plt.subplots(figsize=(step * len(rows) + 0.6, 3.2))
    for k, (layer, params, shape, count) in enumerate(rows):
        x = k * step
        kind = layer.split(": ")[-1].split(" ")[0]
        face = _LAYER_COLOURS.get(kind, "#f4f4f4" if k == 0 else "#fff7e0" if layer == "loss" else "white")
        ax.add_patch(FancyBboxPatch((x - width / 2, -height / 2), width, height, fc=face, ec="0.3", lw=1.0,
                                    boxstyle="round,pad=0.02,rounding_size=0.1", gid=f"layer-{k}"))
        lines = [layer] + [p for p in params.split(", ") if p] + ([shape] if k == 0 else [])
        if count and count != "0":
            lines.append(f"{count} parameters")
        ax.text(x, 0, "\n".join(lines), ha="center", va="center", fontsize=6.5, linespacing=1.3,
                gid=f"layer-text-{k}")
        if k:
            ax.add_patch(FancyArrowPatch((x - step + width / 2, 0.2), (x - width / 2, 0.2), arrowstyle="-|>",
                                         mutation_scale=9, color="0.35", lw=1.0))
            ax.text(x - step / 2, 0.33, rows[k - 1][2], ha="center", fontsize=6, color="0.25")
            ax.add_patch(FancyArrowPatch((x - width / 2, -0.25), (x - step + width / 2, -0.25), arrowstyle="-|>",
                                         mutation_scale=9, color="#b2182b", lw=0.9, linestyle="--"))
    ax.text(step * (len(rows) - 1) / 2, -height / 2 - 0.35,
            "solid: the forward pass, with each arrow's tensor shape; dashed red: the backward pass, each layer "
            "receiving ∂L/∂(its output) and passing back ∂L/∂(its input)", ha="center", fontsize=6.5, color="0.3")
    ax.set_xlim(-step / 2, step * (len(rows) - 0.5))
    ax.set_ylim(-height / 2 - 0.6, height / 2 + 0.3)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"{network!r}\n({network.n_params:,} parameters; 'symbackprop explain' prints each layer's "
                 "derived rules)", fontsize=7)
    return fig
