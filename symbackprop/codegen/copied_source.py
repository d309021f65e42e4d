"""Kernels that live in real files here and reach generated modules as imports or as text.

A generated kernel module calls a few functions that do not depend on the model: the
optimizer updates and clipping (:mod:`.update_rules`), the BLAS call (:mod:`.blas_product`),
the copy of a batch's rows (:mod:`.batch_rows`) and the vectorizable ``exp``
(:mod:`.vector_exp`).  Each has one definition, in a file of this package that marks where
its kernels start.  They reach a module in one of two ways:

* **imported** (the *shared* kernels, in the kernel cache's modules): Numba compiles them
  once per installation and caches them beside this package, so a new model's first
  compile does not compile them again (about 1 s of a 64-64-10 network's 4.3 s);
* **copied as source** (everything in an exported module, which must stand alone with
  ``math``, ``numpy`` and ``numba``; and ``_exp`` and ``_softplus`` everywhere, so that
  LLVM can inline them into the loops that call them and vectorize them).

Which of the two a module gets is its *linkage* (:data:`LINKAGES`), chosen when the
module is printed (:mod:`.module`): the same kernel IR prints as a cached module or as a
standalone one.

Everything from a file's marker on must use only what a generated module's header imports,
or import the rest itself (``blas_product.py`` does).
"""
from __future__ import annotations

import textwrap
from pathlib import Path
from types import ModuleType

MARKER = "# -- kernels (copied into generated modules from here on) --\n"

def kernel_text(module: ModuleType) -> str:
    """The part of ``module``'s file from the marker on, as source text for a generated module."""
    text = Path(module.__file__).read_text()
    if MARKER not in text:
        raise ValueError(f"{module.__name__} has no kernel marker line")
    return text.split(MARKER, 1)[1].rstrip() + "\n"


def _shared() -> list[tuple[ModuleType, tuple[str, ...]]]:
    """The shared kernel modules and the names generated code uses from each."""
    from . import batch_rows, blas_product, kernel_table, update_rules
    return [(blas_product, ("_matmul",)), (kernel_table, ("KernelTable",)), (batch_rows, ("gather_rows",)),
            (update_rules, ("RULE_SGD", "RULE_MOMENTUM", "RULE_NESTEROV", "RULE_RMSPROP", "RULE_ADAM",
                            "update", "squared_norm", "clip_by_value", "clip_by_norm"))]


def copied(module: ModuleType) -> str:
    """The block that carries ``module``'s kernels into a generated module as source."""
    return f"\n# from {Path(module.__file__).name}\n" + kernel_text(module)


def shared_imports() -> str:
    """The block of a cached module that imports the shared kernels from this package."""
    lines = ["# ---- model-independent kernels, compiled once per installation: symbackprop/codegen/ ----"]
    for module, names in _shared():
        wrapped = textwrap.wrap(", ".join(names), 88, initial_indent="    ", subsequent_indent="    ")
        lines += [f"from {module.__name__} import (", *wrapped, ")"]
    return "\n".join(lines) + "\n"


def shared_copies() -> str:
    """The same block for a standalone module: the shared kernels' source, copied, and the
    checks its entry points run on their arguments (:mod:`.argument_checks`: a standalone
    module is called by code that symbackprop did not write)."""
    from . import argument_checks
    return "".join(["# ---- model-independent kernels, copied from symbackprop/codegen/ ----\n",
                    *(copied(module) for module, _ in _shared()), copied(argument_checks)])


#: how a module gets the shared kernels: imported (the cache's modules) or copied (exported ones)
LINKAGES = {"import": shared_imports, "copy": shared_copies}
