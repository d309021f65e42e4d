"""Stage 2 -- derivation: the chain rule, at the index level and unrolled, and the naive form."""
from .index_level import IndexDerivation, LayerRule, Statement, derive_index_level

__all__ = ["IndexDerivation", "LayerRule", "Statement", "derive_index_level"]
