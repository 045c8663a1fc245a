"""np.split and its variants, np.meshgrid, np.cumprod, sliding_window_view, np.correlate and
np.convolve: values, dtypes and shapes against NumPy running the same function; gradients
against central finite differences in float64 (NumPy backend, and one Numba program covering
them together); views and read-only views as NumPy makes them; located errors."""
import numpy as np
import pytest

import adcompiler
from fecheck import check, located_error, ops, rand, weighted

FILE = "test_frontend_windows.py"
windows = np.lib.stride_tricks.sliding_window_view


def test_splits():
    def f(x, t3, v, k):
        return (np.split(x, 3), np.split(x, [1, 4], axis=1), np.split(v, [2, 2, 9]),
                np.array_split(x, 4, axis=1), np.array_split(v, 3), np.array_split(v, 7),
                np.array_split(x, np.array([2, 1]), axis=-1), np.hsplit(x, [1, 3]),
                np.hsplit(v, 5), np.vsplit(x, 2), np.dsplit(t3, [1]), np.split(k, 2, axis=1))
    check(f, rand(6, 5), rand(2, 3, 4), rand(5), np.arange(12, dtype=np.int32).reshape(3, 4))


def test_split_pieces_are_views():
    """Writing into a piece of a split writes into the array (NumPy's basic slices): it was
    an error, and is NumPy's result now."""
    def f(x):
        x = x * 1.0
        a, b = np.split(x, 2)
        b[0] = 7.0
        return x, a
    check(f, rand(4, 3))


def test_meshgrid():
    def f(a, b, c, k):
        return (np.meshgrid(a, b), np.meshgrid(a, b, indexing="ij"), np.meshgrid(a, b, c),
                np.meshgrid(a, c, indexing="ij", sparse=True), np.meshgrid(b, sparse=True),
                np.meshgrid(a, k, copy=False), np.meshgrid(a))
    check(f, rand(3), rand(2, 2), rand(5), np.arange(4))


def test_cumprod():
    def f(x, t3, v, k, b):
        return (np.cumprod(x), np.cumprod(x, axis=0), x.cumprod(1), np.cumprod(t3, axis=-2),
                np.cumprod(v), np.cumprod(k), np.cumprod(k, axis=1, dtype=np.float32),
                np.cumprod(b), np.cumprod(v[:1]), np.cumprod(v[:0]),
                np.cumprod(x.astype(np.float32), axis=1))
    check(f, rand(3, 4), rand(2, 5, 3), rand(9), np.arange(1, 13, dtype=np.int32).reshape(3, 4),
          rand(4) > 0)


@pytest.mark.parametrize("sliced", [16, 1])
def test_sliding_window_view(sliced, monkeypatch):
    """Windows of up to SLICED entries along an axis are slices of it, wider ones gathered."""
    from adcompiler.frontend import windows as module
    monkeypatch.setattr(module, "SLICED", sliced)

    def f(x, t3, v, k):
        return (windows(v, 3), windows(x, 2, axis=0), windows(x, (2, 3)), windows(t3, (2, 2),
                axis=(2, 0)), windows(x, 4, axis=-1), windows(v, 1), windows(k, (1, 2)),
                windows(x, (2, 1), axis=(1, 1)))
    fn = check(f, rand(3, 4), rand(3, 2, 4), rand(6), np.arange(6).reshape(2, 3))
    assert ("take" in ops(fn)) == (sliced == 1) and "scatter_add" not in ops(fn)
    check(lambda x: windows(x, (0, 2)), rand(3, 4))     # (empty windows: no slice to stack)


@pytest.mark.parametrize("n, m", [(5, 3), (3, 5), (4, 4), (6, 1), (1, 4), (7, 2), (2, 7), (1, 1)])
def test_correlate_and_convolve(n, m):
    def f(a, v, k):
        return (tuple(np.correlate(a, v, mode) for mode in ("full", "same", "valid"))
                + tuple(np.convolve(a, v, mode) for mode in ("full", "same", "valid"))
                + (np.correlate(a, v), np.convolve(a, v), np.convolve(k, k[::-1], "same"),
                   np.convolve(a.astype(np.float32), k)))
    check(f, rand(n), rand(m), np.arange(1, m + 1))


def writes_into_windows(x):
    windows(x, 2, axis=0)[0, 0] = 1.0


def writeable_windows(x):
    return windows(x, 2, axis=0, writeable=True)


def reads_windows_after_the_input_changed(x):
    w = windows(x, 2, axis=0); x[0] = 0.0; return w + 1.0  # noqa: E702 (one line: see located_error)


def convolve_2d(x):
    return np.convolve(x, x)


def split_unequal(x):
    return np.split(x, 2)


def window_too_big(x):
    return windows(x, 4, axis=0)


def window_shape_for_some_axes(x):
    return windows(x, 2)


def vsplit_of_a_vector(x):
    return np.vsplit(x[0], 1)


def correlate_mode(x):
    return np.correlate(x[0], x[1], "circular")


@pytest.mark.parametrize("f, match", [
    (writes_into_windows, "read-only: sliding_window_view returns a read-only view"),
    (writeable_windows, "windows overlap in memory"),
    (reads_windows_after_the_input_changed, "it was modified through a view|cannot be read here"),
    (convolve_2d, r"takes 1-d arrays, got shapes \(3, 3\)"),
    (split_unequal, "array split does not result in an equal division"),
    (window_too_big, "window shape cannot be larger than input array shape"),
    (window_shape_for_some_axes, "must provide window_shape for all dimensions of `x`; got 1 "
                                 "window_shape elements and 2 axes"),
    (vsplit_of_a_vector, "vsplit only works on arrays of 2 or more dimensions"),
    (correlate_mode, "mode must be 'full', 'same' or 'valid'"),
])
def test_errors_are_located(f, match):
    located_error(f, (rand(3, 3),), match, FILE)


# -- gradients -----------------------------------------------------------------------------------

def grad_splits_meshgrid(x):
    a, b = np.split(x, 2, axis=1)
    p, q, r = np.array_split(x, 3)
    X, Y = np.meshgrid(x[0], x[1, :3])
    return weighted(a * b) + weighted(r - p * q) + weighted(X * Y)


def grad_cumprod(x):
    return weighted(np.cumprod(x, axis=1)) + weighted(np.cumprod(x))


def grad_windows(x):
    return weighted(windows(x, (2, 3))) + weighted(windows(x, 3, axis=0) @ x[0, :3])


def grad_correlate(x):
    a, v = x[0], x[1, :3]
    return (weighted(np.correlate(a, v, "full")) + weighted(np.convolve(a, v, "same"))
            + weighted(np.convolve(v, a)) + weighted(np.correlate(v, a, "valid")))


@pytest.mark.parametrize("f", [grad_splits_meshgrid, grad_cumprod, grad_windows, grad_correlate])
def test_gradients_against_finite_differences(f):
    adcompiler.check_grad(f, rand(4, 6), samples=24, rtol=1e-6, backend="numpy")


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_gradients_of_gathered_windows(backend, monkeypatch):
    """Windows wider than SLICED are gathered, their gradient a scatter-add."""
    from adcompiler.frontend import windows as module
    monkeypatch.setattr(module, "SLICED", 1)
    gathered = lambda x: grad_windows(x)    # noqa: E731  (a function traced anew)
    assert "take" in ops(adcompiler.trace(gathered, rand(4, 6)))
    adcompiler.check_grad(gathered, rand(4, 6), samples=24, rtol=1e-6, backend=backend)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_long_convolution_runs_in_linear_memory(backend):
    """np.convolve of two 3000-long signals, full mode, and its gradient in both: no
    3000 x 5999 windows matrix (144 MB; the NumPy backend's allocations are NumPy's, which
    tracemalloc sees), and d sum(w * convolve(a, v)) / da = correlate(w, v, 'valid'),
    / dv = correlate(w, a, 'valid') written out with NumPy."""
    import tracemalloc
    rng = np.random.default_rng(3)
    a, v, w = rng.normal(size=3000), rng.normal(size=3000), rng.normal(size=5999)
    g = adcompiler.value_and_grad(lambda a, v, w: np.sum(w * np.convolve(a, v)),
                                  wrt=("a", "v"), backend=backend)
    g(a, v, w)
    tracemalloc.start()
    try:
        value, (da, dv) = g(a, v, w)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_allclose(value, np.sum(w * np.convolve(a, v)), rtol=1e-10)
    np.testing.assert_allclose(da, np.correlate(w, v, "valid"), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dv, np.correlate(w, a, "valid"), rtol=1e-10, atol=1e-10)
    if backend == "numpy":
        assert peak < 2 ** 20, f"{peak / 2 ** 20:.1f} MB for a 3000-long convolution's gradient"


def test_cumprod_gradient_with_zeros():
    """d sum(cumprod(x)) / d x[i] = sum over j >= i of the product of x[:j+1] but x[i]: worked
    out by hand for x with two zeros, where the quotient cumprod / x would be 0/0. Every term
    past the first zero holds it, but those of that zero's own derivative."""
    x = np.array([2.0, 0.0, 3.0, 0.5, 0.0, 4.0])
    want = [1.0, 2.0 + 2.0 * 3.0 + 2.0 * 3.0 * 0.5, 0.0, 0.0, 0.0, 0.0]
    for backend in ("numpy", "numba"):
        g = adcompiler.grad(lambda x: np.sum(np.cumprod(x)), backend=backend)(x)
        np.testing.assert_allclose(g, want, rtol=1e-12, err_msg=backend)


def test_gradients_on_the_numba_backend():
    def all_together(x):
        return grad_splits_meshgrid(x) + grad_cumprod(x) + grad_windows(x) + grad_correlate(x)
    adcompiler.check_grad(all_together, rand(4, 6), samples=24, rtol=1e-6, backend="numba")
