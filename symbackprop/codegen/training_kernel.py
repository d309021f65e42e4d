"""The fused training kernel shared by every generated module.

``train_epoch`` runs a whole epoch in compiled code: it gathers each mini-batch by a
shuffled index array, runs the module's step lines (forward, loss, backward into work
arrays allocated once), checks the loss and gradient are finite, clips, and calls the
optimizer ``update`` from :mod:`.update_rules` (a shared kernel: see :mod:`.copied_source`).
One call per epoch means no Python between forward, backward and update; the work arrays
are made once for the whole batches and once more for a shorter last batch.
"""
from __future__ import annotations

from .lowering import INDENT

#: every network kernel: cached on disk; ``reassoc`` lets LLVM vectorize sums (it assumes
#: nothing about NaN or infinity, so divergence is still seen), ``contract`` allows FMA,
#: ``arcp`` lets a division by a loop-invariant value become one reciprocal and a multiply
#: per element (softmax's normalization, the mean over the batch: within 1 ulp; 2% of a
#: 64-16-10 step, where the divisions' latency showed in the profile);
#: NumPy's error model makes x/0 an infinity (which the finiteness check then reports)
#: instead of a ZeroDivisionError test before every division, which kept division loops
#: (softmax's normalization, the mean over the batch) from being vectorized
KERNEL_DECORATOR = '@njit(cache=True, fastmath={"reassoc", "contract", "arcp"}, error_model="numpy")'

TRAIN_EPOCH = """{decorator}
def train_epoch(X, T, order, batch_size, flat, gflat, {params}, {grads},
                rule, s1, s2, lr, h1, h2, eps, steps_before, clip_value, clip_norm, l1, l2):
    # One epoch of mini-batch training in one compiled call: gather each batch of rows of
    # the inputs X and targets T by `order`, forward, loss, backward, optional clipping and
    # the optimizer's update of `flat` (which {params} are views of), with no Python
    # in between.  Returns (sum of batch losses weighted by batch size, index of the first
    # batch whose loss or gradient was not finite or -1, that batch's loss).
    # Two passes: the whole batches, then a shorter last batch if there is one, each with
    # work arrays of its batch's size made before its loop: re-binding arrays inside the
    # batch loop would make Numba count references on every step (20% of a 64-16-10 step).
    # the loop's own names start with 'ep_': the pasted step lines use n, i, j, B, L, ...
    ep_rows = order.shape[0]
    ep_whole = ep_rows // batch_size
    ep_total = 0.0
    for ep_pass in range(2):
        ep_size = batch_size if ep_pass == 0 else ep_rows - ep_whole * batch_size
        ep_count = ep_whole if ep_pass == 0 else min(ep_size, 1)
        if ep_count == 0:
            continue
        a0 = np.empty((ep_size, {input_shape}), dtype=X.dtype)
        Y = np.empty((ep_size, T.shape[1]), dtype=T.dtype)
{allocate}
        for ep_k in range(ep_count):
            ep_batch = ep_k + ep_pass * ep_whole
            ep_first = ep_batch * batch_size
            for ep_r in range(ep_size):
                ep_row = order[ep_first + ep_r]
{gather}
                for ep_c in range(T.shape[1]):
                    Y[ep_r, ep_c] = T[ep_row, ep_c]
            # ---- forward, loss, backward ----
{step}
            # ---- check, clip, update ----
            if not (math.isfinite(L) and math.isfinite(squared_norm(gflat))):
                return ep_total, ep_batch, L
            if clip_value > 0.0:
                clip_by_value(gflat, clip_value)
            if clip_norm > 0.0:
                clip_by_norm(gflat, clip_norm)
            update(rule, flat, gflat, s1, s2, lr, h1, h2, eps, steps_before + ep_batch + 1.0)
            ep_total += L * ep_size
    return ep_total, -1, 0.0
"""


def _block(lines: list[str], depth: int) -> str:
    return "\n".join("    " * depth + line if line else line for line in lines)


def _gather(input_ndim: int) -> list[str]:
    """Copy input row ``ep_row`` into batch row ``ep_r``: one loop per axis of a sample."""
    names = [f"ep_c{k}" for k in range(1, input_ndim + 1)]
    lines = [INDENT * k + f"for {name} in range(X.shape[{k + 1}]):" for k, name in enumerate(names)]
    index = ", ".join(names)
    return lines + [INDENT * input_ndim + f"a0[ep_r, {index}] = X[ep_row, {index}]"]


def training_source(params: str, grads: str, input_ndim: int, allocate: list[str], step: list[str]) -> str:
    """``train_epoch`` for a network with these parameter arguments.

    ``input_ndim``: axes of one sample (1 for features, 3 for images); ``allocate``: lines
    creating the work arrays for a batch ``a0``; ``step``: lines that compute the batch's
    mean loss ``L`` and write the gradients into ``gW1, gb1, ...``.
    """
    epoch = TRAIN_EPOCH.format(decorator=KERNEL_DECORATOR, params=params, grads=grads, allocate=_block(allocate, 2),
                               step=_block(step, 3),
                               input_shape=", ".join(f"X.shape[{k}]" for k in range(1, input_ndim + 1)),
                               gather=_block(_gather(input_ndim), 4))
    return "# ---- one epoch of training in one call ----\n\n" + epoch
