"""symbackprop: backpropagation you can read, check and compile.

The pipeline, one sub-package per stage::

    model  ->  derive  ->  simplify  ->  codegen  ->  train

Importing this package loads SymPy and NumPy only; Numba is imported when a network is
compiled.
"""
from .errors import (ArchitectureError, CacheError, CheckpointError, DataError, LossMismatchError, SymbackpropError,
                     TrainingError, UnknownActivationError, UnknownLossError)
from .model import AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D, Network, Parameters

__version__ = "0.1.0"

__all__ = ["ArchitectureError", "AvgPool2D", "CacheError", "CheckpointError", "Conv2D", "DataError", "Dense", "Flatten",
           "LossMismatchError", "MaxPool2D", "Network", "Parameters", "SymbackpropError", "TrainingError", "UnknownActivationError", "UnknownLossError",
           "__version__"]
