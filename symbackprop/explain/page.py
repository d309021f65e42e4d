"""One backprop step as a self-contained interactive page (``symbackprop explain --html FILE``).

Everything is in the one file and nothing is fetched: the network picture is inline SVG
(:mod:`~symbackprop.explain.draw`), the equations are MathML, which browsers render
natively, and the script and style sheet are inlined from this package's ``assets/``; a
Content-Security-Policy forbids any request.  So the page opens from a USB stick, an
e-mail or a lecture hall without a network.

Every piece of content is the explanation's own document blocks
(:mod:`~symbackprop.explain.render`: each weight's chain rule, each step's equations) laid
out by :func:`~symbackprop.explain.render_html.blocks_html`, so the page says exactly what
the text does; the script only shows the piece asked for and lights the picture's paths
(:func:`~symbackprop.explain.picture.lit_members`, as the static picture does).
"""
from __future__ import annotations

import dataclasses
import html
import json
from importlib import resources

from . import notation as nt
from .picture import LOSS, NetworkPicture, lit_members, network_picture, neuron_id
from .param_names import user_name
from .render import Heading, Paragraph, Table, chain_blocks, definition, document, sym, value
from .render_html import MATH_STYLE, blocks_html

# ``Explanation`` and its records are named in annotations, not imported: explanation.py imports
# this module to draw itself.

#: a chain rule with more paths than this is shown on the page by δ's form only (each path's
#: table is a screenful; the text and LaTeX layouts still list up to MAX_PATHS)
PAGE_MAX_PATHS = 8


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")


def _chain_panel(ex: "Explanation", chain: "ChainRule") -> str:
    shown = chain if len(chain.paths) <= PAGE_MAX_PATHS else \
        dataclasses.replace(chain, paths=(), paths_omitted=len(chain.paths))
    result = (f'<p class="result">∂L/∂{html.escape(nt.display_name(chain.param.name))} = '
              f'<span id="chain-value" data-value="{chain.gradient.value!r}">'
              f"{html.escape(nt.number(chain.gradient.value))}</span></p>")
    return blocks_html(chain_blocks(ex, shown, number=""), heading_offset=1) + result


def _steps(ex: "Explanation", picture: NetworkPicture) -> list[dict]:
    """Forward pass layer by layer → loss → δ of each layer from the top → the update."""
    v = ex.values
    steps = []

    def step(title: str, blocks: list, nodes: list[str], edges: list[str]) -> None:
        steps.append({"title": title, "html": blocks_html(blocks, heading_offset=2), "nodes": nodes, "edges": edges})
    for rows in ex.forward:
        l = rows[0].layer
        blocks = [Paragraph(("Each neuron sums its inputs times its weights plus its bias (z), then applies "
                             "its activation (a).",))]
        for r in rows:
            blocks += [definition(r.z, v), definition(r.a, v)]
        step(f"Forward pass: layer {l} ({rows[0].activation})", blocks, [neuron_id(l, r.neuron) for r in rows],
             [e.id for e in picture.edges if e.target.startswith(f"n{l}_")])
    step("The loss", [Paragraph((f"{ex.network.loss.long_name}, for this one sample:",)), definition(ex.loss, v)],
         [LOSS], [e.id for e in picture.edges if e.target == LOSS])
    top = len(ex.network.layers)
    for layer in ex.backward:
        blocks = [Paragraph(("The error of each neuron, δ = ∂L/∂z: from the loss at the top layer, below it "
                             "summed over the next layer's neurons through their weights.",))]
        blocks += [definition(q, v) for q in (*layer.grad_outputs, *layer.deltas)]
        step(f"Backward pass: δ of layer {layer.layer}", blocks,
             [neuron_id(layer.layer, int(q.symbol.name.split("_")[-1])) for q in layer.deltas],
             [e.id for e in picture.edges if e.source.startswith(f"n{layer.layer}_")
              or (layer.layer == top and e.target == LOSS)])
    rows = tuple((sym(u.param), value(u.value), value(u.gradient), value(u.new_value)) for u in ex.updates)
    step(f"Update: w ← w − η·∂L/∂w, η = {nt.number(ex.lr)}",
         [Paragraph(("Every parameter moves against its gradient.",)),
          Table(("parameter", "w", "∂L/∂w", "new w"), rows, frozenset({1, 2, 3}))],
         [], [e.id for e in picture.edges if e.param])
    return steps


def _json(data) -> str:
    """JSON safe inside ``<script>``: no ``<`` at all, so no ``</script>`` or ``<!--`` can occur."""
    return json.dumps(data).replace("<", "\\u003c")


def render_page(ex: "Explanation") -> str:
    """The whole page as one HTML string."""
    from ..plotting import DRAWING, Plot
    from .draw import network_figure
    picture = network_picture(ex)
    plain = dataclasses.replace(picture, param=None, highlighted_edges=frozenset(), highlighted_nodes=frozenset())
    svg = Plot(network_figure(plain, every_halo=True), feature=DRAWING).svg()
    params = {}
    for symbol, chain in ex.chains.items():
        edges, nodes = lit_members(ex.network, chain)
        params[symbol.name] = {"label": nt.display_name(symbol.name), "name": user_name(symbol),
                               "edges": sorted(edges), "nodes": sorted(nodes), "html": _chain_panel(ex, chain)}
    data = {"params": params, "steps": _steps(ex, picture), "chosen": ex.chain.param.name}
    buttons = []
    for l in range(1, len(ex.network.layers) + 1):
        names = [s for s in params if s.startswith((f"W{l}_", f"b{l}_"))]
        if names:
            buttons.append(f"<div class='layer'><span>layer {l}</span>" + "".join(
                f"<button type='button' class='param' data-param='{html.escape(s, quote=True)}' "
                f"title='{html.escape(params[s]['name'], quote=True)}'>{html.escape(params[s]['label'])}</button>"
                for s in names) + "</div>")
    title = f"Backpropagation, step by step: {ex.network!r}"
    walkthrough = blocks_html([b for b in document(ex) if not (isinstance(b, Heading) and b.level == 1)])
    return _asset("page.html").format(
        title=html.escape(title), style=_asset("page.css") + MATH_STYLE, script=_asset("page.js"), svg=svg,
        buttons="".join(buttons), data=_json(data), walkthrough=walkthrough,
        sample=html.escape(f"input x = ({', '.join(nt.number(v) for v in ex.x)}), target y = "
                           f"({', '.join(nt.number(v) for v in ex.y)}), learning rate η = {nt.number(ex.lr)}, "
                           f"loss L = {nt.number(ex.loss.value)}"))

