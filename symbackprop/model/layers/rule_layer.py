"""A layer kind of one's own, given by its forward rule as a formula.

    >>> Bilinear = rule_layer("bilinear", "sum(x[i] * W[j, i, k] * x[k], i, k) + b[j]",
    ...                       params={"W": ("fan_out", "fan_in", "fan_in"), "b": ("fan_out",)})
    >>> Bilinear(4, 3, "tanh")
    Bilinear(4, 3, 'tanh')

The rule is ``z[j]``, output ``j`` of one sample, in the layer's input ``x[...]``, its
parameters and ``sum(expr, index, ...)``; it is read by the safe parser
(:mod:`..formula`), never evaluated.  Indices are ``j`` (the output) and ``i, k, p, q,
r, t``; an index's range is the axis it indexes (``fan_in`` for ``x``'s, the declared
axes for a parameter's).  The input may be read at a sum of indices (``x[j + p]``, a
1-D convolution), checked to stay inside the input for the layer's sizes.  ``out`` says
how wide the output is: ``"fan_out"`` (the layer takes it), or a formula in ``fan_in``
(``"fan_in"``, ``"fan_in - 2"``).

The derivation differentiates the rule like any built-in layer's; the kind is
registered, so it works in networks, ``--arch`` (``KIND[:WIDTH][:ACTIVATION]``),
``explain`` and checkpoints, which store the rule's text and rebuild the kind on load.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Mapping, Sequence

import numpy as np
import sympy as sp

from ...errors import ArchitectureError, FormulaError
from .. import formula, naming
from ..notation import B, i, j, n, p, q, u, without_piecewise
from .base import LAYERS, ForwardRule, Layer, RuleContext, Shape, arch_number, check_activation, check_vector, positive

#: the index names a rule may use; ``j`` is the output element
INDICES = {"i": i, "j": j, "p": p, "q": q,
           **{name: sp.Symbol(name, integer=True, nonnegative=True) for name in ("k", "r", "t")}}
#: the input's name in a rule
INPUT = "x"
_WIDTHS = {"fan_in": sp.Symbol("fan_in", integer=True, positive=True),
           "fan_out": sp.Symbol("fan_out", integer=True, positive=True)}


@dataclass(frozen=True)
class RuleLayer(Layer):
    """The base of every kind :func:`rule_layer` makes: a vector layer ``fan_in`` wide in,
    ``fan_out`` wide out (given, or computed from ``fan_in`` by the kind's ``out``)."""

    fan_in: int
    fan_out: int | None = None
    activation: str = "identity"

    takes = "vector"
    rule: ClassVar[str] = ""
    axes: ClassVar[dict[str, tuple[str | int, ...]]] = {}
    out: ClassVar[str] = "fan_out"
    init: ClassVar[dict[str, float]] = {}

    def __post_init__(self) -> None:
        owner = type(self).__name__
        positive(owner, "fan_in", self.fan_in)
        width = _out_width(type(self), self.fan_in)
        if width is None:
            if self.fan_out is None:
                raise ArchitectureError(f"{owner} needs its output width: {owner}(fan_in, fan_out)")
            positive(owner, "fan_out", self.fan_out)
        elif self.fan_out not in (None, width):
            raise ArchitectureError(f"{owner}'s output width is {type(self).out} = {width} for fan_in "
                                    f"{self.fan_in}; do not give fan_out {self.fan_out}")
        else:
            object.__setattr__(self, "fan_out", width)
        if self.fan_out < 1:
            raise ArchitectureError(f"{owner}: fan_in {self.fan_in} is too small; {type(self).out} = {self.fan_out}")
        object.__setattr__(self, "activation", check_activation(owner, self.activation))
        template = _template(type(self))
        _check_reads(owner, template, self._sizes())

    def _sizes(self) -> dict[sp.Symbol, int]:
        return {_WIDTHS["fan_in"]: self.fan_in, _WIDTHS["fan_out"]: self.fan_out}

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        sizes = {"fan_in": self.fan_in, "fan_out": self.fan_out}
        return {name: tuple(sizes[a] if isinstance(a, str) else a for a in axes) for name, axes in self.axes.items()}

    def fans(self) -> tuple[int, int]:
        """Each output sums over the rule's summation indices: their ranges' product is its
        fan-in (a 3-tap kernel reads 3 inputs, a bilinear form fan_in² products)."""
        sizes = self._sizes()
        reads = 1
        for extent in _template(type(self)).extents.values():
            reads *= int(extent.xreplace(sizes))
        return reads, self.fan_out

    def initial_values(self, draw):
        shapes = self.param_shapes()
        weights = _weights(type(self))
        out = {}
        for name, shape in shapes.items():
            if name in self.init:
                out[name] = np.full(shape, self.init[name])
            elif name in weights:
                out[name] = draw(self.fans(), shape)
        return out

    def input_shape(self) -> Shape:
        return (self.fan_in,)

    def output_shape(self, shape: Shape, where: str) -> Shape:
        check_vector(shape, where, type(self).__name__)
        if shape[0] != self.fan_in:
            raise ArchitectureError(f"layer sizes do not chain: {where} ({type(self).__name__}) expects {self.fan_in} "
                                    f"inputs but gets {shape[0]}")
        return (self.fan_out,)

    def forward_rule(self, ctx: RuleContext) -> ForwardRule:
        (m_in,), (m_out,) = ctx.d_in, ctx.d_out
        widths = {_WIDTHS["fan_in"]: m_in, _WIDTHS["fan_out"]: m_out}
        template = _template(type(self))
        arrays = {name: ctx.parameter(name, real=True) for name in self.axes}
        x = sp.IndexedBase(INPUT)
        expr = template.expr.replace(
            lambda e: isinstance(e, sp.Indexed) and (e.base == x or str(e.base.label) in arrays),
            lambda e: ctx.a_prev[(n, *e.indices)] if e.base == x else arrays[str(e.base.label)][e.indices])
        expr = expr.xreplace({placeholder: extent.xreplace(widths) for placeholder, extent in template.extents.items()})
        expr = without_piecewise(expr)  # a where(...) may sit inside a sum
        out_loops = ((n, B), (j, m_out))
        params = {}
        for name, index in template.elements.items():
            loops = tuple((k, (m_in if a == "fan_in" else m_out) if isinstance(a, str) else sp.Integer(a))
                          for k, a in zip(index, self.axes[name]))
            params[name] = (arrays[name], index, loops)
        return ForwardRule(ctx.z[n, j], expr, out_loops, (n, j), out_loops, params=params,
                           input_index=(n, u), input_loops=((n, B), (u, m_in)))

    def spec(self) -> dict:
        return {"type": self.kind, "fan_in": self.fan_in, "fan_out": self.fan_out, "activation": self.activation}

    @classmethod
    def from_spec(cls, spec: dict) -> "RuleLayer":
        return cls(spec["fan_in"], spec["fan_out"], spec["activation"])

    @classmethod
    def from_arch(cls, item: str, settings: Sequence[str], shape: Shape, activation: str) -> "RuleLayer":
        if len(shape) != 1:
            raise ArchitectureError(f"{item!r}: {cls.kind} layers take vectors, not images")
        if cls.out == "fan_out":
            if not settings:
                raise ArchitectureError(f"{item!r}: give the width, e.g. {cls.kind}:16")
            width, rest = arch_number(item, settings[0], "the width"), settings[1:]
        else:
            width, rest = None, settings
        return cls(shape[0], width, rest[0] if rest else activation)

    @classmethod
    def kind_record(cls) -> dict:
        """The kind's definition as text (checkpoints): :func:`rule_layer`'s arguments."""
        return {"rule": cls.rule, "params": {k: list(v) for k, v in cls.axes.items()}, "out": cls.out,
                "init": dict(cls.init)}

    def __repr__(self) -> str:
        width = f", {self.fan_out}" if type(self).out == "fan_out" else ""
        return f"{type(self).__name__}({self.fan_in}{width}, {self.activation!r})"


@dataclass(frozen=True)
class _Template:
    """A rule read once per kind, in the width symbols ``fan_in`` and ``fan_out``."""

    expr: sp.Expr
    #: each sum's extent placeholder -> the extent it stands for
    extents: dict[sp.Symbol, sp.Expr]
    #: each parameter's generic element: its index names, axis by axis
    elements: dict[str, tuple[sp.Symbol, ...]]
    #: every read of the input: the index expression, and the extents of its indices
    reads: list[tuple[sp.Expr, dict[sp.Symbol, sp.Expr]]]


_TEMPLATES: dict[type, _Template] = {}


def _template(cls: type[RuleLayer]) -> _Template:
    if cls not in _TEMPLATES:
        _TEMPLATES[cls] = _read_rule(cls.kind, cls.rule, cls.axes, cls.out)
    return _TEMPLATES[cls]


def _out_expr(kind: str, out: str) -> sp.Expr:
    """The output width in the symbol ``fan_in`` (or the symbol ``fan_out`` if the layer takes it)."""
    if out == "fan_out":
        return _WIDTHS["fan_out"]
    return formula.parse(out, f"layer {kind!r} out", {"fan_in": _WIDTHS["fan_in"]})


def _read_rule(kind: str, text: str, axes: Mapping[str, tuple[str | int, ...]], out: str) -> _Template:
    what = f"layer {kind!r}"
    width_out = _out_expr(kind, out)

    def _axis_extent(axis: str | int) -> sp.Expr:
        return (width_out if axis == "fan_out" else _WIDTHS[axis]) if isinstance(axis, str) else sp.Integer(axis)

    x = sp.IndexedBase(INPUT)
    arrays = {INPUT: (x, 1), **{name: (sp.IndexedBase(name), len(shape)) for name, shape in axes.items()}}
    expr = formula.parse(text, what, {}, arrays=arrays, indices=INDICES)
    elements: dict[str, tuple[sp.Symbol, ...]] = {}
    known: dict[sp.Symbol, sp.Expr] = {j: width_out}
    for e in sorted(expr.atoms(sp.Indexed), key=str):
        name = str(e.base.label)
        if name == INPUT:
            for index in e.indices:
                if isinstance(index, sp.Symbol):
                    _agree(what, text, known, index, _WIDTHS["fan_in"], f"{INPUT}[{index}]")
            continue
        if not all(isinstance(k, sp.Symbol) for k in e.indices) or len(set(e.indices)) != len(e.indices):
            raise FormulaError(f"{what}: rule {formula.quoted(text)} reads {e}; a parameter is indexed by distinct "
                               "plain indices (W[j, i]), only the input may be read at a sum of indices")
        elements.setdefault(name, tuple(e.indices))
        for index, axis in zip(e.indices, axes[name]):
            _agree(what, text, known, index, _axis_extent(axis), str(e))
    if not expr.has(x):
        raise FormulaError(f"{what}: rule {formula.quoted(text)} does not read the input {INPUT}")
    unused = [name for name in axes if name not in elements]
    if unused:
        raise FormulaError(f"{what}: parameter(s) {', '.join(unused)} are declared but the rule does not use them")
    extents = {}
    for s in expr.atoms(sp.Sum):
        for k, _, hi in s.limits:
            if k not in known:
                raise FormulaError(f"{what}: rule {formula.quoted(text)} sums over {k}, which indexes no axis of a "
                                   "parameter or of the input, so its range is unknown")
            extents[hi + 1] = known[k]
    summed = {lim[0] for s in expr.atoms(sp.Sum) for lim in s.limits}
    free = {k for e in expr.atoms(sp.Indexed) for index in e.indices for k in index.free_symbols} - summed
    if free - {j}:
        raise FormulaError(f"{what}: rule {formula.quoted(text)} uses {', '.join(sorted(map(str, free - {j})))} "
                           "without summing over it; the output index is j, other indices need sum(..., index)")
    reads = [(e.indices[0], {k: known[k] for k in e.indices[0].free_symbols})
             for e in expr.atoms(sp.Indexed) if e.base == x]
    return _Template(expr, extents, elements, reads)


def _agree(what: str, text: str, known: dict, index: sp.Symbol, extent: sp.Expr, where: str) -> None:
    if index in known and known[index] != extent:
        hint = f" (if the output is as wide as the input, pass out='fan_in')" if index == j else ""
        raise FormulaError(f"{what}: rule {formula.quoted(text)} uses {index} over {known[index]} and, in {where}, "
                           f"over {extent}{hint}")
    known[index] = extent


def _check_reads(owner: str, template: _Template, sizes: dict[sp.Symbol, int]) -> None:
    """Every read of the input stays inside it for these sizes (``x[j + p]`` with ``j < fan_in - 2``)."""
    for index, extents in template.reads:
        poly = sp.Poly(index, *extents) if extents else None
        low = high = int(index) if poly is None else int(poly.coeff_monomial(1))
        for k, extent in extents.items():
            reach = int(poly.coeff_monomial(k)) * (int(extent.xreplace(sizes)) - 1)
            low, high = low + min(0, reach), high + max(0, reach)
        if low < 0 or high > sizes[_WIDTHS["fan_in"]] - 1:
            raise ArchitectureError(f"{owner}: the rule reads {INPUT}[{index}], which runs from {low} to {high}, "
                                    f"outside the {sizes[_WIDTHS['fan_in']]} inputs")


def _weights(cls: type[RuleLayer]) -> set[str]:
    """Parameters that multiply the input (drawn at random); the others (biases) start at zero."""
    template = _template(cls)
    x = sp.IndexedBase(INPUT)
    without_input = template.expr.replace(lambda e: isinstance(e, sp.Indexed) and e.base == x, lambda e: sp.S.Zero)
    left = {str(e.base.label) for e in without_input.atoms(sp.Indexed)}
    return set(cls.axes) - left


def _out_width(cls: type[RuleLayer], fan_in: int) -> int | None:
    if cls.out == "fan_out":
        return None
    value = _out_expr(cls.kind, cls.out).xreplace({_WIDTHS["fan_in"]: sp.Integer(fan_in)})
    if not value.is_integer:
        raise ArchitectureError(f"{cls.__name__}: out = {cls.out} is not a whole number for fan_in {fan_in}")
    return int(value)


def rule_layer(kind: str, rule: str, params: Mapping[str, Sequence[str | int]], out: str = "fan_out",
               init: Mapping[str, float] | None = None, meaning: str = "", replace: bool = False) -> type[RuleLayer]:
    """A new layer kind from its forward rule (see the module docstring), registered under ``kind``.

    ``params`` gives each parameter's axes: ``"fan_in"``, ``"fan_out"`` or a number.
    Parameters that multiply the input are drawn by the network's initialisation and
    penalised by L1/L2; the others start at zero; ``init`` starts a parameter at a
    constant instead (a scale at 1).  ``meaning`` is what ``explain`` says ``z`` is.
    """
    if not isinstance(kind, str) or not kind.isidentifier():
        raise FormulaError(f"a layer kind's name must be a word of letters, digits and underscores, got {kind!r}")
    axes = {}
    for name, shape in params.items():
        problem = naming.check_parameter_name(name)
        if problem or name in INDICES or name == INPUT:
            raise FormulaError(f"layer {kind!r}: parameter {name!r}: "
                               f"{problem or 'that name is an index or the input of a rule'}")
        shape = tuple(shape)
        for axis in shape:
            if not (axis in _WIDTHS or (isinstance(axis, int) and not isinstance(axis, bool) and axis >= 1)):
                raise FormulaError(f"layer {kind!r}: parameter {name!r} has axis {axis!r}; an axis is 'fan_in', "
                                   "'fan_out' or a positive whole number")
        axes[name] = shape
    if out != "fan_out":
        value = _out_expr(kind, out)
        if not value.has(_WIDTHS["fan_in"]) and not value.is_Integer:
            raise FormulaError(f"layer {kind!r}: out = {out!r} must be 'fan_out' or a formula in fan_in")
    init = {name: float(value) for name, value in (init or {}).items()}
    for name in init:
        if name not in axes:
            raise FormulaError(f"layer {kind!r}: init names {name!r}, which is not one of its parameters")
    # the class is named as written if that has capitals (``Conv1D``), else ``ScaleShift`` from ``scale_shift``
    class_name = kind if kind != kind.lower() else "".join(part.capitalize() for part in kind.split("_"))
    width = ":WIDTH" if out == "fan_out" else ""
    attributes = {"kind": kind.lower(), "rule": rule, "axes": axes, "out": out, "init": init,
                  "arch_form": f"{kind.lower()}{width}[:ACTIVATION]", "__module__": __name__,
                  "__qualname__": class_name,
                  "meanings": {"z": meaning or f"this layer's own rule, z[j] = {rule}"}}
    cls = type(class_name, (RuleLayer,), attributes)
    _read_rule(kind, rule, axes, out)  # refuse a bad rule now, not at the first network
    cls.regularized = tuple(sorted(_weights(cls) - set(init)))  # a scale that starts at 1 is not decayed to 0
    if kind.lower() in LAYERS and not replace:
        known = LAYERS.get(kind)
        if not (issubclass(known, RuleLayer) and known.kind_record() == cls.kind_record()):
            raise FormulaError(f"there is already a layer kind called {kind!r}; give yours another name, or pass "
                               "replace=True to redefine it")
        return known
    LAYERS.register(kind, cls, replace=True)
    return cls


def rule_layer_from_record(kind: str, record: dict) -> type[RuleLayer]:
    """The kind :meth:`RuleLayer.record` describes (a checkpoint's), registered unless it is already."""
    return rule_layer(kind, record["rule"], {k: tuple(v) for k, v in record["params"].items()}, record["out"],
                      record.get("init") or None)
