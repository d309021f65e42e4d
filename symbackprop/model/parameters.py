"""Parameters live in one flat float64 vector; each W and b is a view into it.

One vector makes an optimizer step a single array operation and a checkpoint a single
array, while the kernels still see each weight matrix with its own shape.
"""
from __future__ import annotations

import math
from typing import Iterator

import numpy as np


class Parameters:
    """Named parameter arrays (``W1``, ``b1``, ...) backed by one flat vector ``flat``."""

    def __init__(self, shapes: dict[str, tuple[int, ...]], flat: np.ndarray | None = None,
                 dtype: type = np.float64) -> None:
        self.shapes = dict(shapes)
        size = sum(math.prod(s) for s in self.shapes.values())
        if flat is None:
            flat = np.zeros(size, dtype=dtype)
        elif flat.shape != (size,):
            raise ValueError(f"flat parameter vector has shape {flat.shape}, expected ({size},)")
        self.flat = flat
        self.views: dict[str, np.ndarray] = {}
        offset = 0
        for name, shape in self.shapes.items():
            count = math.prod(shape)
            self.views[name] = flat[offset:offset + count].reshape(shape)
            offset += count

    def __getitem__(self, name: str) -> np.ndarray:
        return self.views[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.views)

    def __len__(self) -> int:
        return len(self.views)

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The parameter arrays in kernel argument order."""
        return tuple(self.views.values())

    def zeros_like(self) -> "Parameters":
        return Parameters(self.shapes, np.zeros_like(self.flat))

    def copy(self) -> "Parameters":
        return Parameters(self.shapes, self.flat.copy())

    @property
    def size(self) -> int:
        return self.flat.size
