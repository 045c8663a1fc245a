"""Loops the Numba backend compiles whole (backends/numba_cpu/loops.py, runtime.Loop): run
compiled, their values and gradients are NumPy's running the same Python and float64 finite
differences; a loop runs as Python until it has spent `COMPILE_AFTER` s so (option `loops`
"auto"), then as Python while a child process compiles it (one at a time; stopped when it takes
too long; a loop Numba cannot compile stays Python); an index out of bounds in a compiled loop
names the user's line, as does one in a gather at an array of indices (the runtime's in a
compiled loop, which checks it); a tape a loop filled as Python is read as Python; a loop Numba
cannot compile runs as Python. A function on small arrays is compiled whole, the same way; one
on big arrays is not."""
import re
import subprocess
import sys

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

import adcompiler as adc
from adcompiler.backends.numba_cpu import precompile, runtime as rt
from adcompiler.backends.numba_cpu.driver import PAR_MIN, WHOLE_PRODUCT_BELOW, small_function
from adcompiler.backends.numba_cpu.options import OPTIONS
from children import Child
from test_inplace_updates import finite_differences

W = np.linspace(0.5, 1.1, 4)


def rnn(w, xs, h0):
    hs = np.zeros((xs.shape[0] + 1, 4))
    hs[0] = h0
    for t in range(xs.shape[0]):
        hs[t + 1] = np.tanh(w @ hs[t] + xs[t])
    return np.sum(hs * hs)


def until_large(x, w):
    total = 0.0
    while np.sum(x * x) < 4.0:              # a run-time trip count, a sum in the condition
        x = x * w + 0.1
        total = total + np.sum(np.sin(x))   # a 0-d value carried
    return total + np.sum(x)


def branch_and_nested(x, n):
    acc = np.zeros(4)
    for t in range(n):
        if np.max(x) > 0.5:
            for k in range(2):
                acc = acc + np.cos(x * (k + 1))
        else:
            acc = acc * 0.5 + x
        x = x * 0.9
    return np.sum(acc ** 2)


def lookup(emb, w, tokens):
    h = np.zeros((tokens.shape[0], emb.shape[1]))
    seen = np.zeros(emb.shape)
    for t in range(tokens.shape[1]):
        h = np.tanh(emb[tokens[:, t]] * w + h)  # a gather at an array of indices
        seen[tokens[:, t]] = h                  # an assignment there (repeats: the last wins)
    return np.sum(h * h) + np.sum(seen * emb)


def pendulum(u, x0):
    """Entries of the state buffer read one by one: their gradients add 0-d values into
    entries (`d[i] += v`), which Numba refused for a 0-d array (the loop stayed Python)."""
    x = np.zeros((u.shape[0] + 1, 2))
    x[0] = x0
    for t in range(u.shape[0]):
        x[t + 1] = x[t] + 0.1 * np.array([x[t, 1], -np.sin(x[t, 0]) + u[t]])
    return np.sum(x[-1] ** 2)


CASES = [(rnn, lambda: [0.3 * np.outer(W, W[::-1]), np.linspace(-1, 1, 24).reshape(6, 4),
                        np.full(4, 0.2)]),
         (until_large, lambda: [np.full(4, 0.3), W + 0.2]),
         (branch_and_nested, lambda: [np.array([0.2, 0.4, 0.6, 0.8]), np.int64(3)]),
         (lookup, lambda: [np.linspace(-1, 1, 15).reshape(5, 3), np.array([0.5, -0.7, 0.9]),
                           np.array([[0, 4, 2], [4, -1, 2], [1, 1, 3]])]),
         (pendulum, lambda: [np.linspace(-1, 1, 12), np.array([0.5, 0.0])])]


@pytest.fixture
def called(monkeypatch) -> list:
    """The `runtime.Loop`s and `runtime.Whole`s called during the test, each once, in the order
    first called. A function here is not compiled whole (option `whole`, which a test of
    that sets): its loops are."""
    monkeypatch.setitem(OPTIONS, "whole", False)
    seen = []
    for cls in (rt.Loop, rt.Whole):
        def call(self, *args, run=cls.__call__):
            if self not in seen:
                seen.append(self)
            return run(self, *args)
        monkeypatch.setattr(cls, "__call__", call)
    return seen


@pytest.mark.parametrize("f, make", CASES, ids=[f.__name__ for f, _ in CASES])
def test_a_compiled_loop_gives_numpys_values_and_gradients(f, make, called, monkeypatch):
    monkeypatch.setattr(rt, "LOOPS", "compile")
    args = make()
    floats = tuple(k for k, a in enumerate(args) if a.dtype.kind == "f")
    g = adc.value_and_grad(f, wrt=floats, backend="numba")
    value, grads = g(*args)
    np.testing.assert_allclose(value, f(*args), rtol=1e-12)
    for k, got in zip(floats, grads, strict=True):
        np.testing.assert_allclose(got, finite_differences(f, args, k), rtol=1e-6, atol=1e-8)
    assert len(called) >= 2 and all(lp.warm and not lp.never for lp in called)
    np.testing.assert_allclose(adc.jit(f, backend="numba")(*args), f(*args), rtol=1e-12)


def rnn_gradient(called):
    """The RNN's gradient function, called once: (it, its arguments, float64 finite
    differences, its forward loop, its backward loop)."""
    args = CASES[0][1]()
    g = adc.grad(rnn, backend="numba")
    want = finite_differences(rnn, args, 0)
    np.testing.assert_allclose(g(*args), want, rtol=1e-6, atol=1e-8)
    (fwd, bwd) = called
    return g, args, want, fwd, bwd


def never_compiled(monkeypatch, compiled, spent=0.0):
    """`LOOPS` "auto" with a tiny `COMPILE_AFTER`, and each of `compiled` (runtime.Compiled) as
    if it had never been compiled nor tried, having run `spent` s as Python after its first
    run (these objects outlive a test: the program that holds them is cached)."""
    monkeypatch.setattr(rt, "LOOPS", "auto")
    monkeypatch.setattr(rt, "COMPILE_AFTER", 1e-9)
    monkeypatch.setattr(precompile, "_aside", None)     # (no child of another test's)
    for c in compiled:
        monkeypatch.setattr(c, "cached", False)     # (Numba's disk cache may hold it)
        monkeypatch.setattr(c, "spent", spent)
        monkeypatch.setattr(c, "runs", 1)       # (past the first run, which is not counted)
        monkeypatch.setattr(c, "warm", False)
        monkeypatch.setattr(c, "aside", None)
        monkeypatch.setattr(c, "never", False)
        monkeypatch.setattr(c, "failures", 0)


def test_a_loop_runs_as_python_until_it_has_spent_long_enough_so(called, monkeypatch):
    g, args, want, fwd, bwd = rnn_gradient(called)
    never_compiled(monkeypatch, (fwd, bwd))
    np.testing.assert_allclose(g(*args), want, rtol=1e-6, atol=1e-8)
    assert not fwd.warm and fwd.spent > 0.0 and fwd.aside is None
    spent = fwd.spent
    np.testing.assert_allclose(g(*args), want, rtol=1e-6, atol=1e-8)
    # hot: a child process compiles it, and the loop runs as Python meanwhile
    assert not fwd.warm and fwd.spent > spent
    loaded = compiled_aside(fwd)
    np.testing.assert_allclose(g(*args), want, rtol=1e-6, atol=1e-8)
    # the backward loop read the forward's tape, a list, as Python; now a typed list, which
    # it reads as Python while it too is compiled aside
    assert fwd.warm and not bwd.warm and loaded()
    loaded = compiled_aside(bwd)
    np.testing.assert_allclose(g(*args), want, rtol=1e-6, atol=1e-8)
    assert fwd.warm and bwd.warm and loaded()
    monkeypatch.setattr(rt, "LOOPS", "python")
    monkeypatch.setattr(fwd, "compiled", None)      # never called
    np.testing.assert_allclose(g(*args), want, rtol=1e-6, atol=1e-8)


def test_one_child_compiles_aside_at_a_time_and_none_at_all_compiles_here(called,
                                                                          monkeypatch):
    """A hot loop waits while another child process compiles (they share the cores with the
    program), running as Python; where no child can start, it compiles at once, here."""
    g, args, want, fwd, bwd = rnn_gradient(called)
    never_compiled(monkeypatch, (fwd, bwd), spent=1.0)
    monkeypatch.setattr(precompile, "_aside", Child())
    np.testing.assert_allclose(g(*args), want, rtol=1e-6, atol=1e-8)
    assert fwd.aside is None and not fwd.warm and fwd.spent > 1.0
    monkeypatch.setattr(precompile, "_aside", None)
    monkeypatch.setattr(precompile, "_start_child", lambda payload, group=False: None)
    np.testing.assert_allclose(g(*args), want, rtol=1e-6, atol=1e-8)
    assert fwd.aside is False and fwd.warm


def test_a_loop_numba_cannot_compile_aside_stays_python(called, monkeypatch):
    """A child that found Numba cannot compile the loop (its exit status `CANNOT`) leaves it
    Python for good, without compiling it here again (the program would stop meanwhile)."""
    g, args, want, fwd, bwd = rnn_gradient(called)
    never_compiled(monkeypatch, (fwd,), spent=1.0)
    monkeypatch.setattr(precompile, "_start_child",
                        lambda payload, group=False: Child(precompile.CANNOT))

    class NeverCalled:
        py_func = fwd.compiled.py_func

        def __call__(self, *args):
            raise AssertionError("compiled here")
    monkeypatch.setattr(fwd, "compiled", NeverCalled())
    for _ in range(2):
        np.testing.assert_allclose(g(*args), want, rtol=1e-6, atol=1e-8)
        assert fwd.never and not fwd.warm and fwd.failures == 0


def test_a_child_compiling_aside_too_long_is_stopped_and_the_loop_compiled_here(
        called, monkeypatch):
    g, args, want, fwd, bwd = rnn_gradient(called)
    never_compiled(monkeypatch, (fwd,), spent=1.0)
    stuck = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    monkeypatch.setattr(precompile, "_start_child", lambda payload, group=False: stuck)
    np.testing.assert_allclose(g(*args), want, rtol=1e-6, atol=1e-8)
    assert fwd.aside is stuck and not fwd.warm
    monkeypatch.setattr(precompile, "ASIDE_LIMIT", 0.0)
    np.testing.assert_allclose(g(*args), want, rtol=1e-6, atol=1e-8)
    assert stuck.returncode is not None and fwd.warm      # stopped, and compiled here


def squares(x):
    return np.sum(np.tanh(x) ** 2)


def test_the_first_run_as_python_does_not_count_towards_hot(called, monkeypatch):
    """It compiled (or loaded) the kernels its steps call: a function called twice is not hot
    for that."""
    monkeypatch.setitem(OPTIONS, "whole", True)
    monkeypatch.setattr(rt, "LOOPS", "python")      # (Numba's disk cache may hold it)
    g = adc.grad(squares, backend="numba")
    x = np.linspace(-1, 1, 5)
    want = 2 * np.tanh(x) / np.cosh(x) ** 2
    np.testing.assert_allclose(g(x), want, rtol=1e-12)
    (whole,) = called
    assert whole.runs == 1 and whole.spent == 0.0
    np.testing.assert_allclose(g(x), want, rtol=1e-12)
    assert whole.runs == 2 and whole.spent > 0.0


def compiled_aside(*compiled):
    """Wait for the child processes that compile each of `compiled` (runtime.Compiled), hot,
    into Numba's disk cache; they succeed. Returns a function that says that no call since
    compiled any of them here (each loaded the child's machine code, or had it already)."""
    for c in compiled:
        assert c.aside and c.aside.wait(timeout=300) == 0

    def misses():
        return [sum(c.compiled.stats.cache_misses.values()) for c in compiled]
    before = misses()
    return lambda: misses() == before


def columns(x, n):
    s = 0.0
    for t in range(n):
        s = s + np.sum(np.sin(x[:, t]))     # one run-time column index
    return s


def test_an_index_out_of_bounds_in_a_compiled_loop_names_the_users_line(called, monkeypatch):
    monkeypatch.setattr(rt, "LOOPS", "compile")
    x = np.linspace(0, 1, 6).reshape(2, 3)
    g = adc.grad(columns, backend="numba")
    np.testing.assert_allclose(g(x, np.int64(3)), np.cos(x), rtol=1e-12)
    line = columns.__code__.co_firstlineno + 3
    with pytest.raises(adc.IndexOutOfBounds, match=rf"test_numba_loops.py:{line} in "):
        g(x, np.int64(4))
    fwd = called[0]
    assert fwd.warm and fwd.failures == 0 and not fwd.never    # the user's error, not Numba's


def int32_steps(x, b, n):
    s, c = x[0], True
    for k in range(n):
        s = (s * 4) % 1000 + s * 3          # NumPy's int32 wraps in the multiplications
        c = c + b[k % 2]                    # a bool carried, made int32
    return s, c


def test_a_compiled_loops_int32_arithmetic_wraps_as_numpys(called, monkeypatch):
    """Numba computed it in int64: (s * 4) % 1000 read 0 where NumPy's is 408, and the int32
    the loop returned raised OverflowError converting it back."""
    monkeypatch.setattr(rt, "LOOPS", "compile")
    args = (np.array([2000000000, 3], np.int32), np.array([2**31 - 1, 5], np.int32), np.int64(3))
    with np.errstate(over="ignore"):
        want = int32_steps(*args)
    got = adc.jit(int32_steps, backend="numba")(*args)
    assert called[0].warm
    for g, w in zip(got, want, strict=True):
        assert g.dtype == np.int32 and g == w


def gathered(x, idx, n):
    s = 0.0
    for t in range(n):
        s = s + np.sum(x[idx] * t)          # a gather at an array of indices
    return s


def test_a_gather_out_of_bounds_in_a_loop_names_the_users_line(called, monkeypatch):
    """The compiled loop's gathers and scatters (the runtime's) check their indices, and the
    loop run again as Python names the user's line."""
    monkeypatch.setattr(rt, "LOOPS", "compile")
    x = np.arange(1.0, 7.0)
    g = adc.grad(gathered, backend="numba")
    np.testing.assert_allclose(g(x, np.array([0, -1, 0]), np.int64(3)),
                               [6.0, 0, 0, 0, 0, 3.0], rtol=1e-12)
    assert len(called) == 2 and all(lp.warm and lp.failures == 0 for lp in called)
    line = gathered.__code__.co_firstlineno + 3
    for run in (adc.jit(gathered, backend="numba"), g):
        for bad in ([0, 9], [-7, 1]):
            with pytest.raises(adc.IndexOutOfBounds, match=rf"test_numba_loops.py:{line} in "):
                run(x, np.array(bad), np.int64(3))


@njit(boundscheck=True)
def _compiled_gather_and_updates(a, idx, v, axis, shape):
    put, added = a.copy(), a.copy()
    rt.put(put, idx, v, axis)
    rt.scatter_add(added, idx, v, axis)
    return rt.take(a, idx, axis, shape), put, added


@njit(boundscheck=True)
def _compiled_take(a, idx, axis, shape):
    return rt.take(a, idx, axis, shape)


@njit(boundscheck=True)
def _compiled_updates_into(put, added, idx, v, axis):
    rt.put(put, idx, v, axis)
    rt.scatter_add(added, idx, v, axis)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_the_compiled_gather_and_updates_are_numpys_and_check_their_indices(axis):
    a = np.arange(60.0).reshape(3, 4, 5)
    n = a.shape[axis]
    idx = np.array([[1, -1, 1], [0, n - 1, -n]])
    shape = a.shape[:axis] + idx.shape + a.shape[axis + 1:]
    v = np.linspace(-1, 1, int(np.prod(shape))).reshape(shape)
    at = (slice(None),) * axis + (idx,)
    taken, put, added = _compiled_gather_and_updates(a, idx, v, axis, shape)
    np.testing.assert_array_equal(taken, np.take(a, idx, axis=axis))
    want = a.copy()
    want[at] = v                            # repeated indices: the last wins
    np.testing.assert_array_equal(put, want)
    want = a.copy()
    np.add.at(want, at, v)                  # repeated indices add up
    np.testing.assert_allclose(added, want, rtol=1e-15)
    put, added = np.asfortranarray(a), np.asfortranarray(a)     # (written through a C copy)
    _compiled_updates_into(put, added, idx, v, axis)
    np.testing.assert_allclose(added, want, rtol=1e-15)
    want = a.copy()
    want[at] = v
    np.testing.assert_array_equal(put, want)
    for bad in (n, -n - 1):
        with pytest.raises(IndexError, match="out of bounds"):
            _compiled_gather_and_updates(a, np.array([[0, bad, 0], [0, 0, 0]]), v, axis, shape)
    # int32 indices into a read-only (broadcast) source
    source = np.broadcast_to(np.arange(float(n)).reshape((1,) * axis + (n,) + (1,) * (2 - axis)),
                             a.shape)
    np.testing.assert_array_equal(_compiled_take(source, idx.astype(np.int32), axis, shape),
                                  np.take(source, idx, axis=axis))


def steps_of(w, xs, h0, n):
    h = h0
    for t in range(n):
        h = np.tanh(w @ h + xs[t])
    return np.sum(h * h)


def test_a_tape_filled_as_python_is_read_as_python(called, monkeypatch):
    """An empty list (a loop that ran no step as Python) failed the compiled loop reading it,
    three times of which made that loop Python for good."""
    monkeypatch.setattr(rt, "LOOPS", "compile")
    w, xs, h0 = CASES[0][1]()
    g = adc.grad(steps_of, backend="numba")
    g(w, xs, h0, np.int64(6))
    fwd, bwd = called
    monkeypatch.setattr(fwd, "never", True)
    for steps in (0, 0, 0, 0, 6):
        args = [w, xs, h0, np.int64(steps)]
        np.testing.assert_allclose(g(*args), finite_differences(steps_of, args, 0), rtol=1e-6,
                                   atol=1e-8)
    assert not bwd.never and bwd.failures == 0


def test_a_loop_numba_cannot_compile_runs_as_python(called, monkeypatch):
    monkeypatch.setattr(rt, "LOOPS", "compile")
    args = CASES[1][1]()
    g = adc.grad(until_large, backend="numba")
    want = finite_differences(until_large, args, 0)
    np.testing.assert_allclose(g(*args), want, rtol=1e-6, atol=1e-8)
    fwd = called[0]

    def untypable(*_):
        raise TypingError("Cannot unify float64 and array(float64, 0d, C)")
    monkeypatch.setattr(fwd, "compiled", untypable)
    monkeypatch.setattr(fwd, "never", False)
    np.testing.assert_allclose(g(*args), want, rtol=1e-6, atol=1e-8)
    assert fwd.never
    np.testing.assert_allclose(g(*args), want, rtol=1e-6, atol=1e-8)


def rnn_beside_a_big_sum(w, xs, h0, big):
    return rnn(w, xs, h0) + np.sum(np.sin(big))


def test_show_prints_a_compiled_loops_function():
    """A loop of a function on big arrays (not compiled whole) is a function of its own."""
    args = CASES[0][1]() + [np.zeros(PAR_MIN)]
    g = adc.grad(rnn_beside_a_big_sum, backend="numba")
    source = g.adjoint_source(*args)
    driver, kernels = source.split("# ===== kernels")
    assert re.search(r"hs_\d+, tape_\d+ = l_[0-9a-f]{16}\.LOOP\(", driver), driver
    assert "# ----- loop l_" in kernels
    loop = kernels.split("# ----- loop l_")[1]
    assert "def loop(" in loop and "for t in np.arange(" in loop and ".append(" in loop


def mlp(w1, b1, w2, x, y):
    h = np.maximum(x @ w1 + b1, 0.0)
    return np.mean((h @ w2 - y) ** 2)


def mlp_args():
    rng = np.random.default_rng(0)
    return [rng.normal(size=(5, 7)), rng.normal(size=7), rng.normal(size=(7, 3)),
            rng.normal(size=(4, 5)), rng.normal(size=(4, 3))]


def test_a_function_on_small_arrays_is_compiled_whole(called, monkeypatch):
    """Its every step, the loops' too, in one function of a loop module (driver.small_function),
    whose values and gradients are NumPy's and float64 finite differences'."""
    monkeypatch.setattr(rt, "LOOPS", "compile")
    monkeypatch.setitem(OPTIONS, "whole", True)
    for f, args in ((mlp, mlp_args()), (rnn, CASES[0][1]())):
        called.clear()
        g = adc.value_and_grad(f, wrt=0, backend="numba")
        value, grad = g(*args)
        np.testing.assert_allclose(value, f(*args), rtol=1e-12)
        np.testing.assert_allclose(grad, finite_differences(f, args, 0), rtol=1e-6, atol=1e-8)
        assert len(called) == 1 and called[0].warm and not called[0].never
        driver = g.adjoint_source(*args).split("# ===== kernels")[0]
        fused = driver.split(f"def {f.__name__}_grad(")[1]
        assert isinstance(called[0], rt.Whole)
        whole = re.search(r"(w_[0-9a-f]{16})'s function runs the steps below compiled", fused)
        assert whole and f"= {whole[1]}.WHOLE(" in fused and f"{whole[1]}.WHOLE.ran(" in fused
        np.testing.assert_allclose(adc.jit(f, backend="numba")(*args), f(*args), rtol=1e-12)
        assert len(called) == 2 and isinstance(called[1], rt.Whole) and called[1].warm


def halves(x):
    a, b = np.split(x, 2, axis=1)       # (b's gradient: a column slice of x's, reshaped)
    return np.sum(np.sin(a)) + np.sum(np.cos(b.ravel()) * np.arange(8.0))


def test_a_function_reshaping_a_column_slice_is_compiled_whole(called, monkeypatch):
    """Numba's reshape takes C-contiguous arrays only: the gradient's reshape of a column
    slice (np.split along axis 1, sliding_window_view's windows) made the function one Numba
    could not compile, and it ran as Python steps for good."""
    monkeypatch.setattr(rt, "LOOPS", "compile")
    monkeypatch.setitem(OPTIONS, "whole", True)
    x = np.linspace(-1, 1, 16).reshape(4, 4)
    value, grad = adc.value_and_grad(halves, backend="numba")(x)
    np.testing.assert_allclose(value, halves(x), rtol=1e-12)
    np.testing.assert_allclose(grad, finite_differences(halves, [x], 0), rtol=1e-6, atol=1e-8)
    assert len(called) == 1 and called[0].warm and not called[0].never


def total_sin(x):
    return np.sum(np.sin(x))


def product(a, b):
    return np.sum(a @ b)


def inverse(a):
    return np.sum(np.linalg.inv(a))


def test_only_a_function_on_small_arrays_is_compiled_whole():
    """Not with an array of PAR_MIN elements (the driver runs its kernel on the backend's
    threads), a product of WHOLE_PRODUCT_BELOW multiply-adds (NumPy's matmul on its BLAS
    threads) or linear algebra other than products (Numba's LAPACK is not NumPy's)."""
    m = 64
    assert m ** 3 == WHOLE_PRODUCT_BELOW
    cases = [(total_sin, [np.zeros(PAR_MIN - 1)], True), (total_sin, [np.zeros(PAR_MIN)], False),
             (product, [np.ones((m, m)), np.ones((m, m - 1))], True),
             (product, [np.ones((m, m)), np.ones((m, m))], False),
             (inverse, [np.eye(3)], False)]
    for f, args, whole in cases:
        assert small_function(adc.trace(f, *args)) is whole, (f.__name__, args[0].shape)


def rows_of(x, idx):
    return np.sum(np.tanh(x[idx]) ** 2)


def test_a_function_compiled_whole_runs_once_hot_and_leaves_errors_to_the_driver(
        called, monkeypatch):
    """As a loop: its driver's steps run until they have taken `COMPILE_AFTER` s (option
    `loops` "auto"), then the compiled function; an index out of bounds there has the driver
    run, which names the user's line, and is no failure of Numba's."""
    monkeypatch.setitem(OPTIONS, "whole", True)
    monkeypatch.setattr(rt, "LOOPS", "python")
    x, idx = np.linspace(-1, 1, 12).reshape(4, 3), np.array([3, 0, 3])
    want = np.zeros_like(x)
    np.add.at(want, idx, 2 * np.tanh(x[idx]) / np.cosh(x[idx]) ** 2)
    g = adc.grad(rows_of, backend="numba")
    np.testing.assert_allclose(g(x, idx), want, rtol=1e-12)
    (whole,) = called
    never_compiled(monkeypatch, (whole,))
    np.testing.assert_allclose(g(x, idx), want, rtol=1e-12)
    assert not whole.warm and whole.spent > 0.0     # its driver's steps ran, and were timed
    np.testing.assert_allclose(g(x, idx), want, rtol=1e-12)
    assert not whole.warm       # hot: a child process compiles it; the steps run meanwhile
    loaded = compiled_aside(whole)
    np.testing.assert_allclose(g(x, idx), want, rtol=1e-12)
    assert whole.warm and not whole.never and loaded()
    line = rows_of.__code__.co_firstlineno + 1
    for bad in ([3, 0, 4], [-5, 0, 3]):
        with pytest.raises(adc.IndexOutOfBounds, match=rf"test_numba_loops.py:{line} in "):
            g(x, np.array(bad))
        assert whole.raised             # the compiled function's run raised first
    assert called == [whole] and whole.failures == 0
    np.testing.assert_allclose(g(x, idx), want, rtol=1e-12)


def aliases(x):
    h = np.tanh(x)
    return h, h, x, x[1:], h.reshape(3, 2)


def test_what_a_function_compiled_whole_returns_is_each_its_own_memory(called, monkeypatch):
    """Numba gives a returned array a new owner each time, so the API cannot tell a value
    returned twice, an argument or a view of one from new arrays: the function copies them."""
    monkeypatch.setitem(OPTIONS, "whole", True)
    monkeypatch.setattr(rt, "LOOPS", "compile")
    x = np.linspace(-1, 1, 6)
    out = adc.jit(aliases, backend="numba")(x)
    assert len(called) == 1 and called[0].warm
    for got, want in zip(out, aliases(x), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-15)
    for i, a in enumerate(out):
        assert not np.shares_memory(a, x)
        assert not any(np.shares_memory(a, b) for b in out[i + 1:])


def kept_and_carried(x):
    h0 = np.tanh(x)
    h = h0
    for _ in range(3):
        h = np.sin(h) * 1.5
    return h0, np.sum(h)


def test_a_result_a_tape_also_keeps_is_its_own_memory(called, monkeypatch):
    """A value returned and carried into a loop, which tapes it as it is: the caller changing
    the result must not change what the pullback reads."""
    monkeypatch.setitem(OPTIONS, "whole", True)
    monkeypatch.setattr(rt, "LOOPS", "compile")
    x = np.linspace(-1, 1, 5)

    def total(x):
        return np.sum(kept_and_carried(x)[0]) + kept_and_carried(x)[1]
    want = finite_differences(total, [x], 0)
    (h0, s), pullback = adc.vjp(kept_and_carried, x, backend="numba")
    assert isinstance(called[0], rt.Whole) and called[0].warm
    np.testing.assert_allclose(h0, np.tanh(x), rtol=1e-15)
    h0 -= 1.0
    (g,) = pullback((np.ones(5), np.float64(1.0)))
    np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-8)
