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

from dataclasses import dataclass, field

import numpy as np

from ..codegen.abi import UpdateArguments, update_arguments
from ..codegen.update_rules import (RULE_ADAM, RULE_MOMENTUM, RULE_NESTEROV, RULE_RMSPROP, RULE_SGD,
                                    clip_by_norm, clip_by_value, update)
from ..errors import TrainingError
from ..model.parameters import aligned_zeros

__all__ = ["OPTIMIZERS", "Optimizer", "Schedule", "clip_by_norm", "clip_by_value"]

#: optimizer name -> rule code of the compiled ``update`` kernel
_RULES = {"gd": RULE_SGD, "sgd": RULE_SGD, "momentum": RULE_MOMENTUM, "nesterov": RULE_NESTEROV,
          "rmsprop": RULE_RMSPROP, "adam": RULE_ADAM}


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

    def kernel_args(self, p: np.ndarray) -> UpdateArguments:
        """This optimizer as arguments of the compiled ``update`` (the kernel ABI's
        :class:`~symbackprop.codegen.abi.UpdateArguments`: rule, state_1, state_2, hyper_1, hyper_2, eps).

        State vectors are created (zeros, like ``p``) on first use and kept in :attr:`state`
        under torch.optim's names, so checkpoints and resumed runs see the same state.
        """
        name, empty = self.name, np.zeros(0, dtype=p.dtype)

        def state(key: str) -> np.ndarray:  # aligned like the parameters (see model/parameters.py)
            return self.state.setdefault(key, aligned_zeros(p.size, p.dtype))
        if name in ("momentum", "nesterov"):
            return UpdateArguments(_RULES[name], state("velocity"), empty, self.momentum, 0.0, 0.0)
        if name == "rmsprop":
            return UpdateArguments(_RULES[name], state("square_avg"), empty, self.alpha, 0.0, self.eps)
        if name == "adam":
            return UpdateArguments(_RULES[name], state("exp_avg"), state("exp_avg_sq"), self.beta1, self.beta2,
                                   self.eps)
        return UpdateArguments(_RULES[name], empty, empty, 0.0, 0.0, 0.0)

    def step(self, p: np.ndarray, g: np.ndarray, lr: float) -> None:
        """Update ``p`` in place from gradient ``g``."""
        args = self.kernel_args(p)
        self.steps += 1
        update(*update_arguments({**args._asdict(), "p": p, "g": g, "lr": lr, "t": float(self.steps)}))

    def settings(self) -> dict:
        """Hyper-parameters and step count (JSON-able; the state arrays are kept apart)."""
        return {k: getattr(self, k) for k in ("name", "momentum", "alpha", "beta1", "beta2", "eps", "steps")}


OPTIMIZERS = tuple(_RULES)


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
