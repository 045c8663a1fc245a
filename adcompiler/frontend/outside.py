"""The values a trace read from outside the traced code, so a cached trace can tell that one
of them has changed since (a learning rate in a global, a model object's weights reassigned,
a flag in a config dict) and be traced again instead of computing with the old value.

Contract: a `Session` keeps a `Reads`; the interpreter calls `Reads.add(kind, where, name,
value)` for each value it takes from outside: `global` (a function's globals dict and a name),
`cell` (a closure cell), `attr` (an attribute stored as itself: in an object's or a user
module's own `__dict__`, a `__slots__` slot, or a class's `__dict__`, through `x.a` or
`getattr`), `item` (an entry of a dict or list that holds no traced values). A dict or list
read this way (of up to `SNAPSHOT_ITEMS` entries) is remembered with its entries, so an entry
changed, added or removed in it counts too, however the traced code used it (`cfg.get(k)`,
`k in cfg`, `len`, iteration). `changed(reads)` says whether any of them is now another
object, other than an equal number, string, or tuple, dict or list of the same entries (an
array written in place is not a change, as in JAX). A few dozen reads cost a few
microseconds, which every call of a compiled function pays to check them.
"""
from __future__ import annotations

_MISSING = object()


SNAPSHOT_ITEMS = 256      # a bigger dict or list read from outside is watched as one object


def _entries(value):
    """A dict's or list's entries now (pairs for a dict), or None for anything else."""
    if isinstance(value, dict) and len(value) <= SNAPSHOT_ITEMS:
        return tuple(dict.items(value))
    if isinstance(value, list) and len(value) <= SNAPSHOT_ITEMS:
        return tuple(value)
    return None


class Reads:
    def __init__(self):
        self._seen: dict = {}

    def add(self, kind: str, where, name, value) -> None:
        try:
            key = (kind, id(where), name)
        except TypeError:       # an unhashable key (a tuple with a slice in it): not watched
            return
        if key not in self._seen:
            self._seen[key] = (kind, where, name, value, _entries(value))

    def frozen(self) -> tuple:
        return tuple(self._seen.values())


def _now(kind, where, name):
    try:
        if kind == "global":
            return where.get(name, _MISSING)
        if kind == "cell":
            return where.cell_contents
        if kind == "attr":
            return getattr(where, name, _MISSING)
        if isinstance(where, dict):         # without a defaultdict's __missing__
            return dict.get(where, name, _MISSING)
        return list.__getitem__(where, name)
    except (ValueError, LookupError, TypeError):   # an emptied cell, a removed entry
        return _MISSING


_IMMUTABLE = (int, float, bool, complex, str, bytes, type(None))


def _same(now, value) -> bool:
    """Another object than `value` that is an equal immutable one (`LR = float(text)` every
    step, a setting rebuilt from a string: rebound, but a retrace would make the same code),
    or a tuple, dict or list of the same entries."""
    if type(now) is not type(value):
        return False
    if type(value) in _IMMUTABLE:
        return now == value
    if type(value) is tuple:
        return _same_entries(now, value)
    return isinstance(value, (dict, list)) and _same_entries(_entries(now), _entries(value))


def _same_entries(now, then) -> bool:
    """Entry by entry the same objects, or equal immutable ones."""
    return now is not None and then is not None and len(now) == len(then) and all(
        a is b or _same(a, b) for a, b in zip(now, then))


def changed(reads) -> bool:
    for kind, where, name, value, entries in reads:
        now = _now(kind, where, name)
        if entries is not None and type(now) is type(value):
            if not _same_entries(_entries(now), entries):
                return True
        elif now is not value and not _same(now, value):
            return True
    return False
