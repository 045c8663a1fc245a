"""np.log2, np.log10, np.exp2, np.fabs, np.arctan2, np.hypot, np.logaddexp, np.logaddexp2 and
scipy.special's erf, erfc, expit, log_expit, softplus, logit, xlogy, xlog1py, gammaln, digamma,
gamma, polygamma, betaln, entr, rel_entr, kl_div, ndtr, log_ndtr, ndtri, erfinv, erfcinv, logsumexp, softmax and
log_softmax: values and dtypes against NumPy and SciPy running the same function
(fecheck.check), gradients against finite differences of what NumPy and SciPy compute
(adcompiler.check_grad) on both backends, float32, and large arguments that must not overflow
(logaddexp(1000, 1000), expit(-1000), logsumexp([1000, 1000]))."""
import subprocess
import sys

import numpy as np
import pytest
from scipy import special

import adcompiler
from fecheck import check, rand

UNARY = [np.log2, np.log10, np.exp2, np.fabs, special.erf, special.erfc, special.expit,
         special.log_expit, special.softplus, special.gammaln, special.digamma, special.gamma,
         special.ndtr, special.log_ndtr, special.ndtri, special.erfinv, special.erfcinv,
         special.entr]
BACKENDS = ["numpy", "numba"]


@pytest.mark.parametrize("fn", UNARY, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, np.int64])
def test_unary_values_and_dtypes(fn, dtype):
    """SciPy's float16 results are float32 (no float16 loop), NumPy's float16; ints give
    float64."""
    x = np.arange(-2, 4).reshape(2, 3) if dtype == np.int64 else rand(2, 3) * 3
    if fn in (np.log2, np.log10):
        x = np.abs(x) + 1
    check(lambda x: fn(x), x.astype(dtype))


def test_binary_values_and_dtypes():
    def f(x, y, k):
        return (np.arctan2(x, y), np.hypot(x, y), np.logaddexp(x, y), np.arctan2(k, 2),
                np.hypot(x, 3.0), np.logaddexp(k, x), np.arctan2(-1.0, y),
                special.xlogy(np.abs(x), np.abs(y)), special.xlogy(k, 2.0),
                np.logaddexp2(x, y), np.logaddexp2(k, 2.0), np.logaddexp2(-np.inf, x),
                special.xlog1py(x, np.abs(y)), special.xlog1py(k, 2.0),
                special.logit(special.expit(x)), special.logit(np.abs(y) / 2), special.logit(k),
                special.betaln(np.abs(x), np.abs(y)), special.betaln(k, 2.5),
                special.rel_entr(x, y), special.kl_div(np.abs(x), y), special.kl_div(k, 2.0))
    k = np.arange(-2, 2)
    check(f, rand(3, 4), rand(4), k)
    check(f, rand(3, 4, dtype=np.float32), rand(4, dtype=np.float32), k.astype(np.int32))


@pytest.mark.parametrize("axis", [None, 0, -1, (0, 1)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_reductions_values_and_dtypes(axis, dtype):
    def f(x):
        return (special.logsumexp(x, axis=axis), special.logsumexp(x, axis=axis, keepdims=True),
                special.softmax(x, axis=axis), special.log_softmax(x, axis=axis))
    x = (rand(2, 3, 2) * 3).astype(dtype) if dtype != np.int64 else np.arange(12).reshape(2, 3, 2)
    check(f, x)


def test_reductions_of_a_scalar_and_of_infinities():
    def f(s, x):
        return special.logsumexp(s), special.softmax(s), special.log_softmax(x, axis=1), \
            special.logsumexp(x, axis=1), special.softmax(x, axis=0)
    x = np.array([[-np.inf, -np.inf], [np.inf, 1.0], [0.0, -np.inf]])
    with np.errstate(all="ignore"):
        check(f, 2.5, x)


def test_logsumexp_over_an_empty_axis_is_minus_inf():
    """It was a TraceError: the shift's maximum has no identity over an empty axis."""
    def f(x):
        return special.logsumexp(x, axis=0), special.logsumexp(x, axis=0, keepdims=True)
    with np.errstate(divide="ignore"):
        check(f, np.zeros((0, 3)))
        check(f, np.zeros((0, 2), np.float32))


def test_large_arguments_stay_finite():
    """exp of these overflows; SciPy's and NumPy's results do not, nor do the gradients."""
    def f(x, y):
        return (np.logaddexp(x, y), special.expit(x), special.expit(-x),
                special.logsumexp(x), special.softmax(x), special.log_softmax(y))

    def loss(x, y):
        return np.sum(np.logaddexp(x, y) + special.expit(-x) + special.expit(x)) + \
            special.logsumexp(x) + np.sum(special.log_softmax(y) * x)

    x, y = np.array([1000.0, 1000.0, -1000.0]), np.array([1000.0, -1000.0, -1000.0])
    want = f(x, y)
    assert np.all(np.isfinite(np.concatenate([np.ravel(w) for w in want])))
    check(f, x, y)
    check(f, x.astype(np.float32), y.astype(np.float32))
    # d logaddexp = (1/2, 1/2), (1, 0), (1/2, 1/2); d expit = 0; d logsumexp = (1/2, 1/2, 0)
    # d <log_softmax(y), x> = x - softmax(y) sum(x), with softmax(y) = (1, 0, 0)
    dx = np.array([0.5, 1.0, 0.5]) + np.array([0.5, 0.5, 0.0]) + special.log_softmax(y)
    dy = np.array([0.5, 0.0, 0.5]) + x - special.softmax(y) * x.sum()
    for backend in BACKENDS:
        got = adcompiler.jit(f, backend=backend)(x, y)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-12, err_msg=backend)
        gx, gy = adcompiler.grad(loss, wrt=(0, 1), backend=backend)(x, y)
        np.testing.assert_allclose(gx, dx, rtol=1e-12, atol=1e-12, err_msg=backend)
        np.testing.assert_allclose(gy, dy, rtol=1e-12, atol=1e-12, err_msg=backend)


def ufunc_loss(x, y):
    return np.sum(np.log2(x) * np.log10(x) + np.exp2(y) + np.arctan2(x, y) * np.hypot(x, y)
                  + np.logaddexp(x, y) * special.erf(y) + special.expit(x * y)
                  + special.erfc(y) * np.fabs(y) + special.log_expit(y) * special.softplus(x)
                  + special.xlogy(y, x) + np.logaddexp2(x, y) * special.xlog1py(y, x)
                  + special.logit(special.expit(y) * 0.5 + 0.2)
                  + special.gammaln(x) * y + special.digamma(x + 1) ** 2
                  + special.gamma(x) * special.betaln(x, y * y + 0.5)
                  + special.ndtri(special.expit(y)) * special.ndtr(x * y)
                  + special.log_ndtr(y * 3 - x) + special.erfinv(special.expit(y) - 0.5)
                  + special.erfcinv(special.expit(x - y) * 1.5)
                  + special.kl_div(x, np.abs(y) + 0.1) + special.entr(x)
                  + special.rel_entr(np.abs(y) + 0.1, x))


@pytest.mark.parametrize("fn, log, y", [
    (special.xlogy, np.log, [0.0, 3.0, 0.5, -1.0, np.inf, 0.0, 1.0]),
    (special.xlog1py, np.log1p, [-1.0, 3.0, -0.5, -2.0, np.inf, -1.0, 1.0])],
    ids=["xlogy", "xlog1py"])
def test_xlogy_where_x_is_zero(fn, log, y):
    """SciPy's 0 where x is 0 (log(y) finite or not), NaN where y is; the gradient there is
    log(y) in x where that is finite (the finite differences' value), 0 in y, and never the
    NaN of 0 * log(0) or of 0 / 0. xlog1py the same with log1p(y)."""
    x, y = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 2.0, -1.0]), np.array(y)
    with np.errstate(divide="ignore", invalid="ignore"):
        check(lambda x, y: fn(x, y), x, y)
        check(lambda x, y: fn(x, y), np.zeros(1), np.array([np.nan]))
    for backend in BACKENDS:
        gx, gy = adcompiler.grad(lambda x, y: np.sum(fn(x, y)), wrt=(0, 1),
                                 backend=backend)(x[:5], y[:5])
        np.testing.assert_allclose(gx, [0.0, log(y[1]), log(y[2]), 0.0, 0.0], rtol=1e-15)
        np.testing.assert_array_equal(gy, np.zeros(5))


def reductions_loss(x, y):
    return special.logsumexp(x) + np.sum(special.logsumexp(x * y, axis=1) ** 2) + \
        np.sum(special.softmax(x, axis=0) * y) + np.sum(special.log_softmax(x * y, axis=-1) * y)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("loss", [ufunc_loss, reductions_loss], ids=lambda f: f.__name__)
def test_gradients_against_finite_differences(loss, backend):
    x, y = np.abs(rand(3, 4)) + 0.3, rand(3, 4)
    adcompiler.check_grad(loss, x, y, wrt=(0, 1), backend=backend)
    # float32 in: float32 gradients, close to float64's
    g64 = adcompiler.grad(loss, wrt=(0, 1), backend=backend)(x, y)
    g32 = adcompiler.grad(loss, wrt=(0, 1), backend=backend)(x.astype(np.float32),
                                                            y.astype(np.float32))
    for a, b in zip(g32, g64, strict=True):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-4)


def test_logsumexp_b_and_return_sign_are_errors():
    with pytest.raises(adcompiler.TraceError, match=r"b= and return_sign= are not supported"):
        adcompiler.trace(lambda x: special.logsumexp(x, b=x), rand(3))
    with pytest.raises(adcompiler.TraceError, match=r"b= and return_sign= are not supported"):
        adcompiler.trace(lambda x: special.logsumexp(x, return_sign=True), rand(3))


def test_scipy_is_imported_only_where_used():
    """`import adcompiler` leaves SciPy out; generated NumPy code imports it only for erf and
    expit."""
    code = "import sys, adcompiler; assert 'scipy.special' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
    x = rand(3)
    plain = adcompiler.grad(lambda x: np.sum(np.log2(x ** 2)), backend="numpy")
    assert "scipy" not in plain.adjoint_source(x)
    sig = adcompiler.grad(lambda x: np.sum(special.expit(x)), backend="numpy")
    assert "import scipy.special" in sig.adjoint_source(x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_digamma_and_gammalns_derivatives(backend):
    """digamma (built from registry ops) against SciPy's over its range, its poles and
    reflections; gammaln's first and second derivatives are SciPy's digamma and trigamma."""
    x = np.array([0.0, -0.0, -1.0, -2.5, 1.4616321449683623, 1e-300, np.inf, -np.inf, np.nan,
                  1e17, -1e17, 0.5, 3.7, 12.0, 1e5, -7.3, -1e5 + 0.25, 1e-8, 9.99, 123.4])
    with np.errstate(all="ignore"):
        got = adcompiler.jit(lambda x: special.digamma(x), backend=backend)(x)
        np.testing.assert_allclose(got, special.digamma(x), rtol=1e-13, atol=1e-14)
        # float32 near the negative poles (x - floor(x) rounded there: -1e-8 gave -3.6e7 for
        # SciPy's 1e8) and gammaln(-inf), SciPy's -inf (libm's lgamma gives inf)
        near = (-np.arange(5.0)[:, None] + [[1e-7, -1e-7, 1e-3, -1e-3]]).ravel()
        near = np.concatenate([near, [-1e-8, -2.0001]]).astype(np.float32)
        got = adcompiler.jit(lambda x: special.digamma(x), backend=backend)(near)
        np.testing.assert_allclose(got, special.digamma(near.astype(np.float64)), rtol=1e-5)
        assert adcompiler.jit(lambda x: special.gammaln(x), backend=backend)(
            np.array([-np.inf]))[0] == -np.inf
    x = np.array([0.3, 2.5, 7.0, -1.5, 30.0, 1e4])
    g = adcompiler.grad(lambda x: np.sum(special.gammaln(x)), backend=backend)(x)
    np.testing.assert_allclose(g, special.digamma(x), rtol=1e-13)
    h = adcompiler.hessian(lambda x: np.sum(special.gammaln(x)), backend=backend)(x)
    np.testing.assert_allclose(h, np.diag(special.polygamma(1, x)), rtol=1e-12, atol=1e-300)
    g3 = adcompiler.grad(lambda x: np.sum(special.digamma(x) ** 2), backend=backend)(x)
    np.testing.assert_allclose(g3, 2 * special.digamma(x) * special.polygamma(1, x), rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_normal_quantiles_tails_and_derivatives(backend):
    """ndtri, erfinv and erfcinv (mathlib's AS241 on Numba) against SciPy at their ends, in the
    far tails and near 0 (erfinv(1e-10) keeps its digits), with NaN outside their domains;
    their derivatives are 1/pdf at the quantile (ndtri' = sqrt(2 pi) exp(ndtri^2 / 2)), to the
    second order."""
    p = np.array([0.0, 1.0, 0.5, 1e-300, 5e-324, 1 - 2 ** -53, 0.075, 0.925, 1e-10, 0.3,
                  -0.1, 1.1, np.nan])
    x = np.array([-1.0, 1.0, 0.0, 1e-10, -1e-300, 0.85, 0.9, 1 - 1e-16, -0.999999, 1.5, np.nan])
    y = np.array([0.0, 2.0, 1.0, 1e-300, 1.9999, 0.15, -1.0, 2.5, np.nan])
    with np.errstate(all="ignore"):
        for fn, v in ((special.ndtri, p), (special.erfinv, x), (special.erfcinv, y)):
            got = adcompiler.jit(lambda v: fn(v), backend=backend)(v)
            np.testing.assert_allclose(got, fn(v), rtol=2e-15, atol=0, err_msg=fn.__name__)
    p = np.array([1e-12, 0.02, 0.3, 0.5, 0.8, 0.999])
    q = special.ndtri(p)
    slope = np.sqrt(2 * np.pi) * np.exp(q * q / 2)
    g = adcompiler.grad(lambda p: np.sum(special.ndtri(p)), backend=backend)(p)
    np.testing.assert_allclose(g, slope, rtol=1e-13)
    h = adcompiler.hessian(lambda p: np.sum(special.ndtri(p)), backend=backend)(p)
    np.testing.assert_allclose(np.diag(h), slope * slope * q, rtol=1e-12)
    x, y = np.array([-0.99, -0.2, 1e-9, 0.6]), np.array([1e-9, 0.3, 1.0, 1.7])
    gx, gy = adcompiler.grad(lambda x, y: np.sum(special.erfinv(x)) + np.sum(special.erfcinv(y)),
                             wrt=(0, 1), backend=backend)(x, y)
    np.testing.assert_allclose(gx, np.sqrt(np.pi) / 2 * np.exp(special.erfinv(x) ** 2),
                               rtol=1e-13)
    np.testing.assert_allclose(gy, -np.sqrt(np.pi) / 2 * np.exp(special.erfcinv(y) ** 2),
                               rtol=1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
def test_log_ndtr_gamma_and_betaln_where_naive_forms_fail(backend):
    """log_ndtr below -20 (where ndtr underflows: log would give -inf) and above 6 (where
    log(1 - tiny) rounds to 0), betaln where one argument is a million times the other
    (gammaln(a + b) - gammaln(a) cancels), gamma at its poles: SciPy's values; their
    gradients are SciPy's derivatives (pdf / cdf, digamma differences, gamma digamma)."""
    x = np.array([-1e3, -40.0, -20.5, -20.0, -19.5, -5.0, 0.0, 3.0, 7.0, 30.0, np.inf, -np.inf])
    got = adcompiler.jit(lambda x: special.log_ndtr(x), backend=backend)(x)
    np.testing.assert_allclose(got, special.log_ndtr(x), rtol=1e-13, atol=0)
    g = adcompiler.grad(lambda x: np.sum(special.log_ndtr(x)), backend=backend)(x[1:-2])
    ref = np.exp(-x[1:-2] ** 2 / 2 - special.log_ndtr(x[1:-2])) / np.sqrt(2 * np.pi)
    np.testing.assert_allclose(g, ref, rtol=1e-12)
    a = np.array([1e7, 0.5, 1e12, 3.0, 2.5, 40.0])
    b = np.array([0.5, 2e7, 2.0, 1e12, 4.0, 0.1])
    got = adcompiler.jit(lambda a, b: special.betaln(a, b), backend=backend)(a, b)
    np.testing.assert_allclose(got, special.betaln(a, b), rtol=1e-13)
    ga, gb = adcompiler.grad(lambda a, b: np.sum(special.betaln(a, b)), wrt=(0, 1),
                             backend=backend)(a[3:], b[3:])
    np.testing.assert_allclose(ga, special.digamma(a[3:]) - special.digamma(a[3:] + b[3:]),
                               rtol=1e-12)
    # (at b = 1e12, digamma(b) - digamma(a + b) cancels: the derivative of the asymptotic
    # form, -a/b (1 - (a - 1)/(2b) + ...), is the reference)
    np.testing.assert_allclose(gb, [-3e-12 * (1 - 1e-12), *(special.digamma(b[4:])
                                                           - special.digamma(a[4:] + b[4:]))],
                               rtol=1e-12)
    x = np.array([0.0, -0.0, -1.0, -2.5, 0.5, 171.5, 180.0])
    with np.errstate(all="ignore"):
        got = adcompiler.jit(lambda x: special.gamma(x), backend=backend)(x)
    np.testing.assert_allclose(got, special.gamma(x), rtol=1e-13)
    x = np.array([-2.5, 0.5, 4.2, 20.0])
    g = adcompiler.grad(lambda x: np.sum(special.gamma(x)), backend=backend)(x)
    np.testing.assert_allclose(g, special.gamma(x) * special.digamma(x), rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_polygamma_values_poles_and_derivative(backend):
    """polygamma(n, x) for static n against SciPy above and below 0 (the reflection) and at
    the poles (SciPy's signed inf), in float64 as SciPy's; its derivative is polygamma(n + 1);
    a run-time or negative n is an error naming it."""
    x = np.array([0.3, 1.0, 2.5, 11.0, 60.0, 1e6, -0.4, -2.7, -7.25, 0.0, -1.0, -3.0, np.inf])
    for n in (1, 2, 3, 5):
        f = adcompiler.jit(lambda x: special.polygamma(n, x), backend=backend)
        with np.errstate(all="ignore"):
            got = f(x.astype(np.float32))
            np.testing.assert_allclose(got, special.polygamma(n, x.astype(np.float32)),
                                       rtol=1e-13, err_msg=f"n={n}")
        assert got.dtype == np.float64
        xg = x[:9]
        g = adcompiler.grad(lambda x: np.sum(special.polygamma(n, x)), backend=backend)(xg)
        np.testing.assert_allclose(g, special.polygamma(n + 1, xg), rtol=1e-12, err_msg=f"n={n}")
    with pytest.raises(adcompiler.TraceError, match=r"polygamma's n must be compile-time ints"):
        adcompiler.jit(lambda n, x: special.polygamma(n, x), backend=backend)(np.int64(1), x)
    with pytest.raises(adcompiler.TraceError, match=r"polygamma: n must be >= 0, got -1"):
        adcompiler.jit(lambda x: special.polygamma(-1, x), backend=backend)(x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_entropies_at_zero_and_outside_their_domain(backend):
    """entr, rel_entr and kl_div take SciPy's values at 0, below it, at inf and NaN; at x = 0
    their gradients are finite (entr's 0, as JAX's), no inf from a branch not taken."""
    x = np.array([0.0, 0.0, 1.0, 1.0, -1.0, np.nan, 1.0, 3.0, 0.0])
    y = np.array([0.0, 1.0, 0.0, -1.0, 1.0, 1.0, np.inf, 2.0, -1.0])
    with np.errstate(all="ignore"):
        for fn, args in ((special.entr, (np.array([-1.0, 0.0, 0.5, np.inf, np.nan]),)),
                         (special.rel_entr, (x, y)), (special.kl_div, (x, y))):
            got = adcompiler.jit(lambda *a: fn(*a), backend=backend)(*args)
            np.testing.assert_allclose(got, fn(*args), rtol=1e-15, err_msg=fn.__name__)
    p, q = np.array([0.0, 0.5, 0.5]), np.array([0.2, 0.5, 0.3])
    gp, gq = adcompiler.grad(lambda p, q: np.sum(special.kl_div(p, q) + special.entr(p)),
                             wrt=(0, 1), backend=backend)(p, q)
    # d/dp: log(p / q) - log(p) - 1 where p > 0 (0 at p = 0); d/dq: 1 - p / q
    np.testing.assert_allclose(gp, [0.0, *(-np.log(q[1:]) - 1)], rtol=1e-15)
    np.testing.assert_allclose(gq, 1 - p / q, rtol=1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
def test_rel_entr_keeps_its_digits_where_x_log_x_over_y_loses_them(backend):
    """SciPy's rel_entr takes log1p near x = y and log(x) - log(y) where x / y overflows or
    underflows: the plain x log(x / y) was inf, -inf, or 2e-5 off there; ndtr of float32
    computes in float64, as SciPy's loop (1e-5 off in the far tail)."""
    x = np.array([1.0, 1e300, 1e-300, 0.3 + 1e-12, 2.5000001, 3.0])
    y = np.array([1e-320, 1e-10, 1e300, 0.3, 2.5, 2.0])
    got = adcompiler.jit(lambda x, y: special.rel_entr(x, y), backend=backend)(x, y)
    np.testing.assert_allclose(got, special.rel_entr(x, y), rtol=1e-14)
    t = np.array([-11.0, -12.0, -13.0], dtype=np.float32)
    got = adcompiler.jit(lambda t: special.ndtr(t), backend=backend)(t)
    np.testing.assert_allclose(got, special.ndtr(t), rtol=1e-7)
