"""Loss and accuracy curves as a PNG (matplotlib, imported only when a plot is asked for)."""
from __future__ import annotations

import os

from .loop import History


def plot_history(history: History, path: str | os.PathLike, title: str = "") -> None:
    """Training and validation loss (left) and validation accuracy (right) per epoch."""
    from ..plotting import pyplot, save_figure
    plt = pyplot()
    epochs = [e.epoch for e in history.epochs]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epochs, history.train_loss, label="training")
    if any(v is not None for v in history.val_loss):
        left.plot(epochs, history.val_loss, label="validation")
    left.set(xlabel="epoch", ylabel="loss", yscale="log", title="loss")
    left.legend()
    if any(v is not None for v in history.val_accuracy):
        right.plot(epochs, history.val_accuracy, color="tab:green")
    right.set(xlabel="epoch", ylabel="accuracy", title="validation accuracy")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)
