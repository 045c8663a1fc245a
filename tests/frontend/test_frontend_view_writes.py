"""Writes through views NumPy makes whatever the memory layout (basic slices, transposes,
size-1 axes added or dropped), and views read after their array changed: values against
NumPy running the same function (fecheck.check, which compares the arguments after the call
too), in straight-line code, run-time branches and loops; the caller's array written through
a view of it; gradients against central finite differences on both backends. These were
errors ("modified through a view", "a view of an array modified later")."""
import numpy as np
import pytest

import adcompiler
from fecheck import check, rand


def rows_in_a_loop(a, n):
    a = a.copy()
    for i in range(n):
        row = a[i]
        row[:] = row * 2.0 + i
    return a


def view_made_before_a_loop(a, n):
    a = a.copy()
    top = a[0]
    for i in range(n):
        top[i % 2] += 1.0
        a[1] -= 0.5
    return a, top


def written_in_a_branch(a):
    a = a.copy()
    column = a[:, 1]
    if np.sum(a) > 0:
        column[0] = 100.0
    else:
        a[1, 1] = -100.0
    return a, column


def chain_of_views(a):
    a = a.copy()
    t = a.T
    c = t[1:]
    c[0, 0] = 9.0
    s = a[None]
    s[0, 1, 2] += 1.0
    flat_row = a[1].reshape(1, -1)
    flat_row[0, 0] = -1.0
    return a, t, c, s, np.squeeze(s, 0)


def siblings(a):
    a = a.copy()
    row, column = a[0], a[:, 0]
    row[0] = 5.0
    a[1, 0] = 6.0
    return row, column


def written_argument(a):
    a[0][1] = 7.0
    a.T[2, 1] *= 2.0
    return np.sum(a)


@pytest.mark.parametrize("f, args", [
    (rows_in_a_loop, (np.int64(2),)), (rows_in_a_loop, (np.int64(0),)),
    (view_made_before_a_loop, (np.int64(3),)), (written_in_a_branch, ()),
    (chain_of_views, ()), (siblings, ()), (written_argument, ())], ids=str)
def test_values_against_numpy(f, args):
    check(f, rand(2, 3), *args)
    if f is written_in_a_branch:
        check(f, -rand(2, 3))


def loss(a):
    b = a * 1.0
    r = b[1]
    r *= 3.0
    r[0] = np.sin(b[0, 0])
    b.T[2] = b[:, 0] ** 2
    return np.sum(b ** 2)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_gradients_through_writes_into_views(backend):
    adcompiler.check_grad(loss, rand(2, 3), rtol=1e-6, backend=backend)


def first_row(a):
    return a[0]


def through_a_helpers_view(x):
    """A helper returning a view of its argument (it was a separate function, whose result
    was an array of its own: the writes missed x)."""
    x = x * 1.0
    r = first_row(x)
    r[:] = 0.0
    x[1, 0] = 7.0
    return x, r, first_row(x) * 2.0


def test_a_helpers_returned_view_is_a_view():
    check(through_a_helpers_view, rand(2, 3))
    for backend in ("numpy", "numba"):
        adcompiler.check_grad(lambda x: np.sum(through_a_helpers_view(x)[0] ** 2), rand(2, 3),
                              rtol=1e-6, backend=backend)


def ravel_of_a_column(x):
    v = x[:, 0].ravel()         # (NumPy copies: the column is not contiguous)
    v[0] = 9.0
    return np.sum(x)


def test_a_ravel_is_not_written_through():
    """ravel is a view of a contiguous array only: writing through it stays an error (it
    wrote into x, where NumPy's copy leaves x as it is)."""
    with pytest.raises(adcompiler.TraceError, match="does not write through"):
        adcompiler.trace(ravel_of_a_column, rand(3, 3))


def reshapes_of_known_layouts(x):
    """Arrays whose memory layout is known (made here): a reshape or ravel is a view where
    NumPy's is, and a copy where NumPy's is."""
    grid = np.zeros((3, 4))
    np.add.at(grid.reshape(-1), [1, 7, 7], x[:3, 0])        # a view: splatted into grid
    rows = grid[1:].reshape(4, 2)                            # a view (whole rows)
    rows[1:3] = x[0].reshape(2, 2)
    flat = grid.T.reshape(-1)                                # a copy (transposed)
    flat[0] = 100.0
    cols = grid[:, :2].ravel()                               # a copy (not contiguous)
    cols += 1.0
    c = x.copy()                                             # C-contiguous
    c.ravel()[2:5] = -1.0
    like = np.ones_like(grid)
    like.reshape(4, 3)[1] *= x[1, :3]
    grid[0, 0] = 5.0                                         # seen by rows, not by flat
    return grid, rows, flat, cols, c, like, np.arange(6.0)[::2].ravel()


def reshapes_of_run_time_slices(x, n):
    """Rows picked by a loop's index: their reshape is a view as NumPy's (the layout of a
    slice of run-time bounds lost an axis: the reshape was a copy, the writes were lost)."""
    buf, seen = np.zeros((5, 3)), 0.0
    for i in range(n):
        w = buf[i:i + 2].reshape(-1)
        w += np.tile(x, 2)
        buf[i:i + 2].T[:] *= 0.5
        seen = seen + np.sum(w * w)
    return buf, seen


def test_reshapes_of_arrays_whose_layout_is_known():
    """(Writing through these was an error: 'modified through a view of it that adcompiler
    does not write through'.)"""
    check(reshapes_of_known_layouts, rand(3, 4))
    check(reshapes_of_run_time_slices, rand(3), np.int64(3))
    for backend in ("numpy", "numba"):
        adcompiler.check_grad(lambda x: np.sum(reshapes_of_known_layouts(x)[0] ** 2),
                              rand(3, 4), rtol=1e-6, backend=backend)


def flat_buffer(x):
    buf = np.zeros(4)
    return buf, buf[:2], buf[2:]


def parameters_as_views_of_one_buffer(x):
    """A helper making a buffer and views of it (results of a separate function were arrays
    of their own: the writes missed the buffer, the gradient was 0)."""
    buf, w, b = flat_buffer(x)
    w += x[:2]
    b += x[2:] ** 2
    return np.sum(buf ** 2)


def scalar_parameter_step(flat, g):
    """A 0-d view `flat[0, ...]` changed with -=: NumPy's changes flat (it was rebound)."""
    params = [flat[0, ...], flat[1:3]]
    k = 0
    for p in params:
        p -= 0.5 * g[k:k + p.size] if p.ndim else 0.5 * g[k]
        k += p.size
    return np.sum(flat ** 2)


def test_views_a_helper_makes_and_0d_views_changed_in_place():
    check(parameters_as_views_of_one_buffer, rand(4))
    check(scalar_parameter_step, rand(3), rand(3))
    for backend in ("numpy", "numba"):
        adcompiler.check_grad(parameters_as_views_of_one_buffer, rand(4), rtol=1e-6,
                              backend=backend)


def slice_or_copy(x, c):
    if c > 0:
        return x[1:]
    return x[:-1] * 2.0


def written_after_a_helper_chose(x, c):
    y = x * 1.0
    r = slice_or_copy(y, c)
    y[2] = 99.0
    return r * 1.0


def test_a_helper_that_may_return_a_view_is_an_error_as_inline_code_is():
    """A view of the argument or a new array, chosen at run time: which one a later write
    reaches is unknown, as when the if is written in the caller (it was a silent copy)."""
    with pytest.raises(adcompiler.TraceError, match="may be the same array"):
        adcompiler.trace(written_after_a_helper_chose, rand(4), np.float64(1.0))
