"""np.bincount, ufunc.reduceat, np.maximum.at / np.minimum.at (frontend/segments.py) and
ufunc.accumulate (the running max: reductions.running_scan): values and dtypes against NumPy
running the same Python, gradients on both backends against float64 finite differences, and
NumPy's errors at the user's line (run-time ones as AssertionFailed)."""
import numpy as np
import pytest

import adcompiler
from fecheck import central_differences, check, located_error, rand, weighted

FILE = "test_frontend_segments.py"
X = rand(6, 3)
NODE_OF_EDGE = np.array([0, 2, 2, 5, 1, 0])


def weighted_degrees(x):
    return np.bincount(NODE_OF_EDGE, weights=x[:, 0], minlength=8)


def counts_of_ranks(x):
    # argsort is a permutation: every value below 6 once; minlength gives the length
    return np.bincount(np.argsort(x[:, 1]), minlength=7)


def weighted_counts_of_ranks(x):
    return np.bincount(np.argsort(x[:, 1]), weights=x[:, 0].astype(np.float32), minlength=7)


def sums_of_groups(x):
    return np.add.reduceat(x, [3, 1, 4, 4])     # a[3], a[1:4], a[4], a[4:]


def sums_along_columns(x):
    return np.add.reduceat(x, np.array([0, 2]), axis=1)


def sums_of_flags(x):
    return np.add.reduceat(x > 0, [0, 2])       # (bool sums are int64, as NumPy's)


def maxima_of_groups(x):
    return np.maximum.reduceat(x, [0, 2, 5])


def minima_of_groups(x):
    return np.minimum.reduceat(x, [3, 1, 4, 4], axis=0)


def products_of_groups(x):
    return np.multiply.reduceat(x, [0, 3], axis=0)


def maxima_of_ints(x):
    return np.maximum.reduceat((x * 10).astype(np.int32), [1, 4])


def sums_in_float32(x):
    return np.add.reduceat(x, [0, 2], dtype=np.float32)


def no_groups(x):
    return np.add.reduceat(x, [])


FUNCTIONS = [weighted_degrees, counts_of_ranks, weighted_counts_of_ranks, sums_of_groups,
             sums_along_columns, sums_of_flags, maxima_of_groups, minima_of_groups,
             products_of_groups, maxima_of_ints, sums_in_float32, no_groups]


@pytest.mark.parametrize("f", FUNCTIONS)
def test_values_and_dtypes_are_numpys(f):
    check(f, X)


def all_differentiable(x):
    return sum(weighted(f(x)) for f in (weighted_degrees, sums_of_groups, sums_along_columns,
                                        maxima_of_groups, minima_of_groups, products_of_groups))


def bincount_with_run_time_indices(x):
    # the weights' gradient is gathered at the run-time indices
    return weighted(np.bincount(np.argsort(x[:, 1]), weights=np.sin(x[:, 0]), minlength=7))


@pytest.mark.parametrize("f", [all_differentiable, bincount_with_run_time_indices])
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_gradients_against_finite_differences(f, backend):
    g = adcompiler.grad(f, backend=backend)(X)
    np.testing.assert_allclose(g, central_differences(f, X), atol=1e-7)


def bincount_without_minlength(x):
    return np.bincount(np.argsort(x[:, 0]))


def bincount_of_floats(x):
    return np.bincount(x[:, 0], minlength=3)


def bincount_of_negatives(x):
    return np.bincount(np.array([0, -2]), weights=x[:2, 0])


def bincount_weights_of_another_length(x):
    return np.bincount(np.array([0, 2]), weights=x[:, 0])


def reduceat_out_of_bounds(x):
    return np.add.reduceat(x, [0, 6])


def reduceat_at_run_time_indices(x):
    return np.add.reduceat(x, np.argsort(x[:, 0]))


def reduceat_of_subtract(x):
    return np.subtract.reduceat(x, [0, 2])


@pytest.mark.parametrize("f, match", [
    (bincount_without_minlength, "give minlength="),
    (bincount_of_floats, "1-d array of non-negative ints"),
    (bincount_of_negatives, "must have no negative elements"),
    (bincount_weights_of_another_length, "the weights and list don't have the same length"),
    (reduceat_out_of_bounds, r"index 6 out-of-bounds in add.reduceat \[0, 6\)"),
    (reduceat_at_run_time_indices, "takes static indices"),
    (reduceat_of_subtract, "np.subtract.reduceat is not supported"),
])
def test_numpys_errors_are_located(f, match):
    located_error(f, (X,), match, FILE)


def bincount_of_shifted_ranks(x, shift):
    return np.bincount(np.argsort(x[:, 0]) + shift, minlength=7)


@pytest.mark.parametrize("shift, match", [(-1, "must have no negative elements"),
                                          (2, "a value is at least minlength=7")])
def test_run_time_indices_outside_the_length_fail_when_the_code_runs(shift, match):
    with pytest.raises(adcompiler.AssertionFailed, match=match):
        adcompiler.jit(bincount_of_shifted_ranks)(X, shift)


SEGMENT = np.array([0, 2, 2, 3, 0, -1, 2])      # (node 1 gets nothing; -1 is the last)


def segment_extremes(x):
    top = np.zeros((5, 3)) - 1.0
    np.maximum.at(top, SEGMENT, x)
    low = x[:5] * 1.0
    np.minimum.at(low, SEGMENT[:6], x[:6] * 2.0)
    counts = np.arange(5)
    np.maximum.at(counts, np.array([1, 1, 3]), 3)
    return top, low, counts


X7 = np.vstack([X, X[:1] * 0.5])


def test_segment_max_and_min_are_numpys():
    check(segment_extremes, X7)
    with_nan = X7.copy()
    with_nan[3, 1] = np.nan             # NaN wins a max, as NumPy's
    check(segment_extremes, with_nan)


def segment_extreme_loss(x):
    return sum(weighted(r) for r in segment_extremes(x)[:2])


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_segment_max_gradient_reaches_the_entries_kept(backend):
    g = adcompiler.grad(segment_extreme_loss, backend=backend)(X7)
    np.testing.assert_allclose(g, central_differences(segment_extreme_loss, X7), atol=1e-7)


def max_at_out_of_bounds(x, i):
    top = x * 1.0
    np.maximum.at(top, i, x[:2])
    return top


@pytest.mark.parametrize("i", [np.array([0, 6]), np.array([-7, 0])])
def test_a_segment_id_out_of_bounds_fails_when_the_code_runs(i):
    with pytest.raises(adcompiler.AssertionFailed, match="index is out of bounds for axis 0"):
        adcompiler.jit(max_at_out_of_bounds)(X, i)


def max_at_two_axes(x):
    np.maximum.at(x * 1.0, (np.array([0]), np.array([1])), 5.0)


def test_a_segment_max_takes_one_index_array():
    located_error(max_at_two_axes, (X,), "takes one 1-d integer array indexing the first axis",
                  FILE)


def accumulations(x):
    return (np.maximum.accumulate(x, axis=1), np.maximum.accumulate(x),
            np.minimum.accumulate(x[0]), np.add.accumulate(x), np.multiply.accumulate(x, axis=1),
            np.add.accumulate((x > 0).astype(np.int32), axis=1),
            np.logaddexp.accumulate(x * 300.0, axis=1), np.logaddexp.accumulate(x[:, 0]),
            np.logaddexp.accumulate(np.arange(4)))


def drawdown(x):
    peak = np.maximum.accumulate(x[0] + 10.0)
    return np.max((peak - x[0] - 10.0) / peak) + weighted(np.minimum.accumulate(x, axis=1))


def test_accumulate_is_numpys():
    check(accumulations, X)
    with_nan = X.copy()
    with_nan[1, 1] = np.nan             # carried on to the end, as NumPy's
    check(accumulations, with_nan)


def cox_partial_likelihood(eta):
    """Each time's log risk set, stable at large scores (a cumsum of exps overflows)."""
    return np.sum(eta - np.logaddexp.accumulate(eta[::-1] * 100.0)[::-1] / 100.0)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_the_running_log_sum_exp_gradient(backend):
    eta = X.ravel()
    g = adcompiler.grad(cox_partial_likelihood, backend=backend)(eta)
    np.testing.assert_allclose(g, central_differences(cox_partial_likelihood, eta), atol=1e-7)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_the_running_max_gradient_reaches_each_peak(backend):
    g = adcompiler.grad(drawdown, backend=backend)(X)
    np.testing.assert_allclose(g, central_differences(drawdown, X), atol=1e-7)


def counts_of_signs(x):
    return np.bincount(x[:, 0] > 0, weights=x[:, 1], minlength=2)


def test_bincount_of_run_time_booleans_counts_them_as_0_and_1():
    check(counts_of_signs, X)
