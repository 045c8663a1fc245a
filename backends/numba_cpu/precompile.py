"""Compiling a driver's kernels on several cores before its first call.

Numba compiles a kernel when it is first called, one after the other on the calling thread,
and holds a process-wide lock while it does: a cold start used one core of two (the medium
GPT's gradient: 20 kernels, 0.2-3.6 s each on an AMD Zen 1 VM). `prepare(driver, args)`, run
by the program on a driver's first call, instead

1. dry-runs the driver on `args` with a stand-in runtime that records each kernel call's
   argument types (`numba.typeof`) and runs nothing else of the runtime (no kernel, no
   product). The driver's own NumPy lines do run, on the uncomputed contents of its buffers,
   under `np.errstate(all="ignore")` (a user's `print` prints nothing); an exception ends the
   dry run with what it recorded.
   A driver with a loop (`for`, `while`, or the call of one written as a function of its
   own, loops.py) is not dry-run: on uncomputed values it might not end.
2. leaves out the kernels whose signature is already compiled in this process or in Numba's
   disk cache (a warm start compiles nothing and starts no process),
3. compiles the rest on `THREADS` cores: this process and `THREADS - 1` child processes
   (`child()` of this module) take the kernels, most expensive first (by source length), each
   claiming one by creating a file, and each writes what it compiled to Numba's disk cache.
4. loads every kernel the dry run saw (and the runtime's own `_scatter_add`) from that disk
   cache, less the refresh of Numba's CPU target that Numba's own first load in a process
   runs (`_load`): the warm start of the small GPT went from 2.8 to 2.0 s on that VM.

`compile_aside` starts such a child for one loop or function compiled whole that has got hot
(runtime.Compiled): it compiles into the disk cache while the program goes on as Python.
`start_aside` starts one for any function (tier.py's: a cold program's first run, while the
program's first calls run the NumPy reference's code); one such child runs at a time.

Everything here only saves time: a kernel the dry run missed (a branch it did not take, a
type it guessed wrong, a child that failed) is compiled on its first real call as before.
Fewer than `MIN_JOBS` kernels to compile are compiled lazily, as without this module: on that
VM a child process spends ~1.5 s importing and ~1.4 s initialising Numba's CPU target before
it compiles anything. Measured there: the cold first gradient of the small GPT went from
27.7 to 18.6 s.
"""
from __future__ import annotations

import atexit
import importlib
import linecache
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import time
import types

import numba
import numpy as np
from numba.core.compiler_lock import global_compiler_lock
from numba.core.errors import NumbaError
from numba.core.runtime import rtsys

from . import cache, runtime
from .options import THREADS

MIN_JOBS = 4
CANNOT = 3              # a child's exit status where Numba cannot compile a job
RAISED = 4              # ... where the program it ran raised (tier.py)
ASIDE_LIMIT = 300.0     # seconds after which a child compiling aside is stopped

_aside = None           # the child process compile_aside started last
_aside_lock = threading.Lock()


class _Recorder:
    """Stands in for the runtime module (`rt` in a driver) during a dry run."""

    def __init__(self):
        self.calls: dict = {}       # (kernel module, signature) -> None, in call order
        self.helpers: dict = {}     # (runtime's own jitted function, signature) -> None

    def __getattr__(self, name):
        return getattr(runtime, name)

    def run(self, kernel, rows, *args):
        """`kernel.body(chunk, first row, end row, *args, *partials)`'s types (the partials'
        do not depend on how many chunks there are)."""
        parts = runtime.partials(kernel, 1, args)
        self.calls.setdefault((kernel, _signature((0, 0, 1, *args, *parts))), None)

    launch = run

    def matmul(self, a, b, out):
        pass

    def tick(self, label, t0):
        pass

    def scatter_add(self, out, idx, v, axis):
        sig = _signature(runtime.scatter_operands(out, idx, v, axis))
        self.helpers.setdefault((runtime._scatter_add, sig), None)


def _signature(values) -> tuple:
    """`numba.typeof` of each value. An array's type depends only on its class, dtype, rank and
    flags, so it is asked once per kind: the medium GPT's dry run types ~1900 arguments of a
    few dozen kinds, and `typeof` took a third of the dry run."""
    sig = []
    for x in values:
        if type(x) is not np.ndarray:
            sig.append(numba.typeof(x))
            continue
        f = x.flags
        key = (x.dtype, x.ndim, f.c_contiguous, f.f_contiguous, f.writeable, f.aligned)
        if key not in _ARRAY_TYPES:
            _ARRAY_TYPES[key] = numba.typeof(x)
        sig.append(_ARRAY_TYPES[key])
    return tuple(sig)


_ARRAY_TYPES: dict = {}


class _NumPy:
    """Stands in for NumPy (`np` in a driver) during a dry run: indices computed by kernels
    that did not run are garbage, so `take` clips them instead of raising."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def take(a, indices, axis=None):
        return np.take(a, indices, axis=axis, mode="clip")


class _Steps:
    """Stands in for a function compiled whole (`w_<key>.WHOLE`, runtime.Whole) during a dry
    run: the driver runs its own steps, and the real one neither runs nor counts their time."""

    def __call__(self, *args):
        return runtime.NOT_YET

    def ran(self, t0):
        pass


def _dry_run(driver, args) -> _Recorder:
    """What `driver(*args)` would compile: the `_Recorder` it ran with as its `rt` (and
    every driver it calls), with `_NumPy` as their `np` and `_Steps` as their functions
    compiled whole."""
    recorder = _Recorder()
    # (a user's print, which the driver runs, prints nothing: the values are not computed)
    ns = dict(driver.__globals__, rt=recorder, np=_NumPy(), print=lambda *a, **k: None)
    for name, value in list(ns.items()):
        if isinstance(getattr(value, "WHOLE", None), runtime.Whole):
            ns[name] = types.SimpleNamespace(WHOLE=_Steps())
        if isinstance(value, types.FunctionType) and value.__globals__ is driver.__globals__:
            ns[name] = types.FunctionType(value.__code__, ns, value.__name__,
                                          value.__defaults__, value.__closure__)
    try:
        with np.errstate(all="ignore"):
            ns[driver.__name__](*args)
    except Exception:   # noqa: BLE001  garbage values may fail anywhere: keep what was seen
        pass
    return recorder


def pending(driver, args):
    """(how many of the driver's kernels are to be compiled, the dry run's record or None): for
    a driver with a loop, its kernel modules of which Numba's disk cache holds nothing."""
    if has_loops(driver):
        return sum(not cache.on_disk(m.body) for name, m in driver.__globals__.items()
                   if name.startswith("k_")), None
    seen = _dry_run(driver, args)
    return sum(not _cached(kernel.body, sig) for kernel, sig in seen.calls), seen


def _cached(dispatcher, sig) -> bool:
    """Is `sig` compiled in this process or in Numba's disk cache? (Numba's private cache API;
    where it differs, say yes: the kernel then compiles lazily, as without this module.)"""
    if sig in dispatcher.overloads:
        return True
    try:
        key = dispatcher._cache._index_key(sig, dispatcher.targetctx.codegen())
        return key in dispatcher._cache._cache_file._load_index()
    except Exception:   # noqa: BLE001
        return True


def _load(dispatcher, sig):
    """Load `sig` from Numba's disk cache into `dispatcher` as `Dispatcher.compile` does, less
    its `target_context.refresh()`: on a process's first load, that refresh imports and
    registers every typing and lowering module of Numba (SciPy's linear algebra among them),
    ~0.6 s on the AMD VM, and compiled machine code needs none of it. Only the runtime
    (NRT), whose functions the code calls, is set up. Numba's private API: where it differs,
    nothing is loaded and the first call loads the kernel the usual way."""
    if sig in dispatcher.overloads:
        return
    try:
        with global_compiler_lock:      # as Numba's own loads: LLVM is not to be shared
            ctx = dispatcher.targetctx
            rtsys.initialize(ctx)
            cres = dispatcher._cache._load_overload(sig, ctx)
            if cres is None:
                return
            ctx.insert_user_function(cres.entry_point, cres.fndesc, [cres.library])
            dispatcher.add_overload(cres)
            dispatcher._cache_hits[sig] += 1
    except Exception:   # noqa: BLE001
        return


def _compile(jobs, claims):
    """Compile each (module key, function name, signature) job nobody has claimed yet (in the
    directory `claims`; None: every job)."""
    for i, (k, name, sig) in enumerate(jobs):
        if claims is not None:
            try:
                os.close(os.open(os.path.join(claims, str(i)), os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                continue
        getattr(cache.load_key(k), name).compile(sig)


def has_loops(driver) -> bool:
    """Has the driver a loop (which is not dry-run)?"""
    return any(line.lstrip().startswith(("for ", "while ")) or ".LOOP(" in line
               for line in linecache.getlines(driver.__code__.co_filename))


def prepare(driver, args, seen=None):
    """See the module docstring. `seen`: the dry run's record, where it was made already."""
    if has_loops(driver):
        return
    seen = seen or _dry_run(driver, args)
    _compile_all([(kernel, sig) for kernel, sig in seen.calls
                  if not _cached(kernel.body, sig)])
    for kernel, sig in seen.calls:
        _load(kernel.body, sig)
    for helper, sig in seen.helpers:
        _load(helper, sig)


def _compile_all(jobs):
    """Compile `jobs` ((kernel module, signature) pairs) on `THREADS` cores into Numba's disk
    cache; fewer than `MIN_JOBS` are left to compile lazily."""
    if len(jobs) < MIN_JOBS:
        return
    jobs.sort(key=lambda job: -os.path.getsize(job[0].__file__))
    jobs = [(kernel.KEY, "body", sig) for kernel, sig in jobs]
    with tempfile.TemporaryDirectory(prefix="adcompiler-claims-") as claims:
        payload = pickle.dumps((__name__, "_compile", (jobs, claims)))
        children = []
        try:
            for _ in range(min(THREADS, len(jobs)) - 1):
                child = _start_child(payload)
                if child is None:
                    break
                children.append(child)
            _compile(jobs, claims)
            for child in children:
                child.wait()
        except BaseException:   # (Ctrl-C: they would compile on, then stay zombies)
            for child in children:
                _stop(child)
            raise


def compile_aside(dispatcher, args):
    """A child process compiling `dispatcher` (the `loop` of a module loops.py wrote) for the
    types of `args` into Numba's disk cache, while this process goes on (runtime.Compiled
    starts one for a hot loop or function in `auto` mode); `start_aside`'s None or False."""
    try:
        module = sys.modules[dispatcher.py_func.__module__]
        params = ([(module.KEY, dispatcher.py_func.__name__, _signature(args))], None)
    except Exception:   # noqa: BLE001  (a Numba type that does not pickle)
        return False
    return start_aside(_compile, params)


def start_aside(fn, params):
    """A child process running `fn(*params)` (`fn` a module's function, `params` values that
    pickle) while this process goes on; None while another such child is running (one at a
    time: they share the cores with the program); False where none could start (a value that
    does not pickle, no interpreter)."""
    global _aside
    with _aside_lock:
        if _aside is not None and aside_status(_aside) == "running":
            return None
        try:
            payload = pickle.dumps((fn.__module__, fn.__name__, params))
        except Exception:   # noqa: BLE001
            return False
        _aside = _start_child(payload, group=True) or None
        if _aside is None:
            return False
        _aside.started, _aside.owner = time.monotonic(), os.getpid()
        return _aside


def aside_status(child) -> str:
    """What became of a child of `start_aside`: "running", "done" (its function is in the
    disk cache), "cannot" (Numba cannot compile it), "raised" (the program it ran raised at
    the arguments it was given) or "failed" (anything else; a child still compiling after
    `ASIDE_LIMIT` s, as one waiting on a lock a dead process left, is stopped); "gone" in a
    process forked from the one that started it (its poll() there reads 0 whatever the
    child is doing)."""
    if child.owner != os.getpid():
        return "gone"
    code = child.poll()
    if code is None:
        if time.monotonic() - child.started < ASIDE_LIMIT:
            return "running"
        _stop(child)
        return "failed"
    return {0: "done", CANNOT: "cannot", RAISED: "raised"}.get(code, "failed")


def wait_aside(child) -> str:
    """`aside_status` of a child of `start_aside` once it has ended (or was stopped, at
    `ASIDE_LIMIT`)."""
    try:
        child.wait(timeout=max(ASIDE_LIMIT - (time.monotonic() - child.started), 0.0))
    except subprocess.TimeoutExpired:
        pass
    return aside_status(child)


def _stop(child):
    try:
        if getattr(child, "group", False):
            os.killpg(child.pid, signal.SIGKILL)
        else:
            child.kill()
    except ProcessLookupError:
        pass
    child.wait()


@atexit.register
def _stop_aside():
    """A child still compiling aside when the program ends is stopped with it."""
    if _aside is not None and aside_status(_aside) == "running":
        _stop(_aside)


def _start_child(payload, group=False):
    """A child process (`child()`) given `payload` on stdin, or None where it could not start.
    A thread writes the payload: a pipe holds 64 KB, and the child reads it only once it has
    imported (0.5-1.5 s: the caller waited that long, and a Ctrl-C then left the child
    unknown). With `group` (`start_aside`'s) it leads a process group of its own, which
    `_stop` stops whole: the helpers its `prepare` starts with it."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    try:
        child = subprocess.Popen([sys.executable, "-c", f"import {__name__} as p; p.child()"],
                                 stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, env=env, start_new_session=group)
    except OSError:     # no interpreter to start
        return None
    child.group = group

    def feed():
        try:
            child.stdin.write(payload)
        except OSError:     # (it died at once: its exit status says so)
            pass
        finally:
            try:
                child.stdin.close()
            except OSError:
                pass
    threading.Thread(target=feed, daemon=True).start()
    return child


def child():
    """A child process of `prepare` or `start_aside`: the function to run (its module's name
    and its own) and its parameters come pickled on stdin. Its exit status is `CANNOT` where
    Numba cannot compile a job."""
    module, name, params = pickle.loads(sys.stdin.buffer.read())
    try:
        getattr(importlib.import_module(module), name)(*params)
    except NumbaError:
        sys.exit(CANNOT)
