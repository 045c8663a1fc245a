"""Run-time helpers the generated drivers call (`rt.` in the driver source).

- `matmul(a, b, out)`: NumPy matmul semantics into `out`. Each matrix is read in place
  through its strides: heads sliced out of the fused q/k/v array and transposed views are not
  copied, a stack of matrices times one matrix is one product over the flattened rows, and an
  output stored transposed is written as out^T = b^T @ a^T (so it stays on the GEMM path).
  The option `blas` (`BLAS`, see options.py for what was measured) chooses who runs a float
  product: Intel MKL (`mkl.py`: one call, threaded by MKL, which is kept per layout of the
  three arrays, their addresses, shapes, strides and dtypes, where no operand had to be
  copied: a driver multiplies the same buffers on every call, and working the call out again
  took ~20 us of a 100-120 us product of the small GPT's); single-threaded GEMMs of SciPy's
  OpenBLAS (`_gemm_batch`, through Numba's own BLAS entry point, so the kernel stays
  disk-cacheable) shared out over this module's threads: whole matrices of a batch
  (attention) or row/column blocks of one big product; or NumPy's matmul. The first two exist
  because NumPy's OpenBLAS threads spin after each call, which on a Sapphire Rapids VM took
  the cores from the kernels that followed (a (16,8,128,128) @ (16,8,128,32) product right
  after a big NumPy matmul ran in 2.1 ms instead of 1.0, and the medium GPT step went from 557
  to 450 ms with the OpenBLAS path); on an AMD Zen 1 VM NumPy's matmul was faster still.
  Attention's (16,8,128,32) @ (16,8,32,128) on strided q/k views: 1.0 ms, against 3.4-5.5 ms
  when each product first copied its operands contiguous. The first product NumPy runs
  shortens the spin of NumPy's OpenBLAS threads after each call (`_short_numpy_blas_spin`).
  A stack of products (attention's heads) never goes to NumPy's matmul, whose threads then
  sleep and wake between its small GEMMs: with `blas` "numpy" it takes the SciPy OpenBLAS
  path, whole matrices per thread (which sets SciPy's OpenBLAS, the user's too, to one thread
  for the process: `_single_threaded_scipy_blas`). On a 2-core AMD Zen 4 VM the medium GPT's
  (16,8,128,32) @ (16,8,32,128) took 5.6 ms on NumPy's matmul, 1.3 ms so; alternating in one
  process, the medium gradient took 15 % less time (10 pairs), the small one's tiny stacks
  (64 x 64 x 32) as long (30 pairs).
- `cofactor(a)`, `argsort(x, axis)`, `correlate(a, v)`: adcompiler/runtime/helpers.py's, which
  the NumPy backend's code calls too.
- `scatter_add(out, idx, v, axis)`: `np.add.at(out, idx along axis, v)` as a Numba loop.
- `take(a, idx, axis, shape)`, `put(out, idx, v, axis)`: a compiled loop's gather and
  assignment at an array of indices, whose indices are checked where the loop runs compiled
  (`scatter_add` is one such loop's too).
- `tick(label, t0)`: with the option `profile` on, drivers time each step into `PROFILE`
  (label -> [seconds, calls]); `report()` prints the steps by total time.
- `run(kernel, rows, *args)`: a kernel's rows on the calling thread.
- `Loop(dispatcher)`: a loop compiled whole (loops.py), run as Python or compiled (`LOOPS`);
  `Whole(dispatcher)`: a function compiled whole, run compiled or left to its driver
  (`NOT_YET`); both `Compiled`s.
- `new_tape(dtype, ndim)`: a loop's empty tape: a list, in a compiled loop a typed list.
- `scalar(x)`: a 0-d array's element, anything else itself (a compiled loop's 0-d values
  are scalars). `reshape(x, shape)`: x.reshape(shape), compiled a C-contiguous copy's where x
  is not (a column slice: Numba's reshape refuses it).
- `launch(kernel, rows, *args)`: a kernel's rows in `CHUNKS` chunks on `THREADS` threads. The
  kernels release the GIL, so Python threads run them in parallel; measured on 2 idle cores,
  a (4096,1024) row kernel: 1.90 ms serial, 1.02 ms so, 0.96 ms with Numba's prange, whose
  parfor lowering however costs ~1 s of compile time per kernel (the GPT step has dozens).
  The chunk count is fixed, so results do not depend on the number of threads.
"""
from __future__ import annotations

import ctypes
import functools
import glob
import importlib.util
import math
import os
import sys
import threading
import time
import types
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit, types as nb_types
from numba.core.errors import NumbaError, NumbaPerformanceWarning
from numba.extending import overload
from numba.np.linalg import _BLAS

from ...runtime import helpers
from ..numpy.codegen import remember
from . import cache, mkl, options

MKL_CALLS_KEPT = 1024      # products' MKL calls kept by layout (see `matmul`; a GPT step's
                            # programs have ~100 layouts; a grouped call keeps 24 bytes of
                            # address tables per product)
_MKL_CALLS: dict = {}
# batch*m*n*k below which NumPy's matmul runs a product: its call costs ~1 us, where the
# OpenBLAS paths here cost ~18 (the tiny GPT's gradient: 7.5 ms -> 5.9 ms with 2^22). A kept
# MKL call costs ~10 us and MKL outruns NumPy's OpenBLAS from ~2^19 on (Sapphire Rapids VM:
# 256x64 @ 64x64 15 us against 48, 128x64 @ 64x64 11.6 against 11.9; the tiny GPT's gradient
# 3.40 -> 2.85 ms and the training example's 5.53 -> 4.88 with 2^19 instead of 2^22)
NUMPY_BELOW = 1 << 19 if mkl.LIB is not None else 1 << 22
CHUNKS = 8
SPIN = 4                    # log2 cycles NumPy's OpenBLAS threads spin after a call (see
                            # _short_numpy_blas_spin); OpenBLAS's own default is 28
THREADS = options.THREADS
BLAS = options.OPTIONS["blas"]
argsort, cofactor, correlate = helpers.argsort, helpers.cofactor, helpers.correlate


def _openblas_libs(package):
    """The OpenBLAS libraries the wheel of `package` (numpy, scipy) bundles, loaded (none
    where it is not installed)."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return []
    root = os.path.dirname(spec.origin)
    return [ctypes.CDLL(path)
            for path in glob.glob(os.path.join(root, "..", f"{package}.libs", "*openblas*"))]


def _short_numpy_blas_spin():
    """NumPy's OpenBLAS threads spin for 2**28 cycles (~0.1 s) after each call before they
    sleep, on the cores the kernels that follow want: a GELU kernel ran 2.0 ms alone and 3.7
    ms right after a product. OpenBLAS reads OPENBLAS_THREAD_TIMEOUT (the spin, log2 cycles)
    only when it starts its threads, so this sets it to `SPIN`, has OpenBLAS read its
    environment again and stops its threads; the next product starts them with the short
    spin. Done once, on the backend's first product, MKL's too: the user's own NumPy products
    between calls spin so as well (a small gradient with MKL products right after a NumPy
    product, 2-core Sapphire Rapids VM: 1.06 ms, 0.55 with the short spin, 0.52 alone); left
    alone where the user set OPENBLAS_THREAD_TIMEOUT or NumPy's BLAS is not a bundled
    OpenBLAS. Measured on a 2-core AMD Zen 1 VM, alternating in one process: the small GPT's
    train step 10 % faster, the medium's 4 %; products themselves took as long. The short
    spin then holds for the whole process. (Stopping the threads must not meet
    another thread's NumPy product: a program that runs while other threads multiply
    matrices should set OPENBLAS_THREAD_TIMEOUT itself.)"""
    global _spin_set
    if _spin_set:
        return
    with _SPIN_LOCK:        # once, even when two programs make their first products at once
        if _spin_set or "OPENBLAS_THREAD_TIMEOUT" in os.environ:
            _spin_set = True
            return
        for lib in _openblas_libs("numpy"):
            if hasattr(lib, "openblas_read_env") and hasattr(lib, "blas_thread_shutdown_"):
                os.environ["OPENBLAS_THREAD_TIMEOUT"] = str(SPIN)
                try:
                    lib.openblas_read_env()
                finally:
                    del os.environ["OPENBLAS_THREAD_TIMEOUT"]
                lib.blas_thread_shutdown_()
        _spin_set = True


_SPIN_LOCK = threading.Lock()
_ASIDE_LOCK = threading.Lock()
_spin_set = False


@functools.cache
def _single_threaded_scipy_blas():
    """Numba's BLAS entry point calls SciPy's own OpenBLAS (not NumPy's copy). Giving SciPy's
    copies one thread each lets `matmul` run one product per thread of its own, without
    touching NumPy's BLAS threads (changing those costs ~8 ms on the next call). Done on the
    first product that takes this path: with MKL, none does."""
    done = False
    for lib in _openblas_libs("scipy"):
        for name in ("scipy_openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
                     "openblas_set_num_threads"):
            if hasattr(lib, name):
                getattr(lib, name)(1)
                done = True
    return done


_POOL: ThreadPoolExecutor | None = None


def _on_threads(work, threads):
    """Run `work()` on this thread and on `threads - 1` pool threads at once; return when all
    have returned. `work` shares its items out itself (they pull from one iterator)."""
    global _POOL
    if _POOL is None and threads > 1:
        _POOL = ThreadPoolExecutor(threads - 1, thread_name_prefix="adcompiler")
    futures = [_POOL.submit(work) for _ in range(threads - 1)]
    work()
    for f in futures:
        f.result()


_BLAS_KIND = {np.dtype(np.float32): ord("s"), np.dtype(np.float64): ord("d")}


def _xxgemm(kind, ta, tb, m, n, k, one, a, lda, b, ldb, zero, c, ldc):
    """Numba's BLAS GEMM entry point (SciPy's BLAS, column-major), for one's dtype."""


@overload(_xxgemm)
def _xxgemm_impl(kind, ta, tb, m, n, k, one, a, lda, b, ldb, zero, c, ldc):
    fn = _BLAS().numba_xxgemm(one.dtype)    # typed at compile time: no SciPy import before
    return lambda kind, ta, tb, m, n, k, one, a, lda, b, ldb, zero, c, ldc: fn(
        kind, ta, tb, m, n, k, one.ctypes, a.ctypes, lda, b.ctypes, ldb, zero.ctypes, c.ctypes,
        ldc)


@njit(cache=True, nogil=True)
def _gemm_batch(kind, a, b, out, ta, tb, lda, ldb, lo, hi, r0, r1, c0, c1):
    """out[i, j, r0:r1, c0:c1] = a[i, j, r0:r1] @ b[i, j, :, c0:c1] for the flat batch indices
    lo..hi of the two batch axes. Row-major out = a @ b is column-major out^T = b^T a^T, so
    BLAS gets b first; `ta`/`tb` and `lda`/`ldb` come from `_blas_matrix`."""
    one = np.ones(1, out.dtype)
    zero = np.zeros(1, out.dtype)
    ldc = max(out.strides[2] // out.itemsize, c1 - c0)
    nb = out.shape[1]
    for f in range(lo, hi):
        i, j = f // nb, f % nb
        _xxgemm(kind, tb, ta, c1 - c0, r1 - r0, a.shape[3], one, b[i, j, :, c0:c1], ldb,
                a[i, j, r0:r1], lda, zero, out[i, j, r0:r1, c0:c1], ldc)


def _blas_matrix(x):
    """(trans, ld) with which column-major BLAS reads the transposes of the row-major matrices
    x[..., :, :] in place, or None when neither of their axes has unit stride."""
    rows, cols = x.shape[-2:]
    sr, sc = (s // x.itemsize for s in x.strides[-2:])
    if sc == 1 or cols == 1:
        ld = sr if rows > 1 else cols
        return (ord("n"), ld) if ld >= max(cols, 1) else None
    if sr == 1 or rows == 1:
        ld = sc if cols > 1 else rows
        return (ord("t"), ld) if ld >= max(rows, 1) else None
    return None


def _batch4(x, lead):
    """x broadcast to the batch shape `lead`, viewed with exactly two batch axes without a
    copy, or None when its batch axes cannot be merged so."""
    view = np.broadcast_to(x, lead + x.shape[-2:]).view()
    try:
        view.shape = (-1, lead[-1] if lead else 1) + x.shape[-2:]
    except AttributeError:
        return None
    return view


def _blas_operand(x, lead):
    """(4-d view, (trans, ld), copied) of an operand, copied only when BLAS cannot read it in
    place."""
    x4 = _batch4(x, lead)
    form = _blas_matrix(x4) if x4 is not None else None
    if form is not None:
        return x4, form, False
    x4 = _batch4(np.ascontiguousarray(np.broadcast_to(x, lead + x.shape[-2:])), lead)
    return x4, _blas_matrix(x4), True


def _tasks(batch, m, n):
    """How the products are shared out: (batch range, row range, column range) per thread:
    whole matrices when there are enough of them, else row or column blocks of every one."""
    parts = THREADS
    if batch >= 2 * parts or parts == 1:
        return [((batch * t // parts, batch * (t + 1) // parts), (0, m), (0, n))
                for t in range(parts)]
    if m >= n:
        return [((0, batch), (m * t // parts, m * (t + 1) // parts), (0, n))
                for t in range(parts)]
    return [((0, batch), (0, m), (n * t // parts, n * (t + 1) // parts)) for t in range(parts)]


def _numpy_matmul(a, b, out):
    np.matmul(a, b, out=out)        # (NumPy's threads' short spin: set at `matmul`'s start)


def matmul(a, b, out):
    _short_numpy_blas_spin()    # (the user's own NumPy products too spin on our cores)
    key = None
    if mkl.LIB is not None and out.size * a.shape[-1] >= NUMPY_BELOW:   # (else NumPy's)
        key = (BLAS, NUMPY_BELOW, THREADS, a.ctypes.data, a.shape, a.strides, a.dtype,
               b.ctypes.data, b.shape, b.strides, b.dtype, out.ctypes.data, out.shape,
               out.strides, out.dtype)
        call = _MKL_CALLS.get(key)
        if call is not None:
            mkl.run(call)
            return
    if a.ndim >= 2 and b.ndim >= 2 and out.strides[-1] != out.itemsize \
            and out.strides[-2] == out.itemsize:
        # out stored transposed (the memory planner lays a value out so when it is only read
        # transposed): BLAS writes out^T = b^T @ a^T in place
        a, b, out = np.swapaxes(b, -1, -2), np.swapaxes(a, -1, -2), np.swapaxes(out, -1, -2)
    if a.ndim > 2 and b.ndim == 2 and a.flags.c_contiguous and out.flags.c_contiguous:
        # (rows counted, not -1: with k = 0 NumPy cannot infer them)
        rows = math.prod(a.shape[:-1])
        a, out = a.reshape(rows, a.shape[-1]), out.reshape(rows, out.shape[-1])
    lead = out.shape[:-2]
    # a stack of products on NumPy's matmul is one small GEMM after another on its threads,
    # which sleep between them (the short spin): whole matrices on the backend's threads instead
    stack = math.prod(lead) >= 2 * THREADS
    if BLAS == "numpy" and not stack or out.size * a.shape[-1] < NUMPY_BELOW:
        _numpy_matmul(a, b, out)
        return
    o4 = _batch4(out, lead)
    if not (mkl.LIB is not None or _single_threaded_scipy_blas()) or out.dtype not in _BLAS_KIND \
            or not a.dtype == b.dtype == out.dtype or 0 in out.shape + a.shape[-1:] \
            or o4 is None or o4.strides[-1] != out.itemsize:
        _numpy_matmul(a, b, out)
        return
    (a4, fa, copied_a), (b4, fb, copied_b) = _blas_operand(a, lead), _blas_operand(b, lead)
    if mkl.LIB is not None:
        call = mkl.gemm_call(a4, fa, b4, fb, o4)
        if call is None:
            _numpy_matmul(a, b, out)
            return
        mkl.run(call)
        if key is not None and not (copied_a or copied_b):
            if len(_MKL_CALLS) >= MKL_CALLS_KEPT:
                _MKL_CALLS.clear()
            _MKL_CALLS[key] = call
        return
    args = (_BLAS_KIND[out.dtype], a4, b4, o4, fa[0], fb[0], fa[1], fb[1])
    blocks = iter(_tasks(o4.shape[0] * o4.shape[1], a4.shape[2], b4.shape[3]))

    def work():
        for batch, rows, cols in blocks:    # next() on it is atomic under the GIL
            _gemm_batch(*args, *batch, *rows, *cols)

    _on_threads(work, THREADS)


@njit(nogil=True)      # (compiled into its callers: no disk-cache entries of its own to guard)
def _in_bounds(idx, n):
    for j in range(idx.shape[0]):
        if idx[j] < -n or idx[j] >= n:
            return False
    return True


@njit(cache=True, nogil=True)
def _scatter_add(out3, idx, v3):
    """False, and nothing added, when an index is out of bounds."""
    n = out3.shape[1]
    if not _in_bounds(idx, n):
        return False
    for p in range(out3.shape[0]):
        for j in range(idx.shape[0]):
            t = idx[j] + n if idx[j] < 0 else idx[j]
            for q in range(out3.shape[2]):
                out3[p, t, q] += v3[p, j, q]
    return True


# their disk cache's entries, as the kernels' (cache.py: two signatures saved at once)
for _cached in (_gemm_batch, _scatter_add):
    cache.guard_entries(_cached._cache._cache_file)


def scatter_add(out, idx, v, axis):
    """Add `v` into `out` at positions `idx` along `axis`; repeats add up. An `out` not in C
    order (a planned buffer laid out transposed) is summed into in a C-ordered copy and written
    back: its 3-D view would be a copy, and the sums would be lost."""
    work = out if out.flags.c_contiguous else np.ascontiguousarray(out)
    out3, idx, v3 = scatter_operands(work, idx, v, axis)
    if not _scatter_add(out3, idx, v3):
        raise IndexError(f"index out of bounds for axis {axis} with size {out3.shape[1]}")
    if work is not out:
        out[...] = work


def take(a, idx, axis, shape):
    """A compiled loop's gather of `a` at an array of indices along `axis`, of shape `shape`:
    as Python the array method; compiled, a loop that checks its indices as NumPy does (Numba's
    `take` has no `axis`, and its fancy indexing takes one 1-d index array only)."""
    return a.take(idx, axis=axis)


def put(out, idx, v, axis):
    """A compiled loop's `out[..., idx] = v` (`idx` an array of indices along `axis`): as
    Python NumPy's indexing; compiled, a loop that checks its indices, as `take`."""
    out[(slice(None),) * axis + (idx,)] = v


@njit(nogil=True)
def _around(shape, axis):
    """The sizes before, along and after `axis` of an array of `shape`."""
    pre, post = 1, 1
    for d in range(axis):
        pre *= shape[d]
    for d in range(axis + 1, len(shape)):
        post *= shape[d]
    return pre, shape[axis], post


@njit(nogil=True)
def _gather(a3, idx, out3):
    if not _in_bounds(idx, a3.shape[1]):
        return False
    for j in range(idx.shape[0]):
        out3[:, j] = a3[:, idx[j]]          # (a negative index counts from the end)
    return True


@njit(nogil=True)
def _put(out3, idx, v3):
    if not _in_bounds(idx, out3.shape[1]):
        return False
    for j in range(idx.shape[0]):           # in order: of repeated indices the last wins
        out3[:, idx[j]] = v3[:, j]
    return True


@overload(take)
def _take_compiled(a, idx, axis, shape):
    def impl(a, idx, axis, shape):
        pre, n, post = _around(a.shape, axis)
        flat = np.ascontiguousarray(idx).reshape(idx.size)
        out3 = np.empty((pre, flat.size, post), a.dtype)
        if not _gather(np.ascontiguousarray(a).reshape((pre, n, post)), flat, out3):
            raise IndexError("index out of bounds")
        return out3.reshape(shape)
    return impl


def _update_compiled(update):
    """The compiled `put` or `scatter_add`: `update` on 3-D views of `out` (of a C-ordered
    copy written back when `out` may not be C-ordered) and of `v`."""
    def typer(out, idx, v, axis):
        copied = out.layout != "C"

        def impl(out, idx, v, axis):
            work = np.ascontiguousarray(out)
            pre, n, post = _around(work.shape, axis)
            flat = np.ascontiguousarray(idx).reshape(idx.size)
            v3 = np.ascontiguousarray(v).reshape((pre, flat.size, post))
            if not update(work.reshape((pre, n, post)), flat, v3):
                raise IndexError("index out of bounds")
            if copied:
                out[...] = work
        return impl
    return typer


overload(put)(_update_compiled(_put))
overload(scatter_add)(_update_compiled(_scatter_add))


def scatter_operands(out, idx, v, axis) -> tuple:
    """`_scatter_add`'s operands for `scatter_add(out, idx, v, axis)` (out C-contiguous): out
    and v as 3-D views (before, along, after `axis`), idx flat."""
    idx = np.asarray(idx).reshape(-1)
    pre, post = math.prod(out.shape[:axis]), math.prod(out.shape[axis + 1:])
    v3 = np.ascontiguousarray(v).reshape(pre, idx.size, post)   # v has the gathered shape
    return out.reshape(pre, out.shape[axis], post), idx, v3


def partials(kernel, nch, args) -> tuple:
    """The per-chunk accumulators `kernel.body` takes after `args` when run in `nch` chunks
    (none for a kernel without accumulations)."""
    return kernel.partials(nch, *args) if kernel.ACCUMULATES else ()


def _rows(kernel, rows, nch, threads, args):
    parts = partials(kernel, nch, args)
    cuts = [rows * c // nch for c in range(nch + 1)]
    chunks = iter(range(nch))       # next() on it is atomic under the GIL

    def work():
        for c in chunks:
            kernel.body(c, cuts[c], cuts[c + 1], *args, *parts)

    _on_threads(work, threads)
    if parts:
        kernel.combine(*args, *parts)


def run(kernel, rows, *args):
    """All `rows` rows of `kernel` as one chunk on the calling thread. (Not `_rows` with one
    chunk: small kernels run this, an optimiser's dozens per step, and its set-up cost more
    than their work.)"""
    if not kernel.ACCUMULATES:
        kernel.body(0, 0, rows, *args)
        return
    parts = kernel.partials(1, *args)
    kernel.body(0, 0, rows, *args, *parts)
    kernel.combine(*args, *parts)


def launch(kernel, rows, *args):
    """Run `kernel.body` over `rows` rows in CHUNKS chunks, on THREADS threads that take the
    next chunk when done (a thread the OS holds back costs less). A kernel's first call
    compiles (or loads) it under Numba's compiler lock: the other threads wait for that one
    compilation and then use it."""
    _rows(kernel, rows, min(CHUNKS, rows), THREADS, args)


PROFILE: dict = {}
clock = time.perf_counter


def tick(label, t0):
    entry = PROFILE.setdefault(label, [0.0, 0])
    entry[0] += time.perf_counter() - t0
    entry[1] += 1


def report(top=30, file=None):
    """The profiled steps, most expensive first: total ms, calls, label."""
    total = sum(t for t, _ in PROFILE.values()) or 1.0
    rows = sorted(PROFILE.items(), key=lambda kv: -kv[1][0])[:top]
    for label, (t, n) in rows:
        print(f"{t * 1e3:9.2f} ms {100 * t / total:5.1f}% {n:5d}x  {label}", file=file)


LOOPS = options.LOOPS
COMPILE_AFTER = 1.0     # seconds a loop runs as Python before it is compiled (LOOPS "auto",
                        # aside): compiling one takes 1-5 s, and saves ~80 % of each step's time
                        # (a 16-wide RNN's gradient: 13-15 -> 2-3 us a step)
FAILURES = 3            # run-time failures of the compiled loop, Python succeeding, after
                        # which it runs as Python only


class Compiled:
    """A function that loops.py wrote as the function `loop` of a module of its own (a loop's,
    or a whole function's), with when it runs compiled (`compiled`, the Numba dispatcher), as
    `LOOPS` says: `spent` counts the seconds it ran otherwise (`ran_as_python`, `runs` times),
    `never` says Numba cannot compile it (or it failed `FAILURES` times where Python did not),
    `warm` that a compiled call succeeded, `cached` that Numba's disk cache held it when the
    module was loaded (or that it is to be loaded, or compiled here, now: `_compiled_aside`)."""

    def __init__(self, compiled):
        self.compiled = compiled
        self.spent = 0.0
        self.runs = 0
        self.failures = 0
        self.never = False
        self.warm = False
        self.cached = cache.on_disk(compiled)
        self.aside = None       # the child process compiling it, once hot (False: none)

    def ready(self, args) -> bool:
        """Run compiled? Not with a tape an earlier loop filled as Python (a list: Numba
        would convert it entry by entry, and cannot type an empty one)."""
        if LOOPS == "python" or self.never or any(type(a) is list for a in args):
            return False
        if LOOPS == "compile" or self.cached:
            return True
        return self.spent >= COMPILE_AFTER and self._compiled_aside(args)

    def _compiled_aside(self, args) -> bool:
        """Hot, in `auto` mode: a child process compiles it into Numba's disk cache (1-6 s,
        on another core) while its Python goes on, where compiling it here stopped the
        caller's program that long (one child at a time: precompile.compile_aside); True
        once the child is done: the call then loads the machine code. Where Numba cannot
        compile it, it stays Python; where no child could start or the child failed
        otherwise, it is compiled here."""
        from .precompile import aside_status, compile_aside    # (it imports this module)
        with _ASIDE_LOCK:   # (threads calling it at once started a child, lost its handle to
            if self.aside is None:      # another thread's None, and started it again)
                self.aside = compile_aside(self.compiled, args)
                if self.aside is None:
                    return False
        status = "failed" if self.aside is False else aside_status(self.aside)
        if status == "running":
            return False
        if status == "gone":        # (the parent's, in a forked worker: it starts its own)
            self.aside = None
            return False
        if status == "cannot":
            self.never = True
            return False
        self.cached = True
        return True

    def ran_as_python(self, t0):
        """It ran as Python from `t0` on. The first run does not count towards `spent`: it
        compiled (or loaded) the kernels its steps call, which would make a function called
        twice hot."""
        if self.runs:
            self.spent += time.perf_counter() - t0
        self.runs += 1

    def run_compiled(self, args):
        if self.warm:
            return self.compiled(*args)
        with warnings.catch_warnings():     # (products on views: a copy is slower)
            warnings.simplefilter("ignore", NumbaPerformanceWarning)
            result = self.compiled(*args)
        self.warm = True
        return result

    def failed(self):
        """The compiled call raised where Python gave the result."""
        self.failures += 1
        self.never = self.failures >= FAILURES


class Loop(Compiled):
    """A loop run as Python (`python`, the module's function, named in tracebacks as generated
    code so that runtime/nans.py names the user's line) or compiled. A compiled call that fails
    to compile (a type Numba cannot unify, an operation it lacks) makes the loop Python from
    then on; one that raises is run again as Python, which raises the user's error where the
    loop has one (the function changes none of its arguments, so it can run again) or gives
    the result where only Numba failed."""

    def __init__(self, compiled):
        super().__init__(compiled)
        fn = compiled.py_func
        module = sys.modules[fn.__module__]
        filename = f"<adcompiler loop: {module.__name__.rsplit('.', 1)[-1]}>"
        with open(module.__file__) as f:
            remember(filename, f.read())
        self.python = types.FunctionType(fn.__code__.replace(co_filename=filename),
                                         fn.__globals__, fn.__name__)

    def __call__(self, *args):
        if self.ready(args):
            try:
                return self.run_compiled(args)
            except NumbaError:
                self.never = True
            except Exception:
                result = self.python(*args)
                self.failed()
                return result
        t0 = time.perf_counter()
        result = self.python(*args)
        self.ran_as_python(t0)
        return result


NOT_YET = object()


class Whole(Compiled):
    """A driver function written whole (driver.whole_module), which the driver calls first:
    compiled, it gives the function's results, else `NOT_YET`, and the driver runs its own
    steps, whose time `ran` counts. A compiled call that fails to compile makes it `NOT_YET`
    from then on; one that raises gives `NOT_YET` for the driver to run, which raises the
    user's error where the function has one (it changes none of its arguments), and counts as
    a failure of Numba's where the driver's run reaches its end (per thread: two threads may
    call one function at once)."""

    def __init__(self, compiled):
        super().__init__(compiled)
        self.call = threading.local()

    @property
    def raised(self) -> bool:
        """Did the calling thread's last compiled call raise?"""
        return getattr(self.call, "raised", False)

    def __call__(self, *args):
        self.call.raised = False    # (a driver's run that raised never reached `ran`)
        if not self.ready(args):
            return NOT_YET
        try:
            return self.run_compiled(args)
        except NumbaError:
            self.never = True
        except Exception:
            self.call.raised = True
        return NOT_YET

    def ran(self, t0):
        """The driver's steps ran from `t0` on, to the end."""
        self.ran_as_python(t0)
        if self.raised:
            self.call.raised = False
            self.failed()


def reshape(x, shape):
    """x.reshape(shape); compiled, of an array that is not C-contiguous, a C-contiguous copy's
    (Numba's reshape takes only those; NumPy's copies itself)."""
    return x.reshape(shape)


@overload(reshape)
def _reshape(x, shape):
    if isinstance(x, nb_types.Array) and x.layout != "C":
        return lambda x, shape: np.ascontiguousarray(x).reshape(shape)
    return lambda x, shape: x.reshape(shape)


def scalar(x):
    """A 0-d array's element; anything else itself."""
    return x[()] if isinstance(x, np.ndarray) and x.ndim == 0 else x


@overload(scalar)
def _scalar(x):
    if isinstance(x, nb_types.Array) and x.ndim == 0:
        return lambda x: x[()]
    return lambda x: x


def new_tape(dtype, ndim):
    """A loop's tape (ops/tape.py): a list of arrays."""
    return []


@overload(new_tape, prefer_literal=True)
def _new_tape(dtype, ndim):
    """Compiled, a typed list: passed back and forth between compiled loops as it is (a list
    would be converted element by element at each call)."""
    from numba.typed import List     # (here, not at import: 30 ms of a warm start)
    rank = ndim.literal_value
    item = nb_types.Array(dtype.dtype, rank, "C") if rank else dtype.dtype   # 0-d: scalars
    return lambda dtype, ndim: List.empty_list(item)
