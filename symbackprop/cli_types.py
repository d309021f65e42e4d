"""The ``symbackprop`` command's option types, and a parser whose usage errors are one line.

Every numeric option is checked by its type here, so a bad value is a usage error before
any work; every option records whether the user gave it (:func:`given`), so ``train
--resume`` can refuse a flag that would change the saved model instead of ignoring it.
The sub-parsers are in :mod:`symbackprop.cli_parser`.
"""
from __future__ import annotations

import argparse


class _Given:
    """Mixin for argparse actions: note in ``namespace._given`` that the user gave this option."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = set(getattr(namespace, "_given", ()))
        given.add(self.dest)
        namespace._given = given
        super().__call__(parser, namespace, values, option_string)


class _GivenStore(_Given, argparse._StoreAction):
    pass


class _GivenStoreTrue(_Given, argparse._StoreTrueAction):
    pass


class _GivenStoreConst(_Given, argparse._StoreConstAction):
    pass


def image_shape(shape: list[int]) -> tuple[int, int, int]:
    """``--image-shape``'s value as ``(channels, rows, cols)``, or a one-line error."""
    from .errors import SymbackpropError
    if len(shape) != 3:
        raise SymbackpropError(f"--image-shape needs channels, rows and cols, got {','.join(map(str, shape))}")
    return tuple(shape)  # type: ignore[return-value]


def given(args: argparse.Namespace) -> set[str]:
    """The options (by ``dest``) that were on the command line, not left at their defaults."""
    return set(getattr(args, "_given", ()))


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line like every other error (exit status 2), and
    every option records that it was given (:func:`given`)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name, action in ((None, _GivenStore), ("store", _GivenStore), ("store_true", _GivenStoreTrue),
                             ("store_const", _GivenStoreConst)):
            self.register("action", name, action)

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"symbackprop: error: {message} (see '{self.prog} --help')\n")


def _count(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
    return value


def _positive(text: str) -> int:
    """A whole number ≥ 1 (epochs, batch size, widths ...)."""
    return _count(text, 1)


def _folds(text: str) -> int:
    """Cross-validation folds: a whole number >= 2."""
    return _count(text, 2)


def _seed(text: str) -> int:
    """A seed for NumPy and scikit-learn: a whole number in [0, 2**32)."""
    value = _count(text, 0)
    if value >= 2 ** 32:
        raise argparse.ArgumentTypeError(f"a seed must be below 2**32, got {value}")
    return value


def _number(text: str) -> float:
    """A finite float (NaN and inf are refused here, before any work)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _fraction(text: str) -> float:
    value = _number(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"a fraction must lie in [0, 1), got {text!r}")
    return value


def _share(text: str) -> float:
    """A share that must hold some rows (the test part): a number in (0, 1)."""
    value = _number(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"the test share must lie between 0 and 1 (both excluded), got {text!r}")
    return value


def _text(text: str) -> str:
    """A path or a description that must not be empty (``--save ''`` would quietly save nothing)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def _non_negative(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text!r}")
    return value


def _sizes(text: str) -> list[int]:
    try:
        parts = text.replace("x", ",").split(",")
        if any(not s.strip() for s in parts):
            raise ValueError
        sizes = [int(s) for s in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"layer sizes must be integers separated by commas, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return sizes


def _numbers(text: str) -> list[float]:
    try:
        return [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None
