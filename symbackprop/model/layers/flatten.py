"""Flatten: images ``(channels, rows, cols)`` read row by row into one vector."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from ...errors import ArchitectureError
from ..notation import B, c, j, n, u, v
from .base import ForwardRule, Layer, RuleContext, Shape, check_image, register_layer


@register_layer
@dataclass(frozen=True)
class Flatten(Layer):
    """Images ``(channels, rows, cols)`` as vectors, in row-major order (as ``torch.flatten``)."""

    kind = "flatten"
    arch_form = "flatten"
    takes = "image"
    has_activation = False
    meanings = {
        "z": "the image read row by row into one vector",
        "grad_input": "the gradient folded back into the image's shape",
    }

    def output_shape(self, shape: Shape, where: str) -> Shape:
        check_image(shape, where, "Flatten")
        return (math.prod(shape),)

    def forward_rule(self, ctx: RuleContext) -> ForwardRule:
        channels, rows, cols = ctx.d_in
        loops = ((n, B), (c, channels), (u, rows), (v, cols))
        return ForwardRule(ctx.z[n, c * rows * cols + u * cols + v], ctx.a_prev[n, c, u, v], loops, (n, j),
                           ((n, B), (j, ctx.d_out[0])), input_index=(n, c, u, v), input_loops=loops)

    def spec(self) -> dict:
        return {"type": self.kind}

    @classmethod
    def from_spec(cls, spec: dict) -> "Flatten":
        return cls()

    @classmethod
    def from_arch(cls, item: str, settings: Sequence[str], shape: Shape, activation: str) -> "Flatten":
        if settings:
            raise ArchitectureError(f"{item!r}: flatten takes no settings")
        return cls()

    def __repr__(self) -> str:
        return "Flatten()"
