"""The kernel cache: real files, reused across runs, rebuilt when damaged, no SymPy at run time."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import symbackprop
from symbackprop import Dense, Network
from symbackprop import derive as derive_stage


def _net(width=4):
    return Network([Dense(3, width, "sigmoid"), Dense(width, 2, "softmax")], loss="cce")


def test_second_compile_skips_derivation_and_codegen(tmp_path, monkeypatch):
    first = symbackprop.compile(_net(), cache_dir=tmp_path)
    assert not first.from_cache
    assert first.source_path.is_file() and first.source_path.parent.parent == tmp_path

    def no_derivation(network):
        raise AssertionError("derivation ran although the cache holds this model")

    monkeypatch.setattr(derive_stage, "derive_index_level", no_derivation)
    second = symbackprop.compile(_net(), cache_dir=tmp_path)
    assert second.from_cache
    assert second.report == first.report
    X = np.random.default_rng(0).normal(size=(4, 3))
    params = second.network.init_params(0)
    np.testing.assert_array_equal(first.forward(X, params), second.forward(X, params))


def test_other_widths_reuse_the_compiled_kernels(tmp_path):
    small = symbackprop.compile(_net(4), cache_dir=tmp_path, warm_up=False)
    wide = symbackprop.compile(_net(9), cache_dir=tmp_path, warm_up=False)
    assert wide.folder == small.folder  # same structure: same kernels
    assert wide.report.n_params != small.report.n_params  # but each model has its own report


def test_damaged_entry_is_rebuilt(tmp_path):
    first = symbackprop.compile(_net(), cache_dir=tmp_path, warm_up=False)
    source = first.source_path.read_text()
    first.source_path.write_text(source[: len(source) // 2])  # a truncated write
    # a fresh process would import the damaged file; check the cache notices and rebuilds it
    from symbackprop.codegen.cache import _read_entry
    assert _read_entry(first.folder) is None
    code = textwrap.dedent(f"""
        import symbackprop
        from symbackprop import Dense, Network
        net = Network([Dense(3, 4, "sigmoid"), Dense(4, 2, "softmax")], loss="cce")
        c = symbackprop.compile(net, cache_dir={str(tmp_path)!r})
        print(c.from_cache)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    assert first.source_path.read_text() == source


def test_networks_that_share_a_layer_share_its_kernel_file(tmp_path):
    """Each layer kernel is a file of its own named by its text: a second network with the same
    first convolution and pooling loads those two layers' files (and, in a fresh process, their
    machine code from Numba's cache) instead of compiling them again."""
    from symbackprop.model.architecture import build_network
    first = build_network("conv:4:3,maxpool:2,flatten,dense:3", (1, 6, 6), 3)
    second = build_network("conv:4:3,maxpool:2,conv:2:3,flatten,dense:3", (1, 6, 6), 3)
    one = symbackprop.compile(first, cache_dir=tmp_path)  # and its machine code into Numba's cache
    two = symbackprop.compile(second, cache_dir=tmp_path, warm_up=False)
    paths = {path.name.rsplit("_", 1)[0]: path for path in one.kernel_paths}
    shared = {path.name.rsplit("_", 1)[0]: path for path in two.kernel_paths}
    assert shared["forward1"] == paths["forward1"] and shared["forward2"] == paths["forward2"]
    assert two.module.forward1 is one.module.forward1  # in this process: the same compiled function
    assert two.folder != one.folder and len(list((tmp_path / "kernels").glob("forward1_*.py"))) == 1
    code = textwrap.dedent(f"""
        import symbackprop
        from symbackprop.model.architecture import build_network
        net = build_network("conv:4:3,maxpool:2,conv:2:3,flatten,dense:3", (1, 6, 6), 3)
        c = symbackprop.compile(net, cache_dir={str(tmp_path)!r})
        stats = c.module.forward1.stats, c.module.forward3.stats
        print(sum(stats[0].cache_hits.values()), sum(stats[1].cache_misses.values()))
    """)
    env = {**os.environ, "SYMBACKPROP_SPLIT_COMPILE": "0"}  # all in this process, to see its cache hits
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    hits, misses = map(int, out.split())
    assert hits == 1 and misses == 1  # forward1 loaded from Numba's cache; forward3 is new, compiled


def test_a_missing_kernel_file_rebuilds_the_entry(tmp_path):
    from symbackprop.model.architecture import build_network
    net = build_network("conv:2:3,flatten,dense:3", (1, 5, 5), 3)
    first = symbackprop.compile(net, cache_dir=tmp_path, warm_up=False)
    from symbackprop.codegen.cache import _read_entry
    first.kernel_paths[0].unlink()
    assert _read_entry(first.folder) is None
    code = textwrap.dedent(f"""
        import symbackprop
        from symbackprop.model.architecture import build_network
        c = symbackprop.compile(build_network("conv:2:3,flatten,dense:3", (1, 5, 5), 3), cache_dir={str(tmp_path)!r})
        print(c.from_cache)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False" and all(path.is_file() for path in first.kernel_paths)


def test_kernels_run_without_sympy(tmp_path):
    compiled = symbackprop.compile(_net(), cache_dir=tmp_path)
    assert "sympy" not in compiled.source()
    code = textwrap.dedent(f"""
        import sys
        sys.modules["sympy"] = None  # any import of sympy now fails
        import importlib.util
        import numpy as np
        spec = importlib.util.spec_from_file_location("kernels", {str(compiled.source_path)!r})
        kernels = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(kernels)
        X = np.ones((2, 3)); Y = np.array([[1.0, 0.0], [0.0, 1.0]])
        W1 = np.full((3, 4), 0.1); b1 = np.zeros(4); W2 = np.full((4, 2), 0.2); b2 = np.zeros(2)
        g = [np.empty_like(a) for a in (W1, b1, W2, b2)]
        print(kernels.loss_and_grad(X, Y, W1, b1, W2, b2, *g, 0.0, 0.0))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) == pytest.approx(np.log(2.0))


def test_cache_entry_is_written_atomically(tmp_path, monkeypatch):
    """A build that fails part-way leaves no entry behind, and the next build succeeds."""
    from symbackprop.codegen import cache

    real_rename = cache.os.rename

    def failing_rename(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(cache.os, "rename", failing_rename)
    from symbackprop import CacheError
    with pytest.raises(CacheError, match="cannot write the kernel cache"):
        symbackprop.compile(_net(), cache_dir=tmp_path, warm_up=False)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("index-")]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]
    monkeypatch.setattr(cache.os, "rename", real_rename)
    assert not symbackprop.compile(_net(), cache_dir=tmp_path, warm_up=False).from_cache
