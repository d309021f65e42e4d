"""Activation functions, each defined once as a SymPy expression.

An activation maps the weighted sums ``z`` of one layer to its outputs ``a``.  Most act on
one neuron at a time (``elementwise``); softmax couples the whole layer.  Both kinds are
written as an expression for one generic output neuron ``a[n, j]`` in terms of the
IndexedBase ``z`` (sample ``n``, neuron ``j``, layer width ``width``), so the derivation
stage can differentiate them with SymPy -- no derivative is written by hand here.

ReLU convention: ``relu'(0) = 0`` and ``leaky_relu'(0) = alpha`` (the derivative of the
``z > 0`` branch is used only for strictly positive ``z``), the same choice as PyTorch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp

from ..errors import UnknownActivationError
from .registry import Registry

#: Slope of leaky ReLU for negative inputs.
LEAKY_RELU_SLOPE = sp.Rational(1, 100)


@dataclass(frozen=True)
class Activation:
    """One activation: its name, SymPy definition and what the loss checks need.

    ``scalar`` is the definition for elementwise activations, as a function of one real
    symbol; ``vector`` builds the expression of output ``j`` from the whole ``z`` row for
    activations that couple neurons.  ``output_range`` is the open interval the outputs
    lie in, used to check that a loss fits (binary cross-entropy needs (0, 1)).
    ``shift_invariant`` says ``f(z + c) == f(z)`` for a constant ``c``: the code generator
    then evaluates it on ``z - max(z)`` so ``exp`` cannot overflow.
    """

    name: str
    scalar: Callable[[sp.Expr], sp.Expr] | None = None
    vector: Callable[[sp.IndexedBase, sp.Expr, sp.Expr, sp.Expr], sp.Expr] | None = None
    output_range: tuple[float, float] = (float("-inf"), float("inf"))
    shift_invariant: bool = False
    #: initialisation family chosen by default for layers with this activation
    init: str = "xavier"

    @property
    def elementwise(self) -> bool:
        return self.scalar is not None

    def expression(self, z: sp.IndexedBase, n: sp.Expr, j: sp.Expr, width: sp.Expr) -> sp.Expr:
        """Output ``a[n, j]`` as a SymPy expression of ``z`` (a layer ``width`` wide)."""
        if self.scalar is not None:
            return self.scalar(z[n, j])
        assert self.vector is not None
        return self.vector(z, n, j, width)


def _softmax(z: sp.IndexedBase, n: sp.Expr, j: sp.Expr, width: sp.Expr) -> sp.Expr:
    # a fixed symbol (not a Dummy) so every neuron's expression shares the same denominator
    k = sp.Symbol("s", integer=True)
    return sp.exp(z[n, j]) / sp.Sum(sp.exp(z[n, k]), (k, 0, width - 1))


#: every activation a layer can name; :func:`register_activation` adds one
ACTIVATIONS: Registry[Activation] = Registry("activation", UnknownActivationError)


def register_activation(activation: Activation, aliases: tuple[str, ...] = (), replace: bool = False) -> Activation:
    """Make ``activation`` available by name to layers, checkpoints and the command line."""
    return ACTIVATIONS.register(activation.name, activation, aliases, replace)


for _builtin, _aliases in (
        (Activation("identity", scalar=lambda u: u), ("linear", "none")),
        (Activation("sigmoid", scalar=lambda u: 1 / (1 + sp.exp(-u)), output_range=(0.0, 1.0)), ("logistic",)),
        (Activation("tanh", scalar=sp.tanh, output_range=(-1.0, 1.0)), ()),
        (Activation("relu", scalar=lambda u: sp.Piecewise((u, u > 0), (0, True)), output_range=(0.0, float("inf")),
                    init="he"), ()),
        (Activation("leaky_relu", scalar=lambda u: sp.Piecewise((u, u > 0), (LEAKY_RELU_SLOPE * u, True)),
                    init="he"), ("leakyrelu", "leaky-relu")),
        (Activation("softmax", vector=_softmax, output_range=(0.0, 1.0), shift_invariant=True), ()),
):
    register_activation(_builtin, _aliases)


def get_activation(name: str | Activation) -> Activation:
    """Look an activation up by name; an unknown name raises a named error listing the choices."""
    if isinstance(name, Activation):
        return name
    return ACTIVATIONS.get(name)
