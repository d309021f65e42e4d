"""A network from a short text, for the command line: ``conv:16,maxpool:2,conv:32,maxpool:2``.

Items are separated by commas; each is a layer kind's word and its settings separated
by colons, in the form each kind declares (:attr:`Layer.arch_form`, listed by
:func:`arch_forms`), e.g. ``conv:CHANNELS[:KERNEL][:sSTRIDE][:valid|same|pPAD][:ACTIVATION]``
(defaults: kernel 3, stride 1, ``same`` padding, the hidden activation),
``maxpool:SIZE[:sSTRIDE][:pPAD]`` (stride defaults to the size), ``dense:WIDTH[:ACTIVATION]``.
``flatten`` is optional: it is inserted before the first vector layer after images.
``res(ITEMS)[:ACTIVATION]`` is a residual block (:class:`~.layers.Residual`) of the
items inside, e.g. ``dense:64,res(dense:64,dense:64:identity)``.  An activation may be a
definition ``NAME=FORMULA`` (``dense:64:swish=z/(1+exp(-z))``): commas split items only
outside parentheses, so a formula may hold them.

The output layer (the classes, with the activation the loss expects) is added at the end,
as with ``--hidden``.  ``cnn`` names :data:`PRESETS`' small digits network.  The text is
parsed, never evaluated.
"""
from __future__ import annotations

import math
from typing import Sequence

from ..errors import ArchitectureError
from .layers import LAYERS, Dense, Flatten, Layer, Residual, Shape
from .losses import get_loss
from .network import Network

#: named architectures
PRESETS = {"cnn": "conv:16,maxpool:2,conv:32,maxpool:2"}


def _kinds() -> dict[str, type[Layer]]:
    """The layer kinds written in ``--arch``, by their word."""
    return {(cls.arch_word or cls.kind): cls for cls in LAYERS.values() if cls.arch_form}


def arch_forms() -> str:
    """Every kind's ``--arch`` form, for help text and errors."""
    return ", ".join(cls.arch_form for cls in _kinds().values())


#: the words that open a residual block: ``res(ITEMS)[:ACTIVATION]``
RESIDUAL_WORDS = ("res", "residual")


def split_items(text: str) -> list[str]:
    """``text``'s comma-separated items, splitting only outside parentheses (a residual
    block's items, a formula's ``where(z > 0, z, 0)``)."""
    items, depth, start = [], 0, 0
    for k, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            raise ArchitectureError(f"unbalanced ')' at character {k + 1} of the architecture {text!r}")
        if char == "," and depth == 0:
            items.append(text[start:k].strip())
            start = k + 1
    if depth:
        raise ArchitectureError(f"unbalanced '(' in the architecture {text!r}")
    items.append(text[start:].strip())
    return items


def _settings(item: str) -> tuple[str, list[str]]:
    """The word (lower case) and settings of ``kind:setting:...``; a setting holding a
    formula (``swish=z/(1+exp(-z))``) keeps its case."""
    word, *settings = item.split(":")
    return word.strip().lower(), [part if "=" in part else part.strip().lower() for part in settings]


def _residual(item: str) -> tuple[str, str | None] | None:
    """``(inner text, activation)`` of a ``res(...)[:ACTIVATION]`` item, else None."""
    head, _, rest = item.partition("(")
    if head.strip().lower() not in RESIDUAL_WORDS or not rest:
        return None
    depth = 1
    for end, char in enumerate(rest):  # the parenthesis that closes the block's own
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            break
    inner, after = rest[:end], rest[end + 1:].strip()
    if after and not after.startswith(":"):
        raise ArchitectureError(f"{item!r}: a residual block is res(ITEMS) or res(ITEMS):ACTIVATION")
    return inner, after[1:] or None


def build_network(text: str, input_shape: Sequence[int], n_outputs: int, activation: str = "relu",
                  output: str | None = None, loss: str = "cce", l1: float = 0.0, l2: float = 0.0) -> Network:
    """The network ``text`` describes, for inputs of ``input_shape`` and ``n_outputs`` outputs."""
    text = PRESETS.get(text.strip().lower(), text)
    layers: list[Layer | Residual] = []
    shape = _read_items(text, tuple(input_shape), activation, layers, [tuple(input_shape)])
    if len(shape) == 3:
        layers.append(Flatten())
        shape = (math.prod(shape),)
    if output is None:
        output = get_loss(loss).default_output
    layers.append(Dense(shape[0], n_outputs, output))
    image = len(tuple(input_shape)) == 3
    return Network(layers, loss=loss, l1=l1, l2=l2, input_shape=tuple(input_shape) if image else None)


def _read_items(text: str, shape: Shape, activation: str, layers: list, shapes: list[Shape]) -> Shape:
    """Append the layers of ``text``'s items to ``layers``; returns the shape they output.
    ``shapes`` lists every boundary's shape so far (a residual block checks its own)."""
    kinds = _kinds()

    def add(layer: Layer) -> None:
        nonlocal shape
        layers.append(layer)
        shape = layer.output_shape_in(shapes, f"layer {len(shapes)}")
        shapes.append(shape)

    for item in split_items(text):
        if not item:
            raise ArchitectureError(f"empty item in the architecture {text!r}")
        block = _residual(item)
        if block is not None:
            inner, block_activation = block
            members: list = []
            shape = _read_items(inner, shape, activation, members, shapes)
            residual = Residual(members, block_activation or "identity")
            closing = residual.expand()[-1]
            layers.append(residual)
            shape = closing.output_shape_in(shapes, f"{item!r}")
            shapes.append(shape)
            continue
        word, settings = _settings(item)
        if word not in kinds:
            raise ArchitectureError(f"unknown layer {item!r}; use {arch_forms()}, res(ITEMS)[:ACTIVATION] "
                                    f"(or a preset: {', '.join(PRESETS)})")
        cls = kinds[word]
        if cls.takes == "vector" and len(shape) == 3:
            add(Flatten())
        add(cls.from_arch(item, settings, shape, activation))
    return shape
