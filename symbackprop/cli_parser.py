"""The ``symbackprop`` command's arguments: the parser with one sub-parser per command.

The commands themselves are in :mod:`symbackprop.cli`, the option types in
:mod:`symbackprop.cli_types`.  A usage mistake is one line and exit status 2, like every
other error there.

Defaults follow one rule (:data:`DEFAULTS_RULE`, in every command's help): a model without
data (``derive``, ``explain``, ``cost``, ``export --sizes``) is the backprop article's worked
example, and the same flags build the same network in each of them; ``train`` has labelled
data and defaults to a network that classifies it well.
"""
from __future__ import annotations

import argparse

from .cli_types import (_Parser, _folds, _fraction, _non_negative, _number, _numbers, _positive, _seed, _share,
                        _sizes, _text)

DEFAULT_HIDDEN = "256"
PARAM_DEFAULT = "W1[0,1]"
#: the hidden activation and loss of a model without data (derive, explain, cost, export --sizes)
EXAMPLE_ACTIVATION, EXAMPLE_LOSS = "sigmoid", "mse"
DEFAULTS_RULE = ("Defaults, the same in every command: a model without data (derive, explain, cost, export "
                 "--sizes) is the backprop article's example, sigmoid hidden layers and mean squared error, "
                 "whose output keeps the hidden activation (another loss brings the output it expects); "
                 "train, which has labelled data, uses ReLU hidden layers and the cross-entropy that fits "
                 "the classes (bce for two, cce for more).")


def _arch_help() -> str:
    from .model.architecture import PRESETS, arch_forms
    return (f"layers as text, e.g. 'conv:16,maxpool:2,conv:32,maxpool:2' or a preset ({', '.join(PRESETS)}); "
            f"items: {arch_forms()}, res(ITEMS)[:ACTIVATION] (a residual block); an ACTIVATION may be "
            f"NAME=FORMULA in z; the output layer is added")


def _choices(what: str) -> str:
    """The registered activations or losses, for help text (the registries are the one list)."""
    from .model import ACTIVATIONS, LOSSES
    names = ", ".join((ACTIVATIONS if what == "activation" else LOSSES).names())
    own = "NAME=FORMULA in z" if what == "activation" else "NAME=FORMULA in a (output) and y (target)"
    return f"{names}, or your own: {own}"


def _add_model_options(p: argparse.ArgumentParser, sizes: list[int] | None, activation: str, loss: str,
                       output_help: str) -> None:
    """The options that describe a small network on the command line (derive, explain, export)."""
    shown = ",".join(map(str, sizes)) if sizes else None
    p.add_argument("--sizes", type=_sizes, default=sizes, metavar="N,N[,N...]",
                   help=f"all layer sizes, input first (default: {shown})" if shown else
                   "all layer sizes, input first")
    p.add_argument("--arch", type=_text, default=None, metavar="TEXT", help=_arch_help() + " (instead of --sizes)")
    p.add_argument("--image-shape", type=_sizes, default=[1, 4, 4], metavar="C,ROWS,COLS",
                   help="input images of --arch (default: 1,4,4)")
    p.add_argument("--outputs", type=_positive, default=2, help="outputs of --arch's last layer (default: 2)")
    p.add_argument("--activation", default=activation,
                   help=f"hidden activation: {_choices('activation')} (default: {activation})")
    p.add_argument("--output", default=None, help=f"output activation (default: {output_help})")
    p.add_argument("--loss", default=loss, help=f"{_choices('loss')} (default: {loss})")
    p.add_argument("--l1", type=_non_negative, default=0.0, help="L1 penalty on the weights")
    p.add_argument("--l2", type=_non_negative, default=0.0, help="L2 penalty on the weights")



_EXAMPLE_OUTPUT = "the hidden one for mse, else the one the loss expects"


def _add_data_options(p: argparse.ArgumentParser, evaluate: bool = False, validation: bool = True) -> None:
    """The data flags; ``evaluate``'s default to the data and split recorded in the checkpoint; without
    ``validation`` no --val-fraction (a sweep validates by cross-validation)."""
    g = p.add_argument_group("data (nothing is downloaded)" + ("; default: the checkpoint's own data and held-out "
                                                               "rows" if evaluate else ""))
    same = " (default: the checkpoint's)" if evaluate else ""
    g.add_argument("--dataset", default="digits",
                   help="bundled data set: digits, breast_cancer, xor" + (same or " (default: digits)"))
    g.add_argument("--csv", metavar="FILE", type=_text,
                   help="your own CSV file: feature columns and a label column (a header row is optional; "
                        "commas, semicolons or tabs)")
    g.add_argument("--label-column", default="-1",
                   help="CSV label column, by name or position" + (same or " (default: last)"))
    g.add_argument("--idx-images", metavar="FILE", type=_text, help="MNIST-format IDX images (optionally .gz)")
    g.add_argument("--idx-labels", metavar="FILE", type=_text, help="MNIST-format IDX labels (optionally .gz)")
    if evaluate:
        g.add_argument("--seed", type=_seed, default=0, help="seed of a new split of the training data (refused "
                                                               "if its test rows were trained on)" + same)
        g.add_argument("--val-fraction", type=_fraction, default=0.1, help="validation share of a new split" + same)
        g.add_argument("--test-fraction", type=_share, default=0.2, help="test share of a new split" + same)
        return
    g.add_argument("--seed", type=_seed, default=0, help="seed for the split, initial weights and shuffling (default: 0)")
    if validation:
        g.add_argument("--val-fraction", type=_fraction, default=0.1, help="validation share (default: 0.1)")
    g.add_argument("--test-fraction", type=_share, default=0.2, help="held-out test share (default: 0.2)")


def add_training_options(p: argparse.ArgumentParser, sweep: bool = False) -> None:
    """The model and optimisation flags of ``train``, shared by ``sweep`` (whose grid reads their types;
    it leaves out augmentation and the unrolled view, which its estimators do not have)."""
    from .train.loop import DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, DEFAULT_LR
    from .train.optimizers import OPTIMIZERS

    m = p.add_argument_group("model")
    m.add_argument("--hidden", type=_sizes, default=_sizes(DEFAULT_HIDDEN), metavar="N[,N...]",
                   help=f"hidden layer widths, comma-separated (default: {DEFAULT_HIDDEN})")
    m.add_argument("--arch", type=_text, default=None, metavar="TEXT", help=_arch_help() + " (instead of --hidden)")
    m.add_argument("--image-shape", type=_sizes, default=None, metavar="C,ROWS,COLS",
                   help="the shape of each row's image, for --arch on CSV data (digits and IDX files know theirs)")
    m.add_argument("--activation", default="relu",
                   help=f"hidden activation: {_choices('activation')} (default: relu)")
    m.add_argument("--output", default=None, help="output activation (default: the one the loss expects)")
    m.add_argument("--loss", default=None,
                   help=f"{_choices('loss')} (default: bce for two classes, cce otherwise)")
    m.add_argument("--l1", type=_non_negative, default=0.0, help="L1 penalty on the weights (default: 0)")
    m.add_argument("--l2", type=_non_negative, default=0.0, help="L2 penalty on the weights, l2/2·ΣW² (default: 0)")
    m.add_argument("--init", default="auto",
                   help="auto (He after ReLU, Xavier otherwise), xavier_uniform, xavier_normal, he_normal, "
                        "he_uniform (default: auto)")
    m.add_argument("--normalize", default="none", choices=("none", "minmax", "standard"),
                   help="input normalisation, fitted on the training split (default: none)")
    m.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="precision of weights and kernels (default: float64)")
    if not sweep:
        m.add_argument("--view", choices=("index", "unrolled"), default="index",
                       help="kernels from the index-level rules (any size) or unrolled per weight (small nets)")
    m.add_argument("--cache-dir", type=_text, default=None,
                   help="kernel cache folder (default: $SYMBACKPROP_CACHE_DIR or ~/.cache/symbackprop)")
    o = p.add_argument_group("optimisation")
    o.add_argument("--optimizer", default="sgd", choices=OPTIMIZERS, help="update rule (default: sgd)")
    o.add_argument("--lr", type=_number, default=DEFAULT_LR, help=f"learning rate (default: {DEFAULT_LR})")
    o.add_argument("--momentum", type=_number, default=0.9, help="momentum / nesterov coefficient (default: 0.9)")
    o.add_argument("--beta1", type=_number, default=0.9, help="Adam β1 (default: 0.9)")
    o.add_argument("--beta2", type=_number, default=0.999, help="Adam β2 (default: 0.999)")
    o.add_argument("--alpha", type=_number, default=0.99, help="RMSProp smoothing (default: 0.99)")
    o.add_argument("--schedule", default="constant", choices=("constant", "step", "exponential"),
                   help="learning-rate schedule (default: constant)")
    o.add_argument("--gamma", type=_number, default=0.5, help="decay factor of the schedule (default: 0.5)")
    o.add_argument("--step-size", type=_positive, default=10, help="epochs between step decays (default: 10)")
    o.add_argument("--epochs", type=_positive, default=DEFAULT_EPOCHS,
                   help=f"passes over the training set (default: {DEFAULT_EPOCHS})")
    if not sweep:
        o.add_argument("--augment", action="store_true",
                       help="train also on copies of each training image moved one pixel up, down, left and right")
    o.add_argument("--batch-size", type=_positive, default=DEFAULT_BATCH_SIZE,
                   help=f"mini-batch size (default: {DEFAULT_BATCH_SIZE})")
    o.add_argument("--clip-value", type=_number, default=None, help="clip each gradient entry to ±VALUE")
    o.add_argument("--clip-norm", type=_number, default=None, help="scale gradients to global norm ≤ NORM")
    o.add_argument("--patience", type=_positive, default=None,
                   help="stop after N epochs without a better validation loss, keeping the best weights")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(
        prog="symbackprop",
        description="Backpropagation you can read, check and compile: SymPy derives every gradient "
                    "by the chain rule, CSE simplifies it, Numba compiles it.")
    parser.add_argument("--version", action="version", version=f"symbackprop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = sub.add_parser("train", epilog=DEFAULTS_RULE, help="derive, compile and train a network",
                           description="Derive, compile and train a network (an MLP, or a CNN with --arch). With no flags: scikit-learn's "
                                       "digits, 64-256-10 ReLU + softmax, cross-entropy, mini-batch SGD.")
    _add_data_options(train)
    add_training_options(train)
    train.add_argument("--threads", metavar="N", type=_positive, default=None,
                       help="threads to train on: an image network of 256 or more values per sample splits each "
                            "batch among them (BLAS one thread each); dense networks and smaller images give them to "
                            "BLAS's products; default: one, BLAS's own setting (docs/performance.md measures it)")
    r = train.add_argument_group("output")
    r.add_argument("--save", metavar="FILE", type=_text, help="checkpoint file, written atomically after every epoch")
    r.add_argument("--resume", metavar="FILE", type=_text, help="continue training from a checkpoint: its model, data, split "
                   "and settings (--epochs more epochs; --lr, --batch-size, the schedule, clipping and --patience "
                   "may change: --lr is the base rate, which the schedule keeps decaying from the epoch the "
                   "checkpoint reached; flags that would change the model, optimizer or data are refused)")
    r.add_argument("--plot", type=_text, metavar="FILE.png", help="draw loss and accuracy curves (needs matplotlib)")
    r.add_argument("--every", type=_positive, default=10, help="print every N-th epoch (default: 10)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")

    evaluate = sub.add_parser(
        "evaluate", help="loss and accuracy of a saved model on the rows it held out",
        description="Evaluate a checkpoint. With no data flags: on exactly the rows held out when it was trained "
                    "(the checkpoint records them and a fingerprint of the data). --dataset, --csv or IDX files "
                    "name other data (all its rows are used when it is not the training data); --seed and the "
                    "fractions ask for a new split of the training data, refused if its test rows were trained on.")
    evaluate.add_argument("model", help="checkpoint written by 'symbackprop train --save'")
    _add_data_options(evaluate, evaluate=True)

    predict = sub.add_parser(
        "predict", help="predict classes for the rows of a CSV file",
        description="Predict one class per row of a CSV file of features, printed by the class names the model "
                    "was trained with. A header row is optional (a first row of numbers is data); columns may be "
                    "separated by commas, semicolons or tabs. A column named like the training label column is "
                    "left out when the file has one column too many. Rows are given to the model as they were in "
                    "training (the model's own normalisation is applied): a model trained on the bundled digits "
                    "takes pixels scaled to 0..1, not scikit-learn's raw 0..16.")
    predict.add_argument("model", help="checkpoint written by 'symbackprop train --save', 'sweep' or Model.save")
    predict.add_argument("input", help="CSV file: one row of features per sample (header row optional)")
    predict.add_argument("--label-column", default=None, metavar="NAME|POS",
                         help="a column to leave out (e.g. the labels), by name or position")
    predict.add_argument("--probabilities", action="store_true", help="print the network outputs too")

    derive = sub.add_parser("derive", epilog=DEFAULTS_RULE,
                            help="print the chain-rule formulas and the op-count report",
                            description="Derive a network's gradients and print the formulas and the "
                                        "operation counts (naive vs CSE vs chain rule).")
    _add_model_options(derive, [2, 3, 1], EXAMPLE_ACTIVATION, EXAMPLE_LOSS, _EXAMPLE_OUTPUT)
    derive.add_argument("--view", choices=("index", "unrolled"), default="index",
                        help="formulas of one generic neuron (index) or of every weight (unrolled)")
    derive.add_argument("--naive", choices=("auto", "yes", "no"), default="auto",
                        help="also differentiate the fully substituted loss (auto: small networks only)")

    explain = sub.add_parser(
        "explain", epilog=DEFAULTS_RULE,
        help="one backprop step of a small network, every number tied to its formula",
        description="Forward pass neuron by neuron, the loss, the chain rule for one weight path by path, "
                    "the backward pass (δ of each layer) and the gradient-descent update, for one input. "
                    "With no flags: one layer of three sigmoid neurons with two inputs; --sizes 2,3,1 adds "
                    "a hidden layer.")
    _add_model_options(explain, [2, 3], EXAMPLE_ACTIVATION, EXAMPLE_LOSS, _EXAMPLE_OUTPUT)
    explain.add_argument("--input", type=_numbers, default=None, metavar="X,X,...",
                         help="the input (default: 1.0, 0.5, ...; write --input=-1,2 for a leading minus)")
    explain.add_argument("--target", type=_numbers, default=None, metavar="Y,Y,...",
                         help="the target (default: 1, 0, 1, ... or class 0 for softmax)")
    explain.add_argument("--param", default=PARAM_DEFAULT, help="the parameter whose chain rule is written out "
                                                                "(default: W1[0,1]; for --arch a kernel entry "
                                                                "like W1[0,0,1,1], default the first kernel's corner)")
    explain.add_argument("--lr", type=_number, default=0.1, help="learning rate of the update (default: 0.1)")
    explain.add_argument("--seed", type=_seed, default=0, help="seed of the (rounded) weights (default: 0)")
    fmt = explain.add_mutually_exclusive_group()
    fmt.add_argument("--latex", dest="format", action="store_const", const="latex", help="LaTeX output")
    fmt.add_argument("--markdown", dest="format", action="store_const", const="markdown", help="Markdown output")
    explain.add_argument("--standalone", action="store_true",
                         help="with --latex: a whole document (preamble and all) that pdflatex compiles")
    explain.add_argument("-o", "--out", type=_text, metavar="FILE", help="write to FILE instead of the terminal")
    pictures = explain.add_argument_group("pictures (need matplotlib: pip install 'symbackprop[plot]')")
    pictures.add_argument("--graph", type=_text, metavar="FILE.svg",
                          help="draw the network (.svg, .png, .pdf): each neuron with z, a, δ and b, each weight "
                               "with its value and ∂L/∂w (its colour), --param's paths to the loss highlighted; "
                               "an --arch network (or one too large to draw neuron by neuron) as one box per "
                               "layer. With --graph, --op-graph or --html the walk-through itself is written only "
                               "when -o or a format flag asks for it")
    pictures.add_argument("--op-graph", type=_text, metavar="FILE.svg",
                          help="draw the computation graph of a tiny network: every ×, + and activation with its "
                               "value and ∂L/∂(node), every arrow with its local derivative")
    pictures.add_argument("--html", type=_text, metavar="FILE.html",
                          help="write one self-contained interactive page (works offline): click a weight to light "
                               "up its paths and see its chain-rule product with every factor's value; step "
                               "through the forward pass, the loss, each layer's δ and the update")

    cost = sub.add_parser(
        "cost", epilog=DEFAULTS_RULE,
        help="op counts of naive vs CSE vs chain-rule gradients as networks grow, with derivation times",
        description="How shared partial derivatives cut backprop's cost: for networks growing in width, then "
                    "depth, count the operations of the naive gradients, the naive gradients after CSE, the "
                    "chain rule (backprop) and the forward pass alone, and time each derivation.")
    cost.add_argument("--widths", type=_sizes, default=[2, 4, 8], metavar="W,W,...",
                      help="widths of the w-w-1 networks (default: 2,4,8)")
    cost.add_argument("--depths", type=_sizes, default=[1, 2, 3], metavar="D,D,...",
                      help="hidden layers of the 4-4-...-1 networks (default: 1,2,3; the naive form of 4 "
                           "takes ~30 s)")
    cost.add_argument("--depth-width", type=_positive, default=4, help="width of the depth sweep's layers (default: 4)")
    cost.add_argument("--activation", default=EXAMPLE_ACTIVATION,
                      help=f"hidden activation: {_choices('activation')} (default: {EXAMPLE_ACTIVATION})")
    cost.add_argument("--loss", default=EXAMPLE_LOSS, help=f"{_choices('loss')} (default: {EXAMPLE_LOSS})")
    cost.add_argument("--naive", choices=("auto", "yes", "no"), default="auto",
                      help="differentiate the substituted loss too (auto: up to 400 parameters)")
    cost.add_argument("--plot", type=_text, metavar="FILE.png", help="draw counts and times (needs matplotlib)")

    flow = sub.add_parser(
        "gradient-flow", help="vanishing vs exploding gradients: deep sigmoid vs ReLU + He, with and without clipping",
        description="Train a deep network on digits as sigmoid + Xavier, ReLU + He and ReLU with weights twice "
                    "too large, each without and with gradient clipping, recording every layer's gradient norm.")
    flow.add_argument("--depth", type=_positive, default=8, help="layers, the output layer included (default: 8)")
    flow.add_argument("--width", type=_positive, default=32, help="hidden layer width (default: 32)")
    flow.add_argument("--epochs", type=_positive, default=20, help="epochs per run (default: 20)")
    flow.add_argument("--lr", type=_number, default=0.1, help="SGD learning rate (default: 0.1)")
    flow.add_argument("--clip-norm", type=_number, default=1.0, help="global norm of the clipped runs (default: 1)")
    flow.add_argument("--seed", type=_seed, default=0, help="seed of the split, weights and shuffling (default: 0)")
    flow.add_argument("--plot", type=_text, metavar="FILE.png", help="draw the three panels (needs matplotlib)")

    export = sub.add_parser(
        "export", epilog=DEFAULTS_RULE,
        help="write a network's kernels as one standalone file (needs only numpy and numba)",
        description="Write the generated Numba kernels as one Python file that needs only NumPy and Numba, with a "
                    "docstring listing its parameters, entry points and the formulas it implements. From a "
                    "checkpoint, the trained weights go to <name>_weights.npz beside it.")
    export.add_argument("model", nargs="?", help="checkpoint written by 'symbackprop train --save' (optional)")
    export.add_argument("-o", "--out", type=_text, required=True, metavar="FILE.py", help="the module to write")
    _add_model_options(export, None, EXAMPLE_ACTIVATION, EXAMPLE_LOSS, _EXAMPLE_OUTPUT)
    export.add_argument("--view", choices=("index", "unrolled"), default="index",
                        help="loops from the index-level rules (any size) or one line per weight (small nets)")
    add_sweep_parser(sub)
    return parser


#: ``train`` flags a configuration may vary (estimator parameter names)
SWEEPABLE = ("hidden", "activation", "output", "loss", "l1", "l2", "init", "normalize", "optimizer", "lr",
             "momentum", "beta1", "beta2", "alpha", "schedule", "gamma", "step_size", "epochs", "batch_size",
             "clip_value", "clip_norm", "patience")


def add_sweep_parser(sub) -> argparse.ArgumentParser:
    """``symbackprop sweep``'s arguments (the command is :mod:`symbackprop.cli_sweep`)."""
    p = sub.add_parser(
        "sweep", help="grid or random search with k-fold cross-validation, on a Dask cluster",
        description="Cross-validate every combination of --grid's values on the training part of the data "
                    "(k folds, stratified), on a dask.distributed LocalCluster started here (one worker process "
                    "per core), on a running scheduler (--scheduler), or serially when dask is not installed. "
                    "Prints the ranked table, writes it as CSV, fits the best configuration on the training part, "
                    "scores it on the held-out test rows and saves it. Flags outside the grid set what every "
                    "configuration shares.")
    p.add_argument("--grid", nargs="+", required=True, metavar="NAME=V[,V...]",
                   help=f"values to try per setting, e.g. lr=0.01,0.03,0.1 hidden=64,256,128/64 "
                        f"activation=relu,tanh ('/' joins the widths of several hidden layers); settings: "
                        f"{', '.join(SWEEPABLE)}")
    p.add_argument("--random", type=_positive, default=None, metavar="N",
                   help="try N configurations drawn from the grid (with --seed) instead of all")
    p.add_argument("--folds", type=_folds, default=3, help="cross-validation folds, at least 2 (default: 3)")
    p.add_argument("--scheduler", type=_text, default=None, metavar="ADDRESS",
                   help="a running dask scheduler, e.g. tcp://10.0.0.5:8786 (default: start a LocalCluster)")
    p.add_argument("--workers", type=_positive, default=None,
                   help="worker processes of the LocalCluster (default: one per core)")
    p.add_argument("--serial", action="store_true", help="run every fit in this process, without dask")
    p.add_argument("--results", type=_text, default="sweep.csv", metavar="FILE.csv",
                   help="the ranked table as CSV (default: sweep.csv)")
    p.add_argument("--save", type=_text, default="sweep-best.npz", metavar="FILE.npz",
                   help="checkpoint of the best configuration, fitted on the training part (default: sweep-best.npz)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_data_options(p, validation=False)
    add_training_options(p, sweep=True)
    p.set_defaults(val_fraction=0.0)
    return p
