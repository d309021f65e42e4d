"""The on-disk kernel cache: one folder per (model, view, library versions).

Numba's ``cache=True`` only works for functions defined in a real file, so generated
source is written to ``<cache>/<view>-<key>/kernels.py`` and imported from there; Numba
then keeps the compiled machine code beside it in ``__pycache__``.  ``meta.json`` holds
what the derivation found (op counts, formulas, timings) and the SHA-256 of the source,
so a second run of the same model skips derivation *and* compilation.  The kernels a module
loads from files of their own (:mod:`.kernel_files`) live in ``<cache>/kernels/``, one file
per kernel, shared by every entry that has it; an entry records each one's SHA-256 too.

Entries are written atomically: everything goes to a temporary folder first, which is
renamed into place in one step.  If two processes build the same entry at once, the
first rename wins and the other discards its copy.  An entry whose source does not
match its recorded hash (truncated, edited) is moved aside and rebuilt.  A cache that
cannot be written (read-only, someone else's) is still read; on a miss the kernels are
compiled into a temporary cache for this process, with a warning, instead of failing.
"""
from __future__ import annotations

import atexit
import errno
import functools
import hashlib
import json
import os
import shutil
import tempfile
import types
import uuid
import warnings
from pathlib import Path
from typing import Callable

from ..atomic import current_umask, write_text_atomically
from ..errors import CacheError, SymbackpropWarning
from .kernel_files import FOLDER, import_file

#: bump when the generated code's shape changes, to invalidate older entries
FORMAT_VERSION = 3


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """``cache_dir``, else ``$SYMBACKPROP_CACHE_DIR``, else ``~/.cache/symbackprop``."""
    if cache_dir is None:
        cache_dir = os.environ.get("SYMBACKPROP_CACHE_DIR") or Path.home() / ".cache" / "symbackprop"
    return Path(cache_dir)


def entry_key(spec: dict, view: str) -> str:
    """Hash of everything the generated code depends on."""
    import numba
    import sympy

    from ..version import __version__
    payload = {"model": spec, "view": view, "format": FORMAT_VERSION, "symbackprop": __version__,
               "sympy": sympy.__version__, "numba": numba.__version__, "generator": _generator_digest()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@functools.cache
def _generator_digest() -> str:
    """Hash of the source of the stages that shape kernels (model, derive, simplify, codegen).

    Numba's own cache checks only the generated file, and the generated file changes
    only when the generator does: hashing the generator's source means an edited
    generator (a development checkout, a patched install) never meets stale kernels.
    """
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for stage in ("model", "derive", "simplify", "codegen"):
        for path in sorted((package / stage).rglob("*.py")):  # layer kinds live in model/layers/
            digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


#: errors that mean "this folder is not ours to write", as opposed to a full disk or a broken entry
_NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)


def _check_root(root: Path) -> None:
    """A :class:`CacheError` when the cache path, or a folder above it, is a file."""
    for folder in (root, *root.parents):
        if folder.exists():
            if not folder.is_dir():
                where = "it is a file" if folder == root else f"{folder} is a file"
                raise CacheError(f"the kernel cache must be a folder, but {root} cannot be one: {where}; "
                                 "set SYMBACKPROP_CACHE_DIR (or --cache-dir) to a folder")
            return


def check_cache_path(cache_dir: str | os.PathLike | None = None) -> None:
    """Refuse, before any work, a kernel cache path that cannot be a folder."""
    _check_root(cache_root(cache_dir))


@functools.cache
def _temporary_root(root: Path, reason: str) -> Path:
    """A cache for this process only, used (once, with a warning) where ``root`` cannot be written."""
    tmp = Path(tempfile.mkdtemp(prefix="symbackprop-cache-"))
    atexit.register(shutil.rmtree, tmp, True)
    warnings.warn(f"the kernel cache at {root} cannot be written ({reason}): compiling into a temporary cache "
                  f"that is removed at exit; set SYMBACKPROP_CACHE_DIR to a writable folder to keep the kernels",
                  SymbackpropWarning, stacklevel=3)
    return tmp


def kernel_salt() -> str:
    """What a kernel file's machine code depends on besides its text (:func:`.kernel_files.kernel_stem`):
    the generator (the shared kernels it links) and Numba."""
    import numba
    return f"{FORMAT_VERSION}:{numba.__version__}:{_generator_digest()}"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _same_text(path: Path, sha256: str) -> bool:
    try:
        return _sha256(path.read_text()) == sha256
    except (OSError, ValueError):
        return False


def _read_entry(folder: Path) -> dict | None:
    """The entry's metadata if the entry is complete and intact (its kernel files too), else None."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
        source = (folder / "kernels.py").read_text()
    except (OSError, ValueError):
        return None
    if meta.get("source_sha256") != _sha256(source):
        return None
    if not all(_same_text(folder.parent / FOLDER / f"{stem}.py", sha)
               for stem, sha in meta.get("kernel_files", {}).items()):
        return None
    return meta


def _write_kernel_files(root: Path, files: dict[str, str]) -> None:
    """Each kernel file not already there (or damaged), atomically; one that is intact is left
    alone, so its modification time, which Numba's cache checks, does not change."""
    for stem, text in files.items():
        path = root / FOLDER / f"{stem}.py"
        if not _same_text(path, _sha256(text)):
            write_text_atomically(path, text, make_folders=True)


def _write_entry(root: Path, folder: Path, source: str, meta: dict, files: dict[str, str]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    _write_kernel_files(root, files)  # before the entry that loads them appears
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{folder.name}-", dir=root))
    try:
        tmp.chmod(0o777 & ~current_umask())  # not mkdtemp's 0700: a shared cache stays readable
        (tmp / "kernels.py").write_text(source)
        (tmp / "meta.json").write_text(json.dumps({**meta, "source_sha256": _sha256(source),
                                                   "kernel_files": {stem: _sha256(text) for stem, text in files.items()}},
                                                  indent=1))
        try:
            os.rename(tmp, folder)
        except OSError:
            if _read_entry(folder) is None:  # not a concurrent winner: a broken entry is in the way
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _set_aside(folder: Path) -> None:
    """Move a broken entry out of the way (rename is atomic; deletion may race)."""
    trash = folder.with_name(f".broken-{folder.name}-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(folder, trash)
    except OSError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def import_kernels(path: Path, name: str) -> types.ModuleType:
    """Import the generated module at ``path`` (once per process)."""
    return import_file(path, name, CacheError)


def load_or_build_json(path: Path, build: Callable[[], dict]) -> tuple[dict, bool]:
    """A small JSON record at ``path``, built and written atomically if missing or unreadable."""
    try:
        return json.loads(path.read_text()), True
    except (OSError, ValueError):
        pass
    data = build()
    try:
        write_text_atomically(path, json.dumps(data, indent=1), make_folders=True)
    except OSError as exc:
        if exc.errno not in _NOT_WRITABLE:
            raise CacheError(f"cannot write {path}: {exc.strerror or exc}") from None
        stand_in = _temporary_root(path.parent.parent, exc.strerror or str(exc)) / path.parent.name / path.name
        write_text_atomically(stand_in, json.dumps(data, indent=1), make_folders=True)
    return data, False


def load_or_build(spec: dict, view: str, build: Callable[[], tuple[str, dict]],
                  cache_dir: str | os.PathLike | None = None) -> tuple[types.ModuleType, dict, bool, Path]:
    """Load the kernels for ``(spec, view)`` from the cache, building them if needed.

    ``build()`` returns ``(source, meta, kernel files)``.  Returns ``(module, meta, from_cache, folder)``.
    """
    root = cache_root(cache_dir)
    _check_root(root)
    key = entry_key(spec, view)
    folder = root / f"{view}-{key[:24]}"
    meta = _read_entry(folder)
    from_cache = meta is not None
    if meta is None:
        if folder.exists():
            _set_aside(folder)
        source, meta, files = build()
        try:
            _write_entry(root, folder, source, {**meta, "key": key}, files)
        except OSError as exc:
            if exc.errno not in _NOT_WRITABLE:
                raise CacheError(f"cannot write the kernel cache at {root}: {exc.strerror or exc}; "
                                 f"set SYMBACKPROP_CACHE_DIR to a writable folder") from None
            folder = _temporary_root(root, exc.strerror or str(exc)) / folder.name
            _write_entry(folder.parent, folder, source, {**meta, "key": key}, files)
        meta = _read_entry(folder)
        if meta is None:
            raise CacheError(f"kernel cache entry {folder} is unreadable right after writing it")
    module = import_kernels(folder / "kernels.py", f"symbackprop_kernels_{view}_{key[:24]}")
    return module, meta, from_cache, folder
