"""Fuzzing the readers and parsers a user's input reaches: nothing but a SymbackpropError escapes.

Targets: the CSV reader, the IDX reader, the checkpoint loader, the ``--arch`` parser and
the command line's argument handling (``train`` up to the point where training would
start, and every sub-command's parser).  Each draws inputs with hypothesis, mixing valid
pieces with hostile ones (ragged rows, NUL bytes, byte-order marks, huge numbers, bad
magic numbers, truncated archives, mangled JSON headers, nested parentheses).  A few
hundred inputs per target run in the default suite; ``pytest -m slow`` runs 10,000 each.
"""
from __future__ import annotations

import contextlib
import gzip
import io
import json
import struct
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbackprop import SymbackpropError

DEFAULT_EXAMPLES, SLOW_EXAMPLES = 300, 10_000

# ---------------------------------------------------------------------------------------------
# the CSV reader

_CELLS = st.one_of(st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr),
                   st.sampled_from(["", " ", "nan", "NaN", "inf", "-", "1e308", "1e999", "1_0", "0x10", "a", "cat",
                                    '"', '""', '"a,b"', "\ufeff", "\0", "é", "１"]),
                   st.text(max_size=6))
_ROWS = st.lists(st.lists(_CELLS, min_size=0, max_size=5), max_size=8)


@st.composite
def csv_files(draw) -> bytes:
    if draw(st.booleans()):
        return draw(st.binary(max_size=200))
    sep = draw(st.sampled_from([",", ";", "\t", ", "]))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join(sep.join(row) for row in draw(_ROWS))
    return (draw(st.sampled_from(["", "\ufeff"])) + text).encode("utf-8", "surrogatepass")


def _check_csv(data: bytes, label: str, n_features: int) -> None:
    from symbackprop.train.data import csv_source, split_source
    from symbackprop.train.data_files import read_features
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "d.csv"
        path.write_bytes(data)
        with contextlib.suppress(SymbackpropError):
            split_source(csv_source(path, label), seed=0, val_fraction=0.1, test_fraction=0.2)
        with contextlib.suppress(SymbackpropError):
            read_features(path, n_features, None, label)


# ---------------------------------------------------------------------------------------------
# the IDX reader

@st.composite
def idx_files(draw) -> bytes:
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=64))
    code = draw(st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x00, 0xFF]))
    dims = draw(st.lists(st.integers(0, 6) | st.sampled_from([2**31, 2**32 - 1]), min_size=0, max_size=4))
    head = bytes([0, draw(st.sampled_from([0, 0, 0, 1])), code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)
    size = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}.get(code, 1)
    count = int(np.prod([d for d in dims if d < 2**31], dtype=np.int64)) if dims else 0
    body = draw(st.binary(min_size=0, max_size=min(count * size, 512) + 4))
    raw = head + body
    return gzip.compress(raw) if draw(st.booleans()) else raw


def _check_idx(images: bytes, labels: bytes) -> None:
    from symbackprop.train.data import idx_source, split_source
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "i").write_bytes(images)
        (Path(folder) / "l").write_bytes(labels)
        with contextlib.suppress(SymbackpropError):
            split_source(idx_source(Path(folder) / "i", Path(folder) / "l"), seed=0, val_fraction=0.1,
                         test_fraction=0.2)


# ---------------------------------------------------------------------------------------------
# the checkpoint loader

@pytest.fixture(scope="module")
def checkpoint_bytes() -> bytes:
    from symbackprop import Dense, Network
    from symbackprop.train import Checkpoint, Optimizer, save_checkpoint
    net = Network([Dense(2, 3, "tanh"), Dense(3, 2, "softmax")], loss="cce")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.npz"
        params = net.init_params(0)
        optimizer = Optimizer("adam")
        optimizer.kernel_args(params.flat)
        save_checkpoint(path, Checkpoint(net, params, optimizer=optimizer, info={"epochs": 1},
                                         rows={"train": np.arange(3), "val": np.arange(0), "test": np.arange(3, 5)}))
        return path.read_bytes()


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                     max_leaves=20)


@st.composite
def checkpoint_files(draw, good: bytes) -> bytes:
    how = draw(st.sampled_from(["truncate", "flip", "header", "member"]))
    if how == "truncate":
        return good[:draw(st.integers(0, len(good)))]
    if how == "flip":
        data = bytearray(good)
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    with zipfile.ZipFile(io.BytesIO(good)) as archive:
        arrays = {name[:-4]: np.load(io.BytesIO(archive.read(name))) for name in archive.namelist()}
    header = json.loads(arrays["header"].tobytes())
    if how == "header":  # a well-formed archive whose header says something odd
        key = draw(st.sampled_from(["model", "normalizer", "optimizer", "info", "version", "format"]))
        if key == "model" and draw(st.booleans()):
            layer = draw(st.sampled_from(header["model"]["layers"]))
            layer[draw(st.sampled_from(sorted(layer)))] = draw(_JSON)
        else:
            header[key] = draw(_JSON)
        arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    else:  # an array replaced by one of another shape or kind
        name = draw(st.sampled_from(sorted(arrays)))
        arrays[name] = draw(st.sampled_from([np.zeros(0), np.ones((2, 2)), np.array(["x"]), np.array([np.nan]),
                                             np.arange(3, dtype=np.int8), np.array([1e308, -1e308])]))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _check_checkpoint(data: bytes) -> None:
    from symbackprop.train import load_checkpoint
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.npz"
        path.write_bytes(data)
        with contextlib.suppress(SymbackpropError):
            load_checkpoint(path)


# ---------------------------------------------------------------------------------------------
# the --arch parser

_ARCH_TOKENS = ["conv", "dense", "maxpool", "avgpool", "flatten", "res", "residual", ":", ",", "(", ")", "16", "2",
                "3", "0", "-1", "99", "s1", "s2", "s0", "p1", "p-1", "same", "valid", "relu", "tanh", "sigmoid",
                "softmax", "nosuch", "swish=z/(1+exp(-z))", "f=", "=z", "z**9999", "__import__('os')", " ", "cnn"]


def _check_arch(text: str, image: bool) -> None:
    from symbackprop.model.architecture import build_network
    with contextlib.suppress(SymbackpropError):
        build_network(text, (1, 8, 8) if image else (12,), 3)


# ---------------------------------------------------------------------------------------------
# the command line

_OPTIONS = ["--hidden", "--arch", "--activation", "--output", "--loss", "--l1", "--l2", "--init", "--normalize",
            "--dtype", "--optimizer", "--lr", "--momentum", "--beta1", "--beta2", "--alpha", "--schedule", "--gamma",
            "--step-size", "--epochs", "--batch-size", "--clip-value", "--clip-norm", "--patience", "--every",
            "--seed", "--val-fraction", "--test-fraction", "--image-shape", "--label-column", "--plot", "--save",
            "--resume", "--dataset", "--augment", "--view"]
_VALUES = ["0", "1", "-1", "4", "0.5", "1e9", "nan", "inf", "-0", "", "x", "relu", "adam", "step", "standard",
           "float32", "3,3", "1,2,2", "conv:2", "dense:4:tanh", "xor", "digits", "m.npz", "p.png", "p.txt",
           "/dev/null", "unrolled", "gd", "w=z*2"]


class _Reached(Exception):
    """Training would have started: every check before it passed."""


def _check_cli(argv: list[str], monkeypatch) -> None:
    from symbackprop import cli, cli_training
    from symbackprop.train.data import xor_source

    def tiny_source(args):
        return xor_source()

    def no_training(data, network, settings, **kwargs):
        settings.check(len(data.y_train))
        raise _Reached

    monkeypatch.setattr(cli_training, "_source", tiny_source)
    monkeypatch.setattr("symbackprop.train.session.train_session", no_training)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), contextlib.suppress(_Reached):
        try:
            code = cli.main(["train", *argv])
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
        assert code in (0, 2), (argv, code)
        if code == 2:
            assert len(err.getvalue().strip().splitlines()) == 1, err.getvalue()


_GRID_TOKENS = ["lr", "hidden", "activation", "optimizer", "epochs", "seed", "momentum", "=", ",", "/", "0.1", "1e-3",
                "-1", "0", "64", "relu", "tanh", "adam", "nan", "x", "", " ", "128/64", "batch_size", "batch-size"]


def _check_grid(items: list[str]) -> None:
    """A grid is read into lists of typed values, or refused with a SymbackpropError (never anything else)."""
    from symbackprop.cli_sweep import parse_grid
    try:
        grid = parse_grid(items)
    except SymbackpropError:
        return
    assert grid and all(isinstance(v, list) and v for v in grid.values())
    assert all(len(set(map(repr, v))) == len(v) for v in grid.values())  # no value twice


def _check_parsers(argv: list[str]) -> None:
    from symbackprop.cli_parser import build_parser
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            build_parser().parse_args(argv)
        except SystemExit as exc:
            assert exc.code in (0, 2)


# ---------------------------------------------------------------------------------------------
# running a target at a given number of examples

def _fuzz(examples: int):
    return settings(max_examples=examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large, HealthCheck.filter_too_much])


def _run(target: str, examples: int, checkpoint_bytes: bytes, monkeypatch) -> None:
    fuzz = _fuzz(examples)
    if target == "csv":
        fuzz(given(csv_files(), st.sampled_from(["-1", "0", "2", "label", "kind", "99", "-99"]),
                   st.integers(0, 5))(_check_csv))()
    elif target == "idx":
        fuzz(given(idx_files(), idx_files())(_check_idx))()
    elif target == "checkpoint":
        fuzz(given(checkpoint_files(checkpoint_bytes))(_check_checkpoint))()
    elif target == "arch":
        fuzz(given(st.lists(st.sampled_from(_ARCH_TOKENS), max_size=14).map("".join), st.booleans())(_check_arch))()
    elif target == "cli":
        argv = st.lists(st.tuples(st.sampled_from(_OPTIONS), st.sampled_from(_VALUES)), max_size=5).map(
            lambda pairs: [part for pair in pairs for part in pair])
        fuzz(given(argv)(lambda a: _check_cli(a, monkeypatch)))()
    elif target == "grid":
        items = st.lists(st.lists(st.sampled_from(_GRID_TOKENS), max_size=8).map("".join), max_size=4)
        fuzz(given(items)(_check_grid))()
    else:
        commands = ["train", "evaluate", "predict", "derive", "explain", "cost", "gradient-flow", "export", "sweep"]
        argv = st.tuples(st.sampled_from(commands), st.lists(st.sampled_from(_OPTIONS + _VALUES + ["-o", "--sizes",
                         "--latex", "--standalone", "--input", "--param", "--widths", "--grid", "--folds",
                         "--scheduler", "--random", "--results", "lr=0.1,1"]), max_size=6))
        fuzz(given(argv.map(lambda c: [c[0], *c[1]]))(_check_parsers))()


TARGETS = ["csv", "idx", "checkpoint", "arch", "cli", "parsers", "grid"]


@pytest.mark.parametrize("target", TARGETS)
def test_fuzz(target, checkpoint_bytes, monkeypatch, tmp_path, registries_restored):
    # registries_restored: an --activation NAME=FORMULA the fuzzer draws (w=z*2) registers a kind
    monkeypatch.chdir(tmp_path)  # --save m.npz, --plot p.png land here
    _run(target, DEFAULT_EXAMPLES, checkpoint_bytes, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_at_length(target, checkpoint_bytes, monkeypatch, tmp_path, registries_restored):
    monkeypatch.chdir(tmp_path)
    _run(target, SLOW_EXAMPLES, checkpoint_bytes, monkeypatch)
