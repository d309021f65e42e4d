"""XOR with a 2-3-1 network: read the derivation, check one step by hand, compile and train.

    python examples/xor.py
"""
import symbackprop
from symbackprop import Dense, Network
from symbackprop.train import train_sgd

net = Network([Dense(2, 3, "sigmoid"), Dense(3, 1, "sigmoid")], loss="bce")

print("Index-level chain rule:")
print(symbackprop.derivation(net))

unrolled = symbackprop.derivation(net, "unrolled")
print("\n∂L/∂W1_0_1 =", unrolled.gradient("W1_0_1"))
print("           =", unrolled.gradient("W1_0_1", expanded=True))

X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
Y = [0, 1, 1, 0]

# one backprop step on the input (0, 1), every number tied to its formula
step = symbackprop.explanation(net, X[1], [Y[1]], param="W1[1,1]", lr=2.0)
print()
print(step.to_text().split("4. Backward pass")[0])

compiled = symbackprop.compile(net)
params = net.init_params(seed=0)
loss, grads = compiled.loss_and_grad(X, Y, params)
print("loss", loss, "\n∂L/∂W1 =\n", grads["W1"])
print(compiled.report)

history = train_sgd(compiled, params, X, Y, epochs=3000, lr=2.0, batch_size=4)
print(f"\nXOR after {len(history.epochs)} epochs: loss {history.train_loss[-1]:.4f}, "
      f"outputs {compiled.forward(X, params).ravel().round(3)}")
