"""A network: a chain of layers plus a loss, checked when it is built.

``Network`` only *describes* the model.  Each later stage of the pipeline is reached
through a method that hands the network to that stage (``derive``, ``compile``), so a
user can stop at any stage and look at its value.
"""
from __future__ import annotations

import hashlib
import json
import math
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..errors import ArchitectureError, DataError
from .layers import LAYER_TYPES, Dense, Layer, Shape, layer_from_spec
from .losses import Loss, get_loss
from .parameters import Parameters

if TYPE_CHECKING:  # imported lazily: the model stage must not pull in the compiler
    from ..codegen.compiled import CompiledNetwork
    from ..derive.index_level import IndexDerivation
    from ..derive.unrolled import UnrolledDerivation
    from ..explain.explanation import Explanation


#: ``scheme(rng, fan_in, fan_out, shape)``: a weight array of ``shape``
INIT_SCHEMES = {
    "xavier_uniform": lambda rng, fi, fo, shape: rng.uniform(-math.sqrt(6 / (fi + fo)), math.sqrt(6 / (fi + fo)), shape),
    "xavier_normal": lambda rng, fi, fo, shape: rng.normal(0.0, math.sqrt(2 / (fi + fo)), shape),
    "he_normal": lambda rng, fi, fo, shape: rng.normal(0.0, math.sqrt(2 / fi), shape),
    "he_uniform": lambda rng, fi, fo, shape: rng.uniform(-math.sqrt(6 / fi), math.sqrt(6 / fi), shape),
}


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
            if not isinstance(layer, LAYER_TYPES):
                raise ArchitectureError(f"layer {k + 1} is a {type(layer).__name__}, expected one of: "
                                        f"{', '.join(t.__name__ for t in LAYER_TYPES)}")
        self.input_shape = _input_shape(layers[0], input_shape)
        #: the shape of each layer's output, the input first
        self.shapes: list[Shape] = [self.input_shape]
        for k, layer in enumerate(layers, start=1):
            self.shapes.append(layer.output_shape(self.shapes[-1], f"layer {k}"))
        if not isinstance(layers[-1], Dense):
            raise ArchitectureError(f"the output layer must be Dense, not {type(layers[-1]).__name__}: "
                                    "end an image network with Flatten() and a Dense layer")
        for k, layer in enumerate(layers[:-1]):
            if not layer.act.elementwise and layer.fan_out < 2:
                raise ArchitectureError(f"layer {k + 1}: {layer.activation} needs at least 2 neurons")
        self.layers = layers
        self.loss = get_loss(loss)
        self.loss.check_fits(layers[-1].act)
        if layers[-1].activation == "softmax" and layers[-1].fan_out < 2:
            raise ArchitectureError("a softmax output layer needs at least 2 classes")

    # -- construction helpers -------------------------------------------------------
    @classmethod
    def mlp(cls, sizes: Sequence[int], activation: str = "tanh", output: str | None = None,
            loss: str = "cce", l1: float = 0.0, l2: float = 0.0) -> "Network":
        """A multilayer perceptron from a list of sizes, e.g. ``[64, 32, 10]``.

        Hidden layers use ``activation``; the output activation defaults to the one the loss
        expects (softmax for cce, sigmoid for bce, identity for mse).
        """
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2:
            raise ArchitectureError(f"an MLP needs at least an input and an output size, got {sizes}")
        if output is None:
            output = {"cce": "softmax", "bce": "sigmoid"}.get(get_loss(loss).name, "identity")
        acts = [activation] * (len(sizes) - 2) + [output]
        return cls([Dense(a, b, act) for a, b, act in zip(sizes[:-1], sizes[1:], acts)], loss=loss, l1=l1, l2=l2)

    @classmethod
    def from_spec(cls, spec: dict) -> "Network":
        """Rebuild a network from :meth:`spec` output."""
        try:
            layers = [layer_from_spec(l) for l in spec["layers"]]
            return cls(layers, loss=spec["loss"], l1=spec.get("l1", 0.0), l2=spec.get("l2", 0.0),
                       input_shape=spec.get("input_shape"))
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
    def is_dense(self) -> bool:
        """Only dense layers: the teaching views (unrolled kernels, explain's neuron tables) apply."""
        return all(isinstance(l, Dense) for l in self.layers)

    def spec(self) -> dict:
        out = {"layers": [l.spec() for l in self.layers], "loss": self.loss.name, "l1": self.l1, "l2": self.l2}
        if not self.is_dense:
            out["input_shape"] = list(self.input_shape)
        return out

    def structure(self) -> dict:
        """What the index-level kernels depend on.

        Dense kernels read every width from their arrays: the activation of each layer and
        the loss are enough.  Image layers' loops are compiled for their exact geometry
        (kernel, stride, padding, image size), so an image network's structure is its spec.
        """
        if not self.is_dense:
            return self.spec()
        return {"activations": [l.activation for l in self.layers], "loss": self.loss.name,
                "l1": self.l1 > 0, "l2": self.l2 > 0}

    def key(self) -> str:
        """A stable hash of the architecture and loss (not the weights)."""
        return hashlib.sha256(json.dumps(self.spec(), sort_keys=True).encode()).hexdigest()

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """``{"W1": (fan_in, fan_out), "b1": (fan_out,), "W2": ...}`` in kernel order."""
        shapes: dict[str, tuple[int, ...]] = {}
        for k, layer in enumerate(self.layers, start=1):  # pooling and Flatten have none
            for name, shape in layer.param_shapes().items():
                shapes[f"{name}{k}"] = shape
        return shapes

    @property
    def n_params(self) -> int:
        return sum(math.prod(s) for s in self.param_shapes().values())

    def __repr__(self) -> str:
        inner = ", ".join(map(repr, self.layers))
        reg = "".join(f", {k}={v:g}" for k, v in (("l1", self.l1), ("l2", self.l2)) if v)
        shape = "" if self.is_dense else f", input_shape={self.input_shape}"
        return f"Network([{inner}], loss={self.loss.name!r}{reg}{shape})"

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
            if f"W{k}" not in params.shapes:
                continue
            chosen = scheme if scheme != "auto" else ("he_normal" if layer.act.init == "he" else "xavier_uniform")
            W = params[f"W{k}"]
            W[...] = INIT_SCHEMES[chosen](rng, *layer.fans(), W.shape)
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
        if not self.is_dense and np.ndim(X) == 1 + len(self.input_shape):
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
        if self.loss.name in ("bce", "cce") and (Y.min() < 0 or Y.max() > 1):
            raise DataError(f"{self.loss.long_name} needs targets in [0, 1]; Y ranges over "
                            f"[{Y.min():g}, {Y.max():g}]")
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

    # -- later pipeline stages ------------------------------------------------------------
    def derive(self) -> "IndexDerivation":
        """The index-level chain-rule derivation (stage 2): one generic neuron per layer."""
        from ..derive.index_level import derive_index_level
        return derive_index_level(self)

    def derive_unrolled(self) -> "UnrolledDerivation":
        """Every scalar ∂L/∂w of this (small) network by the chain rule, with named intermediates."""
        from ..derive.unrolled import derive_unrolled
        return derive_unrolled(self)

    def explain(self, x, y, params: Parameters | None = None, param: str = "W1[0,1]", lr: float = 0.1,
                seed: int = 0) -> "Explanation":
        """One backprop step on input ``x`` and target ``y``, every number tied to its formula
        (see :func:`symbackprop.explain.explain`); prints as text, renders in Jupyter."""
        from ..explain import explain
        return explain(self, x, y, params=params, param=param, lr=lr, seed=seed)

    def compile(self, view: str = "index", cache_dir: str | None = None, warm_up: bool = True,
                dtype: str = "float64") -> "CompiledNetwork":
        """Derive, simplify and compile Numba kernels (or load them from the on-disk cache).

        ``warm_up`` runs the training kernels once, in precision ``dtype``, so that
        compilation happens now rather than on the first call.
        """
        from ..codegen.compiled import compile_network
        return compile_network(self, view=view, cache_dir=cache_dir, warm_up=warm_up, dtype=dtype)


def _input_shape(first: Layer, given: Sequence[int] | None) -> Shape:
    """The network's input shape: ``given``, else a dense first layer's ``(fan_in,)``."""
    if given is None:
        if isinstance(first, Dense):
            return (first.fan_in,)
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


#: the precisions kernels run in
DTYPES = ("float64", "float32")


def check_dtype(dtype) -> np.dtype:
    """``dtype`` as a NumPy dtype, if it is one the kernels support."""
    try:
        value = np.dtype(dtype)
    except TypeError:
        value = None
    if value is None or value.name not in DTYPES:
        raise ArchitectureError(f"unsupported precision {dtype!r}; choose one of: {', '.join(DTYPES)}")
    return value
