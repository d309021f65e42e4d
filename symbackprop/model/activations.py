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

import functools
import math
from dataclasses import dataclass, field
from typing import Callable, Union

import sympy as sp

from ..errors import FormulaError, UnknownActivationError
from . import definitions
from .registry import Registry

#: Slope of leaky ReLU for negative inputs.
LEAKY_RELU_SLOPE = sp.Rational(1, 100)


#: the variable an activation's formula is written in
Z = sp.Symbol("z", real=True)

Formula = Union[str, sp.Expr, Callable[[sp.Expr], sp.Expr]]


@dataclass(frozen=True)
class Activation:
    """One activation: its name, SymPy definition and what the loss checks need.

    ``formula`` defines an elementwise activation in the variable ``z``: a formula string
    read by the safe parser (:mod:`.formula`, e.g. ``"z / (1 + exp(-z))"``), a SymPy
    expression in ``Symbol("z")``, or a Python function of one SymPy symbol
    (``scalar=`` is the same as a function).  ``vector`` builds the expression of output
    ``j`` from the whole ``z`` row for activations that couple neurons (softmax).
    ``output_range`` is the open interval the outputs lie in, used to check that a loss
    fits (binary cross-entropy needs (0, 1)).  ``shift_invariant`` says
    ``f(z + c) == f(z)`` for a constant ``c``: the code generator then evaluates it on
    ``z - max(z)`` so ``exp`` cannot overflow.  ``init`` picks the default initialisation
    (``he`` for ReLU-like activations, ``xavier`` otherwise).

    >>> Activation("swish", "z / (1 + exp(-z))").expression_text
    'z/(1 + exp(-z))'
    """

    name: str
    formula: Formula | None = None
    vector: Callable[[sp.IndexedBase, sp.Expr, sp.Expr, sp.Expr], sp.Expr] | None = None
    output_range: tuple[float, float] = (float("-inf"), float("inf"))
    shift_invariant: bool = False
    #: initialisation family chosen by default for layers with this activation
    init: str = "xavier"
    scalar: Callable[[sp.Expr], sp.Expr] | None = field(default=None, compare=False)
    #: the definition in ``z`` (elementwise activations), and its text as stored in checkpoints
    definition: sp.Expr | None = field(default=None, init=False, compare=False, repr=False)
    expression_text: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        what = f"activation {self.name!r}"
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise FormulaError(f"an activation's name must be a word of letters, digits and underscores, "
                               f"got {self.name!r}")
        given = [v for v in (self.formula, self.scalar, self.vector) if v is not None]
        if len(given) != 1:
            raise FormulaError(f"{what}: give exactly one definition (a formula in z, or vector= for an "
                               "activation that couples a layer)")
        low, high = (float(v) for v in self.output_range)
        if not low < high:
            raise FormulaError(f"{what}: output_range must be (low, high) with low < high, got {self.output_range}")
        object.__setattr__(self, "output_range", (low, high))
        if self.init not in ("he", "xavier"):
            raise FormulaError(f"{what}: init must be 'he' or 'xavier', not {self.init!r}")
        if self.vector is not None:
            return
        expr, text = definitions.read(self.formula if self.formula is not None else self.scalar, what, {"z": Z})
        definitions.check_depends(expr, text or str(expr), what, Z)
        definitions.check_differentiable(expr, text or str(expr), what, Z)
        object.__setattr__(self, "definition", expr)
        object.__setattr__(self, "scalar", lambda u, expr=expr: expr.xreplace({Z: u}))
        object.__setattr__(self, "expression_text", text)

    @property
    def elementwise(self) -> bool:
        return self.vector is None

    def __repr__(self) -> str:
        if self.vector is not None:
            return f"Activation({self.name!r}, vector={getattr(self.vector, '__name__', self.vector)})"
        extras = "".join(f", {k}={v!r}" for k, v, default in (
            ("output_range", self.output_range, (float("-inf"), float("inf"))), ("init", self.init, "xavier"))
            if v != default)
        return f"Activation({self.name!r}, {self.expression_text or str(self.definition)!r}{extras})"

    @functools.cached_property
    def text(self) -> str | None:
        """The formula as text that reads back through the safe parser (for checkpoints), or
        None when there is none (a vector activation, or a SymPy function the parser lacks).  Made
        once: a checkpoint saved every epoch asks for it each time, and the check may simplify."""
        if self.vector is not None:
            return None
        return self.expression_text or definitions.as_text(self.definition, f"activation {self.name!r}", {"z": Z})

    def record(self) -> dict | None:
        """A JSON-able description that :meth:`from_record` reads back (checkpoints), or None
        when the activation cannot be written as text: it must then be registered before loading."""
        text = self.text
        if text is None:
            return None
        return {"formula": text, "output_range": [_finite(v) for v in self.output_range], "init": self.init,
                "shift_invariant": self.shift_invariant}

    @classmethod
    def from_record(cls, name: str, record: dict) -> "Activation":
        """The activation :meth:`record` describes; its formula goes through the safe parser."""
        low, high = record.get("output_range") or (None, None)
        return cls(name, record["formula"], output_range=(-math.inf if low is None else low,
                                                          math.inf if high is None else high),
                   init=record.get("init", "xavier"), shift_invariant=bool(record.get("shift_invariant", False)))

    def same_as(self, other: "Activation") -> bool:
        """The same activation, however each was written (``0.01*z`` and ``z/100``)."""
        if self.vector is not None or other.vector is not None:
            return self is other
        return (definitions.same(self.definition, other.definition) and self.output_range == other.output_range
                and self.init == other.init and self.shift_invariant == other.shift_invariant)

    def expression(self, z: sp.IndexedBase, n: sp.Expr, j: sp.Expr, width: sp.Expr) -> sp.Expr:
        """Output ``a[n, j]`` as a SymPy expression of ``z`` (a layer ``width`` wide)."""
        if self.scalar is not None:
            return self.scalar(z[n, j])
        assert self.vector is not None
        return self.vector(z, n, j, width)


def _finite(value: float) -> float | None:
    """``value``, or None for an infinite bound (JSON has no infinity)."""
    return value if math.isfinite(value) else None


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
        (Activation("identity", "z"), ("linear", "none")),
        (Activation("sigmoid", "1 / (1 + exp(-z))", output_range=(0.0, 1.0)), ("logistic",)),
        (Activation("tanh", "tanh(z)", output_range=(-1.0, 1.0)), ()),
        (Activation("relu", "where(z > 0, z, 0)", output_range=(0.0, float("inf")), init="he"), ()),
        (Activation("leaky_relu", f"where(z > 0, z, z / {LEAKY_RELU_SLOPE.q})", init="he"),
         ("leakyrelu", "leaky-relu")),
        (Activation("softmax", vector=_softmax, output_range=(0.0, 1.0), shift_invariant=True), ()),
):
    register_activation(_builtin, _aliases)

#: the activations symbackprop defines itself (checkpoints store the formulas of the others)
BUILT_IN = frozenset(ACTIVATIONS.names())


def get_activation(name: str | Activation) -> Activation:
    """Look an activation up by name; an unknown name raises a named error listing the choices.

    ``name`` may also be an :class:`Activation` or a definition ``"name=formula"``
    (``"swish=z/(1+exp(-z))"``, as the command line writes one): either is registered
    under its name, unless an activation of that name with another formula is there.
    """
    if isinstance(name, Activation):
        return _adopt(name)
    if isinstance(name, str) and "=" in name:
        label, text = name.split("=", 1)
        return _adopt(Activation(label.strip(), text.strip()))
    try:
        return ACTIVATIONS.get(name)
    except UnknownActivationError as exc:
        raise UnknownActivationError(f"{exc}; or define one as NAME=FORMULA in z, e.g. swish=z/(1+exp(-z))") from None


def _adopt(activation: Activation) -> Activation:
    """The registered activation ``activation`` names: registered now if its name is free."""
    return ACTIVATIONS.adopt(activation.name, activation, Activation.same_as,
                             lambda known: known.expression_text or str(known.definition or "a vector activation"),
                             BUILT_IN)
