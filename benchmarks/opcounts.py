"""How shared partial derivatives cut the cost of gradients: op counts and derivation times.

For each network: operations of the naive gradients (fully substituted loss, one
``sympy.diff`` per parameter), the same after ``sympy.cse``, the chain-rule program after
CSE, and the forward pass + loss alone, with the time each derivation took.

    python benchmarks/opcounts.py            # includes 16-16-4 (the naive form takes ~30 s)
    python benchmarks/opcounts.py --quick    # small networks only
"""
from __future__ import annotations

import argparse

from symbackprop import Network
from symbackprop.simplify.report import count_unrolled

NETS = [([2, 3, 1], "sigmoid", "sigmoid", "bce"), ([4, 4, 2], "tanh", "softmax", "cce"),
        ([8, 8, 3], "sigmoid", "sigmoid", "mse"), ([16, 16, 4], "sigmoid", "sigmoid", "mse")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="skip 16-16-4")
    args = parser.parse_args()
    nets = NETS[:-1] if args.quick else NETS
    header = (f"{'network':<28} {'params':>6} {'naive':>11} {'naive+CSE':>10} {'chain rule':>10} "
              f"{'forward':>8} {'naive/chain':>11} {'chain derive':>12} {'naive derive':>12}")
    print(header)
    print("-" * len(header))
    for sizes, hidden, output, loss in nets:
        net = Network.mlp(sizes, hidden, output, loss)
        r = count_unrolled(net, naive=True)
        name = f"{'-'.join(map(str, sizes))} {hidden}/{output} {loss}"
        s = r.seconds
        print(f"{name:<28} {r.n_params:>6} {r.naive:>11,} {r.naive_cse:>10,} {r.chain_rule:>10,} {r.forward:>8,} "
              f"{r.ratio():>10,.0f}× {s['chain_rule_derivation']:>10.2f} s {s['naive_derivation']:>10.2f} s")
    print("counts are sympy.count_ops per sample; 'chain derive' is the unrolled chain-rule derivation")


if __name__ == "__main__":
    main()
