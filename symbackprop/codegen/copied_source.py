"""Kernels that live in real files here and are also copied, as text, into generated modules.

A generated kernel module must stand alone (it imports only ``math``, ``numpy`` and
``numba``), yet some of its functions — the optimizer updates, the vectorizable ``exp`` —
should have one definition that tests and the library import directly.  Such a file marks
where its copyable part starts; everything from the marker on must use only what a
generated module's header imports.
"""
from __future__ import annotations

from pathlib import Path
from types import ModuleType

MARKER = "# -- kernels (copied into generated modules from here on) --\n"


def kernel_text(module: ModuleType) -> str:
    """The part of ``module``'s file from the marker on, as source text for a generated module."""
    text = Path(module.__file__).read_text()
    if MARKER not in text:
        raise ValueError(f"{module.__name__} has no kernel marker line")
    return text.split(MARKER, 1)[1].rstrip() + "\n"
