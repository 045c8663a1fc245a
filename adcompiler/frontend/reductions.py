"""Reductions: sum, prod, max, min, any, all, argmax, argmin, cumsum, cumprod (a scan of
`mul`s), cumulative_sum / cumulative_prod (NumPy 2.1's), ptp, and the compositions mean, var,
std, average and count_nonzero written the way NumPy
computes them (`numpy/_core/_methods.py`, `numpy/lib/_function_base_impl.py`): integers and
booleans are reduced in float64, float16 means in float32; var = sum((x - mean)^2) /
max(n - ddof, 0); average = sum(a * w) / sum(w), both in the promoted dtype (weights summing to
zero give inf or NaN here, where NumPy raises ZeroDivisionError).
`where=` (a boolean array broadcast to the input's shape) puts each reduction's identity in
place of the entries left out, before reducing (so they get no gradient, even if inf or NaN);
mean, var and std divide by the number of entries kept (0 gives NaN, as NumPy). `initial=`
is combined with the result (max and min need it with `where=`, as NumPy's have no identity).

Contract: `axis` is None (all axes), an int or a tuple of ints (static); the result dtype is
NumPy's. Inputs are `Traced` (or static array data, made constants).
"""
from __future__ import annotations

import numpy as np

from ..ops.reduce import reduced_shape
from .arith import binary
from .emit import Emitter
from .problems import FrontendError, StaticNeeded, no_out
from .values import NP_OF, Traced, dtype_arg, ir_dtype


def norm_axes(axis, rank: int) -> tuple:
    if axis is None:
        return tuple(range(rank))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in axes:
        if isinstance(a, Traced):
            raise StaticNeeded("an axis must be a compile-time int")
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
            raise FrontendError(f"axis must be an int, got {a!r}")
        a = int(a)      # (a NumPy integer too, as NumPy takes it)
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


def mask(cx: Emitter, where, t: Traced):
    """A reduction's `where=` as a bool value of t's shape, or None where it keeps every entry."""
    if where is np._NoValue or (type(where) in (bool, np.bool_) and where):
        return None
    m = cx.tensor(where)
    if m.dtype != "bool":
        raise FrontendError(f"where= must be a boolean array, got {m.np_dtype}")
    return m.value if m.shape == t.shape else cx.op("broadcast_to", m.value, shape=t.shape)


def identity(name: str, dtype: str):
    """The entry of dtype `dtype` that changes no sum / prod / max / min."""
    if name in ("sum", "prod"):
        return int(name == "prod")
    if dtype == "bool":
        return name == "min"
    if dtype.startswith("f"):
        return -np.inf if name == "max" else np.inf
    info = np.iinfo(NP_OF[dtype])
    return int(info.min if name == "max" else info.max)


_COMBINE = {"sum": "add", "prod": "mul", "max": "maximum", "min": "minimum"}


def reduce(cx: Emitter, name: str, x, axis=None, keepdims=False, dtype=None,
           initial=np._NoValue, where=True) -> Traced:
    """sum / prod / max / min of `x` over `axis`."""
    t = cx.tensor(x)
    axes = norm_axes(axis, t.ndim)
    v = t.value
    want = dtype_arg(dtype)
    if want is not None:
        v = cx.cast(v, want)
    keep, dt = mask(cx, where, t), v.type.dtype
    extreme, neutral = name in ("max", "min"), identity(name, dt)
    if initial is not np._NoValue:
        cx.value(initial, dt, exact=True)       # (NumPy's OverflowError for a Python int)
    if extreme:
        if initial is np._NoValue and keep is not None:
            raise FrontendError(f"reduction operation '{name}imum' does not have an identity, "
                                "so to use a where mask one has to specify 'initial'")
        # NumPy refuses a reduction over an axis of length 0 only: (0, 3) over axis 1 is (0,)
        if initial is np._NoValue and count(t.shape, axes) == 0:
            raise FrontendError(f"zero-size array to reduction operation {name} which has no "
                                "identity")
    if keep is not None:
        v = cx.op("where", keep, v, cx.const(neutral, dt))
    if not axes and extreme:
        out = v
    elif extreme and count(t.shape, axes) == 0:     # with initial: just it
        out = cx.op("broadcast_to", cx.const(neutral, dt),
                    shape=reduced_shape(t.shape, axes, bool(keepdims)))
    else:
        out = cx.op(name, v, axes=axes, keepdims=bool(keepdims))
    if want is not None:    # sum / prod widen int32 and bool to int64; NumPy's dtype= wins
        out = cx.cast(out, want)
    if initial is not np._NoValue:
        out = cx.op(_COMBINE[name], out, cx.value(initial, out.type.dtype))
    return cx.wrap(out)


def assert_none(cx: Emitter, flags, message: str) -> None:
    """A run-time assertion that no entry of `flags` is true (NumPy's error where one is)."""
    cx.op("assert", cx.op("logical_not", any_all(cx, "any", flags).value), message=message)


def any_all(cx: Emitter, name: str, x, axis=None, keepdims=False, where=True) -> Traced:
    t = cx.tensor(x)
    v = cx.nonzero(t.value)
    keep = mask(cx, where, t)
    if keep is not None:        # left-out entries: False for any, True for all
        v = cx.op("where", keep, v, cx.const(name == "all", "bool"))
    axes = norm_axes(axis, t.ndim)
    if not axes:
        return cx.wrap(v)
    if count(t.shape, axes) == 0:   # max / min have no identity: any of nothing is False
        return cx.wrap(cx.op("broadcast_to", cx.const(name == "all", "bool"),
                             shape=reduced_shape(t.shape, axes, bool(keepdims))))
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


def _kept(cx: Emitter, t: Traced, keep, c):
    """t's entries as `c`, those `where=` leaves out (`keep` False) as 0."""
    xc = cx.cast(t.value, c)
    return xc if keep is None else cx.op("where", keep, xc, cx.const(0, c))


def _count(cx: Emitter, t: Traced, keep, axes, keepdims, c):
    """How many entries of each slice `where=` keeps, as `c` (a constant without it)."""
    if keep is None:
        return cx.const(count(t.shape, axes), c)
    return cx.cast(cx.op("sum", cx.cast(keep, "i64"), axes=axes, keepdims=keepdims), c)


def mean(cx: Emitter, x, axis=None, dtype=None, keepdims=False, where=True) -> Traced:
    t = cx.tensor(x)
    axes = norm_axes(axis, t.ndim)
    c = _compute_dtype(t, dtype, f16_in_f32=True)
    keep = mask(cx, where, t)
    s = cx.op("sum", _kept(cx, t, keep, c), axes=axes, keepdims=bool(keepdims))
    m = cx.op("div", s, _count(cx, t, keep, axes, bool(keepdims), c), hint="mean")
    out = dtype_arg(dtype) or ("f16" if t.dtype == "f16" else c)
    return cx.wrap(cx.cast(m, out))


def var(cx: Emitter, x, axis=None, dtype=None, ddof=0, keepdims=False, std=False,
        where=True) -> Traced:
    t = cx.tensor(x)
    axes = norm_axes(axis, t.ndim)
    c = _compute_dtype(t, dtype, f16_in_f32=False)
    if isinstance(ddof, Traced):
        raise StaticNeeded("ddof must be a compile-time number")
    keep = mask(cx, where, t)
    xc = _kept(cx, t, keep, c)
    n = _count(cx, t, keep, axes, True, c)
    mu = cx.op("div", cx.op("sum", xc, axes=axes, keepdims=True), n, hint="mean")
    d = cx.op("sub", xc, mu)
    if keep is not None:
        d = cx.op("where", keep, d, cx.const(0, c))
    s = cx.op("sum", cx.op("mul", d, d), axes=axes, keepdims=bool(keepdims))
    if keep is None:
        v = cx.op("div", s, cx.const(max(count(t.shape, axes) - ddof, 0), c), hint="var")
    else:
        dof = cx.op("maximum", cx.op("sub", n, cx.const(ddof, c)), cx.const(0, c))
        dof = cx.op("reshape", dof, shape=s.type.shape)
        some = cx.op("gt", dof, cx.const(0, c))
        # NumPy's s / 0 (NaN or inf) where no more than ddof entries are kept, without a
        # gradient: its 0 * inf made the other entries' gradients NaN where a where (nanvar's)
        # drops that slice
        v = cx.op("where", some, cx.op("div", s, cx.op("where", some, dof, cx.const(1, c))),
                  cx.op("div", cx.op("stop_gradient", s), dof), hint="var")
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
        if scl.type.size:       # (NumPy's check: NaN, silently, otherwise)
            assert_none(cx, cx.wrap(cx.op("eq", scl.value, cx.const(0, c))),
                        "Weights sum to zero, can't be normalized (NumPy's ZeroDivisionError)")
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


def _scan_axis(cx: Emitter, t: Traced, v, axis, name: str):
    """(v, the axis a scan of t runs along): axis None scans the flattened array, as NumPy."""
    if axis is None:
        return (cx.op("reshape", v, shape=(t.type.size,)) if t.ndim != 1 else v), 0
    if t.ndim == 0 or isinstance(axis, (tuple, list)):
        raise FrontendError(f"{name} takes one int axis of an array, got axis={axis!r} for "
                            f"dimension {t.ndim}")
    return v, norm_axes(axis, t.ndim)[0]


def cumsum(cx: Emitter, x, axis=None, dtype=None) -> Traced:
    """np.cumsum: along `axis`, or over the flattened array when it is None."""
    t = cx.tensor(x)
    want = dtype_arg(dtype)
    v, a = _scan_axis(cx, t, t.value if want is None else cx.cast(t.value, want), axis,
                      "cumsum")
    out = cx.op("cumsum", v, axis=a)
    # the op widens int32 and bool to int64, as np.cumsum without dtype=; with it, NumPy's
    return cx.wrap(out if want is None else cx.cast(out, want))


def cumprod(cx: Emitter, x, axis=None, dtype=None) -> Traced:
    """np.cumprod as a doubling scan (`_doubling_scan`), so its gradient comes from mul's and
    is exact where x holds zeros (out / x would not be). The products are associated
    otherwise than NumPy's left-to-right ones: float results may differ in the last bits."""
    t = cx.tensor(x)
    out = dtype_arg(dtype) or ir_dtype(np.cumprod(np.ones(1, NP_OF[t.dtype])).dtype)
    v, a = _scan_axis(cx, t, cx.cast(t.value, out), axis, "cumprod")
    return cx.wrap(_doubling_scan(cx, v, a, "mul"))


def running_scan(cx: Emitter, name: str, x, axis=0) -> Traced:
    """np.maximum.accumulate / np.minimum.accumulate / np.logaddexp.accumulate (`name`
    "maximum", "minimum" or "logaddexp", on x's dtype, float for logaddexp): the running max
    along `axis` and so on, a doubling scan of that op (NaN carried on, as NumPy's; each
    logaddexp of two entries is as stable as NumPy's, as its derivative is)."""
    t = cx.tensor(x)
    v, a = _scan_axis(cx, t, t.value, axis, f"np.{name}.accumulate")
    return cx.wrap(_doubling_scan(cx, v, a, name))


def _doubling_scan(cx: Emitter, v, a: int, name: str):
    """v scanned along axis a with the associative binary op `name` in log2(n) doubling steps
    (Hillis-Steele: at step s each entry from the s-th on is combined with the one s before
    it)."""
    shape, n, step = v.type.shape, v.type.shape[a], 1

    def part(start, stop):
        return cx.op("slice", v, starts=tuple(start if d == a else 0 for d in range(len(shape))),
                     stops=tuple(stop if d == a else k for d, k in enumerate(shape)),
                     steps=(1,) * len(shape))

    while step < n:
        v = cx.op("concatenate", part(0, step), cx.op(name, part(step, n), part(0, n - step)),
                  axis=a)
        step *= 2
    return v


def cumulative(cx: Emitter, name: str, x, axis=None, dtype=None, include_initial=False):
    """np.cumulative_sum / np.cumulative_prod: cumsum / cumprod along `axis` (which arrays of
    more than one dimension need), after a 0 / 1 where `include_initial`."""
    t = cx.tensor(x)
    if axis is None and t.ndim > 1:
        raise FrontendError("For arrays which have more than one dimension ``axis`` argument "
                            "is required.")
    out = (cumsum if name == "sum" else cumprod)(cx, t, None if t.ndim == 0 else axis, dtype)
    if not include_initial:
        return out
    (a,) = norm_axes(0 if axis is None else axis, out.ndim)
    first = cx.op("broadcast_to", cx.const(int(name == "prod"), out.dtype),
                  shape=out.shape[:a] + (1,) + out.shape[a + 1:])
    return cx.wrap(cx.op("concatenate", first, out.value, axis=a))


def ptp(cx: Emitter, a, axis=None, out=None, keepdims=False) -> Traced:
    """np.ptp: max - min (NumPy rejects booleans: they cannot be subtracted)."""
    no_out(out, "np.ptp")
    return binary(cx, "sub", reduce(cx, "max", a, axis, keepdims),
                  reduce(cx, "min", a, axis, keepdims))


def argmax(cx: Emitter, name: str, x, axis=None, keepdims=False) -> Traced:
    if axis is not None and not isinstance(axis, (int, np.integer)):
        # (NumPy's TypeError: a tuple of axes was unpacked as one and crashed the trace)
        raise FrontendError(f"np.{name}'s axis must be an integer, got {axis!r}")
    t = cx.tensor(x)
    if t.type.size == 0:
        axes = () if axis is None or t.ndim == 0 else norm_axes(axis, t.ndim)
        if not axes or t.shape[axes[0]] == 0:
            raise FrontendError(f"attempt to get {name} of an empty sequence")
        # an empty array reduced along a non-empty axis: NumPy's empty result
        return cx.wrap(cx.op("broadcast_to", cx.const(0, "i64"),
                             shape=reduced_shape(t.shape, axes, bool(keepdims))))
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
