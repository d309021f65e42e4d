"""Each layer kind's forward rule, written once as an index-level SymPy expression.

The chain rule (:mod:`.index_level`) needs three things from a layer, and nothing else:

* the rule ``z[out] = expr`` for one generic output element and the loops it holds for;
* which arrays are its parameters, and the index names of one element of each;
* the index names of one element of its input.

Everything backward -- the kernel gradient as a correlation of the input with δ, the
input gradient as a full convolution of δ with the flipped kernel, max pooling's
routing of δ to each window's winner -- is ``sympy.diff`` of these rules.

Index names: ``n`` sample; dense ``i`` input, ``j`` neuron; images ``o`` output channel,
``c`` input channel, ``y, x`` output row and column, ``p, q`` kernel/window row and
column, ``u, v`` input row and column.  Image sizes are symbols (``C1``, ``rows1``,
``cols1``); stride, padding and kernel size are the layer's numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sympy as sp

from ..model.layers import AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D
from .symbolic import ArgMax, InRange

if TYPE_CHECKING:
    from ..model.network import Network

n, i, j = sp.symbols("n i j", integer=True, nonnegative=True)
o, c, y, x, p, q, u, v = sp.symbols("o c y x p q u v", integer=True, nonnegative=True)
#: the batch size
B = sp.Symbol("B", integer=True, positive=True)

Loops = tuple[tuple[sp.Symbol, sp.Expr], ...]


def _size(name: str) -> sp.Symbol:
    return sp.Symbol(name, integer=True, positive=True)


def width(l: int) -> sp.Symbol:
    """Width symbol of dense boundary ``l`` (``m0`` is the number of inputs)."""
    return _size(f"m{l}")


def dims(network: "Network", l: int) -> tuple[sp.Symbol, ...]:
    """The size symbols of boundary ``l``: ``(m_l,)`` for vectors, ``(C_l, rows_l, cols_l)`` for images."""
    if len(network.shapes[l]) == 1:
        return (width(l),)
    return (_size(f"C{l}"), _size(f"rows{l}"), _size(f"cols{l}"))


@dataclass
class ForwardRule:
    """One layer's forward rule and what the chain rule needs to differentiate it."""

    #: ``z[...]`` as written by the rule (Flatten writes ``z[n, c*rows*cols + u*cols + v]``)
    z_target: sp.Indexed
    z_expr: sp.Expr
    z_loops: Loops
    #: one generic output element ``z[n, ...]`` and its loops (for a and δ)
    out: tuple[sp.Symbol, ...]
    out_loops: Loops
    #: parameter name (``W``, ``b``) -> (array, index names of one element, their loops)
    params: dict[str, tuple[sp.IndexedBase, tuple[sp.Symbol, ...], Loops]] = field(default_factory=dict)
    #: one element of the layer's input, and its loops
    input_index: tuple[sp.Symbol, ...] = ()
    input_loops: Loops = ()
    #: statements the rule needs first (max pooling's arg max), as (target, expr, loops)
    before: list[tuple[sp.Indexed, sp.Expr, Loops]] = field(default_factory=list)


def forward_rule(network: "Network", l: int) -> ForwardRule:
    """The forward rule of layer ``l`` (1-based) of ``network``."""
    layer = network.layers[l - 1]
    a_prev, z = sp.IndexedBase(f"a{l - 1}"), sp.IndexedBase(f"z{l}")
    d_in, d_out = dims(network, l - 1), dims(network, l)
    if isinstance(layer, Dense):
        return _dense(l, a_prev, z, d_in[0], d_out[0])
    if isinstance(layer, Flatten):
        return _flatten(a_prev, z, d_in, d_out[0])
    if isinstance(layer, Conv2D):
        return _conv(network, l, layer, a_prev, z, d_in, d_out)
    if isinstance(layer, (MaxPool2D, AvgPool2D)):
        return _pool(network, l, layer, a_prev, z, d_in, d_out)
    raise TypeError(f"no forward rule for {type(layer).__name__}")


def _dense(l, a_prev, z, m_in, m_out) -> ForwardRule:
    W, b = sp.IndexedBase(f"W{l}", real=True), sp.IndexedBase(f"b{l}")  # real: d|W|/dW = sign(W)
    expr = sp.Sum(a_prev[n, i] * W[i, j], (i, 0, m_in - 1)) + b[j]
    out_loops = ((n, B), (j, m_out))
    return ForwardRule(z[n, j], expr, out_loops, (n, j), out_loops,
                       params={"W": (W, (i, j), ((i, m_in), (j, m_out))), "b": (b, (j,), ((j, m_out),))},
                       input_index=(n, i), input_loops=((n, B), (i, m_in)))


def _image_loops(d_in) -> Loops:
    """Loops over every element ``(n, c, u, v)`` of an image input of sizes ``d_in``."""
    channels, rows, cols = d_in
    return ((n, B), (c, channels), (u, rows), (v, cols))


def _flatten(a_prev, z, d_in, m_out) -> ForwardRule:
    channels, rows, cols = d_in
    loops = _image_loops(d_in)
    return ForwardRule(z[n, c * rows * cols + u * cols + v], a_prev[n, c, u, v], loops, (n, j), ((n, B), (j, m_out)),
                       input_index=(n, c, u, v), input_loops=loops)


def _reads(network: "Network", l: int, geometry, kernel, stride, d_in) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """Input row and column read by window offset ``(p, q)`` of output ``(y, x)``, and the
    padding bracket (1 when no window ever reaches past the image)."""
    (out_rows, out_cols), before = geometry
    _, rows, cols = d_in
    in_rows, in_cols = network.shapes[l - 1][1:]
    row, col = stride[0] * y + p - before[0], stride[1] * x + q - before[1]
    mask = sp.S.One
    for index, size, symbol, k, s, pad, out in ((row, in_rows, rows, kernel[0], stride[0], before[0], out_rows),
                                                (col, in_cols, cols, kernel[1], stride[1], before[1], out_cols)):
        if pad > 0 or s * (out - 1) + k - 1 - pad > size - 1:
            mask *= InRange(index, 0, symbol - 1)
    return row, col, mask


def _conv(network, l, layer: Conv2D, a_prev, z, d_in, d_out) -> ForwardRule:
    W, b = sp.IndexedBase(f"W{l}", real=True), sp.IndexedBase(f"b{l}")
    kh, kw = layer.kernel_size
    row, col, mask = _reads(network, l, layer.geometry(network.shapes[l - 1]), layer.kernel_size, layer.stride, d_in)
    expr = sp.Sum(mask * a_prev[n, c, row, col] * W[o, c, p, q], (c, 0, d_in[0] - 1), (p, 0, kh - 1),
                  (q, 0, kw - 1)) + b[o]
    out_loops = ((n, B), (o, d_out[0]), (y, d_out[1]), (x, d_out[2]))
    return ForwardRule(z[n, o, y, x], expr, out_loops, (n, o, y, x), out_loops,
                       params={"W": (W, (o, c, p, q), ((o, d_out[0]), (c, d_in[0]), (p, kh), (q, kw))),
                               "b": (b, (o,), ((o, d_out[0]),))},
                       input_index=(n, c, u, v), input_loops=_image_loops(d_in))


def _pool(network, l, layer, a_prev, z, d_in, d_out) -> ForwardRule:
    kh, kw = layer.size
    row, col, mask = _reads(network, l, layer.geometry(network.shapes[l - 1]), layer.size, layer.stride, d_in)
    out_loops = ((n, B), (c, d_out[0]), (y, d_out[1]), (x, d_out[2]))
    window = ((p, 0, kh - 1), (q, 0, kw - 1))
    value = a_prev[n, c, row, col]
    before = []
    if isinstance(layer, MaxPool2D):
        # the window element that wins: stored by the forward pass, then selected by it
        am = sp.IndexedBase(f"am{l}")
        body = value if mask == 1 else sp.Piecewise((value, sp.Eq(mask, 1)), (-sp.oo, True))
        before.append((am[n, c, y, x], ArgMax(body, *window), out_loops))
        expr = sp.Sum(mask * sp.KroneckerDelta(kw * p + q, am[n, c, y, x]) * value, *window)
    else:
        expr = sp.Sum(mask * value, *window) / (kh * kw)
    return ForwardRule(z[n, c, y, x], expr, out_loops, (n, c, y, x), out_loops,
                       input_index=(n, c, u, v), input_loops=_image_loops(d_in), before=before)
