"""Elementwise arithmetic with NumPy 2's promotion made explicit.

Contract: IR elementwise ops take operands of one dtype, so each helper asks NumPy for the
result dtype of the real ufunc (`values.result_dtype`, NEP 50) and converts every operand to the
dtype the ufunc computes in (an `astype` for arrays, a typed `constant` for Python literals).
Operands may be `Traced` or static array data; at least one is assumed traced (the interpreter
computes all-static expressions in Python). `python_op=True` marks Python operators: their
result is weak when every operand is (a Python float times a Python int stays a Python float),
while a NumPy function always returns a strong NumPy value. np.select and np.piecewise are
chains of `where` (so the gradient reaches the chosen entries only); np.polyval is Horner's
scheme, as NumPy computes it.
"""
from __future__ import annotations

import numpy as np

from .emit import Emitter
from .problems import FrontendError, StaticNeeded
from .values import (INT_RANGE, NP_OF, Traced, common_dtype, is_python_scalar, result_dtype,
                     v_shape)

# IR op -> the NumPy ufunc it implements (the dtype oracle; SciPy's ufuncs are passed in, as
# `ufunc=`, by frontend/special.py).
UFUNC = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide,
    "pow": np.power, "floordiv": np.floor_divide, "mod": np.remainder,
    "maximum": np.maximum, "minimum": np.minimum,
    "lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
    "eq": np.equal, "ne": np.not_equal,
    "logical_and": np.logical_and, "logical_or": np.logical_or,
    "neg": np.negative, "abs": np.absolute, "sign": np.sign, "floor": np.floor,
    "exp": np.exp, "log": np.log, "log1p": np.log1p, "expm1": np.expm1, "sqrt": np.sqrt,
    "tanh": np.tanh, "sin": np.sin, "cos": np.cos, "tan": np.tan, "arcsin": np.arcsin,
    "arccos": np.arccos, "arctan": np.arctan, "sinh": np.sinh, "cosh": np.cosh,
    "arcsinh": np.arcsinh, "arccosh": np.arccosh, "arctanh": np.arctanh,
    "ceil": np.ceil, "trunc": np.trunc, "rint": np.rint,
    "logical_not": np.logical_not, "log2": np.log2, "log10": np.log10, "exp2": np.exp2,
    "arctan2": np.arctan2, "hypot": np.hypot, "logaddexp": np.logaddexp, "cbrt": np.cbrt,
    "copysign": np.copysign,
}
COMPARISONS = ("lt", "le", "gt", "ge", "eq", "ne")


def _weak(operands, python_op):
    return python_op and all((isinstance(x, Traced) and x.weak) or is_python_scalar(x)
                             for x in operands)


def _number(x) -> bool:
    return type(x) in (int, float)


def _norm_squared(cx, name, a, b) -> Traced | None:
    """c n * d n, or (c n) ** 2, of one 2-norm n (`Traced.norm`, composites.norm): c d S, S
    its sum of squares, a new array (reading the operands refuses a stale norm)."""
    if name == "pow" and isinstance(a, Traced) and a.norm and _number(b) and b == 2:
        b = a
    if name not in ("mul", "pow") or not (isinstance(a, Traced) and isinstance(b, Traced)
                                          and a.norm and b.norm and a.norm[0] is b.norm[0]):
        return None
    a.value, b.value
    factor = a.norm[1] * b.norm[1]
    squares = cx.wrap(a.norm[0])
    return squares if factor == 1 else binary(cx, "mul", squares, factor)


def _scaled_norm(name, a, b) -> tuple | None:
    """`Traced.norm` of c n or n / c, n a 2-norm and c a Python number (-n: `unary`)."""
    if name == "mul" and _number(a):
        a, b = b, a
    if isinstance(a, Traced) and a.norm and _number(b) and (
            name == "mul" or name == "div" and b != 0):
        squares, factor = a.norm
        return squares, factor * b if name == "mul" else factor / b
    return None


def binary(cx: Emitter, name: str, a, b, python_op=False, hint=None) -> Traced:
    squared = _norm_squared(cx, name, a, b)
    if squared is not None:
        return squared
    out = result_dtype(UFUNC[name], a, b)
    if name in COMPARISONS or name in ("logical_and", "logical_or"):
        compute = common_dtype(a, b) if name in COMPARISONS else "bool"
    else:
        compute = out          # true division of ints computes in float64, etc.
    big = _out_of_bounds(compute, a, b)
    if big is not None:         # a Python int the integer array's dtype cannot hold
        if name not in COMPARISONS:     # NumPy 2 raises OverflowError; it wrapped here
            raise FrontendError(f"Python integer {big} out of bounds for {NP_OF[compute]}")
        compute = "i64" if -2 ** 63 <= big < 2 ** 63 else "f64"    # as NumPy 2 compares
    if name == "pow" and compute in INT_RANGE and all(n != 0 for n in v_shape(a) + v_shape(b)):
        _check_exponents(cx, b, _weak((a, b), python_op))   # (no entries, no power: no error)
    if name in ("div", "floordiv", "mod") and _weak((a, b), python_op):
        # Python numbers (a loop index, int(x)): Python's ZeroDivisionError, where NumPy's
        # arithmetic gives 0 or inf (`5 // (i - 2)` in a static loop traced as a loop)
        # (a literal 0 too: the code may never run, in a run-time if or loop)
        if isinstance(b, Traced) or b == 0:
            cx.op("assert", cx.op("ne", cx.value(b), cx.const(0, cx.tensor(b).dtype)),
                  message="division by zero (Python's ZeroDivisionError)")
    v = cx.op(name, cx.value(a, compute), cx.value(b, compute), hint=hint)
    result = cx.wrap(cx.cast(v, out), weak=_weak((a, b), python_op))
    result.norm = _scaled_norm(name, a, b)
    return result


_NEGATIVE_POWER = "Integers to negative integer powers are not allowed"   # NumPy's ValueError


def _check_exponents(cx: Emitter, b, python=False):
    """Integer powers: a negative exponent is NumPy's ValueError (the Numba backend's power
    made it 0); one passed at run time is checked when the program runs. Of Python ints
    (`python`) Python's power is a float there, whose dtype a run-time exponent decides:
    the message says to make the base a float."""
    message = _NEGATIVE_POWER + ("; Python's power of ints is a float there, which adcompiler "
                                 "types ahead: write float(base) ** n" if python else "")
    if not isinstance(b, Traced):
        if np.any(np.asarray(b) < 0):
            raise FrontendError(message)
        return
    t = cx.tensor(b)
    if t.type.is_float or t.dtype == "bool":
        return
    negative = cx.op("lt", t.value, cx.const(0, t.dtype))
    if t.ndim:
        negative = cx.op("max", negative, axes=tuple(range(t.ndim)), keepdims=False)
    cx.op("assert", cx.op("logical_not", negative), message=message)


def _out_of_bounds(dtype, a, b):
    """A Python int among a and b that integer `dtype` cannot hold, or None."""
    if dtype not in INT_RANGE:
        return None
    low, high = INT_RANGE[dtype]
    return next((x for x in (a, b) if type(x) is int and not low <= x <= high), None)


def unary(cx: Emitter, name: str, x, python_op=False, hint=None, ufunc=None) -> Traced:
    out = result_dtype(ufunc or UFUNC[name], x)
    xv = cx.value(x)
    if name in ("floor", "ceil", "trunc") and out in ("i64", "i32", "bool"):
        return cx.wrap(cx.cast(xv, out))           # NumPy >= 2.1 keeps integer dtypes
    if name == "logical_not":
        return cx.wrap(cx.op(name, cx.cast(xv, "bool"), hint=hint), weak=_weak((x,), python_op))
    if name == "abs" and out == "bool":
        return cx.wrap(xv)
    v = cx.op(name, cx.cast(xv, out), hint=hint)
    result = cx.wrap(v, weak=_weak((x,), python_op))
    if name == "neg" and isinstance(x, Traced) and x.norm:     # (-n: see _norm_squared)
        result.norm = (x.norm[0], -x.norm[1])
    return result


def classify(cx: Emitter, name: str, x) -> Traced:
    """np.isnan / isinf / isfinite: integers and booleans are always finite, so their answer
    is a constant (the ops take floats only)."""
    t = cx.tensor(x)
    if t.type.is_float:
        return cx.wrap(cx.op(name, t.value))
    v = cx.const(name == "isfinite", "bool")
    return cx.wrap(cx.op("broadcast_to", v, shape=t.shape) if t.ndim else v)


def round_(cx: Emitter, a, decimals=0) -> Traced:
    """np.round as NumPy computes it: rint(a * 10**d) / 10**d, or rint(a / 10**-d) * 10**-d
    for negative d, with 10**d a Python float (so float32 stays float32); integers are
    returned as they are for d >= 0."""
    if isinstance(decimals, Traced):
        raise StaticNeeded("np.round's decimals must be a compile-time int")
    t = cx.tensor(a)
    if t.dtype in ("i64", "i32") and decimals >= 0:
        return cx.wrap(t.value)
    if not t.type.is_float and decimals != 0:
        raise FrontendError(f"np.round of a {t.np_dtype} array with decimals={decimals} is "
                            "not supported")
    if decimals == 0:
        return unary(cx, "rint", t)
    scale, back = ("mul", "div") if decimals > 0 else ("div", "mul")
    # 10**d overflows a Python float beyond 308: NumPy's is inf there (its result NaN)
    f = 10.0 ** abs(decimals) if abs(decimals) <= 308 else float("inf")
    return binary(cx, back, unary(cx, "rint", binary(cx, scale, t, f)), f)


def nan_to_num(cx: Emitter, x, copy=True, nan=0.0, posinf=None, neginf=None) -> Traced:
    """NaN, +inf and -inf replaced by `nan`, `posinf` and `neginf` (default: the dtype's
    largest and most negative finite values), with `where`, so the gradient passes through
    the finite entries only. Integer and boolean arrays are returned as a copy."""
    if not copy:
        raise FrontendError("np.nan_to_num(copy=False) changes its argument in place; use "
                            "x = np.nan_to_num(x)")
    t = cx.tensor(x)
    if not t.type.is_float:
        return cx.wrap(t.value)
    info = np.finfo(t.np_dtype)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    v, dt = t.value, t.dtype
    for cond, fill in ((cx.op("isnan", v), nan), (cx.op("eq", v, cx.const(np.inf, dt)), posinf),
                       (cx.op("eq", v, cx.const(-np.inf, dt)), neginf)):
        v = cx.op("where", cond, cx.value(fill, dt), v)
    return cx.wrap(v)


def astype(cx: Emitter, x, dtype: str, weak=False) -> Traced:
    t = cx.tensor(x)
    if t.dtype == dtype:
        return cx.wrap(t.value, weak=weak)
    return cx.wrap(cx.op("astype", t.value, dtype=dtype), weak=weak)


def truth(cx: Emitter, x) -> Traced:
    """A bool[] for `if x:` / `while x:` / `not x` on a run-time value (NumPy truthiness)."""
    t = cx.tensor(x)
    if t.type.size != 1:
        raise FrontendError(f"the truth value of an array of shape {t.shape} is ambiguous; "
                            "use np.any/np.all, or np.where for elementwise choices")
    v = t.value
    if t.ndim:
        v = cx.op("reshape", v, shape=())
    return cx.wrap(cx.nonzero(v), weak=True)


def where(cx: Emitter, cond, a, b) -> Traced:
    c = cx.tensor(cond)
    cv = cx.nonzero(c.value)
    out = result_dtype(lambda x, y: np.where(True, x, y), a, b)
    return cx.wrap(cx.op("where", cv, cx.value(a, out), cx.value(b, out)))


def select(cx: Emitter, condlist, choicelist, default=0) -> Traced:
    """Each entry from the choice of the first true condition, else `default`, in the choices'
    and default's common dtype (Python scalars weak), all broadcast together."""
    from .shapes import rows     # shapes builds on this module
    condlist, choicelist = (rows(cx, c) if isinstance(c, Traced) else c
                            for c in (condlist, choicelist))
    if len(condlist) != len(choicelist):
        raise FrontendError("list of cases must be same length as list of conditions")
    if not len(condlist):
        raise FrontendError("select with an empty condition list is not possible")
    conds = [cx.tensor(c if isinstance(c, Traced) else np.asarray(c)) for c in condlist]
    for i, c in enumerate(conds):
        if c.dtype != "bool":
            raise FrontendError(f"invalid entry {i} in condlist: should be boolean ndarray")
    choices = [c if isinstance(c, Traced) or type(c) in (int, float) else np.asarray(c)
               for c in (*choicelist, default)]
    out = common_dtype(*choices)
    v = cx.value(choices[-1], out)
    for c, choice in zip(reversed(conds), reversed(choices[:-1]), strict=True):
        v = cx.op("where", c.value, cx.value(choice, out), v)
    shape = np.broadcast_shapes(*(c.shape for c in conds),
                                *(np.shape(c) if not isinstance(c, Traced) else c.shape
                                  for c in choices))
    return cx.wrap(v if v.type.shape == shape else cx.op("broadcast_to", v, shape=shape))


def piecewise(cx, x, condlist, funclist, *args, **kw) -> Traced:
    """np.piecewise: x's entries where a condition holds (the last one that does) from its
    function, or value, of x; the others 0, or from the extra last function ("otherwise"), in
    x's dtype. Each function is traced once on the whole of x and its result chosen with
    `where`, where NumPy calls it on the selected entries only: a function that looks at its
    argument's shape, or raises on entries it is not meant for, differs. A NaN or inf it makes
    on the others is dropped from the value, as by np.where, but not from the gradient where
    its derivative is NaN (np.sqrt of the negative entries: `grad` raises NaNError naming the
    line); make such a function safe on every entry (np.sqrt(np.maximum(y, 0)))."""
    from .shapes import as_array, copy, rows     # shapes builds on this module
    t = as_array(cx, x)
    single = isinstance(condlist, (list, tuple)) and condlist and \
        not isinstance(condlist[0], (list, np.ndarray, Traced)) and t.ndim != 0
    if not isinstance(condlist, (list, tuple)):
        c = as_array(cx, condlist)
        conds = rows(cx, c) if c.ndim >= 2 else [c]
    else:
        conds = [as_array(cx, condlist)] if single else [as_array(cx, c) for c in condlist]
    conds = [cx.nonzero(c.value) for c in conds]
    for c in conds:
        if c.type.shape != t.shape:
            raise FrontendError(f"np.piecewise: a condition of shape {c.type.shape} for x of "
                                f"shape {t.shape}; they must be the same")
    if len(funclist) == len(conds) + 1:
        otherwise = conds[0]
        for c in conds[1:]:
            otherwise = cx.op("logical_or", otherwise, c)
        conds.append(cx.op("logical_not", otherwise))
    elif len(funclist) != len(conds):
        raise FrontendError(f"with {len(conds)} condition(s), either {len(conds)} or "
                            f"{len(conds) + 1} functions are expected")
    y = cx.const(0, t.dtype)
    for c, f in zip(conds, funclist, strict=True):
        part = cx.call(f, [copy(cx, t), *args], kw) if callable(f) else f
        y = cx.op("where", c, cx.value(part, t.dtype), y)
    return cx.wrap(y if y.type.shape == t.shape else cx.op("broadcast_to", y, shape=t.shape))


def polyval(cx: Emitter, p, x) -> Traced:
    """p[0] x^(n-1) + ... + p[n-1] as NumPy computes it: y = 0 (x's dtype), then
    y = y * x + p[i] for each coefficient in turn (a row of a 2-d p, broadcast against x)."""
    from .creation import zeros
    from .indexing import getitem
    from .shapes import as_array     # shapes builds on this module
    coef, t = as_array(cx, p), as_array(cx, x)
    if coef.ndim == 0:
        raise FrontendError("np.polyval: p must be a 1-d sequence of coefficients (or a 2-d "
                            "array of them)")
    y = zeros(cx, t.shape, t.np_dtype)
    for i in range(coef.shape[0]):
        y = binary(cx, "add", binary(cx, "mul", y, t), getitem(cx, coef, i))
    return y


def clip(cx: Emitter, a, lo, hi) -> Traced:
    """np.clip; with neither bound a copy, as NumPy >= 2.1 returns."""
    out = result_dtype(lambda x, *r: np.clip(x, *r), a,
                       lo if lo is not None else None, hi if hi is not None else None)
    if out in INT_RANGE:       # a Python int bound beyond the dtype clips as its end does
        low, high = INT_RANGE[out]
        lo, hi = (min(max(b, low), high) if type(b) is int else b for b in (lo, hi))
    v = cx.value(a, out)
    if lo is not None:
        v = cx.op("maximum", v, cx.value(lo, out))
    if hi is not None:
        v = cx.op("minimum", v, cx.value(hi, out))
    return cx.wrap(v)
