"""Checkpoints: architecture, parameters, normalisation and optimizer state in one file.

The file is a NumPy ``.npz`` archive read with ``allow_pickle=False``, so loading one can
never execute code.  A JSON header (stored as bytes) names the format; a file without it
is refused.  Writes go to a temporary file in the same folder that is renamed over the
target only once complete, so an interrupted save leaves the previous checkpoint intact.
"""
from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import check_writable, write_atomically
from ..errors import ArchitectureError, CheckpointError, UnknownActivationError, UnknownLossError
from ..model.network import Network
from ..model.parameters import check_dtype
from ..model.parameters import Parameters, aligned_copy
from .normalize import Normalizer
from .optimizers import Optimizer

FORMAT = "symbackprop-checkpoint"
VERSION = 1


@dataclass
class Checkpoint:
    """Everything needed to predict with, or resume training of, a network."""

    network: Network
    params: Parameters
    normalizer: Normalizer = field(default_factory=Normalizer)
    optimizer: Optimizer | None = None
    #: epochs completed, the data's record (:meth:`~.data.Dataset.record`), the training settings, the
    #: history, ...: JSON-able facts about the run
    info: dict = field(default_factory=dict)
    #: row numbers of the data the run trained, validated and was tested on (``train``, ``val``, ``test``)
    rows: dict[str, np.ndarray] = field(default_factory=dict)


def _is_checkpoint(path: Path) -> bool:
    """``path`` holds an archive with a symbackprop header (damaged or not otherwise)."""
    try:
        with zipfile.ZipFile(path) as archive:
            if "header.npy" not in archive.namelist():
                return False
            with archive.open("header.npy") as f:
                return FORMAT.encode() in f.read(4096)
    except Exception:  # noqa: BLE001 -- not a readable archive: not a checkpoint
        return False


def _refuse_overwriting(path: Path) -> None:
    """A :class:`CheckpointError` when ``path`` holds a file that is not a checkpoint."""
    if path.is_file() and path.stat().st_size and not _is_checkpoint(path):
        raise CheckpointError(f"{path} exists and is not a symbackprop checkpoint; it is never overwritten "
                              "(choose another name, or remove the file)")


def check_checkpoint_path(path: str | os.PathLike) -> Path:
    """``path``, or a :class:`CheckpointError` when a checkpoint may not be written there: a name
    without ``.npz``, a place nothing can be written, or an existing file that is not a
    checkpoint (a data file given by mistake is never overwritten)."""
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise CheckpointError(f"a checkpoint file's name ends in .npz, got {path}")
    try:
        check_writable(path, "checkpoint")
    except NotADirectoryError as exc:
        raise CheckpointError(f"cannot write checkpoint {path}: {exc.strerror}") from None
    _refuse_overwriting(path)
    return path


def save_checkpoint(path: str | os.PathLike, ckpt: Checkpoint) -> Path:
    """Write ``ckpt`` to ``path`` atomically (see :func:`check_checkpoint_path` for what is refused)."""
    path = Path(path)
    _refuse_overwriting(path)
    header = {"format": FORMAT, "version": VERSION, "model": ckpt.network.spec(),
              "normalizer": ckpt.normalizer.kind, "optimizer": ckpt.optimizer.settings() if ckpt.optimizer else None,
              "info": ckpt.info}
    arrays = {"header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8), "params": ckpt.params.flat}
    if ckpt.normalizer.shift is not None:
        arrays["norm_shift"], arrays["norm_scale"] = ckpt.normalizer.shift, ckpt.normalizer.scale
    if ckpt.optimizer is not None:
        arrays.update({f"opt_{k}": v for k, v in ckpt.optimizer.state.items()})
    arrays.update({f"rows_{part}": np.asarray(r, dtype=np.int64) for part, r in ckpt.rows.items()})
    for folder in (path.parent, *path.parent.parents):
        if folder.exists():
            if not folder.is_dir():
                raise CheckpointError(f"cannot write checkpoint {path}: {folder} is a file, not a folder")
            break
    try:
        write_atomically(path, lambda f: np.savez(f, **arrays))
    except OSError as exc:
        raise CheckpointError(f"cannot write checkpoint {path}: {exc.strerror or exc}; "
                              f"the previous checkpoint, if any, is unchanged") from None
    return path


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`; anything else is a :class:`CheckpointError`."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    if not zipfile.is_zipfile(path):
        with path.open("rb") as f:
            zipped = f.read(4) == b"PK\x03\x04"  # an archive whose end is missing
        raise CheckpointError(f"{path} is a damaged checkpoint (a truncated or corrupt .npz archive)" if zipped
                              else f"{path} is not a symbackprop checkpoint (not an .npz archive)")
    try:
        with zipfile.ZipFile(path) as archive:
            members = set(archive.namelist())
    except Exception as exc:  # noqa: BLE001 -- whatever zipfile trips over in a damaged file
        raise CheckpointError(f"{path} is a damaged checkpoint (unreadable archive: {exc})") from None
    if "header.npy" not in members:
        raise CheckpointError(f"{path} is not a symbackprop checkpoint (no header)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except ValueError as exc:
        if "pickle" in str(exc):
            raise CheckpointError(f"{path} is not a symbackprop checkpoint (it holds pickled objects, which "
                                  "are never loaded)") from None
        raise CheckpointError(f"{path} is a damaged checkpoint (unreadable: {exc})") from None
    except Exception as exc:  # noqa: BLE001 -- a flipped byte can make zipfile or zlib raise anything
        raise CheckpointError(f"{path} is a damaged checkpoint (unreadable: {exc})") from None
    try:
        header = json.loads(arrays.pop("header").tobytes().decode())
    except (ValueError, UnicodeDecodeError):
        raise CheckpointError(f"{path} is a damaged checkpoint (its header is not readable)") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a symbackprop checkpoint")
    if header.get("version") != VERSION:
        raise CheckpointError(f"{path} has checkpoint version {header.get('version')}; this symbackprop reads "
                              f"version {VERSION}")
    try:
        network = Network.from_spec(header["model"])
        flat = arrays["params"]
        params = Parameters(network.param_shapes(), aligned_copy(flat, check_dtype(flat.dtype)))
        normalizer = Normalizer(header.get("normalizer", "none"), arrays.get("norm_shift"), arrays.get("norm_scale"))
        optimizer = None
        if header.get("optimizer"):
            optimizer = Optimizer(**header["optimizer"])
            optimizer.state = {k[4:]: aligned_copy(v) for k, v in arrays.items() if k.startswith("opt_")}
        info = header.get("info", {})
        if not isinstance(info, dict):
            raise TypeError("its run info is not a record")
        rows = {k[5:]: v for k, v in arrays.items() if k.startswith("rows_")}
        if any(v.ndim != 1 or v.dtype.kind not in "iu" for v in rows.values()):
            raise ValueError("its row numbers are not a list of integers")
    except (UnknownActivationError, UnknownLossError) as exc:
        raise CheckpointError(f"{path} cannot be rebuilt: {exc} (an activation or loss of your own must be "
                              "registered again before loading)") from None
    except (KeyError, TypeError, ValueError, AttributeError, ArchitectureError) as exc:
        raise CheckpointError(f"{path} is a damaged symbackprop checkpoint: {exc}") from None
    except RecursionError:
        raise CheckpointError(f"{path} is a damaged symbackprop checkpoint: its model description nests too "
                              "deeply") from None
    if not np.all(np.isfinite(params.flat)):
        raise CheckpointError(f"{path} holds non-finite parameters")
    return Checkpoint(network, params, normalizer, optimizer, info, rows)
