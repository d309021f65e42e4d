"""matplotlib, loaded only when a plot is asked for (it is an optional extra)."""
from __future__ import annotations

from .errors import SymbackpropError


def pyplot():
    """``matplotlib.pyplot`` on the file-only Agg backend, or a named error if matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SymbackpropError("--plot needs matplotlib: pip install 'symbackprop[plot]'") from None
    return plt
