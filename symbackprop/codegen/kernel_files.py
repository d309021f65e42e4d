"""Kernels in files of their own, shared by every network that has the same kernel.

Numba keeps a function's machine code beside the file that defines it, keyed by that file
and the function's name.  While each layer kernel lived in its network's module, a network
that differed from an earlier one only in a later layer compiled its first layers again.
So the cache's modules keep each kernel (``forward1``, ``backward3``, ``batch_loss``,
``forward_pass``, ...) in a file of its own under ``<cache>/kernels/``, named by a hash of
its text: two networks whose first convolution is the same (input shape, channels, window,
stride, padding, activation, and whether it is the first layer) load the same file, and the
second finds the machine code in Numba's cache.

A kernel's file is a whole module: the header's imports, the inline helpers (``_exp``,
``_softplus``), the shared kernels' imports and the one function, so its text is all its
machine code depends on, with the generator's digest and Numba's version added to the hash
(as :func:`.cache.entry_key` adds them to a network's).  The network's module loads it by
name (:func:`load_kernel`), from beside its own folder.  Exported modules keep every
kernel inline: they must stand alone (:mod:`.export`).

This module runs inside generated modules: it imports neither SymPy nor the generator.
"""
from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

#: the folder of the kernel files, beside the networks' folders in the cache
FOLDER = "kernels"


def kernel_stem(name: str, text: str, salt: str) -> str:
    """The file name (without ``.py``) of kernel ``name`` whose file holds ``text``; ``salt``:
    what else its machine code depends on (the generator's digest, Numba's version)."""
    digest = hashlib.sha256(f"{salt}\0{text}".encode()).hexdigest()[:20]
    return f"{name}_{digest}"


def kernel_path(module_file: str | Path, stem: str) -> Path:
    """Where the kernel file ``stem`` of the network module at ``module_file`` lives."""
    return Path(module_file).resolve().parent.parent / FOLDER / f"{stem}.py"


def import_file(path: Path, module_name: str, error: type[Exception] = ImportError):
    """The module at ``path``, imported as ``module_name`` once per process (a failed import
    leaves nothing behind in ``sys.modules``); ``error``: what to raise if it is no module."""
    module = sys.modules.get(module_name)
    if module is not None:
        return module
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise error(f"cannot import generated kernels from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def load_kernel(module_file: str, stem: str, name: str):
    """The function ``name`` of the kernel file ``stem`` (imported once per process)."""
    return getattr(import_file(kernel_path(module_file, stem), f"symbackprop_kernel_{stem}"), name)
