"""The Numba CPU backend: IR -> fused loop kernels compiled with `numba.njit`, called from a
Python driver that also runs BLAS, views and control flow.

It implements the backend protocol of `backends/numpy/__init__.py`:
- `compile_function(fn) -> callable`;
- `AdjointProgram(adjoint, name)`: `.fwd`, `.bwd`, `.grad`, `.source`; `OPTIONS`.

Stages, one module each: `fusion` (ops -> loop groups and driver steps), `kernels` (a group ->
kernel source), `cache` (kernel files under `ADCOMPILER_CACHE_DIR`, Numba's disk cache, built
programs), `memory` (liveness -> reused buffers), `remat` (cheap residuals recomputed in the
backward sweep), `driver` (driver source), `program` (the protocol), `precompile` (a driver's
kernels compiled on every core before its first call), `runtime`, `mkl` and
`mathlib` (helpers the generated code calls: threads, BLAS, exp/tanh), `options` (fastmath,
BLAS, threads).
Ops are lowered from their registry entry's `lower["numba"]`: a scalar expression (elementwise),
`{"driver": ...}` (run by the driver; `"loop"` names how a kernel can take it instead,
`"compiled"` what a loop compiled whole runs instead of the driver's statements), or for
a reduction `{"init", "update", "combine"}` (identity, scalar update, and the NumPy ufunc
that merges per-chunk partials, NaN-propagating as the update is) plus `"wide": True` when
narrow floats must accumulate in float64 (sum, prod); `STRUCTURED` ops (control flow, calls)
are the driver's own.

Numba's `NUMBA_DISABLE_JIT` turns `njit` into plain Python, which this backend cannot run on:
importing it then raises an `AdcompilerError` that says so.
"""
from numba import config

from ...errors import AdcompilerError

if config.DISABLE_JIT:
    raise AdcompilerError("backend 'numba' compiles with Numba, and NUMBA_DISABLE_JIT is set: "
                          "unset it, or pass backend='numpy' (the NumPy reference)")

from .driver import STRUCTURED  # noqa: E402
from .options import OPTIONS  # noqa: E402
from .program import NumbaProgram as AdjointProgram, compile_function  # noqa: E402

__all__ = ["AdjointProgram", "OPTIONS", "STRUCTURED", "compile_function"]
