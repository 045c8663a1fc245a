"""Scalar helpers that generated kernels call: `fexp`, `ftanh` and `ld0`. Why: without Intel's
SVML, Numba lowers `np.exp`/`np.tanh` on scalars to libm calls that LLVM cannot vectorise
(measured here on 2M float32: np.tanh 0.6 ms, a Numba loop of np.tanh 23 ms, of np.exp 4.3 ms).

`fexp` is exp by Cody-Waite range reduction and a polynomial, with the power of two built by a
bit cast, so a loop of it vectorises; it is within 1 ulp of float32 exp and about 2 ulp of
float64 exp, and gives 0, inf and NaN where NumPy does. Below the range where exp is 0 it
reduces 0 instead of the argument: scaling by 2^-149 made subnormals there, which an AMD Zen 1
computes ~3x slower (2M float32 exps with every other argument -1e9, as in a causal softmax:
14.0 ms, now 4.8; the medium GPT's softmax kernel on one thread: 14.4 -> 10.8 ms).

`ftanh` of a float32 is an odd polynomial below |x| = 0.625 and 1 - 2/(exp(2|x|) + 1) above
(no cancellation near 0), all in float32 so a loop of it vectorises 16 lanes wide; within 2 ulp
of the exact value (NumPy's own float32 tanh: 1.4 ulp); 2M of them in a loop: 4.0 ms when it
went through a float64 exp, 0.7 ms for NumPy's np.tanh. float64 tanh stays on libm.

The helpers are overloads inlined into the kernel (`inline="always"`): called per element
instead, they kept the loop from vectorising (a GELU loop: 27 ms against 3 ms). Their
polynomials are evaluated by `_fma` (LLVM's fmuladd: fused where the CPU has FMA, else a
multiply and an add): on the Zen 1 VM 2M float32 exps 4.55 -> 4.26 ms, tanhs 8.6 -> 7.8 ms,
within the same ulp bounds. `ld0` reads a rank-0 value that the driver may hold as a 0-d
array or as a scalar.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

F32, F64 = np.float32, np.float64


@intrinsic
def _bits_to_f32(typingctx, x):
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


@intrinsic
def _bits_to_f64(typingctx, x):
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c, one fused instruction where the CPU has FMA (LLVM's `llvm.fmuladd`)."""
    def codegen(context, builder, sig, args):
        t = args[0].type
        fn = builder.module.declare_intrinsic("llvm.fmuladd", [t], ir.FunctionType(t, [t] * 3))
        return builder.call(fn, args)
    return a(a, a, a), codegen


@njit(inline="always", error_model="numpy")
def exp_f32(x):
    # below -104 the result is 0 whatever is reduced: reduce 0, whose scaling makes no
    # subnormal (masked attention scores, -1e9, are half of a causal softmax)
    xc = min(max(x, F32(-103.0)), F32(88.8)) if x > F32(-104.0) else F32(0.0)
    n = np.floor(xc * F32(1.4426950408889634) + F32(0.5))
    r = xc - n * F32(0.693359375) + n * F32(2.12194440e-4)
    p = F32(1.9875691500e-4)
    p = _fma(p, r, F32(1.3981999507e-3))
    p = _fma(p, r, F32(8.3334519073e-3))
    p = _fma(p, r, F32(4.1665795894e-2))
    p = _fma(p, r, F32(1.6666665459e-1))
    p = _fma(p, r, F32(5.0000001201e-1))
    p = p * r * r + r + F32(1.0)
    ni = np.int32(n)
    half = ni >> 1          # 2^n as two factors: n reaches -149 (subnormals) and 128
    res = p * _bits_to_f32((half + 127) << 23) * _bits_to_f32((ni - half + 127) << 23)
    res = res if x > F32(-104.0) else F32(0.0)
    return res if x == x else x


@njit(inline="always", error_model="numpy")
def exp_f64(x):
    xc = min(max(x, -746.0), 709.8) if x > -746.0 else 0.0
    n = np.floor(xc * 1.4426950408889634 + 0.5)
    r = (xc - n * 0.6931471803691238) - n * 1.9082149292705877e-10
    p = 1.0 / 479001600.0          # Taylor to r^12: |r| <= ln2/2 leaves < 1 ulp of error
    for c in (1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0,
              1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0):
        p = _fma(p, r, c)
    ni = np.int64(n)
    half = ni >> 1
    res = p * _bits_to_f64((half + 1023) << 52) * _bits_to_f64((ni - half + 1023) << 52)
    res = res if x > -746.0 else 0.0
    return res if x == x else x


@njit(inline="always", error_model="numpy")
def tanh_f32(x):
    a = abs(x)
    x2 = x * x
    # tanh(x) = x + x^3 P(x^2) below 0.625: a least-squares fit of the relative error
    p = F32(0.0021429655607789755)
    p = _fma(p, x2, F32(-0.00817740336060524))
    p = _fma(p, x2, F32(0.021700706332921982))
    p = _fma(p, x2, F32(-0.05394676327705383))
    p = _fma(p, x2, F32(0.1333320587873459))
    p = _fma(p, x2, F32(-0.3333333134651184))
    small = x + x * x2 * p
    big = F32(1.0) - F32(2.0) / (exp_f32(F32(2.0) * min(a, F32(20.0))) + F32(1.0))
    t = small if a < F32(0.625) else (big if x > F32(0.0) else -big)
    return t if a >= F32(1e-4) else x       # tanh(x) rounds to x there; keeps -0.0 and NaN


def fexp(x):
    """Vectorisable exp of a float scalar (see the module docstring)."""
    return np.exp(x)


def ftanh(x):
    """Vectorisable tanh of a float32 scalar; libm's for float64."""
    return np.tanh(x)


def ld0(x):
    """The value of a rank-0 array or of a scalar."""
    return x[()] if isinstance(x, np.ndarray) else x


@overload(fexp, inline="always")
def _fexp(x):
    if x == types.float32:
        return lambda x: exp_f32(x)
    if x == types.float64:
        return lambda x: exp_f64(x)
    return lambda x: np.exp(x)


@overload(ftanh, inline="always")
def _ftanh(x):
    if x == types.float32:
        return lambda x: tanh_f32(x)
    return lambda x: np.tanh(x)


@overload(ld0, inline="always")
def _ld0(x):
    if isinstance(x, types.Array):
        return lambda x: x[()]
    return lambda x: x
