"""Breast cancer (scikit-learn's bundled Wisconsin data): a 30-16-1 sigmoid classifier.

Standardised inputs, binary cross-entropy, Adam, early stopping on the validation loss.

    python examples/breast_cancer.py
"""
import symbackprop
from symbackprop import Network
from symbackprop.train import Normalizer, accuracy, fit, load_breast_cancer

data = load_breast_cancer(seed=0)
print(data.summary())
normalizer = Normalizer("standard").fit(data.X_train)
X_train, X_val, X_test = (normalizer.transform(X) for X in (data.X_train, data.X_val, data.X_test))

net = Network.mlp([data.n_features, 16, 1], activation="tanh", loss="bce", l2=1e-3)
compiled = symbackprop.compile(net)
print(compiled.report)

params = net.init_params(seed=0)
history = fit(compiled, params, X_train, data.y_train, epochs=200, lr=1e-3, batch_size=16, optimizer="adam",
              X_val=X_val, y_val=data.y_val, patience=20)
best = history.best_epoch
print(f"stopped after {len(history.epochs)} epochs; best validation loss at epoch {best}")
print(f"held-out test accuracy: {accuracy(compiled, params, X_test, data.y_test):.4f}")
