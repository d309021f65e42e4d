"""A cold compile on two cores: a forked child compiles part of a module into Numba's cache.

Numba compiles one function at a time, on one core, and a new network's first compile is
mostly that (the README CNN's entry points and layer kernels: about 6 s of 7.5).  The
functions are independent once the kernels called by address have declared signatures
(:mod:`.kernel_table`): an entry point is typed against its kernels' signatures, not their
code.  So the work is split in two by its estimated size; a child process made by
``fork`` compiles one share into Numba's on-disk cache while this process compiles the
other, and the calls that follow load the child's share from the cache.  ``fork`` copies
this process as it is (the loaded module, Numba's initialised compiler), so the child
starts at once, where a fresh interpreter would spend a second importing.

Only where ``fork`` is safe and pays: Linux, two or more cores, one Python thread (a
child forked while another thread holds a lock can hang on it) and Numba's thread pool not
started, and not switched off with ``SYMBACKPROP_SPLIT_COMPILE=0``.  If the child fails, or
is still at work long after this process has finished its share (it is then stopped),
nothing is lost: whatever it did not cache is compiled here on first call, as without it.
"""
from __future__ import annotations

import inspect
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, Sequence

#: an estimated cost per function, in source lines: Numba's fixed work per function (typing
#: set-up, wrappers, the cache's files) is about that of eight lines of loops
FIXED_LINES = 8


@dataclass(frozen=True)
class Job:
    """Compile one function for one signature (``run``); ``cost`` is its estimated size."""

    name: str
    cost: float
    run: Callable[[], object]


def source_lines(function) -> int:
    """Lines of a jitted function's Python source (the size Numba types, lowers and optimizes)."""
    try:
        return len(inspect.getsourcelines(function.py_func)[0])
    except (OSError, TypeError, AttributeError):
        return 20


#: how long the child may go on after this process's share, as a multiple of that share's
#: time (plus a few seconds): the shares are about equal, so a child still at work much
#: later is stuck, and is stopped
PATIENCE, GRACE = 3.0, 5.0

#: the cost of a shared kernel (:mod:`.update_rules`): compiled once per installation, so a
#: new model's compile only loads it
LOADED = 1.0


#: the cost of counting a network's operations (the op-count report), in the same lines: 0.15 s
#: for the README CNN, about what Numba takes for ten lines
REPORT_COST = 10.0


def job(name: str, dispatcher, compile_now: Callable[[], object]) -> Job:
    """The job of compiling ``dispatcher``: a network's function or kernel, or a shared kernel
    of this package (compiled once per installation)."""
    shared = str(getattr(getattr(dispatcher, "py_func", None), "__module__", "")).startswith(f"{__package__}.")
    return Job(name, LOADED if shared else FIXED_LINES + source_lines(dispatcher), compile_now)


def fork_pays() -> bool:
    """Whether a child process may take half of a cold compile (see the module's docstring)."""
    if os.environ.get("SYMBACKPROP_SPLIT_COMPILE", "1") == "0":
        return False
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False
    if len(os.sched_getaffinity(0)) < 2 or threading.active_count() > 1:
        return False
    try:  # Numba's thread pool, once started, does not survive a fork
        from numba.np.ufunc import parallel
        return not parallel._is_initialized
    except (ImportError, AttributeError):  # pragma: no cover - depends on the Numba release
        return False


def halves(jobs: Sequence[Job]) -> tuple[list[Job], list[Job]]:
    """The jobs in two shares of about equal cost (largest first, each to the lighter share);
    the first share, this process's, keeps the jobs' order."""
    mine, theirs, load = [], [], [0.0, 0.0]
    for item in sorted(jobs, key=lambda j: -j.cost):
        share = 0 if load[0] <= load[1] else 1
        (mine if share == 0 else theirs).append(item)
        load[share] += item.cost
    order = {id(j): k for k, j in enumerate(jobs)}
    return sorted(mine, key=lambda j: order[id(j)]), sorted(theirs, key=lambda j: order[id(j)])


def compile_split(jobs: Sequence[Job]) -> int:
    """Run ``jobs``: about half in a forked child (into Numba's cache), the rest here.

    Returns how many ran in the child (0 if none did).  Errors of this process's jobs are
    raised after the child has ended; the child's are not reported (its functions are
    compiled here on first call instead, and fail there the same way).
    """
    if len(jobs) < 2 or not fork_pays():
        for item in jobs:
            item.run()
        return 0
    mine, theirs = halves(jobs)
    for stream in (sys.stdout, sys.stderr):  # nothing buffered twice (None: no console)
        if stream is not None:
            stream.flush()
    pid = os.fork()
    if pid == 0:  # the child: compile its share, say nothing, leave without Python's exit handlers
        code = 1
        try:
            quiet = os.open(os.devnull, os.O_WRONLY)
            os.dup2(quiet, 1)
            os.dup2(quiet, 2)
            for item in theirs:
                item.run()
            code = 0
        finally:
            os._exit(code)
    start = time.monotonic()
    try:
        for item in mine:
            item.run()
        _wait(pid, deadline=time.monotonic() + PATIENCE * (time.monotonic() - start) + GRACE)
    except BaseException:  # an error here, or Ctrl-C while waiting: the child is stopped and reaped
        _stop(pid)
        raise
    return len(theirs)


def _wait(pid: int, deadline: float) -> None:
    """Wait for the child until ``deadline``; stop it if it is not done by then."""
    try:
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                _stop(pid)
                return
            time.sleep(0.005)
    except ChildProcessError:  # already reaped (SIGCHLD ignored): nothing to wait for
        pass


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):  # it had ended
        pass
