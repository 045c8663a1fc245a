"""NumPy's elementwise functions built from registry ops: reciprocal, positive, integer fmod,
fmax / fmin, heaviside, signbit, logical_xor, sinc, deg2rad / rad2deg (radians / degrees),
float_power, logaddexp2, isclose, allclose, isposinf and isneginf; ufuncs' `out=` and
`where=` (`with_out`); and the ufunc methods `METHODS`: np.add.at and np.subtract.at (in
place, repeated indices adding up: indexing.setitem's `add`), `reduce` of the ufuncs that
have a reduction (np.add.reduce is np.sum along axis 0, np.logaddexp.reduce is SciPy's
logsumexp), `reduceat` (segments.py), `accumulate` of add, multiply, maximum and
minimum, and `outer` of every ufunc (np.subtract.outer, np.equal.outer).

Contract: values, dtypes (NumPy's own function is the dtype oracle, NEP 50 weak Python scalars
included), broadcasting and NaN behaviour are NumPy's; the gradients come from the ops used.
fmax / fmin take the other operand where one is NaN (their gradient goes to it), maximum /
minimum's elsewhere. heaviside and signbit are flat: no gradient. sinc, deg2rad and rad2deg
compute as NumPy's code does (sinc: sin(y) / y with y = pi x, eps where it is 0; the angle
conversions multiply by NumPy's constant rounded in the computing dtype, float16 computed in
float32 as NumPy's half loops). logaddexp2(a, b) is logaddexp(a ln 2, b ln 2) / ln 2 (within
an ulp or two of NumPy's, which works in base 2). allclose is a run-time boolean scalar that behaves as the Python
bool NumPy returns (weak, like `bool(np.all(...))`).
"""
from __future__ import annotations

import numpy as np

from . import arith, inplace, segments
from .arith import astype, binary, classify, unary, where
from .emit import Emitter
from .problems import FrontendError, no_out
from .reductions import any_all, cumprod, cumsum, reduce as reduction, running_scan
from .special import logsumexp
from .shapes import as_array, copy, reshape
from .values import NP_OF, Traced, common_dtype, result_dtype


def reciprocal(cx: Emitter, x) -> Traced:
    """1 / x in x's dtype; integers as NumPy's loop does it: 1.0 / x cast back (0 for |x| > 1,
    the most negative integer at 0)."""
    out = result_dtype(np.reciprocal, x)
    if out.startswith("f"):
        return binary(cx, "div", np.ones((), NP_OF[out]), cx.tensor(x, out))
    return astype(cx, binary(cx, "div", 1.0, astype(cx, cx.tensor(x), "f64")), out)


def positive(cx: Emitter, x) -> Traced:
    t = cx.tensor(x)
    if t.dtype == "bool":
        raise FrontendError("np.positive of a boolean array: NumPy has no loop for it")
    return copy(cx, cx.wrap(t.value))


def fmod(cx: Emitter, x1, x2) -> Traced:
    """The registry's fmod for floats; for integers the remainder with the dividend's sign,
    from mod (whose result has the divisor's), 0 where the divisor is 0, as NumPy's."""
    out = result_dtype(np.fmod, x1, x2)
    a, b = cx.tensor(x1, out), cx.tensor(x2, out)
    if out.startswith("f"):
        return cx.wrap(cx.op("fmod", a.value, b.value))
    zero = binary(cx, "eq", b, 0)
    safe = where(cx, zero, np.ones((), NP_OF[out]), b)
    r = binary(cx, "mod", a, safe)
    flip = binary(cx, "logical_and", binary(cx, "ne", r, 0),
                  binary(cx, "ne", binary(cx, "lt", r, 0), binary(cx, "lt", a, 0)))
    fixed = where(cx, flip, binary(cx, "sub", r, safe), r)
    return where(cx, zero, np.zeros((), NP_OF[out]), fixed)


def fextreme(cx: Emitter, name: str, x1, x2) -> Traced:
    """np.fmax / np.fmin: maximum / minimum, but where one operand is NaN the other."""
    out = result_dtype(np.fmax, x1, x2)
    a, b = cx.tensor(x1, out), cx.tensor(x2, out)
    if out.startswith("f"):
        # a NaN operand is replaced by the other before the extreme is taken, so its own
        # gradient is zero, not the extreme's NaN derivative there
        a, b = where(cx, classify(cx, "isnan", a), b, a), where(cx, classify(cx, "isnan", b), a, b)
    return binary(cx, "maximum" if name == "fmax" else "minimum", a, b)


def heaviside(cx: Emitter, x1, x2) -> Traced:
    """0 where x1 < 0, x2 where x1 == 0, 1 where x1 > 0, NaN where x1 is NaN."""
    out = result_dtype(np.heaviside, x1, x2)
    a, b = cx.tensor(x1, out), cx.tensor(x2, out)
    zero, one, nan = (np.array(v, NP_OF[out]) for v in (0, 1, np.nan))
    step = where(cx, binary(cx, "eq", a, 0), b, nan)
    return where(cx, binary(cx, "lt", a, 0), zero,
                 where(cx, binary(cx, "gt", a, 0), one, step))


def signbit(cx: Emitter, x) -> Traced:
    """Whether the sign bit is set: for floats copysign(1, x) < 0, so -0.0 and a NaN with its
    sign bit set count, as in NumPy."""
    t = cx.tensor(x)
    if t.dtype == "bool":
        return binary(cx, "ne", t, t)       # never set, in x's shape
    if not t.type.is_float:
        return binary(cx, "lt", t, 0)
    one = cx.const(1, t.dtype)
    return binary(cx, "lt", cx.wrap(cx.op("copysign", one, t.value)), 0)


def logical_xor(cx: Emitter, x1, x2) -> Traced:
    a, b = (cx.wrap(cx.nonzero(cx.tensor(x).value)) for x in (x1, x2))
    return binary(cx, "ne", a, b)


def logaddexp2(cx: Emitter, x1, x2) -> Traced:
    out = result_dtype(np.logaddexp2, x1, x2)
    ln2 = np.array(np.log(2.0), NP_OF[out])
    a, b = (binary(cx, "mul", cx.tensor(x, out), ln2) for x in (x1, x2))
    return binary(cx, "div", binary(cx, "logaddexp", a, b), ln2)


def sinc(cx: Emitter, x) -> Traced:
    """sin(y) / y with y = pi x, as NumPy's, but 1 - y^2/6 + y^4/120 where |y| is below
    `SINC_SERIES` (its dtype's): the quotient's derivative, (y cos y - sin y) / y^2, cancels
    there (1e-8 gave a gradient 30 % off; 1e-160, whose y^2 is subnormal, 1e155). The series
    equals the quotient to rounding there, and its derivative is exact."""
    y = binary(cx, "mul", np.pi, cx.wrap(cx.tensor(x).value))
    small = binary(cx, "lt", unary(cx, "abs", y), SINC_SERIES.get(y.dtype, 1e-3))
    safe = where(cx, small, 1.0, y)         # (the quotient's branch, and its derivative, finite)
    y2 = binary(cx, "mul", y, y)
    series = binary(cx, "add", 1.0, binary(cx, "mul", y2,
                                           binary(cx, "sub", binary(cx, "div", y2, 120.0),
                                                  1.0 / 6.0)))
    return where(cx, small, series, binary(cx, "div", unary(cx, "sin", safe), safe))


# |y| below which sinc is its series: the series' next term (y^6/5040) is below the dtype's
# rounding there, and the quotient's derivative has lost at most ~1e-10 (f64) or ~1e-5 (f32)
SINC_SERIES = {"f64": 1e-3, "f32": 0.1, "f16": 0.1}


def angle(cx: Emitter, ufunc, x) -> Traced:
    """np.deg2rad / np.rad2deg: x times pi / 180 or 180 / pi, each rounded in the dtype the
    ufunc computes in (float32 for float16) as NumPy's constant is."""
    out = result_dtype(ufunc, x)
    compute = "f32" if out == "f16" else out
    pi, half_turn = (NP_OF[compute].type(v) for v in (np.pi, 180))
    scale = pi / half_turn if ufunc is np.deg2rad else half_turn / pi
    return astype(cx, binary(cx, "mul", cx.tensor(x, compute), scale), out)


def float_power(cx: Emitter, x1, x2) -> Traced:
    """C's pow, as NumPy's float_power loop. The pow op is NumPy's power, which takes sqrt for
    an exponent of 0.5 (both backends): sqrt(-0.0) is -0.0 and sqrt(-inf) NaN where pow gives
    +0.0 and +inf, so for that exponent a zero base is taken as itself plus +0.0 and -inf as its
    negation. (Not as its absolute value: abs's derivative at 0 is 0, which times the power's,
    inf there, made the gradient NaN where x ** 0.5's is inf.)"""
    out = result_dtype(np.float_power, x1, x2)
    a, b = cx.tensor(x1, out), cx.tensor(x2, out)
    if isinstance(x2, Traced) or np.any(np.asarray(x2) == 0.5):
        half = binary(cx, "eq", b, 0.5)
        a = where(cx, binary(cx, "logical_and", half, binary(cx, "eq", a, 0)),
                  binary(cx, "add", a, 0.0), a)
        a = where(cx, binary(cx, "logical_and", half, binary(cx, "eq", a, -np.inf)),
                  unary(cx, "neg", a), a)
    return cx.wrap(cx.op("pow", a.value, b.value))


def isclose(cx: Emitter, a, b, rtol=1e-05, atol=1e-08, equal_nan=False) -> Traced:
    """NumPy's formula: |a - b| <= atol + rtol |b| where b is finite, or a == b; b taken in
    an inexact dtype first (so |b| of the most negative integer does not wrap)."""
    x, y = cx.tensor(a), cx.tensor(b)
    y = astype(cx, y, common_dtype(y, 1.0), weak=y.weak)
    # NumPy's code uses Python's -, +, * and abs here: weak operands give weak results

    def absolute(v):
        return unary(cx, "abs", v, python_op=True)
    bound = binary(cx, "add", atol, binary(cx, "mul", rtol, absolute(y), python_op=True),
                   python_op=True)
    close = binary(cx, "le", absolute(binary(cx, "sub", x, y, python_op=True)), bound)
    out = binary(cx, "logical_or", binary(cx, "logical_and", close, classify(cx, "isfinite", y)),
                 binary(cx, "eq", x, y))
    if equal_nan:
        both = binary(cx, "logical_and", classify(cx, "isnan", x), classify(cx, "isnan", y))
        out = binary(cx, "logical_or", out, both)
    return cx.wrap(out.value)


def isinf_signed(cx: Emitter, x, out, compare: str) -> Traced:
    """np.isposinf (compare "gt") / np.isneginf ("lt"): isinf and the sign's side of 0."""
    no_out(out, "np.isposinf" if compare == "gt" else "np.isneginf")
    return binary(cx, "logical_and", classify(cx, "isinf", x), binary(cx, compare, x, 0))


def allclose(cx: Emitter, a, b, rtol=1e-05, atol=1e-08, equal_nan=False) -> Traced:
    return cx.wrap(any_all(cx, "all", isclose(cx, a, b, rtol, atol, equal_nan)).value, weak=True)


def at(cx, ufunc, a, indices, b=None, /):
    """np.add.at(a, indices, b) / np.subtract.at: a changed in place, an index repeated adding
    (taking) b as often as it repeats."""
    name = f"{spelled(ufunc)}.at"
    if ufunc not in (np.add, np.subtract, np.maximum, np.minimum):
        raise FrontendError(f"{name} is not supported (np.add.at, np.subtract.at, "
                            "np.maximum.at and np.minimum.at are)")
    if b is None:
        raise FrontendError(f"{name} needs the values to apply (b)")
    if ufunc in (np.maximum, np.minimum):
        return segments.extreme_at(cx, ufunc, a, indices, b)
    b = cx.tensor(b)    # (a list of run-time values: the array np.array makes of it)
    if isinstance(a, Traced) and result_dtype(ufunc, a, b) != a.dtype:
        if a.np_dtype.kind != "f":
            # (NumPy casts each sum back, truncating every one: not the sum of truncated
            # values)
            raise FrontendError(f"{name} of {NP_OF[common_dtype(b)]} values into an array of "
                                f"{a.np_dtype} is not supported; cast them first "
                                f"(b.astype({a.np_dtype}))")
        # float64 values into a float32 array: NumPy rounds each sum, this each value
        b = cx.wrap(cx.cast(b.value, a.dtype))
    cx.store_item(a, indices, b if ufunc is np.add else unary(cx, "neg", b), "update", add=True)


# where= leaves an operand's entries out: they are replaced by one in every ufunc's domain
# whose derivative is finite, so no 0 * inf reaches the gradient (a / b where b != 0)
_HARMLESS = {np.arccosh: 2.0, np.arcsin: 0.0, np.arccos: 0.0, np.arctanh: 0.0}


def with_out(cx, ufunc, compute, operands, out, where):
    """A ufunc call with NumPy's `out=` (written in place and returned, cast as NumPy casts:
    'same_kind') and `where=` (out keeps its entries where it is False)."""
    if out is None and where is True:
        return compute(*operands)
    name = spelled(ufunc)
    if isinstance(out, tuple) and len(out) == 1:
        (out,) = out
    if out is None:
        raise FrontendError(f"{name}(where=...) without out= leaves the other entries "
                            "uninitialised (in NumPy too): give out=, or use np.where")
    if not isinstance(out, Traced):
        raise FrontendError(f"{name}(out=...) writes into out: it must be a run-time array, "
                            "not a static one adcompiler computes while tracing")
    if where is not True:
        keep = cx.tensor(where)
        harmless = _HARMLESS.get(ufunc, 1.0)
        # (in the operand's kind: a float 1.0 would make np.floor_divide's ints floats)
        operands = [arith.where(cx, keep, op, {"f": harmless, "b": bool(harmless)}.get(
                        op.np_dtype.kind, int(harmless))) if isinstance(op, Traced) else op
                    for op in operands]
    result = compute(*operands)
    if not np.can_cast(result.np_dtype, out.np_dtype, "same_kind"):
        raise FrontendError(f"Cannot cast ufunc '{ufunc.__name__}' output from "
                            f"{result.np_dtype} to {out.np_dtype} with casting rule 'same_kind'")
    inplace.copyto(cx, out, result, "same_kind", where)
    return out


def spelled(ufunc) -> str:
    """How the user spells a ufunc: np.add, or a SciPy one by its name."""
    return f"np.{ufunc.__name__}" if getattr(np, ufunc.__name__, None) is ufunc \
        else ufunc.__name__


_REDUCTIONS = {np.add: "sum", np.multiply: "prod", np.maximum: "max", np.minimum: "min"}


def reduce(cx, ufunc, array, axis=0, dtype=None, out=None, keepdims=False, initial=np._NoValue,
           where=True):
    """ufunc.reduce as NumPy's reduction of that ufunc (along axis 0 by default)."""
    name = f"{spelled(ufunc)}.reduce"
    no_out(out, name)
    if type(axis) is int and axis in (0, -1) and cx.tensor(array).ndim == 0:
        axis = None     # NumPy reduces a 0-d value to itself along axis 0 (np.sum refuses)
    if ufunc in _REDUCTIONS:
        return reduction(cx, _REDUCTIONS[ufunc], array, axis, keepdims, dtype, initial, where)
    plain = dtype is None and initial is np._NoValue and where is True
    if ufunc in (np.logical_and, np.logical_or) and dtype is None and initial is np._NoValue:
        return any_all(cx, "all" if ufunc is np.logical_and else "any", array, axis, keepdims,
                       where)
    if ufunc is np.logaddexp and plain:
        return logsumexp(cx, array, axis, keepdims=keepdims)
    raise FrontendError(f"{name} is not supported (add, multiply, maximum, minimum, "
                        "logical_and, logical_or and logaddexp reduce; dtype=, initial= and "
                        "where= only where np.sum, np.prod, np.max and np.min take them)")


def accumulate(cx, ufunc, array, axis=0, dtype=None, out=None):
    """ufunc.accumulate: np.cumsum / np.cumprod along axis (0 by default) for add / multiply,
    the running max / min for maximum / minimum, the running log of sums of exps for logaddexp
    (a Cox model's log risk sets, np.logaddexp.accumulate(eta[::-1])[::-1])."""
    name = f"{spelled(ufunc)}.accumulate"
    no_out(out, name)
    if axis is None:
        raise FrontendError(f"{name} takes an int axis (NumPy's accumulate does not flatten)")
    if ufunc in (np.add, np.multiply):
        return (cumsum if ufunc is np.add else cumprod)(cx, array, axis, dtype)
    if ufunc in (np.maximum, np.minimum) and dtype is None:
        return running_scan(cx, ufunc.__name__, array, axis)
    if ufunc is np.logaddexp and dtype is None:
        return running_scan(cx, "logaddexp", cx.tensor(array, result_dtype(np.logaddexp, array,
                                                                           array)), axis)
    raise FrontendError(f"{name} is not supported (add, multiply, maximum, minimum and "
                        "logaddexp accumulate; those but add's and multiply's without dtype=)")


def outer(cx, ufunc, A, B, /, **kwargs):
    """ufunc.outer: the ufunc of every entry of A with every entry of B (A's axes first), as
    A with B's rank of size-1 axes added, broadcast against B."""
    if ufunc.nin != 2:
        raise FrontendError("outer product only supported for binary functions")
    a, b = as_array(cx, A), as_array(cx, B)
    return cx.call(ufunc, [reshape(cx, a, a.shape + (1,) * b.ndim), b], kwargs)


METHODS = {"at": at, "reduce": reduce, "reduceat": segments.reduceat, "accumulate": accumulate,
           "outer": outer}
