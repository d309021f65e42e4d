"""The ``symbackprop`` command: train, evaluate, predict and sweep; show a derivation and its op counts.

Every error a user can cause is a :class:`~symbackprop.errors.SymbackpropError`; the
command prints it as one line and exits with status 2, without a traceback.  The
arguments are defined in :mod:`symbackprop.cli_parser`; a training run is
:func:`symbackprop.train.session.train_session`.
"""
from __future__ import annotations

import argparse
import signal
import sys
import warnings

from .atomic import check_writable
from .cli_explain import cmd_explain, model_from_flags
from .cli_parser import build_parser
from .cli_types import given
from .cli_sweep import cmd_sweep
from .cli_training import cmd_evaluate, cmd_predict, cmd_train
from .errors import SymbackpropError, SymbackpropWarning
from .plotting import check_plot_path
from .interrupts import TrainingInterrupted, caused_by_interrupt, program_handler

__all__ = ["build_parser", "main"]


def cmd_derive(args: argparse.Namespace) -> int:
    from .derive.index_level import derive_index_level
    from .derive.unrolled import derive_unrolled
    from .simplify.report import NAIVE_PARAM_LIMIT, count_index, count_unrolled

    net = model_from_flags(args)
    if args.view == "unrolled":
        from .codegen.compiled import UNROLLED_PARAM_LIMIT
        if net.n_params > UNROLLED_PARAM_LIMIT:
            raise SymbackpropError(f"the unrolled view prints one formula per weight; {net.n_params:,} parameters "
                                   f"is more than {UNROLLED_PARAM_LIMIT:,} (the derivation alone takes minutes): "
                                   "use --view index")
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


def cmd_cost(args: argparse.Namespace) -> int:
    from .explain.cost import FOOTNOTE, HEADER, cost_sweep, format_row, plot_cost

    check_plot_path(args.plot)
    _check_cost_model(args)
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


def _check_cost_model(args: argparse.Namespace) -> None:
    """The sweep's networks end in one output: refuse, before the sweep, what cannot build them."""
    from .model import Network
    try:
        Network.mlp([2, 2, 1], args.activation, None, args.loss)
    except SymbackpropError as exc:
        raise type(exc)(f"cost's networks (w-w-1 and 4-...-4-1) have one output: {exc}") from None


def cmd_gradient_flow(args: argparse.Namespace) -> int:
    from .explain.gradient_flow import default_setups, gradient_flow, plot_gradient_flow

    check_plot_path(args.plot)
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

    if args.model and (args.sizes or args.arch):
        raise SymbackpropError("give a checkpoint or a model (--sizes or --arch), not both")
    check_writable(args.out, "module")
    if args.model:
        flags = sorted(given(args) & {"arch", "image_shape", "outputs", "activation", "output", "loss", "l1", "l2"})
        if flags:
            raise SymbackpropError(f"--{flags[0].replace('_', '-')} cannot change the model of checkpoint "
                                   f"{args.model}; leave it out (or export a model from flags, without a checkpoint)")
        from .train import load_checkpoint
        ckpt = load_checkpoint(args.model)
        net, params, normalizer = ckpt.network, ckpt.params, ckpt.normalizer
    elif args.sizes or args.arch:
        net = model_from_flags(args)
        params = normalizer = None
    else:
        raise SymbackpropError("export needs a checkpoint (symbackprop export model.npz -o kernels.py) "
                               "or a model (--sizes 64,32,10 or --arch ...)")
    for path in export_module(net, args.out, view=args.view, params=params, normalizer=normalizer):
        print(f"wrote {path}")
    return 0


def _warn(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line, like an error (symbackprop's own) or Python's usual form (others)."""
    if issubclass(category, SymbackpropWarning):
        print(f"symbackprop: warning: {message}", file=sys.stderr)
    else:
        print(warnings.formatwarning(message, category, filename, lineno, line), end="", file=sys.stderr)


def _interrupted(stop: TrainingInterrupted) -> str:
    """The one line an interrupted run ends with: the last complete epoch, and where it is saved."""
    done = f"after epoch {stop.epoch}" if stop.history and stop.history.epochs else "before its first epoch finished"
    if stop.kept:
        return f"interrupted {done}; {stop.kept}"
    if stop.saved:
        if stop.saved_epoch != stop.epoch:
            done += " (before its checkpoint was written)"
        return f"interrupted {done}; {stop.saved} holds the checkpoint of epoch {stop.saved_epoch}"
    return f"interrupted {done}; nothing was saved (give --save FILE to keep a checkpoint of every epoch)"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    commands = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict, "derive": cmd_derive,
                "explain": cmd_explain, "cost": cmd_cost, "gradient-flow": cmd_gradient_flow,
                "export": cmd_export, "sweep": cmd_sweep}
    _set_interrupts(program_handler, argv is None)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warn
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
    except TrainingInterrupted as stop:
        _set_interrupts(signal.SIG_IGN, argv is None)
        print(f"symbackprop: {_interrupted(stop)}", file=sys.stderr)
        return 130
    except (KeyboardInterrupt, SystemError) as exc:  # Numba may wrap a Ctrl-C in a SystemError
        if not caused_by_interrupt(exc):
            raise
        _set_interrupts(signal.SIG_IGN, argv is None)
        print("symbackprop: interrupted", file=sys.stderr)
        return 130


def _set_interrupts(handler, program: bool) -> None:
    """Ctrl-C's handling for the rest of the run, only when ``main`` runs as the program (no
    ``argv``: a caller keeps its own handler).  While the command runs, :func:`program_handler`
    lets one stop that is under way reach its one closing line; once that line is due, SIG_IGN
    keeps a last press from turning it, or the exit, into a traceback."""
    if not program:
        return
    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread (main() called from a thread)
        pass


if __name__ == "__main__":
    sys.exit(main())
