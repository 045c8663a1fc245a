"""Intel MKL's GEMM for `runtime.matmul`, when the `mkl` package is installed (a dependency on
x86-64) and the `blas` option says so (by default on Intel CPUs only; see options.py).

Why MKL and its own threads: measured on this 2-core Sapphire Rapids VM, MKL's sgemm runs
150-180 GFLOP/s on one core where SciPy's OpenBLAS runs 110-120, and one call on MKL's
2-thread OpenMP team makes 250-340 GFLOP/s on the GPT's products, where row blocks of one
product on the backend's two Python threads made 150-340 (1024x128 @ 128x128: 280 against
147). The medium GPT's gradient went from 450 to 384 ms.

MKL's OpenMP threads (Intel's libiomp5, from the intel-openmp package) go to sleep as soon as
a product of `SPIN_BELOW` multiply-adds or more is done (`KMP_BLOCKTIME=0`): spinning, they
took the cores from the fused kernels that run next on the backend's own threads (medium
gradient: 451 ms spinning, 384 sleeping). After a smaller product (under ~1 ms) they spin for
1 ms: waking a sleeping thread costs 50-140 us on this VM, much of such a product's time, and
the next product usually comes within the millisecond (small GPT gradient: 46-48 -> 41 ms;
medium unchanged). A `KMP_BLOCKTIME` in the environment is left alone.

- `LIB`: the loaded MKL, or None (not installed, or turned off): `runtime.matmul` then calls
  SciPy's OpenBLAS itself. `OMP`: the OpenMP runtime (libiomp5) its threads run on, or None
  (where libgomp was loaded first, by PyTorch: MKL's threads run on it, see `_load`).
- `gemm_call(a4, fa, b4, fb, o4)`: the call that computes o4[i, j] = a4[i, j] @ b4[i, j] for
  the 4-d views and (trans, ld) forms that `runtime._blas_operand` gives, as numbers and
  addresses (None when a size or leading dimension does not fit MKL's 32-bit integers); one
  call for one matrix, one grouped batch call for a stack of them (attention's heads are
  strided views, so the batch is given as a table of addresses rather than one stride).
  `run(call)` makes it.
"""
from __future__ import annotations

import ctypes
import functools
import importlib.metadata
import os
import threading

import numpy as np

from .options import OPTIONS, THREADS

_COL_MAJOR = 102    # row-major out = a @ b is column-major out^T = b^T a^T: b goes first
_TRANS = {ord("n"): 111, ord("t"): 112}
_LP64 = 0           # MKL_INT is a C int
_INTEL_THREADS = 0  # MKL's threading layer on libiomp5
_GNU_THREADS = 3    # ... on libgomp
SPIN_BELOW = 1 << 27    # multiply-adds (~1 ms of a 2-core product) below which MKL's threads
                        # spin between products instead of sleeping
_INT_LIMIT = 1 << 31


def _shared_library(dist, prefix):
    """The path of the shared library `prefix`* that package `dist` installed, or None."""
    try:
        files = importlib.metadata.distribution(dist).files or ()
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in files:
        if f.name.startswith(prefix):
            return str(f.locate())
    return None


def _gnu_openmp_loaded() -> bool:
    """Is GNU's OpenMP runtime (libgomp: PyTorch's) in the process already?"""
    try:
        with open("/proc/self/maps") as maps:
            return "libgomp" in maps.read()
    except OSError:
        return False


def _load(threads):
    """(MKL, libiomp5 or None), or (None, None)."""
    if OPTIONS["blas"] != "mkl":
        return None, None
    iomp = _shared_library("intel-openmp", "libiomp5.so")
    rt = _shared_library("mkl", "libmkl_rt.so")
    if iomp is None or rt is None:
        return None, None
    # With libgomp loaded first (PyTorch imported before adcompiler), MKL's threads on libiomp5
    # computed wrong products (its OpenMP calls reached libgomp): MKL runs on libgomp then,
    # whose threads' spinning is libgomp's own
    gnu = _gnu_openmp_loaded()
    omp = None if gnu else ctypes.CDLL(iomp, mode=ctypes.RTLD_GLOBAL)
    if omp is not None and not _ENV_BLOCKTIME:      # a default, not the environment: child
        omp.kmp_set_defaults(b"KMP_BLOCKTIME=0")    # processes do not inherit it
    lib = ctypes.CDLL(rt)
    if lib.MKL_Set_Interface_Layer(_LP64) != _LP64:
        return None, None   # loaded before with 64-bit ints: our 32-bit arguments would be wrong
    layer = _GNU_THREADS if gnu else _INTEL_THREADS
    if lib.MKL_Set_Threading_Layer(layer) != layer:
        return None, None   # loaded before on another runtime
    lib.MKL_Set_Num_Threads(threads)
    p, i = ctypes.c_void_p, ctypes.c_int
    for name, scalar in (("sgemm", ctypes.c_float), ("dgemm", ctypes.c_double)):
        one = getattr(lib, "cblas_" + name)
        one.restype = None
        one.argtypes = [i] * 6 + [scalar, p, i, p, i, scalar, p, i]
        batch = getattr(lib, f"cblas_{name}_batch")
        batch.restype = None
        batch.argtypes = [i] + [p] * 13 + [i, p]
    return lib, omp


_THREAD = threading.local()


def _blocktime(macs):
    """How long the calling thread's OpenMP team spins after this product (see above)."""
    if OMP is not None and not _ENV_BLOCKTIME:
        ms = 1 if macs < SPIN_BELOW else 0
        if getattr(_THREAD, "blocktime", None) != ms:
            OMP.kmp_set_blocktime(ms)
            _THREAD.blocktime = ms


@functools.cache
def _functions(lib):
    """The single and grouped GEMM of `lib` by dtype."""
    return {np.dtype(np.float32): (lib.cblas_sgemm, lib.cblas_sgemm_batch),
            np.dtype(np.float64): (lib.cblas_dgemm, lib.cblas_dgemm_batch)}


def _addresses(x4):
    """The address of every matrix x4[i, j], flat in (i, j) order."""
    i = np.arange(x4.shape[0], dtype=np.int64)[:, None] * x4.strides[0]
    j = np.arange(x4.shape[1], dtype=np.int64)[None, :] * x4.strides[1]
    return (x4.ctypes.data + i + j).ravel()


def _group(ints, b4, a4, o4):
    """The arguments of cblas_?gemm_batch for one group of products (every per-group argument
    a one-element array: `ints` as the call takes them, then the scalars and the address
    tables of b4, a4 and o4), and the arrays they point into."""
    ints = np.array(ints, np.intc)
    scalars = np.array([1, 0], o4.dtype)
    tables = np.stack([_addresses(b4), _addresses(a4), _addresses(o4)])
    ip, sp, tp = ints.ctypes.data, scalars.ctypes.data, tables.ctypes.data
    isz, ssz, row = ints.itemsize, scalars.itemsize, tables.strides[0]
    args = (_COL_MAJOR, ip, ip + isz, ip + 2 * isz, ip + 3 * isz, ip + 4 * isz, sp, tp,
            ip + 5 * isz, tp + row, ip + 6 * isz, sp + ssz, tp + 2 * row, ip + 7 * isz, 1,
            ip + 8 * isz)
    return args, (ints, scalars, tables)


def gemm_call(a4, fa, b4, fb, o4):
    """The MKL call that computes o4[i, j] = a4[i, j] @ b4[i, j]: (function, arguments,
    multiply-adds, the arrays the arguments point into), for `run`; None when a size or
    leading dimension does not fit MKL's 32-bit integers. Its arguments are numbers and
    addresses only: it computes the product of any arrays at the same addresses in the same
    layout (runtime.matmul makes it once per layout)."""
    one, batch = _functions(LIB)[o4.dtype]
    m, k, n = a4.shape[2], a4.shape[3], b4.shape[3]
    ldc = max(o4.strides[2] // o4.itemsize, n)
    count = o4.shape[0] * o4.shape[1]
    if max(m, n, k, fa[1], fb[1], ldc, count) >= _INT_LIMIT:
        return None
    if count == 1:
        return one, (_COL_MAJOR, _TRANS[fb[0]], _TRANS[fa[0]], n, m, k, 1.0, b4.ctypes.data,
                     fb[1], a4.ctypes.data, fa[1], 0.0, o4.ctypes.data, ldc), m * n * k, ()
    args, arrays = _group((_TRANS[fb[0]], _TRANS[fa[0]], n, m, k, fb[1], fa[1], ldc, count),
                          b4, a4, o4)
    return batch, args, count * m * n * k, arrays


def run(call):
    function, args, macs, _ = call
    _blocktime(macs)
    function(*args)


_ENV_BLOCKTIME = "KMP_BLOCKTIME" in os.environ     # set by the user: left alone
LIB, OMP = _load(THREADS)
