"""The derived formulas themselves: the forms backprop is known to produce, and op counts."""
from __future__ import annotations

import random

import pytest
import sympy as sp

import symbackprop
from symbackprop import Dense, Network
from symbackprop.derive.index_level import B, Y, n, j
from symbackprop.derive.naive import derive_naive
from symbackprop.simplify.report import count_index, count_unrolled


def _same(expr_a, expr_b):
    return sp.simplify(sp.expand(expr_a - expr_b)) == 0


def test_softmax_cross_entropy_error_is_output_minus_target():
    d = symbackprop.derivation(Network.mlp([3, 4, 5], "tanh", loss="cce"))
    a2 = sp.IndexedBase("a2")
    k = d.layers[-1].delta.expr.atoms(sp.Sum).pop().limits[0][0]
    expected = (a2[n, j] * sp.Sum(Y[n, k], (k, 0, sp.Symbol("m2", integer=True, positive=True) - 1)) - Y[n, j]) / B
    assert _same(d.layers[-1].delta.expr, expected)


def test_sigmoid_binary_cross_entropy_error_is_output_minus_target():
    d = symbackprop.derivation(Network.mlp([3, 4, 1], "tanh", loss="bce"))
    a2, m2 = sp.IndexedBase("a2"), sp.Symbol("m2", integer=True, positive=True)
    assert _same(d.layers[-1].delta.expr, (a2[n, j] - Y[n, j]) / (B * m2))


@pytest.mark.parametrize("activation,expected", [
    ("sigmoid", lambda a: a * (1 - a)),
    ("tanh", lambda a: 1 - a**2),
    ("identity", lambda a: 1),
])
def test_activation_derivatives_are_written_through_the_output(activation, expected):
    d = symbackprop.derivation(Network([Dense(2, 3, activation), Dense(3, 1, "identity")], loss="mse"))
    a1, g1 = sp.IndexedBase("a1"), sp.IndexedBase("g1")
    assert _same(d.layers[0].delta.expr, g1[n, j] * expected(a1[n, j]))


def test_weight_gradient_is_input_times_error():
    d = symbackprop.derivation(Network.mlp([3, 4, 2], "sigmoid", loss="mse"))
    i = sp.Symbol("i", integer=True, nonnegative=True)
    a0, d1 = sp.IndexedBase("a0"), sp.IndexedBase("d1")
    assert d.layers[0].grad_W.expr == sp.Sum(a0[n, i] * d1[n, j], (n, 0, B - 1))
    assert "KroneckerDelta" not in str(d)


def test_unrolled_gradients_equal_the_naive_derivatives():
    """The chain rule, expanded, is the derivative of the fully substituted loss."""
    net = Network([Dense(2, 2, "tanh"), Dense(2, 2, "softmax")], loss="cce")
    unrolled = symbackprop.derivation(net, "unrolled")
    naive = derive_naive(unrolled)
    rng = random.Random(0)
    point = {s: rng.uniform(-1, 1) for s in naive.loss.free_symbols}
    for param, grad_symbol in unrolled.gradients.items():
        chain = unrolled.expand(grad_symbol)
        assert float(chain.subs(point)) == pytest.approx(float(naive.gradients[param].subs(point)), rel=1e-12)


def test_op_counts_order_and_agree_between_views():
    net = Network.mlp([3, 4, 2], "sigmoid", loss="mse")
    report = count_unrolled(net, naive=True)
    assert report.naive > report.naive_cse >= report.chain_rule > report.forward > 0
    index = count_index(symbackprop.derivation(net))
    assert abs(index.chain_rule - report.chain_rule) <= 0.1 * report.chain_rule
    assert "shared partial derivatives save" in report.table()


def test_index_derivation_does_not_grow_with_width():
    small = symbackprop.derivation(Network.mlp([4, 4, 3], "tanh"))
    wide = symbackprop.derivation(Network.mlp([400, 300, 30], "tanh"))
    assert [str(s) for s in small.statements()] == [str(s) for s in wide.statements()]


@pytest.mark.slow
def test_naive_form_of_16_16_4_is_over_100_times_the_chain_rule():
    net = Network.mlp([16, 16, 4], "sigmoid", output="sigmoid", loss="mse")
    report = count_unrolled(net, naive=True)
    assert report.naive >= 100 * report.chain_rule
    assert report.naive_cse > report.chain_rule
