"""np.linalg's eigh, eigvalsh and svd: values and dtypes against NumPy running the same function
(fecheck.check, and each backend's compiled code), the triangle eigh reads, gradients of the
usual losses against finite differences of what NumPy computes (adcompiler.check_grad) on both
backends, float32, a gradient of a gradient, equal eigenvalues, and the errors.

Eigenvectors and singular vectors are defined up to sign: the losses use them through
sign-free quantities (squares, products u_i s_i v_i^T), as a loss that means anything must.
"""
import numpy as np
import pytest

import adcompiler
from fecheck import central_differences, check, located_error, rand

BACKENDS = ["numpy", "numba"]
W = rand(2, 4, 4)       # fixed weights that make a matrix result a scalar loss


def symmetric(*shape):
    b = rand(*shape)
    return b + np.swapaxes(b, -1, -2)


def everything(a, s, t):
    w, v = np.linalg.eigh(a)
    wu, vu = np.linalg.eigh(a, UPLO="U")
    u, sv, vh = np.linalg.svd(s, full_matrices=False)
    ua, sa, vha = np.linalg.svd(a)
    return (w, v, wu, vu, np.linalg.eigvalsh(a), np.linalg.eigvalsh(a, "U"), u, sv, vh,
            np.linalg.svd(t, compute_uv=False), ua, sa, vha)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 3)], ids=str)
def test_values_and_dtypes(dtype, shape):
    """Against NumPy's own results (a tall or wide and stacked s, t its transpose; a square
    svd with NumPy's default full_matrices=True), traced and on each backend."""
    a, s = rand(*shape[:-2], 3, 3) + np.triu(rand(3, 3), 1), rand(*shape)
    args = [x.astype(dtype) for x in (a, s, np.swapaxes(s, -1, -2))]
    check(everything, *args)
    want = everything(*args)
    for backend in BACKENDS:
        got = adcompiler.jit(everything, backend=backend)(*args)
        for g, w in zip(got, want, strict=True):
            assert g.dtype == w.dtype and g.shape == w.shape
            tol = 1e-5 if dtype == np.float32 else 1e-12
            np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


def test_integers_become_float64_and_one_triangle_is_read():
    a = np.array([[4, 1, 0], [1, 3, 1], [0, 1, 2]])
    check(everything, a, np.arange(6).reshape(3, 2), np.arange(6).reshape(2, 3))
    s = symmetric(3, 3)
    check(lambda a: tuple(np.linalg.eigh(a)), s + np.triu(rand(3, 3), 1))
    check(lambda a: tuple(np.linalg.eigh(a, UPLO="U")), s + np.tril(rand(3, 3), -1))
    check(lambda a: np.linalg.eigvalsh(a, "u"), s + np.tril(rand(3, 3), -1))   # upper()


def eigh_of_f16(a):
    return np.linalg.eigh(a)


def eigvalsh_of_oblong(a):
    return np.linalg.eigvalsh(a)


def eigh_uplo(a):
    return np.linalg.eigh(a, UPLO="X")


def svd_of_vector(a):
    return np.linalg.svd(a)


def svd_full(a):
    return np.linalg.svd(a, full_matrices=True)


def svd_hermitian(a):
    return np.linalg.svd(a, hermitian=True)


@pytest.mark.parametrize("f,args,message", [
    (eigh_of_f16, [np.eye(3, dtype=np.float16)], "float16 is unsupported"),
    (eigvalsh_of_oblong, [rand(2, 3)], "must be square"),
    (eigh_uplo, [rand(3, 3)], "UPLO argument must be 'L' or 'U'"),
    (svd_of_vector, [rand(3)], "1-dimensional array given"),
    (svd_full, [rand(2, 4, 3)], "full_matrices=True on a non-square 4 x 3 matrix.*pass "
                                "full_matrices=False"),
    (svd_full, [rand(3, 4)], "pass full_matrices=False"),
    (svd_hermitian, [rand(3, 3)], "hermitian=True is not supported")])
def test_refusals_are_trace_errors(f, args, message):
    located_error(f, args, message, "test_frontend_linalg_decomp.py")


def eigenvalue_loss(b):
    """The eigenvalues of a symmetric matrix built in the traced code: their sum (the trace)
    and a weighted sum."""
    w = np.linalg.eigvalsh(b + b.T)
    return np.sum(w) + np.sum(w * np.arange(4.0)) + np.sum(np.linalg.eigh(b @ b.T)[0] ** 2)


def eigenvector_loss(b):
    """Weighted squares of eigenvector entries (the sign of each column drops out)."""
    w, v = np.linalg.eigh(b + b.T)
    return np.sum(v ** 2 * W[0]) + np.sum(w * v[0] ** 2)


def one_triangle_loss(a):
    """eigh of a raw argument: NumPy reads its lower triangle (UPLO='U': the upper) only, so
    the other entries have zero gradient."""
    w, v = np.linalg.eigh(a)
    wu, vu = np.linalg.eigh(a, UPLO="U")
    return np.sum(w * W[0, 0]) + np.sum(v ** 2 * W[0]) + np.sum(wu ** 3) + \
        np.sum(vu ** 2 * W[1]) + np.sum(np.linalg.eigvalsh(a, UPLO="U") * W[1, 0])


def stacked_eigh_loss(b):
    w, v = np.linalg.eigh(b + np.swapaxes(b, -1, -2))
    return np.sum(w ** 2) + np.sum(v ** 2 * W)


def nuclear_norm(a):
    return np.sum(np.linalg.svd(a, compute_uv=False))


def singular_value_loss(a):
    """Weighted singular values, and those of a square matrix through full_matrices=True."""
    s = np.linalg.svd(a, full_matrices=False)[1]
    return np.sum(s * W[0, 0, :s.shape[-1]]) + np.sum(np.linalg.svd(a @ a.T)[1] ** 2)


def low_rank_loss(a):
    """The distance of a from its best rank-1 approximation, and weighted squares of the
    singular vectors (tall or wide: the non-square terms of the VJP)."""
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    approx = (u[..., :, :1] * s[..., None, :1]) @ vh[..., :1, :]
    m, n = a.shape[-2:]
    return np.sum((a - approx) ** 2) + np.sum(u ** 2 * W[0, :m, :u.shape[-1]]) + \
        np.sum(vh ** 2 * W[1, :vh.shape[-2], :n])


CASES = [
    (eigenvalue_loss, lambda: rand(4, 4)),
    (eigenvector_loss, lambda: rand(4, 4)),
    (one_triangle_loss, lambda: rand(4, 4)),
    (stacked_eigh_loss, lambda: rand(2, 4, 4)),
    (nuclear_norm, lambda: rand(3, 4)),
    (nuclear_norm, lambda: rand(2, 4, 3)),
    (singular_value_loss, lambda: rand(4, 3)),
    (low_rank_loss, lambda: rand(4, 3)),
    (low_rank_loss, lambda: rand(3, 4)),
    (low_rank_loss, lambda: rand(2, 3, 3)),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("loss, arg", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_gradients_against_finite_differences(loss, arg, backend):
    a = arg()
    adcompiler.check_grad(loss, a, backend=backend, samples=24)
    # float32 in: float32 gradients, close to the float64 derivative (every entry)
    want = central_differences(loss, a)
    g32 = adcompiler.grad(loss, backend=backend)(a.astype(np.float32))
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, want, rtol=1e-3, atol=1e-3 * np.abs(want).max())


def eigenvalue_gradient_weighted(b):
    """<grad of weighted eigenvalues, W[0]> through adcompiler's first gradient."""
    g = adcompiler.grad(lambda b: np.sum(np.linalg.eigvalsh(b + b.T) * np.arange(4.0)))(b)
    return np.sum(g * W[0])


def singular_vector_gradient_norm(a):
    g = adcompiler.grad(singular_vector_loss)(a)
    return np.sum(g * g)


def singular_vector_loss(a):
    return np.sum(np.linalg.svd(a, full_matrices=False)[0] ** 2 * W[0, :, :3])


def singular_vector_gradient_norm_by_differences(a):
    """singular_vector_gradient_norm with the first gradient by central differences of NumPy."""
    g = central_differences(singular_vector_loss, a, eps=1e-5)
    return np.sum(g * g)


def eigenvalue_gradient_weighted_by_hand(b):
    """The same with the first gradient written in NumPy: d sum(c_i w_i(b + b^T)) / db is
    2 V diag(c) V^T (symmetric)."""
    w, v = np.linalg.eigh(b + b.T)
    return np.sum(2 * (v * np.arange(4.0)) @ v.T * W[0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_of_a_gradient(backend):
    b = rand(4, 4)
    np.testing.assert_allclose(
        adcompiler.grad(eigenvalue_gradient_weighted, backend=backend)(b),
        central_differences(eigenvalue_gradient_weighted_by_hand, b), rtol=1e-6, atol=1e-8)
    # (its own matrix: the reference, differences of differences, is good to ~1e-5 of the
    # largest entry, which some of the shared stream's matrices made worse)
    a = np.random.default_rng(43).normal(size=(4, 3))
    np.testing.assert_allclose(
        adcompiler.grad(singular_vector_gradient_norm, backend=backend)(a),
        central_differences(singular_vector_gradient_norm_by_differences, a, eps=1e-4),
        rtol=1e-4, atol=1e-5)


def eigenvalue_sum(a):
    return np.sum(np.linalg.eigh(a)[0])


def eigenvector_squares(a):
    w, v = np.linalg.eigh(a)
    return np.sum(v ** 2 * W[0, :3, :3])


# F's 1 / (w_j - w_i) divides by zero there: NumPy warns about it on the NumPy backend
@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
@pytest.mark.parametrize("backend", BACKENDS)
def test_equal_eigenvalues(backend):
    """At equal eigenvalues the eigenvalues' sum still has its gradient (the lower triangle
    of I), while the eigenvectors' is undefined: a NaNError naming the eigh line, not a
    number."""
    a = np.diag([2.0, 2.0, 5.0])
    np.testing.assert_array_equal(adcompiler.grad(eigenvalue_sum, backend=backend)(a),
                                  np.eye(3))
    line = eigenvector_squares.__code__.co_firstlineno + 1
    with pytest.raises(adcompiler.NaNError, match=f"test_frontend_linalg_decomp.py:{line}"):
        adcompiler.grad(eigenvector_squares, backend=backend)(a)
