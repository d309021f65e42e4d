"""A cold compile on two cores (codegen/split_compile.py) and the kernels called by address it relies on."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest

import symbackprop
from symbackprop.codegen import split_compile
from symbackprop.codegen.kernel_table import KernelTable
from symbackprop.model.architecture import build_network


def _needs_fork():
    """Skip unless a split may fork here and now (Linux, two cores, one Python thread: a test
    before this one may have left a thread behind, such as tqdm's monitor)."""
    if not split_compile.fork_pays():
        pytest.skip("a forked child needs Linux, two cores and a process with one Python thread")


@pytest.fixture
def one_thread(monkeypatch):
    """These children only write files, which is safe beside other threads: let them fork."""
    monkeypatch.setattr(split_compile.threading, "active_count", lambda: 1)
    _needs_fork()


def test_the_shares_are_about_equal_and_keep_their_order():
    jobs = [split_compile.Job(name, cost, lambda: None) for name, cost in
            [("a", 10), ("b", 100), ("c", 30), ("d", 40), ("e", 35)]]
    mine, theirs = split_compile.halves(jobs)
    assert sorted(j.name for j in mine + theirs) == list("abcde")
    assert [j.name for j in mine] == sorted(j.name for j in mine)  # the given order, within a share
    assert abs(sum(j.cost for j in mine) - sum(j.cost for j in theirs)) <= 35


def test_the_child_runs_its_share(tmp_path, one_thread):
    marks = [tmp_path / f"{k}.done" for k in range(4)]
    pids = tmp_path / "pids"

    def mark(path):
        def run():
            path.write_text("")
            with open(pids, "a") as f:
                f.write(f"{os.getpid()}\n")
        return run
    in_child = split_compile.compile_split([split_compile.Job(p.stem, 10, mark(p)) for p in marks])
    assert in_child == 2 and all(p.exists() for p in marks)
    assert len(set(pids.read_text().split())) == 2  # two processes did the work


def test_a_stuck_child_is_stopped(monkeypatch, one_thread):
    monkeypatch.setattr(split_compile, "GRACE", 0.5)
    parent = os.getpid()

    def hang_in_child():
        while os.getpid() != parent:
            time.sleep(0.1)
    start = time.monotonic()
    jobs = [split_compile.Job("hangs", 10, hang_in_child), split_compile.Job("quick", 10, hang_in_child)]
    split_compile.compile_split(jobs)
    assert time.monotonic() - start < 5


def test_a_cold_compile_loads_the_childs_share_from_numbas_cache(tmp_path):
    _needs_fork()
    net = build_network("conv:2:3,maxpool:2", (1, 6, 6), 3, "relu", "softmax", "cce")
    compiled = symbackprop.compile(net, cache_dir=tmp_path)
    functions = [getattr(compiled.module, name) for name in dir(compiled.module)
                 if hasattr(getattr(compiled.module, name), "stats")]
    hits = sum(sum(f.stats.cache_hits.values()) for f in functions)
    misses = sum(sum(f.stats.cache_misses.values()) for f in functions)
    assert hits > 0 and misses > 0  # compiled here, and loaded what the child compiled
    params = net.init_params(0)
    X = np.random.default_rng(0).normal(size=(5, 36))
    fresh = symbackprop.compile(net, cache_dir=tmp_path / "serial", warm_up=False)
    np.testing.assert_allclose(compiled.forward(X, params), fresh.forward(X, params), rtol=1e-12)


def test_a_kernel_whose_result_is_not_the_declared_one_is_refused():
    from numba import njit

    @njit
    def returns_a_float(x):
        return x[0]
    table = KernelTable({"returns_a_float": returns_a_float}, (("returns_a_float", "v", ("f1",)),), {})
    with pytest.raises(TypeError, match="returns float64, declared none"):
        table.kernel("returns_a_float", np.zeros(1)).compile()


def test_read_only_and_strided_inputs_reach_the_kernels_called_by_address(tmp_path):
    net = build_network("conv:2:3,maxpool:2", (1, 6, 6), 3, "relu", "softmax", "cce")
    compiled = symbackprop.compile(net, cache_dir=tmp_path, warm_up=False)
    params = net.init_params(0)
    X = np.random.default_rng(1).normal(size=(4, 72))
    expected = compiled.forward(np.ascontiguousarray(X[:, ::2]), params)
    read_only = X[:, ::2].copy()
    read_only.flags.writeable = False
    np.testing.assert_array_equal(compiled.forward(read_only, params), expected)
    np.testing.assert_array_equal(compiled.forward(X[:, ::2], params), expected)


def test_a_table_entry_with_one_kernel_prints_as_a_tuple():
    from symbackprop.codegen import ir
    from symbackprop.codegen.printer import KernelPrinter
    text = KernelPrinter().statement(ir.KernelTableDeclaration("_kernels", (("update", "v", ("f1",)),),
                                                               (("_train_epoch", ("update",)),)))
    assert "'_train_epoch': ('update',)," in text
