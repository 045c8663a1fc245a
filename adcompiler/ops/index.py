"""Indexing ops. All are functional: an update returns a new array (copy semantics), which the
backends may turn into an in-place update when the old array is dead.

- `slice {starts, stops, steps}`: static basic indexing, one (start, stop, step) per axis,
  normalised as Python's `slice.indices` gives them (a negative stop means "past the start").
- `update_slice(x, v)`: x with that slice replaced by v (v has the slice's shape).
- `take(x, idx) {axis}`: gather along an axis with an integer array (or scalar) of indices.
- `scatter_add(x, idx, v) {axis}`: x with v added at idx along axis; repeated indices add up.
- `put(x, idx, v) {axis}`: x with the entries at idx along axis set to v.
`lower["numba"]` are driver statements: `{out}` is a buffer the Numba driver has allocated
(`rt.` names the backend's runtime helpers), `compiled` those in a loop compiled whole;
`update_slice` can also be a loop op (`loop`): a select between the array and the shifted
value, so a sum of slice updates is one pass.
"""
from ..ad.emit import zeros
from .family import check, declare, norm_axis


def slice_shape(shape, starts, stops, steps):
    return tuple(len(range(a, b, c)) for a, b, c in zip(starts, stops, steps, strict=True))


def slice_text(shape, starts, stops, steps) -> str:
    """`x[...]` subscript text for a normalised static slice (full trailing axes omitted)."""
    parts = []
    for n, a, b, c in zip(shape, starts, stops, steps, strict=True):
        if c > 0 and (a, b, c) == (0, n, 1):
            parts.append(":")
            continue
        if not range(a, b, c):   # e.g. (-1, -1, -1): `x[-1::-1]` would select everything
            parts.append("0:0")
            continue
        stop = "" if (b < 0 or (c > 0 and b >= n)) else str(b)
        start = "" if (c > 0 and a == 0) else str(a)
        parts.append(f"{start}:{stop}" + (f":{c}" if c != 1 else ""))
    while parts and parts[-1] == ":":
        parts.pop()
    return ", ".join(parts) or "..."


def _slice_rule(t, attrs):
    starts, stops, steps = attrs["starts"], attrs["stops"], attrs["steps"]
    check(len(starts) == len(stops) == len(steps) == t.rank, "needs one slice per axis")
    check(all(s != 0 for s in steps), "slice step cannot be zero")
    # normalised as slice.indices gives them, which the lowering (slice_text) relies on
    check(all((0 <= a <= n and 0 <= b <= n) if c > 0 else (-1 <= a < n and -1 <= b < n)
              for n, a, b, c in zip(t.shape, starts, stops, steps, strict=True)),
          f"slice {list(zip(starts, stops, steps))} is not normalised for shape {t.shape}")
    return slice_shape(t.shape, starts, stops, steps)


def _slice(types, attrs):
    (t,) = types
    return [t.with_shape(_slice_rule(t, attrs))]


def _update_slice(types, attrs):
    t, v = types
    shape = _slice_rule(t, attrs)
    check(v.dtype == t.dtype, f"value dtype {v.dtype} differs from array dtype {t.dtype}")
    check(v.shape == shape, f"value of shape {v.shape} does not fit slice of shape {shape}")
    return [t]


def gathered_shape(t, idx, axis):
    check(t.rank > 0, "cannot index a scalar")
    axis = norm_axis(axis, t.rank)
    check(t.shape[axis] > 0 or idx.size == 0, f"cannot index into axis {axis} of size 0")
    return t.shape[:axis] + idx.shape + t.shape[axis + 1:]


def _take(types, attrs):
    t, idx = types
    check(idx.dtype in ("i64", "i32"), f"indices must be integers, got {idx.dtype}")
    check(t.rank > 0, "cannot index a scalar")
    return [t.with_shape(gathered_shape(t, idx, attrs["axis"]))]


def _scatter(types, attrs):
    t, idx, v = types
    check(idx.dtype in ("i64", "i32"), f"indices must be integers, got {idx.dtype}")
    check(v.dtype == t.dtype, f"value dtype {v.dtype} differs from array dtype {t.dtype}")
    shape = gathered_shape(t, idx, attrs["axis"])
    check(v.shape == shape, f"values of shape {v.shape} do not fit indexed shape {shape}")
    return [t]


def _axis_index(op, idx):
    axis = norm_axis(op.attrs["axis"], op.operands[0].type.rank)
    return ":, " * axis + idx


def _norm_axis(op):
    return norm_axis(op.attrs["axis"], op.operands[0].type.rank)


def _slice_of(op):
    a = op.attrs
    return slice_text(op.operands[0].type.shape, a["starts"], a["stops"], a["steps"])


def _slice_vjp(b, op, cts, needs):
    return [b.op("update_slice", zeros(b, op.operands[0].type), cts[0], **op.attrs)]


def _update_slice_vjp(b, op, cts, needs):
    (ct,), v = cts, op.operands[1]
    return [b.op("update_slice", ct, zeros(b, v.type), **op.attrs) if needs[0] else None,
            b.op("slice", ct, **op.attrs) if needs[1] else None]


def _take_vjp(b, op, cts, needs):
    x, idx = op.operands
    return [b.op("scatter_add", zeros(b, x.type), idx, cts[0], **op.attrs), None]


def _scatter_add_vjp(b, op, cts, needs):
    (ct,), idx = cts, op.operands[1]
    return [ct if needs[0] else None, None,
            b.op("take", ct, idx, **op.attrs) if needs[2] else None]


def _put_vjp(b, op, cts, needs):
    """Set semantics: x's entries at idx are overwritten, so they get no gradient; v gets the
    cotangent there. With repeated indices NumPy keeps the last write, so only the value kept
    gets it: putting the positions 0..k-1 of idx the same way finds, per place, the one kept."""
    (ct,), (x, idx, v) = cts, op.operands
    dv = b.op("take", ct, idx, **op.attrs) if needs[2] else None
    if dv is not None and idx.type.size > 1:
        axis, it = norm_axis(op.attrs["axis"], x.type.rank), idx.type
        pos = b.op("reshape", b.op("iota", shape=(it.size,), axis=0, dtype=it.dtype),
                   shape=it.shape)
        kept = b.op("put", zeros(b, it.with_shape((x.type.shape[axis],))), idx, pos, axis=0)
        kept = b.op("eq", b.op("take", kept, idx, axis=0), pos)
        lead, trail = (1,) * axis, (1,) * (x.type.rank - axis - 1)
        kept = b.op("reshape", kept, shape=lead + it.shape + trail)
        dv = b.op("where", kept, dv, zeros(b, dv.type.with_shape(())))
    return [b.op("put", ct, idx, zeros(b, v.type), **op.attrs) if needs[0] else None, None, dv]


def _copy(name):
    # np.array, not .copy(): a rank-0 value may be a NumPy scalar, which has no item assignment
    return f"{{out}} = np.array({name})"


SLICE = ("starts", "stops", "steps")


def _lower_slice(op, a):
    return f"{a[0]}[{_slice_of(op)}]"      # NumPy basic indexing, the same in both backends


declare("slice", _slice, attrs=SLICE, arity=1, kind="index", vjp=_slice_vjp, view=True,
        lower={"numpy": _lower_slice, "numba": _lower_slice})
declare("update_slice", _update_slice, attrs=SLICE, arity=2, kind="index", vjp=_update_slice_vjp,
        lower={"numpy": lambda op, a: [_copy(a[0]),
                                       f"{{out}}[{_slice_of(op)}] = {a[1]}"],
               "numba": {"driver": lambda op, a: [f"{{out}}[...] = {a[0]}",
                                                  f"{{out}}[{_slice_of(op)}] = {a[1]}"],
                         "loop": "update_slice"}})
def _lower_take(op, a):
    """The method (0.4 us against np.take's 0.8); of one index, basic indexing and a copy
    (0.26 us: a loop's `x[t]`), of one element no copy (a scalar)."""
    if op.operands[1].type.rank == 0:
        picked = f"{a[0]}[{_axis_index(op, a[1])}]"
        return picked if op.result.type.rank == 0 else picked + ".copy()"
    return f"{a[0]}.take({a[1]}, axis={_norm_axis(op)})"


def _compiled(lower, call):
    """The Numba lowering of a gather or update in a loop compiled whole: at an array of
    indices the runtime's `call` (Numba's `take` has no axis, its fancy indexing one 1-d index
    array only), else `lower`."""
    def compiled(op, a):
        if op.operands[1].type.rank == 0:
            return lower(op, a)
        return call(op, a)
    return compiled


def _add_at(lower):
    """scatter_add's lowering, which at one index is `out[.., i] += v` (no repeats to sum:
    0.8 us against np.add.at's 1.9 and the Numba runtime's 2.9, once per step of a loop that
    reads a carried array's row)."""
    def scatter_add(op, a):
        first, add = lower(op, a)
        if op.operands[1].type.rank == 0:
            add = f"{{out}}[{_axis_index(op, a[1])}] += {a[2]}"
        return [first, add]
    return scatter_add


declare("take", _take, attrs=("axis",), arity=2, kind="index", vjp=_take_vjp,
        lower={"numpy": _lower_take, "numba": {"driver": _lower_take, "compiled": _compiled(
            _lower_take, lambda op, a: f"rt.take({a[0]}, {a[1]}, {_norm_axis(op)}, "
                                       f"{op.result.type.shape})")}})
declare("scatter_add", _scatter, attrs=("axis",), arity=3, kind="index", vjp=_scatter_add_vjp,
        lower={"numpy": _add_at(lambda op, a: [
                   _copy(a[0]), f"np.add.at({{out}}, np.s_[{_axis_index(op, a[1])}], {a[2]})"]),
               "numba": _add_at(lambda op, a: [
                   f"{{out}}[...] = {a[0]}",
                   f"rt.scatter_add({{out}}, {a[1]}, {a[2]}, {_norm_axis(op)})"])})


def _lower_put(op, a):
    return [f"{{out}}[...] = {a[0]}", f"{{out}}[{_axis_index(op, a[1])}] = {a[2]}"]


declare("put", _scatter, attrs=("axis",), arity=3, kind="index", vjp=_put_vjp,
        lower={"numpy": lambda op, a: [_copy(a[0]),
                                       f"{{out}}[{_axis_index(op, a[1])}] = {a[2]}"],
               "numba": {"driver": _lower_put, "compiled": _compiled(_lower_put, lambda op, a: [
                   f"{{out}}[...] = {a[0]}",
                   f"rt.put({{out}}, {a[1]}, {a[2]}, {_norm_axis(op)})"])}})
