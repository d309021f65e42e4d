"""symbackprop: backpropagation you can read, check and compile.

The pipeline, one sub-package per stage, each importing only the stages before it::

    model  ->  derive  ->  simplify  ->  codegen  ->  train      (explain beside them)

This package is the face over them: the model's classes, and one function per later
stage, each taking the network: ``derivation(net)``, ``compile(net)``,
``explanation(net, x, y)`` (named apart from the ``derive`` and ``explain`` packages,
whose names a function here would collide with), and ``fit(net, X, y)``, which returns a
trained :class:`~symbackprop.train.model.Model` (Keras' habits: ``fit``, ``predict``,
``evaluate``, ``summary``, ``save``/``load``).  Estimators for scikit-learn are in
:mod:`symbackprop.sklearn`.

The model classes are loaded on first use (``from symbackprop import Network`` loads SymPy
and NumPy; Numba is imported when a network is compiled).  Importing the package itself
loads neither, so a generated kernel module can import the shared kernels of
:mod:`symbackprop.codegen` without SymPy (see ``codegen/copied_source.py``).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Sequence

from .errors import (ArchitectureError, CacheError, CheckpointError, DataError, FormulaError, LossMismatchError,
                     SymbackpropError, SymbackpropWarning, TrainingDiverged, TrainingError,
                     UnknownActivationError, UnknownLossError)

from .version import __version__

#: public names defined in sub-packages, imported when first asked for
_LAZY = {name: ".model" for name in ("Activation", "AvgPool2D", "Conv2D", "Dense", "Flatten", "Layer", "Loss",
                                     "MaxPool2D", "Network", "Parameters", "Residual", "register_activation",
                                     "register_layer", "register_loss", "rule_layer")}
_LAZY.update({name: ".train.model" for name in ("Model", "fit")})
_LAZY["using_threads"] = ".train.threads"
_LAZY.update({name: ".train" for name in ("EpochRecord", "History", "LambdaCallback", "Optimizer", "Schedule",
                                          "TrainSettings", "TrainingInterrupted")})

if TYPE_CHECKING:
    from .codegen.compiled import CompiledNetwork
    from .explain.explanation import Explanation
    from .train import EpochRecord, History, LambdaCallback, Optimizer, Schedule, TrainSettings, TrainingInterrupted
    from .train.model import Model, fit
    from .train.threads import using_threads
    from .model import (Activation, AvgPool2D, Conv2D, Dense, Flatten, Layer, Loss, MaxPool2D, Network, Parameters,
                        Residual, register_activation, register_layer, register_loss, rule_layer)

# ``compile`` is public but left out of ``__all__``: ``from symbackprop import *`` must not
# shadow Python's built-in ``compile``
__all__ = ["Activation", "ArchitectureError", "AvgPool2D", "CacheError", "CheckpointError", "Conv2D", "DataError",
           "Dense", "EpochRecord", "Flatten", "FormulaError", "History", "LambdaCallback", "Layer", "Loss",
           "LossMismatchError", "MaxPool2D", "Model", "Network", "Optimizer", "Parameters", "Residual", "Schedule",
           "SymbackpropError", "SymbackpropWarning", "TrainSettings", "TrainingDiverged", "TrainingError",
           "TrainingInterrupted", "UnknownActivationError", "UnknownLossError",
           "__version__", "derivation", "explanation", "fit", "register_activation", "register_layer", "register_loss",
           "rule_layer", "using_threads"]

#: what :func:`derivation` can write
VIEWS = ("index", "unrolled", "naive")


def derivation(network: "Network", view: str = "index"):
    """Stage 2: the chain rule for ``network``.

    ``index``: one generic element per layer (:class:`~symbackprop.derive.IndexDerivation`,
    what the kernels are made from); ``unrolled``: every scalar ∂L/∂w of a small dense
    network with named intermediates; ``naive``: the fully substituted loss differentiated
    once per parameter (for comparison).
    """
    from .derive import derive_index_level, derive_naive, derive_unrolled
    if view == "index":
        return derive_index_level(network)
    if view == "unrolled":
        return derive_unrolled(network)
    if view == "naive":
        return derive_naive(derive_unrolled(network))
    raise ValueError(f"unknown derivation view {view!r}; choose one of: {', '.join(VIEWS)}")


def compile(network: "Network", view: str = "index", cache_dir: str | None = None, warm_up: bool | str = True,
            dtype: str = "float64") -> "CompiledNetwork":
    """Stages 2-4: derive, simplify and compile Numba kernels for ``network`` (or load them
    from the on-disk cache).  ``warm_up`` compiles the training kernels now, in precision
    ``dtype``, rather than on their first call; ``"all"`` compiles every entry point; the
    result's ``repr`` (and :meth:`~symbackprop.codegen.compiled.CompiledNetwork.cold`) says
    which are still cold."""
    from .codegen.compiled import compile_network
    return compile_network(network, view=view, cache_dir=cache_dir, warm_up=warm_up, dtype=dtype)


def explanation(network: "Network", x: Sequence[float], y, params: "Parameters | None" = None, param: str = "W1[0,1]",
            lr: float = 0.1, seed: int = 0) -> "Explanation":
    """One backprop step on input ``x`` and target ``y``, every number tied to its formula
    (see :func:`symbackprop.explain.explain`); prints as text, renders in Jupyter."""
    from .explain import explain as explain_step
    return explain_step(network, x, y, params=params, param=param, lr=lr, seed=seed)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
