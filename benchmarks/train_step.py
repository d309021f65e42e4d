"""One training step on scikit-learn's digits: symbackprop beside NumPy, PyTorch, JAX and PyTensor.

Every implementation trains the same ReLU + softmax + cross-entropy network with SGD and
momentum (torch.optim's rule: v = mu v + g; p -= lr v), in float64 unless --dtype float32,
from the same initial weights and through the same batch order, in this one process, at
the same thread count.  For each it prints:

* the median time of one step (forward, backward, update; batch gathering included),
  timed per epoch over --epochs epochs and divided by the number of steps; the
  implementations take turns epoch by epoch, so drifting machine noise hits all alike,
  and each turn runs one untimed epoch before its timed one (see time_round_robin);
* how many times faster symbackprop is: the median over rounds of (peer time / symbackprop
  time) within one round, a paired comparison: this machine has slow spells that slow
  every implementation alike for a while, and a ratio of two epochs timed moments apart
  cancels them where a ratio of two medians does not;
* the step time over the FLOP limit: 6 * batch * sum(fan_in * fan_out) floating-point
  operations at this machine's measured 512x512 matmul rate;
* held-out test accuracy, and the largest weight difference from symbackprop's weights
  after training: the same math from the same start should agree to rounding;
* compile time: for symbackprop, derive + generate + compile in a fresh process with an
  empty kernel cache (cold) and again with the cache (warm); for JAX and PyTensor, their
  first call in this process (trace + compile); PyTorch eager does not compile.

Peers are optional (``pip install -e '.[bench]'``): a missing one is skipped with a note.

    python benchmarks/train_step.py                          # the three reference nets
    python benchmarks/train_step.py --nets 64-32-10:16 --epochs 10 --threads 2
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import symbackprop

DEFAULT_NETS = ["64-16-10:8", "64-64-10:32", "64-256-256-10:128"]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nets", nargs="+", default=DEFAULT_NETS, help="SIZES:BATCH, e.g. 64-64-10:32")
    parser.add_argument("--epochs", type=int, default=20, help="timed epochs per implementation (default 20)")
    parser.add_argument("--threads", type=int, default=1, help="threads for every library (default 1)")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--peers", nargs="+", default=["numpy", "torch", "jax", "pytensor"])
    parser.add_argument("--no-compile-times", action="store_true", help="skip the fresh-process compile timing")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--compile-probe", nargs=2, metavar=("SIZES", "CACHE"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def set_threads(count: int) -> None:
    """Thread limits for every library; must run before NumPy, PyTorch or JAX are imported."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(count)
    if count == 1:
        os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    os.environ.setdefault("JAX_PLATFORMS", "cpu")


# ---------------------------------------------------------------------------------- setup
class Problem:
    """Network, data, initial weights and batch orders shared by every implementation."""

    def __init__(self, sizes: list[int], batch: int, epochs: int, dtype: str, lr: float, momentum: float):
        import numpy as np

        from symbackprop import Network
        from symbackprop.train.data import load_digits

        self.sizes, self.batch, self.lr, self.mu = sizes, batch, lr, momentum
        self.dtype = np.dtype(dtype)
        self.network = Network.mlp(sizes, "relu", "softmax", "cce")
        data = load_digits(seed=0, val_fraction=0.0)
        self.X = np.ascontiguousarray(data.X_train, dtype=self.dtype)
        self.labels = data.y_train
        self.Y = np.eye(sizes[-1], dtype=self.dtype)[self.labels]
        self.X_test, self.y_test = data.X_test.astype(self.dtype), data.y_test
        init = self.network.init_params(0)
        self.init = [init[name].astype(self.dtype) for name in init]  # W1, b1, W2, b2, ...
        rng = np.random.default_rng(0)
        self.steps = len(self.X) // batch  # whole batches only: every step has the same shape
        self.orders = [rng.permutation(len(self.X))[:self.steps * batch] for _ in range(epochs + 1)]

    @property
    def flops(self) -> int:
        return 6 * self.batch * sum(a * b for a, b in zip(self.sizes[:-1], self.sizes[1:]))


def matmul_rate(dtype) -> float:
    """Floating-point operations per second of a 512x512 matrix product (median of 20)."""
    import numpy as np
    a = np.random.default_rng(0).random((512, 512)).astype(dtype)
    np.dot(a, a)
    times = []
    for _ in range(20):
        start = time.perf_counter()
        np.dot(a, a)
        times.append(time.perf_counter() - start)
    return 2 * 512 ** 3 / statistics.median(times)


# --------------------------------------------------------------------------- implementations
class Symbackprop:
    name = "symbackprop"

    def __init__(self, pb: Problem):
        from symbackprop import Parameters
        from symbackprop.train import Optimizer
        self.pb = pb
        self.compiled = symbackprop.compile(pb.network, dtype=pb.dtype)
        self.params = Parameters(pb.network.param_shapes(), dtype=pb.dtype)
        self.grads = self.params.zeros_like()
        self.optimizer = Optimizer("momentum", momentum=pb.mu)
        self.update = self.optimizer.kernel_args(self.params.flat)  # (rule, velocity, ...): the state is shared
        self.reset()
        self.compile_seconds = None

    def reset(self) -> None:
        for name, value in zip(self.params, self.pb.init):
            self.params[name][...] = value
        self.optimizer.state["velocity"][:] = 0

    def epoch(self, order) -> None:
        pb = self.pb
        # threads > 1: an image network splits each batch among Numba's threads (dense: BLAS's threads)
        self.compiled.train_epoch(pb.X, pb.Y, order, pb.batch, self.params, self.grads, self.update, pb.lr,
                                  threads=getattr(pb, "threads", 1))

    def weights(self):
        return [a.copy() for a in self.params.arrays()]

    def predict(self, X):
        return self.compiled.predict(X, self.params)


class NumpyByHand:
    """Forward and backward written out with NumPy, the way a textbook does it."""

    name = "numpy"

    def __init__(self, pb: Problem):
        self.pb = pb
        self.reset()
        self.compile_seconds = None

    def reset(self) -> None:
        import numpy as np
        self.p = [a.copy() for a in self.pb.init]
        self.v = [np.zeros_like(a) for a in self.p]

    def epoch(self, order) -> None:
        import numpy as np
        pb, p, v = self.pb, self.p, self.v
        depth = len(p) // 2
        for s in range(pb.steps):
            idx = order[s * pb.batch:(s + 1) * pb.batch]
            acts = [pb.X[idx]]
            for l in range(depth):
                z = acts[-1] @ p[2 * l] + p[2 * l + 1]
                if l < depth - 1:
                    acts.append(np.maximum(z, 0))
                else:
                    e = np.exp(z - z.max(axis=1, keepdims=True))
                    acts.append(e / e.sum(axis=1, keepdims=True))
            d = (acts[-1] - pb.Y[idx]) / len(idx)
            for l in reversed(range(depth)):
                gW, gb = acts[l].T @ d, d.sum(axis=0)
                if l > 0:
                    d = (d @ p[2 * l].T) * (acts[l] > 0)
                for k, grad in ((2 * l, gW), (2 * l + 1, gb)):
                    v[k] *= pb.mu
                    v[k] += grad
                    p[k] -= pb.lr * v[k]

    def weights(self):
        return [a.copy() for a in self.p]

    def predict(self, X):
        import numpy as np
        a = X
        for l in range(len(self.p) // 2):
            a = a @ self.p[2 * l] + self.p[2 * l + 1]
            if l < len(self.p) // 2 - 1:
                a = np.maximum(a, 0)
        return np.argmax(a, axis=1)


class TorchEager:
    name = "pytorch"

    def __init__(self, pb: Problem, threads: int):
        import torch
        torch.set_num_threads(threads)
        self.torch, self.pb = torch, pb
        self.X = torch.from_numpy(pb.X)
        self.labels = torch.from_numpy(pb.labels)
        self.reset()
        self.compile_seconds = None

    def reset(self) -> None:
        torch = self.torch
        self.p = [torch.tensor(a, requires_grad=True) for a in self.pb.init]
        self.opt = torch.optim.SGD(self.p, lr=self.pb.lr, momentum=self.pb.mu)

    def _logits(self, x):
        F = self.torch.nn.functional
        depth = len(self.p) // 2
        for l in range(depth):
            x = x @ self.p[2 * l] + self.p[2 * l + 1]
            if l < depth - 1:
                x = F.relu(x)
        return x

    def epoch(self, order) -> None:
        torch, pb = self.torch, self.pb
        F = torch.nn.functional
        order = torch.from_numpy(order)
        for s in range(pb.steps):
            idx = order[s * pb.batch:(s + 1) * pb.batch]
            self.opt.zero_grad(set_to_none=True)
            F.cross_entropy(self._logits(self.X[idx]), self.labels[idx]).backward()
            self.opt.step()

    def weights(self):
        return [a.detach().numpy().copy() for a in self.p]

    def predict(self, X):
        with self.torch.no_grad():
            return self._logits(self.torch.from_numpy(X)).argmax(dim=1).numpy()


class JaxJit:
    name = "jax.jit"

    def __init__(self, pb: Problem):
        import jax
        if pb.dtype.itemsize == 8:
            jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        self.jax, self.jnp, self.pb = jax, jnp, pb
        self.X, self.Y = jnp.asarray(pb.X), jnp.asarray(pb.Y)
        batch, lr, mu = pb.batch, pb.lr, pb.mu
        logits = self.model(jax, jnp)

        def loss(p, x, y):
            return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(logits(p, x)), axis=1))

        def step(p, v, X, Y, order, s):
            idx = jax.lax.dynamic_slice(order, (s * batch,), (batch,))
            g = jax.grad(loss)(p, X[idx], Y[idx])
            v = [mu * vk + gk for vk, gk in zip(v, g)]
            return [pk - lr * vk for pk, vk in zip(p, v)], v

        self.step = jax.jit(step, donate_argnums=(0, 1))
        self.logits = jax.jit(logits)
        self.reset()
        start = time.perf_counter()
        order = jnp.asarray(pb.orders[0])
        jax.block_until_ready(self.step(self.p, self.v, self.X, self.Y, order, 0))
        self.compile_seconds = time.perf_counter() - start
        self.reset()

    def model(self, jax, jnp):
        """``logits(params, x)``: the dense ReLU network (conv_step.py's CNN overrides it)."""
        depth = len(self.pb.init) // 2

        def logits(p, x):
            for l in range(depth):
                x = x @ p[2 * l] + p[2 * l + 1]
                if l < depth - 1:
                    x = jax.nn.relu(x)
            return x
        return logits

    def reset(self) -> None:
        self.p = [self.jnp.asarray(a.copy()) for a in self.pb.init]
        self.v = [self.jnp.zeros_like(a) for a in self.p]

    def epoch(self, order) -> None:
        order = self.jnp.asarray(order)
        p, v = self.p, self.v
        for s in range(self.pb.steps):
            p, v = self.step(p, v, self.X, self.Y, order, s)
        self.p, self.v = self.jax.block_until_ready((p, v))

    def weights(self):
        import numpy as np
        return [np.asarray(a) for a in self.p]

    def predict(self, X):
        import numpy as np
        return np.asarray(self.logits(self.p, self.jnp.asarray(X))).argmax(axis=1)


class PyTensorNumba:
    name = "pytensor (numba)"

    def __init__(self, pb: Problem):
        import pytensor
        import pytensor.tensor as pt
        self.pb = pb
        self.shared = [pytensor.shared(a.copy()) for a in pb.init]
        self.velocity = [pytensor.shared(a * 0) for a in pb.init]
        X, Y = pytensor.shared(pb.X), pytensor.shared(pb.Y)
        idx = pt.lvector("idx")
        x = pt.matrix("x", dtype=str(pb.dtype))
        depth = len(pb.init) // 2

        def logits(a):
            for l in range(depth):
                a = a @ self.shared[2 * l] + self.shared[2 * l + 1]
                if l < depth - 1:
                    a = pt.maximum(a, 0)
            return a

        log_probs = pt.special.log_softmax(logits(X[idx]), axis=1)
        loss = -pt.mean(pt.sum(Y[idx] * log_probs, axis=1))
        grads = pytensor.grad(loss, self.shared)
        updates = []
        mu, lr = pt.constant(pb.mu, dtype=str(pb.dtype)), pt.constant(pb.lr, dtype=str(pb.dtype))  # keep float32
        for p, v, g in zip(self.shared, self.velocity, grads):
            new_v = mu * v + g
            updates += [(v, new_v), (p, p - lr * new_v)]
        start = time.perf_counter()
        self.step = pytensor.function([idx], [], updates=updates, mode="NUMBA")
        self.step.trust_input = True
        self.step(pb.orders[0][:pb.batch])
        self.compile_seconds = time.perf_counter() - start
        self.predict_fn = pytensor.function([x], pt.argmax(logits(x), axis=1), mode="NUMBA")
        self.reset()

    def reset(self) -> None:
        for p, v, a in zip(self.shared, self.velocity, self.pb.init):
            p.set_value(a.copy())
            v.set_value(a * 0)

    def epoch(self, order) -> None:
        step, batch = self.step, self.pb.batch
        for s in range(self.pb.steps):
            step(order[s * batch:(s + 1) * batch])

    def weights(self):
        return [p.get_value() for p in self.shared]

    def predict(self, X):
        return self.predict_fn(X)


def make_peer(name: str, pb: Problem, threads: int):
    if name == "numpy":
        return NumpyByHand(pb)
    if name == "torch":
        return TorchEager(pb, threads)
    if name == "jax":
        return JaxJit(pb)
    if name == "pytensor":
        return PyTensorNumba(pb)
    raise SystemExit(f"unknown peer {name!r}; choose from numpy, torch, jax, pytensor")


# ------------------------------------------------------------------------------ measuring
def time_per_step(impl, pb: Problem) -> float:
    """Median seconds per step over the timed epochs; the first epoch (compile, caches) is untimed."""
    return statistics.median(time_round_robin([impl], pb)[0])


def time_round_robin(impls: list, pb: Problem) -> list[list[float]]:
    """Seconds per step of each implementation in each round, timing them in turns, epoch by epoch.

    Taking turns spreads this machine's drifting noise (other processes, clock changes)
    over every implementation alike, instead of over whichever happened to run then.  Each
    turn first runs one untimed epoch (on the same batch order) and then times the next:
    right after another library's code, this machine runs the first millisecond or so of
    any kernel up to 1.5x slower (caches, branch predictors and clocks settle), which
    would otherwise be charged to whichever implementation has the shortest epochs.  A
    training run is a stream of the same kernel's epochs: the warm state is what it sees.
    """
    for impl in impls:  # untimed: compiles, fills caches
        impl.epoch(pb.orders[0])
        impl.reset()
    per_step: list[list[float]] = [[] for _ in impls]
    for order in pb.orders[1:]:
        for k, impl in enumerate(impls):
            impl.epoch(order)  # settle
            start = time.perf_counter()
            impl.epoch(order)
            per_step[k].append((time.perf_counter() - start) / pb.steps)
    return per_step


def quartiles(values: list[float]) -> tuple[float, float]:
    """The 25th and 75th percentiles of ``values`` (both the value itself if there is one)."""
    if len(values) < 2:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4)
    return q1, q3


COMPILE_PROBE = "compile-probe"


def compile_probe(sizes: str, cache: str) -> None:
    """(Child process) derive + generate + compile one network; prints the seconds as JSON."""
    start = time.perf_counter()
    import symbackprop
    from symbackprop import Network
    imported = time.perf_counter()
    net = Network.mlp([int(s) for s in sizes.split("-")], "relu", "softmax", "cce")
    compiled = symbackprop.compile(net, cache_dir=cache)
    done = time.perf_counter()
    print(json.dumps({"import": imported - start, "compile": done - imported, "from_cache": compiled.from_cache}))


def compile_times(sizes: list[int]) -> tuple[float, float]:
    """Cold and warm derive + compile seconds of symbackprop, each in a fresh process."""
    arg = "-".join(map(str, sizes))
    results = []
    with tempfile.TemporaryDirectory() as cache:
        for _ in range(2):
            out = subprocess.run([sys.executable, __file__, "--compile-probe", arg, cache],
                                 capture_output=True, text=True, check=True)
            results.append(json.loads(out.stdout.strip().splitlines()[-1])["compile"])
    return results[0], results[1]


def run_net(spec: str, args, rate: float) -> dict:
    import numpy as np
    sizes_text, batch = spec.split(":")
    sizes = [int(s) for s in sizes_text.split("-")]
    pb = Problem(sizes, int(batch), args.epochs, args.dtype, args.lr, args.momentum)
    limit = pb.flops / rate
    impls = [Symbackprop(pb)]
    notes = []
    for name in args.peers:
        try:
            impls.append(make_peer(name, pb, args.threads))
        except ImportError as exc:
            notes.append(f"{name} skipped: {exc.name or exc} is not installed (pip install -e '.[bench]')")
    rows, weights = [], []
    rounds = time_round_robin(impls, pb)
    for impl, seconds in zip(impls, rounds):
        accuracy = float(np.mean(impl.predict(pb.X_test) == pb.y_test))
        paired = [t / ours for t, ours in zip(seconds, rounds[0])]  # its epoch over ours, round by round
        rows.append({"impl": impl.name, "step_us": statistics.median(seconds) * 1e6, "accuracy": accuracy,
                     "compile_s": impl.compile_seconds, "ours_faster": statistics.median(paired),
                     "ours_faster_quartiles": quartiles(paired)})
        weights.append(impl.weights())
    for row, final in zip(rows, weights):
        row["x_flop_limit"] = row["step_us"] / (limit * 1e6)
        row["max_weight_diff"] = max(float(np.max(np.abs(a - b))) for a, b in zip(final, weights[0]))
    cold = warm = None
    if not args.no_compile_times:
        cold, warm = compile_times(sizes)
    return {"net": sizes_text, "batch": int(batch), "steps_per_epoch": pb.steps, "flop_limit_us": limit * 1e6,
            "rounds": len(rounds[0]),
            "rows": rows, "cold_compile_s": cold, "warm_compile_s": warm, "notes": notes}


def print_result(res: dict) -> None:
    print(f"\n{res['net']}, batch {res['batch']} ({res['steps_per_epoch']} steps per epoch); "
          f"FLOP limit {res['flop_limit_us']:.2f} µs per step")
    print(f"  {'implementation':<18} {'µs/step':>9} {'symbackprop faster':>19} {'× FLOP limit':>13} "
          f"{'test acc':>9} {'max |Δw|':>10} {'compile s':>10}")
    for row in res["rows"]:
        faster = "—" if row["impl"] == "symbackprop" else f"{row['ours_faster']:.1f}×"
        compile_s = "" if row["compile_s"] is None else f"{row['compile_s']:.2f}"
        if row["impl"] == "symbackprop" and res["cold_compile_s"] is not None:
            compile_s = f"{res['cold_compile_s']:.2f} cold / {res['warm_compile_s']:.2f} warm"
        print(f"  {row['impl']:<18} {row['step_us']:>9.2f} {faster:>19} {row['x_flop_limit']:>13.2f} "
              f"{row['accuracy']:>9.4f} {row['max_weight_diff']:>10.1e} {compile_s:>10}")
    peers = [r for r in res["rows"][1:]]
    if peers:
        best = min(peers, key=lambda r: r["step_us"])
        q1, q3 = best["ours_faster_quartiles"]
        print(f"  fastest peer: {best['impl']}; symbackprop is {best['ours_faster']:.1f}× faster "
              f"(median of {res['rounds']} paired rounds; quartiles {q1:.1f}–{q3:.1f}×)")
    for note in res["notes"]:
        print(f"  note: {note}")


def main(argv=None) -> None:
    args = parse_args(argv)
    set_threads(args.threads)
    if args.compile_probe:
        compile_probe(*args.compile_probe)
        return
    import numpy as np
    rate = matmul_rate(np.dtype(args.dtype))
    versions = {}
    for module in ("numpy", "numba", "sympy", "torch", "jax", "pytensor"):
        try:
            versions[module] = __import__(module).__version__
        except ImportError:
            pass
    print(f"threads: {args.threads} for every library; dtype {args.dtype}; SGD lr {args.lr}, momentum {args.momentum}; "
          f"{args.epochs} timed epochs, medians")
    print(f"machine: {os.cpu_count()} CPUs, 512x512 matmul {rate / 1e9:.1f} GFLOP/s")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    results = []
    for spec in args.nets:
        res = run_net(spec, args, rate)
        print_result(res)
        results.append(res)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"threads": args.threads, "dtype": args.dtype, "matmul_gflops": rate / 1e9, "versions": versions,
                       "results": results}, fh, indent=1)


if __name__ == "__main__":
    main()
