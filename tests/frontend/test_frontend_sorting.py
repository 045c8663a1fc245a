"""Sorting, order statistics and the functions added with them: np.argsort / sort /
take_along_axis / median / quantile / percentile, x.argsort() and the in-place x.sort();
arcsinh / arccosh / arctanh, ceil / trunc / rint / round, isnan / isinf / isfinite,
nan_to_num; diff, average, cross, kron, linspace, count_nonzero.

Values, dtypes and shapes against NumPy running the same function (fecheck.check); gradients
against float64 finite differences of what NumPy computes (adcompiler.check_grad), on the
NumPy backend and, for all of them together, on the Numba backend; sort's gradient with ties
against the positions NumPy's stable argsort gives."""
import os
import warnings

import numpy as np
import pytest

import adcompiler
from fecheck import check, located_error, rand

FILE = os.path.basename(__file__)
INTS = np.array([[3, -1, 3, 0], [2, 2, -5, 1], [0, 4, 1, 1]])


def with_nan(x):
    y = x.copy()
    y[1, 2] = np.nan
    return y


# -- values and dtypes ---------------------------------------------------------------------------

def test_argsort_sort_take_along_axis():
    def f(x, k):
        return (np.argsort(x), np.argsort(x, axis=0), np.argsort(x, axis=None), x.argsort(),
                np.argsort(k, kind="stable"), np.argsort(x[0, 0]), np.sort(x),
                np.sort(x, axis=0), np.sort(x, axis=None), np.sort(k.astype(np.int32), axis=0),
                np.sort(x.astype(np.float32), kind="stable"),
                np.take_along_axis(x, np.argsort(x, axis=1), axis=1),
                np.take_along_axis(x, np.array([[2], [0], [-1]]), 1),
                np.take_along_axis(x, np.array([[1, 0, 2, 2]]), axis=0),
                np.take_along_axis(x, np.array([5, 0]), axis=None))
    check(f, rand(3, 4), INTS)


def test_ties_come_in_stable_order():
    def f(k, x):
        return np.argsort(k, kind="stable"), np.argsort(k, axis=0, kind="stable"), np.sort(x)
    check(f, INTS, with_nan(rand(3, 4)))        # NaNs sort last, as in NumPy


def test_the_runtime_argsort_is_numpys_stable_one():
    """rt.argsort sorts again, stably, only the lines with ties (NumPy's default sort may
    order those either way): lines with equal entries, NaNs, infinities, -0.0 and 0.0, and
    lines without, along every axis."""
    from adcompiler.runtime.helpers import argsort
    rng = np.random.default_rng(7)
    x = rng.standard_normal((6, 40, 5))
    x[0, 3], x[0, 9] = x[0, 9], x[0, 3]
    x[1, 4, 0] = x[1, 30, 0]
    x[2, :, 1] = np.round(x[2, :, 1])
    x[3, 5, 2] = x[3, 8, 2] = np.nan
    x[4, [1, 7], 3] = np.inf
    x[5, 2, 4], x[5, 11, 4] = 0.0, -0.0
    for a in (x, x.astype(np.float32), np.round(x * 3).astype(np.int64)):
        for axis in (0, 1, 2, -1):
            np.testing.assert_array_equal(argsort(a, axis),
                                          np.argsort(a, axis=axis, kind="stable"))
    np.testing.assert_array_equal(argsort(np.zeros((3, 0)), 1), np.zeros((3, 0), np.int64))


def test_sort_in_place_changes_the_array_and_its_names():
    def f(x):
        y = x
        x.sort(axis=0)
        return y + 0
    check(f, rand(3, 4))


def test_median_quantile_percentile():
    def f(x, k):
        return (np.median(x), np.median(x, axis=0), np.median(x, axis=1, keepdims=True),
                np.median(k), np.median(k, axis=(0, 1)), np.median(x[:, :3], axis=-1),
                np.median(x.astype(np.float32), axis=0), np.median(x[0, 0]),
                np.quantile(x, 0.3), np.quantile(x, [0.1, 0.5, 1.0], axis=1),
                np.quantile(k, 0.25, axis=0), np.quantile(k, 1), np.quantile(k, [0, 1]),
                np.quantile(x.astype(np.float32), 0.7),
                np.quantile(x.astype(np.float32), [0.7]),
                np.quantile(x, np.float64(0.55), axis=(1, 0)),
                np.quantile(x, [0.2, 0.5], axis=0, keepdims=True),
                np.percentile(x, 50, axis=0, keepdims=True), np.percentile(x, [[10, 90]]),
                np.percentile(k, 37.5, axis=1))
    x = rand(3, 4)
    check(f, x, INTS)
    check(f, with_nan(x), INTS)


def test_quantile_of_an_empty_q():
    """An empty q is NumPy's empty result (it was an internal error: the range check took the
    minimum of no q)."""
    check(lambda x: (np.quantile(x, []), np.percentile(x, ())), rand(3, 4))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, np.int64, np.bool_])
def test_elementwise_values_and_dtypes(dtype):
    def f(x):
        return (np.ceil(x), np.trunc(x), np.rint(x), np.round(x), np.isnan(x), np.isinf(x),
                np.isfinite(x), x.round())
    check(f, (rand(3, 4) * 4).astype(dtype))


def test_inverse_hyperbolics_and_rounding():
    def f(x, k):
        y = 3 * x
        return (np.arcsinh(x), np.arccosh(np.abs(x) + 1), np.arctanh(0.3 * x),
                np.arcsinh(x.astype(np.float32)), np.arcsinh(k), np.round(y, 1),
                np.round(10 * y, -1), np.around(y.astype(np.float32), 2), np.round(k, 2),
                np.round(np.array([0.5, 1.5, 2.5, -0.5])), np.ceil(k.astype(np.int32)))
    check(f, rand(3, 4), INTS)


def rounds_to_400_places(x):
    return np.round(x, 400) + np.round(x.astype(np.float32), -400)


def test_rounding_beyond_a_floats_range_is_nan_as_numpys():
    """10**400 overflows a Python float (an internal OverflowError); NumPy's is inf and its
    round NaN, which the API reports as a NaN reaching the result."""
    x = rand(3)
    with np.errstate(invalid="ignore", over="ignore"):
        want = rounds_to_400_places(x)
        got = adcompiler.jit(rounds_to_400_places, backend="numpy")(x)
    assert np.isnan(want).all() and np.isnan(got).all() and got.dtype == want.dtype


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_inverse_hyperbolic_gradients_at_large_and_near_one_arguments(backend):
    """d arcsinh = 1/hypot(x, 1) where x * x overflows (it was 0 from |x| ~ 1.8e19 in
    float32), and d arctanh = 1/((1 - x)(1 + x)) without 1 - x * x's cancellation near 1 (it
    was off by ~1e-4 relatively in float32)."""
    big = {np.float32: np.array([1e19, -3e25, 1e30, 2.0], np.float32),
           np.float64: np.array([1e154, -3e200, 1e300, 2.0])}
    for dtype, x in big.items():
        g = adcompiler.grad(lambda x: np.sum(np.arcsinh(x)), backend=backend)(x)
        assert g.dtype == dtype
        np.testing.assert_allclose(g, 1 / np.hypot(x.astype(np.float64), 1), rtol=1e-6)
    x = np.linspace(0.999, 0.99999, 200, dtype=np.float32)
    x = np.concatenate([x, -x])
    g = adcompiler.grad(lambda x: np.sum(np.arctanh(x)), backend=backend)(x)
    want = 1 / ((1 - x.astype(np.float64)) * (1 + x.astype(np.float64)))
    np.testing.assert_allclose(g, want, rtol=4e-7)


def test_nan_to_num():
    def f(x, k):
        w = x / 0.0
        return (np.nan_to_num(w), np.nan_to_num(w, nan=1.5, posinf=9.0, neginf=-7.0),
                np.nan_to_num(w.astype(np.float32)), np.nan_to_num(w.astype(np.float16)),
                np.nan_to_num(k), np.isnan(w), np.isinf(w), np.isfinite(w))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        check(f, np.array([1.0, -1.0, 0.0, np.nan, 2.0]), INTS)


def test_diff_average_cross_kron_count_nonzero():
    def f(x, k, v):
        return (np.diff(x), np.diff(x, axis=0), np.diff(x, n=2), np.diff(k, prepend=0),
                np.diff(x, append=x[:, :1]), np.diff(k > 0), np.diff(x, n=0),
                np.average(x), np.average(x, axis=1), np.average(k, axis=0, keepdims=True),
                np.average(x, weights=np.abs(x)), np.average(x, axis=1, weights=np.arange(4.0)),
                np.average(k, axis=0, weights=np.arange(3), returned=True),
                np.average(x, axis=1, returned=True),
                np.average(x.astype(np.float32), axis=(1, 0), weights=x.T.astype(np.float32).T),
                np.cross(v, v[::-1]), np.cross(v[0], v), np.cross(k[:2, :3], v),
                np.cross(v.T, v[:, ::-1].T, axis=0), np.cross(v, v, axisc=0),
                np.kron(x[0], v[0]), np.kron(v, x), np.kron(k, v[0]),
                np.kron(2, v.astype(np.float32)), np.kron(k, k),
                np.count_nonzero(k), np.count_nonzero(k, axis=0),
                np.count_nonzero(x > 0, axis=(0, 1), keepdims=True))
    check(f, rand(3, 4), INTS, rand(2, 3))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_average_of_weights_summing_to_zero_is_numpys_error(backend):
    """NumPy raises ZeroDivisionError where the weights sum to zero (a slice of them, with an
    axis); it was NaN, with no warning on Numba."""
    f = adcompiler.jit(lambda x, w: np.average(x, axis=-1, weights=w), backend=backend)
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(f(x, np.array([1.0, 2.0, 1.0])),
                               np.average(x, axis=-1, weights=[1.0, 2.0, 1.0]), rtol=1e-15)
    with pytest.raises(ZeroDivisionError):
        np.average(x, axis=-1, weights=np.array([1.0, -1.0, 0.0]))
    with pytest.raises(adcompiler.AssertionFailed, match=r"Weights sum to zero, can't be "
                                                         r"normalized \(NumPy's ZeroDivision"):
        f(x, np.array([1.0, -1.0, 0.0]))


def test_linspace():
    def f(x):
        return (x + np.linspace(0, 1, 4), np.linspace(0, 1), np.linspace(-2.5, 3, 7),
                np.linspace(0, 1, 5, endpoint=False), np.linspace(1, 10, 4, dtype=np.int64),
                np.linspace(0, 1, 1), np.linspace(0, 1, 0), np.linspace(np.float32(0.1), 0.7, 9),
                np.linspace(3, 1, 6, retstep=True), np.linspace(0.3, 0.3, 4),
                np.linspace(0, 1e-320, 3))
    check(f, rand(4))


def grids(a, b):
    """np.linspace with run-time bounds: a grid up to a parameter (a savings model's)."""
    return (np.linspace(0.0, a, 7), np.linspace(a, b, 5, endpoint=False, retstep=True),
            np.linspace(b, a, 1), np.linspace(np.float32(1.0), np.float32(a), 4),
            np.linspace(a, a, 3), np.linspace(a, b, 1, retstep=True)[1])


def test_linspace_with_run_time_bounds():
    check(grids, np.float64(1.5), np.float64(-2.0))
    for backend in ("numpy", "numba"):
        adcompiler.check_grad(lambda a, b: sum(np.sum(np.sin(g) * 1.7) for g in (
            grids(a, b)[0], *grids(a, b)[1], grids(a, b)[2], grids(a, b)[4])),
            np.float64(1.5), np.float64(-2.0), wrt=(0, 1), backend=backend)


# -- errors --------------------------------------------------------------------------------------

def sort_by_field(x):
    return np.sort(x, order="a")


def unknown_kind(x):
    return np.argsort(x, kind="bogo")


def quantile_method(x):
    return np.quantile(x, 0.5, method="nearest")


def quantile_out_of_range(x):
    return np.percentile(x, 150)


def run_time_q(x):
    return np.quantile(x, x[0, 0])


def median_of_empty(x):
    return np.median(x[:0])


def cross_of_2_vectors(x):
    return np.cross(x[:, :2], x[:, :2])


def round_int_negative(x):
    return np.round(x.astype(np.int64), -1)


def take_along_ranks(x):
    return np.take_along_axis(x, np.array([0, 1]), axis=0)


def nan_to_num_in_place(x):
    return np.nan_to_num(x, copy=False)


def linspace_run_time(x):
    return np.linspace(0, 1, int(x[0, 0]))


@pytest.mark.parametrize("f,match", [
    (sort_by_field, "order= .structured arrays. is not supported"),
    (unknown_kind, "sort kind must be one of"),
    (quantile_method, "only method='linear' without weights is supported"),
    (quantile_out_of_range, r"Percentiles must be in the range \[0, 100\]"),
    (run_time_q, "q must be compile-time numbers"),
    (median_of_empty, "np.median of an empty slice"),
    (cross_of_2_vectors, "only 3-vectors are supported"),
    (round_int_negative, "decimals=-1 is not supported"),
    (take_along_ranks, "must have the same number of dimensions"),
    (nan_to_num_in_place, r"copy=False\) changes its argument in place"),
    (linspace_run_time, "num must be a compile-time int"),
])
def test_unsupported_variants_are_located_errors(f, match):
    located_error(f, (rand(3, 4),), match, FILE)


# -- gradients -----------------------------------------------------------------------------------

W = rand(64)


def weighted(y):
    """A scalar that weighs every entry differently (so misplaced entries change it)."""
    flat = np.ravel(y)
    return np.sum(flat * W[:flat.shape[0]])


def grad_sorting(x):
    return (weighted(np.sort(x)) + weighted(np.sort(x, axis=0)) + weighted(np.sort(x, axis=None))
            + weighted(np.take_along_axis(x, np.array([[2, 0], [1, 1], [3, 0]]), axis=1)))


def grad_order_statistics(x):
    return (np.median(x) + weighted(np.median(x, axis=0)) + weighted(np.median(x[:, :3], axis=1))
            + weighted(np.quantile(x, [0.1, 0.5, 0.8], axis=1))
            + weighted(np.percentile(x, 30, axis=0, keepdims=True)) + np.quantile(x, 0.7))


def grad_elementwise(x):
    return (weighted(np.arcsinh(x)) + weighted(np.arccosh(x * x + 1.5))
            + weighted(np.arctanh(0.3 * x))
            + weighted(np.round(x, 1) * x) + weighted(np.ceil(x) + np.trunc(x) + np.rint(x))
            + weighted(np.nan_to_num(np.log(x))))


def grad_compositions(x):
    v = x[:, :3]
    return (weighted(np.diff(x)) + weighted(np.diff(x, n=2, axis=0, prepend=1.0))
            + weighted(np.average(x, axis=1)) + weighted(np.average(x, axis=1, weights=x[0] ** 2))
            + weighted(np.cross(v, np.cos(v))) + weighted(np.kron(x[:2, :2], x[1:, 2:]))
            + weighted(x * np.linspace(0, 1, 4)) + np.count_nonzero(x > 0))


# distinct values (no ties in the sorts), none within a finite-difference step of a rounding jump
X = np.array([[0.31, -1.27, 0.86, 2.13], [-0.42, 1.64, -2.38, 0.57], [1.12, 0.09, -0.73, 1.91]])


@pytest.mark.parametrize("f", [grad_sorting, grad_order_statistics, grad_elementwise,
                               grad_compositions])
def test_gradients_against_finite_differences(f):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)     # log of the negative entries
        adcompiler.check_grad(f, X, samples=12, rtol=1e-6, backend="numpy")


def all_together(x):
    return (grad_sorting(x) + grad_order_statistics(x) + grad_elementwise(x)
            + grad_compositions(x))


def test_gradients_on_the_numba_backend():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        report = adcompiler.check_grad(all_together, X, samples=12, rtol=1e-6, backend="numba")
    assert set(report) == {"x"}


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_sort_gradient_with_ties_goes_to_the_stable_argsort_position(backend):
    """d sort(x)_j goes to x's entry that stable argsort puts j-th: with ties, the first of
    them in x gets the first sorted slot's cotangent."""
    x = np.array([[3.0, 1.0, 3.0, 2.0, 1.0], [0.5, 0.5, 0.5, -1.0, 0.5]])
    c = np.arange(1.0, 11.0).reshape(2, 5)
    g = adcompiler.grad(lambda x, c: np.sum(np.sort(x) * c), backend=backend)(x, c)
    want = np.zeros_like(x)
    np.put_along_axis(want, np.argsort(x, axis=1, kind="stable"), c, axis=1)
    np.testing.assert_array_equal(g, want)


def lexsorts(a, b):
    m = np.stack([a.reshape(3, 4), b.reshape(3, 4)])
    return np.lexsort((a, b)), np.lexsort(m, axis=0), np.lexsort(m), np.lexsort([a, b * 0.0])


def test_lexsort_orders_ties_by_the_earlier_keys():
    rng = np.random.default_rng(5)       # (few distinct values: many ties)
    check(lexsorts, rng.integers(0, 3, 12).astype(float), rng.integers(0, 2, 12).astype(float))
