"""Stage 4 -- code generation: SymPy printers, loop lowering, Numba kernels cached on disk.

``CompiledNetwork`` and ``compile_network`` load on first use: generated kernel modules
import the shared kernels (``update_rules``, ``blas_product``) from this package, and that
must not import SymPy.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .compiled import CompiledNetwork, compile_network

__all__ = ["CompiledNetwork", "compile_network"]


def __getattr__(name: str):
    if name in __all__:
        value = getattr(importlib.import_module(".compiled", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
