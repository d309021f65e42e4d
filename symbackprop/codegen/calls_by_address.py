"""Entry points that call kernels by address, so Numba compiles each kernel once.

Numba compiles a direct call of one ``@njit`` function from another by linking a copy of the
callee into the caller and optimizing the whole again.  The kernels called from several
places -- a CNN's layer functions, the optimizer's ``update``, the gradient checks and
clipping -- were therefore optimized once per caller: half of the README CNN's compile
time, and 0.4 s of every network's ``train_epoch``.  This pass rewrites a module so that
those kernels are called by address instead (:mod:`.kernel_table`):

* a compiled function that calls any of them, directly or through another compiled
  function of the module, takes a first argument ``kernels``: the tuple of those it needs,
  in table order, each bound to its own name at the top (``update = kernels[4]``), so the
  statements below read as before;
* a call of such a function passes it the part of ``kernels`` it needs;
* a public entry point (:data:`.abi.ENTRY_POINTS`, ``parallel_epoch``) becomes ``_name``,
  behind a plain Python function ``name`` with the public arguments, which fetches the
  tuple for its first argument's precision from the module's table and calls it;
* a plain Python function (an image network's entry points) is left as it is: it calls
  the kernels' dispatchers, and the table only records which it calls, so that a cold
  compile can compile them, with their declared types, before the first call.

Kernels called by address must have C-contiguous array arguments of the types recorded
for them; the entry points make every array they pass, and :class:`~.compiled.CompiledNetwork`
passes contiguous inputs and parameters.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import sympy as sp

from . import abi, ir

#: the shared kernels (:mod:`.update_rules`), their result and argument codes (:mod:`.kernel_table`):
#: ``update(rule, p, g, s1, s2, lr, h1, h2, eps, t)``, ``squared_norm(g)``, ``clip_by_*(g, limit)``
SHARED_CODES = {"update": ("v", ("n", "f1", "f1", "f1", "f1", "d", "d", "d", "d", "d")),
                "squared_norm": ("d", ("f1",)), "clip_by_value": ("v", ("f1", "d")), "clip_by_norm": ("d", ("f1", "d"))}

#: the module-level table, and the argument that carries a function's part of it
TABLE, KERNELS = "_kernels", "kernels"
#: the functions callers outside a module use (they keep their names and signatures)
PUBLIC = (*abi.ENTRY_POINTS, "parallel_epoch")


def _called(nodes) -> list[str]:
    """The names of the functions ``nodes`` call, statement by statement (within one, sorted)."""
    seen: dict[str, None] = {}
    for expr in ir.expressions(nodes):
        for call in sorted(expr.atoms(ir.Call), key=sp.default_sort_key):
            seen.setdefault(str(call.args[0]))
    return list(seen)


def call_by_address(functions: Sequence[ir.Node], codes: Mapping[str, tuple[str, tuple[str, ...]]],
                    public: Sequence[str] = PUBLIC) -> tuple[ir.Node, ...]:
    """``functions`` (a module's functions and comments, in order) with every call of a kernel
    in ``codes`` (name to its result and argument codes; the shared kernels are added) made by
    address.

    ``public``: the names callers outside the module use; those that take ``kernels`` keep
    their name and arguments as a Python function in front of the compiled one.  Functions
    must come after those they call.
    """
    codes = {**codes, **SHARED_CODES}
    compiled = {node.name: node for node in functions if isinstance(node, ir.KernelFunction) and node.decorator}
    python = {node.name: node for node in functions if isinstance(node, ir.KernelFunction) and not node.decorator}
    order = [name for name in codes if name in compiled] + [name for name in codes if name not in compiled]
    calls = {name: _called(function.body) for name, function in compiled.items()}
    # what each function needs, through the functions it calls too (they call only earlier ones)
    needs: dict[str, set[str]] = {}
    for name, function in compiled.items():
        if name in codes:
            continue
        wanted = {c for c in calls[name] if c in codes}
        for callee in calls[name]:
            wanted |= needs.get(callee, set())
        if wanted:
            needs[name] = wanted
    own = {name: tuple(k for k in order if k in wanted) for name, wanted in needs.items()}
    # plain Python functions call the kernels' dispatchers themselves; the table records which,
    # so that a cold compile can compile those kernels up front (CompiledNetwork.warm_up)
    direct = {name: tuple(k for k in order if k in _called(function.body)) for name, function in python.items()}
    direct = {name: kernels for name, kernels in direct.items() if kernels}
    if not own and not direct:
        return tuple(functions)
    kernels = sp.IndexedBase(KERNELS)

    def renamed(name: str) -> str:
        return f"_{name}" if name in public else name

    def passing(caller: str):
        def change(expr):
            if not isinstance(expr, sp.Basic):
                return expr

            def through(call: ir.Call) -> ir.Call:
                name, *args = call.args
                callee = own[str(name)]
                part = (sp.Symbol(KERNELS) if callee == own[caller]
                        else sp.Tuple(*(kernels[own[caller].index(k)] for k in callee)))
                return ir.Call(sp.Symbol(renamed(str(name))), part, *args)
            return expr.replace(lambda e: isinstance(e, ir.Call) and str(e.args[0]) in own, through)
        return change

    out: list[ir.Node] = []
    for node in functions:
        users = isinstance(node, ir.KernelFunction) and (node.name in own or node.name in direct)
        if users and not any(isinstance(done, ir.KernelTableDeclaration) for done in out):  # before the first user
            out += [ir.Comment("---- kernels called by address (first-class functions): each compiled once, "
                               "where a direct call\n     would have Numba optimize it again inside every caller "
                               "(symbackprop/codegen/kernel_table.py) ----"),
                    ir.KernelTableDeclaration(TABLE, tuple((k, *codes[k]) for k in order),
                                              (*((renamed(f), kernels) for f, kernels in own.items()),
                                               *direct.items()))]
        if not (isinstance(node, ir.KernelFunction) and node.name in own):
            out.append(node)
            continue
        name = node.name
        bind = tuple(ir.Assign(sp.Symbol(k), kernels[i]) for i, k in enumerate(own[name]) if k in calls[name])
        body = ir.map_expressions(node.body, passing(name))
        out.append(ir.KernelFunction(renamed(name), (KERNELS, *node.arguments), (*bind, *body), node.decorator,
                                     node.doc))
        if name in public:
            fetch = ir.call(TABLE, sp.Symbol(renamed(name)), sp.Symbol(node.arguments[0]))
            out.append(ir.KernelFunction(name, node.arguments, (
                ir.Return((ir.call(renamed(name), fetch, *ir.symbols(*node.arguments)),)),), "",
                (f"{name} with the kernels it calls by address, compiled for {node.arguments[0]}'s precision",)))
    return tuple(out)
