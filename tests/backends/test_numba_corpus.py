"""The Numba backend against the NumPy reference on one corpus of small models (corpus.py):
the primal (`jit`), the gradients (`value_and_grad`), the separate forward/backward sweeps
(`vjp`), in float64 and float32; and float64 gradients against finite differences. Nothing is
compared with the Numba backend's own output."""
import os

import numpy as np
import pytest

import adcompiler
from adcompiler.backends import numba_cpu

from corpus import CASES

DTYPES = ("float64", "float32")
TOL = {"float64": dict(rtol=1e-9, atol=1e-11), "float32": dict(rtol=2e-4, atol=2e-5)}


def assert_tree_close(got, ref, dt, path="result"):
    if isinstance(ref, dict):
        assert isinstance(got, dict) and got.keys() == ref.keys(), path
        for k in ref:
            assert_tree_close(got[k], ref[k], dt, f"{path}[{k!r}]")
    elif isinstance(ref, (list, tuple)):
        assert len(got) == len(ref), path
        for i, (g, r) in enumerate(zip(got, ref, strict=True)):
            assert_tree_close(g, r, dt, f"{path}[{i}]")
    elif ref is None:
        assert got is None, path
    else:
        g, r = np.asarray(got), np.asarray(ref)
        assert g.shape == r.shape and g.dtype == r.dtype, (path, g.shape, r.shape, g.dtype,
                                                           r.dtype)
        scale = max(float(np.max(np.abs(r), initial=0.0)), 1.0)
        np.testing.assert_allclose(g, r, rtol=TOL[dt]["rtol"], atol=TOL[dt]["atol"] * scale,
                                   err_msg=path)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_primal_matches_numpy(name, dt):
    f, make, _ = CASES[name]
    args = make(dt)
    ref = f(*args)          # the plain NumPy function itself
    got = adcompiler.jit(f, backend="numba")(*args)
    assert_tree_close(got, ref, dt)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_numpy(name, dt):
    f, make, wrt = CASES[name]
    args = make(dt)
    ref = adcompiler.value_and_grad(f, wrt=wrt, backend="numpy")(*args)
    got = adcompiler.value_and_grad(f, wrt=wrt, backend="numba")(*args)
    assert_tree_close(got, ref, dt)


@pytest.mark.parametrize("name", ["mlp", "rnn", "gpt_tiny"])
def test_vjp_sweeps_match_numpy(name):
    f, make, _ = CASES[name]
    args = make("float64")
    value_ref, pull_ref = adcompiler.vjp(f, *args, backend="numpy")
    value, pull = adcompiler.vjp(f, *args, backend="numba")
    assert_tree_close(value, value_ref, "float64")
    assert_tree_close(pull(np.float64(0.75)), pull_ref(np.float64(0.75)), "float64")


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_finite_differences(name):
    f, make, wrt = CASES[name]
    adcompiler.check_grad(f, *make("float64"), wrt=wrt, backend="numba", rtol=1e-6)


def test_repeated_calls_reuse_buffers_without_aliasing():
    """Planned buffers are reused between calls: the gradients of an earlier call (every leaf
    of the tree) stay intact."""
    from adcompiler.optim import flatten
    f, make, wrt = CASES["gpt_tiny"]
    args = make("float32")
    g = adcompiler.value_and_grad(f, wrt=wrt, backend="numba")
    _, grads = g(*args)
    paths, leaves = flatten(grads)
    snapshot = [np.copy(x) for x in leaves]
    args2 = make("float32")
    args2[0]["wte"] = args2[0]["wte"] * 2
    g(*args2)
    assert len(paths) > 10
    for path, x, before in zip(paths, flatten(grads)[1], snapshot, strict=True):
        np.testing.assert_array_equal(x, before, err_msg=path)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
def test_planned_buffers_are_not_shared_with_a_forked_child():
    """A child process forked after a program ran (a data loader's worker) writes into its own
    copy of the program's buffers, not into the parent's."""
    from adcompiler.backends.numba_cpu.memory import _pages
    buf = _pages(1 << 16)
    buf[:] = 1
    pid = os.fork()
    if pid == 0:
        buf[:] = 2
        os._exit(0)
    os.waitpid(pid, 0)
    assert (buf == 1).all()


def test_program_source_shows_drivers_and_kernels():
    f, make, wrt = CASES["norms"]
    g = adcompiler.value_and_grad(f, wrt=wrt, backend="numba")
    src = g.adjoint_source(*make("float32"))
    assert "def norms_grad(" in src and "# ----- kernel k_" in src and "@njit(" in src
    assert "corpus.py:" in src          # the user's lines are quoted


def test_row_patterns_fuse_into_one_kernel():
    """Layer norm, then log-softmax, then exp of `norms`: four row reductions in a chain, one
    kernel that reads x once and writes logp and p."""
    f, make, _ = CASES["norms"]
    call = numba_cpu.compile_function(adcompiler.frontend.trace(f, *make("float32")))
    driver = call.source.split("# ===== kernels =====")[0]
    reads_x = [ln for ln in driver.splitlines() if "rt.run(k_" in ln and ", x," in ln]
    assert len(reads_x) == 1 and reads_x[0].strip().endswith("logp, p)"), driver


def _log_of_shifted(x):
    y = np.log(x - 1.0)
    return np.sum(y * y)


def test_nan_is_reported_at_the_users_line():
    from adcompiler.runtime.nans import NaNError
    g = adcompiler.grad(_log_of_shifted, backend="numba")
    g(np.array([2.0, 3.0]))
    with pytest.raises(NaNError, match=r"test_numba_corpus.py:\d+ in 'y = np.log\(x - 1.0\)'"):
        g(np.array([2.0, 0.5]))


def _log_and_sqrt(x):
    y = np.log(x)                   # log(0): NumPy warns of a division by zero
    return np.sum(y * 0.0 + np.sqrt(x - 1.0))


def test_a_nan_error_comes_without_the_references_warnings():
    """The NaN is located by running the NumPy reference again; its warnings (here a
    division by zero) are not the Numba backend's to give."""
    import warnings
    from adcompiler.runtime.nans import NaNError
    with warnings.catch_warnings(record=True) as caught, pytest.raises(NaNError):
        warnings.simplefilter("always")
        adcompiler.grad(_log_and_sqrt, backend="numba")(np.array([0.0, 2.0]))
    assert not caught, [str(w.message) for w in caught]


def _gpt_tiny_grad_arena():
    """The buffer arena of the tiny GPT's fused gradient driver (float32)."""
    from adcompiler.backends.numba_cpu.program import build, spliced
    from adcompiler.ad import differentiate
    f, make, wrt = CASES["gpt_tiny"]
    primal = adcompiler.frontend.trace(f, *make("float32"))
    adj = differentiate(primal, [i for i, a in enumerate(primal.args) if a.type.is_float],
                        seeded=(0,))
    _, ns, _ = build("g", lambda: [(spliced(adj, "g"), False)])
    return ns["arena_g"]


def test_planned_buffers_are_shared_by_values_with_disjoint_lifetimes():
    arena = _gpt_tiny_grad_arena()
    planned = sum(e.nbytes for e in arena.entries)
    assert len(arena.entries) > 20 and arena.nbytes < 0.6 * planned, (arena.nbytes, planned)


def test_values_read_only_transposed_are_stored_transposed():
    """The q/k/v gradient of the GPT block is read only as `transpose(., (1, 3, 0, 2, 4))`: its
    planned buffer is laid out in that order, so the transpose and the reshape after it are
    views (no copy), and the gradients still match the NumPy reference (test above)."""
    arena = _gpt_tiny_grad_arena()
    assert (1, 3, 0, 2, 4) in [e.perm for e in arena.entries], arena.entries
    for e, view in zip(arena.entries, arena.take(), strict=True):
        assert view.shape == e.shape and view.dtype == e.dtype
        perm = e.perm
        if perm:
            assert not view.flags.c_contiguous and view.transpose(perm).flags.c_contiguous


def _grad_driver_source(name):
    f, make, wrt = CASES[name]
    src = adcompiler.grad(f, wrt=wrt, backend="numba").adjoint_source(*make("float64"))
    return src[src.index(f"def {name}_grad("):src.index("# ===== kernels")]


def test_products_write_into_the_slices_they_are_assembled_into():
    """The gradients of q, k and v (slices of one product) are products that write into their
    slices of that product's gradient, one through a transpose, so no kernel assembles it;
    with a slice left unread the gradient keeps zeros there, and a kernel still assembles it.
    The values are checked against the reference and finite differences above."""
    src = _grad_driver_source("split_products")
    assert src.count("  # in d_") == 3 and "np.transpose(np.reshape(d_" in src, src
    assert "written by its products above" in src and "np.broadcast_to" not in src, src
    src = _grad_driver_source("split_gap")
    assert "  # in " not in src and "np.broadcast_to" in src, src


def test_show_prints_the_source_either_backend_generates():
    """`show(g, *args, backend=...)` prints g's IR and the source the named backend generates
    (the Numba driver with its kernels), whichever backend g itself uses; without arguments,
    that of g's last call, and a backend other than g's needs arguments to compile for."""
    import io
    f, make, wrt = CASES["mlp"]
    args = make("float64")
    g = adcompiler.grad(f, wrt=wrt, backend="numpy")
    printed = {}
    for backend in ("numba", "numpy", None):
        out = io.StringIO()
        adcompiler.show(g, *args, file=out, backend=backend)
        printed[backend] = out.getvalue()
    assert all(p.startswith("// primal") and "// backward" in p for p in printed.values())
    assert "# ===== kernels" in printed["numba"] and "rt.run(" in printed["numba"]
    assert "# =====" not in printed["numpy"] and "rt." not in printed["numpy"]
    assert printed[None] == printed["numpy"]
    out = io.StringIO()
    adcompiler.show(g, file=out)                    # the last call's
    assert out.getvalue() == printed["numpy"]
    with pytest.raises(adcompiler.AdcompilerError, match="needs example arguments"):
        adcompiler.show(g, backend="numba")
    with pytest.raises(adcompiler.AdcompilerError, match="what grad or value_and_grad"):
        adcompiler.show(f, *args)


def test_numba_is_the_default_backend(monkeypatch):
    from adcompiler.backends.numba_cpu.program import NumbaProgram
    monkeypatch.delenv("ADCOMPILER_BACKEND", raising=False)
    f, make, wrt = CASES["mlp"]
    args = make("float64")
    g = adcompiler.value_and_grad(f, wrt=wrt)
    got = g(*args)
    assert isinstance(g._last.program, NumbaProgram)
    assert_tree_close(got, adcompiler.value_and_grad(f, wrt=wrt, backend="numpy")(*args),
                      "float64")


def _scaled(x, s):
    return x * s, x + s


def test_returned_arrays_are_recycled_only_when_nothing_holds_them():
    f = adcompiler.jit(_scaled, backend="numba")
    x = np.arange(6.0)
    a, b = f(x, 2.0)
    a2, b2 = f(x, 3.0)              # a and b are still held: new arrays
    assert not np.shares_memory(a2, a) and not np.shares_memory(b2, b)
    np.testing.assert_array_equal(a, x * 2.0)
    keep = b[1:]                    # a view keeps b's memory alive
    del a, b
    a3, b3 = f(x, 4.0)
    assert not any(np.shares_memory(y, keep) for y in (a2, b2, a3, b3))
    np.testing.assert_array_equal(keep, (x + 2.0)[1:])
    for y, want in ((a2, x * 3.0), (b2, x + 3.0), (a3, x * 4.0), (b3, x + 4.0)):
        np.testing.assert_array_equal(y, want)


def _tanh_loss(w, x):
    return np.sum(np.tanh(x @ w) ** 2)


def test_calls_from_two_threads_at_once_use_their_own_buffers():
    """Each thread's calls have their own planned buffers and recycled results: one thread's
    call wrote into the other's (a few gradients in a hundred were wrong)."""
    import concurrent.futures
    g = adcompiler.grad(_tanh_loss, backend="numba")
    r = np.random.default_rng(0)
    inputs = [(r.standard_normal((32, 16)), r.standard_normal((16, 32))) for _ in range(1000)]
    # d/dw sum(tanh(x w)^2) = x^T (2 t (1 - t^2)), t = tanh(x w): NumPy, serially
    want = [x.T @ (2 * np.tanh(x @ w) * (1 - np.tanh(x @ w) ** 2)) for w, x in inputs]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        got = list(pool.map(lambda a: g(*a), inputs))
    assert sum(not np.allclose(a, b, rtol=1e-12) for a, b in zip(got, want)) == 0


def _eight(x):
    return tuple(x * float(i) for i in range(1, 9))


def test_every_returned_array_is_recycled_once_dropped(monkeypatch):
    """Eight results of one shape (an optimiser's new parameters of identical layers): all
    eight come back from the driver's arena, not from new memory, once the caller dropped them.
    (A function compiled whole, as this small one would be once hot, makes new arrays.)"""
    import weakref
    from adcompiler.backends.numba_cpu.options import OPTIONS
    monkeypatch.setitem(OPTIONS, "whole", False)
    f = adcompiler.jit(_eight, backend="numba")
    x = np.arange(5.0)
    first = f(x)
    refs = [weakref.ref(a) for a in first]
    del first
    again = f(x)
    assert all(r() is not None and any(r() is a for a in again) for r in refs)
    for i, a in enumerate(again, start=1):
        np.testing.assert_array_equal(a, x * i)


def test_arena_hands_out_a_returned_array_again_once_it_is_free():
    import weakref
    from adcompiler.backends.numba_cpu.memory import FREE_REFS, Arena
    assert FREE_REFS is not None            # CPython with the GIL: reference counts say it
    arena = Arena([], {})
    a = arena.fresh(1, (4,), np.float32)
    b = arena.fresh(1, (4,), np.float32)    # a is still held
    assert a is not b and arena.fresh(2, (4,), np.float64).dtype == np.float64
    was_a = weakref.ref(a)
    del a
    c = arena.fresh(1, (4,), np.float32)
    assert c is was_a()                     # the same array, not new memory
    view = c[1:]
    del c
    d = arena.fresh(1, (4,), np.float32)    # the view still holds it
    assert not np.shares_memory(d, view) and not np.shares_memory(d, b)
    held = [arena.fresh(3, (4,), np.float32) for _ in range(10)]    # a caller keeping all
    assert len({id(h) for h in held}) == 10 and len(arena._local.returned[3]) <= 3


def test_the_free_reference_count_is_calibrated_without_a_tracer():
    """Under a tracer that reads frame locals (a debugger showing variables), calibration
    read one reference more, and later calls overwrote results the user still held: with the
    count calibrated under one, an array this test holds must read as held, and as free once
    only its pool holds it."""
    import sys
    from adcompiler.backends.numba_cpu import memory

    def tracer(frame, event, arg):
        frame.f_locals
        return tracer
    before = sys.gettrace()
    sys.settrace(tracer)
    try:
        refs = memory._calibrate()
    finally:
        sys.settrace(before)
    pool = [np.empty(1)]
    held = pool[0]
    assert memory._first_free(pool, refs) is None
    del held
    assert memory._first_free(pool, refs) is pool[0]


def sin_cos_exp(x):
    a = np.sin(x) * 2.0
    b = np.cos(a) + x
    print("b sum", np.sum(b))
    return np.sum(np.exp(b) * a)


def test_a_call_from_inside_a_running_call_has_buffers_of_its_own(monkeypatch):
    """The same compiled gradient called again on the same thread while it runs (here from
    the print hook its own print reaches) wrote over the running call's buffers. Against the
    derivative by hand."""
    import io
    import sys
    g = adcompiler.grad(sin_cos_exp, backend="numba")
    x, y = np.linspace(-0.5, 0.5, 4), np.linspace(0.3, 0.9, 4)
    a, b = 2 * np.sin(x), np.cos(2 * np.sin(x)) + x
    want = np.exp(b) * (a * (1 - 2 * np.sin(a) * np.cos(x)) + 2 * np.cos(x))

    class Hook(io.StringIO):
        def write(self, s):
            if not hasattr(self, "done"):
                self.done = True
                g(y)
            return super().write(s)
    g(x)
    monkeypatch.setattr(sys, "stdout", Hook())
    got = g(x)
    monkeypatch.undo()
    np.testing.assert_allclose(got, want, rtol=1e-12)
