"""The fused training kernel shared by every generated module, built as kernel IR.

``train_epoch`` runs a whole epoch in compiled code: it gathers each mini-batch by a
shuffled index array, runs the module's step (forward, loss, backward into work arrays
allocated once), checks the loss and gradient are finite, clips, and calls the
optimizer ``update`` from :mod:`.update_rules` (a shared kernel: see :mod:`.copied_source`).
One call per epoch means no Python between forward, backward and update; the work arrays
are made once for the whole batches and once more for a shorter last batch.  Its
arguments are the ABI's (:data:`.abi.ENTRY_POINTS`).

An image network's ``train_epoch`` is the same statements as a plain Python function
(``host=True``): its step is a dozen calls of compiled layer kernels, 0.5 ms or more, of
which the Python between them is about 2%; compiling that sequence with Numba took more
of the README CNN's cold compile than any layer (2 s of 7).  Its batch's rows are copied
by the shared kernel ``gather_rows`` (:mod:`.batch_rows`), the one loop Python would run
slowly.
"""
from __future__ import annotations

from typing import Sequence

import sympy as sp

from . import abi, ir
from .module import entry_point

_DOC = (
    "One epoch of mini-batch training in one compiled call: gather each batch of rows of",
    "the inputs X and targets T by `order`, forward, loss, backward, optional clipping and",
    "the optimizer's update of `flat` (which the parameters are views of), with no Python",
    "in between.  Returns (sum of batch losses weighted by batch size, index of the first",
    "batch whose loss or gradient was not finite or -1, that batch's loss).",
    "Two passes: the whole batches, then a shorter last batch if there is one, each with",
    "work arrays of its batch's size made before its loop: re-binding arrays inside the",
    "batch loop would make Numba count references on every step (20% of a 64-16-10 step).",
    "The loop's own names start with 'ep_': the step's statements use n, i, j, B, L, ...",
)

_HOST_DOC = (
    "One epoch of mini-batch training: gather each batch of rows of the inputs X and targets T",
    "by `order`, then forward, loss, backward, optional clipping and the optimizer's update of",
    "`flat` (which the parameters are views of), each a compiled kernel; this loop is Python,",
    "a few microseconds a step.  Returns (sum of batch losses weighted by batch size, index of",
    "the first batch whose loss or gradient was not finite or -1, that batch's loss).",
    "Work arrays are made once for the whole batches and once more for a shorter last batch.",
)


def _gather(input_ndim: int, X: sp.Symbol, a0: sp.Symbol, r: sp.Symbol, row: sp.Symbol) -> tuple[ir.Node, ...]:
    """Copy input row ``row`` into batch row ``r``: one loop per axis of a sample."""
    axes = ir.symbols(*(f"ep_c{k}" for k in range(1, input_ndim + 1)))
    copy = ir.Assign(sp.IndexedBase(a0)[(r, *axes)], sp.IndexedBase(X)[(row, *axes)])
    return ir.nest(copy.target, copy.value, [(axis, ir.Dim(X, k + 1)) for k, axis in enumerate(axes)])


def train_epoch(params: Sequence[str], input_ndim: int, allocate: Sequence[ir.Node],
                step: Sequence[ir.Node], name: str = "train_epoch", doc: Sequence[str] | None = None,
                extra_arguments: Sequence[str] = (), host: bool = False) -> ir.KernelFunction:
    """``train_epoch`` for a network with parameters ``params``.

    ``input_ndim``: axes of one sample (1 for features, 3 for images); ``allocate``:
    statements creating the work arrays for a batch ``a0``; ``step``: statements that
    compute the batch's mean loss ``L`` and write the gradients into ``gW1, gb1, ...``.
    ``host``: a plain Python function whose step calls compiled kernels (see the module's
    docstring), else one compiled call.
    """
    arg = {name: sp.Symbol(name) for name in abi.named("train_epoch")}  # the ABI's names, or a KeyError here
    X, T, order, batch_size, flat, gflat = (arg[k] for k in ("X", "T", "order", "batch_size", "flat", "gflat"))
    steps_before, clip_value, clip_norm = arg["steps_before"], arg["clip_value"], arg["clip_norm"]
    L, a0, Y = ir.symbols("L", "a0", "Y")
    rows, whole, total, ep_pass, size, count, k, batch, first, r, row, column = ir.symbols(
        "ep_rows", "ep_whole", "ep_total", "ep_pass", "ep_size", "ep_count", "ep_k", "ep_batch", "ep_first", "ep_r",
        "ep_row", "ep_c")
    is_first_pass = sp.Eq(ep_pass, 0)
    gather = ir.Evaluate(ir.call("gather_rows", X, T, order, first, a0, Y)) if host else \
        ir.Loop(r, size, (ir.Assign(row, sp.IndexedBase(order)[first + r]),
                          *_gather(input_ndim, X, a0, r, row),
                          ir.Loop(column, ir.Dim(T, 1), (
                              ir.Assign(sp.IndexedBase(Y)[r, column], sp.IndexedBase(T)[row, column]),))))
    check_clip_update = (
        ir.Comment("---- check, clip, update ----"),
        ir.Branch(sp.Not(sp.And(ir.IsFinite(L), ir.IsFinite(ir.call("squared_norm", gflat)))),
                  (ir.Return((total, batch, L)),)),
        ir.Branch(sp.Gt(clip_value, 0.0), (ir.Evaluate(ir.call("clip_by_value", gflat, clip_value)),)),
        ir.Branch(sp.Gt(clip_norm, 0.0), (ir.Evaluate(ir.call("clip_by_norm", gflat, clip_norm)),)),
        ir.Evaluate(ir.call("update", *abi.update_arguments({**arg, "p": flat, "g": gflat,
                                                               "t": steps_before + batch + 1.0}))),
        ir.Assign(total, L * size, "+"),
    )
    batches = ir.Loop(k, count, (
        ir.Assign(batch, k + ep_pass * whole),
        ir.Assign(first, batch * batch_size),
        gather,
        ir.Comment("---- forward, loss, backward ----"),
        *step,
        *check_clip_update,
    ))
    passes = ir.Loop(ep_pass, 2, (
        ir.Assign(size, sp.Piecewise((batch_size, is_first_pass), (rows - whole * batch_size, True))),
        ir.Assign(count, sp.Piecewise((whole, is_first_pass), (sp.Min(size, 1), True))),
        ir.Branch(sp.Eq(count, 0), (ir.Skip(),)),
        ir.Allocate(a0, (size, *(ir.Dim(X, axis) for axis in range(1, input_ndim + 1))), "X"),
        ir.Allocate(Y, (size, ir.Dim(T, 1)), "T"),
        *allocate,
        batches,
    ))
    body = (ir.Assign(rows, ir.Dim(order, 0)), ir.Assign(whole, ir.FloorDiv(rows, batch_size)),
            ir.Assign(total, sp.Float(0.0)), passes, ir.Return((total, sp.Integer(-1), sp.Float(0.0))))
    arguments = (*abi.ENTRY_POINTS["train_epoch"].signature(params), *extra_arguments)
    if host:
        return ir.KernelFunction(name, arguments, body, "", tuple(_HOST_DOC if doc is None else doc))
    return entry_point(name, arguments, body, tuple(_DOC if doc is None else doc))
