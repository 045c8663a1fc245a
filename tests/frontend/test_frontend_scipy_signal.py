"""scipy.signal's correlate, convolve, fftconvolve, oaconvolve, correlate2d and convolve2d:
values, dtypes and shapes against SciPy running the same function (fecheck.check) in every
mode, for operands larger and smaller than each other, of ranks 1 to 3, float64, float32 and
integers; gradients against central finite differences on both backends; SciPy's errors and
what is not supported as errors naming the user's line."""
import numpy as np
import pytest
from scipy import signal

import adcompiler
from fecheck import check, located_error, rand

FILE = "test_frontend_scipy_signal.py"
SHAPES = [((6, 5), (3, 2)), ((3, 2), (6, 5)), ((4, 4), (4, 4)), ((7,), (3,)), ((3,), (7,)),
          ((5, 4, 3), (2, 3, 1)), ((1, 1), (1, 1)), ((5, 3), (2, 3))]


def every_mode(a, v):
    out = []
    for mode in ("full", "same", "valid"):
        out += [signal.correlate(a, v, mode), signal.convolve(a, v, mode, method="direct"),
                signal.fftconvolve(a, v, mode), signal.oaconvolve(a, v, mode=mode)]
        if a.ndim == 2:
            out += [signal.correlate2d(a, v, mode), signal.convolve2d(a, v, mode=mode)]
    return tuple(out)


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_values_against_scipy(shapes):
    (sa, sv), rng = shapes, np.random.default_rng(0)
    check(every_mode, rand(*sa), rand(*sv))
    check(every_mode, rand(*sa, dtype=np.float32), rand(*sv, dtype=np.float32))
    check(every_mode, rng.integers(-4, 5, sa), rng.integers(-4, 5, sv).astype(np.int32))


def image_loss(image, kernel):
    """A blur, its edges, and a transposed convolution back: what image code does with them."""
    blurred = signal.convolve2d(image, kernel, mode="same")
    edges = signal.correlate2d(blurred, np.array([[1.0, 0.0, -1.0]]), mode="valid")
    back = signal.convolve(edges, kernel[::-1, ::-1], mode="full")
    return np.sum(np.tanh(back) ** 2) + np.sum(signal.fftconvolve(image, kernel) ** 2)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_gradients_against_finite_differences(backend):
    adcompiler.check_grad(image_loss, rand(6, 7), rand(3, 2), wrt=(0, 1), rtol=1e-6,
                          backend=backend)


def valid_of_crossed_shapes(x):
    return signal.correlate(x, x[:2, :].T, "valid")


def wrapped_boundary(x):
    return signal.convolve2d(x, x, boundary="wrap")


def of_bools(x):
    return signal.correlate(x > 0, x > 0)


def transformed_axes(x):
    return signal.fftconvolve(x, x, axes=0)


def filtered_rows(x):
    return signal.lfilter([1.0], [1.0, -0.5], x)


@pytest.mark.parametrize("f, match", [
    (valid_of_crossed_shapes, "one must be at least as large as the other in every dimension"),
    (wrapped_boundary, "only boundary='fill' with fillvalue=0 is supported"),
    (of_bools, "bool arrays are not supported"),
    (transformed_axes, "axes= is not supported"),
    (filtered_rows, "only 1-d b, a and x are supported")])
def test_what_is_not_supported_is_a_located_error(f, match):
    located_error(f, (rand(3, 4),), match, FILE)


def arma_residuals(phi, theta, y):
    """An ARMA(2, 1) model's innovations, an EWMA and a normalised FIR filter."""
    e = signal.lfilter(np.concatenate([[1.0], -phi]), np.concatenate([[1.0], theta]), y)
    smooth = signal.lfilter([theta[0]], [1.0, theta[0] - 1.0], y)
    return e, smooth, signal.lfilter(phi, [2.0], y)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_lfilter_of_vectors(backend):
    """(scipy.signal.lfilter was refused.)"""
    args = (np.array([0.3, -0.2]), np.array([0.4]), rand(30))
    check(arma_residuals, *args)
    adcompiler.check_grad(lambda p, t, y: sum(np.sum(r ** 2) for r in arma_residuals(p, t, y)),
                          *args, wrt=(0, 1, 2), rtol=1e-6, backend=backend)
