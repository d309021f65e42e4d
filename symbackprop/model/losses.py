"""Loss functions, each defined once as a SymPy expression of one sample.

A loss is written for one generic sample ``n``: a SymPy expression of the network's
outputs ``a[n, k]`` and targets ``y[n, k]`` over ``k < width``.  The training loss is the
mean of it over the mini-batch.  Conventions follow PyTorch's defaults so results can be
compared: MSE and binary cross-entropy average over the outputs too; categorical
cross-entropy sums over classes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp

from ..errors import LossMismatchError, UnknownLossError
from .activations import Activation
from .registry import lookup


@dataclass(frozen=True)
class Loss:
    """One loss: its per-sample SymPy definition and the output activations it fits."""

    name: str
    long_name: str
    per_sample: Callable[[sp.IndexedBase, sp.IndexedBase, sp.Expr, sp.Expr], sp.Expr]
    #: names of output activations this loss accepts; ``None`` accepts any
    fits: tuple[str, ...] | None
    why: str = ""

    def expression(self, a: sp.IndexedBase, y: sp.IndexedBase, n: sp.Expr, width: sp.Expr) -> sp.Expr:
        """Loss of sample ``n`` as a SymPy expression of outputs ``a`` and targets ``y``."""
        return self.per_sample(a, y, n, width)

    def check_fits(self, activation: Activation) -> None:
        """Raise :class:`LossMismatchError` if this loss cannot follow ``activation``."""
        if self.fits is not None and activation.name not in self.fits:
            raise LossMismatchError(
                f"loss {self.name!r} ({self.long_name}) does not fit an output layer with "
                f"activation {activation.name!r}: {self.why}; use output activation "
                f"{' or '.join(repr(f) for f in self.fits)}, or loss 'mse'")


def _k() -> sp.Dummy:
    return sp.Dummy("k", integer=True)


def _mse(a, y, n, width):
    k = _k()
    return sp.Sum((a[n, k] - y[n, k]) ** 2, (k, 0, width - 1)) / width


def _bce(a, y, n, width):
    k = _k()
    return -sp.Sum(y[n, k] * sp.log(a[n, k]) + (1 - y[n, k]) * sp.log(1 - a[n, k]), (k, 0, width - 1)) / width


def _cce(a, y, n, width):
    k = _k()
    return -sp.Sum(y[n, k] * sp.log(a[n, k]), (k, 0, width - 1))


LOSSES: dict[str, Loss] = {
    l.name: l
    for l in (
        Loss("mse", "mean squared error", _mse, None),
        Loss("bce", "binary cross-entropy", _bce, ("sigmoid",),
             why="it takes the log of each output and of 1 - output, so every output must lie in (0, 1) on its own"),
        Loss("cce", "categorical cross-entropy", _cce, ("softmax",),
             why="it needs the outputs to be a probability distribution over the classes"),
    )
}

_ALIASES = {"mean_squared_error": "mse", "binary_crossentropy": "bce", "binary_cross_entropy": "bce",
            "categorical_crossentropy": "cce", "categorical_cross_entropy": "cce", "cross_entropy": "cce",
            "crossentropy": "cce"}


def get_loss(name: str | Loss) -> Loss:
    """Look a loss up by name; an unknown name raises a named error listing the choices."""
    if isinstance(name, Loss):
        return name
    return lookup(name, LOSSES, _ALIASES, "loss", UnknownLossError)
