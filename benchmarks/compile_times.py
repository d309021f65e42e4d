"""Cold and warm start of symbackprop, each measured in a fresh Python process.

cold: an empty kernel cache -> derive, simplify, generate, compile, first training step;
warm: the same command again -> everything from the cache, first training step.
The time is wall clock from launching the process until the first SGD step has run,
so it includes importing Python, NumPy, SymPy and Numba.  Medians of --repeats runs.

    python benchmarks/compile_times.py                 # 64-64-10 and 784-256-10
    python benchmarks/compile_times.py --nets 64,32,10 --repeats 5
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import symbackprop
from symbackprop import Network
from symbackprop.train import train_sgd
sizes = [int(s) for s in sys.argv[1].split(",")]
net = Network.mlp(sizes, "relu")
t1 = time.perf_counter()
compiled = symbackprop.compile(net, cache_dir=sys.argv[2])
t2 = time.perf_counter()
rng = np.random.default_rng(0)
X = rng.normal(size=(64, sizes[0])); y = rng.integers(0, sizes[-1], size=64)
train_sgd(compiled, net.init_params(0), X, y, epochs=1, lr=0.01, batch_size=64)
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "compile": t2 - t1, "step": t3 - t2, "from_cache": compiled.from_cache,
                  "timings": compiled.timings}))
"""


def run_once(sizes: str, cache: str) -> dict:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, sizes, cache], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - start
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nets", nargs="+", default=["64,64,10", "784,256,10"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{'network':>12} {'cold: start→trained':>22} {'of which compile':>17} "
          f"{'warm: start→trained':>21} {'of which load':>14}")
    for sizes in args.nets:
        cold, warm = [], []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as cache:
                first = run_once(sizes, cache)
                second = run_once(sizes, cache)
            assert not first["from_cache"] and second["from_cache"]
            cold.append(first)
            warm.append(second)
        med = lambda runs, key: statistics.median(r[key] for r in runs)  # noqa: E731
        print(f"{sizes.replace(',', '-'):>12} {med(cold, 'wall'):>20.2f} s {med(cold, 'compile'):>15.2f} s "
              f"{med(warm, 'wall'):>19.2f} s {med(warm, 'compile'):>12.2f} s")
    print(f"(medians of {args.repeats} runs; each run is a new process; Python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()
