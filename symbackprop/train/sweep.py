"""Hyper-parameter sweeps: a grid or random search with k-fold cross-validation, serial or on Dask.

Each (configuration, fold) pair is one task: fit a :class:`~.estimators.NetworkClassifier`
(or regressor) on the fold's training rows and score it on the rest.  Tasks run in this
process, or on a ``dask.distributed`` cluster: a ``LocalCluster`` started here (one
single-threaded worker process per core) or an existing scheduler.  The data is sent to
the workers once; each worker process compiles a network structure once (or loads it
from its own kernel cache) and reuses it for every task of that structure.

Every task runs with one BLAS thread and the sweep's seed, so a configuration scores the
same, bit for bit, wherever it ran: the serial run and the cluster's agree.
"""
from __future__ import annotations

import csv
import io
import itertools
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ..atomic import write_text_atomically
from ..errors import SymbackpropError, TrainingError
from .loop import DEFAULT_BATCH_SIZE

__all__ = ["SweepResult", "SweepRow", "configurations", "sweep"]


@dataclass
class SweepRow:
    """One configuration's cross-validated result."""

    params: dict[str, Any]
    #: one score per fold; NaN for a fold whose fit failed (diverged)
    scores: list[float]
    #: seconds of the fits (summed over folds, wherever they ran)
    seconds: float
    rank: int = 0
    #: why a fold's fit failed ("fold 2: training diverged at epoch 3 ..."), None if every fit ran
    failure: str | None = None

    @property
    def mean(self) -> float:
        """The mean fold score; NaN if any fold failed (a configuration that diverges once is ranked last)."""
        return float(np.mean(self.scores))

    @property
    def std(self) -> float:
        return float(np.std(self.scores))


@dataclass
class SweepResult:
    """The ranked rows (best first), where the sweep ran, and the best configuration refitted on all rows."""

    rows: list[SweepRow]
    folds: int
    #: "serial" or a description of the cluster
    ran_on: str
    #: wall-clock seconds of the cross-validation (cluster start-up included)
    seconds: float
    #: the best configuration fitted on every row (``refit=True``)
    best_estimator: Any = None
    scoring: str = "accuracy"
    notes: list[str] = field(default_factory=list)
    #: the estimator class and the parameters every configuration shared (for :meth:`refit`)
    estimator_class: Any = None
    base: dict[str, Any] = field(default_factory=dict)

    @property
    def best_params(self) -> dict[str, Any]:
        return self.rows[0].params

    def refit(self, X, y):
        """The best configuration fitted on ``(X, y)``, kept as :attr:`best_estimator`."""
        self.best_estimator = self.estimator_class(**{**self.base, **self.best_params}).fit(X, y)
        return self.best_estimator

    def _keys(self) -> list[str]:
        return sorted({k for r in self.rows for k in r.params})

    def table(self) -> str:
        """The ranked table, one line per configuration."""
        keys = self._keys()
        header = ["rank", *keys, f"mean {self.scoring}", "std", *(f"fold {k + 1}" for k in range(self.folds)),
                  "fit s"]
        body = [[str(r.rank), *(_shown(r.params.get(k)) for k in keys), _score(r.mean), _score(r.std),
                 *(_score(s) for s in r.scores), f"{r.seconds:.1f}"] for r in self.rows]
        widths = [max(len(row[c]) for row in [header, *body]) for c in range(len(header))]
        lines = ["  ".join(cell.rjust(w) if c == 0 or c > len(keys) else cell.ljust(w)
                           for c, (cell, w) in enumerate(zip(row, widths))).rstrip() for row in [header, *body]]
        lines.insert(1, "-" * len(lines[0]))
        lines += [f"rank {r.rank} failed: {r.failure}" for r in self.rows if r.failure]
        return "\n".join(lines)

    def to_csv(self, path: str | os.PathLike) -> None:
        """The ranked table as CSV (one column per parameter and per fold), written atomically."""
        keys = self._keys()
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["rank", *keys, f"mean_{self.scoring}", "std", *(f"fold_{k + 1}" for k in range(self.folds)),
                         "fit_seconds", "failure"])
        for r in self.rows:
            writer.writerow([r.rank, *(_shown(r.params.get(k)) for k in keys), repr(r.mean), repr(r.std),
                             *map(repr, r.scores), f"{r.seconds:.3f}", r.failure or ""])
        write_text_atomically(path, out.getvalue())


def _score(value: float) -> str:
    if not np.isfinite(value):
        return "failed" if np.isnan(value) else str(value)
    return f"{value:.4f}" if abs(value) < 1e4 else f"{value:.3e}"


def _shown(value) -> str:
    if isinstance(value, (tuple, list)):
        return "/".join(map(str, value))
    return "" if value is None else str(value)


def configurations(grid: dict[str, Sequence], n_random: int | None = None, seed: int = 0) -> list[dict]:
    """Every combination of ``grid``'s values (in order), or ``n_random`` distinct ones drawn with ``seed``."""
    if not grid:
        raise TrainingError("a sweep needs at least one parameter with values to try")
    for key, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise TrainingError(f"the grid gives {key} {values!r}: give a list of the values to try, "
                                f"e.g. {key}=[{values!r}]")
        if len(values) == 0:
            raise TrainingError(f"the grid gives {key} no values")
    keys = list(grid)
    every = [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]
    if n_random is None:
        return every
    if n_random < 1:
        raise TrainingError(f"a random search needs at least 1 configuration, got {n_random}")
    if n_random >= len(every):
        return every
    picks = np.random.default_rng(seed).choice(len(every), size=n_random, replace=False)
    return [every[k] for k in sorted(picks)]


def _fit_and_score(estimator_class, base: dict, params: dict, X, y, train, test) -> tuple[float, float, str | None]:
    """One task: fit on ``train`` rows, score on ``test`` rows, with one BLAS thread (so its numbers do
    not depend on the machine's thread count); returns (score, seconds, failure).  A fit that
    diverges scores NaN with its reason, as ``GridSearchCV`` scores a failed fit, so one bad
    configuration does not end the sweep."""
    import warnings

    from threadpoolctl import threadpool_limits

    from ..errors import TrainingDiverged

    start = time.perf_counter()
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # batch size clipped: said once, in the sweep's notes
        estimator = estimator_class(**{**base, **params})
        try:
            estimator.fit(X[train], y[train])
        except TrainingDiverged as exc:
            return float("nan"), time.perf_counter() - start, str(exc)
        score = float(estimator.score(X[test], y[test]))
    return score, time.perf_counter() - start, None


def _folds(X, y, k: int, classify: bool, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold, StratifiedKFold

    splitter = StratifiedKFold(k, shuffle=True, random_state=seed) if classify else \
        KFold(k, shuffle=True, random_state=seed)
    try:
        return [(np.asarray(a), np.asarray(b)) for a, b in splitter.split(X, y)]
    except ValueError as exc:
        raise TrainingError(f"cannot make {k} folds of these {len(X):,} rows: {exc}") from None


#: the environment of a LocalCluster's workers: one thread each, for BLAS and Numba alike
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
#: imported by every worker of a LocalCluster as it starts, before its first task
PRELOAD = "symbackprop.train.sweep_worker"


def _run_serial(tasks: list, progress: Callable[[], None]) -> list[tuple[float, float, str | None]]:
    results = []
    for task in tasks:
        results.append(_fit_and_score(*task))
        progress()
    return results


def _cores() -> int:
    """The cores this process may run on (its affinity, which a container's CPU set narrows)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _cluster(scheduler: str | None, workers: int | None):
    """A connected ``dask.distributed`` client and a description: the scheduler at ``scheduler``, or a
    ``LocalCluster`` of ``workers`` single-threaded processes (default: one per core)."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, ValueError, TimeoutError) as exc:
            raise TrainingError(f"cannot reach the dask scheduler at {scheduler!r}: {exc}") from None
        n = len(client.scheduler_info().get("workers", {}))
        if n == 0:
            client.close()
            raise TrainingError(f"the dask scheduler at {scheduler} has no workers")
        return client, None, f"dask scheduler {scheduler} ({n} worker{'s' * (n != 1)})"
    n = workers or _cores()
    import signal
    import threading

    # Worker processes inherit an *ignored* SIGINT (a handler would not survive their exec): a Ctrl-C
    # in the terminal reaches the whole process group, and this process alone should answer it, not
    # each worker with a traceback.  The price: a Ctrl-C in the seconds the cluster starts is dropped.
    main = threading.current_thread() is threading.main_thread()
    before = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                               silence_logs=logging.CRITICAL, env=ONE_THREAD, preload=[PRELOAD])
    finally:
        if main:
            signal.signal(signal.SIGINT, before)
    return Client(cluster), cluster, f"dask LocalCluster ({n} worker process{'es' * (n != 1)}, 1 thread each)"


def _cost(params: dict) -> int:
    """A rough relative cost of one fit: hidden widths times epochs (an ``arch`` counts as one wide layer)."""
    hidden = params.get("hidden", (256,))
    widths = (hidden,) if isinstance(hidden, (int, np.integer)) else tuple(hidden)
    width = 512 if params.get("arch") else sum(int(w) for w in widths) or 1
    return width * int(params.get("epochs", 100))


def _run_dask(client, tasks: list, X, y, progress: Callable[[], None]) -> list[tuple[float, float, str | None]]:
    from distributed import as_completed

    X_remote, y_remote = client.scatter([X, y], broadcast=True)
    # the longest fits first, so no worker is left with a long one while the others idle at the end
    futures = {client.submit(_fit_and_score, cls, base, params, X_remote, y_remote, train, test, pure=False,
                             priority=_cost({**base, **params})): k
               for k, (cls, base, params, _, _, train, test) in enumerate(tasks)}
    results: list = [None] * len(tasks)
    for future in as_completed(futures):
        results[futures[future]] = future.result()
        progress()
    return results


def dask_available() -> bool:
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def sweep(X, y, grid: dict[str, Sequence], *, task: str = "classify", base: dict | None = None, folds: int = 3,
          n_random: int | None = None, seed: int = 0, use_dask: bool | None = None, scheduler: str | None = None,
          workers: int | None = None, progress: bool = False, refit: bool = True,
          say: Callable[[str], None] | None = None) -> SweepResult:
    """Cross-validate every configuration of ``grid`` (or ``n_random`` of them) and rank them.

    ``grid`` maps estimator parameters (``lr``, ``hidden``, ``activation``, ...) to the values
    to try; ``base`` holds the ones every configuration shares.  ``task`` is ``classify``
    (:class:`~.estimators.NetworkClassifier`, scored by accuracy, stratified folds) or
    ``regress`` (:class:`~.estimators.NetworkRegressor`, R²).  ``use_dask``: None runs on
    Dask when ``dask.distributed`` is installed (and says so, through ``say``, when it is
    not), True requires it, False runs serially.  ``scheduler`` is an address of a running
    scheduler; without one a ``LocalCluster`` of ``workers`` processes is started and shut
    down.  ``progress`` shows a tqdm bar over finished fits.  With ``refit``, the best
    configuration is fitted on all rows (``result.best_estimator``; or later, with
    ``result.refit``).  A fit that diverges scores NaN and its configuration is ranked
    last, with the reason; if every one failed there is nothing to refit.

    On Dask (the default when it is installed) this starts processes: call it under
    ``if __name__ == "__main__":`` in a script, as for any ``multiprocessing`` code, or pass
    ``use_dask=False``.
    """
    from .estimators import NetworkClassifier, NetworkRegressor

    if task not in ("classify", "regress"):
        raise TrainingError(f"task must be 'classify' or 'regress', got {task!r}")
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 2:
        raise TrainingError(f"cross-validation needs at least 2 folds, got {folds!r}")
    estimator_class = NetworkClassifier if task == "classify" else NetworkRegressor
    base = {"random_state": seed, **(base or {})}
    known = set(estimator_class().get_params())
    unknown = sorted((set(grid) | set(base)) - known)
    if unknown:
        raise TrainingError(f"{estimator_class.__name__} has no parameter {unknown[0]!r}; it has: "
                            f"{', '.join(sorted(known))}")
    configs = configurations(grid, n_random, seed)
    X, y = np.asarray(X), np.asarray(y)
    notes: list[str] = []
    for params in configs:  # every configuration, before the first fit
        try:
            estimator_class(**{**base, **params}).check(X, y)
        except (SymbackpropError, ValueError, TypeError) as exc:
            shown = ", ".join(f"{k}={_shown(v)}" for k, v in params.items())
            raise TrainingError(f"configuration {shown}: {exc}") from None
    splits = _folds(X, y, folds, task == "classify", seed)
    fewest = min(len(train) for train, _ in splits)
    batches = {p.get("batch_size", base.get("batch_size", DEFAULT_BATCH_SIZE)) for p in configs}
    if any(b > fewest for b in batches):
        notes.append(f"batch size {max(batches)} is larger than a fold's {fewest} training rows: each fit clips it")
    tasks = [(estimator_class, base, params, X, y, train, test) for params in configs for train, test in splits]
    report = say or (lambda line: None)
    for note in notes:
        report("note: " + note)
    if use_dask is None:
        use_dask = dask_available()
        if not use_dask:
            notes.append("dask.distributed is not installed, so the sweep ran serially "
                         "(pip install 'symbackprop[dask]' to run it on a cluster)")
            report("note: " + notes[-1])
    elif use_dask and not dask_available():
        raise TrainingError("a sweep on Dask needs dask.distributed: pip install 'symbackprop[dask]'")
    what = (f"{len(configs)} configuration{'s' * (len(configs) != 1)} × {folds} folds = {len(tasks)} fits")
    start = time.perf_counter()
    quiet = logging.getLogger("distributed")
    level = quiet.level
    try:
        if use_dask:
            quiet.setLevel(logging.CRITICAL)  # the scheduler's own lines (a fit cancelled by Ctrl-C, ...)
            client, cluster, ran_on = _cluster(scheduler, workers)
            report(f"sweep: {what} on {ran_on}")
            try:
                with _bar(progress, len(tasks)) as tick:
                    results = _run_dask(client, tasks, X, y, tick)
            finally:
                client.close()
                if cluster is not None:
                    cluster.close()
        else:
            ran_on = "serial (this process)"
            report(f"sweep: {what}, serially")
            with _bar(progress, len(tasks)) as tick:
                results = _run_serial(tasks, tick)
    except KeyboardInterrupt:  # a fit's TrainingInterrupted too: its epoch means nothing to a sweep
        raise KeyboardInterrupt from None
    finally:
        quiet.setLevel(level)
    seconds = time.perf_counter() - start
    rows = []
    for k, params in enumerate(configs):
        mine = results[k * folds:(k + 1) * folds]
        failures = [f"fold {f + 1}: {why}" for f, (_, _, why) in enumerate(mine) if why]
        rows.append(SweepRow(params, [s for s, _, _ in mine], sum(t for _, t, _ in mine),
                             failure="; ".join(failures) or None))
    rows.sort(key=lambda r: -r.mean if np.isfinite(r.mean) else np.inf)  # stable; failed ones last
    for rank, row in enumerate(rows, start=1):
        row.rank = rank
    result = SweepResult(rows, folds, ran_on, seconds, scoring="accuracy" if task == "classify" else "r2",
                         notes=notes, estimator_class=estimator_class, base=base)
    if refit and not rows[0].failure:
        result.refit(X, y)
    return result


class _bar:
    """A tqdm bar over finished fits when asked for (a no-op otherwise); ``with _bar(...) as tick: tick()``."""

    def __init__(self, show: bool, total: int) -> None:
        self.show, self.total, self.tqdm = show, total, None

    def __enter__(self) -> Callable[[], None]:
        if not self.show:
            return lambda: None
        from tqdm import tqdm
        self.tqdm = tqdm(total=self.total, unit="fit", leave=False)
        return lambda: self.tqdm.update(1)

    def __exit__(self, *exc) -> None:
        if self.tqdm is not None:
            self.tqdm.close()
