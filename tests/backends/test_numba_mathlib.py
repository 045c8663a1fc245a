"""The Numba backend's vectorisable exp and tanh against NumPy in float64 (itself within 1 ulp
for float64 results, so float64 bounds allow 2): error in ulp of the
result's dtype over a dense range, and the special values (signed zeros, infinities, NaN,
overflow and underflow) where they must give what NumPy gives."""
import platform
import re

import numba
import numpy as np
import pytest
from numba import njit

from adcompiler.backends.numba_cpu.mathlib import fexp, ftanh


@njit  # not disk-cached: Numba would not see a change in the mathlib they inline
def _exp_loop(x, out):
    for i in range(x.size):
        out[i] = fexp(x[i])


@njit  # not disk-cached: Numba would not see a change in the mathlib they inline
def _tanh_loop(x, out):
    for i in range(x.size):
        out[i] = ftanh(x[i])


def _ulp_error(got, dtype, exact):
    exact = np.asarray(exact, np.float64)
    spacing = np.spacing(np.abs(exact).astype(dtype)).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact) / spacing


def _grid(dtype, lo, hi):
    x = np.concatenate([np.linspace(lo, hi, 400_001), np.geomspace(1e-30, 1.0, 20_001),
                        -np.geomspace(1e-30, 1.0, 20_001)])
    return x.astype(dtype)


SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1e-40, 1e30, -1e30, -1e9, -800.0]


@pytest.mark.parametrize("dtype,lo,hi,bound", [(np.float32, -104.0, 89.0, 1.0),
                                               (np.float64, -745.0, 709.0, 2.0)])
def test_exp_is_within_its_ulp_bound(dtype, lo, hi, bound):
    x = _grid(dtype, lo, hi)
    out = np.empty_like(x)
    _exp_loop(x, out)
    exact = np.exp(x.astype(np.float64))
    normal = (exact < np.finfo(dtype).max) & (exact > np.finfo(dtype).tiny)
    assert _ulp_error(out[normal], dtype, exact[normal]).max() <= bound
    s = np.array(SPECIAL, dtype)
    got = np.empty_like(s)
    _exp_loop(s, got)
    with np.errstate(over="ignore", under="ignore"):
        np.testing.assert_array_equal(got, np.exp(s))


@pytest.mark.parametrize("dtype,bound", [(np.float32, 2.0), (np.float64, 2.0)])
def test_tanh_is_within_its_ulp_bound(dtype, bound):
    x = _grid(dtype, -20.0, 20.0)
    out = np.empty_like(x)
    _tanh_loop(x, out)
    assert _ulp_error(out, dtype, np.tanh(x.astype(np.float64))).max() <= bound
    s = np.array(SPECIAL, dtype)
    got = np.empty_like(s)
    _tanh_loop(s, got)
    np.testing.assert_array_equal(got, np.tanh(s))
    np.testing.assert_array_equal(np.signbit(got), np.signbit(np.tanh(s)))


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"),
                    reason="reads x86 machine code")
@pytest.mark.parametrize("loop", [_exp_loop, _tanh_loop], ids=["exp", "tanh"])
def test_float32_loops_vectorise(loop):
    """The reason the helpers exist: a loop of them multiplies packed floats. A loop of libm's
    expf/tanhf does not (LLVM may wrap the call in a vector intrinsic, but the machine code
    then calls libm element by element)."""
    x = np.linspace(-3, 3, 64, dtype=np.float32)
    loop(x, np.empty_like(x))
    sig = next(s for s in loop.signatures if s[0].dtype == numba.float32)
    asm = loop.inspect_asm(sig)
    assert re.search(r"\bv?mulps\b", asm)
