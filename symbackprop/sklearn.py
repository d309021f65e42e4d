"""scikit-learn estimators: ``NetworkClassifier`` and ``NetworkRegressor``.

>>> from symbackprop.sklearn import NetworkClassifier
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> model = make_pipeline(StandardScaler(), NetworkClassifier(hidden=(32,), epochs=50))  # doctest: +SKIP

The estimators live in the training stage (:mod:`symbackprop.train.estimators`); this
module is their public address.
"""
from .train.estimators import NetworkClassifier, NetworkRegressor

__all__ = ["NetworkClassifier", "NetworkRegressor"]
