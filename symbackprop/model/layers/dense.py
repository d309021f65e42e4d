"""The fully connected layer: ``z[n, j] = Σ_i a[n, i] W[i, j] + b[j]``, ``a = f(z)``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ...errors import ArchitectureError
from ..notation import B, i, j, n, summed
from .base import ForwardRule, Layer, RuleContext, Shape, arch_number, check_activation, check_vector, positive, \
    register_layer


@register_layer
@dataclass(frozen=True)
class Dense(Layer):
    """A fully connected layer: ``z = x @ W + b``, ``a = activation(z)``.

    ``W`` has shape ``(fan_in, fan_out)``: ``W[i, j]`` is the weight from input ``i`` to
    neuron ``j``.  The activation name is checked at construction, so a typo fails at once.
    """

    fan_in: int
    fan_out: int
    activation: str = "identity"

    kind = "dense"
    arch_form = "dense:WIDTH[:ACTIVATION]"
    takes = "vector"
    unrolls = True
    width_from = ("W", 1)
    meanings = {
        "z": "weighted sum of the inputs plus the bias",
        "grad_W": "weight gradient: input times error, summed over the batch",
        "grad_input": "error sent back through the weights",
    }

    def __post_init__(self) -> None:
        for name in ("fan_in", "fan_out"):
            positive("Dense", name, getattr(self, name))
        object.__setattr__(self, "activation", check_activation("Dense", self.activation))

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"W": (self.fan_in, self.fan_out), "b": (self.fan_out,)}

    def fans(self) -> tuple[int, int]:
        return self.fan_in, self.fan_out

    def input_shape(self) -> Shape:
        return (self.fan_in,)

    def output_shape(self, shape: Shape, where: str) -> Shape:
        check_vector(shape, where, "Dense")
        if shape[0] != self.fan_in:
            number = int(where.split()[-1])
            source = f"layer {number - 1} outputs" if number > 1 else "the input has"
            raise ArchitectureError(f"layer sizes do not chain: {source} {shape[0]} values but {where} expects "
                                    f"{self.fan_in} inputs")
        return (self.fan_out,)

    def forward_rule(self, ctx: RuleContext) -> ForwardRule:
        (m_in,), (m_out,) = ctx.d_in, ctx.d_out
        W, b = ctx.parameter("W", real=True), ctx.parameter("b")  # real: d|W|/dW = sign(W)
        expr = summed(ctx.a_prev[n, i] * W[i, j], (i, m_in)) + b[j]
        out_loops = ((n, B), (j, m_out))
        return ForwardRule(ctx.z[n, j], expr, out_loops, (n, j), out_loops,
                           params={"W": (W, (i, j), ((i, m_in), (j, m_out))), "b": (b, (j,), ((j, m_out),))},
                           input_index=(n, i), input_loops=((n, B), (i, m_in)))

    def spec(self) -> dict:
        return {"type": self.kind, "fan_in": self.fan_in, "fan_out": self.fan_out, "activation": self.activation}

    @classmethod
    def from_spec(cls, spec: dict) -> "Dense":
        return cls(spec["fan_in"], spec["fan_out"], spec["activation"])

    @classmethod
    def from_arch(cls, item: str, settings: Sequence[str], shape: Shape, activation: str) -> "Dense":
        if not settings:
            raise ArchitectureError(f"{item!r}: give the width, e.g. dense:64")
        if len(settings) > 2:
            raise ArchitectureError(f"{item!r}: a dense layer takes a width and at most one activation, got "
                                    f"{len(settings)} settings")
        act = settings[1] if len(settings) > 1 else activation
        return cls(shape[0], arch_number(item, settings[0], "the width"), act)

    def __repr__(self) -> str:
        return f"Dense({self.fan_in}, {self.fan_out}, {self.activation!r})"
