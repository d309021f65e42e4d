"""How many cores a training run's BLAS products use (``--threads N``, :func:`using_threads`).

The kernels' heavy work is BLAS ``gemm``: the dense layers' products and, through the
patch matrices, every convolution (:mod:`symbackprop.codegen.unfold`).  Their threads are
OpenBLAS's (or MKL's), set here through threadpoolctl (scikit-learn's own dependency) for
the run only.  The generated loops themselves run on one core: ``prange`` lost to BLAS for
dense networks, and the measured speed-ups at 2 threads are in ``docs/performance.md``.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from ..errors import TrainingError


def check_threads(count: int | None) -> int | None:
    """``count`` if it is None or a whole number >= 1, else one line saying why not."""
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise TrainingError(f"threads must be a whole number of at least 1, got {count!r}")
    return count


@contextmanager
def using_threads(count: int | None) -> Iterator[None]:
    """Within the block, BLAS uses ``count`` threads (None: leave the libraries' own setting)."""
    if check_threads(count) is None:
        yield
        return
    import scipy.linalg.cython_blas  # noqa: F401  (Numba's BLAS: loaded now, so that the limit reaches it)
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=count, user_api="blas"):
        yield
