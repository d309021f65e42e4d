"""The generated kernels' ``exp`` (plain arithmetic, so loops vectorize) against NumPy's."""
import numpy as np
import pytest
from numba import njit

from symbackprop.codegen.vector_exp import _exp


@njit
def exp_all(x):
    out = np.empty_like(x)
    for k in range(x.size):
        out[k] = _exp(x[k])
    return out


def ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    return np.abs(got - want) / np.spacing(want)


def test_within_one_ulp_over_the_whole_normal_range():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-708.0, 709.78, 400_000), rng.uniform(-1.0, 1.0, 200_000),
                        rng.uniform(-1e-8, 1e-8, 10_000), np.arange(-700, 710, 0.5)])
    got, want = exp_all(x), np.exp(x)
    assert ulps(got, want).max() <= 1.0
    assert ulps(got, want).mean() < 0.2


def test_reduction_edges_near_multiples_of_half_ln2():
    """``k = round(x / ln2)`` switches at odd multiples of ln2/2: both sides must be accurate."""
    edges = (np.arange(-1000, 1000) + 0.5) * np.log(2.0)
    edges = edges[(edges > -708) & (edges < 709.7)]
    x = np.concatenate([np.nextafter(edges, -np.inf), edges, np.nextafter(edges, np.inf)])
    assert ulps(exp_all(x), np.exp(x)).max() <= 1.0


def test_subnormal_results_and_underflow():
    x = np.linspace(-745.1, -708.4, 20_001)
    got, want = exp_all(x), np.exp(x)
    assert np.all(np.abs(got - want) <= np.spacing(want) + 5e-324)
    assert np.all(exp_all(np.array([-745.2, -746.0, -1e4, -1e300])) == 0.0)


@pytest.mark.parametrize("x, want", [(np.inf, np.inf), (-np.inf, 0.0), (709.79, np.inf), (1e300, np.inf),
                                     (0.0, 1.0), (-0.0, 1.0)])
def test_special_values(x, want):
    with np.errstate(over="ignore"):
        assert exp_all(np.array([x]))[0] == want == np.exp(x)


def test_nan_stays_nan():
    assert np.isnan(exp_all(np.array([np.nan]))[0])
