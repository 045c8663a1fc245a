"""Calls: the `__adcompiler_trace__` hook, NumPy functions and array methods, Python builtins,
user functions (inlined or specialised into separate IR functions) and foreign callables.

Contract (dispatch order):
1. an object with `__adcompiler_trace__` is called as `hook(ctx, args, kwargs)` (see context.py);
2. array methods (`x.sum`), NumPy table functions (numpy_api.py; all-static arguments are
   computed by NumPy itself, except array creation), the supported functions of
   scipy.special, scipy.linalg, scipy.spatial.distance and scipy.stats (special.py,
   scipy_linalg.py, scipy_distance.py, scipy_stats.py, once the user's program has imported
   them), `np.float32(x)`-style
   casts, builtins;
3. user functions - Python functions found through globals/closures (not NumPy's own) and
   nested defs/lambdas (`Closure`). A callee is specialised into a separate IR function of the
   module and called with a `call` op when it takes traced arguments, closes over no traced
   values, does not mutate its arguments in place, and its static arguments are hashable; the
   specialisation key is (function, argument structure and static values, leaf types), so
   identical layers share one function. Otherwise it is inlined (NumPy's aliasing then holds).
4. anything else runs in Python when no traced value reaches it (methods of lists and dicts
   may hold traced values); otherwise it is an error naming the function. A draw from a random
   generator the traced code did not seed itself is an error (randomness.py).
"""
from __future__ import annotations

import ast
import builtins
import dataclasses
import functools
import inspect
import re
import sys
import sysconfig
import types
from collections.abc import Iterator

import numpy as np

from ..errors import TraceError, UnsupportedSyntax
from . import (masked, numpy_api, outside, pybuiltins, pymath, randomness, scipy_distance,
               scipy_linalg, scipy_signal, scipy_stats, special, stdlib, text, ufuncs, vectorize)
from .analysis import MUTATING_METHODS
from .expressions import run_static
from .problems import FrontendError, api_misuse_located, reached_through, too_deep
from .pytree import (flatten, holder, is_model_object, is_node_class, set_entry,
                     typed_treedef, unflatten)
from .signature import split_outputs
from .source import code_of, code_of_node, code_signature
from .values import Traced, contains_traced, memory_of, sparse_matrix

# their functions run natively on static arguments (adcompiler's own API included: `grad(f)`
# inside traced code makes a gradient function, whose hook then traces the call)
_LIBRARIES = ("numpy", "scipy", "adcompiler")
_STDLIB = sysconfig.get_paths()["stdlib"]
_LIBRARY_MODULES: dict = {}         # top-level module name -> a library's?


class Closure:
    """A function defined while tracing (a nested `def` or a `lambda`)."""

    def __init__(self, tracer, code, frame, signature):
        self.tracer, self.code, self.frame, self.signature = tracer, code, frame, signature
        self.__name__ = code.name

    def __call__(self, *args, **kwargs):      # called by Python code (map, sorted's key, ...)
        return self.tracer.call(self, list(args), kwargs)

    def __repr__(self):
        return f"<traced function {self.code.name}>"


@dataclasses.dataclass
class Lifted:
    """A function defined while tracing, with the run-time arrays it closes over (`values`,
    name -> value) as the leaves of a pytree node: a transform's function that calls it takes
    them as arguments (context.py), and reading its name there gives it `bound` to them
    (interpreter.lookup), not to the function it is defined in, whose values belong to
    another IR function."""
    closure: Closure
    values: dict

    def bound(self, tracer) -> Closure:
        """The function, reading `values` before what its defining frame holds (one object
        for every read: `sdf is sdf`)."""
        from .interpreter import Frame
        if "_bound" not in vars(self):
            c = self.closure
            names = types.SimpleNamespace(locals=frozenset(self.values), name=c.code.name,
                                          filename=c.code.filename)
            frame = Frame(names, c.frame)
            frame.vars.update(self.values)
            self._bound = Closure(tracer, c.code, frame, c.signature)
        return self._bound


def lifts(code, frame, refuse, within=()) -> dict:
    """What a function (`code` defined in `frame`) closes over that a transform of it takes as
    arguments: run-time arrays, and the functions defined while tracing that read some
    (`Lifted`, with theirs; not again one being lifted, `within`: functions calling each
    other), by name. `refuse(closure, names)` for such a function reached another way (in a
    container or a partial), which stays an error."""
    out, within = {}, (*within, code)
    for n, v in sorted(_captured(code, frame).items()):
        if isinstance(v, Closure) and v.code not in within:
            v = lifted(v, refuse, within)
            if isinstance(v, Lifted):
                out[n] = v
        elif contains_traced(v):
            out[n] = v
        else:
            for inner in _closures([v]):
                names = sorted(k for k, w in _captured(inner.code, inner.frame).items()
                               if contains_traced(w))
                if names:
                    refuse(inner, names)
    return out


def lifted(c: Closure, refuse, within=()) -> Closure | Lifted:
    values = lifts(c.code, c.frame, refuse, within)
    return Lifted(c, values) if values else c


def _table_get(table, fn):
    try:
        return table.get(fn) if isinstance(table, dict) else fn in table
    except TypeError:          # unhashable callables are never in the tables
        return None


def library(module_name: str) -> bool:
    """Is this module (by name) one whose functions run natively on static arguments? The
    standard library's are too (`copy.copy` or `statistics.mean` of run-time arrays is an
    error at the user's line, not one inside the library), found by where they are: a user's
    module may be named like one (`trace.py`)."""
    top = module_name.split(".")[0]
    hit = _LIBRARY_MODULES.get(top)
    if hit is None:
        file = getattr(sys.modules.get(top), "__file__", None) or ""
        hit = _LIBRARY_MODULES[top] = top in _LIBRARIES or top in sys.stdlib_module_names \
            and (not file or file.startswith(_STDLIB))
    return hit


def _is_user(fn) -> bool:
    module = getattr(fn, "__module__", None) or ""
    return isinstance(fn, types.FunctionType) and not library(module)


def user_call_method(obj):
    """`obj.__call__` where `obj` is an instance of a user's class that defines one (a method,
    static or class method), else None."""
    if isinstance(obj, (type, types.FunctionType, types.MethodType, types.BuiltinFunctionType)):
        return None
    call = getattr(type(obj), "__call__", None)
    if call is None or not _is_user(getattr(call, "__func__", call)):
        return None
    return getattr(obj, "__call__")


def unwrap(fn):
    """(the function, the arguments that come before the caller's, the keywords that are its
    defaults) of a callable given to a transform: a functools.partial's arguments and keywords,
    then a layer object's `__call__` and a bound method's `self`."""
    first, keywords = (), {}
    if isinstance(fn, functools.partial):
        fn, first, keywords = fn.func, fn.args, fn.keywords
    if not transformed(fn):
        fn = getattr(fn, "__adcompiler_entry__", fn)     # errors.user_facing's wrapper
    if transformed(fn):
        fn = calling(fn)       # what grad or jit returned: grad(grad(f)), jvp(grad(f), ...)
    fn = user_call_method(fn) or fn
    if isinstance(fn, types.MethodType):
        fn, first = fn.__func__, (fn.__self__, *first)
    if decorated(fn) or transformed(fn):    # (a method decorated with grad or jit)
        fn = calling(fn)
    return fn, first, keywords


def decorated(fn) -> bool:
    """Is `fn` a user's function a decorator made with functools.wraps, whose wrapper passes
    its arguments on (`*args, **kwargs`)? Its code is the wrapper's, while inspect.signature
    (so a `wrt`) describes the function it wraps. (A wrapper with parameters of its own is
    traced and called with those.)"""
    if not (_is_user(fn) and hasattr(fn, "__wrapped__")):
        return False
    passing = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return all(p.kind in passing for p in code_signature(fn).parameters.values())


def parameters_of(fn) -> inspect.Signature:
    """The parameters a transform's `wrt` names or counts: those of the function a grad or
    jit object transforms, of the function a passing-on wrapper wraps, else fn's own (a
    functools.partial: those its function's leave; a function defined in traced code: its
    own, not its `Closure.__call__`'s)."""
    if isinstance(fn, Closure):
        return fn.signature
    if isinstance(fn, types.MethodType) and transformed(fn.__func__):
        fn = functools.partial(fn.__func__, fn.__self__)    # a method decorated with grad or jit
    if isinstance(fn, functools.partial):
        def unbound(*args, **kwargs):
            pass
        unbound.__signature__ = parameters_of(fn.func)
        return inspect.signature(functools.partial(unbound, *fn.args, **fn.keywords))
    return inspect.signature(calling(fn) if transformed(fn) or decorated(fn) else fn,
                             follow_wrapped=False)


def transformed(fn) -> bool:
    """Is `fn` what an adcompiler transform returned, traced by its own `__adcompiler_trace__`:
    an object grad or jit made, or a function jacobian or hessian made?"""
    return hasattr(fn, "__adcompiler_trace__") and (
        getattr(fn, "__adcompiler_transform__", False) or not isinstance(fn, types.FunctionType)
        and type(fn).__module__.split(".")[0] == "adcompiler")


def transformed_function(g):
    """The function a chain of transforms (`grad(grad(f))`, `hessian(f)`) transforms; `g`
    itself where it is none."""
    while transformed(g) and hasattr(g, "fun"):
        g = g.fun
    return g


def calling(g):
    """A Python function calling `g` (what grad or jit returned, or a decorated function), with
    the parameters of the function g transforms or wraps (so a `wrt` names or counts them),
    one per `g` (so its traces are cached). Traced, it traces g's call: for a transform
    `__adcompiler_trace__`, which differentiates or compiles g's function inside it; for a
    decorated function the wrapper's own code. Its source is made here: its AST is registered
    with source.py, which has no file to read it from."""
    from .source import register
    # (functools.wraps copies the wrapped function's attributes: one it made may be there)
    if "_calls" in vars(g) and g._calls.__globals__["__transformed"] is g:
        return g._calls
    sig = inspect.signature(transformed_function(g))       # grad(grad(f)): f's parameters
    namespace = {"__transformed": g, "__name__": __name__}
    kind = inspect.Parameter
    params, passed = [], []
    for k, p in enumerate(sig.parameters.values()):
        if p.default is not kind.empty:     # (a default's own text may not be Python)
            namespace[f"__default{k}"] = p.default
            p = p.replace(default=_Named(f"__default{k}"))
        params.append(p.replace(annotation=kind.empty))
        passed.append({kind.VAR_POSITIONAL: "*", kind.VAR_KEYWORD: "**"}.get(p.kind, "")
                      + (f"{p.name}={p.name}" if p.kind is kind.KEYWORD_ONLY else p.name))
    text = str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))
    filename = "<adcompiler-calls-" + re.sub(r"\W", "_", getattr(g, "__name__", "f")) + ">"
    source = f"def calls{text}:\n    return __transformed({', '.join(passed)})\n"
    exec(compile(source, filename, "exec"), namespace)      # noqa: S102 (our own text)
    fn = namespace["calls"]
    fn.__name__ = fn.__qualname__ = getattr(g, "__name__", "f")
    register(fn, ast.parse(source).body[0], filename)
    g._calls = fn       # (a reference cycle, which the garbage collector frees with g)
    return fn


class _Named:
    """A default value written as the name it is bound to (calling's parameter text)."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


def bind_params(name, signature, args, kwargs) -> dict:
    """Parameter name -> argument, defaults applied; a bad call names the callee `name`."""
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as e:
        raise FrontendError(f"{name}(): {e}") from None
    bound.apply_defaults()
    return dict(bound.arguments)


def _is_own(fn) -> bool:
    module = getattr(fn, "__module__", None) or ""
    return isinstance(fn, types.FunctionType) and module.split(".")[0] == "adcompiler"


def _container_method(fn) -> bool:
    """A method of a container (a named tuple's `_replace` and `_asdict` too), or
    dataclasses.replace: run natively on the holders of run-time arrays it gets."""
    owner = getattr(fn, "__self__", None)
    return isinstance(fn, types.BuiltinMethodType) and isinstance(owner, (list, dict, tuple, str)) \
        or isinstance(owner, tuple) and hasattr(owner, "_fields") \
        and getattr(fn, "__name__", "") in ("_replace", "_asdict") or fn is dataclasses.replace


def _name(fn) -> str:
    """How the user spells a callable (`np.linalg.norm`, `len`, `helper`)."""
    if isinstance(fn, np.vectorize):
        return "np.vectorize"
    module = getattr(fn, "__module__", None) or ""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if name is None:
        return repr(fn)     # an object (operator.itemgetter(0))
    ufunc = type(fn).__name__ == "ufunc" and getattr(np, getattr(fn, "__name__", ""), None) is fn
    if module.split(".")[0] == "numpy" or ufunc:     # (SciPy's ufuncs have no module: their name)
        public = [p for p in module.split(".")[1:] if not p.startswith("_")]
        return ".".join(["np", *public, getattr(fn, "__name__", name)])
    if module in ("math", "operator", "_operator"):
        return f"{module.lstrip('_')}.{name}"
    return name


def _instead(fn) -> str:
    """What to write for a function of Python's `math` or `operator` modules on run-time
    values that pymath or stdlib lacks (NumPy's of that name, the operator), a random
    generator made from a run-time seed, or a scipy.sparse matrix's method."""
    module, name = getattr(fn, "__module__", None), getattr(fn, "__name__", "")
    if module == "math" and isinstance(getattr(np, name, None), np.ufunc):
        return f"; np.{name} is"
    if module in ("operator", "_operator"):
        return "; write the operator itself"
    if sparse_matrix(getattr(fn, "__self__", None)):
        return f": it is a method of {sparse_matrix(fn.__self__)}"
    if fn in randomness.SEEDED or isinstance(fn, type) and issubclass(fn, randomness.GENERATORS):
        return ("; a generator's seed must be static: pass it as a Python int (each seed is "
                "then compiled once), or draw outside and pass the draws in")
    return ""


_SIGS: dict = {}


# builtins that look at an object, not at its arrays' values: they run on a model object
# holding run-time arrays as on any other (`vars(layer).items()`, `type(layer)`), not on a
# run-time array itself (its stand-in is not the ndarray they would look at); hasattr is
# pybuiltins' (a model object's __getattr__ is traced)
_INTROSPECTION = {builtins.vars, builtins.type, builtins.id, builtins.callable, builtins.dir}

# modules whose functions a trace may run natively again without a change anyone sees
_PURE = ("math", "cmath", "operator")

_READERS = {"get", "keys", "values", "items", "copy", "index", "count", "__contains__",
            "__len__", "__iter__", "issubset", "issuperset", "isdisjoint", "union",
            "intersection", "difference"}   # dict, list and set methods that read entries


def _bind(handler, args, kwargs, what, fn=None):
    """Check a call's arguments against a handler's parameters (cx first) and return them bound;
    a keyword that the handler lacks and NumPy's function `fn` takes is named as not
    supported, not as a typo."""
    sig = _SIGS.get(handler)
    if sig is None:
        sig = _SIGS[handler] = inspect.signature(handler)
    try:
        return sig.bind(None, *args, **kwargs)
    except TypeError as e:
        theirs = [k for k in kwargs if k not in sig.parameters and _takes(fn, k)]
        if theirs:
            raise FrontendError(f"{what}: the keyword {theirs[0]}= is not supported"
                                + ("; assign the result" if theirs[0] == "out" else "")) from None
        raise FrontendError(f"{what}: {e}") from None


def _takes(fn, keyword: str) -> bool:
    """Does NumPy's function (ufunc, array method) `fn` take `keyword` (by name: not only
    through a **kwargs)? Where no signature says, only `out`, which they all take."""
    try:
        p = inspect.signature(fn).parameters.get(keyword)
    except (TypeError, ValueError):
        return keyword == "out"
    return p is not None and p.kind is not inspect.Parameter.VAR_KEYWORD


class CallsMixin:
    def expr_Call(self, node):
        # a reduction of reads at a run-time mask (np.sum(x[m]), x[m].mean(axis=0)): masked.py
        kind, args = masked.method(node), []
        if kind:
            value, reads = masked.evaluate(self, node.func.value)
            if reads.mask is not None:
                return masked.reduce(self, kind, value, reads, **masked.options(self, node, 0))
            fn = self.attribute(value, node.func.attr)      # (np.sum's name is one too)
        else:
            fn = self.eval(node.func)
        kind = masked.reducer(fn, node)
        if kind:
            value, reads = masked.evaluate(self, node.args[0])
            if reads.mask is not None:
                return masked.reduce(self, kind, value, reads, **masked.options(self, node, 1))
            args.append(value)
        for a in node.args[len(args):]:
            if isinstance(a, ast.Starred):
                args.extend(self.iterate(self.eval(a.value)))
            else:
                args.append(self.eval(a))
        kwargs = {}
        for kw in node.keywords:
            if kw.arg is None:
                given = self.eval(kw.value)
                self.watch_whole(given)         # (f(x, **CFG): CFG's entries are read)
                kwargs.update(run_static(dict, given))
            else:
                kwargs[kw.arg] = self.eval(kw.value)
        try:
            return self.call(fn, args, kwargs)
        except (TraceError, UnsupportedSyntax) as e:
            reached_through(e, (self.filename, node.lineno))
            raise

    def call(self, fn, args, kwargs):
        if isinstance(fn, types.MethodType) and transformed(fn.__func__):
            # a method decorated with grad or jit: the object is its first argument
            fn, args = fn.__func__, [fn.__self__, *args]
        # a class that defines the hook is constructed natively; its instances are hooked
        hook = (getattr(fn, "__adcompiler_trace__", None)
                if not isinstance(fn, (Traced, type)) else None)
        if hook is not None and callable(hook):
            from .context import TraceContext
            with api_misuse_located():
                return hook(TraceContext(self), tuple(args), dict(kwargs))
        if isinstance(fn, numpy_api.BoundMethod):
            # (NumPy's function of the method's name has the keywords a method hides in
            # **kwargs: x.std(mean=...))
            bound = _bind(numpy_api.METHODS[fn.name], [fn.tensor] + list(args), kwargs,
                          f".{fn.name}()",
                          getattr(np, fn.name, None) or getattr(np.ndarray, fn.name, None))
            if bound.arguments.get("out") is not None:  # (named here as the method it is)
                raise FrontendError(f".{fn.name}(out=...) is not supported; assign the result")
            return fn(self, *args, **kwargs)
        handler = _table_get(numpy_api.FUNCTIONS, fn)
        if handler is None:
            handler = _table_get(special.functions(), fn) or \
                _table_get(scipy_linalg.functions(), fn) or \
                _table_get(scipy_distance.functions(), fn) or \
                _table_get(scipy_signal.functions(), fn) or \
                _table_get(scipy_stats.functions(), fn) or scipy_stats.frozen_method(fn) or \
                _table_get(pymath.FUNCTIONS, fn)
        if handler is not None:
            if fn in numpy_api.ALWAYS_TRACED or contains_traced((args, kwargs)):
                _bind(handler, args, kwargs, _name(fn), fn)
                return handler(self, *args, **kwargs)
            self.watch_arguments(args, kwargs)
            return run_static(fn, *args, **kwargs)
        if _table_get(numpy_api.DTYPE_TYPES, fn) and contains_traced(args):
            return numpy_api.as_dtype(self, fn, *args)
        builtin = _table_get(pybuiltins.BUILTINS, fn)
        if builtin is not None:
            _bind(builtin, args, kwargs, _name(fn))
            return builtin(self, *args, **kwargs)
        if isinstance(fn, stdlib.GETTERS):
            return stdlib.getter(self, fn, *args, **kwargs)
        library_fn = _table_get(stdlib.FUNCTIONS, fn)
        if library_fn is not None:      # (an iterator's items may be run-time values)
            _bind(library_fn, args, kwargs, _name(fn))
            return library_fn(self, *args, **kwargs)
        if isinstance(fn, Closure):
            return self.call_user(fn.code, fn.signature, args, kwargs, fn.frame, None, None,
                                  fn.code.node)
        if fn is functools.partial:     # (made here: its function and arguments as they are,
            return functools.partial(*args, **kwargs)   # not wrapped for native code)
        if isinstance(fn, functools.partial):
            self.watch_whole(fn.keywords)       # a dict the caller may change in place
            return self.call(fn.func, list(fn.args) + list(args), {**fn.keywords, **kwargs})
        if isinstance(fn, types.MethodType) and _is_user(fn.__func__):
            return self.call(fn.__func__, [fn.__self__] + list(args), kwargs)
        call = user_call_method(fn)
        if call is not None:
            return self.call(call, args, kwargs)        # a layer object
        traced = contains_traced((args, kwargs))
        owner = getattr(fn, "__self__", None)
        if traced and isinstance(owner, np.ufunc) and fn.__name__ in ufuncs.METHODS:
            method = ufuncs.METHODS[fn.__name__]      # np.add.at, np.maximum.reduce
            _bind(method, [owner, *args], kwargs, f"{ufuncs.spelled(owner)}.{fn.__name__}", fn)
            return method(self, owner, *args, **kwargs)
        if _is_user(fn) or _is_own(fn) and traced:
            # adcompiler's own helpers (optimisers, layers) are traced like user code when
            # they get run-time arrays, and run natively on static arguments (`grad(f)`)
            self.session.reads.add_defaults(fn)
            return self.call_user(code_of(fn), code_signature(fn), args, kwargs, None,
                                  fn.__globals__, _closure_of(fn), fn)
        if isinstance(fn, type) and is_node_class(fn):
            return fn(*args, **kwargs)    # a named tuple or dataclass holding them (pytree.py)
        if traced and isinstance(fn, type) and not library(fn.__module__ or "") \
                and not dataclasses.is_dataclass(fn):
            raise FrontendError(f"building a {fn.__name__} from run-time arrays inside traced code "
                                "is not supported: build it outside and pass it in (its arrays "
                                "are then run-time values), or make it a dataclass or named "
                                "tuple")
        if traced and isinstance(fn, type) and dataclasses.is_dataclass(fn) \
                and hasattr(fn, "__post_init__"):
            raise FrontendError(f"building a {fn.__name__} from run-time arrays inside traced code "
                                "is not supported: its __post_init__ would run as Python on "
                                "them; compute what it does in a function, or build it outside")
        if traced and isinstance(getattr(fn, "__self__", None), randomness.NUMPY_GENERATORS) \
                and getattr(fn, "__name__", "") in randomness.REPARAMETERISED:
            params = randomness.REPARAMETERISED[fn.__name__][0]
            return randomness.reparameterised(self, fn, bind_params(
                fn.__name__, inspect.signature(params), args, kwargs))
        if traced and isinstance(fn, np.vectorize):
            return vectorize.call(self, fn, args, kwargs)
        if traced and not _container_method(fn) and not (
                _table_get(_INTROSPECTION, fn) and not any(isinstance(a, Traced) for a in args)):
            if _is_own(getattr(fn, "__func__", None)):      # an optimiser's update
                raise FrontendError(f"{_name(fn)} runs compiled code of its own on NumPy "
                                    "arrays: call it outside the traced function (on what "
                                    "jit or value_and_grad returned)")
            raise FrontendError(f"{_name(fn)} is not supported on run-time arrays by adcompiler"
                                + _instead(fn))
        if _is_own(fn):
            return run_static(fn, *args, **kwargs)    # e.g. grad(f): it traces f itself
        if fn is eval or fn is exec:    # (run here, it would read the tracer's names, not yours)
            raise FrontendError(f"{fn.__name__}() is not supported in traced code: write the "
                                "code out")
        if isinstance(getattr(fn, "__self__", None), str) and fn.__name__ == "format" \
                and text.dynamic((args, kwargs)):
            return run_static(text.formatted, fn.__self__, args, kwargs,   # for print
                              self.subscript)
        if isinstance(getattr(fn, "__self__", None), str) and fn.__name__ == "join" \
                and len(args) == 1 and isinstance(args[0], (list, tuple)) \
                and text.dynamic(args[0]):
            return run_static(text.joined, fn.__self__, args[0])
        if _container_method(fn) and fn.__name__ in MUTATING_METHODS:
            self.check_writable_container(fn.__self__, (args, kwargs))
        elif not _container_method(fn) and text.holds_text((args, kwargs)):
            # (a library such as logging would swallow the error reading it, and print a
            # traceback of ours)
            raise FrontendError(f"{_name(fn)} gets text made from run-time values, which exists "
                                "only when the compiled code runs: print shows it (and an "
                                "assert's message)")
        randomness.check_draw(self.session, fn)
        self.watch_method(fn, args)
        self.watch_arguments(args, kwargs)
        if not _container_method(fn) and getattr(fn, "__module__", None) not in _PURE:
            self.session.native_calls += 1      # (loops.try_for: it may have side effects)
        result = run_static(fn, *(self.foreign(a) for a in args),
                            **{k: self.foreign(v) for k, v in kwargs.items()})
        randomness.note_seeded(self.session, args, kwargs, result)
        if isinstance(result, Iterator):    # (itertools.count(), iter(range(3)))
            self.made_iterator(result)
        return result

    def watch_method(self, fn, args):
        """Note what a dict's, list's or set's reading method reads (outside.py)."""
        owner = getattr(fn, "__self__", None)
        if not isinstance(owner, (dict, list, set, frozenset)) \
                or getattr(fn, "__name__", "") not in _READERS:
            return
        if fn.__name__ == "get" and isinstance(owner, dict) and args:
            self.watch_item(owner, args[0])
        elif fn.__name__ == "__contains__" and args:
            self.watch_member(args[0], owner)
        else:
            self.watch_whole(owner)

    def watch_arguments(self, args, kwargs):
        """Note the dicts, lists and sets a function run natively reads whole (np.array(WEIGHTS),
        np.stack(LAYERS), dict(CFG), np.array(TABLE) of rows): an entry set later is a change
        (outside.py). Of nested ones, as many as hold `outside.SNAPSHOT_ITEMS` entries in all:
        each is compared on every call (a 200x200 table of lists: 1.3 ms a call)."""
        for a in (*args, *kwargs.values()):
            if self.built_here(a):      # (lists the trace builds, np.array([a, b]), are its own)
                continue
            self.watch_whole(a)         # (a bigger one than the budget: as one object)
            budget, todo = outside.SNAPSHOT_ITEMS, [(a, 4)]
            while todo:                 # (depth first, in order, as a recursion would)
                x, depth = todo.pop()
                if isinstance(x, (dict, list, tuple, set, frozenset)) and depth \
                        and not self.built_here(x) and len(x) <= budget:
                    budget -= len(x)
                    self.watch_whole(x)     # (a tuple cannot change: only its entries)
                    items = list(x.values() if isinstance(x, dict) else x)
                    todo += [(v, depth - 1) for v in reversed(items)]

    def foreign(self, x):
        """A user function handed to Python code (map, sorted's key) still gets traced."""
        if _is_user(x):
            def traced(*a, **k):
                return self.call(x, list(a), k)
            traced.user_function = x       # (np.vectorize's pyfunc: vectorize.call traces x)
            return traced
        return x

    # -- user functions --------------------------------------------------------------------
    def make_closure(self, node):
        code = code_of_node(node, self.filename)
        args = node.args
        positional = args.posonlyargs + args.args
        defaults = [self.eval(d) for d in args.defaults]
        first_default = len(positional) - len(defaults)
        params = []
        kind = inspect.Parameter
        for i, a in enumerate(positional):
            params.append(kind(a.arg, kind.POSITIONAL_ONLY if a in args.posonlyargs
                               else kind.POSITIONAL_OR_KEYWORD,
                               default=defaults[i - first_default] if i >= first_default
                               else kind.empty))
        if args.vararg:
            params.append(kind(args.vararg.arg, kind.VAR_POSITIONAL))
        for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True):
            params.append(kind(a.arg, kind.KEYWORD_ONLY,
                               default=self.eval(d) if d is not None else kind.empty))
        if args.kwarg:
            params.append(kind(args.kwarg.arg, kind.VAR_KEYWORD))
        return Closure(self, code, self.frame.scope or self.frame, inspect.Signature(params))

    def call_user(self, code, signature, args, kwargs, parent, globals_, closure, ident):
        params = bind_params(code.name, signature, args, kwargs)
        spec = self.specialise(code, params, parent, ident)
        self.session.call_sites.append(self.builder.loc)
        try:
            if spec is None:
                return self.inline(code, params, parent, globals_, closure)
            fn, leaves, result = self.build_callee(spec, code, params, parent, globals_, closure)
            if fn.meta["returns_aliases"]:      # (a call's results are arrays of their own)
                return self.inline(code, params, parent, globals_, closure)
        except RecursionError:      # raised again at the innermost call, which it names
            raise FrontendError(too_deep(code.name)) from None
        finally:
            self.session.call_sites.pop()
        op = self.emit("call", [t.value for t in leaves], {"callee": fn.name},
                       result_types=fn.result_types, hints=[code.name] * len(fn.result_types))
        if self.builder.block is not self.top and _sets_attributes(fn, params):
            raise FrontendError(f"{code.name} sets an attribute of a model object, which is not "
                                "supported inside a run-time if or loop")
        return returned(fn, params, leaves, result, op.results)

    def specialise(self, code, params, parent, ident):
        """The specialisation key of a call kept as a separate function, or None to inline."""
        leaves = flatten(params, lambda v: isinstance(v, Traced))[0]
        if code.mutates_params or not leaves or _aliased(leaves):
            return None     # a callee is traced with each argument its own array: inline
        if getattr(getattr(self, "masked", None), "mask", None) is not None:
            return None     # (given a masked read, masked.py: its ops are checked)
        if any(lifts(c.code, c.frame, lambda *_: None) for c in _closures(params)):
            return None     # it gets a function closing over this one's arrays (or calling
                            # one that does): inline
        key = signature_key(code, params, parent, ident)
        if key is None or (key, self.session.unroll_limit) in self.session.active:
            return None                     # recursion: inline (static recursion terminates)
        return key, self.session.unroll_limit

    def build_callee(self, key, code, params, parent, globals_, closure):
        """(IR function, traced argument leaves, result structure) of a specialised call."""
        from .interpreter import Spec, build_function
        leaves, treedef = flatten(params, lambda v: isinstance(v, Traced))
        entry = self.session.callees.get(key)
        if entry is None:
            specs = unflatten(treedef, [Spec(t.type, t.weak) for t in leaves])
            self.session.active.add(key)
            try:
                entry = build_function(self.session, code, code.name, specs, parent,
                                       globals_, closure, write_back=True)
            finally:
                self.session.active.discard(key)
            self.session.callees[key] = entry
        fn, result = entry
        return fn, leaves, result

    def inline(self, code, params, parent, globals_, closure):
        from .interpreter import Frame
        frame = Frame(code, parent, globals_, closure)
        frame.vars.update(params)
        frame.via = self.builder.loc
        saved = (self.builder.loc, self.fresh, self.named, getattr(self, "return_line", None))
        collected = set()
        self.collectors.append(collected)
        try:
            result = self.run_frame(frame)
        finally:
            self.collectors.pop()     # (remove() compares sets by value: an inner one's)
            self.builder.loc, self.fresh, self.named, self.return_line = saved
        self.fresh |= collected       # the caller may name what the callee built
        return result


def _closures(params) -> list:
    """The functions defined while tracing among a call's arguments, also those a transform
    of one holds (`hessian(lambda v: ...)`, `grad` of one: traced inside the callee)."""
    out = []
    for v in flatten(params, lambda v: isinstance(v, (Closure, functools.partial))
                     or transformed(v))[0]:
        v = transformed_function(v)
        if isinstance(v, functools.partial):        # (its function and its arguments)
            out += _closures([v.func, v.args, v.keywords])
        elif isinstance(v, Closure):
            out.append(v)
    return out


def _aliased(leaves) -> bool:
    """Whether two of a call's traced argument leaves may be one array (or views of one):
    a separate callee, traced with each argument its own array, would not see a change of
    one through the other (`h(x, x)` with `q = a; q += 1` reading `b` after)."""
    chains: dict = {}
    for k, t in enumerate(leaves):
        for h in (t, *t.bases()):
            chains.setdefault(id(h), set()).add(k)
    return any(k2 != k for k, t in enumerate(leaves) for h in memory_of(t)
               for k2 in chains.get(id(h), ()))


def signature_key(code, params, parent, ident):
    """(function, argument structure with typed static values, leaf types, captured statics);
    None when a static value is unhashable or the function closes over traced values."""
    leaves, treedef = flatten(params, lambda v: isinstance(v, Traced))
    captured = tuple(sorted(_captured(code, parent).items()))
    if contains_traced([v for _, v in captured]):
        return None
    key = (ident, typed_treedef(treedef), tuple((t.type, t.weak) for t in leaves), captured)
    try:
        hash(key)
    except TypeError:
        return None
    return key


class _Cells(dict):
    """A function's bound free variables, name -> value, with the cells they are in (`cells`):
    a trace notes the cells it read, to see them rebound later (outside.py)."""


def _closure_of(fn) -> dict:
    out = _Cells()
    out.cells = {}
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=True):
        try:
            out[name] = cell.cell_contents
        except ValueError:          # an empty cell: the name is not bound yet
            continue
        out.cells[name] = cell
    return out


def _captured(code, parent) -> dict:
    """Values a nested function reads from the traced functions enclosing it."""
    if parent is None:
        return {}
    from .analysis import loaded_names
    out = {}
    for name in loaded_names([code.node]) - code.locals:
        p = parent
        while p is not None:
            if name in p.code.locals and name in p.vars:
                out[name] = p.vars[name]
                break
            p = p.parent
    return out


def _sets_attributes(fn, params) -> bool:
    """Whether the separate function `fn` sets an attribute of a model object in `params`."""
    return any(is_model_object(holder(params, keys)) for _, keys, _ in fn.meta["rebound"])


def returned(fn, params, leaves, result, ir_results):
    """What a call of the separate function `fn` with `params` (traced argument `leaves`)
    returns, from the call's IR results; the arguments `fn` changed in place and the entries of
    argument containers it set (its last results) are changed in the caller too, as NumPy's
    and Python's are (a callee that changes an argument through another name, `y = x;
    y += 1` or `q = p; q["w"] = ...`, is not inlined)."""
    written, rebound = fn.meta["written"], fn.meta["rebound"]
    values, arrays, entries = split_outputs(written, rebound, ir_results)
    for i, value in zip(written, arrays, strict=True):
        leaves[i].update(value)
    for (_, keys, weak), value in zip(rebound, entries, strict=True):
        set_entry(params, keys, Traced(value, weak=weak))
    return _rebuild(result, values)


def _rebuild(result, ir_results):
    """The callee's result structure with its traced leaves replaced by the call's results."""
    from . import carry
    leaves, struct = carry.split(result)
    it = iter(ir_results)
    out = [Traced(next(it), weak=x.weak) if isinstance(x, Traced) else x for x in leaves]
    return carry.build(struct, out)
