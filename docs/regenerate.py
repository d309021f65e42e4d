"""Regenerate (or check) the tool's output shown in the docs.

A fenced ``text`` block right after a marker line is output the tool produced:

    <!-- output: symbackprop explain --sizes 2,3,1 -->      the command's standard output
    <!-- output: python -->                                 the output of the python block just above

``python docs/regenerate.py`` rewrites every such block from a fresh run;
``python docs/regenerate.py --check`` (and ``tests/test_docs.py``) fails if any differs.
Durations (``0.35 s``) are compared as ``… s``: they are the one thing a rerun changes.
"""
from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
MARKER = re.compile(r"<!-- output: (?P<command>.+?) -->\n```text\n(?P<output>.*?)```\n", re.S)
PYTHON_BLOCK = re.compile(r"```python\n(?P<code>.*?)```\n\s*\Z", re.S)


def run(command: str, before: str) -> str:
    """The output of ``command``; ``python`` runs the last python block in ``before``."""
    if command == "python":
        match = PYTHON_BLOCK.search(before)
        if match is None:
            raise ValueError("an '<!-- output: python -->' marker must follow a python block")
        argv = [sys.executable, "-c", match["code"]]
    else:
        words = shlex.split(command)
        if words[0] != "symbackprop":
            raise ValueError(f"doc commands must be symbackprop commands, got {command!r}")
        argv = [sys.executable, "-m", "symbackprop.cli", *words[1:]]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"{command!r} failed:\n{result.stderr}")
    return result.stdout


def normalize(text: str) -> str:
    """The output with its timings (and the padding that aligns them) masked: a slow machine
    prints 11.92 s where the page shows 7.06 s, and the extra digit shifts the column."""
    return re.sub(r" *\d+\.\d+ s\b", " … s", text)


def blocks(path: Path) -> list[tuple[str, str, str]]:
    """``(command, output shown, output now)`` for every marked block of ``path``."""
    text = path.read_text()
    return [(m["command"], m["output"], run(m["command"], text[:m.start()])) for m in MARKER.finditer(text)]


def regenerate(path: Path) -> None:
    text = path.read_text()
    out, last = [], 0
    for m in MARKER.finditer(text):
        fresh = run(m["command"], text[:m.start()])
        out += [text[last:m.start("output")], fresh]
        last = m.end("output")
    out.append(text[last:])
    path.write_text("".join(out))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare instead of rewriting")
    parser.add_argument("files", nargs="*", type=Path, default=sorted(DOCS.glob("*.md")))
    args = parser.parse_args()
    stale = 0
    for path in args.files:
        if args.check:
            for command, shown, now in blocks(path):
                if normalize(shown) != normalize(now):
                    print(f"{path.name}: output of {command!r} has changed")
                    stale += 1
        elif MARKER.search(path.read_text()):
            regenerate(path)
            print(f"regenerated {path.name}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
