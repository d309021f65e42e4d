"""A network: a chain of layers plus a loss, checked when it is built.

``Network`` only *describes* the model: it knows nothing of the stages after it.  Each
later stage is a function of it (``symbackprop.derivation(net)``, ``symbackprop.compile(net)``,
``symbackprop.explanation(net, x, y)``), so a user can stop at any stage and look at its value.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..errors import ArchitectureError, DataError, SymbackpropError
from . import naming
from .activations import BUILT_IN as BUILT_IN_ACTIVATIONS
from .activations import Activation, get_activation
from .layers import LAYERS, Dense, ForwardRule, Layer, Residual, RuleContext, Shape, expand_blocks, layer_from_spec, \
    regroup, rule_layer_from_record
from .losses import BUILT_IN as BUILT_IN_LOSSES
from .notation import boundary_dims
from .losses import Loss, get_loss
from .parameters import Parameters, check_dtype


#: ``scheme(rng, fan_in, fan_out, shape)``: a weight array of ``shape``
INIT_SCHEMES = {
    "xavier_uniform": lambda rng, fi, fo, shape: rng.uniform(-math.sqrt(6 / (fi + fo)), math.sqrt(6 / (fi + fo)), shape),
    "xavier_normal": lambda rng, fi, fo, shape: rng.normal(0.0, math.sqrt(2 / (fi + fo)), shape),
    "he_normal": lambda rng, fi, fo, shape: rng.normal(0.0, math.sqrt(2 / fi), shape),
    "he_uniform": lambda rng, fi, fo, shape: rng.uniform(-math.sqrt(6 / fi), math.sqrt(6 / fi), shape),
}


if TYPE_CHECKING:
    from .summary import Summary


class Network:
    """Layers followed by a loss: dense layers, or convolution and pooling layers, a
    :class:`Flatten` and dense layers.

    >>> net = Network([Dense(2, 3, "tanh"), Dense(3, 1, "sigmoid")], loss="bce")
    >>> net.sizes
    [2, 3, 1]
    """

    def __init__(self, layers: Sequence[Layer], loss: str | Loss = "mse", l1: float = 0.0, l2: float = 0.0,
                 input_shape: Sequence[int] | None = None) -> None:
        """``l1`` and ``l2`` add ``l1 * Σ|W| + l2/2 * ΣW²`` over every weight array (not the
        biases) to the loss; the penalty is part of the symbolic loss, so it is derived and
        printed like the rest.  ``input_shape`` is ``(channels, rows, cols)`` for a network
        that starts with an image layer (``(1, 8, 8)`` for digits); dense networks take it
        from their first layer."""
        for name, value in (("l1", l1), ("l2", l2)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ArchitectureError(f"{name} regularisation must be a finite number >= 0, got {value!r}")
        self.l1, self.l2 = float(l1), float(l2)
        layers = list(layers)
        if not layers:
            raise ArchitectureError("a network needs at least one layer")
        for k, layer in enumerate(layers):
            if not isinstance(layer, (Layer, Residual)):
                raise ArchitectureError(f"layer {k + 1} is a {type(layer).__name__}, expected one of: "
                                        f"{', '.join(t.__name__ for t in LAYERS.values())} or Residual")
        layers = expand_blocks(layers)
        for k, layer in enumerate(layers, start=1):
            names = set(layer.param_shapes())
            for name in names:
                problem = naming.check_parameter_name(name)
                if not problem and name.startswith(naming.GRADIENT_PREFIX) and name[1:] in names:
                    problem = f"its kernel name {naming.parameter(name, k)} is the gradient of {name[1:]}"
                if problem:
                    raise ArchitectureError(f"layer {k} ({type(layer).__name__}) has a parameter {name!r}: {problem}")
        self.input_shape = _input_shape(layers[0], input_shape)
        #: the shape of each layer's output, the input first
        self.shapes: list[Shape] = [self.input_shape]
        for k, layer in enumerate(layers, start=1):
            self.shapes.append(layer.output_shape_in(self.shapes, f"layer {k}"))
        if not type(layers[-1]).has_activation or len(self.shapes[-1]) != 1:
            raise ArchitectureError(f"the output layer must be Dense, not {type(layers[-1]).__name__}: "
                                    "end an image network with Flatten() and a Dense layer")
        for k, layer in enumerate(layers[:-1]):
            if not layer.act.elementwise and math.prod(self.shapes[k + 1]) < 2:
                raise ArchitectureError(f"layer {k + 1}: {layer.activation} needs at least 2 neurons")
        self.layers = layers
        self.loss = get_loss(loss)
        self.loss.check_fits(layers[-1].act)
        if not layers[-1].act.elementwise and self.shapes[-1][0] < 2:
            raise ArchitectureError(f"a {layers[-1].activation} output layer needs at least 2 classes; for one "
                                    f"output use loss='bce' (a sigmoid) or loss='mse'")

    # -- construction helpers -------------------------------------------------------
    @classmethod
    def mlp(cls, sizes: Sequence[int], activation: str = "tanh", output: str | None = None,
            loss: str = "cce", l1: float = 0.0, l2: float = 0.0) -> "Network":
        """A multilayer perceptron from a list of sizes, e.g. ``[64, 32, 10]``.

        Hidden layers use ``activation``; the output activation defaults to the one the loss
        expects (:attr:`Loss.default_output`: softmax for cce, sigmoid for bce, identity for mse).
        """
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2:
            raise ArchitectureError(f"an MLP needs at least an input and an output size, got {sizes}")
        if output is None:
            output = get_loss(loss).default_output
        acts = [activation] * (len(sizes) - 2) + [output]
        return cls([Dense(a, b, act) for a, b, act in zip(sizes[:-1], sizes[1:], acts)], loss=loss, l1=l1, l2=l2)

    @classmethod
    def from_spec(cls, spec: dict) -> "Network":
        """Rebuild a network from :meth:`spec` output."""
        try:
            _adopt_definitions(spec.get("definitions", {}))
            layers = [layer_from_spec(l) for l in spec["layers"]]
            return cls(layers, loss=spec["loss"], l1=spec.get("l1", 0.0), l2=spec.get("l2", 0.0),
                       input_shape=spec.get("input_shape"))
        except SymbackpropError:
            raise  # an unknown kind or a bad value: its own message says which
        except (KeyError, TypeError) as exc:
            raise ArchitectureError(f"not a symbackprop network description: missing {exc}") from None

    # -- description ----------------------------------------------------------------
    @property
    def sizes(self) -> list[int]:
        """Values per sample at each layer boundary, the input first (an image counts all its pixels)."""
        return [math.prod(shape) for shape in self.shapes]

    @property
    def n_inputs(self) -> int:
        return self.sizes[0]

    @property
    def n_outputs(self) -> int:
        return self.sizes[-1]

    @property
    def unrollable(self) -> bool:
        """Every layer can be written out neuron by neuron (:attr:`Layer.unrolls`: dense layers
        and residual blocks of them): the teaching views (unrolled kernels, explain's neuron
        tables and chain-rule paths) apply."""
        return all(type(l).unrolls for l in self.layers)

    @property
    def any_width(self) -> bool:
        """Every layer reads its output width from a parameter (:attr:`Layer.width_from`), so
        kernels compiled for this network serve the same layers at any widths."""
        return all(type(layer).width_from is not None for layer in self.layers)

    def spec(self) -> dict:
        """A JSON-able description :meth:`from_spec` rebuilds (checkpoints): the layers, the
        loss, and the formulas of the activations and loss that are not built in, as text
        for the safe parser, so a saved model needs none of its author's code to load."""
        out = {"layers": [l.spec() for l in self.layers], "loss": self.loss.name, "l1": self.l1, "l2": self.l2}
        if self.layers[0].input_shape() is None:
            out["input_shape"] = list(self.input_shape)
        definitions = self.definitions()
        if definitions:
            out["definitions"] = definitions
        return out

    def definitions(self) -> dict:
        """``{"layers": {kind: record}, "activations": {name: record}, "losses": {name: record}}``
        for the pieces of this network that are not built in and can be written as text
        (empty if there are none): layer kinds made from a rule, activations and losses
        given by formulas.  What cannot be written so (a layer class, a ``per_sample``
        function) is not stored: it must be registered before loading, by importing the
        module that defines it."""
        out: dict = {}
        for layer in self.layers:
            record = type(layer).kind_record()
            if record is not None:
                out.setdefault("layers", {})[layer.kind] = record
            record = layer.act.record() if layer.act.name not in BUILT_IN_ACTIVATIONS else None
            if record is not None:
                out.setdefault("activations", {})[layer.act.name] = record
        record = self.loss.record() if self.loss.name not in BUILT_IN_LOSSES else None
        if record is not None:
            out["losses"] = {self.loss.name: record}
        return out

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """``{"W1": (fan_in, fan_out), "b1": (fan_out,), "W2": ...}`` in kernel order."""
        shapes: dict[str, tuple[int, ...]] = {}
        for k, layer in enumerate(self.layers, start=1):  # pooling and Flatten have none
            for name, shape in layer.param_shapes().items():
                shapes[naming.parameter(name, k)] = shape
        return shapes

    def readers(self, boundary: int) -> list[int]:
        """The layers (1-based) that read boundary ``boundary``'s values (``a{boundary}``): the
        next layer, and any layer that reads it from further on (a residual block's end).
        The chain rule sends error back to the boundary from each of them."""
        return [l for l in range(boundary + 1, len(self.layers) + 1)
                if l == boundary + 1 or boundary in self.layers[l - 1].skip_sources(l)]

    def forward_rule(self, l: int) -> ForwardRule:
        """Layer ``l``'s (1-based) forward rule as it sits in this network: its boundaries'
        size symbols (``m1``, ``C2``, ``rows2``, ...) and shapes filled in."""
        ctx = RuleContext(l, boundary_dims(self.shapes[l - 1], l - 1), boundary_dims(self.shapes[l], l),
                          self.shapes[l - 1], self.shapes[l])
        return self.layers[l - 1].forward_rule(ctx)

    @property
    def n_params(self) -> int:
        return sum(math.prod(s) for s in self.param_shapes().values())

    #: the later stages, which are functions of a network rather than its methods
    _STAGES = {"compile": "symbackprop.compile(net)", "derive": "symbackprop.derivation(net)",
               "derive_unrolled": 'symbackprop.derivation(net, "unrolled")',
               "explain": "symbackprop.explanation(net, x, y)"}

    def __getattr__(self, name: str):
        if name in Network._STAGES:
            raise AttributeError(f"a Network describes the model only; {name} is a later stage: "
                                 f"use {Network._STAGES[name]}")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self) -> str:
        inner = ", ".join(map(repr, regroup(self.layers)))
        reg = "".join(f", {k}={v:g}" for k, v in (("l1", self.l1), ("l2", self.l2)) if v)
        shape = "" if self.layers[0].input_shape() is not None else f", input_shape={self.input_shape}"
        return f"Network([{inner}], loss={self.loss.name!r}{reg}{shape})"

    def __reduce__(self):
        # pickled as its description, as a checkpoint stores it: activations and losses of the
        # user's own are carried as formulas and registered again where it is unpickled
        return (Network.from_spec, (self.spec(),))

    def summary(self) -> "Summary":
        """Layers, output shapes and parameter counts (a table that prints as text and renders in
        Jupyter); a compiled or trained model's summary adds op counts and training state."""
        from .summary import network_summary
        return network_summary(self)

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    # -- parameters -----------------------------------------------------------------
    def init_params(self, seed: int | None = 0, scheme: str = "auto", dtype: str | type = "float64") -> Parameters:
        """Fresh parameters with zero biases; the same seed gives the same parameters, bit for bit.

        ``scheme``: ``auto`` picks per layer from its activation (He normal after ReLU and
        leaky ReLU, Xavier/Glorot uniform otherwise), or one of :data:`INIT_SCHEMES` for
        every layer.  ``dtype`` is ``float64`` or ``float32``: the kernels run in the
        parameters' precision (the draws are made in float64 and rounded, so a float32 net
        starts from the float64 net's weights).
        """
        if scheme not in ("auto", *INIT_SCHEMES):
            raise ArchitectureError(f"unknown initialisation {scheme!r}; choose auto or one of: "
                                    f"{', '.join(INIT_SCHEMES)}")
        dtype = check_dtype(dtype)
        rng = np.random.default_rng(seed)
        params = Parameters(self.param_shapes(), dtype=dtype)
        for k, layer in enumerate(self.layers, start=1):
            chosen = scheme if scheme != "auto" else ("he_normal" if layer.act.init == "he" else "xavier_uniform")
            draw = INIT_SCHEMES[chosen]
            for name, value in layer.initial_values(lambda fans, shape: draw(rng, *fans, shape)).items():
                params[naming.parameter(name, k)][...] = value
        return params

    def check_params(self, params: Parameters) -> None:
        """Raise :class:`ArchitectureError` unless ``params`` has this network's parameter shapes."""
        if params.shapes != self.param_shapes():
            raise ArchitectureError(f"parameters have shapes {params.shapes}, the network needs "
                                    f"{self.param_shapes()}")

    # -- data checks ------------------------------------------------------------------
    def check_inputs(self, X: np.ndarray, Y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Validate and convert data before any kernel sees it.

        Returns C-contiguous float64 ``X`` of shape ``(N, n_inputs)`` and, if given, ``Y`` of
        shape ``(N, n_outputs)``.  Integer class labels (shape ``(N,)``) are one-hot encoded
        for a softmax output; 0/1 labels of shape ``(N,)`` are accepted for one output.
        Images may come as ``(N, channels, rows, cols)`` or flattened row-major.
        """
        if len(self.input_shape) > 1 and np.ndim(X) == 1 + len(self.input_shape):
            if tuple(np.shape(X)[1:]) != self.input_shape:
                raise DataError(f"X holds images of shape {tuple(np.shape(X)[1:])} but the network expects "
                                f"{self.input_shape}")
            X = np.reshape(X, (np.shape(X)[0], -1))
        X = _as_float_matrix(X, "X")
        if X.shape[1] != self.n_inputs:
            raise DataError(f"X has {X.shape[1]} features per sample but the network expects {self.n_inputs}")
        _check_finite(X, "X")
        if Y is None:
            return X, None
        Y = np.asarray(Y)
        if Y.ndim == 1:
            Y = self._labels_to_targets(Y)
        Y = _as_float_matrix(Y, "Y")
        if Y.shape[0] != X.shape[0]:
            raise DataError(f"X has {X.shape[0]} samples but Y has {Y.shape[0]}")
        if Y.shape[1] != self.n_outputs:
            raise DataError(f"Y has {Y.shape[1]} targets per sample but the network has {self.n_outputs} outputs")
        _check_finite(Y, "Y")
        self.loss.check_targets(float(Y.min()), float(Y.max()))
        return X, Y

    def _labels_to_targets(self, labels: np.ndarray) -> np.ndarray:
        if labels.dtype.kind not in "iub" and not (labels.dtype.kind == "f" and np.all(labels == np.round(labels))):
            if self.n_outputs == 1:
                return labels.reshape(-1, 1)
            raise DataError(f"Y of shape {labels.shape} must hold integer class labels for "
                            f"{self.n_outputs} outputs")
        if self.n_outputs == 1:
            return labels.reshape(-1, 1).astype(np.float64)
        ints = labels.astype(np.int64)
        if ints.size and (ints.min() < 0 or ints.max() >= self.n_outputs):
            raise DataError(f"class label {ints.max() if ints.max() >= self.n_outputs else ints.min()} "
                            f"is out of range for {self.n_outputs} classes (0..{self.n_outputs - 1})")
        onehot = np.zeros((ints.size, self.n_outputs))
        onehot[np.arange(ints.size), ints] = 1.0
        return onehot


def _adopt_definitions(definitions: dict) -> None:
    """Register the activations and losses a network description defines (a checkpoint's),
    each formula read by the safe parser; refuses one whose name is taken by another formula."""
    for name, record in definitions.get("activations", {}).items():
        get_activation(Activation.from_record(name, record))
    for name, record in definitions.get("losses", {}).items():
        get_loss(Loss.from_record(name, record))
    for kind, record in definitions.get("layers", {}).items():
        rule_layer_from_record(kind, record)


def _input_shape(first: Layer, given: Sequence[int] | None) -> Shape:
    """The network's input shape: ``given``, else the one the first layer implies (Dense: ``(fan_in,)``)."""
    if given is None:
        if first.input_shape() is not None:
            return first.input_shape()
        raise ArchitectureError(f"a network that starts with {type(first).__name__} needs "
                                "input_shape=(channels, rows, cols), e.g. (1, 8, 8) for digits")
    shape = tuple(given)
    if not shape or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in shape):
        raise ArchitectureError(f"input_shape must be positive integers, got {given!r}")
    return tuple(int(v) for v in shape)


def _as_float_matrix(A, name: str) -> np.ndarray:
    try:
        arr = np.asarray(A)
    except Exception as exc:  # ragged lists and the like
        raise DataError(f"{name} cannot be read as an array: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise DataError(f"{name} must be 2-D (samples × features), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise DataError(f"{name} is empty (0 samples)")
    return np.ascontiguousarray(arr, dtype=np.float64)


def _check_finite(arr: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        row, col = map(int, np.argwhere(bad)[0])
        what = "NaN" if np.isnan(arr[row, col]) else "inf"
        raise DataError(f"{name} contains {int(bad.sum())} non-finite value(s): first is {what} at "
                        f"sample {row}, column {col}")
