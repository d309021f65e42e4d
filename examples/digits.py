"""Train a digits classifier from Python: the same pipeline as `symbackprop train`."""
import symbackprop
from symbackprop import Network
from symbackprop.train import accuracy, load_digits, train_sgd

data = load_digits(seed=0, val_fraction=0.1)
net = Network.mlp([data.n_features, 256, data.n_classes], activation="relu", loss="cce")
compiled = symbackprop.compile(net)
print(compiled.report)
print("kernel source:", compiled.source_path)

params = net.init_params(seed=0)
train_sgd(compiled, params, data.X_train, data.y_train, epochs=100, lr=0.05, batch_size=16,
          X_val=data.X_val, y_val=data.y_val,
          on_epoch=lambda r: r.epoch % 20 == 0 and print(f"epoch {r.epoch}: val acc {r.val_accuracy:.4f}"))
print(f"held-out test accuracy: {accuracy(compiled, params, data.X_test, data.y_test):.4f}")
