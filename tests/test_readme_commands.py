"""The accuracy claims in the README, run exactly as the README writes the commands."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from symbackprop.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_command(*markers: str) -> list[str]:
    """The README's `symbackprop ...` command containing every marker (continuation lines joined)."""
    text = README.read_text().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("symbackprop train") and all(m in line for m in markers):
            return shlex.split(line.split("#")[0])[1:]
    raise AssertionError(f"no README command with {markers}")


def _accuracy(out: str) -> float:
    return float(re.search(r"(?:held-out test accuracy|accuracy on the training points[^:]*): (\d\.\d+)",
                           out).group(1))


def test_readme_digits_command_reaches_98_percent(capsys):
    assert main(readme_command("--hidden 512", "--optimizer adam") + ["--no-progress"]) == 0
    assert _accuracy(capsys.readouterr().out) >= 0.98


def test_readme_breast_cancer_command_reaches_97_percent(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the command writes cancer.npz and cancer.png
    assert main(readme_command("--dataset breast_cancer") + ["--no-progress"]) == 0
    assert _accuracy(capsys.readouterr().out) >= 0.97
    assert (tmp_path / "cancer.npz").is_file() and (tmp_path / "cancer.png").is_file()


def test_readme_xor_command_learns_xor(capsys):
    assert main(readme_command("--dataset xor") + ["--no-progress"]) == 0
    assert _accuracy(capsys.readouterr().out) == 1.0


def test_readme_explain_block_runs_as_written(capsys, tmp_path, monkeypatch):
    """Every command of the README's explain/cost/gradient-flow/export block (the checkpoint one needs a file)."""
    monkeypatch.chdir(tmp_path)
    text = README.read_text()
    block = text.split("## See every number", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [shlex.split(line.split("  #")[0])[1:] for line in block.strip().splitlines()]
    assert [c[0] for c in commands] == ["explain", "explain", "explain", "cost", "gradient-flow", "export", "export"]
    for argv in commands:
        if "model.npz" in argv:
            continue
        assert main(argv) == 0, argv
    out = capsys.readouterr().out
    assert "along 4 paths" not in out  # the softmax explanation went to step.tex
    assert "along 4 paths" in (tmp_path / "step.tex").read_text()
    for name in ("cost.png", "gradient_flow.png", "kernels.py"):
        assert (tmp_path / name).is_file()


def test_readme_cnn_command_reaches_98_5_percent(capsys):
    assert main(readme_command("--arch cnn") + ["--no-progress"]) == 0
    assert _accuracy(capsys.readouterr().out) >= 0.985


def test_readme_own_math_command_reaches_97_percent(capsys, registries_restored):
    assert main(readme_command("res(dense:128:swish") + ["--no-progress"]) == 0
    assert _accuracy(capsys.readouterr().out) >= 0.97


def _own_math_section() -> str:
    return README.read_text().split("## Your own math", 1)[1].split("\n## ", 1)[0]


def _run_python_block(section: str, folder: Path) -> tuple[list[str], list[str]]:
    """A section's Python block run in a fresh interpreter in ``folder``: (the lines its ``# ``
    comments show, the lines it printed)."""
    import subprocess
    import sys
    block = section.split("```python", 1)[1].split("```", 1)[0]
    script = folder / "readme_block.py"
    script.write_text(block)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600, cwd=folder)
    assert done.returncode == 0, done.stderr
    return [line[2:] for line in block.splitlines() if line.startswith("# ")], done.stdout.splitlines()


def test_readme_own_math_python_block_prints_what_it_says(tmp_path):
    """The block runs in a fresh interpreter, and each ``print`` gives the line the comment
    under it shows."""
    shown, printed = _run_python_block(_own_math_section(), tmp_path)
    assert shown and printed[:len(shown)] == shown
    assert printed[-1].startswith("loss ")


def test_readme_own_math_commands_run(capsys, registries_restored):
    block = _own_math_section().split("```bash", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    commands = [shlex.split(line.split("  #")[0])[1:] for line in block.strip().splitlines()
                if line.startswith("symbackprop") and not line.startswith("symbackprop train")]
    assert [c[0] for c in commands] == ["derive", "explain"]
    for argv in commands:
        assert main(argv) == 0, argv
    out = capsys.readouterr().out
    assert "d2[n, j] = -sinh(Y[n, j] - a2[n, j])/(B*m2*cosh(Y[n, j] - a2[n, j]))" in out
    assert "z¹₁/(1 + exp(−z¹₁))" in out


def _practitioners_section() -> str:
    return README.read_text().split("## Practitioners", 1)[1].split("\n## ", 1)[0]


def test_readme_practitioner_python_block_prints_what_it_says(tmp_path):
    """The estimator and Model block, in a fresh interpreter: each ``print`` gives the line the comment
    under it shows, and the checkpoint it saves is one the command line reads."""
    shown, printed = _run_python_block(_practitioners_section(), tmp_path)
    assert shown and printed == shown
    assert float(shown[0].split()[0]) >= 0.97  # the bar: GridSearchCV on breast cancer
    assert main(["evaluate", str(tmp_path / "digits.npz"), "--dataset", "digits"]) == 0


def test_readme_sweep_command_runs_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # it writes sweep.csv and sweep-best.npz
    block = _practitioners_section().split("```bash", 1)[1].split("```", 1)[0]
    line = next(l for l in block.splitlines() if l.startswith("symbackprop sweep"))
    assert main(shlex.split(line.split("#")[0])[1:] + ["--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "8 configurations × 3 folds" in out and "LocalCluster" in out
    assert (tmp_path / "sweep.csv").is_file() and (tmp_path / "sweep-best.npz").is_file()


def test_readme_pictures_block_runs_as_written_and_makes_the_committed_picture(capsys, tmp_path, monkeypatch):
    """The README's picture commands, in a scratch folder; the committed PNG is what the first one draws."""
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs" / "images").mkdir(parents=True)
    block = README.read_text().split("## See every number", 1)[1].split("```bash", 2)[2].split("```", 1)[0]
    commands = [shlex.split(line.split("  #")[0]) for line in block.strip().splitlines()]
    assert commands[0][:2] == ["pip", "install"]
    for argv in commands[1:]:
        assert argv[0] == "symbackprop" and main(argv[1:]) == 0, argv
    for name in ("docs/images/backprop-2-3-1.png", "ops.svg", "backprop.html", "cnn.svg"):
        assert (tmp_path / name).is_file(), name

    import numpy as np
    from matplotlib.image import imread

    def same_picture(committed: Path, drawn: Path) -> bool:
        """Pixel for pixel (a changed number is a few dozen pixels), allowing only the faint
        anti-aliasing differences another FreeType could make."""
        a, b = imread(committed), imread(drawn)
        return a.shape == b.shape and float(np.abs(a - b).max()) < 0.25
    images = README.parent / "docs" / "images"
    assert same_picture(images / "backprop-2-3-1.png", tmp_path / "docs/images/backprop-2-3-1.png")
    assert "![The 2-3-1 network" in README.read_text()
    # the guide's operation graph, drawn as the guide says
    assert main(["explain", "--sizes", "2,3,1", "--op-graph", str(tmp_path / "ops.png")]) == 0
    assert same_picture(images / "operations-2-3-1.png", tmp_path / "ops.png")


@pytest.mark.slow  # 20 epochs of the CNN on the augmented digits: about a minute, cold
def test_readme_cnn_command_reaches_99_percent(capsys):
    assert main(readme_command("--arch cnn", "--augment") + ["--no-progress"]) == 0
    assert _accuracy(capsys.readouterr().out) >= 0.99


def _write_idx(path: Path, array) -> None:
    """An MNIST-format IDX file (gzipped): magic 0 0 8 ndim, the extents, the unsigned bytes."""
    import gzip
    import struct
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape))
        f.write(array.astype("uint8").tobytes())


@pytest.mark.slow  # compiles the 28×28 kernels and, for --threads 2, the batch-parallel epoch: about 45 s cold
def test_readme_cnn_idx_command_trains_on_mnist_format_files(capsys, tmp_path, monkeypatch):
    """The README's IDX command as written, on 28×28 files made here from the digits (each
    pixel a 3×3 block, padded by 2: MNIST's shape), with one epoch instead of five."""
    import numpy as np
    from sklearn.datasets import load_digits
    digits = load_digits()
    images = np.pad(np.kron(digits.images, np.ones((3, 3))), ((0, 0), (2, 2), (2, 2))) * (255 / 16)
    monkeypatch.chdir(tmp_path)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", digits.target)
    argv = readme_command("--arch cnn", "--idx-images")
    argv[argv.index("--epochs") + 1] = "1"
    assert main(argv + ["--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "1,797 images of 784 pixels" in out and "each batch split among 2" in out
    assert _accuracy(out) >= 0.8
