"""The training toolkit: optimizers against torch.optim, regularisation, clipping, checkpoints, data."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

import symbackprop
from symbackprop import CheckpointError, DataError, Dense, Network, TrainingError
from symbackprop.cli import main
from symbackprop.train import (Checkpoint, Normalizer, Optimizer, Schedule, accuracy, fit, load_checkpoint, load_xor,
                               read_csv, read_idx, save_checkpoint)
from symbackprop.train import checkpoint as checkpoint_module
from symbackprop.train.optimizers import clip_by_norm, clip_by_value

from .conftest import random_problem
from .reference import finite_difference_grad

TORCH_OPTIMIZERS = {
    "sgd": ("SGD", {}),
    "gd": ("SGD", {}),
    "momentum": ("SGD", {"momentum": 0.9}),
    "nesterov": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "rmsprop": ("RMSprop", {"alpha": 0.99, "eps": 1e-8}),
    "adam": ("Adam", {"betas": (0.9, 0.999), "eps": 1e-8}),
}


@pytest.mark.parametrize("name", list(TORCH_OPTIMIZERS))
def test_optimizer_steps_match_torch(name):
    import torch
    rng = np.random.default_rng(0)
    p = rng.normal(size=20)
    ours, opt = p.copy(), Optimizer(name)
    theirs = torch.tensor(p, requires_grad=True)
    cls, kwargs = TORCH_OPTIMIZERS[name]
    torch_opt = getattr(torch.optim, cls)([theirs], lr=0.01, **kwargs)
    for _ in range(5):
        g = rng.normal(size=20)
        opt.step(ours, g.copy(), 0.01)
        theirs.grad = torch.tensor(g)
        torch_opt.step()
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("l1,l2", [(0.01, 0.0), (0.0, 0.1), (0.03, 0.2)])
def test_regularised_gradients_match_finite_differences(l1, l2):
    net = Network([Dense(3, 4, "tanh"), Dense(4, 3, "softmax")], loss="cce", l1=l1, l2=l2)
    compiled = symbackprop.compile(net, warm_up=False)
    X, Y, params = random_problem(net, 5, seed=2)
    loss, grads = compiled.loss_and_grad(X, Y, params)
    data_only = symbackprop.compile(Network(net.layers, loss="cce"), warm_up=False).loss(X, Y, params)
    weights = np.concatenate([params[f"W{k}"].ravel() for k in (1, 2)])
    assert loss == pytest.approx(data_only + l1 * np.abs(weights).sum() + l2 / 2 * (weights**2).sum(), rel=1e-12)
    numeric = finite_difference_grad(lambda: compiled.loss(X, Y, params), params)
    assert np.max(np.abs(grads.flat - numeric)) / np.max(np.abs(numeric)) < 1e-6
    derived = str(symbackprop.derivation(net))
    assert "l1*sign(W1[i, j])" in derived if l1 else "l2*W1[i, j]" in derived


def test_regularised_unrolled_and_index_kernels_agree():
    net = Network([Dense(2, 3, "sigmoid"), Dense(3, 1, "sigmoid")], loss="bce", l1=0.05, l2=0.1)
    X, Y, params = random_problem(net, 4, seed=5)
    a = symbackprop.compile(net, warm_up=False).loss_and_grad(X, Y, params)
    b = symbackprop.compile(net, view="unrolled", warm_up=False).loss_and_grad(X, Y, params)
    assert abs(a[0] - b[0]) < 1e-12 and np.max(np.abs(a[1].flat - b[1].flat)) < 1e-12


def test_clipping_bounds_hold():
    g = np.random.default_rng(0).normal(scale=10, size=100)
    clipped = g.copy()
    clip_by_value(clipped, 0.5)
    assert np.max(np.abs(clipped)) <= 0.5 and np.all(clipped[np.abs(g) < 0.5] == g[np.abs(g) < 0.5])
    scaled = g.copy()
    norm = clip_by_norm(scaled, 1.0)
    assert norm == pytest.approx(np.linalg.norm(g)) and np.linalg.norm(scaled) <= 1.0 + 1e-12
    np.testing.assert_allclose(scaled / np.linalg.norm(scaled), g / np.linalg.norm(g))


def test_schedules():
    assert [Schedule("step", 0.5, 2).lr(1.0, e) for e in range(1, 6)] == [1.0, 1.0, 0.5, 0.5, 0.25]
    assert Schedule("exponential", 0.9).lr(2.0, 3) == pytest.approx(2.0 * 0.81)
    with pytest.raises(TrainingError, match="unknown learning-rate schedule"):
        Schedule("cosine")
    with pytest.raises(TrainingError, match="unknown optimizer 'adagrad'"):
        Optimizer("adagrad")


def test_xor_learned_with_momentum():
    data = load_xor()
    net = Network([Dense(2, 3, "sigmoid"), Dense(3, 1, "sigmoid")], loss="bce")
    compiled = symbackprop.compile(net, warm_up=False)
    params = net.init_params(0)
    fit(compiled, params, data.X_train, data.y_train, epochs=1500, lr=0.5, batch_size=4, optimizer="momentum")
    assert accuracy(compiled, params, data.X_test, data.y_test) == 1.0


def test_early_stopping_restores_the_best_weights():
    net = Network.mlp([4, 8, 3], "tanh")
    compiled = symbackprop.compile(net, warm_up=False)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 4)), rng.integers(0, 3, 40)  # noise: validation loss soon rises
    Xv, yv = rng.normal(size=(20, 4)), rng.integers(0, 3, 20)
    params = net.init_params(0)
    history = fit(compiled, params, X, y, epochs=300, lr=0.5, batch_size=8, X_val=Xv, y_val=yv, patience=5)
    assert history.stopped_early
    best = min(history.val_loss)
    assert compiled.loss(Xv, yv, params) == pytest.approx(best)
    assert history.epochs[history.best_epoch - 1].val_loss == best


def test_normalizer_is_fitted_on_training_data_only():
    X = np.array([[0.0, 5.0], [2.0, 5.0], [4.0, 5.0]])
    n = Normalizer("minmax").fit(X)
    np.testing.assert_allclose(n.transform(X), [[0, 0], [0.5, 0], [1, 0]])
    np.testing.assert_allclose(n.transform([[8.0, 6.0]]), [[2.0, 1.0]])  # new data is not refitted
    s = Normalizer("standard").fit(X)
    np.testing.assert_allclose(s.transform(X).mean(axis=0), 0, atol=1e-12)


def _trained(tmp_path):
    net = Network.mlp([4, 6, 3], "relu", l2=0.01)
    compiled = symbackprop.compile(net, warm_up=False)
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(30, 4)), rng.integers(0, 3, 30)
    params, opt = net.init_params(3), Optimizer("adam")
    normalizer = Normalizer("standard").fit(X)
    fit(compiled, params, normalizer.transform(X), y, epochs=3, lr=0.01, batch_size=10, optimizer=opt)
    return Checkpoint(net, params, normalizer, opt, {"epochs": 3}), compiled, X


def test_checkpoint_round_trip_predicts_identically(tmp_path):
    ckpt, compiled, X = _trained(tmp_path)
    path = save_checkpoint(tmp_path / "model.npz", ckpt)
    loaded = load_checkpoint(path)
    assert loaded.network.spec() == ckpt.network.spec()
    np.testing.assert_array_equal(loaded.params.flat, ckpt.params.flat)
    np.testing.assert_array_equal(compiled.forward(loaded.normalizer.transform(X), loaded.params),
                                  compiled.forward(ckpt.normalizer.transform(X), ckpt.params))
    assert loaded.optimizer.settings() == ckpt.optimizer.settings()
    for key in ckpt.optimizer.state:
        np.testing.assert_array_equal(loaded.optimizer.state[key], ckpt.optimizer.state[key])


def test_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    ckpt, _, _ = _trained(tmp_path)
    path = save_checkpoint(tmp_path / "model.npz", ckpt)
    before = path.read_bytes()

    def failing_savez(f, **arrays):
        f.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module.np, "savez", failing_savez)
    ckpt.params.flat[:] = 0.0
    with pytest.raises(CheckpointError, match="disk full; the previous checkpoint, if any, is unchanged"):
        save_checkpoint(path, ckpt)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temporary file left behind
    monkeypatch.undo()
    assert np.any(load_checkpoint(path).params.flat != 0.0)


def test_corrupt_or_foreign_files_get_named_errors(tmp_path):
    ckpt, _, _ = _trained(tmp_path)
    good = save_checkpoint(tmp_path / "good.npz", ckpt).read_bytes()
    cases = {
        "missing.npz": None,
        "text.npz": b"not a checkpoint at all",
        "truncated.npz": good[: len(good) // 2],
    }
    for name, content in cases.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
        with pytest.raises(CheckpointError):
            load_checkpoint(tmp_path / name)
    np.savez(tmp_path / "foreign.npz", weights=np.ones(3))
    with pytest.raises(CheckpointError, match="is not a symbackprop checkpoint"):
        load_checkpoint(tmp_path / "foreign.npz")


def test_csv_loader(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b,kind\n1,2,cat\n3,4,dog\n5,6,cat\n")
    X, y, names = read_csv(path, "kind")
    np.testing.assert_array_equal(X, [[1, 2], [3, 4], [5, 6]])
    assert names == ["cat", "dog"] and list(y) == [0, 1, 0]
    for text, message in [("a,b,kind\n1,2\n", "line 2: 2 fields, but the header has 3"),
                          ("a,b,kind\n1,x,cat\n2,3,dog\n", "line 2, column 'b': 'x' is not a number"),
                          ("a,b,kind\n", "no data rows"),
                          ("a,b,kind\n1,nan,cat\n2,3,dog\n", "NaN or inf")]:
        path.write_text(text)
        with pytest.raises(DataError, match=message):
            read_csv(path, "kind")
    path.write_text("a,b,kind\n1,2,cat\n3,4,dog\n")
    with pytest.raises(DataError, match="no label column 'label'; its columns are: a, b, kind"):
        read_csv(path, "label")


def _idx(path, array, code=0x08, compress=False):
    raw = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


def test_idx_reader(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    _idx(tmp_path / "img.idx.gz", images, compress=True)
    np.testing.assert_array_equal(read_idx(tmp_path / "img.idx.gz"), images)
    (tmp_path / "bad.idx").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(tmp_path / "bad.idx")
    raw = (tmp_path / "trunc.idx")
    _idx(raw, images)
    raw.write_bytes(raw.read_bytes()[:-5])
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_idx(raw)


def test_cli_train_save_resume_evaluate_predict(tmp_path, capsys):
    model = tmp_path / "xor.npz"
    args = ["train", "--dataset", "xor", "--hidden", "3", "--activation", "sigmoid", "--optimizer", "momentum",
            "--lr", "0.5", "--batch-size", "4", "--epochs", "400", "--val-fraction", "0", "--save", str(model),
            "--no-progress", "--plot", str(tmp_path / "curves.png")]
    assert main(args) == 0
    assert (tmp_path / "curves.png").stat().st_size > 1000
    assert main(["train", "--dataset", "xor", "--resume", str(model), "--epochs", "800", "--save", str(model),
                 "--batch-size", "4", "--lr", "0.5", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "resuming" in out and "accuracy on the training points (xor holds nothing out): 1.0000 (4/4)" in out
    assert load_checkpoint(model).info["epochs"] == 1200
    assert main(["evaluate", str(model), "--dataset", "xor"]) == 0
    assert "accuracy 1.0000" in capsys.readouterr().out
    (tmp_path / "points.csv").write_text("x0,x1\n0,0\n0,1\n1,0\n1,1\n")
    assert main(["predict", str(model), str(tmp_path / "points.csv")]) == 0
    assert capsys.readouterr().out.split() == ["0", "1", "1", "0"]
    assert main(["evaluate", str(tmp_path / "points.csv")]) == 2
    assert "is not a symbackprop checkpoint" in capsys.readouterr().err


def test_cli_trains_from_idx_files(tmp_path, capsys):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3, dtype=np.uint8), 20)
    images = (rng.random((60, 4, 4)) * 60 + labels[:, None, None] * 60).astype(np.uint8)  # separable by brightness
    _idx(tmp_path / "images.idx", images)
    _idx(tmp_path / "labels.idx.gz", labels, compress=True)
    args = ["train", "--idx-images", str(tmp_path / "images.idx"), "--idx-labels", str(tmp_path / "labels.idx.gz"),
            "--hidden", "8", "--epochs", "30", "--batch-size", "8", "--lr", "0.2", "--no-progress"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "60 images of 16 pixels" in out and "held-out test accuracy" in out
    _idx(tmp_path / "few.idx", labels[:10])
    assert main(args[:3] + ["--idx-labels", str(tmp_path / "few.idx")] + args[5:]) == 2
    assert "holds 60 images but" in capsys.readouterr().err


def test_resumed_training_equals_uninterrupted_training(tmp_path):
    common = ["--dataset", "breast_cancer", "--hidden", "4", "--normalize", "standard", "--optimizer", "adam",
              "--lr", "0.01", "--batch-size", "32", "--no-progress"]
    whole, part = tmp_path / "whole.npz", tmp_path / "part.npz"
    assert main(["train", *common, "--epochs", "4", "--save", str(whole)]) == 0
    assert main(["train", *common, "--epochs", "2", "--save", str(part)]) == 0
    # the checkpoint restores model, data, split, optimizer and settings: no other flag is needed
    assert main(["train", "--epochs", "2", "--resume", str(part), "--save", str(part), "--no-progress"]) == 0
    a, b = load_checkpoint(whole), load_checkpoint(part)
    assert b.info["epochs"] == 4
    np.testing.assert_array_equal(a.params.flat, b.params.flat)
    np.testing.assert_array_equal(a.optimizer.state["exp_avg"], b.optimizer.state["exp_avg"])
