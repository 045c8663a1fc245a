"""np.log2, np.log10, np.exp2, np.arctan2, np.hypot and np.logaddexp: values and dtypes against
NumPy running the same function (fecheck.check), gradients against finite differences of what
NumPy computes (adcompiler.check_grad) on both backends, float32, and large arguments that must
not overflow (logaddexp(1000, 1000))."""
import numpy as np
import pytest

import adcompiler
from fecheck import check, rand

UNARY = [np.log2, np.log10, np.exp2]
BACKENDS = ["numpy", "numba"]


@pytest.mark.parametrize("fn", UNARY, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, np.int64])
def test_unary_values_and_dtypes(fn, dtype):
    """ints give float64."""
    x = np.arange(-2, 4).reshape(2, 3) if dtype == np.int64 else rand(2, 3) * 3
    if fn in (np.log2, np.log10):
        x = np.abs(x) + 1
    check(lambda x: fn(x), x.astype(dtype))


def test_binary_values_and_dtypes():
    def f(x, y, k):
        return (np.arctan2(x, y), np.hypot(x, y), np.logaddexp(x, y), np.arctan2(k, 2),
                np.hypot(x, 3.0), np.logaddexp(k, x), np.arctan2(-1.0, y))
    k = np.arange(-2, 2)
    check(f, rand(3, 4), rand(4), k)
    check(f, rand(3, 4, dtype=np.float32), rand(4, dtype=np.float32), k.astype(np.int32))


def test_large_arguments_stay_finite():
    """exp of these overflows; NumPy's results do not, nor do the gradients."""
    def f(x, y):
        return np.logaddexp(x, y)

    def loss(x, y):
        return np.sum(np.logaddexp(x, y))

    x, y = np.array([1000.0, 1000.0, -1000.0]), np.array([1000.0, -1000.0, -1000.0])
    want = f(x, y)
    assert np.all(np.isfinite(want))
    check(f, x, y)
    check(f, x.astype(np.float32), y.astype(np.float32))
    dx, dy = np.array([0.5, 1.0, 0.5]), np.array([0.5, 0.0, 0.5])
    for backend in BACKENDS:
        np.testing.assert_allclose(adcompiler.jit(f, backend=backend)(x, y), want, rtol=1e-12)
        gx, gy = adcompiler.grad(loss, wrt=(0, 1), backend=backend)(x, y)
        np.testing.assert_allclose(gx, dx, rtol=1e-12, atol=1e-12, err_msg=backend)
        np.testing.assert_allclose(gy, dy, rtol=1e-12, atol=1e-12, err_msg=backend)


def ufunc_loss(x, y):
    return np.sum(np.log2(x) * np.log10(x) + np.exp2(y) + np.arctan2(x, y) * np.hypot(x, y)
                  + np.logaddexp(x, y) * y)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("loss", [ufunc_loss], ids=lambda f: f.__name__)
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
