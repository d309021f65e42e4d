"""Vanishing and exploding gradients on an 8-layer network (what `symbackprop gradient-flow` runs).

Deep sigmoid + Xavier vs ReLU + He vs ReLU with weights twice too large, each without and
with gradient clipping; prints each layer's gradient norm and draws gradient_flow.png.

    python examples/vanishing_gradients.py [--epochs 20]
"""
import argparse

from symbackprop.explain.gradient_flow import gradient_flow, plot_gradient_flow

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=20)
parser.add_argument("--plot", default="gradient_flow.png")
args = parser.parse_args()

flow = gradient_flow(depth=8, width=32, epochs=args.epochs)
print(flow.table())
sigmoid, relu = flow.run("sigmoid + Xavier"), flow.run("ReLU + He")
print(f"\nsigmoid + Xavier: first layer's gradient / last layer's = {sigmoid.initial_ratio:.2e}")
print(f"ReLU + He: largest / smallest layer gradient = {relu.initial_spread:.2f}")
try:
    plot_gradient_flow(flow, args.plot)
    print(f"plotted {args.plot}")
except Exception as exc:  # matplotlib missing
    print(f"no plot: {exc}")
