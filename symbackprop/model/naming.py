"""The one naming scheme of parameters, work arrays and unrolled scalars.

Every stage names the same things -- kernel arguments, generated work arrays, the
unrolled view's scalars, checkpoint entries, what ``explain`` accepts -- so the scheme is
written once, here.  Layer numbers are 1-based; layers without parameters (pooling,
Flatten) keep their numbers, so parameter names may skip some (``W1, b1, W3, b3``).

=============  ==========================================================
``W3``, ``b3``  a parameter of layer 3 (:func:`parameter`)
``gW3``         its gradient (:func:`gradient`)
``z3``, ``a3``  layer 3's weighted sums and outputs (``a0`` is the input)
``d3``, ``g3``  ∂L/∂z3 (the error δ) and ∂L/∂a3 (the incoming gradient)
``z3_1``        neuron 1 of layer 3's ``z`` in the unrolled view (:func:`scalar`)
``dL_dW3_0_1``  ∂L/∂W3[0, 1] in the unrolled view (:func:`partial`)
=============  ==========================================================
"""
from __future__ import annotations

import re

#: the work arrays each layer has: weighted sums, outputs, error, incoming gradient
Z, A, DELTA, INCOMING = "z", "a", "d", "g"
#: prefix of a gradient's name
GRADIENT_PREFIX = "g"

_PARAMETER = re.compile(r"^([A-Za-z]+?)(\d+)$")
#: names a layer's parameter may not have: the work arrays and size symbols share their scheme
RESERVED = frozenset({Z, A, DELTA, INCOMING, "am", "rowsum", "m", "C", "rows", "cols", "x", "y",
                      "l"})  # l1, l2: the kernels' penalty arguments


def check_parameter_name(name: str) -> str | None:
    """Why ``name`` cannot name a layer's parameter (None if it can): the name is followed by
    the layer number, so it must be letters only, and it must not be a work array's name."""
    if not name.isascii() or not name.isalpha():
        return "a parameter's name must be letters only (the layer number follows it)"
    if name in RESERVED:
        return f"{name!r} already names the work arrays or sizes of every layer ({', '.join(sorted(RESERVED))})"
    return None


def array(kind: str, layer: int) -> str:
    """``z3``: the work array of ``kind`` (``z``, ``a``, ``d``, ``g``, a layer's own) for ``layer``."""
    return f"{kind}{layer}"


def parameter(name: str, layer: int) -> str:
    """``W3``: parameter ``name`` of ``layer``."""
    return f"{name}{layer}"


def gradient(parameter_name: str) -> str:
    """``gW3``: the name of ``parameter_name``'s gradient."""
    return GRADIENT_PREFIX + parameter_name


def scalar(kind: str, layer: int, *index: int) -> str:
    """``z3_1``, ``W3_0_1``: one element of layer ``layer``'s ``kind`` in the unrolled view."""
    return f"{kind}{layer}_" + "_".join(map(str, index))


def partial(scalar_name: str) -> str:
    """``dL_dW3_0_1``: the unrolled view's name of ∂L/∂(that scalar)."""
    return f"dL_d{scalar_name}"


def split_parameter(name: str) -> tuple[str, int] | None:
    """``("W", 3)`` for ``"W3"``; None for a name outside the scheme."""
    match = _PARAMETER.match(name)
    return (match.group(1), int(match.group(2))) if match else None
