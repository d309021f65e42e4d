"""Optimizers, gradient clipping and learning-rate schedules.

Every update runs in compiled code: one ``@njit`` call updates the whole flat parameter
vector, so no Python loops over parameters.  The update rules follow ``torch.optim``
exactly (same state, same order of operations), so the first steps can be compared.

====================  =========================================================
``gd``                full-batch gradient descent: ``p -= lr * g``
``sgd``               mini-batch SGD, reshuffled every epoch
``momentum``          ``v = mu * v + g;  p -= lr * v``
``nesterov``          ``v = mu * v + g;  p -= lr * (g + mu * v)``
``rmsprop``           ``s = alpha * s + (1 - alpha) * g²;  p -= lr * g / (sqrt(s) + eps)``
``adam``              bias-corrected first and second moments (Kingma & Ba)
====================  =========================================================
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from ..errors import TrainingError


@njit(cache=True)
def _sgd_step(p, g, lr):
    for k in range(p.size):
        p[k] -= lr * g[k]


@njit(cache=True)
def _momentum_step(p, g, v, lr, mu, nesterov):
    for k in range(p.size):
        v[k] = mu * v[k] + g[k]
        if nesterov:
            p[k] -= lr * (g[k] + mu * v[k])
        else:
            p[k] -= lr * v[k]


@njit(cache=True)
def _rmsprop_step(p, g, s, lr, alpha, eps):
    for k in range(p.size):
        s[k] = alpha * s[k] + (1.0 - alpha) * g[k] * g[k]
        p[k] -= lr * g[k] / (math.sqrt(s[k]) + eps)


@njit(cache=True)
def _adam_step(p, g, m, v, lr, beta1, beta2, eps, t):
    bias1 = 1.0 - beta1 ** t
    bias2 = 1.0 - beta2 ** t
    step = lr / bias1
    root2 = math.sqrt(bias2)
    for k in range(p.size):
        m[k] = beta1 * m[k] + (1.0 - beta1) * g[k]
        v[k] = beta2 * v[k] + (1.0 - beta2) * g[k] * g[k]
        p[k] -= step * m[k] / (math.sqrt(v[k]) / root2 + eps)


@njit(cache=True)
def clip_by_value(g, limit):
    """Clamp every gradient entry to ``[-limit, limit]`` in place."""
    for k in range(g.size):
        if g[k] > limit:
            g[k] = limit
        elif g[k] < -limit:
            g[k] = -limit


@njit(cache=True)
def clip_by_norm(g, max_norm):
    """Scale ``g`` in place so its Euclidean norm is at most ``max_norm``; returns the norm before."""
    total = 0.0
    for k in range(g.size):
        total += g[k] * g[k]
    norm = math.sqrt(total)
    if norm > max_norm:
        scale = max_norm / (norm + 1e-12)
        for k in range(g.size):
            g[k] *= scale
    return norm


@dataclass
class Optimizer:
    """An update rule with its hyper-parameters and state (flat arrays shaped like the parameters)."""

    name: str
    momentum: float = 0.9
    alpha: float = 0.99
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    steps: int = 0
    state: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise TrainingError(f"unknown optimizer {self.name!r}; choose one of: {', '.join(OPTIMIZERS)}")
        for key, lo, hi in (("momentum", 0.0, 1.0), ("alpha", 0.0, 1.0), ("beta1", 0.0, 1.0), ("beta2", 0.0, 1.0)):
            value = getattr(self, key)
            if not (lo <= value < hi):
                raise TrainingError(f"{key} must lie in [{lo}, {hi}), got {value!r}")
        if not self.eps > 0:
            raise TrainingError(f"eps must be positive, got {self.eps!r}")

    @property
    def full_batch(self) -> bool:
        return self.name == "gd"

    def step(self, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        """Update ``p`` in place from gradient ``g``."""
        self.steps += 1
        name = self.name
        if name in ("gd", "sgd"):
            _sgd_step(p, g, lr)
        elif name in ("momentum", "nesterov"):
            v = self.state.setdefault("velocity", np.zeros_like(p))
            _momentum_step(p, g, v, lr, self.momentum, name == "nesterov")
        elif name == "rmsprop":
            s = self.state.setdefault("square_avg", np.zeros_like(p))
            _rmsprop_step(p, g, s, lr, self.alpha, self.eps)
        else:
            m = self.state.setdefault("exp_avg", np.zeros_like(p))
            v = self.state.setdefault("exp_avg_sq", np.zeros_like(p))
            _adam_step(p, g, m, v, lr, self.beta1, self.beta2, self.eps, float(self.steps))

    def settings(self) -> dict:
        """Hyper-parameters and step count (JSON-able; the state arrays are kept apart)."""
        return {k: getattr(self, k) for k in ("name", "momentum", "alpha", "beta1", "beta2", "eps", "steps")}


OPTIMIZERS = ("gd", "sgd", "momentum", "nesterov", "rmsprop", "adam")


@dataclass(frozen=True)
class Schedule:
    """Learning rate per epoch (1-based): constant, step decay or exponential decay."""

    kind: str = "constant"
    gamma: float = 0.5
    step_size: int = 10

    def __post_init__(self) -> None:
        if self.kind not in ("constant", "step", "exponential"):
            raise TrainingError(f"unknown learning-rate schedule {self.kind!r}; choose constant, step or exponential")
        if not 0 < self.gamma <= 1:
            raise TrainingError(f"schedule gamma must lie in (0, 1], got {self.gamma!r}")
        if self.step_size < 1:
            raise TrainingError(f"schedule step size must be a positive number of epochs, got {self.step_size!r}")

    def lr(self, base: float, epoch: int) -> float:
        if self.kind == "step":
            return base * self.gamma ** ((epoch - 1) // self.step_size)
        if self.kind == "exponential":
            return base * self.gamma ** (epoch - 1)
        return base
