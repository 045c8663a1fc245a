"""Python builtins on traced values.

Contract: `BUILTINS[builtin](tracer, *args, **kwargs)` replaces a Python builtin when a traced
program calls it. With static arguments each behaves as Python's; with traced ones: `len` and
`range` read static shapes (`range` with a run-time bound is a `RuntimeRange`, usable only as a
`for` loop's iterable), `float`/`int`/`bool`/`x.item()` give weak (Python-scalar-like) values,
`abs`/`sum`/`min`/`max`/`any`/`all` build IR (min/max of traced scalars choose with `where`,
as Python compares; `functools.reduce` calls its function on the items in turn),
`enumerate`/`zip`/`list`/`tuple`/`dict`/`map`/`reversed`/`sorted` iterate statically (an array
by its rows), `isinstance` answers for the NumPy object the value stands for, `getattr` reads
as `x.a` does, and `print` is an op that prints on every run (static parts as Python prints
them, run-time values as NumPy does).
"""
from __future__ import annotations

import ast
import builtins
import functools
import sys
from collections.abc import Iterator

import numpy as np

from . import arith
from .problems import FrontendError
from .text import converted, dynamic, escaped, formatted_value, shown
from .values import NP_OF, Traced


class RuntimeRange:
    """range(start, stop, step) with a run-time bound (a `for` op's trip count)."""

    def __init__(self, start, stop, step):
        for v in (start, stop):
            if isinstance(v, Traced) and (v.ndim or v.dtype not in ("i64", "i32")):
                raise FrontendError(f"range() needs integer scalars, got {v.type}")
        if isinstance(step, Traced):
            raise FrontendError("range() with a run-time step is not supported")
        if step == 0:
            raise FrontendError("range() arg 3 must not be zero")
        self.start, self.stop, self.step = start, stop, step

    def _count(self, tr):
        """The number of entries, as Python's range counts them (<= 0: none)."""
        step = self.step
        lo, hi = (self.start, self.stop) if step > 0 else (self.stop, self.start)
        span = hi if (not isinstance(lo, Traced) and lo == 0) else tr.binop(ast.Sub, hi, lo)
        if abs(step) != 1:
            span = tr.binop(ast.FloorDiv, tr.binop(ast.Add, span, abs(step) - 1), abs(step))
        return span

    def reversed(self, tr) -> "RuntimeRange":
        """reversed(range(a, b, s)) = range(a + (n - 1) * s, a - s, -s), n the count (n <= 0:
        empty either way)."""
        s = self.step
        last = tr.binop(ast.Add, self.start,
                        tr.binop(ast.Mult, tr.binop(ast.Sub, self._count(tr), 1), s))
        return RuntimeRange(last, tr.binop(ast.Sub, self.start, s), -s)

    def trip_count(self, tr):
        """(i64[] trip count, index function k -> start + k * step), built before the loop."""
        step = self.step
        # a trip count <= 0 runs no iteration (the `for` op follows Python's range)
        trip = tr.cast(tr.tensor(self._count(tr)).value, "i64")

        def index(k):
            scaled = k if step == 1 else tr.binop(ast.Mult, k, step)
            if not isinstance(self.start, Traced) and self.start == 0:
                return scaled
            # (a Python int, as range's entries are, whatever the bounds' dtypes)
            return Traced(tr.cast(tr.binop(ast.Add, scaled, self.start).value, "i64"),
                          weak=True)
        return trip, index


def _len(tr, obj):
    if isinstance(obj, Traced):
        if obj.ndim == 0:
            raise FrontendError("len() of unsized object")
        return obj.shape[0]
    if isinstance(obj, RuntimeRange):
        raise FrontendError("len() of a range with a run-time bound")
    from .expressions import run_static
    tr.watch_whole(obj)
    return run_static(len, obj)


def _getattr(tr, obj, name, *default):
    return tr.attribute(obj, name, *default)


def _hasattr(tr, obj, name):
    """As Python's (getattr without an AttributeError): a model object's __getattr__ and
    cached properties are its traced code."""
    missing = object()
    return tr.attribute(obj, name, missing) is not missing


def _range(tr, *args):
    from .expressions import run_static
    if not any(isinstance(a, Traced) for a in args):
        return run_static(range, *args)
    if len(args) == 1:
        return RuntimeRange(0, args[0], 1)
    if len(args) in (2, 3):
        return RuntimeRange(args[0], args[1], args[2] if len(args) == 3 else 1)
    raise FrontendError(f"range expected at most 3 arguments, got {len(args)}")


def _no_runtime_range(name, iterables):
    if any(isinstance(it, RuntimeRange) for it in iterables):
        raise FrontendError(f"{name}() of a range with a run-time bound is not supported (it "
                            "would need a static length): loop over the range itself and "
                            "compute the rest from its index (for i in range(n): ... x[i] ...)")


def _enumerate(tr, iterable, start=0):
    _no_runtime_range("enumerate", [iterable])
    # (a for over it sees changes)
    return tr.made_iterator(enumerate(tr.iterate_lazily(iterable), start))


def _zip(tr, *iterables, strict=False):
    _no_runtime_range("zip", iterables)
    if not strict:      # (a for over it sees changes, as enumerate's)
        return tr.made_iterator(zip(*(tr.iterate_lazily(it) for it in iterables)))
    lists = [tr.iterate(it) for it in iterables]
    if len({len(x) for x in lists}) > 1:
        raise FrontendError("zip() arguments have different lengths")
    return tr.made_iterator(zip(*lists))


def _scalar(tr, x, dtype, name):
    t = tr.tensor(x)
    if t.ndim:      # (NumPy 2.4's TypeError; x.item() takes any array of one entry)
        raise FrontendError(f"only 0-dimensional arrays can be converted to Python scalars "
                            f"({name} of an array of shape {t.shape}; x.item() gives its one "
                            "entry)")
    v = t.value
    if dtype == "i64" and t.type.is_float:
        # Python's ValueError or OverflowError (a cast would make them -2^63); adcompiler's
        # ints are int64, where Python's int would grow
        tr.op("assert", tr.op("lt", tr.op("abs", v), tr.const(2.0 ** 63, t.dtype)),
              message=f"{name} of NaN, inf or a float beyond the int64 range")
    return tr.wrap(tr.cast(v, dtype), weak=True)


def _float(tr, x=0.0):
    if isinstance(x, Traced):
        return _scalar(tr, x, "f64", "float()")
    return builtins.float(x)


def _int(tr, x=0, *base):
    if isinstance(x, Traced):
        return _scalar(tr, x, "i64", "int()")
    return builtins.int(x, *base)


def _bool(tr, x=False):
    if isinstance(x, Traced):
        return arith.truth(tr, x)
    return builtins.bool(x)


def _abs(tr, x):
    if isinstance(x, Traced):
        return arith.unary(tr, "abs", x, python_op=True)
    return builtins.abs(x)


def _round(tr, number, ndigits=None):
    """round() of a run-time scalar: NumPy's rounding (halves to even, as Python's); without
    ndigits a Python int, else a NumPy scalar of its own type, as NumPy's __round__."""
    if not isinstance(number, Traced):
        return builtins.round(number, ndigits)
    if number.ndim:
        raise FrontendError("round() of an array: use np.round")
    if number.weak and ndigits is not None:
        raise FrontendError("round(x, ndigits) of a Python float rounds its exact decimal value "
                            "(round(2.675, 2) is 2.67), which compiled code does not; use "
                            "np.round(x, ndigits), NumPy's (2.68)")
    rounded = arith.round_(tr, number, 0 if ndigits is None else ndigits)
    return _scalar(tr, rounded, "i64", "round()") if ndigits is None else rounded


def _divmod(tr, x, y):
    return tr.binop(ast.FloorDiv, x, y), tr.binop(ast.Mod, x, y)


def _pow(tr, base, exp, mod=None):
    if mod is None:
        return tr.binop(ast.Pow, base, exp)
    if isinstance(base, Traced) or isinstance(exp, Traced) or isinstance(mod, Traced):
        raise FrontendError("pow() with a modulus is not supported on run-time values")
    return builtins.pow(base, exp, mod)


def _extreme(which):
    def fn(tr, *args, key=None, **kw):
        items = tr.iterate(args[0]) if len(args) == 1 else list(args)
        from .expressions import run_static
        if not any(isinstance(x, Traced) for x in items):
            return run_static(getattr(builtins, which), items, key=key, **kw) if key else \
                run_static(getattr(builtins, which), items, **kw)
        if key is not None:
            raise FrontendError(f"{which}(key=...) over run-time values is not supported")
        if not items:
            raise FrontendError(f"{which}() arg is an empty sequence")
        acc = items[0]
        for x in items[1:]:
            for v in (acc, x):
                if isinstance(v, Traced) and v.ndim:
                    raise FrontendError(f"{which}() of arrays compares truth values, which is "
                                        f"ambiguous; use np.{which}imum for elementwise")
            better = arith.binary(tr, "lt" if which == "min" else "gt", x, acc, python_op=True)
            acc = arith.where(tr, better, x, acc)
        # Python's min returns one of its items: of Python numbers (weak ones), a Python-like
        # number, which a float32 array times it keeps float32
        weak = all(x.weak if isinstance(x, Traced) else type(x) in (int, float, bool)
                   for x in items)
        return tr.wrap(acc.value, weak=True) if weak else acc
    return fn


def _sum(tr, iterable, start=0):
    acc = start
    for x in tr.iterate(iterable):
        acc = tr.binop(ast.Add, acc, x)
    return acc


def _any_all(which):
    """any() / all() of run-time values: the truth of each (NumPy's: an array of more than one
    entry is ambiguous), joined; a run-time bool, as Python's is a bool (without Python's
    stopping early: every item is computed anyway)."""
    join = "logical_or" if which == "any" else "logical_and"

    def fn(tr, iterable):
        items = tr.iterate(iterable)
        if not any(isinstance(x, Traced) for x in items):
            return getattr(builtins, which)(items)
        out = None
        for x in items:
            t = arith.truth(tr, x) if isinstance(x, Traced) else builtins.bool(x)
            out = t if out is None else arith.binary(tr, join, out, t, python_op=True)
        return out
    return fn


_NO_INITIAL = object()


def _reduce(tr, function, iterable, initial=_NO_INITIAL):
    """functools.reduce: `function` called on the items in turn, as traced code calls it."""
    items = list(tr.iterate(iterable))
    if initial is _NO_INITIAL:
        if not items:
            raise FrontendError("reduce() of empty iterable with no initial value")
        initial, items = items[0], items[1:]
    acc = initial
    for x in items:
        acc = tr.call(function, [acc, x], {})
    return acc


def _isinstance(tr, obj, classinfo):
    if isinstance(obj, Traced):
        if obj.weak:
            sample = {"f64": 1.0, "i64": 1, "bool": True}[obj.dtype]
        elif obj.ndim == 0:
            sample = np.ones((), NP_OF[obj.dtype])[()]
        else:
            sample = np.ones((1,) * obj.ndim, NP_OF[obj.dtype])
        return builtins.isinstance(sample, classinfo)
    return builtins.isinstance(obj, classinfo)


def _print(tr, *args, sep=" ", end="\n", file=None, flush=False):
    """An op that prints on every run of the compiled program, as the function would; what is
    static is written into its format while tracing."""
    stream = "stdout" if file is None or file is sys.stdout else \
        "stderr" if file is sys.stderr else None
    if stream is None:
        raise FrontendError("print in traced code writes to sys.stdout or sys.stderr only")
    sep, end = " " if sep is None else sep, "\n" if end is None else end
    if not (isinstance(sep, str) and isinstance(end, str)):
        raise FrontendError("print's sep and end must be static strings")
    operands = []
    fields = [shown(a, operands, str) for a in args]
    tr.op("print", *(x.value for x in operands), format=escaped(sep).join(fields),
          python=tuple(x.weak for x in operands), end=end, stream=stream, flush=bool(flush))


def _str(tr, *args, **kwargs):
    if len(args) == 1 and not kwargs and dynamic(args[0]):     # for print, an assert
        return converted(args[0], builtins.str)
    return builtins.str(*args, **kwargs)


def _repr(tr, obj):
    return converted(obj, builtins.repr) if dynamic(obj) else builtins.repr(obj)


def _format(tr, value, spec=""):
    return formatted_value(value, spec) if dynamic(value) else builtins.format(value, spec)


def _super(tr, *args):
    """super() in a traced method: Python's, given the class (the `__class__` cell Python
    makes for a method that calls super()) and the method's first argument."""
    if args:
        return builtins.super(*args)
    params = tr.frame.code.node.args
    first = (params.posonlyargs + params.args)[:1]
    if not first:
        raise FrontendError("super() without arguments needs a method's first argument")
    return builtins.super(tr.lookup("__class__"), tr.lookup(first[0].arg))


def _list(tr, iterable=()):
    return tr.iterate(iterable)


def _tuple(tr, iterable=()):
    return tuple(tr.iterate(iterable))


def _dict(tr, *args, **kwargs):
    """dict(mapping or pairs, **entries) holding run-time values: a new dict of them (a
    mapping passed is read whole, as `{**d}` reads it)."""
    from .expressions import run_static
    if args and isinstance(args[0], dict):
        tr.watch_whole(args[0])
    elif args:
        args = (tr.iterate(args[0]),)
    return run_static(dict, *args, **kwargs)


def _map(tr, fn, *iterables):
    return tr.made_iterator(iter([tr.call(fn, list(items), {})
                                  for items in zip(*(tr.iterate(i) for i in iterables))]))


def _sorted(tr, iterable, key=None, reverse=False):
    """sorted() of a static iterable's items (a dict of arrays: its keys)."""
    from .expressions import run_static
    items = tr.iterate(iterable)
    if key is None and any(isinstance(x, Traced) for x in items):
        raise FrontendError("sorted() of run-time values is not supported (their order is "
                            "known when the code runs): sort an array of them, np.sort")
    return run_static(sorted, items, key=tr.foreign(key), reverse=reverse)


def _iter(tr, obj, *sentinel):
    if sentinel:
        raise FrontendError("iter(callable, sentinel) is not supported in traced code")
    _no_runtime_range("iter", [obj])
    return tr.made_iterator(iter(tr.iterate_lazily(obj)))


def _next(tr, iterator, *default):
    if not isinstance(iterator, Iterator):
        raise FrontendError(f"next() takes an iterator, got a {type(iterator).__name__} (a "
                            "generator expression in traced code is built as a list: write the "
                            "loop, or take [...][0])")
    tr.consumed(iterator)
    return next(iterator, *default)


def _reversed(tr, seq):
    if isinstance(seq, RuntimeRange):
        return seq.reversed(tr)
    # (a range's own reversed iterator, which a `for` loops over as a range: loops.py)
    return tr.made_iterator(reversed(seq if isinstance(seq, range) else tr.iterate(seq)))


def _no_frame(name):
    def refuse(tr, *args, **kwargs):
        raise FrontendError(f"{name}() is not supported in traced code: adcompiler runs your "
                            "function's lines itself, and the frame it would show is "
                            "adcompiler's (name the variables instead)")
    return refuse


def _vars(tr, *args):
    from .expressions import run_static
    if not args:
        _no_frame("vars")(tr)
    return run_static(vars, *args)


BUILTINS = {
    builtins.len: _len, builtins.range: _range, builtins.enumerate: _enumerate,
    builtins.zip: _zip, builtins.float: _float, builtins.int: _int, builtins.bool: _bool,
    builtins.abs: _abs, builtins.min: _extreme("min"), builtins.max: _extreme("max"),
    builtins.any: _any_all("any"), builtins.all: _any_all("all"), functools.reduce: _reduce,
    builtins.sum: _sum, builtins.isinstance: _isinstance, builtins.print: _print,
    builtins.super: _super, builtins.str: _str, builtins.repr: _repr,
    builtins.format: _format, builtins.list: _list, builtins.tuple: _tuple, builtins.map: _map,
    builtins.dict: _dict,
    builtins.reversed: _reversed, builtins.sorted: _sorted, builtins.getattr: _getattr,
    builtins.hasattr: _hasattr,
    builtins.round: _round, builtins.divmod: _divmod, builtins.pow: _pow,
    builtins.locals: _no_frame("locals"), builtins.globals: _no_frame("globals"),
    builtins.vars: _vars, builtins.iter: _iter, builtins.next: _next,
}
