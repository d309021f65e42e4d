"""Per-layer gradient norms: the measurement behind vanishing and exploding gradients.

Backprop multiplies one local derivative per layer on the way down; when those factors
are mostly below one (sigmoid's slope is at most 1/4) the gradients reaching the first
layers shrink geometrically, and when they are above one they blow up.  The norm
``‖∂L/∂W_l‖`` of each layer's weight gradient, on a fixed batch, shows which is happening.
"""
from __future__ import annotations

import numpy as np

from ..codegen.compiled import CompiledNetwork
from ..model import naming
from ..model.parameters import Parameters

#: rows of the training set the monitor evaluates the gradient on
MONITOR_ROWS = 256


def layer_gradient_norms(compiled: CompiledNetwork, params: Parameters, X, Y,
                         grads: Parameters | None = None) -> list[float]:
    """``‖∂L/∂W_l‖`` (Frobenius) for every layer with weights, first to last, on the rows of ``X``."""
    _, grads = compiled.loss_and_grad(X, Y, params, grads)
    return [float(np.linalg.norm(grads[name])) for name in grads if naming.split_parameter(name)[0] == "W"]


def monitor_sample(X: np.ndarray, Y: np.ndarray, seed: int = 12345) -> tuple[np.ndarray, np.ndarray]:
    """A fixed sample of up to :data:`MONITOR_ROWS` rows of ``X`` and ``Y`` (the same every epoch)."""
    n = len(X)
    rows = np.arange(n) if n <= MONITOR_ROWS else np.sort(np.random.default_rng(seed).choice(n, MONITOR_ROWS,
                                                                                             replace=False))
    return X[rows], Y[rows]
