"""Reductions over groups of entries: np.bincount, ufunc.reduceat (add, multiply, maximum,
minimum) and np.maximum.at / np.minimum.at, as NumPy computes them.

Contract:
- bincount(x, weights, minlength): entry k is the count (int64) or the sum of the weights
  (float64) of the entries of the 1-d integer x equal to k: a scatter-add, whose gradient in
  the weights is a gather. The result's length is max(x) + 1 or minlength: with a static x it
  is NumPy's; with a run-time x it would depend on the values, so minlength must be given and
  is the length, and an x entry that is negative or at least minlength fails a run-time assert
  (AssertionFailed naming the line: NumPy's ValueError, or a longer result than NumPy's).
- ufunc.reduceat(a, indices, axis): for each i, the reduction of a[indices[i]:indices[i + 1]]
  along axis where indices[i] < indices[i + 1], else a[indices[i]]; the last to the end. The
  indices are static (they fix which entries meet). add is a gather and a scatter-add (work
  and memory as a's); multiply, maximum and minimum gather each group into a row padded to the
  longest group and reduce the rows (memory: groups x longest group). Dtypes are NumPy's.
- np.maximum.at(a, idx, b) / np.minimum.at (a segment max: a GAT's softmax, max pooling by
  graph): a changed in place, each a[j] the max (min) of itself and the b at the idx equal to
  j, idx an integer array indexing a's first axis (negative ones wrap; out of bounds is an
  AssertionFailed when it runs). Built from a sort: b's entries sorted (NaN last) and put at
  their places in that order, so the last put at each, the max, is kept (put's own rule, and
  its gradient: the kept entry gets the cotangent); O(n log n) in b's size, not a scatter.
"""
from __future__ import annotations

import numpy as np

from . import arith, indexing, shapes, sorting
from .creation import filled
from .emit import Emitter
from .problems import FrontendError
from .reductions import assert_none, identity, norm_axes, reduce
from .values import Traced, dtype_arg, static_array


def bincount(cx: Emitter, x, weights=None, minlength=0) -> Traced:
    if not isinstance(minlength, (int, np.integer)) or minlength < 0:
        raise FrontendError("np.bincount's minlength must be a static non-negative int")
    index = static_array(x)
    if index is not None:
        if index.ndim != 1 or index.size and index.dtype.kind not in "iu":
            raise FrontendError("np.bincount takes a 1-d array of non-negative ints")
        if index.size and index.min() < 0:
            raise FrontendError("np.bincount: 'list' argument must have no negative elements")
        length = max(int(index.max()) + 1 if index.size else 0, int(minlength))
        count = index.size
    else:
        index = cx.tensor(x)
        if index.ndim != 1 or index.dtype not in ("i64", "i32", "bool"):
            raise FrontendError("np.bincount takes a 1-d array of non-negative ints")
        if not minlength:
            raise FrontendError("np.bincount of run-time values: its length, max(x) + 1, "
                                "would depend on them; give minlength= (more than the largest "
                                "value), which is then the length")
        length, count = int(minlength), index.shape[0]
        if index.dtype == "bool":       # (counted as 0 and 1, not a mask)
            index = cx.wrap(cx.cast(index.value, "i64"), nonneg=True)
        assert_none(cx, arith.binary(cx, "lt", index, 0),
                    "np.bincount: 'list' argument must have no negative elements")
        assert_none(cx, arith.binary(cx, "ge", index, length),
                    f"np.bincount: a value is at least minlength={length}; NumPy's result "
                    "would be longer")
    if weights is None:
        dtype, added = "i64", filled(cx, (count,), 1, "i64")
    else:
        dtype, added = "f64", cx.tensor(weights)
        if added.shape != (count,):
            raise FrontendError("np.bincount: the weights and list don't have the same length")
    added = cx.wrap(cx.cast(added.value, dtype))
    return cx.wrap(indexing.setitem(cx, filled(cx, (length,), 0, dtype), index, added, add=True))


_REDUCED = {np.add: "sum", np.multiply: "prod", np.maximum: "max", np.minimum: "min"}


def reduceat(cx, ufunc, array, indices, axis=0, dtype=None, out=None) -> Traced:
    name = f"np.{ufunc.__name__}.reduceat"
    if ufunc not in _REDUCED:
        raise FrontendError(f"{name} is not supported (add, multiply, maximum and minimum "
                            "reduceat)")
    if out is not None:
        raise FrontendError(f"{name}(out=...) is not supported; assign the result")
    starts = static_array(indices)
    if starts is None:
        raise FrontendError(f"{name} takes static indices (which entries meet is fixed when "
                            "the code is traced)")
    t = cx.tensor(array)
    (ax,) = norm_axes(axis, t.ndim)
    n, starts = t.shape[ax], np.ravel(starts).astype(np.int64)
    # (np.add.reduce's and np.multiply.reduce's dtype: int32 and bool widen to int64)
    out_dtype = dtype_arg(dtype) or ("i64" if t.dtype in ("i32", "bool")
                                     and ufunc in (np.add, np.multiply) else t.dtype)
    if starts.size == 0:
        return cx.wrap(cx.cast(indexing.along(cx, t, ax, starts, copy=True).value, out_dtype))
    bad = starts[(starts < 0) | (starts >= n)]
    if bad.size:
        raise FrontendError(f"index {bad[0]} out-of-bounds in {name[3:]} [0, {n})")
    ends = np.append(np.where(starts[1:] > starts[:-1], starts[1:], starts[:-1] + 1), n)
    lengths = ends - starts
    if ufunc is np.add:
        # each entry of every group, gathered, then added into its group's row
        group = np.repeat(np.arange(starts.size), lengths)
        at = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        taken = shapes.moveaxis(cx, indexing.along(cx, t, ax, at, copy=True), ax, 0)
        zeros = filled(cx, (starts.size,) + taken.shape[1:], 0, out_dtype)
        added = cx.wrap(cx.cast(taken.value, out_dtype))
        total = cx.wrap(indexing.setitem(cx, zeros, group, added, add=True))
        return shapes.moveaxis(cx, total, 0, ax)
    # a row per group, padded to the longest group with its first entry, left out by `where`
    width = int(lengths.max())
    offsets = np.arange(width)
    at = np.where(offsets < lengths[:, None], starts[:, None] + offsets, starts[:, None])
    rows = indexing.along(cx, t, ax, at.ravel(), copy=True)
    rows = shapes.reshape(cx, rows, t.shape[:ax] + at.shape + t.shape[ax + 1:])
    keep = np.reshape(offsets < lengths[:, None], at.shape + (1,) * (t.ndim - ax - 1))
    reduced = _REDUCED[ufunc]
    extra = {} if reduced in ("sum", "prod") else {"initial": identity(reduced, t.dtype)}
    return reduce(cx, reduced, rows, axis=ax + 1, dtype=dtype, where=keep, **extra)


def extreme_at(cx, ufunc, a, indices, b) -> None:
    name = f"np.{ufunc.__name__}.at"
    if not isinstance(a, Traced):
        raise FrontendError(f"{name} changes its first argument in place: it must be a "
                            "run-time array")
    idx = cx.tensor(indices)
    if idx.dtype not in ("i64", "i32") or idx.ndim != 1 or a.ndim == 0:
        raise FrontendError(f"{name} takes one 1-d integer array indexing the first axis "
                            "(a segment max: np.maximum.at(out, segment_ids, values))")
    n, rest = a.shape[0], a.shape[1:]
    width = int(np.prod(rest))
    values = shapes.broadcast_to(cx, cx.wrap(cx.cast(cx.tensor(b).value, a.dtype)),
                                 idx.shape + rest)
    assert_none(cx, arith.binary(cx, "logical_or", arith.binary(cx, "lt", idx, -n),
                                 arith.binary(cx, "ge", idx, n)),
                f"{name}: an index is out of bounds for axis 0 with size {n}")
    row = arith.where(cx, arith.binary(cx, "lt", idx, 0), arith.binary(cx, "add", idx, n), idx)
    # each entry's place in a flattened, `width` places per row
    flat_at = arith.binary(cx, "add", arith.binary(
        cx, "mul", shapes.reshape(cx, row, (idx.shape[0], 1)), width), np.arange(width))
    flat_at, flat_values = (shapes.ravel(cx, t) for t in (flat_at, values))
    larger = flat_values if ufunc is np.maximum else arith.unary(cx, "neg", flat_values)
    order = sorting.argsort(cx, larger)
    start = filled(cx, (n * width,), identity("max" if ufunc is np.maximum else "min", a.dtype),
                   a.dtype)
    kept = indexing.setitem(cx, start, indexing.getitem(cx, flat_at, order),
                            indexing.getitem(cx, flat_values, order))
    a.update(arith.binary(cx, ufunc.__name__, a, shapes.reshape(cx, cx.wrap(kept),
                                                                a.shape)).value)
