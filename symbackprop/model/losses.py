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

from ..errors import DataError, LossMismatchError, UnknownLossError
from .activations import Activation
from .registry import Registry


@dataclass(frozen=True)
class Loss:
    """One loss, as one record: its per-sample SymPy definition and every fact the other
    stages check -- which output activations it fits, which it takes by default, the
    range its targets must lie in, and whether it classifies or regresses."""

    name: str
    long_name: str
    per_sample: Callable[[sp.IndexedBase, sp.IndexedBase, sp.Expr, sp.Expr], sp.Expr]
    #: names of output activations this loss accepts; ``None`` accepts any
    fits: tuple[str, ...] | None
    why: str = ""
    #: the output activation a network built for this loss gets unless told otherwise
    output: str = "identity"
    #: the closed interval every target must lie in, if any
    target_range: tuple[float, float] | None = None
    #: ``classify``: the outputs are class scores (accuracy is reported); ``regress``: values
    task: str = "regress"

    def __post_init__(self) -> None:
        if self.task not in ("classify", "regress"):
            raise ValueError(f"loss task must be 'classify' or 'regress', not {self.task!r}")

    @property
    def classifies(self) -> bool:
        return self.task == "classify"

    def expression(self, a: sp.IndexedBase, y: sp.IndexedBase, n: sp.Expr, width: sp.Expr) -> sp.Expr:
        """Loss of sample ``n`` as a SymPy expression of outputs ``a`` and targets ``y``."""
        return self.per_sample(a, y, n, width)

    def check_fits(self, activation: Activation) -> None:
        """Raise :class:`LossMismatchError` if this loss cannot follow ``activation``."""
        if self.fits is not None and activation.name not in self.fits:
            others = [name for name, loss in LOSSES.items() if loss.fits is None]
            raise LossMismatchError(
                f"loss {self.name!r} ({self.long_name}) does not fit an output layer with "
                f"activation {activation.name!r}: {self.why}; use output activation "
                f"{' or '.join(repr(f) for f in self.fits)}, or loss {' or '.join(map(repr, others))}")

    def check_targets(self, low: float, high: float) -> None:
        """Raise :class:`DataError` unless targets spanning ``[low, high]`` lie in :attr:`target_range`."""
        if self.target_range is not None and (low < self.target_range[0] or high > self.target_range[1]):
            lo, hi = self.target_range
            raise DataError(f"{self.long_name} needs targets in [{lo:g}, {hi:g}]; Y ranges over [{low:g}, {high:g}]")


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


#: every loss a network can name; :func:`register_loss` adds one
LOSSES: Registry[Loss] = Registry("loss", UnknownLossError)


def register_loss(loss: Loss, aliases: tuple[str, ...] = (), replace: bool = False) -> Loss:
    """Make ``loss`` available by name to networks, checkpoints and the command line."""
    return LOSSES.register(loss.name, loss, aliases, replace)


register_loss(Loss("mse", "mean squared error", _mse, None), ("mean_squared_error",))
register_loss(Loss("bce", "binary cross-entropy", _bce, ("sigmoid",), output="sigmoid", target_range=(0.0, 1.0),
                   task="classify",
                   why="it takes the log of each output and of 1 - output, so every output must lie in (0, 1) "
                       "on its own"),
              ("binary_crossentropy", "binary_cross_entropy"))
register_loss(Loss("cce", "categorical cross-entropy", _cce, ("softmax",), output="softmax", target_range=(0.0, 1.0),
                   task="classify", why="it needs the outputs to be a probability distribution over the classes"),
              ("categorical_crossentropy", "categorical_cross_entropy", "cross_entropy", "crossentropy"))


def get_loss(name: str | Loss) -> Loss:
    """Look a loss up by name; an unknown name raises a named error listing the choices."""
    if isinstance(name, Loss):
        return name
    return LOSSES.get(name)
