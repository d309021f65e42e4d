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


def test_a_diverging_configuration_is_ranked_last_and_the_sweep_goes_on():
    from sklearn.datasets import make_regression
    X, y = make_regression(120, 4, noise=1.0, random_state=0)
    result = sweep(X, y / y.std(), {"lr": [0.001, 50.0]}, task="regress",
                   base={"optimizer": "sgd", "epochs": 5, "hidden": (8,)}, use_dask=False, refit=False)
    good, bad = result.rows
    assert good.params["lr"] == 0.001 and np.isfinite(good.mean)
    assert bad.rank == 2 and np.isnan(bad.mean) and "diverged" in bad.failure
    assert "rank 2 failed: fold 1: training diverged" in result.table()


def test_grid_values_must_be_lists():
    with pytest.raises(TrainingError, match="give a list of the values"):
        configurations({"activation": "relu"})


def test_sweep_on_images_takes_the_datas_shape_as_train_does(tmp_path, capsys):
    assert main(["sweep", "--arch", "conv:4:3,maxpool:2", "--grid", "lr=0.1", "--epochs", "1", "--serial",
                 "--folds", "2", "--no-progress", "--results", str(tmp_path / "s.csv"),
                 "--save", str(tmp_path / "b.npz")]) == 0
    assert "1 configuration × 2 folds" in capsys.readouterr().out


@pytest.mark.parametrize("extra, message", [
    (["--grid", "momentum=0.5,0.9", "--optimizer", "adam"], "--grid momentum does not apply to the adam optimizer"),
    (["--grid", "optimizer=sgd,momentum", "--momentum", "0.5"], "--momentum does not apply to the sgd optimizer"),
    (["--grid", "lr=0.1", "--scheduler", "http://127.0.0.1:8786"], "is not a dask scheduler address"),
    (["--grid", "lr=0.1", "--scheduler", "nonsense"], "has no port"),
    (["--grid", "lr=0.1", "--image-shape", "1,8,8"], "--image-shape describes the images of --arch"),
])
def test_sweep_refuses_before_loading_data(extra, message, tmp_path, capsys):
    serial = [] if "--scheduler" in extra else ["--serial"]
    assert main(["sweep", *extra, *serial, "--results", str(tmp_path / "s.csv"),
                 "--save", str(tmp_path / "b.npz")]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "digits" not in captured.out  # nothing was loaded


def test_the_table_never_replaces_the_data(tmp_path, capsys):
    data = tmp_path / "iris.csv"
    from sklearn.datasets import load_iris
    iris = load_iris()
    data.write_text("a,b,c,d,species\n" + "\n".join(",".join(map(str, row)) + f",{iris.target_names[t]}"
                                                       for row, t in zip(iris.data, iris.target)) + "\n")
    before = data.read_text()
    for results in (data, tmp_path / "notes.csv"):
        if results != data:
            results.write_text("my notes\n")
        assert main(["sweep", "--csv", str(data), "--label-column", "species", "--grid", "lr=0.1", "--serial",
                     "--results", str(results), "--save", str(tmp_path / "b.npz")]) == 2
        assert "--results" in capsys.readouterr().err
    assert data.read_text() == before and (tmp_path / "notes.csv").read_text() == "my notes\n"


def test_folds_below_two_are_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["sweep", "--grid", "lr=0.1", "--folds", "1"])
    assert stop.value.code == 2 and "--folds: must be at least 2" in capsys.readouterr().err


def test_when_every_configuration_fails_the_table_is_still_written(tmp_path, capsys):
    data = tmp_path / "huge.csv"
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(60, 3)) * 1e150
    data.write_text("a,b,c,label\n" + "\n".join(f"{r[0]},{r[1]},{r[2]},{k % 2}" for k, r in enumerate(rows)) + "\n")
    results = tmp_path / "s.csv"
    assert main(["sweep", "--csv", str(data), "--grid", "lr=0.1,0.5", "--epochs", "2", "--hidden", "4", "--serial",
                 "--no-progress", "--results", str(results), "--save", str(tmp_path / "b.npz")]) == 2
    assert "every configuration failed (the table is in" in capsys.readouterr().err
    assert [r["failure"] != "" for r in csv.DictReader(results.open())] == [True, True]
    assert not (tmp_path / "b.npz").exists()


def test_an_earlier_sweep_table_may_be_replaced_but_not_a_lookalike(tmp_path, capsys):
    results, best = tmp_path / "s.csv", tmp_path / "b.npz"
    argv = ["sweep", "--grid", "lr=0.1", "--epochs", "1", "--hidden", "8", "--serial", "--no-progress",
            "--results", str(results), "--save", str(best)]
    assert main(argv) == 0 and main(argv) == 0  # the second run replaces the first one's table
    results.write_text("rank,name\n1,mine\n")
    assert main(argv) == 2 and "is not a sweep's table" in capsys.readouterr().err
    assert results.read_text() == "rank,name\n1,mine\n"


def test_ctrl_c_in_the_refit_names_what_was_kept(tmp_path, capsys, monkeypatch):
    """Interrupting the best configuration's refit: the table is written, the model is not, and
    the one line says so (not train's "give --save FILE": the sweep was given one)."""
    from symbackprop.interrupts import TrainingInterrupted
    from symbackprop.train import History
    from symbackprop.train.sweep import SweepResult

    def interrupted(self, X, y):
        raise TrainingInterrupted(3, History(epochs=[None]))
    monkeypatch.setattr(SweepResult, "refit", interrupted)
    results, best = tmp_path / "s.csv", tmp_path / "best.npz"
    assert main(["sweep", "--grid", "lr=0.1", "--epochs", "1", "--hidden", "4", "--serial", "--no-progress",
                 "--results", str(results), "--save", str(best)]) == 130
    assert capsys.readouterr().err.strip() == (f"symbackprop: interrupted after epoch 3; the best configuration was "
                                               f"being refitted: the table is in {results}, {best} was not written")
    assert results.exists() and not best.exists()
