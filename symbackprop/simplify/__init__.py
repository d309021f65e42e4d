"""Stage 3 -- simplification: stability rewrites, common-subexpression elimination, op counts."""
from .opcount import cse, ops, ops_after_cse
from .stabilize import logistic_forms, softplus, stabilize

__all__ = ["cse", "ops", "ops_after_cse", "logistic_forms", "softplus", "stabilize"]
