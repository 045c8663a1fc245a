"""Shape manipulation: reshape, transpose, swapaxes, moveaxis, expand_dims, squeeze, ravel,
atleast_1d/2d/3d, broadcast_to, concatenate, stack, hstack, vstack, column_stack, dstack,
block, np.r_ / np.c_ of arrays, append, insert, delete, split / array_split / hsplit / vsplit /
dsplit (lists of views), meshgrid, and np.array/np.asarray of nested lists.

Contract: shapes and axes are static Python ints (a run-time value there raises `StaticNeeded`).
`squeeze`, `expand_dims`, `swapaxes`, `stack` are compositions of the registry's `reshape`,
`transpose` and `concatenate`. Results NumPy returns as views are marked `view_of` their input
(see values.Traced); an op that would not change anything is not emitted. The assembling
functions (stacks, block, append, insert, delete) return fresh arrays, as NumPy's do; insert and
delete take static positions (an int, a slice, a sequence of ints or a boolean mask) and gather
the result along the axis with a static index (`take`), so the gradient of inserted values that
were broadcast adds up.
"""
from __future__ import annotations

import numpy as np

from ..ir.types import inverse_perm
from . import layout
from .emit import Emitter
from .problems import FrontendError, StaticNeeded
from .reductions import norm_axes
from .values import (NP_OF, Traced, common_dtype, contains_traced, dtype_arg, ir_dtype,
                     is_static_scalar, refuse_sparse)


def static_ints(x, what: str) -> tuple:
    """A static shape/axes argument (int or sequence of ints) as a tuple of ints."""
    if isinstance(x, Traced):
        raise StaticNeeded(f"{what} must be compile-time ints")
    seq = x if isinstance(x, (tuple, list)) else (x,)
    out = []
    for s in seq:
        if isinstance(s, Traced):
            raise StaticNeeded(f"{what} must be compile-time ints")
        if isinstance(s, (bool, float)) or not isinstance(s, (int, np.integer)):
            raise FrontendError(f"{what} must be ints, got {s!r}")
        out.append(int(s))
    return tuple(out)


def _view(cx: Emitter, t: Traced, v, link=None, probe=None) -> Traced:
    """`v` as a view of `t`; `probe` its layout (layout.py) where known."""
    out = cx.wrap(v, nonneg=t.nonneg).view_of(t, link)
    out.layout = probe
    return out


SAME = (lambda base: base, lambda base, v: v)       # the view that is the whole array


def copy(cx: Emitter, a, order="K") -> Traced:
    """A new array holding `a`'s value (np.copy; and what NumPy returns where it makes a copy,
    not a view of an input), C-contiguous with order 'C' (x.copy()'s), and with 'K' or 'A'
    where `a` is known to be."""
    t = cx.tensor(a)
    out = cx.wrap(t.value, nonneg=t.nonneg)
    if order == "C" or order in ("K", "A") and layout.c_contiguous(t.layout):
        out.layout = layout.c_order(t.shape)
    return out


def reshape(cx: Emitter, x, shape, by_layout=True) -> Traced:
    """np.reshape (`by_layout`: see `_reshaped`)."""
    t = cx.tensor(x)
    shape = list(static_ints(shape, "a shape"))
    if shape.count(-1) > 1:
        raise FrontendError("can only specify one unknown dimension")
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1]))
        if known == 0 or t.type.size % known:
            raise FrontendError(f"cannot reshape array of size {t.type.size} into shape "
                                f"{tuple(shape)}")
        shape[shape.index(-1)] = t.type.size // known
    shape = tuple(shape)
    if shape == t.shape:
        return _view(cx, t, t.value, SAME, t.layout)
    if any(s < 0 for s in shape) or int(np.prod(shape)) != t.type.size:
        raise FrontendError(f"cannot reshape array of size {t.type.size} into shape {shape}")
    return _reshaped(cx, t, shape, by_layout)


def _reshaped(cx: Emitter, t: Traced, shape, by_layout: bool, ravel=False) -> Traced:
    """t reshaped as NumPy does: a view where only size-1 axes come or go (squeeze,
    expand_dims, x[:, None]'s kind), whatever t's strides, which a write into writes t; other
    reshapes are views or copies as t is laid out: where that is known (and `by_layout`), the
    view is linked and the copy a new array; else an unlinked view (see values.Traced)."""
    v = cx.op("reshape", t.value, shape=shape)
    probe = None if t.layout is None else layout.reshaped(t.layout, shape, ravel)
    unit = tuple(n for n in shape if n != 1) == tuple(n for n in t.shape if n != 1) \
        and not ravel       # (ravel copies a (3, 1) column of a matrix)
    if not unit and t.layout is not None and probe is None and by_layout:
        out = cx.wrap(v, nonneg=t.nonneg)       # NumPy copies
        out.layout = layout.c_order(shape)
        return out
    linked = unit or (probe is not None and by_layout)
    link = (lambda base: cx.op("reshape", base, shape=shape),
            lambda base, v: cx.op("reshape", v, shape=t.shape)) if linked else None
    return _view(cx, t, v, link, probe)


def transpose(cx: Emitter, x, axes=None) -> Traced:
    t = cx.tensor(x)
    if axes is None:
        perm = tuple(reversed(range(t.ndim)))
    else:
        perm = norm_axes(static_ints(axes, "axes"), t.ndim)
        if len(perm) != t.ndim:
            raise FrontendError("axes don't match array")
    if perm == tuple(range(t.ndim)):
        return _view(cx, t, t.value, SAME, t.layout)
    return _view(cx, t, cx.op("transpose", t.value, perm=perm),
                 (lambda base: cx.op("transpose", base, perm=perm),
                  lambda base, v: cx.op("transpose", v, perm=inverse_perm(perm))),
                 None if t.layout is None else t.layout.transpose(perm))


def swapaxes(cx: Emitter, x, axis1, axis2) -> Traced:
    t = cx.tensor(x)
    a, b = norm_axes((axis1,), t.ndim) + norm_axes((axis2,), t.ndim)
    perm = list(range(t.ndim))
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(cx, t, tuple(perm))


def moveaxis(cx: Emitter, x, source, destination) -> Traced:
    t = cx.tensor(x)
    src = norm_axes(static_ints(source, "source"), t.ndim)
    dst = norm_axes(static_ints(destination, "destination"), t.ndim)
    if len(src) != len(dst):
        raise FrontendError("source and destination must have the same number of elements")
    order = [n for n in range(t.ndim) if n not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return transpose(cx, t, tuple(order))


def expand_dims(cx: Emitter, x, axis) -> Traced:
    t = cx.tensor(x)
    axes = norm_axes(static_ints(axis, "axis"), t.ndim + len(static_ints(axis, "axis")))
    it = iter(t.shape)
    shape = tuple(1 if i in axes else next(it) for i in range(t.ndim + len(axes)))
    return reshape(cx, t, shape)


def atleast(cx: Emitter, n: int, arrays) -> Traced | tuple:
    """np.atleast_1d/2d/3d: each array with at least `n` axes, the array itself where it has
    them (NumPy returns it), else a view with size-1 axes added as NumPy places them (a 1-d
    array becomes (1, N) and (1, N, 1), a 2-d one (M, N, 1)); a tuple for several arrays."""
    out = []
    for x in arrays:
        t = cx.tensor(x)
        if t.ndim >= n:
            out.append(x if isinstance(x, Traced) else t)
            continue
        shape = {0: (1,) * n, 1: (1, *t.shape, 1)[:n] if n > 1 else t.shape,
                 2: (*t.shape, 1)}[t.ndim]
        out.append(reshape(cx, t, shape))
    return out[0] if len(out) == 1 else tuple(out)


def squeeze(cx: Emitter, x, axis=None) -> Traced:
    t = cx.tensor(x)
    if axis is None:
        axes = tuple(i for i, s in enumerate(t.shape) if s == 1)
    else:
        axes = norm_axes(static_ints(axis, "axis"), t.ndim)
        if any(t.shape[a] != 1 for a in axes):
            raise FrontendError("cannot select an axis to squeeze out which has size not "
                                "equal to one")
    return reshape(cx, t, tuple(s for i, s in enumerate(t.shape) if i not in axes))


def ravel(cx: Emitter, x) -> Traced:
    """x's entries in a vector: a view NumPy makes of a C-contiguous array only (it copies
    another, a 1-d slice with a step too); see `_reshaped`."""
    t = cx.tensor(x)
    if t.ndim != 1:
        return _reshaped(cx, t, (t.type.size,), True, ravel=True)
    if t.layout is None:
        return _view(cx, t, t.value)
    return _view(cx, t, t.value, SAME, t.layout) if t.layout.flags.c_contiguous \
        else copy(cx, t, "C")


def merge_axes(cx: Emitter, t: Traced, axis) -> Traced:
    """`t` with the axes `axis` (an int or a tuple) moved last, in their order, and merged into
    one, as NumPy's functions that take a tuple of axes do (transpose, then reshape)."""
    axes = norm_axes(axis, t.ndim)
    keep = tuple(d for d in range(t.ndim) if d not in axes)
    n = int(np.prod([t.shape[d] for d in axes]))
    return reshape(cx, transpose(cx, t, keep + axes), tuple(t.shape[d] for d in keep) + (n,))


def broadcast_to(cx: Emitter, x, shape) -> Traced:
    t = cx.tensor(x)
    shape = static_ints(shape, "a shape")
    if shape == t.shape:
        return _view(cx, t, t.value)
    return _view(cx, t, cx.op("broadcast_to", t.value, shape=shape))


def _seq(cx, arrays, what):
    if isinstance(arrays, Traced):
        return rows(cx, arrays)
    if not isinstance(arrays, (list, tuple)) or not arrays:
        raise FrontendError(f"{what} needs a non-empty sequence of arrays")
    return list(arrays)


def as_array(cx: Emitter, x) -> Traced:
    """np.asarray(x): a Traced as it is, a (nested) list holding Traced values stacked, static
    data a constant (strong, as NumPy's arrays are; a Python scalar too, run-time or not)."""
    if isinstance(x, (list, tuple)) and contains_traced(x):
        return array(cx, x, copy=False)
    if isinstance(x, Traced):
        return cx.wrap(x.value) if x.weak else x
    refuse_sparse(x)        # (np.asarray would make an object array of it)
    return cx.tensor(np.asarray(x))


def rows(cx: Emitter, t: Traced) -> list:
    """Static iteration over axis 0 (`list(x)`, `a, b = x`)."""
    return list(each_row(cx, t))


def each_row(cx: Emitter, t: Traced):
    """Axis 0 one row at a time, each read when asked for: a loop over an array that its body
    changes (`for i, row in enumerate(y): y[i + 1] *= row`) reads the rows as changed."""
    from .indexing import getitem     # indexing builds on this module
    if t.ndim == 0:
        raise FrontendError("iteration over a 0-d array")
    return (getitem(cx, t, k) for k in range(t.shape[0]))


def concatenate(cx: Emitter, arrays, axis=0, dtype=None) -> Traced:
    ts = [as_array(cx, a) for a in _seq(cx, arrays, "concatenate")]
    if axis is None:
        ts = [ravel(cx, t) for t in ts]
        axis = 0
    if any(t.ndim == 0 for t in ts):
        raise FrontendError("zero-dimensional arrays cannot be concatenated")
    out = dtype_arg(dtype) or ir_dtype(np.result_type(*(NP_OF[t.dtype] for t in ts)))
    (ax,) = norm_axes((axis,), ts[0].ndim)
    if len(ts) == 1:
        return cx.wrap(cx.cast(ts[0].value, out))
    return cx.wrap(cx.op("concatenate", *(cx.cast(t.value, out) for t in ts), axis=ax))


def stack(cx: Emitter, arrays, axis=0, dtype=None) -> Traced:
    ts = [as_array(cx, a) for a in _seq(cx, arrays, "stack")]
    if len({t.shape for t in ts}) != 1:
        raise FrontendError(f"all input arrays must have the same shape, got "
                            f"{[t.shape for t in ts]}")
    (ax,) = norm_axes(static_ints(axis, "axis"), ts[0].ndim + 1)
    return concatenate(cx, [expand_dims(cx, t, ax) for t in ts], axis=ax, dtype=dtype)


def vstack(cx: Emitter, arrays) -> Traced:
    ts = [cx.tensor(a) for a in _seq(cx, arrays, "vstack")]
    ts = [reshape(cx, t, (1, t.type.size)) if t.ndim < 2 else t for t in ts]
    return concatenate(cx, ts, axis=0)


def hstack(cx: Emitter, arrays) -> Traced:
    ts = [cx.tensor(a) for a in _seq(cx, arrays, "hstack")]
    ts = [reshape(cx, t, (1,)) if t.ndim == 0 else t for t in ts]
    return concatenate(cx, ts, axis=0 if ts[0].ndim == 1 else 1)


def column_stack(cx: Emitter, tup) -> Traced:
    """1-d (and 0-d) arrays as columns, then concatenated along axis 1."""
    ts = [cx.tensor(a) for a in _seq(cx, tup, "column_stack")]
    return concatenate(cx, [reshape(cx, t, (t.type.size, 1)) if t.ndim < 2 else t
                            for t in ts], axis=1)


def index_concatenate(cx: Emitter, which, key) -> Traced:
    """np.r_[...] (`which` np.r_) of arrays, scalars and static slices (np.arange's ranges):
    each at least 1-d, concatenated along the first axis; np.c_[...] of 1-d and 2-d arrays:
    np.column_stack's. (A string directive, or a slice with a complex step, is refused.)"""
    items = key if isinstance(key, tuple) else (key,)
    if any(isinstance(k, str) or isinstance(k, slice) and isinstance(k.step, complex)
           for k in items):
        raise FrontendError(f"np.{'r_' if which is np.r_ else 'c_'} with a string directive "
                            "or a linspace-like slice is not supported; use np.concatenate")
    items = [np.arange(k.start or 0, k.stop, k.step or 1) if isinstance(k, slice) else k
             for k in items]
    if which is np.c_:
        return column_stack(cx, items)
    # (NumPy's dtype: Python scalars and weak run-time ones count as their values do)
    dtype = NP_OF[common_dtype(*items)]
    ts = [atleast(cx, 1, [cx.tensor(k)]) for k in items]
    if len({t.ndim for t in ts}) != 1:
        raise FrontendError("np.r_ of arrays of several ranks is not supported; use "
                            "np.concatenate")
    return concatenate(cx, ts, axis=0, dtype=dtype)


def dstack(cx: Emitter, tup) -> Traced:
    ts = [cx.tensor(a) for a in _seq(cx, tup, "dstack")]
    return concatenate(cx, [atleast(cx, 3, [t]) for t in ts], axis=2)


def block(cx: Emitter, arrays) -> Traced:
    """np.block: the innermost lists concatenated along the last axis, the lists holding them
    along the one before, and so on; every block first gets leading size-1 axes up to the
    result's rank (the larger of the nesting depth and the blocks' ranks)."""
    depths, ranks = set(), []

    def walk(x, where):
        if isinstance(x, tuple):
            raise FrontendError(f"{where} is a tuple. Only lists can be used to arrange "
                                "blocks, and np.block does not allow implicit conversion "
                                "from tuple to ndarray.")
        if isinstance(x, list):
            if not x:
                raise FrontendError(f"List at {where} cannot be empty")
            for i, v in enumerate(x):
                walk(v, f"{where}[{i}]")
            return
        depths.add(where.count("["))
        ranks.append(np.ndim(x) if not isinstance(x, Traced) else x.ndim)
    walk(arrays, "arrays")
    if len(depths) > 1:
        raise FrontendError("List depths are mismatched: np.block needs every block at the "
                            f"same depth, got depths {sorted(depths)}")
    (depth,) = depths
    ndim = max(depth, *ranks)

    def build(x, level):
        if level == depth:
            t = as_array(cx, x)
            return reshape(cx, t, (1,) * (ndim - t.ndim) + t.shape)
        return concatenate(cx, [build(v, level + 1) for v in x], axis=level - depth)
    return copy(cx, build(arrays, 0))


def append(cx: Emitter, arr, values, axis=None) -> Traced:
    t = as_array(cx, arr)
    if axis is None:
        return concatenate(cx, [ravel(cx, t), ravel(cx, as_array(cx, values))], axis=0)
    return concatenate(cx, [t, values], axis=axis)


def _along(cx: Emitter, name: str, arr, obj, axis):
    """np.insert's and np.delete's array and axis (the flattened array for axis None); their
    positions `obj` must be static."""
    if contains_traced(obj):
        raise StaticNeeded(f"np.{name}'s positions would give a data-dependent shape; they "
                           "must be compile-time ints, slices or boolean masks")
    t = as_array(cx, arr)
    if axis is None:
        return ravel(cx, t), 0
    return t, norm_axes((axis,), t.ndim)[0]


def _gather(cx: Emitter, name: str, t: Traced, ax: int, np_fn, *args) -> Traced:
    """`t` gathered along `ax` at the static positions `np_fn(*args)` (NumPy's own np.insert
    or np.delete on positions: its checks and errors too)."""
    from .indexing import along     # indexing builds on this module
    try:
        index = np_fn(*args)
    except (IndexError, ValueError, TypeError) as e:
        raise FrontendError(f"np.{name}: {e}") from None
    return along(cx, t, ax, index)


def insert(cx: Emitter, arr, obj, values, axis=None) -> Traced:
    """`values` (cast to arr's dtype and broadcast to the slots) inserted before the positions
    `obj` along `axis` (of the flattened array when None), as NumPy's np.insert: one position
    takes a block of values (a scalar index takes them along axis 0, moved to `axis`), several
    take one each. The result gathers from arr's n entries and the new ones after them."""
    from .indexing import fit_value     # indexing builds on this module
    t, ax = _along(cx, "insert", arr, obj, axis)
    n = t.shape[ax]
    indices = np.arange(*obj.indices(n)) if isinstance(obj, slice) else np.array(obj)
    if indices.dtype == bool and indices.ndim == 1:
        indices = np.flatnonzero(indices)
    v = cx.tensor(as_array(cx, values), t.dtype)
    if indices.size == 1:
        v = reshape(cx, v, (1,) * (t.ndim - v.ndim) + v.shape)
        if indices.ndim == 0:
            v = moveaxis(cx, v, 0, ax)
        count = v.shape[ax]
    else:
        count = indices.size
    slots = cx.wrap(fit_value(cx, v, t.shape[:ax] + (count,) + t.shape[ax + 1:], t.dtype))
    both = concatenate(cx, [t, slots], axis=ax)
    return _gather(cx, "insert", both, ax, np.insert, np.arange(n), obj, np.arange(n, n + count))


def delete(cx: Emitter, arr, obj, axis=None) -> Traced:
    """arr without the entries at the static positions `obj` along `axis` (of the flattened
    array when None): a gather of the others."""
    t, ax = _along(cx, "delete", arr, obj, axis)
    return _gather(cx, "delete", t, ax, np.delete, np.arange(t.shape[ax]), obj)


def array_split(cx: Emitter, ary, indices_or_sections, axis=0, equal=False) -> list:
    """np.array_split (np.split with `equal`): views of `ary` (basic slices) along `axis`, at
    the given indices (clipped to the axis, as NumPy's slices are) or in that many sections,
    the first `n % sections` of them one longer."""
    from .indexing import along     # indexing builds on this module
    t = cx.tensor(ary)
    (ax,) = norm_axes(static_ints(axis, "axis"), t.ndim)
    n = t.shape[ax]
    if isinstance(indices_or_sections, (tuple, list)) or \
            isinstance(indices_or_sections, np.ndarray) and indices_or_sections.ndim == 1:
        cuts = list(static_ints(tuple(indices_or_sections), "split indices"))
    else:
        parts = static_ints(indices_or_sections, "the number of sections")[0]
        if parts <= 0:
            raise FrontendError("number sections must be larger than 0.")
        if equal and n % parts:
            raise FrontendError("array split does not result in an equal division")
        size, extra = divmod(n, parts)
        cuts = [k * size + min(k, extra) for k in range(1, parts)]
    bounds = [0] + cuts + [n]
    return [along(cx, t, ax, slice(a, b)) for a, b in zip(bounds, bounds[1:])]


def split_along(cx: Emitter, name: str, ary, indices_or_sections) -> list:
    """np.hsplit / vsplit / dsplit: np.split along axis 1 (0 for a 1-d array), 0 and 2."""
    t = cx.tensor(ary)
    least, axis = {"hsplit": (1, 1 if t.ndim > 1 else 0), "vsplit": (2, 0),
                   "dsplit": (3, 2)}[name]
    if t.ndim < least:
        raise FrontendError(f"{name} only works on arrays of {least} or more dimensions")
    return array_split(cx, t, indices_or_sections, axis, equal=True)


def meshgrid(cx: Emitter, xi, copy_=True, sparse=False, indexing="xy") -> tuple:
    """np.meshgrid: each input flattened and laid along its own axis (the first two swapped
    for indexing='xy'), broadcast to the full grid unless `sparse`; copies unless `copy_` is
    False (then NumPy's read-only broadcast views, which are views in the IR too)."""
    if indexing not in ("xy", "ij"):
        raise FrontendError("Valid values for `indexing` are 'xy' and 'ij'.")
    ts = [ravel(cx, cx.tensor(x)) for x in xi]
    axes = list(range(len(ts)))
    if indexing == "xy" and len(ts) > 1:
        axes[0], axes[1] = 1, 0
    full = [0] * len(ts)
    for t, a in zip(ts, axes):
        full[a] = t.shape[0]
    out = []
    for t, a in zip(ts, axes):
        g = reshape(cx, t, tuple(-1 if d == a else 1 for d in range(len(ts))))
        if not sparse:
            g = broadcast_to(cx, g, tuple(full))
        out.append(copy(cx, g) if copy_ else g)
    return tuple(out)


def _coerced_dtype(x):
    """The dtype np.array gives a leaf (Python floats are float64 here, not weak)."""
    if isinstance(x, Traced):
        return NP_OF[x.dtype]
    return np.asarray(x).dtype


def array(cx: Emitter, obj, dtype=None, copy=True) -> Traced:
    """np.array / np.asarray of a Traced or a nested list/tuple holding Traced values."""
    want = dtype_arg(dtype)
    if isinstance(obj, Traced):
        if want is None or want == obj.dtype:
            return obj if not copy else cx.wrap(obj.value, nonneg=obj.nonneg)
        return cx.wrap(cx.cast(obj.value, want))
    if not isinstance(obj, (list, tuple)) or not obj:
        raise FrontendError(f"cannot make an array of {type(obj).__name__}")
    leaves = []

    def walk(o):
        if isinstance(o, (list, tuple)):
            for v in o:
                walk(v)
        elif isinstance(o, Traced) or is_static_scalar(o) or isinstance(o, np.ndarray):
            leaves.append(o)
        else:
            raise FrontendError(f"cannot make an array of {type(o).__name__}")
    walk(obj)
    out = want or ir_dtype(np.result_type(*(_coerced_dtype(v) for v in leaves)))

    def build(o):
        if isinstance(o, (list, tuple)):
            return stack(cx, [build(v) for v in o])
        return cx.tensor(o if isinstance(o, Traced) else np.asarray(o), out)
    return cx.wrap(cx.cast(build(obj).value, out))
