"""The user's own data files: CSV tables and MNIST-format IDX arrays, read without surprises.

A CSV file may or may not have a header row (a first row that is all numbers is data,
not names), and may be separated by commas, semicolons or tabs (whichever the first row
holds most of).  Every problem is a :class:`~symbackprop.errors.DataError` that names
the file, and where it can, the line and column.
"""
from __future__ import annotations

import csv
import gzip
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError

__all__ = ["Table", "read_csv", "read_features", "read_idx", "read_labelled", "read_table"]

#: the separators a CSV file may use
DELIMITERS = (",", ";", "\t")


@dataclass
class Table:
    """A CSV file's rows: column names (``column 1``... when it has no header) and text fields."""

    path: Path
    header: list[str]
    rows: list[list[str]]
    has_header: bool
    #: the CSV line number of ``rows[0]`` (2 after a header row)
    first_line: int

    def column(self, label_column: str | int) -> int:
        """The position of ``label_column``: a column name, or a position (negative counts from the end)."""
        if isinstance(label_column, str) and not label_column.lstrip("-").isdigit():
            if label_column not in self.header:
                where = f"its columns are: {', '.join(self.header)}" if self.has_header else \
                    "it has no header row, so give the label column's position (0 is the first, -1 the last)"
                raise DataError(f"{self.path} has no label column {label_column!r}; {where}")
            if self.header.count(label_column) > 1:
                raise DataError(f"{self.path} has {self.header.count(label_column)} columns named "
                                f"{label_column!r}; give the label column's position instead")
            return self.header.index(label_column)
        at = int(label_column)
        if not -len(self.header) <= at < len(self.header):
            raise DataError(f"{self.path} has {len(self.header)} columns; label column {at} does not exist")
        return at % len(self.header)

    def numbers(self, skip: int | None = None, columns: list[int] | None = None) -> np.ndarray:
        """Every field but column ``skip`` (or the ``columns`` listed, in that order) as float64,
        or an error naming the first bad line and column."""
        if columns is None:
            columns = [k for k in range(len(self.header)) if k != skip]
        values = []
        for line, row in enumerate(self.rows, start=self.first_line):
            bad = next((k for k in columns if not is_number(row[k])), None)
            if bad is not None:
                raise DataError(f"{self.path}, line {line}, column {self.header[bad]!r}: {row[bad]!r} is not a "
                                f"number")
            values.append([float(row[k]) for k in columns])
        X = np.array(values, dtype=np.float64).reshape(len(self.rows), -1)
        if not np.all(np.isfinite(X)):
            line = int(np.argwhere(~np.isfinite(X))[0][0]) + self.first_line
            raise DataError(f"{self.path}, line {line}: NaN or inf in the features")
        return X


def is_number(text: str) -> bool:
    """A number as a data file writes it: ``1``, ``-2.5e3``, ``nan``; not Python's ``1_0`` (= 10)."""
    if "_" in text:
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True


def _delimiter(first_line: str) -> str:
    """The separator the first line holds most of (comma on a tie)."""
    return max(DELIMITERS, key=lambda d: (first_line.count(d), d == ","))


def _is_header(rows: list[list[str]]) -> bool:
    """The first row names the columns: some cell of it is text in a column of numbers.  A first
    row like the others (numbers, and a word where the others have words: a label) is data."""
    first, body = rows[0], rows[1:]
    if not body:
        return not all(is_number(cell) for cell in first)
    for k, cell in enumerate(first):
        numeric_column = all(is_number(row[k]) for row in body if k < len(row))
        if numeric_column and not is_number(cell):
            return True
    return not any(is_number(cell) for cell in first) and any(is_number(c) for row in body for c in row)


def read_table(path: str | os.PathLike) -> Table:
    """A CSV file's rows; blank lines are skipped, ragged rows refused."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:  # -sig: a spreadsheet's byte-order mark
            text = f.read()
    except IsADirectoryError:
        raise DataError(f"{path} is a folder, not a CSV file") from None
    except OSError as exc:
        raise DataError(f"cannot read CSV file {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, ValueError):
        raise DataError(f"{path} is not a text CSV file") from None
    if "\0" in text:
        raise DataError(f"{path} is not a text CSV file (it holds NUL bytes)")
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    try:
        rows = [row for row in csv.reader(lines, delimiter=_delimiter(first))
                if row and any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise DataError(f"{path} is not a readable CSV file: {exc}") from None
    if not rows:
        raise DataError(f"{path} has no data rows")
    has_header = _is_header(rows)
    header = [h.strip() for h in rows[0]] if has_header else [f"column {k + 1}" for k in range(len(rows[0]))]
    body = rows[1:] if has_header else rows
    if not body:
        raise DataError(f"{path} has no data rows (a header row and at least one sample are needed)")
    first_line = 2 if has_header else 1
    for line, row in enumerate(body, start=first_line):
        if len(row) != len(header):
            what = "the header has" if has_header else "the first row has"
            raise DataError(f"{path}, line {line}: {len(row)} fields, but {what} {len(header)}")
    return Table(path, header, body, has_header, first_line)


def read_csv(path: str | os.PathLike, label_column: str | int = -1) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Feature columns, class indices and class names of a CSV file (see :func:`read_labelled`)."""
    X, y, names, _, _ = read_labelled(path, label_column)
    return X, y, names


def read_labelled(path: str | os.PathLike, label_column: str | int = -1
                  ) -> tuple[np.ndarray, np.ndarray, list[str], str, list[str] | None]:
    """Feature columns and one label column of a CSV file, for classification.

    ``label_column`` is a column name or a position (negative counts from the end).
    Labels may be numbers or strings; they become class indices 0..K-1 in sorted order,
    and the class names are returned with them.  A label column of fractional numbers is
    refused: it holds measurements, not classes.  Returns the features, the class indices,
    the class names, the label column's name and the feature columns' names (None without
    a header row).
    """
    table = read_table(path)
    label_at = table.column(label_column)
    if len(table.header) < 2:
        raise DataError(f"{table.path} has one column; it needs at least one feature column besides the label "
                        f"column (separate the columns with commas, semicolons or tabs)")
    X = table.numbers(skip=label_at)
    labels = [row[label_at].strip() for row in table.rows]
    for line, label in enumerate(labels, start=table.first_line):
        if not label or label.lower() in ("nan", "na", "null", "none"):
            raise DataError(f"{table.path}, line {line}: the label ({table.header[label_at]!r}) is missing "
                            f"({label!r}); every row needs a class")
    names = sorted(set(labels), key=lambda v: (not is_number(v), float(v) if is_number(v) else 0.0, v))
    name = table.header[label_at]
    if len(names) < 2:
        raise DataError(f"{table.path}: the label column {name!r} holds a single class ({names[0]!r})")
    fractional = [v for v in names if is_number(v) and not float(v).is_integer()]
    if fractional:
        raise DataError(f"{table.path}: the label column {name!r} holds fractional numbers such as "
                        f"{fractional[0]!r} ({len(names)} distinct values): symbackprop train classifies, "
                        f"so the labels must be classes (names or whole numbers); is {name!r} the right column?")
    index = {label: k for k, label in enumerate(names)}
    features = [h for k, h in enumerate(table.header) if k != label_at] if table.has_header else None
    return X, np.array([index[v] for v in labels], dtype=np.int64), names, name, features


def read_features(path: str | os.PathLike, n_features: int | None = None, label_column: str | int | None = None,
                  known_label: str | None = None, feature_names: list[str] | None = None
                  ) -> tuple[np.ndarray, str | None]:
    """The feature columns of a CSV file (header row optional), e.g. for prediction.

    With ``feature_names`` (the columns a model was trained on) and a header row, columns
    are matched by name, in any order, and the others left out; a missing one is an error.
    Otherwise ``label_column`` names a column to leave out, and a file with one column more
    than the ``n_features`` a model takes has that column left out when its header names
    it ``known_label`` (or, without a header, when it is the one column of words).  Returns
    the features and the name of the column left out, if any.
    """
    table = read_table(path)
    if feature_names and table.has_header and label_column is None and set(table.header) != set(feature_names):
        missing = [name for name in feature_names if name not in table.header]
        if missing and not set(feature_names) & set(table.header):
            pass  # none of the names match: a file with other names, read by position below
        elif missing:
            raise DataError(f"{table.path} has no column {missing[0]!r}, which the model was trained on "
                            f"(its features: {', '.join(feature_names)})")
    if feature_names and table.has_header and label_column is None and set(feature_names) <= set(table.header):
        order = [table.header.index(name) for name in feature_names]
        X = table.numbers(skip=None, columns=order)
        extra = [name for name in table.header if name not in feature_names]
        return X, ", ".join(extra) if extra else None
    skip = None
    if label_column is not None:
        skip = table.column(label_column)
    elif n_features is not None and len(table.header) == n_features + 1:
        if table.has_header and known_label in table.header:
            skip = table.header.index(known_label)
        elif not table.has_header:
            words = [k for k in range(len(table.header)) if not all(is_number(row[k]) for row in table.rows)]
            skip = words[0] if len(words) == 1 else None
    X = table.numbers(skip=skip)
    if n_features is not None and X.shape[1] != n_features:
        hint = " (give --label-column to leave a label column out)" if skip is None and X.shape[1] > n_features \
            else ""
        raise DataError(f"{table.path} has {X.shape[1]} feature columns but the model takes {n_features}{hint}")
    return X, None if skip is None else table.header[skip]


_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an array from an IDX file (the MNIST format), gzip-compressed or not."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except IsADirectoryError:
        raise DataError(f"{path} is a folder, not an IDX file") from None
    except (OSError, EOFError, gzip.BadGzipFile, ValueError, zlib.error) as exc:
        raise DataError(f"cannot read IDX file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number)")
    ndim = raw[3]
    if ndim == 0 or len(raw) < 4 + 4 * ndim:
        raise DataError(f"{path} is not an IDX file (bad dimensions)")
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    count = int(np.prod(shape, dtype=object))
    body = raw[4 + 4 * ndim:]
    if len(body) != count * dtype.itemsize:
        raise DataError(f"{path}: header promises shape {shape} ({count * dtype.itemsize:,} bytes of data), "
                        f"found {len(body):,} bytes: the file is truncated or corrupt")
    try:
        array = np.frombuffer(body, dtype=dtype).reshape(shape)
    except ValueError:  # e.g. 0 × 2³¹ × 2³¹: no data, but a shape no array can have
        raise DataError(f"{path}: the header's shape {shape} is impossible") from None
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise DataError(f"{path} holds NaN or inf values")
    return array
