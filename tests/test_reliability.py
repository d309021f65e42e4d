"""Trying to break symbackprop: numerical extremes, hostile input, concurrent caches, hostile names."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import symbackprop
from symbackprop import CheckpointError, Dense, Network, UnknownActivationError
from symbackprop.codegen.printer import CodegenError, KernelPrinter, safe_identifier
from symbackprop.train import Checkpoint, load_checkpoint, save_checkpoint

# ---------------------------------------------------------------------------------------------
# numerical extremes: losses and gradients stay finite

EXTREME_NETS = [
    ("sigmoid", "sigmoid", "bce"), ("tanh", "softmax", "cce"), ("relu", "identity", "mse"),
    ("softmax", "sigmoid", "mse"), ("leaky_relu", "softmax", "cce"), ("sigmoid", "tanh", "mse"),
]


def _extreme_inputs(n_in):
    return {
        "inputs of 1e6": np.full((3, n_in), 1e6) * np.array([1, -1, 0.5])[:, None],
        "all-zero inputs": np.zeros((3, n_in)),
        "mixed signs of 1e6": np.random.default_rng(0).choice([-1e6, 1e6], size=(3, n_in)),
    }


@pytest.mark.parametrize("hidden,output,loss", EXTREME_NETS)
def test_extreme_inputs_and_exact_targets_stay_finite(hidden, output, loss):
    net = Network([Dense(4, 5, hidden), Dense(5, 3 if output == "softmax" else 2, output)], loss=loss)
    compiled = symbackprop.compile(net, warm_up=False)
    params = net.init_params(0)
    params["W2"][...] *= 1e3  # output logits of order 1e3 and beyond
    n_out = net.n_outputs
    targets = {"exactly 0": np.zeros((3, n_out)), "exactly 1": np.ones((3, n_out))}
    if loss == "cce":
        targets = {"one-hot": np.eye(n_out)[[0, 1, 2]]}
    for what, X in _extreme_inputs(4).items():
        for target_name, Y in targets.items():
            value, grads = compiled.loss_and_grad(X, Y, params)
            assert np.isfinite(value), (what, target_name)
            assert np.all(np.isfinite(grads.flat)), (what, target_name)
            assert np.all(np.isfinite(compiled.forward(X, params)))


# ---------------------------------------------------------------------------------------------
# the CLI: one readable line, a non-zero exit, no traceback

def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "symbackprop.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300, env={**os.environ, "PYTHONWARNINGS": "ignore"})


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad-input")
    (d / "ragged.csv").write_text("a,b,label\n1,2,0\n3,1\n")
    (d / "empty.csv").write_text("")
    (d / "header_only.csv").write_text("a,b,label\n")
    (d / "words.csv").write_text("a,b,label\n1,two,0\n3,4,1\n")
    (d / "one_class.csv").write_text("a,b,label\n1,2,0\n3,4,0\n")
    (d / "binary.csv").write_bytes(b"\x00\x01\x02\xff\xfe")
    (d / "good.csv").write_text("a,b,label\n" + "".join(f"{k},{k % 3},{k % 2}\n" for k in range(60)))
    (d / "bad.idx").write_bytes(b"\x12\x34\x56\x78")
    (d / "foreign.npz").write_bytes(b"PK\x03\x04 not really")
    np.savez(d / "other.npz", weights=np.ones(3))
    return d


BAD_COMMANDS = [
    (["train", "--activation", "swish"], "unknown activation 'swish'"),
    (["train", "--loss", "hinge"], "unknown loss 'hinge'"),
    (["train", "--loss", "cce", "--output", "sigmoid"], "does not fit an output layer"),
    (["train", "--optimizer", "adagrad"], "invalid choice: 'adagrad'"),
    (["train", "--lr", "-0.1", "--epochs", "1"], "learning rate must be a positive number"),
    (["train", "--batch-size", "0", "--epochs", "1"], "argument --batch-size: must be at least 1, got 0"),
    (["train", "--batch-size", "100000", "--epochs", "1"], "batch size 100000 is larger than the"),
    (["train", "--epochs", "0"], "argument --epochs: must be at least 1, got 0"),
    (["train", "--epochs", "ten"], "expected a whole number, got 'ten'"),
    (["train", "--hidden", "0"], "layer sizes must be positive"),
    (["train", "--dataset", "mnist"], "unknown dataset 'mnist'"),
    (["train", "--csv", "{d}/missing.csv"], "cannot read CSV file"),
    (["train", "--csv", "{d}/ragged.csv"], "line 3: 2 fields, but the header has 3"),
    (["train", "--csv", "{d}/empty.csv"], "has no data rows"),
    (["train", "--csv", "{d}/header_only.csv"], "has no data rows"),
    (["train", "--csv", "{d}/words.csv"], "line 2, column 'b': 'two' is not a number"),
    (["train", "--csv", "{d}/one_class.csv"], "holds a single class"),
    (["train", "--csv", "{d}/binary.csv"], "not a text CSV file"),
    (["train", "--csv", "{d}/good.csv", "--label-column", "species"], "no label column 'species'"),
    (["train", "--idx-images", "{d}/bad.idx", "--idx-labels", "{d}/bad.idx"], "not an IDX file"),
    (["train", "--idx-images", "{d}/bad.idx"], "needs both --idx-images and --idx-labels"),
    (["train", "--csv", "{d}/good.csv", "--epochs", "1", "--save", "{d}/good.csv/model.npz"], "good.csv is a file, not a folder"),
    (["train", "--csv", "{d}/good.csv", "--patience", "3", "--val-fraction", "0"], "needs validation data"),
    (["train", "--normalize", "zscore"], "invalid choice: 'zscore'"),
    (["train", "--init", "orthogonal", "--epochs", "1"], "unknown initialisation 'orthogonal'"),
    (["evaluate", "{d}/nothing.npz"], "no checkpoint at"),
    (["evaluate", "{d}/foreign.npz"], "is a damaged checkpoint (a truncated or corrupt .npz archive)"),
    (["evaluate", "{d}/other.npz"], "is not a symbackprop checkpoint"),
    (["predict", "{d}/good.csv", "{d}/good.csv"], "is not a symbackprop checkpoint"),
]


@pytest.mark.parametrize("args,message", BAD_COMMANDS, ids=[" ".join(a[:3]) for a, _ in BAD_COMMANDS])
def test_cli_bad_input_is_one_line(files, args, message):
    result = _cli(*(a.replace("{d}", str(files)) for a in args))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("symbackprop: error: ") and message in lines[0], lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_divergence_stops_with_epoch_and_batch_and_keeps_last_good_checkpoint(tmp_path):
    """A learning rate that blows up after the first epoch: the epoch-1 checkpoint survives intact."""
    rows = "".join(f"{x},{y},{int(x > y)}\n" for x, y in np.random.default_rng(0).uniform(0, 1e3, (40, 2)))
    (tmp_path / "data.csv").write_text("x,y,label\n" + rows)
    model = tmp_path / "model.npz"
    result = _cli("train", "--csv", str(tmp_path / "data.csv"), "--loss", "mse", "--output", "identity",
                  "--hidden", "8", "--activation", "identity", "--lr", "1e-6", "--batch-size", "4", "--epochs", "50",
                  "--save", str(model), "--no-progress",
                  "--val-fraction", "0")
    assert result.returncode == 2, result.stdout
    assert "training diverged at epoch" in result.stderr and ", batch " in result.stderr
    ckpt = load_checkpoint(model)  # the last good epoch, readable and finite
    failed_epoch = int(result.stderr.split("diverged at epoch ")[1].split(",")[0])
    assert ckpt.info["epochs"] == failed_epoch - 1 >= 1 and np.all(np.isfinite(ckpt.params.flat))


# ---------------------------------------------------------------------------------------------
# files: concurrent caches, versions, checkpoints that never run code

def test_two_processes_compiling_the_same_model_both_succeed(tmp_path):
    code = textwrap.dedent(f"""
        import symbackprop
        from symbackprop import Dense, Network
        net = Network([Dense(3, 5, "tanh"), Dense(5, 4, "leaky_relu"), Dense(4, 3, "softmax")], loss="cce")
        c = symbackprop.compile(net, cache_dir={str(tmp_path)!r})
        print(c.folder.name)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outs]
    assert outs[0][0] == outs[1][0]
    entries = [p for p in tmp_path.iterdir() if p.name.startswith("index-")]
    assert len(entries) == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith((".tmp", ".broken"))]
    from symbackprop.codegen.cache import _read_entry
    assert _read_entry(entries[0]) is not None


def test_entries_of_another_library_version_are_never_used(tmp_path, monkeypatch):
    import symbackprop
    net = Network([Dense(2, 3, "tanh"), Dense(3, 2, "softmax")], loss="cce")
    first = symbackprop.compile(net, cache_dir=tmp_path, warm_up=False)
    monkeypatch.setattr(symbackprop.version, "__version__", "999.0")
    other = symbackprop.compile(net, cache_dir=tmp_path, warm_up=False)
    assert not other.from_cache and other.folder != first.folder


def test_corrupt_metadata_is_rebuilt(tmp_path):
    net = Network([Dense(2, 3, "sigmoid"), Dense(3, 1, "sigmoid")], loss="bce")
    first = symbackprop.compile(net, cache_dir=tmp_path, warm_up=False)
    (first.folder / "meta.json").write_text("{ not json")
    from symbackprop.codegen.cache import _read_entry
    assert _read_entry(first.folder) is None
    code = f"import symbackprop\nfrom symbackprop import Dense, Network\n" \
           f"n = Network([Dense(2, 3, 'sigmoid'), Dense(3, 1, 'sigmoid')], loss='bce')\n" \
           f"print(symbackprop.compile(n, cache_dir={str(tmp_path)!r}, warm_up=False).from_cache)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    assert _read_entry(first.folder) is not None


class _Payload:
    """Unpickling this would create a file: proof that loading ran code."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_loading_a_checkpoint_never_unpickles(tmp_path):
    marker = tmp_path / "code-ran"
    net = Network([Dense(2, 2, "softmax")], loss="cce")
    save_checkpoint(tmp_path / "real.npz", Checkpoint(net, net.init_params(0)))
    with np.load(tmp_path / "real.npz") as real:
        arrays = {k: real[k] for k in real.files}
    arrays["params"] = np.array([_Payload(str(marker))], dtype=object)
    np.savez(tmp_path / "evil.npz", **arrays)
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "evil.npz")
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------
# generated source: nothing but plain identifiers can reach it

HOSTILE = ["import", "class", "x; import os", 'a"', "a'", "a\nimport os", "a\rb", "ä", "a b", "", "1a",
           "os.system('x')", "__import__('os')", "a#b", "λ"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_never_reach_generated_code(name):
    import sympy as sp
    with pytest.raises(CodegenError):
        safe_identifier(name)
    with pytest.raises(CodegenError):
        KernelPrinter().doprint(sp.Symbol(name) + 1)
    with pytest.raises(CodegenError):
        KernelPrinter().doprint(sp.IndexedBase(name)[0, 1])
    with pytest.raises(UnknownActivationError):
        Dense(2, 3, name)


def test_hostile_model_description_in_a_checkpoint_is_refused(tmp_path):
    net = Network([Dense(2, 2, "softmax")], loss="cce")
    path = save_checkpoint(tmp_path / "m.npz", Checkpoint(net, net.init_params(0)))
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    header = bytes(arrays["header"]).decode().replace('"softmax"', '"softmax\\nimport os"')
    arrays["header"] = np.frombuffer(header.encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match="damaged|cannot be rebuilt"):
        load_checkpoint(path)


def test_generated_comments_cannot_be_broken_out_of():
    from symbackprop.codegen.module import comment
    assert "\n" not in comment("a\nimport os\r\nb")
