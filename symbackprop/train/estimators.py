"""scikit-learn estimators over symbackprop's compiled kernels: ``NetworkClassifier``, ``NetworkRegressor``.

They follow scikit-learn's contract (``fit``/``predict``/``score``, ``get_params``/
``set_params``, nothing checked or built in ``__init__``, fitted attributes ending in
``_``), so they run in ``Pipeline``, ``cross_val_score`` and ``GridSearchCV`` and pass
``parametrize_with_checks``.  Input checks are scikit-learn's own (``validate_data``), so
their messages are the ones scikit-learn users know.

The network is built at ``fit`` from the data's width and classes; training is a
:class:`~.model.Model`, with the command line's defaults.  A fitted estimator pickles
(``pickle``, ``joblib``) without its compiled kernels: the process that unpickles it
loads them from its own kernel cache, or builds them, on first use.
"""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ..errors import ArchitectureError
from ..model.architecture import build_network
from ..model.losses import get_loss
from ..model.network import Network
from .loop import DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, DEFAULT_LR
from .model import Model
from .normalize import Normalizer
from .session import TrainSettings

__all__ = ["NetworkClassifier", "NetworkRegressor"]

#: the keywords that go to :class:`~.session.TrainSettings` unchanged
_SETTING_NAMES = ("optimizer", "lr", "momentum", "beta1", "beta2", "alpha", "schedule", "gamma", "step_size",
                  "epochs", "batch_size", "clip_value", "clip_norm")


class _NetworkEstimator(BaseEstimator):
    """What the classifier and the regressor share: hyper-parameters, building, training, pickling.

    Hyper-parameters: ``hidden`` (widths of the dense hidden layers) or ``arch`` (an
    ``--arch`` description such as ``"conv:8:3,maxpool:2,dense:32"``, with ``image_shape``);
    ``activation`` of the hidden layers, ``output`` activation and ``loss`` (None: what the
    task needs); the ``optimizer`` and ``lr`` (None: SGD at 0.05 for the classifier, as the
    command line trains; Adam at 0.001 for the regressor, as scikit-learn's MLPRegressor,
    because raw regression targets make SGD diverge), the optimizer's settings, the schedule, ``epochs``, ``batch_size``
    (clipped to the rows, with a warning, as scikit-learn's MLP does), ``l1``/``l2``
    penalties, ``clip_value``/``clip_norm``; ``patience`` turns on early stopping on a
    ``validation_fraction`` of the training rows; ``normalize`` inputs (``none``, ``minmax``,
    ``standard``), ``init``, ``dtype``, ``random_state``, ``verbose``, ``cache_dir``.
    """

    def __init__(self, hidden: Sequence[int] = (256,), activation: str = "relu", *, arch: str | None = None,
                 image_shape: Sequence[int] | None = None, output: str | None = None, loss: str | None = None,
                 optimizer: str | None = None, lr: float | None = None, momentum: float = 0.9, beta1: float = 0.9,
                 beta2: float = 0.999, alpha: float = 0.99, schedule: str = "constant", gamma: float = 0.5,
                 step_size: int = 10, epochs: int = DEFAULT_EPOCHS, batch_size: int = DEFAULT_BATCH_SIZE,
                 l1: float = 0.0, l2: float = 0.0,
                 clip_value: float | None = None, clip_norm: float | None = None, patience: int | None = None,
                 validation_fraction: float = 0.1, normalize: str = "none", init: str = "auto",
                 dtype: str = "float64", random_state=None, verbose: int = 0, cache_dir: str | None = None) -> None:
        self.hidden, self.activation, self.arch, self.image_shape = hidden, activation, arch, image_shape
        self.output, self.loss = output, loss
        self.optimizer, self.lr, self.momentum, self.beta1, self.beta2, self.alpha = (optimizer, lr, momentum, beta1,
                                                                                     beta2, alpha)
        self.schedule, self.gamma, self.step_size = schedule, gamma, step_size
        self.epochs, self.batch_size, self.l1, self.l2 = epochs, batch_size, l1, l2
        self.clip_value, self.clip_norm, self.patience = clip_value, clip_norm, patience
        self.validation_fraction, self.normalize, self.init, self.dtype = validation_fraction, normalize, init, dtype
        self.random_state, self.verbose, self.cache_dir = random_state, verbose, cache_dir

    # -- what subclasses decide ------------------------------------------------------------
    _default_loss = "mse"
    #: the optimizer and learning rate that ``optimizer=None`` and ``lr=None`` mean
    _default_optimizer = ("sgd", DEFAULT_LR)

    def _targets(self, y: np.ndarray, first: bool, classes=None) -> tuple[np.ndarray, int]:
        """``y`` as the network's targets, and the number of outputs."""
        raise NotImplementedError

    # -- building and training ------------------------------------------------------------------
    def _network(self, n_features: int, n_outputs: int, loss: str) -> Network:
        if self.image_shape is not None:
            if self.arch is None:
                raise ValueError("image_shape describes the images of arch's convolutions; hidden layers take "
                                 "the rows as they are: leave image_shape out, or give arch")
            if len(tuple(self.image_shape)) != 3:
                raise ValueError(f"image_shape must be (channels, rows, cols), got {tuple(self.image_shape)}")
        input_shape = tuple(self.image_shape) if self.image_shape is not None else (n_features,)
        if self.image_shape is not None and int(np.prod(input_shape)) != n_features:
            raise ValueError(f"image_shape {input_shape} holds {int(np.prod(input_shape))} values, but X has "
                             f"{n_features} features")
        if self.arch is not None and tuple(np.atleast_1d(self.hidden)) != (256,):
            raise ValueError("give hidden (dense layers) or arch (any layers), not both")
        if self.arch is not None:
            text = self.arch
        else:
            hidden = (self.hidden,) if isinstance(self.hidden, (int, np.integer)) else tuple(self.hidden)
            if any(isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1 for h in hidden):
                raise ValueError(f"hidden must be positive layer widths, got {self.hidden!r}")
            text = ",".join(f"dense:{h}" for h in hidden)
        if not text:  # no hidden layers: a linear (or logistic, softmax) model
            return Network.mlp([n_features, n_outputs], output=self.output, loss=loss, l1=self.l1, l2=self.l2)
        try:
            return build_network(text, input_shape, n_outputs, activation=self.activation, output=self.output,
                                 loss=loss, l1=self.l1, l2=self.l2)
        except ArchitectureError as exc:
            if self.arch is not None and self.image_shape is None and "needs images" in str(exc):
                raise ArchitectureError(f"{exc}; rows of X are flat: give image_shape=(channels, rows, cols)") \
                    from None
            raise

    def _settings(self) -> TrainSettings:
        values = {name: getattr(self, name) for name in _SETTING_NAMES}
        optimizer, lr = self._default_optimizer
        values["optimizer"] = optimizer if self.optimizer is None else self.optimizer
        values["lr"] = lr if self.lr is None else self.lr
        return TrainSettings(**{**values, "patience": self.patience})

    def _check_loss(self, name: str) -> None:
        """A ValueError for a loss this kind of estimator cannot use (the classifier's)."""

    def _build(self, n_features: int, n_outputs: int) -> Network:
        """The network for this data: the loss the task needs (or the one given, if it fits the task)."""
        loss = self.loss or self._loss_for(n_outputs)
        self._check_loss(loss)
        return self._network(n_features, n_outputs, loss)

    def _new_model(self, X: np.ndarray, n_outputs: int) -> Model:
        network = self._build(X.shape[1], n_outputs)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        return Model(network, self._settings(), seed=seed, init=self.init, dtype=self.dtype,
                     normalize=self.normalize, cache_dir=self.cache_dir)

    def _loss_for(self, n_outputs: int) -> str:
        return self._default_loss

    def _n_validation(self, n_rows: int) -> int:
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must lie in (0, 1), got {self.validation_fraction!r}")
        return max(1, int(round(self.validation_fraction * n_rows)))

    def _validation_rows(self, n_rows: int, labels, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Train and validation row numbers for early stopping: stratified when every class can have
        a row on both sides, else a plain random share."""
        from sklearn.model_selection import train_test_split
        n_val = self._n_validation(n_rows)
        if n_val >= n_rows:
            raise ValueError(f"patience needs validation rows, but validation_fraction {self.validation_fraction} "
                             f"of {n_rows} rows leaves none to train on")
        stratify = None
        if labels is not None:
            counts = np.bincount(labels)
            classes = int(np.count_nonzero(counts))
            if counts[counts > 0].min() > 1 and n_val >= classes and n_rows - n_val >= classes:
                stratify = labels
        return train_test_split(np.arange(n_rows), test_size=n_val, stratify=stratify, random_state=seed)

    def _train(self, X: np.ndarray, T: np.ndarray, epochs: int | None, y_for_split=None) -> None:
        fit_args = {"epochs": epochs, "verbose": self.verbose}
        if self.patience is not None and epochs is None:
            train, val = self._validation_rows(X.shape[0], y_for_split, self.model_.seed)
            fit_args["validation_data"] = (X[val], T[val])
            X, T = X[train], T[train]
        elif epochs is not None:
            fit_args["patience"] = None  # one epoch at a time: nothing to stop early
        batch = self.model_.settings.batch_size
        if batch > X.shape[0]:  # as scikit-learn's MLP does, on every call
            warnings.warn(f"batch_size {batch} is larger than the {X.shape[0]} training rows; it is clipped to "
                          f"{X.shape[0]}", UserWarning, stacklevel=3)
            fit_args["batch_size"] = X.shape[0]
        self.model_.fit(X, T, **fit_args)
        self.n_iter_ = self.model_.epochs_done
        self.history_ = self.model_.history
        self.loss_curve_ = list(self.history_.train_loss)
        self.loss_ = self.loss_curve_[-1]

    def _validate(self, X, y="no_validation", reset: bool = True):
        """scikit-learn's checks and messages; X as a writable C-ordered float64 array (the kernels'
        input: a read-only or Fortran-ordered array would make Numba compile another specialisation)."""
        kwargs = {"dtype": [np.float64, np.float32], "ensure_min_samples": 1}
        no_y = isinstance(y, str) and y == "no_validation"  # scikit-learn's own marker for "X only"
        if no_y:
            X = validate_data(self, X, reset=reset, **kwargs)
        else:
            X, y = validate_data(self, X, y, reset=reset, multi_output=self._multi_output(), y_numeric=not
                                 self._classifies(), **kwargs)
        X = np.ascontiguousarray(X, dtype=np.float64)
        if not X.flags.writeable:
            X = X.copy()
        return X if no_y else (X, y)

    def _multi_output(self) -> bool:
        return False

    def _classifies(self) -> bool:
        return False

    def _outputs(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = self._validate(X, reset=False)
        return self.model_.predict(X)

    def check(self, X, y) -> None:
        """Everything ``fit`` would refuse, for these settings on this data, without training or
        compiling anything (a sweep checks every configuration before its first fit).  Runs on a
        clone: a fitted estimator is left as it is."""
        clone(self)._check(X, y)

    def _check(self, X, y) -> None:
        X, y = self._validate(X, y)
        T, n_outputs = self._targets(y, first=True)
        self._build(X.shape[1], n_outputs).init_params(0, self.init, dtype=self.dtype)
        if self.patience is not None:
            self._validation_rows(X.shape[0], self._split_labels(T), 0)
        self._settings().check()
        Normalizer(self.normalize)

    # -- the contract --------------------------------------------------------------------------------
    def fit(self, X, y):
        """Build the network for ``X``'s width (and ``y``'s classes) and train it from fresh weights."""
        X, y = self._validate(X, y)
        T, n_outputs = self._targets(y, first=True)
        self.model_ = self._new_model(X, n_outputs)
        self._train(X, T, None, y_for_split=self._split_labels(T))
        return self

    def _split_labels(self, T):
        return None

    def _partial_fit(self, X, y, classes=None):
        first = not hasattr(self, "model_")
        X, y = self._validate(X, y, reset=first)
        T, n_outputs = self._targets(y, first=first, classes=classes)
        if first:
            self.model_ = self._new_model(X, n_outputs)
        self._train(X, T, 1)
        return self

    def summary(self):
        """The fitted model's summary: layers, shapes, parameters, op counts, training state."""
        check_is_fitted(self, "model_")
        return self.model_.summary()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        return tags


def _label(value) -> str:
    """A label as the user wrote it (``7``, ``'setosa'``), not as NumPy's repr (``np.int64(7)``)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


class NetworkClassifier(ClassifierMixin, _NetworkEstimator):
    """A neural-network classifier whose gradients symbackprop derived and compiled.

    Two classes get one sigmoid output and binary cross-entropy; more get softmax and
    categorical cross-entropy (``loss`` and ``output`` override).  ``classes_`` keeps the
    labels as given (strings too); ``predict_proba`` has one column per class, in that order.

    >>> clf = NetworkClassifier(hidden=(32,), epochs=50, random_state=0).fit(X, y)  # doctest: +SKIP
    """

    def _loss_for(self, n_outputs: int) -> str:
        return "bce" if n_outputs == 1 else "cce"

    def _classifies(self) -> bool:
        return True

    def _check_loss(self, name: str) -> None:
        loss = get_loss(name)
        if not loss.classifies:
            raise ValueError(f"loss {loss.name!r} regresses; NetworkClassifier needs a classification loss "
                             f"(bce, cce), or use NetworkRegressor")
        if loss.name == "bce" and len(self.classes_) > 2:
            raise ValueError(f"bce with {len(self.classes_)} classes would give independent sigmoids, not "
                             "probabilities that sum to 1: use cce (the default)")

    def _targets(self, y, first: bool, classes=None):
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if first:
            self.classes_ = np.unique(np.asarray(classes)) if classes is not None else np.unique(y)
            if len(self.classes_) < 2:
                raise ValueError(f"NetworkClassifier needs samples of at least 2 classes; the data holds only "
                                 f"one class: {_label(self.classes_[0])}")
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(f"y holds class {_label(unknown[0])}, which is not among the classes "
                             f"[{', '.join(_label(c) for c in self.classes_)}]")
        labels = np.searchsorted(self.classes_, y)
        n_outputs = 1 if len(self.classes_) == 2 and get_loss(self.loss or "bce").name == "bce" else len(self.classes_)
        return labels, n_outputs

    def _split_labels(self, T):
        return T

    def partial_fit(self, X, y, classes=None):
        """One epoch on ``(X, y)``: the first call builds the network (give every class in
        ``classes`` if this batch may not hold them all), later calls continue training."""
        if not hasattr(self, "model_") and classes is None:
            raise ValueError("the first call to partial_fit needs classes= (every class the model will see)")
        return self._partial_fit(X, y, classes)

    def predict_proba(self, X) -> np.ndarray:
        """Probability of each class in ``classes_`` order, one row per sample."""
        out = self._outputs(X)
        if out.shape[1] == 1:
            return np.column_stack([1.0 - out[:, 0], out[:, 0]])
        return out

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row, as a label of ``classes_``."""
        proba = self.predict_proba(X)  # first: it says "not fitted" before classes_ is missed
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


class NetworkRegressor(RegressorMixin, _NetworkEstimator):
    """A neural-network regressor: identity output and mean squared error by default.

    ``y`` may have several columns (one output each).  Targets are used as given: scale
    them first (e.g. with ``TransformedTargetRegressor``) if they are large.
    """

    _default_optimizer = ("adam", 0.001)

    def _multi_output(self) -> bool:
        return True

    def _targets(self, y, first: bool, classes=None):
        y = np.asarray(y, dtype=np.float64)
        if first:
            self._y_ndim = y.ndim
        elif y.ndim != self._y_ndim and not (y.ndim == 2 and y.shape[1] == 1):
            raise ValueError(f"y has {y.ndim} dimensions, the model was fitted on {self._y_ndim}")
        T = y.reshape(len(y), -1)
        return T, T.shape[1]

    def partial_fit(self, X, y):
        """One epoch on ``(X, y)``; the first call builds the network."""
        return self._partial_fit(X, y)

    def predict(self, X) -> np.ndarray:
        out = self._outputs(X)
        return out[:, 0] if self._y_ndim == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
