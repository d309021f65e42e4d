"""The ``symbackprop`` command: train a network, or show its derivation and op counts.

Every error a user can cause is a :class:`~symbackprop.errors.SymbackpropError`; the
command prints it as one line and exits with status 2, without a traceback.
"""
from __future__ import annotations

import argparse
import sys
import time

from .errors import SymbackpropError

DEFAULT_HIDDEN = "256"


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.replace("x", ",").split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"layer sizes must be integers separated by commas, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return sizes


def _add_model_options(p: argparse.ArgumentParser, hidden_default: str) -> None:
    p.add_argument("--hidden", type=_sizes, default=_sizes(hidden_default), metavar="N[,N...]",
                   help=f"hidden layer widths, comma-separated (default: {hidden_default})")
    p.add_argument("--activation", default="relu",
                   help="hidden activation: identity, sigmoid, tanh, relu, leaky_relu, softmax (default: relu)")
    p.add_argument("--output", default=None,
                   help="output activation (default: the one the loss expects: softmax for cce, sigmoid for bce)")
    p.add_argument("--loss", default="cce", help="mse, bce or cce (default: cce)")
    p.add_argument("--view", choices=("index", "unrolled"), default="index",
                   help="kernels from the index-level rules (any size) or unrolled per weight (small nets)")
    p.add_argument("--cache-dir", default=None,
                   help="kernel cache folder (default: $SYMBACKPROP_CACHE_DIR or ~/.cache/symbackprop)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="symbackprop",
        description="Backpropagation you can read, check and compile: SymPy derives every gradient "
                    "by the chain rule, CSE simplifies it, Numba compiles it.")
    from . import __version__
    parser.add_argument("--version", action="version", version=f"symbackprop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = sub.add_parser("train", help="derive, compile and train a network on a bundled dataset",
                           description="Derive, compile and train an MLP. With no flags: scikit-learn's "
                                       "digits, 64-256-10 ReLU + softmax, cross-entropy, mini-batch SGD.")
    train.add_argument("--dataset", default="digits", help="bundled dataset (default: digits)")
    _add_model_options(train, DEFAULT_HIDDEN)
    train.add_argument("--epochs", type=int, default=100, help="passes over the training set (default: 100)")
    train.add_argument("--lr", type=float, default=0.05, help="SGD learning rate (default: 0.05)")
    train.add_argument("--batch-size", type=int, default=16, help="mini-batch size (default: 16)")
    train.add_argument("--seed", type=int, default=0, help="seed for the split, initial weights and shuffling")
    train.add_argument("--val-fraction", type=float, default=0.1, help="validation share (default: 0.1)")
    train.add_argument("--test-fraction", type=float, default=0.2, help="held-out test share (default: 0.2)")
    train.add_argument("--every", type=int, default=10, help="print every N-th epoch (default: 10)")

    derive = sub.add_parser("derive", help="print the chain-rule formulas and the op-count report",
                            description="Derive a network's gradients and print the formulas and the "
                                        "operation counts (naive vs CSE vs chain rule).")
    derive.add_argument("--sizes", type=_sizes, default=[2, 3, 1], metavar="N,N[,N...]",
                        help="all layer sizes, input first (default: 2,3,1)")
    derive.add_argument("--activation", default="sigmoid", help="hidden activation (default: sigmoid)")
    derive.add_argument("--output", default=None, help="output activation (default: fits the loss)")
    derive.add_argument("--loss", default="mse", help="mse, bce or cce (default: mse)")
    derive.add_argument("--view", choices=("index", "unrolled"), default="index",
                        help="formulas of one generic neuron (index) or of every weight (unrolled)")
    derive.add_argument("--naive", choices=("auto", "yes", "no"), default="auto",
                        help="also differentiate the fully substituted loss (auto: small networks only)")
    return parser


def _print_epoch(record, epochs: int, every: int) -> None:
    if record.epoch == 1 or record.epoch == epochs or record.epoch % every == 0:
        val = "" if record.val_loss is None else f"  val loss {record.val_loss:.4f}"
        acc = "" if record.val_accuracy is None else f"  val acc {record.val_accuracy:.4f}"
        print(f"epoch {record.epoch:>4}/{epochs}  loss {record.train_loss:.4f}{val}{acc}", flush=True)


def cmd_train(args: argparse.Namespace) -> int:
    from .model import Network
    from .train import accuracy, load_dataset, train_sgd

    data = load_dataset(args.dataset, seed=args.seed, val_fraction=args.val_fraction,
                        test_fraction=args.test_fraction)
    print(data.summary())
    net = Network.mlp([data.n_features, *args.hidden, data.n_classes], args.activation, args.output, args.loss)
    print(f"model: {net}  ({net.n_params:,} parameters)")
    start = time.perf_counter()
    compiled = net.compile(view=args.view, cache_dir=args.cache_dir)
    if compiled.from_cache:
        print(f"kernels: loaded from cache in {time.perf_counter() - start:.2f} s ({compiled.folder})")
    else:
        t = compiled.timings
        print(f"kernels: derived in {t.get('derive', 0):.2f} s, generated in {t.get('generate', 0):.2f} s, "
              f"compiled in {t.get('compile_or_load', 0):.2f} s -> {compiled.source_path}")
    print(compiled.report.table())
    params = net.init_params(args.seed)
    print(f"training: SGD, lr {args.lr}, batch {args.batch_size}, {args.epochs} epochs")
    t0 = time.perf_counter()
    train_sgd(compiled, params, data.X_train, data.y_train, epochs=args.epochs, lr=args.lr,
              batch_size=args.batch_size, seed=args.seed, X_val=data.X_val, y_val=data.y_val,
              on_epoch=lambda r: _print_epoch(r, args.epochs, args.every))
    seconds = time.perf_counter() - t0
    acc = accuracy(compiled, params, data.X_test, data.y_test)
    correct = int(round(acc * len(data.y_test)))
    print(f"trained in {seconds:.2f} s; held-out test accuracy: {acc:.4f} ({correct}/{len(data.y_test)})")
    return 0


def cmd_derive(args: argparse.Namespace) -> int:
    from .model import Network
    from .simplify.report import NAIVE_PARAM_LIMIT, count_index, count_unrolled

    net = Network.mlp(args.sizes, args.activation, args.output, args.loss)
    print(f"model: {net}  ({net.n_params:,} parameters)\n")
    if args.view == "index":
        deriv = net.derive()
        print(f"Index-level chain rule (n = sample, i = input, j = neuron; derived in {deriv.seconds:.2f} s):")
        for stmt in deriv.statements():
            print(f"  {stmt}")
    else:
        unrolled = net.derive_unrolled()
        print(f"Unrolled chain rule, one sample (derived in {unrolled.seconds:.2f} s):")
        for a in unrolled.program:
            print(f"  {a}")
    print()
    naive = {"auto": None, "yes": True, "no": False}[args.naive]
    if args.view == "unrolled" or naive or (naive is None and net.n_params <= NAIVE_PARAM_LIMIT):
        print(count_unrolled(net, naive=naive).table())
    else:
        print(count_index(net.derive()).table())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return {"train": cmd_train, "derive": cmd_derive}[args.command](args)
    except SymbackpropError as exc:
        print(f"symbackprop: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("symbackprop: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
