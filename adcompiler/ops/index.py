"""Indexing ops. All are functional: an update returns a new array (copy semantics), which the
backends may turn into an in-place update when the old array is dead.

- `slice {starts, stops, steps}`: static basic indexing, one (start, stop, step) per axis,
  normalised as Python's `slice.indices` gives them (a negative stop means "past the start").
- `update_slice(x, v)`: x with that slice replaced by v (v has the slice's shape).
- `take(x, idx) {axis}`: gather along an axis with an integer array (or scalar) of indices.
- `scatter_add(x, idx, v) {axis}`: x with v added at idx along axis; repeated indices add up.
- `put(x, idx, v) {axis}`: x with the entries at idx along axis set to v.
"""
from ..ir.types import TensorType
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
    axis = norm_axis(axis, t.rank)
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


def _slice_of(op):
    a = op.attrs
    return slice_text(op.operands[0].type.shape, a["starts"], a["stops"], a["steps"])


SLICE = ("starts", "stops", "steps")
declare("slice", _slice, attrs=SLICE, arity=1, kind="index",
        lower={"numpy": lambda op, a: f"{a[0]}[{_slice_of(op)}]"})
declare("update_slice", _update_slice, attrs=SLICE, arity=2, kind="index",
        lower={"numpy": lambda op, a: [f"{{out}} = {a[0]}.copy()",
                                       f"{{out}}[{_slice_of(op)}] = {a[1]}"]})
declare("take", _take, attrs=("axis",), arity=2, kind="index",
        lower={"numpy": "np.take({0}, {1}, axis={axis})"})
declare("scatter_add", _scatter, attrs=("axis",), arity=3, kind="index",
        lower={"numpy": lambda op, a: [f"{{out}} = {a[0]}.copy()",
                                       f"np.add.at({{out}}, ({_axis_index(op, a[1])}), {a[2]})"]})
declare("put", _scatter, attrs=("axis",), arity=3, kind="index",
        lower={"numpy": lambda op, a: [f"{{out}} = {a[0]}.copy()",
                                       f"{{out}}[{_axis_index(op, a[1])}] = {a[2]}"]})
