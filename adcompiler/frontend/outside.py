"""The values a trace read from outside the traced code, so a cached trace can tell that one
of them has changed since (a learning rate in a global, a model object's weights reassigned,
a flag in a config dict) and be traced again instead of computing with the old value.

Contract: a `Session` keeps a `Reads`; the interpreter calls `Reads.add(kind, where, name)` for
each value it takes from outside: `global` (a function's globals dict and a name), `cell` (a
closure cell), `attr` (an attribute stored as itself: in an object's or a user module's own
`__dict__`, a `__slots__` slot, or a class's `__dict__`, through `x.a` or `getattr`; a missing
one read with a default too), `item` (an entry of a dict or list, through `d[k]` or `d.get`),
`has` (`k in d`), `whole` (a dict, list or set the code used as a whole: iterated, `len`, `in` a
list or set, `.items()`, handed to a function run natively, as `np.array(WEIGHTS)`, with the
containers in it, unless the traced code built it: `np.array([a, b])`; `f(**CFG)`, `{**CFG}`). A
default argument is read as the object itself, so what the code reads in it is watched so
too, and so are the function's `__defaults__` and `__kwdefaults__` (`Reads.add_defaults`). A
property of a user class is an `attr` read too when its result is a plain value
(`by_value`: a number, string, NumPy scalar, or a tuple of such), which the check compares by
value: the getter runs again at each check (an array or object it builds afresh
would be a change every call, so those are not watched). The values are taken when the trace
ends (`frozen()`), so the trace's own changes to them (a counter it increments) are not changes;
a `whole` read keeps the entries of the container (of up to `SNAPSHOT_ITEMS`; a bigger one is
watched as one object).

`changed(reads)` says whether any of them is now another object, other than an equal number or
NumPy scalar (to the bit), string, the same function bound to the same object, or tuple, dict
or list of such entries (`LR = float(text)` each step, a config rebuilt each step: rebound, but
a retrace would make the same code). An array written in place is not a change, as in JAX.
Entries a trace did not read may change freely (a step counter in the config it reads the
learning rate from). A few dozen reads cost a few microseconds, which every call of a compiled
function pays to check them.
"""
from __future__ import annotations

import operator
import types
import weakref

import numpy as np

_MISSING = object()
SNAPSHOT_ITEMS = 256      # a bigger dict or list read as a whole is watched as one object
_DEPTH = 4                # how deep `_same` looks into containers rebuilt with equal entries


def _entries(value):
    """(keys, values) of a dict, (None, items) of a list or set, or None (a bigger one, or
    neither)."""
    if isinstance(value, dict) and len(value) <= SNAPSHOT_ITEMS:
        return tuple(value), tuple(dict.values(value))
    if isinstance(value, (list, set, frozenset)) and len(value) <= SNAPSHOT_ITEMS:
        return None, tuple(value)
    return None


class Reads:
    def __init__(self):
        self._seen: dict = {}

    def add(self, kind: str, where, name=None) -> None:
        try:
            self._seen.setdefault((kind, id(where), name), (kind, where, name))
        except TypeError:       # an unhashable key (a tuple with a slice in it): not watched
            pass

    def add_defaults(self, fn) -> None:
        """`fn`'s default arguments, watched as its attributes `__defaults__` and
        `__kwdefaults__`, the dict's entries too: a call that leaves a parameter to its
        default reads it (what the code reads in a default object is watched so too), and
        assigning them anew, or an entry of the dict, changes it."""
        held = weakref.proxy(fn)    # (a read must not keep the function: see Signature.fn)
        for name in ("__defaults__", "__kwdefaults__"):
            if getattr(fn, name, None):
                self.add("attr", held, name)
        if getattr(fn, "__kwdefaults__", None):     # (a dict: one entry set anew, too)
            self.add("whole", fn.__kwdefaults__)

    def holds(self, obj) -> bool:
        """Whether a read so far took `obj` itself from outside."""
        return any(_now(*read) is obj for read in self._seen.values())

    def frozen(self) -> tuple:
        """The reads with the values they have now, when the trace ends."""
        out = []
        for kind, where, name in self._seen.values():
            now = _now(kind, where, name)
            out.append((kind, where, name, now, _entries(now) if kind == "whole" else None))
        return tuple(out)


def _now(kind, where, name):
    try:
        if kind == "global":
            return where.get(name, _MISSING)
        if kind == "cell":
            return where.cell_contents
        if kind == "attr":
            return getattr(where, name, _MISSING)
        if kind == "whole":
            return where
        if kind == "has":
            return name in where
        if isinstance(where, dict):         # without a defaultdict's __missing__
            return dict.get(where, name, _MISSING)
        return list.__getitem__(where, name)
    except Exception:       # an emptied cell, a removed entry, an attribute that now raises
        return _MISSING


def leaked(frozen) -> tuple | None:
    """(its name, its value) of the global or closed-over variable whose value holds a run-time
    array after the trace (`HISTORY.append(loss)`, `LOG.values.append(loss)`): a placeholder
    of the trace, which the caller would find there after the call."""
    from .values import contains_traced
    for kind, where, name, now, _ in frozen:
        if kind in ("global", "cell") and contains_traced(now):
            return (name if kind == "global" else "a variable it closes over"), now
    return None


_IMMUTABLE = (int, bool, complex, str, bytes, type(None))


def _same(now, value, depth=_DEPTH) -> bool:
    """Whether `now`, another object than `value`, is an equal immutable one, or a tuple, dict or
    list of the same entries."""
    if type(now) is not type(value):
        return False
    if type(value) in _IMMUTABLE:
        return now == value
    if type(value) is float:
        return now.hex() == value.hex()             # -0.0 is not 0.0; a NaN is itself
    if isinstance(value, np.generic):
        return now.tobytes() == value.tobytes()
    if isinstance(value, types.MethodType):         # bound afresh at each read
        return now.__func__ is value.__func__ and now.__self__ is value.__self__
    if depth == 0:
        return False
    if isinstance(value, tuple):
        return _same_entries((None, now), (None, value), depth - 1)
    return isinstance(value, (dict, list, set, frozenset)) and _same_entries(
        _entries(now), _entries(value), depth - 1)


def by_value(value, depth=_DEPTH) -> bool:
    """Whether `value` is a number, string, NumPy scalar, or a tuple of such: what `_same`
    compares by value, not by identity."""
    if type(value) in _IMMUTABLE or type(value) is float or isinstance(value, np.generic):
        return True
    return isinstance(value, tuple) and depth > 0 and all(by_value(x, depth - 1) for x in value)


def _same_items(now, then, depth) -> bool:
    if now is then:
        return True
    if now is None or then is None or len(now) != len(then):
        return False
    return all(map(operator.is_, now, then)) or all(
        a is b or _same(a, b, depth) for a, b in zip(now, then))


def _same_entries(now, then, depth=_DEPTH) -> bool:
    """Entry by entry (`_entries`) the same objects, or equal immutable ones."""
    return now is not None and then is not None and _same_items(now[0], then[0], depth) \
        and _same_items(now[1], then[1], depth)


def changed(reads) -> bool:
    for kind, where, name, value, entries in reads:
        now = _now(kind, where, name)
        if entries is not None:
            if not _same_entries(_entries(now), entries):
                return True
        elif now is not value and not _same(now, value):
            return True
    return False
