"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Everything symbackprop writes for a user (checkpoints, cache records, exported kernels,
explanations, plots) goes through here: the data is written to a temporary file in the
target's folder, flushed to disk, then renamed over the target in one step.  The new
file gets the permissions an ordinary write would give it (those of the file it
replaces, else 0666 less the umask; a temporary file alone would be 0600), and an error
names the target, never the temporary file.  A symbolic link is followed (its target is
replaced, the link kept); anything but a regular file (``/dev/null``, a pipe) is refused,
never replaced.
"""
from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Callable

__all__ = ["check_writable", "current_umask", "write_atomically", "write_text_atomically"]


def current_umask() -> int:
    """The process's umask (reading it means setting it, so it is put back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o666 & ~current_umask()


def _target(path: Path) -> Path:
    """The file a write to ``path`` replaces: a symbolic link's target (the link stays a link)."""
    return path.resolve() if path.is_symlink() else path


def check_writable(path: str | os.PathLike, what: str = "file") -> Path:
    """``path``, or an ``OSError`` naming it when a file cannot be written there: the folder is
    missing (it is not created behind the user's back), is a file, or is read-only, or the path
    is a folder.  Called before long work, so a run does not end by failing to save."""
    path = _target(Path(path))
    folder = path.parent
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"the {what} path is a folder", str(path))
    if path.exists() and not path.is_file():
        raise OSError(errno.EINVAL, f"the {what} path is not a regular file (a device or a pipe?); it is never "
                      "replaced", str(path))
    if not folder.exists():
        raise FileNotFoundError(errno.ENOENT, f"the {what}'s folder {folder} does not exist", str(path))
    if not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"{folder} is a file, not a folder", str(path))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, f"the folder {folder} is not writable", str(path))
    return path


def _naming(exc: OSError, path: Path) -> OSError:
    """``exc`` about ``path`` (the target) instead of the temporary file."""
    if exc.errno is None:
        return exc
    return type(exc)(exc.errno, exc.strerror, str(path))


def write_atomically(path: str | os.PathLike, write: Callable[[IO[bytes]], None], *,
                     make_folders: bool = False) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it to ``path``.

    On any failure the temporary file is removed and ``path`` is left as it was.  The
    folder must exist unless ``make_folders`` (the kernel cache builds its own tree).
    """
    path = _target(Path(path))
    if make_folders:
        path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not path.is_file():  # renaming over /dev/null would replace the device
        check_writable(path)
    mode = _mode_for(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        check_writable(path)  # the clearer reason, if there is one
        raise _naming(exc, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _naming(exc, path) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomically(path: str | os.PathLike, text: str, *, make_folders: bool = False) -> Path:
    """``text`` (UTF-8) to ``path``, atomically."""
    return write_atomically(path, lambda f: f.write(text.encode("utf-8")), make_folders=make_folders)
