"""`symbackprop cost`: the op-count lesson, measured on a small sweep."""
from __future__ import annotations

import pytest

from symbackprop.cli import main
from symbackprop.explain.cost import cost_sweep, depth_sweep, width_sweep


def test_sweeps_grow_the_way_they_say():
    assert width_sweep([2, 3]) == [(2, 2, 1), (3, 3, 1)]
    assert depth_sweep([1, 3], width=4) == [(4, 4, 1), (4, 4, 4, 4, 1)]


def test_shared_partials_cut_the_cost_more_as_the_network_deepens():
    rows = cost_sweep(widths=[2, 4], depths=[1, 2, 3], depth_width=3)
    by_sweep = {s: [r for r in rows if r.sweep == s] for s in ("width", "depth")}
    for r in rows:
        assert r.naive is not None and r.naive_cse is not None
        assert r.forward < r.chain_rule < r.naive
        assert r.naive_cse < r.naive
        assert r.chain_seconds > 0 and r.naive_seconds > 0
    depth = by_sweep["depth"]
    ratios = [r.naive / r.chain_rule for r in depth]
    assert ratios == sorted(ratios) and ratios[-1] > 10 * ratios[0]
    # backprop stays a small multiple of the forward pass, however deep
    assert all(r.chain_rule < 4 * r.forward for r in depth)
    # CSE of the naive form cannot keep up with depth: the chain rule wins on the deepest
    assert depth[-1].chain_rule < depth[-1].naive_cse


def test_a_network_in_both_sweeps_is_derived_once():
    rows = cost_sweep(widths=[3], depths=[1], depth_width=3)
    assert [r.sweep for r in rows] == ["width", "depth"]
    assert rows[0].chain_seconds == rows[1].chain_seconds  # the same measurement


def test_cli_prints_the_table_and_plots(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png = tmp_path / "cost.png"
    assert main(["cost", "--widths", "2", "--depths", "1,2", "--depth-width", "2", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:4] == ["sweep", "network", "params", "naive"]
    assert "width  2-2-1" in out and "depth  2-2-2-1" in out and f"plotted {png}" in out
    assert png.read_bytes().startswith(b"\x89PNG")


def test_naive_form_can_be_left_out(capsys):
    assert main(["cost", "--widths", "2", "--depths", "1", "--depth-width", "2", "--naive", "no"]) == 0
    row = capsys.readouterr().out.splitlines()[2]
    assert row.split()[3] == "—"


def test_a_plot_without_matplotlib_fails_before_the_run(capsys, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    assert main(["cost", "--widths", "2", "--depths", "1", "--plot", "x.png"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing measured
    assert "--plot needs matplotlib: pip install 'symbackprop[plot]'" in captured.err
