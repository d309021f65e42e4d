"""One backpropagation step of a small network, every number shown and tied to its formula.

:func:`explain` takes a network, one input and its target, runs the unrolled chain-rule
derivation (:mod:`symbackprop.derive.unrolled`) and evaluates every named quantity of it
for those numbers:

* the forward pass, one row per neuron: inputs, weights, bias, weighted sum ``z`` and
  activation ``a``, each as its formula and its value;
* the loss;
* for one chosen parameter, ∂L/∂w as the chain rule writes it: a sum over every path
  from the parameter to the loss, each path a product of local derivatives
  (∂L/∂a · ∂a/∂z · ∂z/∂a · … · ∂z/∂w), each factor SymPy's derivative of one definition;
* the backward pass layer by layer (∂L/∂a and δ = ∂L/∂z of every neuron) and every
  parameter's gradient-descent update.

The values come from evaluating the derivation's own expressions, so what is printed is
what the generated kernels compute; the tests check them against PyTorch's autograd.

This module is only that evaluation: the records it fills are in
:mod:`~symbackprop.explain.explanation`, the spelling of parameter names in
:mod:`~symbackprop.explain.param_names`, the layout in :mod:`~symbackprop.explain.render`.
"""
from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Sequence

import numpy as np
import sympy as sp

from ..model.notation import L1, L2
from ..derive.unrolled import derive_unrolled, local_partial
from ..errors import ArchitectureError, DataError
from ..model import naming
from ..model.layers import ResidualAdd
from .evaluate import value_of
from .explanation import ChainRule, Explanation, Factor, LayerBackward, NeuronRow, Path, Quantity, Update
from .param_names import param_name_parts, parse_param

if TYPE_CHECKING:
    from ..derive.unrolled import UnrolledDerivation
    from ..model.network import Network
    from ..model.parameters import Parameters

#: more paths than this from one parameter to the loss are summarised by δ alone
MAX_PATHS = 64
#: explanations write out every neuron: refuse networks too large to read
MAX_EXPLAIN_PARAMS = 200

def teaching_params(network: "Network", seed: int = 0) -> "Parameters":
    """Small round parameters to compute by hand: the seed's initial weights rounded to two
    decimals, and biases drawn from (−0.5, 0.5) rounded the same way (zero biases teach less)."""
    params = network.init_params(seed)
    rng = np.random.default_rng(seed + 1)
    for name in params:
        if name.startswith("b"):
            params[name][...] = rng.uniform(-0.5, 0.5, size=params[name].shape)
        params[name][...] = np.round(params[name], 2)
    return params


def explain(network: "Network", x: Sequence[float], y: Sequence[float] | float,
            params: "Parameters | None" = None, param: str = "W1[0,1]", lr: float = 0.1,
            seed: int = 0) -> Explanation:
    """Explain one gradient-descent step of ``network`` on input ``x`` with target ``y``.

    ``params`` defaults to :func:`teaching_params` of ``seed``; ``param`` names the weight
    whose chain rule is written out path by path.  The network must be small enough to read
    (at most :data:`MAX_EXPLAIN_PARAMS` parameters).
    """
    if network.n_params > MAX_EXPLAIN_PARAMS:
        raise ArchitectureError(f"explain writes out every neuron; {network!r} has {network.n_params:,} "
                                f"parameters (at most {MAX_EXPLAIN_PARAMS}): use 'symbackprop derive' for large networks")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        raise ArchitectureError(f"the learning rate must be a positive number, got {lr!r}")
    X, Y = _one_sample(network, x, y)
    params = params if params is not None else teaching_params(network, seed)
    network.check_params(params)
    if not network.unrollable:
        raise ArchitectureError(f"explain writes out Dense layers and residual blocks of them neuron by neuron; "
                                f"{network!r} has other layers: symbackprop.explain.explain_image_network(net) "
                                "prints each layer's derived rules instead")
    target, _ = parse_param(network, param)
    deriv = derive_unrolled(network)
    values = _evaluate(deriv, X, Y, params)
    rules = _ChainRules(deriv, values)
    chains = {p: rules.chain_rule(p) for p in deriv.gradients}
    return Explanation(
        network=network, x=tuple(X), y=tuple(Y), lr=float(lr),
        forward=_forward_rows(deriv, values),
        loss=Quantity(deriv.loss, deriv.definitions[deriv.loss], values[deriv.loss]),
        chain=chains[target],
        backward=_backward(deriv, values),
        updates=[Update(p, values[p], values[g], float(lr)) for p, g in deriv.gradients.items()],
        values=values, chains=chains)


def _one_sample(network: "Network", x, y) -> tuple[np.ndarray, np.ndarray]:
    """One input and its target; a single class label (``2``) is one-hot encoded, as ``fit`` does."""
    if np.ndim(y) == 0 and network.n_outputs > 1:
        if isinstance(y, (bool, np.bool_)) or not float(y).is_integer():
            raise DataError(f"the target {y!r} is a single number, but {network!r} has {network.n_outputs} outputs: "
                            f"give a class label (0 to {network.n_outputs - 1}) or {network.n_outputs} target values")
        X, Y = network.check_inputs(np.asarray(x, dtype=float).reshape(1, -1), np.asarray([int(y)]))
        return X[0], Y[0]
    for what, given, needed in (("input", x, network.n_inputs), ("target", y, network.n_outputs)):
        size = np.size(given)
        if np.ndim(given) <= 1 and size != needed:
            raise DataError(f"the {what} has {size} value{'s' * (size != 1)} but {network!r} needs {needed}")
    X, Y = network.check_inputs(np.asarray(x, dtype=float).reshape(1, -1) if np.ndim(x) <= 1 else x,
                                np.asarray(y, dtype=float).reshape(1, -1) if np.ndim(y) <= 1 else y)
    if X.shape[0] != 1:
        raise DataError(f"explain works on one sample; got {X.shape[0]}")
    return X[0], Y[0]


def _evaluate(deriv: "UnrolledDerivation", x: np.ndarray, y: np.ndarray, params: "Parameters") -> dict:
    """The value of every symbol of the derivation, evaluated in order from its definition."""
    values: dict[sp.Symbol, float] = {}
    values.update({s: float(v) for s, v in zip(deriv.inputs, x)})
    values.update({s: float(v) for s, v in zip(deriv.targets, y)})
    for name, symbols in deriv.params.items():
        array = params[name]
        if array.ndim == 2:
            values.update({s: float(array[i, j]) for i, row in enumerate(symbols) for j, s in enumerate(row)})
        else:
            values.update({s: float(array[j]) for j, s in enumerate(symbols)})
    values[L1], values[L2] = deriv.network.l1, deriv.network.l2
    for assignment in deriv.program:
        value = value_of(assignment.expr, values)
        if value is None:
            raise DataError(f"{assignment.symbol} is not a finite number for this input and these weights "
                            f"(a saturated activation: an output rounds to exactly 0 or 1 and a log or a "
                            f"division meets it); explain a smaller input")
        values[assignment.symbol] = value
    return values


def _forward_rows(deriv: "UnrolledDerivation", values: dict) -> list[list[NeuronRow]]:
    """One row per neuron; a residual block's end has no weights, its inputs are the block's
    output and the block's input (the skip connection)."""
    layers = []
    boundary = [deriv.inputs]
    for l, layer in enumerate(deriv.network.layers, start=1):
        rows = []
        previous = boundary[-1]

        def quantity(s: sp.Symbol) -> Quantity:
            return Quantity(s, deriv.definitions.get(s), values[s])

        for j in range(deriv.network.sizes[l]):
            z = sp.Symbol(naming.scalar(naming.Z, l, j), real=True)
            a = sp.Symbol(naming.scalar(naming.A, l, j), real=True)
            if isinstance(layer, ResidualAdd):
                inputs, weights, bias = (quantity(previous[j]), quantity(boundary[layer.skip_source(l)][j])), (), None
            else:
                W, b = deriv.params[naming.parameter("W", l)], deriv.params[naming.parameter("b", l)]
                inputs = tuple(quantity(s) for s in previous)
                weights = tuple(Quantity(W[i][j], None, values[W[i][j]]) for i in range(len(previous)))
                bias = Quantity(b[j], None, values[b[j]])
            rows.append(NeuronRow(l, j, layer.activation, inputs=inputs, weights=weights, bias=bias,
                                  z=Quantity(z, deriv.definitions[z], values[z]),
                                  a=Quantity(a, deriv.definitions[a], values[a])))
        layers.append(rows)
        boundary.append([r.a.symbol for r in rows])
    return layers


def _backward(deriv: "UnrolledDerivation", values: dict) -> list[LayerBackward]:
    def quantities(roles: tuple[str, ...], prefix: str) -> tuple[Quantity, ...]:
        return tuple(Quantity(a.symbol, a.expr, values[a.symbol]) for a in deriv.program
                     if a.role in roles and a.symbol.name.startswith(prefix))

    return [LayerBackward(l, quantities(("grad_output", "grad_input"), f"g{l}_"), quantities(("delta",), f"d{l}_"),
                          quantities(("grad_W",), f"dL_dW{l}_") + quantities(("grad_b",), f"dL_db{l}_"))
            for l in range(len(deriv.network.layers), 0, -1)]


class _ChainRules:
    """Every parameter's paths to the loss, each factor ``sympy.diff`` of one definition.

    The paths above a neuron are the same for every parameter below it, so they are found
    once per neuron and shared; the page and the picture ask for every parameter's chain."""

    def __init__(self, deriv: "UnrolledDerivation", values: dict):
        self.deriv, self.values = deriv, values
        net = deriv.network
        self.depth = len(net.layers)
        self.defs = deriv.definitions
        self.data_loss = self.defs[deriv.loss].subs({L1: 0, L2: 0})
        self.acts = [[self.sym("a", l, k) for k in range(net.sizes[l])] for l in range(self.depth + 1)]
        self.zs = [[self.sym("z", l, k) for k in range(net.sizes[l])] for l in range(self.depth + 1)]
        self.from_z = functools.lru_cache(maxsize=None)(self._from_z)
        self.from_a = functools.lru_cache(maxsize=None)(self._from_a)
        self.readers = functools.lru_cache(maxsize=None)(self._readers)
        self.count = functools.lru_cache(maxsize=None)(self._count)

    @staticmethod
    def sym(kind: str, l: int, k: int) -> sp.Symbol:
        return sp.Symbol(f"{kind}{l}_{k}", real=True)

    def factor(self, of: sp.Symbol, wrt: sp.Symbol, expr: sp.Expr) -> Factor:
        return Factor(of, wrt, expr, value_of(expr, self.values))

    def couples(self, l: int, k: int, j: int) -> bool:
        return self.deriv.network.layers[l - 1].act.elementwise is False or k == j

    def _from_z(self, l: int, j: int) -> tuple[tuple[Factor, ...], ...]:
        """Paths from z{l}_j up to the loss, each as factors from the loss down to z{l}_j."""
        act = self.deriv.network.layers[l - 1].act
        paths = []
        for k in range(self.deriv.network.sizes[l]):
            if not self.couples(l, k, j):
                continue
            step = self.factor(self.acts[l][k], self.zs[l][j],
                               local_partial(act, self.defs, self.acts[l], self.zs[l], k, j))
            paths += [upper + (step,) for upper in self.from_a(l, k)]
        return tuple(paths)

    def _readers(self, l: int, k: int) -> tuple[tuple[int, int], ...]:
        """The ``(layer, neuron)`` whose z reads a{l}_k: the next layer's, and a residual
        block's end when a{l} is the block's input (the skip path)."""
        net = self.deriv.network
        return tuple((r, q) for r in net.readers(l) for q in range(net.sizes[r])
                     if sp.diff(self.defs[self.zs[r][q]], self.acts[l][k]) != 0)

    def _from_a(self, l: int, k: int) -> tuple[tuple[Factor, ...], ...]:
        if l == self.depth:
            return ((self.factor(self.deriv.loss, self.acts[l][k], sp.diff(self.data_loss, self.acts[l][k])),),)
        paths = []
        for r, q in self.readers(l, k):
            step = self.factor(self.zs[r][q], self.acts[l][k], sp.diff(self.defs[self.zs[r][q]], self.acts[l][k]))
            paths += [upper + (step,) for upper in self.from_z(r, q)]
        return tuple(paths)

    def _count(self, l: int, j: int) -> int:
        """How many paths lead from z{l}_j to the loss."""
        net = self.deriv.network
        ks = range(net.sizes[l]) if not net.layers[l - 1].act.elementwise else (j,)
        return sum(1 if l == self.depth else sum(self.count(r, q) for r, q in self.readers(l, k)) for k in ks)

    def chain_rule(self, param: sp.Symbol) -> ChainRule:
        deriv, defs, values = self.deriv, self.defs, self.values
        _, layer, index = param_name_parts(param.name)
        neuron = index[-1]
        z_param = self.zs[layer][neuron]
        local = self.factor(z_param, param, sp.diff(defs[z_param], param))
        n_paths = self.count(layer, neuron)
        paths = tuple(Path(p + (local,)) for p in self.from_z(layer, neuron)) if n_paths <= MAX_PATHS else ()
        reg = defs[deriv.loss] - self.data_loss
        penalty_expr = sp.diff(reg, param)
        penalty = Quantity(param, penalty_expr, value_of(penalty_expr, values)) if penalty_expr != 0 else None
        delta = self.sym("d", layer, neuron)
        grad = deriv.gradients[param]
        return ChainRule(param, paths, penalty, Quantity(delta, defs[delta], values[delta]), local,
                         Quantity(grad, defs[grad], values[grad]), 0 if paths else n_paths)
