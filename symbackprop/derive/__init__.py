"""Stage 2 -- derivation: the chain rule, at the index level and unrolled, and the naive form.

Each is a function of a :class:`~symbackprop.model.Network`; nothing here compiles or trains.
"""
from .index_level import IndexDerivation, LayerRule, Statement, derive_index_level
from .naive import NaiveDerivation, derive_naive
from .unrolled import UnrolledDerivation, derive_unrolled

__all__ = ["IndexDerivation", "LayerRule", "NaiveDerivation", "Statement", "UnrolledDerivation", "derive_index_level",
           "derive_naive", "derive_unrolled"]
