"""Datasets that ship inside a package (nothing is downloaded), split for training.

The split is stratified and seeded: train / validation / test.  Digits pixels (0..16)
are scaled to [0, 1] with the dataset's fixed pixel range, so no statistics of the test
set leak into training.
"""
from __future__ import annotations

import csv
import gzip
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError


@dataclass
class Dataset:
    """A split dataset: features are float64, labels are integer classes."""

    name: str
    description: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    #: names of the classes, in label order (label k is class_names[k])
    class_names: list[str] = field(default_factory=list)
    #: ``(channels, rows, cols)`` when each row of features is an image (row-major), else None
    image_shape: tuple[int, int, int] | None = None

    @property
    def binary(self) -> bool:
        """Two classes: one sigmoid output with binary cross-entropy fits."""
        return self.n_classes == 2

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    def summary(self) -> str:
        return (f"{self.name}: {self.description}; train {len(self.y_train):,} / "
                f"validation {len(self.y_val):,} / test {len(self.y_test):,}")


def split(X: np.ndarray, y: np.ndarray, *, seed: int = 0, val_fraction: float = 0.15,
          test_fraction: float = 0.2) -> tuple[np.ndarray, ...]:
    """Stratified train / validation / test split (fractions of the whole set)."""
    from sklearn.model_selection import train_test_split

    if not 0 < test_fraction < 1 or not 0 <= val_fraction < 1 or val_fraction + test_fraction >= 1:
        raise DataError(f"validation ({val_fraction}) and test ({test_fraction}) fractions must be in [0, 1) "
                        "and leave data for training")
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=test_fraction, random_state=seed, stratify=y)
    if val_fraction == 0:
        return X_rest, y_rest, X_rest[:0], y_rest[:0], X_test, y_test
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=val_fraction / (1 - test_fraction), random_state=seed, stratify=y_rest)
    return X_train, y_train, X_val, y_val, X_test, y_test


def load_digits(seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.2) -> Dataset:
    """scikit-learn's 1,797 handwritten 8×8 digits, pixels scaled from 0..16 to 0..1."""
    from sklearn.datasets import load_digits as sk_digits

    data = sk_digits()
    X = data.data.astype(np.float64) / 16.0
    parts = split(X, data.target.astype(np.int64), seed=seed, val_fraction=val_fraction, test_fraction=test_fraction)
    return Dataset("digits", "1,797 handwritten digits, 8×8 pixels, 10 classes", *parts, n_classes=10,
                   class_names=[str(k) for k in range(10)], image_shape=(1, 8, 8))


def load_breast_cancer(seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.2) -> Dataset:
    """scikit-learn's Wisconsin breast-cancer set: 569 samples, 30 features, 2 classes.

    Features are left as they are (their scales differ by 10^4): train with
    ``normalize="standard"``, which is fitted on the training split only.
    """
    from sklearn.datasets import load_breast_cancer as sk_cancer

    data = sk_cancer()
    parts = split(data.data.astype(np.float64), data.target.astype(np.int64), seed=seed,
                  val_fraction=val_fraction, test_fraction=test_fraction)
    return Dataset("breast_cancer", "569 breast-cancer biopsies, 30 features, malignant (0) / benign (1)", *parts,
                   n_classes=2, class_names=[str(n) for n in data.target_names])


def load_xor(seed: int = 0, **_: object) -> Dataset:
    """The four XOR points; train, validation and test are all four (it is a memorisation task)."""
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 0])
    return Dataset("xor", "the 4 points of exclusive-or", X, y, X, y, X, y, n_classes=2, class_names=["0", "1"])


def read_csv(path: str | os.PathLike, label_column: str | int = -1) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read feature columns and one label column from a CSV file with a header row.

    ``label_column`` is a column name or a position (negative counts from the end).
    Labels may be numbers or strings; they become class indices 0..K-1 in sorted order,
    and the class names are returned with them.
    """
    path = Path(path)
    header, body = _read_rows(path)
    if isinstance(label_column, str) and not label_column.lstrip("-").isdigit():
        if label_column not in header:
            raise DataError(f"{path} has no label column {label_column!r}; its columns are: {', '.join(header)}")
        label_at = header.index(label_column)
    else:
        label_at = int(label_column)
        if not -len(header) <= label_at < len(header):
            raise DataError(f"{path} has {len(header)} columns; label column {label_at} does not exist")
        label_at %= len(header)
    if len(header) < 2:
        raise DataError(f"{path} needs at least one feature column besides the label column")
    features, labels = [], []
    for line, row in enumerate(body, start=2):
        features.append(_numbers(path, line, header, row, skip=label_at))
        labels.append(row[label_at].strip())
    X = _finite(path, np.array(features, dtype=np.float64))
    names = sorted(set(labels), key=lambda v: (not _is_number(v), float(v) if _is_number(v) else 0.0, v))
    if len(names) < 2:
        raise DataError(f"{path}: the label column {header[label_at]!r} holds a single class ({names[0]!r})")
    index = {name: k for k, name in enumerate(names)}
    return X, np.array([index[v] for v in labels], dtype=np.int64), names


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and data rows of a CSV file; blank lines are skipped, ragged rows refused."""
    try:
        with path.open(newline="") as f:
            rows = [row for row in csv.reader(f) if row and any(cell.strip() for cell in row)]
    except OSError as exc:
        raise DataError(f"cannot read CSV file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path} is not a text CSV file") from None
    if len(rows) < 2:
        raise DataError(f"{path} has no data rows (a header row and at least one sample are needed)")
    header = [h.strip() for h in rows[0]]
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DataError(f"{path}, line {line}: {len(row)} fields, but the header has {len(header)}")
    return header, rows[1:]


def _numbers(path: Path, line: int, header: list[str], row: list[str], skip: int | None = None) -> list[float]:
    """The row's fields as floats (except column ``skip``), or an error naming line and column."""
    try:
        return [float(v) for k, v in enumerate(row) if k != skip]
    except ValueError:
        bad = next(k for k, v in enumerate(row) if k != skip and not _is_number(v))
        raise DataError(f"{path}, line {line}, column {header[bad]!r}: {row[bad]!r} is not a number") from None


def read_features(path: str | os.PathLike) -> np.ndarray:
    """Every column of a CSV file (header row first) as float features, e.g. for prediction."""
    path = Path(path)
    header, body = _read_rows(path)
    return _finite(path, np.array([_numbers(path, line, header, row) for line, row in enumerate(body, start=2)]))


def _finite(path: Path, X: np.ndarray) -> np.ndarray:
    """``X``, or an error naming the first CSV line (header is line 1) holding NaN or inf."""
    if not np.all(np.isfinite(X)):
        line = int(np.argwhere(~np.isfinite(X))[0][0]) + 2
        raise DataError(f"{path}, line {line}: NaN or inf in the features")
    return X


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_csv(path: str | os.PathLike, label_column: str | int = -1, seed: int = 0, val_fraction: float = 0.15,
             test_fraction: float = 0.2) -> Dataset:
    """A classification data set from the user's CSV file (see :func:`read_csv`), split like the others."""
    X, y, names = read_csv(path, label_column)
    parts = split(X, y, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction)
    return Dataset(Path(path).stem, f"{len(y):,} samples from {path}, {X.shape[1]} features, {len(names)} classes",
                   *parts, n_classes=len(names), class_names=names)


_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an array from an IDX file (the MNIST format), gzip-compressed or not."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"cannot read IDX file {path}: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number)")
    ndim = raw[3]
    if ndim == 0 or len(raw) < 4 + 4 * ndim:
        raise DataError(f"{path} is not an IDX file (bad dimensions)")
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    count = int(np.prod(shape))
    body = raw[4 + 4 * ndim:]
    if len(body) != count * dtype.itemsize:
        raise DataError(f"{path}: header promises shape {shape} ({count * dtype.itemsize:,} bytes of data), "
                        f"found {len(body):,} bytes: the file is truncated or corrupt")
    return np.frombuffer(body, dtype=dtype).reshape(shape)


def load_idx(images: str | os.PathLike, labels: str | os.PathLike, seed: int = 0, val_fraction: float = 0.15,
             test_fraction: float = 0.2) -> Dataset:
    """Images and labels from MNIST-format IDX files the user points at; pixels scaled to [0, 1]."""
    X = read_idx(images)
    y = read_idx(labels)
    image_shape = (1, *X.shape[1:]) if X.ndim == 3 else None
    if y.ndim != 1:
        raise DataError(f"{labels} should hold one label per image, got an array of shape {y.shape}")
    if X.shape[0] != y.shape[0]:
        raise DataError(f"{images} holds {X.shape[0]:,} images but {labels} holds {y.shape[0]:,} labels")
    X = X.reshape(X.shape[0], -1).astype(np.float64)
    if X.max(initial=0) > 1:
        X /= 255.0 if X.max() <= 255 else X.max()
    classes = np.unique(y)
    if classes.min() < 0:
        raise DataError(f"{labels}: labels must be non-negative class numbers, found {classes.min()}")
    n_classes = int(classes.max()) + 1
    parts = split(X, y.astype(np.int64), seed=seed, val_fraction=val_fraction, test_fraction=test_fraction)
    return Dataset(Path(images).stem, f"{X.shape[0]:,} images of {X.shape[1]} pixels from {images}, "
                   f"{n_classes} classes", *parts, n_classes=n_classes, class_names=[str(k) for k in range(n_classes)],
                   image_shape=image_shape)


def shifted_copies(X: np.ndarray, y: np.ndarray, image_shape: tuple[int, ...] | None) -> tuple[np.ndarray, np.ndarray]:
    """``X`` and four copies of every image moved by one pixel (up, down, left, right; zeros come in).

    Handwriting is not centred to the pixel: the shifted copies teach a small network
    that a digit one pixel over is the same digit, which cuts the test error of the
    digits CNN roughly in half.  Only the training split is augmented.
    """
    if image_shape is None:
        raise DataError("shifted copies need images; this data set's rows are not images")
    images = X.reshape(len(X), *image_shape)
    copies = [images]
    for axis, step in ((2, 1), (2, -1), (3, 1), (3, -1)):
        moved = np.roll(images, step, axis=axis)
        edge = [slice(None)] * 4
        edge[axis] = 0 if step > 0 else -1
        moved[tuple(edge)] = 0.0
        copies.append(moved)
    return np.concatenate(copies).reshape(-1, X.shape[1]), np.tile(y, len(copies))


DATASETS = {"digits": load_digits, "breast_cancer": load_breast_cancer, "xor": load_xor}


def load_dataset(name: str, seed: int = 0, **kwargs) -> Dataset:
    """A bundled data set by name: digits, breast_cancer or xor."""
    try:
        loader = DATASETS[name.replace("-", "_")]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}, "
                        f"or give a CSV file (--csv) or IDX files (--idx-images, --idx-labels)") from None
    return loader(seed=seed, **kwargs)
