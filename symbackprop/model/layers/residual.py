"""Skip connections: ``Residual([...])``, whose output is its input plus its block's output.

A network is a chain of numbered layers, and the chain rule stays a chain with one
addition: a boundary may be read by more than one layer.  ``Residual(block)`` is written
into the network as the block's layers followed by one :class:`ResidualAdd`, the layer
``z[n, j] = a_prev[n, j] + a_skip[n, j]`` whose second input is the block's input.  Its
forward rule names both inputs; the derivation then finds that the block's input feeds
two layers and adds their errors (``g = Σ W δ + δ_skip``) -- nothing here writes that
sum, it is the chain rule's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import sympy as sp

from ...errors import ArchitectureError
from .. import naming
from ..notation import B, c, i, j, n, o, u, v, x, y
from .base import ForwardRule, Layer, RuleContext, Shape, check_activation, describe, positive, register_layer


@register_layer
@dataclass(frozen=True)
class ResidualAdd(Layer):
    """The end of a residual block: the block's output plus the block's input (the output
    of the layer ``block + 1`` places back), then ``activation``.

    Written by :class:`Residual`; the block's layers are the ``block`` layers before it.
    """

    block: int
    activation: str = "identity"

    kind = "residual_add"
    unrolls = True
    meanings = {
        "z": "the block's output plus its input (the skip connection)",
        "grad_input": "error sent back into the block: the sum's error passes unchanged",
        "skip": "the error the skip connection carries straight to the block's input",
    }

    def __post_init__(self) -> None:
        positive("ResidualAdd", "block", self.block)
        object.__setattr__(self, "activation", check_activation("Residual", self.activation, elementwise=True))

    def skip_source(self, layer: int) -> int:
        """The boundary (``a{k}``) this layer, number ``layer``, adds to its input."""
        return layer - 1 - self.block

    def skip_sources(self, layer: int) -> tuple[int, ...]:
        return (self.skip_source(layer),)

    def output_shape(self, shape: Shape, where: str) -> Shape:
        return shape

    def output_shape_in(self, shapes: Sequence[Shape], where: str) -> Shape:
        if self.block >= len(shapes):
            raise ArchitectureError(f"{where} (residual) adds a block of {self.block} layers, but only "
                                    f"{len(shapes) - 1} come before it")
        source, block_out = shapes[-1 - self.block], shapes[-1]
        if source != block_out:
            raise ArchitectureError(f"{where}: a residual block must keep the shape of its input, but it takes "
                                    f"{describe(source)} and gives {describe(block_out)}")
        return block_out

    def forward_rule(self, ctx: RuleContext) -> ForwardRule:
        skip = sp.IndexedBase(naming.array(naming.A, self.skip_source(ctx.layer)))
        if len(ctx.d_out) == 1:
            out, loops = (n, j), ((n, B), (j, ctx.d_out[0]))
            into, into_loops = (n, i), ((n, B), (i, ctx.d_in[0]))
        else:
            out, loops = (n, o, y, x), ((n, B), (o, ctx.d_out[0]), (y, ctx.d_out[1]), (x, ctx.d_out[2]))
            into, into_loops = (n, c, u, v), ((n, B), (c, ctx.d_in[0]), (u, ctx.d_in[1]), (v, ctx.d_in[2]))
        return ForwardRule(ctx.z[out], ctx.a_prev[out] + skip[out], loops, out, loops,
                           input_index=into, input_loops=into_loops)

    def spec(self) -> dict:
        return {"type": self.kind, "block": self.block, "activation": self.activation}

    @classmethod
    def from_spec(cls, spec: dict) -> "ResidualAdd":
        return cls(spec["block"], spec["activation"])

    def __repr__(self) -> str:
        extra = "" if self.activation == "identity" else f", {self.activation!r}"
        return f"ResidualAdd({self.block}{extra})"


@dataclass(frozen=True)
class Residual:
    """A residual block: ``output = activation(input + block(input))`` (He et al., 2016).

    ``layers`` must give back the shape they take (checked when the network is built);
    residual blocks nest.  In a :class:`~symbackprop.model.network.Network` the block is
    written out as its layers and a closing :class:`ResidualAdd`:

    >>> from symbackprop import Dense, Network
    >>> net = Network([Dense(4, 8, "tanh"), Residual([Dense(8, 8, "tanh"), Dense(8, 8)]), Dense(8, 3, "softmax")],
    ...               loss="cce")
    >>> len(net.layers)
    5
    """

    layers: Sequence[Layer]
    activation: str = "identity"

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise ArchitectureError("a Residual block needs at least one layer")
        for k, layer in enumerate(self.layers, start=1):
            if not isinstance(layer, (Layer, Residual)):
                raise ArchitectureError(f"item {k} of a Residual block is a {type(layer).__name__}, not a layer")
        object.__setattr__(self, "activation", check_activation("Residual", self.activation, elementwise=True))

    def expand(self) -> list[Layer]:
        """The block's layers (nested blocks written out too) and the closing :class:`ResidualAdd`."""
        flat = expand_blocks(self.layers)
        return [*flat, ResidualAdd(len(flat), self.activation)]

    def __repr__(self) -> str:
        extra = "" if self.activation == "identity" else f", {self.activation!r}"
        return f"Residual([{', '.join(map(repr, self.layers))}]{extra})"


def expand_blocks(items: Sequence[Layer | Residual]) -> list[Layer]:
    """``items`` with every :class:`Residual` written out as its layers and a :class:`ResidualAdd`."""
    out: list[Layer] = []
    for item in items:
        out += item.expand() if isinstance(item, Residual) else [item]
    return out


def regroup(layers: Sequence[Layer]) -> list[Layer | Residual]:
    """The inverse of :func:`expand_blocks`: each :class:`ResidualAdd` and its block as one
    :class:`Residual` (how a network shows itself)."""
    out: list[Layer | Residual] = []
    sizes: list[int] = []  # the flat size of each item of ``out``
    for layer in layers:
        if isinstance(layer, ResidualAdd):
            taken, count = 0, 0
            while taken < layer.block and count < len(out):
                count += 1
                taken += sizes[-count]
            if taken == layer.block:
                block = out[len(out) - count:]
                del out[len(out) - count:], sizes[len(sizes) - count:]
                out.append(Residual(block, layer.activation))
                sizes.append(taken + 1)
                continue
        out.append(layer)
        sizes.append(1)
    return out
