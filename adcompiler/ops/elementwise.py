"""Elementwise ops. Differentiable math is declared as a SymPy expression, written as text in
the op's parameters `x` (and `y`); its VJP is derived by `sympy.diff` (see
`adcompiler/ad/sympy_ir.py`, which parses the text when an op is first differentiated, so
importing adcompiler does not import SymPy).
`lower["numba"]` is a scalar expression over the operands' scalars, evaluated inside a
generated loop (`fexp`, `fexpm1`, `ftanh`, `flog`, `flog1p`, `fexpit`, `fsin`, `fcos`: the Numba
backend's vectorisable versions; NumPy's ufuncs and `math` functions there are libm calls per
element). `lower["numba_i64"]`, where given, is that expression for int64 results: mathlib's
`iadd`/`isub`/`imul`, which wrap as NumPy's ints (Numba's own arithmetic lets LLVM assume they
do not: `n + 1 > n` read True at 2**63 - 1), and a floor division whose INT64_MIN // -1 is
NumPy's INT64_MIN (Numba's is 0). The NumPy backend's generated code imports `scipy.special`
where a lowering names it (erf, expit).
Operands of a binary op share one dtype (the frontend inserts NumPy's promotions as explicit
`astype`) and broadcast as in NumPy.
"""

import math

from ..ad.emit import const, ones_at_zeros, sum_to, zeros
from ..ad.sympy_ir import elementwise_vjp
from ..ir.types import TensorType
from .family import broadcast_rule, check, declare

FLOATS = broadcast_rule(floats_only=True)
SAME = broadcast_rule()
BOOL_OUT = broadcast_rule(out_dtype="bool")
FLOAT_TO_BOOL = broadcast_rule(out_dtype="bool", floats_only=True)
BOOL_ONLY = broadcast_rule(operand_dtype="bool")
NUMERIC = broadcast_rule(numeric=True)


def _lower(numpy, numba, numba_i64):
    return {"numpy": numpy, "numba": numba or numpy,
            **({"numba_i64": numba_i64} if numba_i64 else {})}


def unary(name, expr, numpy, infer=FLOATS, numba=None, cheap=False, vjp=elementwise_vjp,
          numba_i64=None):
    return declare(name, infer, arity=1, kind="elementwise", sympy=expr, cheap=cheap,
                   vjp=vjp, lower=_lower(numpy, numba, numba_i64))


def binary(name, expr, numpy, infer=SAME, numba=None, cheap=False, reassociable=False,
           vjp=elementwise_vjp, numba_i64=None):
    return declare(name, infer, arity=2, kind="elementwise", sympy=expr, cheap=cheap,
                   reassociable=reassociable, vjp=vjp, lower=_lower(numpy, numba, numba_i64))


def nondiff(name, arity, numpy, infer=SAME, expr=None, numba=None, cheap=False,
            numba_i64=None):
    return declare(name, infer, arity=arity, kind="elementwise", nondiff=True, sympy=expr,
                   cheap=cheap, lower=_lower(numpy, numba, numba_i64))


unary("neg", "-x", "-{0}", infer=NUMERIC, cheap=True, numba_i64="isub(0, {0})")
unary("exp", "exp(x)", "np.exp({0})", numba="fexp({0})")
unary("log", "log(x)", "np.log({0})", numba="flog({0})")
unary("log1p", "log(1 + x)", "np.log1p({0})", numba="flog1p({0})")
unary("expm1", "exp(x) - 1", "np.expm1({0})", numba="fexpm1({0})")
unary("sqrt", "sqrt(x)", "np.sqrt({0})")
unary("tanh", "tanh(x)", "np.tanh({0})", numba="ftanh({0})")
unary("sin", "sin(x)", "np.sin({0})", numba="fsin({0})")
unary("cos", "cos(x)", "np.cos({0})", numba="fcos({0})")
unary("tan", "tan(x)", "np.tan({0})")
unary("arcsin", "asin(x)", "np.arcsin({0})")
unary("arccos", "acos(x)", "np.arccos({0})")
unary("arctan", "atan(x)", "np.arctan({0})")
unary("sinh", "sinh(x)", "np.sinh({0})")
unary("cosh", "cosh(x)", "np.cosh({0})")


def _arcsinh_vjp(b, op, cts, needs):
    """ct / hypot(x, 1): SymPy's 1/sqrt(x**2 + 1) squares x, which overflows (a gradient of 0,
    and an overflow warning) from |x| ~ 1.3e154, 1.8e19 in float32."""
    (x,) = op.operands
    return [b.op("div", cts[0], b.op("hypot", x, const(b, 1, x.type.dtype)))]


def _arctanh_vjp(b, op, cts, needs):
    """ct / ((1 - x)(1 + x)): SymPy's 1/(1 - x**2) cancels near |x| = 1 (relative errors of
    ~1e-4 in float32 there); 1 - x is exact for x in [0.5, 1]."""
    (x,) = op.operands
    one = const(b, 1, x.type.dtype)
    return [b.op("div", cts[0], b.op("mul", b.op("sub", one, x), b.op("add", one, x)))]


unary("arcsinh", "asinh(x)", "np.arcsinh({0})", vjp=_arcsinh_vjp)
unary("arccosh", "acosh(x)", "np.arccosh({0})")     # SymPy's 1/(sqrt(x - 1) sqrt(x + 1))
unary("arctanh", "atanh(x)", "np.arctanh({0})", vjp=_arctanh_vjp)

unary("abs", "Abs(x)", "np.abs({0})", infer=SAME, cheap=True)
unary("log2", "log(x)/log(2)", "np.log2({0})")
unary("log10", "log(x)/log(10)", "np.log10({0})")
unary("exp2", "2**x", "np.exp2({0})")


def _cbrt_vjp(b, op, cts, needs):
    """ct / (3 r**2) from the result r (inf at 0, as sqrt's derivative there)."""
    r = op.result
    return [b.op("div", cts[0], b.op("mul", const(b, 3, r.type.dtype), b.op("mul", r, r)))]


# the real cube root, negative for negative x (SymPy's cbrt(x) = x**(1/3) is complex there);
# the SymPy text, equal to it for x != 0, is what the gradient tests differentiate
unary("cbrt", "x/Abs(x)**(2/3)", "np.cbrt({0})", vjp=_cbrt_vjp)


def _single_double(types, attrs):
    """SciPy's special functions have no float16 loop: the frontend computes them in float32."""
    out = FLOATS(types, attrs)
    check(out[0].dtype != "f16", "needs float32 or float64 operands (SciPy has no float16 loop)")
    return out


def _erf_vjp(sign):
    """ct (+-) 2/sqrt(pi) exp(-x^2): SymPy's form divides by exp(x^2), which overflows to inf
    from |x| ~ 26.6 (9.4 in float32); the derivative is still 0 there, its own derivative
    NaN."""
    def vjp(b, op, cts, needs):
        (x,) = op.operands
        dt = x.type.dtype
        return [b.op("mul", cts[0], b.op("mul", const(b, sign * 2 / math.sqrt(math.pi), dt),
                                          b.op("exp", b.op("neg", b.op("mul", x, x)))))]
    return vjp


unary("erf", "erf(x)", "scipy.special.erf({0})", infer=_single_double, numba="math.erf({0})",
      vjp=_erf_vjp(1))
# 1 - erf(x), computed as such: its tail (erfc(10) = 2e-45) is not lost to rounding
unary("erfc", "erfc(x)", "scipy.special.erfc({0})", infer=_single_double,
      numba="math.erfc({0})", vjp=_erf_vjp(-1))


# psi's asymptotic series at z: ln z - 1/(2z) - w (1/12 - w/120 + ...), w = 1/z^2; the next
# term, B_16 / (16 z^16), is below 5e-17 from z = 10 on
_PSI_SERIES = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)
PSI_SHIFT = 10


def digamma(b, x):
    """psi(x), the derivative of log Gamma(x), built from registry ops, so that its own
    derivatives (to any order) are theirs: reflected below 0 (psi(x) = psi(1 - x) -
    pi / tan(pi x), tan's argument reduced to pi (x - rint(x))), shifted up by PSI_SHIFT
    (psi(y) = psi(y + 10) - sum of 1 / (y + k)), then the asymptotic series. SciPy's values at
    the poles: NaN at -1, -2, ... and -inf, -inf at 0, inf at -0.0. `b`: a builder (an op's
    VJP) or the frontend's emitter."""
    dt = x.type.dtype

    def c(v):
        return const(b, v, dt)
    neg = b.op("lt", x, c(0))
    # tan(pi x) = tan(pi r), r = x - rint(x) in [-1/2, 1/2], exact (x - floor(x) rounded
    # near the poles: -1e-7 - floor is 1 - 1e-7, 40 % off in float32)
    r = b.op("sub", x, b.op("rint", x))
    pole = b.op("logical_and", neg, b.op("eq", r, c(0)))
    y = b.op("where", neg, b.op("sub", c(1), x), x)
    shift = b.op("div", c(1), y)
    for k in range(1, PSI_SHIFT):
        shift = b.op("add", shift, b.op("div", c(1), b.op("add", y, c(k))))
    z = b.op("add", y, c(PSI_SHIFT))
    w = b.op("div", c(1), b.op("mul", z, z))
    series = c(_PSI_SERIES[-1])
    for coef in reversed(_PSI_SERIES[:-1]):
        series = b.op("add", c(coef), b.op("mul", w, series))
    psi = b.op("sub", b.op("sub", b.op("log", z), b.op("div", c(0.5), z)),
               b.op("mul", w, series))
    psi = b.op("sub", psi, shift)
    # (where x is not reflected, tan's argument is pi/2: no inf whose derivative, times the
    # zero gradient where sends it, would be NaN)
    safe = b.op("where", b.op("logical_and", neg, b.op("logical_not", pole)), r, c(0.5))
    reflected = b.op("sub", psi, b.op("div", c(math.pi), b.op("tan", b.op("mul", c(math.pi),
                                                                          safe))))
    return b.op("where", pole, c(math.nan), b.op("where", neg, reflected, psi))


def _gammaln_vjp(b, op, cts, needs):
    return [b.op("mul", cts[0], digamma(b, op.operands[0]))]


# log |Gamma(x)|, scipy.special.gammaln (libm's lgamma in Numba: per element, not vectorised)
unary("gammaln", None, "scipy.special.gammaln({0})", infer=_single_double,
      numba="(-math.inf if {0} == -math.inf else math.lgamma({0}))",     # (SciPy's -inf)
      vjp=_gammaln_vjp)


def _gamma_vjp(b, op, cts, needs):
    return [b.op("mul", cts[0], b.op("mul", op.result, digamma(b, op.operands[0])))]


# Gamma(x), scipy.special.gamma: inf at 0 (-inf at -0.0), NaN at the negative integers
unary("gamma", None, "scipy.special.gamma({0})", infer=_single_double, numba="math.gamma({0})",
      vjp=_gamma_vjp)


def _quantile_vjp(scale, square):
    """The derivative of an inverse from its result r: scale exp(square r^2) (ndtri's
    sqrt(2 pi) exp(r^2 / 2), erfinv's sqrt(pi) / 2 exp(r^2)); inf at the ends, where r is."""
    def vjp(b, op, cts, needs):
        r = op.result
        dt = r.type.dtype
        slope = b.op("exp", b.op("mul", const(b, square, dt), b.op("mul", r, r)))
        return [b.op("mul", cts[0], b.op("mul", const(b, scale, dt), slope))]
    return vjp


# the standard normal's quantile, scipy.special.ndtri (mathlib's AS241 in Numba)
unary("ndtri", None, "scipy.special.ndtri({0})", infer=_single_double, numba="fndtri({0})",
      vjp=_quantile_vjp(math.sqrt(2 * math.pi), 0.5))
# erf's inverse, scipy.special.erfinv (the same AS241 at q = x / 2)
unary("erfinv", None, "scipy.special.erfinv({0})", infer=_single_double,
      numba="ferfinv({0})", vjp=_quantile_vjp(math.sqrt(math.pi) / 2, 1.0))


def _expit_vjp(b, op, cts, needs):
    """ct r (1 - r) from the result r: SymPy's exp(-x)/(1 + exp(-x))**2 overflows to NaN for
    x below about -710 (-89 in float32), where the derivative is 0."""
    r = op.result
    return [b.op("mul", cts[0], b.op("mul", r, b.op("sub", const(b, 1, r.type.dtype), r)))]


# scipy.special.expit, the logistic sigmoid; both lowerings take exp(-|x|), which never overflows
unary("expit", "1/(1 + exp(-x))", "scipy.special.expit({0})", infer=_single_double,
      numba="fexpit({0})", vjp=_expit_vjp)

binary("add", "x + y", "{0} + {1}", cheap=True, reassociable=True, numba_i64="iadd({0}, {1})")
binary("sub", "x - y", "{0} - {1}", infer=NUMERIC, cheap=True, reassociable=True,
       numba_i64="isub({0}, {1})")
binary("mul", "x*y", "{0} * {1}", cheap=True, reassociable=True, numba_i64="imul({0}, {1})")
binary("div", "x/y", "{0} / {1}", infer=FLOATS, cheap=True, reassociable=True)


def _nonzero_constant(v) -> bool:
    op = v.owner
    return getattr(op, "name", None) == "constant" and op.attrs["value"] != 0 \
        and not isinstance(op.attrs["value"], tuple)


def _pow_vjp(b, op, cts, needs):
    """SymPy's derivatives, but d x**y / dx = y x**(y-1) taken as 0 where y = 0 (0 * 0**-1
    was NaN at x = 0: x**0 = 1 is flat, as PyTorch and JAX's integer powers give), and
    d x**y / dy = x**y log x as 0 where x = 0 (0 * -inf was NaN; JAX and PyTorch give 0
    there: 0**y is flat in y for y > 0)."""
    x, y = op.operands
    if needs[0] and not _nonzero_constant(y):
        # y * x**(y' - 1) with y' = 1 where y = 0: 0 * x**0 there
        y1 = b.op("sub", ones_at_zeros(b, y)[1], const(b, 1, y.type.dtype))
        dx = b.op("mul", b.op("mul", cts[0], y), b.op("pow", x, y1))
        dx = sum_to(b, dx, x.type.shape)
    else:
        dx, _ = elementwise_vjp(b, op, cts, (needs[0], False))
    if not needs[1]:
        return [dx, None]
    _, nonzero = ones_at_zeros(b, x)
    dy = b.op("mul", b.op("mul", cts[0], op.result), b.op("log", nonzero))
    return [dx, sum_to(b, dy, y.type.shape)]


declare("pow", NUMERIC, arity=2, kind="elementwise", sympy="x**y", vjp=_pow_vjp,
        lower={"numpy": "{0} ** {1}", "numba": "fpow({0}, {1})"})
binary("arctan2", "atan2(x, y)", "np.arctan2({0}, {1})", infer=FLOATS)


def _symmetric_vjp(partial):
    """VJP of a binary op symmetric in its operands, whose derivative in operand v is
    partial(b, v, r) with r the result: ct * partial, summed back to v's shape."""
    def vjp(b, op, cts, needs):
        return [sum_to(b, b.op("mul", cts[0], partial(b, v, op.result)), v.type.shape)
                if need else None for v, need in zip(op.operands, needs, strict=True)]
    return vjp


def _hypot_partial(b, v, r):
    # v / r, taken as 0 at r = 0 (as |x|'s derivative sign(x) is there), as a constant there,
    # so its own derivative is 0 at 0 as JAX's (v / 1 there made the Hessian at 0 the identity)
    zero, safe = ones_at_zeros(b, r)
    return b.op("where", zero, const(b, 0, r.type.dtype), b.op("div", v, safe))


def _logaddexp_partial(b, v, r):
    # exp(v - r) <= 1: SymPy's exp(x)/(exp(x) + exp(y)) overflows to inf/inf = NaN from x ~ 710;
    # v - r taken as 0 where v == r, so at v = inf (r = inf) it is 1, as JAX's, not inf - inf;
    # both operands 0 there, so -inf - -inf (CTC's unreachable states) is no invalid value
    same = b.op("eq", v, r)
    zero = zeros(b, r.type)
    return b.op("exp", b.op("sub", b.op("where", same, zero, v), b.op("where", same, zero, r)))


binary("hypot", "sqrt(x**2 + y**2)", "np.hypot({0}, {1})", infer=FLOATS,
       vjp=_symmetric_vjp(_hypot_partial))
binary("logaddexp", "log(exp(x) + exp(y))", "np.logaddexp({0}, {1})", infer=FLOATS,
       vjp=_symmetric_vjp(_logaddexp_partial))


def _extreme_vjp(b, op, cts, needs):
    """maximum / minimum: the cotangent goes to the operand the result is (half each at a
    tie), by comparisons: SymPy's (sign(x - y) + 1) / 2 is NaN where an operand is NaN, which
    made the other operand's gradient NaN even where a where dropped that result (JAX's and
    torch's: 0). The other operand gets an exact 0 (a select, not a product): an infinite
    cotangent, sqrt's of np.maximum(v, 0) where v < 0, does not make it 0 * inf = NaN."""
    (ct,), r = cts, op.result
    dt, shape = r.type.dtype, r.type.shape
    one, half, zero = (const(b, v, dt, shape) for v in (1, 0.5, 0))
    picked = [b.op("eq", v, r) for v in op.operands]
    return [sum_to(b, b.op("where", mine, b.op("mul", ct, b.op("where", other, half, one)),
                           zero), v.type.shape) if need else None
            for v, mine, other, need in zip(op.operands, picked, picked[::-1], needs,
                                            strict=True)]


binary("maximum", "Max(x, y)", "np.maximum({0}, {1})", cheap=True, vjp=_extreme_vjp)
binary("minimum", "Min(x, y)", "np.minimum({0}, {1})", cheap=True, vjp=_extreme_vjp)

# SymPy forms of sign and floor let derivatives that mention them (d|x| = sign x) lower to IR
nondiff("sign", 1, "np.sign({0})", infer=NUMERIC, expr="sign(x)")
nondiff("floor", 1, "np.floor({0})", infer=FLOATS, expr="floor(x)")
nondiff("ceil", 1, "np.ceil({0})", infer=FLOATS)
nondiff("trunc", 1, "np.trunc({0})", infer=FLOATS)
nondiff("rint", 1, "np.rint({0})", infer=FLOATS)    # halves to even, as np.round
# float operands only: the frontend answers integer and boolean ones without an op
nondiff("isnan", 1, "np.isnan({0})", infer=FLOAT_TO_BOOL)
nondiff("isinf", 1, "np.isinf({0})", infer=FLOAT_TO_BOOL)
nondiff("isfinite", 1, "np.isfinite({0})", infer=FLOAT_TO_BOOL)
nondiff("floordiv", 2, "{0} // {1}", infer=NUMERIC,
        numba_i64="({0} // {1} if {1} != -1 else isub(0, {0}))")
nondiff("lt", 2, "{0} < {1}", infer=BOOL_OUT, cheap=True)
nondiff("le", 2, "{0} <= {1}", infer=BOOL_OUT, cheap=True)
nondiff("gt", 2, "{0} > {1}", infer=BOOL_OUT, cheap=True)
nondiff("ge", 2, "{0} >= {1}", infer=BOOL_OUT, cheap=True)
nondiff("eq", 2, "{0} == {1}", infer=BOOL_OUT, cheap=True)
nondiff("ne", 2, "{0} != {1}", infer=BOOL_OUT, cheap=True)
nondiff("logical_and", 2, "np.logical_and({0}, {1})", infer=BOOL_ONLY, numba="({0} and {1})")
nondiff("logical_or", 2, "np.logical_or({0}, {1})", infer=BOOL_ONLY, numba="({0} or {1})")
nondiff("logical_not", 1, "np.logical_not({0})", infer=BOOL_ONLY, numba="(not {0})")


def _where(types, attrs):
    c, a, b = types
    check(c.dtype == "bool", f"condition must be bool, got {c.dtype}")
    return [TensorType(SAME([a, b], attrs)[0].dtype, broadcast_rule()([c.with_dtype(a.dtype), a, b], attrs)[0].shape)]


def _where_vjp(b, op, cts, needs):
    (ct,) = cts
    c, x, y = op.operands
    zero = zeros(b, ct.type.with_shape(()))
    return [None,
            sum_to(b, b.op("where", c, ct, zero), x.type.shape) if needs[1] else None,
            sum_to(b, b.op("where", c, zero, ct), y.type.shape) if needs[2] else None]


def _astype_vjp(b, op, cts, needs):
    src = op.operands[0].type
    return [b.op("astype", cts[0], dtype=src.dtype) if needs[0] and src.is_float else None]


def _remainder_vjp(rounding):
    """x % y = x - y * floor(x / y) on floats, fmod(x, y) = x - y * trunc(x / y) (the rounding's
    derivative is zero almost everywhere): d/dx = 1, d/dy = -rounding(x / y), as in JAX and
    PyTorch. Integer operands are never active."""
    def vjp(b, op, cts, needs):
        (ct,), (a, m) = cts, op.operands
        dm = b.op("neg", b.op("mul", ct, b.op(rounding, b.op("div", a, m)))) if needs[1] else None
        return [sum_to(b, ct, a.type.shape) if needs[0] else None,
                sum_to(b, dm, m.type.shape) if needs[1] else None]
    return vjp


declare("mod", NUMERIC, arity=2, kind="elementwise", vjp=_remainder_vjp("floor"),
        lower={"numpy": "{0} % {1}", "numba": "{0} % {1}"})
# floats only: Numba's integer np.fmod is wrong (fmod(7, -3) = 7); the frontend builds the
# integer one from mod
declare("fmod", FLOATS, arity=2, kind="elementwise", vjp=_remainder_vjp("trunc"),
        lower={"numpy": "np.fmod({0}, {1})", "numba": "np.fmod({0}, {1})"})


def _copysign_vjp(b, op, cts, needs):
    """copysign(x, y) = |x| s(y), s(y) = +-1 by y's sign bit: d/dx = sign(x) s(y) (0 at x = 0,
    as |x|'s), d/dy = 0."""
    (ct,), (x, y) = cts, op.operands
    dx = None
    if needs[0]:
        s = b.op("copysign", const(b, 1, y.type.dtype), y)
        dx = sum_to(b, b.op("mul", ct, b.op("mul", b.op("sign", x), s)), x.type.shape)
    return [dx, zeros(b, y.type) if needs[1] else None]


declare("copysign", FLOATS, arity=2, kind="elementwise", vjp=_copysign_vjp, cheap=True,
        lower={"numpy": "np.copysign({0}, {1})", "numba": "np.copysign({0}, {1})"})
declare("where", _where, arity=3, kind="elementwise", vjp=_where_vjp, cheap=True,
        lower={"numpy": "np.where({0}, {1}, {2})", "numba": "({1} if {0} else {2})"})
declare("astype", lambda ts, a: [ts[0].with_dtype(a["dtype"])], attrs=("dtype",), arity=1,
        kind="elementwise", vjp=_astype_vjp, cheap=True,
        lower={"numpy": "{0}.astype({dtype})", "numba": "{dtype}({0})"})
# the identity whose derivative is zero (adcompiler.stop_gradient)
declare("stop_gradient", SAME, arity=1, kind="elementwise", nondiff=True, cheap=True, view=True,
        lower={"numpy": "{0}", "numba": "{0}"})
