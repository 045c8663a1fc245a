"""The standard library's `operator`, `itertools` and `dataclasses.astuple`/`asdict` on
run-time values (`functools.reduce` is pybuiltins').

Contract: `FUNCTIONS[fn](tracer, *args, **kwargs)` replaces every call of `fn` (calls.py: an
iterator argument's items may be run-time values); with static values each gives Python's.
- `operator`'s functions are the operators they name: `operator.mul(a, b)` is `a * b`,
  `operator.lt(a, b)` is `a < b`, `operator.getitem(a, k)` is `a[k]`, and `itemgetter` /
  `attrgetter` objects read as `obj[k]` / `obj.a` (the in-place ones stay refused: on an
  array they would change it, on a scalar not).
- `itertools`' functions that only rearrange items (chain, product, pairwise, islice,
  combinations, ...) run as Python's, lazily, on the items a `for` would see (an array's rows);
  those that call a function (accumulate, starmap, filterfalse, takewhile, dropwhile) call it
  as traced code calls it, and a predicate's result must be static (a run-time one would make
  the number of items a run-time value).
- `dataclasses.astuple`/`asdict` recurse into dataclass instances, lists, tuples and dicts as
  Python's do, and copy the run-time arrays (np.copy) that Python's would deep-copy; so does
  `copy.deepcopy` (of objects too), and `copy.copy` copies a run-time array.
"""
from __future__ import annotations

import ast
import dataclasses
import itertools
import operator
from copy import copy as shallow_copy
from copy import deepcopy

from . import arith
from .expressions import CMPOPS, PYCMP, PYOPS, run_static
from .problems import FrontendError
from .pybuiltins import BUILTINS
from .pytree import node_fields
from .shapes import copy
from .values import Traced, contains_traced

_BINARY = {fn: op for op, fn in PYOPS.items()}
_COMPARE = {PYCMP[op]: name for op, name in CMPOPS.items()}
_UNARY = {operator.neg: ast.USub, operator.pos: ast.UAdd, operator.not_: ast.Not,
          operator.invert: ast.Invert, operator.inv: ast.Invert}


def _binary(op):
    return lambda tr, a, b, /: tr.binop(op, a, b)


def _compare(name, fn):
    def compare(tr, a, b, /):
        if isinstance(a, Traced) or isinstance(b, Traced):
            return arith.binary(tr, name, tr.operand(a), tr.operand(b), python_op=True)
        return fn(a, b)
    return compare


def _unary(op):
    return lambda tr, x, /: tr.unaryop(op, x)


def _getitem(tr, a, b, /):
    return tr.subscript(a, b)


GETTERS = (operator.itemgetter, operator.attrgetter)


def getter(tr, fn, obj, /):
    """operator.itemgetter(k, ...)(obj) is obj[k] (a tuple of them for several keys),
    attrgetter("a.b")(obj) obj.a.b, as traced code reads them."""
    keys = fn.__reduce__()[1]       # (the keys it was made with)
    if isinstance(fn, operator.itemgetter):
        got = [tr.subscript(obj, k) for k in keys]
    else:
        got = []
        for k in keys:
            value = obj
            for part in k.split("."):
                value = tr.attribute(value, part)
            got.append(value)
    return got[0] if len(keys) == 1 else tuple(got)


def _through(tr, fn):
    """`fn` as a Python callable whose calls are traced (a user function, an operator)."""
    return lambda *args: tr.call(fn, list(args), {})


def _static_predicate(tr, predicate):
    """`predicate` (None: bool, as filterfalse takes it) called as traced code calls it, its
    truth static."""
    if predicate is None:
        return bool

    def test(*args):
        result = tr.call(predicate, list(args), {})
        if isinstance(result, Traced):
            raise FrontendError("an itertools predicate must give a static truth here (a "
                                "run-time one makes the number of items a run-time value)")
        return result
    return test


def _made(fn):
    """An itertools handler whose iterator is noted as made here (`made_iterator`), and whose
    Python errors (islice's bad stop) are the user's."""
    def call(tr, *args, **kwargs):
        try:
            return tr.made_iterator(fn(tr, *args, **kwargs))
        except (TypeError, ValueError) as e:
            static = " (it must be a static number)" \
                if contains_traced((args[1:], kwargs)) else ""
            raise FrontendError(f"{e}{static}") from None
    return call


def _rearranging(fn, iterables):
    """`fn` whose arguments at the positions `iterables` (or all, None) are iterated."""
    def call(tr, *args, **kwargs):
        return fn(*(tr.iterate_lazily(a) if iterables is None or i in iterables else a
                    for i, a in enumerate(args)), **kwargs)
    return _made(call)


@_made
def _from_iterable(tr, iterable, /):
    return itertools.chain.from_iterable(map(tr.iterate_lazily, tr.iterate_lazily(iterable)))


@_made
def _repeat(tr, obj, times=None):
    if isinstance(times, Traced):
        raise FrontendError("itertools.repeat's count must be static")
    return itertools.repeat(obj) if times is None else itertools.repeat(obj, times)


@_made
def _compress(tr, data, selectors, /):
    selectors = tr.iterate(selectors)
    if any(isinstance(s, Traced) for s in selectors):
        raise FrontendError("itertools.compress with run-time selectors is not supported (the "
                            "number of items would be a run-time value): index an array with "
                            "a boolean mask instead")
    return itertools.compress(tr.iterate_lazily(data), selectors)


@_made
def _accumulate(tr, iterable, func=None, *, initial=None):
    add = _through(tr, operator.add if func is None else func)
    return itertools.accumulate(tr.iterate_lazily(iterable), add, initial=initial)


@_made
def _starmap(tr, function, iterable, /):
    call = _through(tr, function)
    return (call(*tr.iterate(args)) for args in tr.iterate_lazily(iterable))


def _filtering(fn):
    return _made(lambda tr, predicate, iterable, /: fn(_static_predicate(tr, predicate),
                                                       tr.iterate_lazily(iterable)))


def _converted(tr, obj, kind):
    """dataclasses' _astuple_inner / _asdict_inner on values that may be run-time arrays."""
    if isinstance(obj, Traced):
        return copy(tr, obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        items = [(f.name, _converted(tr, getattr(obj, f.name), kind))
                 for f in dataclasses.fields(obj)]
        return kind(items)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):      # a named tuple
        return type(obj)(*(_converted(tr, v, kind) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_converted(tr, v, kind) for v in obj)
    if isinstance(obj, dict):
        return type(obj)((_converted(tr, k, kind), _converted(tr, v, kind))
                         for k, v in obj.items())
    return run_static(deepcopy, obj)


def _copy(tr, x, /):
    """copy.copy: a run-time array's copy (ndarray.__copy__'s), a container's shallow copy;
    a container holding run-time arrays (a dataclass instance, a dict) as Python copies it."""
    return copy(tr, x) if isinstance(x, Traced) else run_static(shallow_copy, x)


def _deepcopy(tr, x, memo=None, /):
    """copy.deepcopy: run-time arrays copied (np.copy), once each however often the structure
    holds one, in the lists, tuples, dicts and objects (dataclass instances) that hold them;
    the rest as Python copies it."""
    memo = {} if memo is None else memo
    if id(x) in memo:
        return memo[id(x)]
    if isinstance(x, Traced):
        out = copy(tr, x)
    elif not contains_traced(x):
        out = run_static(deepcopy, x, memo)
    elif isinstance(x, tuple) and hasattr(x, "_fields"):    # a named tuple
        out = type(x)(*(_deepcopy(tr, v, memo) for v in x))
    elif isinstance(x, tuple):
        out = type(x)(_deepcopy(tr, v, memo) for v in x)
    elif isinstance(x, (list, dict)):
        # (made first, so an entry holding the container itself finds it; a shallow copy
        # keeps a defaultdict's factory)
        out = memo[id(x)] = run_static(shallow_copy, x)
        out.clear()
        if isinstance(x, list):
            out.extend(_deepcopy(tr, v, memo) for v in x)
        else:
            out.update((_deepcopy(tr, k, memo), _deepcopy(tr, v, memo)) for k, v in x.items())
    else:       # an object: a shallow copy whose attributes are then copied deeply
        out = run_static(shallow_copy, x)
        memo[id(x)] = out
        for name in node_fields(x):
            object.__setattr__(out, name, _deepcopy(tr, getattr(x, name), memo))
    memo[id(x)] = out
    return out


def _astuple(tr, obj, /, *, tuple_factory=tuple):
    _dataclass_instance("astuple", obj)
    return _converted(tr, obj, lambda items: tuple_factory(v for _, v in items))


def _asdict(tr, obj, /, *, dict_factory=dict):
    _dataclass_instance("asdict", obj)
    return _converted(tr, obj, dict_factory)


def _dataclass_instance(name, obj):
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        raise FrontendError(f"{name}() should be called on dataclass instances")


FUNCTIONS = {
    **{fn: _binary(op) for fn, op in _BINARY.items()},
    **{fn: _compare(name, fn) for fn, name in _COMPARE.items()},
    **{fn: _unary(op) for fn, op in _UNARY.items()},
    operator.truth: lambda tr, x, /: BUILTINS[bool](tr, x), operator.getitem: _getitem,
    operator.abs: lambda tr, x, /: BUILTINS[abs](tr, x),
    operator.concat: lambda tr, a, b, /: tr.binop(ast.Add, a, b),
    operator.is_: lambda tr, a, b, /: a is b, operator.is_not: lambda tr, a, b, /: a is not b,
    itertools.chain: _rearranging(itertools.chain, None),
    itertools.chain.from_iterable: _from_iterable,
    itertools.product: _rearranging(itertools.product, None),
    itertools.zip_longest: _rearranging(itertools.zip_longest, None),
    itertools.pairwise: _rearranging(itertools.pairwise, (0,)),
    itertools.islice: _rearranging(itertools.islice, (0,)),
    itertools.combinations: _rearranging(itertools.combinations, (0,)),
    itertools.combinations_with_replacement:
        _rearranging(itertools.combinations_with_replacement, (0,)),
    itertools.permutations: _rearranging(itertools.permutations, (0,)),
    **({itertools.batched: _rearranging(itertools.batched, (0,))}
       if hasattr(itertools, "batched") else {}),        # (Python 3.12)
    itertools.repeat: _repeat, itertools.compress: _compress,
    itertools.accumulate: _accumulate, itertools.starmap: _starmap,
    itertools.takewhile: _filtering(itertools.takewhile),
    itertools.dropwhile: _filtering(itertools.dropwhile),
    itertools.filterfalse: _filtering(itertools.filterfalse),
    dataclasses.astuple: _astuple, dataclasses.asdict: _asdict,
    shallow_copy: _copy, deepcopy: _deepcopy,
}
