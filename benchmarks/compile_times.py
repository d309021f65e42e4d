"""Cold and warm start of symbackprop, each measured in a fresh Python process.

cold: an empty kernel cache -> derive, simplify, generate, compile, first training step;
warm: the same command again -> everything from the cache, first training step.
The time is wall clock from launching the process until the first SGD step has run,
so it includes importing Python, NumPy, SymPy and Numba.  "compile" is
``symbackprop.compile(net)`` alone (derive + generate + compile what ``evaluate`` and
``train_epoch`` need, or load it).  Medians of --repeats runs.

``--train-start`` also times the ``symbackprop train`` command's warm start-up: from
launching it to its first epoch's line (the README's digits MLP and CNN commands, the
kernel cache warm).

``--base DIR`` runs another checkout of symbackprop (its root folder) in turns with this
one, A B A B, and prints the paired ratio this/base of every figure: on a noisy machine
the ratio of neighbouring runs is the number to trust.

    python benchmarks/compile_times.py                      # 64-64-10, 784-256-10 and the README CNN
    python benchmarks/compile_times.py --nets 64,32,10 cnn --repeats 5
    python benchmarks/compile_times.py --nets cnn 64,64,10 --repeats 6 --base ../old-checkout
    python benchmarks/compile_times.py --nets --train-start
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
from pathlib import Path

#: a network is layer sizes ("64,64,10": an MLP with ReLU) or an --arch text on digits-shaped
#: images, 1x8x8 with 10 classes ("cnn": the README's preset)
CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[3])  # the checkout to time
import numpy as np
import symbackprop
from symbackprop import Network
from symbackprop.train import train_sgd
spec = sys.argv[1]
if spec.replace(",", "").isdigit():
    sizes = [int(s) for s in spec.split(",")]
    net, shape, outputs = Network.mlp(sizes, "relu"), (sizes[0],), sizes[-1]
else:
    from symbackprop.model.architecture import build_network
    shape, outputs = (1, 8, 8), 10
    net = build_network(spec, shape, outputs)
t1 = time.perf_counter()
compiled = symbackprop.compile(net, cache_dir=sys.argv[2])
t2 = time.perf_counter()
rng = np.random.default_rng(0)
X = rng.normal(size=(64, int(np.prod(shape)))); y = rng.integers(0, outputs, size=64)
train_sgd(compiled, net.init_params(0), X, y, epochs=1, lr=0.01, batch_size=64)
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "compile": t2 - t1, "step": t3 - t2, "from_cache": compiled.from_cache,
                  "file": symbackprop.__file__}))
"""

#: the table's columns after the network's name: (run, figure, width); their headings are in main
COLUMNS = (("cold", "wall", 22), ("cold", "compile", 17), ("warm", "wall", 21), ("warm", "compile", 14))

#: the README's commands whose warm start-up --train-start times
TRAIN_COMMANDS = {"digits MLP": ["train", "--epochs", "2"],
                  "digits CNN": ["train", "--arch", "cnn", "--epochs", "2"]}


def run_once(spec: str, cache: str, root: str) -> dict:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, spec, cache, root], capture_output=True, text=True,
                         check=True, cwd=tempfile.gettempdir())  # not beside a checkout: its folder would win
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - start
    return result


def check_checkout(root: str) -> None:
    """Refuse to time anything but ``root``'s symbackprop (an installed copy could win)."""
    code = "import sys; sys.path.insert(0, sys.argv[1]); import symbackprop; print(symbackprop.__file__)"
    out = subprocess.run([sys.executable, "-c", code, root], capture_output=True, text=True,
                         cwd=tempfile.gettempdir())
    if out.returncode != 0:
        raise SystemExit(f"{root}: symbackprop cannot be imported from it:\n{out.stderr.strip()}")
    if not Path(out.stdout.strip()).resolve().is_relative_to(Path(root)):
        raise SystemExit(f"{root}: Python imports symbackprop from {out.stdout.strip()} instead")


def to_first_epoch(command: list[str], cache: str, root: str) -> float:
    """Seconds from launching ``symbackprop <command>`` to its first epoch's line."""
    code = "import sys; sys.path.insert(0, sys.argv.pop(1)); " \
           "from symbackprop.cli import main; sys.argv[0] = 'symbackprop'; sys.exit(main())"
    # unbuffered: through a pipe, the epoch line would otherwise arrive only when the run ends
    env = {**os.environ, "SYMBACKPROP_CACHE_DIR": cache, "PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code, root, *command, "--every", "1", "--no-progress"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
                               cwd=tempfile.gettempdir())
    seconds = None
    for line in process.stdout:
        if line.startswith("epoch "):
            seconds = time.perf_counter() - start
            break
    process.kill()
    process.wait()
    if seconds is None:
        raise SystemExit(f"symbackprop {' '.join(command)} ({root}) printed no epoch line")
    return seconds


def _paired(mine: list[float], theirs: list[float]) -> str:
    ratios = sorted(a / b for a, b in zip(mine, theirs))
    return f"{statistics.median(ratios):.2f} ({ratios[0]:.2f}-{ratios[-1]:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nets", nargs="*", default=["64,64,10", "784,256,10", "cnn"],
                        help="layer sizes (an MLP) or an --arch text on 1x8x8 images")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-start", action="store_true",
                        help="also time the train command's warm start-up to its first epoch")
    parser.add_argument("--base", metavar="DIR", default="",
                        help="another checkout (its root) to run in turns with this one, for paired ratios")
    args = parser.parse_args()
    this = str(Path(__file__).resolve().parents[1])  # the checkout this script belongs to
    sides = {"this": this} | ({"base": str(Path(args.base).resolve())} if args.base else {})
    for root in sides.values():
        check_checkout(root)
    base = "base" in sides
    if args.nets:
        print(f"{'network':>12} {'':>5} {'cold: start→trained':>22} {'of which compile':>17} "
              f"{'warm: start→trained':>21} {'of which load':>14}")
    for spec in args.nets:
        runs: dict[str, dict[str, list]] = {side: {"cold": [], "warm": []} for side in sides}
        for _ in range(args.repeats):
            for side, root in sides.items():  # in turns: neighbouring runs share the machine's mood
                with tempfile.TemporaryDirectory() as cache:
                    first = run_once(spec, cache, root)
                    second = run_once(spec, cache, root)
                assert not first["from_cache"] and second["from_cache"]
                runs[side]["cold"].append(first)
                runs[side]["warm"].append(second)
        def figures(side: str, kind: str, key: str) -> list[float]:
            return [r[key] for r in runs[side][kind]]
        for side in sides:
            print(f"{spec.replace(',', '-'):>12} {side:>5} " + " ".join(
                f"{statistics.median(figures(side, kind, key)):.2f} s".rjust(width) for kind, key, width in COLUMNS))
        if base:
            print(f"{'':>12} {'ratio':>5} " + " ".join(
                _paired(figures("this", kind, key), figures("base", kind, key)).rjust(width)
                for kind, key, width in COLUMNS))
    if args.train_start:
        print(f"\n{'train command':>12} {'':>5} {'warm: start→first epoch line':>30}")
        for name, command in TRAIN_COMMANDS.items():
            times: dict[str, list[float]] = {side: [] for side in sides}
            with tempfile.TemporaryDirectory() as cache:
                for root in sides.values():  # fill each side's cache (the digits arrays, the kernels)
                    to_first_epoch(command, cache, root)
                for _ in range(args.repeats):
                    for side, root in sides.items():
                        times[side].append(to_first_epoch(command, cache, root))
            for side in sides:
                print(f"{name:>12} {side:>5} {statistics.median(times[side]):>28.2f} s  "
                      f"({min(times[side]):.2f}-{max(times[side]):.2f})")
            if base:
                print(f"{'':>12} {'ratio':>5} {_paired(times['this'], times['base']):>30}")
    print(f"(medians of {args.repeats} runs; each run is a new process; Python {sys.version.split()[0]}; "
          + "; ".join(f"{side}: {root}" for side, root in sides.items()) + ")")


if __name__ == "__main__":
    main()
