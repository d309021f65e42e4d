"""The Keras-like surface: ``symbackprop.Model`` / ``symbackprop.fit``, callbacks, save/load,
summaries, readable reprs and HTML, and ``compile()`` reporting what it left cold."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.datasets import load_digits

import symbackprop as sb
from symbackprop.train import TrainSettings


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


NET = sb.Network.mlp([64, 32, 10], "relu")


def test_defaults_are_the_command_lines():
    model = sb.Model(NET)
    assert model.settings == TrainSettings()  # sgd, lr 0.05, batch 16, 100 epochs: `symbackprop train`'s
    assert (model.settings.lr, model.settings.batch_size, model.settings.epochs) == (0.05, 16, 100)


def test_fit_learns_digits_and_evaluates(digits):
    X, y = digits
    model = sb.fit(NET, X[:1400], y[:1400], epochs=15, validation_split=0.1)
    assert len(model.history.epochs) == 15 and model.history.val_accuracy[-1] > 0.9
    scores = model.evaluate(X[1400:], y[1400:])
    assert scores["accuracy"] > 0.88 and scores["loss"] > 0
    assert model.predict(X[:5]).shape == (5, 10)
    np.testing.assert_allclose(model.predict(X[:5]).sum(axis=1), 1.0)
    assert np.array_equal(model.predict_classes(X[:50]), np.argmax(model.predict(X[:50]), axis=1))


def test_fit_twice_equals_fit_once_bit_for_bit(digits):
    X, y = digits
    twice = sb.Model(NET, optimizer="adam", lr=1e-3, seed=3)
    twice.fit(X, y, epochs=2)
    twice.fit(X, y, epochs=3)
    once = sb.Model(NET, optimizer="adam", lr=1e-3, seed=3)
    once.fit(X, y, epochs=5)
    assert np.array_equal(twice.params.flat, once.params.flat)
    assert [r.epoch for r in twice.history.epochs] == [1, 2, 3, 4, 5]


def test_save_load_continues_exactly(digits, tmp_path):
    X, y = digits
    model = sb.Model(NET, optimizer="momentum", normalize="standard", class_names=list("abcdefghij"), seed=1)
    model.fit(X, y, epochs=2)
    model.save(tmp_path / "m.npz")
    loaded = sb.Model.load(tmp_path / "m.npz")
    assert loaded.epochs_done == 2 and loaded.optimizer.name == "momentum"
    assert np.array_equal(loaded.predict_classes(X[:20]), model.predict_classes(X[:20]))
    assert set(loaded.predict_classes(X[:20])) <= set("abcdefghij")
    model.fit(X, y, epochs=1)
    loaded.fit(X, y, epochs=1)
    assert np.array_equal(model.params.flat, loaded.params.flat)  # optimizer state and batch order carried over


def test_the_command_lines_checkpoint_loads_as_a_model(tmp_path):
    from symbackprop.cli import main
    assert main(["train", "--dataset", "breast_cancer", "--hidden", "8", "--epochs", "2", "--normalize", "standard",
                 "--save", str(tmp_path / "c.npz"), "--no-progress"]) == 0
    model = sb.Model.load(tmp_path / "c.npz")
    X = load_digits().data[:0]  # nothing: just the shapes
    assert model.class_names == ["malignant", "benign"] and X.shape == (0, 64)
    assert "2 epochs" in repr(model)


def test_callbacks_keras_style_and_plain(digits):
    X, y = digits
    seen, logs = [], []

    class StopAtTwo:
        def on_train_begin(self, logs):
            seen.append("begin")

        def on_epoch_end(self, epoch, epoch_logs):  # Keras counts epochs from 0
            logs.append((epoch, epoch_logs))
            if epoch == 1:
                self.model.stop_training = True

        def on_train_end(self, logs):
            seen.append("end")

    model = sb.Model(NET)
    history = model.fit(X, y, epochs=10, validation_split=0.2, callbacks=[StopAtTwo(), lambda r: seen.append(r.epoch)])
    assert len(history.epochs) == 2 and history.stopped_by_callback
    assert seen == ["begin", 1, 2, "end"]  # plain functions get the records, numbered as printed
    assert [e for e, _ in logs] == [0, 1] and set(logs[0][1]) == {"loss", "lr", "val_loss", "val_accuracy"}
    assert history.history["loss"] == history.train_loss and len(history.history["val_accuracy"]) == 2
    assert "stopped by a callback" in repr(history) and len(repr(history)) < 200
    with pytest.raises(TypeError, match="callback"):
        model.fit(X, y, epochs=1, callbacks=[42])
    one = []
    model.fit(X, y, epochs=1, callbacks=lambda r: one.append(r.epoch))  # one callback, not in a list
    assert one == [3]


def test_batch_order_of_ones_own(digits):
    X, y = digits
    seen = []

    def order(epoch, n):
        seen.append((epoch, n))
        return np.arange(n)[::-1]

    a, b = sb.Model(NET, epochs=2), sb.Model(NET, epochs=2)
    a.fit(X, y, batch_order=order)
    b.fit(X[::-1], y[::-1], batch_order=lambda epoch, n: np.arange(n))
    assert seen == [(1, len(X)), (2, len(X))]
    assert np.array_equal(a.params.flat, b.params.flat)
    with pytest.raises(sb.TrainingError, match="rows are numbered 0 to"):
        sb.Model(NET, epochs=1).fit(X, y, batch_order=lambda e, n: np.array([0, n]))


def test_settings_are_checked_before_compiling(digits):
    X, y = digits
    with pytest.raises(TypeError, match="unknown training setting lrr"):
        sb.Model(NET, lrr=0.1)
    with pytest.raises(sb.TrainingError, match="learning rate"):
        sb.Model(NET, lr=-1)
    model = sb.Model(NET)
    with pytest.raises(sb.TrainingError, match="patience"):
        model.fit(X, y, patience=3)
    with pytest.raises(sb.TrainingError, match="validation_data or validation_split"):
        model.fit(X, y, validation_split=0.1, validation_data=(X, y))
    assert model._compiled is None  # nothing was compiled for a refused call


def test_summary_lists_layers_shapes_params_and_op_counts(digits):
    model = sb.Model(NET)
    text = str(model.summary())
    for expected in ("1: Dense (relu)", "W1 64×32", "2,080", "330", "2,410", "ops per sample",
                     "not trained yet"):
        assert expected in text, expected
    html = model._repr_html_()
    assert "<table>" in html and "2,410" in html
    assert "W2 32×10" in str(NET.summary()) and "ops" not in str(NET.summary())


def test_reprs_are_short_and_html_renders():
    net = sb.Network.mlp([2, 3, 1], "sigmoid", loss="bce")
    params = net.init_params(0)
    assert repr(params) == "Parameters(W1 2×3, b1 3, W2 3×1, b2 1; 13 values, float64)"
    derivation = sb.derivation(net)
    assert len(repr(derivation)) < 250 and "4 forward" in repr(derivation)
    assert derivation._repr_html_().count("<math") == len(derivation.statements())
    unrolled = sb.derivation(net, "unrolled")
    assert len(repr(unrolled)) < 250 and "<math" in unrolled._repr_html_()
    explanation = sb.explanation(net, [0.5, -1.0], [1.0])
    assert len(repr(explanation)) < 300 and "loss 0.347" in repr(explanation)
    html = explanation._repr_html_()
    assert html.startswith('<div class="symbackprop-explanation">') and "<table>" in html
    assert f"{explanation.gradient('W1[0,1]'):.4f}" in html  # the same numbers as the text
    assert "<table>" in net._repr_html_()


def test_explain_takes_a_class_label_as_fit_does():
    net = sb.Network.mlp([2, 3, 3], "tanh")
    by_label = sb.explanation(net, [0.5, -1.0], 2)
    by_onehot = sb.explanation(net, [0.5, -1.0], [0, 0, 1])
    assert by_label.y == by_onehot.y and by_label.loss.value == by_onehot.loss.value
    with pytest.raises(sb.DataError, match="out of range for 3 classes"):
        sb.explanation(net, [0.5, -1.0], 3)


def test_compile_reports_cold_entry_points_and_all_warms_them(tmp_path):
    # a structure no other test compiles: what is warm is shared by every network of a structure
    net = sb.Network.mlp([3, 4, 2], "leaky_relu", output="sigmoid", loss="mse", l1=0.01, l2=0.02)
    compiled = sb.compile(net, cache_dir=tmp_path)
    assert compiled.cold() == ["forward", "loss", "loss_and_grad"]
    assert "cold (compiled on first call): forward, loss, loss_and_grad" in repr(compiled)
    everything = sb.compile(net, cache_dir=tmp_path, warm_up="all")
    assert everything.cold() == [] and everything.from_cache
    wider = sb.compile(sb.Network.mlp([5, 7, 2], "leaky_relu", output="sigmoid", loss="mse", l1=0.1, l2=0.2),
                       cache_dir=tmp_path, warm_up=False)
    assert wider.cold() == []  # the same kernels, already compiled in this process
    with pytest.raises(ValueError, match="unknown entry points"):
        everything.warm_up("float64", ("backward",))


def test_from_cache_means_the_kernels_even_for_new_widths(tmp_path):
    first = sb.compile(sb.Network.mlp([3, 4, 2], "tanh"), cache_dir=tmp_path, warm_up=False)
    wider = sb.compile(sb.Network.mlp([5, 9, 2], "tanh"), cache_dir=tmp_path, warm_up=False)
    assert not first.from_cache and wider.from_cache  # the same structure: kernels reused
    assert wider.report.n_params == 5 * 9 + 9 + 9 * 2 + 2 and not wider.report_from_cache  # counted for its widths


def test_a_model_pickles_without_its_kernels(digits):
    X, y = digits
    model = sb.fit(NET, X, y, epochs=1)
    blob = pickle.dumps(model)
    assert b"numba" not in blob and b"CPUDispatcher" not in blob
    again = pickle.loads(blob)
    assert np.array_equal(again.predict(X[:10]), model.predict(X[:10]))
    assert np.shares_memory(again.params["W1"], again.params.flat)  # the named arrays are views again


def test_top_level_exports():
    for name in ("Model", "fit", "History", "Optimizer", "Schedule", "TrainSettings", "LambdaCallback",
                 "EpochRecord"):
        assert name in sb.__all__ and getattr(sb, name) is not None


def test_verbose_says_where_early_stopping_ended(digits, capsys):
    X, y = digits
    model = sb.Model(NET, lr=0.5, seed=0)
    model.fit(X[:300], y[:300], epochs=200, validation_split=0.3, patience=2, verbose=1)
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("early stop after epoch") and out[-2].startswith("epoch")
    assert f"epoch {model.epochs_done:>4}/" in out[-2]


def test_save_refuses_a_name_that_is_not_a_checkpoints(digits, tmp_path):
    with pytest.raises(sb.CheckpointError, match=".npz"):
        sb.Model(NET).save(tmp_path / "model")
    with pytest.raises(ValueError, match="warm_up must be"):
        sb.compile(NET, warm_up="everything")


def test_evaluate_asks_for_the_data_of_a_checkpoint_saved_from_python(tmp_path, capsys):
    from symbackprop.cli import main
    from sklearn.datasets import load_breast_cancer
    X, y = load_breast_cancer(return_X_y=True)
    model = sb.fit(sb.Network.mlp([30, 8, 1], "relu", loss="bce"), X, y, epochs=1, normalize="standard")
    model.save(tmp_path / "m.npz")
    assert main(["evaluate", str(tmp_path / "m.npz")]) == 2
    err = capsys.readouterr().err
    assert "does not record the data it was trained on" in err and "digits" not in err
    assert main(["evaluate", str(tmp_path / "m.npz"), "--dataset", "breast_cancer"]) == 0


def test_a_callback_with_only_begin_and_end(digits):
    X, y = digits
    events = []

    class Ends:
        def on_train_begin(self, logs):
            events.append("begin")

        def on_train_end(self, logs):
            events.append(sorted(logs))

    sb.Model(NET).fit(X, y, epochs=2, callbacks=[Ends()])
    assert events == ["begin", ["loss", "lr"]]


def test_a_second_verbose_fit_prints_its_own_first_epoch(digits, capsys):
    X, y = digits
    model = sb.Model(NET)
    model.fit(X[:200], y[:200], epochs=3, verbose=1, every=10)
    model.fit(X[:200], y[:200], epochs=3, verbose=1, every=10)
    lines = capsys.readouterr().out.splitlines()
    assert [l.split()[1] for l in lines] == ["1/3", "3/3", "4/6", "6/6"]
