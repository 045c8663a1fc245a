"""Values crossing region boundaries: what an `if` yields and a loop carries.

Contract: a Python value is split by `split(value)` into leaves (Traced arrays, static numbers,
static ndarrays) and a structure (containers and other static objects). Two values can be
joined (the two branches of an `if`, a loop's value before and after its body) when their
structures are equal; their leaves pair up: equal static leaves stay static, everything else
becomes a run-time value of one type (`unify`). A static number meeting an array takes the
array's dtype (a Python literal is weak, as in NumPy) and is broadcast to its shape (so
`acc = 0.0` can start a loop that accumulates vectors). Two arrays of different dtype or shape
cannot be joined (`Mismatch`).
`keep_containers(before, joined)` puts a joined value back into the containers that existed
before the region, so that a container a region changed is still the one every name, every
container holding it and the caller hold (Python changes it in place). `relinked(original,
built)` makes a container `original` holds at several places (two names, a dict and its inner
dict's alias) one object in `built` too, so that a change through one is seen through all.
"""
from __future__ import annotations

import math

import numpy as np

from .pytree import flatten, leaf_paths, unflatten
from .values import Traced, is_python_scalar, is_static_scalar


CONTAINERS = (dict, list, tuple)


class Mismatch(Exception):
    pass


class Missing:
    """A name with no binding (assigned in only one branch, or only inside a loop)."""

    def __repr__(self):
        return "<missing>"


MISSING = Missing()


def is_leaf(x) -> bool:
    return isinstance(x, (Traced, np.ndarray)) or is_static_scalar(x)


def split(value):
    """(leaves, structure) of a value: a pytree (pytree.py) whose leaves are `is_leaf`."""
    return flatten(value, is_leaf)


def build(structure, leaves):
    return unflatten(structure, leaves)


def _same_static(a, b) -> bool:
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def same_structure(s, t) -> bool:
    if s[0] != t[0]:
        return False
    kind = s[0]
    if kind == "leaf":
        return True
    if kind == "static":
        return _same_static(s[1], t[1])
    if kind == "dict" and s[-2] != t[-2] or kind == "node" and s[1:-1] != t[1:-1]:
        return False        # (a dict's keys: its class may change, {**p} of an OrderedDict)
    kids_s, kids_t = s[-1], t[-1]
    return len(kids_s) == len(kids_t) and all(
        same_structure(a, b) for a, b in zip(kids_s, kids_t, strict=True))


def hint(x):
    """The name hint of a holder's SSA value (a region argument's name), or None."""
    return getattr(x._value, "hint", None) if isinstance(x, Traced) else None


def same_leaf(a, b) -> bool:
    """Whether two leaves are the same value (no run-time choice between them needed)."""
    if isinstance(a, Traced) or isinstance(b, Traced):
        return a is b           # two holders of one value are still two arrays
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return a is b
    return type(a) is type(b) and (a == b or (a != a and b != b))


def leaf_type(x):
    """(dtype, shape, weak) of a leaf seen as an array."""
    if isinstance(x, Traced):
        return x.dtype, x.shape, x.weak
    from .values import ir_dtype
    arr = np.asarray(x)
    return ir_dtype(arr.dtype), arr.shape, is_python_scalar(x)


def unify(a, b):
    """The (dtype, shape, weak) both leaves become when joined; raises Mismatch."""
    da, sa, wa = leaf_type(a)
    db, sb, wb = leaf_type(b)
    if isinstance(a, Traced) and isinstance(b, Traced):
        if sa != sb:
            raise Mismatch(f"shapes {sa} and {sb} differ")
        if da != db:
            raise Mismatch(f"dtypes {da} and {db} differ")
        return da, sa, wa and wb
    if not isinstance(a, Traced) and not isinstance(b, Traced):
        from .values import common_dtype
        if sa != sb:
            raise Mismatch(f"shapes {sa} and {sb} differ")
        return _holding(_holding(common_dtype(a, b), a), b), sa, wa and wb
    t, s = (a, b) if isinstance(a, Traced) else (b, a)
    ds, ss, ws = leaf_type(s)
    if not ws and ds != t.dtype:
        raise Mismatch(f"dtypes {t.dtype} and {ds} differ")
    if ss and ss != t.shape:
        raise Mismatch(f"shapes {t.shape} and {ss} differ")
    if t.dtype == "bool" and ws and not isinstance(s, bool):
        # (as bool the number's path would add as `or`, as a number the mask's path as ints)
        raise Mismatch(f"the number {s!r} on one and a bool array on the other, which compute "
                       "differently (True + True is True, 1 + 1 is 2); give the number as a bool "
                       "or the array as numbers (m.astype(int))")
    return _holding(t.dtype, s), t.shape, t.weak and ws


def _holding(dtype: str, x) -> str:
    """`dtype`, or the wider one a Python number `x` needs to keep its value: joined into an
    int64 value 0.5 would be 0, -1 in a bool True, 2**40 in an int32 a wrapped number (the
    path that keeps the Python number would compute with another value than Python's), 1e300
    in a float32 inf."""
    from .values import NP_OF
    kind = np.dtype(NP_OF[dtype]).kind
    if isinstance(x, float) and kind in "biu":
        return "f64"
    if isinstance(x, int) and not isinstance(x, bool) and kind in "biu" \
            and not (kind != "b" and np.can_cast(np.min_scalar_type(x), NP_OF[dtype])):
        return "i64" if -2 ** 63 <= x < 2 ** 63 else "f64"
    if isinstance(x, float) and kind == "f" and x != 0 and math.isfinite(x) \
            and not np.finfo(NP_OF[dtype]).tiny <= abs(x) <= np.finfo(NP_OF[dtype]).max:
        return "f64"        # (1e300 joined with a float32 value: inf)
    return dtype


def materialise(cx, leaf, dtype, shape):
    """A leaf as an ir.Value of the given type (constants broadcast, arrays cast)."""
    v = cx.value(leaf, dtype)
    if v.type.shape != tuple(shape):
        v = cx.op("broadcast_to", v, shape=tuple(shape))
    return v


def widen(a: str, b: str):
    """The dtype holding both `a` and `b` (np.promote_types), or None outside the IR's set."""
    from .values import NP_OF, IR_OF
    wide = np.promote_types(NP_OF[a], NP_OF[b])
    return IR_OF.get(wide)


def paths(struct, prefix: str) -> list[str]:
    """Readable names of a structure's leaves (`state.0`, `params.w`), in leaf order."""
    return leaf_paths(struct, prefix)


def keep_containers(before, joined):
    """`before` holding what `joined` (a join of it, built anew) holds, where every container
    in `before` can take its joined entries in place (a dict or list changes; a tuple's
    entries must already be those, or containers that can); else `joined`."""
    return before if _assign_into(before, joined) else joined


def _assign_into(target, value) -> bool:
    if target is value:
        return True
    if type(target) is not type(value) or not isinstance(target, (dict, list, tuple)):
        return False
    if isinstance(target, tuple):
        return len(target) == len(value) and all(
            _assign_into(t, v) for t, v in zip(target, value, strict=True))
    if isinstance(target, dict):
        for k in [k for k in target if k not in value]:
            del target[k]
        for k, v in value.items():
            if k not in target or not _assign_into(target[k], v):
                target[k] = v
    else:
        del target[len(value):]
        for k, v in enumerate(value):
            if k == len(target):
                target.append(v)
            elif not _assign_into(target[k], v):
                target[k] = v
    return True


def shared(value) -> list:
    """The groups of places (key paths) in `value` that hold one dict or list, where it is
    held at more than one."""
    places: dict = {}
    stack = [(value, ())]
    while stack:
        x, path = stack.pop()
        if isinstance(x, (list, dict)):
            places.setdefault(id(x), []).append(path)
            if len(places[id(x)]) > 1:
                continue            # its entries are those of its first place
            items = x.items() if isinstance(x, dict) else enumerate(x)
            stack.extend((v, path + (k,)) for k, v in items)
        elif isinstance(x, tuple) and not hasattr(x, "_fields"):
            stack.extend((v, path + (k,)) for k, v in enumerate(x))
    return sorted(sorted(group) for group in places.values() if len(group) > 1)


def relinked(original, built, marks, memo=None):
    """`built`, a value `build` made from `original`'s structure, with each container that
    occurs more than once in `original` one object (the first made for it) wherever it
    occurs. `marks` (id -> (container, note)) notes each new container as its original is."""
    memo = {} if memo is None else memo
    if not isinstance(original, CONTAINERS) or hasattr(original, "_fields") \
            or type(built) is not type(original):
        return built
    first = memo.get(id(original))
    if first is not None:
        return first[1]
    if isinstance(original, tuple):
        out = tuple(relinked(o, b, marks, memo) for o, b in zip(original, built, strict=True))
        memo[id(original)] = (original, out)
        return out
    memo[id(original)] = (original, built)
    mark = marks.get(id(original))
    if mark is not None and mark[0] is original:
        marks[id(built)] = (built, mark[1])
    keys = original.keys() if isinstance(original, dict) else range(len(original))
    for k in keys:
        built[k] = relinked(original[k], built[k], marks, memo)
    return built
