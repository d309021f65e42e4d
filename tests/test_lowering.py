"""Lowering rewrites that exist for speed: what kernel IR they produce.

Their numerical effect is checked where every kernel is (gradients against PyTorch and
finite differences); here, on the IR's structure, that each rule fires where it promises
and nowhere else, and that the printer turns the tree into the code a reader expects.
"""
import sympy as sp

from symbackprop.codegen import ir
from symbackprop.codegen.lowering import Lowerer
from symbackprop.codegen.printer import KernelPrinter
from symbackprop.codegen.rewrites import SMALL_FAN_OUT

n, j, i = sp.symbols("n j i", integer=True)
B, m, m1 = sp.symbols("B m m1", integer=True, positive=True)
d, gb, X = sp.IndexedBase("d"), sp.IndexedBase("gb"), sp.IndexedBase("X")


def _loops(nodes) -> list[tuple[sp.Symbol, sp.Expr]]:
    """``(index, stop)`` of every loop in ``nodes``, outermost first."""
    return [(node.index, node.stop) for node in ir.walk(nodes) if isinstance(node, ir.Loop)]


def _assignments(nodes) -> list[ir.Assign]:
    return [node for node in ir.walk(nodes) if isinstance(node, ir.Assign)]


def test_bias_gradient_is_accumulated_row_by_row():
    nodes = Lowerer().lower(gb[j], sp.Sum(d[n, j], (n, 0, B - 1)), [(j, m)], into_existing=True)
    zero, rows = nodes
    assert isinstance(zero, ir.Loop) and zero.index == j and zero.body == (ir.Assign(gb[j], 0),)
    assert (rows.index, rows.stop) == (n, B)  # the batch loop outside ...
    inner, = rows.body
    assert (inner.index, inner.stop) == (j, m)  # ... and the contiguous axis inside
    assert inner.body == (ir.Assign(gb[j], d[n, j] + gb[j]),)
    assert KernelPrinter().statements(nodes)[-1] == "        gb[j] = d[n, j] + gb[j]"


def test_sum_along_rows_keeps_its_accumulator_loop():
    """Summing along the contiguous axis is already the fast order: no rewrite."""
    nodes = Lowerer().lower(gb[n], sp.Sum(d[n, j], (j, 0, m - 1)), [(n, B)], into_existing=True)
    assert isinstance(nodes[0], ir.Loop) and nodes[0].index == n
    assert any(a.op == "+" for a in _assignments(nodes))


def test_sum_of_a_product_with_a_row_read_is_not_reordered():
    """``X[j, n]`` has the summation index last: accumulating by rows would stride it."""
    nodes = Lowerer().lower(gb[j], sp.Sum(d[n, j] * X[j, n], (n, 0, B - 1)), [(j, m)], into_existing=True)
    assert nodes[0].index == j and any(a.op == "+" for a in _assignments(nodes))


def test_contraction_becomes_one_blas_call_with_operands_transposed_as_indexed():
    W, a0, z1 = sp.IndexedBase("W1"), sp.IndexedBase("a0"), sp.IndexedBase("z1")
    b = sp.IndexedBase("b1")
    forward = Lowerer().lower(z1[n, j], sp.Sum(a0[n, i] * W[i, j], (i, 0, m - 1)) + b[j], [(n, B), (j, m1)],
                              into_existing=True)
    assert forward[0] == ir.MatMul(sp.Symbol("a0"), sp.Symbol("W1"), sp.Symbol("z1"))
    assert _assignments(forward[1:]) == [ir.Assign(z1[n, j], b[j] + z1[n, j])]  # the bias added after
    gW = sp.IndexedBase("gW1")
    grad = Lowerer().lower(gW[i, j], sp.Sum(a0[n, i] * d[n, j], (n, 0, B - 1)), [(i, m), (j, m1)],
                           into_existing=True)
    assert grad == [ir.MatMul(ir.Transposed(sp.Symbol("a0")), sp.Symbol("d"), sp.Symbol("gW1"))]
    assert KernelPrinter().statements(grad) == ["_matmul(a0.T, d, gW1)"]


def test_product_with_a_transposed_weight_goes_through_a_copy_when_the_weight_is_narrow():
    W, g = sp.IndexedBase("W2"), sp.IndexedBase("g1")
    expr = sp.Sum(W[i, j] * d[n, j], (j, 0, m - 1))
    low = Lowerer(parameters=frozenset({"W2"}))
    branch, = low.lower(g[n, i], expr, [(n, B), (i, m1)], into_existing=True)
    W2, W2T, d_, g1 = sp.symbols("W2 W2T d g1")
    assert branch.condition == sp.Le(ir.Dim(W2, 1), SMALL_FAN_OUT)
    copy, product = branch.body
    assert _loops([copy]) == [(sp.Symbol("_ti"), ir.Dim(W2, 0)), (sp.Symbol("_tj"), ir.Dim(W2, 1))]
    assert product == ir.MatMul(d_, W2T, g1)
    assert branch.orelse == (ir.MatMul(d_, ir.Transposed(W2), g1),)
    assert low.transposed_copies == {"W2": "W2T"}  # the module allocates the copy
    # an array that is not a parameter is multiplied transposed directly
    assert Lowerer().lower(g[n, i], expr, [(n, B), (i, m1)], into_existing=True) == [
        ir.MatMul(d_, ir.Transposed(W2), g1)]


z1, a1, g1, d1, Y = (sp.IndexedBase(name) for name in ("z1", "a1", "g1", "d1", "Y"))
WORK = {"z1": (B, m1), "a1": (B, m1), "g1": (B, m1), "d1": (B, m1), "z2": (B, m)}
LOOPS = [(n, B), (j, m1)]


def test_elementwise_statement_over_work_arrays_runs_as_one_flat_loop():
    low = Lowerer(contiguous=WORK)
    relu_grad = sp.Piecewise((1, z1[n, j] > 0), (0, True)) * g1[n, j]
    loop, = low.lower(d1[n, j], relu_grad, LOOPS, into_existing=True)
    assert loop.stop == ir.Length(sp.Symbol("d1_flat")) and loop.index.name.startswith("_e")
    (assign,) = loop.body
    e = loop.index
    assert assign.target == sp.IndexedBase("d1_flat")[e]
    assert assign.value.has(sp.IndexedBase("z1_flat")[e], sp.IndexedBase("g1_flat")[e])
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
        nodes = low.lower(target, expr, LOOPS, into_existing=True)
        assert _loops(nodes)[:2] == LOOPS, (target, expr, nodes)
    assert low.flat_views == set()


def test_sum_with_an_index_bracket_becomes_the_loop_bounds():
    """``Σ_p [0 <= y + p - 1 <= 7] a[y + p - 1]``: the bracket is the range of ``p``'s loop."""
    from symbackprop.model.notation import InRange
    p, y = sp.symbols("p y", integer=True, nonnegative=True)
    a, z = sp.IndexedBase("a"), sp.IndexedBase("z")
    nodes = Lowerer().lower(z[y], sp.Sum(InRange(y + p - 1, 0, 7) * a[y + p - 1], (p, 0, 2)), [(y, 8)],
                            into_existing=True)
    inner = [node for node in ir.walk(nodes) if isinstance(node, ir.Loop) and node.start is not None]
    assert len(inner) == 1 and not any(isinstance(e, InRange) for a_ in _assignments(nodes)
                                       for e in sp.preorder_traversal(a_.value))
    assert inner[0].start == sp.Max(0, 1 - y) and inner[0].stop == sp.Min(2, 8 - y) + 1


def test_printer_prints_every_statement_kind():
    a, b, W = sp.symbols("a b W")
    function = ir.KernelFunction("f", ("a", "b"), (
        ir.Allocate(a, (ir.Dim(W, 0),), "int64"),
        ir.Loop(n, ir.Dim(W, 1), (ir.Assign(sp.IndexedBase("z")[n], a + b, "+"),)),
        ir.Branch(sp.Eq(a, 0), (ir.Skip(),), (ir.Evaluate(ir.call("update", a, b)),)),
        ir.Return((a, sp.Integer(-1)))), "@njit", ("why",))
    assert KernelPrinter().statement(function).split("\n") == [
        "@njit", "def f(a, b):", "    # why", "    a = np.empty((W.shape[0],), dtype=np.int64)",
        "    for n in range(W.shape[1]):", "        z[n] += a + b", "    if a == 0:", "        continue",
        "    else:", "        update(a, b)", "    return a, -1"]
