"""The notebooks in examples/ run clean, top to bottom, in a fresh Jupyter kernel (nbclient),
and are kept in the repository without outputs (they are sources, not results)."""
from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))


def test_the_four_teaching_notebooks_are_there():
    assert {p.name for p in NOTEBOOKS} >= {"chain_rule.ipynb", "cost_of_gradients.ipynb",
                                           "vanishing_gradients.ipynb", "cnn_rules.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} holds outputs: clear them"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_clean(path):
    book = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(book, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(EXAMPLES)}})
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if any cell fails
    outputs = [o for cell in book.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    # the pictures and the rich reprs reach the reader: each drawing cell shows exactly one image
    # (not a second one from a plotting backend), explanations and derivations as HTML
    for cell in book.cells:
        if cell.cell_type == "code" and cell.source.strip().splitlines()[-1].rstrip().endswith(")") and \
                any(word in cell.source.splitlines()[-1] for word in ("draw", "_plot(")):
            images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
            assert len(images) == 1, f"{path.name}: {cell.source.splitlines()[-1]!r} shows {len(images)} images"
    kinds = {k for o in outputs for k in o.get("data", {})}
    assert "image/png" in kinds
    if path.name in ("chain_rule.ipynb", "cnn_rules.ipynb"):
        assert "text/html" in kinds
