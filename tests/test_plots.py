"""Plots a reader can trust: checked on the figures themselves, not by looking.

Accuracy on [0, 1]; whole-number epoch ticks; one colour per series in every panel;
axis labels on every panel; the test accuracy on the training plot; every band and
marker named in a legend.
"""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from symbackprop.explain.cost import cost_plot, cost_sweep  # noqa: E402
from symbackprop.train.loop import EpochRecord, History  # noqa: E402
from symbackprop.train.plot import history_plot  # noqa: E402


def colours_by_label(fig) -> dict[str, set[str]]:
    """Each series' legend label (without its panel-specific words) → the colours it is drawn in."""
    out: dict[str, set[str]] = {}
    for ax in fig.axes:
        for line in ax.get_lines():
            label = line.get_label()
            if not label.startswith("_"):
                out.setdefault(label.replace(" loss", "").replace(" accuracy", ""), set()).add(to_hex(line.get_color()))
    return out


def assert_labelled(fig) -> None:
    for ax in fig.axes:
        assert ax.get_xlabel() and ax.get_ylabel(), f"panel {ax.get_title()!r} lacks an axis label"


def history(stopped_early: bool = False) -> History:
    h = History(best_epoch=3 if stopped_early else None, stopped_early=stopped_early)
    for e in range(1, 6):
        h.epochs.append(EpochRecord(e, 0.05, 1.0 / e, 1.2 / e, 0.5 + 0.08 * e, 0.01))
    return h


def test_training_plot_shows_accuracy_on_0_1_with_the_test_accuracy_and_one_colour_per_series():
    fig = history_plot(history(stopped_early=True), "digits", test_accuracy=0.9722).figure
    left, right = fig.axes
    assert right.get_ylim()[0] == 0.0 and right.get_ylim()[1] >= 1.0
    for ax in (left, right):
        assert isinstance(ax.xaxis.get_major_locator(), MaxNLocator)
        assert all(float(t).is_integer() for t in ax.get_xticks())
    assert_labelled(fig)
    colours = colours_by_label(fig)
    assert colours["validation"] == {to_hex("C1")}  # the same orange in the loss and accuracy panels
    assert colours["training"] == {to_hex("C0")}
    labels = [t.get_text() for t in right.get_legend().get_texts()]
    assert "held-out test accuracy 0.9722" in labels
    assert any("best epoch 3" in t for t in labels)  # the marker early stopping drew is named


def test_cost_plot_keeps_a_series_colour_across_count_and_time_panels():
    rows = cost_sweep(widths=(2, 3), depths=(1, 2))
    fig = cost_plot(rows).figure
    assert_labelled(fig)
    for label, colours in colours_by_label(fig).items():
        assert len(colours) == 1, f"{label} is drawn in {colours}"
    for ax in fig.axes:
        assert all(float(t).is_integer() for t in ax.get_xticks())


def test_gradient_flow_plot_explains_its_grey_band():
    from symbackprop.explain.gradient_flow import FlowRun, FlowSetup, GradientFlow, gradient_flow_plot
    setup = FlowSetup("sigmoid + Xavier", "sigmoid + Xavier", "sigmoid", "xavier_uniform")
    flow = GradientFlow(sizes=[64, 32, 10], epochs=1, lr=0.1,
                        runs=[FlowRun(setup, np.array([[1e-3, 1.0], [1e-2, 1.0]]), [1.0], 0.5)])
    fig = gradient_flow_plot(flow).figure
    assert_labelled(fig)
    middle = fig.axes[1]
    assert any("within 10×" in t.get_text() for t in middle.get_legend().get_texts())
