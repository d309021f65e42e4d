"""Copying a mini-batch's rows out of the training set, as a shared Numba kernel.

An image network's epoch is a Python loop over compiled kernels (:mod:`.training_kernel`,
``host``).  Each batch starts by copying the rows ``order[first:first + B]`` of the inputs
and targets into the batch's arrays: a loop over every value of the batch, which Python
would run a hundred times slower than the step's own work.  So it is this kernel, compiled
once per installation for each number of axes and precision, and cached beside this file;
exported modules carry a copy (:mod:`.copied_source`).
"""
from numba import njit

# -- kernels (copied into generated modules from here on) --


@njit(cache=True)
def gather_rows(X, T, order, first, a0, Y):
    """Rows ``order[first:first + len(a0)]`` of ``X`` into ``a0`` and of ``T`` into ``Y``
    (C-contiguous arrays: a sample is one run of values; a slice assignment ``a0[r] = X[row]``
    compiled for 4 s where these loops take 0.1)."""
    samples = X.reshape((X.shape[0], -1))
    batch = a0.reshape((a0.shape[0], -1))
    for r in range(batch.shape[0]):
        row = order[first + r]
        for c in range(batch.shape[1]):
            batch[r, c] = samples[row, c]
        for c in range(Y.shape[1]):
            Y[r, c] = T[row, c]
