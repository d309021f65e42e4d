"""One backprop step as a self-contained interactive page (``symbackprop explain --html FILE``).

Everything is in the one file and nothing is fetched: the network picture is inline SVG
(:mod:`~symbackprop.explain.draw`), the equations are MathML
(:mod:`~symbackprop.explain.mathml`), which browsers render natively, and the script and
style sheet are inlined from this package's ``assets/``.  So the page opens from a USB
stick, an e-mail or a lecture hall without a network.

Python computes every piece of content — each weight's chain-rule product with the value
of every factor, each step of the walk — and the script only shows the piece asked for
and lights up the picture's edges and neurons; the page cannot compute a number the
explanation did not.
"""
from __future__ import annotations

import dataclasses
import html
import json
from importlib import resources

import sympy as sp

from . import mathml as mm
from . import notation as nt
from .picture import LOSS, NetworkPicture, edge_id, network_picture, neuron_id, path_members
from .param_names import user_name

# ``Explanation`` and its records are named in annotations, not imported: explanation.py imports
# this module to draw itself.


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")


def _sum(terms: list[str]) -> str:
    return mm.op("+").join(f"<mrow>{t}</mrow>" for t in terms)


def _chain_panel(ex: "Explanation", chain: "ChainRule") -> str:
    """The chain rule of one parameter: the symbolic product per path, the same with every
    factor's value, the result, then δ's form of the same sum and a table of the factors."""
    grad = mm.partial(sp.Symbol("L"), chain.param)
    label = html.escape(nt.display_name(chain.param.name))
    out = [f"<h3>∂L/∂{label} <small>({html.escape(user_name(chain.param))}, "
           f"{len(chain.paths) or chain.paths_omitted} path{'s' * ((len(chain.paths) or chain.paths_omitted) != 1)})"
           "</small></h3>"]
    if chain.paths:
        symbolic = _sum([mm.op("·").join(mm.partial(f.of, f.wrt) for f in p.factors) for p in chain.paths])
        numeric = _sum([mm.op("·").join(f"<mrow><mo>(</mo>{mm.number(f.value)}<mo>)</mo></mrow>"
                                         if f.value < 0 else mm.number(f.value) for f in p.factors)
                        for p in chain.paths])
        out.append(f'<p class="eq">{mm.math(grad, mm.op("="), symbolic, display=True)}</p>')
        penalty = [mm.op("+"), mm.number(chain.penalty.value)] if chain.penalty is not None else []
        out.append(f'<p class="eq">{mm.math(mm.op("="), numeric, *penalty, display=True)}</p>')
    else:
        out.append(f"<p>{chain.paths_omitted} paths, too many to list: backprop sums them into δ.</p>")
    out.append(f'<p class="result">= <span id="chain-value" data-value="{chain.gradient.value!r}">'
               f"{html.escape(nt.number(chain.gradient.value))}</span></p>")
    delta = chain.delta
    out.append("<p>Backprop gets the same number from the neuron's error: "
               + mm.math(grad, mm.op("="), mm.expr(chain.gradient.expr), mm.op("="), mm.number(chain.gradient.value))
               + ", with " + mm.math(mm.symbol(delta.symbol.name), mm.op("="), mm.number(delta.value)) + ".</p>")
    if chain.paths:
        rows = []
        for k, p in enumerate(chain.paths, start=1):
            for f in p.factors:
                rows.append(f"<tr><td>{k}</td><td>{mm.math(mm.partial(f.of, f.wrt))}</td>"
                            f"<td>{mm.math(mm.expr(f.expr))}</td><td class='num'>{html.escape(nt.number(f.value))}</td></tr>")
            rows.append(f"<tr class='product'><td>{k}</td><td colspan='2'>product</td>"
                        f"<td class='num'>{html.escape(nt.number(p.value))}</td></tr>")
        out.append("<table class='factors'><thead><tr><th>path</th><th>factor</th><th>formula</th>"
                   "<th>value</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
    return "\n".join(out)


def _lit(ex: "Explanation", chain: "ChainRule") -> tuple[list[str], list[str]]:
    edges, nodes = set(), set()
    for p in chain.paths:
        e, n = path_members(ex.network, p)
        edges.update(e)
        nodes.update(n)
    if not chain.paths:  # paths not listed: the parameter's own edge and neuron at least
        layer, *idx = chain.param.name[1:].split("_")
        nodes.add(neuron_id(int(layer), int(idx[-1])))
        if chain.param.name.startswith("W"):
            edges.add(edge_id(chain.param))
    return sorted(edges), sorted(nodes)


def _equation(lhs: sp.Symbol, e: sp.Expr | None, value: float, values: dict) -> str:
    """``lhs = formula``, and below it ``= formula with numbers = value`` (a long weighted sum
    does not fit one line of the panel)."""
    head = [mm.symbol(lhs.name)]
    tail = []
    if e is not None and e.free_symbols:
        head += [mm.op("="), mm.expr(e)]
        tail += [mm.op("="), f"<mtext>{html.escape(nt.with_numbers(e, values))}</mtext>"]
    tail += [mm.op("="), mm.number(value)]
    return f'<p class="eq">{mm.math(*head)}</p><p class="eq cont">{mm.math(*tail)}</p>'


def _steps(ex: "Explanation", picture: NetworkPicture) -> list[dict]:
    """Forward pass layer by layer → loss → δ of each layer from the top → the update."""
    v = ex.values
    steps = []
    for rows in ex.forward:
        l = rows[0].layer
        body = "".join(_equation(r.z.symbol, r.z.expr, r.z.value, v) + _equation(r.a.symbol, r.a.expr, r.a.value, v)
                       for r in rows)
        steps.append({"title": f"Forward pass: layer {l} ({rows[0].activation})",
                      "html": f"<p>Each neuron sums its inputs times its weights plus its bias (z), then applies "
                              f"its activation (a).</p>{body}",
                      "nodes": [neuron_id(l, r.neuron) for r in rows],
                      "edges": [e.id for e in picture.edges if e.target.startswith(f"n{l}_")]})
    steps.append({"title": "The loss", "html": f"<p>{html.escape(ex.network.loss.long_name)}, for this one sample:</p>"
                  + _equation(ex.loss.symbol, ex.loss.expr, ex.loss.value, v),
                  "nodes": [LOSS], "edges": [e.id for e in picture.edges if e.target == LOSS]})
    for layer in ex.backward:
        body = "".join(_equation(q.symbol, q.expr, q.value, v) for q in (*layer.grad_outputs, *layer.deltas))
        steps.append({"title": f"Backward pass: δ of layer {layer.layer}",
                      "html": "<p>The error of each neuron, δ = ∂L/∂z: from the loss at the top layer, "
                              "below it summed over the next layer's neurons through their weights.</p>" + body,
                      "nodes": [neuron_id(layer.layer, int(q.symbol.name.split("_")[-1])) for q in layer.deltas],
                      "edges": [e.id for e in picture.edges if e.source.startswith(f"n{layer.layer}_")
                                or (layer.layer == len(ex.network.layers) and e.target == LOSS)]})
    rows = "".join(f"<tr><td>{mm.math(mm.symbol(u.param.name))}</td><td class='num'>{html.escape(nt.number(u.value))}"
                   f"</td><td class='num'>{html.escape(nt.number(u.gradient))}</td>"
                   f"<td class='num'>{html.escape(nt.number(u.new_value))}</td></tr>" for u in ex.updates)
    steps.append({"title": f"Update: w ← w − η·∂L/∂w, η = {nt.number(ex.lr)}",
                  "html": "<p>Every parameter moves against its gradient.</p><table class='factors'><thead><tr>"
                          "<th>parameter</th><th>w</th><th>∂L/∂w</th><th>new w</th></tr></thead><tbody>"
                          + rows + "</tbody></table>",
                  "nodes": [], "edges": [e.id for e in picture.edges if e.param]})
    return steps


def render_page(ex: "Explanation") -> str:
    """The whole page as one HTML string."""
    from .draw import network_figure, svg_text
    picture = network_picture(ex)
    plain = dataclasses.replace(picture, param=None, highlighted_edges=frozenset(), highlighted_nodes=frozenset())
    svg = svg_text(network_figure(plain))
    params = {}
    for symbol, chain in ex.chains.items():
        edges, nodes = _lit(ex, chain)
        params[symbol.name] = {"label": nt.display_name(symbol.name), "name": user_name(symbol),
                               "gradient": chain.gradient.value, "edges": edges, "nodes": nodes,
                               "html": _chain_panel(ex, chain)}
    data = {"params": params, "steps": _steps(ex, picture), "chosen": ex.chain.param.name}
    buttons = []
    for l in range(1, len(ex.network.layers) + 1):
        names = [s for s in params if s.startswith((f"W{l}_", f"b{l}_"))]
        if names:
            buttons.append(f"<div class='layer'><span>layer {l}</span>" + "".join(
                f"<button type='button' class='param' data-param='{s}' title='{params[s]['name']}'>"
                f"{html.escape(params[s]['label'])}</button>" for s in names) + "</div>")
    title = f"Backpropagation, step by step: {ex.network!r}"
    payload = json.dumps(data).replace("</", "<\\/")
    return _asset("page.html").format(
        title=html.escape(title), style=_asset("page.css"), script=_asset("page.js"), svg=svg,
        buttons="".join(buttons), data=payload, walkthrough=ex.to_html(),
        sample=html.escape(f"input x = ({', '.join(nt.number(v) for v in ex.x)}), target y = "
                           f"({', '.join(nt.number(v) for v in ex.y)}), learning rate η = {nt.number(ex.lr)}, "
                           f"loss L = {nt.number(ex.loss.value)}"))
