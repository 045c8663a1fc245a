"""Loops that fill an array write into it in place (backends/inplace.py): values and gradients
on both backends against NumPy running the same Python and float64 finite differences, for
the patterns where writing in place would be wrong (the caller's array, two arrays swapped, a
view kept, a branch, an update read whole afterwards), and the generated code of a buffer loop
copying the array once, not per iteration."""
import numpy as np
import pytest

import adcompiler as adc

BACKENDS = ["numpy", "numba"]
W = np.linspace(0.5, 1.1, 4)


def fill(x0, w):
    out = np.zeros((7, 4))
    out[0] = x0
    for t in range(1, 7):
        out[t] = np.tanh(w * out[t - 1]) + 0.1 * out[t]
    return np.sum(out * out)


def fill_argument(buf, w):
    """Changes the caller's array, as NumPy would."""
    for t in range(1, buf.shape[0]):
        buf[t] = np.sin(w * buf[t - 1])
    return np.sum(buf * buf)


def swapped(a, b, w, n):
    a = a + 0.0
    b = b * 1.0
    for t in range(n):
        a[t % 3] = np.sin(w * b[(t + 1) % 3])
        a, b = b, a
    return np.sum(a * np.cos(b))


def view_kept(x0, w, n):
    out = np.zeros((6, 4))
    out[0] = x0
    for t in range(1, n):
        prev = out[t - 1 + np.arange(2)]
        last = out[-1]                  # a view of the array updated next
        out[t] = np.tanh(w * prev[0]) + prev[1] * last
    return np.sum(out ** 2)


def branch_and_whole_reads(x0, w, n):
    out = np.zeros((6, 4))
    out[0] = x0
    total = 0.0
    for t in range(1, n):
        if np.sum(out[t - 1]) > 0.5:
            out[t] = np.cos(w * out[t - 1])
        else:
            out[t] = w * out[t - 1]
        out[t - 1] += 0.5 * out[t]
        total = total + np.sum(out * w)     # the whole array, read after its updates
    return total + np.sum(out)


def whole_read_after_update(x0, w, n):
    out = np.zeros((6, 4))
    out[0] = x0
    s = 0.0
    for t in range(1, n):
        out[t] = np.tanh(w * out[t - 1])
        s = s + np.sum(np.sin(out))         # the backward sweep needs each iteration's array
    return s


def ring(xs, w, n):
    acc = np.zeros((3, 4))
    for t in range(n):
        acc[t % 3] += np.sin(w * xs[t]) * acc[(t + 1) % 3] + xs[t]
    return np.sum(acc ** 2)


def read_by_a_later_kernel(x0, w, n):
    out = np.zeros((6, 4))
    out[0] = x0
    acc = np.zeros((6, 4))
    for t in range(1, n):
        doubled = out * 2.0         # read before the update, by an op the Numba backend fuses
        out[t] = np.tanh(w * out[t - 1])
        acc = acc + doubled + 1.0   # with this one, after it
    return np.sum(acc * acc) + np.sum(out ** 2)


def collect(x, n):
    """A buffer filled under a run-time condition, both branches writing it."""
    buf = np.zeros(x.shape[0])
    count = 0
    for t in range(n):
        if x[t] > 0.0:
            buf[count] = np.sin(x[t]) + 0.5 * buf[count - 1]
            count += 1
        else:
            buf[t] += x[t] ** 2
    return np.sum(buf * buf)


def read_after_a_branch(x0, w, n):
    out = np.zeros((6, 4))
    out[0] = x0
    acc = np.zeros((6, 4))
    for t in range(1, n):
        doubled = out * 2.0         # read before the branch, by an op the Numba backend fuses
        if np.sum(out[t - 1]) > 0.5:
            out[t] = np.cos(w * out[t - 1])
        acc = acc + doubled + 1.0   # with this one, after it
    return np.sum(acc * acc) + np.sum(out ** 2)


def fill_while(x0, w):
    out = np.zeros((8, 4))
    out[0] = x0
    t = 1
    while t < 8 and np.sum(out[t - 1]) < 3.0:
        out[t] = out[t - 1] * w + 0.3
        t += 1
    return np.sum(np.sin(out))


def columns(x, w, n):
    """Columns of a run-time index counted from the end (`x[:, -t]`): their gradient adds into
    the columns, and the products of a loop body on vectors and matrices."""
    acc = np.zeros(4)
    for t in range(1, n):
        col = x[:, -t]
        acc = acc + np.tanh(x.T @ col) * (col @ x[:, t - 1]) + (w[:3] @ x) * col[0]
    return np.sum(acc * acc)


def add_at(x, idx, w):
    """np.add.at / np.subtract.at: a repeated index adds (takes) as often as it repeats, where
    `out[idx] += v` keeps the last; along an axis, with an int, a slice and a new axis."""
    out = np.zeros((5, 4))
    np.add.at(out, idx, x * w)
    np.subtract.at(out, (idx, 1), x[:, 1] ** 2)
    np.add.at(out, (slice(1, 4), np.array([2, 2, 0])), x[:3, :3].T)
    np.add.at(out, (None, 3), 0.5)
    np.add.at(out, (0, [1, 1]), [x[0, 0], x[1, 1]])    # a list of run-time values
    return np.sum(np.sin(out))


def add_at_argument(buf, idx, v):
    """Changes the caller's array."""
    np.add.at(buf, idx, np.tanh(v))
    return np.sum(buf * v[0])


CASES = [(fill, lambda: [np.full(4, 0.3), W]),
         (fill_argument, lambda: [np.vstack([np.full(4, 0.4), np.ones((5, 4))]), W]),
         (swapped, lambda: [np.arange(12.0).reshape(3, 4) / 12, np.ones((3, 4)), W, np.int64(5)]),
         (view_kept, lambda: [np.full(4, 0.2), W, np.int64(6)]),
         (branch_and_whole_reads, lambda: [np.array([0.1, 0.2, 0.3, 0.4]), W, np.int64(6)]),
         (whole_read_after_update, lambda: [np.full(4, 0.2), W, np.int64(6)]),
         (ring, lambda: [np.linspace(-1, 1, 28).reshape(7, 4), W, np.int64(7)]),
         (read_by_a_later_kernel, lambda: [np.full(4, 0.2), W, np.int64(6)]),
         (collect, lambda: [np.linspace(-1, 1, 8), np.int64(8)]),
         (read_after_a_branch, lambda: [np.array([0.1, 0.2, 0.3, 0.4]), W, np.int64(6)]),
         (fill_while, lambda: [np.full(4, 0.2), W]),
         (columns, lambda: [np.linspace(-1, 1, 12).reshape(3, 4) / 2, W, np.int64(5)]),
         (add_at, lambda: [np.linspace(-1, 1, 24).reshape(6, 4), np.array([0, 3, 0, 4, 3, 0]),
                           W]),
         (add_at_argument, lambda: [np.linspace(-1, 1, 20).reshape(5, 4),
                                    np.array([[1, 1], [4, 1]]),
                                    np.linspace(0.2, 1, 8).reshape(2, 4)])]


def finite_differences(f, args, k, eps=1e-6):
    out = np.zeros_like(args[k])
    for i in np.ndindex(*args[k].shape):
        hi, lo = [a.copy() for a in args], [a.copy() for a in args]
        hi[k][i] += eps
        lo[k][i] -= eps
        out[i] = (f(*hi) - f(*lo)) / (2 * eps)
    return out


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("f, make", CASES, ids=[f.__name__ for f, _ in CASES])
def test_values_gradients_and_the_callers_arrays(f, make, backend):
    args = make()
    want_args = [a.copy() for a in args]
    want = f(*want_args)                       # NumPy, changing its own copies
    given = [a.copy() for a in args]
    np.testing.assert_allclose(adc.jit(f, backend=backend)(*given), want, rtol=1e-12)
    for g, w in zip(given, want_args, strict=True):   # written back as NumPy writes them
        np.testing.assert_allclose(g, w, rtol=1e-12)
    given = [a.copy() for a in args]
    floats = tuple(k for k, a in enumerate(args) if a.dtype.kind == "f")
    value, grads = adc.value_and_grad(f, wrt=floats, backend=backend)(*given)
    np.testing.assert_allclose(value, want, rtol=1e-12)
    for k, g in zip(floats, grads, strict=True):
        np.testing.assert_allclose(g, finite_differences(f, args, k), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("f, args", [(fill, (np.full(4, 0.3), W)),
                                     (collect, (np.linspace(-1, 1, 8), np.int64(8)))])
def test_a_buffer_loop_copies_its_array_once_not_per_iteration(f, args):
    """Both sweeps: the forward loop writes row t into the carried array (in `collect`, in
    the branches of a run-time `if`), the backward one zeroes and adds rows of its gradient,
    each in place."""
    source = adc.grad(f, wrt=0, backend="numpy").adjoint_source(*args)
    lines = source.splitlines()
    heads = [i for i, ln in enumerate(lines) if ln.startswith("    for ")]
    assert len(heads) == 2
    for head in heads:
        body = []
        for ln in lines[head + 1:]:
            if not ln.startswith("        "):
                break
            body.append(ln)
        assert "np.array(" in lines[head - 1]             # the copy on entry
        assert sum("updated in place" in ln for ln in body) >= 1
        assert not any("np.array(" in ln for ln in body), "\n".join(body)
