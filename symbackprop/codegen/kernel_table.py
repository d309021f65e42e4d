"""Kernels called by address: compiled once each, never again inside the functions that call them.

When one ``@njit`` function calls another, Numba links a copy of the callee's compiled
code into the caller and optimizes the whole again: every entry point of the README CNN
re-optimized every layer function it called, and ``train_epoch`` re-optimized the
optimizer's ``update`` too (0.4 s of every network's first compile).  Half of the CNN's
compile time went on those copies (measured in ``docs/performance.md``).

A *first-class function* argument avoids the copy: the caller receives the callee as a
function pointer (Numba's ``FunctionType``) and calls it by address, so its own code stays
small, and it can still be cached, because the address is an argument and not a constant
baked into its code.  A :class:`KernelTable` makes those arguments: for a precision and a
list of names, a tuple of the compiled kernels, each compiled (or loaded from Numba's
cache) for the argument types the generator recorded.  A generated module declares its
table once; each entry point that calls kernels by address is a compiled function whose
first argument is that tuple, behind a plain Python function with the public signature
(:mod:`.calls_by_address`).

Types are recorded as short codes: ``f3`` a C-contiguous array of the run's float dtype
with 3 axes, ``i4`` one of ``int64``, ``d`` a ``float64`` scalar, ``n`` an ``int64``
scalar, ``v`` no result.  The kernels are plain ``@njit`` functions.  An exception cannot
cross a call by address: Numba prints it and the caller goes on.  The generated kernels
raise only in ``_matmul``'s shape check, which arrays of the declared shapes never fail:
:class:`~.compiled.CompiledNetwork` checks the parameters before any call; a caller of
an exported module must pass the shapes its docstring lists.

Importing a module that uses this one silences Numba's "first-class function type feature
is experimental" warning, for the whole process.
"""
# -- kernels (copied into generated modules from here on) --

import warnings  # noqa: E402  (copied with the kernels: a module's header lacks these)

import numpy as np  # noqa: E402
from numba import from_dtype, types  # noqa: E402
from numba.core.errors import NumbaExperimentalFeatureWarning  # noqa: E402
from numba.core.types import WrapperAddressProtocol  # noqa: E402
import numba.experimental.function_type  # noqa: E402,F401  (lets Numba type WrapperAddressProtocol objects)

# calls by address are a Numba feature marked experimental; these modules rely on it knowingly
warnings.filterwarnings("ignore", message="First-class function type feature is experimental",
                        category=NumbaExperimentalFeatureWarning)


def _numba_type(code, dtype):
    """The Numba type a code stands for, in precision ``dtype`` (see the module's docstring)."""
    if code == "v":
        return types.none
    if code == "d":
        return types.float64
    if code == "n":
        return types.int64
    base = from_dtype(dtype) if code[0] == "f" else types.int64
    return types.Array(base, int(code[1:]), "C")


class _ByAddress(WrapperAddressProtocol):
    """One kernel with a declared signature, as a value Numba passes by address.

    Its signature is known before it is compiled, so a caller can be compiled first (or in
    another process); the kernel is compiled, or loaded from Numba's cache, when its address
    is first needed, and its compiled signature must be the declared one.
    """

    def __init__(self, dispatcher, signature):
        self._dispatcher, self._signature, self._address = dispatcher, signature, None

    def signature(self):
        return self._signature

    def compiled(self):
        """Whether the kernel is compiled (or loaded) in this process already."""
        return self._signature.args in self._dispatcher.overloads

    def compile(self):
        if self._address is None:
            self._dispatcher.compile(self._signature.args)  # compiles, or loads from Numba's cache
            compiled = self._dispatcher.overloads[self._signature.args]
            if compiled.signature.return_type != self._signature.return_type:
                raise TypeError(f"{self._dispatcher.py_func.__name__} returns {compiled.signature.return_type}, "
                                f"declared {self._signature.return_type}")
            self._address = compiled.library.get_pointer_to_function(compiled.fndesc.llvm_cfunc_wrapper_name)
        return self._address

    def __wrapper_address__(self):
        return self.compile()


class KernelTable:
    """The kernels a module calls by address: each one's name, result and argument codes, and
    which compiled function takes which (``uses``: its name to the kernels' names, in order).

    ``table(function, like)`` is the tuple ``function`` takes, in the precision of the array
    ``like``; its kernels are made on first use and kept, one per precision.
    """

    def __init__(self, namespace, kernels, uses):
        self._namespace = namespace
        self._codes = {name: (returns, arguments) for name, returns, arguments in kernels}
        self._uses = dict(uses)
        self._made = {}

    def kernel(self, name, like):
        """The kernel ``name`` in the precision of ``like``."""
        key = (name, like.dtype.str)
        made = self._made.get(key)
        if made is None:
            dtype = np.dtype(like.dtype)
            returns, arguments = self._codes[name]
            signature = _numba_type(returns, dtype)(*(_numba_type(code, dtype) for code in arguments))
            made = self._made[key] = _ByAddress(self._namespace[name], signature)
        return made

    def names(self, function):
        """The names of the kernels the compiled ``function`` takes (or a Python function calls)."""
        return self._uses[getattr(function, "py_func", function).__name__]

    def __call__(self, function, like):
        return tuple(self.kernel(name, like) for name in self.names(function))
