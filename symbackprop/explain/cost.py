"""How shared partial derivatives cut backprop's cost: operation counts as networks grow.

For a sweep of networks (wider, then deeper) this counts, per sample (``sympy.count_ops``,
see :mod:`symbackprop.simplify.report`):

* **naive** -- ∂L/∂w of the fully substituted loss, one ``sympy.diff`` per parameter;
* **naive + CSE** -- the same gradients after common-subexpression elimination;
* **chain rule** -- backprop's program (forward, named δ's, gradients) after CSE;
* **forward** -- the forward pass and loss alone,

with the time each derivation took.  The lesson is in the growth: the naive form grows
with the number of paths through the network (exponentially in depth), the chain rule
with the number of edges, a small multiple of the forward pass.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Sequence



@dataclass(frozen=True)
class CostRow:
    """The counts for one network of the sweep."""

    sweep: str  # "width" or "depth"
    sizes: tuple[int, ...]
    n_params: int
    forward: int
    chain_rule: int
    naive: int | None
    naive_cse: int | None
    chain_seconds: float
    naive_seconds: float | None

    @property
    def name(self) -> str:
        return "-".join(map(str, self.sizes))


def width_sweep(widths: Sequence[int]) -> list[tuple[int, ...]]:
    """``w-w-1`` networks: one hidden layer as wide as the input."""
    return [(w, w, 1) for w in widths]


def depth_sweep(depths: Sequence[int], width: int = 4) -> list[tuple[int, ...]]:
    """``width`` inputs, ``depth`` hidden layers of ``width`` neurons, one output."""
    return [(width,) * (d + 1) + (1,) for d in depths]


def measure(sizes: Sequence[int], sweep: str, activation: str = "sigmoid", loss: str = "mse",
            naive: bool | None = None) -> CostRow:
    """Count one network (the naive form only up to the report's parameter limit unless ``naive``)."""
    from ..model.losses import get_loss
    from ..model.network import Network
    from ..simplify.report import count_unrolled

    output = get_loss(loss).output_after(activation)
    net = Network.mlp(list(sizes), activation, output, loss)
    r = count_unrolled(net, naive=naive)
    return CostRow(sweep, tuple(sizes), r.n_params, r.forward, r.chain_rule, r.naive, r.naive_cse,
                   r.seconds["chain_rule_derivation"] + r.seconds["chain_rule_cse"],
                   None if r.naive is None else r.seconds["naive_derivation"] + r.seconds["naive_cse"])


def cost_sweep(widths: Sequence[int] = (2, 4, 8), depths: Sequence[int] = (1, 2, 3), depth_width: int = 4,
               activation: str = "sigmoid", loss: str = "mse", naive: bool | None = None,
               on_row=None) -> list[CostRow]:
    """Measure the width sweep, then the depth sweep; ``on_row(row)`` is called as each is done."""
    rows: list[CostRow] = []
    done: dict[tuple[int, ...], CostRow] = {}  # a network in both sweeps is derived once
    for sweep, nets in (("width", width_sweep(widths)), ("depth", depth_sweep(depths, depth_width))):
        for sizes in nets:
            row = done[sizes] = replace(done[sizes], sweep=sweep) if sizes in done else \
                measure(sizes, sweep, activation, loss, naive)
            rows.append(row)
            if on_row is not None:
                on_row(row)
    return rows


HEADER = (f"{'sweep':<6} {'network':<14} {'params':>6} {'naive':>11} {'naive+CSE':>10} {'chain rule':>10} "
          f"{'forward':>8} {'naive/chain':>11} {'chain derive':>12} {'naive derive':>12}")


def format_row(r: CostRow) -> str:
    def count(v: int | None) -> str:
        return f"{v:,}" if v is not None else "—"
    ratio = f"{r.naive / r.chain_rule:,.1f}×" if r.naive is not None else "—"
    naive_time = f"{r.naive_seconds:.2f} s" if r.naive_seconds is not None else "—"
    return (f"{r.sweep:<6} {r.name:<14} {r.n_params:>6} {count(r.naive):>11} {count(r.naive_cse):>10} "
            f"{r.chain_rule:>10,} {r.forward:>8,} {ratio:>11} {r.chain_seconds:>10.2f} s {naive_time:>12}")


FOOTNOTE = ("operations per sample (sympy.count_ops); naive: ∂L/∂w of the substituted loss for every w; "
            "chain rule: backprop's program after CSE; times: derivation + CSE")


def cost_table(rows: Sequence[CostRow]) -> str:
    return "\n".join([HEADER, "-" * len(HEADER), *map(format_row, rows), FOOTNOTE])


#: one colour and marker per series, the same in the count and the time panels
_SERIES = {"naive": ("naive", "C0", "o-"), "naive_cse": ("naive + CSE", "C1", "s--"),
           "chain_rule": ("chain rule (backprop)", "C2", "^-"), "forward": ("forward only", "C3", "v:")}


def cost_plot(rows: Sequence[CostRow], title: str = "") -> "Plot":  # noqa: F821 (symbackprop.plotting's)
    """Operation counts (top) and derivation times (bottom) against width (left) and depth (right)."""
    from ..plotting import Plot, new_figure
    fig = new_figure(figsize=(10, 7))
    from matplotlib.ticker import MaxNLocator
    axes = fig.subplots(2, 2)
    for col, sweep in enumerate(("width", "depth")):
        chosen = [r for r in rows if r.sweep == sweep]
        width = f" of width {chosen[0].sizes[1]}" if chosen and len(chosen[0].sizes) > 2 else ""
        label = "width w of the w-w-1 network" if sweep == "width" else f"hidden layers{width}"
        xs = [r.sizes[0] if sweep == "width" else len(r.sizes) - 2 for r in chosen]
        top, bottom = axes[0][col], axes[1][col]
        for key, (name, colour, style) in _SERIES.items():
            pairs = [(x, getattr(r, key)) for x, r in zip(xs, chosen) if getattr(r, key) is not None]
            if pairs:
                top.plot(*zip(*pairs), style, color=colour, label=name)
        top.set(yscale="log", xlabel=label, ylabel="operations per sample (log)", title=f"growing the {sweep}")
        for key, attr in (("naive", "naive_seconds"), ("chain_rule", "chain_seconds")):
            name, colour, style = _SERIES[key]
            pairs = [(x, getattr(r, attr)) for x, r in zip(xs, chosen) if getattr(r, attr) is not None]
            if pairs:
                bottom.plot(*zip(*pairs), style, color=colour, label=name)
        bottom.set(yscale="log", xlabel=label, ylabel="derivation + CSE time (s, log)")
        for ax in (top, bottom):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.legend(fontsize=8)
    fig.suptitle(title or "How shared partial derivatives cut the cost of gradients", fontsize=10)
    fig.tight_layout()
    return Plot(fig)


def plot_cost(rows: Sequence[CostRow], path: str | os.PathLike, title: str = "") -> None:
    """:func:`cost_plot`, written to ``path``."""
    cost_plot(rows, title).save(path)
