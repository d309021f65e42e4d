"""Nothing misleading (issue 19): honest evaluation, clean interrupts, one line for every bad input.

Each test names the case it guards; every one of them failed on the code before the fix
(a traceback, a wrong number, or a message that misled).  Commands run in-process through
``main`` (one compile per network for the whole session); the Ctrl-C test runs real
processes, since a signal is what it is about.
"""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from symbackprop.cli import main
from symbackprop.train import load_checkpoint


def run(capsys, *args: str) -> tuple[int, str, str]:
    """``symbackprop ARGS`` in this process: exit status, stdout, stderr (argparse exits are caught)."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys, *args: str, message: str) -> str:
    """The command exits 2 with one ``symbackprop: error:`` line holding ``message``; returns stdout."""
    code, out, err = run(capsys, *args)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith("symbackprop: error: ") and message in lines[0], lines[0]
    return out


SMALL = ["--hidden", "16", "--epochs", "3", "--no-progress"]


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    """A digits model trained for 3 epochs, and the held-out accuracy its training run printed."""
    path = tmp_path_factory.mktemp("digits") / "m.npz"
    import contextlib
    import io
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["train", *SMALL, "--save", str(path)]) == 0
    line = buffer.getvalue().strip().splitlines()[-1]
    return path, line.split("held-out test accuracy: ")[1].split()[0]


def _labelled_csv(path: Path, n: int = 60, seed: int = 0, header: bool = True, sep: str = ",") -> Path:
    """Three separable classes with string labels: cat, dog, eel."""
    rng = np.random.default_rng(seed)
    names = ["cat", "dog", "eel"]
    rows = [sep.join(["x0", "x1", "kind"])] if header else []
    for k in range(n):
        c = k % 3
        rows.append(sep.join([f"{c * 3 + rng.normal(0, 0.3):.4f}", f"{rng.normal(0, 0.3):.4f}", names[c]]))
    path.write_text("\n".join(rows) + "\n")
    return path


# ---------------------------------------------------------------------------------------------
# wrong or misleading results

def test_evaluate_uses_exactly_the_rows_held_out_in_training(capsys, digits_model):
    path, trained_accuracy = digits_model
    code, out, _ = run(capsys, "evaluate", path)
    assert code == 0 and "the 360 rows held out in training" in out
    assert f"accuracy {trained_accuracy}" in out  # the same number the training run reported
    ckpt = load_checkpoint(path)
    assert ckpt.info["data"]["fingerprint"] and len(ckpt.rows["test"]) == 360
    assert not set(ckpt.rows["test"]) & (set(ckpt.rows["train"]) | set(ckpt.rows["val"]))


@pytest.mark.parametrize("flags", [["--seed", "1"], ["--test-fraction", "0.5"]])
def test_evaluate_refuses_a_split_that_overlaps_training_rows(capsys, digits_model, flags):
    refused(capsys, "evaluate", digits_model[0], *flags, message="rows were used in training or validation")


def test_evaluate_on_other_data_says_it_is_not_the_training_data(capsys, tmp_path):
    model = tmp_path / "pets.npz"
    assert run(capsys, "train", "--csv", _labelled_csv(tmp_path / "pets.csv"), *SMALL, "--save", model)[0] == 0
    _labelled_csv(tmp_path / "more.csv", n=30, seed=5)
    code, out, _ = run(capsys, "evaluate", model, "--csv", tmp_path / "more.csv")
    assert code == 0 and "more, all 30 rows" in out and "is not the data the model was trained on" in out
    _labelled_csv(tmp_path / "pets.csv", seed=9)  # the training file edited: its fingerprint changes
    code, out, _ = run(capsys, "evaluate", model)
    assert code == 0 and "pets has changed since the model was trained on it" in out
    (tmp_path / "birds.csv").write_text("x0,x1,kind\n0,0,owl\n1,1,owl\n2,2,cat\n3,3,cat\n")
    refused(capsys, "evaluate", model, "--csv", tmp_path / "birds.csv", message="holds class 'owl', which the model")


def test_predict_reads_headerless_files_skips_the_label_column_and_prints_class_names(capsys, tmp_path):
    model = tmp_path / "pets.npz"
    assert run(capsys, "train", "--csv", _labelled_csv(tmp_path / "pets.csv"), "--hidden", "8", "--epochs", "60",
               "--lr", "0.2", "--save", model, "--no-progress")[0] == 0
    (tmp_path / "bare.csv").write_text("0,0\n3,0\n6,0\n0.1,0\n6.1,0\n")  # no header: five rows, five answers
    code, out, _ = run(capsys, "predict", model, tmp_path / "bare.csv")
    assert code == 0 and out.split() == ["cat", "dog", "eel", "cat", "eel"]
    (tmp_path / "labelled.csv").write_text("x0,x1,kind\n0,0,cat\n6,0,eel\n")
    code, out, err = run(capsys, "predict", model, tmp_path / "labelled.csv")
    assert code == 0 and out.split() == ["cat", "eel"] and "left out the column(s) kind" in err
    (tmp_path / "first.csv").write_text("kind;x0;x1\ncat;0;0\n")
    code, out, _ = run(capsys, "predict", model, tmp_path / "first.csv", "--label-column", "kind")
    assert code == 0 and out.split() == ["cat"]
    (tmp_path / "wide.csv").write_text("a,b,c\n1,2,3\n")
    refused(capsys, "predict", model, tmp_path / "wide.csv", message="has 3 feature columns but the model takes 2")


def test_xor_never_calls_training_points_held_out(capsys):
    code, out, _ = run(capsys, "train", "--dataset", "xor", "--val-fraction", "0", "--hidden", "3", "--epochs", "2",
                       "--batch-size", "4", "--no-progress")
    assert code == 0 and "held-out" not in out
    assert "train 4, no validation, test the same 4 (nothing is held out" in out
    assert "accuracy on the training points (xor holds nothing out)" in out


def test_gradient_flow_does_not_call_a_run_at_chance_trained():
    from symbackprop.explain.gradient_flow import FlowRun, FlowSetup, GradientFlow
    flow = GradientFlow([64, 32, 10], epochs=5, lr=0.1)
    setup = FlowSetup("sigmoid + Xavier", "sigmoid + Xavier", "sigmoid", "xavier_uniform")
    norms = np.ones((2, 2))
    assert flow.outcome(FlowRun(setup, norms, [2.3], 0.10, None)) == "stayed at chance (0.10): did not learn"
    assert flow.outcome(FlowRun(setup, norms, [0.5], 0.90, None)) == "learned"
    assert flow.outcome(FlowRun(setup, norms, [], None, 2)) == "diverged in epoch 2"


# ---------------------------------------------------------------------------------------------
# tracebacks where one line is promised

@pytest.mark.parametrize("body,message", [
    ("a,label\n" + "".join(f"{k},c{k}\n" for k in range(6)) + "9,c0\n", "has a single row"),
    ("a,price\n" + "".join(f"{k},{k * 1.37:.2f}\n" for k in range(22)), "holds fractional numbers such as"),
    ("a,label\n" + "".join(f"{k},{k % 10}\n" for k in range(40)), "should be greater or equal to the number of classes"),
])
def test_csv_labels_that_cannot_be_split_or_are_not_classes(capsys, tmp_path, body, message):
    (tmp_path / "d.csv").write_text(body)
    refused(capsys, "train", "--csv", tmp_path / "d.csv", "--epochs", "1", message=message)


@pytest.mark.parametrize("flags,message", [
    (["--seed", "-1"], "argument --seed: must be at least 0"),
    (["--seed", str(2 ** 32)], "a seed must be below 2**32"),
    (["--every", "0"], "argument --every: must be at least 1"),
    (["--lr", "nan"], "argument --lr: expected a finite number"),
    (["--epochs", "0"], "argument --epochs: must be at least 1"),
    (["--save", ""], "argument --save: must not be empty"),
    (["--cache-dir", ""], "argument --cache-dir: must not be empty"),
    (["--val-fraction", "1.5"], "a fraction must lie in [0, 1)"),
])
def test_settings_that_cannot_work_are_usage_errors(capsys, flags, message):
    refused(capsys, "train", *flags, message=message)


def test_explain_seed_and_gradient_flow_settings_are_checked(capsys):
    refused(capsys, "explain", "--seed", "-1", message="argument --seed: must be at least 0")
    refused(capsys, "gradient-flow", "--clip-norm", "0", message="clip norm must be a positive number")
    refused(capsys, "gradient-flow", "--lr", "-1", message="learning rate must be a positive number")


def test_an_unwritable_plot_is_refused_before_training_and_never_costs_the_result(capsys, tmp_path):
    out = refused(capsys, "train", "--dataset", "xor", "--plot", tmp_path / "x.txt", message="the file name must end")
    assert out == ""  # nothing was loaded or trained
    refused(capsys, "train", "--plot", tmp_path, message="--plot cannot write")
    refused(capsys, "cost", "--plot", tmp_path / "missing" / "c.png", message="folder")


def _train_process(save: Path, cache: Path) -> subprocess.Popen:
    args = [sys.executable, "-m", "symbackprop.cli", "train", "--hidden", "256,256", "--epochs", "1000",
            "--every", "1", "--save", str(save), "--no-progress"]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "SYMBACKPROP_CACHE_DIR": str(cache)})


@pytest.mark.parametrize("presses", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_ctrl_c_prints_one_line_exits_130_and_keeps_the_last_epoch(tmp_path, presses):
    """Three interrupts at different moments (one press, or two: stop at once); each time one
    line that names the epoch the checkpoint holds, and the checkpoint holds it."""
    for attempt in range(3):
        save = tmp_path / f"run{attempt}.npz"
        process = _train_process(save, tmp_path / "cache")
        for line in process.stdout:
            if line.startswith(f"epoch {2 + attempt:>4}/"):
                break
        time.sleep(0.02 * attempt)
        for _ in range(presses):
            process.send_signal(signal.SIGINT)
            time.sleep(0.01)
        _, err = process.communicate(timeout=120)
        assert process.returncode == 130, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in err, err
        epoch = load_checkpoint(save).info["epochs"]
        assert lines[0].startswith("symbackprop: interrupted after epoch ")  # one press: that epoch is saved too
        assert lines[0].endswith(f"; {save} holds the checkpoint of epoch {epoch}"), (lines[0], epoch)
        if presses == 1:
            assert lines[0].startswith(f"symbackprop: interrupted after epoch {epoch};")


def test_fit_stops_after_the_running_epoch_on_ctrl_c():
    import symbackprop
    from symbackprop import Dense, Network
    from symbackprop.interrupts import TrainingInterrupted
    net = Network([Dense(2, 2, "sigmoid")], loss="mse")
    compiled = symbackprop.compile(net)
    params = net.init_params(0)
    X, Y = np.zeros((4, 2)), np.zeros((4, 2))
    seen = []

    def press(record):
        seen.append(record.epoch)
        if record.epoch == 3:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)  # the handler runs: only a flag is set
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when the suite runs as a background job
    with pytest.raises(TrainingInterrupted) as stop:
        symbackprop.train.fit(compiled, params, X, Y, epochs=50, batch_size=4, on_epoch=press)
    assert stop.value.epoch == 3 and seen == [1, 2, 3]
    assert signal.getsignal(signal.SIGINT) is before  # put back


@pytest.mark.parametrize("callback_stops", [False, True])
def test_a_press_in_the_epoch_that_ends_the_run_still_stops(callback_stops):
    """The epoch that ends a run (the last one, or the one after which the callback stops it) is
    no exception: the press is acted on, not left pending for whatever the caller does next (a
    sweep's next fit)."""
    import symbackprop
    from symbackprop import Dense, Network
    from symbackprop.interrupts import TrainingInterrupted
    net = Network([Dense(2, 2, "sigmoid")], loss="mse")
    compiled = symbackprop.compile(net)
    last = 2 if callback_stops else 5

    def press(record):
        if record.epoch == last:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)
            return callback_stops
    with pytest.raises(TrainingInterrupted) as stop:
        symbackprop.train.fit(compiled, net.init_params(0), np.zeros((4, 2)), np.zeros((4, 2)), epochs=5,
                              batch_size=4, on_epoch=press)
    assert stop.value.epoch == last


def test_a_press_while_the_stop_is_raised_changes_nothing(monkeypatch):
    """The second press of a double Ctrl-C can land after the first press's stop was decided, while
    its TrainingInterrupted is being raised: the stop stays the one that names the epoch."""
    import symbackprop
    import symbackprop.train.loop as loop
    from symbackprop import Dense, Network
    from symbackprop.interrupts import TrainingInterrupted

    class PressedWhileRaised(TrainingInterrupted):
        def __init__(self, *args):
            os.kill(os.getpid(), signal.SIGINT)  # the handler runs before the raise completes
            time.sleep(0.01)
            super().__init__(*args)
    monkeypatch.setattr(loop, "TrainingInterrupted", PressedWhileRaised)
    net = Network([Dense(2, 2, "sigmoid")], loss="mse")
    compiled = symbackprop.compile(net)

    def press(record):
        if record.epoch == 2:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)
    with pytest.raises(TrainingInterrupted) as stop:
        symbackprop.train.fit(compiled, net.init_params(0), np.zeros((4, 2)), np.zeros((4, 2)), epochs=50,
                              batch_size=4, on_epoch=press)
    assert stop.value.epoch == 2


_LATE_PRESS = """
import os, signal, sys
import symbackprop.train.session as session
from symbackprop import cli
real_fit, real_save = session.fit, session.save_checkpoint
def save(path, ckpt):
    real_save(path, ckpt)
    if ckpt.info["epochs"] == 2:
        os.kill(os.getpid(), signal.SIGINT)   # the first press: stop after this epoch
def fit(*args, **kwargs):
    try:
        return real_fit(*args, **kwargs)
    except KeyboardInterrupt:
        os.kill(os.getpid(), signal.SIGINT)   # the second: after the deferral ended, on the stop's way up
        raise
session.fit, session.save_checkpoint = fit, save
sys.argv = ["symbackprop", "train", "--dataset", "xor", "--epochs", "50", "--batch-size", "4",
            "--save", sys.argv[1], "--no-progress"]
sys.exit(cli.main())
"""


def test_a_press_while_the_stop_travels_to_the_command_keeps_its_line(tmp_path):
    """Between training's deferral and the command's last line, a press is ignored by the
    command's handler: the line still names the epoch and the checkpoint that holds it."""
    save = tmp_path / "m.npz"
    done = subprocess.run([sys.executable, "-c", _LATE_PRESS, str(save)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "SYMBACKPROP_CACHE_DIR": str(tmp_path / "cache")})
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip() == f"symbackprop: interrupted after epoch 2; {save} holds the checkpoint of epoch 2"


# ---------------------------------------------------------------------------------------------
# late, silent or misleading

@pytest.mark.parametrize("flags", [["--batch-size", "999999"], ["--clip-norm", "0"], ["--patience", "3", "--val-fraction", "0"]])
def test_settings_are_refused_before_anything_is_compiled(capsys, tmp_path, flags):
    cache = tmp_path / "empty-cache"
    refused(capsys, "train", "--dataset", "xor", "--batch-size", "4", *flags, "--cache-dir", cache, message="")
    assert not cache.exists()  # nothing was derived or compiled


@pytest.mark.parametrize("flag", ["--save", "--plot"])
def test_outputs_into_a_missing_folder_are_refused_and_no_folder_is_made(capsys, tmp_path, flag):
    target = tmp_path / "missing" / ("m.npz" if flag == "--save" else "p.png")
    refused(capsys, "train", "--dataset", "xor", flag, target, message="does not exist")
    assert not target.parent.exists()


def test_resume_restores_what_the_checkpoint_knows_and_refuses_conflicting_flags(capsys, tmp_path):
    model = tmp_path / "m.npz"
    assert run(capsys, "train", "--dataset", "breast_cancer", "--val-fraction", "0.3", "--hidden", "4",
               "--normalize", "standard", "--optimizer", "adam", "--lr", "0.01", "--epochs", "1", "--save", model,
               "--no-progress")[0] == 0
    code, out, _ = run(capsys, "train", "--resume", model, "--epochs", "1", "--save", model, "--no-progress")
    assert code == 0 and "validation 171" in out and "training: adam, lr 0.01" in out
    for flags, message in [(["--hidden", "8"], "--hidden: a resumed run keeps the checkpoint's model"),
                           (["--activation", "tanh"], "--activation: a resumed run keeps the checkpoint's model"),
                           (["--optimizer", "sgd"], "--optimizer sgd: "),
                           (["--dataset", "digits"], "--dataset digits: "),
                           (["--val-fraction", "0.1"], "--val-fraction 0.1: ")]:
        refused(capsys, "train", "--resume", model, *flags, message=message)
    code, out, _ = run(capsys, "train", "--resume", model, "--epochs", "1", "--lr", "0.001", "--no-progress")
    assert code == 0 and "lr 0.001" in out  # what a resumed run may change, it changes


@pytest.mark.parametrize("arch,message", [
    ("conv:2:99", "would only ever read padding"),
    ("conv:2:3:tanh:relu", "the activation is given twice ('tanh' and 'relu')"),
    ("conv:2:3:s2:s3", "the stride is given twice ('s2' and 's3')"),
    ("conv:2:3:p-1", "the padding ('p-1') must not be negative"),
    ("dense:8:relu:tanh", "a dense layer takes a width and at most one activation"),
    ("maxpool:2:same:valid", "the padding is given twice"),
    ("maxpool:2:relu", "unknown setting 'relu'"),
])
def test_arch_settings_are_never_silently_dropped(capsys, arch, message):
    refused(capsys, "train", "--arch", arch, message=message)


def test_messages_name_the_real_problem(capsys, tmp_path, digits_model):
    cancer = tmp_path / "cancer.npz"
    assert run(capsys, "train", "--dataset", "breast_cancer", "--hidden", "4", "--epochs", "1", "--save", cancer,
               "--no-progress")[0] == 0
    (tmp_path / "rows.csv").write_text(",".join(f"f{k}" for k in range(29)) + "\n" + ",".join(["1"] * 29) + "\n")
    out = refused(capsys, "predict", cancer, tmp_path / "rows.csv", message="has 29 feature columns but the model")
    assert "normaliser" not in out
    raw = Path(digits_model[0]).read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    refused(capsys, "evaluate", tmp_path / "cut.npz", message="is a damaged checkpoint")
    refused(capsys, "evaluate", tmp_path, message="is a folder, not a checkpoint file")
    (tmp_path / "cache-file").write_text("")
    refused(capsys, "train", "--dataset", "xor", "--batch-size", "4", "--cache-dir", tmp_path / "cache-file",
            message="cannot be one: it is a file")
    code, out, _ = run(capsys, "train", "--csv", _labelled_csv(tmp_path / "semi.csv", sep=";"), "--hidden", "4",
                       "--epochs", "1", "--no-progress")
    assert code == 0 and "3 classes" in out and "inputs as given (no normalisation)" in out


def test_write_errors_name_the_target_not_a_temporary_file(tmp_path, monkeypatch):
    from symbackprop import atomic

    def failing_replace(src, dst):
        raise PermissionError(13, "Permission denied", src)
    monkeypatch.setattr(atomic.os, "replace", failing_replace)
    with pytest.raises(PermissionError) as error:
        atomic.write_text_atomically(tmp_path / "x.txt", "hello")
    assert error.value.filename == str(tmp_path / "x.txt") and ".tmp" not in str(error.value)
    assert not list(tmp_path.iterdir())


def test_written_files_follow_the_umask_and_links(tmp_path):
    from symbackprop.atomic import write_text_atomically
    old = os.umask(0o022)
    try:
        write_text_atomically(tmp_path / "a.txt", "x")
        assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
        (tmp_path / "a.txt").chmod(0o640)
        write_text_atomically(tmp_path / "a.txt", "y")  # a replaced file keeps its mode
        assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o640
    finally:
        os.umask(old)
    (tmp_path / "link.txt").symlink_to(tmp_path / "a.txt")
    write_text_atomically(tmp_path / "link.txt", "z")
    assert (tmp_path / "link.txt").is_symlink() and (tmp_path / "a.txt").read_text() == "z"
    with pytest.raises(OSError, match="not a regular file"):
        write_text_atomically("/dev/null", "never")
    assert Path("/dev/null").is_char_device()


def test_a_read_only_cache_compiles_into_a_temporary_one_with_a_warning(tmp_path, monkeypatch):
    import errno
    import tempfile

    import symbackprop
    from symbackprop import Dense, Network, SymbackpropWarning
    from symbackprop.codegen import cache
    real = tempfile.mkdtemp
    root = tmp_path / "shared-cache"
    root.mkdir()

    def read_only(*args, dir=None, **kwargs):
        if dir is not None and Path(dir) == root:
            raise PermissionError(errno.EACCES, "Permission denied", str(dir))
        return real(*args, dir=dir, **kwargs)
    monkeypatch.setattr(cache.tempfile, "mkdtemp", read_only)
    net = Network([Dense(3, 2, "tanh"), Dense(2, 1, "sigmoid")], loss="bce")
    with pytest.warns(SymbackpropWarning, match="cannot be written"):
        compiled = symbackprop.compile(net, cache_dir=root)
    assert not compiled.from_cache and root not in compiled.folder.parents
    X = np.ones((2, 3))
    assert compiled.forward(X, net.init_params(0)).shape == (2, 1)


def test_same_flags_build_the_same_model_in_every_command(capsys, tmp_path):
    code, out, _ = run(capsys, "export", "--sizes", "2,3,1", "-o", tmp_path / "k.py")
    assert code == 0
    model = "Network([Dense(2, 3, 'sigmoid'), Dense(3, 1, 'sigmoid')], loss='mse')"
    assert model in (tmp_path / "k.py").read_text()
    code, out, _ = run(capsys, "derive", "--sizes", "2,3,1", "--naive", "no")
    assert code == 0 and out.startswith(f"model: {model}")
    code, out, _ = run(capsys, "explain", "--sizes", "2,3,1")
    assert code == 0 and model in out
    for command in ("derive", "explain", "cost", "export", "train"):
        code, out, _ = run(capsys, command, "--help")
        assert "Defaults, the same in every command" in " ".join(out.split())


def test_latex_standalone_is_a_whole_ascii_document(capsys):
    code, out, _ = run(capsys, "explain", "--sizes", "2,3,2", "--loss", "cce", "--latex", "--standalone")
    assert code == 0 and out.startswith(r"\documentclass") and out.rstrip().endswith(r"\end{document}")
    assert out.isascii()
    assert out.count("{") == out.count("}") and out.count(r"\begin{") == out.count(r"\end{")
    assert r"W$^{1}_{0,1}$" in out
    refused(capsys, "explain", "--standalone", message="--standalone makes a whole LaTeX document")
    refused(capsys, "explain", "--arch", "conv:2", "--latex", message="--latex writes the step-by-step")


# ---------------------------------------------------------------------------------------------
# relatives found while fixing the cases above

def test_relatives(capsys, tmp_path, digits_model):
    refused(capsys, "explain", "--input=300,300", "--loss", "bce", message="is not a finite number for this input")
    refused(capsys, "explain", "--arch", "conv:2", "--input", "1,2", message="--input has no effect")
    refused(capsys, "export", digits_model[0], "--arch", "conv:2", "-o", tmp_path / "e.py",
            message="give a checkpoint or a model (--sizes or --arch), not both")
    refused(capsys, "export", digits_model[0], "--activation", "tanh", "-o", tmp_path / "e.py",
            message="--activation cannot change the model of checkpoint")
    refused(capsys, "export", "--sizes", "2,2", "-o", tmp_path / "class.py", message="cannot be imported")
    refused(capsys, "cost", "--loss", "cce", message="cost's networks (w-w-1 and 4-...-4-1) have one output")
    refused(capsys, "train", "--dataset", "xor", message="use a batch size of at most 4")
    refused(capsys, "train", "--test-fraction", "0.0001", message="cannot split 1,797 rows of 10 classes")
    refused(capsys, "explain", "-o", "/dev/null", message="not a regular file")
    refused(capsys, "derive", "--sizes", "64,64,10", "--view", "unrolled", message="is more than 2,000")
    code, out, _ = run(capsys, "train", "--dataset", "xor", "--loss", "mse", "--output", "softmax", "--hidden", "3",
                       "--epochs", "1", "--batch-size", "4", "--no-progress")
    assert code == 0 and "Dense(3, 2, 'softmax')" in out


@pytest.mark.parametrize("body,message", [
    ("a,b,label\n1,2,\n3,4,x\n", "line 2: the label ('label') is missing"),
    ("a,b,label\n1,nan,x\n2,3,y\n", "NaN or inf"),
    ("a,a,b\n1,2,x\n3,4,y\n", "has 2 columns named 'a'"),
    ("a,b,label\n1_0,2,x\n3,4,y\n", "'1_0' is not a number"),
    ("a,b,label\n" + "1e308,2,x\n-1e308,4,y\n" * 10, "holds values too large to normalise"),
])
def test_csv_relatives(capsys, tmp_path, body, message):
    (tmp_path / "d.csv").write_text(body)
    label = "a" if "a,a,b" in body else "label"
    refused(capsys, "train", "--csv", tmp_path / "d.csv", "--label-column", label, "--normalize", "standard",
            "--batch-size", "4", message=message)


def test_a_byte_order_mark_is_not_part_of_the_first_column_name(tmp_path):
    from symbackprop.train.data_files import read_csv
    (tmp_path / "bom.csv").write_bytes("\ufefflabel,a\nx,1\ny,2\n".encode())
    _, y, names = read_csv(tmp_path / "bom.csv", "label")
    assert names == ["x", "y"]


def test_idx_relatives(tmp_path):
    import gzip
    import struct

    from symbackprop import DataError
    from symbackprop.train.data import idx_source

    def idx(path, array, code):
        path.write_bytes(bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
                         + array.astype(array.dtype.newbyteorder(">")).tobytes())
    images = np.zeros((4, 2, 2), dtype=np.uint8)
    idx(tmp_path / "img", images, 0x08)
    idx(tmp_path / "gaps", np.array([0, 7, 0, 7], dtype=np.uint8), 0x08)
    source = idx_source(tmp_path / "img", tmp_path / "gaps")
    assert source.class_names == ["0", "7"] and list(source.y) == [0, 1, 0, 1]  # two classes, not eight
    idx(tmp_path / "half", np.array([0.5, 1.5, 0.5, 1.5]), 0x0E)
    with pytest.raises(DataError, match="whole class numbers"):
        idx_source(tmp_path / "img", tmp_path / "half")
    idx(tmp_path / "none", np.zeros((0, 2, 2), dtype=np.uint8), 0x08)
    idx(tmp_path / "nolabels", np.zeros(0, dtype=np.uint8), 0x08)
    with pytest.raises(DataError):
        idx_source(tmp_path / "none", tmp_path / "nolabels")
    idx(tmp_path / "nan", np.array([[np.nan]]), 0x0E)
    with pytest.raises(DataError, match="NaN or inf"):
        idx_source(tmp_path / "nan", tmp_path / "gaps")
    good = gzip.compress((tmp_path / "img").read_bytes())
    (tmp_path / "bad.gz").write_bytes(good[:10] + bytes(len(good) - 10))
    with pytest.raises(DataError, match="cannot read IDX file"):
        idx_source(tmp_path / "bad.gz", tmp_path / "gaps")


# ---------------------------------------------------------------------------------------------
# found by a new user trying the fixes

def test_save_never_overwrites_a_file_that_is_not_a_checkpoint(capsys, tmp_path):
    data = _labelled_csv(tmp_path / "pets.csv")
    before = data.read_bytes()
    refused(capsys, "train", "--csv", data, "--save", data, message="a checkpoint file's name ends in .npz")
    (tmp_path / "notes.npz").write_text("my notes")
    refused(capsys, "train", "--csv", data, "--save", tmp_path / "notes.npz", message="is not a symbackprop checkpoint")
    assert data.read_bytes() == before and (tmp_path / "notes.npz").read_text() == "my notes"


def test_headerless_csv_with_word_labels_keeps_its_first_row(tmp_path):
    from symbackprop.train.data_files import read_csv
    (tmp_path / "d.csv").write_text("5.1,3.5,setosa\n6.2,2.9,versicolor\n5.0,3.0,setosa\n")
    X, y, names = read_csv(tmp_path / "d.csv")
    assert len(X) == 3 and names == ["setosa", "versicolor"]


def test_predict_matches_columns_by_name_and_names_probabilities(capsys, tmp_path):
    model = tmp_path / "pets.npz"
    assert run(capsys, "train", "--csv", _labelled_csv(tmp_path / "pets.csv"), "--hidden", "8", "--epochs", "40",
               "--lr", "0.2", "--save", model, "--no-progress")[0] == 0
    (tmp_path / "a.csv").write_text("x0,x1\n0,0.1\n6,0.2\n")
    (tmp_path / "b.csv").write_text("x1,x0\n0.1,0\n0.2,6\n")  # the same rows, columns swapped
    outputs = [run(capsys, "predict", model, tmp_path / f, "--probabilities")[1] for f in ("a.csv", "b.csv")]
    assert outputs[0] == outputs[1] and outputs[0].split()[1].startswith("cat=")
    (tmp_path / "c.csv").write_text("x0,kind\n0,cat\n")
    refused(capsys, "predict", model, tmp_path / "c.csv", message="has no column 'x1', which the model was trained on")


def test_resume_says_what_it_did_not_save_and_which_flags_do_not_apply(capsys, tmp_path):
    model = tmp_path / "m.npz"
    assert run(capsys, "train", "--dataset", "xor", "--hidden", "3", "--epochs", "1", "--batch-size", "4",
               "--save", model, "--no-progress")[0] == 0
    before = model.read_bytes()
    code, _, err = run(capsys, "train", "--resume", model, "--epochs", "1", "--no-progress")
    assert code == 0 and "these epochs were not saved" in err and model.read_bytes() == before
    refused(capsys, "train", "--resume", model, "--momentum", "0.5", message="--momentum does not apply to sgd")


def test_more_settings_are_refused_before_the_data_is_loaded(capsys):
    for flags, message in [(["--patience", "2", "--val-fraction", "0"], "needs validation data"),
                           (["--image-shape", "1,8,8"], "--image-shape describes the images of --arch"),
                           (["--hidden", "16,,16"], "layer sizes must be integers"),
                           (["--momentum", "0.5"], "--momentum does not apply to the sgd optimizer"),
                           (["--optimizer", "momentum", "--beta1", "0.8"], "(it is read by: adam)")]:
        assert refused(capsys, "train", *flags, message=message) == ""  # no data line: nothing was loaded
