"""Searching sorted arrays: np.searchsorted, np.digitize and np.interp, and np.partition /
np.argpartition.

Contract: values, dtypes, shapes and argument names are NumPy's; side, right, kth, axis and
period are static.
- searchsorted(a, v) is, for each v, the first place of the 1-D `a` where `a < v` ('left')
  or `a <= v` ('right') stops holding, in NumPy's order, where NaN sorts last: a binary
  search, ceil(log2(len(a) + 1)) halvings of every v's interval, each a gather of a at the
  middles and a comparison (O(len(v) log len(a)) work; a count of every v against every
  entry was O(len(v) len(a)) and its matrix ran out of memory at 10^5 x 10^5). For a sorted a
  the int64 result is NumPy's; for an unsorted one, as NumPy's, some index. Not
  differentiable.
- digitize is NumPy's searchsorted on the bins or on the reversed bins (len(bins) minus it);
  which one is chosen at run time from the bins' monotonicity (NumPy's rule, for bins
  without NaN), and bins neither increasing nor decreasing fail a run-time assert
  (AssertionFailed naming the line; NumPy's ValueError).
- interp follows NumPy's C loop (`arr_interp`): float64, left/right outside [xp[0], xp[-1]],
  fp[j] where x equals xp[j] or xp[-1], else fp[j] + slope (x - xp[j]) between xp[j] and
  xp[j + 1], its NaN fallbacks, NaN for a NaN x; period as NumPy's (x and xp wrapped, xp
  sorted and padded by one period each side). The interval j is a searchsorted count (the
  cost above), and the value a gather of xp and fp at it, so the gradient reaches x, xp
  and fp: the slope in x, the interpolation weights in fp, and the weights' derivatives
  in xp.
- partition and argpartition return the full (stable) sort and argsort. NumPy guarantees
  only that the kth entry is where a sort puts it, the smaller ones before and the others
  after; their order within each side is implementation-defined, and the sorted order
  meets that contract for every kth. The gradient is sort's.
"""
from __future__ import annotations

import operator

import numpy as np

from .arith import astype, binary, classify, unary, where
from .creation import filled
from .emit import Emitter
from .indexing import getitem
from .problems import FrontendError, StaticNeeded
from .reductions import any_all, norm_axes
from .shapes import concatenate, ravel
from .sorting import argsort, sort
from .values import Traced, common_dtype


def _nan_last_less(cx: Emitter, x: Traced, y: Traced) -> Traced:
    """x < y in NumPy's sort order: a NaN is greater than every number."""
    less = binary(cx, "lt", x, y)
    if not x.type.is_float:
        return less
    y_nan = binary(cx, "logical_and", classify(cx, "isnan", y),
                   unary(cx, "logical_not", classify(cx, "isnan", x)))
    return binary(cx, "logical_or", less, y_nan)


def searchsorted(cx: Emitter, a, v, side="left", sorter=None) -> Traced:
    if side not in ("left", "right"):
        raise FrontendError(f"np.searchsorted: side must be 'left' or 'right' (got {side!r})")
    dtype = common_dtype(a, v)
    a, v = cx.tensor(a, dtype), cx.tensor(v, dtype)
    if a.ndim != 1:
        raise FrontendError(f"np.searchsorted: a must be 1-D, got shape {a.shape}")
    if sorter is not None:
        a = getitem(cx, a, (sorter,))
    n = a.shape[0]
    low, high = filled(cx, v.shape, 0, "i64"), filled(cx, v.shape, n, "i64")
    for _ in range(int(np.ceil(np.log2(n + 1)))):
        middle = binary(cx, "floordiv", binary(cx, "add", low, high), 2)
        entry = getitem(cx, a, (binary(cx, "minimum", middle, n - 1),))
        # (is the middle entry before v: the answer is after it)
        after = _nan_last_less(cx, entry, v) if side == "left" else \
            unary(cx, "logical_not", _nan_last_less(cx, v, entry))
        open_ = binary(cx, "lt", low, high)
        low = where(cx, binary(cx, "logical_and", open_, after), binary(cx, "add", middle, 1),
                    low)
        high = where(cx, binary(cx, "logical_and", open_, unary(cx, "logical_not", after)),
                     middle, high)
    return astype(cx, low, "i64")


def digitize(cx: Emitter, x, bins, right=False) -> Traced:
    b = cx.tensor(bins)
    if b.ndim != 1:
        raise FrontendError(f"np.digitize: bins must be 1-D, got shape {b.shape}")
    side = "left" if right else "right"     # NumPy's: searchsorted's arguments are swapped
    up = searchsorted(cx, b, x, side)
    if b.shape[0] < 2:
        return up
    down = binary(cx, "sub", b.shape[0], searchsorted(cx, getitem(cx, b, (slice(None, None, -1),)),
                                                      x, side))
    first, rest = getitem(cx, b, (slice(None, -1),)), getitem(cx, b, (slice(1, None),))
    falls = any_all(cx, "any", binary(cx, "lt", rest, first))
    rises = any_all(cx, "any", binary(cx, "gt", rest, first))
    monotonic = unary(cx, "logical_not", binary(cx, "logical_and", falls, rises))
    cx.op("assert", monotonic.value,
          message="np.digitize: bins must be monotonically increasing or decreasing")
    return astype(cx, where(cx, falls, down, up), "i64")


def _interp_scalar(cx: Emitter, value, default: Traced) -> Traced:
    return default if value is None else astype(cx, cx.tensor(value), "f64")


def interp(cx: Emitter, x, xp, fp, left=None, right=None, period=None) -> Traced:
    x, xp, fp = (astype(cx, cx.tensor(t), "f64") for t in (x, xp, fp))
    if xp.ndim != 1 or fp.ndim != 1:
        raise FrontendError(f"np.interp: xp and fp must be 1-D, got shapes {xp.shape} and "
                            f"{fp.shape}")
    if xp.shape != fp.shape:
        raise FrontendError("np.interp: fp and xp are not of the same length.")
    if xp.shape[0] == 0:
        raise FrontendError("np.interp: array of sample points is empty")
    if period is not None:
        if isinstance(period, Traced):
            raise StaticNeeded("np.interp's period must be a compile-time number")
        if period == 0:
            raise FrontendError("np.interp: period must be a non-zero value")
        x, xp, fp, left, right = *_periodic(cx, x, xp, fp, abs(period)), None, None
    n = xp.shape[0]
    last = getitem(cx, fp, (-1,))
    lo, hi = _interp_scalar(cx, left, getitem(cx, fp, (0,))), _interp_scalar(cx, right, last)
    if n == 1:      # NumPy's own branch: no interval, and a NaN x compares false both ways
        out = where(cx, binary(cx, "lt", x, getitem(cx, xp, (0,))), lo,
                    where(cx, binary(cx, "gt", x, getitem(cx, xp, (0,))), hi, last))
        return astype(cx, out, "f64")
    j = binary(cx, "sub", searchsorted(cx, xp, x, "right"), 1)     # xp[j] <= x < xp[j + 1]
    k = binary(cx, "minimum", binary(cx, "maximum", j, 0), n - 2)   # an interval for every x
    x0, x1 = getitem(cx, xp, (k,)), getitem(cx, xp, (binary(cx, "add", k, 1),))
    y0, y1 = getitem(cx, fp, (k,)), getitem(cx, fp, (binary(cx, "add", k, 1),))
    slope = binary(cx, "div", binary(cx, "sub", y1, y0), binary(cx, "sub", x1, x0))
    out = binary(cx, "add", binary(cx, "mul", slope, binary(cx, "sub", x, x0)), y0)
    # NumPy's fallbacks: from the other end, then fp[j] for a flat segment
    other = binary(cx, "add", binary(cx, "mul", slope, binary(cx, "sub", x, x1)), y1)
    out = where(cx, classify(cx, "isnan", out), other, out)
    flat = binary(cx, "logical_and", classify(cx, "isnan", out), binary(cx, "eq", y0, y1))
    out = where(cx, flat, y0, out)
    # the exact cases, in the reverse of NumPy's order of tests, so its first one wins; where
    # the slope is finite the line itself gives NumPy's value there exactly (x - x0 or x - x1
    # is 0), and with it the slope as the derivative (JAX's: the interval on the right, the
    # last one at xp[-1]); a constant would have none
    steep = unary(cx, "logical_not", classify(cx, "isfinite", slope))
    out = where(cx, binary(cx, "logical_and", binary(cx, "eq", x, x0), steep), y0, out)
    out = where(cx, binary(cx, "eq", j, n - 1), where(cx, steep, last, other), out)
    out = where(cx, binary(cx, "lt", x, getitem(cx, xp, (0,))), lo, out)
    out = where(cx, binary(cx, "gt", x, getitem(cx, xp, (-1,))), hi, out)
    return astype(cx, where(cx, classify(cx, "isnan", x), x, out), "f64")


def _periodic(cx: Emitter, x: Traced, xp: Traced, fp: Traced, period):
    """NumPy's: x and xp modulo the period, xp sorted (fp with it), and one point wrapped
    round before and after."""
    x, xp = binary(cx, "mod", x, period), binary(cx, "mod", xp, period)
    order = argsort(cx, xp)
    xp, fp = getitem(cx, xp, (order,)), getitem(cx, fp, (order,))
    xp = concatenate(cx, [binary(cx, "sub", getitem(cx, xp, (slice(-1, None),)), period), xp,
                          binary(cx, "add", getitem(cx, xp, (slice(0, 1),)), period)])
    fp = concatenate(cx, [getitem(cx, fp, (slice(-1, None),)), fp,
                          getitem(cx, fp, (slice(0, 1),))])
    return x, xp, fp


def _check_kth(name: str, kth, n: int):
    if isinstance(kth, Traced) or isinstance(kth, (list, tuple)) and any(
            isinstance(k, Traced) for k in kth):
        raise StaticNeeded(f"np.{name}'s kth must be compile-time ints")
    for k in np.ravel(kth).tolist():
        if isinstance(k, bool):
            raise FrontendError(f"np.{name}: Booleans unacceptable as partition index")
        try:
            k = operator.index(k)
        except TypeError:
            raise FrontendError(f"np.{name}: Partition index must be integer") from None
        if not -n <= k < n:
            raise FrontendError(f"np.{name}: kth(={k}) out of bounds ({n})")


def partition(cx: Emitter, a, kth, axis=-1, kind="introselect", order=None, arg=False):
    name = "argpartition" if arg else "partition"
    if kind != "introselect":
        raise FrontendError(f"np.{name}: kind must be 'introselect', got {kind!r}")
    if order is not None:
        raise FrontendError(f"np.{name} with order= (structured arrays) is not supported")
    t = cx.tensor(a)
    if axis is None:
        t, axis = ravel(cx, t), -1
    if t.ndim == 0:
        raise FrontendError(f"np.{name}: axis {axis} is out of bounds for array of dimension 0")
    (ax,) = norm_axes(axis, t.ndim)
    _check_kth(name, kth, t.shape[ax])
    return argsort(cx, t, ax) if arg else sort(cx, t, ax)
