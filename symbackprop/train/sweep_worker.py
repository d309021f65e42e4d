"""What each worker process of a sweep's ``LocalCluster`` runs as it starts (dask's ``preload``).

It imports the estimators once, before the first task, so start-up is paid while the
cluster starts rather than inside the first fit; and it makes the worker ignore SIGINT.
A Ctrl-C in a terminal reaches the whole process group: the command that started the
sweep answers it (one line, the cluster shut down), and the workers, which it stops,
must not each print a traceback of their own.
"""
from __future__ import annotations

import signal

from . import estimators  # noqa: F401 -- loaded once per worker, before its first task


def dask_setup(worker) -> None:
    """Called by dask in each worker process as it starts."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread of the worker process: nothing to do
        pass
