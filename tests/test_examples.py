"""The examples a new user runs first must run."""
from __future__ import annotations

import runpy
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_quickstart_learns_xor(capsys):
    runpy.run_path(str(EXAMPLES / "quickstart.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "∂L/∂W1_0_1 = d1_1*x0" in out
    outputs = [float(v) for v in out.rsplit("outputs [", 1)[1].split("]")[0].split()]
    assert outputs[0] < 0.1 and outputs[1] > 0.9 and outputs[2] > 0.9 and outputs[3] < 0.1
