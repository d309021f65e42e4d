"""The pipeline's one-way structure, checked statically (``ast`` only: no package module is imported).

Each stage is a function of the previous stage's value: a model is derived, the derivation
simplified, the simplified form compiled, the compiled network trained, and any of them explained.
So a stage may import only itself, earlier stages and the base modules -- never a later stage --
and a user or a test can stop at any stage and pay for nothing beyond it.  And the generated
kernels, which import only the shared kernels of ``codegen``, must never need SymPy: an import
reaching from a stage into a later one, or a circle, would drag the symbolic stages in with them.
The face (``symbackprop/__init__.py`` and the CLI) sits above every stage and may import any of
them; no stage or base module may import the face.  One stated exception: a stage module may
import the name ``__version__`` from the top package (``from .. import __version__``) -- the
version is data, not a stage.  That import is also left out of the import graph.

Every import counts: module level, lazy (inside functions), under ``if TYPE_CHECKING:``, relative
or absolute, and ``importlib.import_module`` with a literal name.  ``from X import name`` counts as
importing ``X.name`` when a module of that name exists, else ``X``.  Circles (strongly connected
components of the graph over symbackprop's own modules, or a module importing itself) fail too.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "symbackprop"

#: the stages, in pipeline order: sub-package name -> position
STAGES = {"model": 1, "derive": 2, "simplify": 3, "codegen": 4, "train": 5, "explain": 6}
#: base modules: any stage may import them; they import no stage and not the face
BASE = {"errors", "atomic", "interrupts", "plotting", "version"}
#: the face: the top package, the CLI (``cli.py``, ``cli_*.py`` or a ``cli/`` package) and ``sklearn.py``
FACE_RANK = len(STAGES) + 1
#: modules of the top package that are public addresses over the stages, like the top package itself
FACE_MODULES = {"cli", "sklearn"}
#: the only name a stage may import from the top package
VERSION_NAME = "__version__"


def layer_of(module: str) -> tuple[str, int] | None:
    """('stage' | 'base' | 'face', rank) of a module of the package, or None if unclassified."""
    parts = module.split(".")
    if len(parts) == 1:
        return "face", FACE_RANK
    top = parts[1]
    if top in STAGES:
        return "stage", STAGES[top]
    if top in BASE and len(parts) == 2:
        return "base", 0
    return ("face", FACE_RANK) if top in FACE_MODULES or top.startswith("cli_") else None


def describe(module: str) -> str:
    kind, rank = layer_of(module)
    return f"stage {module.split('.')[1]} ({rank})" if kind == "stage" else f"{kind} module {module}"


def find_modules(pkg_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file under ``pkg_dir``."""
    modules = {}
    for path in sorted(pkg_dir.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = [pkg_dir.name, *path.relative_to(pkg_dir).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _absolute(name: str, anchor: str, level: int) -> str | None:
    """``name`` imported ``level`` dots up from package ``anchor`` (None if above the top)."""
    base = anchor.split(".") if level else []
    if level > len(base):
        return None
    return ".".join(base[:len(base) - level + 1] + ([name] if name else [])) if level else name


def _existing(target: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of ``target`` that is a module of the package (None if outside it)."""
    prefixes = (target.rsplit(".", k)[0] for k in range(target.count(".") + 1))
    return next((prefix for prefix in prefixes if prefix in modules), None)


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[tuple[int, str, str]]:
    """(line, imported module, imported name or '') for every import of a package module."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []

    def add(line, target, name=""):
        resolved = _existing(target, modules) if target else None
        if resolved:
            found.append((line, resolved, name))

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node.module or "", package, node.level)
            for alias in node.names:
                sub = f"{source}.{alias.name}" if source else None
                if sub in modules:
                    add(node.lineno, sub)
                else:
                    add(node.lineno, source, alias.name)
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str) and ast.unparse(node.func).endswith("import_module")):
            name = node.args[0].value
            level = len(name) - len(name.lstrip("."))
            anchor = _anchor(node, module)
            if not level or anchor:
                add(node.lineno, _absolute(name[level:], anchor, level))
    return sorted(found)


def _anchor(call: ast.Call, module: str) -> str | None:
    """The ``package`` argument of an ``import_module`` call, when it is ``__name__`` or a literal."""
    arg = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "package"), None)
    if isinstance(arg, ast.Name) and arg.id == "__name__":
        return module
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    return None


def check(pkg_dir: Path) -> tuple[dict[str, Path], list[str], list[str], list[str]]:
    """(modules, unclassified modules, layer offences, circles) for the package at ``pkg_dir``."""
    modules = find_modules(pkg_dir)
    top = pkg_dir.name
    unclassified = [str(modules[m]) for m in modules if layer_of(m) is None]
    offences, graph, where = [], {m: set() for m in modules}, {}
    for module, path in modules.items():
        mine = layer_of(module)
        rel = path.relative_to(pkg_dir.parent)
        for line, target, name in imports_of(module, path, modules):
            theirs = layer_of(target)
            if mine and mine[0] == "stage" and target == top and name == VERSION_NAME:
                continue  # the stated exception: the version is data, not a stage
            graph[module].add(target)
            where.setdefault((module, target), (str(rel), line))
            if mine is None or theirs is None or mine[0] == "face" or theirs[0] == "base":
                continue
            if theirs[0] == "face" or mine[0] == "base" or theirs[1] > mine[1]:
                what = target + (f" (name {name})" if name else "")
                verb = "imports later" if theirs[0] == mine[0] == "stage" else "may not import"
                offences.append(f"{rel}:{line}: imports {what} -- {describe(module)} {verb} {describe(target)}")
    circles = []
    for scc in strongly_connected(graph):
        if len(scc) > 1 or scc[0] in graph[scc[0]]:
            members = sorted(scc)
            edges = [f"{f}:{n}: {a} -> {b}" for (f, n), a, b in sorted((where[a, b], a, b) for a in scc
                                                                           for b in graph[a] if b in scc)]
            head = f"circle of {len(members)} modules" if len(members) > 1 else "a module imports itself"
            circles.append(f"{head}: {', '.join(members)}\n    " + "\n    ".join(edges))
    return modules, unclassified, offences, circles


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the strongly connected components of ``graph``."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            cut = stack.index(v)
            component, stack[cut:] = stack[cut:], []
            on_stack.difference_update(component)
            out.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


@pytest.fixture(scope="module")
def real_tree():
    return check(ROOT)


def test_real_tree_is_scanned_and_classified(real_tree):
    modules, unclassified, _, _ = real_tree
    assert len(modules) >= 30, f"found only {len(modules)} modules under {ROOT}"
    assert not unclassified, "classify these in STAGES or BASE of tests/test_structure.py:\n" + "\n".join(unclassified)


def test_stages_import_only_earlier_stages(real_tree):
    if real_tree[2]:
        pytest.fail(f"{len(real_tree[2])} imports break the pipeline's order:\n" + "\n".join(real_tree[2]),
                    pytrace=False)


def test_no_import_circles(real_tree):
    if real_tree[3]:
        pytest.fail("modules import each other in a circle:\n" + "\n".join(real_tree[3]), pytrace=False)


CLEAN = {
    "__init__.py": "from .errors import Oops\n__version__ = '0'\nfrom . import cli\n",
    "cli.py": "from .model import M\nfrom .explain import e\n",
    "errors.py": "class Oops(Exception): pass\n",
    "model/__init__.py": "from .net import M\nhelper = 1\n",
    "model/net.py": "from ..errors import Oops\nfrom . import other\nclass M: pass\n",
    "model/other.py": "",
    "codegen/__init__.py": "import importlib\nx = importlib.import_module('.kern', __name__)\n",
    "codegen/kern.py": "from .. import __version__\nfrom pkg.model import net\nimport pkg.errors\n",
    "explain/__init__.py": "def e():\n    from ..codegen import kern\n",
}
BAD = {  # case -> (files replacing CLEAN's, expected text in offences or circles)
    "model imports codegen": ({"model/net.py": "from ..codegen.kern import k\n"},
                              "model/net.py:1: imports pkg.codegen.kern"),
    "lazy import": ({"model/net.py": "def f():\n    import pkg.explain\n"}, "model/net.py:2: imports pkg.explain"),
    "TYPE_CHECKING import": ({"model/net.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                              "    from pkg.codegen import kern\n"},
                             "model/net.py:3: imports pkg.codegen.kern"),
    "import_module literal": ({"model/net.py": "import importlib\nimportlib.import_module('pkg.explain')\n"
                                               "importlib.import_module('.codegen', 'pkg')\n"},
                              ("model/net.py:2: imports pkg.explain", "model/net.py:3: imports pkg.codegen ")),
    "stage imports the face": ({"model/net.py": "from .. import __version__, cli\n"}, "imports pkg.cli"),
    "stage imports a face name": ({"model/net.py": "from .. import Oops\n"}, "imports pkg (name Oops)"),
    "base imports a stage": ({"errors.py": "from .model import M\n"}, "errors.py:1: imports pkg.model"),
    "two-module circle": ({"model/net.py": "from . import other\n", "model/other.py": "from .net import M\n"},
                          "circle of 2 modules: pkg.model.net, pkg.model.other"),
    "circle through __init__": ({"model/net.py": "from . import helper\n"},  # a name of __init__, not a module
                                "circle of 2 modules: pkg.model, pkg.model.net"),
    "self-import": ({"model/net.py": "from pkg.model import net\n"}, "a module imports itself: pkg.model.net"),
}


def write_tree(root: Path, files: dict[str, str]) -> Path:
    pkg = root / "pkg"
    for name, text in files.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text, encoding="utf-8")
    return pkg


def test_checker_passes_a_clean_tree(tmp_path):
    modules, unclassified, offences, circles = check(write_tree(tmp_path, CLEAN))
    assert len(modules) == 9 and not unclassified and not offences and not circles, (offences, circles)
    graph = {m: {t for _, t, _ in imports_of(m, p, modules)} for m, p in modules.items()}
    assert graph["pkg.model.net"] == {"pkg.errors", "pkg.model.other"}  # `from . import other`: a sibling
    assert graph["pkg.codegen"] == {"pkg.codegen.kern"}  # import_module('.kern', __name__)
    assert graph["pkg.codegen.kern"] == {"pkg", "pkg.model.net", "pkg.errors"}


@pytest.mark.parametrize("case", list(BAD))
def test_checker_reports(tmp_path, case):
    files, expected = BAD[case]
    _, _, offences, circles = check(write_tree(tmp_path, {**CLEAN, **files}))
    report = "\n".join(offences + circles)
    for text in [expected] if isinstance(expected, str) else expected:
        assert text in report, report
