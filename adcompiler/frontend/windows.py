"""Sliding windows: np.lib.stride_tricks.sliding_window_view, np.correlate / np.convolve of
1-d arrays, and `correlation`, the valid correlation of a zero-padded stretch that they and
scipy_signal.py's convolutions of any rank are.

Contract: window shapes, axes and modes are static; values, dtypes and shapes are NumPy's.
sliding_window_view stacks a window of up to `SLICED` entries along an axis from that many
slices of it, whose gradients the backward sweep adds up in one pass; a wider one is gathered
with a run-time index (iota + iota: no index array in the generated code), whose gradient is
the registry's scatter-add, which sums the overlapping windows' contributions entry by entry
(a 3 x 3 window of a (32, 64, 64) array: the gradient 14.8 -> 6.2 ms on the Numba backend,
20.9 -> 10.5 on NumPy's; 1-d windows of 100000 entries 1.3x faster from 3 to 16 wide). The
result is a read-only view of its input as in NumPy
(writing into it, or reading it after the input was written, is an error). correlate and
convolve are the registry's `correlate` (the valid correlation, whose gradients are
correlations again) of the stretch of the first operand the mode's shifts read, zero-padded:
time and memory of NumPy's own call, where a matrix of windows took O(n m) memory (two 2000-long
signals' gradient: 276 -> 2 ms on the Numba backend).
"""
from __future__ import annotations

import numpy as np

from .emit import Emitter
from .indexing import along, getitem
from .arith import astype
from .composites import pad
from .problems import FrontendError
from .reductions import norm_axes
from .shapes import copy, moveaxis, stack, static_ints
from .values import Traced, ir_dtype


SLICED = 16


def sliding_window_view(cx: Emitter, x, window_shape, axis=None, *, subok=False,
                        writeable=False) -> Traced:
    t = cx.tensor(x)
    if writeable:
        raise FrontendError("sliding_window_view(writeable=True): its windows overlap in "
                            "memory, which adcompiler's arrays cannot; write into the input")
    shape = static_ints(window_shape, "window_shape")
    axes = tuple(range(t.ndim)) if axis is None else static_ints(axis, "axis")
    if len(shape) != len(axes):
        why = ("Since axis is `None`, must provide window_shape for all dimensions of `x`"
               if axis is None else "Must provide matching length window_shape and axis")
        raise FrontendError(f"{why}; got {len(shape)} window_shape elements and {len(axes)} "
                            f"axes elements.")
    if any(w < 0 for w in shape):
        raise FrontendError("`window_shape` cannot contain negative values")
    out = t
    for w, ax in zip(shape, axes, strict=True):
        (ax,) = norm_axes((ax,), t.ndim)
        n = out.shape[ax]
        if n < w:
            raise FrontendError("window shape cannot be larger than input array shape")
        count = n - w + 1
        if 0 < w <= SLICED:
            out = stack(cx, [along(cx, out, ax, slice(j, j + count)) for j in range(w)], -1)
            continue
        start = cx.wrap(cx.op("iota", shape=(count, w), axis=0, dtype="i64"), nonneg=True)
        step = cx.wrap(cx.op("iota", shape=(count, w), axis=1, dtype="i64"), nonneg=True)
        index = cx.wrap(cx.op("add", start.value, step.value), nonneg=True)
        out = moveaxis(cx, along(cx, out, ax, index), ax + 1, -1)
    out = copy(cx, out).view_of(t)
    out.readonly = ("sliding_window_view returns a read-only view (its windows overlap); "
                    "call .copy() on it to get an array you can change")
    return out


def correlate(cx: Emitter, a, v, mode="valid", flip=False) -> Traced:
    """np.correlate (with `flip`, np.convolve: v reversed, the longer operand first): over the
    n + m - 1 shifts that overlap ('full'), the |n - m| + 1 where one lies inside the other
    ('valid'), or the max(n, m) central ones ('same')."""
    ta, tv = cx.tensor(a), cx.tensor(v)
    what = "convolve" if flip else "correlate"
    if ta.ndim != 1 or tv.ndim != 1:
        raise FrontendError(f"np.{what} takes 1-d arrays, got shapes {ta.shape} and "
                            f"{tv.shape}")
    if mode not in ("full", "same", "valid"):
        raise FrontendError(f"np.{what}: mode must be 'full', 'same' or 'valid', got "
                            f"{mode!r}")
    n, m = ta.shape[0], tv.shape[0]
    if not n or not m:
        raise FrontendError(f"np.{what}: {'a' if not n else 'v'} cannot be empty")
    if flip:
        if m > n:
            ta, tv, n, m = tv, ta, m, n
        tv = getitem(cx, tv, slice(None, None, -1))
    span = {"full": (0, n + m - 1), "valid": (min(n, m) - 1, abs(n - m) + 1),
            "same": ((m - 1) // 2 if n >= m else n // 2, max(n, m))}[mode]
    dtype = np.result_type(ta.np_dtype, tv.np_dtype)
    work = "i64" if dtype == np.bool_ else ir_dtype(dtype)  # (NumPy's bool one: any(a & v))
    return astype(cx, correlation(cx, ta, tv, [span], work), ir_dtype(dtype))


def correlation(cx: Emitter, a: Traced, v: Traced, spans, dtype: str) -> Traced:
    """out[k] = sum_j a[j + k - (m - 1)] v[j] (0 off a's ends; k, j multi-indices, m v's
    shape) in `dtype`, for the shifts k of each axis's span (first, count): the registry's
    valid correlation of the stretch of a those shifts read, zero-padded where it runs off."""
    reach = [(low - (m - 1), low + count, n)       # (the stretch of a each axis's shifts read)
             for (low, count), n, m in zip(spans, a.shape, v.shape, strict=True)]
    inside = getitem(cx, astype(cx, a, dtype), tuple(slice(max(start, 0), min(stop, n))
                                                     for start, stop, n in reach))
    stretch = pad(cx, inside, [(max(-start, 0), max(stop - n, 0)) for start, stop, n in reach])
    return cx.wrap(cx.op("correlate", stretch.value, astype(cx, v, dtype).value))
