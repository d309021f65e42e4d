"""A model's summary as a table: one row per layer, its output shape and parameter count.

Keras users read ``model.summary()`` first; this is the same habit.  The table is data
(:class:`Summary`) with a text layout for terminals and an HTML one for Jupyter, so later
stages add their own lines (a compiled network's op counts, a trained model's epochs)
without laying it out again.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from . import naming

# ``Network`` is named in annotations, not imported: network.py imports this module for ``summary()``

__all__ = ["Summary", "network_summary"]


@dataclass
class Summary:
    """A titled table with notes below it; prints as text, renders as HTML in Jupyter."""

    title: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]
    #: ``(label, value)`` lines under the table: totals, op counts, training state
    notes: list[tuple[str, str]] = field(default_factory=list)

    def to_text(self) -> str:
        widths = [max(len(r[k]) for r in [self.header, *self.rows]) for k in range(len(self.header))]
        rule = "-" * (sum(widths) + 2 * (len(widths) - 1))

        def line(row: tuple[str, ...]) -> str:
            return "  ".join(c.rjust(w) if k == len(row) - 1 else c.ljust(w)
                             for k, (c, w) in enumerate(zip(row, widths))).rstrip()
        out = [self.title, rule, line(self.header), rule, *map(line, self.rows), rule]
        label_width = max((len(k) for k, _ in self.notes), default=0)
        out += [f"{k + ':':<{label_width + 1}} {v}" for k, v in self.notes]
        return "\n".join(out)

    def _repr_html_(self) -> str:
        esc = html.escape
        head = "".join(f"<th>{esc(c)}</th>" for c in self.header)
        body = "".join("<tr>" + "".join(f'<td style="text-align:{"right" if k == len(r) - 1 else "left"}">'
                                        f"{esc(c)}</td>" for k, c in enumerate(r)) + "</tr>" for r in self.rows)
        notes = "".join(f"<tr><th style='text-align:left'>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in self.notes)
        return (f"<div><strong>{esc(self.title)}</strong><table><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table><table>{notes}</table></div>")

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return self.to_text()


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


def network_summary(network: "Network") -> Summary:  # noqa: F821 (see above)
    """Layers, output shapes and parameter counts of ``network``, with the totals."""
    rows = [("input", "", _shape(network.input_shape), "")]
    for k, (layer, shape) in enumerate(zip(network.layers, network.shapes[1:]), start=1):
        shapes = layer.param_shapes()
        params = ", ".join(f"{naming.parameter(name, k)} {_shape(s)}" for name, s in shapes.items())
        count = sum(math.prod(s) for s in shapes.values())
        activation = getattr(layer, "activation", None)
        kind = type(layer).__name__ + (f" ({activation})" if activation and type(layer).has_activation else "")
        rows.append((f"{k}: {kind}", params, _shape(shape), f"{count:,}"))
    penalty = ", ".join(f"{k} {v:g}" for k, v in (("l1", network.l1), ("l2", network.l2)) if v)
    notes = [("loss", network.loss.name + (f" + {penalty}" if penalty else "")),
             ("parameters", f"{network.n_params:,}")]
    return Summary("Network", ("layer", "parameters", "output shape", "count"), rows, notes)
