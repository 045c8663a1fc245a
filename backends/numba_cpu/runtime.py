"""Run-time helpers the generated drivers call (`rt.` in the driver source).

- `matmul(a, b, out)`: NumPy matmul semantics into `out`. A stack of matrices times one matrix
  is one BLAS call over the flattened rows (NumPy's matmul would make one call per matrix: 254
  instead of 334 GFLOP/s measured here for (16,128,256) @ (256,768)); transposed views reach
  BLAS as transposed operands, not copies. A batch of small products (attention) runs as one
  BLAS call per matrix split over threads with BLAS itself single-threaded: on 2 cores
  (16,8,128,32) @ (16,8,32,128) took 2.0 ms with OpenBLAS's 2 threads per call, 1.0 ms so.
- `scatter_add(out, idx, v, axis)`: `np.add.at(out, idx along axis, v)` as a Numba loop.
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
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

SMALL_PRODUCT = 1 << 23     # m*k*n below which a batched product is split over threads
CHUNKS = 4
THREADS = max(int(os.environ.get("NUMBA_NUM_THREADS") or os.cpu_count() or 1), 1)


def _openblas():
    """NumPy's OpenBLAS thread controls, or None where NumPy uses another BLAS."""
    libs = glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs",
                                  "*openblas*"))
    for path in libs:
        lib = ctypes.CDLL(path)
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", ""):
                get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                put = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                if get is not None and put is not None:
                    return get, put
    return None


_BLAS = _openblas()
_POOL: ThreadPoolExecutor | None = None
_LOCK = threading.Lock()


def _threads() -> int:
    return int(_BLAS[0]()) if _BLAS else 1


def _pool(n):
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max(n - 1, 1), thread_name_prefix="adcompiler-blas")
    return _POOL


def matmul(a, b, out):
    if a.ndim > 2 and b.ndim == 2 and a.flags.c_contiguous and out.flags.c_contiguous:
        np.matmul(a.reshape(-1, a.shape[-1]), b, out=out.reshape(-1, out.shape[-1]))
        return
    n = _threads()
    batch = out.size // max(out.shape[-1] * out.shape[-2], 1) if out.ndim > 2 else 1
    if n < 2 or batch < 2 or out.shape[-2] * out.shape[-1] * a.shape[-1] > SMALL_PRODUCT:
        np.matmul(a, b, out=out)
        return
    if out.shape[0] < n:
        np.matmul(a, b, out=out)
        return
    # views only (reshaping a strided view would copy it): split the leading batch axis
    a = np.broadcast_to(a, out.shape[:-2] + a.shape[-2:])
    b = np.broadcast_to(b, out.shape[:-2] + b.shape[-2:])
    cuts = [out.shape[0] * i // n for i in range(n + 1)]
    with _LOCK:     # the BLAS thread count is process-wide
        _BLAS[1](1)
        try:
            futures = [_pool(n).submit(np.matmul, a[lo:hi], b[lo:hi], out=out[lo:hi])
                       for lo, hi in zip(cuts[1:-1], cuts[2:], strict=True)]
            np.matmul(a[:cuts[1]], b[:cuts[1]], out=out[:cuts[1]])
            for f in futures:
                f.result()
        finally:
            _BLAS[1](n)


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


_WARM: set = set()


def launch(kernel, rows, *args):
    """Run `kernel.body` over `rows` rows in CHUNKS chunks, on THREADS threads. The first
    call of a kernel runs its chunks on this thread: it compiles (or loads) the kernel once,
    not in two threads at a time."""
    nch = min(CHUNKS, rows)
    parts = kernel.partials(nch, *args)
    cuts = [rows * c // nch for c in range(nch + 1)]
    key = (kernel, tuple((a.dtype, a.ndim, a.flags.c_contiguous) if isinstance(a, np.ndarray)
                         else type(a) for a in args))
    if key not in _WARM:
        for c in range(nch):
            kernel.body(c, cuts[c], cuts[c + 1], *args, *parts)
        if parts:
            kernel.combine(*args, *parts)
        _WARM.add(key)
        return
    pool = _pool(THREADS)
    futures = [pool.submit(kernel.body, c, cuts[c], cuts[c + 1], *args, *parts)
               for c in range(1, nch)]
    kernel.body(0, 0, cuts[1], *args, *parts)
    for f in futures:
        f.result()
    if parts:
        kernel.combine(*args, *parts)
