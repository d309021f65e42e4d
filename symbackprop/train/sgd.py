"""Plain mini-batch stochastic gradient descent over compiled kernels.

Each step is one call to the generated ``loss_and_grad`` kernel and one vector update of
the flat parameter array; batches are reshuffled every epoch from a seeded generator, so
the same seed gives the same run.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..codegen.compiled import CompiledNetwork
from ..errors import TrainingError
from ..model.parameters import Parameters


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    val_loss: float | None
    val_accuracy: float | None
    seconds: float


@dataclass
class History:
    """What happened in each epoch."""

    epochs: list[EpochRecord] = field(default_factory=list)

    @property
    def train_loss(self) -> list[float]:
        return [e.train_loss for e in self.epochs]

    @property
    def val_accuracy(self) -> list[float | None]:
        return [e.val_accuracy for e in self.epochs]


def accuracy(compiled: CompiledNetwork, params: Parameters, X: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose predicted class equals ``labels``."""
    return float(np.mean(compiled.predict(X, params) == np.asarray(labels).reshape(-1)))


def check_settings(epochs: int, lr: float, batch_size: int, n_samples: int) -> None:
    """Named errors for settings that cannot train."""
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise TrainingError(f"epochs must be a positive integer, got {epochs!r}")
    if not isinstance(lr, (int, float, np.floating)) or not math.isfinite(lr) or lr <= 0:
        raise TrainingError(f"learning rate must be a positive number, got {lr!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise TrainingError(f"batch size must be a positive integer, got {batch_size!r}")
    if batch_size > n_samples:
        raise TrainingError(f"batch size {batch_size} is larger than the {n_samples} training samples")


def train_sgd(compiled: CompiledNetwork, params: Parameters, X, Y, *, epochs: int = 30, lr: float = 0.1,
              batch_size: int = 32, seed: int = 0, X_val=None, y_val=None,
              on_epoch: Callable[[EpochRecord], None] | None = None) -> History:
    """Train ``params`` in place with mini-batch SGD; returns the per-epoch history.

    ``Y`` may be one-hot targets or integer labels; ``y_val`` are integer labels (or
    targets for a regression), used for the validation loss and accuracy.
    """
    net = compiled.network
    X, Y = net.check_inputs(X, Y)
    check_settings(epochs, lr, batch_size, X.shape[0])
    if X_val is not None and len(X_val):
        X_val, Y_val = net.check_inputs(X_val, y_val)
        labels_val = np.asarray(y_val)
    else:
        X_val = None
    rng = np.random.default_rng(seed)
    grads = params.zeros_like()
    history = History()
    n = X.shape[0]
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        order = rng.permutation(n)
        total = 0.0
        for b, first in enumerate(range(0, n, batch_size)):
            idx = order[first:first + batch_size]
            loss, _ = compiled.loss_and_grad_unchecked(X[idx], Y[idx], params, grads)
            if not math.isfinite(loss) or not np.all(np.isfinite(grads.flat)):
                raise TrainingError(f"training diverged at epoch {epoch}, batch {b + 1}: loss is {loss}; "
                                    f"try a smaller learning rate than {lr}")
            params.flat -= lr * grads.flat
            total += loss * len(idx)
        record = EpochRecord(epoch, total / n, None, None, 0.0)
        if X_val is not None:
            record.val_loss = compiled.loss(X_val, Y_val, params)
            if labels_val.ndim == 1 and (net.n_outputs > 1 or net.loss.name == "bce"):
                record.val_accuracy = accuracy(compiled, params, X_val, labels_val)
        record.seconds = time.perf_counter() - start
        history.epochs.append(record)
        if on_epoch is not None:
            on_epoch(record)
    return history
