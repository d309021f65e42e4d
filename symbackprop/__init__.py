"""symbackprop: backpropagation you can read, check and compile.

The pipeline, one sub-package per stage::

    model  ->  derive  ->  simplify  ->  codegen  ->  train

The model classes are loaded on first use (``from symbackprop import Network`` loads SymPy
and NumPy; Numba is imported when a network is compiled).  Importing the package itself
loads neither, so a generated kernel module can import the shared kernels of
:mod:`symbackprop.codegen` without SymPy (see ``codegen/copied_source.py``).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .errors import (ArchitectureError, CacheError, CheckpointError, DataError, LossMismatchError, SymbackpropError,
                     TrainingError, UnknownActivationError, UnknownLossError)

__version__ = "0.1.0"

#: public names defined in sub-packages, imported when first asked for
_LAZY = {name: ".model" for name in ("AvgPool2D", "Conv2D", "Dense", "Flatten", "MaxPool2D", "Network", "Parameters")}

if TYPE_CHECKING:
    from .model import AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D, Network, Parameters

__all__ = ["ArchitectureError", "AvgPool2D", "CacheError", "CheckpointError", "Conv2D", "DataError", "Dense", "Flatten",
           "LossMismatchError", "MaxPool2D", "Network", "Parameters", "SymbackpropError", "TrainingError",
           "UnknownActivationError", "UnknownLossError", "__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
