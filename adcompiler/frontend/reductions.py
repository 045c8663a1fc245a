"""Reductions: sum, prod, max, min, any, all, argmax, argmin, cumsum, cumprod (a scan of
`mul`s), and the compositions mean, var, std, average and count_nonzero written the way NumPy
computes them (`numpy/_core/_methods.py`, `numpy/lib/_function_base_impl.py`): integers and
booleans are reduced in float64, float16 means in float32; var = sum((x - mean)^2) /
max(n - ddof, 0); average = sum(a * w) / sum(w), both in the promoted dtype (weights summing to
zero give inf or NaN here, where NumPy raises ZeroDivisionError).

Contract: `axis` is None (all axes), an int or a tuple of ints (static); the result dtype is
NumPy's. Inputs are `Traced` (or static array data, made constants).
"""
from __future__ import annotations

import numpy as np

from .emit import Emitter
from .problems import FrontendError, StaticNeeded
from .values import NP_OF, Traced, dtype_arg, ir_dtype


def norm_axes(axis, rank: int) -> tuple:
    if axis is None:
        return tuple(range(rank))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in axes:
        if isinstance(a, Traced):
            raise StaticNeeded("an axis must be a compile-time int")
        if not isinstance(a, int) or isinstance(a, bool):
            raise FrontendError(f"axis must be an int, got {a!r}")
        if not -rank <= a < rank:
            raise FrontendError(f"axis {a} is out of bounds for an array of dimension {rank}")
        out.append(a % rank if rank else 0)
    if len(set(out)) != len(out):
        raise FrontendError(f"repeated axis in {axis}")
    return tuple(out)


def count(shape, axes) -> int:
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def reduce(cx: Emitter, name: str, x, axis=None, keepdims=False, dtype=None) -> Traced:
    """sum / prod / max / min of `x` over `axis`."""
    t = cx.tensor(x)
    axes = norm_axes(axis, t.ndim)
    v = t.value
    want = dtype_arg(dtype)
    if want is not None:
        v = cx.cast(v, want)
    if name in ("max", "min") and t.type.size == 0:
        raise FrontendError(f"zero-size array to reduction operation {name} which has no identity")
    if not axes and name in ("max", "min"):
        return cx.wrap(v)
    return cx.wrap(cx.op(name, v, axes=axes, keepdims=bool(keepdims)))


def any_all(cx: Emitter, name: str, x, axis=None, keepdims=False) -> Traced:
    t = cx.tensor(x)
    v = cx.nonzero(t.value)
    axes = norm_axes(axis, t.ndim)
    if not axes:
        return cx.wrap(v)
    return cx.wrap(cx.op("max" if name == "any" else "min", v, axes=axes, keepdims=bool(keepdims)))


def _compute_dtype(t: Traced, dtype, f16_in_f32: bool) -> str:
    want = dtype_arg(dtype)
    if want is not None:
        return want
    if t.dtype in ("i64", "i32", "bool"):
        return "f64"
    if t.dtype == "f16" and f16_in_f32:
        return "f32"
    return t.dtype


def mean(cx: Emitter, x, axis=None, dtype=None, keepdims=False) -> Traced:
    t = cx.tensor(x)
    axes = norm_axes(axis, t.ndim)
    c = _compute_dtype(t, dtype, f16_in_f32=True)
    s = cx.op("sum", cx.cast(t.value, c), axes=axes, keepdims=bool(keepdims))
    m = cx.op("div", s, cx.const(count(t.shape, axes), c), hint="mean")
    out = dtype_arg(dtype) or ("f16" if t.dtype == "f16" else c)
    return cx.wrap(cx.cast(m, out))


def var(cx: Emitter, x, axis=None, dtype=None, ddof=0, keepdims=False, std=False) -> Traced:
    t = cx.tensor(x)
    axes = norm_axes(axis, t.ndim)
    c = _compute_dtype(t, dtype, f16_in_f32=False)
    n = count(t.shape, axes)
    xc = cx.cast(t.value, c)
    mu = cx.op("div", cx.op("sum", xc, axes=axes, keepdims=True), cx.const(n, c), hint="mean")
    d = cx.op("sub", xc, mu)
    s = cx.op("sum", cx.op("mul", d, d), axes=axes, keepdims=bool(keepdims))
    if isinstance(ddof, Traced):
        raise StaticNeeded("ddof must be a compile-time number")
    v = cx.op("div", s, cx.const(max(n - ddof, 0), c), hint="var")
    if std:
        v = cx.op("sqrt", v, hint="std")
    return cx.wrap(v)


def average(cx: Emitter, a, axis=None, weights=None, returned=False,
            keepdims=np._NoValue):
    t = cx.tensor(a)
    keep = False if keepdims is np._NoValue else bool(keepdims)
    axes = None if axis is None else norm_axes(axis, t.ndim)
    if weights is None:
        avg = mean(cx, t, axes, keepdims=keep)
        scl = cx.wrap(cx.const(t.type.size / max(avg.type.size, 1), avg.dtype))
    else:
        w = cx.tensor(weights)
        if w.shape != t.shape:
            if axes is None:
                raise FrontendError("Axis must be specified when shapes of a and weights "
                                    "differ.")
            if w.shape != tuple(t.shape[d] for d in axes):
                raise FrontendError("Shape of weights must be consistent with shape of a "
                                    "along specified axis.")
            # the weights' axes in the array's order, the others of size 1
            w = cx.wrap(cx.op("transpose", w.value, perm=tuple(int(p) for p in np.argsort(axes))))
            w = cx.wrap(cx.op("reshape", w.value, shape=tuple(
                s if d in axes else 1 for d, s in enumerate(t.shape))))
        extra = ("f8",) if t.dtype in ("i64", "i32", "bool") else ()
        c = ir_dtype(np.result_type(t.np_dtype, NP_OF[w.dtype], *extra))
        wv = cx.cast(w.value, c)
        over = tuple(range(t.ndim)) if axes is None else axes
        scl = cx.wrap(cx.op("sum", wv, axes=over, keepdims=keep))
        total = cx.op("sum", cx.op("mul", cx.cast(t.value, c), wv), axes=over, keepdims=keep)
        avg = cx.wrap(cx.op("div", total, scl.value, hint="average"))
    if returned and scl.shape != avg.shape:
        scl = cx.wrap(cx.op("broadcast_to", scl.value, shape=avg.shape))
    return (avg, scl) if returned else avg


def count_nonzero(cx: Emitter, a, axis=None, keepdims=False) -> Traced:
    t = cx.tensor(a)
    nonzero = cx.nonzero(t.value)
    return cx.wrap(cx.op("sum", cx.cast(nonzero, "i64"), axes=norm_axes(axis, t.ndim),
                         keepdims=bool(keepdims)))


def cumsum(cx: Emitter, x, axis=None, dtype=None) -> Traced:
    """np.cumsum: along `axis`, or over the flattened array when it is None."""
    t = cx.tensor(x)
    v = t.value if dtype is None else cx.cast(t.value, dtype_arg(dtype))
    if axis is None:
        v = cx.op("reshape", v, shape=(t.type.size,)) if t.ndim != 1 else v
        return cx.wrap(cx.op("cumsum", v, axis=0))
    if t.ndim == 0 or isinstance(axis, (tuple, list)):
        raise FrontendError(f"cumsum takes one int axis of an array, got axis={axis!r} for "
                            f"dimension {t.ndim}")
    (a,) = norm_axes(axis, t.ndim)
    return cx.wrap(cx.op("cumsum", v, axis=a))


def cumprod(cx: Emitter, x, axis=None, dtype=None) -> Traced:
    """np.cumprod as a scan in log2(n) doubling steps (Hillis-Steele: at step s each entry
    from the s-th on is multiplied by the one s before it), so its gradient comes from mul's
    and is exact where x holds zeros (out / x would not be). The products are associated
    otherwise than NumPy's left-to-right ones: float results may differ in the last bits."""
    t = cx.tensor(x)
    out = dtype_arg(dtype) or ir_dtype(np.cumprod(np.ones(1, NP_OF[t.dtype])).dtype)
    v = cx.cast(t.value, out)
    if axis is None:
        v, a = (cx.op("reshape", v, shape=(t.type.size,)) if t.ndim != 1 else v), 0
    elif t.ndim == 0 or isinstance(axis, (tuple, list)):
        raise FrontendError(f"cumprod takes one int axis of an array, got axis={axis!r} for "
                            f"dimension {t.ndim}")
    else:
        (a,) = norm_axes(axis, t.ndim)
    shape, n, step = v.type.shape, v.type.shape[a], 1

    def part(start, stop):
        return cx.op("slice", v, starts=tuple(start if d == a else 0 for d in range(len(shape))),
                     stops=tuple(stop if d == a else k for d, k in enumerate(shape)),
                     steps=(1,) * len(shape))

    while step < n:
        v = cx.op("concatenate", part(0, step), cx.op("mul", part(step, n), part(0, n - step)),
                  axis=a)
        step *= 2
    return cx.wrap(v)


def argmax(cx: Emitter, name: str, x, axis=None, keepdims=False) -> Traced:
    t = cx.tensor(x)
    if t.type.size == 0:
        raise FrontendError(f"attempt to get {name} of an empty sequence")
    if axis is None:
        flat = cx.op("reshape", t.value, shape=(t.type.size,)) if t.ndim != 1 else t.value
        v = cx.op(name, flat, axis=0, keepdims=False)
        if keepdims:
            v = cx.op("reshape", v, shape=(1,) * t.ndim)
        return cx.wrap(v)
    (a,) = norm_axes(axis, t.ndim) or (0,)
    if t.ndim == 0:
        raise FrontendError(f"axis {axis} is out of bounds for array of dimension 0")
    return cx.wrap(cx.op(name, t.value, axis=a, keepdims=bool(keepdims)))
