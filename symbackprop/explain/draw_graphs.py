"""Two more pictures, drawn with matplotlib: the per-operation computation graph of a tiny
network (micrograd's ``draw_dot``, with numbers) and an image network's layers, one box each.

Laid out here rather than by Graphviz (see :mod:`~symbackprop.explain.draw` for why): the
operation graph's columns are its ranks (:func:`~symbackprop.explain.op_graph.op_graph`),
ordered within a column by a few barycentre sweeps, which keeps most arrows short.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..plotting import DRAWING as FEATURE
from . import notation as nt

if TYPE_CHECKING:
    from .op_graph import OpGraph

#: how far apart the computation graph's columns and rows stand (inches), and a box's half size
OP_COLUMN_SPACING, OP_ROW_SPACING = 1.55, 0.62
OP_HALF_W, OP_HALF_H = 0.58, 0.25
#: where along an arrow its local derivative is written, from the child: past the middle, so
#: that the arrows leaving one box (a shared input) have their labels apart
OP_LABEL_AT = 0.58


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


def op_graph_figure(graph: "OpGraph"):
    """The computation graph: each operation a box with its value and ∂L/∂(node) ("grad"), each
    arrow labelled with its local derivative ∂parent/∂child."""
    from ..plotting import new_figure, require_matplotlib
    require_matplotlib(FEATURE)
    from matplotlib.patches import FancyBboxPatch

    pos = _op_positions(graph)
    xs = [x for x, _ in pos.values()]
    ys = [y for _, y in pos.values()]
    fig = new_figure(FEATURE, figsize=(max(xs) - min(xs) + 2.0, max(ys) - min(ys) + 1.6))
    ax = fig.subplots()
    for e in graph.edges:
        (x0, y0), (x1, y1) = pos[e.child], pos[e.parent]
        start, end = (x0 + OP_HALF_W, y0), (x1 - OP_HALF_W, y1)
        ax.annotate("", xy=end, xytext=start, zorder=1,
                    arrowprops={"arrowstyle": "-|>", "color": "0.55", "lw": 0.8, "shrinkA": 0, "shrinkB": 0})
        ax.text(start[0] + OP_LABEL_AT * (end[0] - start[0]), start[1] + OP_LABEL_AT * (end[1] - start[1]),
                nt.number(e.local), fontsize=5, ha="center", va="center", color="#7a4f00", zorder=3,
                gid=f"local-{e.child}-{e.parent}",
                bbox={"boxstyle": "round,pad=0.08", "fc": "white", "ec": "none", "alpha": 0.85})
    for n in graph.nodes:
        x, y = pos[n.id]
        face = "#eef3fb" if n.leaf and n.name else "#f4f4f4" if n.leaf else "#fff7e0" if n.name else "white"
        ax.add_patch(FancyBboxPatch((x - OP_HALF_W, y - OP_HALF_H), 2 * OP_HALF_W, 2 * OP_HALF_H, zorder=2,
                                    fc=face, ec="0.35", lw=0.8, boxstyle="round,pad=0.01,rounding_size=0.06",
                                    gid=f"op-{n.id}"))
        head = n.op if n.leaf else f"{n.op}  → {n.name}" if n.name else n.op
        constant = n.leaf and not n.name
        ax.text(x, y + (0.0 if constant else 0.05), head if constant else f"{head}\n{nt.number(n.value)}",
                fontsize=6, ha="center", va="center", zorder=4, linespacing=1.1, gid=f"opvalue-{n.id}")
        if not constant:
            ax.text(x, y - 0.17, f"grad = {nt.number(n.grad)}", fontsize=5, ha="center", va="center", zorder=4,
                    color="#1f4e99", gid=f"opgrad-{n.id}")
    ax.set_xlim(min(xs) - 0.8, max(xs) + 0.8)
    ax.set_ylim(min(ys) - 0.5, max(ys) + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(graph.title + "\nin each box: the operation (→ the symbol it computes) and its value; in blue, "
                 "grad = ∂L/∂(this node); on each arrow: the local derivative ∂parent/∂child", fontsize=7)
    return fig


#: a box's fill by the kind of layer it is
_LAYER_COLOURS = {"Conv2D": "#dbe8f7", "MaxPool2D": "#e6f2df", "AvgPool2D": "#e6f2df", "Flatten": "#f1f1f1",
                  "Dense": "#fdebd3", "ResidualAdd": "#efe1f5"}


def layers_figure(network):
    """One box per layer with its parameters, output shape and parameter count; forward arrows
    carry the shape, dashed arrows say what flows back, and a residual block's skip
    connection is an arc from the block's input to its end."""
    from ..model.layers import ResidualAdd
    from ..plotting import new_figure, require_matplotlib
    require_matplotlib(FEATURE)
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    summary = network.summary()
    rows = list(summary.rows) + [("loss", network.loss.name, "1", "")]
    step, width, height = 2.5, 1.6, 1.25
    fig = new_figure(FEATURE, figsize=(step * len(rows) + 0.6, 3.6))
    ax = fig.subplots()
    for k, (layer, params, shape, count) in enumerate(rows):
        x = k * step
        kind = layer.split(": ")[-1].split(" ")[0]
        face = _LAYER_COLOURS.get(kind, "#f4f4f4" if k == 0 else "#fff7e0" if layer == "loss" else "white")
        ax.add_patch(FancyBboxPatch((x - width / 2, -height / 2), width, height, fc=face, ec="0.3", lw=1.0,
                                    boxstyle="round,pad=0.02,rounding_size=0.1", gid=f"layer-{k}"))
        lines = [layer] + [p for p in params.split(", ") if p] + ([shape] if k == 0 else [])
        if count and count != "0":
            lines.append(f"{count} parameters")
        ax.text(x, 0, "\n".join(lines), ha="center", va="center", fontsize=7, linespacing=1.3,
                gid=f"layer-text-{k}")
        if k:
            ax.add_patch(FancyArrowPatch((x - step + width / 2, 0.2), (x - width / 2, 0.2), arrowstyle="-|>",
                                         mutation_scale=9, color="0.35", lw=1.0))
            ax.text(x - step / 2, 0.33, rows[k - 1][2], ha="center", fontsize=6.5, color="0.25")
            ax.add_patch(FancyArrowPatch((x - width / 2, -0.25), (x - step + width / 2, -0.25), arrowstyle="-|>",
                                         mutation_scale=9, color="#b2182b", lw=0.9, linestyle="--"))
        if 1 <= k <= len(network.layers) and isinstance(network.layers[k - 1], ResidualAdd):
            source = network.layers[k - 1].skip_source(k) * step
            ax.add_patch(FancyArrowPatch((source, height / 2), (x, height / 2), arrowstyle="-|>", mutation_scale=9,
                                         connectionstyle="arc3,rad=-0.3", color="#6a3d9a", lw=1.1,
                                         gid=f"skip-{k}"))
            ax.text((source + x) / 2, height / 2 + 0.3 * (x - source) / 2 + 0.12, "skip: the block's input, added",
                    ha="center", fontsize=6.5, color="#6a3d9a")
    skips = any(isinstance(layer, ResidualAdd) for layer in network.layers)
    ax.text(step * (len(rows) - 1) / 2, -height / 2 - 0.35,
            "solid: the forward pass, with each arrow's tensor shape; dashed red: the backward pass, each layer "
            "receiving ∂L/∂(its output) and passing back ∂L/∂(its input)", ha="center", fontsize=7, color="0.3")
    ax.set_xlim(-step / 2, step * (len(rows) - 0.5))
    ax.set_ylim(-height / 2 - 0.6, height / 2 + (1.4 if skips else 0.3))
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"{network!r}\n({network.n_params:,} parameters; 'symbackprop explain' prints each layer's "
                 "derived rules)", fontsize=7)
    return fig
