"""Parameter updates and gradient clipping, as Numba kernels.

This file is the one definition of every optimizer's arithmetic.  It is used twice:

* imported, by :class:`symbackprop.train.optimizers.Optimizer` for a step taken from
  Python, and by every cached kernel module, whose fused ``train_epoch`` calls ``update``
  without leaving compiled code (Numba compiles these functions once per installation);
* as *source text*, copied verbatim from the marker line on into an exported module,
  which must need only ``math``, ``numpy`` and ``numba`` (see :mod:`.copied_source`).

So this file may import nothing else, and everything below the marker must be plain
``@njit`` functions.  The rules follow ``torch.optim`` (same state, same order of
operations).  ``s1`` and ``s2`` are the optimizer's state vectors (unused ones may be
empty); ``h1``/``h2`` its two hyper-parameters; ``t`` the 1-based step count (Adam).
"""
import math

from numba import njit

# -- kernels (copied into generated modules from here on) --

#: rule codes of ``update``
RULE_SGD, RULE_MOMENTUM, RULE_NESTEROV, RULE_RMSPROP, RULE_ADAM = 0, 1, 2, 3, 4


@njit(cache=True, error_model="numpy")  # x/0 gives inf, no per-division test: loops vectorize
def update(rule, p, g, s1, s2, lr, h1, h2, eps, t):
    """One step of ``rule`` on the flat parameter vector ``p`` from gradient ``g``, in place.

    sgd:       p -= lr g
    momentum:  s1 = h1 s1 + g;  p -= lr s1                (h1 = momentum)
    nesterov:  s1 = h1 s1 + g;  p -= lr (g + h1 s1)
    rmsprop:   s1 = h1 s1 + (1 - h1) g^2;  p -= lr g / (sqrt(s1) + eps)      (h1 = alpha)
    adam:      s1, s2 = first and second moments (h1 = beta1, h2 = beta2), bias-corrected
    """
    if rule == RULE_SGD:
        for k in range(p.size):
            p[k] -= lr * g[k]
    elif rule == RULE_MOMENTUM:
        for k in range(p.size):
            s1[k] = h1 * s1[k] + g[k]
            p[k] -= lr * s1[k]
    elif rule == RULE_NESTEROV:
        for k in range(p.size):
            s1[k] = h1 * s1[k] + g[k]
            p[k] -= lr * (g[k] + h1 * s1[k])
    elif rule == RULE_RMSPROP:
        for k in range(p.size):
            s1[k] = h1 * s1[k] + (1.0 - h1) * g[k] * g[k]
            p[k] -= lr * g[k] / (math.sqrt(s1[k]) + eps)
    else:  # RULE_ADAM
        step = lr / (1.0 - h1 ** t)
        root2 = math.sqrt(1.0 - h2 ** t)
        for k in range(p.size):
            s1[k] = h1 * s1[k] + (1.0 - h1) * g[k]
            s2[k] = h2 * s2[k] + (1.0 - h2) * g[k] * g[k]
            p[k] -= step * s1[k] / (math.sqrt(s2[k]) / root2 + eps)


@njit(cache=True, fastmath={"reassoc"})
def squared_norm(g):
    """Sum of squares of ``g``: infinite or NaN exactly when some entry is (or the norm overflows).

    ``reassoc`` lets LLVM split the sum over vector lanes (a strict left-to-right sum is
    one add per cycle of latency); it does not assume finite values, so NaN still shows.
    """
    total = 0.0
    for k in range(g.size):
        total += g[k] * g[k]
    return total


@njit(cache=True)
def clip_by_value(g, limit):
    """Clamp every gradient entry to ``[-limit, limit]`` in place."""
    for k in range(g.size):
        if g[k] > limit:
            g[k] = limit
        elif g[k] < -limit:
            g[k] = -limit


@njit(cache=True)
def clip_by_norm(g, max_norm):
    """Scale ``g`` in place so its Euclidean norm is at most ``max_norm``; returns the norm before."""
    norm = math.sqrt(squared_norm(g))
    if norm > max_norm:
        scale = max_norm / (norm + 1e-12)
        for k in range(g.size):
            g[k] *= scale
    return norm
