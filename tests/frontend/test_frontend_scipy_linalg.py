"""scipy.linalg's cholesky, cho_factor, cho_solve, solve_triangular, solve, inv, det and eigh:
values against SciPy running the same function (fecheck.check), float32 too; gradients
against finite differences (adcompiler.check_grad) on both backends, which see the triangle
each function reads (cholesky's upper one by default, solve_triangular's, solve's with
assume_a="pos"); flags that are not supported are errors naming the call."""
import numpy as np
import pytest
from scipy import linalg

import adcompiler
from fecheck import check, rand

BACKENDS = ["numpy", "numba"]


def spd(n, seed=0):
    a = np.random.default_rng(seed).normal(size=(n, n))
    return a @ a.T + n * np.eye(n)


def with_noise_above(s):
    """s with its upper triangle changed: what a function reading the lower one ignores."""
    return s + np.triu(np.full_like(s, 0.75), 1)


def factors_and_solves(s, b, v):
    c, lower = linalg.cho_factor(s, lower=True)
    return (linalg.cholesky(s), linalg.cholesky(s, lower=True), np.tril(c), lower,
            linalg.cho_solve((c, lower), b), linalg.cho_solve(linalg.cho_factor(s.T), v),
            linalg.solve_triangular(s, b, lower=True),
            linalg.solve_triangular(s, v, trans="T", unit_diagonal=True),
            linalg.solve_triangular(s, b, trans=1),
            linalg.solve(s, b, assume_a="pos", lower=True), linalg.solve(s, v, transposed=True),
            linalg.solve(s, b, assume_a="upper triangular"),
            linalg.inv(s), linalg.det(s), linalg.eigh(s)[0], linalg.eigh(s, lower=False)[0],
            linalg.eigh(s, eigvals_only=True))


def test_values_against_scipy():
    s, b, v = with_noise_above(spd(4)), rand(4, 3), rand(4)
    check(factors_and_solves, s, b, v)
    f32 = adcompiler.jit(factors_and_solves)(*(x.astype(np.float32) for x in (s, b, v)))
    for got, want in zip(f32, factors_and_solves(s, b, v), strict=True):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4)


def gp_loss(s, b):
    """A Gaussian process's negative log likelihood, as SciPy users write it."""
    c = linalg.cho_factor(s, lower=True)
    alpha = linalg.cho_solve(c, b)
    return 0.5 * np.sum(alpha * b) + np.sum(np.log(np.diag(c[0])))


def triangular_loss(a, b):
    return np.sum(linalg.solve_triangular(a, b, lower=True) ** 2) + \
        np.sum(linalg.solve_triangular(a, b, trans="T", unit_diagonal=True)) + \
        np.sum(linalg.cholesky(a @ a.T + 4 * np.eye(4)))


def solve_loss(a, b):
    return np.sum(linalg.solve(a, b, assume_a="pos") ** 2) + linalg.det(a) + \
        np.sum(linalg.inv(a)) + np.sum(linalg.eigh(a, eigvals_only=True) ** 2)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("loss", [gp_loss, triangular_loss, solve_loss],
                         ids=lambda f: f.__name__)
def test_gradients_against_finite_differences(loss, backend):
    a = with_noise_above(spd(4)) if loss is not triangular_loss else \
        np.tril(spd(4)) + np.triu(rand(4, 4), 1)
    adcompiler.check_grad(loss, a, rand(4, 2), wrt=(0, 1), backend=backend)


def test_unsupported_flags_are_errors():
    s, b = spd(3), rand(3)
    with pytest.raises(adcompiler.TraceError, match=r"assume_a='banded' is not supported"):
        adcompiler.trace(lambda s, b: linalg.solve(s, b, assume_a="banded"), s, b)
    with pytest.raises(adcompiler.TraceError, match=r"cho_solve takes \(c, lower\)"):
        adcompiler.trace(lambda s, b: linalg.cho_solve(s, b), s, b)
    with pytest.raises(adcompiler.TraceError, match=r"the generalized problem \(b\)"):
        adcompiler.trace(lambda s, b: linalg.eigh(s, s), s, b)
    with pytest.raises(adcompiler.TraceError, match=r"trans must be 0, 1, 2"):
        adcompiler.trace(lambda s, b: linalg.solve_triangular(s, b, trans=3), s, b)


def test_solve_of_a_matrix_not_positive_definite_is_scipys_error():
    """solve(assume_a="pos") solves by the Cholesky factor, as SciPy: a LinAlgError where a
    is not positive definite (a general solve gave an answer); det's dtype is SciPy's."""
    f = adcompiler.jit(lambda a, b: linalg.solve(a, b, assume_a="pos"))
    with pytest.raises(np.linalg.LinAlgError):
        linalg.solve(np.diag([1.0, -1.0]), np.ones(2), assume_a="pos")
    with pytest.raises(np.linalg.LinAlgError):
        f(np.diag([1.0, -1.0]), np.ones(2))
    a32 = spd(3).astype(np.float32)
    assert adcompiler.jit(lambda a: linalg.det(a))(a32).dtype == linalg.det(a32).dtype
