"""Scalar helpers that generated kernels call: `fexp`, `fexpm1`, `ftanh`, `flog`, `flog1p`,
`fexpit`, `fsin`, `fcos`, `vmax`, `vmin`, `fpow`, `ld0`, `fndtri` and `ferfinv`. Why: without
Intel's SVML, Numba lowers `np.exp`/`np.tanh`/`np.log` on scalars to libm calls that LLVM cannot
vectorise (measured here on 2M float32:
np.tanh 0.6 ms, a Numba loop of np.tanh 23 ms, of np.exp 4.3 ms; on an AVX-512 Xeon, per
element: a loop of libm's float64 tanh 12.9 ns against NumPy's 1.2, of log 2.4 ns (float32) and
3.7 (float64) against 0.4 and 0.9).

`fexp` is exp by Cody-Waite range reduction and a polynomial, with the power of two built by a
bit cast, so a loop of it vectorises; it is within 1 ulp of float32 exp and about 2 ulp of
float64 exp, and gives 0, inf and NaN where NumPy does. Where the result is 0 it reduces 0
instead of the argument: scaling by 2^-149 made subnormals there, which an AMD Zen 1 computes
~3x slower (2M float32 exps with every other argument -1e9, as in a causal softmax: 14.0 ms,
now 4.8; the medium GPT's softmax kernel on one thread: 14.4 -> 10.8 ms).

`ftanh` of a float32 is an odd polynomial below |x| = 0.625 and 1 - 2/(exp(2|x|) + 1) above
(no cancellation near 0), all in float32 so a loop of it vectorises as wide as the vector
registers; within 2 ulp of the exact value (NumPy's own float32 tanh: 1.4 ulp); 2M of them in
a loop: 4.0 ms when it went through a float64 exp, 0.7 ms for NumPy's np.tanh (on AVX-512).
Of a float64 it is Cephes' tanh: x + x^3 P(x^2)/Q(x^2) below 0.625, the same exp form above;
within 1.5 ulp (1.42 seen), 2.1 ns an element in a loop.

`flog` is musl's log and logf (from FreeBSD): the argument split by its bits into 2^k m with m
in [sqrt(2)/2, sqrt(2)), subnormals scaled up first, then log(m) from s = (m-1)/(m+1) by a
polynomial in s^2 and k ln2 in two parts; within 1 ulp (float32: 0.8), -inf at 0, NaN below
it, inf at inf; 0.5 ns (float32) and 1.2 ns (float64) an element in a loop. `flog1p` is musl's
log1p the same way: u = 1 + x split so, plus the rounding error of u divided by u, and x itself
as f where u is in [sqrt(2)/2, sqrt(2)); within 1 ulp (libm's in a loop: 10.6 ns an element).
`fexpit` is the logistic sigmoid as SciPy's expit computes it, from e = exp(-|x|) (which never
overflows): 1/(1 + e) for x >= 0, e/(1 + e) below.

`fexpm1` is exp(x) - 1 as (expm1(r) + (1 - 2^-n)) 2^n after fexp's reduction x = n ln2 + r:
expm1(r) = r + r^2 Q(r) by Taylor, so near 0 (n = 0, r = x exactly) nothing cancels; -1 below
-20 (float32; float64: -40), inf where exp overflows, NaN of NaN, -0.0 kept. Within 1.4 ulp
(float32, against float64 expm1; NumPy's own float32 expm1 is 2.5 off) and 1.8 ulp of the exact
float64 value (2 against NumPy's). 2M elements in a loop, one thread on this AVX-512 Xeon:
float32 1.3 ms (a loop of libm's expm1f: 18.6 ms; np.expm1 0.6), float64 3.2 ms (19.4; 2.3).

`fsin` and `fcos` of a float32 are musl's sinf and cosf: x = n pi/2 + y with y in
[-pi/4, pi/4] by Cody-Waite in float64 with a 25-bit part of pi/2 (times n exact for
|n| < 2^28) and its 53-bit rest, then musl's float kernels (__sindf, __cosdf) in float64, picked
and negated by n mod 4 (cos is sin one quadrant on). Within 0.501 ulp of the exact value
(NumPy's own float32 sin: 1.44) over tiny arguments, -10..10, -1e4..1e4, up to the limit and the
floats nearest 20,000 multiples of pi/2; sin(-0.0) is -0.0, inf and NaN give NaN. Beyond
SIN_MAX (2^28 pi/2, 4.2e8, where float32's spacing is 32 and the phase is noise) they give NaN,
not NumPy's value: the way to fall back, a call to libm for those elements, kept the loop from
vectorising (LLVM 22 does not vectorise a loop with a call to an unknown function, even in a
branch never taken, and widens `llvm.sin`, or a libm `sin` it recognises as one, into a libm
call for every element whether taken or not). A float64 takes libm's sin and cos, as NumPy's
float64 np.sin does (its medium reduction, musl's with three 33-bit parts of pi/2, held to
|x| < 1.6e6 only, which float64 times and phases exceed; Payne-Hanek's reduction, which covers
every float, needs a table of 2/pi's bits and gathers). 2M float32 elements in a loop, one
thread: 1.5 ms (libm's: 14.7 ms; np.sin 1.05); the gradient of sum(sin(x) * cos(x)) for a
(2048, 1024) float32 x through the Numba backend, one thread: 20.6 -> 4.4 ms; compile of a
kernel loop of either: 0.06-0.13 s, as of np.sin.

`fexp`, `fexpm1`, `ftanh`, `flog`, `flog1p`, `fsin` and `fcos` are Numba intrinsics that write
their float32/float64 arithmetic as LLVM instructions into the kernel (`_IR`), for other types
NumPy's function as Numba compiles it. Called per element as Numba functions, they kept the loop
from vectorising (a GELU loop: 27 ms against 3 ms). As overloads that Numba inlines
(`inline="always"`) they vectorised, but Numba typed and inlined their Python bodies anew in
every kernel: 1.2 s of compile per kernel that used tanh, 0.65 s for exp (the small GPT's
gradient: 18 s of kernel compiles on one core); as instructions, 0.02 s. Their polynomials use
`llvm.fmuladd` (fused where the CPU has FMA, else a multiply and an add, so float64 results may
differ in the last bit between the two): on the Zen 1 VM 2M float32 exps 4.55 -> 4.2 ms, tanhs
8.6 -> 7.6 ms, within the same ulp bounds.

`vmax`/`vmin` are the NaN-propagating maximum and minimum of two scalars that the max and min
reductions update their accumulator with. Of two floats of one type they are LLVM's
`llvm.maximum`/`llvm.minimum`, a reduction LLVM vectorises without fast-math flags; the Python
form `a if a >= x or a != a else x` stayed one scalar compare per element (the row maxima of the
medium GPT's attention scores, 2M float32 on one AVX-512 core: 2.7 ms, now 0.5). They differ
from NumPy only in the sign of a zero result: they take -0 < +0, where NumPy's depends on the
order of the zeros (np.max([-0., 0.]) is +0.0, np.max([0., -0.]) is -0.0). Other types
(integers, bools, mixed) use that Python form.

`iadd`, `isub` and `imul` are the int64 arithmetic of kernels: LLVM's `add`, `sub` and `mul`
without the `nsw` flag Numba's own carry, so a result beyond int64 wraps, as NumPy's does, and
LLVM does not fold a comparison as if it could not (Numba's `n + 1 > n` was True for n =
2**63 - 1, and `n * 10 > 0` for n = 2**62, where NumPy's wrapped values say False).

`fpow(x, y)` is `x ** y`, and of two floats of one type the multiplications x*x, x*x*x or
(x*x)*(x*x) where y is 2, 3 or 4, chosen by selects on y that LLVM folds away when y is a
constant: LLVM itself turns pow(x, 2.0) and pow(x, -1.0) into arithmetic but left x ** 3.0 a
libm call per element (a GELU written with u ** 3, as many are; 1M float64 elements, the value
and gradient of sum(x ** 3): 15.8 ms against 1.3 for sum((x - 1) ** 2)). The product of three
differs from pow's correctly rounded result by at most an ulp or so; NumPy itself squares for
2 (np.square). For 0.5 it is sqrt, as NumPy takes it (C's pow differs at -0.0 and -inf).

`ld0` reads a rank-0 value that the driver may hold as a 0-d array or as a scalar; as an inlined
overload it cost 0.03-0.08 s of compile per use (an AdamW kernel reads seven: 0.8 s to compile,
now 0.3 s). These are intrinsics: Python cannot call them outside Numba's compiler.

`fndtri` and `ferfinv` (scipy.special's ndtri and erfinv) are plain Numba functions, in
float64 whatever the argument (as SciPy's float32 loops compute): Wichura's AS241, within about
1e-15 relative of SciPy's values; a call per element, which special functions can afford.
"""
from __future__ import annotations

import functools
import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic


class _IR:
    """The helpers' arithmetic as LLVM instructions in one float type (`f`) and the integer
    type of its width (`i`): plain IR, which LLVM vectorises like the kernel's own lines.

    Every float instruction carries a fast-math flag that does not apply to it ('arcp' allows
    a reciprocal, so it only matters to a division; 'nsz' ignores the sign of zeros, which
    the one division here never sees). Numba's fast-math option flags only the instructions
    that have none (`numba.core.fastmathpass`), and reassociating the range reduction made
    float64 exp 214 ulp off under `ADCOMPILER_FASTMATH=1`; so the helpers keep their
    rounding whatever the kernel's flags."""

    KEEP = ("arcp",)

    def __init__(self, builder, f, i):
        self.b, self.f, self.i = builder, f, i

    def k(self, v):
        return ir.Constant(self.f, float(np.float32(v)) if isinstance(self.f, ir.FloatType)
                           else float(v))

    def add(self, a, b):
        return self.b.fadd(a, b, flags=self.KEEP)

    def sub(self, a, b):
        return self.b.fsub(a, b, flags=self.KEEP)

    def mul(self, a, b):
        return self.b.fmul(a, b, flags=self.KEEP)

    def div(self, a, b):
        return self.b.fdiv(a, b, flags=("nsz",))

    def call(self, name, *args):
        t = args[0].type
        fn = self.b.module.declare_intrinsic(name, [t], ir.FunctionType(t, [t] * len(args)))
        return self.b.call(fn, args)

    def fmuladd(self, a, b, c):
        """a * b + c, one instruction where the CPU has FMA (`llvm.fmuladd`)."""
        return self.call("llvm.fmuladd", a, b, c)

    def pick(self, op, a, b, yes, no):
        """`yes if a <op> b else no` for op in <, >, ==, >=: False where a or b is NaN, as
        in Python."""
        return self.b.select(self.b.fcmp_ordered(op, a, b, flags=self.KEEP), yes, no)

    def clamp(self, x, lo, hi):
        return self.pick(">", x, hi, hi, self.pick("<", x, lo, lo, x))

    def pow2(self, n, bias, shift):
        """2**n for an integer-valued float n, as two factors: n reaches the subnormals."""
        b = self.b
        ni = b.fptosi(n, self.i)
        half = b.ashr(ni, ir.Constant(self.i, 1))

        def factor(e):
            e = b.shl(b.add(e, ir.Constant(self.i, bias)), ir.Constant(self.i, shift))
            return b.bitcast(e, self.f)
        return factor(half), factor(b.sub(ni, half))


# the largest float32 whose exp rounds to 0: the one below ln(2^-150) = -103.97207708...
F32_ZERO_AT = -103.97208404541015625


# ln2 in two parts: n ln2_hi is exact for the n that exp and expm1 reach (Cephes' float32
# split, fdlibm's float64 one)
_LN2 = {32: (0.693359375, -2.12194440e-4), 64: (0.6931471803691238, 1.9082149292705877e-10)}


def _ln2_reduce(o, x):
    """(n, r) with x = n ln2 + r, n = round(x / ln2) an integer-valued float, |r| <= ln2/2."""
    n = o.call("llvm.floor", o.fmuladd(x, o.k(1.4426950408889634), o.k(0.5)))
    hi, lo = _LN2[o.i.width]
    return n, o.sub(o.sub(x, o.mul(n, o.k(hi))), o.mul(n, o.k(lo)))


def _exp_f32(o, x):
    # where the result is 0 reduce 0 instead, whose scaling makes no subnormal (masked
    # attention scores, -1e9, are half of a causal softmax)
    xc = o.pick(">", x, o.k(F32_ZERO_AT), o.clamp(x, o.k(-103.0), o.k(88.8)), o.k(0.0))
    n, r = _ln2_reduce(o, xc)
    p = o.k(1.9875691500e-4)
    for c in (1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
              5.0000001201e-1):
        p = o.fmuladd(p, r, o.k(c))
    p = o.add(o.add(o.mul(o.mul(p, r), r), r), o.k(1.0))
    lo, hi = o.pow2(n, 127, 23)
    res = o.pick(">", x, o.k(F32_ZERO_AT), o.mul(o.mul(p, lo), hi), o.k(0.0))
    return o.pick("==", x, x, res, x)


def _exp_f64(o, x):
    # below -746 the result is 0: reduce 0 there (as in _exp_f32)
    xc = o.pick(">", x, o.k(-746.0), o.pick(">", x, o.k(709.8), o.k(709.8), x), o.k(0.0))
    n, r = _ln2_reduce(o, xc)
    p = o.k(1.0 / 479001600.0)     # Taylor to r^12: |r| <= ln2/2 leaves < 1 ulp of error
    for c in (1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0,
              1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0):
        p = o.fmuladd(p, r, o.k(c))
    lo, hi = o.pow2(n, 1023, 52)
    res = o.pick(">", x, o.k(-746.0), o.mul(o.mul(p, lo), hi), o.k(0.0))
    return o.pick("==", x, x, res, x)


def _tanh_f32(o, x):
    a = o.call("llvm.fabs", x)
    x2 = o.mul(x, x)
    # tanh(x) = x + x^3 P(x^2) below 0.625: a least-squares fit of the relative error
    p = o.k(0.0021429655607789755)
    for c in (-0.00817740336060524, 0.021700706332921982, -0.05394676327705383,
              0.1333320587873459, -0.3333333134651184):
        p = o.fmuladd(p, x2, o.k(c))
    small = o.add(x, o.mul(o.mul(x, x2), p))
    e = _exp_f32(o, o.mul(o.k(2.0), o.pick("<", o.k(20.0), a, o.k(20.0), a)))
    big = o.sub(o.k(1.0), o.div(o.k(2.0), o.add(e, o.k(1.0))))
    t = o.pick("<", a, o.k(0.625), small, o.pick(">", x, o.k(0.0), big, o.b.fneg(big)))
    return o.pick(">=", a, o.k(1e-4), t, x)    # tanh(x) rounds to x there; keeps -0.0, NaN


def _tanh_f64(o, x):
    # Cephes' tanh: x + x^3 P(x^2)/Q(x^2) below 0.625, 1 - 2/(exp(2|x|) + 1) above
    a = o.call("llvm.fabs", x)
    x2 = o.mul(x, x)
    p = o.fmuladd(o.fmuladd(o.k(-9.64399179425052238628e-1), x2,
                            o.k(-9.92877231001918586564e1)), x2, o.k(-1.61468768441708447952e3))
    q = o.add(x2, o.k(1.12811678491632931402e2))
    for c in (2.23548839060100448583e3, 4.84406305325125486048e3):
        q = o.fmuladd(q, x2, o.k(c))
    small = o.add(x, o.mul(o.mul(x, x2), o.div(p, q)))
    e = _exp_f64(o, o.mul(o.k(2.0), o.pick("<", o.k(22.0), a, o.k(22.0), a)))
    big = o.sub(o.k(1.0), o.div(o.k(2.0), o.add(e, o.k(1.0))))
    t = o.pick("<", a, o.k(0.625), small, o.pick(">", x, o.k(0.0), big, o.b.fneg(big)))
    return o.pick(">=", a, o.k(1e-9), t, x)    # tanh(x) rounds to x there; keeps -0.0, NaN


# musl's log and logf (FreeBSD's): x = 2^k m with m in [sqrt(2)/2, sqrt(2)), f = m - 1,
# s = f/(2 + f), log(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2)), k ln2 in two parts
_LOG = {32: dict(lg=(0.66666662693, 0.40000972152, 0.28498786688, 0.24279078841),
                 ln2=(6.9313812256e-01, 9.0580006145e-06), tiny=2.0 ** -126, up=25,
                 mant=23, bias=0x7f, one=0x3f800000, sqrth=0x3f3504f3),
        64: dict(lg=(6.666666666666735130e-01, 3.999999999940941908e-01,
                     2.857142874366239149e-01, 2.222219843214978396e-01,
                     1.818357216161805012e-01, 1.531383769920937332e-01,
                     1.479819860511658591e-01),
                 ln2=(6.93147180369123816490e-01, 1.90821492927058770002e-10),
                 tiny=2.0 ** -1022, up=54, mant=52, bias=0x3ff, one=0x3ff0000000000000,
                 sqrth=0x3fe6a09e00000000)}


def _split(o, x):
    """(k, m - 1) with x = 2^k m, m in [sqrt(2)/2, sqrt(2)), for a positive normal x; k an
    integer."""
    c, b = _LOG[o.i.width], o.b
    bits = b.bitcast(x, o.i)
    i = b.add(bits, ir.Constant(o.i, c["one"] - c["sqrth"]))
    k = b.sub(b.ashr(i, ir.Constant(o.i, c["mant"])), ir.Constant(o.i, c["bias"]))
    frac = b.and_(i, ir.Constant(o.i, (1 << c["mant"]) - 1))
    if o.i.width == 64:     # the offset moved the high word only: the low word stays the input's
        frac = b.or_(b.and_(frac, ir.Constant(o.i, 0xfffff << 32)),
                     b.and_(bits, ir.Constant(o.i, 0xffffffff)))
    return k, o.sub(b.bitcast(b.add(frac, ir.Constant(o.i, c["sqrth"])), o.f), o.k(1.0))


def _log_of(o, k, f, c=None):
    """k ln2 + log(1 + f) (+ c, a correction of f's rounding) for f in [sqrt(2)/2 - 1,
    sqrt(2) - 1)."""
    consts = _LOG[o.i.width]
    s = o.div(f, o.add(o.k(2.0), f))
    z = o.mul(s, s)
    w = o.mul(z, z)

    def horner(coefs):
        acc = o.k(coefs[-1])
        for coef in reversed(coefs[:-1]):
            acc = o.fmuladd(acc, w, o.k(coef))
        return acc
    r = o.add(o.mul(z, horner(consts["lg"][0::2])), o.mul(w, horner(consts["lg"][1::2])))
    hfsq = o.mul(o.mul(o.k(0.5), f), f)
    dk = o.b.sitofp(k, o.f)
    hi, lo = consts["ln2"]
    low = o.mul(dk, o.k(lo)) if c is None else o.add(o.mul(dk, o.k(lo)), c)
    y = o.add(o.sub(o.add(o.mul(s, o.add(hfsq, r)), low), hfsq), f)
    return o.add(y, o.mul(dk, o.k(hi)))


def _log(o, x):
    c, b = _LOG[o.i.width], o.b
    tiny = b.fcmp_ordered("<", x, o.k(c["tiny"]), flags=o.KEEP)     # subnormal: scale up
    k, f = _split(o, b.select(tiny, o.mul(x, o.k(2.0 ** c["up"])), x))
    y = _log_of(o, b.select(tiny, b.sub(k, ir.Constant(o.i, c["up"])), k), f)
    # log(+inf) = inf, log(0) = -inf, log(x < 0) = NaN, and NaN stays NaN (False compares)
    y = o.pick("==", x, o.k(float("inf")), x, y)
    y = o.pick("==", x, o.k(0.0), o.k(float("-inf")), y)
    return o.pick(">=", x, o.k(0.0), y, o.k(float("nan")))


def _log1p(o, x):
    # musl's log1p/log1pf: u = 1 + x split as in log; c = log(1 + x) - log(u) to first order,
    # the rounding of u divided by u; for u in [sqrt(2)/2, sqrt(2)) f is x itself (exact)
    c, b = _LOG[o.i.width], o.b
    u = o.add(o.k(1.0), x)
    k, f = _split(o, u)
    near = b.icmp_signed("==", k, ir.Constant(o.i, 0))
    big = b.icmp_signed(">=", k, ir.Constant(o.i, 2))
    err = b.select(big, o.sub(o.k(1.0), o.sub(u, x)), o.sub(x, o.sub(u, o.k(1.0))))
    corr = b.select(b.icmp_signed("<", k, ir.Constant(o.i, c["mant"] + 2)), o.div(err, u),
                    o.k(0.0))
    y = _log_of(o, k, b.select(near, x, f), b.select(near, o.k(0.0), corr))
    # tiny |x|: x itself (also -0.0 and NaN); x = inf: inf; x = -1: -inf; x < -1: NaN
    y = o.pick("==", x, o.k(float("inf")), x, y)
    y = o.pick(">=", x, o.k(-1.0), y, o.k(float("nan")))
    y = o.pick("==", x, o.k(-1.0), o.k(float("-inf")), y)
    return o.pick(">=", o.call("llvm.fabs", x), o.k(2.0 ** -(c["mant"] + 2)), y, x)


def _expit(o, x):
    # SciPy's form: e = exp(-|x|) never overflows; 1/(1 + e) for x >= 0, e/(1 + e) below
    e = (_exp_f32 if o.i.width == 32 else _exp_f64)(o, o.b.fneg(o.call("llvm.fabs", x)))
    return o.div(o.pick(">=", x, o.k(0.0), o.k(1.0), e), o.add(o.k(1.0), e))


def _expm1(o, x):
    # 2^n (expm1(r) + 1) - 1 = (expm1(r) + (1 - 2^-n)) 2^n with x = n ln2 + r: expm1(r) = r +
    # r^2 Q(r) (Taylor) has no cancellation near 0, where n = 0 and r is x exactly; 1 - 2^-n
    # is exact (or rounds to 1 where it no longer matters), and the sum rounds once
    w = o.i.width
    lo, hi = (-20.0, 88.8) if w == 32 else (-40.0, 709.8)     # expm1(lo) rounds to -1
    xc = o.pick(">=", x, o.k(lo), o.pick("<", x, o.k(hi), x, o.k(hi)), o.k(lo))    # NaN: lo
    n, r = _ln2_reduce(o, xc)
    q = o.k(1.0 / (40320.0 if w == 32 else 87178291200.0))
    for j in range(7 if w == 32 else 13, 1, -1):
        q = o.fmuladd(q, r, o.k(1.0 / math.factorial(j)))
    p = o.fmuladd(o.mul(r, r), q, r)
    bias, shift = (127, 23) if w == 32 else (1023, 52)
    m = o.pick(">", n, o.k(w), o.k(w), n)       # 2^-n below an ulp of 1 counts as 0
    c = o.sub(o.k(1.0), o.mul(*o.pow2(o.b.fneg(m), bias, shift)))
    lo2, hi2 = o.pow2(n, bias, shift)
    y = o.mul(o.mul(o.add(p, c), lo2), hi2)
    # expm1(x) rounds to x below 2^-(mantissa + 2): keeps -0.0; NaN stays NaN
    return o.pick(">=", o.call("llvm.fabs", x), o.k(2.0 ** -(shift + 2)), y, x)


# musl's sinf reduction (in float64): pi/2 as a 25-bit part, exact times n for |n| < 2^28, and
# its 53-bit rest; SIN_MAX, 2^28 pi/2, the |x| up to which it holds
_PIO2 = (1.57079631090164184570e+00, 1.58932547735281966916e-08)
SIN_MAX = 421657428.0


def _rem_pio2(o, x):
    """(n, y): x = n pi/2 + y, y in [-pi/4, pi/4] (musl's __rem_pio2f, in float64)."""
    n = o.call("llvm.rint", o.mul(x, o.k(6.36619772367581382433e-01)))
    return n, o.sub(o.sub(x, o.mul(n, o.k(_PIO2[0]))), o.mul(n, o.k(_PIO2[1])))


def _sin_kernels_f32(o, x):
    """musl's __sindf and __cosdf (float results from float64 arithmetic) on [-pi/4, pi/4]."""
    z = o.mul(x, x)
    w = o.mul(z, z)
    s = o.mul(z, x)
    k = float.fromhex
    sin = o.add(o.fmuladd(s, o.fmuladd(z, o.k(k("0x111110896efbb2p-59")),
                                       o.k(k("-0x15555554cbac77p-55"))), x),
                o.mul(o.mul(s, w), o.fmuladd(z, o.k(k("0x16cd878c3b46a7p-71")),
                                             o.k(k("-0x1a00f9e2cae774p-65")))))
    cos = o.add(o.fmuladd(w, o.k(k("0x155553e1053a42p-57")),
                          o.fmuladd(z, o.k(k("-0x1ffffffd0c5e81p-54")), o.k(1.0))),
                o.mul(o.mul(w, z), o.fmuladd(z, o.k(k("0x199342e0ee5069p-68")),
                                             o.k(k("-0x16c087e80f1e27p-62")))))
    return sin, cos


def _sincos(o, x, quarter):
    """sin(x + quarter pi/2) of a float32: sin for quarter 0, cos for 1, reduced and evaluated
    in float64 (as musl's sinf); beyond SIN_MAX, NaN (see the module docstring)."""
    b = o.b
    d = _IR(b, ir.DoubleType(), ir.IntType(64))
    a = o.call("llvm.fabs", x)
    near = b.fcmp_ordered("<", a, o.k(SIN_MAX), flags=o.KEEP)    # False for inf, NaN
    n, y = _rem_pio2(d, b.select(near, b.fpext(x, d.f), d.k(0.0)))
    sin, cos = _sin_kernels_f32(d, y)
    q = b.add(b.fptosi(n, ir.IntType(32)), ir.Constant(ir.IntType(32), quarter))

    def bit(k):
        return b.trunc(b.lshr(q, ir.Constant(q.type, k)), ir.IntType(1))
    v = b.select(bit(0), cos, sin)              # quadrants 1 and 3: cos; 2 and 3: negated
    v = b.select(bit(1), b.fneg(v), v)
    v = b.select(near, b.fptrunc(v, o.f), o.k(float("nan")))
    if quarter:
        return v
    # sin(x) rounds to x below 2^-12: keeps -0.0; NaN stays NaN
    return o.pick(">=", a, o.k(2.0 ** -12), v, x)


def _typed(typingctx, x, impls, ufunc):
    """An intrinsic's signature and codegen: `impls[numba type](an _IR, x)` emitted inline,
    for other types `ufunc` as Numba compiles it (libm's code), or a typing error where
    `ufunc` is None."""
    def codegen(context, builder, sig, args):
        if x in impls:
            return impls[x](_IR(builder, context.get_value_type(x), ir.IntType(x.bitwidth)),
                            args[0])
        return context.compile_internal(builder, lambda v: ufunc(v), sig, args)
    if x in impls:
        return x(x), codegen
    if ufunc is None:
        return None
    fnty = typingctx.resolve_value_type(ufunc)
    return typingctx.resolve_function_type(fnty, (x,), {}), codegen


@intrinsic
def fexp(typingctx, x):
    """Vectorisable exp of a float scalar (see the module docstring)."""
    return _typed(typingctx, x, {types.float32: _exp_f32, types.float64: _exp_f64}, np.exp)


@intrinsic
def ftanh(typingctx, x):
    """Vectorisable tanh of a float scalar (see the module docstring)."""
    return _typed(typingctx, x, {types.float32: _tanh_f32, types.float64: _tanh_f64}, np.tanh)


@intrinsic
def flog(typingctx, x):
    """Vectorisable natural log of a float scalar (see the module docstring)."""
    return _typed(typingctx, x, {types.float32: _log, types.float64: _log}, np.log)


@intrinsic
def flog1p(typingctx, x):
    """Vectorisable log(1 + x) of a float scalar (see the module docstring)."""
    return _typed(typingctx, x, {types.float32: _log1p, types.float64: _log1p}, np.log1p)


@intrinsic
def fexpit(typingctx, x):
    """Vectorisable logistic sigmoid 1/(1 + exp(-x)) of a float32 or float64 scalar, within a
    few ulp (its exp's error and two roundings); 0 and 1 at the ends, never NaN but of NaN."""
    return _typed(typingctx, x, {types.float32: _expit, types.float64: _expit}, None)


@intrinsic
def fexpm1(typingctx, x):
    """Vectorisable exp(x) - 1 of a float scalar (see the module docstring)."""
    return _typed(typingctx, x, {types.float32: _expm1, types.float64: _expm1}, np.expm1)


@intrinsic
def fsin(typingctx, x):
    """Vectorisable sin of a float32 scalar, libm's of others (see the module docstring)."""
    return _typed(typingctx, x, {types.float32: functools.partial(_sincos, quarter=0)}, np.sin)


@intrinsic
def fcos(typingctx, x):
    """Vectorisable cos of a float32 scalar, libm's of others (see the module docstring)."""
    return _typed(typingctx, x, {types.float32: functools.partial(_sincos, quarter=1)}, np.cos)


def _binary(typingctx, a, b, emit, python):
    """A two-argument intrinsic's signature and codegen: `emit(an _IR, a, b)` written inline
    for two floats of one type, for other types `python(a, b)` as Numba compiles it."""
    if a == b and isinstance(a, types.Float):
        def codegen(context, builder, sig, args):
            return emit(_IR(builder, context.get_value_type(a), ir.IntType(a.bitwidth)), *args)
        return a(a, b), codegen
    t = typingctx.unify_types(types.unliteral(a), types.unliteral(b))
    if t is None:
        return None
    return t(a, b), lambda context, builder, sig, args: context.compile_internal(
        builder, python, sig, args)


def _wrapping(typingctx, a, b, method):
    """A wrapping integer operation `method` (an llvmlite builder method) of two integers."""
    t = typingctx.unify_types(types.unliteral(a), types.unliteral(b))
    if not isinstance(t, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        x, y = (context.cast(builder, v, s, t) for v, s in zip(args, sig.args, strict=True))
        return getattr(builder, method)(x, y)
    return t(a, b), codegen


@intrinsic
def iadd(typingctx, a, b):
    return _wrapping(typingctx, a, b, "add")


@intrinsic
def isub(typingctx, a, b):
    return _wrapping(typingctx, a, b, "sub")


@intrinsic
def imul(typingctx, a, b):
    return _wrapping(typingctx, a, b, "mul")


@intrinsic
def vmax(typingctx, a, b):
    """Vectorisable NaN-propagating max of two scalars (see the module docstring)."""
    return _binary(typingctx, a, b, lambda o, x, y: o.call("llvm.maximum", x, y),
                   lambda x, y: x if x >= y or x != x else y)


@intrinsic
def vmin(typingctx, a, b):
    """Vectorisable NaN-propagating min of two scalars (see the module docstring)."""
    return _binary(typingctx, a, b, lambda o, x, y: o.call("llvm.minimum", x, y),
                   lambda x, y: x if x <= y or x != x else y)


def _pow(o, a, n):
    sq = o.mul(a, a)
    res = o.call("llvm.pow", a, n)
    for k, power in ((4.0, o.mul(sq, sq)), (3.0, o.mul(sq, a)), (2.0, sq),
                     (0.5, o.call("llvm.sqrt", a))):
        res = o.pick("==", n, o.k(k), power, res)
    return res


@intrinsic
def fpow(typingctx, x, y):
    """x ** y; of two floats of one type, by multiplying where y is 2, 3 or 4 and as sqrt
    where it is 0.5 (see the module docstring)."""
    return _binary(typingctx, x, y, _pow, lambda a, b: a ** b)


@intrinsic
def ld0(typingctx, x):
    """The value of a rank-0 array or of a scalar (other arrays: a typing error). The load
    assumes no alignment: Numba types every array argument aligned, NumPy's flag aside, and
    one scalar load costs the same either way."""
    if isinstance(x, types.Array):
        if x.ndim != 0:
            return None

        def load(context, builder, sig, args):
            data = context.make_array(x)(context, builder, args[0]).data
            return context.unpack_value(builder, x.dtype, data, align=1)
        return x.dtype(x), load
    x = types.unliteral(x)
    return x(x), lambda context, builder, sig, args: args[0]


# Wichura's algorithm AS241 (PPND16, Applied Statistics 37, 1988): the standard normal's
# quantile as ratios of degree-7 polynomials in three ranges, within about 1e-16 relative;
# each tuple lists a polynomial's coefficients from the constant term up
_AS241_CENTRAL = ((3.3871328727963666080, 1.3314166789178437745e2, 1.9715909503065514427e3,
                   1.3731693765509461125e4, 4.5921953931549871457e4, 6.7265770927008700853e4,
                   3.3430575583588128105e4, 2.5090809287301226727e3),
                  (1.0, 4.2313330701600911252e1, 6.8718700749205790830e2,
                   5.3941960214247511077e3, 2.1213794301586595867e4, 3.9307895800092710610e4,
                   2.8729085735721942674e4, 5.2264952788528545610e3))
_AS241_NEAR = ((1.42343711074968357734, 4.63033784615654529590, 5.76949722146069140550,
                3.64784832476320460504, 1.27045825245236838258, 2.41780725177450611770e-1,
                2.27238449892691845833e-2, 7.74545014278341407640e-4),
               (1.0, 2.05319162663775882187, 1.67638483018380384940, 6.89767334985100004550e-1,
                1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
                1.05075007164441684324e-9))
_AS241_FAR = ((6.65790464350110377720, 5.46378491116411436990, 1.78482653991729133580,
               2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
               2.71155556874348757815e-5, 2.01033439929228813265e-7),
              (1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1,
               1.48753612908506148525e-2, 7.86869131145613259100e-4, 1.84631831751005468180e-5,
               1.42151175831644588870e-7, 2.04426310338993978564e-15))


@njit
def _ratio(x, coefs):
    num, den = coefs
    n = d = 0.0
    for i in range(len(num) - 1, -1, -1):
        n = n * x + num[i]
        d = d * x + den[i]
    return n / d


@njit
def _normal_quantile(q, tail):
    """The standard normal's quantile at p, given as q = p - 1/2 and tail = min(p, 1 - p),
    each exact where its range reads it (the caller computes them so), in float64."""
    if abs(q) <= 0.425:
        return q * _ratio(0.180625 - q * q, _AS241_CENTRAL)
    if tail == 0.0:
        return math.copysign(math.inf, q)
    r = math.sqrt(-math.log(tail))
    z = _ratio(r - 1.6, _AS241_NEAR) if r <= 5.0 else _ratio(r - 5.0, _AS241_FAR)
    return z if q > 0 else -z


@njit
def fndtri(p):
    """scipy.special.ndtri, the standard normal's quantile, in float64: NaN outside [0, 1],
    -inf at 0, inf at 1. (1 - p is exact for p >= 1/2, where the tail reads it.)"""
    p = float(p)
    if not 0.0 <= p <= 1.0:
        return math.nan
    return _normal_quantile(p - 0.5, min(p, 1.0 - p))


@njit
def ferfinv(x):
    """scipy.special.erfinv = ndtri((1 + x) / 2) / sqrt(2), in float64, from q = x / 2 (exact,
    so erfinv(1e-10) keeps its digits, which (1 + x) / 2 would round away): NaN outside
    [-1, 1], -inf and inf at -1 and 1."""
    x = float(x)
    if not -1.0 <= x <= 1.0:
        return math.nan
    return _normal_quantile(0.5 * x, 0.5 * (1.0 - abs(x))) * 0.7071067811865476
