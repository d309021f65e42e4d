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
    layers = network.layers
    ranges = ", ".join(f"W{k}[0..{l.fan_in - 1},0..{l.fan_out - 1}], b{k}[0..{l.fan_out - 1}]"
                       for k, l in enumerate(layers, start=1))
    if parts is None:
        raise ArchitectureError(f"cannot read parameter {name!r}: write it like W1[0,1] or b2[0]; "
                                f"this network has {ranges}")
    letter, layer, idx = parts
    kind = letter.upper() if letter in "Ww" else "b"
    ok = 1 <= layer <= len(layers)
    if ok:
        fan_in, fan_out = layers[layer - 1].fan_in, layers[layer - 1].fan_out
        ok = (kind == "W" and len(idx) == 2 and idx[0] < fan_in and idx[1] < fan_out) or \
             (kind == "b" and len(idx) == 1 and idx[0] < fan_out)
    if not ok:
        raise ArchitectureError(f"there is no parameter {name!r} in {network!r}; it has {ranges}")
    symbol = sp.Symbol(f"{kind}{layer}_{'_'.join(map(str, idx))}", real=True)
    return symbol, user_name(symbol)


def user_name(param: sp.Symbol) -> str:
    """A parameter's name as a user writes it: the unrolled ``W1_0_1`` is ``W1[0,1]``."""
    head, *idx = param.name.split("_")
    return f"{head}[{','.join(idx)}]"
