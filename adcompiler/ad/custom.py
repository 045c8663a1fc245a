"""User-level control over derivatives: `stop_gradient`, `straight_through`, `custom_vjp` and
`elementwise` (an elementwise function declared once, whose derivative SymPy derives).

Each is an ordinary Python callable (called eagerly, it computes the value with NumPy) with an
`__adcompiler_trace__` hook that the frontend calls when it meets it in traced code.
Custom derivatives become a `call @f_fwd(...) {vjp=f_bwd, outputs=k}` in the IR (see
`adcompiler/ops/control.py`): the AD transform calls `@f_bwd` instead of differentiating
`@f_fwd`'s body.
"""
from __future__ import annotations

import functools
import inspect
import os
import types

import numpy as np

from ..errors import TraceError
from ..frontend.pytree import flatten, leaf_keys, unflatten
from ..ir.builder import Builder
from ..ir.core import Block, Function
from ..pickling import reduced
from .emit import zeros
from .sympy_ir import derivatives, emit, special_functions


def stop_gradient(x):
    """x (an array or a pytree of them), with a zero derivative."""
    return x


def _stop_gradient_trace(ctx, args, kwargs):
    if len(args) + len(kwargs) != 1 or set(kwargs) - {"x"}:
        raise ctx.error("stop_gradient takes one argument x (an array or a pytree of them), "
                        f"got {', '.join([*(['an argument'] * len(args)), *kwargs]) or 'none'}")
    leaves, treedef = flatten(args[0] if args else kwargs["x"], ctx.is_traced)
    return unflatten(treedef, [ctx.emit("stop_gradient", x) for x in leaves])


stop_gradient.__adcompiler_trace__ = _stop_gradient_trace


def straight_through(x, y):
    """The value of y with the gradient of x (e.g. x continuous, y = round(x)), in the dtype
    NumPy gives x + (y - x)."""
    return _through(x, y)


def _through(x, y):
    return x + stop_gradient(y - x)


def _straight_through_trace(ctx, args, kwargs):
    x, y = (ctx.tensor(a) for a in args)
    if y.shape != x.shape:
        raise ctx.error(f"straight_through(x, y): y must be shaped like x {x.shape}, got "
                        f"{y.shape}")
    return ctx.call(_through, x, y)     # (traced as written: NumPy's promotion, as called)


straight_through.__adcompiler_trace__ = _straight_through_trace


class custom_vjp:
    """JAX-style custom derivative:

        @custom_vjp
        def f(x, y): ...
        def f_fwd(x, y): return value, residuals      # value: f's (adcompiler does not read f
                                                      # to check it); residuals: any pytree
        def f_bwd(residuals, g): return (dx, dy)      # one gradient per argument (None or
                                                      # 0: zero; ignored for static
                                                      # arguments and ints)
        f.defvjp(f_fwd, f_bwd)

    `@custom_vjp(nondiff_argnums=(1,))`, as JAX's: the arguments at those positions (a
    function, a setting; not run-time arrays: pass those as arguments, bwd returning None for
    them) are given to bwd first, `f_bwd(y, residuals, g)`, which returns gradients for the
    others only; fwd takes every argument in its place.

    `jvp` (forward mode) transposes the reverse sweep: through f it is right where f_bwd is
    linear in g, as a derivative is; one that clips or normalises g makes jvp differ from
    `jacobian`'s rows (JAX refuses jvp of a custom_vjp function).
    """

    def __new__(cls, fun=None, *, nondiff_argnums=()):
        if fun is None:         # (@custom_vjp(nondiff_argnums=...))
            return functools.partial(cls, nondiff_argnums=nondiff_argnums)
        return super().__new__(cls)

    def __init__(self, fun, *, nondiff_argnums=()):
        self.fun = fun
        self.nondiff = tuple(sorted({int(i) for i in nondiff_argnums}))
        if any(i < 0 for i in self.nondiff):
            raise TraceError(f"custom_vjp of {fun.__name__}: nondiff_argnums must be positions "
                             f"from 0, got {nondiff_argnums!r}")
        self.fwd = self.bwd = None
        self._inside = False        # tracing fwd or bwd
        functools.update_wrapper(self, fun)

    def __reduce__(self):
        return reduced(self, self.fun, (self.fun,), {"fwd": self.fwd, "bwd": self.bwd,
                                                      "nondiff": self.nondiff})

    def defvjp(self, fwd, bwd):
        self.fwd, self.bwd = fwd, bwd
        return self

    def __call__(self, *args, **kwargs):
        return self.fun(*args, **kwargs)

    def __adcompiler_trace__(self, ctx, args, kwargs):
        ctx.watch(self, "fwd")      # (a defvjp again: the callers trace with the new rules)
        ctx.watch(self, "bwd")
        if self.fwd is None:
            raise ctx.error(f"custom_vjp function {self.fun.__name__} has no defvjp(fwd, bwd)")
        if self._inside:    # fwd or bwd calls f (JAX's docs do): its own body, differentiated
            return ctx.call(self.fun, *args, **kwargs)     # with theirs
        self._inside = True
        try:
            fwd_ir, operands, rebuild = ctx.function(self.fwd, *args, **kwargs)
            call = ctx.builder.emit("call", operands, {"callee": fwd_ir.name},
                                    result_types=fwd_ir.result_types,
                                    hints=[r.hint for r in fwd_ir.results])
            returned = rebuild(call.results)
            if not (isinstance(returned, (tuple, list)) and len(returned) == 2):
                got = "an array" if ctx.is_traced(returned) else \
                    f"a {type(returned).__name__} of {len(returned)}" \
                    if isinstance(returned, (tuple, list)) else f"a {type(returned).__name__}"
                raise ctx.error(f"{self.fwd.__name__} must return a pair (value, residuals), "
                                f"as a custom_vjp's fwd does; it returns {got}")
            value, residuals = returned
            fixed = self._nondiff_args(ctx, args, kwargs)
            bwd_ir, _, bwd_value = ctx.function(self.bwd, *fixed, residuals, value)
        finally:
            self._inside = False
        for f, ir in ((self.fwd, fwd_ir), (self.bwd, bwd_ir)):
            if ir.meta["written"] or ir.meta["rebound"]:
                raise ctx.error(f"{f.__name__} changes its arguments in place; a custom_vjp's "
                                "fwd and bwd must return new arrays")
        grads = bwd_value(bwd_ir.results)
        if self.nondiff:        # (None in the fixed ones' places)
            bound = self._bound(ctx, args, kwargs)
            wanted = len(bound.args) + len(bound.kwargs) - len(self.nondiff)
            if not isinstance(grads, (tuple, list)) or len(grads) != wanted:
                raise ctx.error(f"{self.bwd.__name__} returns "
                                f"{len(grads) if isinstance(grads, (tuple, list)) else 1} "
                                f"gradients; with nondiff_argnums={self.nondiff} it returns "
                                f"one per other argument of {self.fun.__name__} ({wanted})")
            grads = list(grads)
            for i in self.nondiff:
                grads.insert(i, None)
        keep = self._gradients(ctx, args, kwargs, grads)
        if keep != list(range(len(bwd_ir.results))):
            bwd_ir = _selected(ctx, bwd_ir, keep)
        # fwd returns (value, residuals): the value's leaves come first
        call.attrs.update(vjp=bwd_ir.name, outputs=len(flatten(value, ctx.is_traced)[0]))
        return value

    def _bound(self, ctx, args, kwargs) -> inspect.BoundArguments:
        """The call's arguments bound to f's parameters, defaults applied (every parameter
        has a gradient, as in JAX, one left to its default too)."""
        try:
            bound = inspect.signature(self.fun).bind(*args, **kwargs)
        except TypeError as e:
            raise ctx.error(f"{self.fun.__name__}(): {e}") from None
        bound.apply_defaults()
        return bound

    def _nondiff_args(self, ctx, args, kwargs) -> list:
        """The arguments at nondiff_argnums (passed by position or by name), which bwd takes
        first: static values only (a run-time array there would be an operand bwd's call in
        the adjoint does not pass)."""
        if not self.nondiff:
            return []
        args, out = self._bound(ctx, args, kwargs).args, []
        for i in self.nondiff:
            if i >= len(args):
                raise ctx.error(f"{self.fun.__name__} has nondiff_argnums={self.nondiff}, but "
                                f"it takes {len(args)} positional arguments")
            if flatten(args[i], ctx.is_traced)[0]:
                raise ctx.error(f"argument {i} of {self.fun.__name__} is in nondiff_argnums "
                                "but holds run-time arrays: pass it as an ordinary argument "
                                "and have bwd return None for it")
            out.append(args[i])
        return out

    def _gradients(self, ctx, args, kwargs, grads) -> list:
        """For each of the call's float operands, the position among bwd's results of its
        gradient, or its type where bwd gave None for it (a zero gradient, as in JAX): bwd
        returns one gradient per argument, those of arguments without run-time float data (a
        Python number, an integer array) are left out; keyword arguments count in the order of
        the parameters they name."""
        def traced(x):
            return flatten(x, ctx.is_traced)[0]
        bound = self._bound(ctx, args, kwargs)
        for p in bound.signature.parameters.values():
            if p.kind is inspect.Parameter.VAR_KEYWORD and bound.arguments.get(p.name):
                raise ctx.error(f"{self.fun.__name__} gets keywords through **{p.name}, whose "
                                "gradients its bwd would return in the caller's order: name "
                                "them as parameters")
        args = list(bound.args) + list(bound.kwargs.values())
        per_arg = grads if isinstance(grads, (tuple, list)) else (grads,)
        if len(per_arg) != len(args):
            got = "None" if grads is None else f"{len(per_arg)} gradients"
            raise ctx.error(f"{self.bwd.__name__} returns {got}, {self.fun.__name__} has "
                            f"{len(args)} arguments: return a tuple of one gradient per "
                            "argument (None for one without)")
        keep, k = [], 0
        for i, (a, g) in enumerate(zip(args, per_arg)):
            n = len(traced(g))
            floats = [v.type for v in traced(a) if v.type.is_float]
            if floats and n == 0 and isinstance(g, (int, float)) and g != 0:
                raise ctx.error(f"{self.bwd.__name__} returns the number {g!r} for argument {i} "
                                f"of {self.fun.__name__}: a gradient is an array shaped like "
                                "the argument (np.full_like(x, c)), or None or 0 for none "
                                "(JAX refuses a number too)")
            if floats and (g is None or n == 0 and isinstance(g, (int, float))):
                keep += floats          # None, or a zero (`0.0`): a zero gradient
            elif floats and n != len(floats):
                raise ctx.error(f"{self.bwd.__name__} returns {n} arrays for argument {i} of "
                                f"{self.fun.__name__}, which holds {len(floats)}")
            elif floats:
                order = self._matched(ctx, i, a, g)
                for j, (want, got) in enumerate(zip(floats, [traced(g)[m] for m in order],
                                                    strict=True)):
                    if got.type != want:
                        part = f" (its array {j})" if len(floats) > 1 else ""
                        raise ctx.error(
                            f"{self.bwd.__name__} returns a gradient of type {got.type} for "
                            f"argument {i}{part} of {self.fun.__name__}, which is {want}")
                keep += [k + m for m in order]
            k += n
        return keep

    def _matched(self, ctx, i, arg, grad) -> list:
        """For each float leaf of `arg`, the index of its gradient among `grad`'s leaves: by
        dict key or field name (a dict of gradients may list its keys in another order, as in
        JAX; one the argument lacks is an error), else by position (a plain tuple for a named
        tuple)."""
        leaves, treedef = flatten(arg, ctx.is_traced)
        want = [k for v, k in zip(leaves, leaf_keys(treedef)) if v.type.is_float]
        got = leaf_keys(flatten(grad, ctx.is_traced)[1])
        if set(got) == set(want):
            return [got.index(k) for k in want]
        if any(not isinstance(k, int) for keys in got for k in keys):  # a name it lacks
            def show(keys):
                return ", ".join("/".join(map(str, k)) for k in keys)
            raise ctx.error(f"{self.bwd.__name__} returns gradients at [{show(got)}] for "
                            f"argument {i} of {self.fun.__name__}, whose float arrays are at "
                            f"[{show(want)}]")
        return list(range(len(want)))     # (a tuple for a named tuple, a list: positions)


def _selected(ctx, fn: Function, keep: list) -> Function:
    """A function returning the results `keep` of `fn` (called with its arguments): a position
    picks one, a type is zeros of it."""
    body = Block([a.type for a in fn.args], [a.hint for a in fn.args])
    b = Builder(body, ctx.loc)
    out = b.emit("call", body.args, {"callee": fn.name}, result_types=fn.result_types)
    b.emit("return", [out.results[i] if isinstance(i, int) else zeros(b, i) for i in keep])
    return ctx.module.add(Function(ctx.module.fresh_name(fn.name), body, loc=ctx.loc))


class elementwise:
    """An elementwise function written once for scalars; its derivative comes from
    `sympy.diff`. The body may use `np.tanh`, `np.exp`, `np.sqrt`, ... (mapped to SymPy while
    deriving) and `math` constants:

        @elementwise
        def gelu(x):
            return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
    """

    def __init__(self, fun):
        self.fun = fun
        functools.update_wrapper(self, fun)
        self._derived: dict = {}    # what the body reads outside -> (expr, its NumPy function)

    def __reduce__(self):
        return reduced(self, self.fun, (self.fun,))

    def _outside(self):
        """(key, values): the values the body reads from its globals and closure, numbers by
        value and others by identity in the key: a global rebound (`ALPHA = 5.0`) derives the
        expression again (an entry of a global dict changed in place does not)."""
        g = self.fun.__globals__
        values = [g[n] for n in self.fun.__code__.co_names if n in g]
        values += [c.cell_contents for c in self.fun.__closure__ or ()]
        return tuple(v if type(v) in (int, float, bool, str) else id(v) for v in values), values

    def _both(self):
        key, values = self._outside()
        if key not in self._derived:
            import sympy as sp
            x = sp.Symbol("x")
            shim = types.SimpleNamespace(**_sympy_functions(), pi=sp.pi, e=sp.E)
            g = dict(self.fun.__globals__)
            g.update({k: shim for k, v in g.items() if v is np})
            body = types.FunctionType(self.fun.__code__, g, self.fun.__name__,
                                      self.fun.__defaults__, self.fun.__closure__)
            expr = (x,), sp.sympify(body(x))
            # (the values kept alive with it: an id in the key is not reused by another object)
            self._derived[key] = expr, sp.lambdify(*expr, "numpy"), values
        return self._derived[key]

    @property
    def expr(self):
        return self._both()[0]

    @property
    def _numpy(self):
        return self._both()[1]

    def __call__(self, x):
        arr = np.asarray(x)
        try:
            numpy_fn = self._numpy
        except Exception as e:      # (as tracing a call of it says)
            raise TraceError(self._unsupported_text(f"{type(e).__name__}: {e}")) from None
        out = numpy_fn(arr)
        return np.asarray(out, dtype=arr.dtype if arr.dtype.kind == "f" else np.float64)

    def derivative(self):
        """The SymPy derivative (after CSE, as lowered)."""
        params, e = self.expr
        return derivatives(params, e)

    def _unsupported(self, ctx, why):
        return ctx.error(self._unsupported_text(why))

    def _unsupported_text(self, why) -> str:
        code = self.fun.__code__
        return (
            f"@elementwise {self.fun.__name__} ({os.path.basename(code.co_filename)}:"
            f"{code.co_firstlineno}) must return one expression of its one scalar argument, "
            f"made of numbers, + - * / **, and np.{', np.'.join(sorted(_sympy_functions()))} "
            f"(no branches, no np.where): {why}")

    def __adcompiler_trace__(self, ctx, args, kwargs):
        if len(args) != 1 or kwargs:
            raise self._unsupported(ctx, f"called with {len(args) + len(kwargs)} arguments")
        x = ctx.tensor(args[0])
        if not x.type.is_float:
            x = ctx.tensor(x, "f64")
        ctx.watch_function(self.fun)
        try:
            (sym,), expr = self.expr
        except Exception as e:      # the body on a SymPy symbol: whatever it does not support
            raise self._unsupported(ctx, f"{type(e).__name__}: {e}") from None
        module = ctx.module
        t = x.type
        fwd_name = module.fresh_name(self.fun.__name__)
        code = self.fun.__code__
        param = code.co_varnames[0] if code.co_argcount else "x"
        body = Block([t], [param])
        # its ops are the body's line (its one expression), reached through the call
        line = max((n for _, _, n in code.co_lines() if n), default=code.co_firstlineno)
        loc = (code.co_filename, line, ctx.loc) if ctx.loc else (code.co_filename, line)
        b = Builder(body, loc)
        try:
            y = emit(b, expr, {sym: body.args[0]}, t.dtype)
        except NotImplementedError as e:
            raise self._unsupported(ctx, str(e)) from None
        y = y if y.type == t else b.op("broadcast_to", y, shape=t.shape)
        b.op("return", y, body.args[0])
        module.add(Function(fwd_name, body, loc=ctx.loc))

        bbody = Block([t, t], [param, "d_" + self.fun.__name__])
        b = Builder(bbody, loc)
        repl, (d,) = derivatives((sym,), expr)
        env = {sym: bbody.args[0]}
        for s, e in repl:
            env[s] = emit(b, e, env, t.dtype)
        dv = emit(b, d, env, t.dtype)
        b.op("return", b.op("mul", bbody.args[1], dv, hint="d_" + param))
        bwd_name = module.fresh_name(self.fun.__name__ + "_vjp")
        module.add(Function(bwd_name, bbody, loc=ctx.loc))
        call = ctx.builder.emit("call", [x.value], {"callee": fwd_name, "vjp": bwd_name,
                                                    "outputs": 1},
                                result_types=[t, t], hints=[self.fun.__name__, "x"])
        return ctx.wrap(call.results[0])


def _sympy_functions():
    """The NumPy names a scalar body may use, as SymPy functions."""
    import sympy as sp
    return {
        **special_functions(), "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "tanh": sp.tanh,
        "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "arcsin": sp.asin, "arccos": sp.acos,
        "arctan": sp.atan, "sinh": sp.sinh, "cosh": sp.cosh, "abs": sp.Abs, "sign": sp.sign,
        "maximum": sp.Max, "minimum": sp.Min}
