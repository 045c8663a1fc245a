"""`break`, `continue`, `return` and loop `else` on run-time conditions (frontend/exits.py):
each traced program is run on inputs that leave the loop at different iterations (or never)
and compared with Python running the function itself; gradients against derivatives worked
out by hand."""
import re

import numpy as np
import pytest

import adcompiler
from fecheck import central_differences, check, rand, same


def run_like_python(f, *cases):
    """Trace `f` on the first case, then evaluate that one program on every case."""
    fn = adcompiler.trace(f, *cases[0])
    for args in cases:
        same(adcompiler.evaluate(fn, *args), f(*args), f"f{args}")
    return fn


def halve_until_small(x):
    for _ in range(20):
        if np.sum(x * x) < 1.0:
            break
        x = x * 0.5
    return np.sum(x ** 3)


def test_break_on_a_runtime_condition_in_a_static_loop():
    fn = run_like_python(halve_until_small, (np.array([0.1, 0.2]),), (np.array([3.0, -4.0]),),
                         (np.array([1e4, 2e4]),), (np.array([1e9, 1.0]),))
    # not unrolled 20 times, and a while op: the iterations after a break do not run
    assert [op.name for op in fn.walk() if op.name in ("for", "while")] == ["while"]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("x", [[0.1, 0.2], [3.0, -4.0], [1e4, 2e4], [1e9, 1.0]])
def test_the_gradient_follows_the_iterations_that_ran(backend, x):
    x = np.array(x)
    got = adcompiler.grad(halve_until_small, backend=backend)(x)
    k = 0                                   # the halvings that ran: x ends as x / 2^k
    while k < 20 and np.sum((x / 2.0 ** k) ** 2) >= 1.0:
        k += 1
    np.testing.assert_allclose(got, 3 * (x / 2.0 ** k) ** 2 / 2.0 ** k, rtol=1e-12)


def double_for_n(x, n):
    for i in range(n):
        x = x * 2
        if i >= 3:
            break
    return x


def test_break_in_a_loop_with_a_runtime_trip_count():
    run_like_python(double_for_n, (rand(2), np.int64(5)), (rand(2), np.int64(0)),
                    (rand(2), np.int64(2)), (rand(2), np.int64(9)))


def skip_negative_rows(x):
    total = np.sum(x[0]) * 0.0     # an array from the start: a Python float would stay one
    for row in range(x.shape[0]):
        if np.sum(x[row]) < 0:
            continue
        total = total + np.sum(x[row] ** 2)
    return total


def test_continue_on_a_runtime_condition():
    run_like_python(skip_negative_rows, (rand(5, 3),), (rand(5, 3),), (-np.abs(rand(5, 3)),))


def first_large_row(x, limit):
    i = -1
    for i in range(x.shape[0]):
        if np.max(x[i]) > limit:
            break
    else:
        i = 100
    return i * x[0]


def test_for_else_and_the_loop_variable_after_a_runtime_break():
    x = np.array([[0.0, 1.0], [5.0, 0.0], [9.0, 9.0]])
    run_like_python(first_large_row, (x, 4.0), (x, 8.0), (x, 10.0), (x, -1.0))


def newton_sqrt(a):
    x = a
    n = 0
    while n < 50:
        x = 0.5 * (x + a / x)
        n += 1
        if np.abs(x * x - a) < 1e-12:
            break
    else:
        x = x * 0.0          # did not converge
    return x


def test_while_with_a_runtime_break_and_else():
    run_like_python(newton_sqrt, (np.array(2.0),), (np.array(1e6),), (np.array(0.25),),
                    (np.array(1e40),))     # 50 iterations do not converge: the else runs
    a = np.array(3.0)
    got = adcompiler.grad(newton_sqrt)(a)
    np.testing.assert_allclose(got, 0.5 / np.sqrt(3.0), rtol=1e-9)   # d sqrt(a)/da


def inner_break_only(x):
    out = np.sum(x[0]) * 0.0
    for i in range(3):
        for j in range(4):
            if x[i, j] < 0:
                break
            out = out + x[i, j]
        out = out * 2.0
    return out


def test_a_break_leaves_only_its_own_loop():
    run_like_python(inner_break_only, (rand(3, 4),), (np.abs(rand(3, 4)),), (-np.abs(rand(3, 4)),))


def stop_at_static_index(x):
    for k in range(100):
        if k == 3:
            break
        x = x + k
    return x


def test_a_static_break_still_stops_the_unrolled_loop():
    fn = run_like_python(stop_at_static_index, (rand(2),))
    assert not any(op.name in ("for", "while", "if") for op in fn.walk())


def test_what_follows_the_break_is_located_in_errors():
    def f(x):
        for _ in range(3):
            if np.sum(x) > 0:
                break
            x = x @ np.ones((3, 3))
        return x
    with pytest.raises(adcompiler.TraceError, match="matmul: inner dimensions differ") as e:
        adcompiler.trace(f, rand(2))
    assert str(e.value).startswith(f"test_frontend_exits.py:{f.__code__.co_firstlineno + 4}:")
    assert "x @ np.ones((3, 3))" in str(e.value)


def rows_until_negative(x):
    total = np.sum(x[0]) * 0.0
    for row in x:
        if np.min(row) < 0:
            break
        total = total + np.sum(row)
    return total


def test_break_in_a_loop_over_an_arrays_rows():
    run_like_python(rows_until_negative, (np.abs(rand(4, 2)),), (rand(4, 2),))


def count_steps(x, tol):
    steps = 0
    while np.sum(x * x) > tol:
        x = x * 0.5
        steps += 1
        if steps % 2:
            continue
        x = x * 0.9
    return x * steps


def test_continue_in_a_while_loop_with_a_runtime_test():
    run_like_python(count_steps, (rand(3), np.float64(1e-3)), (rand(3) * 100, np.float64(1e-6)),
                    (rand(3) * 1e-3, np.float64(1.0)))


def newton_sqrt_returns(a):
    x = a
    for _ in range(50):
        x = 0.5 * (x + a / x)
        if np.abs(x * x - a) < 1e-12:
            return x
    return x * 0.0


def first_negative_doubled(x):
    for i in range(x.shape[0]):
        if x[i] < 0:
            return x[i] * 2.0
    return np.sum(x)


def returns_from_an_inner_loop(x, n):
    i = j = 0
    for i in range(n):
        for j in range(3):
            if x[j] * i > 2:
                return x * i + j
    return x


def grows_until_large(x):
    k = 0
    while k < 10:
        x = x * 1.5
        k += 1
        if np.sum(x) > 5:
            return x, k
    return x, -1


def test_return_inside_loops_on_runtime_conditions():
    run_like_python(newton_sqrt_returns, (np.array(2.0),), (np.array(9.0),), (np.array(1e6),),
                    (np.array(1e40),))     # no return inside the loop
    run_like_python(first_negative_doubled, (np.array([1.0, -2.0, 3.0]),),
                    (np.array([1.0, 2.0, 3.0]),))
    x = np.array([0.5, 1.0, 1.5])
    run_like_python(returns_from_an_inner_loop, *[(x, np.int64(n)) for n in (0, 1, 2, 5)])
    run_like_python(grows_until_large, (np.array([0.1, 0.2]),), (np.array([1.0, 2.0]),),
                    (np.array([1e-5, 0.0]),))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_the_gradient_of_a_loop_that_returns(backend):
    for a in (2.0, 9.0):
        got = adcompiler.grad(newton_sqrt_returns, backend=backend)(np.array(a))
        np.testing.assert_allclose(got, 0.5 / np.sqrt(a), rtol=1e-10)   # d sqrt(a) / da


def returns_its_loop_index(x, n):
    for i in range(n):
        if np.sum(x) * i > 1:
            return x * i
    return x


@pytest.mark.parametrize("n", [0, 1, 3])
def test_a_return_reads_the_loop_variable_of_a_runtime_loop(n):
    check(returns_its_loop_index, rand(2) + 1.0, np.int64(n))


def last_newton_step(a):
    x = a
    while np.max(np.abs(x * x - a)) > 1e-12:
        step = (x * x - a) / (2 * x)
        x = x - step
    return np.sum(x) + 1e3 * np.sum(step)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_the_gradient_through_a_name_a_while_loop_assigns(backend):
    a = np.array([2.0, 5.0])
    got = adcompiler.grad(last_newton_step, backend=backend)(a)
    np.testing.assert_allclose(got, central_differences(last_newton_step, a), rtol=1e-5)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("n", [0, 2, 7])
def test_the_gradient_through_a_runtime_trip_count_and_break(backend, n):
    x = rand(2)
    got = adcompiler.grad(summed_double_for_n, wrt="x", backend=backend)(x, np.int64(n))
    want = 2.0 ** min(n, 4)       # doubled until i reaches 3, so at most four times
    np.testing.assert_allclose(got, np.full(2, want), rtol=1e-12)


def summed_double_for_n(x, n):
    return np.sum(double_for_n(x, n))


def sums_until_index_three(x):
    i = 0
    s = x[0] * 0.0
    while x[i] > 0:          # Python does not test x[3] after the break
        s = s + x[i] ** 2
        i += 1
        if i == 3:
            break
    return s


def test_a_while_test_is_not_evaluated_after_a_break():
    run_like_python(sums_until_index_three, (np.array([0.5, 0.3, 0.2]),),
                    (np.array([0.5, -0.3, 0.2]),))


def reads_a_name_set_after_the_break(x):
    for i in range(5):
        y = x * (i + 1)
        if np.sum(y) > 3:
            break
        z = [y]
    return z


def test_errors_after_a_break_name_the_loop_and_the_users_statement():
    with pytest.raises(adcompiler.TraceError) as e:
        adcompiler.trace(reads_a_name_set_after_the_break, np.ones(2))
    text = str(e.value)
    line = reads_a_name_set_after_the_break.__code__.co_firstlineno
    assert text.startswith(f"test_frontend_exits.py:{line + 6}: 'z' is assigned on one path "
                           f"only of the loop at line {line + 1}") and "__break" not in text


def iterates_until_it_returns(x):
    while True:
        x = x * 0.5
        if np.sum(x) < 1:
            return np.sum(x)


def test_a_while_true_loop_left_only_by_return():
    run_like_python(iterates_until_it_returns, (np.array([3.0, 4.0]),), (np.array([0.2, 0.1]),))


def first_large_else_first(v):
    for i in range(4):
        if v[i] > 0.5:
            return v[i] * 2.0
    else:
        return v[0]


def first_large_while_else(v, n):
    i = 0
    while i < n:
        if v[i] > 0.5:
            return v[i] * 3.0
        i += 1
    else:
        return v[0] * 5.0


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_loop_left_by_returns_or_its_else_returns_on_every_path(backend):
    """The returns and the else were separate ifs after the loop, so a path past all of them
    (none is possible) seemed to return None: 'return' had a different structure."""
    for v in (np.array([0.1, 0.6, 0.2, 0.3]), np.array([0.1, 0.2, 0.3, 0.4])):
        same(adcompiler.jit(first_large_else_first, backend=backend)(v),
             first_large_else_first(v))
        same(adcompiler.jit(first_large_while_else, backend=backend)(v, np.int64(4)),
             first_large_while_else(v, 4))
        same(adcompiler.grad(first_large_while_else, backend=backend)(v, np.int64(4)),
             central_differences(lambda u: first_large_while_else(u, 4), v))


def stops_early(x, n):
    s = x
    for _ in range(n):
        if np.sum(s) > 10.0:
            break
        s = s * 1.5
    return np.sum(s)


def test_the_generated_source_names_a_loop_flag_readably():
    """The break flag of the loop at line 6 was `__break_6_4` in the generated source."""
    src = adcompiler.grad(stops_early, backend="numpy").adjoint_source(np.ones(3), np.int64(4))
    line = stops_early.__code__.co_firstlineno + 2
    assert "__break" not in src and f"broke_{line}_4" in src


def test_the_forward_makes_no_tape_it_does_not_use():
    """A tape for a loop value the backward does not read stayed as `tape_1 = []` (tape_new
    was impure, so that CSE would not merge two, and DCE kept it)."""
    src = adcompiler.grad(stops_early, backend="numpy").adjoint_source(np.ones(3), np.int64(4))
    made = re.findall(r"^\s*(\w+) = \[\]$", src, flags=re.M)
    assert made and all(len(re.findall(rf"\b{name}\b", src)) > 1 for name in made)


def tanh_until_large(h, n):
    for t in range(n):
        h = np.tanh(h)
        if np.max(h) > 0.9:
            return h * t        # (t a Python int: float32 stays float32)
    return h


def mean_after_a_break(x, n):
    for t in range(n):
        x = np.tanh(x)
        if np.sum(x) < 0.5:
            break
    return np.sum(x) / (t + 1)


@pytest.mark.parametrize("n", [4, np.int64(4)])
def test_the_loop_index_after_an_exit_is_a_python_int(n):
    """It was an int64 array there: `h * t` in float32 returned from inside the loop was
    refused (the paths' dtypes f64 and f32 differed), and `np.sum(x) / (t + 1)` after a break
    was float64 where NumPy gives float32 (static and run-time trip counts alike)."""
    x = np.array([0.3, 0.4, 0.5], np.float32)
    run_like_python(tanh_until_large, (x, n), (x * 10, n))
    run_like_python(mean_after_a_break, (x, n), (x * 0.1, n))
