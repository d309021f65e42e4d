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
    assert "W2T[_tj, _ti] = W2[_ti, _tj]" in lines[3] and lines[4].strip() == "_matmul(d, W2T, g1)"
    assert lines[-1].strip() == "_matmul(d, W2.T, g1)"
    assert Lowerer().assign(g[n, i], expr, [(n, "B"), (i, "m1")], into_existing=True) == ["_matmul(d, W2.T, g1)"]


z1, a1, g1, d1, Y = (sp.IndexedBase(name) for name in ("z1", "a1", "g1", "d1", "Y"))
WORK = {"z1": ("B", "m1"), "a1": ("B", "m1"), "g1": ("B", "m1"), "d1": ("B", "m1"), "z2": ("B", "m2")}
LOOPS = [(n, "B"), (j, "m1")]


def test_elementwise_statement_over_work_arrays_runs_as_one_flat_loop():
    low = Lowerer(contiguous=WORK)
    relu_grad = sp.Piecewise((1, z1[n, j] > 0), (0, True)) * g1[n, j]
    lines = low.assign(d1[n, j], relu_grad, LOOPS, into_existing=True)
    assert lines[0].startswith("for _e") and lines[0].endswith(" in range(d1_flat.size):")
    assert len(lines) == 2 and "z1_flat[_e" in lines[1] and "g1_flat[_e" in lines[1]
    assert low.flat_views == {"d1", "z1", "g1"}


def test_statements_that_are_not_elementwise_over_one_shape_keep_their_loop_nest():
    low = Lowerer(contiguous=WORK)
    cases = [
        (a1[n, j], Y[n, j] * z1[n, j]),          # Y is the caller's array: maybe not contiguous
        (a1[n, j], z1[n, j] + sp.IndexedBase("b1")[j]),  # a bias: broadcast along rows
        (a1[n, j], z1[n, j] * j),                # an index outside a subscript
        (a1[n, j], sp.IndexedBase("z2")[n, j]),  # another shape
        (a1[n, j], z1[j, n]),                    # transposed read
    ]
    for target, expr in cases:
        lines = low.assign(target, expr, LOOPS, into_existing=True)
        assert lines[:2] == ["for n in range(B):", "    for j in range(m1):"], (target, expr, lines)
    assert low.flat_views == set()

