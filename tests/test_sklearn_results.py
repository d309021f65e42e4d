"""scikit-learn's answers kept on disk (train/sklearn_results.py): the same answers, without importing it."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from symbackprop.train import data as datasets
from symbackprop.train import sklearn_results


def test_kept_answers_are_scikit_learns(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMBACKPROP_CACHE_DIR", str(tmp_path))
    for _ in range(2):  # asked, then read back from disk
        source = datasets.digits_source()
        np.testing.assert_array_equal(source.X, load_digits().data / 16.0)
        np.testing.assert_array_equal(source.y, load_digits().target)
        rows = datasets.split_rows(source.y, seed=3, val_fraction=0.15, test_fraction=0.2)
        rest, test = train_test_split(np.arange(len(source.y)), test_size=0.2, random_state=3, stratify=source.y)
        train, val = train_test_split(rest, test_size=0.15 / 0.8, random_state=3, stratify=source.y[rest])
        for part, expected in (("train", train), ("val", val), ("test", test)):
            np.testing.assert_array_equal(rows[part], expected)
    assert len(list((tmp_path / "sklearn").glob("*.npz"))) == 2


def test_a_warm_start_does_not_import_scikit_learn(tmp_path):
    script = textwrap.dedent("""
        import sys
        from symbackprop.train.data import load_digits
        data = load_digits(seed=0)
        print(len(data.y_train), "sklearn" in sys.modules)
    """)
    env = {"SYMBACKPROP_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    first, second = (subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                                    check=True).stdout.split() for _ in range(2))
    assert first[1] == "True" and second == [first[0], "False"]


def test_an_unreadable_file_is_asked_again(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMBACKPROP_CACHE_DIR", str(tmp_path))
    calls = []

    def ask():
        calls.append(1)
        return {"a": np.arange(3)}
    sklearn_results.kept("test", {"q": 1}, ("a",), ask)
    (stored,) = (tmp_path / "sklearn").glob("test-*.npz")
    good = stored.read_bytes()
    for damaged in (b"not an npz", b"", good[: len(good) // 2]):
        stored.write_bytes(damaged)
        np.testing.assert_array_equal(sklearn_results.kept("test", {"q": 1}, ("a",), ask)["a"], np.arange(3))
    assert len(calls) == 4
