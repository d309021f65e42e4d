"""The ``symbackprop`` command: train, evaluate and predict; show a derivation and its op counts.

Every error a user can cause is a :class:`~symbackprop.errors.SymbackpropError`; the
command prints it as one line and exits with status 2, without a traceback.  The
arguments are defined in :mod:`symbackprop.cli_parser`; a training run is
:func:`symbackprop.train.session.train_session`.
"""
from __future__ import annotations

import argparse
import sys

from .cli_parser import PARAM_DEFAULT, build_parser
from .errors import DataError, SymbackpropError

__all__ = ["build_parser", "main"]


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
    from .model import Network, get_activation, get_loss

    loss = args.loss or ("bce" if data.binary else "cce")
    # two classes need one output unless the loss expects a distribution over the outputs (softmax)
    one_output = data.binary and get_activation(get_loss(loss).default_output).elementwise
    n_out = 1 if one_output else data.n_classes
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


def cmd_train(args: argparse.Namespace) -> int:
    from .train.session import TrainSettings, train_session

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
    settings = TrainSettings(optimizer=args.optimizer, lr=args.lr, momentum=args.momentum, beta1=args.beta1,
                             beta2=args.beta2, alpha=args.alpha, schedule=args.schedule, gamma=args.gamma,
                             step_size=args.step_size, epochs=args.epochs, batch_size=args.batch_size,
                             clip_value=args.clip_value, clip_norm=args.clip_norm, patience=args.patience)
    network = None if args.resume else _build_network(args, data)  # resuming: the checkpoint's network
    result = train_session(data, network, settings, resume=args.resume, save=args.save, seed=args.seed,
                           init=args.init, dtype=args.dtype, normalize=args.normalize, view=args.view,
                           cache_dir=args.cache_dir, say=print, progress_bar=not args.no_progress, every=args.every)
    if args.plot:
        from .train.plot import plot_history
        plot_history(result.history, args.plot, title=f"{data.name}: {result.checkpoint.network}")
        print(f"plotted {args.plot}")
    acc = result.test_accuracy
    correct = int(round(acc * len(data.y_test)))
    print(f"trained in {result.seconds:.2f} s; held-out test accuracy: {acc:.4f} ({correct}/{len(data.y_test)})")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .codegen.compiled import compile_network
    from .train import accuracy, load_checkpoint
    from .train.session import check_features

    ckpt = load_checkpoint(args.model)
    data = _load_data(args)
    check_features(ckpt.network, data)
    compiled = compile_network(ckpt.network, warm_up=False)
    X = ckpt.normalizer.transform(data.X_test)
    loss = compiled.loss(X, data.y_test, ckpt.params)
    acc = accuracy(compiled, ckpt.params, X, data.y_test)
    print(f"{data.name} test split ({len(data.y_test)} samples): loss {loss:.4f}, accuracy {acc:.4f}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from .codegen.compiled import compile_network
    from .train import load_checkpoint
    from .train.data import read_features

    ckpt = load_checkpoint(args.model)
    X = read_features(args.input)
    compiled = compile_network(ckpt.network, warm_up=False)
    X = ckpt.normalizer.transform(X)
    out = compiled.forward(X, ckpt.params)
    labels = compiled.classes(out)
    for k, label in enumerate(labels):
        extra = "  " + " ".join(f"{v:.4f}" for v in out[k]) if args.probabilities else ""
        print(f"{label}{extra}")
    return 0


def cmd_derive(args: argparse.Namespace) -> int:
    from .derive.index_level import derive_index_level
    from .derive.unrolled import derive_unrolled
    from .simplify.report import NAIVE_PARAM_LIMIT, count_index, count_unrolled

    net = _model(args)
    print(f"model: {net}  ({net.n_params:,} parameters)\n")
    if args.view == "index":
        deriv = derive_index_level(net)
        print(f"Index-level chain rule (n = sample, i = input, j = neuron; derived in {deriv.seconds:.2f} s):")
        for stmt in deriv.statements():
            print(f"  {stmt}")
    else:
        unrolled = derive_unrolled(net)
        print(f"Unrolled chain rule, one sample (derived in {unrolled.seconds:.2f} s):")
        for a in unrolled.program:
            print(f"  {a}")
    print()
    naive = {"auto": None, "yes": True, "no": False}[args.naive]
    # auto: the naive comparison only where the unrolled view can write the network out
    if args.view == "unrolled" or naive or (naive is None and net.unrollable and net.n_params <= NAIVE_PARAM_LIMIT):
        print(count_unrolled(net, naive=naive).table())
    else:
        print(count_index(derive_index_level(net)).table())
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from .explain import explain
    from .model import get_loss

    output = args.output or get_loss(args.loss).output_after(args.activation)
    net = _model(args, output)
    if not net.unrollable:
        from .explain import explain_image_network
        param = None if args.param == PARAM_DEFAULT else args.param
        return _write(args, explain_image_network(net, param))
    x = args.input if args.input is not None else [1.0 / (1 + k) for k in range(net.n_inputs)]
    if args.target is not None:
        y = args.target
    elif not net.layers[-1].act.elementwise:  # a distribution over the outputs: one class
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
