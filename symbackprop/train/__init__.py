"""Stage 5 -- training: data, normalisation, optimizers, the training loop, checkpoints and whole sessions."""
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .data import Dataset, Source, load_breast_cancer, load_csv, load_dataset, load_digits, load_idx, load_xor
from .data_files import read_csv, read_idx
from ..interrupts import TrainingInterrupted
from .normalize import Normalizer
from .optimizers import OPTIMIZERS, Optimizer, Schedule
from .loop import EpochRecord, History, accuracy, fit, train_sgd
from .session import SessionResult, TrainSettings, train_session
from .callbacks import LambdaCallback
from .model import Model

__all__ = ["accuracy", "Checkpoint", "Dataset", "EpochRecord", "fit", "History", "LambdaCallback",
           "load_breast_cancer", "load_checkpoint", "load_csv", "load_dataset", "load_digits", "load_idx",
           "load_xor", "Model", "Normalizer", "Optimizer", "OPTIMIZERS", "read_csv", "read_idx",
           "save_checkpoint", "Schedule", "SessionResult", "Source", "train_session", "train_sgd",
           "TrainingInterrupted", "TrainSettings"]
