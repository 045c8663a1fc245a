"""Compiling a driver's kernels before its first call (`precompile.py`): the dry run finds the
kernel calls and argument types of the real call (also past a gather whose indices a kernel
computes), a child process compiles some of them into Numba's disk cache, the real call then
loads them and computes what NumPy computes, and a driver with a loop is left alone. (These
small functions' drivers are not written to run compiled whole, option `whole`: a driver that
does so once hot runs no kernel of its own then.)"""
import os
import subprocess
import sys

import numpy as np
import pytest

from adcompiler.ad import differentiate
from adcompiler.backends.numba_cpu import cache, precompile, program, runtime
from adcompiler.backends.numba_cpu.options import OPTIONS
from adcompiler.frontend import trace


@pytest.fixture(autouse=True)
def drivers_only(monkeypatch):
    monkeypatch.setitem(OPTIONS, "whole", False)


def xent(w, x, t):
    """Softmax cross-entropy of tanh(x @ w) at targets t: a gather at indices built from t."""
    z = np.tanh(x @ w) * 3.0
    z = z - np.max(z, axis=-1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))
    return -np.mean(logp[np.arange(t.shape[0]), t]) + np.sum(w * w) * 0.5


RNG = np.random.default_rng(0)
ARGS = (RNG.standard_normal((6, 5)), RNG.standard_normal((9, 6)), RNG.integers(0, 5, 9))


def reference(w, x, t):
    z = np.tanh(x @ w) * 3.0
    p = np.exp(z - z.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(len(t)), t])) + 0.5 * np.sum(w * w)
    dz = p.copy()
    dz[np.arange(len(t)), t] -= 1.0
    dz *= 3.0 / len(t)
    return loss, x.T @ (dz * (1 - np.tanh(x @ w) ** 2)) + w


def assert_reference(loss, grad):
    """`loss` and `grad` (with respect to w) are the hand-written NumPy gradient's."""
    want_loss, want_grad = reference(*ARGS)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-12)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-10, atol=1e-12)


def _driver():
    """The driver of xent's gradient with respect to w."""
    fn = program.spliced(differentiate(trace(xent, *ARGS), [0]), "xent_grad")
    _, ns, _ = program.build("xent", lambda: [(fn, True)])
    return ns["xent_grad"]


def test_the_dry_run_finds_the_calls_of_the_real_one(monkeypatch):
    driver = _driver()
    predicted = precompile._dry_run(driver, ARGS).calls
    real = []

    def recording(run):
        def call(kernel, rows, *args):
            real.append(kernel)
            return run(kernel, rows, *args)
        return call
    monkeypatch.setattr(runtime, "run", recording(runtime.run))
    monkeypatch.setattr(runtime, "launch", recording(runtime.launch))
    (loss, grad) = driver(*ARGS)
    assert_reference(loss, grad)
    assert len(real) >= 4
    assert [k for k, _ in predicted] == list(dict.fromkeys(real))    # every kernel, in order
    for kernel, sig in predicted:   # the types the real call compiled (or loaded) it for
        assert tuple(sig) in [tuple(s) for s in kernel.body.signatures]


def test_the_dry_run_types_arguments_as_numba_does():
    import numba
    a = np.arange(24.0).reshape(2, 3, 4)
    frozen = a.copy()
    frozen.flags.writeable = False
    odd = np.frombuffer(np.zeros(8 * 7 + 1, np.uint8)[1:].data, np.float64)   # unaligned
    values = [a, a.T, a[:, ::2], a[0], a[0, 0, 0], frozen, odd, np.zeros((1, 1), np.float32),
              np.zeros(0, np.int64), np.float32(1), 3, 2.5, True, np.zeros(3, bool)]
    for _ in range(2):          # the second time from what the first remembered
        assert precompile._signature(values) == tuple(numba.typeof(x) for x in values)


@pytest.fixture
def cold_kernels(tmp_path, monkeypatch):
    """An empty kernel cache (files and Numba's machine code) for this test."""
    monkeypatch.setenv("ADCOMPILER_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(cache, "_MODULES", {})


def test_a_child_process_compiles_kernels_the_real_call_loads(cold_kernels, monkeypatch):
    monkeypatch.setattr(precompile, "MIN_JOBS", 2)
    driver = _driver()
    calls = precompile._dry_run(driver, ARGS).calls
    assert not any(precompile._cached(k.body, sig) for k, sig in calls)
    precompile.prepare(driver, ARGS)
    assert all(precompile._cached(k.body, sig) for k, sig in calls)     # on disk now
    by_child = [k for k, sig in calls if sum(k.body._cache_hits.values()) == 1]  # loaded
    assert by_child

    def loads_and_compiles():
        return [sum(k.body._cache_hits.values()) + sum(k.body._cache_misses.values())
                for k, _ in calls]
    before = loads_and_compiles()
    loss, grad = driver(*ARGS)
    assert loads_and_compiles() == before       # the real call found every kernel ready
    assert_reference(loss, grad)


def test_a_warm_start_loads_the_kernels_without_refreshing_numba(cold_kernels, monkeypatch):
    """A second process finds every kernel on disk; loading them skips Numba's target refresh
    (~0.6 s of imports on a process's first load), and the kernels compute what NumPy does."""
    monkeypatch.setattr(precompile, "MIN_JOBS", 2)
    first = _driver()
    precompile.prepare(first, ARGS)
    first(*ARGS)                        # also compiles the runtime's own scatter_add
    monkeypatch.setattr(cache, "_MODULES", {})  # as in a new process: new, empty dispatchers
    driver = _driver()

    def no(*_):
        raise AssertionError("Numba's target context refreshed")
    monkeypatch.setattr(type(runtime._scatter_add.targetctx), "refresh", no)
    seen = precompile._dry_run(driver, ARGS)
    assert [f for f, _ in seen.helpers] == [runtime._scatter_add]
    assert all(sig in runtime._scatter_add.signatures for _, sig in seen.helpers)
    precompile.prepare(driver, ARGS)
    loss, grad = driver(*ARGS)
    assert_reference(loss, grad)
    assert all(sum(k.body._cache_hits.values()) == 1 for k, _ in seen.calls)
    # and in a new process, whose Numba has set up nothing (its runtime, NRT, included)
    done = subprocess.run([sys.executable, "-c", FRESH_PROCESS], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)), timeout=300)
    assert done.stdout.strip().endswith("same gradient"), done.stderr


FRESH_PROCESS = f"""
import sys
import numba.core.base

def no(*_):
    raise AssertionError("Numba's target context refreshed")
numba.core.base.BaseContext.refresh = no
sys.path.insert(0, {os.path.dirname(__file__)!r})
import test_numba_precompile as t
from adcompiler.backends.numba_cpu import precompile
driver = t._driver()
precompile.prepare(driver, t.ARGS)
loss, grad = driver(*t.ARGS)
t.assert_reference(loss, grad)
print("same gradient")
"""


def test_a_driver_with_a_loop_is_not_dry_run(monkeypatch):
    def halve(x):
        while np.sum(x * x) > 1.0:
            x = x * 0.5
        return x

    fn = program.inlined(trace(halve, np.full(3, 4.0)))
    _, ns, _ = program.build(fn.name, lambda: [(fn, True)])

    def no(*_):
        raise AssertionError("dry-run")
    monkeypatch.setattr(precompile, "_dry_run", no)
    precompile.prepare(ns[fn.name], (np.full(3, 4.0),))


def test_without_child_processes_this_process_compiles_them_all(cold_kernels, monkeypatch):
    def no_interpreter(*_, **__):
        raise OSError("no interpreter here")
    monkeypatch.setattr(precompile, "MIN_JOBS", 2)
    monkeypatch.setattr(precompile.subprocess, "Popen", no_interpreter)
    driver = _driver()
    calls = precompile._dry_run(driver, ARGS).calls
    precompile.prepare(driver, ARGS)
    assert all(sig in k.body.overloads for k, sig in calls)     # compiled here, every one
    loss, grad = driver(*ARGS)
    np.testing.assert_allclose(grad, reference(*ARGS)[1], rtol=1e-10, atol=1e-12)


def test_the_dry_run_leaves_a_function_compiled_whole_alone(monkeypatch):
    """It runs the driver's own steps: the compiled function neither runs nor counts their
    time (the first call would be its second run, and the function hot before its time)."""
    monkeypatch.setitem(OPTIONS, "whole", True)
    monkeypatch.setattr(runtime, "LOOPS", "compile")
    driver = _driver()
    (whole,) = [v.WHOLE for v in driver.__globals__.values()
                if isinstance(getattr(v, "WHOLE", None), runtime.Whole)]
    monkeypatch.setattr(whole, "compiled", None)    # never called
    monkeypatch.setattr(whole, "spent", 0.0)
    assert len(precompile._dry_run(driver, ARGS).calls) >= 4
    assert whole.spent == 0.0 and not whole.warm


def _sleeper():
    """A stand-in for a compiling child: a process that runs until stopped."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    child.owner, child.started = os.getpid(), precompile.time.monotonic()
    return child


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX's")
def test_a_forked_process_does_not_take_its_parents_child_for_done():
    """In a forked worker, poll() of the parent's compiling child reads 0 (the child is not
    the worker's): the worker took it for done and compiled the loop itself, stopping ~20 s."""
    child = _sleeper()
    try:
        assert precompile.aside_status(child) == "running"
        pid = os.fork()
        if pid == 0:
            os._exit(0 if precompile.aside_status(child) == "gone" else 1)
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
        assert precompile.aside_status(child) == "running"
    finally:
        precompile._stop(child)


def test_an_interrupted_compile_stops_its_children(monkeypatch):
    """Ctrl-C during a first call's compile left the children compiling on, then zombies."""
    started = []

    def start(_payload):
        started.append(_sleeper())
        return started[-1]

    def interrupted(*_):
        raise KeyboardInterrupt
    monkeypatch.setattr(precompile, "THREADS", 3)
    monkeypatch.setattr(precompile, "_start_child", start)
    monkeypatch.setattr(precompile, "_compile", interrupted)
    jobs = [(precompile, (k,)) for k in range(precompile.MIN_JOBS)]
    monkeypatch.setattr(precompile, "KEY", "k", raising=False)
    with pytest.raises(KeyboardInterrupt):
        precompile._compile_all(jobs)
    assert len(started) == 2 and all(c.returncode is not None for c in started)
