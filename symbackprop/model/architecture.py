"""A network from a short text, for the command line: ``conv:16,maxpool:2,conv:32,maxpool:2``.

Items are separated by commas; each is a layer kind's word and its settings separated
by colons, in the form each kind declares (:attr:`Layer.arch_form`, listed by
:func:`arch_forms`), e.g. ``conv:CHANNELS[:KERNEL][:sSTRIDE][:valid|same|pPAD][:ACTIVATION]``
(defaults: kernel 3, stride 1, ``same`` padding, the hidden activation),
``maxpool:SIZE[:sSTRIDE][:pPAD]`` (stride defaults to the size), ``dense:WIDTH[:ACTIVATION]``.
``flatten`` is optional: it is inserted before the first vector layer after images.

The output layer (the classes, with the activation the loss expects) is added at the end,
as with ``--hidden``.  ``cnn`` names :data:`PRESETS`' small digits network.  The text is
parsed, never evaluated.
"""
from __future__ import annotations

from typing import Sequence

from ..errors import ArchitectureError
from .layers import LAYERS, Dense, Flatten, Layer
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


def build_network(text: str, input_shape: Sequence[int], n_outputs: int, activation: str = "relu",
                  output: str | None = None, loss: str = "cce", l1: float = 0.0, l2: float = 0.0) -> Network:
    """The network ``text`` describes, for inputs of ``input_shape`` and ``n_outputs`` outputs."""
    text = PRESETS.get(text.strip().lower(), text)
    kinds = _kinds()
    shape = tuple(input_shape)
    layers: list[Layer] = []

    def add(layer: Layer) -> None:
        nonlocal shape
        layers.append(layer)
        shape = layer.output_shape(shape, f"layer {len(layers)}")

    for item in (t.strip() for t in text.split(",")):
        if not item:
            raise ArchitectureError(f"empty item in the architecture {text!r}")
        word, *settings = item.lower().split(":")
        if word not in kinds:
            raise ArchitectureError(f"unknown layer {item!r}; use {arch_forms()} (or a preset: {', '.join(PRESETS)})")
        cls = kinds[word]
        if cls.takes == "vector" and len(shape) == 3:
            add(Flatten())
        add(cls.from_arch(item, settings, shape, activation))
    if len(shape) == 3:
        add(Flatten())
    if output is None:
        output = get_loss(loss).output
    layers.append(Dense(shape[0], n_outputs, output))
    image = len(tuple(input_shape)) == 3
    return Network(layers, loss=loss, l1=l1, l2=l2, input_shape=tuple(input_shape) if image else None)
