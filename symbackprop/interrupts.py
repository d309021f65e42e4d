"""Ctrl-C during training: finish the epoch, keep its checkpoint, then stop, and say so.

A SIGINT that lands while Numba's compiled code runs can surface as a ``SystemError``
("returned a result with an exception set") instead of a ``KeyboardInterrupt``.  So while
epochs run, the first Ctrl-C only sets a flag: the epoch that is running completes, is
reported and saved, and training then stops with :class:`TrainingInterrupted`.  A second
Ctrl-C stops at once (the checkpoint of the last complete epoch is still on disk, since
checkpoints are written atomically).
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

__all__ = ["TrainingInterrupted", "caused_by_interrupt", "deferred_interrupts"]


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped by Ctrl-C after ``epoch`` (the last complete epoch; its history is kept)."""

    def __init__(self, epoch: int, history=None) -> None:
        super().__init__(f"interrupted after epoch {epoch}")
        self.epoch, self.history = epoch, history
        #: the checkpoint file that holds the last complete epoch, and that epoch (set by the session)
        self.saved: str | None = None
        self.saved_epoch: int | None = None


def caused_by_interrupt(exc: BaseException) -> bool:
    """``exc`` is a Ctrl-C, or an error raised while one was being handled (Numba's ``SystemError``)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


@contextmanager
def deferred_interrupts() -> Iterator[Callable[[], bool]]:
    """Within the block, the first SIGINT only sets a flag (read by the function yielded); a
    second raises ``KeyboardInterrupt`` at once.  Outside the main thread, where signal handlers
    cannot be set, interrupts are left as they are."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    count = [0]
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame) -> None:
        count[0] += 1
        if count[0] > 1:
            raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGINT, handler)
    except (ValueError, OSError):  # an embedded interpreter that owns the signal
        yield lambda: False
        return
    try:
        yield lambda: count[0] > 0
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
