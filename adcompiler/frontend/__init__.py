"""The frontend: Python/NumPy source -> typed SSA IR.

    adcompiler.trace(f, *example_args, **kwargs) -> ir.Function

`trace` reads `f`'s source (inspect + ast), checks it for unsupported syntax, and runs an
abstract interpreter over it (interpreter.py) that computes static values in Python and builds
IR for run-time arrays. The function is specialised on its arguments (signature.py) and cached.
The result is an `ir.Function` in an `ir.Module` holding the specialised callees; its
`meta["signature"]` lets `adcompiler.evaluate(fn, *args)` take `f`'s own arguments.

Modules, one idea each: values (traced values, NumPy dtype rules), emit (the op-building
context), arith / reductions / shapes / creation / linalg / indexing / composites (NumPy
semantics as IR), numpy_api (the table of NumPy functions and methods), pybuiltins, source /
syntax / analysis (reading and checking the AST), expressions / statements / branches / loops /
calls (the interpreter, assembled in interpreter.py), carry (values crossing region
boundaries), context (the `__adcompiler_trace__` hook's API), problems (internal errors ->
located user errors).

Semantics worth knowing (details in each module's docstring):
- NumPy 2 dtypes exactly, NEP 50 included; Python floats passed as arguments are weak f64[]
  scalars, ints/bools/strings are compile-time constants; shapes are static.
- Arrays are copied on slicing in the IR, but a name or container holding an array shares it as in
  NumPy: `y = x; y[0] = 1` and `d = {"k": x}; d["k"] += 1` change what `x` reads later. Writing
  through a view (a slice, reshape or transpose) and then reading the other side is reported as an
  error rather than silently diverging from NumPy. The sharing holds across `if`s and loops on
  run-time values (`h = y; for _ in range(n): h += 1` changes `y`); where which array a change
  reaches depends on the run (`o = y` in one branch, `o = 2 * y` in the other, then `o[0] = 0`),
  reading the array that may have changed is an error. An array argument changed in place is
  changed for the caller too, after the call, and so is an entry of a dict or list argument set
  to another array (the new values are extra results of the IR function, which
  `Signature.write_back` copies into the caller's arrays and containers); an argument changed
  through a view of it, or a container argument given new entries, is an error.
- Functions are cached per (function, argument signature), and traced again when a value they read
  from outside has been rebound since (a global, a closure variable, an object's or a class's
  attribute or method, a property's plain value, a dict or list entry, a config dict's, list's or
  set's entries however they are used, a partial's keywords: `outside.py`); an array changed in
  place is not seen.
"""
from __future__ import annotations

import copy
import inspect
import re
import threading
import types
import weakref

import numpy as np

from ..errors import AdcompilerError, RecompileWarning, TraceError, user_facing, warn_at_caller
from .context import TraceContext
from .outside import changed, leaked
from .problems import at_or_def, too_deep
from .pytree import containers
from .signature import Signature
from .source import code_signature
from .values import Traced, contains_traced

__all__ = ["TraceContext", "Traced", "signature", "trace", "traced"]

_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def signature(f):
    """(the Python function, its `Signature`) that `trace` specialises `f` by: a bound method's
    `self` and a functools.partial's arguments become the signature's prefix, the partial's
    keywords its keywords. Callers that look up their own caches by
    `Signature.describe` build it once."""
    from .calls import unwrap
    f, prefix, keywords = unwrap(f)
    if not isinstance(f, types.FunctionType):
        # (SciPy's ufuncs are np.ufuncs too: `np.` only for NumPy's own names)
        numpy = isinstance(f, np.ufunc) and getattr(np, getattr(f, "__name__", ""), None) is f \
            or (getattr(f, "__module__", None) or "") == "numpy"
        raise TraceError(f"adcompiler.trace needs a Python function, got {type(f).__name__}"
                         + (f": wrap it in one (lambda x: {'np.' * numpy}{f.__name__}(x))"
                            if hasattr(f, "__name__") and callable(f) else ""))
    return f, Signature(code_signature(f), f.__name__, prefix, keywords, f)


@user_facing
def trace(f, *args, **kwargs):
    """The IR of `f` specialised on these arguments (cached per function and signature), its
    signature binding this call's `self` or partial arguments (`Signature.for_caller`): one
    trace serves every object of a class, and `evaluate` runs it with the object given."""
    fn, sig = traced(f, *args, **kwargs)
    own = fn.meta["signature"].for_caller(sig)
    if own is fn.meta["signature"]:
        return fn
    out = copy.copy(fn)
    out.meta = {**fn.meta, "signature": own}
    return out


# one trace at a time (the interpreter keeps state in modules: values' journals, these
# caches); reentrant: a trace traces the functions it calls, the API compiles under it too
TRACING = threading.RLock()


def traced(f, *args, **kwargs):
    """(the cached IR of `f` specialised on these arguments, this call's `Signature`): the
    IR's own signature binds the object or partial it was first traced for."""
    with TRACING:
        return _traced(f, *args, **kwargs)


def _traced(f, *args, **kwargs):
    from ..ir import verify
    from .calls import _closure_of
    from .interpreter import Session, build_function
    from .source import code_of
    f, sig = signature(f)
    code = code_of(f)
    params, _, key = sig.describe(args, kwargs)
    # (a method's traces take `self` from the bound method, a partial's its arguments and
    # keywords: their signatures are not the function's own, which `Model.loss(m, x)` binds)
    cache = _CACHE.setdefault(f, {})
    entry = (len(sig.prefix), tuple(sig.keywords), key)
    if entry in cache and not changed(cache[entry].meta["reads"]):
        return cache[entry], sig
    session = Session()
    name = session.unique_name(re.sub(r"[^\w.]", "_", f.__name__.strip("<>")) or "f")
    defaults = {part[0] for part in key if part[1:] == ("default",)}
    saved = _entries_of([params[p] for p in defaults])
    try:
        fn, result = build_function(session, code, name, params, None, f.__globals__,
                                    _closure_of(f), exact_name=True, write_back=True,
                                    as_is=defaults)
    except AdcompilerError:         # names the user's line (the public entry drops our frames)
        _undo(session, saved)
        raise
    except RecursionError:
        _undo(session, saved)
        raise TraceError(too_deep(f.__qualname__), (code.filename, code.node.lineno),
                         f"def {code.name}") from None
    except Exception as e:      # a bug in adcompiler, not in the user's code: keep its cause
        raise AdcompilerError(f"internal error while tracing {f.__qualname__}: "
                              f"{type(e).__name__}: {e} (please report this)") from e
    sig.key, sig.result = key, result
    sig.written, sig.rebound = fn.meta["written"], fn.meta["rebound"]
    sig.returns_written = fn.meta["returns_written"]
    fn.meta["signature"] = sig
    session.reads.add_defaults(f)
    fn.meta["reads"] = session.reads.frozen()
    # (an empty *args or **kwargs is made afresh by each call: what it holds outlives nothing)
    held = leaked(fn.meta["reads"]) or next(
        ((f"its default argument {p}", params[p]) for p in defaults
         if contains_traced(params[p])
         and sig.pysig.parameters[p].default is not inspect.Parameter.empty), None)
    if held is not None:
        # (at the first run-time value stored in a container the leaked variable holds, found
        # before `_undo` empties them: an object is a node only while it holds an array)
        hits = sorted((session.stored_at[id(c)] for c in containers(held[1])
                       if id(c) in session.stored_at), key=lambda hit: hit[2])
        _undo(session, saved)
        raise TraceError(f"{f.__qualname__} puts a run-time value into {held[0]}, which "
                         "outlives the call: it would hold a placeholder of the trace, not "
                         "the value; return the value instead",
                         *at_or_def(hits[0][1] if hits else None, code))
    try:
        verify(fn)
    except ValueError as e:
        raise AdcompilerError(f"internal error: the frontend built invalid IR for "
                              f"{f.__qualname__}: {e}") from e
    _maybe_print(fn)
    _note_retrace(f, entry)     # (a trace that failed compiled nothing: not counted)
    cache[entry] = fn
    return fn, sig


def _entries_of(objects, depth=4) -> list:
    """(container, a copy of its entries) of the dicts and lists in `objects` (default
    arguments, which a trace changes as themselves): what `_undo` restores when the trace
    fails, so that the function still runs in Python (no placeholder of the trace left there)."""
    out, seen, todo = [], set(), [(x, depth) for x in objects]
    while todo:     # (a loop, not a closure calling itself: that is a reference cycle)
        x, left = todo.pop()
        if left == 0 or id(x) in seen or not isinstance(x, (dict, list, tuple)):
            continue
        seen.add(id(x))
        if not isinstance(x, tuple):
            out.append((x, dict(x) if isinstance(x, dict) else list(x)))
        todo += [(v, left - 1) for v in (x.values() if isinstance(x, dict) else x)]
    return out


def _undo(session, saved) -> None:
    """After a failed trace: the default arguments' containers (`saved`) and every dict or
    list the trace changed (`session.changed_at`) hold what they held before it, no
    placeholder of the trace (`LOG.append(loss)` before an error further on)."""
    _put_back(saved)
    _put_back([(c, before) for c, _, _, before in session.changed_at.values()
               if before is not None])


def _put_back(saved) -> None:
    for container, entries in saved:
        if isinstance(container, dict):
            container.clear()
            container.update(entries)
        else:
            container[:] = entries


_KEYS_TRACED: dict = {}     # code object -> [the keys it was traced for, retraces]
RETRACED = 8                # traces of a code object for a key traced before, then a warning


def _note_retrace(f, entry) -> None:
    """Warn, once, when `f`'s code is traced again and again for arguments it was traced for
    before: the values it reads from outside change (a global batch), or it is a new function
    each time (a lambda made in a loop), and each trace compiles anew."""
    if (f.__module__ or "").split(".")[0] == "adcompiler":
        return      # (a wrapper jacobian or hessian makes: the user's function is counted)
    seen = _KEYS_TRACED.setdefault(f.__code__, [set(), 0])
    if entry not in seen[0]:
        seen[0].add(entry)
        return
    seen[1] += 1
    if seen[1] == RETRACED:
        warn_at_caller(
            f"{f.__qualname__} was traced and compiled again {RETRACED} times for arguments it "
            "was compiled for before: the values it reads from outside (globals, closures, "
            "attributes of objects it is not given) changed, or it is a new function each "
            "time (a lambda or closure made in a loop). Pass values that change as arguments, "
            "and make the function once", RecompileWarning)


def _maybe_print(fn):
    try:
        from ..ir.passes import maybe_print
    except ImportError:         # the pass manager is optional for the frontend
        return
    maybe_print("frontend", fn)
