"""np.triu_indices, np.tril_indices, their _from forms, np.diag_indices(_from) and x.flat: values
and dtypes against NumPy running the same function, for every diagonal offset and for
non-square triangles; square triangles are computed from their positions (no literal indices
growing as n^2 in the IR); gradients of entries read and written through them against the
derivatives written out with NumPy, on both backends."""
import numpy as np
import pytest

import adcompiler
from fecheck import check, rand


def all_triangles(x):
    out = []
    for n, m in ((4, None), (4, 6), (6, 4), (1, None), (0, None)):
        for k in range(-5, 6):
            out += [*np.triu_indices(n, k, m), *np.tril_indices(n, k, m)]
    return tuple(out) + np.triu_indices_from(x, 1) + np.tril_indices_from(x, -2) + \
        np.diag_indices(3) + np.diag_indices(2, 3) + np.diag_indices_from(x[:3, :3])


def test_values_and_dtypes_against_numpy():
    check(all_triangles, rand(4, 5))


def upper_pairs(y):
    iu = np.triu_indices(y.shape[0], 1)
    return (y @ y.T)[iu]


def test_a_square_triangle_holds_no_index_constants():
    fn = check(upper_pairs, rand(300, 2))      # 44850 pairs
    sizes = [np.size(op.attrs["value"]) for op in fn.walk() if op.name == "constant"]
    assert max(sizes) <= 1, sizes


def pairs_and_ridge(y, a):
    k = y @ y.T
    k[np.diag_indices_from(k)] += a
    return np.sum(k[np.triu_indices(y.shape[0], 1)] ** 2) + np.sum(
        k[np.tril_indices(y.shape[0])] ** 3)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_gradients_through_the_indices(backend):
    """d/dy of sum(triu(K, 1)^2) + sum(tril(K + a I)^3) with K = y y^T: G = dL/dK is 2 K
    above the diagonal and 3 (K + a I)^2 on and below it, dL/dy = (G + G^T) y, and
    dL/da = the trace of G."""
    y, a = rand(7, 3), 0.7
    dy, da = adcompiler.grad(pairs_and_ridge, wrt=(0, 1), backend=backend)(y, a)
    k = y @ y.T + a * np.eye(7)
    g = 2 * np.triu(k, 1) + 3 * np.tril(k) ** 2
    np.testing.assert_allclose(dy, (g + g.T) @ y, rtol=1e-10)
    np.testing.assert_allclose(da, np.trace(g), rtol=1e-10)


def test_errors_are_numpys():
    for f, said in ((lambda x: np.triu_indices_from(x[0]), "input array must be 2-d"),
                    (lambda x: np.diag_indices_from(x), "All dimensions of input must be of "
                                                        "equal length")):
        with pytest.raises(adcompiler.TraceError, match=said):
            adcompiler.trace(f, rand(3, 4))


def through_flat(k, a):
    k = k.copy()
    k.flat[::k.shape[0] + 1] += a           # scikit-learn's ridge on a kernel's diagonal
    k.flat[[1, 1, -1]] = k.flat[2] * a      # (a repeated index: written once)
    return k, k.flat[3:7], k.flat[-1]


def test_x_flat_reads_and_writes_entries_in_c_order():
    check(through_flat, rand(4, 4), 0.5)
    check(through_flat, rand(4, 4, dtype=np.float32), np.float32(0.5))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_gradients_through_x_flat(backend):
    """d/dk and d/da of sum(K'^2), K' = K + a I with K'[0, 1] and K'[3, 3] set to K[0, 2] a."""
    k, a = rand(4, 4), 0.7
    dk, da = adcompiler.grad(lambda k, a: np.sum(through_flat(k, a)[0] ** 2), wrt=(0, 1),
                             backend=backend)(k, a)
    new = k + a * np.eye(4)
    new[0, 1] = new[3, 3] = k[0, 2] * a
    g = 2 * new
    want_dk = g.copy()
    want_dk[0, 1] = want_dk[3, 3] = 0.0
    want_dk[0, 2] += (g[0, 1] + g[3, 3]) * a
    np.testing.assert_allclose(dk, want_dk, rtol=1e-10)
    np.testing.assert_allclose(da, np.trace(g) - g[3, 3] + (g[0, 1] + g[3, 3]) * k[0, 2],
                               rtol=1e-10)


def index_arithmetic(S, i, rows, cols):
    """Global top-5 of a score matrix by its flat positions (expert-choice routing), np.ix_'s
    open mesh, and np.take's 'clip' and 'wrap' modes."""
    flat = np.argsort(S.ravel())[-5:]
    n, e = np.unravel_index(flat, S.shape)
    nf, ef = np.unravel_index(flat, S.shape, order="F")
    return (np.sum(S[n, e] ** 2) + np.sum(S.T.ravel()[nf + ef * S.shape[1]]),
            S[np.ix_(rows, cols)] ** 2, S[np.ix_([0, 2], cols)],
            np.take(S, i, axis=0, mode="clip") ** 3, np.take(S, i - 3, axis=1, mode="wrap"),
            np.take(S, [7, -9], mode="wrap"), np.unravel_index(np.int64(7), (2, 5)))


def test_unravel_index_ix_and_take_modes_of_run_time_indices():
    """(np.unravel_index and np.ix_ of run-time indices, and np.take's modes, were
    refused.)"""
    args = (rand(5, 4), np.array([0, 7, -2, 3]), np.array([1, 3]), np.array([0, 2, 3]))
    check(index_arithmetic, *args)
    check(lambda i: np.unravel_index(i, (3, 4)), np.array([0, 7, 11], np.int32))
    for backend in ("numpy", "numba"):
        adcompiler.check_grad(lambda S, *a: sum(np.sum(r) for r in index_arithmetic(S, *a)[:6]),
                              *args, wrt=0, rtol=1e-6, backend=backend)
    with pytest.raises(adcompiler.AssertionFailed, match="index out of bounds for array with "
                                                         "size 10"):
        adcompiler.jit(lambda i: np.unravel_index(i, (2, 5))[0])(np.int64(10))
