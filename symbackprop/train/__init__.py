"""Stage 5 -- training: bundled datasets and a mini-batch SGD loop over compiled kernels."""
from .data import Dataset, load_dataset, load_digits
from .sgd import EpochRecord, History, accuracy, train_sgd

__all__ = ["Dataset", "EpochRecord", "History", "accuracy", "load_dataset", "load_digits", "train_sgd"]
