"""The ``symbackprop`` command: train, evaluate and predict; show a derivation and its op counts.

Every error a user can cause is a :class:`~symbackprop.errors.SymbackpropError`; the
command prints it as one line and exits with status 2, without a traceback.
"""
from __future__ import annotations

import argparse
import sys
import time

from .errors import DataError, SymbackpropError

DEFAULT_HIDDEN = "256"
PARAM_DEFAULT = "W1[0,1]"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line like every other error (exit status 2)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"symbackprop: error: {message} (see '{self.prog} --help')\n")


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.replace("x", ",").split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"layer sizes must be integers separated by commas, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return sizes


ARCH_HELP = ("layers as text, e.g. 'conv:16,maxpool:2,conv:32,maxpool:2' or 'cnn' (conv:C[:K][:sS][:same|valid|pP]"
             "[:act], maxpool:K, avgpool:K, flatten, dense:N[:act]); the output layer is added")


def _add_model_options(p: argparse.ArgumentParser, sizes: list[int] | None, activation: str, loss: str,
                       output_help: str) -> None:
    """The options that describe a small network on the command line (derive, explain, export)."""
    shown = ",".join(map(str, sizes)) if sizes else None
    p.add_argument("--sizes", type=_sizes, default=sizes, metavar="N,N[,N...]",
                   help=f"all layer sizes, input first (default: {shown})" if shown else
                   "all layer sizes, input first")
    p.add_argument("--arch", default=None, metavar="TEXT", help=ARCH_HELP + " (instead of --sizes)")
    p.add_argument("--image-shape", type=_sizes, default=[1, 4, 4], metavar="C,ROWS,COLS",
                   help="input images of --arch (default: 1,4,4)")
    p.add_argument("--outputs", type=int, default=2, help="outputs of --arch's last layer (default: 2)")
    p.add_argument("--activation", default=activation, help=f"hidden activation (default: {activation})")
    p.add_argument("--output", default=None, help=f"output activation (default: {output_help})")
    p.add_argument("--loss", default=loss, help=f"mse, bce or cce (default: {loss})")
    p.add_argument("--l1", type=float, default=0.0, help="L1 penalty on the weights")
    p.add_argument("--l2", type=float, default=0.0, help="L2 penalty on the weights")


def _model(args: argparse.Namespace, output: str | None = None):
    from .model import Network
    if args.arch:
        from .model.architecture import build_network
        return build_network(args.arch, _image_shape(args.image_shape), args.outputs, args.activation,
                             args.output, args.loss, l1=args.l1, l2=args.l2)
    return Network.mlp(args.sizes, args.activation, output or args.output, args.loss, l1=args.l1, l2=args.l2)


def _image_shape(shape: list[int]) -> tuple[int, ...]:
    if len(shape) != 3:
        raise SymbackpropError(f"--image-shape needs channels, rows and cols, got {','.join(map(str, shape))}")
    return tuple(shape)


def _add_data_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data (nothing is downloaded)")
    g.add_argument("--dataset", default="digits", help="bundled data set: digits, breast_cancer, xor (default: digits)")
    g.add_argument("--csv", metavar="FILE", help="your own CSV file: a header row, feature columns and a label column")
    g.add_argument("--label-column", default="-1", help="CSV label column, by name or position (default: last)")
    g.add_argument("--idx-images", metavar="FILE", help="MNIST-format IDX images (optionally .gz)")
    g.add_argument("--idx-labels", metavar="FILE", help="MNIST-format IDX labels (optionally .gz)")
    g.add_argument("--seed", type=int, default=0, help="seed for the split, initial weights and shuffling (default: 0)")
    g.add_argument("--val-fraction", type=float, default=0.1, help="validation share (default: 0.1)")
    g.add_argument("--test-fraction", type=float, default=0.2, help="held-out test share (default: 0.2)")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .train.optimizers import OPTIMIZERS

    parser = _Parser(
        prog="symbackprop",
        description="Backpropagation you can read, check and compile: SymPy derives every gradient "
                    "by the chain rule, CSE simplifies it, Numba compiles it.")
    parser.add_argument("--version", action="version", version=f"symbackprop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = sub.add_parser("train", help="derive, compile and train a network",
                           description="Derive, compile and train an MLP. With no flags: scikit-learn's "
                                       "digits, 64-256-10 ReLU + softmax, cross-entropy, mini-batch SGD.")
    _add_data_options(train)
    m = train.add_argument_group("model")
    m.add_argument("--hidden", type=_sizes, default=_sizes(DEFAULT_HIDDEN), metavar="N[,N...]",
                   help=f"hidden layer widths, comma-separated (default: {DEFAULT_HIDDEN})")
    m.add_argument("--arch", default=None, metavar="TEXT", help=ARCH_HELP + " (instead of --hidden)")
    m.add_argument("--image-shape", type=_sizes, default=None, metavar="C,ROWS,COLS",
                   help="the shape of each row's image, for --arch on CSV data (digits and IDX files know theirs)")
    m.add_argument("--activation", default="relu",
                   help="hidden activation: identity, sigmoid, tanh, relu, leaky_relu, softmax (default: relu)")
    m.add_argument("--output", default=None, help="output activation (default: the one the loss expects)")
    m.add_argument("--loss", default=None,
                   help="mse, bce or cce (default: bce for two classes, cce otherwise)")
    m.add_argument("--l1", type=float, default=0.0, help="L1 penalty on the weights (default: 0)")
    m.add_argument("--l2", type=float, default=0.0, help="L2 penalty on the weights, l2/2·ΣW² (default: 0)")
    m.add_argument("--init", default="auto",
                   help="auto (He after ReLU, Xavier otherwise), xavier_uniform, xavier_normal, he_normal, he_uniform")
    m.add_argument("--normalize", default="none", choices=("none", "minmax", "standard"),
                   help="input normalisation, fitted on the training split (default: none)")
    m.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="precision of weights and kernels (default: float64)")
    m.add_argument("--view", choices=("index", "unrolled"), default="index",
                   help="kernels from the index-level rules (any size) or unrolled per weight (small nets)")
    m.add_argument("--cache-dir", default=None,
                   help="kernel cache folder (default: $SYMBACKPROP_CACHE_DIR or ~/.cache/symbackprop)")
    o = train.add_argument_group("optimisation")
    o.add_argument("--optimizer", default="sgd", choices=OPTIMIZERS, help="update rule (default: sgd)")
    o.add_argument("--lr", type=float, default=0.05, help="learning rate (default: 0.05)")
    o.add_argument("--momentum", type=float, default=0.9, help="momentum / nesterov coefficient (default: 0.9)")
    o.add_argument("--beta1", type=float, default=0.9, help="Adam β1 (default: 0.9)")
    o.add_argument("--beta2", type=float, default=0.999, help="Adam β2 (default: 0.999)")
    o.add_argument("--alpha", type=float, default=0.99, help="RMSProp smoothing (default: 0.99)")
    o.add_argument("--schedule", default="constant", choices=("constant", "step", "exponential"),
                   help="learning-rate schedule (default: constant)")
    o.add_argument("--gamma", type=float, default=0.5, help="decay factor of the schedule (default: 0.5)")
    o.add_argument("--step-size", type=int, default=10, help="epochs between step decays (default: 10)")
    o.add_argument("--epochs", type=int, default=100, help="passes over the training set (default: 100)")
    o.add_argument("--augment", action="store_true",
                   help="train also on copies of each training image moved one pixel up, down, left and right")
    o.add_argument("--batch-size", type=int, default=16, help="mini-batch size (default: 16)")
    o.add_argument("--clip-value", type=float, default=None, help="clip each gradient entry to ±VALUE")
    o.add_argument("--clip-norm", type=float, default=None, help="scale gradients to global norm ≤ NORM")
    o.add_argument("--patience", type=int, default=None,
                   help="stop after N epochs without a better validation loss, keeping the best weights")
    r = train.add_argument_group("output")
    r.add_argument("--save", metavar="FILE", help="checkpoint file, written atomically after every epoch")
    r.add_argument("--resume", metavar="FILE", help="continue training from a checkpoint (model flags ignored)")
    r.add_argument("--plot", metavar="FILE.png", help="draw loss and accuracy curves (needs matplotlib)")
    r.add_argument("--every", type=int, default=10, help="print every N-th epoch (default: 10)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")

    evaluate = sub.add_parser("evaluate", help="loss and accuracy of a saved model on a data set's test split",
                              description="Evaluate a checkpoint on the held-out test split of a data set "
                                          "(the same seed and fractions give the same split as in training).")
    evaluate.add_argument("model", help="checkpoint written by 'symbackprop train --save'")
    _add_data_options(evaluate)

    predict = sub.add_parser("predict", help="predict classes for the rows of a CSV file",
                             description="Predict one class per row of a CSV file of features (header row first).")
    predict.add_argument("model", help="checkpoint written by 'symbackprop train --save'")
    predict.add_argument("input", help="CSV file: a header row, then one row of features per sample")
    predict.add_argument("--probabilities", action="store_true", help="print the network outputs too")

    derive = sub.add_parser("derive", help="print the chain-rule formulas and the op-count report",
                            description="Derive a network's gradients and print the formulas and the "
                                        "operation counts (naive vs CSE vs chain rule).")
    _add_model_options(derive, [2, 3, 1], "sigmoid", "mse", "fits the loss")
    derive.add_argument("--view", choices=("index", "unrolled"), default="index",
                        help="formulas of one generic neuron (index) or of every weight (unrolled)")
    derive.add_argument("--naive", choices=("auto", "yes", "no"), default="auto",
                        help="also differentiate the fully substituted loss (auto: small networks only)")

    explain = sub.add_parser(
        "explain", help="one backprop step of a small network, every number tied to its formula",
        description="Forward pass neuron by neuron, the loss, the chain rule for one weight path by path, "
                    "the backward pass (δ of each layer) and the gradient-descent update, for one input. "
                    "With no flags: one layer of three sigmoid neurons with two inputs; --sizes 2,3,1 adds "
                    "a hidden layer.")
    _add_model_options(explain, [2, 3], "sigmoid", "mse", "the hidden one for mse, else the one the loss expects")
    explain.add_argument("--input", type=_numbers, default=None, metavar="X,X,...",
                         help="the input (default: 1.0, 0.5, ...; write --input=-1,2 for a leading minus)")
    explain.add_argument("--target", type=_numbers, default=None, metavar="Y,Y,...",
                         help="the target (default: 1, 0, 1, ... or class 0 for softmax)")
    explain.add_argument("--param", default=PARAM_DEFAULT, help="the parameter whose chain rule is written out "
                                                                "(default: W1[0,1]; for --arch a kernel entry "
                                                                "like W1[0,0,1,1], default the first kernel's corner)")
    explain.add_argument("--lr", type=float, default=0.1, help="learning rate of the update (default: 0.1)")
    explain.add_argument("--seed", type=int, default=0, help="seed of the (rounded) weights (default: 0)")
    fmt = explain.add_mutually_exclusive_group()
    fmt.add_argument("--latex", dest="format", action="store_const", const="latex", help="LaTeX output")
    fmt.add_argument("--markdown", dest="format", action="store_const", const="markdown", help="Markdown output")
    explain.add_argument("-o", "--out", metavar="FILE", help="write to FILE instead of the terminal")

    cost = sub.add_parser(
        "cost", help="op counts of naive vs CSE vs chain-rule gradients as networks grow, with derivation times",
        description="How shared partial derivatives cut backprop's cost: for networks growing in width, then "
                    "depth, count the operations of the naive gradients, the naive gradients after CSE, the "
                    "chain rule (backprop) and the forward pass alone, and time each derivation.")
    cost.add_argument("--widths", type=_sizes, default=[2, 4, 8], metavar="W,W,...",
                      help="widths of the w-w-1 networks (default: 2,4,8)")
    cost.add_argument("--depths", type=_sizes, default=[1, 2, 3], metavar="D,D,...",
                      help="hidden layers of the 4-4-...-1 networks (default: 1,2,3; the naive form of 4 "
                           "takes ~30 s)")
    cost.add_argument("--depth-width", type=int, default=4, help="width of the depth sweep's layers (default: 4)")
    cost.add_argument("--activation", default="sigmoid", help="hidden activation (default: sigmoid)")
    cost.add_argument("--loss", default="mse", help="mse, bce or cce (default: mse)")
    cost.add_argument("--naive", choices=("auto", "yes", "no"), default="auto",
                      help="differentiate the substituted loss too (auto: up to 400 parameters)")
    cost.add_argument("--plot", metavar="FILE.png", help="draw counts and times (needs matplotlib)")

    flow = sub.add_parser(
        "gradient-flow", help="vanishing vs exploding gradients: deep sigmoid vs ReLU + He, with and without clipping",
        description="Train a deep network on digits as sigmoid + Xavier, ReLU + He and ReLU with weights twice "
                    "too large, each without and with gradient clipping, recording every layer's gradient norm.")
    flow.add_argument("--depth", type=int, default=8, help="layers, the output layer included (default: 8)")
    flow.add_argument("--width", type=int, default=32, help="hidden layer width (default: 32)")
    flow.add_argument("--epochs", type=int, default=20, help="epochs per run (default: 20)")
    flow.add_argument("--lr", type=float, default=0.1, help="SGD learning rate (default: 0.1)")
    flow.add_argument("--clip-norm", type=float, default=1.0, help="global norm of the clipped runs (default: 1)")
    flow.add_argument("--seed", type=int, default=0, help="seed of the split, weights and shuffling (default: 0)")
    flow.add_argument("--plot", metavar="FILE.png", help="draw the three panels (needs matplotlib)")

    export = sub.add_parser(
        "export", help="write a network's kernels as one standalone file (needs only numpy and numba)",
        description="Write the generated Numba kernels as one Python file that needs only NumPy and Numba, with a "
                    "docstring listing its parameters, entry points and the formulas it implements. From a "
                    "checkpoint, the trained weights go to <name>_weights.npz beside it.")
    export.add_argument("model", nargs="?", help="checkpoint written by 'symbackprop train --save' (optional)")
    export.add_argument("-o", "--out", required=True, metavar="FILE.py", help="the module to write")
    _add_model_options(export, None, "relu", "cce", "the one the loss expects")
    export.add_argument("--view", choices=("index", "unrolled"), default="index",
                        help="loops from the index-level rules (any size) or one line per weight (small nets)")
    return parser


def _numbers(text: str) -> list[float]:
    try:
        return [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None


def _load_data(args: argparse.Namespace):
    from .train import data as datasets

    split = {"seed": args.seed, "val_fraction": args.val_fraction, "test_fraction": args.test_fraction}
    if args.csv:
        return datasets.load_csv(args.csv, args.label_column, **split)
    if args.idx_images or args.idx_labels:
        if not (args.idx_images and args.idx_labels):
            raise DataError("IDX data needs both --idx-images and --idx-labels")
        return datasets.load_idx(args.idx_images, args.idx_labels, **split)
    return datasets.load_dataset(args.dataset, **split)


def _build_network(args: argparse.Namespace, data):
    from .model import Network

    loss = args.loss or ("bce" if data.binary else "cce")
    n_out = 1 if (data.binary and loss in ("bce", "mse")) else data.n_classes
    if args.arch:
        from .model.architecture import build_network
        return build_network(args.arch, _data_shape(args, data), n_out, args.activation, args.output, loss,
                             l1=args.l1, l2=args.l2)
    return Network.mlp([data.n_features, *args.hidden, n_out], args.activation, args.output, loss,
                       l1=args.l1, l2=args.l2)


def _data_shape(args: argparse.Namespace, data) -> tuple[int, ...]:
    """What one row of ``data`` is: an image (digits, IDX files, ``--image-shape``) or features."""
    if getattr(args, "image_shape", None):
        shape = _image_shape(args.image_shape)
        values = shape[0] * shape[1] * shape[2]
        if values != data.n_features:
            raise DataError(f"--image-shape {','.join(map(str, shape))} has {values} values "
                            f"but {data.name} has {data.n_features} features per row")
        data.image_shape = shape
    return data.image_shape or (data.n_features,)


def _number(x: float) -> str:
    return f"{x:.4f}" if abs(x) < 1e5 else f"{x:.4e}"


class _Progress:
    """Epoch lines, and a tqdm bar over the epochs when the output is a terminal."""

    def __init__(self, total: int, every: int, enabled: bool) -> None:
        self.total, self.every, self.bar = total, every, None
        if enabled and sys.stdout.isatty():
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="epoch", leave=False)

    def __call__(self, record) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{record.train_loss:.4f}")
        if record.epoch == 1 or record.epoch % self.every == 0 or record.epoch == self.total:
            val = "" if record.val_loss is None else f"  val loss {_number(record.val_loss)}"
            acc = "" if record.val_accuracy is None else f"  val acc {record.val_accuracy:.4f}"
            line = f"epoch {record.epoch:>4}/{self.total}  lr {record.lr:.3g}  loss {_number(record.train_loss)}{val}{acc}"
            (self.bar.write if self.bar is not None else print)(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _check_features(net, data) -> None:
    if net.n_inputs != data.n_features:
        raise DataError(f"the model takes {net.n_inputs} features per sample, {data.name} has {data.n_features}")


def cmd_train(args: argparse.Namespace) -> int:
    import numpy as np

    from .train import Checkpoint, Normalizer, Optimizer, Schedule, accuracy, fit, load_checkpoint, save_checkpoint

    _check_plotting(args.plot)
    data = _load_data(args)
    print(data.summary())
    if args.augment:
        from .train.data import shifted_copies
        if len(_data_shape(args, data)) != 3:
            raise DataError(f"--augment moves images, but the rows of {data.name} are not images "
                            "(give --image-shape C,ROWS,COLS if they are)")
        data.X_train, data.y_train = shifted_copies(data.X_train, data.y_train, data.image_shape)
        print(f"augmented: {len(data.y_train):,} training images (each also moved by one pixel four ways)")
    start_epoch, history_before = 1, []
    rng = np.random.default_rng(args.seed)  # batch order; its state is saved so a resumed run continues it
    if args.resume:
        ckpt = load_checkpoint(args.resume)
        net, params, normalizer, optimizer = ckpt.network, ckpt.params, ckpt.normalizer, ckpt.optimizer
        start_epoch = int(ckpt.info.get("epochs", 0)) + 1
        history_before = ckpt.info.get("history", [])
        if "shuffle_state" in ckpt.info:
            rng.bit_generator.state = ckpt.info["shuffle_state"]
        print(f"resuming {args.resume} after epoch {start_epoch - 1}")
        _check_features(net, data)
    else:
        net = _build_network(args, data)
        params = net.init_params(args.seed, args.init, dtype=args.dtype)
        normalizer = Normalizer(args.normalize).fit(data.X_train)
        optimizer = None
    optimizer = optimizer or Optimizer(args.optimizer, momentum=args.momentum, alpha=args.alpha, beta1=args.beta1,
                                       beta2=args.beta2)
    print(f"model: {net}  ({net.n_params:,} parameters, {params.flat.dtype})")
    start = time.perf_counter()
    compiled = net.compile(view=args.view, cache_dir=args.cache_dir, dtype=params.flat.dtype)
    if compiled.from_cache:
        print(f"kernels: loaded from cache in {time.perf_counter() - start:.2f} s ({compiled.folder})")
    else:
        t = compiled.timings
        print(f"kernels: derived in {t.get('derive', 0):.2f} s, generated in {t.get('generate', 0):.2f} s, "
              f"compiled in {t.get('compile_or_load', 0):.2f} s -> {compiled.source_path}")
    print(compiled.report.table())
    schedule = Schedule(args.schedule, args.gamma, args.step_size)
    extras = [f"{k} {v}" for k, v in (("clip value", args.clip_value), ("clip norm", args.clip_norm),
                                         ("patience", args.patience)) if v is not None]
    print(f"training: {optimizer.name}, lr {args.lr} ({schedule.kind}), batch {args.batch_size}, "
          f"{args.epochs} epochs, inputs {normalizer.kind}" + "".join(f", {e}" for e in extras))
    X_train, X_val, X_test = (normalizer.transform(X) for X in (data.X_train, data.X_val, data.X_test))
    progress = _Progress(start_epoch + args.epochs - 1, args.every, not args.no_progress)
    done: list = []

    def on_epoch(record) -> None:
        progress(record)
        done.append(record)
        if args.save:
            save_checkpoint(args.save, Checkpoint(net, params, normalizer, optimizer, run_info(record.epoch)))

    def run_info(epochs: int) -> dict:
        return {"epochs": epochs, "dataset": data.name, "seed": args.seed, "shuffle_state": rng.bit_generator.state,
                "history": history_before + [vars(r) for r in done]}

    t0 = time.perf_counter()
    try:
        history = fit(compiled, params, X_train, data.y_train, epochs=args.epochs, lr=args.lr,
                      batch_size=args.batch_size, optimizer=optimizer, schedule=schedule, clip_value=args.clip_value,
                      clip_norm=args.clip_norm, seed=rng, X_val=X_val, y_val=data.y_val,
                      patience=args.patience, start_epoch=start_epoch, on_epoch=on_epoch)
    finally:
        progress.close()
    seconds = time.perf_counter() - t0
    if history.stopped_early:
        print(f"early stop after epoch {history.epochs[-1].epoch}: best validation loss at epoch {history.best_epoch}")
    if args.save:  # the final weights (the best ones after early stopping)
        save_checkpoint(args.save, Checkpoint(net, params, normalizer, optimizer, run_info(history.epochs[-1].epoch)))
        print(f"saved {args.save}")
    if args.plot:
        from .train.plot import plot_history
        plot_history(history, args.plot, title=f"{data.name}: {net}")
        print(f"plotted {args.plot}")
    acc = accuracy(compiled, params, X_test, data.y_test)
    correct = int(round(acc * len(data.y_test)))
    print(f"trained in {seconds:.2f} s; held-out test accuracy: {acc:.4f} ({correct}/{len(data.y_test)})")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .train import accuracy, load_checkpoint

    ckpt = load_checkpoint(args.model)
    data = _load_data(args)
    _check_features(ckpt.network, data)
    compiled = ckpt.network.compile(warm_up=False)
    X = ckpt.normalizer.transform(data.X_test)
    loss = compiled.loss(X, data.y_test, ckpt.params)
    acc = accuracy(compiled, ckpt.params, X, data.y_test)
    print(f"{data.name} test split ({len(data.y_test)} samples): loss {loss:.4f}, accuracy {acc:.4f}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from .train import load_checkpoint
    from .train.data import read_features

    ckpt = load_checkpoint(args.model)
    X = read_features(args.input)
    compiled = ckpt.network.compile(warm_up=False)
    X = ckpt.normalizer.transform(X)
    out = compiled.forward(X, ckpt.params)
    labels = compiled.classes(out)
    for k, label in enumerate(labels):
        extra = "  " + " ".join(f"{v:.4f}" for v in out[k]) if args.probabilities else ""
        print(f"{label}{extra}")
    return 0


def cmd_derive(args: argparse.Namespace) -> int:
    from .simplify.report import NAIVE_PARAM_LIMIT, count_index, count_unrolled

    net = _model(args)
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


def cmd_explain(args: argparse.Namespace) -> int:
    from .explain import explain

    output = args.output or (args.activation if args.loss == "mse" else None)
    net = _model(args, output)
    if not net.is_dense:
        from .explain import explain_image_network
        param = None if args.param == PARAM_DEFAULT else args.param
        return _write(args, explain_image_network(net, param))
    x = args.input if args.input is not None else [1.0 / (1 + k) for k in range(net.n_inputs)]
    if args.target is not None:
        y = args.target
    elif net.loss.name == "cce":
        y = [1.0] + [0.0] * (net.n_outputs - 1)
    else:
        y = [float((k + 1) % 2) for k in range(net.n_outputs)]
    ex = explain(net, x, y, param=args.param, lr=args.lr, seed=args.seed)
    return _write(args, {"latex": ex.to_latex, "markdown": ex.to_markdown}.get(args.format or "", ex.to_text)())


def _write(args: argparse.Namespace, text: str) -> int:
    """``text`` to ``-o FILE`` (atomically) or the terminal."""
    if args.out:
        from .atomic import write_text_atomically
        write_text_atomically(args.out, text)
        print(f"wrote {args.out}")
    else:
        print(text, end="")
    return 0


def _check_plotting(path: str | None) -> None:
    """Fail before a long run, not after it, when ``--plot`` cannot be honoured."""
    if path:
        from .plotting import pyplot
        pyplot()


def cmd_cost(args: argparse.Namespace) -> int:
    from .explain.cost import FOOTNOTE, HEADER, cost_sweep, format_row, plot_cost

    _check_plotting(args.plot)
    print(HEADER)
    print("-" * len(HEADER))
    rows = cost_sweep(args.widths, args.depths, args.depth_width, args.activation, args.loss,
                      naive={"auto": None, "yes": True, "no": False}[args.naive],
                      on_row=lambda row: print(format_row(row), flush=True))
    print(FOOTNOTE)
    if args.plot:
        plot_cost(rows, args.plot, title=f"{args.activation} hidden layers, {args.loss} loss: "
                                         "how shared partial derivatives cut the cost of gradients")
        print(f"plotted {args.plot}")
    return 0


def cmd_gradient_flow(args: argparse.Namespace) -> int:
    from .explain.gradient_flow import default_setups, gradient_flow, plot_gradient_flow

    _check_plotting(args.plot)
    flow = gradient_flow(args.depth, args.width, args.epochs, args.lr, args.seed, default_setups(args.clip_norm),
                         on_run=lambda run: print(f"  ran {run.setup.label}", flush=True))
    print(flow.table())
    sigmoid, relu = flow.run("sigmoid + Xavier"), flow.run("ReLU + He")
    print(f"\nbefore training, the first layer's gradient is {1 / sigmoid.initial_ratio:,.0f}× smaller than the "
          f"last layer's with sigmoid + Xavier; with ReLU + He every layer is within {relu.initial_spread:.1f}× "
          f"of every other")
    if args.plot:
        plot_gradient_flow(flow, args.plot)
        print(f"plotted {args.plot}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .codegen.export import export_module

    if args.model and args.sizes:
        raise SymbackpropError("give a checkpoint or --sizes, not both")
    if args.model:
        from .train import load_checkpoint
        ckpt = load_checkpoint(args.model)
        net, params, normalizer = ckpt.network, ckpt.params, ckpt.normalizer
    elif args.sizes:
        net = _model(args)
        params = normalizer = None
    else:
        raise SymbackpropError("export needs a checkpoint (symbackprop export model.npz -o kernels.py) "
                               "or a model (--sizes 64,32,10)")
    for path in export_module(net, args.out, view=args.view, params=params, normalizer=normalizer):
        print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    commands = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict, "derive": cmd_derive,
                "explain": cmd_explain, "cost": cmd_cost, "gradient-flow": cmd_gradient_flow,
                "export": cmd_export}
    try:
        return commands[args.command](args)
    except SymbackpropError as exc:
        print(f"symbackprop: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # a path the user gave cannot be written or read
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"symbackprop: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("symbackprop: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
