"""A trained model in the habits of Keras: settings once, then ``fit``, ``predict``, ``evaluate``, ``save``.

``symbackprop.train.fit`` and the :class:`~.session.TrainSettings` are the engine; a
:class:`Model` holds what a practitioner means by "the model": the network, its
parameters, the input normaliser, the optimizer with its state, the shuffling
generator, the epochs done and their :class:`~.loop.History`.  Calling :meth:`Model.fit`
again continues training where the last call stopped (the optimizer's state and the
batch order carry over), so ``fit(epochs=10)`` twice is ``fit(epochs=20)`` once, bit for bit.

The defaults are the command line's (``symbackprop train``: SGD, lr 0.05, batch 16, 100
epochs), so a model trained here and one trained by the CLI agree.  A saved model is an
ordinary checkpoint: ``symbackprop evaluate`` and ``predict`` read it, and
:meth:`Model.load` reads the CLI's.
"""
from __future__ import annotations

import os
from dataclasses import fields
from typing import Callable, Iterable, Sequence

import numpy as np

from ..codegen.compiled import CompiledNetwork, compile_network, warm_up_entry_points
from ..errors import DataError, TrainingError
from ..model.network import Network
from ..model.summary import Summary
from .callbacks import CallbackList
from .checkpoint import Checkpoint, check_checkpoint_path, load_checkpoint, save_checkpoint
from .loop import EpochRecord, History, fit as fit_loop
from .normalize import Normalizer
from .session import Progress, TrainSettings

__all__ = ["Model", "fit"]

_SETTINGS = {f.name for f in fields(TrainSettings)}


class Model:
    """A network, its parameters and everything needed to keep training it or use it.

    >>> model = Model(Network.mlp([64, 32, 10], "relu"), optimizer="adam", lr=1e-3)  # doctest: +SKIP
    >>> history = model.fit(X, y, epochs=20, validation_data=(X_val, y_val))          # doctest: +SKIP
    >>> model.predict_classes(X_test)                                                  # doctest: +SKIP

    Settings are those of :class:`~.session.TrainSettings` (optimizer, lr, momentum,
    betas, schedule, epochs, batch_size, clipping, patience), given by keyword or as
    ``settings``.  ``normalize`` (``none``, ``minmax``, ``standard``) is fitted on the first
    ``fit``'s training rows and applied by every later call.  ``class_names`` name the
    outputs for :meth:`predict_classes` and for the saved checkpoint.
    """

    def __init__(self, network: Network, settings: TrainSettings | None = None, *, seed: int = 0,
                 init: str = "auto", dtype: str = "float64", normalize: str = "none",
                 class_names: Sequence[str] | None = None, cache_dir: str | os.PathLike | None = None,
                 view: str = "index", **changes) -> None:
        unknown = sorted(set(changes) - _SETTINGS)
        if unknown:
            raise TypeError(f"unknown training setting{'s' * (len(unknown) > 1)} {', '.join(unknown)}; "
                            f"settings are: {', '.join(sorted(_SETTINGS))}")
        if not isinstance(network, Network):
            raise TypeError(f"Model needs a Network, got {type(network).__name__}")
        self.network = network
        self.settings = TrainSettings.from_record((settings or TrainSettings()).record(), **changes)
        self.settings.check()
        self.params = network.init_params(seed, init, dtype=dtype)
        self.normalizer = Normalizer(normalize)
        self.optimizer = self.settings.new_optimizer()
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.history = History()
        self.class_names = None if class_names is None else [str(c) for c in class_names]
        if self.class_names is not None and len(self.class_names) != max(network.n_outputs, 2):
            raise DataError(f"{len(self.class_names)} class names for a network with {network.n_outputs} "
                            f"output{'s' * (network.n_outputs > 1)}")
        self.cache_dir, self.view = cache_dir, view
        #: set by a callback to end training after the running epoch (as in Keras)
        self.stop_training = False
        self._compiled: CompiledNetwork | None = None

    def __getstate__(self) -> dict:
        # never the compiled kernels (a module of Numba functions): where the model is unpickled,
        # the first use loads them from that machine's cache or builds them
        return {**self.__dict__, "_compiled": None}

    # -- compiling -------------------------------------------------------------------
    def compile(self, warm_up: bool | str = True) -> CompiledNetwork:
        """The network's kernels (derived, generated and compiled once, or loaded from the cache);
        ``warm_up="all"`` compiles every entry point now, not only the training ones."""
        entry_points = warm_up_entry_points(warm_up)
        if self._compiled is None:
            self._compiled = compile_network(self.network, view=self.view, cache_dir=self.cache_dir,
                                             warm_up=warm_up, dtype=self.params.flat.dtype)
        elif entry_points:
            self._compiled.warm_up(self.params.flat.dtype, entry_points)
        return self._compiled

    @property
    def epochs_done(self) -> int:
        return self.history.epochs[-1].epoch if self.history.epochs else 0

    # -- training ----------------------------------------------------------------------
    def fit(self, X, y, *, epochs: int | None = None, batch_size: int | None = None, lr: float | None = None,
            validation_data: tuple | None = None, validation_split: float = 0.0,
            patience: int | None | str = "settings",
            callbacks: Iterable = (), verbose: int = 0, every: int = 10,
            batch_order: Callable[[int, int], np.ndarray] | None = None) -> History:
        """Train for ``epochs`` more epochs (default: the settings'); returns this call's history
        (the model's whole history is :attr:`history`).

        ``y``: class labels (0 to k-1) or target rows.  Validation data comes as
        ``validation_data=(X_val, y_val)`` or as a ``validation_split`` fraction of the given
        rows, drawn with the model's seed; each epoch then records validation loss and
        accuracy, and ``patience`` stops early and keeps the best weights (default: the
        settings'; None turns it off for this call).  ``callbacks``:
        see :mod:`symbackprop.train.callbacks`.  ``verbose=1`` prints the epoch lines the CLI
        prints (every ``every``-th).  ``batch_order(epoch, n)`` replaces the shuffle
        (:func:`symbackprop.train.fit`).  Every setting is checked before anything is compiled;
        Ctrl-C ends training after the running epoch with
        :class:`~symbackprop.interrupts.TrainingInterrupted`, the model holding that epoch's weights.
        """
        changes = {k: v for k, v in (("epochs", epochs), ("batch_size", batch_size), ("lr", lr)) if v is not None}
        if patience != "settings":  # None: no early stopping in this call, whatever the settings say
            changes["patience"] = patience
        run = TrainSettings.from_record(self.settings.record(), **changes)
        X = self._rows(X)
        if validation_data is not None and validation_split:
            raise TrainingError("give validation_data or validation_split, not both")
        if validation_split:
            if not 0 < validation_split < 1:
                raise TrainingError(f"validation_split must lie in (0, 1), got {validation_split!r}")
            X, y, X_val, y_val = self._split(X, np.asarray(y), validation_split)
        elif validation_data is not None:
            if len(validation_data) != 2:
                raise TrainingError("validation_data must be a pair (X_val, y_val)")
            X_val, y_val = self._rows(validation_data[0]), validation_data[1]
        else:
            X_val = y_val = None
        run.check(len(X))
        if run.patience is not None and X_val is None:
            raise TrainingError("early stopping (patience) needs validation data: give validation_data or "
                                "validation_split")
        if self.normalizer.shift is None:
            self.normalizer.fit(X)
        X = self.normalizer.transform(X)
        X_val = None if X_val is None else self.normalizer.transform(X_val)
        compiled = self.compile()
        if self.optimizer.name != run.optimizer:
            raise TrainingError(f"the model's optimizer is {self.optimizer.name}; make a new Model for "
                                f"{run.optimizer}")
        callbacks = CallbackList(callbacks, self)
        progress = Progress(self.epochs_done + run.epochs, every, verbose > 1, print) if verbose else None
        self.stop_training = False
        done = History()

        def after_epoch(record: EpochRecord) -> bool:
            self.history.epochs.append(record)
            done.epochs.append(record)
            if progress is not None:
                progress(record)
            callbacks.epoch_end(record)
            return self.stop_training

        callbacks.begin()
        try:
            result = fit_loop(compiled, self.params, X, y, epochs=run.epochs, lr=run.lr, batch_size=run.batch_size,
                              optimizer=self.optimizer, schedule=run.new_schedule(), clip_value=run.clip_value,
                              clip_norm=run.clip_norm, seed=self.rng, X_val=X_val, y_val=y_val,
                              patience=run.patience, start_epoch=self.epochs_done + 1, on_epoch=after_epoch,
                              batch_order=batch_order)
        finally:
            if progress is not None:
                progress.close()
        if progress is not None and (result.stopped_early or result.stopped_by_callback):
            last = done.epochs[-1]
            if progress.printed != last.epoch:  # the epoch it stopped at, unless its line was printed
                progress.say(progress.line(last))
            progress.say(f"early stop after epoch {last.epoch}: best validation loss at epoch {result.best_epoch}"
                         if result.stopped_early else f"stopped by a callback after epoch {last.epoch}")
        done.best_epoch, done.stopped_early = result.best_epoch, result.stopped_early
        done.stopped_by_callback = self.history.stopped_by_callback = result.stopped_by_callback
        self.history.best_epoch, self.history.stopped_early = result.best_epoch, result.stopped_early
        callbacks.end(done.epochs[-1] if done.epochs else None)
        return done

    def _rows(self, X) -> np.ndarray:
        """``X`` as one row per sample (images flattened), checked against the network's input."""
        X = np.asarray(X)
        if X.ndim > 2:
            X = X.reshape(X.shape[0], -1)
        checked, _ = self.network.check_inputs(X)
        return checked

    def _split(self, X: np.ndarray, y: np.ndarray, fraction: float):
        order = np.random.default_rng(self.seed).permutation(len(X))
        n_val = max(1, int(round(fraction * len(X))))
        if n_val >= len(X):
            raise TrainingError(f"validation_split {fraction} leaves no training rows of {len(X)}")
        val, train = order[:n_val], order[n_val:]
        return X[train], y[train], X[val], y[val]

    # -- using ----------------------------------------------------------------------------
    def predict(self, X) -> np.ndarray:
        """The network's outputs for every row of ``X`` (probabilities for softmax and sigmoid outputs)."""
        return self.compile(warm_up=False).forward(self.normalizer.transform(self._rows(X)), self.params)

    def predict_classes(self, X) -> np.ndarray:
        """The predicted class of every row: its name if the model has ``class_names``, else its number."""
        classes = CompiledNetwork.classes(self.predict(X))
        return classes if self.class_names is None else np.asarray(self.class_names, dtype=object)[classes]

    def evaluate(self, X, y) -> dict[str, float]:
        """Mean loss and, for a classifier given labels, accuracy: ``{"loss": …, "accuracy": …}``."""
        compiled = self.compile(warm_up=False)
        X = self.normalizer.transform(self._rows(X))
        loss, outputs = compiled.evaluate(X, y, self.params)
        out = {"loss": loss}
        labels = np.asarray(y)
        if labels.ndim == 1 and (self.network.n_outputs > 1 or self.network.loss.classifies):
            out["accuracy"] = float(np.mean(compiled.classes(outputs) == labels))
        return out

    # -- saving -------------------------------------------------------------------------
    def checkpoint(self) -> Checkpoint:
        """This model as a :class:`~.checkpoint.Checkpoint` (what :meth:`save` writes)."""
        info = {"epochs": self.epochs_done, "seed": self.seed, "shuffle_state": self.rng.bit_generator.state,
                "history": [vars(r) for r in self.history.epochs], "settings": self.settings.record()}
        if self.class_names is not None:
            info["data"] = {"class_names": self.class_names}
        return Checkpoint(self.network, self.params, self.normalizer, self.optimizer, info)

    def save(self, path: str | os.PathLike) -> None:
        """Write the model as a checkpoint (``.npz``), atomically; ``symbackprop predict`` reads it, and
        ``evaluate`` with the data named (the checkpoint does not record where the data came from)."""
        check_checkpoint_path(path)
        save_checkpoint(path, self.checkpoint())

    @classmethod
    def load(cls, path: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> "Model":
        """A model from a checkpoint written by :meth:`save` or by ``symbackprop train --save``."""
        ckpt = load_checkpoint(path)
        info = ckpt.info
        optimizer = {"optimizer": ckpt.optimizer.name} if ckpt.optimizer is not None else {}
        settings = TrainSettings.from_record(info.get("settings", {}), **optimizer)
        names = (info.get("data") or {}).get("class_names")
        model = cls(ckpt.network, settings, seed=int(info.get("seed", 0)), dtype=ckpt.params.flat.dtype.name,
                    class_names=names if names and len(names) == max(ckpt.network.n_outputs, 2) else None,
                    cache_dir=cache_dir)
        model.params, model.normalizer = ckpt.params, ckpt.normalizer
        if ckpt.optimizer is not None:
            model.optimizer = ckpt.optimizer
        if "shuffle_state" in info:
            model.rng.bit_generator.state = info["shuffle_state"]
        known = {f.name for f in fields(EpochRecord)}
        model.history.epochs = [EpochRecord(**{k: v for k, v in r.items() if k in known})
                                for r in info.get("history", [])]
        return model

    # -- looking ------------------------------------------------------------------------
    def summary(self) -> Summary:
        """Layers, shapes and parameter counts, with op counts and the training state
        (derives the kernels, or reads them from the cache, if not done yet; compiles nothing)."""
        table = self.network.summary()
        table.title = "Model"
        report = self.compile(warm_up=False).report
        table.notes += [("dtype", self.params.flat.dtype.name),
                        ("ops per sample", f"forward + loss {report.forward:,}; with gradients (backprop + CSE) "
                                           f"{report.chain_rule:,}"),
                        ("training", self._training_state())]
        return table

    def _training_state(self) -> str:
        s = self.settings
        state = f"{s.optimizer}, lr {s.lr:g}, batch {s.batch_size}, {self.normalizer.description}"
        if not self.history.epochs:
            return state + "; not trained yet"
        last = self.history.epochs[-1]
        val = "" if last.val_accuracy is None else f", val acc {last.val_accuracy:.4f}"
        return f"{state}; {last.epoch} epoch{'s' * (last.epoch != 1)}, loss {last.train_loss:.4g}{val}"

    def __repr__(self) -> str:
        return f"Model({self.network!r}; {self._training_state()})"

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()


def fit(network: Network, X, y, *, validation_data: tuple | None = None, validation_split: float = 0.0,
        callbacks: Iterable = (), verbose: int = 0, batch_order: Callable[[int, int], np.ndarray] | None = None,
        **settings) -> Model:
    """Train ``network`` on ``(X, y)`` in one call and return the :class:`Model` (``model.history``).

    ``settings`` are :class:`Model`'s keywords (optimizer, lr, epochs, batch_size, normalize,
    seed, ...), with the command line's defaults.
    """
    model = Model(network, **settings)
    model.fit(X, y, validation_data=validation_data, validation_split=validation_split, callbacks=callbacks,
              verbose=verbose, batch_order=batch_order)
    return model
