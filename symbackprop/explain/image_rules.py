"""Explain a network the neuron tables cannot write out (images, layers of one's own):
each layer's derived rules, named for what they are.

A convolution has too many paths to list neuron by neuron, but its rules are short: the
derivation's kernel gradient *is* the correlation of the layer's input with δ, its input
gradient *is* the full convolution of δ with the flipped kernel.  This view prints every
layer's forward rule, error and gradients as the derivation wrote them, says which is
which, and writes one kernel entry's gradient out term by term for one sample.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import sympy as sp

from ..derive.index_level import derive_index_level
from ..errors import ArchitectureError
from ..model import naming
from ..model.notation import B
from .param_names import param_name_parts

if TYPE_CHECKING:
    from ..model.network import Network

def kernel_entry(network: "Network", param: str | None) -> tuple[int, tuple[int, ...]]:
    """``(layer, index)`` of a convolution kernel entry like ``W1[0,0,1,1]``; the first kernel's
    top-left corner when ``param`` is None (with padding, some of its windows fall off the image)."""
    # a kernel: the weights of a layer that slides over images, (out, in, rows, cols)
    convs = [k for k, layer in enumerate(network.layers, start=1) if len(layer.param_shapes().get("W", ())) == 4]
    if not convs:
        raise ArchitectureError(f"{network!r} has no convolution to explain")
    if param is None:
        return convs[0], (0, 0, 0, 0)
    parts = param_name_parts(param)
    if parts is None or parts[0] != "W":
        raise ArchitectureError(f"cannot read kernel entry {param!r}: write it like W1[0,0,1,1]")
    layer_no, index = parts[1], tuple(parts[2])
    shape = network.param_shapes().get(naming.parameter("W", layer_no))
    if layer_no not in convs or shape is None or len(index) != 4 or any(not 0 <= v < s for v, s in zip(index, shape)):
        kernels = ", ".join(f"W{k}{list(network.param_shapes()[naming.parameter('W', k)])}" for k in convs)
        raise ArchitectureError(f"there is no kernel entry {param!r}; the kernels are (shape) {kernels}")
    return layer_no, index


def explain_image_network(network: "Network", param: str | None = None) -> str:
    """Every layer's derived rules with their meaning, and one kernel entry's gradient term by term."""
    deriv = derive_index_level(network)
    extents = deriv.extents()
    lines = [f"Model: {network!r}", "",
             "Index names: n sample, i input, j neuron, o output channel, c input channel, y/x output row and "
             "column, p/q kernel row and column, u/v input row and column; [lo <= e <= hi] is 1 inside the range, "
             "0 outside (padding, the kernel's edges).  Sizes: "
             + ", ".join(f"{symbol} = {value}" for symbol, value in extents.items()) + ".", ""]
    for rule, layer in zip(deriv.layers, network.layers):
        lines.append(f"Layer {rule.layer}: {layer!r}")
        for stmt in (*rule.forward, *rule.backward):
            if stmt.role == "a" and rule.is_identity:
                continue
            meaning = layer.meanings.get(stmt.role)  # each layer kind says what its rules are
            lines.append(f"  {stmt}")
            if meaning:
                lines.append(f"      ({meaning})")
            if stmt.role == "grad_input":
                for other in network.readers(rule.layer - 1)[1:]:  # a skip connection's end reads it too
                    said = network.layers[other - 1].meanings.get("skip", "a second path to the loss")
                    lines.append(f"      (plus d{other} from layer {other}, which reads a{rule.layer - 1} too: {said})")
        lines.append("")
    if param is not None or has_kernel(network):
        lines += _one_entry(deriv, *kernel_entry(network, param))
    return "\n".join(lines) + "\n"


def has_kernel(network: "Network") -> bool:
    """Whether a layer slides a kernel over images (weights of shape (out, in, rows, cols))."""
    return any(len(layer.param_shapes().get("W", ())) == 4 for layer in network.layers)


def _one_entry(deriv, layer_no: int, index: tuple[int, ...]) -> list[str]:
    """The kernel-gradient rule at one kernel entry, its sum written out for one sample (B = 1)."""
    rule = deriv.layers[layer_no - 1].grad_W
    o, c, p, q = rule.target.indices
    values = dict(zip((o, c, p, q), index))
    one_sample = rule.expr.subs(B, 1)
    at_entry = one_sample.subs(values)
    expanded = at_entry.subs(deriv.extents()).doit()
    name = f"W{layer_no}[{', '.join(map(str, index))}]"
    terms = sp.Add.make_args(sp.expand(expanded))
    return [f"Kernel gradient at {name}, one sample (n = 0), by the rule of layer {layer_no}:",
            f"  dL/d{name} = {at_entry}",
            f"             = {expanded}",
            f"  ({len(terms)} terms: one per output position whose window puts kernel entry "
            f"({index[2]}, {index[3]}) on the image, not on the padding)"]
