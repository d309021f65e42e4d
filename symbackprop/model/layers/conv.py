"""The 2-D convolution: ``z[n,o,y,x] = b[o] + Σ_c Σ_p Σ_q [pad]·W[o,c,p,q]·a[n,c,s·y+p−P,s·x+q−P]``.

Its kernel gradient (a correlation of the input with δ) and input gradient (a full
convolution of δ with the flipped kernel) are not written here: the chain rule derives
them from this one rule.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from ...errors import ArchitectureError
from ..notation import B, c, n, o, p, q, summed, u, v, x, y
from .base import ForwardRule, Layer, RuleContext, Shape, arch_number, check_activation, check_image, describe, \
    positive, register_layer
from .windows import arch_options, pair, reads, short, window


@register_layer
@dataclass(frozen=True)
class Conv2D(Layer):
    """A 2-D convolution: ``out_channels`` kernels of ``in_channels × kh × kw`` weights.

    ``z[n, o, y, x] = Σ_c Σ_p Σ_q a[n, c, s·y + p − pad, s·x + q − pad] · W[o, c, p, q] + b[o]``
    (cross-correlation, as in PyTorch and every framework); ``W`` has PyTorch's shape
    ``(out_channels, in_channels, kh, kw)``.  ``padding``: ``"valid"`` (none), ``"same"``
    (output ``ceil(size / stride)``) or a number of zero rows and columns on each side.
    """

    in_channels: int
    out_channels: int
    kernel_size: int | tuple[int, int] = 3
    stride: int | tuple[int, int] = 1
    padding: str | int | tuple[int, int] = "valid"
    activation: str = "identity"

    kind = "conv2d"
    arch_word = "conv"
    arch_form = "conv:CHANNELS[:KERNEL][:sSTRIDE][:same|valid|pPAD][:ACTIVATION]"
    takes = "image"
    meanings = {
        "z": "each output is the kernel slid over the input (a cross-correlation), plus the bias",
        "grad_W": "kernel gradient: the correlation of the layer's input with δ",
        "grad_b": "bias gradient: δ summed over the samples and positions",
        "grad_input": "input gradient: the full convolution of δ with the flipped kernel "
                      "(as the output index y runs up, the kernel index u − y runs down)",
    }

    def __post_init__(self) -> None:
        positive("Conv2D", "in_channels", self.in_channels)
        positive("Conv2D", "out_channels", self.out_channels)
        object.__setattr__(self, "kernel_size", pair("Conv2D", "kernel_size", self.kernel_size))
        object.__setattr__(self, "stride", pair("Conv2D", "stride", self.stride))
        if isinstance(self.padding, str):
            if self.padding.lower() not in ("valid", "same"):
                raise ArchitectureError(f"Conv2D padding must be 'valid', 'same' or a number, got {self.padding!r}")
            object.__setattr__(self, "padding", self.padding.lower())
        else:
            object.__setattr__(self, "padding", pair("Conv2D", "padding", self.padding, minimum=0))
        object.__setattr__(self, "activation", check_activation("Conv2D", self.activation, elementwise=True))

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"W": (self.out_channels, self.in_channels, *self.kernel_size), "b": (self.out_channels,)}

    def fans(self) -> tuple[int, int]:
        """Each output sees ``in_channels · kh · kw`` inputs; each input feeds ``out_channels · kh · kw``
        outputs."""
        area = math.prod(self.kernel_size)
        return self.in_channels * area, self.out_channels * area

    def geometry(self, shape: Shape, where: str = "Conv2D") -> tuple[tuple[int, int], tuple[int, int]]:
        """Output (rows, cols) and padding before (rows, cols) for an input of ``shape``."""
        check_image(shape, where, "Conv2D")
        return window(shape, self.kernel_size, self.stride, self.padding, where, "Conv2D", weights=True)

    def output_shape(self, shape: Shape, where: str) -> Shape:
        check_image(shape, where, "Conv2D")
        if shape[0] != self.in_channels:
            raise ArchitectureError(f"{where} (Conv2D) expects {self.in_channels} input channels but gets "
                                    f"{shape[0]} (input {describe(shape)})")
        (rows, cols), _ = self.geometry(shape, where)
        return (self.out_channels, rows, cols)

    def forward_rule(self, ctx: RuleContext) -> ForwardRule:
        d_in, d_out = ctx.d_in, ctx.d_out
        W, b = ctx.parameter("W", real=True), ctx.parameter("b")
        kh, kw = self.kernel_size
        row, col, mask = reads(ctx, self.geometry(ctx.in_shape), self.kernel_size, self.stride)
        expr = summed(mask * ctx.a_prev[n, c, row, col] * W[o, c, p, q], (c, d_in[0]), (p, kh), (q, kw)) + b[o]
        out_loops = ((n, B), (o, d_out[0]), (y, d_out[1]), (x, d_out[2]))
        return ForwardRule(ctx.z[n, o, y, x], expr, out_loops, (n, o, y, x), out_loops,
                           params={"W": (W, (o, c, p, q), ((o, d_out[0]), (c, d_in[0]), (p, kh), (q, kw))),
                                   "b": (b, (o,), ((o, d_out[0]),))},
                           input_index=(n, c, u, v), input_loops=((n, B), (c, d_in[0]), (u, d_in[1]), (v, d_in[2])))

    def spec(self) -> dict:
        return {"type": self.kind, "in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
                "activation": self.activation}

    @classmethod
    def from_spec(cls, spec: dict) -> "Conv2D":
        padding = spec["padding"]
        return cls(spec["in_channels"], spec["out_channels"], tuple(spec["kernel_size"]), tuple(spec["stride"]),
                   padding if isinstance(padding, str) else tuple(padding), spec["activation"])

    @classmethod
    def from_arch(cls, item: str, settings: Sequence[str], shape: Shape, activation: str) -> "Conv2D":
        if not settings:
            raise ArchitectureError(f"{item!r}: give the number of channels, e.g. conv:16")
        channels = arch_number(item, settings[0], "the number of channels")
        has_kernel = len(settings) > 1 and settings[1].lstrip("-").isdigit()
        kernel = arch_number(item, settings[1], "the kernel size") if has_kernel else 3
        options = {"padding": "same", "activation": activation,
                   **arch_options(item, settings[2 if has_kernel else 1:], activation)}
        if len(shape) != 3:
            raise ArchitectureError(f"{item!r} needs images, but it gets {shape[0]} values: convolutions come "
                                    "before dense layers")
        return cls(shape[0], channels, kernel, **options)

    def __repr__(self) -> str:
        extras = "".join(f", {name}={value!r}" for name, value, default in (
            ("stride", short(self.stride), 1), ("padding", self.padding, "valid"),
            ("activation", self.activation, "identity")) if value != default)
        return f"Conv2D({self.in_channels}, {self.out_channels}, {short(self.kernel_size)!r}{extras})"
