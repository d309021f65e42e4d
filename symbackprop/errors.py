"""One exception hierarchy for everything a user can get wrong.

Every error symbackprop raises on bad input derives from :class:`SymbackpropError`, so a
caller (and the CLI) can catch one type and print one readable line.  Each subclass also
derives from the matching built-in (``ValueError``, ``KeyError`` ...) so code written
against the standard exceptions keeps working.
"""
from __future__ import annotations


class SymbackpropError(Exception):
    """Base class of every error symbackprop raises on purpose."""


class ArchitectureError(SymbackpropError, ValueError):
    """The layers do not form a valid network (sizes that do not chain, bad widths)."""


class FormulaError(ArchitectureError):
    """A formula (a user's activation, loss or layer rule) that cannot be read safely:
    a construct outside the whitelist, an unknown name, or one that does not depend on
    its variable.  The message quotes the offending part."""


class UnknownActivationError(SymbackpropError, KeyError):
    """An activation name that is not in the registry."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


class UnknownLossError(SymbackpropError, KeyError):
    """A loss name that is not in the registry."""

    def __str__(self) -> str:
        return str(self.args[0])


class LossMismatchError(SymbackpropError, ValueError):
    """The loss does not fit the output layer's activation (e.g. CCE without softmax)."""


class DataError(SymbackpropError, ValueError):
    """Training or prediction data with the wrong shape, dtype, or non-finite values."""


class TrainingError(SymbackpropError, ValueError):
    """Bad training settings, or training that diverged (NaN / inf loss)."""


class TrainingDiverged(TrainingError):
    """The loss or a gradient became NaN or inf during training (a setting that could not train
    is a plain :class:`TrainingError`, raised before training starts)."""


class CacheError(SymbackpropError, OSError):
    """A kernel cache entry that cannot be written or read back."""


class CheckpointError(SymbackpropError, ValueError):
    """A checkpoint that cannot be read: missing, truncated, corrupt, or not written by symbackprop."""


class SymbackpropWarning(UserWarning):
    """Something a user should know that does not stop the work (the CLI prints it as one line)."""
