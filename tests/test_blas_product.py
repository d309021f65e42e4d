"""``_matmul``: BLAS's gemm called directly must give what ``a @ b`` gives, for every layout."""
import numpy as np
import pytest

from symbackprop.codegen.blas_product import _matmul


def _operand(rng, shape, layout, dtype):
    if layout == "C":
        return rng.standard_normal(shape).astype(dtype)
    if layout == "F":  # the transpose of a C array, as the kernels pass a1.T
        return rng.standard_normal(shape[::-1]).astype(dtype).T
    return rng.standard_normal((shape[0], 2 * shape[1])).astype(dtype)[:, ::2]  # strided: np.dot's path


# a strided operand takes np.dot's path on purpose; Numba warns that it is slower
@pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaPerformanceWarning")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layouts", [("C", "C"), ("F", "C"), ("C", "F"), ("F", "F"), ("A", "C"), ("C", "A")])
def test_matmul_matches_numpy_for_every_operand_layout(layouts, dtype):
    rng = np.random.default_rng(0)
    for m, k, n in [(8, 64, 16), (16, 8, 10), (3, 1, 5), (1, 7, 1)]:
        a, b = _operand(rng, (m, k), layouts[0], dtype), _operand(rng, (k, n), layouts[1], dtype)
        out = np.full((m, n), np.nan, dtype=dtype)
        _matmul(a, b, out)
        tol = 1e-12 if dtype == np.float64 else 1e-4
        np.testing.assert_allclose(out, a @ b, rtol=tol, atol=tol)


def test_matmul_into_a_non_contiguous_result_and_empty_shapes():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 5))
    out = np.zeros((5, 4)).T  # F-ordered result: np.dot's path
    _matmul(a, b, out)
    np.testing.assert_allclose(out, a @ b, rtol=1e-12)
    out = np.full((4, 5), np.nan)
    _matmul(np.zeros((4, 0)), np.zeros((0, 5)), out)  # empty inner dimension: zeros, as NumPy
    assert np.all(out == 0.0)
    _matmul(np.zeros((0, 3)), b, np.zeros((0, 5)))  # nothing to compute


def test_matmul_refuses_shapes_that_do_not_fit():
    with pytest.raises(ValueError, match="shapes"):
        _matmul(np.zeros((4, 3)), np.zeros((2, 5)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="shapes"):
        _matmul(np.zeros((4, 3)), np.zeros((3, 5)), np.zeros((4, 4)))
