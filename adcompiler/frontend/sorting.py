"""Sorting and order statistics: np.argsort (the registry's `argsort`), np.lexsort, np.sort
and np.take_along_axis (advanced indexing, whose gradient is the registry's scatter-add: each
sorted entry's cotangent goes back to the position argsort took it from), np.median,
np.nanmedian, np.quantile and np.percentile with NumPy's default 'linear' method.

Contract: axes, q and the method are static; values, dtypes, shapes and argument names are
NumPy's. argsort always gives the stable order (ties in their original order), whatever
`kind` says: NumPy's default quicksort may order ties differently, which changes argsort's
result and which tied entry sort's gradient reaches, never the sorted values. median and
quantile follow NumPy's code (`numpy/lib/_function_base_impl.py`): the reduced axes merged
into one and sorted; median the mean of the middle one or two entries; quantile the
interpolation `_lerp` between the entries at floor((n - 1) q) and the next; a slice holding a
NaN gives NaN. Empty slices, `out=`, weights and other methods raise FrontendError.
"""
from __future__ import annotations

import numpy as np

from ..ir.types import broadcast_shapes
from .arith import astype, binary, classify, where
from .emit import Emitter
from .indexing import getitem
from .problems import FrontendError, StaticNeeded, no_out
from .reductions import count, mean, norm_axes, reduce
from .shapes import broadcast_to, copy, merge_axes, ravel, reshape, rows, transpose
from .values import Traced, contains_traced

_KINDS = (None, "quicksort", "mergesort", "heapsort", "stable")


def argsort(cx: Emitter, a, axis=-1, kind=None, order=None, stable=None) -> Traced:
    if order is not None:
        raise FrontendError("argsort/sort with order= (structured arrays) is not supported")
    if kind not in _KINDS:
        raise FrontendError(f"sort kind must be one of {_KINDS[1:]}, got {kind!r}")
    t = cx.tensor(a)
    if axis is None or t.ndim == 0:     # NumPy argsorts a 0-d array as a 1-element one
        t, axis = ravel(cx, t), -1
    (ax,) = norm_axes(axis, t.ndim)
    return cx.wrap(cx.op("argsort", t.value, axis=ax), nonneg=True)


def lexsort(cx: Emitter, keys, axis=-1) -> Traced:
    """np.lexsort: the last key sorts first; each earlier one orders ties, as stable argsorts
    from the first key to the last give it (each reorders the order so far)."""
    stacked = [cx.tensor(k) for k in (keys if isinstance(keys, (list, tuple)) else
                                      rows(cx, cx.tensor(keys)))]
    if not stacked:
        raise FrontendError("need sequence of keys with len > 0 in lexsort")
    shape = broadcast_shapes(*[k.shape for k in stacked])
    if not shape:
        raise FrontendError("np.lexsort of 0-d keys is not supported")
    (ax,) = norm_axes(axis, len(shape))
    order = None
    for key in stacked:
        key = broadcast_to(cx, key, shape)
        if order is None:
            order = argsort(cx, key, ax)
        else:
            order = take_along_axis(cx, order, argsort(cx, take_along_axis(cx, key, order, ax),
                                                       ax), ax)
    return order


def take_along_axis(cx: Emitter, arr, indices, axis=-1) -> Traced:
    """arr[i_0, ..., indices, ..., i_n] with an iota for every other axis, where `arr` and
    `indices` broadcast together (one advanced index: a take of the flattened array)."""
    t, idx = cx.tensor(arr), cx.tensor(indices)
    if idx.dtype not in ("i64", "i32"):
        raise FrontendError("`indices` must be an integer array")
    if axis is None:
        if idx.ndim != 1:
            raise FrontendError("when axis=None, `indices` must have a single dimension.")
        t, axis = ravel(cx, t), 0
    if idx.ndim != t.ndim:
        raise FrontendError("`indices` and `arr` must have the same number of dimensions")
    (ax,) = norm_axes(axis, t.ndim)
    try:
        rest = broadcast_shapes(t.shape[:ax] + t.shape[ax + 1:],
                                idx.shape[:ax] + idx.shape[ax + 1:])
    except ValueError:
        raise FrontendError(f"shape mismatch: arr {t.shape} and indices {idx.shape} do not "
                            "broadcast together off the axis") from None
    t = broadcast_to(cx, t, rest[:ax] + t.shape[ax:ax + 1] + rest[ax:])
    idx = broadcast_to(cx, idx, rest[:ax] + idx.shape[ax:ax + 1] + rest[ax:])
    return getitem(cx, t, along_axis_key(cx, idx, ax))


def along_axis_key(cx: Emitter, idx: Traced, ax: int) -> tuple:
    """The advanced index of take_along_axis / put_along_axis: `idx` on axis `ax`, an iota of
    its shape on every other axis."""
    return tuple(idx if d == ax else
                 cx.wrap(cx.op("iota", shape=idx.shape, axis=d, dtype="i64"), nonneg=True)
                 for d in range(idx.ndim))


def sort(cx: Emitter, a, axis=-1, kind=None, order=None, stable=None) -> Traced:
    t = cx.tensor(a)
    if axis is None:
        t, axis = ravel(cx, t), 0
    (ax,) = norm_axes(axis, t.ndim)
    return take_along_axis(cx, t, argsort(cx, t, ax, kind, order, stable), ax)


def _sorted_along_last(cx: Emitter, t: Traced, axis, what: str):
    """`t` with the axes `axis` (None: all) merged into one last axis and sorted along it,
    and the result's shape with those axes kept as size 1 (keepdims)."""
    axes = norm_axes(axis, t.ndim)
    if count(t.shape, axes) == 0:
        raise FrontendError(f"{what} of an empty slice (NumPy's NaN with a warning) is not "
                            "supported")
    kept = tuple(1 if d in axes else s for d, s in enumerate(t.shape))
    return sort(cx, merge_axes(cx, t, axes), -1), kept


def _nan_if_any(cx: Emitter, last: Traced, result: Traced) -> Traced:
    """`result` with NaN where the slice's last sorted entry `last` is NaN (NaNs sort last)."""
    if not last.type.is_float:
        return result
    return astype(cx, where(cx, classify(cx, "isnan", last), last, result), result.dtype)


def median(cx: Emitter, a, axis=None, out=None, overwrite_input=False,
           keepdims=False) -> Traced:
    no_out(out, "np.median")
    t = cx.tensor(a)
    s, kept = _sorted_along_last(cx, t, axis, "np.median")
    n = s.shape[-1]
    # NumPy takes the mean of the middle one or two, which sets the dtype (float64 for ints)
    middle = getitem(cx, s, (Ellipsis, slice((n - 1) // 2, n // 2 + 1)))
    m = _nan_if_any(cx, getitem(cx, s, (Ellipsis, -1)), mean(cx, middle, -1))
    return copy(cx, reshape(cx, m, kept if keepdims else m.shape))


def nanmedian(cx: Emitter, a, axis=None, out=None, overwrite_input=False,
              keepdims=False) -> Traced:
    """The median of each slice's entries that are not NaN: NaNs sort last, so with k of them
    left the middle ones are at (k - 1) // 2 and k // 2, a run-time index (their mean, as
    NumPy's; NaN for an all-NaN slice, whose first entry is NaN)."""
    t = cx.tensor(a)
    if not t.type.is_float:
        return median(cx, t, axis, out, overwrite_input, keepdims)
    no_out(out, "np.nanmedian")
    s, kept = _sorted_along_last(cx, t, axis, "np.nanmedian")
    k = binary(cx, "sub", s.shape[-1], reduce(cx, "sum", classify(cx, "isnan", s), -1,
                                              keepdims=True))
    low = binary(cx, "floordiv", binary(cx, "maximum", binary(cx, "sub", k, 1), 0), 2)
    lo, hi = (take_along_axis(cx, s, i, -1) for i in (low, binary(cx, "floordiv", k, 2)))
    # NumPy sums the middle ones from +0.0 (np.ma.median's sum), so two -0.0 give 0.0
    m = binary(cx, "div", binary(cx, "add", binary(cx, "add", 0.0, lo), hi), 2)
    return copy(cx, reshape(cx, m, kept if keepdims else m.shape[:-1]))


def quantile(cx: Emitter, a, q, axis=None, out=None, overwrite_input=False, method="linear",
             keepdims=False, *, weights=None, interpolation=None, percent=False) -> Traced:
    what = "np.percentile" if percent else "np.quantile"
    if contains_traced(q):
        raise StaticNeeded(f"{what}'s q must be compile-time numbers")
    if method != "linear" or interpolation is not None or weights is not None:
        raise FrontendError(f"{what}: only method='linear' without weights is supported")
    no_out(out, what)
    weak_q = type(q) in (int, float)     # NumPy's: a Python number interpolates weakly
    qs = np.true_divide(q, 100) if percent else np.asanyarray(q)
    if qs.ndim > 2:
        raise FrontendError("q must be a scalar or 1d")
    if not np.all((qs >= 0) & (qs <= 1)):     # NaN fails too; an empty q passes
        raise FrontendError("Percentiles must be in the range [0, 100]" if percent else
                            "Quantiles must be in the range [0, 1]")
    t = cx.tensor(a)
    s, kept = _sorted_along_last(cx, t, axis, what)
    s = transpose(cx, s, (s.ndim - 1,) + tuple(range(s.ndim - 1)))   # NumPy's layout: q first
    n = s.shape[0]
    virtual = np.asanyarray((n - 1) * qs)
    if virtual.dtype.kind in "iu":       # q of integers: the entries themselves
        result = getitem(cx, s, (virtual,))
    else:
        prev = np.array(np.floor(virtual))
        nxt = np.array(prev + 1)
        prev[virtual >= n - 1], nxt[virtual >= n - 1] = -1, -1
        prev[virtual < 0], nxt[virtual < 0] = 0, 0
        lo, hi = (getitem(cx, s, (i.astype(np.intp),)) for i in (prev, nxt))
        gamma = np.asanyarray(virtual - prev, dtype=virtual.dtype)
        gamma = float(gamma) if weak_q else gamma.reshape(gamma.shape + (1,) * (s.ndim - 1))
        result = _lerp(cx, lo, hi, gamma)
    result = _nan_if_any(cx, getitem(cx, s, (-1,)), result)
    return copy(cx, reshape(cx, result, qs.shape + kept if keepdims else result.shape))


def _lerp(cx: Emitter, a: Traced, b: Traced, gamma) -> Traced:
    """NumPy's `_lerp`: a + (b - a) gamma, or b - (b - a)(1 - gamma) where gamma >= 0.5 (in
    the first one's dtype)."""
    diff = binary(cx, "sub", b, a)
    low = binary(cx, "add", a, binary(cx, "mul", diff, gamma))
    high = astype(cx, binary(cx, "sub", b, binary(cx, "mul", diff, 1 - gamma)), low.dtype)
    upper = np.asarray(gamma) >= 0.5
    if upper.ndim == 0:
        return high if upper else low
    return astype(cx, where(cx, upper, high, low), low.dtype)
