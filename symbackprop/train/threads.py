"""How many cores a training run uses (``--threads N``, :func:`using_threads`).

Measured on the README CNN and on dense networks (``docs/performance.md``), the threads
pay in different places:

* an image network's products are small, one per sample; two BLAS threads made its step
  slower.  Its batches are split among Numba's threads instead (``parallel_epoch``,
  :mod:`symbackprop.codegen.parallel_epoch`), each thread with one-thread BLAS;
* a dense network's products are large: BLAS's own threads (``prange`` lost to them).

BLAS's threads are set through threadpoolctl (scikit-learn's own dependency), Numba's with
``numba.set_num_threads``, both for the block only.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

from ..errors import TrainingError


def check_threads(count: int | None) -> int | None:
    """``count`` if it is None, or a whole number from 1 to the threads Numba may start; else
    one line saying why not (before any long work: the CLI checks it with its other flags)."""
    if count is None:
        return None
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise TrainingError(f"threads must be a whole number of at least 1, got {count!r}")
    import numba
    if count > numba.config.NUMBA_NUM_THREADS:
        raise TrainingError(f"threads: this machine runs at most {numba.config.NUMBA_NUM_THREADS} (Numba's "
                            f"NUMBA_NUM_THREADS), not {count}")
    return count


_current: ContextVar[int] = ContextVar("symbackprop_threads", default=1)


def threads_in_use() -> int:
    """The thread count of the innermost :func:`using_threads` block (1 outside any)."""
    return _current.get()


@contextmanager
def using_threads(count: int | None) -> Iterator[None]:
    """Within the block, training uses ``count`` threads (None: one, and the libraries' own settings).

    The kernels choose how (see the module's docstring): image networks split each batch
    among Numba's threads, with one-thread BLAS inside; dense networks use BLAS's threads.
    """
    if check_threads(count) is None:
        yield
        return
    import numba
    import scipy.linalg.cython_blas  # noqa: F401  (Numba's BLAS: loaded now, so that the limit reaches it)
    from threadpoolctl import threadpool_limits
    before = numba.get_num_threads()
    token = _current.set(count)
    try:
        numba.set_num_threads(count)
        with threadpool_limits(limits=count, user_api="blas"):
            yield
    finally:
        numba.set_num_threads(before)
        _current.reset(token)
