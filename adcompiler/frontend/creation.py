"""Array creation as compositions of `constant`, `broadcast_to` and `iota`: zeros, ones, full,
empty (= zeros), the *_like forms, arange, linspace, eye, and triu/tril (an iota comparison
and `where`).

Contract: shapes, arange's bounds and linspace's scalar start, stop and num are static; dtypes
default as NumPy's do (float64 for zeros/ones/eye, the fill value's dtype for full, NumPy's
arange and linspace dtypes); linspace computes as NumPy's does (iota * step + start, the last
entry set to stop), so its values are NumPy's to the bit.
"""
from __future__ import annotations

import numpy as np

from . import layout
from .emit import Emitter
from .problems import FrontendError, StaticNeeded
from .shapes import static_ints
from .values import Traced, contains_traced, dtype_arg, ir_dtype, static_array


def filled(cx: Emitter, shape, value, dtype: str) -> Traced:
    """An array of `shape` holding `value`, of the IR dtype `dtype`."""
    shape = static_ints(shape, "a shape")
    v = cx.value(value, dtype, exact=True)
    if v.type.rank:
        raise FrontendError("the fill value must be a scalar")
    if shape:
        v = cx.op("broadcast_to", v, shape=shape)
    return c_layout(cx.wrap(v))


def c_layout(out: Traced) -> Traced:
    """`out`, a new array, known to be C-contiguous (layout.py)."""
    out.layout = layout.c_order(out.shape)
    return out


def full(cx: Emitter, shape, fill_value, dtype=None) -> Traced:
    want = dtype_arg(dtype)
    if want is None:
        want = fill_value.dtype if isinstance(fill_value, Traced) else \
            ir_dtype(np.asarray(fill_value).dtype)
    return filled(cx, shape, fill_value, want)


def zeros(cx: Emitter, shape, dtype=float) -> Traced:
    return filled(cx, shape, 0, dtype_arg(dtype))


def ones(cx: Emitter, shape, dtype=float) -> Traced:
    return filled(cx, shape, 1, dtype_arg(dtype))


def _like(a):
    if isinstance(a, Traced):
        return a.shape, a.dtype
    arr = static_array(a)
    if arr is None:
        raise FrontendError(f"cannot take the shape of {type(a).__name__}")
    return arr.shape, ir_dtype(arr.dtype)


def full_like(cx: Emitter, a, fill_value, dtype=None, shape=None, order="K") -> Traced:
    """np.full_like: C-contiguous (layout.py) with order 'C', or where `a` is known to be,
    or has fewer than 2 axes; another order's layout is not known."""
    s, d = _like(a)
    out = filled(cx, s if shape is None else shape, fill_value, dtype_arg(dtype) or d)
    arr = a.layout if isinstance(a, Traced) else static_array(a)
    if order != "C" and out.ndim > 1 and not (order in ("K", "A") and shape is None
                                              and layout.c_contiguous(arr)):
        out.layout = None
    return out


def zeros_like(cx: Emitter, a, dtype=None, shape=None, order="K") -> Traced:
    return full_like(cx, a, 0, dtype, shape, order)


def ones_like(cx: Emitter, a, dtype=None, shape=None, order="K") -> Traced:
    return full_like(cx, a, 1, dtype, shape, order)


def arange(cx: Emitter, *args, dtype=None) -> Traced:
    for a in args:
        if isinstance(a, Traced):
            raise StaticNeeded("np.arange with a run-time bound has a data-dependent shape")
    try:
        ref = np.arange(*args, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise FrontendError(f"np.arange: {e}") from None
    out, n = ir_dtype(ref.dtype), len(ref)
    if n == 0:
        return cx.wrap(cx.const(np.zeros(0), out))
    start = args[0] if len(args) > 1 else 0
    step = args[2] if len(args) > 2 else 1
    v = cx.op("iota", shape=(n,), axis=0, dtype=out, hint="arange")
    if step != 1:
        v = cx.op("mul", v, cx.const(step, out))
    if start != 0:
        v = cx.op("add", v, cx.const(start, out))
    return c_layout(cx.wrap(v, nonneg=bool(ref[0] >= 0 and ref[-1] >= 0)))


def linspace(cx: Emitter, start, stop, num=50, endpoint=True, retstep=False, dtype=None,
             axis=0):
    if contains_traced(num):
        raise StaticNeeded("np.linspace's num must be a compile-time int (it sets the shape)")
    if contains_traced((start, stop)):
        return _run_time_linspace(cx, start, stop, num, endpoint, retstep, dtype)
    if np.ndim(start) or np.ndim(stop):
        raise FrontendError("np.linspace with array start or stop is not supported")
    try:    # NumPy's checks, dtype and step
        ref, step = np.linspace(start, stop, num, endpoint, True, dtype, axis)
        dt = np.linspace(start, stop, num, endpoint).dtype
    except (TypeError, ValueError) as e:
        raise FrontendError(f"np.linspace: {e}") from None
    n, div = len(ref), len(ref) - 1 if endpoint else len(ref)
    delta = np.subtract(stop, start, dtype=dt)
    out, w = ir_dtype(ref.dtype), ir_dtype(dt)
    if n == 0:
        y = cx.const(np.zeros(0), out)
    else:
        y = cx.op("iota", shape=(n,), axis=0, dtype=w, hint="linspace")
        if div > 0 and step == 0:       # NumPy's way round denormal steps
            y = cx.op("mul", cx.op("div", y, cx.const(div, w)), cx.const(delta, w))
        else:
            y = cx.op("mul", y, cx.const(step if div > 0 else delta, w))
        y = cx.op("add", y, cx.const(start, w))
        if endpoint and n > 1:
            y = cx.op("update_slice", y, cx.const((stop,), w), starts=(n - 1,), stops=(n,),
                      steps=(1,))
        if ref.dtype.kind in "iu":
            y = cx.op("floor", y)
        y = cx.cast(y, out)
    out = c_layout(cx.wrap(y))
    return (out, step) if retstep else out


def _run_time_linspace(cx: Emitter, start, stop, num, endpoint, retstep, dtype):
    """np.linspace with run-time scalar bounds (a grid up to a parameter), as NumPy computes
    it: iota * step + start, its last entry stop, (iota / div) * delta where the step is 0."""
    if np.ndim(start) or np.ndim(stop):
        raise FrontendError("np.linspace with array start or stop is not supported")
    try:    # (NumPy's checks and dtype, at stand-in values of the bounds' dtypes)
        stand_in = [np.zeros((), v.np_dtype) if isinstance(v, Traced) else v
                    for v in (start, stop)]
        dt = np.linspace(*stand_in, num, endpoint).dtype
        ref = np.linspace(*stand_in, num, endpoint, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise FrontendError(f"np.linspace: {e}") from None
    if ref.dtype.kind not in "f" or dt.kind != "f":
        raise FrontendError("np.linspace with run-time bounds makes float arrays here")
    n, div, w = len(ref), len(ref) - 1 if endpoint else len(ref), ir_dtype(dt)
    first, last = (cx.cast(cx.tensor(v).value, w) for v in (start, stop))
    delta = cx.op("sub", last, first)
    # (no step without two entries: NumPy's is a Python float NaN then)
    step = cx.wrap(cx.op("div", delta, cx.const(div, w))) if div > 0 else np.nan
    y = cx.op("iota", shape=(n,), axis=0, dtype=w, hint="linspace")
    if div > 0:     # (NumPy's way round denormal steps)
        y = cx.op("where", cx.op("eq", step.value, cx.const(0, w)),
                  cx.op("mul", cx.op("div", y, cx.const(div, w)), delta),
                  cx.op("mul", y, step.value))
    else:
        y = cx.op("mul", y, delta)
    y = cx.op("add", y, first)
    if endpoint and n > 1:
        y = cx.op("update_slice", y, cx.op("reshape", last, shape=(1,)), starts=(n - 1,),
                  stops=(n,), steps=(1,))
    out = c_layout(cx.wrap(cx.cast(y, ir_dtype(ref.dtype))))
    return (out, step) if retstep else out


def _tri_mask(cx: Emitter, n: int, m: int, k, upper: bool):
    """bool[n, m]: j >= i + k (upper) or j <= i + k (lower)."""
    if isinstance(k, Traced):
        raise StaticNeeded("the diagonal offset k must be a compile-time int")
    rows = cx.op("iota", shape=(n, m), axis=0, dtype="i64", hint="row")
    cols = cx.op("iota", shape=(n, m), axis=1, dtype="i64", hint="col")
    if k:
        rows = cx.op("add", rows, cx.const(int(k), "i64"))
    return cx.op("ge" if upper else "le", cols, rows, hint="mask")


def tri(cx: Emitter, name: str, m, k=0) -> Traced:
    t = cx.tensor(m)
    if t.ndim == 0:
        raise FrontendError(f"np.{name} of a 0-d array: NumPy needs at least 1 dimension")
    if t.ndim == 1:     # NumPy 2's: the row repeated into a square
        t = cx.wrap(cx.op("broadcast_to", t.value, shape=(t.shape[0],) * 2))
    mask = _tri_mask(cx, t.shape[-2], t.shape[-1], k, upper=(name == "triu"))
    return cx.wrap(cx.op("where", mask, t.value, cx.const(0, t.dtype)))


def eye(cx: Emitter, N, M=None, k=0, dtype=float) -> Traced:
    n, m = static_ints(N, "N")[0], static_ints(N if M is None else M, "M")[0]
    rows = cx.op("iota", shape=(n, m), axis=0, dtype="i64", hint="row")
    cols = cx.op("iota", shape=(n, m), axis=1, dtype="i64", hint="col")
    if k:
        rows = cx.op("add", rows, cx.const(int(k), "i64"))
    return c_layout(cx.wrap(cx.cast(cx.op("eq", cols, rows), dtype_arg(dtype))))


def triangle_indices(cx: Emitter, name: str, n, k=0, m=None) -> tuple:
    """np.triu_indices / np.tril_indices: the (row, column) indices of an n x m matrix's upper
    (j >= i + k) or lower (j <= i + k) triangle in row-major order. A square matrix's upper
    triangle on or above the diagonal (k >= 0) or lower one on or below it (k <= 0) is
    computed from the positions t, as np.arange is an iota: literal indices, n^2 / 2 of them,
    made the IR and its compile grow as n^2 (24 s for pdist of 1500 points); other
    triangles are NumPy's, constants. Lower: row i has r + 1 entries, r = i + k, starting at
    r (r + 1) / 2, so r = floor((sqrt(8t + 1) - 1) / 2); upper: row i has N - 1 - i, N =
    n - k + 1, starting at s(i) = i (2N - 1 - i) / 2, so i = floor((2N - 1 -
    sqrt((2N - 1)^2 - 8t)) / 2). In float64 they are exact: at a row's start the root is of
    a perfect square, and inside a row the quotient stays more than 1 / 2n below the next
    integer, a million times the float root's error for any n whose indices fit in memory."""
    upper = name.startswith("triu")
    (n,), k = static_ints(n, "n"), static_ints(k, "k")[0]
    m = n if m is None else static_ints(m, "m")[0]
    if m != n or (k < 0 if upper else k > 0):
        return tuple(cx.tensor(i) for i in getattr(np, f"{name}_indices")(n, k, m))
    op, f64 = cx.op, (lambda v: cx.const(float(v), "f64"))
    size = max(n - abs(k), 0)                   # rows holding an entry, less their first one
    t = op("iota", shape=(size * (size + 1) // 2,), axis=0, dtype="f64")
    eight_t = op("mul", f64(8), t)
    if upper:
        b = 2 * size + 1
        root = op("sqrt", op("sub", f64(b * b), eight_t))
        row = op("floor", op("mul", op("sub", f64(b), root), f64(0.5)))
        first = op("mul", op("mul", row, op("sub", f64(b), row)), f64(0.5))
        col = op("add", op("sub", t, first), op("add", row, f64(k)))
    else:
        root = op("sqrt", op("add", eight_t, f64(1)))
        r = op("floor", op("mul", op("sub", root, f64(1)), f64(0.5)))
        col = op("sub", t, op("mul", op("mul", r, op("add", r, f64(1))), f64(0.5)))
        row = op("sub", r, f64(k))
    return tuple(cx.wrap(op("astype", v, dtype="i64"), nonneg=True) for v in (row, col))


def triangle_indices_from(cx: Emitter, name: str, arr, k=0) -> tuple:
    t = cx.tensor(arr)
    if t.ndim != 2:
        raise FrontendError("input array must be 2-d")
    return triangle_indices(cx, name, t.shape[0], k, t.shape[1])


def diag_indices(cx: Emitter, n, ndim=2) -> tuple:
    """np.diag_indices: the one index array np.arange(n), ndim times."""
    index = arange(cx, static_ints(n, "n")[0])
    return (index,) * static_ints(ndim, "ndim")[0]


def diag_indices_from(cx: Emitter, arr) -> tuple:
    t = cx.tensor(arr)
    if t.ndim < 2:
        raise FrontendError("input array must be at least 2-d")
    if len(set(t.shape)) != 1:
        raise FrontendError("All dimensions of input must be of equal length")
    return diag_indices(cx, t.shape[0], t.ndim)
