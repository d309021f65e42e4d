"""Lowering rewrites that exist for speed: what loop nests they produce.

Their numerical effect is checked where every kernel is (gradients against PyTorch and
finite differences); here, that the loops come out in the order the rewrite promises.
"""
import sympy as sp

from symbackprop.codegen.lowering import Lowerer

n, j, i = sp.symbols("n j i", integer=True)
B, m = sp.symbols("B m", integer=True, positive=True)
d, gb, X = sp.IndexedBase("d"), sp.IndexedBase("gb"), sp.IndexedBase("X")


def test_bias_gradient_is_accumulated_row_by_row():
    lines = Lowerer().assign(gb[j], sp.Sum(d[n, j], (n, 0, B - 1)), [(j, "m")], into_existing=True)
    assert lines == ["for j in range(m):",
                     "    gb[j] = 0",
                     "for n in range(B):",
                     "    for j in range(m):",
                     "        gb[j] = d[n, j] + gb[j]"]


def test_sum_along_rows_keeps_its_accumulator_loop():
    """Summing along the contiguous axis is already the fast order: no rewrite."""
    lines = Lowerer().assign(gb[n], sp.Sum(d[n, j], (j, 0, m - 1)), [(n, "B")], into_existing=True)
    assert lines[0] == "for n in range(B):" and any("+=" in line for line in lines)


def test_sum_of_a_product_with_a_row_read_is_not_reordered():
    """``X[j, n]`` has the summation index last: accumulating by rows would stride it."""
    lines = Lowerer().assign(gb[j], sp.Sum(d[n, j] * X[j, n], (n, 0, B - 1)), [(j, "m")], into_existing=True)
    assert lines[0] == "for j in range(m):" and any("+=" in line for line in lines)


def test_product_with_a_transposed_weight_goes_through_a_copy_when_the_weight_is_narrow():
    W, g = sp.IndexedBase("W2"), sp.IndexedBase("g1")
    expr = sp.Sum(W[i, j] * d[n, j], (j, 0, m - 1))
    lines = Lowerer(transposed={"W2": "W2T"}).assign(g[n, i], expr, [(n, "B"), (i, "m1")], into_existing=True)
    assert lines[0] == "if W2.shape[1] <= 16:"
    assert "W2T[_tj, _ti] = W2[_ti, _tj]" in lines[3] and lines[4].strip() == "np.dot(d, W2T, g1)"
    assert lines[-1].strip() == "np.dot(d, W2.T, g1)"
    assert Lowerer().assign(g[n, i], expr, [(n, "B"), (i, "m1")], into_existing=True) == ["np.dot(d, W2.T, g1)"]
