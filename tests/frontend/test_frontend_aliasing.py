"""Arrays two names share, changed in place inside an `if` or a loop on run-time values: the
traced program computes what NumPy computes, or (where which array a change reaches depends on
the run) reading the array that may have changed is a located TraceError. Each case runs with
the condition both ways and with several trip counts, against NumPy running the function."""
import numpy as np
import pytest

import adcompiler
from fecheck import check, ops, rand


def shared_in_branch(y, c):
    h = y
    if c > 0:
        h += 1.0
    return y * 2.0 + h


def item_set_in_branch(y, c):
    t = y
    if c > 0:
        t[0] = 9.0
    return y * 3.0


def dict_entry_in_branch(y, c):
    d = {"a": y * 1.0}
    a = d["a"]
    if c > 0:
        a += 1.0
    return d["a"]


def changed_in_both_branches(y, c):
    z = y * 1.0
    w = z
    if c > 0:
        w[0] = 5.0
    else:
        z[1] = 7.0
    return w + z


def view_read_in_other_branch(y, c):
    out = y * 1.0
    m = out[0:2]
    if c > 0:
        out[0] = 5.0
        r = out.sum()
    else:
        r = m.sum()
    return r


@pytest.mark.parametrize("c", [1.0, -1.0])
@pytest.mark.parametrize("f", [shared_in_branch, item_set_in_branch, dict_entry_in_branch,
                               changed_in_both_branches, view_read_in_other_branch])
def test_in_place_change_in_a_branch_reaches_every_name(f, c):
    fn = check(f, rand(3), np.float64(c))
    assert "if" in ops(fn)


def shared_in_loop(y, n):
    h = y
    for _ in range(n):
        h += 1.0
    return y * 2.0


def two_names_one_array(y, n):
    s = t = y * 1.0
    for _ in range(n):
        s += 1.0
    return t


def list_item_through_a_local(y, n):
    xs = [y * 1.0, y * 2.0]
    for _ in range(n):
        a = xs[0]
        a += 1.0
    return xs[0]


def rows_written(y, n):
    out = np.zeros((4, 3))
    alias = out
    for i in range(n):
        out[i] = y * i
    return alias


def in_place_then_rebound_apart(y, n):
    s = t = y * 1.0
    for _ in range(n):
        t = t * 2.0
        s += t
    return s, t


def while_shares(y, n):
    h = y * 1.0
    g = h
    k = 0
    while k < n:
        h *= 2.0
        k += 1
    return g


def container_slot_augmented(y, n):
    x = y * 1.0
    d = {"p": x}
    xs = [x]
    d["p"] += 1.0               # changes x in place, as NumPy does
    xs[0] *= 2.0
    for _ in range(n):
        d["p"] += 1.0
    return x, d["p"], xs[0]


def equal_twins(y, n):
    a = y * 2.0             # the same expression twice is still two arrays
    b = y * 2.0
    for _ in range(n):
        a += 1.0
    return a, b


def view_chain_rebound(y, n):
    a = y * 1.0
    for _ in range(n):
        a = a[::1]
        a += 1.0
    return a, y


@pytest.mark.parametrize("n", [0, 1, 3])
@pytest.mark.parametrize("f", [shared_in_loop, two_names_one_array, list_item_through_a_local,
                               rows_written, in_place_then_rebound_apart, while_shares,
                               equal_twins, view_chain_rebound, container_slot_augmented])
def test_in_place_change_in_a_runtime_loop_reaches_every_name(f, n):
    fn = check(f, rand(3), np.int64(n))
    assert {"for", "while"} & set(ops(fn))


def test_static_trip_loops_with_shared_arrays_follow_numpy():
    """Two loops the run-time tests below reject, with a static trip count: unrolled, each
    change is followed."""
    for f in (changed_and_rebound_in_loop, started_as_a_changed_array):
        check(f, rand(3), 3)


def maybe_same_after_if(y, c):
    if c > 0:
        o = y
    else:
        o = 2.0 * y
    o[0] = 0.0
    return y + o


def changed_and_rebound_in_loop(y, n):
    h = y * 1.0
    g = h
    for _ in range(n):
        h += 1.0
        h = h * 2.0
    return g, h


def view_before_loop(y, n):
    out = y * 1.0
    m = out.reshape(1, -1)
    for _ in range(n):
        out[0] = out[0] + 1.0
    return m


def runtime_index_view_written(y, n):
    out = np.zeros((3, 2))
    for t in range(n):
        out[t][0] = y[t]
    return out


def equal_twins_chosen(y, c):
    a = y * 2.0
    b = y * 2.0
    h = a if c > 0 else b
    h += 1.0
    return b + 0.0


def chosen_view_in_nested_if(y, c):
    z = y * 1.0
    if c > 0:
        w = z[0:3] if c > 1 else z
        z[0] = 3.0
    else:
        w = z
    return w


def loop_end_alias(y, n):
    a = y * 1.0
    b = y * 2.0
    for _ in range(n):
        b += 1.0
        a = b
    a += 1.0
    return b


def written_through_a_view_in_loop(y, n):
    a = y * 1.0
    v = a
    for _ in range(n):
        v = v[::1]
        v += 1.0
    return a


def view_chosen_then_base_changed(y, c):
    x = y * 2.0
    z = y * 1.0
    if c > 0:
        z = z + c
    else:
        x = z.reshape(3)        # a view of z, or not
    z += x
    return x


def started_as_a_changed_array(y, n):
    h = y * 1.0
    a = h
    for _ in range(n):
        h += 1.0                # changes a too in the first iteration
        a = a * 2.0
    return a, h


def swapped_then_written_by_rows(y, n):
    p = h = np.zeros((2, 3))
    p = y.reshape(1, 3) * np.ones((2, 1))
    for row in p:               # a run-time row index: the rows are views of p
        row -= 2.0
        h, p = p, h             # p is p again after two iterations
    return p


def loop_result_maybe_a_written_base(y, n):
    x = y * 1.0
    ys = {"p": x}
    for _ in range(n):
        x = ys["p"] + 1.0
    o = ys["p"][0:2]            # after no iteration, x is the array o writes into
    o -= 0.5
    return x


def base_read_after_a_write_through_its_view(y, n):
    z = y * 1.0
    h = z[:]
    for _ in range(n):
        x = h[::1]              # the second iteration reads h, changed through x
        x += 1.0
    return x


def chosen_carried_value_changed(y, c, n):
    x = y * 1.0
    z = y * 2.0
    for _ in range(n):
        t = z if c > 0 else x + c
        t += -z                 # changes x from the second iteration on
        z = x[::1]
    return x


def loop_results_view_and_base(y, n):
    z = y * 1.0
    h = z[1:]
    for _ in range(n):
        z = y * 2.0
        h = h * 1.0
    h[0] = 5.0                  # after no iteration, h is a view of z
    return z


def loop_rotates_a_view_in(y, n):
    z = y * 1.0
    x = y * 2.0
    v = z[::1]
    for _ in range(n):
        x = v
        v = z
    x[0] = 9.0                  # x is v (so z) after an iteration
    return v


def inner_loop_writes_an_outer_view(y, n):
    x = y * 1.0
    z = y * 2.0
    for _ in range(n):
        for _ in range(n):
            x[1] *= -0.5        # from the second outer iteration on, writes z
            x = x * 2.0
        x = z.reshape(3)
    return x


def view_written_in_one_branch_then_again(y, c):
    x = y * 1.0
    z = y * 2.0
    t = x[0:2]
    if c > 0:
        t += 1.0
        x = z
    else:
        x = x[:]                # a view of the array t writes into below
    t[0] = 5.0
    return x


@pytest.mark.parametrize("f, arg, why", [
    (maybe_same_after_if, np.float64(1.0), "may be the same array"),
    (view_written_in_one_branch_then_again, np.float64(-1.0), "may be the same array"),
    (loop_results_view_and_base, np.int64(0), "may be the same array"),
    (loop_rotates_a_view_in, np.int64(1), "may be the same array"),
    (inner_loop_writes_an_outer_view, np.int64(3), "may change it in place"),
    (view_chosen_then_base_changed, np.float64(-1.0), "may be the same array"),
    (started_as_a_changed_array, np.int64(2), "may be the same array"),
    (loop_result_maybe_a_written_base, np.int64(0), "may be the same array"),
    (base_read_after_a_write_through_its_view, np.int64(2), "may change it in place through"),
    (equal_twins_chosen, np.float64(1.0), "may be the same array"),
    (chosen_view_in_nested_if, np.float64(2.0), "may be the same array"),
    (loop_end_alias, np.int64(2), "may be the same array"),
    (written_through_a_view_in_loop, np.int64(2), "may change it in place through a name"),
    (changed_and_rebound_in_loop, np.int64(2), "may change it in place through a name"),
])
def test_which_array_a_change_reaches_unknown_is_a_located_error(f, arg, why):
    with pytest.raises(adcompiler.TraceError, match=why) as e:
        adcompiler.trace(f, rand(3), arg)
    assert "test_frontend_aliasing.py" in str(e.value)


@pytest.mark.parametrize("f", [swapped_then_written_by_rows, view_before_loop,
                               runtime_index_view_written])
def test_writes_through_views_in_loops_follow_numpy(f):
    """A row of the array a loop walks, a size-1 reshape, a row picked by the loop index: the
    writes reach the array and the views see the array's changes (errors before)."""
    for n in range(4):
        check(f, rand(3), np.int64(n))


def test_a_carried_value_chosen_and_changed_in_a_loop_is_a_located_error():
    with pytest.raises(adcompiler.TraceError, match="may change it in place") as e:
        adcompiler.trace(chosen_carried_value_changed, rand(3), np.float64(1.0), np.int64(2))
    assert "test_frontend_aliasing.py" in str(e.value)


def test_an_augmented_assignment_reads_its_name_after_an_if():
    def f(y, c):
        z = y * 1.0
        if c > 0:
            z = z + c
        z += 1.0                # reads z: it was 'undefined' after the if
        return y * 2.0
    for c in (1.0, -1.0):
        check(f, rand(3), np.float64(c))


def test_a_write_through_a_view_of_a_view_reaches_the_original():
    """... and the original's other views see it (an error before)."""
    def f(y):
        z = y * 1.0
        m = z[0:1]
        b = z.T.T
        b[0, 0] = 5.0
        return m, z
    check(f, rand(2, 3))


def test_astype_without_copy_to_its_own_dtype_is_the_same_array():
    """NumPy returns the array itself, so a change through the result reaches it (this was a
    silent copy); to another dtype, or by default, it is a copy."""
    def same(y, c):
        z = y * 1.0
        v = z.astype(np.float64, copy=False)
        v += c
        w = z.astype(np.float32, copy=False)
        w += c
        u = z.astype(np.float64)
        u *= 2.0
        return z, v, w, u
    check(same, rand(3), np.float64(2.5))


def test_one_branchs_write_through_a_view_does_not_stale_the_other_branchs_value():
    """After the if, `x` is the view in one branch and the untouched array in the other:
    the write through the view made the array stale in the first branch only, and `x` is
    readable either way (the join took the second branch's state of the array after it
    had already marked it stale from the first). The array is the function's own: an
    argument changed through a view is an error (test_frontend_arguments.py,
    test_an_argument_changed_to_an_unknown_value_is_a_located_error)."""
    def f(x, c):
        x = x * 1.0
        y = x * 1.0
        if c > 1.0:
            x = x[:, :]
            x[:, 1] = x[:, 2] * 0.5
        x *= 0.5
        return y * 1.0, x
    for c in (0.5, 1.5):
        check(f, rand(3, 4), np.float64(c))


def test_a_possible_alias_never_read_again_is_fine():
    """(Of the function's own array: an argument that may have changed is an error, as the
    caller's array could not be changed as NumPy's would be.)"""
    def f(y, c, n):
        y = y * 1.0
        h = y * 1.0
        if c > 0:
            o = y
        else:
            o = 2.0 * y
        o[0] = 0.0
        for _ in range(n):
            h += 1.0
            h = h * 2.0
        return o, h
    for c, n in ((1.0, 2), (-1.0, 0)):
        check(f, rand(3), np.float64(c), np.int64(n))


def test_gradient_through_an_array_shared_in_a_loop():
    def f(w, n):
        h = w * 1.0
        g = h
        for _ in range(n):
            h *= w
        return np.sum(g * g)
    w = rand(3)
    d = adcompiler.grad(f)(w, np.int64(2))
    eps = 1e-6
    fd = np.array([(f(w + eps * e, 2) - f(w - eps * e, 2)) / (2 * eps) for e in np.eye(3)])
    np.testing.assert_allclose(d, fd, rtol=1e-6, atol=1e-8)     # central differences' error


def test_a_name_left_undefined_by_a_loop_may_be_the_next_loops_own():
    def f(y, n):
        for i in range(n):
            p = y * 2.0
        for _ in range(n):
            p = y * 3.0         # 'p' and 'i' may be undefined here: the body's own names
            for i in range(n):
                y += 1.0
        return y
    for n in (0, 1, 3):
        check(f, rand(3), np.int64(n))


def test_np_take_of_one_index_is_a_copy():
    """np.take always makes a new array; a scalar index read as x[i], a view, so reading the
    taken row after changing the array was refused."""
    def f(a):
        p = np.take(a, 1, axis=0)
        q = a.take(2, axis=1)
        a[1] = 0.0
        a[:, 2] = 7.0
        return p * 2.0, q + 1.0, a
    check(f, rand(3, 4))
