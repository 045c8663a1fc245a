"""if/for/while on static and run-time values, loops over parameter lists, comprehensions."""
import math
import os

import numpy as np
import pytest

import adcompiler
from fecheck import central_differences, check, located_error, ops, rand

FILE = "test_frontend_control.py"


def static_if(x, mode):
    if mode == "relu":
        y = np.maximum(x, 0)
    elif mode == "tanh":
        y = np.tanh(x)
    else:
        y = x
    return y * 2 if x.ndim == 1 else y


@pytest.mark.parametrize("mode", ["relu", "tanh", "id"])
def test_static_if_is_resolved_at_trace_time(mode):
    fn = check(static_if, rand(4), mode)
    assert "if" not in ops(fn)


def runtime_if(x, w):
    s = np.sum(x * w)
    y = x
    if s > 0:
        y = x * 2
        z = np.exp(x)
    elif s > -1:
        z = x
    else:
        y = -x
        z = x * s
    return y + z


@pytest.mark.parametrize("sign", [1.0, -0.05, -1.0])
def test_runtime_if_elif_else(sign):
    x = np.abs(rand(4)) + 0.1
    fn = check(runtime_if, x, sign * np.ones(4) / np.sum(x))
    assert ops(fn).count("if") == 2


def test_runtime_if_joins_python_literals_and_arrays():
    def f(x):
        if np.max(x) > 0:
            a, b = 1.0, x
        else:
            a, b = np.float64(2.0), x * 0
        return a * b, b
    check(f, rand(3))
    check(f, -np.abs(rand(3)))


def int_or_half(x, k, c):
    s = 0.5
    if c > 0:
        s = k
    return np.sum(x * s)


def int32_or_big(x, c):
    s = 3_000_000_000
    if c > 0:
        s = np.int32(2)
    return x * s


def one_or_mask(x, m):
    s = 1
    if np.sum(x) > 0:
        s = m
    return s + s


def test_a_python_number_joined_with_an_array_keeps_its_value():
    """A Python number meeting a run-time value at a run-time if took that value's dtype: 0.5
    joined with an int64 was 0 on the path that kept 0.5, -1 with a bool True, 3e9 with an
    int32 a wrapped number. With a bool array no one dtype computes as both paths: an error."""
    x = np.array([0.3, 0.5, 0.2])
    for c in (-1.0, 1.0):
        for f, args in ((int_or_half, (x, np.int64(3), c)), (int32_or_big, (x, c))):
            np.testing.assert_allclose(adcompiler.jit(f, backend="numpy")(*args), f(*args),
                                       rtol=1e-15)
        g = adcompiler.grad(int_or_half, backend="numpy")(x, np.int64(3), c)
        np.testing.assert_allclose(g, np.full(3, 0.5 if c < 0 else 3.0))
    # a number joined with a mask: as bool, 1 + 1 was True; as int, True + True would be 2
    with pytest.raises(adcompiler.TraceError, match="'s' differs between the two paths .*the "
                       "number 1 on one and a bool array on the other"):
        adcompiler.trace(one_or_mask, x, np.array([True, False, True]))


def chains_through_its_list(x):
    lst = [x, x, x]
    for i, a in enumerate(lst):
        if i + 1 < len(lst):
            lst[i + 1] = lst[i + 1] * a
    return np.sum(lst[2])


def grows_the_list_it_walks(x):
    lst = [x]
    for a in lst:
        if len(lst) < 3:
            lst.append(a * 2.0)
    return np.sum(lst[-1]) + len(lst)


def scales_by_its_dict(x):
    d = {"a": x, "b": x}
    for _, v in d.items():
        d["b"] = d["b"] * v
    return np.sum(d["b"])


def zips_over_what_it_changes(x):
    lst = [x, x + 1.0, x + 2.0]
    for a, b in zip(lst, [1.0, 2.0, 3.0]):
        lst[-1] = lst[-1] * b
    return np.sum(lst[-1] + a)


def rows_of_what_it_changes(X):
    Y = X * 1.0
    for i, row in enumerate(Y):
        Y[(i + 1) % 3] *= row
    return np.sum(Y)


def pops_while_it_filters(x):
    lst = [x, 2 * x, 3 * x]
    return len([v for v in lst if lst.pop() is not None]) * np.sum(x)


def test_a_comprehension_sees_what_its_condition_changes():
    """A comprehension took its items when it began, where a for loop now takes them one at a
    time, as Python does both: [v for v in lst if lst.pop()] counted 3 items, Python 2."""
    check(pops_while_it_filters, rand(2))


def test_a_loop_over_a_container_sees_what_its_body_changes_in_it():
    """The items of a list, dict view or enumerate were taken when the loop began: a body that
    set a later entry or appended computed with the old entries (8.125 read as 4.25), and
    enumerate over an array the body changes refused its rows as stale views."""
    x = np.array([0.5, 2.0])
    for f in (chains_through_its_list, grows_the_list_it_walks, scales_by_its_dict,
              zips_over_what_it_changes):
        check(f, x)
        np.testing.assert_allclose(adcompiler.grad(f, backend="numpy")(x),
                                   central_differences(f, x), rtol=1e-6)
    check(rows_of_what_it_changes, rand(3, 2))


def test_conditional_expression():
    def f(x):
        y = x * 2 if np.sum(x) > 0 else x - 1
        k = 3 if x.shape[0] > 2 else 4
        return y * k
    check(f, rand(3))
    check(f, -np.abs(rand(3)))


def test_return_inside_runtime_if_takes_the_rest_of_the_function():
    def f(x):
        if np.sum(x) > 0:
            return x * 2, 1
        y = x + 1
        if np.min(y) > 0:
            return y, 2
        return -y, 3
    for x in (np.abs(rand(3)), -np.abs(rand(3)) * 0.1, -np.abs(rand(3)) - 2):
        check(f, x)


def one_branch_binds(x):
    if np.sum(x) > 0:
        y = x * 2.0
    return np.sum(y * y)


def one_branch_binds_a_list(x):
    if np.sum(x) > 0:
        y = [x]
    return y[0]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_variable_from_one_branch_read_later_is_checked_where_it_runs(backend):
    """Python binds a name one branch assigns where that branch ran and raises
    UnboundLocalError at its read elsewhere: the read checks it when the code runs (an
    AssertionFailed naming the read and the if), and its gradient is the branch's."""
    x = np.abs(rand(3))
    same_or_unbound(one_branch_binds, backend, x)
    np.testing.assert_allclose(adcompiler.grad(one_branch_binds, backend=backend)(x), 8 * x)
    with pytest.raises(adcompiler.AssertionFailed, match=r"'y' is not defined: it is assigned "
                       r"on one path only of the if at line \d+ .*, not the one that ran") as e:
        adcompiler.jit(one_branch_binds, backend=backend)(-x)
    assert "test_frontend_control.py" in str(e.value)
    # a container is not an array: it cannot be carried, the error names the if at the trace
    with pytest.raises(adcompiler.TraceError, match=r"on one path only of the if at line") as e:
        adcompiler.trace(one_branch_binds_a_list, rand(3))
    assert "test_frontend_control.py" in str(e.value) and "'y'" in str(e.value)


def test_variable_from_one_branch_not_read_later_is_fine():
    def f(x):
        if np.sum(x) > 0:
            tmp = x * 2
            x = tmp + 1
        return x
    check(f, rand(3))


def scan(xs, n):
    h = np.zeros(xs.shape[1])
    total = 0.0
    for i in range(n):
        h = np.tanh(h + xs[i])
        total = total + np.sum(h)
    return h, total


def test_for_with_runtime_trip_count():
    fn = check(scan, rand(6, 3), np.int64(4))
    assert "for" in ops(fn)
    xs = rand(6, 3)
    assert adcompiler.trace(scan, xs, np.int64(0)) is fn      # same signature: cached
    h, total = adcompiler.evaluate(fn, xs, np.int64(0))
    # zero iterations: the values are NumPy's, but `total` is a NumPy float64 rather than the
    # Python float 0.0 (a carried value has the type it gets in the loop)
    np.testing.assert_array_equal(h, np.zeros(3))
    assert total == 0.0 and np.asarray(total).dtype == np.float64


def test_for_with_static_trip_count_is_a_loop():
    def f(x):
        acc = x
        for _ in range(5):
            acc = acc * 0.5 + x
        return acc
    fn = check(f, rand(3))
    assert ops(fn).count("for") == 1 and ops(fn).count("mul") == 1


def test_runtime_range_with_start_and_step():
    def f(x, a, b):
        s = 0.0
        for i in range(a, b, 2):
            s = s + x[i] * i
        t = 0.0
        for j in range(b, a, -1):
            t = t + x[j]
        return s, t
    check(f, rand(8), np.int64(1), np.int64(6))
    check(f, rand(8), np.int64(2), np.int64(7))


def test_for_needing_a_static_index_is_unrolled():
    def f(x, params):
        for i in range(3):
            x = x * params[f"w{i}"]
        return x
    fn = check(f, rand(3), {"w0": rand(3), "w1": rand(3), "w2": rand(3)})
    assert "for" not in ops(fn) and ops(fn).count("mul") == 3


def test_for_over_static_list_enumerate_zip_is_unrolled():
    def f(x, layers):
        outs = []
        for k, layer in enumerate(layers):
            x = np.tanh(x @ layer["w"] + layer["b"]) if k < 2 else x @ layer["w"]
            outs.append(x)
        s = 0.0
        for a, b in zip(outs, outs[1:]):
            s = s + np.sum(a * b)
        return x, s, len(outs)
    layers = [{"w": rand(3, 3), "b": rand(3)} for _ in range(3)]
    fn = check(f, rand(2, 3), layers)
    assert "for" not in ops(fn)


def test_for_over_array_rows():
    def f(X):
        acc = np.zeros(X.shape[1])
        for row in X:
            acc = acc + row * row
        first = [r.sum() for r in X[:2]]
        return acc, first
    fn = check(f, rand(4, 3))
    assert "for" in ops(fn)


def test_loop_variable_changing_dtype_is_promoted():
    def f(x, n):
        acc = 0
        for i in range(n):
            acc = acc + x[i]
        return acc
    check(f, rand(4, dtype=np.float32), np.int64(3))


def test_loop_body_growing_a_list_is_unrolled():
    def f(x):
        hs = []
        for i in range(3):
            x = x * 2
            hs.append(x)
        return np.stack(hs)
    fn = check(f, rand(2))
    assert "for" not in ops(fn)


def test_loop_local_read_after_static_loop_is_unrolled():
    def f(x):
        for i in range(3):
            y = x * i
        return y, i
    check(f, rand(2))


def test_the_target_of_a_static_loop_read_after_it_keeps_the_loop():
    """A static loop's index (or row) read after the loop is its last value, and the loop
    stays a loop op (it was unrolled: 200 steps of a sine, 200 copies of its code)."""
    def f(x):
        s = 0.0
        for i in range(50, 0, -3):
            s = s + np.sin(x * i)
        return s * i

    def g(X, x):
        for row in X:
            x = x * 0.9 + row
        return x * row

    def h(x):       # the body rebinds it: Python's is the body's last value (unrolled)
        for i in range(4):
            i = i * 2
            x = x * 1.1
        return x * i
    assert ops(check(f, rand(3))).count("for") == 1
    assert ops(check(g, rand(4, 3), rand(3))).count("for") == 1
    check(h, rand(2))


def autoregression(phi, y):
    """An AR(p) residual: each step reads the window y[t - p:t] before it."""
    p, total = phi.shape[0], 0.0
    for t in range(p, y.shape[0]):
        total += (y[t] - phi @ y[t - p:t][::-1]) ** 2
    return total


def windows_written(x, w):
    y = np.zeros((2, x.shape[0] + 2))
    for i in range(x.shape[0] - 3):
        y[1, i:i + 2] += x[i] * w[:2]
        view = y[..., i + 1:i + 5:2]            # a view: written through
        view *= 0.5
        y[0] += np.sum(x[i:i + 3] * w)
    return y


def test_a_slice_of_run_time_bounds_a_static_distance_apart_keeps_the_loop():
    """x[t - p:t] with t the loop's index is p entries wherever t is: the loop stays a loop
    op (it was unrolled: a slice's bounds had to be static), read and written as NumPy's
    slice; a slice reaching out of its axis is an error where NumPy's would be shorter."""
    assert ops(check(autoregression, rand(3), rand(20))).count("for") == 1
    assert ops(check(windows_written, rand(9), rand(3))).count("for") == 1
    for backend in ("numpy", "numba"):
        adcompiler.check_grad(autoregression, rand(3), rand(20), wrt=(0, 1), backend=backend)
        adcompiler.check_grad(lambda x, w: np.sum(windows_written(x, w) ** 2), rand(9), rand(3),
                              wrt=(0, 1), backend=backend)

    def reaching_back(x, n):
        s = 0.0
        for i in range(n):
            s = s + np.sum(x[i - 1:i + 1])
        return s
    with pytest.raises(adcompiler.AssertionFailed, match="a slice of run-time bounds must lie "
                                                         r"inside its axis \(of size 5\)"):
        adcompiler.jit(reaching_back)(rand(5), np.int64(3))
    check(patches, rand(6, 7), 1.7)
    for backend in ("numpy", "numba"):
        adcompiler.check_grad(patches, rand(6, 7), 1.7, backend=backend)


def patches(img, c):
    """Patches at run-time positions (template tracking, a block's paste): two run-time slices
    in one subscript, read, written and written through a view of them, a block as NumPy's."""
    y, x = int(c), int(c * 2.0)
    out = np.zeros((6, 7))
    out[y:y + 2, x:x + 3] = img[:2, :3] * c
    view = out[y:y + 3, ...][1:, x - 1:x + 1]
    view *= 2.0
    out[1, y:y + 2] += 1.0
    return np.sum(out ** 2) + np.sum(img[y:y + 3, x:x + 2] * c) + np.sum(img[y:y + 4:2, 1:3])


def test_loop_local_read_after_runtime_loop_has_its_last_value():
    def f(x, n):
        for i in range(n):
            y = x * i
        return y + i
    for n in (1, 4):
        check(f, rand(2), np.int64(n))
    # no iteration ran: Python's UnboundLocalError, checked where the code reads it
    with pytest.raises(adcompiler.AssertionFailed,
                       match=r"'y' is not defined: it is assigned only inside the for loop with a "
                             r"run-time trip count at line \d+, and no iteration ran a path") as e:
        adcompiler.jit(f)(rand(2), np.int64(0))
    assert f"test_frontend_control.py:{f.__code__.co_firstlineno + 3}" in str(e.value)


def test_loop_locals_of_while_loops_and_nested_loops():
    def newton(a):
        x = a
        while np.max(np.abs(x * x - a)) > 1e-12:
            step = (x * x - a) / (2 * x)
            x = x - step
        return x, step

    def nested(x, n, m):
        for i in range(n):
            for j in range(m):
                z = x * j
            w = z + i
        return w * 2.0

    check(newton, np.array([2.0, 3.0]))
    check(nested, rand(3), np.int64(2), np.int64(3))
    with pytest.raises(adcompiler.AssertionFailed, match="'z' is not defined"):
        adcompiler.jit(nested)(rand(3), np.int64(2), np.int64(0))


def last_scaled_positive(x, n):
    for i in range(n):
        if x[i] > 0:
            y = x[i] * 2.0
    return y


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_loop_local_assigned_on_one_path_of_the_body(backend):
    """Bound where an iteration took that path: Python's value, or its UnboundLocalError as an
    AssertionFailed where the code reads it; the gradient goes to the entry it came from."""
    for x, n in ((np.array([1.0, -2.0, 3.0, -1.0]), 4), (np.array([1.0, -2.0, 3.0]), 2),
                 (np.array([-1.0, -2.0]), 2), (np.array([1.0]), 0)):
        same_or_unbound(last_scaled_positive, backend, x, np.int64(n))
    g = adcompiler.grad(last_scaled_positive, backend=backend)(np.array([1.0, 3.0, -1.0]),
                                                              np.int64(3))
    np.testing.assert_array_equal(g, [0.0, 2.0, 0.0])


def appends_each_step(xs, n):
    h = np.zeros(3)
    outs = []
    for t in range(n):
        h = np.tanh(xs[t] + h)
        outs.append(h)
    return np.stack(outs)


def test_a_list_grown_by_a_loop_of_a_run_time_trip_count_is_named():
    """Only the name whose structure changes (h's did not), and what to do instead."""
    with pytest.raises(adcompiler.TraceError, match=r"changes the structure \(or a static "
                       r"value\) of \['outs'\] \('outs' grows: .* preallocate an array"):
        adcompiler.trace(appends_each_step, rand(4, 3), np.int64(4))


def test_nested_loops_and_if_in_loop():
    def f(x, n):
        acc = np.zeros_like(x)
        for i in range(n):
            for j in range(3):
                if x[j] > 0:
                    acc = acc + x * j
                else:
                    acc = acc - 1
            acc = acc * 0.5
        return acc
    fn = check(f, rand(4), np.int64(3))
    assert ops(fn).count("for") == 2 and ops(fn).count("if") == 1


def test_while_with_runtime_condition():
    def f(x):
        y = x
        steps = 0
        while np.sum(y) < 100.0:
            y = y * 1.5 + 0.1
            steps = steps + 1
        return y, steps
    fn = check(f, np.abs(rand(3)) + 0.1)
    assert "while" in ops(fn)


def test_while_with_static_condition_runs_at_trace_time():
    def f(x):
        k = 0
        while k < 3:
            x = x * 2
            k += 1
        return x
    fn = check(f, rand(2))
    assert "while" not in ops(fn)


def test_while_peels_until_the_test_is_runtime():
    def f(x):
        err = 1.0
        while err > 1e-3:
            x = 0.5 * (x + 2.0 / x)
            err = np.abs(x * x - 2.0)
        return x
    check(f, np.array(3.0))


def test_break_and_continue_in_unrolled_loops():
    def f(x):
        for i in range(10):
            if i % 2:
                continue
            if i > 5:
                break
            x = x + i
        else:
            x = x * 100
        return x
    check(f, rand(2))


def test_comprehensions():
    def f(x, params):
        ys = [x * w for w in params if w.shape[0] == 3]
        d = {k: np.sum(v) for k, v in zip("abc", ys)}
        sq = sum(y * y for y in ys)
        return ys, d, sq, [i * i for i in range(4) if i != 2], max(np.sum(y) for y in ys)
    check(f, rand(3), [rand(3), rand(3), rand(3)])


def test_loop_over_parameter_list_with_data_dependent_if():
    """The new-user scenario: a loop over a list of layers and an `if` on the data."""
    def model(x, layers):
        h = x
        for layer in layers:
            h = h @ layer["w"] + layer["b"]
            if np.mean(h) > 0:
                h = np.tanh(h)
            else:
                h = np.maximum(h, 0.0)
        return np.sum(h ** 2)
    layers = [{"w": rand(3, 3), "b": rand(3)} for _ in range(3)]
    fn = check(model, rand(2, 3), layers)
    assert ops(fn).count("if") == 3
    check(model, -np.abs(rand(2, 3)), layers)


def rebinds_after_a_loop(x, n, m):
    for i in range(n):
        y = x * i
    for j in range(m):
        y = x * 10.0 + j
    return np.sum(y)


def reads_after_a_loop(x, n, m):
    for i in range(n):
        y = x * i
    for j in range(m):
        y = y + 1.0
    return np.sum(y)


def index_bound_before(x, n):
    i = np.int64(5)
    for i in range(n):
        pass
    return x * i


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_loop_locals_through_a_second_loop_and_a_loop_index_bound_before(backend):
    """A second loop carries what the first bound (checked where it reads it first), or binds
    it anew; a loop index bound before its loop keeps that value when no iteration runs."""
    x = np.array([1.0, 2.0])
    for f in (rebinds_after_a_loop, reads_after_a_loop):
        for n, m in ((3, 2), (3, 0), (0, 2), (0, 0)):
            same_or_unbound(f, backend, x, np.int64(n), np.int64(m))
    for n in (0, 3):
        np.testing.assert_array_equal(
            adcompiler.jit(index_bound_before, backend=backend)(x, np.int64(n)),
            index_bound_before(x, n))


def bump(p):
    p[0] += 1.0
    return p[0]


def guarded_reads(x, i):
    p = x * 1.0
    total = 0.0
    j = 0
    while j < x.shape[0] and x[j] > 0:          # x[3] is never read
        total = total + x[j] ** 2
        j += 1
    if i >= 3 or x[i] < 0:                      # nor is x[i] when i is 3
        total = total + 1.0
    if total > 100.0 and bump(p) > 0.0:         # bump runs only where Python runs it
        total = total + 1.0
    if total < 100.0 or bump(p) > 0.0:
        total = total + 2.0
    if 100.0 < total < bump(p):
        total = total + 3.0
    return total + np.sum(p * x)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_and_or_and_comparison_chains_short_circuit(backend):
    """Small entries: every right-hand side after the loop is skipped; large ones: each runs
    (bump changes p), as in Python."""
    for x in (np.array([1.0, 2.0, 3.0]), np.array([50.0, 60.0, 3.0])):
        for i in (0, 3):
            check(guarded_reads, x, np.int64(i))
            got = adcompiler.grad(guarded_reads, backend=backend)(x, np.int64(i))
            np.testing.assert_allclose(got, central_differences(guarded_reads, x, np.int64(i)),
                                       rtol=1e-6)


def rebinds_in_an_if(x, n):
    for i in range(n):
        y = x * i
    if np.sum(x) > 0:
        y = x * 10.0
    return np.sum(y)


def rebinds_in_an_else(x, n):
    for i in range(n):
        y = x * i
    if np.sum(x) > 0:
        pass
    else:
        y = x * 10.0
    return np.sum(y)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_loop_local_rebound_on_one_path_of_an_if(backend):
    """Bound after the if where the branch taken binds it or the loop ran."""
    for f in (rebinds_in_an_if, rebinds_in_an_else):
        for x in (np.array([1.0, 2.0]), np.array([-1.0, -2.0])):
            for n in (0, 2):
                same_or_unbound(f, backend, x, np.int64(n))


def same_or_unbound(f, backend, *args):
    """jit(f) returns what Python does, or raises AssertionFailed where Python's read of 'y'
    raises UnboundLocalError."""
    try:
        want = f(*args)
    except UnboundLocalError:
        with pytest.raises(adcompiler.AssertionFailed, match="'y' is not defined"):
            adcompiler.jit(f, backend=backend)(*args)
        return
    np.testing.assert_array_equal(adcompiler.jit(f, backend=backend)(*args), want)


def two_loops_then_returns(x, n, m):
    for i in range(n):
        y = x * i
    for j in range(m):
        y = y + 1.0
    return x * 2.0


def bound_in_a_branch(x, n):
    if np.sum(x) > 0:
        for i in range(n):
            y = x * i
    else:
        y = x * 10.0
    return np.sum(y)


def library_call_after_and(x):
    return ((x[0] > 0) and np.sum(x * x)) + (np.isfinite(x[1]) and x[1] > 0)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_loop_locals_not_read_and_library_calls_after_and(backend):
    """Two loops that run no iteration and no read of y after them: no error (the check
    before the second loop counts its trip); a loop-local bound in one branch of a run-time if
    is bound where that branch ran and the loop did; NumPy's functions after `and` stay elementwise,
    their operands promoted as Python/NumPy do."""
    x = np.array([1.0, 2.0])
    for n, m in ((0, 0), (2, 0), (2, 2)):
        same_or_unbound(two_loops_then_returns, backend, x, np.int64(n), np.int64(m))
    for sign in (1.0, -1.0):
        for n in (0, 2):
            same_or_unbound(bound_in_a_branch, backend, sign * x, np.int64(n))
    assert adcompiler.jit(library_call_after_and, backend=backend)(x) == \
        library_call_after_and(x)


def reversed_runtime_ranges(x, a, b):
    acc = x[0] * 0.0
    for i in reversed(range(a, b)):
        acc = acc * 0.5 + x[i] * i
    for i in reversed(range(b - 1, a - 1, -3)):
        acc = acc * 0.25 + x[i]
    return acc


def test_reversed_range_with_run_time_bounds():
    """It was a TraceError saying a run-time range needs a for loop (it was in one)."""
    x = rand(10)
    for a, b in ((0, 10), (2, 7), (7, 2), (3, 3), (4, 5)):
        args = (x, np.int64(a), np.int64(b))
        check(reversed_runtime_ranges, *args)
        for backend in ("numpy", "numba"):
            g = adcompiler.grad(reversed_runtime_ranges, backend=backend)(*args)
            np.testing.assert_allclose(g, central_differences(reversed_runtime_ranges, *args),
                                       atol=1e-8)


def written_between_two_run_time_loops(x, n, m):
    a = x * 1.0
    for _ in range(n):
        a = np.sin(a)
    a[1] = 2.0 * a[2]
    for _ in range(m):
        a = np.sin(a)
    return np.sum(a * x)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_an_array_written_between_two_loops_that_may_run_no_iteration_is_read(backend):
    """It was refused as "may be the same array as one changed in place": after the second
    loop `a` may be the array before the first, which the write left stale, though the write
    went through `a` and the value carried has it."""
    x = np.array([0.3, -0.5, 0.8])
    for n, m in ((0, 0), (2, 0), (0, 2), (2, 3)):
        args = (x, np.int64(n), np.int64(m))
        value, g = adcompiler.value_and_grad(written_between_two_run_time_loops,
                                             backend=backend)(*args)
        np.testing.assert_allclose(value, written_between_two_run_time_loops(*args))
        np.testing.assert_allclose(g, central_differences(written_between_two_run_time_loops,
                                                          *args), atol=1e-8)


def run_time_range_sliced_backwards(x, a, b):
    acc = x[0] * 0.0
    for i in range(a, b)[::-1]:
        acc = acc * 0.5 + x[i] * i
    return acc


def test_a_run_time_range_reversed_by_a_slice():
    """range(n)[::-1] leaked "'RuntimeRange' object is not subscriptable"."""
    x = rand(10)
    for a, b in ((0, 10), (2, 7), (7, 2)):
        args = (x, np.int64(a), np.int64(b))
        check(run_time_range_sliced_backwards, *args)
        g = adcompiler.grad(run_time_range_sliced_backwards, backend="numpy")(*args)
        np.testing.assert_allclose(g, central_differences(run_time_range_sliced_backwards, *args),
                                   atol=1e-8)


def run_time_range_sliced(x, n):
    return sum(x[i] for i in range(n)[1:])


def run_time_range_enumerated(x, n):
    return [x[i] * k for k, i in enumerate(range(n))]


def test_run_time_ranges_sliced_or_enumerated_are_named_errors():
    """enumerate(range(n)) was said to need a for loop, though it was in one."""
    x, n = rand(4), np.int64(3)
    located_error(run_time_range_sliced, (x, n), r"can be reversed \(\[::-1\]\) but not "
                  r"indexed or sliced otherwise", FILE)
    located_error(run_time_range_enumerated, (x, n), r"enumerate\(\) of a range with a "
                  r"run-time bound is not supported", FILE)


def positive_and_second(x):
    return (x[0] > 0) and x[1]


def test_an_and_whose_paths_differ_in_dtype_names_the_and():
    """The error named its value as a variable 'if' ("'if' differs between the two paths of
    the 'and'")."""
    located_error(positive_and_second, (np.array([1.0, 2.0]),), r"the value of the 'and' at "
                  r"line \d+ \(a run-time condition\) differs between its two paths: dtypes f64 "
                  r"and bool differ", FILE)


def mask_counted_up(x, n):
    b = x > 0
    for _ in range(n):
        b = ((b + b) + 1) % 5
    return b


def test_a_bool_array_a_loop_makes_int_is_not_widened_before_the_loop():
    """It was carried as int64 from the start: the first iteration's True + True was 2, where
    NumPy's bool arithmetic gives True ([0 2 0] for NumPy's [1 2 1])."""
    x = np.array([1.0, -2.0, 3.0])
    for n in (3, 40):       # unrolled, and a loop op tried first (then unrolled)
        check(mask_counted_up, x, n)
    # a run-time loop widens it (right where its first use widens it too, as here)
    np.testing.assert_allclose(adcompiler.jit(mask_scaled, backend="numpy")(x, np.int64(3)),
                               mask_scaled(x, 3), rtol=1e-15)


def mask_scaled(x, n):
    m = x > 0
    for _ in range(n):
        m = m * x
    return m


def appends_on_even_steps(x):
    kept = []
    for i in range(4):
        if i % 2 == 0:
            kept.append(x[i])
    return sum(kept) * 1.0


def picks_by_static_key(x):
    parts = {0: x * 1.0, 1: x * 2.0, 2: np.sin(x)}
    s = 0.0
    for i in range(3):
        s = s + np.sum(parts[i])
        if i > 5:
            raise ValueError("never")
    return s


def uses_the_index_as_a_python_int(x):
    s = 0.0
    for i in range(3):
        s = s + x[0] * math.sqrt(i) + (1 << i) + len("ab" * i)
    return s


@pytest.mark.parametrize("f", [appends_on_even_steps, picks_by_static_key,
                               uses_the_index_as_a_python_int])
def test_a_static_loop_whose_body_needs_a_static_index_is_unrolled(f):
    """A static range was traced as a loop with a run-time index first, and only some errors
    of that made it unroll: these were refused ('l' differs on the two paths of a run-time
    condition, a KeyError on a traced index, math.sqrt of a run-time value) or raised a
    never-taken `raise`."""
    x = np.array([0.3, -0.7, 0.9, 1.5])
    check(f, x)
    np.testing.assert_allclose(adcompiler.grad(f, backend="numpy")(x),
                               central_differences(f, x), rtol=1e-6, atol=1e-9)


def checks_its_rank(x):
    if x.ndim != 1:
        raise ValueError("x must be 1-d")
    return np.sum(x)


def asserts_its_rank(x):
    assert x.ndim == 1, "1-d please"
    return np.sum(x)


def raises_if_positive(x):
    if np.sum(x) > 0:
        raise ValueError("positive")
    return np.sum(x)


def test_a_raise_every_run_takes_is_of_the_users_class():
    """A static raise was a TraceError saying it was under a run-time condition, and a static
    assert's too: `except ValueError` / `except AssertionError` did not catch them."""
    x = np.ones((2, 2))
    with pytest.raises(ValueError, match=r"test_frontend_control.py:\d+: the function raised "
                       r"ValueError: x must be 1-d \(in"):
        adcompiler.jit(checks_its_rank, backend="numpy")(x)
    with pytest.raises(AssertionError, match="assertion failed while tracing: 1-d please"):
        adcompiler.grad(asserts_its_rank, backend="numpy")(x)
    with pytest.raises(adcompiler.TraceError, match="under a run-time condition"):
        adcompiler.trace(raises_if_positive, np.array([1.0, 2.0]))
    np.testing.assert_allclose(adcompiler.jit(checks_its_rank, backend="numpy")(x[0]), 2.0)


def divides_by_the_index(x, n):
    s = x[0] * 0.0
    for i in range(n):
        s = s + x[0] * (5 // (i - 2)) + x[1] / (i - 2.5)
    return s


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_python_number_divided_by_zero_at_run_time_is_an_error(backend):
    """A loop index is a Python int: 5 // 0 is Python's ZeroDivisionError, where NumPy's
    int64 arithmetic gave 0 and the loop a wrong sum (-1.5 for Python's error)."""
    x = np.array([0.5, 2.0])
    f = adcompiler.jit(divides_by_the_index, backend=backend)
    np.testing.assert_allclose(f(x, np.int64(2)), divides_by_the_index(x, 2), rtol=1e-15)
    with pytest.raises(ZeroDivisionError):
        divides_by_the_index(x, 4)
    with pytest.raises(adcompiler.AssertionFailed, match=r"test_frontend_control.py:\d+ in "
                       r"'s = s \+ .*division by zero \(Python's ZeroDivisionError\)"):
        f(x, np.int64(4))


def divides_by_zero_where_it_never_runs(x):
    if x[0] > 100:
        return float(x[0]) / 0
    return x[0]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_python_number_divided_by_a_literal_zero_is_an_error(backend):
    """It gave inf or NaN (NumPy's arithmetic) where Python raises, when it runs; a NumPy
    scalar's stays NumPy's inf."""
    for g in (lambda s: s / 0, lambda s: s // 0.0, lambda s: int(s) % 0, lambda s: divmod(s, 0.0)):
        with pytest.raises(adcompiler.AssertionFailed, match=r"division by zero \(Python's "
                                                              r"ZeroDivisionError"):
            adcompiler.jit(g, backend=backend)(2.5)
    assert adcompiler.jit(divides_by_zero_where_it_never_runs, backend=backend)(
        np.array([0.3])) == 0.3
    with np.errstate(divide="ignore"):
        assert adcompiler.jit(lambda s: np.float64(s) / 0, backend=backend)(2.5) == np.inf


SCALES = [1.0, 2.0, 3.0, 4.0]


def scales_from_an_iterator(x):
    it = iter(SCALES)
    s = np.sum(x)
    for i in range(3):
        s = s + next(it) * math.sqrt(i)
    return s


def test_a_failed_loop_attempt_that_ran_native_code_is_not_unrolled_on_top_of_it():
    """The loop traced with a run-time index failed (math.sqrt of it) after next(it) had run:
    unrolled on top of that, every scale was the next one (10.66 for Python's 8.24). next()
    of an iterator made before the loop now unrolls it before taking an item: Python's."""
    x = np.ones(2)
    assert adcompiler.jit(scales_from_an_iterator, backend="numpy")(x) == \
        scales_from_an_iterator(x)


class NeedsTwo(Exception):
    def __init__(self, a, b):
        super().__init__(f"{a} of {b}")


def raises_its_own_class(x):
    if x.ndim != 1:
        raise NeedsTwo(1, 2)
    return np.sum(x)


def test_a_raised_class_of_the_users_pickles_and_need_not_take_a_message():
    """One whose __init__ takes other arguments became a plain TraceError (except NeedsTwo
    missed it), and a mixed ValueError could not be pickled back from a process pool."""
    import pickle
    with pytest.raises(NeedsTwo, match="the function raised NeedsTwo: 1 of 2") as e:
        adcompiler.trace(raises_its_own_class, np.ones((2, 2)))
    with pytest.raises(ValueError) as v:
        adcompiler.trace(checks_its_rank, np.ones((2, 2)))
    for err in (e.value, v.value):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err) and str(back) == str(err)


def state_grows_a_batch_axis(h, x, n):
    for t in range(n):
        h = np.tanh(x[t] + h)
    return np.sum(h)


def test_a_carried_array_changing_shape_says_what_to_write():
    with pytest.raises(adcompiler.TraceError, match=r"changes shape from \(4,\) to \(2, 4\) \(give "
                                                     r"it that shape before the loop"):
        adcompiler.trace(state_grows_a_batch_axis, rand(4), rand(3, 2, 4), np.int64(3))


def under_errstate(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.log(x * x + 1.0)
        with np.errstate(over="ignore"):
            r = r * 2.0
    return np.sum(r ** 2)


def opens_a_file(x):
    with open(os.devnull):
        pass
    return x


def raises_under_errstate(x):
    with np.errstate(divide="raise"):
        r = np.log(x - x)
    return np.sum(r)


def test_with_np_errstate_is_traced_as_its_body():
    """`with np.errstate(...):` that ignores or warns, common in ported code, was
    UnsupportedSyntax 'with'; one that raises (which the compiled code would not), and other
    context managers, still are."""
    x = np.array([0.5, -1.0, 2.0, 0.0])
    check(under_errstate, x)
    for backend in ("numpy", "numba"):
        adcompiler.check_grad(under_errstate, x, backend=backend)
    for f in (opens_a_file, raises_under_errstate):
        with pytest.raises(adcompiler.UnsupportedSyntax, match="'with' at test_frontend_contr"):
            adcompiler.trace(f, x)


def _squared_error(w, x, y):
    return np.mean((np.tanh(x @ w) - y) ** 2)


def test_a_global_function_passed_to_a_call_in_a_static_loop_keeps_it_a_loop():
    """`for _ in range(n): w = w - lr * adcompiler.grad(loss)(w, ...)` was unrolled (a name
    passed to a call counted as rebound in the body, and the global `loss` as the body's own,
    read in the next iteration): 200 steps compiled 200 gradients, 7 s on Numba. Values:
    NumPy's descent with the derivative written out."""
    def descend(w, x, y):
        for _ in range(20):
            w = w - 0.1 * adcompiler.grad(_squared_error)(w, x, y)
        return w
    w, x, y = rand(3), rand(8, 3), rand(8)
    fn = adcompiler.trace(descend, w, x, y)
    assert ops(fn).count("for") == 1
    want = w
    for _ in range(20):
        t = np.tanh(x @ want)
        want = want - 0.1 * x.T @ (2 * (t - y) * (1 - t * t)) / len(y)
    np.testing.assert_allclose(adcompiler.jit(descend)(w, x, y), want, rtol=1e-12)


def test_a_reversed_static_range_is_a_loop_not_unrolled():
    """`for t in reversed(range(T))` (discounted returns, GAE) was unrolled, T copies of the
    body (a PPO loss over 3000 steps: 125 s to compile); it is a `for` op, as
    range(T - 1, -1, -1) is. An iterator the code also reads elsewhere stays as it was.
    Values and gradients: NumPy's returns, and the derivative written out."""
    def returns(r, gamma):
        out = np.zeros_like(r)
        running = 0.0
        for t in reversed(range(r.shape[0])):
            running = r[t] + gamma * running
            out[t] = running
        return np.sum(out * out)

    def after_a_next(r):
        it = reversed(range(r.shape[0]))
        first = next(it)
        total = r[first] * 10
        for t in it:
            total = total + r[t]
        return total
    def handed_back(it):
        return it

    def through_a_call(r):      # (the iterator is used up by the loop, as in Python)
        it = reversed(range(r.shape[0]))
        total = r[0] * 0
        for t in handed_back(it):
            total = total + r[t]
        return total + next(it, 100.0)
    r = rand(40)
    fn = check(returns, r, 0.9)
    assert ops(fn).count("for") == 1
    check(after_a_next, r)
    check(through_a_call, r)
    g = adcompiler.grad(returns)(r, 0.9)
    out = np.zeros_like(r)
    running = 0.0
    for t in reversed(range(40)):
        running = r[t] + 0.9 * running
        out[t] = running
    # d/dr_k sum_t out_t^2 = sum_{t <= k} 2 out_t gamma^(k - t)
    want = [sum(2 * out[t] * 0.9 ** (k - t) for t in range(k + 1)) for k in range(40)]
    np.testing.assert_allclose(g, want, rtol=1e-12)


def bouncing_ball(y0, v0, e):
    y, v, t, dt = y0, v0, 0.0, 0.01
    while t < 1.5:          # a static test: t and dt are Python floats
        v = v - 9.81 * dt
        y = y + v * dt
        if y < 0.0:         # a run-time branch in each of its 150 iterations
            y = -y * e
            v = -v * e
        t = t + dt
    return y * y + v


def ball_and_its_clock(y0, v0, e):
    y, t = y0, 0.0
    while t < 0.2:
        y = np.where(y < 0.0, -y * e, y + v0 * 0.01)
        t += 0.01
    return y + t            # t read after the loop: it stays static, the loop unrolled


def ball_with_a_history(y0, v0, e):
    y, t, seen = y0, 0.0, []
    while t < 0.2:
        y = y * e + v0 * 0.01
        seen.append(t)      # the body needs t static (a list grows): unrolled
        t += 0.01
    return y * len(seen)


def ball_on_a_tripled_clock(y0, v0, e):
    i = 1
    while i < 2 ** 70:      # an int64 i would wrap round before it ends: stays unrolled
        y0 = y0 * e + v0
        i = i * 3
    return y0


def ball_on_a_counter(y0, v0, e):
    k = 0
    while k < 40:           # one step each time, far inside int64: a loop
        y0 = np.where(y0 > 0, y0 * e, -y0) + v0 * 0.01
        k += 1
    return y0


BALL = (np.float64(1.3), np.float64(0.7), np.float64(0.8))


@pytest.mark.parametrize("f, looped", [(bouncing_ball, True), (ball_and_its_clock, False),
                                       (ball_with_a_history, False),
                                       (ball_on_a_tripled_clock, False),
                                       (ball_on_a_counter, True)])
def test_a_long_static_while_over_run_time_values_is_a_while_op(f, looped):
    """Its static counter is made a run-time value after a few iterations (150 unrolled
    iterations, each with its branch, took Numba minutes to compile), where nothing needs it
    static; values and gradients are Python's either way."""
    fn = check(f, *BALL)
    assert ("while" in ops(fn)) == looped
    if looped:
        assert len(ops(fn)) < 300         # (unrolled: some 2000)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_the_gradient_through_a_static_while_made_a_loop(backend):
    g = adcompiler.grad(bouncing_ball, wrt=(0, 1, 2), backend=backend)(*BALL)
    for k in range(3):
        want = central_differences(lambda *a: bouncing_ball(*a), *map(np.asarray, BALL), wrt=k)
        np.testing.assert_allclose(g[k], want, rtol=1e-6)


def powers_of_two(y0, v0, e):
    i = 0
    while i < 70:
        y0 = y0 + float(2 ** i)     # 2 ** 63 and on wrap round in int64: stays unrolled
        i += 1
    return y0


def test_a_counter_raised_to_a_power_stays_a_python_int():
    fn = check(powers_of_two, *BALL)
    assert "while" not in ops(fn)


def two_sweeps_with_one_index(c, d):
    cp = np.zeros(d.size)
    for i in range(1, d.size):      # (the Thomas algorithm's two sweeps)
        cp[i] = c[i] * cp[i - 1] + 1.0
    xs = np.zeros(d.size)
    for i in range(1, d.size):
        xs[i] = d[i] * xs[i - 1] + cp[i]
    return np.sum(xs ** 2)


def index_rebound_after_the_loop(c, d):
    s = 0.0
    for i in range(1, d.size):
        s = s + c[i] * i
    i = 3
    return s * i


@pytest.mark.parametrize("f", [two_sweeps_with_one_index, index_rebound_after_the_loop])
def test_a_loop_index_bound_anew_later_keeps_the_loop_a_loop(f):
    """A later `for i` or `i = 3` binds the index anew: the first loop's was taken as read
    after it, and the loop unrolled (1813 IR lines for 200 entries, a 250 s first gradient
    of a 500-entry Thomas solve on the Numba backend)."""
    c, d = rand(200), rand(200)
    fn = check(f, c, d)
    assert ops(fn).count("for") == (2 if f is two_sweeps_with_one_index else 1)
    grads = adcompiler.grad(f, wrt=(0, 1), backend="numpy")(c, d)
    for i, g in enumerate(grads):
        np.testing.assert_allclose(g[:5], central_differences(f, c, d, wrt=i, eps=1e-4)[:5],
                                   rtol=1e-5)


def ranges_of_numpy_bounds(x, a, n):
    for i in range(a, n):
        x = x + i
    for i in reversed(range(n)):
        x = x * (i + 1)
    return x


def test_the_index_of_a_range_of_numpy_bounds_is_a_python_int():
    """range(np.int64(1), n) and reversed(range(n)) yield Python ints: float32 + i stayed
    float32 in Python and became float64 here."""
    check(ranges_of_numpy_bounds, rand(3, dtype=np.float32), np.int64(1), np.int64(3))
