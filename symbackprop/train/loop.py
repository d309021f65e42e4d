"""The training loop: mini-batches over compiled kernels, any optimizer, monitoring.

Each epoch is one call to the generated ``train_epoch`` kernel: batch gathering, forward,
backward, optional clipping and the optimizer's update of the flat parameter vector all
run in compiled code, so a training step pays no Python overhead.  Batches are reshuffled every
epoch from a seeded generator, so the same seed gives the same weights, bit for bit.
With validation data, every epoch records validation loss and accuracy; ``patience``
stops training when the validation loss has not improved for that many epochs and puts
the best weights back.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from ..codegen.compiled import CompiledNetwork
from ..errors import TrainingDiverged, TrainingError
from ..model.parameters import Parameters
from ..interrupts import TrainingInterrupted, caused_by_interrupt, deferred_interrupts
from .monitor import layer_gradient_norms, monitor_sample
from .optimizers import Optimizer, Schedule
from .threads import threads_in_use


@dataclass
class EpochRecord:
    epoch: int
    lr: float
    train_loss: float
    val_loss: float | None
    val_accuracy: float | None
    seconds: float
    #: ‖∂L/∂W_l‖ per layer after this epoch, on a fixed training batch (``fit(monitor_gradients=True)``)
    grad_norms: list[float] | None = None


@dataclass
class History:
    """What happened in each epoch, and where training stopped."""

    epochs: list[EpochRecord] = field(default_factory=list)
    best_epoch: int | None = None
    #: early stopping (``patience``) ended the run
    stopped_early: bool = False
    #: a callback (``on_epoch`` returning True) ended the run
    stopped_by_callback: bool = False
    #: ‖∂L/∂W_l‖ per layer before the first update (``fit(monitor_gradients=True)``)
    initial_grad_norms: list[float] | None = None

    @property
    def train_loss(self) -> list[float]:
        return [e.train_loss for e in self.epochs]

    @property
    def val_loss(self) -> list[float | None]:
        return [e.val_loss for e in self.epochs]

    @property
    def val_accuracy(self) -> list[float | None]:
        return [e.val_accuracy for e in self.epochs]

    @property
    def grad_norms(self) -> np.ndarray:
        """Per-layer gradient norms, one row per epoch (the initial row first), if monitored."""
        rows = [self.initial_grad_norms] if self.initial_grad_norms is not None else []
        rows += [e.grad_norms for e in self.epochs if e.grad_norms is not None]
        return np.array(rows, dtype=float)

    @property
    def history(self) -> dict[str, list]:
        """Keras' ``History.history``: one list per quantity, one entry per epoch (``loss``, ``lr`` and,
        with validation data, ``val_loss`` and ``val_accuracy``)."""
        out: dict[str, list] = {"loss": self.train_loss, "lr": [e.lr for e in self.epochs]}
        if any(e.val_loss is not None for e in self.epochs):
            out["val_loss"] = self.val_loss
        if any(e.val_accuracy is not None for e in self.epochs):
            out["val_accuracy"] = self.val_accuracy
        return out

    def __repr__(self) -> str:
        if not self.epochs:
            return "History(no epochs)"
        last = self.epochs[-1]
        val = "" if last.val_loss is None else f", val loss {last.val_loss:.4g}"
        stop = (f"; stopped early, best epoch {self.best_epoch}" if self.stopped_early else
                "; stopped by a callback" if self.stopped_by_callback else "")
        return (f"History(epochs {self.epochs[0].epoch}-{last.epoch}: loss {self.epochs[0].train_loss:.4g} -> "
                f"{last.train_loss:.4g}{val}{stop}; .history holds the lists)")

    def to_dict(self) -> dict:
        return asdict(self)


def accuracy(compiled: CompiledNetwork, params: Parameters, X: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose predicted class equals ``labels``."""
    return _fraction_correct(compiled.predict(X, params), labels)


def _fraction_correct(predicted: np.ndarray, labels) -> float:
    return float(np.mean(predicted == np.asarray(labels).reshape(-1)))


def _positive_int(value, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise TrainingError(f"{what} must be a positive integer, got {value!r}")


def _positive_number(value, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not math.isfinite(value) \
            or value <= 0:
        raise TrainingError(f"{what} must be a positive number, got {value!r}")


def check_settings(epochs: int, lr: float, batch_size: int, n_samples: int | None = None, *,
                   clip_value: float | None = None, clip_norm: float | None = None,
                   patience: int | None = None) -> None:
    """Named errors for settings that cannot train (the batch size against ``n_samples`` when given)."""
    _positive_int(epochs, "epochs")
    _positive_number(lr, "learning rate")
    _positive_int(batch_size, "batch size")
    if n_samples is not None and batch_size > n_samples:
        raise TrainingError(f"batch size {batch_size} is larger than the {n_samples} training samples "
                            f"(use a batch size of at most {n_samples})")
    for value, what in ((clip_value, "clip value"), (clip_norm, "clip norm")):
        if value is not None:
            _positive_number(value, what)
    if patience is not None:
        _positive_int(patience, "patience")


#: the defaults of :func:`fit`, of :class:`~.session.TrainSettings` and so of ``symbackprop train``,
#: :class:`~.model.Model` and the estimators: one place, so the ways to train agree
DEFAULT_EPOCHS, DEFAULT_LR, DEFAULT_BATCH_SIZE = 100, 0.05, 16


def fit(compiled: CompiledNetwork, params: Parameters, X, Y, *, epochs: int = DEFAULT_EPOCHS,
        lr: float = DEFAULT_LR, batch_size: int = DEFAULT_BATCH_SIZE, optimizer: str | Optimizer = "sgd",
        schedule: Schedule | None = None,
        clip_value: float | None = None, clip_norm: float | None = None, seed: int | np.random.Generator = 0,
        X_val=None, y_val=None, patience: int | None = None, start_epoch: int = 1,
        on_epoch: Callable[[EpochRecord], bool | None] | None = None, monitor_gradients: bool = False,
        batch_order: Callable[[int, int], np.ndarray] | None = None) -> History:
    """Train ``params`` in place; returns the per-epoch history.

    ``Y`` may be one-hot targets or integer labels; ``y_val`` are labels (or targets).
    ``optimizer`` is a name from :data:`~symbackprop.train.optimizers.OPTIMIZERS` or an
    :class:`Optimizer` (whose state then carries over, e.g. when resuming).  ``seed`` may
    be a ``numpy.random.Generator`` whose state carries over the same way, so a resumed
    run shuffles exactly as an uninterrupted one would have.  ``monitor_gradients`` records
    each layer's ‖∂L/∂W‖ before training and after every epoch, on a fixed sample of the
    training rows (:mod:`symbackprop.train.monitor`).

    ``on_epoch(record)`` is called after every epoch; returning True stops training there
    (``history.stopped_by_callback``).  ``batch_order(epoch, n)`` replaces the shuffle: it
    returns the row numbers (0 to n-1, repeats and omissions allowed) in the order the
    epoch's batches take them, e.g. for curriculum learning or a sampler of one's own.

    Ctrl-C lets the running epoch finish (and ``on_epoch`` see it), then raises
    :class:`~symbackprop.interrupts.TrainingInterrupted` naming the last complete epoch;
    a second Ctrl-C stops at once (:mod:`symbackprop.interrupts`).
    """
    net = compiled.network
    compiled.check_params(params)
    X, Y = compiled.data(params, X, Y)
    opt = optimizer if isinstance(optimizer, Optimizer) else Optimizer(str(optimizer))
    if opt.full_batch:
        batch_size = X.shape[0]
    check_settings(epochs, lr, batch_size, X.shape[0], clip_value=clip_value, clip_norm=clip_norm, patience=patience)
    schedule = schedule or Schedule()
    has_val = X_val is not None and len(X_val) > 0
    if has_val:
        X_val, Y_val = compiled.data(params, X_val, y_val)
        labels_val = np.asarray(y_val)
        classify = labels_val.ndim == 1 and (net.n_outputs > 1 or net.loss.classifies)
    elif patience is not None:
        raise TrainingError("early stopping (patience) needs validation data")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    grads = params.zeros_like()
    history = History()
    best_loss, best_flat, waited = math.inf, None, 0
    n = X.shape[0]
    if monitor_gradients:
        X_watch, Y_watch = monitor_sample(X, Y)
        history.initial_grad_norms = layer_gradient_norms(compiled, params, X_watch, Y_watch)

    def one_epoch(epoch: int) -> EpochRecord:
        start = time.perf_counter()
        rate = schedule.lr(lr, epoch)
        if batch_order is not None:
            order = _checked_order(batch_order(epoch, n), n, epoch)
        else:
            order = np.arange(n) if opt.full_batch else rng.permutation(n)
        total = _run_epoch(compiled, params, grads, X, Y, order, batch_size, opt, rate, clip_value, clip_norm, epoch)
        record = EpochRecord(epoch, rate, total / len(order), None, None, 0.0)
        if monitor_gradients:
            record.grad_norms = layer_gradient_norms(compiled, params, X_watch, Y_watch)
        if has_val:
            record.val_loss, outputs = compiled.evaluate(X_val, Y_val, params)
            if classify:
                record.val_accuracy = _fraction_correct(compiled.classes(outputs), labels_val)
        record.seconds = time.perf_counter() - start
        return record

    with deferred_interrupts() as interrupted:
        try:
            for epoch in range(start_epoch, start_epoch + epochs):
                record = one_epoch(epoch)
                history.epochs.append(record)
                if on_epoch is not None and on_epoch(record) is True:
                    history.stopped_by_callback = True
                    break
                if has_val and patience is not None:
                    if record.val_loss < best_loss:
                        best_loss, best_flat, waited, history.best_epoch = record.val_loss, params.flat.copy(), 0, epoch
                    else:
                        waited += 1
                        history.stopped_early = waited >= patience
                if history.stopped_early or interrupted():
                    break
            # Ctrl-C during the epoch that just ran (epochs >= 1: there is one): it is complete and
            # saved; stop on it, the last epoch too (a sweep would otherwise go on to its next fit)
            interrupted.stop_if_pressed(history.epochs[-1].epoch, history)
        except (KeyboardInterrupt, SystemError) as exc:  # a second Ctrl-C stops at once
            if isinstance(exc, TrainingInterrupted) or not caused_by_interrupt(exc):
                raise
            raise TrainingInterrupted(history.epochs[-1].epoch if history.epochs else start_epoch - 1,
                                      history) from None
    if best_flat is not None:
        params.flat[:] = best_flat
    return history


def _checked_order(order, n: int, epoch: int) -> np.ndarray:
    """A user's batch order as the kernel's int64 row numbers, or a named :class:`TrainingError`."""
    arr = np.asarray(order)
    if arr.ndim != 1 or arr.size == 0 or not (np.issubdtype(arr.dtype, np.integer) and arr.dtype != np.bool_):
        raise TrainingError(f"batch_order must return a non-empty 1-D array of row numbers; epoch {epoch} "
                            f"got {arr.dtype} of shape {arr.shape}")
    if arr.min() < 0 or arr.max() >= n:
        raise TrainingError(f"batch_order returned row {int(arr.min() if arr.min() < 0 else arr.max())} at epoch "
                            f"{epoch}; rows are numbered 0 to {n - 1}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _run_epoch(compiled: CompiledNetwork, params: Parameters, grads: Parameters, X: np.ndarray, Y: np.ndarray,
               order: np.ndarray, batch_size: int, opt: Optimizer, rate: float, clip_value: float | None,
               clip_norm: float | None, epoch: int) -> float:
    """One epoch in one compiled call; returns the sum over batches of loss times batch size."""
    total, bad_batch, bad_loss = compiled.train_epoch(X, Y, order, batch_size, params, grads,
                                                      opt.kernel_args(params.flat), rate, opt.steps, clip_value,
                                                      clip_norm, threads=threads_in_use())
    if bad_batch >= 0:
        opt.steps += bad_batch
        raise TrainingDiverged(f"training diverged at epoch {epoch}, batch {bad_batch + 1}: loss is {bad_loss}; "
                            f"try a smaller learning rate than {rate:g} or gradient clipping")
    opt.steps += -(-len(order) // batch_size)
    return total


def train_sgd(compiled: CompiledNetwork, params: Parameters, X, Y, **kwargs) -> History:
    """Plain mini-batch SGD: :func:`fit` with ``optimizer="sgd"``."""
    return fit(compiled, params, X, Y, optimizer="sgd", **kwargs)
