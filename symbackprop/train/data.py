"""Data sets split for training, with a record of where every row came from.

A :class:`Source` is a whole data set before splitting: a bundled one (nothing is
downloaded), the user's CSV file or IDX files.  It carries a ``record`` that says how to
open it again and a ``fingerprint`` of its contents.  :func:`split_source` makes a
stratified, seeded train / validation / test :class:`Dataset`, keeping the row numbers of
each part, so a checkpoint can record exactly which rows were held out and ``evaluate``
can use those rows, and no others, later.  Digits pixels (0..16) are scaled to [0, 1]
with the dataset's fixed pixel range, so no statistics of the test set leak into training.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from ..errors import DataError
from . import sklearn_results
from .data_files import read_idx, read_labelled

PARTS = ("train", "val", "test")


@dataclass
class Source:
    """A whole data set, before splitting: features (float64), integer classes, and how to find it again."""

    name: str
    description: str
    X: np.ndarray
    y: np.ndarray
    #: label k is class_names[k]
    class_names: list[str]
    #: how to open it again (:func:`open_source`): ``{"kind": "dataset", "name": "digits"}``,
    #: ``{"kind": "csv", "path": ..., "label_column": ...}`` or ``{"kind": "idx", "images": ..., "labels": ...}``
    record: dict
    image_shape: tuple[int, int, int] | None = None
    #: every split part is the whole set (XOR: there is nothing to hold out)
    memorised: bool = False

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the features and labels: the same file edited is a different source."""
        digest = hashlib.sha256(repr((self.X.shape, self.class_names)).encode())
        digest.update(np.ascontiguousarray(self.X, dtype=np.float64).tobytes())
        digest.update(np.ascontiguousarray(self.y, dtype=np.int64).tobytes())
        return digest.hexdigest()


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
    #: the unsplit data, and the row numbers (in it) of each part, in the order the parts hold them
    source: Source | None = None
    rows: dict[str, np.ndarray] = field(default_factory=dict)
    #: seed and fractions of the split
    split_settings: dict = field(default_factory=dict)

    @property
    def binary(self) -> bool:
        """Two classes: one sigmoid output with binary cross-entropy fits."""
        return self.n_classes == 2

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def memorised(self) -> bool:
        """The test rows are training rows: accuracy on them is not held-out accuracy."""
        return self.source is not None and self.source.memorised

    def summary(self) -> str:
        if self.memorised:
            val = f", validation the same {len(self.y_val):,}" if len(self.y_val) else ", no validation"
            return (f"{self.name}: {self.description}; train {len(self.y_train):,}{val}, test the same "
                    f"{len(self.y_test):,} (nothing is held out: accuracy is on the training points)")
        return (f"{self.name}: {self.description}; train {len(self.y_train):,} / "
                f"validation {len(self.y_val):,} / test {len(self.y_test):,}")

    def record(self) -> dict:
        """What a checkpoint keeps about this data (the row numbers are kept as arrays beside it)."""
        if self.source is None:
            return {}
        return {**self.source.record, "fingerprint": self.source.fingerprint, "n_rows": len(self.source.y),
                "class_names": list(self.class_names), "memorised": self.memorised, **self.split_settings}


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    if not 0 < test_fraction < 1:
        raise DataError(f"the test fraction must lie between 0 and 1 (both excluded), got {test_fraction}")
    if not 0 <= val_fraction < 1 or val_fraction + test_fraction >= 1:
        raise DataError(f"the validation fraction ({val_fraction}) must lie in [0, 1) and, with the test "
                        f"fraction ({test_fraction}), leave data for training")


def split_rows(y: np.ndarray, *, seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.2,
               class_names: list[str] | None = None, name: str = "the data") -> dict[str, np.ndarray]:
    """Row numbers of a stratified train / validation / test split (fractions of the whole set):
    scikit-learn's ``train_test_split``, whose answer is kept on disk (:mod:`.sklearn_results`)."""
    _check_fractions(val_fraction, test_fraction)
    counts = np.bincount(y)
    present = counts[counts > 0]
    if present.min() < 2:
        lonely = [k for k in range(len(counts)) if counts[k] == 1]
        label = class_names[lonely[0]] if class_names else str(lonely[0])
        raise DataError(f"{name}: class {label!r} has a single row ({len(lonely)} of {len(present)} classes do): "
                        "a stratified split needs at least 2 rows of every class")

    def ask() -> dict[str, np.ndarray]:
        from sklearn.model_selection import train_test_split

        everything = np.arange(len(y))
        try:
            rest, test = train_test_split(everything, test_size=test_fraction, random_state=seed, stratify=y)
            if val_fraction == 0:
                return {"train": rest, "val": rest[:0], "test": test}
            train, val = train_test_split(rest, test_size=val_fraction / (1 - test_fraction), random_state=seed,
                                          stratify=y[rest])
        except ValueError as exc:  # a part too small to hold every class
            raise DataError(f"{name}: cannot split {len(y):,} rows of {len(present)} classes with validation "
                            f"fraction {val_fraction} and test fraction {test_fraction}: {exc}") from None
        return {"train": train, "val": val, "test": test}
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):  # None, a RandomState: not one answer
        return ask()
    question = {"labels": sklearn_results.fingerprint(np.asarray(y, dtype=np.int64)), "seed": int(seed),
                "val_fraction": float(val_fraction), "test_fraction": float(test_fraction)}
    return sklearn_results.kept("split", question, PARTS, ask)


def split_source(source: Source, *, seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.2,
                 rows: dict[str, np.ndarray] | None = None) -> Dataset:
    """``source`` split into a :class:`Dataset` (or into the parts ``rows`` names, e.g. a checkpoint's)."""
    settings = {"seed": seed, "val_fraction": val_fraction, "test_fraction": test_fraction}
    if rows is None:
        if source.memorised:
            _check_fractions(val_fraction, test_fraction)
            every = np.arange(len(source.y))
            rows = {"train": every, "val": every if val_fraction > 0 else every[:0], "test": every}
        else:
            rows = split_rows(source.y, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction,
                              class_names=source.class_names, name=source.name)
    parts = [array for part in PARTS for array in (source.X[rows[part]], source.y[rows[part]])]
    return Dataset(source.name, source.description, *parts, n_classes=len(source.class_names),
                   class_names=list(source.class_names), image_shape=source.image_shape, source=source,
                   rows={part: np.asarray(rows[part], dtype=np.int64) for part in PARTS}, split_settings=settings)


def digits_source() -> Source:
    """scikit-learn's 1,797 handwritten 8×8 digits, pixels scaled from 0..16 to 0..1 (kept on
    disk after the first load: :mod:`.sklearn_results`)."""
    def ask() -> dict[str, np.ndarray]:
        from sklearn.datasets import load_digits as sk_digits
        data = sk_digits()
        return {"X": data.data.astype(np.float64) / 16.0, "y": data.target.astype(np.int64)}
    data = sklearn_results.kept("dataset", {"name": "digits"}, ("X", "y"), ask)
    return Source("digits", "1,797 handwritten digits, 8×8 pixels, 10 classes", data["X"], data["y"],
                  [str(k) for k in range(10)], {"kind": "dataset", "name": "digits"}, image_shape=(1, 8, 8))


def breast_cancer_source() -> Source:
    """scikit-learn's Wisconsin breast-cancer set: 569 samples, 30 features, 2 classes.

    Features are left as they are (their scales differ by 10^4): train with
    ``normalize="standard"``, which is fitted on the training split only.
    """
    def ask() -> dict[str, np.ndarray]:
        from sklearn.datasets import load_breast_cancer as sk_cancer
        data = sk_cancer()
        return {"X": data.data.astype(np.float64), "y": data.target.astype(np.int64),
                "names": np.array([str(n) for n in data.target_names])}
    data = sklearn_results.kept("dataset", {"name": "breast_cancer"}, ("X", "y", "names"), ask)
    return Source("breast_cancer", "569 breast-cancer biopsies, 30 features, malignant (0) / benign (1)",
                  data["X"], data["y"], [str(n) for n in data["names"]], {"kind": "dataset", "name": "breast_cancer"})


def xor_source() -> Source:
    """The four XOR points: a memorisation task, so every part is all four."""
    return Source("xor", "the 4 points of exclusive-or", np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]),
                  np.array([0, 1, 1, 0]), ["0", "1"], {"kind": "dataset", "name": "xor"}, memorised=True)


def csv_source(path: str | os.PathLike, label_column: str | int = -1) -> Source:
    """A classification data set from the user's CSV file (see :func:`~.data_files.read_csv`)."""
    X, y, names, label_name, feature_names = read_labelled(path, label_column)
    return Source(Path(path).stem, f"{len(y):,} samples from {path}, {X.shape[1]} features, {len(names)} classes",
                  X, y, names, {"kind": "csv", "path": str(Path(path).resolve()), "label_column": str(label_column),
                                "label_name": label_name, "feature_names": feature_names})


def idx_source(images: str | os.PathLike, labels: str | os.PathLike) -> Source:
    """Images and labels from MNIST-format IDX files the user points at; pixels scaled to [0, 1]."""
    X = read_idx(images)
    y = read_idx(labels)
    if X.ndim < 2:
        raise DataError(f"{images} should hold one image (or feature row) per sample, got an array of shape {X.shape}")
    image_shape = (1, *X.shape[1:]) if X.ndim == 3 else None
    if y.ndim != 1:
        raise DataError(f"{labels} should hold one label per image, got an array of shape {y.shape}")
    if X.shape[0] != y.shape[0]:
        raise DataError(f"{images} holds {X.shape[0]:,} images but {labels} holds {y.shape[0]:,} labels")
    if y.size == 0:
        raise DataError(f"{labels} holds no labels")
    if y.dtype.kind == "f" and not np.all(y == np.round(y)):
        raise DataError(f"{labels}: labels must be whole class numbers, found {y[y != np.round(y)][0]}")
    if X.shape[0] == 0 or X[0].size == 0:
        raise DataError(f"{images} holds no images")
    X = X.reshape(X.shape[0], -1).astype(np.float64)
    if X.max(initial=0) > 1:
        X /= 255.0 if X.max() <= 255 else X.max()
    classes, y = np.unique(y, return_inverse=True)  # the classes present, named by their label values
    if len(classes) < 2:
        raise DataError(f"{labels} holds a single class ({classes[0]})")
    names = [str(int(v)) for v in classes]
    return Source(Path(images).stem, f"{X.shape[0]:,} images of {X.shape[1]} pixels from {images}, "
                  f"{len(names)} classes", X, y.astype(np.int64).reshape(-1), names,
                  {"kind": "idx", "images": str(Path(images).resolve()), "labels": str(Path(labels).resolve())},
                  image_shape=image_shape)


SOURCES = {"digits": digits_source, "breast_cancer": breast_cancer_source, "xor": xor_source}


def dataset_source(name: str) -> Source:
    """A bundled data set by name: digits, breast_cancer or xor."""
    try:
        return SOURCES[name.replace("-", "_")]()
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; choose one of: {', '.join(SOURCES)}, "
                        f"or give a CSV file (--csv) or IDX files (--idx-images, --idx-labels)") from None


def open_source(record: dict) -> Source:
    """The source a :meth:`Dataset.record` describes, read again."""
    kind = record.get("kind")
    if kind == "dataset":
        return dataset_source(record["name"])
    if kind == "csv":
        return csv_source(record["path"], record.get("label_column", "-1"))
    if kind == "idx":
        return idx_source(record["images"], record["labels"])
    raise DataError(f"unknown kind of data source {kind!r}")


def load_digits(seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.2) -> Dataset:
    """Digits (:func:`digits_source`), split."""
    return split_source(digits_source(), seed=seed, val_fraction=val_fraction, test_fraction=test_fraction)


def load_breast_cancer(seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.2) -> Dataset:
    """Breast cancer (:func:`breast_cancer_source`), split."""
    return split_source(breast_cancer_source(), seed=seed, val_fraction=val_fraction, test_fraction=test_fraction)


def load_xor(seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.2) -> Dataset:
    """The XOR points: train and test are all four; validation too, unless ``val_fraction`` is 0."""
    return split_source(xor_source(), seed=seed, val_fraction=val_fraction, test_fraction=test_fraction)


def load_csv(path: str | os.PathLike, label_column: str | int = -1, seed: int = 0, val_fraction: float = 0.15,
             test_fraction: float = 0.2) -> Dataset:
    """The user's CSV file (:func:`csv_source`), split like the others."""
    return split_source(csv_source(path, label_column), seed=seed, val_fraction=val_fraction,
                        test_fraction=test_fraction)


def load_idx(images: str | os.PathLike, labels: str | os.PathLike, seed: int = 0, val_fraction: float = 0.15,
             test_fraction: float = 0.2) -> Dataset:
    """The user's IDX files (:func:`idx_source`), split like the others."""
    return split_source(idx_source(images, labels), seed=seed, val_fraction=val_fraction, test_fraction=test_fraction)


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


def load_dataset(name: str, seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.2) -> Dataset:
    """A bundled data set by name (digits, breast_cancer or xor), split."""
    return split_source(dataset_source(name), seed=seed, val_fraction=val_fraction, test_fraction=test_fraction)
