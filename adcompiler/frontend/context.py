"""`TraceContext`: what an object's `__adcompiler_trace__(ctx, args, kwargs)` hook receives.

This is the frontend's extension point (used by autodiff for stop_gradient, custom_vjp and
user-declared elementwise functions). The hook gets the call's arguments as the interpreter
holds them - `Traced` values for run-time arrays, plain Python values for static ones - and
returns the call's value the same way (a pytree of `Traced` and static values).

The API, small on purpose:
- `ctx.builder`: the `ir.Builder` at the current insertion point (its `loc` is the user's line);
  `ctx.loc`, `ctx.module` (the `ir.Module` receiving specialised functions).
- `ctx.is_traced(x)`; `ctx.Traced` (the class).
- `ctx.emit(op, *operands, hint=None, **attrs)`: one registry op; operands may be `Traced`,
  `ir.Value`s or static numbers (made constants of the first traced operand's dtype); returns a
  `Traced` (a tuple for several results). Shape errors become TraceErrors at the user's line.
- `ctx.value(x, dtype=None) -> ir.Value`, `ctx.tensor(x, dtype=None) -> Traced`,
  `ctx.wrap(value, weak=False) -> Traced`: conversions (NumPy's rules for static data).
- `ctx.call(fn, *args, **kwargs)`: call `fn` as the traced program would (traced as user code,
  inlined or as a `call` op).
- `ctx.function(fn, *args, **kwargs) -> (ir_function, operands, rebuild)`: specialise a Python
  function on these arguments into a separate IR function of the module without calling it;
  `operands` are the ir.Values to pass, `rebuild(results)` turns the results of whatever op
  calls it into the Python-level return value and changes the arguments the function changes
  in place and the container entries it sets (its last results, `meta["written"]` and
  `meta["rebound"]`) in the caller: call it once per call, even where the value is not wanted.
  `rebuild.result` is the return value's structure before any call (its traced leaves are the
  function's own), for counting its arrays.
- `with ctx.unrolling(n):` static loops of up to n iterations are unrolled, not loop ops.
- `ctx.error(message)`: a TraceError naming the user's line, to raise.
"""
from __future__ import annotations

import contextlib
import inspect

from ..errors import TraceError, is_ours
from ..ir import Value
from .problems import FrontendError
from .values import Traced, contains_traced


class TraceContext:
    Traced = Traced

    def __init__(self, tracer):
        self._tracer = tracer

    @property
    def builder(self):
        return self._tracer.builder

    @property
    def loc(self):
        return self._tracer.builder.loc

    @property
    def module(self):
        return self._tracer.session.module

    @staticmethod
    def is_traced(x) -> bool:
        return isinstance(x, Traced)

    def watch(self, obj, name: str) -> None:
        """The trace read attribute `name` of `obj`: one rebound later traces it again."""
        self._tracer.session.reads.add("attr", obj, name)

    def watch_function(self, fun) -> None:
        """The trace read the globals and closure variables `fun`'s code reads: one rebound
        later traces it again."""
        reads = self._tracer.session.reads
        for name in fun.__code__.co_names:
            if name in fun.__globals__:
                reads.add("global", fun.__globals__, name)
        for cell in fun.__closure__ or ():
            reads.add("cell", cell)

    @contextlib.contextmanager
    def unrolling(self, limit: int):
        """Within it, static loops of up to `limit` iterations are unrolled (what `function`
        builds then is specialised on that too)."""
        session = self._tracer.session
        saved, session.unroll_limit = session.unroll_limit, max(limit, session.unroll_limit)
        try:
            yield
        finally:
            session.unroll_limit = saved

    def error(self, message: str) -> TraceError:
        """A TraceError at the statement being traced, or, in adcompiler's own code, at the
        user's call that reached it (`Tracer.users_call`)."""
        loc = self.loc
        if loc and is_ours(loc[0]):
            loc = self._tracer.users_call() or loc
        return TraceError(message, loc)

    def _guard(self, thunk):
        try:
            return thunk()
        except FrontendError as e:
            raise self.error(e.message) from None

    def emit(self, name: str, *operands, hint=None, **attrs):
        t = self._tracer
        dtype = next((o.dtype if isinstance(o, Traced) else o.type.dtype
                      for o in operands if isinstance(o, (Traced, Value))), None)

        def build():
            vals = [o if isinstance(o, Value) else t.value(o, None if isinstance(o, Traced)
                                                           else dtype) for o in operands]
            out = t.op(name, *vals, hint=hint, **attrs)
            return tuple(t.wrap(v) for v in out) if isinstance(out, tuple) else t.wrap(out)
        return self._guard(build)

    def value(self, x, dtype=None):
        return self._guard(lambda: self._tracer.value(x, dtype))

    def tensor(self, x, dtype=None) -> Traced:
        return self._guard(lambda: self._tracer.tensor(x, dtype))

    def wrap(self, value, weak: bool = False) -> Traced:
        return Traced(value, weak=weak)

    def call(self, fn, *args, **kwargs):
        return self._guard(lambda: self._tracer.call(fn, list(args), kwargs))

    def check_transformable(self, fn) -> None:
        """A transform of a function defined in traced code that closes over run-time arrays
        there lifts them to arguments of the function it builds, with those of the functions
        defined there that it calls (calls.lifts); one transformed again (a hessian of it, a
        grad of a function calling its grad) is refused: that function, built inside the
        transform's, would read this one's arrays."""
        from .calls import _captured, _closures, transformed
        if not transformed(fn):
            return
        todo, seen = _closures([fn]), set()
        while todo:
            c = todo.pop()
            if id(c) in seen:
                continue
            seen.add(id(c))
            captured = _captured(c.code, c.frame)
            todo += _closures(list(captured.values()))
            names = sorted(n for n, v in captured.items() if contains_traced(v))
            if names:
                _refuse(c, names)

    def function(self, fn, *args, **kwargs):
        from .calls import (Closure, _aliased, _closure_of, bind_params, lifts, returned,
                            signature_key, unwrap)
        from .source import code_of, code_signature, with_locals
        t = self._tracer
        self.check_transformable(fn)
        fn, first, keywords = unwrap(fn)    # a partial, layer object or bound method
        args, kwargs = (*first, *args), {**keywords, **kwargs}

        def build():
            if isinstance(fn, Closure):
                code, sig, parent, glb, clo = fn.code, fn.signature, fn.frame, None, None
            else:
                code, sig, parent = code_of(fn), code_signature(fn), None
                glb, clo = fn.__globals__, _closure_of(fn)
            params = bind_params(code.name, sig, args, kwargs)
            lifted = lifts(code, parent, _refuse)
            if lifted:
                # the run-time arrays it closes over (`grad(lambda w: loss(w, x))` in traced
                # code), and the helpers defined there that it calls with theirs, are its
                # arguments after its own, which vjp and grad do not differentiate
                code = with_locals(code, lifted)
                params = {**params, **lifted}
            key = signature_key(code, params, parent, code.node)
            key = ("ctx.function", key if key is not None else object(),
                   t.session.unroll_limit)
            ir_fn, leaves, result = t.build_callee(key, code, params, parent, glb, clo)
            if ir_fn.meta["written"] and _aliased(leaves):
                raise FrontendError(f"{code.name} changes an argument in place and is given "
                                    "one array (or views of one) as two arguments; pass a copy")
            def rebuild(results):
                return returned(ir_fn, params, leaves, result, results)
            rebuild.result = result
            return ir_fn, [x.value for x in leaves], rebuild
        return self._guard(build)


def _refuse(c, names):
    """The error for a function defined in traced code that closes over run-time arrays
    (`names`) and that a transform reaches where they cannot be its arguments."""
    raise FrontendError(
        f"{c.code.name} closes over run-time arrays of the function it is defined in "
        f"({', '.join(names)}), and is transformed here through another function (a hessian "
        "of it, a jacobian or grad of a function calling its grad), or reached through a "
        "container or functions calling each other: pass those arrays as its arguments "
        "(hessian(lambda v, w: ...)(x, w))")
