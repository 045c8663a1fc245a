"""Options of the Numba backend, read when a program is built.

- `fastmath` (default off; env `ADCOMPILER_FASTMATH=1`): all of LLVM's fast-math flags for
  every kernel.
- `reassociate` (default on; env `ADCOMPILER_REASSOCIATE=0` turns it off): only LLVM's
  `reassoc` flag, which lets a reduction loop keep several partial sums in vector lanes.
  Without it no reduction vectorises (an exp-and-sum row loop ran 5x slower here). Results
  agree with the NumPy reference to float rounding, which is what the corpus tests check: it
  reorders sums, like NumPy's own pairwise sums, and LLVM may also regroup a product or
  quotient of constants (`x * 0.1 * 3.0` as `x * 0.3`, `x * 4096.0 / 4096.0` as `x`, where an
  overflow to inf in between then does not happen); off, every operation is NumPy's, in order.
- `parallel` (default on; env `ADCOMPILER_PARALLEL=0`): big kernels run their rows on
  threads (`runtime.launch`).
- `profile` (default off; env `ADCOMPILER_PROFILE=1`): drivers time every step into
  `runtime.PROFILE`; `runtime.report()` prints where a program spends its time (a function
  compiled whole then runs its steps in the driver).
- `whole` (default on; env `ADCOMPILER_WHOLE=0`): a function on small arrays is also written
  as one function of its own (`driver.small_function`), which runs instead of the driver's
  steps once compiled (`LOOPS` below says when).
- `blas` (env `ADCOMPILER_BLAS=mkl|openblas|numpy`, another value an error; default `mkl` on
  Intel CPUs, `numpy` on others): which BLAS runs matrix products, read when the runtime is
  imported: Intel MKL where its package is installed (`mkl.py`), SciPy's OpenBLAS with one
  product block per backend thread (`runtime.matmul`), or NumPy's own matmul on its threaded
  OpenBLAS. Measured, each in alternating A/B runs of one process (`benchmarks/ab.py`): on a
  Sapphire Rapids VM MKL took the medium GPT gradient from 450 to 384 ms and the OpenBLAS path
  beat NumPy's matmul (557 -> 450 ms, NumPy's spinning BLAS threads took the cores from the
  kernels); on an AMD Zen 1 VM the OpenBLAS path ran the small and medium gradients 4 % and 7 %
  faster than MKL, and NumPy's matmul 4 % and 17 % faster than the OpenBLAS path (its threads
  share one product's packed panels, where blocks on our threads pack them twice); on a Zen 5
  host torch's MKL made 205 GFLOP/s where OpenBLAS made 448 (shared/bench/results-cpu.md).
  With `numpy`, a stack of at least 2 x threads products still takes the SciPy OpenBLAS path
  (runtime.py; measured on a Zen 4 VM, where the Zen 1 numbers above predate it).

`LOOPS` (env `ADCOMPILER_LOOPS=auto|compile|python`, default `auto`): when a loop or a
function that `loops.py` wrote as a function of its own runs compiled: once it has spent
`runtime.COMPILE_AFTER` seconds in Python (less its first run, which compiles its kernels)
and a child process has compiled it meanwhile into Numba's disk cache, or at once where that
cache holds it (`auto`; a call with arguments of another type compiles at its call); always,
compiled at its first call (`compile`); never (`python`). Not one of the `OPTIONS` a program
is built with (its code is the same either way): `runtime.Compiled` reads it at each call.

`FIRST_CALLS` (env `ADCOMPILER_FIRST_CALLS=numpy|compile`, default `numpy`): whether a
program's first calls run the NumPy reference's code while a child process compiles its
kernels (`numpy`, tier.py), or wait for its kernels (`compile`). Like `LOOPS`, not one of the
`OPTIONS`.

`THREADS`: how many threads the backend runs on (`NUMBA_NUM_THREADS`, else every CPU this
process may run on).
"""
import os

from ...errors import AdcompilerError


def _flag(name, default):
    return os.environ.get(name, default) not in ("", "0")


def _choice(name, choices, default):
    value = os.environ.get(name) or default
    if value not in choices:
        raise AdcompilerError(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


def cpu_vendor() -> str:
    """The x86 vendor string (GenuineIntel, AuthenticAMD, ...), or "" where /proc/cpuinfo
    does not say."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


OPTIONS = {
    "fastmath": _flag("ADCOMPILER_FASTMATH", "0"),
    "reassociate": _flag("ADCOMPILER_REASSOCIATE", "1"),
    "parallel": _flag("ADCOMPILER_PARALLEL", "1"),
    "profile": _flag("ADCOMPILER_PROFILE", "0"),
    "whole": _flag("ADCOMPILER_WHOLE", "1"),
    "blas": _choice("ADCOMPILER_BLAS", ("mkl", "openblas", "numpy"),
                    "mkl" if cpu_vendor() == "GenuineIntel" else "numpy"),
}
LOOPS = _choice("ADCOMPILER_LOOPS", ("auto", "compile", "python"), "auto")
FIRST_CALLS = _choice("ADCOMPILER_FIRST_CALLS", ("numpy", "compile"), "numpy")


def _cpus() -> int:
    """The CPUs this process may run on (all of them where affinity is not known)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


THREADS = max(int(os.environ.get("NUMBA_NUM_THREADS") or _cpus()), 1)


def njit_flags() -> str:
    fast = "True" if OPTIONS["fastmath"] else ("{'reassoc'}" if OPTIONS["reassociate"]
                                               else "False")
    return f"cache=True, nogil=True, error_model='numpy', fastmath={fast}"
