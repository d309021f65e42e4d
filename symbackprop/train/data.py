"""Datasets that ship inside a package (nothing is downloaded), split for training.

The split is stratified and seeded: train / validation / test.  Digits pixels (0..16)
are scaled to [0, 1] with the dataset's fixed pixel range, so no statistics of the test
set leak into training.
"""
from __future__ import annotations

from dataclasses import dataclass

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
    return Dataset("digits", "1,797 handwritten digits, 8×8 pixels, 10 classes", *parts, n_classes=10)


DATASETS = {"digits": load_digits}


def load_dataset(name: str, seed: int = 0, **kwargs) -> Dataset:
    try:
        loader = DATASETS[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}") from None
    return loader(seed=seed, **kwargs)
