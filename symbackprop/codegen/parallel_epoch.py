"""The batch-parallel epoch (``--threads N``): each mini-batch split among Numba's threads.

BLAS threads do not pay for a CNN's products: they are one per sample and small (a
32×144 by 144×196 product at 28×28), and two OpenBLAS threads made the README CNN's step
slower (12.7 against 9.1 ms on 2 cores).  The samples of a batch are independent until
the gradient is summed, so ``parallel_epoch`` splits each batch into one contiguous part
per thread: ``prange`` runs :func:`step` -- forward, loss, backward of one part, the same
layer functions as every entry point -- on views of the work arrays (rows ``lo:hi``), each
thread with its own gradient and scratch arrays, then adds the parts' gradients weighted
by their sizes.  Everything else (gather, checks, clipping, update) is ``train_epoch``'s.

The result is the batch mean, as in ``train_epoch``, added in a different order: equal to
rounding, not bit for bit.
"""
from __future__ import annotations

from typing import Sequence

import sympy as sp

from ..model import naming
from . import ir
from .module import PARALLEL_DECORATOR, entry_point
from .training_kernel import train_epoch

A0, Y, L = ir.symbols("a0", "Y", "L")

_DOC = (
    "train_epoch with each batch split among Numba's threads (numba.set_num_threads): each",
    "thread runs `step` on its part of the batch, with its own gradient; the parts' gradients",
    "are added weighted by their sizes.  train_epoch's arguments and result; then `threads`.",
)


def _is_batch_array(node: ir.Node) -> bool:
    return isinstance(node, ir.Allocate) and bool(node.shape) and node.shape[0] == ir.Dim(A0, 0)


def step_function(params: Sequence[str], allocations: Sequence[ir.Node], step: Sequence[ir.Node]) -> ir.KernelFunction:
    """``step``: one (part of a) batch's forward, loss and backward on arrays it is given.

    Its arguments: the loss-and-gradient arguments, then every work array (batch first) and
    scratch array the allocations make; the aliases and flat views of them are made inside,
    from the arrays it gets (rows of the caller's).
    """
    made = [node for node in allocations if isinstance(node, ir.Allocate)]
    derived = [node for node in allocations if not isinstance(node, ir.Allocate)]
    arguments = ("a0", "Y", *params, *(naming.gradient(p) for p in params), "l1", "l2",
                 *(str(node.name) for node in made))
    return entry_point("step", arguments, [*derived, *step, ir.Return((L,))])


def parallel_epoch(params: Sequence[str], param_ndims: Sequence[int], input_ndim: int,
                   allocations: Sequence[ir.Node]) -> tuple[ir.KernelFunction, ir.KernelFunction]:
    """``split_step`` (``step`` on one part of the batch per thread) and ``parallel_epoch``:
    ``train_epoch`` whose step is ``split_step``, with one more argument, ``threads``."""
    threads, per, t, lo, hi, weight = ir.symbols("ep_threads", "ep_per", "ep_t", "ep_lo", "ep_hi", "ep_weight")
    size = ir.Dim(A0, 0)
    made = [node for node in allocations if isinstance(node, ir.Allocate)]
    batch = [node for node in made if _is_batch_array(node)]
    own = [node for node in made if not _is_batch_array(node)]  # one per thread
    grads = [naming.gradient(p) for p in params]

    def per_thread(name: str) -> sp.Symbol:
        return sp.Symbol(f"ep_{name}")

    allocate: list[ir.Node] = [
        ir.Comment("---- one part of each batch per thread; each thread's own gradient and scratch ----"),
        ir.Assign(threads, sp.Min(sp.Symbol("threads"), size)),
        ir.Assign(per, ir.FloorDiv(size + threads - 1, threads)),
        ir.Assign(threads, ir.FloorDiv(size + per - 1, per)),  # no part left empty
        *batch,
        *(ir.Allocate(per_thread(str(node.name)), (threads, *node.shape), node.dtype) for node in own),
        *(ir.Allocate(per_thread(g), (threads, *(ir.Dim(sp.Symbol(g), k) for k in range(ndim))), "a0")
          for g, ndim in zip(grads, param_ndims)),
        ir.Allocate(weight, (threads,), "a0"),
    ]
    arguments = [ir.Rows(A0, lo, hi), ir.Rows(Y, lo, hi), *ir.symbols(*params),
                 *(ir.Part(per_thread(g), t) for g in grads), *ir.symbols("l1", "l2"),
                 *(ir.Rows(node.name, lo, hi) if _is_batch_array(node) else ir.Part(per_thread(str(node.name)), t)
                   for node in made)]
    chunks = ir.Loop(t, threads, (
        ir.Assign(lo, t * per),
        ir.Assign(hi, sp.Min(lo + per, size)),
        ir.Assign(sp.IndexedBase(weight)[t], (hi - lo) / size),
        ir.Assign(L, ir.call("step", *arguments) * (hi - lo) / size, "+"),
    ), parallel=True)
    # the threads' loop alone is the parallel=True function: Numba's parfor analysis of the whole
    # epoch took 22 s, and get_num_threads() inside one keeps it out of the cache (a dynamic global)
    split_arguments = (str(threads), str(per), "a0", "Y", *params, *(str(per_thread(g)) for g in grads), "l1", "l2",
                       *(str(node.name) if _is_batch_array(node) else str(per_thread(str(node.name)))
                         for node in made), str(weight))
    split = ir.KernelFunction("split_step", split_arguments, (ir.Assign(L, sp.Float(0.0)), chunks, ir.Return((L,))),
                              PARALLEL_DECORATOR, ("The batch a0 in `ep_threads` parts, `step` on each in "
                                                   "parallel; returns the weighted sum of their losses.",))
    step: list[ir.Node] = [ir.Assign(L, ir.call("split_step", *ir.symbols(*split_arguments)))]
    e, u, total = ir.symbols("ep_e", "ep_u", "ep_sum")
    for g in grads:
        flat, parts = sp.Symbol(f"{g}_all"), sp.Symbol(f"ep_{g}_parts")
        step += [ir.FlatView(flat, sp.Symbol(g)), ir.FlatView(parts, per_thread(g), per_sample=True),
                 ir.Loop(e, ir.Length(flat), (
                     ir.Assign(total, sp.Float(0.0)),
                     ir.Loop(u, threads, (ir.Assign(total, sp.IndexedBase(parts)[u, e] * sp.IndexedBase(weight)[u],
                                                    "+"),)),
                     ir.Assign(sp.IndexedBase(flat)[e], total)))]
    return split, train_epoch(params, input_ndim, allocate, step, name="parallel_epoch", doc=_DOC,
                              extra_arguments=("threads",))
