"""np.linalg's inv, solve, det, slogdet and cholesky: values and dtypes against NumPy running the
same function (fecheck.check), NumPy 2's shapes for solve's b, gradients against finite
differences of what NumPy computes (adcompiler.check_grad) on both backends, a gradient of a
gradient, and the errors: NumPy's refusals at trace time, a singular matrix when the code runs.
"""
import numpy as np
import pytest

import adcompiler
from fecheck import check, located_error, rand

BACKENDS = ["numpy", "numba"]
W = rand(2, 3, 3)       # fixed weights that make a matrix result a scalar loss


def well_conditioned(*shape):
    return rand(*shape) + shape[-1] * np.eye(shape[-1])


def spd(*shape):
    x = rand(*shape)
    return x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1])


def everything(a, b, v, s):
    sign, logdet = np.linalg.slogdet(a)
    return (np.linalg.inv(a), np.linalg.solve(a, b), np.linalg.solve(a, v), np.linalg.det(a),
            sign, logdet, np.linalg.cholesky(s), np.linalg.cholesky(s, upper=True))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_values_and_dtypes(dtype):
    a, b, v, s = well_conditioned(3, 3), rand(3, 2), rand(3), spd(3, 3)
    check(everything, *(x.astype(dtype) for x in (a, b, v, s)))
    check(everything, -a.astype(dtype), b, v, s)        # float64 b: float64 solves; sign -1


def test_integers_become_float64():
    a = np.array([[4, 1, 0], [1, 3, 1], [0, 1, 2]])
    check(everything, a, np.arange(6).reshape(3, 2), np.array([1, 0, 2], np.int32), a)
    check(lambda a, b: np.linalg.solve(a, b), a.astype(np.float32), np.arange(3))


def test_stacks_and_numpy_2_solve_shapes():
    """b is a vector only when 1-D: a (2, 3, 3) stack takes b (3,) as one vector for each
    matrix, (3, 2) and (2, 3, 2) as matrices; a single matrix solves a stack of b's."""
    a, s = well_conditioned(2, 3, 3), spd(2, 3, 3)
    check(everything, a, rand(3, 2), rand(3), s)
    check(everything, a, rand(2, 3, 2), rand(3), s)
    check(lambda a, b: np.linalg.solve(a, b), well_conditioned(3, 3), rand(2, 3, 4))
    check(lambda a, b: np.linalg.solve(a, b), well_conditioned(2, 1, 3, 3), rand(4, 3, 1))


def test_cholesky_reads_the_lower_triangle_only():
    s = spd(3, 3)
    check(lambda s: np.linalg.cholesky(s), s + np.triu(rand(3, 3), 1))
    check(lambda s: np.linalg.cholesky(s, upper=True), s + np.tril(rand(3, 3), -1))


def inv_of_f16(a):
    return np.linalg.inv(a)


def det_of_vector(a):
    return np.linalg.det(a)


def slogdet_of_oblong(a):
    return np.linalg.slogdet(a)


def solve_mismatch(a, b):
    return np.linalg.solve(a, b)


@pytest.mark.parametrize("f,args,message", [
    (inv_of_f16, [np.eye(3, dtype=np.float16)], "float16 is unsupported"),
    (det_of_vector, [rand(3)], "1-dimensional array given"),
    (slogdet_of_oblong, [rand(2, 3)], "must be square"),
    (solve_mismatch, [rand(3, 3), rand(4)], r"b of shape \(4,\)"),
    (solve_mismatch, [rand(3, 3), rand(2, 3)], r"b of shape \(2, 3\)"),
    (solve_mismatch, [rand(2, 3, 3), rand(3, 3, 1)], "solve")])
def test_numpys_refusals_are_trace_errors(f, args, message):
    located_error(f, args, message, "test_frontend_linalg_solve.py")


def inv_loss(a):
    return np.sum(np.linalg.inv(a) * W)


def solve_loss(a, b, v):
    return np.sum(np.linalg.solve(a, b) * W[0, :, :2]) + np.sum(np.linalg.solve(a, v) ** 2)


def stacked_solve_loss(a, b, v):
    return np.sum(np.linalg.solve(a, b) ** 2) + np.sum(np.linalg.solve(a, v) * W[:, 0])


def det_loss(a):
    sign, logdet = np.linalg.slogdet(a)
    return np.sum(np.linalg.det(a) * sign) + np.sum(logdet ** 2)


def cholesky_loss(a, s):
    """cholesky of a composite (a a^T + 3 I) and of a raw argument: its upper triangle does
    not count."""
    c = a @ a.T + 3 * np.eye(3)
    return np.sum(np.linalg.cholesky(c) * W[0]) + np.sum(np.linalg.cholesky(s) ** 2) + \
        np.sum(np.linalg.cholesky(s, upper=True) * W[1])


CASES = [
    (inv_loss, lambda: [well_conditioned(2, 3, 3)]),
    (solve_loss, lambda: [well_conditioned(3, 3), rand(3, 2), rand(3)]),
    (stacked_solve_loss, lambda: [well_conditioned(2, 3, 3), rand(3, 2), rand(3)]),
    (det_loss, lambda: [np.array([1.0, -1.0]).reshape(2, 1, 1) * well_conditioned(2, 3, 3)]),
    (cholesky_loss, lambda: [rand(3, 3), spd(3, 3) + np.triu(rand(3, 3), 1)]),
]


@pytest.mark.parametrize("loss, args", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_gradients_against_finite_differences(loss, args):
    args = args()
    wrt = tuple(range(len(args)))
    adcompiler.check_grad(loss, *args, wrt=wrt, backend="numpy", samples=27)
    # float32 in: float32 gradients, close to float64's
    g64 = adcompiler.grad(loss, wrt=wrt, backend="numpy")(*args)
    g32 = adcompiler.grad(loss, wrt=wrt, backend="numpy")(*(x.astype(np.float32) for x in args))
    for a, b in zip(g32, g64, strict=True):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3 * np.abs(b).max())


def gaussian_nll(chol, mu, x):
    """Negative log-likelihood of the rows of x under N(mu, C C^T + I), with the other
    functions along: the covariance's Cholesky factor, inverse and determinant."""
    cov = chol @ chol.T + np.eye(3)
    sign, logdet = np.linalg.slogdet(cov)
    r = x - mu
    quad = np.sum(r * np.linalg.solve(cov, r.T).T)
    l = np.linalg.cholesky(cov)
    return 0.5 * quad + 0.5 * x.shape[0] * logdet + 0.1 * np.sum(np.log(np.diagonal(l))) + \
        0.01 * np.linalg.det(cov) * sign + 0.1 * np.sum(np.linalg.inv(cov) * W[0])


def test_gaussian_log_likelihood_on_the_numba_backend():
    chol, mu, x = rand(3, 3), rand(3), rand(5, 3)
    adcompiler.check_grad(gaussian_nll, chol, mu, x, wrt=(0, 1, 2), backend="numba",
                          samples=27)
    value, grads = adcompiler.value_and_grad(gaussian_nll, wrt=(0, 1, 2),
                                             backend="numba")(chol, mu, x)
    ref_value, ref_grads = adcompiler.value_and_grad(gaussian_nll, wrt=(0, 1, 2),
                                                     backend="numpy")(chol, mu, x)
    np.testing.assert_allclose(value, gaussian_nll(chol, mu, x), rtol=1e-12)
    np.testing.assert_allclose(value, ref_value, rtol=1e-12)
    for g, r in zip(grads, ref_grads, strict=True):
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12)


def logdet(a):
    return np.linalg.slogdet(a)[1]


def logdet_gradient_weighted(a):
    """<grad log|det a|, W[0]> = <a^-T, W[0]>, through adcompiler's first gradient."""
    return np.sum(adcompiler.grad(logdet)(a) * W[0])


def cholesky_gradient_norm(a):
    g = adcompiler.grad(lambda a: np.sum(np.linalg.cholesky(a @ a.T + 3 * np.eye(3)) * W[0]))(a)
    return np.sum(g * g)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_of_a_gradient(backend):
    a = well_conditioned(3, 3)
    got = adcompiler.grad(logdet_gradient_weighted, backend=backend)(a)
    # against finite differences of NumPy's own <a^-T, W[0]>
    eps, want = 1e-6, np.zeros((3, 3))
    for k in np.ndindex(3, 3):
        d = np.zeros((3, 3))
        d[k] = eps
        want[k] = (np.sum(np.linalg.inv(a + d).T * W[0])
                   - np.sum(np.linalg.inv(a - d).T * W[0])) / (2 * eps)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    adcompiler.check_grad(cholesky_gradient_norm, rand(3, 3), backend=backend, samples=9)


def solve_singular(a, b):
    return np.sum(np.linalg.solve(a, b))


def det_of(a):
    return np.linalg.det(a)


def not_positive_definite(a):
    return np.sum(np.linalg.cholesky(a))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_singular_matrix_is_an_error_naming_the_line(backend):
    singular = np.ones((3, 3))
    at = "test_frontend_linalg_solve.py:{}"
    for run, f, message in [
            (adcompiler.jit(solve_singular, backend=backend), solve_singular, "Singular matrix"),
            (adcompiler.grad(solve_singular, backend=backend), solve_singular, "Singular matrix"),
            (adcompiler.jit(not_positive_definite, backend=backend), not_positive_definite,
             "not positive definite")]:
        line = f.__code__.co_firstlineno + 1
        with pytest.raises(adcompiler.LinAlgError, match=message) as e:
            run(singular, np.ones(3)) if f is solve_singular else run(singular)
        assert at.format(line) in str(e.value) and "np.linalg" in str(e.value)
        assert isinstance(e.value, np.linalg.LinAlgError)
    assert adcompiler.jit(det_of, backend=backend)(singular) == 0.0


def cofactors_by_minors(a):
    """(-1)^(i+j) det(a without row i and column j): det's gradient, from NumPy's det alone."""
    out = np.empty_like(a)
    for i, j in np.ndindex(*a.shape):
        out[i, j] = (-1) ** (i + j) * np.linalg.det(np.delete(np.delete(a, i, 0), j, 1))
    return out


def det_squares(a):
    return np.sum(np.linalg.det(a) ** 2 + 3 * np.linalg.det(a))


@pytest.mark.parametrize("backend", BACKENDS)
def test_det_gradient_at_a_singular_matrix_is_the_adjugate(backend):
    """np.linalg.inv fails there (the gradient raised LinAlgError); JAX gives the adjugate's
    transpose, which is what the polynomial det's derivative is: rank n-1 (nonzero), lower
    (zero), and in a stack beside an invertible matrix."""
    rank1 = np.outer([1.0, 2.0], [2.0, 4.0])
    rank2 = np.arange(1.0, 10.0).reshape(3, 3)
    for a in (rank1, rank2, np.ones((3, 3)), np.zeros((2, 2))):
        got = adcompiler.grad(det_of, backend=backend)(a)
        np.testing.assert_allclose(got, cofactors_by_minors(a), atol=1e-12)
    stack = np.stack([rank2, well_conditioned(3, 3)])
    got = adcompiler.grad(det_squares, backend=backend)(stack)
    want = [(2 * np.linalg.det(a) + 3) * cofactors_by_minors(a) for a in stack]
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    # the second derivative (through the inverse) still is an error naming the line
    line = det_of.__code__.co_firstlineno + 1
    with pytest.raises(adcompiler.LinAlgError, match=f"linalg_solve.py:{line}"):
        adcompiler.hessian(det_of, backend=backend)(rank2)


def regression_on_powers(x, cash, ys):
    """Longstaff-Schwartz's regression of cash flows on powers of the price: np.polyfit (of
    a vector and of columns) and np.vander, as NumPy's (they were refused)."""
    fitted = np.polyval(np.polyfit(x, cash, 2), x)
    return (fitted, np.polyfit(x, ys, 3), np.vander(x, 4), np.vander(x, increasing=True),
            np.vander(x, 1))


def test_polyfit_and_vander():
    rng = np.random.default_rng(5)
    args = (rng.uniform(0.5, 2.0, 9), rng.normal(size=9), rng.normal(size=(9, 2)))
    check(regression_on_powers, *args)
    for backend in ("numpy", "numba"):
        adcompiler.check_grad(lambda x, c, ys: np.sum(regression_on_powers(x, c, ys)[0] ** 2)
                              + np.sum(regression_on_powers(x, c, ys)[1]), *args,
                              wrt=(0, 1, 2), rtol=1e-6, backend=backend)
