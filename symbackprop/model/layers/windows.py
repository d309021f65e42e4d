"""Sliding windows over images, shared by convolution and pooling: how a window fits an
image axis (output size, padding), and where offset ``(p, q)`` of output ``(y, x)`` reads."""
from __future__ import annotations

from typing import Sequence

import sympy as sp

from ...errors import ArchitectureError
from ..notation import InRange, p, q, x, y
from .base import RuleContext, Shape, arch_number, describe


def pair(owner: str, field_name: str, value, minimum: int = 1) -> tuple[int, int]:
    """``3`` or ``(3, 3)`` as ``(3, 3)``: one value per image axis (rows, cols)."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(values) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < minimum for v in values):
        raise ArchitectureError(f"{owner} {field_name} must be an integer >= {minimum} or a pair of them, "
                                f"got {value!r}")
    return values  # type: ignore[return-value]


def short(values: tuple[int, int]):
    """``3`` for ``(3, 3)``, else the pair: how ``repr`` shows a per-axis setting."""
    return values[0] if values[0] == values[1] else values


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


def window(shape: Shape, kernel: tuple[int, int], stride: tuple[int, int], padding, where: str,
           kind: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """Output (rows, cols) and padding before (rows, cols) of a window over an image."""
    outs, befores = [], []
    for axis, size, k, s, pad in zip(("rows", "cols"), shape[1:], kernel, stride,
                                     padding if isinstance(padding, tuple) else (padding, padding)):
        out, before = window_output(size, k, s, pad)
        if out < 1:
            raise ArchitectureError(f"{where} ({kind}): a {k}-wide window does not fit the {size} {axis} of a "
                                    f"{describe(shape)} input with padding {pad!r}")
        outs.append(out)
        befores.append(before)
    return (outs[0], outs[1]), (befores[0], befores[1])


def reads(ctx: RuleContext, geometry, kernel, stride) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """Input row and column read by window offset ``(p, q)`` of output ``(y, x)``, and the
    padding bracket (1 when no window ever reaches past the image)."""
    (out_rows, out_cols), before = geometry
    _, rows, cols = ctx.d_in
    in_rows, in_cols = ctx.in_shape[1:]
    row, col = stride[0] * y + p - before[0], stride[1] * x + q - before[1]
    mask = sp.S.One
    for index, size, symbol, k, s, pad, out in ((row, in_rows, rows, kernel[0], stride[0], before[0], out_rows),
                                                (col, in_cols, cols, kernel[1], stride[1], before[1], out_cols)):
        if pad > 0 or s * (out - 1) + k - 1 - pad > size - 1:
            mask *= InRange(index, 0, symbol - 1)
    return row, col, mask


def arch_options(item: str, parts: Sequence[str], activation: str | None) -> dict:
    """``--arch`` settings of a window: stride ``sN``, padding ``valid``/``same``/``pN`` and
    (``activation`` not None) an activation name, in any order."""
    out: dict = {}
    for part in parts:
        if part in ("valid", "same"):
            out["padding"] = part
        elif part[:1] == "s" and part[1:].isdigit():
            out["stride"] = arch_number(item, part[1:], "stride")
        elif part[:1] == "p" and part[1:].isdigit():
            out["padding"] = arch_number(item, part[1:], "padding")
        elif activation is not None:
            out["activation"] = part
        else:
            raise ArchitectureError(f"{item!r}: unknown setting {part!r} (expected sN for a stride or pN for padding)")
    return out
