"""The commands that train and use a model: ``train``, ``evaluate`` and ``predict``.

What they promise: every setting and output path is checked before data is loaded or
anything is compiled; a resumed run continues the checkpoint's model, optimizer, data
and split, and refuses (by name) a flag that would change them; ``evaluate`` scores a
model on the rows it held out, never on rows it was trained on without saying so;
``predict`` prints the class names the model was trained with.  Heavy modules are
imported inside the commands, so ``symbackprop --help`` stays fast.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli_types import given, image_shape
from .errors import DataError, TrainingError
from .plotting import check_plot_path

__all__ = ["cmd_evaluate", "cmd_predict", "cmd_train"]

#: flags that describe the model: a resumed run keeps the checkpoint's
MODEL_FLAGS = ("hidden", "arch", "image_shape", "activation", "output", "loss", "l1", "l2", "init", "normalize",
               "dtype", "augment")
#: flags of the update rule, whose state the checkpoint carries (key in ``Optimizer.settings()``)
OPTIMIZER_FLAGS = {"optimizer": "name", "momentum": "momentum", "beta1": "beta1", "beta2": "beta2", "alpha": "alpha"}
#: the hyper-parameters each update rule reads
_USES = {"momentum": ("momentum",), "nesterov": ("momentum",), "rmsprop": ("alpha",), "adam": ("beta1", "beta2")}
#: flags that name the data, and those that split it
SOURCE_FLAGS = ("dataset", "csv", "label_column", "idx_images", "idx_labels")
SPLIT_FLAGS = ("seed", "val_fraction", "test_fraction")
#: settings a resumed run may change
RESUMABLE = ("lr", "schedule", "gamma", "step_size", "epochs", "batch_size", "clip_value", "clip_norm", "patience")


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def unread_settings(optimizer: str, chosen) -> list[str]:
    """The optimizer settings among ``chosen`` (flag dests) that ``optimizer`` does not read."""
    return [dest for dest in ("momentum", "beta1", "beta2", "alpha")
            if dest in chosen and dest not in _USES.get(optimizer, ())]


def readers(setting: str) -> str:
    """The optimizers that read ``setting`` ("momentum, nesterov")."""
    return ", ".join(o for o, u in _USES.items() if setting in u)


def refuse_image_shape_without_arch(args: argparse.Namespace) -> None:
    """``--image-shape`` only describes ``--arch``'s images (train and sweep alike)."""
    if "image_shape" in given(args) and not args.arch:
        raise DataError("--image-shape describes the images of --arch's convolutions; an MLP (--hidden) takes "
                        "the rows as they are: leave it out")


def _source(args: argparse.Namespace):
    """The data the data flags name, unsplit."""
    from .train import data as datasets

    if args.csv:
        return datasets.csv_source(args.csv, args.label_column)
    if args.idx_images or args.idx_labels:
        if not (args.idx_images and args.idx_labels):
            raise DataError("IDX data needs both --idx-images and --idx-labels")
        return datasets.idx_source(args.idx_images, args.idx_labels)
    return datasets.dataset_source(args.dataset)


def _split(args: argparse.Namespace, source):
    from .train.data import split_source
    return split_source(source, seed=args.seed, val_fraction=args.val_fraction, test_fraction=args.test_fraction)


def _settings(args: argparse.Namespace):
    from .train.session import TrainSettings
    return TrainSettings(optimizer=args.optimizer, lr=args.lr, momentum=args.momentum, beta1=args.beta1,
                         beta2=args.beta2, alpha=args.alpha, schedule=args.schedule, gamma=args.gamma,
                         step_size=args.step_size, epochs=args.epochs, batch_size=args.batch_size,
                         clip_value=args.clip_value, clip_norm=args.clip_norm, patience=args.patience)


def _resumed_settings(args: argparse.Namespace, ckpt):
    """The checkpoint's settings, with the flags a resumed run may change; a flag that would change
    the model or the optimizer is refused by name."""
    from .train.session import TrainSettings

    flags = given(args)
    for dest in MODEL_FLAGS:
        if dest in flags:
            raise TrainingError(f"{_flag(dest)}: a resumed run keeps the checkpoint's model ({args.resume}: "
                                f"{ckpt.network}); leave the flag out, or train a new model without --resume")
    saved = ckpt.optimizer.settings() if ckpt.optimizer is not None else {}
    for dest, key in OPTIMIZER_FLAGS.items():
        if dest in flags and key in saved and getattr(args, dest) != saved[key]:
            if key != "name" and key not in _USES.get(saved["name"], ()):
                raise TrainingError(f"{_flag(dest)} does not apply to {saved['name']}, the optimizer "
                                    f"{args.resume} continues; leave the flag out")
            which = saved["name"] if key == "name" else f"{saved['name']} with {key} {saved[key]}"
            raise TrainingError(f"{_flag(dest)} {getattr(args, dest)}: {args.resume} continues its optimizer "
                                f"({which}) and the state it has built up; leave the flag out, or train a new "
                                "model without --resume")
    record = ckpt.info.get("settings") or _settings(args).record()
    optimizer = {"optimizer": saved["name"], **{k: saved[k] for k in ("momentum", "beta1", "beta2", "alpha")}} \
        if saved else {}
    changes = {dest: getattr(args, dest) for dest in RESUMABLE if dest in flags}
    return TrainSettings.from_record({**record, **optimizer}, **{"epochs": args.epochs, **changes})


def _describe(record: dict) -> str:
    kind = record.get("kind")
    where = {"dataset": record.get("name"), "csv": record.get("path"),
             "idx": f"{record.get('images')} and {record.get('labels')}"}.get(kind, "its data")
    return (f"{where} (seed {record.get('seed')}, validation fraction {record.get('val_fraction')}, "
            f"test fraction {record.get('test_fraction')})")


def _same(dest: str, value, record: dict) -> bool:
    """``--dest value`` names what ``record`` (a checkpoint's data) already holds."""
    kind = record.get("kind")
    if dest in SPLIT_FLAGS:
        return value == record.get(dest)
    if dest == "dataset":
        return kind == "dataset" and value.replace("-", "_") == record.get("name")
    if dest == "csv":
        return kind == "csv" and str(Path(value).resolve()) == record.get("path")
    if dest == "label_column":
        return kind == "csv" and str(value) in (record.get("label_column"), record.get("label_name"))
    if dest in ("idx_images", "idx_labels"):
        return kind == "idx" and str(Path(value).resolve()) == record.get(dest[4:])
    return False


def _resumed_data(args: argparse.Namespace, ckpt):
    """The checkpoint's data, split into exactly the rows it trained, validated and tested on."""
    from .train.data import open_source, split_source

    record = ckpt.info.get("data") or {}
    if not record:  # a checkpoint from before data records: the flags say what it was
        return _split(args, _source(args))
    for dest in (*SOURCE_FLAGS, *SPLIT_FLAGS):
        if dest in given(args) and not _same(dest, getattr(args, dest), record):
            raise DataError(f"{_flag(dest)} {getattr(args, dest)}: {args.resume} was trained on "
                            f"{_describe(record)}, and a resumed run continues on the same data and split; "
                            "leave the flag out")
    source = open_source(record)
    if source.fingerprint != record.get("fingerprint"):
        raise DataError(f"{source.name} has changed since {args.resume} was trained on it (its fingerprint "
                        "differs): resuming would mix two data sets; train a new model")
    data = split_source(source, seed=record["seed"], val_fraction=record["val_fraction"],
                        test_fraction=record["test_fraction"], rows=ckpt.rows or None)
    if record.get("image_shape"):
        data.image_shape = tuple(record["image_shape"])
    return data


def _build_network(args: argparse.Namespace, data):
    from .model import Network, get_activation, get_loss

    loss = args.loss or ("bce" if data.binary else "cce")
    # two classes need one output unless the loss expects a distribution over the outputs (softmax)
    one_output = data.binary and get_activation(args.output or get_loss(loss).default_output).elementwise
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
        shape = image_shape(args.image_shape)
        values = shape[0] * shape[1] * shape[2]
        if values != data.n_features:
            raise DataError(f"--image-shape {','.join(map(str, shape))} has {values} values "
                            f"but {data.name} has {data.n_features} features per row")
        data.image_shape = shape
    return data.image_shape or (data.n_features,)


def cmd_train(args: argparse.Namespace) -> int:
    from .train.session import train_session
    from .train.threads import check_threads, using_threads

    settings = _settings(args)
    settings.check()  # every setting, and every output path, before any work
    check_threads(args.threads)
    flags = given(args)
    if args.patience is not None and not args.resume and args.val_fraction == 0:
        raise TrainingError("early stopping (--patience) needs validation data: a --val-fraction above 0")
    if not args.resume:
        unused = unread_settings(args.optimizer, flags)
        if unused:
            raise TrainingError(f"{_flag(unused[0])} does not apply to the {args.optimizer} optimizer "
                                f"(it is read by: {readers(unused[0])})")
    refuse_image_shape_without_arch(args)
    check_plot_path(args.plot)
    if args.save:
        from .train.checkpoint import check_checkpoint_path
        check_checkpoint_path(args.save)
    if args.cache_dir:
        from .codegen.cache import check_cache_path
        check_cache_path(args.cache_dir)
    ckpt = None
    if args.resume:
        from .train import load_checkpoint
        ckpt = load_checkpoint(args.resume)
        settings = _resumed_settings(args, ckpt)
        data = _resumed_data(args, ckpt)
        augment = bool((ckpt.info.get("data") or {}).get("augment"))
    else:
        data = _split(args, _source(args))
        augment = args.augment
    print(data.summary())
    network = None if ckpt else _build_network(args, data)  # resuming: the checkpoint's network
    if augment:
        from .train.data import shifted_copies
        if len(_data_shape(args, data)) != 3:
            raise DataError(f"--augment moves images, but the rows of {data.name} are not images "
                            "(give --image-shape C,ROWS,COLS if they are)")
        data.X_train, data.y_train = shifted_copies(data.X_train, data.y_train, data.image_shape)
        print(f"augmented: {len(data.y_train):,} training images (each also moved by one pixel four ways)")
    with using_threads(args.threads):
        result = train_session(data, network, settings, resume=args.resume, save=args.save, seed=args.seed,
                               init=args.init, dtype=args.dtype, normalize=args.normalize, view=args.view,
                               cache_dir=args.cache_dir, say=print, progress_bar=not args.no_progress,
                               every=args.every, data_info={"augment": augment, "image_shape": data.image_shape})
    acc = result.test_accuracy
    correct = int(round(acc * len(data.y_test)))
    which = "held-out test accuracy" if result.held_out else \
        f"accuracy on the training points ({data.name} holds nothing out)"
    print(f"trained in {result.seconds:.2f} s; {which}: {acc:.4f} ({correct}/{len(data.y_test)})")
    if args.resume and not args.save:
        print(f"note: these epochs were not saved ({args.resume} is unchanged): give --save FILE to keep them",
              file=sys.stderr)
    if args.plot:
        from .train.plot import plot_history
        plot_history(result.history, args.plot, title=f"{data.name}: {result.checkpoint.network}",
                     test_accuracy=acc, test_label="held-out test" if result.held_out else "training points'")
        print(f"plotted {args.plot}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .codegen.compiled import compile_network
    from .train import accuracy, load_checkpoint
    from .train.held_out import evaluation_rows

    ckpt = load_checkpoint(args.model)
    flags = given(args)
    record = ckpt.info.get("data") or {}
    if "kind" not in record:  # saved from Python (Model.save): no source recorded
        if not flags & set(SOURCE_FLAGS):
            raise DataError(f"{args.model} does not record the data it was trained on (it was saved from "
                            "Python): name the data to evaluate on (--dataset, --csv or --idx-images with "
                            "--idx-labels)")
        record = {}
    source = _source(args) if flags & set(SOURCE_FLAGS) or not record else None
    split = None
    if flags & set(SPLIT_FLAGS) or not record:
        split = {dest: getattr(args, dest) if dest in flags or not record else record.get(dest, getattr(args, dest))
                 for dest in SPLIT_FLAGS}
    rows = evaluation_rows(ckpt, source, split)
    if split is not None and not rows.split_used:
        print(f"note: --seed and the fractions split the training data; {rows.name} is scored on all its rows",
              file=sys.stderr)
    compiled = compile_network(ckpt.network, warm_up=False)
    X = ckpt.normalizer.transform(rows.X)
    loss = compiled.loss(X, rows.y, ckpt.params)
    acc = accuracy(compiled, ckpt.params, X, rows.y)
    print(f"{rows.name}, {rows.description}: loss {loss:.4f}, accuracy {acc:.4f} "
          f"({int(round(acc * len(rows.y)))}/{len(rows.y)})")
    if rows.note:
        print(f"note: {rows.note}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from .codegen.compiled import compile_network
    from .train import load_checkpoint
    from .train.data_files import read_features

    ckpt = load_checkpoint(args.model)
    record = ckpt.info.get("data") or {}
    X, left_out = read_features(args.input, ckpt.network.n_inputs, args.label_column, record.get("label_name"),
                                record.get("feature_names"))
    if left_out is not None and args.label_column is None:
        print(f"note: left out the column(s) {left_out} (not features of the model)", file=sys.stderr)
    compiled = compile_network(ckpt.network, warm_up=False)
    out = compiled.forward(ckpt.normalizer.transform(X), ckpt.params)
    names = record.get("class_names")
    for k, label in enumerate(compiled.classes(out)):
        shown = names[label] if names and 0 <= label < len(names) else label
        print(f"{shown}  {_probabilities(out[k], names)}" if args.probabilities else f"{shown}")
    return 0


def _probabilities(row, names: list[str] | None) -> str:
    """The outputs of one row, named by class: ``cat=0.9 dog=0.1``; one sigmoid output is P(the
    second class), so both are shown."""
    values = [1 - row[0], row[0]] if len(row) == 1 and names and len(names) == 2 else list(row)
    if names and len(names) == len(values):
        return " ".join(f"{name}={v:.4f}" for name, v in zip(names, values))
    return " ".join(f"{v:.4f}" for v in values)
