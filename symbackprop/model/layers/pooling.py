"""Max and average pooling: a window reduction over each channel.

Max pooling is two statements: ``am = argmax`` of the window (first maximum, padding
never wins, as PyTorch) and ``z = Σ_p Σ_q [k·p+q = am]·a[...]``, so the chain rule routes
each window's δ to the winner; average pooling is the window's mean.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Sequence

import sympy as sp

from ...errors import ArchitectureError
from ..notation import ArgMax, B, c, n, p, q, u, v, x, y
from .base import Buffer, ForwardRule, Layer, RuleContext, Shape, arch_number, check_image, register_layer
from .windows import arch_options, pair, reads, short, window


@dataclass(frozen=True)
class Pool2D(Layer):
    """A window reduction over each channel; ``stride`` defaults to the window size."""

    size: int | tuple[int, int] = 2
    stride: int | tuple[int, int] | None = None
    padding: int | tuple[int, int] = 0

    has_activation = False
    takes = "image"
    #: the class name, as errors and ``repr`` show it
    label: ClassVar[str] = "Pool2D"

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", pair(self.label, "size", self.size))
        stride = self.size if self.stride is None else self.stride
        object.__setattr__(self, "stride", pair(self.label, "stride", stride))
        padding = pair(self.label, "padding", self.padding, minimum=0)
        if any(2 * pad > k for pad, k in zip(padding, self.size)):
            raise ArchitectureError(f"{self.label} padding {padding} must be at most half the window {self.size}")
        object.__setattr__(self, "padding", padding)

    def geometry(self, shape: Shape, where: str = "pooling") -> tuple[tuple[int, int], tuple[int, int]]:
        check_image(shape, where, self.label)
        return window(shape, self.size, self.stride, self.padding, where, self.label)  # type: ignore[arg-type]

    def output_shape(self, shape: Shape, where: str) -> Shape:
        (rows, cols), _ = self.geometry(shape, where)
        return (shape[0], rows, cols)

    def _window_rule(self, ctx: RuleContext):
        row, col, mask = reads(ctx, self.geometry(ctx.in_shape), self.size, self.stride)
        out_loops = ((n, B), (c, ctx.d_out[0]), (y, ctx.d_out[1]), (x, ctx.d_out[2]))
        kh, kw = self.size
        return ctx.a_prev[n, c, row, col], mask, out_loops, ((p, 0, kh - 1), (q, 0, kw - 1))

    def _rule(self, ctx: RuleContext, expr: sp.Expr, out_loops, **more) -> ForwardRule:
        return ForwardRule(ctx.z[n, c, y, x], expr, out_loops, (n, c, y, x), out_loops, input_index=(n, c, u, v),
                           input_loops=((n, B), (c, ctx.d_in[0]), (u, ctx.d_in[1]), (v, ctx.d_in[2])), **more)

    def spec(self) -> dict:
        return {"type": self.kind, "size": list(self.size), "stride": list(self.stride), "padding": list(self.padding)}

    @classmethod
    def from_spec(cls, spec: dict) -> "Pool2D":
        return cls(tuple(spec["size"]), tuple(spec["stride"]), tuple(spec["padding"]))

    @classmethod
    def from_arch(cls, item: str, settings: Sequence[str], shape: Shape, activation: str) -> "Pool2D":
        if not settings:
            raise ArchitectureError(f"{item!r}: give the window size, e.g. {cls.arch_word}:2")
        return cls(arch_number(item, settings[0], "the window size"), **arch_options(item, settings[1:], None))

    def __repr__(self) -> str:
        extras = "".join(f", {name}={short(value)!r}" for name, value, default in (
            ("stride", self.stride, self.size), ("padding", self.padding, (0, 0))) if value != default)
        return f"{self.label}({short(self.size)!r}{extras})"


@register_layer
@dataclass(frozen=True, repr=False)
class MaxPool2D(Pool2D):
    """The largest value of each window (padding never wins); the error flows to that element."""

    kind = "maxpool2d"
    arch_word = "maxpool"
    arch_form = "maxpool:SIZE[:sSTRIDE][:pPAD]"
    label = "MaxPool2D"
    meanings = {
        "argmax": "the forward pass stores where each window's maximum is",
        "z": "the window element at that position",
        "grad_input": "each window's error goes to its winner, none to the others",
    }

    def forward_rule(self, ctx: RuleContext) -> ForwardRule:
        value, mask, out_loops, limits = self._window_rule(ctx)
        # the window element that wins: stored by the forward pass, then selected by it
        am = ctx.buffer("am")
        body = value if mask == 1 else sp.Piecewise((value, sp.Eq(mask, 1)), (-sp.oo, True))
        expr = sp.Sum(mask * sp.KroneckerDelta(self.size[1] * p + q, am[n, c, y, x]) * value, *limits)
        return self._rule(ctx, expr, out_loops, before=[(am[n, c, y, x], ArgMax(body, *limits), out_loops)],
                          buffers=[Buffer(str(am.label), "int64")])


@register_layer
@dataclass(frozen=True, repr=False)
class AvgPool2D(Pool2D):
    """The mean of each window, padding counted as zeros (PyTorch's ``count_include_pad``)."""

    kind = "avgpool2d"
    arch_word = "avgpool"
    arch_form = "avgpool:SIZE[:sSTRIDE][:pPAD]"
    label = "AvgPool2D"
    meanings = {
        "z": "the mean of each window",
        "grad_input": "each window's error is shared equally by its elements",
    }

    def forward_rule(self, ctx: RuleContext) -> ForwardRule:
        value, mask, out_loops, limits = self._window_rule(ctx)
        return self._rule(ctx, sp.Sum(mask * value, *limits) / (self.size[0] * self.size[1]), out_loops)
