"""NumPy's functions that change an array in place, as the assignments they are:

    np.copyto(dst, src, casting, where)   dst[...] = src (where `where`), NumPy's casting check
    np.put(a, ind, v, mode) / a.put       a.flat[ind] = v, v repeated to ind's size
    np.fill_diagonal(a, val, wrap)        a.flat[:end:step] = val (every index equal)
    np.putmask(a, mask, values)           a.flat[n] = values[n % len] where mask.flat[n]
    np.place(arr, mask, vals)             the k-th True entry gets vals[k % len]
    np.put_along_axis(arr, ind, values, axis)   arr[..., ind, ...] = values

Contract: the array changed must be a run-time one (the function's own or an argument's: the
caller's array changes too, as after `x[i] = v`); it holds the new value (`Traced.update`), so
a gradient flows through what was written and not through what was overwritten. Values are
cast to its dtype, as NumPy's assignment casts (unsafely, but for copyto's `casting`). Run-time
indices out of bounds raise IndexError when the program runs (indexing.setitem's).
"""
from __future__ import annotations

import numpy as np

from ..ir.types import broadcast_shapes
from . import arith, indexing, shapes
from .emit import Emitter
from .problems import FrontendError
from .reductions import assert_none, cumsum, norm_axes
from .sorting import along_axis_key
from .values import Traced, static_array


def _target(a, name: str) -> Traced:
    if not isinstance(a, Traced):
        raise FrontendError(f"{name} changes its first argument in place: it must be a "
                            "run-time array, not a static one adcompiler computes while "
                            "tracing (make a run-time copy: np.zeros(a.shape, a.dtype) + a)")
    return a


def _cycled(cx: Emitter, v, n: int) -> Traced:
    """v's entries in C order, repeated to n entries (np.put's and np.putmask's values)."""
    flat = shapes.ravel(cx, cx.tensor(v))
    if flat.shape[0] == n:
        return flat
    return indexing.getitem(cx, flat, np.arange(n) % flat.shape[0])


def _flat_put(cx: Emitter, a: Traced, ind, v) -> None:
    """a.flat[ind] = v (v broadcast to ind's shape)."""
    flat = indexing.setitem(cx, shapes.reshape(cx, a, (int(np.prod(a.shape)),)), ind, v)
    a.update(shapes.reshape(cx, cx.wrap(flat), a.shape).value)


def put(cx: Emitter, a, ind, v, mode="raise") -> None:
    a = _target(a, "np.put")
    if mode not in ("raise", "wrap", "clip"):
        raise FrontendError(f"np.put's mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    size = int(np.prod(a.shape))
    index = static_array(ind)
    if index is not None:       # static indices: wrapped, clipped and checked while tracing
        if index.dtype.kind not in "iu":
            raise FrontendError("np.put's indices must be integers")
        index = np.ravel(np.mod(index, size) if mode == "wrap" else
                         np.clip(index, 0, size - 1) if mode == "clip" else index)
        count = index.size
    else:
        index = shapes.ravel(cx, cx.tensor(ind))
        if index.dtype not in ("i64", "i32"):
            raise FrontendError("np.put's indices must be integers")
        if mode == "wrap":
            index = arith.binary(cx, "mod", index, size)
        elif mode == "clip":
            index = arith.binary(cx, "minimum", arith.binary(cx, "maximum", index, 0), size - 1)
        count = index.shape[0]
    values = cx.tensor(v)
    if count and int(np.prod(values.shape)):        # (else NumPy puts nothing)
        _flat_put(cx, a, index, _cycled(cx, values, count))


def fill_diagonal(cx: Emitter, a, val, wrap=False) -> None:
    a = _target(a, "np.fill_diagonal")
    if a.ndim < 2:
        raise FrontendError("np.fill_diagonal: array must be at least 2-d")
    if a.ndim == 2:
        step = a.shape[1] + 1
        end = None if wrap else a.shape[1] * a.shape[1]
    else:
        if len(set(a.shape)) != 1:
            raise FrontendError("np.fill_diagonal: all dimensions of input must be of equal "
                                "length")
        step, end = 1 + int(np.cumprod(a.shape[:-1]).sum()), None
    ind = np.arange(int(np.prod(a.shape)))[:end:step]
    values = cx.tensor(val)
    if ind.size and int(np.prod(values.shape)):
        _flat_put(cx, a, ind, _cycled(cx, values, ind.size))


def putmask(cx: Emitter, a, mask, values) -> None:
    a = _target(a, "np.putmask")
    m = cx.tensor(mask)
    if int(np.prod(m.shape)) != int(np.prod(a.shape)):
        raise FrontendError("np.putmask: mask and data must be the same size")
    if int(np.prod(cx.tensor(values).shape)) == 0:
        return      # (NumPy puts nothing)
    new = shapes.reshape(cx, _cycled(cx, values, int(np.prod(a.shape))), a.shape)
    _assign_where(cx, a, shapes.reshape(cx, m, a.shape), new)


def place(cx: Emitter, arr, mask, vals) -> None:
    arr = _target(arr, "np.place")
    m = shapes.ravel(cx, cx.tensor(mask))
    if m.shape[0] != int(np.prod(arr.shape)):
        raise FrontendError("np.place: mask and data must be the same size")
    m = cx.wrap(cx.nonzero(m.value))        # (NumPy's truth of each entry: 0.5 is True)
    values = shapes.ravel(cx, cx.tensor(vals))
    if values.shape[0] == 0:    # (NumPy's error where the mask holds a True)
        assert_none(cx, m, "np.place: Cannot insert from an empty array!")
        return
    # the k-th True entry takes vals[k % len(vals)]: k is the count of Trues up to it, less 1
    k = arith.binary(cx, "sub", cumsum(cx, cx.wrap(cx.cast(m.value, "i64"))), 1)
    taken = indexing.getitem(cx, values, arith.binary(cx, "mod", k, values.shape[0]))
    _assign_where(cx, arr, shapes.reshape(cx, m, arr.shape),
                  shapes.reshape(cx, taken, arr.shape))


def _assign_where(cx: Emitter, a: Traced, mask: Traced, new: Traced) -> None:
    a.update(arith.where(cx, cx.wrap(cx.nonzero(mask.value)), cx.wrap(cx.cast(new.value, a.dtype)),
                         a).value)


def copyto(cx: Emitter, dst, src, casting="same_kind", where=True) -> None:
    dst = _target(dst, "np.copyto")
    s = cx.tensor(src)
    if not np.can_cast(s.np_dtype, dst.np_dtype, casting):
        raise FrontendError(f"np.copyto: cannot cast {s.np_dtype} to {dst.np_dtype} "
                            f"according to the rule {casting!r}")
    try:
        if broadcast_shapes(s.shape, dst.shape) != dst.shape:
            raise ValueError
    except ValueError:
        raise FrontendError(f"np.copyto: could not broadcast input array from shape {s.shape} "
                            f"into shape {dst.shape}") from None
    new = shapes.broadcast_to(cx, cx.wrap(cx.cast(s.value, dst.dtype)), dst.shape)
    if where is True:
        dst.update(new.value)
    else:
        _assign_where(cx, dst, shapes.broadcast_to(cx, cx.tensor(where), dst.shape), new)


def put_along_axis(cx: Emitter, arr, indices, values, axis) -> None:
    arr = _target(arr, "np.put_along_axis")
    idx = cx.tensor(indices)
    if idx.dtype not in ("i64", "i32"):
        raise FrontendError("np.put_along_axis: `indices` must be an integer array")
    if axis is None:
        if idx.ndim != 1:
            raise FrontendError("np.put_along_axis: when axis=None, `indices` must have a "
                                "single dimension")
        _flat_put(cx, arr, idx, values)
        return
    if idx.ndim != arr.ndim:
        raise FrontendError("np.put_along_axis: `indices` and `arr` must have the same number "
                            "of dimensions")
    (ax,) = norm_axes(axis, arr.ndim)
    try:
        full = broadcast_shapes(idx.shape, tuple(1 if d == ax else n
                                                 for d, n in enumerate(arr.shape)))
    except ValueError:
        raise FrontendError(f"np.put_along_axis: shape mismatch: indices {idx.shape} and arr "
                            f"{arr.shape} do not broadcast together off the axis") from None
    key = along_axis_key(cx, shapes.broadcast_to(cx, idx, full), ax)
    arr.update(indexing.setitem(cx, arr, key, values))
