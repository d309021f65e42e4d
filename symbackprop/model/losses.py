"""Loss functions, each defined once as a SymPy expression of one sample.

A loss is written for one generic sample ``n``: a SymPy expression of the network's
outputs ``a[n, k]`` and targets ``y[n, k]`` over ``k < width``.  The training loss is the
mean of it over the mini-batch.  Conventions follow PyTorch's defaults so results can be
compared: MSE and binary cross-entropy average over the outputs too; categorical
cross-entropy sums over classes.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable

import sympy as sp

from ..errors import DataError, FormulaError, LossMismatchError, UnknownLossError
from . import definitions
from .activations import ACTIVATIONS, Activation
from .notation import without_piecewise
from .registry import Registry


#: the variables a loss formula is written in: one output ``a`` and its target ``y``
A_OUT = sp.Symbol("a", real=True)
Y_TARGET = sp.Symbol("y", real=True)
_VARIABLES = {"a": A_OUT, "y": Y_TARGET}


@dataclass(frozen=True)
class Loss:
    """One loss, as one record: its per-sample SymPy definition and every fact the other
    stages check -- which output activations it fits, which it takes by default, the
    range its targets must lie in, and whether it classifies or regresses.

    A loss of one's own is a ``formula`` for one output element in the output ``a`` and
    its target ``y`` -- a formula string (read by the safe parser, :mod:`.formula`), a
    SymPy expression in ``Symbol("a")`` and ``Symbol("y")``, or a Python function
    ``f(a, y)`` -- averaged over the outputs and the batch, as MSE is:

    >>> huber = Loss("huber", "where(abs(a - y) <= 1, (a - y)**2 / 2, abs(a - y) - 1/2)")

    ``output_range`` declares the outputs the formula needs (``(0, 1)`` for one that takes
    ``log(a)`` and ``log(1 - a)``; found from the formula's logs and square roots when not
    given): the network's output activation must give values inside it, and the default
    output activation is the first that does.  The built-in losses give
    ``per_sample`` instead: the whole per-sample expression (categorical cross-entropy
    sums over the classes).
    """

    name: str
    formula: str | sp.Expr | Callable[[sp.Expr, sp.Expr], sp.Expr] | None = None
    long_name: str = ""
    per_sample: Callable[[sp.IndexedBase, sp.IndexedBase, sp.Expr, sp.Expr], sp.Expr] | None = None
    #: names of output activations this loss accepts; ``None`` accepts any (within output_range)
    fits: tuple[str, ...] | None = None
    why: str = ""
    #: the output activation a network built for this loss gets unless told otherwise
    output: str | None = None
    #: the closed interval every target must lie in, if any
    target_range: tuple[float, float] | None = None
    #: ``classify``: the outputs are class scores (accuracy is reported); ``regress``: values
    task: str = "regress"
    #: the interval the outputs must lie in for the formula to be defined, if any
    output_range: tuple[float, float] | None = None
    #: the formula's element expression in ``a`` and ``y`` (losses given by a formula)
    definition: sp.Expr | None = field(default=None, init=False, compare=False, repr=False)
    expression_text: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        what = f"loss {self.name!r}"
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise FormulaError(f"a loss's name must be a word of letters, digits and underscores, got {self.name!r}")
        if self.task not in ("classify", "regress"):
            raise FormulaError(f"{what}: task must be 'classify' or 'regress', not {self.task!r}")
        if (self.formula is None) == (self.per_sample is None):
            raise FormulaError(f"{what}: give exactly one definition: a formula in a and y")
        for field_name in ("target_range", "output_range"):
            value = getattr(self, field_name)
            if value is not None:
                low, high = (float(v) for v in value)
                if not low < high:
                    raise FormulaError(f"{what}: {field_name} must be (low, high) with low < high, got {value}")
                object.__setattr__(self, field_name, (low, high))
        if not self.long_name:
            object.__setattr__(self, "long_name", f"{self.name} loss")
        if self.formula is not None:
            self._read_formula(what)

    def _read_formula(self, what: str) -> None:
        expr, text = definitions.read(self.formula, what, _VARIABLES)
        definitions.check_depends(expr, text or str(expr), what, A_OUT)
        definitions.check_differentiable(expr, text or str(expr), what, A_OUT)
        object.__setattr__(self, "definition", expr)
        object.__setattr__(self, "expression_text", text)
        if self.output_range is None:  # the outputs its logs and roots need, unless declared
            object.__setattr__(self, "output_range", definitions.domain(expr, A_OUT))

    @property
    def classifies(self) -> bool:
        return self.task == "classify"

    @property
    def default_output(self) -> str:
        """The output activation a network built for this loss gets: :attr:`output`, or the
        first registered elementwise activation whose outputs lie in :attr:`output_range`."""
        if self.output is not None:
            return self.output
        if self.output_range is None:
            return "identity"
        for activation in ACTIVATIONS.values():
            if activation.elementwise and self._inside(activation):
                return activation.name
        return "identity"

    def output_after(self, hidden: str) -> str:
        """The output activation of a teaching network whose hidden layers use ``hidden``: a
        loss that takes any output (mse) keeps it, the others take :attr:`default_output`."""
        return hidden if self.fits is None and self.output_range is None else self.default_output

    @functools.cached_property
    def text(self) -> str | None:
        """The formula as text that reads back through the safe parser (for checkpoints), or
        None (a built-in-style ``per_sample`` function, or a SymPy function the parser lacks).  Made
        once: a checkpoint saved every epoch asks for it each time, and the check may simplify."""
        if self.definition is None:
            return None
        return self.expression_text or definitions.as_text(self.definition, f"loss {self.name!r}", _VARIABLES)

    def record(self) -> dict | None:
        """A JSON-able description that :meth:`from_record` reads back (checkpoints), or None
        when the loss cannot be written as text: it must then be registered before loading."""
        text = self.text
        if text is None:
            return None
        return {"formula": text, "long_name": self.long_name, "output": self.output, "task": self.task,
                "output_range": _pair(self.output_range), "target_range": _pair(self.target_range),
                "fits": None if self.fits is None else list(self.fits), "why": self.why}

    @classmethod
    def from_record(cls, name: str, record: dict) -> "Loss":
        """The loss :meth:`record` describes; its formula goes through the safe parser."""
        fits = record.get("fits")
        return cls(name, record["formula"], long_name=record.get("long_name", ""), output=record.get("output"),
                   task=record.get("task", "regress"), output_range=record.get("output_range"),
                   target_range=record.get("target_range"), fits=None if fits is None else tuple(fits),
                   why=record.get("why", ""))

    def same_as(self, other: "Loss") -> bool:
        """The same loss, however each was written."""
        if self.definition is None or other.definition is None:
            return self is other
        facts = ("fits", "output", "task", "output_range", "target_range")
        return definitions.same(self.definition, other.definition) and all(
            getattr(self, f) == getattr(other, f) for f in facts)

    def expression(self, a: sp.IndexedBase, y: sp.IndexedBase, n: sp.Expr, width: sp.Expr) -> sp.Expr:
        """Loss of sample ``n`` as a SymPy expression of outputs ``a`` and targets ``y``."""
        if self.per_sample is not None:
            return self.per_sample(a, y, n, width)
        k = _k()
        element = without_piecewise(self.definition).xreplace({A_OUT: a[n, k], Y_TARGET: y[n, k]})
        return sp.Sum(element, (k, 0, width - 1)) / width

    def _inside(self, activation: Activation) -> bool:
        low, high = self.output_range
        return low <= activation.output_range[0] and activation.output_range[1] <= high

    def check_fits(self, activation: Activation) -> None:
        """Raise :class:`LossMismatchError` if this loss cannot follow ``activation``."""
        if self.fits is not None and activation.name not in self.fits:
            others = [name for name, loss in LOSSES.items() if loss.fits is None and loss.output_range is None]
            raise LossMismatchError(
                f"loss {self.name!r} ({self.long_name}) does not fit an output layer with "
                f"activation {activation.name!r}: {self.why}; use output activation "
                f"{' or '.join(repr(f) for f in self.fits)}, or loss {' or '.join(map(repr, others))}")
        if self.output_range is not None and not self._inside(activation):
            fitting = [a.name for a in ACTIVATIONS.values() if a.elementwise and self._inside(a)]
            low, high = self.output_range
            raise LossMismatchError(
                f"loss {self.name!r} needs outputs in ({low:g}, {high:g}), but activation {activation.name!r} gives "
                f"({activation.output_range[0]:g}, {activation.output_range[1]:g}); use output activation "
                f"{' or '.join(map(repr, fitting)) or 'one whose output_range lies inside it'}")

    def check_targets(self, low: float, high: float) -> None:
        """Raise :class:`DataError` unless targets spanning ``[low, high]`` lie in :attr:`target_range`."""
        if self.target_range is not None and (low < self.target_range[0] or high > self.target_range[1]):
            lo, hi = self.target_range
            raise DataError(f"{self.long_name} needs targets in [{lo:g}, {hi:g}]; Y ranges over [{low:g}, {high:g}]")

    def __repr__(self) -> str:
        if self.definition is None:
            return f"Loss({self.name!r}, long_name={self.long_name!r})"
        extras = "".join(f", {k}={v!r}" for k, v in (("output_range", self.output_range), ("task", self.task))
                         if v not in (None, "regress"))
        return f"Loss({self.name!r}, {self.expression_text or str(self.definition)!r}{extras})"


def _pair(value: tuple[float, float] | None) -> list[float] | None:
    return None if value is None else list(value)


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


register_loss(Loss("mse", long_name="mean squared error", per_sample=_mse), ("mean_squared_error",))
register_loss(Loss("bce", long_name="binary cross-entropy", per_sample=_bce, fits=("sigmoid",), output="sigmoid",
                   target_range=(0.0, 1.0), task="classify",
                   why="it takes the log of each output and of 1 - output, so every output must lie in (0, 1) "
                       "on its own"),
              ("binary_crossentropy", "binary_cross_entropy"))
register_loss(Loss("cce", long_name="categorical cross-entropy", per_sample=_cce, fits=("softmax",), output="softmax",
                   target_range=(0.0, 1.0), task="classify",
                   why="it needs the outputs to be a probability distribution over the classes"),
              ("categorical_crossentropy", "categorical_cross_entropy", "cross_entropy", "crossentropy"))

#: the losses symbackprop defines itself (checkpoints store the formulas of the others)
BUILT_IN = frozenset(LOSSES.names())


def get_loss(name: str | Loss) -> Loss:
    """Look a loss up by name; an unknown name raises a named error listing the choices.

    ``name`` may also be a :class:`Loss` or a definition ``"name=formula"`` in ``a`` and
    ``y`` (as the command line writes one): either is registered under its name, unless a
    loss of that name with another formula is there.
    """
    if isinstance(name, Loss):
        return _adopt(name)
    if isinstance(name, str) and "=" in name:
        label, text = name.split("=", 1)
        return _adopt(Loss(label.strip(), text.strip()))
    try:
        return LOSSES.get(name)
    except UnknownLossError as exc:
        raise UnknownLossError(f"{exc}; or define one as NAME=FORMULA in a (output) and y (target), "
                               "e.g. logcosh=log(cosh(a - y))") from None


def _adopt(loss: Loss) -> Loss:
    """The registered loss ``loss`` names: registered now if its name is free."""
    return LOSSES.adopt(loss.name, loss, Loss.same_as, lambda known: known.expression_text or known.long_name,
                        BUILT_IN)
