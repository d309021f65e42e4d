"""How symbackprop's training step and compile time scale with width, depth and batch.

Three sweeps on scikit-learn's digits (ReLU hidden layers, softmax + cross-entropy, SGD
with momentum, float64), each point timed like ``train_step.py`` (median time per step
over --epochs epochs, one compiled call per epoch):

* width: 64-W-10 at batch 32, W = 16 ... 1024;
* depth: 64-(64 x D)-10 at batch 32, D = 1 ... 4 hidden layers;
* batch: 64-64-10 at batch 8 ... 512.

Compile time is derive + generate + compile in a fresh process with an empty kernel cache.
Index-level kernels depend on the layer *structure*, not the widths, so the width and
batch sweeps show a constant compile time; depth adds code.  Writes a table, and with
--plot a PNG (needs matplotlib).

    python benchmarks/scaling.py --plot scaling.png
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_step  # noqa: E402  (same folder; imports nothing heavy at the top)

SWEEPS = {
    "width": [([64, w, 10], 32) for w in (16, 64, 256, 1024)],
    "depth": [([64] + [64] * d + [10], 32) for d in (1, 2, 3, 4)],
    "batch": [([64, 64, 10], b) for b in (8, 32, 128, 512)],
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sweeps", nargs="+", default=list(SWEEPS), choices=list(SWEEPS))
    parser.add_argument("--no-compile-times", action="store_true")
    parser.add_argument("--plot", help="write a PNG of the sweeps here")
    args = parser.parse_args(argv)
    train_step.set_threads(args.threads)
    import numpy as np
    rate = train_step.matmul_rate(np.dtype("float64"))
    print(f"threads: {args.threads}; float64; 512x512 matmul {rate / 1e9:.1f} GFLOP/s; medians of {args.epochs} epochs")
    print(f"{'sweep':<6} {'network':<20} {'batch':>5} {'µs/step':>9} {'× FLOP limit':>13} {'cold compile s':>15}")
    results: dict[str, list[dict]] = {}
    for sweep in args.sweeps:
        for sizes, batch in SWEEPS[sweep]:
            pb = train_step.Problem(sizes, batch, args.epochs, "float64", 0.01, 0.9)
            step = train_step.time_per_step(train_step.Symbackprop(pb), pb)
            cold = None if args.no_compile_times else train_step.compile_times(sizes)[0]
            row = {"net": "-".join(map(str, sizes)), "batch": batch, "step_us": step * 1e6,
                   "flop_limit_us": pb.flops / rate * 1e6,
                   "x_flop_limit": step / (pb.flops / rate), "cold_compile_s": cold}
            results.setdefault(sweep, []).append(row)
            compile_text = "" if cold is None else f"{cold:.2f}"
            print(f"{sweep:<6} {row['net']:<20} {batch:>5} {row['step_us']:>9.2f} {row['x_flop_limit']:>13.2f} "
                  f"{compile_text:>15}")
    if args.plot:
        plot(results, args.plot)
        print(f"plot written to {args.plot}")
    medians = [r["cold_compile_s"] for rows in results.values() for r in rows if r["cold_compile_s"] is not None]
    if medians:
        print(f"median cold compile over all points: {statistics.median(medians):.2f} s")


def plot(results: dict[str, list[dict]], path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, len(results), figsize=(4.2 * len(results), 6.5), squeeze=False)
    for col, (sweep, rows) in enumerate(results.items()):
        labels = [r["net"] if sweep != "batch" else str(r["batch"]) for r in rows]
        x = range(len(rows))
        axes[0][col].plot(x, [r["step_us"] for r in rows], "o-", label="symbackprop")
        axes[0][col].plot(x, [r["flop_limit_us"] for r in rows], "k--", label="FLOP limit")
        axes[0][col].legend(fontsize=8)
        axes[0][col].set_yscale("log")
        axes[0][col].set_title(f"{sweep} sweep")
        axes[0][col].set_ylabel("µs per training step")
        compile_s = [r["cold_compile_s"] for r in rows]
        if all(c is not None for c in compile_s):
            axes[1][col].bar(x, compile_s)
        axes[1][col].set_ylabel("cold derive + compile, s")
        for ax in (axes[0][col], axes[1][col]):
            ax.set_xticks(list(x))
            ax.set_xticklabels(labels, rotation=20, fontsize=8)
            ax.set_xlabel("batch size" if sweep == "batch" else f"network sizes ({sweep} sweep)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
