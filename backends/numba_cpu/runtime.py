"""Run-time helpers the generated drivers call (`rt.` in the driver source).

- `matmul(a, b, out)`: NumPy matmul semantics into `out`. A stack of matrices times one matrix
  is one BLAS call over the flattened rows (NumPy's matmul would make one call per matrix: 254
  instead of 334 GFLOP/s measured here for (16,128,256) @ (256,768)); transposed views reach
  BLAS as transposed operands, not copies. A batch of small products (attention) runs as
  single-threaded BLAS calls (Numba's `np.dot`, SciPy's OpenBLAS) split over threads: on 2
  cores (16,8,128,32) @ (16,8,32,128) took 2.0 ms with OpenBLAS's 2 threads per call, 1.0 ms
  with one thread per call and two calls at a time.
- `scatter_add(out, idx, v, axis)`: `np.add.at(out, idx along axis, v)` as a Numba loop.
- `tick(label, t0)`: with the option `profile` on, drivers time each step into `PROFILE`
  (label -> [seconds, calls]); `report()` prints the steps by total time.
- `launch(kernel, rows, *args)`: a kernel's rows in `CHUNKS` chunks on `THREADS` threads. The
  kernels release the GIL, so Python threads run them in parallel; measured on 2 idle cores,
  a (4096,1024) row kernel: 1.90 ms serial, 1.02 ms so, 0.96 ms with Numba's prange, whose
  parfor lowering however costs ~1 s of compile time per kernel (the GPT step has dozens).
  The chunk count is fixed, so results do not depend on the number of threads.
"""
from __future__ import annotations

import ctypes
import glob
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

SMALL_PRODUCT = 1 << 23     # m*k*n below which a batched product is split over threads
CHUNKS = 8
THREADS = max(int(os.environ.get("NUMBA_NUM_THREADS") or os.cpu_count() or 1), 1)


def _single_threaded_scipy_blas():
    """Numba's `np.dot` calls SciPy's own OpenBLAS (a second copy, not NumPy's). Giving that
    copy one thread lets the driver run several small products at once, one per thread,
    without touching NumPy's BLAS threads (changing those costs ~8 ms on the next call)."""
    import scipy
    for path in glob.glob(os.path.join(os.path.dirname(scipy.__file__), "..", "scipy.libs",
                                       "*openblas*")):
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
                     "openblas_set_num_threads"):
            if hasattr(lib, name):
                getattr(lib, name)(1)
                return True
    return False


_SPLIT_BATCH = _single_threaded_scipy_blas()
_WARM: set = set()          # kernels (and argument types) that have run once
_POOL: ThreadPoolExecutor | None = None


def _pool(n):
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max(n - 1, 1), thread_name_prefix="adcompiler")
    return _POOL


@njit(cache=True, nogil=True)
def _batched_dot(a, b, out, lo, hi):
    for i in range(lo, hi):
        np.dot(a[i], b[i], out[i])


def matmul(a, b, out):
    if a.ndim > 2 and b.ndim == 2 and a.flags.c_contiguous and out.flags.c_contiguous:
        np.matmul(a.reshape(-1, a.shape[-1]), b, out=out.reshape(-1, out.shape[-1]))
        return
    batch = out.size // max(out.shape[-1] * out.shape[-2], 1) if out.ndim > 2 else 1
    small = out.shape[-2] * out.shape[-1] * a.shape[-1] <= SMALL_PRODUCT
    if THREADS < 2 or batch < 2 * THREADS or not small or not _SPLIT_BATCH \
            or not out.flags.c_contiguous or out.dtype not in (np.float32, np.float64):
        np.matmul(a, b, out=out)
        return
    lead = out.shape[:-2]
    a3 = np.ascontiguousarray(np.broadcast_to(a, lead + a.shape[-2:])).reshape(
        (batch,) + a.shape[-2:])
    b3 = np.ascontiguousarray(np.broadcast_to(b, lead + b.shape[-2:])).reshape(
        (batch,) + b.shape[-2:])
    o3 = out.reshape((batch,) + out.shape[-2:])
    key = (_batched_dot, a3.dtype)
    if key not in _WARM:        # compile (or load) on this thread first
        _batched_dot(a3, b3, o3, 0, batch)
        _WARM.add(key)
        return
    cuts = [batch * i // THREADS for i in range(THREADS + 1)]
    futures = [_pool(THREADS).submit(_batched_dot, a3, b3, o3, lo, hi)
               for lo, hi in zip(cuts[1:-1], cuts[2:], strict=True)]
    _batched_dot(a3, b3, o3, 0, cuts[1])
    for f in futures:
        f.result()


@njit(cache=True, nogil=True)
def _scatter_add(out3, idx, v3):
    n = out3.shape[1]
    for p in range(out3.shape[0]):
        for j in range(idx.shape[0]):
            t = idx[j] + n if idx[j] < 0 else idx[j]
            for q in range(out3.shape[2]):
                out3[p, t, q] += v3[p, j, q]


def scatter_add(out, idx, v, axis):
    """Add `v` into `out` (C-contiguous) at positions `idx` along `axis`; repeats add up."""
    idx = np.asarray(idx).reshape(-1)
    n = out.shape[axis]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"index out of bounds for axis {axis} with size {n}")
    pre = int(np.prod(out.shape[:axis], dtype=np.int64))
    post = int(np.prod(out.shape[axis + 1:], dtype=np.int64))
    v3 = np.ascontiguousarray(v).reshape(pre, idx.size, post)   # v has the gathered shape
    _scatter_add(out.reshape(pre, n, post), idx, v3)


def launch(kernel, rows, *args):
    """Run `kernel.body` over `rows` rows in CHUNKS chunks, on THREADS threads that take the
    next chunk when done (a thread the OS holds back costs less). The first call of a kernel
    runs its chunks on this thread: it compiles (or loads) the kernel once, not in two
    threads at a time."""
    nch = min(CHUNKS, rows)
    parts = kernel.partials(nch, *args) if kernel.ACCUMULATES else ()
    cuts = [rows * c // nch for c in range(nch + 1)]
    key = (kernel, tuple((a.dtype, a.ndim, a.flags.c_contiguous) if isinstance(a, np.ndarray)
                         else type(a) for a in args))
    chunks = iter(range(nch))       # next() on it is atomic under the GIL

    def work():
        for c in chunks:
            kernel.body(c, cuts[c], cuts[c + 1], *args, *parts)

    if key in _WARM:
        futures = [_pool(THREADS).submit(work) for _ in range(THREADS - 1)]
        work()
        for f in futures:
            f.result()
    else:
        work()
        _WARM.add(key)
    if parts:
        kernel.combine(*args, *parts)


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

