"""The values a trace read from outside the traced code, so a cached trace can tell that one
of them has changed since (a learning rate in a global, a model object's weights reassigned,
a flag in a config dict) and be traced again instead of computing with the old value.

Contract: a `Session` keeps a `Reads`; the interpreter calls `Reads.add(kind, where, name,
value)` for each value it takes from outside: `global` (a function's globals dict and a name),
`cell` (a closure cell), `attr` (an attribute held in an object's or a user module's own
`__dict__`), `item` (an entry of a dict or list that holds no traced values). `changed(reads)`
says whether any of them is now another object, other than an equal number, string or tuple
of them (an array written in place is not a change, as in JAX; a dict or list rebuilt with
equal entries is one). A few dozen reads cost a
few microseconds, which every call of a compiled function pays to check them.
"""
from __future__ import annotations

_MISSING = object()


class Reads:
    def __init__(self):
        self._seen: dict = {}

    def add(self, kind: str, where, name, value) -> None:
        try:
            self._seen.setdefault((kind, id(where), name), (kind, where, name, value))
        except TypeError:       # an unhashable key (a tuple with a slice in it): not watched
            pass

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
        return where[name]
    except (ValueError, LookupError):       # an emptied cell, a removed entry
        return _MISSING


_IMMUTABLE = (int, float, bool, complex, str, bytes, type(None))


def _same(now, value) -> bool:
    """Another object than `value` that is an equal immutable one (`LR = float(text)` every
    step, a setting rebuilt from a string: rebound, but a retrace would make the same code)."""
    if type(now) is not type(value):
        return False
    if type(value) in _IMMUTABLE:
        return now == value
    if type(value) is tuple:
        return len(now) == len(value) and all(a is b or _same(a, b) for a, b in zip(now, value))
    return False


def changed(reads) -> bool:
    for kind, where, name, value in reads:
        now = _now(kind, where, name)
        if now is not value and not _same(now, value):
            return True
    return False
