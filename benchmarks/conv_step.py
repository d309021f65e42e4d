"""One training step of the README's CNN: symbackprop beside PyTorch eager and ``jax.jit``.

The network is the ``cnn`` preset (conv 3×3 ×16, max-pool 2, conv 3×3 ×32, max-pool 2,
dense softmax; ReLU, cross-entropy), on 1×S×S images for each ``--sizes`` S (8 is the
digits' shape, 28 MNIST's). Every implementation trains it with SGD and momentum
(torch.optim's rule) from the same initial weights through the same batch order, in this
one process, at the same thread count, as ``train_step.py`` does for dense networks
(whose timing helpers this script shares). The data are random images of that shape, or
the first images of an MNIST-format IDX file (``--idx train-images-idx3-ubyte``, 28×28).

For each size it prints the median time per step (with quartiles), the step time over the
FLOP limit (forward + backward multiply-adds at this machine's 512×512 matmul rate), how
many times faster symbackprop is (the median of per-round paired ratios), the largest
weight difference from symbackprop's after training, and compile times: symbackprop's
derive + generate + compile in a fresh process with an empty cache (cold) and again with
it (warm); JAX's first call.

    python benchmarks/conv_step.py                         # sizes 8 and 28, one thread, float64
    python benchmarks/conv_step.py --sizes 28 --threads 2 --dtype float32
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


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=int, default=[8, 28], help="image sizes S (1×S×S inputs)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20, help="steps per timed epoch (default 20)")
    parser.add_argument("--epochs", type=int, default=7, help="timed rounds per implementation (default 7)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--peers", nargs="*", default=["torch", "jax"],
                        help="peers to time beside symbackprop (none: symbackprop alone, no peer imported)")
    parser.add_argument("--plot", metavar="FILE", help="also plot time per step against image size (needs matplotlib)")
    parser.add_argument("--idx", help="an MNIST-format IDX image file (28×28) to train on instead of random images")
    parser.add_argument("--no-compile-times", action="store_true")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--compile-probe", nargs=2, metavar=("SIZE", "CACHE"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def set_threads(count: int) -> None:
    """Thread limits for every library; before NumPy, PyTorch or JAX are imported.

    Numba's threads (symbackprop's batch-parallel epoch at 2 threads) come from its
    ``workqueue`` layer here: with its OpenMP layer, OpenMP's idle threads spin after each
    parallel step and PyTorch's step in the same process took 26-64 ms instead of 11.
    """
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(count)
    os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")
    if count == 1:
        os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    os.environ.setdefault("JAX_PLATFORMS", "cpu")


def cnn(size: int):
    from symbackprop.model.architecture import build_network
    return build_network("cnn", (1, size, size), 10, "relu", "softmax", "cce")


class ConvProblem:
    """The CNN, its data, initial weights and batch orders, shared by every implementation
    (the attributes ``train_step.Symbackprop`` reads)."""

    def __init__(self, size: int, args: argparse.Namespace):
        import numpy as np
        self.size, self.batch, self.lr, self.mu, self.steps = size, args.batch, args.lr, args.momentum, args.steps
        self.threads = args.threads
        self.dtype = np.dtype(args.dtype)
        self.network = cnn(size)
        n = self.steps * self.batch
        rng = np.random.default_rng(0)
        if args.idx:
            from symbackprop.train.data_files import read_idx
            images = read_idx(args.idx)[:n].reshape(n, -1) / 255.0
            if images.shape[1] != size * size:
                raise SystemExit(f"{args.idx} holds {int(images.shape[1] ** 0.5)}-pixel images, not {size}: "
                                 f"give --sizes {int(images.shape[1] ** 0.5)}")
        else:
            images = rng.random((n, size * size))
        self.X = np.ascontiguousarray(images.reshape(n, 1, size, size), dtype=self.dtype)  # the kernels' layout
        self.labels = rng.integers(0, 10, size=n)
        self.Y = np.eye(10, dtype=self.dtype)[self.labels]
        init = self.network.init_params(0)
        self.init = [init[name].astype(self.dtype) for name in init]  # W1, b1, W3, b3, W6, b6
        self.orders = [rng.permutation(n) for _ in range(args.epochs + 1)]

    @property
    def flops(self) -> int:
        """Multiply-adds ×2 of forward and backward: ×3 of the forward (the input gradient and
        the weight gradient), except the first layer, which needs no input gradient (×2)."""
        s, b = self.size, self.batch
        conv1 = 2 * 16 * s * s * 1 * 9
        conv2 = 2 * 32 * (s // 2) ** 2 * 16 * 9
        dense = 2 * 32 * (s // 4) ** 2 * 10
        return b * (2 * conv1 + 3 * conv2 + 3 * dense)


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_step import JaxJit, TorchEager  # noqa: E402 (train_step imports no numerical library at import)


class TorchCNN(TorchEager):
    """train_step.py's PyTorch peer (the same optimiser, epochs and batches) with the CNN's forward."""

    def _logits(self, x):
        F = self.torch.nn.functional
        W1, b1, W3, b3, W6, b6 = self.p
        x = F.max_pool2d(F.relu(F.conv2d(x, W1, b1, padding=1)), 2)
        x = F.max_pool2d(F.relu(F.conv2d(x, W3, b3, padding=1)), 2)
        return x.flatten(1) @ W6 + b6


class JaxCNN(JaxJit):
    """train_step.py's jitted JAX step (the same update, epochs and timing) with the CNN's forward."""

    def model(self, jax, jnp):
        from jax import lax

        def conv(x, W, b):
            out = lax.conv_general_dilated(x, W, (1, 1), "SAME", dimension_numbers=("NCHW", "OIHW", "NCHW"))
            return out + b[None, :, None, None]

        def pool(x):
            return lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

        def logits(p, x):
            W1, b1, W3, b3, W6, b6 = p
            x = pool(jax.nn.relu(conv(x, W1, b1)))
            x = pool(jax.nn.relu(conv(x, W3, b3)))
            return x.reshape(x.shape[0], -1) @ W6 + b6
        return logits


def compile_probe(size: str, cache: str) -> None:
    """(Child process) derive + generate + compile the CNN for one image size; prints seconds as JSON."""
    start = time.perf_counter()
    import symbackprop
    imported = time.perf_counter()
    compiled = symbackprop.compile(cnn(int(size)), cache_dir=cache)
    print(json.dumps({"import": imported - start, "compile": time.perf_counter() - imported,
                      "from_cache": compiled.from_cache}))


def compile_times(size: int) -> tuple[float, float]:
    """Cold and warm derive + compile seconds of symbackprop, each in a fresh process."""
    results = []
    with tempfile.TemporaryDirectory() as cache:
        for _ in range(2):
            out = subprocess.run([sys.executable, __file__, "--compile-probe", str(size), cache],
                                 capture_output=True, text=True, check=True)
            results.append(json.loads(out.stdout.strip().splitlines()[-1])["compile"])
    return results[0], results[1]


def run_size(size: int, args, rate: float) -> dict:
    import numpy as np
    from train_step import Symbackprop, quartiles, time_round_robin
    pb = ConvProblem(size, args)
    impls = [Symbackprop(pb)]
    for peer in args.peers:
        try:
            impls.append(TorchCNN(pb, args.threads) if peer == "torch" else JaxCNN(pb))
        except ImportError as exc:
            print(f"  (skipping {peer}: {exc}; pip install -e '.[bench]')")
    times = time_round_robin(impls, pb)
    for impl in impls:  # the same epochs from the same start, for the weight comparison
        impl.reset()
        for order in pb.orders[1:3]:
            impl.epoch(order)
    ours = impls[0].weights()
    rows = []
    for impl, per_step in zip(impls, times):
        median = statistics.median(per_step)
        ratios = [theirs / mine for theirs, mine in zip(per_step, times[0])]
        diff = max(float(np.max(np.abs(a - b))) for a, b in zip(impl.weights(), ours))
        rows.append({"name": impl.name, "median": median, "quartiles": quartiles(per_step),
                     "flop_limit_x": median / (pb.flops / rate), "paired": statistics.median(ratios),
                     "weight_diff": diff, "compile": getattr(impl, "compile_seconds", None)})
    cold = warm = None
    if not args.no_compile_times:
        cold, warm = compile_times(size)
    return {"size": size, "flops": pb.flops, "rows": rows, "cold": cold, "warm": warm}


def print_result(res: dict, args) -> None:
    print(f"\n1×{res['size']}×{res['size']} images, batch {args.batch}, {args.dtype}, {args.threads} thread(s); "
          f"{res['flops'] / 1e6:.1f} MFLOP per step")
    print(f"  {'implementation':<14} {'ms/step':>9} {'(q1-q3)':>15} {'x FLOP limit':>13} "
          f"{'symbackprop faster':>19} {'max |Δw|':>10} {'compile':>9}")
    for r in res["rows"]:
        q1, q3 = r["quartiles"]
        compile_s = f"{r['compile']:.2f} s" if r["compile"] is not None else ""
        faster = "" if r["name"] == "symbackprop" else f"{r['paired']:.2f}x"
        print(f"  {r['name']:<14} {r['median'] * 1e3:9.3f} {f'({q1 * 1e3:.2f}-{q3 * 1e3:.2f})':>15} "
              f"{r['flop_limit_x']:13.1f} {faster:>19} {r['weight_diff']:10.1e} {compile_s:>9}")
    if res["cold"] is not None:
        print(f"  symbackprop derive + compile: cold {res['cold']:.1f} s, warm {res['warm']:.2f} s (fresh processes)")


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.compile_probe:
        return compile_probe(*args.compile_probe)
    set_threads(args.threads)
    import numpy as np
    from train_step import matmul_rate
    rate = matmul_rate(np.dtype(args.dtype))
    print(f"matmul rate: {rate / 1e9:.1f} GFLOP/s ({args.dtype}, {args.threads} thread(s)); "
          f"timed in turns, {args.epochs} rounds of {args.steps} steps; ratios are per-round paired medians")
    results = [run_size(size, args, rate) for size in args.sizes]
    for res in results:
        print_result(res, args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    if args.plot:
        plot_sizes(results, args)


def plot_sizes(results: list[dict], args) -> None:
    """Median time per step against image size, one line per implementation (log-log), with the
    FLOP limit for reference: how each one grows from the digits' 8×8 to 56×56."""
    from symbackprop.plotting import new_figure
    figure = new_figure(figsize=(6.4, 4.2))
    axes = figure.add_subplot()
    sizes = [res["size"] for res in results]
    for name in [row["name"] for row in results[0]["rows"]]:
        medians = [next(r["median"] for r in res["rows"] if r["name"] == name) * 1e3 for res in results]
        axes.plot(sizes, medians, marker="o", label=name)
    limits = [res["rows"][0]["median"] / res["rows"][0]["flop_limit_x"] * 1e3 for res in results]
    axes.plot(sizes, limits, linestyle=":", color="grey", label="FLOP limit (matmul rate)")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xticks(sizes, [f"{s}×{s}" for s in sizes])
    axes.minorticks_off()
    axes.set_xlabel("image size (1 channel)")
    axes.set_ylabel("ms per training step (median)")
    axes.set_title(f"README CNN, batch {args.batch}, {args.dtype}, {args.threads} thread(s)")
    axes.legend()
    axes.grid(True, which="major", alpha=0.3)
    figure.tight_layout()
    figure.savefig(args.plot, dpi=110)
    print(f"plotted {args.plot}")


if __name__ == "__main__":
    main()
