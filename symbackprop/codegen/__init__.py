"""Stage 4 -- code generation: SymPy printers, loop lowering, Numba kernels cached on disk."""
from .compiled import CompiledNetwork, compile_network

__all__ = ["CompiledNetwork", "compile_network"]
