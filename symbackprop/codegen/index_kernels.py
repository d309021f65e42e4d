"""The kernel module of an index-level derivation, as kernel IR.

The module has the entry points of :data:`.abi.ENTRY_POINTS` (``forward``, ``loss``,
``evaluate``, ``loss_and_grad``, ``train_epoch``) for the network's parameters
``W1, b1, ...`` (layers without parameters, pooling and Flatten, are skipped in the
list).  ``a0`` is ``(B, features)``, or ``(B, channels, rows, cols)`` for an image
network.  Each is an ``@njit(cache=True)`` function in a real file, so Numba caches the
machine code on disk; the module imports ``math``, ``numpy``, ``numba`` and the shared
kernels of :mod:`symbackprop.codegen` (:mod:`.copied_source`), never SymPy.

What the layers need allocated, and where a width comes from, is what each layer kind
declares (:class:`~symbackprop.model.layers.Layer`: ``width_from``, its rule's buffers);
nothing here names a layer kind.
"""
from __future__ import annotations

import sympy as sp

from ..derive.index_level import B, IndexDerivation, LayerRule, Statement, dims, j, n
from ..model import naming
from ..simplify.stabilize import logistic_forms, stabilize
from . import abi, ir
from .fusion import fuse_sample_loops, view_aliases
from .calls_by_address import call_by_address
from .layer_functions import binding_codes, layer_function
from .lowering import Lowerer
from .parallel_epoch import parallel_epoch, step_function
from .module import KernelModule, entry_point
from .rewrites import flat_view, rows_view
from .selection import winners_and_values
from .training_kernel import train_epoch

A0 = sp.Symbol("a0")
LOSS = sp.Symbol("L")


def _width_source(deriv: IndexDerivation, l: int) -> sp.Expr | None:
    """``W{l}.shape[1]`` when boundary ``l`` is the output of a layer that reads its width
    from a parameter (a dense layer), so one kernel serves any width; else None."""
    if l == 0:
        return None
    declared = type(deriv.network.layers[l - 1]).width_from
    if declared is None:
        return None
    name, axis = declared
    return ir.Dim(sp.Symbol(naming.parameter(name, l)), axis)


def _sizes(deriv: IndexDerivation) -> list[ir.Node]:
    """Every size symbol given its value: read from the arrays where a width may vary
    (dense layers, a dense network's input), the network's numbers elsewhere (image
    loops are compiled for one geometry)."""
    net = deriv.network
    out: list[ir.Node] = [ir.Assign(B, ir.Dim(A0, 0))]
    for l, shape in enumerate(net.shapes):
        symbols = dims(net, l)
        source = ir.Dim(A0, 1) if l == 0 and len(shape) == 1 else _width_source(deriv, l)
        if source is not None:
            out.append(ir.Assign(symbols[0], source))
        else:
            out += [ir.Assign(symbol, sp.Integer(size)) for symbol, size in zip(symbols, shape)]
    return out


def _shape(deriv: IndexDerivation, l: int) -> tuple[sp.Expr, ...]:
    """The shape of boundary ``l``'s work arrays for a batch like ``a0``."""
    width = _width_source(deriv, l)
    if width is not None:
        return (ir.Dim(A0, 0), width)
    return (ir.Dim(A0, 0), *map(sp.Integer, deriv.network.shapes[l]))


def parameter_names(deriv: IndexDerivation) -> list[str]:
    """The parameters in kernel order."""
    return list(deriv.network.param_shapes())


def _shift_rows(z: sp.IndexedBase, width: sp.Expr) -> ir.Node:
    """``z[n, :] -= max(z[n, :])``: exact for shift-invariant activations, and overflow-free."""
    zmax = sp.Symbol("_zmax")
    return ir.Loop(n, B, (
        ir.Assign(zmax, z[n, 0]),
        ir.Loop(j, width, (ir.Branch(sp.StrictGreaterThan(z[n, j], zmax, evaluate=False),
                                     (ir.Assign(zmax, z[n, j]),)),), sp.Integer(1)),
        ir.Loop(j, width, (ir.Assign(z[n, j], zmax, "-"),)),
    ))


def _normalized_map(stmt: Statement) -> tuple[sp.Expr, sp.Sum] | None:
    """``(f(z[n, j]), Sum_s f(z[n, s]))`` if the activation is their ratio (softmax), else None."""
    numer, denom = sp.fraction(stmt.expr)
    if not isinstance(denom, sp.Sum) or len(denom.limits) != 1:
        return None
    s, _, _ = denom.limits[0]
    index = stmt.target.indices[-1]
    return (numer, denom) if denom.function == numer.xreplace({index: s}) else None


def _row_sums(l: int) -> sp.IndexedBase:
    """Work array holding the row sums ``Sum_s f(z[n, s])`` of layer ``l``'s normalized map."""
    return sp.IndexedBase(naming.array("rowsum", l))


def _is_view(rule: LayerRule) -> bool:
    """A reshape layer (Flatten) after the first: its ``z`` and the gradient it passes down are views.
    (Of the first layer, the input ``a0`` is the caller's array, which may not be contiguous.)"""
    return rule.is_reshape and rule.layer > 1


def _forward(deriv: IndexDerivation, low: Lowerer) -> list[tuple[int, list[ir.Node]]]:
    """Forward pass into the work arrays ``z`` and ``a``: each layer's statements.

    A normalized map ``a = f(z) / Sum_s f(z[n, s])`` (softmax) is computed as ``a = f(z)``,
    then the row sums into ``rowsum{l}``, then ``a /= rowsum``: ``f`` runs once per
    element, and the loss reads the row sums instead of recomputing them.
    """
    layers = []
    for rule in deriv.layers:
        out: list[ir.Node] = []
        layers.append((rule.layer, out))
        if _is_view(rule):  # z is a view of the input (_layer_arrays)
            continue
        if len(rule.before) == 1:  # max pooling: the winners and their values in one pass, if it can
            (winner,), value = rule.before, rule.z
            both = winners_and_values((winner.target, winner.expr, winner.loops), (value.target, value.expr,
                                                                                  value.loops), low)
            if both is not None:
                out += both
                continue
        for stmt in (*rule.before, rule.z):
            out += low.lower(stmt.target, stmt.expr, stmt.loops, into_existing=True)
        if rule.kind.act.shift_invariant:
            out.append(_shift_rows(rule.z.target.base, rule.a.loops[-1][1]))
        if rule.is_identity:  # the buffers share memory, a is z
            continue
        normalized = _normalized_map(rule.a)
        if normalized is None:
            out += low.lower(rule.a.target, logistic_forms(rule.a.expr), rule.a.loops, into_existing=True)
            continue
        a, loops = rule.a.target, rule.a.loops
        (row, _), (_, width) = loops
        k = sp.Dummy("k", integer=True)
        rowsum = _row_sums(rule.layer)[row]
        out += low.lower(a, normalized[0], loops, into_existing=True)
        out += low.lower(rowsum, sp.Sum(a.base[row, k], (k, 0, width - 1)), loops[:1], into_existing=True)
        out += low.lower(a, a / rowsum, loops, into_existing=True)
    return layers


def _loss_expr(deriv: IndexDerivation) -> sp.Expr:
    """The batch-mean loss in its stable form: through ``z`` if the loss takes logs.

    The output layer's row sums (softmax's denominator) come from the forward pass.
    """
    if not deriv.loss_through_z.has(sp.log):
        return deriv.loss.expr
    per_sample = deriv.loss_through_z
    out = deriv.layers[-1]
    normalized = _normalized_map(out.a)
    if normalized is not None:
        per_sample = per_sample.xreplace({normalized[1]: _row_sums(out.layer)[out.a.loops[0][0]]})
    return sp.Sum(stabilize(per_sample), (n, 0, B - 1)) / B + deriv.penalty


def _backward(deriv: IndexDerivation, low: Lowerer) -> list[tuple[int, list[ir.Node]]]:
    """Backward pass into the delta, input-gradient and parameter-gradient arrays: each layer's
    statements, output layer first."""
    layers = []
    for rule in reversed(deriv.layers):
        out: list[ir.Node] = []
        layers.append((rule.layer, out))
        if _is_view(rule):  # the incoming gradient is a view of the input's (_layer_arrays)
            continue
        for stmt in rule.backward:
            if stmt is rule.delta and rule.delta_is_gradient:
                continue  # d{l} and g{l} share memory
            out += low.lower(stmt.target, logistic_forms(stmt.expr), stmt.loops, into_existing=True)
    return layers


def _layer_arrays(deriv: IndexDerivation, rule: LayerRule, backward: bool) -> list[ir.Node]:
    """One layer's work arrays for a batch of ``a0``'s size: its rule's own buffers (max
    pooling's winners), ``z``, ``a`` (which is ``z`` for an identity layer), softmax's row
    sums; for the backward pass the incoming gradient ``g`` and the error ``d`` (which is
    ``g`` for an identity activation)."""
    l = rule.layer
    shape = _shape(deriv, l)
    array = {kind: sp.Symbol(naming.array(kind, l)) for kind in (naming.Z, naming.A, naming.DELTA, naming.INCOMING)}
    out: list[ir.Node] = [ir.Allocate(sp.Symbol(buffer.name), shape, "int64" if buffer.dtype == "int64" else "a0")
                          for buffer in rule.buffers]
    previous = {kind: sp.Symbol(naming.array(kind, l - 1)) for kind in (naming.A, naming.INCOMING)}
    if _is_view(rule):  # Flatten: a view of the input; nothing is copied either way
        out.append(ir.Assign(array[naming.Z], ir.Reshaped(previous[naming.A], *shape)))
    else:
        out.append(ir.Allocate(array[naming.Z], shape, "a0"))
    out.append(ir.Assign(array[naming.A], array[naming.Z]) if rule.is_identity else ir.Allocate(array[naming.A], shape,
                                                                                                   "a0"))
    if _normalized_map(rule.a) is not None:
        out.append(ir.Allocate(sp.Symbol(str(_row_sums(l).label)), shape[:1], "a0"))
    if backward:
        if _is_view(rule):
            out.append(ir.Assign(array[naming.INCOMING], ir.Reshaped(previous[naming.INCOMING], *shape)))
        elif l < len(deriv.layers):
            out.append(ir.Allocate(array[naming.INCOMING], shape, "a0"))
        d, g = array[naming.DELTA], array[naming.INCOMING]
        out.append(ir.Assign(d, g) if rule.delta_is_gradient else ir.Allocate(d, shape, "a0"))
    return out


def _allocations(deriv: IndexDerivation, backward: bool, low: Lowerer) -> list[ir.Node]:
    """Every work array, then the copies of transposed weights, the rules' scratch arrays (patch
    matrices) and the flat views the lowered statements use (:attr:`Lowerer.transposed_copies`,
    :attr:`Lowerer.scratch`, :attr:`Lowerer.flat_views`)."""
    out = [node for rule in deriv.layers for node in _layer_arrays(deriv, rule, backward)]
    values = {node.target: node.value for node in _sizes(deriv)}  # allocations come before the sizes
    for name, (extents, zeros) in low.scratch.items():
        shape = tuple(sp.sympify(e).xreplace(values) for e in extents)
        out.append(ir.Allocate(sp.Symbol(name), shape, "a0", zeros=zeros))
    for weight, copy in low.transposed_copies.items():
        W = sp.Symbol(weight)
        out.append(ir.Allocate(sp.Symbol(copy), (ir.Dim(W, 1), ir.Dim(W, 0)), weight))
    out += [ir.FlatView(sp.Symbol(flat_view(name)), sp.Symbol(name)) for name in sorted(low.flat_views)]
    out += [ir.FlatView(sp.Symbol(rows_view(name)), sp.Symbol(name), per_sample=True) for name in sorted(low.row_views)]
    return out


def _work_arrays(deriv: IndexDerivation) -> dict[str, tuple[sp.Expr, ...]]:
    """The float work arrays the kernels allocate (``z``, ``a``, ``g``, ``d`` of every layer),
    each with its extents: all C-contiguous, so elementwise statements over them run flat."""
    work = {}
    for rule in deriv.layers:
        extents = (B, *dims(deriv.network, rule.layer))
        work.update({naming.array(kind, rule.layer): extents
                     for kind in (naming.Z, naming.A, naming.INCOMING, naming.DELTA)})
    work.pop(naming.array(naming.INCOMING, len(deriv.layers)), None)  # the output layer has d only
    return work


def _bound_names(params: list[str], allocations: list[ir.Node]) -> list[str]:
    """What an entry point has bound before its first layer call: its arguments and arrays."""
    made = [str(node.name) if isinstance(node, (ir.Allocate, ir.FlatView)) else str(node.target)
            for node in allocations if isinstance(node, (ir.Allocate, ir.FlatView, ir.Assign))]
    return ["a0", "Y", *params, *(naming.gradient(p) for p in params), "l1", "l2", *made]


def _calls(parts, direction: str, arrays: list[str], sizes, functions: dict, aliases: dict[str, str],
           per_layer: bool) -> list[ir.Node]:
    """The calls of one pass's functions (made on first use, shared by the entry points): one
    function per layer (``per_layer``, fused over the samples), else one for the whole pass."""
    groups = [(f"{direction}{layer}", fuse_sample_loops(body, n, B, aliases)) for layer, body in parts if body] \
        if per_layer else [(f"{direction}_pass", [node for _, body in parts for node in body])]
    return [_kernel_call(name, body, arrays, sizes, functions) for name, body in groups]


def _kernel_call(name: str, body, arrays: list[str], sizes, functions: dict) -> ir.Evaluate:
    """The call of kernel ``name`` running ``body``; the kernel is made on first use and kept in
    ``functions``, and every entry point must call it with the same arrays."""
    function, call = layer_function(name, body, arrays, sizes)
    known = functions.setdefault(name, function)
    if known.arguments != function.arguments:
        raise AssertionError(f"{name} is called with different arrays by two entry points")
    return call


def _loss_call(loss: list[ir.Node], arrays: list[str], sizes, functions: dict) -> list[ir.Node]:
    """``L = batch_loss(...)``: the loss statements as a kernel of their own (for Python entry points)."""
    return [ir.Assign(LOSS, _kernel_call("batch_loss", [*loss, ir.Return((LOSS,))], arrays, sizes, functions).call)]


def index_module(deriv: IndexDerivation, version: str) -> KernelModule:
    """The kernel module of ``deriv``.

    The forward and backward statements are kernels of their own (:mod:`.layer_functions`),
    compiled once and called by every entry point: one per layer of an image network, one
    per pass of a dense one (see the comment below).  They write into arrays the entry point
    allocates up front, so ``train_epoch`` allocates once per epoch.
    """
    net = deriv.network
    params = parameter_names(deriv)
    matrices = frozenset(name for name, shape in net.param_shapes().items() if len(shape) == 2)
    work = _work_arrays(deriv)
    forward_low = Lowerer(matrices, contiguous=work)
    forward = _forward(deriv, forward_low)
    loss = loss_statements = Lowerer().lower(LOSS, _loss_expr(deriv), [])
    backward_low = Lowerer(matrices, contiguous=work, flat_views=set(forward_low.flat_views),
                           row_views=set(forward_low.row_views),
                           scratch=dict(forward_low.scratch), unfolded=dict(forward_low.unfolded))
    backward = _backward(deriv, backward_low)
    sizes = _sizes(deriv)
    forward_only = _allocations(deriv, False, forward_low)
    with_backward = _allocations(deriv, True, backward_low)
    outputs = sp.Symbol(naming.array(naming.A, len(net.layers)))

    # Kernels shared by the entry points, each compiled once (:mod:`.layer_functions`).  Image
    # networks: one per layer pass (big loop nests, fused over the samples), the loss one more, and
    # the entry points plain Python calling them (a step is 0.5 ms or more; the Python between the
    # calls is about 2% of it, and compiling that glue was 3 s of the README CNN's 7).  Dense
    # networks: one per pass (forward, backward), so the layers' short loops are optimized together
    # (a 64-16-10/b8 step was 20% slower through per-layer functions, and the same through these),
    # called by address from compiled entry points (a step is microseconds).
    images = len(net.input_shape) == 3
    kernels: dict[str, ir.KernelFunction] = {}
    aliases = view_aliases(with_backward)
    forward_calls = _calls(forward, "forward", _bound_names(params, forward_only), sizes, kernels, aliases, images)
    arrays = _bound_names(params, with_backward)
    step_forward = _calls(forward, "forward", arrays, sizes, kernels, aliases, images)
    if images:  # (the forward-only entry points make the same call: _loss_call checks it)
        loss = _loss_call(loss_statements, arrays, sizes, kernels)
        _loss_call(loss_statements, _bound_names(params, forward_only), sizes, kernels)
    step = [*sizes, *step_forward, *loss, *_calls(backward, "backward", arrays, sizes, kernels, aliases, images)]

    def entry(name: str, body) -> ir.KernelFunction:
        if images:  # plain Python: each statement is a kernel call, a view or an allocation
            return ir.KernelFunction(name, abi.ENTRY_POINTS[name].signature(params), tuple(body))
        return entry_point(name, abi.ENTRY_POINTS[name].signature(params), body)

    layers = [ir.Comment("---- the kernels, each compiled once and called by the entry points below ----"),
              *kernels.values(), ir.Comment("---- entry points ----")]
    parallel = [ir.Comment("---- the same, each batch split among the threads (--threads N) ----"),
                step_function(params, with_backward, step),
                *parallel_epoch(params, [len(shape) for shape in net.param_shapes().values()], len(net.input_shape),
                                with_backward)] if images else []
    functions = (
        *layers,
        entry("forward", [*forward_only, *sizes, *forward_calls, ir.Return((outputs,))]),
        entry("loss", [*forward_only, *sizes, *forward_calls, *loss, ir.Return((LOSS,))]),
        entry("evaluate", [*forward_only, *sizes, *forward_calls, *loss, ir.Return((LOSS, outputs))]),
        entry("loss_and_grad", [*with_backward, *step, ir.Return((LOSS,))]),
        ir.Comment("---- one epoch of training in one call ----"),
        train_epoch(params, len(net.input_shape), with_backward, step, host=images),
        *parallel,
    )
    shapes = net.param_shapes()
    codes = binding_codes({"a0": len(net.input_shape) + 1, "Y": 2, **{p: len(shapes[p]) for p in params},
                           **{naming.gradient(p): len(shapes[p]) for p in params}}, ("l1", "l2"), with_backward)
    # a kernel that returns gives the loss (a float64 sum), the others write into their arrays
    by_address = {name: ("d" if any(isinstance(node, ir.Return) for node in function.body) else "v",
                         tuple(codes[a] for a in function.arguments)) for name, function in kernels.items()}
    if images:  # the shared copy of a batch's rows (batch_rows.py), called by the Python train_epoch
        by_address["gather_rows"] = ("v", (f"f{len(net.input_shape) + 1}", "f2", "i1", "n",
                                           f"f{len(net.input_shape) + 1}", "f2"))
    functions = call_by_address(functions, by_address)
    model = (" -> ".join(l.activation for l in net.layers) + f", loss {net.loss.name} (any layer widths)"
             if net.any_width else repr(net))
    return KernelModule(version, model, "Formulas (index level: n = sample, i = input, j = neuron)",
                        tuple(str(s) for s in deriv.statements()), functions, tuple(kernels))
