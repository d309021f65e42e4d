"""``symbackprop sweep``: a grid or random search with k-fold cross-validation, on Dask or serially.

The grid is read by the same types as ``train``'s flags (``--grid lr=0.01,0.1`` is checked
like ``--lr``), so a value ``train`` would refuse is refused here, by name, before
anything runs.  The search cross-validates on the training part of the data; the best
configuration is then fitted on that part and scored on the held-out test rows, and
saved as a checkpoint that ``evaluate`` and ``predict`` read.
"""
from __future__ import annotations

import argparse
import sys

from .cli_parser import SWEEPABLE, add_training_options
from .cli_types import given
from .errors import DataError, TrainingError
from .interrupts import TrainingInterrupted

__all__ = ["cmd_sweep", "parse_grid"]

def _training_flags() -> dict[str, argparse.Action]:
    """``train``'s model and optimisation flags by name: the grid reads its values with their types."""
    parser = argparse.ArgumentParser(add_help=False)
    add_training_options(parser, sweep=True)
    return {a.dest: a for a in parser._actions}


def parse_grid(items: list[str]) -> dict[str, list]:
    """``["lr=0.01,0.1", "hidden=64,128/64"]`` -> ``{"lr": [0.01, 0.1], "hidden": [(64,), (128, 64)]}``,
    each value read by the type (and checked against the choices) of the ``train`` flag of that name."""
    if not items:
        raise DataError("--grid needs at least one NAME=VALUE[,VALUE...], e.g. lr=0.01,0.1")
    flags = _training_flags()
    grid: dict[str, list] = {}
    for item in items:
        name, sep, text = item.partition("=")
        key = name.strip().replace("-", "_")
        if not sep or not text.strip():
            raise DataError(f"--grid {item!r}: write NAME=VALUE[,VALUE...], e.g. lr=0.01,0.1")
        if key not in SWEEPABLE:
            raise DataError(f"--grid {name!r}: not a setting a sweep can vary; choose from: {', '.join(SWEEPABLE)}")
        if key in grid:
            raise DataError(f"--grid names {key} twice")
        action = flags[key]
        values = []
        for raw in text.split(","):
            raw = raw.strip()
            try:
                if key == "hidden":
                    value = tuple(action.type(raw.replace("/", ",")))
                else:
                    value = action.type(raw) if action.type else raw
            except (argparse.ArgumentTypeError, ValueError) as exc:
                raise DataError(f"--grid {key}: {raw!r}: {exc}") from None
            if action.choices and value not in action.choices:
                raise DataError(f"--grid {key}: {raw!r} is not one of: {', '.join(map(str, action.choices))}")
            if value in values:
                raise DataError(f"--grid {key}: {raw!r} is given twice")
            values.append(value)
        grid[key] = values
    return grid


def _base(args: argparse.Namespace, grid: dict, data) -> dict:
    """What every configuration shares: the flags, as estimator parameters (an --arch's images take
    the data's own shape, as ``train`` does, unless --image-shape gives one)."""
    from .cli_training import _data_shape

    base = {key: getattr(args, key) for key in SWEEPABLE if key not in grid}
    if "hidden" in base:
        base["hidden"] = tuple(base["hidden"])
    shape = _data_shape(args, data) if args.arch else None
    base.update(arch=args.arch, image_shape=tuple(shape) if shape and len(shape) == 3 else None,
                dtype=args.dtype, cache_dir=args.cache_dir)
    if args.arch:
        base.pop("hidden", None)
    return base


def _check_address(address: str) -> None:
    """A scheduler address dask can parse (``tcp://host:port``), before any data is loaded."""
    try:
        from distributed.comm.addressing import parse_address
        from distributed.comm.registry import get_backend
    except ImportError:
        raise TrainingError("--scheduler needs dask.distributed: pip install 'symbackprop[dask]'") from None
    try:
        scheme, location = parse_address(address)
        get_backend(scheme)
    except ValueError as exc:
        raise DataError(f"--scheduler {address!r} is not a dask scheduler address ({exc}); "
                        "write it as tcp://HOST:PORT") from None
    if ":" not in location:
        raise DataError(f"--scheduler {address!r} has no port; write it as tcp://HOST:PORT (dask's default "
                        "port is 8786)")


def _reach(address: str) -> None:
    """Connect once, briefly, before the data is loaded: an unreachable scheduler is one line now."""
    from distributed import Client

    try:
        Client(address, timeout="5s").close()
    except (OSError, TimeoutError) as exc:
        raise TrainingError(f"cannot reach the dask scheduler at {address}: {exc}") from None


def _refuse_overwriting(path: str, args: argparse.Namespace) -> None:
    """Never replace the data, or any file that is not an earlier sweep's table, with the table."""
    from pathlib import Path

    target = Path(path).resolve()
    inputs = [p for p in (args.csv, args.idx_images, args.idx_labels) if p]
    if any(Path(p).resolve() == target for p in inputs):
        raise DataError(f"--results {path} is the data being searched on; give another file")
    if target.is_file():
        with target.open("rb") as f:
            first = f.readline(4096)
        if not (first.startswith(b"rank,") and b",mean_" in first and b",fit_seconds," in first):
            raise DataError(f"--results {path} exists and is not a sweep's table; it is left as it is "
                            "(give a new file, or remove it first)")


def _check_settings(args: argparse.Namespace, grid: dict) -> None:
    """Every configuration's training settings, before the data is loaded (the rest is checked against
    the data, still before the first fit: :func:`symbackprop.train.sweep.sweep`)."""
    import itertools
    from dataclasses import fields

    from .cli_training import _settings, readers, unread_settings
    from .train.session import TrainSettings

    names = {f.name for f in fields(TrainSettings)}
    keys = [k for k in grid if k in names]
    chosen = set(grid) | given(args)
    for combo in itertools.product(*(grid[k] for k in keys)):
        changes = dict(zip(keys, combo))
        optimizer = changes.get("optimizer", args.optimizer)
        unused = unread_settings(optimizer, chosen)
        if unused:
            where = "--grid " + unused[0] if unused[0] in grid else "--" + unused[0]
            raise TrainingError(f"{where} does not apply to the {optimizer} optimizer (it is read by: "
                                f"{readers(unused[0])}); sweep it in a run of its own with those optimizers")
        try:
            TrainSettings.from_record(_settings(args).record(), **changes).check()
        except TrainingError as exc:
            shown = ", ".join(f"{k}={v}" for k, v in changes.items())
            raise TrainingError(f"configuration {shown}: {exc}" if shown else str(exc)) from None


def cmd_sweep(args: argparse.Namespace) -> int:
    import numpy as np

    from .cli_training import _source, _split, refuse_image_shape_without_arch
    from .train.checkpoint import check_checkpoint_path
    from .train.sweep import sweep
    from .atomic import check_writable

    grid = parse_grid(args.grid)
    if args.serial and (args.scheduler or args.workers):
        raise TrainingError("--serial runs without dask: leave out --scheduler and --workers")
    if args.scheduler and args.workers:
        raise TrainingError("--workers sizes the LocalCluster a sweep starts; a --scheduler has its own workers")
    refuse_image_shape_without_arch(args)
    if args.scheduler:
        _check_address(args.scheduler)
        _reach(args.scheduler)
    if not str(args.results).endswith(".csv"):
        raise DataError(f"--results {args.results!r}: the table is written as CSV; give a name ending in .csv")
    _refuse_overwriting(args.results, args)
    check_writable(args.results, "results table")
    check_checkpoint_path(args.save)
    if args.cache_dir:
        from .codegen.cache import check_cache_path
        check_cache_path(args.cache_dir)
    _check_settings(args, grid)
    data = _split(args, _source(args))
    print(data.summary())
    if data.memorised:
        print(f"searching on the {len(data.y_train):,} training rows ({data.name} holds nothing out: the best "
              "model is scored on the same rows)")
    else:
        print(f"searching on the {len(data.y_train):,} training rows; the {len(data.y_test):,} test rows are "
              "held out")
    try:
        result = sweep(data.X_train, data.y_train, grid, base=_base(args, grid, data), folds=args.folds, n_random=args.random,
                       seed=args.seed, use_dask=False if args.serial else None, scheduler=args.scheduler,
                       workers=args.workers, progress=not args.no_progress and sys.stderr.isatty(), say=print,
                       refit=False)
    except KeyboardInterrupt:
        raise KeyboardInterrupt from None  # one line from the command ("interrupted"), nothing written
    print(result.table())
    n = len(result.rows)
    print(f"{n} configuration{'s' * (n != 1)} × {result.folds} folds in {result.seconds:.1f} s on {result.ran_on}")
    result.to_csv(args.results)
    print(f"wrote {args.results}")
    if result.rows[0].failure:
        raise TrainingError(f"every configuration failed (the table is in {args.results}); the first: "
                            f"{result.rows[0].failure}")
    try:
        best = result.refit(data.X_train, data.y_train)  # after the table is written: a failure here loses nothing
    except TrainingInterrupted as stop:
        stop.kept = (f"the best configuration was being refitted: the table is in {args.results}, "
                     f"{args.save} was not written")
        raise
    shown = ", ".join(f"{k}={v if not isinstance(v, tuple) else '/'.join(map(str, v))}"
                      for k, v in result.best_params.items())
    correct = int(np.sum(best.predict(data.X_test) == data.y_test))
    which = "accuracy on the training points" if data.memorised else "held-out test accuracy"
    print(f"best: {shown} (cross-validated accuracy {result.rows[0].mean:.4f}); {which} "
          f"{correct / len(data.y_test):.4f} ({correct}/{len(data.y_test)})")
    model = best.model_
    model.class_names = list(data.class_names) if model.network.n_outputs > 1 or len(data.class_names) == 2 else None
    ckpt = model.checkpoint()
    ckpt.info["data"] = {**data.record(), "image_shape": data.image_shape}
    ckpt.info["dataset"] = data.name
    ckpt.rows = dict(data.rows)
    from .train.checkpoint import save_checkpoint
    save_checkpoint(args.save, ckpt)
    print(f"saved {args.save} (symbackprop evaluate {args.save} scores it on the same held-out rows)")
    return 0
