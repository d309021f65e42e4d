"""Loss and accuracy curves (matplotlib, imported only when a plot is asked for).

A reader should not have to guess: accuracy is drawn on [0, 1], epochs are whole
numbers, each series keeps one colour in both panels (training blue, validation orange,
test green), every panel names its axes, and the held-out test accuracy, the number the
run is judged by, is on the plot beside the curves it came from; the best epoch that
early stopping restored is marked and named in the legend.
"""
from __future__ import annotations

import os

from .loop import History

# ``Plot`` (symbackprop.plotting) is named in annotations only: matplotlib loads when a plot is made

#: one colour per series, the same in every panel
COLOURS = {"training": "C0", "validation": "C1", "test": "C2"}


def history_plot(history: History, title: str = "", test_accuracy: float | None = None,
                 test_label: str = "held-out test") -> "Plot":
    """Training and validation loss (left) and validation accuracy (right) per epoch, with the
    final test accuracy as a marked point at the last epoch when it is given."""
    from ..plotting import Plot, new_figure
    fig = new_figure(figsize=(10, 4))
    from matplotlib.ticker import MaxNLocator
    epochs = [e.epoch for e in history.epochs]
    left, right = fig.subplots(1, 2)
    left.plot(epochs, history.train_loss, color=COLOURS["training"], label="training loss")
    if any(v is not None for v in history.val_loss):
        left.plot(epochs, history.val_loss, color=COLOURS["validation"], label="validation loss")
    left.set(xlabel="epoch", ylabel="loss (log scale)", yscale="log", title="loss")
    if any(v is not None for v in history.val_accuracy):
        right.plot(epochs, history.val_accuracy, color=COLOURS["validation"], label="validation accuracy")
    if test_accuracy is not None and epochs:
        right.plot([epochs[-1]], [test_accuracy], "*", ms=12, color=COLOURS["test"],
                   label=f"{test_label} accuracy {test_accuracy:.4f}")
    right.set(xlabel="epoch", ylabel="accuracy (fraction correct)", title="accuracy", ylim=(0.0, 1.02))
    if history.stopped_early and history.best_epoch is not None:
        for ax in (left, right):
            ax.axvline(history.best_epoch, color="0.5", linestyle=":",
                       label=f"best epoch {history.best_epoch} (weights restored)")
    for ax in (left, right):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    if not right.lines:
        right.text(0.5, 0.5, "no validation or test data", ha="center", va="center", transform=right.transAxes,
                   color="0.4")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return Plot(fig)


def plot_history(history: History, path: str | os.PathLike, title: str = "", test_accuracy: float | None = None,
                 test_label: str = "held-out test") -> None:
    """:func:`history_plot`, written to ``path`` (its extension names the format)."""
    history_plot(history, title, test_accuracy, test_label).save(path)
