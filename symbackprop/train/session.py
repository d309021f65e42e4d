"""A training session: everything ``symbackprop train`` does between loading the data and the final line.

:func:`train_session` starts from a network, or resumes from a checkpoint (weights,
normalisation, optimizer state and the shuffling generator's state, so a resumed run
shuffles exactly as an uninterrupted one would have); compiles the kernels; trains with
:func:`~symbackprop.train.loop.fit`, reporting epochs as it goes; writes a checkpoint
after every epoch and at the end; and measures the held-out test accuracy.

Its report is lines of text handed to ``say`` (``print`` gives the command's output), so
the session itself writes nothing unless asked to.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict, dataclass, fields
from typing import Callable

import numpy as np

from ..codegen.compiled import CompiledNetwork, compile_network
from .threads import threads_in_use
from ..atomic import check_writable
from ..errors import DataError, TrainingError
from ..model.network import Network
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .data import Dataset
from ..interrupts import TrainingInterrupted, deferred_interrupts
from .loop import (DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, DEFAULT_LR, EpochRecord, History, accuracy, check_settings,
                   fit)
from .normalize import Normalizer
from .optimizers import Optimizer, Schedule

__all__ = ["Progress", "SessionResult", "TrainSettings", "check_features", "train_session"]


@dataclass(frozen=True)
class TrainSettings:
    """How to train: the update rule and its hyper-parameters, the learning-rate schedule, batches, stopping.

    The defaults are those of ``symbackprop train``.  :meth:`check` checks them all at once
    (a session does so before it compiles anything); they are checked again where they are
    used (:class:`Optimizer`, :class:`Schedule`, :func:`fit`).
    """

    optimizer: str = "sgd"
    lr: float = DEFAULT_LR
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    alpha: float = 0.99
    schedule: str = "constant"
    gamma: float = 0.5
    step_size: int = 10
    epochs: int = DEFAULT_EPOCHS
    batch_size: int = DEFAULT_BATCH_SIZE
    clip_value: float | None = None
    clip_norm: float | None = None
    patience: int | None = None

    def check(self, n_train: int | None = None) -> None:
        """A named :class:`~symbackprop.errors.TrainingError` for any setting that cannot train, before
        any work is done (the batch size is checked against ``n_train`` when it is given)."""
        batch = n_train if self.optimizer == "gd" and n_train else self.batch_size  # gd: one full batch
        check_settings(self.epochs, self.lr, batch, n_train, clip_value=self.clip_value, clip_norm=self.clip_norm,
                       patience=self.patience)
        self.new_optimizer()
        self.new_schedule()

    def record(self) -> dict:
        """These settings, JSON-able (a checkpoint keeps them, so a resumed run continues with them)."""
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict, **changes) -> "TrainSettings":
        """Settings from :meth:`record`'s dict (keys it does not know are ignored), with ``changes``."""
        known = {f.name for f in fields(cls)}
        return cls(**{**{k: v for k, v in record.items() if k in known}, **changes})

    def new_optimizer(self) -> Optimizer:
        """A fresh optimizer (no state) with these settings."""
        return Optimizer(self.optimizer, momentum=self.momentum, alpha=self.alpha, beta1=self.beta1,
                         beta2=self.beta2)

    def new_schedule(self) -> Schedule:
        return Schedule(self.schedule, self.gamma, self.step_size)


@dataclass
class SessionResult:
    """What a session leaves behind."""

    compiled: CompiledNetwork
    #: the epochs of this run only (a resumed run's earlier ones are in ``checkpoint.info["history"]``)
    history: History
    #: the final state: network, trained parameters (the best ones after early stopping), normaliser,
    #: optimizer and run info; the same as was written to ``save``, if given
    checkpoint: Checkpoint
    #: seconds spent training (compilation excluded)
    seconds: float
    #: accuracy on the data's test split
    test_accuracy: float
    #: the test split is held out (False for XOR, whose test points are its training points)
    held_out: bool = True


def _number(x: float) -> str:
    return f"{x:.4f}" if abs(x) < 1e5 else f"{x:.4e}"


class Progress:
    """Epoch lines (the run's first, every ``every``-th and the last), and a tqdm bar over the epochs
    when ``bar`` is asked for and the output is a terminal; with a bar, lines are written through it."""

    def __init__(self, total: int, every: int, bar: bool, say: Callable[[str], None] = print) -> None:
        self.total, self.every, self.say, self.bar = total, every, say, None
        self.printed: int | None = None  # the last epoch whose line was written
        if bar and sys.stdout.isatty():
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="epoch", leave=False)

    def __call__(self, record: EpochRecord) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{record.train_loss:.4f}")
        if self.printed is None or record.epoch % self.every == 0 or record.epoch == self.total:  # first of a run
            self.write(self.line(record))
            self.printed = record.epoch

    def line(self, record: EpochRecord) -> str:
        val = "" if record.val_loss is None else f"  val loss {_number(record.val_loss)}"
        acc = "" if record.val_accuracy is None else f"  val acc {record.val_accuracy:.4f}"
        return f"epoch {record.epoch:>4}/{self.total}  lr {record.lr:.3g}  loss {_number(record.train_loss)}{val}{acc}"

    def write(self, line: str) -> None:
        (self.bar.write if self.bar is not None else self.say)(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def check_features(network: Network, data: Dataset) -> None:
    """A :class:`DataError` unless ``network`` takes ``data``'s rows."""
    if network.n_inputs != data.n_features:
        raise DataError(f"the model takes {network.n_inputs} features per sample, "
                        f"{data.name} has {data.n_features}")


def _summary(settings: TrainSettings, optimizer: Optimizer, schedule: Schedule, normalizer: Normalizer) -> str:
    """The line that says how the network will be trained."""
    extras = [f"{k} {v}" for k, v in (("clip value", settings.clip_value), ("clip norm", settings.clip_norm),
                                         ("patience", settings.patience)) if v is not None]
    return (f"training: {optimizer.name}, lr {settings.lr} ({schedule.kind}), batch {settings.batch_size}, "
            f"{settings.epochs} epoch{'s' * (settings.epochs != 1)}, {normalizer.description}" + "".join(f", {e}" for e in extras))


def _silent(line: str) -> None:
    pass


def train_session(data: Dataset, network: Network | None = None, settings: TrainSettings | None = None, *,
                  resume: str | os.PathLike | None = None, save: str | os.PathLike | None = None,
                  seed: int = 0, init: str = "auto", dtype: str = "float64", normalize: str = "none",
                  view: str = "index", cache_dir: str | None = None,
                  on_epoch: Callable[[EpochRecord], None] | None = None,
                  say: Callable[[str], None] | None = None, progress_bar: bool = False,
                  every: int = 10, data_info: dict | None = None) -> SessionResult:
    """Train ``network`` on ``data`` (or continue the run saved in the checkpoint ``resume``).

    A new run initialises weights with ``seed`` and ``init`` in precision ``dtype`` and fits a
    ``normalize`` normaliser on the training split; a resumed one takes network, weights,
    normaliser and optimizer from the checkpoint (``network``, ``init``, ``dtype`` and
    ``normalize`` do not apply; give ``network=None``) and continues the epoch count and the
    batch order.  ``seed`` also seeds the batch order of a new run.  Kernels are compiled
    with ``view`` and ``cache_dir`` (:func:`~symbackprop.codegen.compiled.compile_network`).

    ``save``: a checkpoint written atomically after every epoch and once more at the end
    (the best weights after early stopping).  ``on_epoch`` is called with each epoch's record
    after it is reported and saved.  ``say`` receives the report line by line: the model,
    the kernels, the settings, epoch lines (every ``every``-th, through a tqdm bar on a
    terminal if ``progress_bar``), early stopping and saving; None reports nothing.

    Every setting is checked before anything is compiled.  The checkpoint records the
    settings, the data's source and fingerprint (with ``data_info`` added, e.g. how the
    command line augmented it) and the row numbers of each split part, so ``evaluate``
    later uses exactly the rows held out here.  Ctrl-C raises
    :class:`~symbackprop.interrupts.TrainingInterrupted` after the running epoch,
    which names the checkpoint and the epoch it holds.
    """
    settings = settings or TrainSettings()
    settings.check(len(data.y_train))  # every setting before any work
    if settings.patience is not None and len(data.y_val) == 0:
        raise TrainingError("early stopping (patience) needs validation data (a validation fraction above 0)")
    if save:
        check_writable(save, "checkpoint")
    report = say or _silent
    start_epoch, history_before = 1, []
    rng = np.random.default_rng(seed)  # batch order; its state is saved so a resumed run continues it
    if resume:
        if network is not None:
            raise ValueError("give a network to train or a checkpoint to resume, not both")
        ckpt = load_checkpoint(resume)
        net, params, normalizer, optimizer = ckpt.network, ckpt.params, ckpt.normalizer, ckpt.optimizer
        start_epoch = int(ckpt.info.get("epochs", 0)) + 1
        history_before = ckpt.info.get("history", [])
        if "shuffle_state" in ckpt.info:
            rng.bit_generator.state = ckpt.info["shuffle_state"]
        report(f"resuming {resume} after epoch {start_epoch - 1}")
        check_features(net, data)
    else:
        if network is None:
            raise ValueError("train_session needs a network to train, or a checkpoint to resume")
        net = network
        params = net.init_params(seed, init, dtype=dtype)
        normalizer = Normalizer(normalize).fit(data.X_train)
        optimizer = None
    if optimizer is None:
        optimizer = settings.new_optimizer()
    report(f"model: {net}  ({net.n_params:,} parameters, {params.flat.dtype})")
    start = time.perf_counter()
    with deferred_interrupts() as interrupted:  # a Ctrl-C inside Numba's compiler would print a traceback
        compiled = compile_network(net, view=view, cache_dir=cache_dir, dtype=params.flat.dtype)
        interrupted.stop_if_pressed(start_epoch - 1, History())  # (Numba's compiler cannot stop midway)
    seconds = time.perf_counter() - start
    counts = compiled.report.table()  # read from the cache, or counted now for widths it has not seen
    if compiled.from_cache:
        counted = "" if compiled.report_from_cache else "; op counts derived for these widths"
        report(f"kernels: loaded from cache in {seconds:.2f} s{counted} ({compiled.folder})")
    else:
        t = compiled.timings
        report(f"kernels: derived in {t.get('derive', 0):.2f} s, generated in {t.get('generate', 0):.2f} s, "
               f"compiled in {t.get('compile_or_load', 0):.2f} s -> {compiled.source_path}")
    report(counts)
    threads = threads_in_use()
    if threads > 1 and compiled.splits_batches and ("parallel_epoch", params.flat.dtype.name) not in compiled.warm:
        with deferred_interrupts() as interrupted:
            seconds = compiled.warm_up(params.flat.dtype, ("parallel_epoch",))
            interrupted.stop_if_pressed(start_epoch - 1, History())
        report(f"threads: each batch split among {threads} (the batch-parallel epoch compiled or loaded in "
               f"{seconds:.2f} s; cached)")
    schedule = settings.new_schedule()
    report(_summary(settings, optimizer, schedule, normalizer))
    X_train, X_val, X_test = (normalizer.transform(X) for X in (data.X_train, data.X_val, data.X_test))
    progress = Progress(start_epoch + settings.epochs - 1, every, progress_bar, report) if say is not None else None
    done: list[EpochRecord] = []

    saved: list[int] = []  # the epoch the checkpoint on disk holds

    def checkpoint(epochs: int) -> Checkpoint:
        info = {"epochs": epochs, "dataset": data.name, "seed": seed, "shuffle_state": rng.bit_generator.state,
                "history": history_before + [vars(r) for r in done], "data": {**data.record(), **(data_info or {})},
                "settings": settings.record()}
        return Checkpoint(net, params, normalizer, optimizer, info, dict(data.rows))

    def after_epoch(record: EpochRecord) -> None:
        if progress is not None:
            progress(record)
        done.append(record)
        if save:
            save_checkpoint(save, checkpoint(record.epoch))
            saved[:] = [record.epoch]
        if on_epoch is not None:
            on_epoch(record)

    t0 = time.perf_counter()
    try:
        history = fit(compiled, params, X_train, data.y_train, epochs=settings.epochs, lr=settings.lr,
                      batch_size=settings.batch_size, optimizer=optimizer, schedule=schedule,
                      clip_value=settings.clip_value, clip_norm=settings.clip_norm, seed=rng, X_val=X_val,
                      y_val=data.y_val, patience=settings.patience, start_epoch=start_epoch, on_epoch=after_epoch)
    except TrainingInterrupted as stop:
        stop.saved, stop.saved_epoch = (str(save), saved[0]) if save and saved else (None, None)
        raise
    finally:
        if progress is not None:
            progress.close()
    seconds = time.perf_counter() - t0
    if history.stopped_early:
        report(f"early stop after epoch {history.epochs[-1].epoch}: best validation loss at epoch {history.best_epoch}")
    final = checkpoint(history.epochs[-1].epoch)
    if save:  # the final weights (the best ones after early stopping)
        save_checkpoint(save, final)
        report(f"saved {save}")
    return SessionResult(compiled, history, final, seconds, accuracy(compiled, params, X_test, data.y_test),
                         held_out=not data.memorised)
