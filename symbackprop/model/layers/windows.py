"""Sliding windows over images, shared by convolution and pooling: how a window fits an
image axis (output size, padding), and where offset ``(p, q)`` of output ``(y, x)`` reads."""
from __future__ import annotations

import re
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


def _reached(size: int, kernel: int, stride: int, out: int, before: int) -> tuple[int, int]:
    """The first and last kernel offsets that read the image (not only padding) at some output."""
    return max(0, before - stride * (out - 1)), min(kernel - 1, before + size - 1)


def window(shape: Shape, kernel: tuple[int, int], stride: tuple[int, int], padding, where: str,
           kind: str, weights: bool = False) -> tuple[tuple[int, int], tuple[int, int]]:
    """Output (rows, cols) and padding before (rows, cols) of a window over an image.

    With ``weights`` (a convolution), a kernel some of whose rows or columns would only ever
    read padding is refused: those weights could never learn (a 99×99 kernel on 8×8 digits).
    """
    outs, befores = [], []
    for axis, size, k, s, pad in zip(("rows", "cols"), shape[1:], kernel, stride,
                                     padding if isinstance(padding, tuple) else (padding, padding)):
        out, before = window_output(size, k, s, pad)
        if out < 1:
            raise ArchitectureError(f"{where} ({kind}): a {k}-wide window does not fit the {size} {axis} of a "
                                    f"{describe(shape)} input with padding {pad!r}")
        first, last = _reached(size, k, s, out, before)
        if weights and (first > 0 or last < k - 1):
            raise ArchitectureError(f"{where} ({kind}): a {k}-wide kernel on the {size} {axis} of a "
                                    f"{describe(shape)} input with padding {pad!r}: its {axis} outside "
                                    f"{first}..{last} would only ever read padding, so their weights could "
                                    f"never learn; use a kernel of at most {size}")
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


#: ``s2``, ``p-1``, ``s1.5``: a stride or padding setting, however badly its number is written
_NUMBERED = re.compile(r"[sp][-+]?[\d.]+")


def arch_options(item: str, parts: Sequence[str], activation: str | None) -> dict:
    """``--arch`` settings of a window: stride ``sN``, padding ``valid``/``same``/``pN`` and
    (``activation`` not None) an activation name, in any order; each at most once."""
    out: dict = {}
    for part in parts:
        if part in ("valid", "same"):
            key, value = "padding", part
        elif _NUMBERED.fullmatch(part):
            key = "stride" if part[0] == "s" else "padding"
            value = arch_number(item, part[1:], f"the {key} ({part!r})")
        elif activation is not None:
            key, value = "activation", part
        else:
            raise ArchitectureError(f"{item!r}: unknown setting {part!r} (expected sN for a stride or pN for padding)")
        if key in out:
            raise ArchitectureError(f"{item!r}: the {key} is given twice ({_setting(key, out[key])} and {part!r})")
        out[key] = value
    return out


def _setting(key: str, value) -> str:
    """How a setting was written in ``--arch``."""
    if isinstance(value, int):
        return repr(f"{key[0]}{value}")
    return repr(value)
