"""Callbacks for :meth:`Model.fit <symbackprop.train.model.Model.fit>`, in the habits of Keras.

A callback is either a plain function of the epoch's :class:`~.loop.EpochRecord`, or an
object with any of ``on_train_begin(logs)``, ``on_epoch_end(epoch, logs)`` and
``on_train_end(logs)`` -- Keras' names and arguments, so a Keras-style callback needs no
changes: ``epoch`` counts from 0, as in Keras (the epoch records count from 1, as the
command line prints them), and ``logs`` holds ``loss``, ``lr`` and, with validation data,
``val_loss`` and ``val_accuracy``.  Setting ``model.stop_training = True`` from a callback ends training
after that epoch, as in Keras.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from .loop import EpochRecord

__all__ = ["CallbackList", "LambdaCallback", "logs"]


def logs(record: EpochRecord) -> dict[str, float]:
    """Keras' ``logs`` dict for one epoch: only the values this epoch has."""
    out = {"loss": record.train_loss, "lr": record.lr}
    if record.val_loss is not None:
        out["val_loss"] = record.val_loss
    if record.val_accuracy is not None:
        out["val_accuracy"] = record.val_accuracy
    return out


class LambdaCallback:
    """A callback from functions, as Keras' ``LambdaCallback``: ``on_epoch_end(epoch, logs)``, etc."""

    def __init__(self, on_epoch_end: Callable[[int, dict], Any] | None = None,
                 on_train_begin: Callable[[dict], Any] | None = None,
                 on_train_end: Callable[[dict], Any] | None = None) -> None:
        self._epoch_end, self._begin, self._end = on_epoch_end, on_train_begin, on_train_end

    def on_train_begin(self, logs: dict) -> None:
        if self._begin:
            self._begin(logs)

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        if self._epoch_end:
            self._epoch_end(epoch, logs)

    def on_train_end(self, logs: dict) -> None:
        if self._end:
            self._end(logs)


class CallbackList:
    """The callbacks of one ``fit`` call, each told about the model it trains (``callback.model``)."""

    def __init__(self, callbacks: Iterable, model) -> None:
        one = callable(callbacks) or any(hasattr(callbacks, m) for m in ("on_epoch_end", "on_train_begin",
                                                                        "on_train_end"))
        self.callbacks = [callbacks] if one else list(callbacks or ())
        for c in self.callbacks:
            if not callable(c) and not any(hasattr(c, m) for m in ("on_epoch_end", "on_train_begin",
                                                                    "on_train_end")):
                raise TypeError(f"a callback must be a function of the epoch record or have on_epoch_end "
                                f"(Keras style); got {c!r}")
            if not callable(c) or hasattr(c, "on_epoch_end"):
                try:
                    c.model = model
                except AttributeError:
                    pass

    def begin(self) -> None:
        for c in self.callbacks:
            if hasattr(c, "on_train_begin"):
                c.on_train_begin({})

    def epoch_end(self, record: EpochRecord) -> None:
        for c in self.callbacks:
            if hasattr(c, "on_epoch_end"):
                c.on_epoch_end(record.epoch - 1, logs(record))  # Keras counts epochs from 0
            elif callable(c):
                c(record)

    def end(self, record: EpochRecord | None) -> None:
        for c in self.callbacks:
            if hasattr(c, "on_train_end"):
                c.on_train_end(logs(record) if record is not None else {})
