"""Matrix products into an existing array, straight into BLAS's ``gemm``.

Inside ``@njit`` code ``np.dot(a, b, out)`` does the same arithmetic (Numba calls the same
BLAS function), but each call first goes through Numba's generic wrapper: it re-checks the
layouts, may copy, counts references to views of its arguments and then calls
``numba_xxgemm``.  A 64-16-10 training step makes five such calls on 8-row matrices, where
that wrapper was 5% of the step (1.97 against 1.89 µs per step, the same weights, aligned).
``_matmul`` checks the shapes and calls Numba's ``numba_xxgemm`` helper directly, through
the code generator ``np.dot`` itself uses (``numba.np.linalg.call_xxgemm``): a C- or
F-contiguous operand (a C array or the ``.T`` of one) is passed to BLAS with the matching
transpose flag, as ``np.dot`` passes it.  Operands of any other layout, a result that is
not C-contiguous (computed, then copied in), or a Numba without ``call_xxgemm`` (it is
Numba's internal API) take ``np.dot``.

Cached kernel modules import ``_matmul`` from here; exported ones carry a copy of the code
below the marker, which therefore makes the imports a module's header does not
(:mod:`.copied_source`).
"""
import numpy as np
from numba import njit, types
from numba.extending import intrinsic

# -- kernels (copied into generated modules from here on) --

from numba.core import cgutils  # noqa: E402  (copied with the kernels: a module's header lacks it)

try:  # Numba's own BLAS call generator (internal API): without it _matmul is np.dot
    from numba.np.linalg import call_xxgemm, ensure_blas
except ImportError:  # pragma: no cover - depends on the Numba release
    call_xxgemm = ensure_blas = None


def _dot_into(a, b, out):
    np.dot(a, b, out)


def _dot_copied_into(a, b, out):  # Numba's np.dot writes only into C-contiguous results
    out[:, :] = np.dot(a, b)


@intrinsic
def _gemm(typingctx, a, b, out):
    """``out = a @ b`` by one ``gemm`` call; shapes are the caller's to check (``_matmul``)."""
    direct = (call_xxgemm is not None and a.layout in "CF" and b.layout in "CF" and out.layout == "C"
              and a.dtype == b.dtype == out.dtype and a.dtype in (types.float32, types.float64))

    def codegen(context, builder, signature, args):
        if not direct:
            fallback = _dot_into if out.layout == "C" else _dot_copied_into
            return context.compile_internal(builder, fallback, signature, args)
        ensure_blas()
        arrays = [context.make_array(t)(context, builder, v) for t, v in zip(signature.args, args)]
        shapes = [cgutils.unpack_tuple(builder, array.shape) for array in arrays]
        call_xxgemm(context, builder, *[x for t, s, array in zip(signature.args, shapes, arrays)
                                        for x in (t, s, array.data)])
        return context.get_dummy_value()
    return types.none(a, b, out), codegen


@njit(cache=True)
def _matmul(a, b, out):
    """``out[...] = a @ b`` for 2-D float arrays, as ``np.dot(a, b, out)`` computes it."""
    if a.shape[1] != b.shape[0] or out.shape[0] != a.shape[0] or out.shape[1] != b.shape[1]:
        raise ValueError("matrix product: the shapes of the operands and the result do not fit")
    if out.size == 0:
        return
    if a.shape[1] == 0:
        out[:, :] = 0.0
        return
    _gemm(a, b, out)
