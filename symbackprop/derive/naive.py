"""The naive derivative: ∂L/∂w of the fully substituted loss, one parameter at a time.

Kept for comparison only.  Substituting every layer into the loss and differentiating
the resulting single expression repeats the shared inner derivatives in every gradient:
for a 16-16-4 sigmoid network with MSE that is hundreds of thousands of operations,
which the chain rule's named intermediates (and CSE) bring down to a few thousand.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import sympy as sp

from .unrolled import UnrolledDerivation


@dataclass
class NaiveDerivation:
    """The fully substituted loss and ∂L/∂w for every parameter (no shared intermediates)."""

    loss: sp.Expr
    gradients: dict[sp.Symbol, sp.Expr]
    seconds: float

    def __str__(self) -> str:
        return "\n".join([f"L = {self.loss}"] + [f"dL/d{p} = {g}" for p, g in self.gradients.items()])

    def __repr__(self) -> str:
        return (f"NaiveDerivation(the substituted loss and {len(self.gradients)} gradients, "
                f"derived in {self.seconds:.2f} s; print() shows them)")

    def _repr_html_(self) -> str:
        from .display import equations_html
        L = sp.Symbol("L")
        return equations_html("Naive gradients (the substituted loss differentiated once per parameter)",
                              [("loss", L, self.loss)] + [("gradient", sp.Derivative(L, p), g)
                                                          for p, g in self.gradients.items()])


def derive_naive(unrolled: UnrolledDerivation) -> NaiveDerivation:
    """Differentiate the fully substituted loss of ``unrolled``'s network by every parameter."""
    start = time.perf_counter()
    loss = unrolled.expand(unrolled.loss)
    grads = {p: sp.diff(loss, p) for p in unrolled.gradients}
    return NaiveDerivation(loss, grads, time.perf_counter() - start)
