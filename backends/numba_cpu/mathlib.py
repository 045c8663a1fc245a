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

`fexp` and `ftanh` are Numba intrinsics that write their float32/float64 arithmetic as LLVM
instructions into the kernel (`_IR`), for other types NumPy's function as Numba compiles it.
Called per element as Numba functions, they kept the loop from vectorising (a GELU loop: 27 ms
against 3 ms); as overloads Numba inlines (`inline="always"`, until the eighth session) they
vectorised, but Numba typed and inlined their Python body anew in every kernel: 1.2 s of
compile per kernel that used tanh, 0.65 s for exp (the small GPT's gradient: 18 s of kernel
compiles on one core). As instructions: 0.02 s. Their polynomials use `llvm.fmuladd` (fused
where the CPU has FMA, else a multiply and an add): on the Zen 1 VM 2M float32 exps 4.55 ->
4.2 ms, tanhs 8.6 -> 7.6 ms, within the same ulp bounds. `ld0` reads a rank-0 value that the
driver may hold as a 0-d array or as a scalar; as an inlined overload it cost 0.03-0.08 s of
compile per use (an AdamW kernel reads seven: 0.8 s to compile, now 0.3 s).
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

class _IR:
    """The helpers' arithmetic as LLVM instructions in one float type (`f`) and the integer
    type of its width (`i`): plain IR, which LLVM vectorises like the kernel's own lines."""

    def __init__(self, builder, f, i):
        self.b, self.f, self.i = builder, f, i

    def k(self, v):
        return ir.Constant(self.f, float(np.float32(v)) if isinstance(self.f, ir.FloatType)
                           else float(v))

    def call(self, name, *args):
        t = args[0].type
        fn = self.b.module.declare_intrinsic(name, [t], ir.FunctionType(t, [t] * len(args)))
        return self.b.call(fn, args)

    def fma(self, a, b, c):
        """a * b + c, one instruction where the CPU has FMA (`llvm.fmuladd`)."""
        return self.call("llvm.fmuladd", a, b, c)

    def pick(self, op, a, b, yes, no):
        """`yes if a <op> b else no`, as Python compares floats (NaN: False)."""
        return self.b.select(self.b.fcmp_ordered(op, a, b), yes, no)

    def clamp(self, x, lo, hi):
        x = self.pick("<", x, lo, lo, x)
        return self.pick(">", x, hi, hi, x)

    def pow2(self, n, bias, shift):
        """2**n for an integer-valued float n, as two factors: n reaches the subnormals."""
        b = self.b
        ni = b.fptosi(n, self.i)
        half = b.ashr(ni, ir.Constant(self.i, 1))

        def factor(e):
            e = b.shl(b.add(e, ir.Constant(self.i, bias)), ir.Constant(self.i, shift))
            return b.bitcast(e, self.f)
        return factor(half), factor(b.sub(ni, half))


def _exp_f32(o, x):
    b = o.b
    # below -104 the result is 0 whatever is reduced: reduce 0, whose scaling makes no
    # subnormal (masked attention scores, -1e9, are half of a causal softmax)
    xc = o.pick(">", x, o.k(-104.0), o.clamp(x, o.k(-103.0), o.k(88.8)), o.k(0.0))
    n = o.call("llvm.floor", o.fma(xc, o.k(1.4426950408889634), o.k(0.5)))
    r = b.fadd(b.fsub(xc, b.fmul(n, o.k(0.693359375))), b.fmul(n, o.k(2.12194440e-4)))
    p = o.k(1.9875691500e-4)
    for c in (1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
              5.0000001201e-1):
        p = o.fma(p, r, o.k(c))
    p = b.fadd(b.fadd(b.fmul(b.fmul(p, r), r), r), o.k(1.0))
    lo, hi = o.pow2(n, 127, 23)
    res = o.pick(">", x, o.k(-104.0), b.fmul(b.fmul(p, lo), hi), o.k(0.0))
    return o.pick("==", x, x, res, x)


def _exp_f64(o, x):
    b = o.b
    xc = o.pick(">", x, o.k(-746.0), o.clamp(x, o.k(-746.0), o.k(709.8)), o.k(0.0))
    n = o.call("llvm.floor", o.fma(xc, o.k(1.4426950408889634), o.k(0.5)))
    r = b.fsub(b.fsub(xc, b.fmul(n, o.k(0.6931471803691238))),
               b.fmul(n, o.k(1.9082149292705877e-10)))
    p = o.k(1.0 / 479001600.0)     # Taylor to r^12: |r| <= ln2/2 leaves < 1 ulp of error
    for c in (1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0,
              1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0):
        p = o.fma(p, r, o.k(c))
    lo, hi = o.pow2(n, 1023, 52)
    res = o.pick(">", x, o.k(-746.0), b.fmul(b.fmul(p, lo), hi), o.k(0.0))
    return o.pick("==", x, x, res, x)


def _tanh_f32(o, x):
    b = o.b
    a = o.call("llvm.fabs", x)
    x2 = b.fmul(x, x)
    # tanh(x) = x + x^3 P(x^2) below 0.625: a least-squares fit of the relative error
    p = o.k(0.0021429655607789755)
    for c in (-0.00817740336060524, 0.021700706332921982, -0.05394676327705383,
              0.1333320587873459, -0.3333333134651184):
        p = o.fma(p, x2, o.k(c))
    small = b.fadd(x, b.fmul(b.fmul(x, x2), p))
    e = _exp_f32(o, b.fmul(o.k(2.0), o.pick("<", o.k(20.0), a, o.k(20.0), a)))
    big = b.fsub(o.k(1.0), b.fdiv(o.k(2.0), b.fadd(e, o.k(1.0))))
    t = o.pick("<", a, o.k(0.625), small, o.pick(">", x, o.k(0.0), big, b.fneg(big)))
    return o.pick(">=", a, o.k(1e-4), t, x)    # tanh(x) rounds to x there; keeps -0.0, NaN


def _helper(impls, ufunc):
    """The typer of an intrinsic that emits `impls[numba type](_IR, x)` inline, and for
    other types calls `ufunc` as Numba compiles it (libm's code)."""
    def typer(typingctx, x):
        def codegen(context, builder, sig, args):
            if x in impls:
                t = context.get_value_type(x)
                o = _IR(builder, t, ir.IntType(t.get_abi_size(context.target_data) * 8))
                return impls[x](o, args[0])
            return context.compile_internal(builder, lambda v: ufunc(v), sig, args)
        if x in impls:
            return x(x), codegen
        fnty = typingctx.resolve_value_type(ufunc)
        return typingctx.resolve_function_type(fnty, (x,), {}), codegen
    return typer


@intrinsic
def fexp(typingctx, x):
    """Vectorisable exp of a float scalar (see the module docstring)."""
    return _helper({types.float32: _exp_f32, types.float64: _exp_f64}, np.exp)(typingctx, x)


@intrinsic
def ftanh(typingctx, x):
    """Vectorisable tanh of a float32 scalar; libm's for float64."""
    return _helper({types.float32: _tanh_f32}, np.tanh)(typingctx, x)


@intrinsic
def ld0(typingctx, x):
    """The value of a rank-0 array or of a scalar."""
    if isinstance(x, types.Array):
        def load(context, builder, sig, args):
            return context.unpack_value(builder, x.dtype,
                                        context.make_array(x)(context, builder, args[0]).data)
        return x.dtype(x), load
    x = types.unliteral(x)
    return x(x), lambda context, builder, sig, args: args[0]
