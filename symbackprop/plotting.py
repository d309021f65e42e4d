"""matplotlib, loaded only when a plot or a picture is asked for (it is an optional extra), and plot files.

Figures are made with ``matplotlib.figure.Figure`` directly, never through pyplot: pyplot
would switch the process's backend, keep every figure alive in its registry, and in
Jupyter show each figure a second time.  A finished figure is a :class:`Plot`, which
Jupyter shows as a PNG and :meth:`Plot.save` writes to a file.

A plot's format comes from its file name; :func:`check_plot_path` refuses a name
matplotlib cannot write, or a place nothing can be written, before any long work, and
files are written atomically.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

from .atomic import check_writable, write_atomically
from .errors import SymbackpropError

#: the formats matplotlib's Agg backend writes, by file extension
PLOT_FORMATS = ("png", "svg", "pdf", "jpg", "jpeg", "eps", "ps", "tif", "tiff", "webp")
#: how to get matplotlib, in an installed package and in a checkout
INSTALL_HINT = "pip install 'symbackprop[plot]' (in a checkout: pip install -e '.[plot]')"
#: what the error names when a picture of explain's needs matplotlib
DRAWING = "drawing (explain --graph, --op-graph, --html)"


def require_matplotlib(feature: str = "--plot") -> None:
    """A :class:`SymbackpropError` naming ``feature`` and the extra to install when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise SymbackpropError(f"{feature} needs matplotlib: {INSTALL_HINT}") from None


def new_figure(feature: str = "--plot", **kwargs):
    """A ``matplotlib.figure.Figure`` (no pyplot, no backend switched), or the error of :func:`require_matplotlib`."""
    require_matplotlib(feature)
    from matplotlib.figure import Figure
    return Figure(**kwargs)


def _format(path: Path) -> str:
    return path.suffix.lower().lstrip(".")


def check_plot_path(path: str | os.PathLike | None, feature: str = "--plot") -> None:
    """Fail now, not after a long run, when a plot cannot be written to ``path``."""
    if not path:
        return
    path = Path(path)
    if _format(path) not in PLOT_FORMATS:
        raise SymbackpropError(f"{feature} cannot write {path}: the file name must end in one of "
                               f"{', '.join('.' + f for f in PLOT_FORMATS)}")
    check_writable(path, "picture")
    require_matplotlib(feature)


class Plot:
    """A finished figure: Jupyter shows it (PNG), :meth:`save` writes it; ``figure`` is matplotlib's own."""

    def __init__(self, figure, dpi: int = 100, tight: bool = False, feature: str = "--plot"):
        self.figure, self.dpi, self.tight, self.feature = figure, dpi, tight, feature

    def _savefig(self, target, fmt: str) -> None:
        import matplotlib
        extra = {"bbox_inches": "tight", "pad_inches": 0.1} if self.tight else {}
        # SVG text stays text (not glyph outlines), so a reader or a test can find each number again
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "symbackprop"}):
            self.figure.savefig(target, dpi=self.dpi, format=fmt, **extra)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the figure to ``path`` in the format its extension names, atomically."""
        path = Path(path)
        check_plot_path(path, self.feature)
        write_atomically(path, lambda f: self._savefig(f, _format(path)))
        return path

    def svg(self) -> str:
        """The figure as an SVG document (for a page that inlines it)."""
        buffer = io.StringIO()
        self._savefig(buffer, "svg")
        text = buffer.getvalue()
        return text[text.index("<svg"):]

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self._savefig(buffer, "png")
        return buffer.getvalue()

    def __repr__(self) -> str:
        width, height = self.figure.get_size_inches()
        return f"Plot({width:.1f}×{height:.1f} in; .save(path) writes it, Jupyter shows it)"
