"""Indexing reads and functional updates, against NumPy (including its aliasing)."""
import numpy as np
import pytest

import adcompiler
from fecheck import central_differences, check, ops, rand


def basic_reads(x):
    return (x[0], x[-1], x[1:3], x[:, 1], x[..., 0], x[None], x[:, None, 1:], x[::2, ::-1],
            x[1, 2, 3], x[-2:, ..., :2], x[..., None], x[::-1], x[3:1:-1], x[5:], x[()],
            x[0, :, np.newaxis])


def test_basic_indexing():
    fn = check(basic_reads, rand(4, 3, 5))
    assert "take" not in ops(fn)


def test_integer_array_gather_is_take():
    def f(wte, tokens):
        return wte[tokens], wte[:, tokens[1]], wte[tokens[0], 1:]
    fn = check(f, rand(10, 4), np.array([[1, 2, 9], [0, 0, 3]]))
    assert "take" in ops(fn)


def test_several_integer_arrays_are_linearised():
    def f(probs, t):
        n = probs.shape[0]
        # (probs[range(n), t], as NumPy takes it: it was refused)
        return (probs[np.arange(n), t], probs[t, t], probs[np.arange(n)[:, None], t[None, :]],
                probs[[0, 1, 2], [1, 1, 0]], probs[-1, t], probs[t, -1], probs[range(n), t],
                probs[range(0)])
    fn = check(f, rand(3, 4), np.array([2, 0, -1]))
    assert ops(fn).count("take") == 8


def test_advanced_indices_separated_by_a_slice_go_first():
    def f(x, i, j):
        return x[i, :, j], x[:, i, j], x[i, 1:3, 0], x[0, :, j]
    check(f, rand(3, 4, 5), np.array([0, 2]), np.array([1, 4]))


def test_static_masks_and_index_lists():
    mask = np.array([True, False, True, True])

    def f(x):
        return x[mask], x[:, [2, 0]], x[[1, -1]]
    check(f, rand(4, 3))


def test_runtime_scalar_index_in_loop():
    def f(x, n):
        acc = np.zeros(x.shape[1])
        for i in range(n):
            acc = acc + x[i] * x[i, 0]
        return acc
    fn = check(f, rand(5, 3), np.int64(4))
    assert "take" in ops(fn) and "for" in ops(fn)


def basic_updates(x, v):
    x[0] = 1.0
    x[1:3] += v[:2]
    x[:, 1] = v[0, 0]
    x[-1, ::2] = -x[-1, ::2]
    x[..., 0] *= 2
    return x


def test_subscript_assignment_is_functional():
    fn = check(basic_updates, rand(4, 3), rand(3, 3))
    assert "update_slice" in ops(fn)


def advanced_updates(x, idx, v):
    x[idx] = 0.0
    x[:, idx] = v
    x[idx, 1] += 5.0
    x[[0, 2], [1, 2]] = 7
    return x


def test_advanced_assignment_is_put():
    fn = check(advanced_updates, rand(4, 4), np.array([3, 1]), rand(4, 2))
    assert "put" in ops(fn)


def test_mask_assignment_is_where():
    def f(x, y):
        x[x < 0] = 0.0
        y[np.sum(y, 1) > 0] = -1.0
        return x, y
    fn = check(f, rand(5), rand(4, 3))
    assert "where" in ops(fn)

    def leading_ones(x, y, s, v):       # values NumPy broadcasts over the masked entries
        x[x < 0] = np.array([s])
        y[np.sum(y, 1) > 0] = v
        return x, y
    check(leading_ones, rand(5), rand(4, 3), 2.5, rand(1, 3))


def leaky_in_place(x, b):
    y = x.copy()
    y[y < 0] *= 0.1
    y[np.sum(y, axis=1) < 0] += b       # a row's shape of values, each masked row gets
    return np.sum(np.sin(y))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_augmented_assignment_through_a_runtime_mask(backend):
    """`x[m] op= v` reads a run-time number of entries, as NumPy does, and sets them: a where
    of x op v; values as NumPy's, gradients as central differences'."""
    x, b = rand(4, 3), rand(3)
    check(leaky_in_place, x, b)
    gx, gb = adcompiler.grad(leaky_in_place, wrt=(0, 1), backend=backend)(x, b)
    np.testing.assert_allclose(gx, central_differences(leaky_in_place, x, b), rtol=1e-6)
    np.testing.assert_allclose(gb, central_differences(leaky_in_place, x, b, wrt=1), rtol=1e-6)
    with pytest.raises(adcompiler.TraceError, match="needs v to be a scalar or to broadcast"):
        adcompiler.trace(leaky_in_place, x, rand(4, 3))
    # the op is not applied outside the mask: sqrt of the negative entries made NaN gradients
    x = np.array([4.0, 0.5, -1.0, 9.0, -2.5])
    np.testing.assert_allclose(adcompiler.grad(roots_in_place, backend=backend)(x),
                               central_differences(roots_in_place, x), rtol=1e-6)


def roots_in_place(x):
    y = x * 1.0
    y[y > 0] **= 0.5
    return np.sum(y * y * y)


def test_runtime_scalar_index_assignment():
    def f(x, n):
        for i in range(n):
            x[i] = x[i] * 2 + i
        return x
    check(f, rand(5, 2), np.int64(3))


def test_assignment_casts_like_numpy():
    def f(a, b):
        a[0] = 2.7
        b[1:] = a[:2] > 0
        return a, b
    check(f, np.arange(4), rand(3))


def test_aliasing_follows_numpy():
    def f(x):
        y = x
        y[0] = 100.0
        z = x * 1.0
        x[1] = 7.0
        d = {"w": x}
        d["w"][2] = -1.0
        return x, y, z, d["w"]
    check(f, rand(4))


def test_earlier_values_keep_their_value():
    def f(x):
        before = x * 2
        x[0] = 0.0
        return before, x
    check(f, rand(3))


def test_reading_a_slice_after_writing_its_base_sees_the_write():
    """A basic slice is a view NumPy makes whatever the layout (this was an error)."""
    def f(x):
        v = x[1:]
        x[1] = 5.0
        return v
    check(f, rand(4))


def test_reading_a_reshape_after_writing_its_base_is_an_error():
    """NumPy's reshape is a view of a contiguous array, a copy of another."""
    def f(x):
        v = x.reshape(2, 2)
        x[1] = 5.0
        return v
    with pytest.raises(adcompiler.TraceError, match="view") as e:
        adcompiler.trace(f, rand(4))
    assert "test_frontend_indexing.py" in str(e.value)


def test_writing_through_a_view_then_reading_the_base_is_an_error():
    def f(x):
        v = x.reshape(2, 2)
        v[0, 0] = 1.0
        return x
    with pytest.raises(adcompiler.TraceError, match="through a view"):
        adcompiler.trace(f, rand(4))


def test_writing_a_rebound_view_is_fine():
    def f(x):
        x = (x * 2.0).reshape(2, 3)
        x[0] = 0.0
        return x
    check(f, rand(6))


def test_index_errors_name_the_construct():
    with pytest.raises(adcompiler.TraceError, match=r"out of bounds.*x\[5\]"):
        adcompiler.trace(lambda x: x[5], rand(3))
    with pytest.raises(adcompiler.TraceError, match="too many indices"):
        adcompiler.trace(lambda x: x[0, 0], rand(3))
    with pytest.raises(adcompiler.TraceError, match="integer or boolean"):
        adcompiler.trace(lambda x, i: x[i], rand(3), rand(2))


def test_runtime_mask_read_suggests_where():
    def f(x):
        return x[x > 0]
    with pytest.raises(adcompiler.TraceError, match=r"np\.where") as e:
        adcompiler.trace(f, rand(4))
    assert "x[x > 0]" in str(e.value)


def swaps_entries(x):
    p = x * 1.0
    p[0], p[1] = p[1], p[0]       # p[1] and p[0] are NumPy scalars, copies: not views
    return np.sum(p * np.arange(p.shape[0]))


def keeps_an_old_entry(x):
    p = x * 1.0
    a = p[0]
    p[0] = 5.0
    return a * p[0]


def insertion_sorted(x):
    y = x * 1.0
    for i in range(1, y.shape[0]):
        key = y[i]
        j = i - 1
        while j >= 0 and y[j] > key:
            y[j + 1] = y[j]
            j -= 1
        y[j + 1] = key
    return np.sum(y * np.arange(1.0, y.shape[0] + 1))


def test_an_entry_read_by_integers_is_a_copy():
    x = np.array([3.0, 1.0, 4.0, 2.0])
    for f in (swaps_entries, keeps_an_old_entry, insertion_sorted):
        check(f, x)


def short_mask_read(x):
    return x[np.array([True, False])]


def short_mask_column_write(x):
    y = x * 1.0
    y[:, [False, True]] = 0.0
    return y


def write_into_broadcast(x):
    b = np.broadcast_to(x * 2.0, (2, 5))
    b[0] = 1.0
    return b


def write_through_new_axis(x):
    y = x * 1.0
    y[:, None, 1] = x[:, None, 0] * 3.0
    return y


def test_static_masks_broadcast_views_and_new_axes_in_writes_as_numpy():
    """A static mask of the wrong length read as if padded with False; a write into
    np.broadcast_to's read-only view of a local array went through; a write target with a new
    axis took its value without it ('could not broadcast (3, 1) into (3,)')."""
    x = rand(3, 4)
    for f, axis, n in ((short_mask_read, 0, 2), (short_mask_column_write, 1, 2)):
        with pytest.raises(IndexError, match="boolean index did not match"):
            f(x)
        with pytest.raises(adcompiler.TraceError, match=rf"boolean index did not match indexed "
                           rf"array along axis {axis}; size of axis is {x.shape[axis]} but size "
                           rf"of corresponding boolean axis is {n}"):
            adcompiler.trace(f, x)
    with pytest.raises(ValueError, match="read-only"):
        write_into_broadcast(rand(5))
    with pytest.raises(adcompiler.TraceError, match=r"test_frontend_indexing.py:\d+: assignment "
                       "destination is read-only: np.broadcast_to returns a read-only view"):
        adcompiler.trace(write_into_broadcast, rand(5))
    check(write_through_new_axis, x)
    for backend in ("numpy", "numba"):
        loss = lambda x: np.sum(np.sin(write_through_new_axis(x)))     # noqa: E731
        np.testing.assert_allclose(adcompiler.grad(loss, backend=backend)(x),
                                   central_differences(loss, x), atol=1e-8)


def write_new_axis_and_indices(x, v, w):
    y = x * 1.0
    y[:, None, [0, 2]] = v              # the target is (3, 1, 2)
    y[[1, 2], None, 1:3] += w           # (2, 1, 2)
    return y


def write_new_axis_between_indices(x, v):
    y = x * 1.0
    y[[0, 1], None, [2, 3]] = v         # index arrays split by a new axis go first: (2, 1)
    return y


def test_new_axes_in_writes_with_index_arrays_as_numpy():
    """x[:, None, idx] = v took v against x[:, idx]'s shape, without the new axis: a v of
    NumPy's target shape was refused and one NumPy refuses was taken."""
    x = rand(3, 4)
    check(write_new_axis_and_indices, x, rand(3, 1, 2), rand(2))
    check(write_new_axis_and_indices, x, rand(2), rand(1, 2))
    check(write_new_axis_between_indices, x, rand(2, 1))
    for f, args in ((write_new_axis_and_indices, (rand(3, 2), rand(2))),
                    (write_new_axis_between_indices, (rand(1, 2),))):
        with pytest.raises(ValueError, match="shape mismatch"):
            f(x, *args)
        with pytest.raises(adcompiler.TraceError, match="could not broadcast input array"):
            adcompiler.trace(f, x, *args)
