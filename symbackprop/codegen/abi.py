"""The kernel calling convention, declared once: every entry point, its arguments in order,
what it returns, and the optimizer's arguments.

The generator builds each entry point's signature from :data:`ENTRY_POINTS`;
:class:`~.compiled.CompiledNetwork` calls them through :func:`arguments`; ``export``
documents them from the same records; the optimizer hands its state over as an
:class:`UpdateArguments`.  A change of convention is one edit here.

In an argument list, :data:`PARAMS` stands for the parameters in kernel order (``W1, b1,
W2, ...``) and :data:`GRADS` for their gradients (``gW1, gb1, ...``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Sequence

from ..model import naming

#: placeholders for the parameters and their gradients in an argument list
PARAMS, GRADS = "*params", "*grads"

#: the optimizer's part of ``train_epoch``'s arguments, in order (``lr`` comes from the schedule);
#: the names hold an underscore so that no parameter (letters and a layer number) can take one
UPDATE = ("rule", "state_1", "state_2", "lr", "hyper_1", "hyper_2", "eps")
#: the arguments of the shared kernel ``update`` (:mod:`.update_rules`): the rule, the flat
#: parameters ``p`` and gradient ``g``, the optimizer's arguments, and the 1-based step ``t``
UPDATE_CALL = ("rule", "p", "g", "state_1", "state_2", "lr", "hyper_1", "hyper_2", "eps", "t")


class UpdateArguments(NamedTuple):
    """An optimizer as arguments of the compiled ``update`` (:mod:`.update_rules`): its rule code,
    its two state vectors (empty when unused), its two hyper-parameters and ``eps``."""

    rule: int
    state_1: object
    state_2: object
    hyper_1: float
    hyper_2: float
    eps: float


@dataclass(frozen=True)
class EntryPoint:
    """One function of a generated kernel module."""

    name: str
    arguments: tuple[str, ...]
    returns: str
    doc: str

    def signature(self, params: Sequence[str]) -> tuple[str, ...]:
        """The argument names for a network whose parameters are ``params``."""
        out: list[str] = []
        for argument in self.arguments:
            if argument == PARAMS:
                out += params
            elif argument == GRADS:
                out += [naming.gradient(p) for p in params]
            else:
                out.append(argument)
        return tuple(out)


ENTRY_POINTS: dict[str, EntryPoint] = {e.name: e for e in (
    EntryPoint("forward", ("a0", PARAMS), "the outputs, shape (samples, outputs)", "for every row of a0"),
    EntryPoint("loss", ("a0", "Y", PARAMS, "l1", "l2"), "the mean loss over the rows of a0",
               "Y: the targets, shape (samples, outputs)"),
    EntryPoint("evaluate", ("a0", "Y", PARAMS, "l1", "l2"), "(mean loss, outputs)", "from one forward pass"),
    EntryPoint("loss_and_grad", ("a0", "Y", PARAMS, GRADS, "l1", "l2"), "the mean loss",
               "the gradient of each parameter is written into its g-array"),
    EntryPoint("train_epoch", ("X", "T", "order", "batch_size", "flat", "gflat", PARAMS, GRADS, *UPDATE,
                               "steps_before", "clip_value", "clip_norm", "l1", "l2"),
               "(sum of batch losses x batch sizes, first non-finite batch or -1, its loss)",
               "one epoch of mini-batch training in one call, rows of X and T gathered in the order "
               "`order`; the parameters must be views into the flat vector `flat` (the gradients into "
               "`gflat`); rule is one of RULE_SGD, RULE_MOMENTUM, RULE_NESTEROV, RULE_RMSPROP, RULE_ADAM "
               "(see `update`)"),
)}


def named(entry: str) -> dict[str, str]:
    """The plain (non-placeholder) arguments of ``entry``, name -> name: what a generator
    indexes to build the function, so a renamed argument fails where it is used."""
    return {a: a for a in ENTRY_POINTS[entry].arguments if a not in (PARAMS, GRADS)}


def update_arguments(values: dict) -> list:
    """The positional arguments of ``update`` from ``values`` by name (:data:`UPDATE_CALL`)."""
    return [values[name] for name in UPDATE_CALL]


def arguments(entry: str, values: dict, params: Sequence, grads: Sequence = ()) -> list:
    """The positional arguments of ``entry``: ``values`` by name, the parameter and gradient
    arrays where the convention puts them."""
    out: list = []
    for argument in ENTRY_POINTS[entry].arguments:
        if argument == PARAMS:
            out += params
        elif argument == GRADS:
            out += grads
        else:
            out.append(values[argument])
    return out


def describe(params: Sequence[str], width: int = 92) -> list[str]:
    """Each entry point's signature, result and purpose, as lines for a docstring."""
    import textwrap
    lines = []
    for entry in ENTRY_POINTS.values():
        signature = f"{entry.name}({', '.join(entry.signature(params))})"
        lines += textwrap.wrap(signature, width, initial_indent="    ", subsequent_indent="        ")
        lines += textwrap.wrap(f"-> {entry.returns}; {entry.doc}", width, initial_indent="        ",
                               subsequent_indent="           ")
    return lines
