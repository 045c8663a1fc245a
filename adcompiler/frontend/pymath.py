"""Python's `math` module on run-time numbers.

Contract: `FUNCTIONS[fn](tracer, *args)` replaces `math.fn(...)` where an argument is a run-time
value. Each argument is made a float as math makes it (float(): a 0-d array or a run-time Python
number; an array of more dimensions is refused as float() refuses it); the function is NumPy's
(or scipy.special's) of the same values on those float64 numbers, and the result a Python float
(a weak float64 scalar: with float32 arrays it stays float32, as a Python float does in NumPy),
differentiable as NumPy's function is. floor, ceil and trunc give Python ints (int64), isnan,
isinf and isfinite bools.
CPython's errors are kept, as an AssertionFailed naming the user's line when the program runs,
decided as CPython's mathmodule.c decides: a NaN from arguments none of which is NaN is a "math
domain error" (sqrt(-1), log(-1), acos(2), cos(inf)), an infinity from finite arguments a
"math range error" where the function overflows (exp(1000), cosh, sinh, expm1, exp2, pow,
hypot), else a "math domain error" (log(0), atanh(1), gamma(0), pow(0, -1)).
"""
from __future__ import annotations

import math
from functools import reduce

import numpy as np

from . import arith
from .numpy_api import FUNCTIONS as NUMPY
from .problems import FrontendError
from .pybuiltins import BUILTINS
from .values import Traced

# math's name -> NumPy's function of the same values, or the registry op of scipy.special's
# (scipy is imported only where the user's program imports it); True: it can overflow
# (CPython's OverflowError, "math range error"); None: CPython's raises nothing (degrees
# multiplies: 1e308 degrees are inf radians)
_UNARY = {"exp": (np.exp, True), "expm1": (np.expm1, True), "exp2": (np.exp2, True),
          "log": (np.log, False), "log2": (np.log2, False), "log10": (np.log10, False),
          "log1p": (np.log1p, False), "sqrt": (np.sqrt, False), "cbrt": (np.cbrt, False),
          "sin": (np.sin, False), "cos": (np.cos, False), "tan": (np.tan, False),
          "asin": (np.arcsin, False), "acos": (np.arccos, False), "atan": (np.arctan, False),
          "sinh": (np.sinh, True), "cosh": (np.cosh, True), "tanh": (np.tanh, False),
          "asinh": (np.arcsinh, False), "acosh": (np.arccosh, False),
          "atanh": (np.arctanh, False), "fabs": (np.abs, False), "degrees": (np.degrees, None),
          "radians": (np.radians, False), "erf": ("erf", False),
          "erfc": ("erfc", False), "gamma": ("gamma", True), "lgamma": ("gammaln", True)}
_BINARY = {"atan2": (np.arctan2, False), "pow": (np.power, True), "copysign": (np.copysign, False),
           "fmod": (np.fmod, False)}
_TO_INT = {"floor": np.floor, "ceil": np.ceil, "trunc": np.trunc}
_TESTS = {"isnan": np.isnan, "isinf": np.isinf, "isfinite": np.isfinite}


def _apply(tr, fn, *floats):
    if isinstance(fn, str):
        return tr.wrap(tr.op(fn, *(tr.value(x, "f64") for x in floats)))
    return NUMPY[fn](tr, *floats)


def _float(tr, x, name):
    if isinstance(x, Traced) and x.ndim:
        raise FrontendError(f"math.{name}() takes a number, not an array of shape {x.shape} "
                            "(NumPy's functions take arrays; x.item() gives an array's one "
                            "entry)")
    return BUILTINS[float](tr, x)


def _any(tr, name, values):
    return reduce(lambda a, b: tr.op(name, a, b), values)


def _checked(tr, name, args, result, overflows):
    """`result` as a Python float (a weak float64), asserting CPython's errors (see above)."""
    r = tr.value(result, "f64")
    if overflows is None:
        return tr.wrap(r, weak=True)
    args = [tr.value(a, "f64") for a in args]
    nan_in = _any(tr, "logical_or", [tr.op("isnan", a) for a in args])
    finite_in = _any(tr, "logical_and", [tr.op("isfinite", a) for a in args])
    domain = tr.op("logical_and", tr.op("isnan", r), tr.op("logical_not", nan_in))
    infinite = tr.op("logical_and", tr.op("isinf", r), finite_in)
    if overflows:
        tr.op("assert", tr.op("logical_not", domain), message=f"math domain error (math.{name})")
        tr.op("assert", tr.op("logical_not", infinite), message=f"math range error (math.{name})")
    else:
        tr.op("assert", tr.op("logical_not", tr.op("logical_or", domain, infinite)),
              message=f"math domain error (math.{name})")
    return tr.wrap(r, weak=True)


def _unary(name, fn, overflows):
    def call(tr, x, /):
        x = _float(tr, x, name)
        return _checked(tr, name, [x], _apply(tr, fn, x), overflows)
    return call


def _binary(name, fn, overflows):
    def call(tr, x, y, /):
        x, y = _float(tr, x, name), _float(tr, y, name)
        return _checked(tr, name, [x, y], _apply(tr, fn, x, y), overflows)
    return call


_natural_log = _unary("log", np.log, False)


def _log(tr, x, base=None, /):
    """math.log(x[, base]): log(x) / log(base), as CPython computes it."""
    if base is None:
        return _natural_log(tr, x)
    num, den = _natural_log(tr, x), _natural_log(tr, base)
    tr.op("assert", tr.op("ne", tr.value(den, "f64"), tr.const(0.0, "f64")),
          message="float division by zero (math.log to base 1)")
    return tr.wrap(arith.binary(tr, "div", num, den).value, weak=True)


def _hypot(tr, *coordinates):
    """math.hypot of any number of coordinates: np.hypot of them pairwise."""
    if not coordinates:
        return 0.0
    floats = [_float(tr, c, "hypot") for c in coordinates]
    result = (reduce(lambda a, b: _apply(tr, np.hypot, a, b), floats) if len(floats) > 1
              else _apply(tr, np.abs, floats[0]))
    return _checked(tr, "hypot", floats, result, True)


def _as(python_type, name, fn):
    """floor/ceil/trunc (an int) and isnan/isinf/isfinite (a bool): NumPy's of the float."""
    def call(tr, x, /):
        return BUILTINS[python_type](tr, _apply(tr, fn, _float(tr, x, name)))
    return call


FUNCTIONS = {
    **{getattr(math, name): _unary(name, fn, over) for name, (fn, over) in _UNARY.items()
       if hasattr(math, name)},
    **{getattr(math, name): _binary(name, fn, over) for name, (fn, over) in _BINARY.items()},
    **{getattr(math, name): _as(int, name, fn) for name, fn in _TO_INT.items()},
    **{getattr(math, name): _as(bool, name, fn) for name, fn in _TESTS.items()},
    math.log: _log, math.hypot: _hypot,
}
