"""Sweeps: a grid cross-validated on a 2-worker dask LocalCluster scores exactly as the serial run;
GridSearchCV runs on the same cluster through joblib; the command ranks, writes and saves."""
from __future__ import annotations

import csv

import numpy as np
import pytest
from sklearn.datasets import load_digits

from symbackprop.cli import main
from symbackprop.errors import TrainingError
from symbackprop.train import sweep as sweep_module
from symbackprop.train.sweep import configurations, sweep

distributed = pytest.importorskip("distributed")

GRID = {"lr": [0.01, 0.03, 0.1], "hidden": [(16,), (32,)], "activation": ["relu", "tanh"]}  # 12 configurations


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=50) as c:
        yield c


def test_dask_scores_equal_the_serial_runs(digits, cluster):
    X, y = digits
    serial = sweep(X, y, GRID, base={"epochs": 8}, folds=3, use_dask=False, refit=False)
    on_dask = sweep(X, y, GRID, base={"epochs": 8}, folds=3, scheduler=cluster.scheduler_address, refit=False)
    assert len(serial.rows) == 12 and serial.folds == 3
    assert [(r.params, r.scores) for r in serial.rows] == [(r.params, r.scores) for r in on_dask.rows]
    assert "2 workers" in on_dask.ran_on and serial.ran_on.startswith("serial")
    assert serial.rows[0].mean >= serial.rows[-1].mean and serial.rows[0].rank == 1
    assert serial.best_params["lr"] == 0.1  # 8 epochs: the largest rate learns most


def test_grid_search_cv_on_the_cluster_through_joblib(cluster):
    import joblib
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from symbackprop.sklearn import NetworkClassifier

    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), NetworkClassifier(hidden=(8,), epochs=10, random_state=0))
    grid = {"networkclassifier__lr": [0.01, 0.1]}
    serial = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    with distributed.Client(cluster.scheduler_address):
        with joblib.parallel_config(backend="dask"):
            remote = GridSearchCV(pipe, grid, cv=3, n_jobs=-1).fit(X, y)
    assert np.array_equal(serial.cv_results_["mean_test_score"], remote.cv_results_["mean_test_score"])


def test_without_dask_the_sweep_runs_serially_and_says_so(digits, monkeypatch):
    X, y = digits
    monkeypatch.setattr(sweep_module, "dask_available", lambda: False)
    lines = []
    result = sweep(X[:300], y[:300], {"lr": [0.1]}, base={"epochs": 2, "hidden": (8,)}, say=lines.append,
                   refit=False)
    assert result.ran_on.startswith("serial")
    assert any("dask.distributed is not installed" in line for line in lines)
    with pytest.raises(TrainingError, match="needs dask.distributed"):
        sweep(X, y, {"lr": [0.1]}, use_dask=True)


def test_every_configuration_is_checked_before_the_first_fit(digits, monkeypatch):
    X, y = digits
    monkeypatch.setattr(sweep_module, "_fit_and_score", lambda *a: pytest.fail("a fit ran"))
    with pytest.raises(TrainingError, match="configuration activation=relux.*unknown activation"):
        sweep(X, y, {"activation": ["relu", "relux"]}, use_dask=False)
    with pytest.raises(TrainingError, match="no parameter 'lrr'"):
        sweep(X, y, {"lrr": [0.1]}, use_dask=False)
    with pytest.raises(TrainingError, match="at least 2 folds"):
        sweep(X, y, {"lr": [0.1]}, folds=1, use_dask=False)


def test_random_search_draws_distinct_configurations():
    picked = configurations(GRID, n_random=5, seed=1)
    assert len(picked) == 5 and len({tuple(sorted(p.items())) for p in picked}) == 5
    assert picked == configurations(GRID, n_random=5, seed=1)
    assert len(configurations(GRID, n_random=50)) == 12


def test_the_sweep_command_ranks_writes_and_saves(tmp_path, capsys):
    results, best = tmp_path / "s.csv", tmp_path / "best.npz"
    assert main(["sweep", "--grid", "lr=0.03,0.1", "hidden=16,32/16", "--epochs", "5", "--serial", "--no-progress",
                 "--results", str(results), "--save", str(best)]) == 0
    out = capsys.readouterr().out
    assert "4 configurations × 3 folds" in out and "held-out test accuracy" in out
    rows = list(csv.DictReader(results.open()))
    assert [r["rank"] for r in rows] == ["1", "2", "3", "4"]
    assert {r["hidden"] for r in rows} == {"16", "32/16"}
    assert float(rows[0]["mean_accuracy"]) >= float(rows[-1]["mean_accuracy"])
    assert main(["evaluate", str(best)]) == 0
    line = capsys.readouterr().out
    assert "the 360 rows held out in training" in line  # the sweep's test rows, never searched on
    best_line = next(l for l in out.splitlines() if l.startswith("best:"))
    assert best_line.split("test accuracy ")[1].split()[0] in line


@pytest.mark.parametrize("grid, message", [
    (["lr=0.1,abc"], "--grid lr: 'abc'"),
    (["lr=-1"], "configuration lr=-1.0: learning rate must be a positive number"),
    (["optimizer=sgd,fast"], "'fast' is not one of"),
    (["seed=1,2"], "not a setting a sweep can vary"),
    (["lr"], "write NAME=VALUE"),
    (["lr=0.1", "lr=0.2"], "names lr twice"),
    (["hidden=64,0"], "--grid hidden: '0'"),
])
def test_bad_grids_get_one_line(grid, message, capsys, tmp_path):
    assert main(["sweep", "--grid", *grid, "--serial", "--results", str(tmp_path / "s.csv"),
                 "--save", str(tmp_path / "b.npz")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "s.csv").exists()
