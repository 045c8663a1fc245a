"""A program's first calls on the NumPy reference while a child process compiles its kernels
(`tier.py`, ADCOMPILER_FIRST_CALLS=numpy, the users' default): the calls give the gradient
meanwhile, compile nothing here, and once the child is done the kernels load from Numba's disk
cache; a child that fails, cannot start or must wait leaves the program correct. Each test
has a kernel cache folder of its own (its kernels start cold) and a function of its own (a
kernel module loaded once serves the whole process)."""
import numpy as np
import pytest

import adcompiler as adc
from adcompiler.backends import numpy as numpy_backend
from adcompiler.backends.numba_cpu import cache, precompile, tier
from adcompiler.backends.numba_cpu.options import OPTIONS
from children import Child

# (a closure per constant is traced once per closure, as the warning says: here on purpose)
pytestmark = pytest.mark.filterwarnings("ignore:.*traced and compiled again")

RNG = np.random.default_rng(3)
X = RNG.standard_normal((5, 4))


@pytest.fixture
def cold(tmp_path, monkeypatch):
    """Users' first calls, an empty cache folder, no child of another test's; gives the names
    of the functions run by the NumPy reference (grad, fwd, bwd; function: jit's), in order."""
    monkeypatch.setenv("ADCOMPILER_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tier, "FIRST_CALLS", "numpy")
    monkeypatch.setattr(precompile, "_aside", None)
    monkeypatch.setattr(tier, "_spent", 0.0)
    monkeypatch.setitem(OPTIONS, "whole", False)    # (kernels only: no function compiled whole)
    ran = []

    def counted(name, fn):
        return lambda *args: ran.append(name) or fn(*args)

    class Counted(numpy_backend.AdjointProgram):
        def __init__(self, *args):
            super().__init__(*args)
            self.functions = {k: counted(k, f) for k, f in self.functions.items()}
    monkeypatch.setattr(numpy_backend, "AdjointProgram", Counted)
    compile_function = numpy_backend.compile_function
    monkeypatch.setattr(numpy_backend, "compile_function",
                        lambda fn: counted("function", compile_function(fn)))
    return ran


def rational(c):
    """A function of its own per `c` (its kernels' source differs)."""
    def f(x):
        return np.sum(np.tanh(x * c) ** 2 + np.exp(-x * x * c)) / c
    return f


def rational_grad(c, x):
    t = np.tanh(x * c)
    return (2 * t * (1 - t * t) * c - 2 * x * c * np.exp(-x * x * c)) / c


def new_kernels(before):
    return [m for k, m in cache._MODULES.items() if k not in before]


def test_first_calls_run_the_reference_while_a_child_compiles_then_the_kernels(cold):
    f, before = rational(1.7), set(cache._MODULES)
    g = adc.grad(f, backend="numba")
    np.testing.assert_allclose(g(X), rational_grad(1.7, X), rtol=1e-10, atol=1e-14)
    kernels = new_kernels(before)
    child = precompile._aside
    assert kernels and child is not None and cold == ["grad"]
    assert not any(m.body.overloads for m in kernels)       # nothing compiled here
    assert child.wait() == 0
    np.testing.assert_allclose(g(X), rational_grad(1.7, X), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(g(X * 2), rational_grad(1.7, X * 2), rtol=1e-10, atol=1e-14)
    assert all(m.body.overloads for m in kernels) and cold == ["grad"]
    # loaded from the disk cache the child wrote, not compiled here
    assert not any(sum(m.body.stats.cache_misses.values()) for m in kernels)


@pytest.mark.parametrize("first", ["fwd", "bwd"])
def test_a_hessians_sweeps_give_the_same_values_whichever_code_runs_each(
        cold, monkeypatch, first):
    """The forward and backward sweeps switch each at its own time: residuals of one code pass
    to the other, in either order."""
    children = []
    monkeypatch.setattr(precompile, "_start_child",
                        lambda payload, group=False: children.append(Child()) or children[-1])
    c = 2.3 if first == "fwd" else 2.9
    h = adc.hessian(rational(c), backend="numba")
    t = np.tanh(X * c)
    want = (-2 * c * (1 - t * t) * (3 * t * t - 1)
            + 2 * np.exp(-X * X * c) * (2 * X * X * c - 1))   # d/dx of rational_grad
    on_reference = []
    for step in range(4):
        del cold[:]
        H = h(X)
        np.testing.assert_allclose(np.einsum("ijij->ij", H), want, rtol=1e-10, atol=1e-12)
        assert np.count_nonzero(H) == X.size
        on_reference.append(sorted(set(cold)))
        monkeypatch.setattr(precompile, "_aside", None)     # (the next child may start)
        if step == 1:       # (the forward's child started first, the backward's then)
            children["fwd bwd".split().index(first)].status = 0
        if step == 2:
            children[0].status = children[1].status = 0
    other = "bwd" if first == "fwd" else "fwd"
    assert on_reference == [["bwd", "fwd"], ["bwd", "fwd"], [other], []]


def test_a_child_that_fails_leaves_the_kernels_to_compile_here(cold, monkeypatch):
    child = Child()
    monkeypatch.setattr(precompile, "_start_child", lambda payload, group=False: child)
    f, before = rational(3.1), set(cache._MODULES)
    g = adc.grad(f, backend="numba")
    np.testing.assert_allclose(g(X), rational_grad(3.1, X), rtol=1e-10, atol=1e-14)
    assert not any(m.body.overloads for m in new_kernels(before))
    child.status = 1
    np.testing.assert_allclose(g(X), rational_grad(3.1, X), rtol=1e-10, atol=1e-14)
    assert all(m.body.overloads for m in new_kernels(before))


def test_where_no_child_can_start_the_first_call_compiles(cold, monkeypatch):
    monkeypatch.setattr(precompile, "_start_child", lambda payload, group=False: None)
    f, before = rational(4.3), set(cache._MODULES)
    np.testing.assert_allclose(adc.grad(f, backend="numba")(X), rational_grad(4.3, X),
                               rtol=1e-10, atol=1e-14)
    assert all(m.body.overloads for m in new_kernels(before)) and not cold


def test_while_another_child_compiles_the_reference_runs_and_the_next_call_tries_again(
        cold, monkeypatch):
    started = []
    monkeypatch.setattr(precompile, "_aside", Child())
    monkeypatch.setattr(precompile, "_start_child",
                        lambda payload, group=False: started.append(Child(0)) or started[-1])
    f, before = rational(5.9), set(cache._MODULES)
    g = adc.grad(f, backend="numba")
    for _ in range(2):
        np.testing.assert_allclose(g(X), rational_grad(5.9, X), rtol=1e-10, atol=1e-14)
    assert not started and cold == ["grad", "grad"]
    precompile._aside.status = 0
    np.testing.assert_allclose(g(X), rational_grad(5.9, X), rtol=1e-10, atol=1e-14)
    assert len(started) == 1
    assert all(m.body.overloads for m in new_kernels(before))


@pytest.mark.parametrize("mode", ["compile", "cached"])
def test_no_child_where_the_first_call_is_to_compile_or_the_kernels_are_cached(
        cold, monkeypatch, mode):
    c = 6.7 if mode == "compile" else 7.9
    if mode == "compile":
        monkeypatch.setattr(tier, "FIRST_CALLS", "compile")
    else:   # (compiled by another program of the same function)
        monkeypatch.setattr(tier, "FIRST_CALLS", "compile")
        adc.grad(rational(c), backend="numba")(X)
        monkeypatch.setattr(tier, "FIRST_CALLS", "numpy")

    def start(payload, group=False):
        raise AssertionError("a child started")
    monkeypatch.setattr(precompile, "_start_child", start)
    g = adc.grad(rational(c), backend="numba")
    np.testing.assert_allclose(g(X), rational_grad(c, X), rtol=1e-10, atol=1e-14)
    assert not cold


def test_a_function_traced_and_run_whole_starts_on_the_reference_too(cold):
    """compile_function's programs (`jit`) tier as gradients do."""
    f, before = rational(8.3), set(cache._MODULES)
    run = adc.jit(f, backend="numba")
    np.testing.assert_allclose(run(X), f(X), rtol=1e-10, atol=1e-14)
    child = precompile._aside
    assert child is not None and not any(m.body.overloads for m in new_kernels(before))
    assert child.wait() == 0 and cold == ["function"]
    np.testing.assert_allclose(run(X), f(X), rtol=1e-10, atol=1e-14)
    assert all(m.body.overloads for m in new_kernels(before)) and cold == ["function"]


def test_once_the_reference_has_spent_its_time_calls_wait_for_the_kernels(cold, monkeypatch):
    """A training loop's NumPy steps would slow the compiling they wait for: past `SPEND`
    seconds of reference calls, a call waits for its driver's child, and a new program
    compiles at its first call, with no child."""
    waited = []

    class Ending(Child):
        def wait(self, timeout=None):
            waited.append(timeout)
            self.status = 0
            return 0
    monkeypatch.setattr(precompile, "_start_child", lambda payload, group=False: Ending())
    f, before = rational(9.1), set(cache._MODULES)
    g = adc.grad(f, backend="numba")
    np.testing.assert_allclose(g(X), rational_grad(9.1, X), rtol=1e-10, atol=1e-14)
    assert cold == ["grad"] and not waited and 0.0 < tier._spent < tier.SPEND
    monkeypatch.setattr(tier, "_spent", tier.SPEND)
    np.testing.assert_allclose(g(X), rational_grad(9.1, X), rtol=1e-10, atol=1e-14)
    assert cold == ["grad"] and len(waited) == 1 and waited[0] > 0
    assert all(m.body.overloads for m in new_kernels(before))

    def start(payload, group=False):
        raise AssertionError("a child started")
    monkeypatch.setattr(precompile, "_start_child", start)
    np.testing.assert_allclose(adc.grad(rational(9.7), backend="numba")(X),
                               rational_grad(9.7, X), rtol=1e-10, atol=1e-14)
    assert cold == ["grad"]


def test_a_child_whose_call_raised_is_followed_by_one_given_the_next_call(cold, monkeypatch):
    """The program raised at the first call's arguments (an index out of bounds), so its child
    compiled few kernels: the next call's arguments go to another child, not to a compile
    here at the switch (3.7 s)."""
    started = []
    monkeypatch.setattr(precompile, "_start_child", lambda payload, group=False: started.append(
        Child(None if started else precompile.RAISED)) or started[-1])
    g = adc.grad(rational(10.3), backend="numba")
    for _ in range(2):
        np.testing.assert_allclose(g(X), rational_grad(10.3, X), rtol=1e-10, atol=1e-14)
    assert len(started) == 2 and cold == ["grad", "grad"]
    started[-1].status = 0
    np.testing.assert_allclose(g(X), rational_grad(10.3, X), rtol=1e-10, atol=1e-14)
    assert len(started) == 2 and cold == ["grad", "grad"]


def reciprocal_sum(x):
    return np.sum(1.0 / x + x)


def test_the_reference_raises_no_floating_point_error_as_kernels_do(cold, monkeypatch):
    """Under the caller's np.errstate(divide="raise"), the NumPy code raised a NaNError for a
    division by 0 that made no NaN; the kernels after the switch return -inf."""
    monkeypatch.setattr(precompile, "_start_child", lambda payload, group=False: Child())
    x = np.array([1.0, 0.0])
    with np.errstate(divide="raise"):
        got = adc.grad(reciprocal_sum, backend="numba")(x)
    assert cold == ["grad"]
    np.testing.assert_array_equal(got, [0.0, -np.inf])
