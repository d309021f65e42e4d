"""scikit-learn's answers kept on disk: a bundled data set's arrays, a split's row numbers.

Importing scikit-learn (and the parts of SciPy it pulls in) took 1.0 s of the warm ``train``
command's 1.9 s start-up, for two answers that never change for the same question: the
digits' pixels, and which rows ``train_test_split`` puts where for a seed and fractions.
Both are kept as ``.npz`` files under the default kernel cache (``$SYMBACKPROP_CACHE_DIR`` or ``~/.cache/symbackprop``, in
``sklearn/``; not a run's ``--cache-dir``, which names where its kernels go), keyed by the
question and by scikit-learn's version (read from its installed metadata, which imports
nothing), so a new scikit-learn answers afresh.  Files are written atomically; one that
cannot be read, or a cache that cannot be written, means scikit-learn is asked, as without
the cache.
"""
from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import Callable

import numpy as np

from ..atomic import write_atomically
from ..codegen.cache import cache_root


def _sklearn_version() -> str:
    try:
        return metadata.version("scikit-learn")
    except metadata.PackageNotFoundError:  # pragma: no cover - a core dependency
        return "unknown"


#: bump when what symbackprop makes of scikit-learn's answers changes (the digits' scaling, say)
FORMAT = 1


def _path(kind: str, question: dict) -> Path:
    key = json.dumps({"format": FORMAT, "sklearn": _sklearn_version(), **question}, sort_keys=True)
    return cache_root() / "sklearn" / f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:24]}.npz"


def kept(kind: str, question: dict, names: tuple[str, ...], ask: Callable[[], dict[str, np.ndarray]]
         ) -> dict[str, np.ndarray]:
    """The arrays ``names`` that ``ask()`` returns for ``question`` (JSON values), from disk if
    kept there."""
    path = _path(kind, question)
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {name: stored[name] for name in names}
    except Exception:  # missing, truncated, not an .npz, without a name: asked again, and rewritten
        pass
    answer = ask()
    try:
        write_atomically(path, lambda f: np.savez(f, **{name: answer[name] for name in names}), make_folders=True)
    except OSError:  # a read-only cache: asked each time, as without it
        pass
    return answer


def fingerprint(array: np.ndarray) -> str:
    """SHA-256 of an array's shape, dtype and bytes."""
    array = np.ascontiguousarray(array)
    digest = hashlib.sha256(repr((array.shape, array.dtype.str)).encode())
    digest.update(array.tobytes())
    return digest.hexdigest()
