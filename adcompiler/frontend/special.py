"""scipy.special's functions on run-time arrays: `erf`, `erfc`, `expit` and `gammaln` are
registry ops (SciPy's result dtypes: float32 stays float32, integers give float64); `digamma`
(`psi`) is built from registry ops (ops.elementwise.digamma: its derivatives are theirs);
`softplus` is np.logaddexp(0, x), as SciPy computes it, `log_expit` -softplus(-x), and `xlogy(x, y)` is
x log(y), 0 where x is 0 (unless y is NaN; a y of 0, negative or inf is read as 1 there, so
no NaN reaches the gradient, whose derivative in x is log(y) wherever that is finite), and
`xlog1py` the same with log1p; `logit` is log(x) - log1p(-x); and
`logsumexp`, `softmax` and `log_softmax` are composed from existing ops as SciPy computes
them: x shifted by its maximum along the axes, so exp never overflows (logsumexp of
[1000, 1000] is 1000 + log 2). The maximum is a `stop_gradient`: the results do not depend
on it, and its gradient would only cancel.

Contract: `functions()` maps these SciPy functions to handlers `(cx, *args, **kwargs)` with
SciPy's parameters, and is empty unless the user's program has imported scipy.special (it is
in sys.modules): importing adcompiler never imports SciPy, which takes a good part of a second.
logsumexp's `b=` and `return_sign=` are not supported (a FrontendError).
"""
from __future__ import annotations

import sys
from functools import cache, partial

import numpy as np

from ..ops import elementwise as ops
from . import arith, reductions as red, shapes
from .problems import FrontendError
from .values import result_dtype


def functions() -> dict:
    special = sys.modules.get("scipy.special")
    return {} if special is None else _table(special)


@cache
def _table(special) -> dict:
    table = {special.erf: _ufunc("erf", special.erf), special.erfc: _ufunc("erfc", special.erfc),
             special.gammaln: _ufunc("gammaln", special.gammaln),
             special.digamma: partial(digamma, special.digamma),
             special.expit: _ufunc("expit", special.expit),
             special.log_expit: partial(log_expit, special.log_expit),
             special.xlogy: partial(xlogy, "log", special.xlogy),
             special.xlog1py: partial(xlogy, "log1p", special.xlog1py),
             special.logit: partial(logit, special.logit),
             special.logsumexp: logsumexp, special.softmax: softmax,
             special.log_softmax: log_softmax}
    if hasattr(special, "softplus"):        # (SciPy 1.15 and later)
        table[special.softplus] = softplus
    return table


def _ufunc(name, ufunc):
    return lambda cx, x, /: arith.unary(cx, name, x, ufunc=ufunc)


def _in_result_dtype(ufunc, cx, x):
    """x in the dtype SciPy's `ufunc` gives it (float32 stays, integers become float64)."""
    return arith.astype(cx, cx.tensor(x), result_dtype(ufunc, x))


def softplus(cx, x):
    return arith.binary(cx, "logaddexp", 0, x)


def log_expit(ufunc, cx, x, /):
    t = _in_result_dtype(ufunc, cx, x)
    return arith.unary(cx, "neg", softplus(cx, arith.unary(cx, "neg", t)))


def digamma(ufunc, cx, x, /):
    t = _in_result_dtype(ufunc, cx, x)
    return cx.wrap(ops.digamma(cx, t.value))


def logit(ufunc, cx, x, /):
    """log(x / (1 - x)) as log(x) - log1p(-x): -inf at 0, inf at 1, NaN outside [0, 1]."""
    t = _in_result_dtype(ufunc, cx, x)
    return arith.binary(cx, "sub", arith.unary(cx, "log", t),
                        arith.unary(cx, "log1p", arith.unary(cx, "neg", t)))


def xlogy(log, ufunc, cx, x, y, /):
    """x log(y) (`log` "log") or x log1p(y) ("log1p"), 0 where x is 0."""
    out = result_dtype(ufunc, x, y)
    x, y = arith.astype(cx, cx.tensor(x), out), arith.astype(cx, cx.tensor(y), out)
    both = partial(arith.binary, cx, "logical_and")
    zero = arith.binary(cx, "eq", x, 0)
    # where x is 0, a y whose log is not finite (0, negative, inf; log1p's: -1 and below) reads
    # as one whose log is 0: the product is 0, not NaN, and so is its gradient; a NaN y stays
    # (SciPy's NaN); elsewhere the derivative in x is log(y), x = 0 included
    low = 0 if log == "log" else -1
    kept = arith.binary(cx, "logical_or", both(arith.binary(cx, "gt", y, low),
                                               arith.classify(cx, "isfinite", y)),
                        arith.classify(cx, "isnan", y))
    guard = both(zero, arith.unary(cx, "logical_not", kept))
    t = arith.binary(cx, "mul", x, arith.unary(cx, log, arith.where(cx, guard, low + 1, y)))
    return arith.where(cx, zero, arith.binary(cx, "add", t, 0), t)     # (SciPy's 0 is +0.0)


def _shifted(cx, x, axis, finite_shift):
    """(x - m, m): x in the float dtype np.exp gives it, m its maximum over `axis` (kept as
    size-1 axes) with the gradient stopped; with `finite_shift` m is 0 where the maximum is
    not finite (SciPy's logsumexp and log_softmax: all -inf gives -inf, not NaN)."""
    t = cx.tensor(x)
    t = arith.astype(cx, t, result_dtype(np.exp, t))
    # over an empty axis (SciPy's logsumexp: -inf) the maximum is its identity, -inf
    empty = finite_shift and red.count(t.shape, red.norm_axes(axis, t.ndim)) == 0
    m = red.reduce(cx, "max", t, axis, keepdims=True, initial=-np.inf if empty else np._NoValue)
    if finite_shift:
        finite = arith.classify(cx, "isfinite", m)
        m = arith.where(cx, finite, m, 0.0)
    m = cx.wrap(cx.op("stop_gradient", m.value))
    return arith.binary(cx, "sub", t, m), m


def _sum_exp(cx, d, axis, keepdims):
    return red.reduce(cx, "sum", arith.unary(cx, "exp", d), axis, keepdims)


def logsumexp(cx, a, axis=None, b=None, keepdims=False, return_sign=False):
    if b is not None or return_sign:
        raise FrontendError("scipy.special.logsumexp: b= and return_sign= are not supported "
                            "by adcompiler; scale inside the exponent (a + np.log(b)) instead")
    d, m = _shifted(cx, a, axis, finite_shift=True)
    s = _sum_exp(cx, d, axis, keepdims)
    return arith.binary(cx, "add", arith.unary(cx, "log", s), shapes.reshape(cx, m, s.shape))


def softmax(cx, x, axis=None):
    # SciPy's softmax shifts by the maximum itself: a row holding inf is NaN throughout
    d, _ = _shifted(cx, x, axis, finite_shift=False)
    e = arith.unary(cx, "exp", d)
    return arith.binary(cx, "div", e, red.reduce(cx, "sum", e, axis, keepdims=True))


def log_softmax(cx, x, axis=None):
    d, _ = _shifted(cx, x, axis, finite_shift=True)
    return arith.binary(cx, "sub", d, arith.unary(cx, "log", _sum_exp(cx, d, axis, True)))
