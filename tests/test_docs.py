"""The docs' examples are the tool's own output: rerun every marked block and compare."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
spec = importlib.util.spec_from_file_location("regenerate", DOCS / "regenerate.py")
regenerate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(regenerate)

PAGES = [p for p in sorted(DOCS.glob("*.md")) if regenerate.MARKER.search(p.read_text())]


def test_the_guide_has_generated_examples():
    assert DOCS / "guide.md" in PAGES
    commands = [m["command"] for m in regenerate.MARKER.finditer((DOCS / "guide.md").read_text())]
    assert {"symbackprop explain", "symbackprop explain --sizes 2,3,1", "python"} <= set(commands)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_generated_output_is_current(page):
    stale = [command for command, shown, now in regenerate.blocks(page)
             if regenerate.normalize(shown) != regenerate.normalize(now)]
    assert not stale, f"rerun `python docs/regenerate.py`: output of {stale} changed in {page.name}"
