"""Ctrl-C during training: finish the epoch, keep its checkpoint, then stop, and say so.

A SIGINT that lands while Numba's compiled code runs can surface as a ``SystemError``
("returned a result with an exception set") instead of a ``KeyboardInterrupt``.  So while
epochs run, the first Ctrl-C only sets a flag: the epoch that is running completes, is
reported and saved, and training then stops with :class:`TrainingInterrupted`.  A second
Ctrl-C stops at once (the checkpoint of the last complete epoch is still on disk, since
checkpoints are written atomically).

Once a stop is under way, further presses change nothing: a press that lands while the
:class:`TrainingInterrupted` is being raised, or while it travels up to the command that
prints the one closing line, would otherwise replace it with a bare ``KeyboardInterrupt``
and lose which epoch the checkpoint holds.  Inside a deferral that is the deferral's own
handler; between a deferral and the command it is :func:`program_handler`, which the
command installs for the whole run.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

__all__ = ["Deferral", "TrainingInterrupted", "caused_by_interrupt", "deferred_interrupts", "program_handler"]

#: set once a deferral has decided to stop on a Ctrl-C (read by :func:`program_handler`)
_stop_under_way = threading.Event()


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped by Ctrl-C after ``epoch`` (the last complete epoch; its history is kept)."""

    def __init__(self, epoch: int, history=None) -> None:
        super().__init__(f"interrupted after epoch {epoch}")
        self.epoch, self.history = epoch, history
        #: the checkpoint file that holds the last complete epoch, and that epoch (set by the session)
        self.saved: str | None = None
        self.saved_epoch: int | None = None
        #: what a caller that trains as one step of its own work says was kept instead (a sweep's refit)
        self.kept: str | None = None


def caused_by_interrupt(exc: BaseException) -> bool:
    """``exc`` is a Ctrl-C, or an error raised while one was being handled (Numba's ``SystemError``)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


class Deferral:
    """What a deferred block sees: whether Ctrl-C was pressed (call it), and :meth:`stop`, which
    says the block now stops on it, so that a later press no longer raises."""

    def __init__(self) -> None:
        self.presses = 0
        self.stopping = False

    def __call__(self) -> bool:
        return self.presses > 0

    def stop(self) -> None:
        self.stopping = True
        _stop_under_way.set()

    def stop_if_pressed(self, epoch: int, history=None) -> None:
        """If Ctrl-C was pressed, stop now with ``epoch`` the last complete one: say so before the
        deferral ends (so a later press changes nothing), then raise :class:`TrainingInterrupted`."""
        if self.presses:
            self.stop()
            raise TrainingInterrupted(epoch, history)

    def press(self, signum=None, frame=None) -> None:
        """The deferral's SIGINT handler: the first press is noted, the second stops at once."""
        self.presses += 1
        if self.presses > 1 and not self.stopping:
            self.stop()
            raise KeyboardInterrupt


@contextmanager
def deferred_interrupts() -> Iterator[Deferral]:
    """Within the block, the first SIGINT only sets a flag (read by calling the object yielded); a
    second raises ``KeyboardInterrupt`` at once, unless the block has said it stops.  Outside the
    main thread, where signal handlers cannot be set, interrupts are left as they are."""
    deferral = Deferral()
    if threading.current_thread() is not threading.main_thread():
        yield deferral
        return
    previous = signal.getsignal(signal.SIGINT)
    try:
        signal.signal(signal.SIGINT, deferral.press)
    except (ValueError, OSError):  # an embedded interpreter that owns the signal
        yield deferral
        return
    try:
        yield deferral
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)


#: presses :func:`program_handler` has ignored while a stop was under way
_ignored = [0]


def program_handler(signum, frame) -> None:
    """SIGINT for a whole command run: Python's usual ``KeyboardInterrupt``, except for the first
    press while a stop is already under way (the second of a double Ctrl-C: the command is about
    to print its one line), which is ignored.  A press after that raises again, so a clean-up that
    hangs (a cluster shutting down) can still be broken off."""
    if _stop_under_way.is_set() and not _ignored[0]:
        _ignored[0] += 1
        return
    raise KeyboardInterrupt
