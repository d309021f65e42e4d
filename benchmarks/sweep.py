"""A hyper-parameter sweep on digits: serial beside a dask LocalCluster, same configurations, same seeds.

The sweep cross-validates a grid (default 12 configurations x 3 folds = 36 fits, each
the command line's 100 epochs) with :func:`symbackprop.train.sweep.sweep`, once in this
process and once on a ``LocalCluster`` of ``--workers`` single-threaded processes, in
turns (serial, dask, serial, dask, ...) for ``--repeats`` rounds.  Every fit runs with
one BLAS thread in both, so the comparison is one core against ``--workers`` cores.

It prints, per way of running: the median wall time over rounds; the median over
rounds of the paired ratio serial / dask (a ratio of two runs moments apart cancels this
machine's slow spells); for the cluster, the wall time with and without its start-up
(starting the scheduler and worker processes, which import symbackprop); whether every
configuration's fold scores are identical to the serial run's; and how much slower a fit
runs on a worker beside another than alone (the fits' own seconds, summed), which bounds
the speed-up any scheduler could reach on these cores.  Kernels come from the cache in both (the script warms it first), so the times
are training, not compilation.

    pip install -e '.[dask]'                    # dask.distributed
    python benchmarks/sweep.py                  # 12 x 3 on 2 workers, 2 rounds
    python benchmarks/sweep.py --epochs 30 --repeats 3 --workers 2
"""
from __future__ import annotations

import argparse
import logging
import os
import statistics
import time

import numpy as np

GRID = {"lr": [0.01, 0.03, 0.1], "hidden": [(128,), (512,)], "activation": ["relu", "tanh"]}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (default 2)")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=100, help="epochs per fit (default 100, the CLI's)")
    parser.add_argument("--repeats", type=int, default=2, help="rounds of serial + dask (default 2)")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    from distributed import Client, LocalCluster
    from sklearn.datasets import load_digits

    from symbackprop.train.sweep import ONE_THREAD, PRELOAD, sweep

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    base = {"epochs": args.epochs}
    n_fits = len(GRID["lr"]) * len(GRID["hidden"]) * len(GRID["activation"]) * args.folds
    print(f"digits, {n_fits} fits ({n_fits // args.folds} configurations x {args.folds} folds, {args.epochs} epochs "
          f"each), {os.cpu_count()} cores, {args.workers} workers")
    sweep(X[:200], y[:200], GRID, base={"epochs": 1}, folds=2, use_dask=False, refit=False)  # warm the cache

    serial_s, dask_s, dask_no_start_s, ratios, same, fit_slowdown = [], [], [], [], [], []
    for round_ in range(args.repeats):
        t0 = time.perf_counter()
        serial = sweep(X, y, GRID, base=base, folds=args.folds, use_dask=False, refit=False)
        serial_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                          silence_logs=logging.ERROR, env=ONE_THREAD, preload=[PRELOAD]) as cluster:
            with Client(cluster) as client:
                client.wait_for_workers(args.workers)
                started = time.perf_counter()
                on_dask = sweep(X, y, GRID, base=base, folds=args.folds, scheduler=cluster.scheduler_address,
                                refit=False)
                dask_no_start_s.append(time.perf_counter() - started)
        dask_s.append(time.perf_counter() - t0)
        ratios.append(serial_s[-1] / dask_s[-1])
        same.append([(r.params, r.scores) for r in serial.rows] == [(r.params, r.scores) for r in on_dask.rows])
        # the fits' own time, summed: a fit on a worker beside another takes longer than alone
        fit_slowdown.append(sum(r.seconds for r in on_dask.rows) / sum(r.seconds for r in serial.rows))
        print(f"round {round_ + 1}: serial {serial_s[-1]:.1f} s, dask {dask_s[-1]:.1f} s "
              f"({dask_no_start_s[-1]:.1f} s after start-up), serial/dask {ratios[-1]:.2f}x, same scores: {same[-1]}")

    print()
    print(f"{'way':<34}{'median wall s':>14}{'serial / it':>13}")
    print(f"{'serial (this process, 1 thread)':<34}{statistics.median(serial_s):>14.1f}{1.0:>13.2f}")
    print(f"{f'dask LocalCluster, {args.workers} workers':<34}{statistics.median(dask_s):>14.1f}"
          f"{statistics.median(ratios):>12.2f}x   (paired median; start-up included)")
    print(f"{'  the same, after start-up':<34}{statistics.median(dask_no_start_s):>14.1f}"
          f"{statistics.median(s / d for s, d in zip(serial_s, dask_no_start_s)):>12.2f}x")
    print(f"identical fold scores in every round: {all(same)}")
    print(f"a fit on a worker, beside another, took {statistics.median(fit_slowdown):.2f}x its serial time "
          f"(the fits' own seconds, summed; median over rounds): the ceiling on {args.workers} cores is "
          f"{args.workers / statistics.median(fit_slowdown):.2f}x")
    print(f"best: {serial.best_params}  cv accuracy {serial.rows[0].mean:.4f}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
