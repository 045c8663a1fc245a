"""NumPy indexing as IR: reads (`getitem`) and functional updates (`setitem`).

Contract:
- Basic indices (static ints, static slices, None, ...) read with one `slice` (+ `reshape` for
  dropped/new axes); the result is marked a view of the array, as in NumPy. A slice whose
  bounds are run-time ints a static distance apart (`x[t - p:t]`) is an index array of its
  entries (a view all the same), which must lie inside the axis (checked at run time).
- Integer arrays (run-time or static), run-time scalar indices and static boolean masks are
  advanced indices, with NumPy's placement rules: one advanced index is a `take` along its axis;
  several broadcast together and are linearised into one index of the array with those axes
  merged (transpose + reshape + `take`), their dimensions going in place when the advanced
  indices are adjacent and first otherwise. Negative indices wrap; run-time ones out of bounds
  raise IndexError when the program runs (NumPy's error), static ones FrontendError.
- A run-time boolean mask has a data-dependent shape when read: FrontendError suggesting
  np.where, but inside a reduction of the read's entries (masked.py: `np.sum(x[m])`), where
  the read stands for x. In an assignment `x[m] = v` it is a `where`, and so in `x[m] += v`
  (of x + v).
- np.unravel_index and np.ix_ of run-time indices are index arithmetic and reshapes.
- `x.flat` is a `Flat`: `x.flat[key]` reads x's entries in C order (a copy, as NumPy's), and
  `x.flat[key] = v` (`+=`) writes them (`Flat.set` gives x's new value).
- `setitem(cx, x, key, v)` returns the new array value: `update_slice` for basic keys, `put` for
  advanced ones (last write wins for repeated indices, as NumPy), `where` for masks. `v` is cast
  to x's dtype (NumPy casts unsafely on assignment) and broadcast to the indexed shape. With
  `add`, v is added there instead (np.add.at): `scatter_add` for advanced keys, where repeated
  indices add up; a run-time mask is refused (`x[m] += v` is that, as no index repeats).
"""
from __future__ import annotations

import numpy as np

from ..ir.core import Op
from ..ir.types import broadcast_shapes, inverse_perm
from . import layout
from .emit import Emitter
from .problems import FrontendError, StaticNeeded
from .pybuiltins import RuntimeRange
from .arith import binary
from .shapes import array as np_array
from .shapes import as_array, reshape, static_ints
from .values import Traced, static_array, v_shape

_MASK_READ = ("indexing with a run-time boolean mask has a data-dependent shape; use "
              "np.where(mask, x, 0) (or multiply by the mask) instead (a reduction written "
              "around the read, np.sum(x[mask]) or x[mask].mean(axis=0), is supported)")


def _item(cx, k):
    """One index item: None, Ellipsis, int, slice, Traced (int or bool) or a static ndarray."""
    if k is None or k is Ellipsis or isinstance(k, slice):
        if isinstance(k, slice):
            for part in (k.start, k.stop, k.step):
                if isinstance(part, Traced):
                    raise StaticNeeded("a slice's run-time bounds must be a static distance "
                                       "apart (x[i:i + 3], a static step), its axis next to "
                                       "those of the other such slices and integers of the "
                                       "subscript, with no index array in it; else its bounds "
                                       "must be compile-time ints (np.take with an index array "
                                       "takes run-time positions)")
                if part is not None and not isinstance(part, (int, np.integer)):
                    raise FrontendError("slice indices must be integers or None")
        return k
    if isinstance(k, bool):
        raise FrontendError("a Python bool as an index is not supported")
    if isinstance(k, (int, np.integer)):
        return int(k)
    if isinstance(k, Traced):
        if k.dtype not in ("i64", "i32", "bool"):
            raise FrontendError(f"arrays used as indices must be of integer or boolean type, "
                                f"got {k.dtype}")
        return k
    if isinstance(k, (list, tuple)) and any(isinstance(v, Traced) for v in k):
        return _item(cx, np_array(cx, k))
    if isinstance(k, RuntimeRange):
        raise StaticNeeded("a range with a run-time bound as an index: the result's shape would "
                           "depend on it")
    arr = np.arange(k.start, k.stop, k.step) if isinstance(k, range) else static_array(k)
    if arr is None or arr.dtype.kind not in "biu":
        raise FrontendError(f"only integers, slices, None, ..., and integer or boolean arrays "
                            f"are valid indices, got {k!r:.60}")
    return arr


def _check_static_masks(x: Traced, items) -> None:
    """A static boolean mask must have the shape of the axes it indexes, as in NumPy (expanded
    to its True positions, a short one would read as if padded with False)."""
    def width(k):
        return 0 if k is None or k is Ellipsis else k.ndim if (
            isinstance(k, (np.ndarray, Traced)) and k.dtype in (bool, "bool")) else 1
    dots = next((i for i, k in enumerate(items) if k is Ellipsis), len(items))
    for i, k in enumerate(items):
        if not (isinstance(k, np.ndarray) and k.dtype == bool and k.ndim):
            continue
        start = sum(map(width, items[:i])) if i < dots else \
            x.ndim - sum(map(width, items[i:]))
        for j, n in enumerate(k.shape):
            axis = start + j
            if 0 <= axis < x.ndim and x.shape[axis] != n:
                raise FrontendError(f"boolean index did not match indexed array along axis {axis};"
                                    f" size of axis is {x.shape[axis]} but size of corresponding "
                                    f"boolean axis is {n}")


def _normalise(cx, x: Traced, key):
    """Index items with static masks expanded and `...` filled in; returns (items, mask) where
    `mask` is a run-time boolean mask item (only allowed alone, with trailing full slices)."""
    raw = [_item(cx, k) for k in (list(key) if isinstance(key, tuple) else [key])]
    _check_static_masks(x, raw)
    items = []
    for k in raw:
        if isinstance(k, np.ndarray) and k.dtype == bool:
            items.extend(np.nonzero(k) if k.ndim else [np.array(0)[k]])
        else:
            items.append(k)
    masks = [k for k in items if isinstance(k, Traced) and k.dtype == "bool"]
    consumed = sum(k.ndim if isinstance(k, Traced) and k.dtype == "bool" else 1
                   for k in items if k is not None and k is not Ellipsis)
    if sum(k is Ellipsis for k in items) > 1:
        raise FrontendError("an index can only have a single ellipsis ('...')")
    if consumed > x.ndim:
        raise FrontendError(f"too many indices for array: array is {x.ndim}-dimensional, but "
                            f"{consumed} were indexed")
    fill = [slice(None)] * (x.ndim - consumed)
    if any(k is Ellipsis for k in items):
        i = next(i for i, k in enumerate(items) if k is Ellipsis)
        items[i:i + 1] = fill
    else:
        items += fill
    return items, masks


def _with_new_axes(cx, x: Traced, items):
    """Turn `None` items into size-1 axes of the source (so they read as full slices)."""
    if not any(k is None for k in items):
        return x.value, items
    shape, it = [], iter(x.shape)
    for k in items:
        shape.append(1 if k is None else next(it))
    return cx.op("reshape", x.value, shape=tuple(shape)), [slice(None) if k is None else k
                                                          for k in items]


def _bounds(i: int, n: int, axis: int) -> int:
    if not -n <= i < n:
        raise FrontendError(f"index {i} is out of bounds for axis {axis} with size {n}")
    return i % n


def _slice(cx, v, items, advanced):
    """Apply static ints (unless `advanced`) and slices; returns (value, kept items)."""
    shape = v.type.shape
    starts, stops, steps = [], [], []
    for axis, (k, n) in enumerate(zip(items, shape, strict=True)):
        if isinstance(k, slice):
            a, b, c = k.indices(n)
            if c == 0:
                raise FrontendError("slice step cannot be zero")
        elif isinstance(k, int) and not advanced:
            a = _bounds(k, n, axis)
            b, c = a + 1, 1
        else:
            a, b, c = 0, n, 1
        starts.append(a)
        stops.append(b)
        steps.append(c)
    full = all((a, b, c) == (0, n, 1) for a, b, c, n in zip(starts, stops, steps, shape,
                                                              strict=True))
    attrs = dict(starts=tuple(starts), stops=tuple(stops), steps=tuple(steps))
    return (v if full else cx.op("slice", v, **attrs)), (None if full else attrs)


def _is_adv(k):
    return isinstance(k, (Traced, np.ndarray))


def _index_values(cx, items, shape, positions):
    """Index values for the advanced items: i64 ir.Values (wrapped to >= 0 where several are
    linearised), static arrays made constants."""
    vals = []
    for p in positions:
        k = items[p]
        if isinstance(k, int):
            k = np.array(k)
        if isinstance(k, np.ndarray):
            k = np.asarray(k, dtype=np.int64)
            if k.size and (k.min() < -shape[p] or k.max() >= shape[p]):
                bad = k[(k < -shape[p]) | (k >= shape[p])].flat[0]
                raise FrontendError(f"index {bad} is out of bounds for axis {p} with size "
                                    f"{shape[p]}")
            vals.append(cx.const(np.where(k < 0, k + shape[p], k), "i64"))
        else:
            v = cx.cast(k.value, "i64")
            if len(positions) > 1 and not _iota_below(k.value, shape[p]):
                v = _in_bounds(cx, v, shape[p], int(np.prod([shape[q] for q in positions])),
                               k.nonneg)
            vals.append(v)
    return vals


def _iota_below(v, n) -> bool:
    """Is `v` an np.arange-like iota whose values are all below n (so in bounds)?"""
    op = v.owner
    return isinstance(op, Op) and op.name == "iota" and op.attrs["shape"][op.attrs["axis"]] <= n


def _in_bounds(cx, v, n, past, nonneg):
    """A run-time index of an axis of size n that is linearised with others: negative ones
    wrapped, and one out of bounds made `past` (the merged axis's size), so the linear index
    is out of bounds too and the take or put raises IndexError as NumPy does (in bounds of the
    merged axis it would read another row)."""
    zero = cx.const(0, "i64")
    size = cx.const(n, "i64")
    if not nonneg:
        v = cx.op("where", cx.op("lt", v, zero), cx.op("add", v, size), v)
    inside = cx.op("logical_and", cx.op("ge", v, zero), cx.op("lt", v, size))
    return cx.op("where", inside, v, cx.const(past, "i64"))


def _merge_plan(shape, positions):
    """Where the advanced dims go and the transpose that brings them together there."""
    adjacent = list(positions) == list(range(positions[0], positions[0] + len(positions)))
    pos = positions[0] if adjacent else 0
    rest = [d for d in range(len(shape)) if d not in positions]
    perm = rest[:pos] + list(positions) + rest[pos:]
    return pos, tuple(perm)


def _linear(cx, vals, sizes):
    """sum_j idx_j * stride_j (broadcast), as one i64 index, named `flat_index` (an IndexError
    quotes its generated line: the index and axis NumPy names there are the merged axes')."""
    total, stride = None, 1
    for k, (v, n) in enumerate(reversed(list(zip(vals, sizes, strict=True)))):
        term = v if stride == 1 else cx.op("mul", v, cx.const(stride, "i64"))
        total = term if total is None else cx.op(
            "add", term, total, hint="flat_index" if k == len(vals) - 1 else None)
        stride *= n
    return total


def along(cx: Emitter, x: Traced, axis: int, key, copy=False) -> Traced:
    """x[:, ..., key] with `key` (a slice or an index array) on axis `axis`; with `copy`, a
    new array also where NumPy's indexing makes a view (np.take's)."""
    key = (slice(None),) * axis + (key,)
    return _getitem(cx, x, key)[0] if copy else getitem(cx, x, key)


def _affine(v) -> tuple:
    """(base, offset): an integer value as base + offset, offset a static int, through
    additions and subtractions of constants (`t - p`, `i + 1`); base None for a static int."""
    if not isinstance(v, Traced):
        return None, int(v)
    val, off = v.value, 0
    while isinstance(op := val.owner, Op) and op.name in ("add", "sub") \
            and val.type.dtype in ("i64", "i32"):
        consts = [o.owner.attrs["value"] if isinstance(o.owner, Op) and o.owner.name ==
                  "constant" and not o.type.rank else None for o in op.operands]
        if consts[1] is not None:
            val, off = op.operands[0], off + (consts[1] if op.name == "add" else -consts[1])
        elif consts[0] is not None and op.name == "add":
            val, off = op.operands[1], off + consts[0]
        else:
            break
    return val, off


def axes(ks) -> int:
    """How many axes the items `ks` of a subscript index (not None nor Ellipsis)."""
    return sum(k is not None and k is not Ellipsis for k in ks)


def _run_time_slice(cx: Emitter, x: Traced, key):
    """`key` with its slices whose bounds are run-time ints a static distance apart (`x[t -
    p:t]`, `x[i:i + k:2]`, a patch `img[y:y + 3, x:x + 3]`) as index arrays of the entries
    they pick, shaped as np.ix_ shapes them (a block, not a diagonal), and, where it had one,
    the key a layout probe takes for it (those slices from 0: strides do not depend on the
    start), else None. A check at run time requires the entries inside the axis (a negative
    start NumPy counts from the end, a stop past the end shortens it: the shape would depend
    on the values). Other slices with run-time bounds are left to `_item` to refuse, and so
    are these among index arrays or apart from each other and the integers that index with
    them (advanced indexing would move their axes)."""
    items = list(key) if isinstance(key, tuple) else [key]
    at = [j for j, k in enumerate(items) if isinstance(k, slice) and
          any(isinstance(b, Traced) for b in (k.start, k.stop, k.step))]
    if not at:
        return key, None
    ints = [j for j, k in enumerate(items) if isinstance(k, (int, np.integer)) or (
        isinstance(k, Traced) and k.ndim == 0 and k.dtype != "bool")]
    arrays = [k for k in items if isinstance(k, (np.ndarray, list)) or (
        isinstance(k, Traced) and k.ndim)]
    run = sorted(ints + at)
    if arrays or run[-1] - run[0] != len(run) - 1 or axes(items) > x.ndim:
        return key, None        # (too many indices: NumPy's IndexError, from `_item`)
    spans = []
    for j in at:
        s = items[j]
        step = 1 if s.step is None else s.step
        if s.start is None or s.stop is None or isinstance(step, Traced) or step <= 0:
            return key, None
        (a, lo), (b, hi) = _affine(s.start), _affine(s.stop)
        if a is None or a is not b or hi <= lo:
            return key, None
        spans.append((hi - lo, step))
    probe = list(items)
    for i, (j, (span, step)) in enumerate(zip(at, spans, strict=True)):
        before, start = items[:j], cx.cast(items[j].start.value, "i64")
        axis = x.ndim - axes(items[j:]) if any(k is Ellipsis for k in before) else axes(before)
        n, count = x.shape[axis], -(-span // step)
        last = cx.op("add", start, cx.const((count - 1) * step, "i64"))
        inside = cx.op("logical_and", cx.op("ge", start, cx.const(0, "i64")),
                       cx.op("lt", last, cx.const(n, "i64")))
        cx.op("assert", inside, message=f"a slice of run-time bounds must lie inside its axis "
              f"(of size {n}) here: NumPy's would count a negative start from the end, or end "
              f"at the axis's end, and be shorter")
        shape = tuple(count if k == i else 1 for k in range(len(at)))
        index = cx.op("iota", shape=shape, axis=i, dtype="i64")
        if step != 1:
            index = cx.op("mul", index, cx.const(step, "i64"))
        probe[j] = slice(0, span, step)
        items[j] = cx.wrap(cx.op("add", index, start), nonneg=True)
    return tuple(items), tuple(probe)


def getitem(cx: Emitter, x: Traced, key) -> Traced:
    key, probe = _run_time_slice(cx, x, key)
    out, view = _getitem(cx, x, key)
    view = view or probe is not None
    # an entry picked by integers on every axis is a NumPy scalar, a copy: not a view of x
    # (`a = p[0]; p[0] = 5.0` leaves a as it was); `p[0, ...]` is a 0-d view
    scalar = out.ndim == 0 and x.ndim and not any(
        k is Ellipsis for k in (key if isinstance(key, tuple) else (key,)))
    if not view or scalar:
        return out
    # (a basic index's view: x's entries there, which a write into it writes)
    out.layout = None if x.layout is None else layout.indexed(x.layout, probe or key)
    return out.view_of(x, (lambda base: _getitem(cx, cx.wrap(base), key)[0].value,
                           lambda base, v: setitem(cx, cx.wrap(base), key, cx.wrap(v))))


def _getitem(cx: Emitter, x: Traced, key) -> tuple:
    """(x[key], whether NumPy makes it a view of x)."""
    items, masks = _normalise(cx, x, key)
    reads = getattr(cx, "masked", None)
    if masks and reads is not None and isinstance(key, Traced) and key.ndim \
            and key.shape == x.shape[:key.ndim]:
        return reads.read(cx, x, key), False        # (in a whole reduction: masked.py)
    if masks:
        raise FrontendError(_MASK_READ)
    v, items = _with_new_axes(cx, x, items)
    adv = [p for p, k in enumerate(items) if _is_adv(k)]
    if not adv:
        out, _ = _slice(cx, v, items, advanced=False)
        shape = tuple(n for k, n in zip(items, out.type.shape, strict=True)
                      if not isinstance(k, int))
        if shape != out.type.shape:
            out = cx.op("reshape", out, shape=shape)
        return cx.wrap(out, nonneg=x.nonneg), True
    adv = [p for p, k in enumerate(items) if _is_adv(k) or isinstance(k, int)]
    y, _ = _slice(cx, v, items, advanced=True)
    shape = y.type.shape
    vals = _index_values(cx, items, shape, adv)
    try:        # index arrays must broadcast together, as NumPy requires
        broadcast_shapes(*(iv.type.shape for iv in vals))
    except ValueError:
        raise FrontendError("shape mismatch: indexing arrays could not be broadcast together "
                            f"with shapes {[iv.type.shape for iv in vals]}") from None
    # run-time integers alone index as NumPy's integers do: the result is a view of `x`
    view = all(isinstance(k, int) or (isinstance(k, Traced) and k.ndim == 0)
               for k in (items[p] for p in adv))
    if len(adv) == 1:
        out = cx.wrap(cx.op("take", y, vals[0], axis=adv[0]), nonneg=x.nonneg)
        return out, view
    pos, perm = _merge_plan(shape, adv)
    if perm != tuple(range(len(shape))):
        y = cx.op("transpose", y, perm=perm)
    sizes = [shape[p] for p in adv]
    merged = shape_of(y)[:pos] + (int(np.prod(sizes)),) + shape_of(y)[pos + len(adv):]
    y = cx.op("reshape", y, shape=merged)
    lin = _linear(cx, vals, sizes)
    out = cx.wrap(cx.op("take", y, lin, axis=pos), nonneg=x.nonneg)
    return out, view


def shape_of(v):
    return v.type.shape


def _bcast(cx, v, shape):
    return v if v.type.shape == shape else cx.op("broadcast_to", v, shape=shape)


def fit_value(cx: Emitter, v, shape, dtype):
    """`v` cast to `dtype` and broadcast to `shape` for an assignment (leading 1s dropped)."""
    val = cx.value(v, dtype, exact=True)
    vs = val.type.shape
    while len(vs) > len(shape) and vs[0] == 1:
        vs = vs[1:]
    if vs != val.type.shape:
        val = cx.op("reshape", val, shape=vs)
    try:
        ok = len(vs) <= len(shape) and broadcast_shapes(vs, shape) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise FrontendError(f"could not broadcast input array from shape {v_shape(v)} into "
                            f"shape {tuple(shape)}")
    return _bcast(cx, val, tuple(shape))


def setitem(cx: Emitter, x: Traced, key, v, add=False):
    """The value of x after `x[key] = v`, or with `add` after `np.add.at(x, key, v)` (x itself
    is not changed)."""
    key, _ = _run_time_slice(cx, x, key)
    items, masks = _normalise(cx, x, key)
    if masks and add:
        raise FrontendError("np.add.at with a run-time boolean mask is not supported: no entry "
                            "repeats, so write x[mask] += v")
    if masks:
        return _set_masked(cx, x, items, masks, v)
    if any(k is None for k in items):
        # set into x with the new axes as size-1 axes, where getitem reads them: v broadcasts
        # to x[key]'s shape, and index arrays split by a new axis are apart, as in NumPy
        xr, items = _with_new_axes(cx, x, items)
        return cx.op("reshape", _set(cx, cx.wrap(xr), items, v, add), shape=x.shape)
    return _set(cx, x, items, v, add)


def _set(cx: Emitter, x: Traced, items, v, add):
    """setitem for items without masks or new axes."""
    xv = x.value
    adv = [p for p, k in enumerate(items) if _is_adv(k)]
    if not adv:
        y, attrs = _slice(cx, xv, items, advanced=False)
        view = tuple(n for k, n in zip(items, y.type.shape, strict=True)
                     if not isinstance(k, int))
        val = fit_value(cx, v, view, x.dtype)
        if view != y.type.shape:
            val = cx.op("reshape", val, shape=y.type.shape)
        if add:
            val = cx.op("add", y, val)
        if attrs is None:
            return val
        return cx.op("update_slice", xv, val, **attrs)
    adv = [p for p, k in enumerate(items) if _is_adv(k) or isinstance(k, int)]
    scatter = "scatter_add" if add else "put"
    y, attrs = _slice(cx, xv, items, advanced=True)
    shape = y.type.shape
    vals = _index_values(cx, items, shape, adv)
    bshape = broadcast_shapes(*(iv.type.shape for iv in vals))
    if len(adv) == 1:
        target = shape[:adv[0]] + vals[0].type.shape + shape[adv[0] + 1:]
        y2 = cx.op(scatter, y, vals[0], fit_value(cx, v, target, x.dtype), axis=adv[0])
    else:
        pos, perm = _merge_plan(shape, adv)
        yt = cx.op("transpose", y, perm=perm) if perm != tuple(range(len(shape))) else y
        sizes = [shape[p] for p in adv]
        tshape = yt.type.shape
        merged = tshape[:pos] + (int(np.prod(sizes)),) + tshape[pos + len(adv):]
        lin = _linear(cx, vals, sizes)
        target = merged[:pos] + bshape + merged[pos + 1:]
        y2 = cx.op(scatter, cx.op("reshape", yt, shape=merged), lin,
                   fit_value(cx, v, target, x.dtype), axis=pos)
        y2 = cx.op("reshape", y2, shape=tshape)
        if perm != tuple(range(len(shape))):
            y2 = cx.op("transpose", y2, perm=inverse_perm(perm))
    if attrs is None:
        return y2
    return cx.op("update_slice", xv, y2, **attrs)


def _set_masked(cx, x: Traced, items, masks, v):
    """x[m] = v with a run-time boolean mask m over x's leading axes: where(m, v, x)."""
    mv = _mask(cx, x, items, masks, v_shape(v))
    return cx.op("where", mv, cx.value(v, x.dtype), x.value)


def is_runtime_mask(key) -> bool:
    return any(isinstance(k, Traced) and k.dtype == "bool"
               for k in (key if isinstance(key, tuple) else (key,)))


def update_masked(cx, x: Traced, key, v, apply):
    """x after `x[m] op= v` with a run-time mask m, `apply(y)` being y op v: NumPy reads x[m] (a
    run-time number of entries), applies op and sets them; here where(m, apply(where(m, x, 1)),
    x), the same values for a v that `x[m] = v` takes. (The inner where: op on the entries
    outside the mask, `x ** 0.5` of a negative one, would make a NaN that where's derivative
    multiplies by 0: a NaN gradient.)"""
    items, masks = _normalise(cx, x, key)
    m = _mask(cx, x, items, masks, v_shape(v))
    one = cx.op("broadcast_to", cx.value(1, x.dtype), shape=x.shape)
    new = apply(cx.wrap(cx.op("where", m, x.value, one)))
    return cx.op("where", m, new.value, x.value)


def _mask(cx, x: Traced, items, masks, value_shape):
    """The mask of `x[m] = v`, shaped to broadcast against x, for a v of `value_shape`."""
    (m,) = masks if len(masks) == 1 else (None,)
    lead = [k for k in items if not (isinstance(k, slice) and k == slice(None))]
    if m is None or lead != [m] or items[0] is not m:
        raise FrontendError("a run-time boolean mask can only be assigned through alone "
                            "(x[mask] = v); combine masks with & first")
    if m.shape != x.shape[:m.ndim]:
        raise FrontendError(f"boolean index of shape {m.shape} does not match the array's "
                            f"shape {x.shape}")
    rest = x.shape[m.ndim:]
    value_shape = tuple(value_shape)
    while len(value_shape) > len(rest) and value_shape[0] == 1:    # (NumPy broadcasts those)
        value_shape = value_shape[1:]
    if len(value_shape) > len(rest) or (value_shape and broadcast_shapes(
            tuple(value_shape), rest) != tuple(rest)):
        raise FrontendError("x[mask] = v needs v to be a scalar or to broadcast to one masked "
                            "element (assigning a run-time number of values has a "
                            "data-dependent shape)")
    mv = m.value
    if rest:
        mv = cx.op("reshape", mv, shape=m.shape + (1,) * len(rest))
    return mv


class Flat:
    """`x.flat`, NumPy's flat iterator, as far as indexing goes: x's entries in C order."""

    def __init__(self, base: Traced):
        self.base = base

    def __repr__(self):
        return "x.flat (index it, x.flat[k], or take x.ravel())"

    def _entries(self, cx: Emitter) -> Traced:
        # (a plain reshape, not a view of x: NumPy's x.flat[k] is a copy)
        return cx.wrap(cx.op("reshape", self.base.value, shape=(self.base.type.size,)))

    def get(self, cx: Emitter, key) -> Traced:
        return getitem(cx, self._entries(cx), key)

    def set(self, cx: Emitter, key, v):
        """x's value after `x.flat[key] = v`."""
        entries = setitem(cx, self._entries(cx), key, v)
        return cx.op("reshape", entries, shape=self.base.shape)


# -- index arithmetic ------------------------------------------------------------------------

def unravel_index(cx: Emitter, indices, shape, order="C") -> tuple:
    """np.unravel_index of run-time flat indices: one index array per axis of `shape` (static),
    by division; an index outside the array is NumPy's ValueError, checked at run time."""
    dims = static_ints(shape, "the shape")
    if order not in ("C", "F"):
        raise FrontendError("only 'C' or 'F' order is permitted")
    i = as_array(cx, indices)
    if i.dtype not in ("i64", "i32"):
        raise FrontendError("only int indices permitted")
    i = cx.wrap(cx.cast(i.value, "i64"))       # (NumPy's are intp whatever the input's)
    size = int(np.prod(dims))
    bad = cx.op("logical_or", cx.op("lt", i.value, cx.const(0, i.dtype)),
                cx.op("ge", i.value, cx.const(size, i.dtype)))
    if i.ndim:
        bad = cx.op("max", bad, axes=tuple(range(i.ndim)), keepdims=False)
    cx.op("assert", cx.op("logical_not", bad),
          message=f"index out of bounds for array with size {size} (np.unravel_index)")
    out, stride = [], 1
    for n in (dims if order == "F" else reversed(dims)):
        q = i if stride == 1 else binary(cx, "floordiv", i, stride)
        out.append(binary(cx, "mod", q, n))
        stride *= n
    return tuple(out if order == "F" else reversed(out))


def ix_(cx: Emitter, *args) -> tuple:
    """np.ix_: each 1-d index sequence reshaped to run along its own axis (an open mesh); a
    boolean one stands for its True positions, which need a static mask."""
    out = []
    for k, a in enumerate(args):
        t = as_array(cx, a)
        if t.ndim != 1:
            raise FrontendError("Cross index must be 1 dimensional")
        if t.dtype == "bool":
            raise FrontendError("np.ix_ of a run-time boolean array: the number of its True "
                                "entries would be a run-time value")
        out.append(reshape(cx, t, (1,) * k + (t.shape[0],) + (1,) * (len(args) - k - 1)))
    return tuple(out)
