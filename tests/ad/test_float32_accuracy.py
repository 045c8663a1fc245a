"""float32 gradients as accurate as float32 allows, where the adjoint adds a reduction or a
scan the user did not write: a bias's gradient summed over many rows (NumPy adds the rows of
an axis other than the last one after the other) and cumsum's reversed scan; against the
float64 derivative, on both backends (torch float32 reaches ~1e-7 on these)."""
import numpy as np
import pytest

import adcompiler

BACKENDS = ["numpy", "numba"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_bias_gradient_over_many_rows(backend):
    """It was 1e-4 off on the NumPy backend (2e5 rows)."""
    rng = np.random.default_rng(0)
    h = (rng.normal(size=(200_000, 4)) + 2).astype(np.float32)
    g = adcompiler.grad(lambda b, h: np.sum(np.tanh(h + b)), backend=backend)(
        np.zeros(4, np.float32), h)
    want = (1 - np.tanh(h.astype(np.float64)) ** 2).sum(0)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, want, rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cumsums_gradient(backend):
    """It was the total less the cumsum before each entry: 1e-2 off at the end of 1e6."""
    n = 200_000
    g = adcompiler.grad(lambda x: np.sum(np.cumsum(x) * 1e-6), backend=backend)(
        np.ones(n, np.float32))
    want = (n - np.arange(n)) * np.float64(np.float32(1e-6))
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, want, rtol=1e-6)
    x, w = np.random.default_rng(1).normal(size=(2, 3, 5, 4))     # every axis, float64
    for axis in (0, 1, -1):
        g = adcompiler.grad(lambda x: np.sum(np.cumsum(x, axis=axis) * w), backend=backend)(x)
        np.testing.assert_allclose(g, np.flip(np.cumsum(np.flip(w, axis), axis), axis),
                                   rtol=1e-13)
