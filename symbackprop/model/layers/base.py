"""What every layer kind declares, in one place, and the registry that lists the kinds.

A layer kind is one class in one module (see :mod:`.dense`): its parameters and their
shapes and fan-in/fan-out, the shape it outputs, its forward rule for one generic output
element in the index notation (:mod:`..notation`), the work buffers that rule needs, its
spec for checkpoints, its ``--arch`` text form and what ``explain`` calls each of its
rules.  The derivation, the code generator, ``explain``, checkpoints and the command line
reach a layer only through these methods and the :data:`LAYERS` registry -- none of them
names a layer kind -- so a new kind joins the whole pipeline with :func:`register_layer`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, ClassVar, Sequence

import numpy as np
import sympy as sp

from ...errors import ArchitectureError
from .. import naming
from ..activations import Activation, get_activation
from ..notation import Loops
from ..registry import Registry

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Buffer:
    """A work array a forward rule writes besides ``z`` and ``a`` (max pooling's winners):
    the kernels allocate it with the layer's output shape and this dtype (``float``: the
    kernel's precision, or ``int64`` for positions)."""

    name: str
    dtype: str = "float"

    def __post_init__(self) -> None:
        if self.dtype not in ("float", "int64"):
            raise ArchitectureError(f"buffer {self.name!r}: dtype must be 'float' or 'int64', not {self.dtype!r}")


@dataclass
class ForwardRule:
    """One layer's forward rule and what the chain rule needs to differentiate it."""

    #: ``z[...]`` as written by the rule (Flatten writes ``z[n, c*rows*cols + u*cols + v]``)
    z_target: sp.Indexed
    z_expr: sp.Expr
    z_loops: Loops
    #: one generic output element ``z[n, ...]`` and its loops (for a and δ)
    out: tuple[sp.Symbol, ...]
    out_loops: Loops
    #: parameter name (``W``, ``b``) -> (array, index names of one element, their loops)
    params: dict[str, tuple[sp.IndexedBase, tuple[sp.Symbol, ...], Loops]] = field(default_factory=dict)
    #: one element of the layer's input, and its loops
    input_index: tuple[sp.Symbol, ...] = ()
    input_loops: Loops = ()
    #: statements the rule needs first (max pooling's arg max), as (target, expr, loops)
    before: list[tuple[sp.Indexed, sp.Expr, Loops]] = field(default_factory=list)
    #: the arrays those statements write, with their dtypes
    buffers: list[Buffer] = field(default_factory=list)


@dataclass(frozen=True)
class RuleContext:
    """Where a layer sits in its network: what its forward rule is written in terms of."""

    #: the layer's 1-based number
    layer: int
    #: the size symbols of its input and output boundaries (``(m0,)``, ``(C1, rows1, cols1)``)
    d_in: tuple[sp.Symbol, ...]
    d_out: tuple[sp.Symbol, ...]
    #: the same boundaries' concrete shapes
    in_shape: Shape
    out_shape: Shape

    @property
    def a_prev(self) -> sp.IndexedBase:
        return sp.IndexedBase(naming.array(naming.A, self.layer - 1))

    @property
    def z(self) -> sp.IndexedBase:
        return sp.IndexedBase(naming.array(naming.Z, self.layer))

    def parameter(self, name: str, real: bool = False) -> sp.IndexedBase:
        """The array of parameter ``name`` (``real``: SymPy may use ``d|W|/dW = sign(W)``)."""
        return sp.IndexedBase(naming.parameter(name, self.layer), **({"real": True} if real else {}))

    def buffer(self, name: str) -> sp.IndexedBase:
        return sp.IndexedBase(naming.array(name, self.layer))


class Layer:
    """The base of every layer kind (see the module docstring for what a kind declares).

    Subclasses are frozen dataclasses; ``activation`` is the name of an activation in the
    registry (layers that only move values have ``identity``).
    """

    #: the ``type`` of :meth:`spec`, the name in :data:`LAYERS`
    kind: ClassVar[str] = ""
    #: the word that starts the layer's ``--arch`` item (empty: :attr:`kind`)
    arch_word: ClassVar[str] = ""
    #: the ``--arch`` item's form, for ``--help`` (empty: not written in ``--arch``)
    arch_form: ClassVar[str] = ""
    #: what the layer takes: ``vector`` (features), ``image`` (channels, rows, cols) or ``any``
    takes: ClassVar[str] = "any"
    #: whether the layer has an activation a user chooses (the output layer must)
    has_activation: ClassVar[bool] = True
    #: the parameter axis a kernel reads its output width from (``("W", 1)``: ``W{l}.shape[1]``),
    #: so one compiled kernel serves any width; ``None``: the width is compiled in
    width_from: ClassVar[tuple[str, int] | None] = None
    #: the parameters the network's L1/L2 penalty applies to (the weights, not the biases)
    regularized: ClassVar[tuple[str, ...]] = ("W",)
    #: whether the unrolled view (and explain's neuron tables) writes the layer out neuron by
    #: neuron: a vector layer whose neurons it knows how to name (Dense, a residual add)
    unrolls: ClassVar[bool] = False
    #: what ``explain`` says each of the layer's rules is, by role (``z``, ``grad_W``, ...)
    meanings: ClassVar[dict[str, str]] = {}

    activation: str = "identity"

    @property
    def act(self) -> Activation:
        return get_activation(self.activation)

    # -- parameters ---------------------------------------------------------------------
    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Shapes of this layer's parameters (``W`` first, then ``b``), without layer numbers."""
        return {}

    def fans(self) -> tuple[int, int]:
        """``(fan_in, fan_out)`` of the weights, for initialisation."""
        raise NotImplementedError(f"{type(self).__name__} has no weights to initialise")

    def initial_values(self, draw: Callable[[tuple[int, int], tuple[int, ...]], np.ndarray]) -> dict[str, np.ndarray]:
        """Starting values of the parameters that do not start at zero.

        ``draw(fans, shape)`` gives weights by the network's initialisation scheme (Xavier,
        He); by default ``W`` is drawn with :meth:`fans` and everything else is zero.  A
        layer whose parameters start elsewhere (a scale at one) says so here.
        """
        shapes = self.param_shapes()
        return {"W": draw(self.fans(), shapes["W"])} if "W" in shapes else {}

    # -- shapes ---------------------------------------------------------------------------
    def input_shape(self) -> Shape | None:
        """The input shape this layer implies as a network's first layer (Dense: its fan-in),
        or None when the network must be told (images)."""
        return None

    def output_shape(self, shape: Shape, where: str) -> Shape:
        """The shape this layer outputs for inputs of ``shape``; raises :class:`ArchitectureError`
        naming ``where`` (``"layer 3"``) when the input does not fit."""
        raise NotImplementedError

    def output_shape_in(self, shapes: Sequence[Shape], where: str) -> Shape:
        """The shape this layer outputs, given the shapes of every boundary before it (the
        input first): a layer that reads further back than its input (a skip connection)
        checks those shapes too.  Most layers read only ``shapes[-1]``."""
        return self.output_shape(shapes[-1], where)

    def skip_sources(self, layer: int) -> tuple[int, ...]:
        """The boundaries this layer, number ``layer``, reads besides its input (a residual
        block's end reads the block's input); most layers read only ``layer - 1``."""
        return ()

    # -- the forward rule -----------------------------------------------------------------
    def forward_rule(self, ctx: RuleContext) -> ForwardRule:
        """``z`` of one generic output element, as an index-level SymPy expression."""
        raise NotImplementedError

    # -- descriptions -----------------------------------------------------------------------
    def spec(self) -> dict:
        """A JSON-able description (checkpoints, cache keys): ``{"type": kind, ...}``."""
        raise NotImplementedError

    @classmethod
    def from_spec(cls, spec: dict) -> "Layer":
        """The layer :meth:`spec` describes."""
        raise NotImplementedError

    @classmethod
    def kind_record(cls) -> dict | None:
        """The kind's own definition as text, for a checkpoint to rebuild it (a kind made by
        :func:`~.rule_layer.rule_layer`); None for a kind written as a class, which must be
        imported before loading."""
        return None

    @classmethod
    def from_arch(cls, item: str, settings: Sequence[str], shape: Shape, activation: str) -> "Layer":
        """The layer the ``--arch`` item ``item`` (``kind:settings...``) describes, for
        inputs of ``shape``; ``activation`` is the hidden layers' default."""
        raise ArchitectureError(f"{item!r}: {cls.kind} layers are not written in --arch")


#: every layer kind, by :attr:`Layer.kind`
LAYERS: Registry[type[Layer]] = Registry("layer type", ArchitectureError)


def register_layer(cls: type[Layer]) -> type[Layer]:
    """Class decorator: make a layer kind known to networks, checkpoints and ``--arch``."""
    if not cls.kind:
        raise ArchitectureError(f"{cls.__name__} must set the class attribute 'kind'")
    previous = LAYERS.get(cls.kind) if cls.kind in LAYERS else None
    reloaded = previous is not None and (previous.__module__, previous.__qualname__) == (cls.__module__,
                                                                                        cls.__qualname__)
    LAYERS.register(cls.kind, cls, replace=reloaded)
    return cls


def layer_from_spec(spec: dict) -> Layer:
    """A layer from its :meth:`Layer.spec` (checkpoints, cache records)."""
    kind = spec.get("type", "dense")
    if kind not in LAYERS:
        raise ArchitectureError(f"unknown layer type {kind!r} in a network description (a layer kind of your own "
                                "must be registered, by importing the module that defines it, before loading)")
    return LAYERS.get(kind).from_spec(spec)


# -- checks shared by the layer kinds ----------------------------------------------------------
def positive(owner: str, field_name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ArchitectureError(f"{owner} {field_name} must be a positive integer, got {value!r}")
    return value


def describe(shape: Shape) -> str:
    return "×".join(map(str, shape))


def check_activation(owner: str, name: str, elementwise: bool = False) -> str:
    """The registered name of activation ``name`` (raises for an unknown one); ``elementwise``
    refuses activations that couple a layer's outputs (softmax)."""
    act = get_activation(name)
    if elementwise and not act.elementwise:
        raise ArchitectureError(f"{owner} activation must act on each value alone; {act.name} couples a layer")
    return act.name


def check_vector(shape: Shape, where: str, kind: str) -> None:
    if len(shape) != 1:
        raise ArchitectureError(f"{where} ({kind}) gets a {describe(shape)} image: put a Flatten() before it")


def check_image(shape: Shape, where: str, kind: str) -> None:
    if len(shape) != 3:
        raise ArchitectureError(f"{where} ({kind}) needs images (channels, rows, cols), but gets {len(shape)}-D "
                                f"values of shape {describe(shape)}")


def arch_number(item: str, text: str, what: str) -> int:
    """A whole number >= 0 from an ``--arch`` setting."""
    try:
        value = int(text)
    except ValueError:
        raise ArchitectureError(f"{item!r}: {what} must be a whole number, got {text!r}") from None
    if value < 0:
        raise ArchitectureError(f"{item!r}: {what} must not be negative, got {value}")
    return value
