"""Parameter names as a user writes them (``W1[0,1]``) and as the unrolled derivation does (``W1_0_1``).

:func:`~symbackprop.explain.explain` (and so ``symbackprop explain --param``), the
image-network view's kernel entries and the renderer's labels all read or write these
names; one module owns the spelling so that they agree, and so that reading a name does
not pull in the evaluation of a backprop step.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

import sympy as sp

from ..errors import ArchitectureError

if TYPE_CHECKING:
    from ..model.network import Network


_PARAM_NAME = re.compile(r"([Wwb])(\d+)((?:\[\d+(?:,\d+)*\])+|(?:_\d+)+)")


def param_name_parts(name: str) -> tuple[str, int, list[int]] | None:
    """``"W1[0,1]"``, ``"W1[0][1]"``, ``"W1_0_1"`` → ``("W", 1, [0, 1])`` (any number of
    indices; spaces ignored), or None when ``name`` is not written that way."""
    m = _PARAM_NAME.fullmatch(name.strip().replace(" ", ""))
    if m is None:
        return None
    return m[1], int(m[2]), [int(v) for v in re.findall(r"\d+", m[3])]


def parse_param(network: "Network", name: str) -> tuple[sp.Symbol, str]:
    """``"W1[0,1]"``, ``"W1_0_1"`` or ``"b2[0]"`` → the unrolled symbol and the canonical name."""
    parts = param_name_parts(name)
    shapes = network.param_shapes()
    ranges = ", ".join(f"{p}[{','.join(f'0..{n - 1}' for n in shape)}]" for p, shape in shapes.items())
    if parts is None:
        raise ArchitectureError(f"cannot read parameter {name!r}: write it like W1[0,1] or b2[0]; "
                                f"this network has {ranges}")
    letter, layer, idx = parts
    kind = letter.upper() if letter in "Ww" else "b"
    shape = shapes.get(f"{kind}{layer}")
    ok = shape is not None and len(idx) == len(shape) and all(v < n for v, n in zip(idx, shape))
    if not ok:
        raise ArchitectureError(f"there is no parameter {name!r} in {network!r}; it has {ranges}")
    symbol = sp.Symbol(f"{kind}{layer}_{'_'.join(map(str, idx))}", real=True)
    return symbol, user_name(symbol)


def user_name(param: sp.Symbol) -> str:
    """A parameter's name as a user writes it: the unrolled ``W1_0_1`` is ``W1[0,1]``."""
    head, *idx = param.name.split("_")
    return f"{head}[{','.join(idx)}]"
