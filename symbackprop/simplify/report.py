"""The op-count report: naive vs naive + CSE vs chain rule vs forward alone.

Two ways to count, for two sizes of network:

* **unrolled** (small networks): scalar expressions, counted with ``sympy.count_ops``:
  the naive gradients (fully substituted loss, one ``diff`` per parameter), the same
  after ``sympy.cse``, and the chain-rule program after CSE;
* **index level** (any size): the operations the generated loops perform per sample,
  from the generic-neuron rules and the layer widths (a ``Sum`` over ``k < K`` costs
  ``K`` bodies and ``K - 1`` additions, and is computed once per value of the indices
  it depends on, as the lowering does).  The naive form of a large network cannot be
  built at all -- that is the point -- so it is left out and said so.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import sympy as sp

from ..model.notation import ArgMax, B, take_brackets, trip_count
from .opcount import ops, ops_after_cse

if TYPE_CHECKING:
    from ..derive.index_level import IndexDerivation, Statement
    from ..derive.unrolled import UnrolledDerivation
    from ..model.network import Network

#: networks with more parameters than this are not differentiated naively by default
NAIVE_PARAM_LIMIT = 400


@dataclass
class OpCountReport:
    """Operation counts for one sample's loss and gradients."""

    model: str
    n_params: int
    method: str  # "unrolled" or "index"
    forward: int
    chain_rule: int
    naive: int | None = None
    naive_cse: int | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    note: str = ""

    def ratio(self) -> float | None:
        """How many times more operations the naive gradients take than the chain rule."""
        return None if self.naive is None else self.naive / self.chain_rule

    def table(self) -> str:
        rows = [("naive  (∂L/∂w of the substituted loss, each w)", self.naive),
                ("naive + CSE", self.naive_cse),
                ("chain rule (backprop) + CSE", self.chain_rule),
                ("forward pass + loss alone", self.forward)]
        width = max(len(r[0]) for r in rows)
        lines = [f"Operation counts per sample, {self.model} ({self.n_params:,} parameters, "
                 f"{'scalar expressions' if self.method == 'unrolled' else 'generated loops'}):"]
        for label, value in rows:
            shown = f"{value:>12,}" if value is not None else f"{'—':>12}"
            lines.append(f"  {label:<{width}}  {shown}")
        if self.naive is not None:
            lines.append(f"  shared partial derivatives save {self.ratio():,.0f}× over the naive form; "
                         f"backward/forward = {(self.chain_rule - self.forward) / self.forward:.2f}")
        else:
            lines.append(f"  backward/forward = {(self.chain_rule - self.forward) / self.forward:.2f}")
        if self.note:
            lines.append(f"  ({self.note})")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "OpCountReport":
        return cls(**data)


def count_unrolled(network: "Network", naive: bool | None = None) -> OpCountReport:
    """Count scalar operations of the unrolled chain rule (and the naive form if asked).

    ``naive=None`` computes the naive form only up to :data:`NAIVE_PARAM_LIMIT` parameters.
    """
    from ..derive.naive import derive_naive
    from ..derive.unrolled import derive_unrolled

    unrolled = derive_unrolled(network)
    report = count_unrolled_program(unrolled)
    if naive is None:
        naive = network.n_params <= NAIVE_PARAM_LIMIT
    if naive:
        nd = derive_naive(unrolled)
        report.seconds["naive_derivation"] = nd.seconds
        grads = list(nd.gradients.values())
        report.naive = ops(grads)
        t = time.perf_counter()
        report.naive_cse = ops_after_cse(grads)
        report.seconds["naive_cse"] = time.perf_counter() - t
    elif network.n_params > NAIVE_PARAM_LIMIT:
        report.note = f"naive form skipped: {network.n_params:,} parameters > {NAIVE_PARAM_LIMIT}"
    else:
        report.note = "naive form not requested"
    return report


def count_unrolled_program(unrolled: "UnrolledDerivation") -> OpCountReport:
    """Forward and chain-rule counts (after CSE) of an unrolled derivation; no naive form."""
    t = time.perf_counter()
    forward = ops_after_cse([a.expr for a in unrolled.forward])
    chain = ops_after_cse([a.expr for a in unrolled.program])
    seconds = {"chain_rule_derivation": unrolled.seconds, "chain_rule_cse": time.perf_counter() - t}
    net = unrolled.network
    return OpCountReport(repr(net), net.n_params, "unrolled", forward, chain, seconds=seconds)


def count_index(deriv: "IndexDerivation") -> OpCountReport:
    """Count the operations the index-level loops perform for one sample."""
    extents = {**deriv.extents()}
    extents[B] = 1
    forward = sum(statement_ops(s, extents) for s in deriv.forward + [deriv.loss])
    backward = sum(statement_ops(s, extents) for s in deriv.backward)
    return OpCountReport(repr(deriv.network), deriv.network.n_params, "index", forward, forward + backward,
                         seconds={"chain_rule_derivation": deriv.seconds},
                         note="naive form not built at the index level")


def statement_ops(stmt: "Statement", extents: dict) -> int:
    """Operations to evaluate ``stmt`` for every value of its loop indices."""
    loops = {var: int(sp.sympify(ext).subs(extents)) for var, ext in stmt.loops}
    body = stmt.expr.subs(extents)
    if stmt.target == body:  # identity activation: no work
        return 0
    return _cost(body, loops)


def _cost(expr: sp.Expr, loops: dict[sp.Symbol, int]) -> int:
    """Operations of ``expr`` for every value of ``loops``; sums (and arg maxes) are computed once
    per value of the indices they use.  Index brackets are loop bounds: they shorten the
    loop (:func:`trip_count`) and cost nothing per iteration."""
    sums: dict[sp.Expr, sp.Dummy] = {}

    def hide(e: sp.Expr) -> sp.Expr:
        if isinstance(e, (sp.Sum, ArgMax)):
            return sums.setdefault(e, sp.Dummy())
        return e.func(*(hide(a) for a in e.args)) if e.args else e

    rest = hide(expr)
    total = math.prod(loops.values()) * int(sp.count_ops(rest))
    for s in sums:
        outer = {v: n for v, n in loops.items() if v in s.free_symbols}
        if isinstance(s, ArgMax):  # one comparison per position of the window
            positions = math.prod(int(hi - lo + 1) for _, lo, hi in s.limits)
            total += math.prod(outer.values()) * positions
            continue
        (k, lo, hi), *more = s.limits
        function, brackets = take_brackets(s.function, k, {lim[0] for lim in more})
        body = function if not more else sp.Sum(function, *more)
        count = trip_count(k, int(hi - lo + 1), brackets, {})
        total += math.prod(outer.values()) * (_cost(body, {k: count}) + count - 1)
    return total
