"""Record what the compiled kernels compute, to check that a restructuring changed nothing.

    python benchmarks/behaviour_snapshot.py save before.npz      # on the old code
    python benchmarks/behaviour_snapshot.py compare before.npz   # on the new code

For the three networks of ``benchmarks/train_step.py``, two more dense networks (sigmoid
with binary cross-entropy and L1/L2, leaky ReLU with MSE), two image networks and the
unrolled view of a small one, it records the loss, the outputs and every gradient on
fixed data, and the weights after two epochs of fused momentum training.  ``compare``
prints the largest difference of each and fails beyond ``--tol`` (default 1e-14,
relative to each array's largest entry).
"""
from __future__ import annotations

import argparse
import sys
import tempfile

import numpy as np


def _compile(net, **kw):
    import symbackprop
    face = getattr(symbackprop, "compile", None)
    return face(net, **kw) if face is not None else net.compile(**kw)


def networks():
    from symbackprop import AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D, Network
    yield "mlp-64-16-10", Network.mlp([64, 16, 10], "relu", "softmax", "cce"), "index"
    yield "mlp-64-64-10", Network.mlp([64, 64, 10], "relu", "softmax", "cce"), "index"
    yield "mlp-64-256-256-10", Network.mlp([64, 256, 256, 10], "relu", "softmax", "cce"), "index"
    yield "sigmoid-bce-l1l2", Network([Dense(5, 7, "tanh"), Dense(7, 3, "sigmoid")], loss="bce", l1=1e-3,
                                      l2=1e-2), "index"
    yield "leaky-mse", Network([Dense(6, 9, "leaky_relu"), Dense(9, 4, "sigmoid"), Dense(4, 2, "identity")],
                               loss="mse"), "index"
    yield "cnn-digits", Network([Conv2D(1, 4, 3, padding="same", activation="relu"), MaxPool2D(2),
                                 Conv2D(4, 6, 3, padding="same", activation="relu"), MaxPool2D(2), Flatten(),
                                 Dense(24, 10, "softmax")], loss="cce", input_shape=(1, 8, 8)), "index"
    yield "cnn-strided", Network([Conv2D(2, 3, (3, 2), stride=2, padding=1, activation="tanh"),
                                  AvgPool2D(2, stride=1, padding=1), Flatten(), Dense(75, 3, "softmax")],
                                 loss="cce", input_shape=(2, 7, 7)), "index"
    yield "unrolled-3-4-2", Network.mlp([3, 4, 2], "tanh", "softmax", "cce"), "unrolled"


def record(cache: str) -> dict[str, np.ndarray]:
    from symbackprop.train import Optimizer
    out: dict[str, np.ndarray] = {}
    for name, net, view in networks():
        compiled = _compile(net, view=view, cache_dir=cache)
        rng = np.random.default_rng(1)
        X = rng.normal(size=(37, net.n_inputs))
        labels = rng.integers(0, net.n_outputs, 37)
        Y = np.eye(net.n_outputs)[labels] if net.n_outputs > 1 else rng.uniform(size=(37, 1))
        if net.loss.name in ("mse",):
            Y = rng.normal(size=(37, net.n_outputs))
        if net.loss.name == "bce":
            Y = rng.uniform(size=(37, net.n_outputs))
        params = net.init_params(3)
        loss, grads = compiled.loss_and_grad(X, Y, params)
        out[f"{name}/loss"] = np.array(loss)
        out[f"{name}/forward"] = compiled.forward(X, params)
        ev_loss, ev_out = compiled.evaluate(X, Y, params)
        out[f"{name}/evaluate"] = np.array([ev_loss, *ev_out.ravel()])
        for p in grads:
            out[f"{name}/grad/{p}"] = grads[p].copy()
        opt = Optimizer("momentum", momentum=0.9)
        Xk, Yk = compiled.data(params, X, Y)
        work = params.zeros_like()
        update = opt.kernel_args(params.flat)
        for epoch in range(2):
            order = np.random.default_rng(epoch).permutation(len(X))
            compiled.train_epoch(Xk, Yk, order, 8, params, work, update, 0.05, steps_before=epoch * 5)
        out[f"{name}/trained"] = params.flat.copy()
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("save", "compare"))
    parser.add_argument("file")
    parser.add_argument("--tol", type=float, default=1e-14)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as cache:
        now = record(cache)
    if args.action == "save":
        np.savez(args.file, **now)
        print(f"saved {len(now)} arrays to {args.file}")
        return 0
    before = dict(np.load(args.file))
    worst = 0.0
    failed = False
    for key in sorted(before.keys() | now.keys()):
        if key not in before or key not in now or before[key].shape != now[key].shape:
            print(f"{key:45s} MISSING OR RESHAPED")
            failed = True
            continue
        scale = max(float(np.max(np.abs(before[key]), initial=0.0)), 1e-300)
        diff = float(np.max(np.abs(before[key] - now[key]), initial=0.0)) / scale
        worst = max(worst, diff)
        if diff > args.tol:
            print(f"{key:45s} relative difference {diff:.3g}")
            failed = True
    print(f"{len(now)} arrays compared; largest relative difference {worst:.3g} (tolerance {args.tol:g})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
