"""Which rows a saved model may honestly be evaluated on.

A checkpoint records its data's source, fingerprint and the row numbers of its train,
validation and test parts (:meth:`~.data.Dataset.record`).  :func:`evaluation_rows`
picks the rows to evaluate on: by default exactly those held out in training; a split
asked for anew only if none of its test rows were trained or validated on; all rows of
data the model never saw.  Labels are matched to the model's classes by name, so a
file holding only some of the classes is still scored correctly.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DataError
from .checkpoint import Checkpoint
from .data import Source, open_source, split_rows

__all__ = ["EvaluationRows", "evaluation_rows"]


@dataclass
class EvaluationRows:
    X: np.ndarray
    #: class indices of the model's classes
    y: np.ndarray
    #: which rows these are, in words ("the 360 rows held out in training")
    description: str
    #: none of these rows was trained or validated on
    held_out: bool
    #: the data's name
    name: str = ""
    #: something the user should know about these rows, or None
    note: str | None = None
    #: the split asked for chose these rows (False: all rows of other data)
    split_used: bool = True


def _model_labels(ckpt: Checkpoint, source: Source) -> np.ndarray:
    """``source.y`` as indices into the model's classes (matched by name)."""
    names = (ckpt.info.get("data") or {}).get("class_names")
    if not names or list(names) == list(source.class_names):
        return source.y
    index = {name: k for k, name in enumerate(names)}
    unknown = [name for name in source.class_names if name not in index]
    if unknown:
        raise DataError(f"{source.name} holds class {unknown[0]!r}, which the model does not know "
                        f"(its classes: {', '.join(names)})")
    return np.array([index[name] for name in source.class_names], dtype=np.int64)[source.y]


def evaluation_rows(ckpt: Checkpoint, source: Source | None = None, split: dict | None = None) -> EvaluationRows:
    """The rows of ``source`` (default: the data the model was trained on) to evaluate ``ckpt`` on.

    ``split``: ``seed``, ``val_fraction`` and ``test_fraction`` of a split to take the test
    part of instead; refused (:class:`~symbackprop.errors.DataError`) if that part holds
    rows the model was trained or validated on.
    """
    record = ckpt.info.get("data") or {}
    if "kind" not in record:  # saved from Python (Model.save): class names at most, no source
        record = {}
    if source is None:
        if not record:
            raise DataError("this checkpoint does not record the data it was trained on: name the data to "
                            "evaluate on (--dataset, --csv or --idx-images with --idx-labels)")
        try:
            source = open_source(record)
        except DataError as exc:
            raise DataError(f"the data the model was trained on cannot be read now ({exc}); name the data to "
                            "evaluate on (--dataset, --csv or --idx-images with --idx-labels)") from None
    if source.X.shape[1] != ckpt.network.n_inputs:
        raise DataError(f"the model takes {ckpt.network.n_inputs} features per sample, {source.name} has "
                        f"{source.X.shape[1]}")
    y = _model_labels(ckpt, source)
    same = record.get("fingerprint") == source.fingerprint
    if not record:
        rows = split_rows(y, **(split or {}), class_names=source.class_names, name=source.name)["test"]
        return EvaluationRows(source.X[rows], y[rows], f"its test split ({len(rows)} rows)", False, source.name,
                              "this checkpoint does not record which rows it was trained on, so the test split "
                              "may hold training rows")
    if not same:
        edited = {k: source.record.get(k) for k in ("kind", "name", "path", "images")} == \
                 {k: record.get(k) for k in ("kind", "name", "path", "images")}
        trained_on = record.get("name") or record.get("path") or record.get("images") or "other data"
        why = ("has changed since the model was trained on it (its fingerprint differs)" if edited else
               f"is not the data the model was trained on ({trained_on})")
        return EvaluationRows(source.X, y, f"all {len(y)} rows", False, source.name,
                              f"{source.name} {why}: none of its rows is known to be held out", split_used=False)
    if record.get("memorised"):
        return EvaluationRows(source.X, y, f"the {len(y)} training points", False, source.name,
                              f"{source.name} holds nothing out: these are the points the model was trained on",
                              split_used=False)
    if not ckpt.rows:
        raise DataError("this checkpoint records its data but not its split; evaluate it on other data")
    if split is None:
        rows = ckpt.rows["test"]
        return EvaluationRows(source.X[rows], y[rows], f"the {len(rows)} rows held out in training", True,
                              source.name)
    rows = split_rows(y, **split, class_names=source.class_names, name=source.name)["test"]
    seen = np.intersect1d(rows, np.concatenate([ckpt.rows["train"], ckpt.rows["val"]]))
    if seen.size:
        asked = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in split.items())
        raise DataError(f"the test split asked for ({asked}): {seen.size} of its {len(rows)} rows were used in "
                        f"training or validation, so its accuracy would not be held-out accuracy; leave out "
                        f"--seed, --val-fraction and --test-fraction to evaluate on the "
                        f"{len(ckpt.rows['test'])} rows held out in training")
    return EvaluationRows(source.X[rows], y[rows], f"a new test split of {len(rows)} rows, none trained on", True,
                          source.name)
