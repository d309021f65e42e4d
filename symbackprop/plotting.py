"""matplotlib, loaded only when a plot is asked for (it is an optional extra), and plot files.

A plot's format comes from its file name; :func:`check_plot_path` refuses a name
matplotlib cannot write, or a place nothing can be written, before any long work, and
:func:`save_figure` writes the file atomically.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from .atomic import check_writable, write_atomically
from .errors import SymbackpropError

#: the formats matplotlib's Agg backend writes, by file extension
PLOT_FORMATS = ("png", "svg", "pdf", "jpg", "jpeg", "eps", "ps", "tif", "tiff", "webp")


def pyplot(feature: str = "--plot"):
    """``matplotlib.pyplot`` on the file-only Agg backend (in Jupyter, on the notebook's own
    backend, so that a returned figure shows inline), or an error naming ``feature`` and the
    extra to install when matplotlib is missing."""
    try:
        import matplotlib
        if "ipykernel" not in sys.modules:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SymbackpropError(f"{feature} needs matplotlib: pip install 'symbackprop[plot]'") from None
    return plt


def _format(path: Path) -> str:
    return path.suffix.lower().lstrip(".")


def check_plot_path(path: str | os.PathLike | None, feature: str = "--plot") -> None:
    """Fail now, not after a long run, when a plot cannot be written to ``path``."""
    if not path:
        return
    path = Path(path)
    if _format(path) not in PLOT_FORMATS:
        raise SymbackpropError(f"cannot plot to {path}: the file name must end in one of "
                               f"{', '.join('.' + f for f in PLOT_FORMATS)}")
    check_writable(path, "plot")
    pyplot(feature)


def save_figure(fig, path: str | os.PathLike, dpi: int = 100, tight: bool = False) -> None:
    """``fig`` to ``path`` in the format its extension names, atomically; the figure is closed.
    ``tight`` crops the margins to what is drawn (pictures whose size follows their content)."""
    path = Path(path)
    check_plot_path(path)
    extra = {"bbox_inches": "tight", "pad_inches": 0.1} if tight else {}
    try:
        write_atomically(path, lambda f: fig.savefig(f, dpi=dpi, format=_format(path), **extra))
    finally:
        pyplot().close(fig)
