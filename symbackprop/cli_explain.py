"""``symbackprop explain``: one backprop step as text, Markdown or LaTeX, pictures and a page;
and the network the model flags of ``derive``, ``explain`` and ``export`` describe.

Every file the command will write is checked before any derivation (its folder, its
extension, matplotlib for the pictures, no two outputs on one name).  When the document
goes to the terminal, the ``wrote FILE`` lines go to stderr, so ``explain --graph g.svg
--markdown > step.md`` leaves a clean document.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .atomic import check_writable, write_text_atomically
from .cli_parser import PARAM_DEFAULT
from .cli_types import given, image_shape
from .errors import SymbackpropError
from .plotting import check_plot_path, require_matplotlib

#: the page's file names (a page written as net.svg would open as a broken picture)
PAGE_SUFFIXES = (".html", ".htm")


def model_from_flags(args: argparse.Namespace):
    """The network the model flags of derive, explain and export describe: the same flags give the
    same network in each (the output activation: the hidden one for mse, else the one the loss expects)."""
    from .model import Network, get_loss
    output = args.output or get_loss(args.loss).output_after(args.activation)
    if args.arch:
        from .model.architecture import build_network
        return build_network(args.arch, image_shape(args.image_shape), args.outputs, args.activation,
                             output, args.loss, l1=args.l1, l2=args.l2)
    return Network.mlp(args.sizes, args.activation, output, args.loss, l1=args.l1, l2=args.l2)


def cmd_explain(args: argparse.Namespace) -> int:
    from .explain import explain
    from .explain.walkthrough import MAX_EXPLAIN_PARAMS

    if args.standalone and args.format != "latex":
        raise SymbackpropError("--standalone makes a whole LaTeX document: give it with --latex")
    _check_outputs(args)
    net = model_from_flags(args)
    document_out = bool(args.out or args.format) or not (args.graph or args.op_graph or args.html)
    say = _announcer(args, document_out)
    if not net.unrollable or (net.n_params > MAX_EXPLAIN_PARAMS and not document_out):
        return _explain_layers(args, net, document_out, say)
    x = args.input if args.input is not None else [1.0 / (1 + k) for k in range(net.n_inputs)]
    if args.target is not None:
        y = args.target
    elif not net.layers[-1].act.elementwise:  # a distribution over the outputs: one class
        y = [1.0] + [0.0] * (net.n_outputs - 1)
    else:
        y = [float((k + 1) % 2) for k in range(net.n_outputs)]
    ex = explain(net, x, y, param=args.param, lr=args.lr, seed=args.seed)
    operations = None
    if args.op_graph:
        from .explain.op_graph import op_graph
        operations = op_graph(ex)  # a graph too large to draw is refused before anything is written
    if args.graph:
        ex.draw(args.graph)
        say(args.graph)
    if operations is not None:
        from .explain.draw import operations_plot
        operations_plot(operations).save(args.op_graph)
        say(args.op_graph)
    if args.html:
        write_text_atomically(args.html, ex.to_page())
        say(args.html)
    if not document_out:
        return 0  # the pictures were asked for; the walk-through is written only with -o or a format
    if args.format == "latex":
        return _write(args, ex.to_latex(standalone=args.standalone), say)
    return _write(args, ex.to_markdown() if args.format == "markdown" else ex.to_text(), say)


def _explain_layers(args: argparse.Namespace, net, document_out: bool, say) -> int:
    """A network the neuron tables cannot write out (image layers, or too many weights for a
    picture of each): its derived rules as text, and with ``--graph`` one box per layer."""
    from .explain.walkthrough import MAX_EXPLAIN_PARAMS
    refused = f"--{args.format}" if args.format else "--op-graph" if args.op_graph else "--html" if args.html \
        else None
    if refused:
        what = {"--op-graph": "draws every operation", "--html": "writes the interactive walk-through"}.get(
            refused, "writes the step-by-step walk-through")
        why = ("this network's derived rules are printed as text" if not net.unrollable else
               f"this network has {net.n_params:,} parameters (at most {MAX_EXPLAIN_PARAMS})")
        raise SymbackpropError(f"{refused} {what} of networks whose weights can be written out one by one; {why} "
                               "(leave out the flag; --graph draws its layers)")
    unused = sorted(given(args) & {"input", "target", "lr", "seed"})
    if unused:
        raise SymbackpropError(f"--{unused[0]} has no effect on an image network's explanation, which "
                               "prints the derived rules (no numbers); leave it out")
    if args.graph:
        from .explain import draw_network
        draw_network(net, args.graph)
        say(args.graph, "one box per layer" if net.unrollable else "")
    if not net.unrollable and document_out:
        from .explain import explain_image_network
        param = None if args.param == PARAM_DEFAULT else args.param
        return _write(args, explain_image_network(net, param), say)
    return 0


def _announcer(args: argparse.Namespace, document_out: bool):
    """``wrote FILE`` on stdout, or on stderr when the document itself goes to stdout."""
    stream = sys.stderr if document_out and not args.out else sys.stdout

    def say(path: str, note: str = "") -> None:
        print(f"wrote {path}" + (f" ({note})" if note else ""), file=stream)
    return say


def _check_outputs(args: argparse.Namespace) -> None:
    """Every file explain will write can be written, and the pictures' library is there, before any work."""
    if args.out:
        check_writable(args.out, "output")
    for flag, path in (("--graph", args.graph), ("--op-graph", args.op_graph)):
        if path:
            check_plot_path(path, flag)
    if args.html:
        if Path(args.html).suffix.lower() not in PAGE_SUFFIXES:
            raise SymbackpropError(f"--html writes a web page: give it a name ending in .html (not {args.html})")
        check_writable(args.html, "page")
        require_matplotlib("--html (its picture)")
    named = [p for p in (args.out, args.graph, args.op_graph, args.html) if p]
    if len({str(Path(p).resolve()) for p in named}) < len(named):
        raise SymbackpropError("explain was given the same file for two outputs; give each its own name")


def _write(args: argparse.Namespace, text: str, say) -> int:
    """``text`` to ``-o FILE`` (atomically) or the terminal."""
    if args.out:
        write_text_atomically(args.out, text)
        say(args.out)
    else:
        print(text, end="")
    return 0
