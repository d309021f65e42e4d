"""Input normalisation, fitted on the training data only and saved with the model."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DataError

KINDS = ("none", "minmax", "standard")


@dataclass
class Normalizer:
    """``(X - shift) / scale`` per feature: min-max to [0, 1], or standardisation to mean 0, std 1.

    Constant features get scale 1, so they map to 0 instead of dividing by zero.
    """

    kind: str = "none"
    #: what each kind does to the inputs, for reports
    DESCRIPTIONS = {"none": "inputs as given (no normalisation)", "minmax": "inputs min-max scaled to [0, 1]",
                    "standard": "inputs standardised to mean 0, std 1"}
    shift: np.ndarray | None = None
    scale: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise DataError(f"unknown normalisation {self.kind!r}; choose one of: {', '.join(KINDS)}")

    @property
    def description(self) -> str:
        """What this normaliser does, in words ("inputs standardised to mean 0, std 1")."""
        return self.DESCRIPTIONS[self.kind]

    def fit(self, X: np.ndarray) -> "Normalizer":
        X = np.asarray(X, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):  # values near 1e308 overflow: said below
            if self.kind == "minmax":
                self.shift, span = X.min(axis=0), X.max(axis=0) - X.min(axis=0)
            elif self.kind == "standard":
                self.shift, span = X.mean(axis=0), X.std(axis=0)
            else:
                self.shift, span = np.zeros(X.shape[1]), np.ones(X.shape[1])
        bad = np.flatnonzero(~(np.isfinite(self.shift) & np.isfinite(span)))
        if bad.size:
            raise DataError(f"feature {bad[0]} holds values too large to normalise ({self.kind}: up to "
                            f"{np.abs(X[:, bad[0]]).max():.3g}); rescale the data first")
        self.scale = np.where(span > 1e-12, span, 1.0)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        if self.shift is None or self.scale is None:
            raise DataError("the normaliser has not been fitted to training data")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.shift.size:
            raise DataError(f"the model takes {self.shift.size} features per sample, got data of shape {X.shape}")
        return (X - self.shift) / self.scale
