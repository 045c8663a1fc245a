"""NumPy's elementwise functions (frontend/ufuncs.py and the registry's cbrt, copysign and fmod),
NaN-ignoring reductions (frontend/nanfunctions.py, sorting.nanmedian), np.ptp,
np.cumulative_sum / cumulative_prod and the reductions' where= and initial=: values, dtypes
(NEP 50 weak Python scalars included), shapes and NaN / inf / -0.0 behaviour against NumPy
running the same function; gradients against central finite differences in float64 (NumPy
backend, and one Numba program covering them together); the run-time error of nanargmax on an
all-NaN slice; located errors for what stays unsupported."""
import warnings

import numpy as np
import pytest

import adcompiler
from fecheck import central_differences, check, located_error, rand, weighted

FILE = "test_frontend_nan_and_elementwise.py"
NAN, INF = np.nan, np.inf

SPECIAL = np.array([1.5, -2.0, -0.0, NAN, INF, 0.0, 3.0, -INF, -NAN, 8.0, -27.0, 1e-300])
OTHER = np.array([0.5, NAN, 2.0, 1.0, -1.0, -0.0, 3.0, 2.0, -0.5, -3.0, 0.0, 7.0])
INTS = np.array([-7, 7, 0, 5, -3, 2, 9, -1, 1, -8, 4, 6])
DIVISORS = np.array([3, -3, 4, 0, 2, -2, 4, 7, -1, 5, 0, -4])
BOOLS = INTS % 3 == 0
F32 = SPECIAL.astype(np.float32)


@pytest.fixture(autouse=True)
def quiet():
    """NumPy warns on NaNs, divisions by zero and all-NaN slices; the values are what counts."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def signbits(*arrays):
    """Sign bits as data, so a -0.0 where NumPy has 0.0 (or a lost NaN sign) fails."""
    return tuple(np.signbit(a) for a in arrays)


def test_reciprocal_positive_cbrt():
    def f(x, y, k, b, h, s):
        return (np.reciprocal(x), np.reciprocal(h), np.reciprocal(k), np.reciprocal(s),
                np.reciprocal(k.astype(np.int32)), np.positive(x), np.positive(k), np.positive(s),
                np.cbrt(x), np.cbrt(h), np.cbrt(k), np.cbrt(b), np.cbrt(s),
                np.cbrt(x.astype(np.float16)),
                *signbits(np.cbrt(x), np.cbrt(h), np.reciprocal(x)))
    check(f, SPECIAL, OTHER, INTS, BOOLS, F32, -2.5)


def test_copysign_and_fmod():
    def f(x, y, k, m, b, h, s):
        return (np.copysign(x, y), np.copysign(h, y), np.copysign(k, -1), np.copysign(s, x),
                np.copysign(x, -0.0), np.copysign(h, 2), np.copysign(b, b),
                np.fmod(x, y), np.fmod(h, 1.5), np.fmod(k, m), np.fmod(k.astype(np.int32), 3),
                np.fmod(k, -4), np.fmod(s, x), np.fmod(x, 0.0), np.fmod(k, 2.5),
                *signbits(np.copysign(x, y), np.copysign(h, y), np.fmod(x, y), np.fmod(h, -1.5)))
    check(f, SPECIAL, OTHER, INTS, DIVISORS, BOOLS, F32, -0.75)


def test_fmax_and_fmin_take_the_other_operand_of_a_nan():
    def f(x, y, k, b, h, s):
        return (np.fmax(x, y), np.fmin(x, y), np.fmax(h, y), np.fmin(h, 0.5), np.fmax(k, 2),
                np.fmin(k, x), np.fmax(b, b[::-1]), np.fmin(s, x), np.fmax(x, NAN),
                np.fmax(y.reshape(3, 4), x[:4]))
    check(f, SPECIAL, OTHER, INTS, BOOLS, F32, 2.0)


def test_heaviside_signbit_logical_xor():
    def f(x, y, k, b, h, s):
        return (np.heaviside(x, 0.5), np.heaviside(x, y), np.heaviside(h, 0.5), np.heaviside(k, y),
                np.heaviside(k, 1), np.heaviside(b, b), np.heaviside(s, h),
                np.signbit(x), np.signbit(h), np.signbit(k), np.signbit(b), np.signbit(s),
                np.logical_xor(x, y), np.logical_xor(k, b), np.logical_xor(h, 0.0),
                np.logical_xor(s, b))
    check(f, SPECIAL, OTHER, INTS, BOOLS, F32, -0.0)


def test_sinc_angles_float_power():
    def f(x, y, k, b, h, s):
        return (np.sinc(x), np.sinc(h), np.sinc(k), np.sinc(b), np.sinc(s), np.sinc(x * 0),
                np.deg2rad(x), np.radians(h), np.deg2rad(k), np.deg2rad(b), np.deg2rad(s),
                np.rad2deg(x), np.degrees(h), np.rad2deg(k), np.rad2deg(x.astype(np.float16)),
                np.float_power(x, y), np.float_power(h, 2), np.float_power(k, 2),
                np.float_power(k, -1), np.float_power(s, h), np.float_power(b, 0.5))
    check(f, SPECIAL, OTHER, INTS, BOOLS, F32 * 1000, 1.25)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_float_power_of_one_half_is_pow_not_sqrt(backend):
    """NumPy's float_power is C's pow: +0.0 at -0.0 and +inf at -inf for the exponent 0.5,
    where np.power (and the pow op) take sqrt: -0.0 and NaN."""
    def f(x, y, s):
        return (np.float_power(x, 0.5), np.float_power(x, y), np.float_power(s, 0.5),
                np.float_power(x, 3))
    x = np.array([-0.0, -INF, 0.0, 4.0, -1.0, INF, -0.0, -INF])
    args = (x, np.array([0.5] * 6 + [3.0, 0.5]), -0.0)
    got, want = adcompiler.jit(f, backend=backend)(*args), f(*args)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
        np.testing.assert_array_equal(np.signbit(g), np.signbit(w))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_float_power_of_one_half_has_the_square_roots_gradient_at_zero(backend):
    """d/dx x^0.5 = 0.5 x^-0.5: inf at 0 (as x ** 0.5's gradient is), not NaN."""
    def f(x):
        return np.sum(np.float_power(x, 0.5))
    x = np.array([0.0, -0.0, 4.0, 0.25])
    np.testing.assert_array_equal(adcompiler.grad(f, backend=backend)(x),
                                  [INF, INF, 0.25, 1.0])


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_max_of_a_slice_holding_nan_sends_the_gradient_to_its_nans(backend):
    """np.max of a slice with a NaN is NaN; its gradient goes to the NaN entries (split between
    them, as between ties), as torch.max's does, and the other slices' to their maxima: a NaN
    passed in is passed on, as np.sum's, not an error about a NaN made in the gradient."""
    def f(x, w):
        return np.sum(np.max(x, axis=1) * w) + np.min(x[0])
    x = np.array([[1.0, np.nan, 3.0, np.nan], [2.0, 5.0, 5.0, -1.0], [0.5, 0.0, 0.25, 0.0]])
    w = np.array([2.0, 4.0, 8.0])
    value, g = adcompiler.value_and_grad(f, backend=backend)(x, w)
    assert np.isnan(value)
    np.testing.assert_array_equal(g, [[0.0, 1.5, 0.0, 1.5], [0.0, 2.0, 2.0, 0.0],
                                      [8.0, 0.0, 0.0, 0.0]])


def test_angle_conversions_are_exact():
    """NumPy's constant is rounded in the computing dtype (float32's 180 / pi is not
    float32(180 / pi)): every bit must agree."""
    x = rand(1000) * 1000
    fn = adcompiler.jit(lambda x, h: (np.deg2rad(x), np.rad2deg(x), np.deg2rad(h), np.rad2deg(h)))
    for got, want in zip(fn(x, x.astype(np.float32)),
                         (np.deg2rad(x), np.rad2deg(x), np.deg2rad(x.astype(np.float32)),
                          np.rad2deg(x.astype(np.float32))), strict=True):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_isclose_and_allclose():
    a = np.array([1.0, 1.0 + 1e-9, NAN, INF, -INF, 0.0, 1e-9, 100.0, NAN])
    b = np.array([1.0, 1.0, NAN, INF, INF, 1e-9, 0.0, 100.001, 1.0])

    def f(a, b, k, h, s):
        return (np.isclose(a, b), np.isclose(a, b, equal_nan=True), np.isclose(a, b, 1e-3),
                np.isclose(a, b, atol=0.0), np.isclose(a, b, rtol=0.0, atol=1e-8),
                np.isclose(k, k + 1, atol=1), np.isclose(h, 1.0), np.isclose(h, b),
                np.isclose(s, 1.0), np.isclose(k, h[:4].astype(np.int64)),
                np.allclose(a, b), np.allclose(a, a), np.allclose(a, a, equal_nan=True),
                np.allclose(b[:2], 1.0), np.allclose(k, k), np.allclose(a, b, atol=INF))
    check(f, a, b, INTS[:4], a.astype(np.float32), 1.0 + 1e-7)


def test_allclose_is_a_python_bool():
    def f(a, b):
        close = np.allclose(a, b)
        return close, close + 1, np.isclose(a, b)[0] + 1
    check(f, np.ones(3), np.ones(3) + 1e-12)


NANS = np.array([[1.0, NAN, 3.0, -2.0], [NAN, NAN, NAN, NAN], [2.0, -1.0, INF, 0.5],
                 [-0.0, 4.0, NAN, -INF]])


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1), -1])
def test_nan_reductions(axis):
    def f(a, h, k, b):
        out = []
        for x in (a, h, k, b):
            out += [np.nansum(x, axis), np.nanprod(x, axis), np.nanmean(x, axis),
                    np.nanmax(x, axis), np.nanmin(x, axis), np.nanvar(x, axis),
                    np.nanstd(x, axis, ddof=1), np.nanmedian(x, axis),
                    np.nansum(x, axis, keepdims=True), np.nanmean(x, axis, keepdims=True),
                    np.nanmax(x, axis, keepdims=True), np.nanvar(x, axis, ddof=2, keepdims=True),
                    np.nanmedian(x, axis, keepdims=True)]
        return out
    check(f, NANS, NANS.astype(np.float32), INTS.reshape(3, 4), BOOLS.reshape(3, 4))


def test_nan_reductions_dtype_initial_where():
    keep = np.array([[True, False, True, True], [True, True, False, True],
                     [False, True, True, True], [True, True, True, False]])

    def f(a, k, m):
        return (np.nansum(a, 0, dtype=np.float32), np.nanprod(k, dtype=np.float64),
                np.nansum(a, 1, initial=10.0), np.nanprod(a, 0, initial=2.0),
                np.nansum(a, where=m), np.nanmean(a, 1, where=m), np.nanmean(k, dtype=np.float32),
                np.nanmax(a, 1, initial=-5.0), np.nanmin(a, 0, initial=0.0, where=m),
                np.nanmax(a, 0, initial=0.0, where=m, keepdims=True), np.nanvar(a, 0, where=m),
                np.nanstd(a, 1, where=m, keepdims=True), np.nanvar(a, 1, dtype=np.float32),
                np.nanmean(a, None, np.float32), np.nanmax(k, 0), np.nanargmin(k, 1),
                np.nanmedian(a[[0, 2]]), np.nanmedian(a[0]), np.nanmedian(a[:, 1]))
    check(f, NANS, INTS[:8].reshape(2, 4), keep)


def test_nanargmax_and_nanargmin():
    a = np.array([[1.0, NAN, 3.0, -2.0], [NAN, 5.0, NAN, NAN], [2.0, -1.0, INF, 0.5],
                  [-INF, -INF, NAN, -INF]])

    def f(a, h, k):
        return (np.nanargmax(a), np.nanargmin(a), np.nanargmax(a, 0), np.nanargmin(a, 1),
                np.nanargmax(a, 1, keepdims=True), np.nanargmin(a, axis=-1), np.nanargmax(h, 0),
                np.nanargmin(h, 1), np.nanargmax(k, 1), np.nanargmin(k, keepdims=True))
    check(f, a, a.astype(np.float32), INTS[:8].reshape(2, 4))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_nanargmax_of_an_all_nan_slice_stops_at_run_time(backend):
    """NumPy raises ValueError('All-NaN slice encountered'); the data is known only when the
    compiled program runs, which stops with an AssertionFailed at the user's line."""
    def f(a):
        return np.nanargmax(a, 1)
    fn = adcompiler.jit(f, backend=backend)
    np.testing.assert_array_equal(fn(NANS[[0, 2]]), np.nanargmax(NANS[[0, 2]], 1))
    with pytest.raises(adcompiler.AssertionFailed,
                       match=f"{FILE}:{f.__code__.co_firstlineno + 1}.*All-NaN slice"):
        fn(NANS)
    with pytest.raises(ValueError, match="All-NaN slice"):
        np.nanargmax(NANS, 1)


def test_where_and_initial():
    x = np.array([[1.0, -2.0, NAN, 4.0], [INF, 0.5, -0.0, 3.0], [2.0, 2.0, -1.0, -INF]])
    m = np.isfinite(x) & (x != 2.0)

    def f(x, k, b, m, h):
        return (np.sum(x, where=m), np.sum(x, 1, where=m, keepdims=True),
                np.sum(x, 0, initial=5.0),
                np.sum(k, initial=3), np.sum(k, 0, where=k > 0, initial=-1), np.sum(b, where=b),
                np.sum(h, 1, initial=0.25, where=m), np.sum(k, dtype=np.float32, initial=1),
                np.prod(x, 1, where=m), np.prod(k, initial=2), np.prod(x, 0, where=m, initial=0.5),
                np.max(x, 1, where=m, initial=-10.0), np.min(x, 0, where=m, initial=10.0),
                np.max(x, initial=1.0), np.min(k, initial=-100), np.max(k, 1, initial=3),
                np.max(x, 1, where=m, initial=100.0), np.max(b, where=b, initial=False),
                np.max(x[:, :0], 1, initial=7.0), np.min(k[:0], 0, initial=-1),
                np.max(x[0, 0], where=False, initial=0.0),
                np.mean(x, where=m), np.mean(x, 1, where=m, keepdims=True),
                np.mean(k, 0, where=k > 0),
                np.mean(h, 0, where=m), np.mean(x, 1, where=[True, True, False, True]),
                np.mean(x, 0, where=np.zeros(4, bool)),
                np.var(x, where=m), np.var(x, 1, where=m), np.std(x, 0, where=m, ddof=1),
                np.var(k, 0, where=k != 0, keepdims=True), np.std(h, 1, where=m, ddof=2),
                np.any(x > 1, 1, where=m), np.all(x > 0, 0, where=m), np.any(k, where=k < 0),
                np.all(b, 1, where=~b, keepdims=True), np.any(x, where=False),
                x.sum(where=m), x.max(1, where=m, initial=0.0), k.prod(initial=-1), x.mean(where=m),
                x.std(1, where=m), k.all(where=k > 5), x.min(initial=-1.0))
    k = INTS.reshape(3, 4)
    check(f, x, k, k % 2 == 0, m, x.astype(np.float32))


def test_ptp_and_cumulative():
    def f(x, k, h, v, s):
        return (np.ptp(x), np.ptp(x, 0), np.ptp(x, 1, keepdims=True), np.ptp(k, 0),
                np.ptp(h, (0, 1)),
                np.ptp(k.astype(np.int32)), np.ptp(s),
                np.cumulative_sum(v), np.cumulative_sum(x, axis=1), np.cumulative_sum(k, axis=0),
                np.cumulative_sum(v, include_initial=True),
                np.cumulative_sum(x, axis=-1, include_initial=True),
                np.cumulative_sum(k > 0, axis=1), np.cumulative_sum(k.astype(np.int32), axis=0),
                np.cumulative_sum(h, axis=0, dtype=np.float64, include_initial=True),
                np.cumulative_sum(s), np.cumulative_sum(s, include_initial=True),
                np.cumulative_prod(v), np.cumulative_prod(x, axis=0, include_initial=True),
                np.cumulative_prod(k, axis=1), np.cumulative_prod(k.astype(np.int32), axis=1,
                                                               include_initial=True),
                np.cumulative_prod(h, axis=1, dtype=np.float64), np.cumulative_prod(s),
                np.cumulative_prod(v[:0], include_initial=True))
    x = np.array([[1.0, -2.0, NAN, 4.0], [INF, 0.5, -0.0, 3.0], [2.0, 2.0, -1.0, -INF]])
    check(f, x, INTS.reshape(3, 4), rand(3, 4, dtype=np.float32), rand(5), np.float64(2.5))


def test_dtype_int32_is_kept():
    """dtype=np.int32 gives int32, where the sum and cumsum ops widen to int64."""
    def f(x, k, b):
        return (np.sum(x, dtype=np.int32), np.prod(k, axis=0, dtype=np.int32),
                np.nansum(x, axis=1, dtype=np.int32), np.cumsum(k, dtype=np.int32),
                np.cumsum(k, axis=1, dtype=np.int32), np.cumulative_sum(b, axis=0, dtype=np.int32),
                np.sum(b, dtype=np.int32, initial=2), np.cumulative_prod(k, axis=1, dtype=np.int32))
    k = INTS.reshape(3, 4)
    check(f, k * 1.5, k, k > 0)


def test_reductions_of_empty_arrays_over_axes_of_nonzero_length():
    """NumPy refuses max / min only over an axis of length 0; any / all of nothing are
    False / True."""
    def f(e, b):
        return (np.max(e, axis=1), np.ptp(e, axis=-1), np.nanmax(e, axis=1),
                np.nanmin(e, axis=1, keepdims=True), np.any(b, axis=0), np.all(b, axis=0),
                np.any(b.T, axis=-1, keepdims=True), np.all(b, axis=(0, 1)), np.any(b))
    check(f, np.ones((0, 3)), np.ones((0, 3), bool))


def test_nanmedian_of_negative_zeros_is_positive_zero():
    """The middle entries summed from +0.0 as NumPy's: two -0.0 give 0.0, as one does."""
    def f(x, s):
        return (np.nanmedian(x, axis=1), np.signbit(np.nanmedian(x, axis=1)),
                np.signbit(np.nanmedian(x)), np.signbit(np.nanmedian(s, axis=0)))
    x = np.array([[-0.0, -0.0, 1.0, NAN], [-0.0, NAN, NAN, NAN], [-0.0, -0.0, NAN, 2.0]])
    check(f, x, x[:, :2].T.astype(np.float32))


# -- gradients ---------------------------------------------------------------------------------

NAN_AT = np.zeros((4, 5), bool)
NAN_AT[[0, 1, 2, 3, 3], [1, 3, 0, 4, 2]] = True      # at most two per row or column


def grad_elementwise(x, y):
    ynan = np.where(NAN_AT[1], np.nan, y[0])      # fmax / fmin take x where y is NaN
    return (weighted(np.reciprocal(x)) + weighted(np.cbrt(x)) + weighted(np.copysign(x, y))
            + weighted(np.fmod(x, y)) + weighted(np.fmax(x, y)) + weighted(np.fmin(x, y))
            + weighted(np.fmax(x[0], ynan)) + weighted(np.fmin(ynan, x[1]))
            + weighted(np.heaviside(x, y)) + weighted(np.heaviside(x * 0, y))
            + weighted(np.sinc(x)) + weighted(np.sinc(y * 0)) + weighted(np.deg2rad(x))
            + weighted(np.rad2deg(y)) + weighted(np.float_power(np.abs(x), y))
            + np.sum(np.positive(x) * y))


def grad_nan_reductions(a):
    a = np.where(NAN_AT, np.nan, a)
    return (weighted(np.nansum(a, 0)) + np.nanprod(a) + weighted(np.nanmean(a, 1))
            + weighted(np.nanmax(a, 1)) + weighted(np.nanmin(a, 0)) + weighted(np.nanvar(a, 1))
            + weighted(np.nanstd(a, 0, ddof=1)) + np.nanmedian(a) + weighted(np.nanmedian(a, 1))
            + weighted(np.nanmedian(a, 0)) + np.nanmean(a) + np.nanmax(a, initial=3.0))


KEEP = ~NAN_AT


def grad_where_initial(x):
    return (np.sum(x, where=KEEP) + weighted(np.prod(x, 1, where=KEEP))
            + weighted(np.max(x, 1, where=KEEP, initial=-5.0)) + np.min(x, where=KEEP, initial=5.0)
            + weighted(np.mean(x, 0, where=KEEP)) + weighted(np.var(x, 1, where=KEEP))
            + np.std(x, where=KEEP, ddof=1) + np.sum(x, initial=2.0) + np.prod(x[0], initial=0.5)
            + weighted(np.ptp(x, 0)) + np.ptp(x)
            + weighted(np.cumulative_sum(x, axis=1, include_initial=True))
            + weighted(np.cumulative_prod(x, axis=0, include_initial=True)))


def point():
    """Away from the kinks: no ties, |x| >= 0.2, x / y away from integers, y > 0 where it is
    an exponent."""
    x = (0.2 + np.abs(rand(4, 5))) * np.where(np.arange(20).reshape(4, 5) % 3, 1, -1)
    return x + 0.01 * np.arange(20).reshape(4, 5), 0.7 + 0.3 * np.abs(rand(4, 5))


@pytest.mark.parametrize("f", [grad_nan_reductions, grad_where_initial])
def test_reduction_gradients_against_finite_differences(f):
    adcompiler.check_grad(f, point()[0], samples=20, rtol=1e-6, backend="numpy")


def test_elementwise_gradients_against_finite_differences():
    adcompiler.check_grad(grad_elementwise, *point(), wrt=("x", "y"), samples=20, rtol=1e-6,
                          backend="numpy")


def sinc_sum(x):
    return np.sum(np.sinc(x))


def sinc_of(x):
    return np.sinc(x)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_the_sinc_gradient_near_zero(backend):
    """Against the derivative's series, pi (-y/3 + y^3/30) with y = pi x, where the quotient's
    derivative cancels: it gave -1.5e155 at 1e-160, 30 % off at 1e-8, and in float32 ~1e13 at
    1e-20; beyond, against (y cos y - sin y) / y^2 in float64."""
    for x, rtol in ((np.array([1e-160, 1e-8, 0.0, -2e-4, 0.3, -2.5]), 1e-9),
                    (np.array([1e-20, -1e-23, 1e-4, 0.0, 0.02, 0.3, 1.5], np.float32), 1e-4)):
        y = np.pi * x.astype(np.float64)
        near = np.abs(y) < 0.1
        want = np.pi * np.where(near, -y / 3 + y ** 3 / 30, (y * np.cos(y) - np.sin(y))
                                / np.where(near, 1.0, y) ** 2)
        got = adcompiler.grad(sinc_sum, backend=backend)(x)
        assert got.dtype == x.dtype
        np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-300)
        # the values: NumPy's, to rounding, where the series replaces the quotient
        np.testing.assert_allclose(adcompiler.jit(sinc_of, backend=backend)(x), np.sinc(x),
                                   rtol=4 * np.finfo(x.dtype).eps)


def logaddexp_zero(x):
    return np.sum(np.logaddexp(x, 0.0))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_the_logaddexp_gradient_at_infinity(backend):
    """d/dx logaddexp(x, 0) = 1 / (1 + exp(-x)): 1 at inf (JAX's, PyTorch's), where exp(x - r)
    was exp(inf - inf), a NaNError."""
    x = np.array([np.inf, 1.0, -np.inf, 800.0])
    np.testing.assert_allclose(adcompiler.grad(logaddexp_zero, backend=backend)(x),
                               [1.0, 1 / (1 + np.exp(-1.0)), 0.0, 1.0], rtol=1e-15)


def unreachable(x, m):
    """CTC's forward variables: log-probabilities of -inf on both sides."""
    return np.sum(np.exp(np.logaddexp(m, m + x)))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_the_logaddexp_gradient_of_two_minus_infinities_warns_of_nothing(backend):
    """-inf - -inf made an invalid-value warning in the NumPy backend's gradient, which NumPy's
    logaddexp(-inf, -inf) = -inf does not make; the gradient there is 0."""
    x, m = np.array([0.5, 1.0]), np.array([0.0, -np.inf])
    with warnings.catch_warnings(), np.errstate(all="warn"):
        warnings.simplefilter("error")
        got = adcompiler.grad(unreachable, backend=backend)(x, m)
    np.testing.assert_allclose(got, [np.exp(0.5), 0.0], rtol=1e-15)


def all_together(x, y):
    return grad_elementwise(x, y) + grad_nan_reductions(x) + grad_where_initial(x)


def test_gradients_on_the_numba_backend():
    report = adcompiler.check_grad(all_together, *point(), wrt=("x", "y"), samples=20,
                                   rtol=1e-6, backend="numba")
    assert set(report) == {"x", "y"}


def test_gradients_at_the_kinks_follow_abs_and_maximum():
    """copysign's derivative in x at 0 is 0 (as |x|'s), fmax's at a tie is maximum's (the
    gradient split in halves), cbrt's at 0 inf (as sqrt's), heaviside's in x 0. Worked out by
    hand at x = (0, 1, -1), y = (-1, 1, 2): d/dx copysign(x, y) = sign(x) sign(y) = (0, 1, -1),
    d/dx fmax = (1, 1/2, 0), d/dy fmax = (0, 1/2, 1), d/dy heaviside(x, y) = (1, 0, 0) (its
    value at x = 0 is y)."""
    def f(x, y):
        return np.sum(np.copysign(x, y) + np.fmax(x, y) + np.heaviside(x, y))
    x, y = np.array([0.0, 1.0, -1.0]), np.array([-1.0, 1.0, 2.0])
    gx, gy = adcompiler.grad(f, wrt=("x", "y"), backend="numpy")(x, y)
    np.testing.assert_array_equal(gx, [1.0, 1.5, -1.0])
    np.testing.assert_array_equal(gy, [1.0, 0.5, 1.0])
    g = adcompiler.grad(lambda x: np.sum(np.cbrt(x)), backend="numpy")(np.array([0.0, -8.0]))
    np.testing.assert_array_equal(g, [INF, 1 / 12])


# -- errors ------------------------------------------------------------------------------------

def max_where_no_initial(x):
    return np.max(x, where=x > 0)


def nanmax_out(x):
    return np.nanmax(x, out=x)


def nanvar_mean(x):
    return np.nanvar(x, mean=x)


def cumulative_no_axis(x):
    return np.cumulative_sum(x)


def positive_bool(x):
    return np.positive(x > 0)


def ptp_bool(x):
    return np.ptp(x > 0)


def nanmedian_empty(x):
    return np.nanmedian(x[:0])


def where_not_bool(x):
    return np.sum(x, where=x)


@pytest.mark.parametrize("f, match", [
    (max_where_no_initial, "does not have an identity, so to use a where mask one has to "
                           "specify 'initial'"),
    (nanmax_out, r"out=\.\.\.\) is not supported"),
    (nanvar_mean, "mean= or correction= is not supported"),
    (cumulative_no_axis, "axis`` argument is required"),
    (positive_bool, "np.positive of a boolean array"),
    (ptp_bool, "boolean subtract"),
    (nanmedian_empty, "np.nanmedian of an empty slice"),
    (where_not_bool, "where= must be a boolean array"),
])
def test_unsupported_variants_are_located_errors(f, match):
    located_error(f, (rand(3, 4),), match, FILE)


def test_numpy_itself_rejects_what_the_errors_reject():
    x = rand(3, 4)
    for f in (max_where_no_initial, cumulative_no_axis, positive_bool, ptp_bool):
        with pytest.raises((ValueError, TypeError)):
            f(x)


def fmax_of_a_log(x):
    return np.sum(np.fmax(np.log(x), 0.0)) + np.sum(np.fmin(0.5, np.log(x)) * x)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_the_nan_fmax_and_fmin_drop_has_no_gradient(backend):
    """log(-1) is NaN and fmax/fmin take the other operand there: no NaN gradient (it was a
    NaNError), as differences of NumPy say."""
    x = np.array([-1.0, 2.0, 3.0, 0.5])
    with np.errstate(invalid="ignore"):
        want = central_differences(fmax_of_a_log, x)
        got = adcompiler.grad(fmax_of_a_log, backend=backend)(x)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_argmax_and_inf_norm_of_an_empty_array_along_a_non_empty_axis():
    """They were TraceErrors ('empty sequence', 'no identity'); NumPy reduces the non-empty
    axis of an empty array to an empty result (the inf-norm of no entries is 0)."""
    check(lambda a: (np.argmax(a, axis=1), np.argmin(a, axis=-1, keepdims=True)),
          np.zeros((0, 3)))
    check(lambda a: (np.nanargmax(a, axis=0), np.linalg.vector_norm(a, axis=1, ord=np.inf),
                     np.linalg.norm(a, ord=np.inf, axis=1, keepdims=True)), np.zeros((3, 0)))
    with pytest.raises(adcompiler.TraceError, match="argmax of an empty sequence"):
        adcompiler.trace(lambda a: np.argmax(a, axis=0), np.zeros((0, 3)))


def argmax_over_two_axes(a):
    return np.argmax(a, axis=(0, 1))


def test_argmax_over_a_tuple_of_axes_is_an_error():
    """NumPy raises TypeError; the trace crashed (an internal 'too many values to unpack')."""
    with pytest.raises(TypeError):
        argmax_over_two_axes(np.zeros((2, 3)))
    located_error(argmax_over_two_axes, (np.zeros((2, 3)),), r"np\.argmax's axis must be an "
                  r"integer, got \(0, 1\)", FILE)


def nanvar_kept_finite(a):
    v = np.nanvar(a, axis=0, ddof=1) + np.nanstd(a, axis=0, ddof=1)
    return np.sum(np.where(np.isnan(v), 0.0, v))


def test_nanvar_of_a_slice_with_ddof_entries_dropped_by_a_where_has_finite_gradients():
    """A column with as many entries as ddof is NaN (NumPy's); dropping it with a where still
    made the gradient a NaNError (0 * 1/0 inside nanvar)."""
    x = np.array([[1.0, np.nan], [2.0, np.nan], [4.0, 3.0]])
    column = x[:, :1].copy()
    want = central_differences(nanvar_kept_finite, column)
    for backend in ("numpy", "numba"):
        g = adcompiler.grad(nanvar_kept_finite, backend=backend)(x)
        np.testing.assert_allclose(g[:, :1], want, rtol=1e-6)
        np.testing.assert_array_equal(g[:, 1], 0.0)


def signed_infinities(x):
    return np.isposinf(x), np.isneginf(x), np.isneginf(x[:1].astype(np.int32)), \
        np.where(np.isneginf(x), 0.0, x)


def test_isposinf_and_isneginf():
    check(signed_infinities, np.array([1.0, -np.inf, np.inf, np.nan, -2.0, -0.0]))
