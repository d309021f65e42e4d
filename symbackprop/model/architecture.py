"""A network from a short text, for the command line: ``conv:16,maxpool:2,conv:32,maxpool:2``.

Items are separated by commas; each is a kind and its settings separated by colons:

* ``conv:CHANNELS[:KERNEL][:sSTRIDE][:valid|same|pPAD][:ACTIVATION]`` -- defaults: kernel 3,
  stride 1, ``same`` padding, the hidden activation;
* ``maxpool:SIZE[:sSTRIDE][:pPAD]`` and ``avgpool:...`` -- stride defaults to the size;
* ``flatten`` -- optional: it is inserted before the first dense layer after images;
* ``dense:WIDTH[:ACTIVATION]`` -- a hidden dense layer.

The output layer (the classes, with the activation the loss expects) is added at the end,
as with ``--hidden``.  ``cnn`` names :data:`PRESETS`' small digits network.  The text is
parsed, never evaluated.
"""
from __future__ import annotations

from typing import Sequence

from ..errors import ArchitectureError
from .layers import AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D
from .losses import get_loss
from .network import Network

#: named architectures
PRESETS = {"cnn": "conv:16,maxpool:2,conv:32,maxpool:2"}


def _number(item: str, text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ArchitectureError(f"{item!r}: {what} must be a whole number, got {text!r}") from None
    if value < 0:
        raise ArchitectureError(f"{item!r}: {what} must not be negative, got {value}")
    return value


def _options(item: str, parts: Sequence[str], activation: str | None) -> dict:
    """Stride ``sN``, padding ``valid``/``same``/``pN`` and an activation name, in any order."""
    out: dict = {}
    for part in parts:
        if part in ("valid", "same"):
            out["padding"] = part
        elif part[:1] == "s" and part[1:].isdigit():
            out["stride"] = _number(item, part[1:], "stride")
        elif part[:1] == "p" and part[1:].isdigit():
            out["padding"] = _number(item, part[1:], "padding")
        elif activation is not None:
            out["activation"] = part
        else:
            raise ArchitectureError(f"{item!r}: unknown setting {part!r} (expected sN for a stride or pN for padding)")
    return out


def build_network(text: str, input_shape: Sequence[int], n_outputs: int, activation: str = "relu",
                  output: str | None = None, loss: str = "cce", l1: float = 0.0, l2: float = 0.0) -> Network:
    """The network ``text`` describes, for inputs of ``input_shape`` and ``n_outputs`` outputs."""
    text = PRESETS.get(text.strip().lower(), text)
    shape = tuple(input_shape)
    layers: list = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            raise ArchitectureError(f"empty item in the architecture {text!r}")
        kind, *parts = item.lower().split(":")
        if kind == "dense" and len(shape) == 3:
            layers.append(Flatten())
            shape = layers[-1].output_shape(shape, f"layer {len(layers)}")
        if kind == "conv":
            if not parts:
                raise ArchitectureError(f"{item!r}: give the number of channels, e.g. conv:16")
            channels = _number(item, parts[0], "the number of channels")
            kernel = _number(item, parts[1], "the kernel size") if len(parts) > 1 and parts[1].isdigit() else 3
            settings = {"padding": "same", "activation": activation,
                        **_options(item, parts[2 if len(parts) > 1 and parts[1].isdigit() else 1:], activation)}
            if len(shape) != 3:
                raise ArchitectureError(f"{item!r} needs images, but it gets {shape[0]} values: convolutions come "
                                        "before dense layers")
            layers.append(Conv2D(shape[0], channels, kernel, **settings))
        elif kind in ("maxpool", "avgpool"):
            if not parts:
                raise ArchitectureError(f"{item!r}: give the window size, e.g. {kind}:2")
            pool = MaxPool2D if kind == "maxpool" else AvgPool2D
            layers.append(pool(_number(item, parts[0], "the window size"), **_options(item, parts[1:], None)))
        elif kind == "flatten" and not parts:
            layers.append(Flatten())
        elif kind == "dense":
            if not parts:
                raise ArchitectureError(f"{item!r}: give the width, e.g. dense:64")
            act = parts[1] if len(parts) > 1 else activation
            layers.append(Dense(shape[0], _number(item, parts[0], "the width"), act))
        else:
            raise ArchitectureError(f"unknown layer {item!r}; use conv:C, maxpool:K, avgpool:K, flatten or dense:N "
                                    f"(or a preset: {', '.join(PRESETS)})")
        shape = layers[-1].output_shape(shape, f"layer {len(layers)}")
    if len(shape) == 3:
        layers.append(Flatten())
        shape = layers[-1].output_shape(shape, f"layer {len(layers)}")
    if output is None:
        output = {"cce": "softmax", "bce": "sigmoid"}.get(get_loss(loss).name, "identity")
    layers.append(Dense(shape[0], n_outputs, output))
    image = len(tuple(input_shape)) == 3
    return Network(layers, loss=loss, l1=l1, l2=l2, input_shape=tuple(input_shape) if image else None)
