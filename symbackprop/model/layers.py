"""Layer descriptions: what a layer is, not how it is differentiated or compiled.

Each layer knows its parameters' shapes and the shape of what it outputs for a given
input shape (``(features,)`` for dense data, ``(channels, rows, cols)`` for images), and
checks both when the network is built, so a wrong shape fails before any derivation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ArchitectureError
from .activations import Activation, get_activation

Shape = tuple[int, ...]


def _positive(owner: str, field: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ArchitectureError(f"{owner} {field} must be a positive integer, got {value!r}")
    return value


def _pair(owner: str, field: str, value, minimum: int = 1) -> tuple[int, int]:
    """``3`` or ``(3, 3)`` as ``(3, 3)``: one value per image axis (rows, cols)."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(values) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < minimum for v in values):
        raise ArchitectureError(f"{owner} {field} must be an integer >= {minimum} or a pair of them, got {value!r}")
    return values  # type: ignore[return-value]


def _describe(shape: Shape) -> str:
    return "×".join(map(str, shape))


def window_output(size: int, kernel: int, stride: int, padding: str | int) -> tuple[int, int]:
    """``(output size, padding before)`` of a sliding window along one image axis.

    ``valid``: no padding; ``same``: ``ceil(size / stride)`` outputs with the padding split
    evenly, any odd cell after (TensorFlow's rule; PyTorch's ``padding='same'`` for
    stride 1); an integer: that many zeros on both sides.
    """
    if padding == "valid":
        before, total = 0, 0
    elif padding == "same":
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel - size, 0)
        before = total // 2
    else:
        before, total = int(padding), 2 * int(padding)
    return (size + total - kernel) // stride + 1, before


@dataclass(frozen=True)
class Dense:
    """A fully connected layer: ``z = x @ W + b``, ``a = activation(z)``.

    ``W`` has shape ``(fan_in, fan_out)``: ``W[i, j]`` is the weight from input ``i`` to
    neuron ``j``.  The activation name is checked at construction, so a typo fails at once.
    """

    fan_in: int
    fan_out: int
    activation: str = "identity"

    def __post_init__(self) -> None:
        for field in ("fan_in", "fan_out"):
            _positive("Dense", field, getattr(self, field))
        act = get_activation(self.activation)  # raises UnknownActivationError
        object.__setattr__(self, "activation", act.name)

    @property
    def act(self) -> Activation:
        return get_activation(self.activation)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Shapes of this layer's parameters, weights first."""
        return {"W": (self.fan_in, self.fan_out), "b": (self.fan_out,)}

    def fans(self) -> tuple[int, int]:
        """``(fan_in, fan_out)`` for initialisation."""
        return self.fan_in, self.fan_out

    def output_shape(self, shape: Shape, where: str) -> Shape:
        if len(shape) != 1:
            raise ArchitectureError(f"{where} (Dense) gets a {_describe(shape)} image: put a Flatten() before it")
        if shape[0] != self.fan_in:
            number = int(where.split()[-1])
            source = f"layer {number - 1} outputs" if number > 1 else "the input has"
            raise ArchitectureError(f"layer sizes do not chain: {source} {shape[0]} values but {where} expects "
                                    f"{self.fan_in} inputs")
        return (self.fan_out,)

    def spec(self) -> dict:
        """A JSON-able description, used for cache keys and checkpoints."""
        return {"type": "dense", "fan_in": self.fan_in, "fan_out": self.fan_out, "activation": self.activation}

    def __repr__(self) -> str:
        return f"Dense({self.fan_in}, {self.fan_out}, {self.activation!r})"


def _check_image(shape: Shape, where: str, kind: str) -> None:
    if len(shape) != 3:
        raise ArchitectureError(f"{where} ({kind}) needs images (channels, rows, cols), but gets {len(shape)}-D "
                                f"values of shape {_describe(shape)}")


def _window(shape: Shape, kernel: tuple[int, int], stride: tuple[int, int], padding, where: str,
            kind: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """Output (rows, cols) and padding before (rows, cols) of a window over an image."""
    outs, befores = [], []
    for axis, size, k, s, p in zip(("rows", "cols"), shape[1:], kernel, stride,
                                   padding if isinstance(padding, tuple) else (padding, padding)):
        out, before = window_output(size, k, s, p)
        if out < 1:
            raise ArchitectureError(f"{where} ({kind}): a {k}-wide window does not fit the {size} {axis} of a "
                                    f"{_describe(shape)} input with padding {p!r}")
        outs.append(out)
        befores.append(before)
    return (outs[0], outs[1]), (befores[0], befores[1])


@dataclass(frozen=True)
class Conv2D:
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

    def __post_init__(self) -> None:
        _positive("Conv2D", "in_channels", self.in_channels)
        _positive("Conv2D", "out_channels", self.out_channels)
        object.__setattr__(self, "kernel_size", _pair("Conv2D", "kernel_size", self.kernel_size))
        object.__setattr__(self, "stride", _pair("Conv2D", "stride", self.stride))
        if isinstance(self.padding, str):
            if self.padding.lower() not in ("valid", "same"):
                raise ArchitectureError(f"Conv2D padding must be 'valid', 'same' or a number, got {self.padding!r}")
            object.__setattr__(self, "padding", self.padding.lower())
        else:
            object.__setattr__(self, "padding", _pair("Conv2D", "padding", self.padding, minimum=0))
        act = get_activation(self.activation)
        if not act.elementwise:
            raise ArchitectureError(f"Conv2D activation must act on each value alone; {act.name} couples a layer")
        object.__setattr__(self, "activation", act.name)

    @property
    def act(self) -> Activation:
        return get_activation(self.activation)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"W": (self.out_channels, self.in_channels, *self.kernel_size), "b": (self.out_channels,)}

    def fans(self) -> tuple[int, int]:
        """Each output sees ``in_channels · kh · kw`` inputs; each input feeds ``out_channels · kh · kw`` outputs."""
        area = math.prod(self.kernel_size)
        return self.in_channels * area, self.out_channels * area

    def geometry(self, shape: Shape, where: str = "Conv2D") -> tuple[tuple[int, int], tuple[int, int]]:
        """Output (rows, cols) and padding before (rows, cols) for an input of ``shape``."""
        _check_image(shape, where, "Conv2D")
        return _window(shape, self.kernel_size, self.stride, self.padding, where, "Conv2D")

    def output_shape(self, shape: Shape, where: str) -> Shape:
        _check_image(shape, where, "Conv2D")
        if shape[0] != self.in_channels:
            raise ArchitectureError(f"{where} (Conv2D) expects {self.in_channels} input channels but gets "
                                    f"{shape[0]} (input {_describe(shape)})")
        (rows, cols), _ = self.geometry(shape, where)
        return (self.out_channels, rows, cols)

    def spec(self) -> dict:
        return {"type": "conv2d", "in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
                "activation": self.activation}

    def __repr__(self) -> str:
        k = self.kernel_size[0] if self.kernel_size[0] == self.kernel_size[1] else self.kernel_size
        extras = "".join(f", {name}={value!r}" for name, value, default in (
            ("stride", self.stride if self.stride[0] != self.stride[1] else self.stride[0], 1),
            ("padding", self.padding, "valid"), ("activation", self.activation, "identity")) if value != default)
        return f"Conv2D({self.in_channels}, {self.out_channels}, {k!r}{extras})"


class _NoParameters:
    """A layer that only moves or reduces values: no weights, no activation."""

    activation = "identity"

    @property
    def act(self) -> Activation:
        return get_activation("identity")

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {}


@dataclass(frozen=True)
class _Pool2D(_NoParameters):
    """A window reduction over each channel; ``stride`` defaults to the window size."""

    size: int | tuple[int, int] = 2
    stride: int | tuple[int, int] | None = None
    padding: int | tuple[int, int] = 0

    kind = "Pool2D"

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", _pair(self.kind, "size", self.size))
        object.__setattr__(self, "stride", _pair(self.kind, "stride", self.size if self.stride is None else self.stride))
        padding = _pair(self.kind, "padding", self.padding, minimum=0)
        if any(2 * p > k for p, k in zip(padding, self.size)):
            raise ArchitectureError(f"{self.kind} padding {padding} must be at most half the window {self.size}")
        object.__setattr__(self, "padding", padding)

    def geometry(self, shape: Shape, where: str = "pooling") -> tuple[tuple[int, int], tuple[int, int]]:
        _check_image(shape, where, self.kind)
        return _window(shape, self.size, self.stride, self.padding, where, self.kind)  # type: ignore[arg-type]

    def output_shape(self, shape: Shape, where: str) -> Shape:
        (rows, cols), _ = self.geometry(shape, where)
        return (shape[0], rows, cols)

    def spec(self) -> dict:
        return {"type": self.kind.lower(), "size": list(self.size), "stride": list(self.stride),
                "padding": list(self.padding)}

    def __repr__(self) -> str:
        def short(pair):
            return pair[0] if pair[0] == pair[1] else pair
        extras = "".join(f", {name}={short(value)!r}" for name, value, default in (
            ("stride", self.stride, self.size), ("padding", self.padding, (0, 0))) if value != default)
        size = short(self.size)
        return f"{self.kind}({size!r}{extras})"


@dataclass(frozen=True, repr=False)
class MaxPool2D(_Pool2D):
    """The largest value of each window (padding never wins); the error flows to that element."""

    kind = "MaxPool2D"


@dataclass(frozen=True, repr=False)
class AvgPool2D(_Pool2D):
    """The mean of each window, padding counted as zeros (PyTorch's ``count_include_pad``)."""

    kind = "AvgPool2D"


@dataclass(frozen=True)
class Flatten(_NoParameters):
    """Images ``(channels, rows, cols)`` as vectors, in row-major order (as ``torch.flatten``)."""

    def output_shape(self, shape: Shape, where: str) -> Shape:
        _check_image(shape, where, "Flatten")
        return (math.prod(shape),)

    def spec(self) -> dict:
        return {"type": "flatten"}

    def __repr__(self) -> str:
        return "Flatten()"


Layer = Dense | Conv2D | MaxPool2D | AvgPool2D | Flatten
LAYER_TYPES = (Dense, Conv2D, MaxPool2D, AvgPool2D, Flatten)


def layer_from_spec(spec: dict) -> Layer:
    """A layer from its :meth:`spec` (checkpoints, cache records)."""
    kind = spec.get("type", "dense")
    if kind == "dense":
        return Dense(spec["fan_in"], spec["fan_out"], spec["activation"])
    if kind == "conv2d":
        padding = spec["padding"]
        return Conv2D(spec["in_channels"], spec["out_channels"], tuple(spec["kernel_size"]), tuple(spec["stride"]),
                      padding if isinstance(padding, str) else tuple(padding), spec["activation"])
    if kind in ("maxpool2d", "avgpool2d"):
        cls = MaxPool2D if kind == "maxpool2d" else AvgPool2D
        return cls(tuple(spec["size"]), tuple(spec["stride"]), tuple(spec["padding"]))
    if kind == "flatten":
        return Flatten()
    raise ArchitectureError(f"unknown layer type {kind!r} in a network description")
