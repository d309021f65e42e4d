"""``log(1 + exp(u))`` without overflow, for the stable cross-entropy losses.

``stabilize`` (:mod:`symbackprop.simplify.stabilize`) writes ``log(1 + exp(u))`` as
``softplus(u)``; the printer prints it as a call of ``_softplus``, whose code below the
marker is copied into every generated module (:mod:`.copied_source`), so LLVM inlines it.
"""
import math

from numba import njit

# -- kernels (copied into generated modules from here on) --


@njit(cache=True, inline="always")
def _softplus(u):
    # log(1 + exp(u)) without overflow: max(u, 0) + log1p(exp(-|u|))
    return max(u, 0.0) + math.log1p(math.exp(-abs(u)))
