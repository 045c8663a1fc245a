"""A program's first calls on the NumPy reference while a child process compiles its kernels.

Numba compiles a cold program's kernels before its first call (precompile.py), and that call
waits: a 6-atom Lennard-Jones cluster's Hessian took 1.7 s where the NumPy backend's took 0.4
(benchmarks/first_calls.py, a 2-core Intel Xeon VM). `first_calls(driver, built, reference)`
is the driver as the program calls it. `FIRST_CALLS` (env `ADCOMPILER_FIRST_CALLS`) says what
its first call does:

- `numpy` (default): where a kernel is to be compiled (the dry run finds one not compiled in
  this process nor in Numba's disk cache, precompile.pending; for a driver with a loop, which is
  not dry-run: a kernel module of which that cache holds nothing), a child process
  (`_compile_run`, one at a time: precompile.start_aside) is given the program `built` and runs
  it once on the call's arguments, with loops as Python, so its kernels compile into Numba's
  disk cache (precompile.prepare first: those the dry run finds compile on every core).
  Meanwhile calls run `reference()` (the NumPy backend's code of the same IR: the same results,
  to rounding), as kernels do: with no floating-point error or warning (the caller's NaN check
  runs the NumPy program again for one). Then the driver's kernels load from that cache and it
  runs. Once the process's reference calls have spent `SPEND` seconds, a call waits for its
  driver's child, and a driver with none compiles its kernels at its call, as in `compile` mode:
  a training loop's NumPy steps would slow the compiling they wait for (the tiny GPT example's
  300 steps: 14.9 s without the bound, 8.9 with it, 7.1 compiling at the first call, which then
  took 4.9 s, not 1.1). Where a child cannot start yet (another is running), or the call it was
  given raised (most kernels would then compile at the switch), the call runs the reference and
  the next tries again; where it cannot start at all, the kernels compile at this call, and
  where it failed or was stopped (precompile.ASIDE_LIMIT), at the next.
- `compile`: the kernels compile here, before the first call returns (precompile.prepare), as
  the backend's tests and benchmarks want; so too with `ADCOMPILER_PROFILE=1` (a profile is
  of the kernels).

A child costs this process nothing but the cores it shares: where one kernel is to be
compiled (~0.3-1 s), the call does not wait for it either. Once the driver runs, the wrapper
costs a lookup per call.
"""
from __future__ import annotations

import threading
import time

import numpy as np
from numba.core.errors import NumbaError

from . import precompile, runtime
from .options import FIRST_CALLS, OPTIONS


SPEND = 1.0     # seconds of reference calls a process makes before its drivers wait for kernels
_spent = 0.0    # (those it has made)


def first_calls(driver, built, reference):
    """See the module docstring. `built`: the program (program.build's); `reference()` gives
    the NumPy backend's function."""
    state = {"run": None, "child": None}
    lock = threading.Lock()

    def decide(args):
        """Which function runs this call: the driver, or (while a child compiles) the
        reference's."""
        child, seen = state["child"], None
        if child is None:           # (the first call)
            if FIRST_CALLS == "compile" or OPTIONS["profile"]:
                return _ready(args)
            count, seen = precompile.pending(driver, args)
            if not count:
                return _ready(args, seen)
        if child in (None, "waiting"):
            if _spent >= SPEND:
                return _ready(args, seen)
            child = state["child"] = precompile.start_aside(_compile_run,
                                                            (built, driver.__name__, args))
            if child is False:
                return _ready(args, seen)
            if child is None:       # (another child is compiling: try again next call)
                state["child"] = "waiting"
                return _reference()
        status = precompile.aside_status(child)
        if status == "running" and _spent >= SPEND:
            status = precompile.wait_aside(child)
        if status == "running":
            return _reference()
        if status in ("gone", "raised"):    # (the parent's, in a forked worker; or the call
            state["child"] = "waiting"      # it was given raised: another child, another call)
            return _reference()
        return _ready(args)

    def _ready(args, seen=None):
        precompile.prepare(driver, args, seen)  # (loads what a child compiled; compiles the rest)
        state["run"] = driver
        return driver

    def _reference():
        fn = reference()

        def timed(*args):
            global _spent
            t0 = time.perf_counter()
            try:    # (as kernels: no floating-point error or warning, the caller's NaN check
                with np.errstate(all="ignore"):     # runs the NumPy program again for one)
                    return fn(*args)
            finally:
                _spent += time.perf_counter() - t0
        return timed

    def call(*args):
        run = state["run"]
        if run is None:
            with lock:
                run = state["run"] or decide(args)
        return run(*args)

    return call


def _compile_run(built, name, args):
    """In a child process: run the driver `name` of the program `built` on `args`, compiling
    its kernels into Numba's disk cache; an error of the run exits with status
    precompile.RAISED (what it compiled is cached), Numba's with precompile.CANNOT."""
    from .program import namespace     # (it imports this module)
    runtime.LOOPS = "python"            # (a loop's kernels are what is wanted, not the loop)
    driver = namespace(name, built)[name]
    precompile.prepare(driver, args)
    try:
        with np.errstate(all="ignore"):
            driver(*args)
    except NumbaError:      # (child() exits precompile.CANNOT)
        raise
    except Exception:   # noqa: BLE001
        raise SystemExit(precompile.RAISED) from None
