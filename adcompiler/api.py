"""The user API: grad, value_and_grad, vjp, jit, show (check_grad: check.py).

    @grad                      d f / d (first argument)
    @grad(wrt=("W", "b"))      by parameter names or positions; a tuple of gradients
    value_and_grad(f)(*args)   (value, gradients)
    vjp(f, *args)              (value, pullback); pullback(cotangent) -> gradients of all args

A gradient has the structure, shape and dtype of its argument (a dict of parameters gets a dict
of gradients, a named tuple or dataclass one of its class; a Python float gets a float; static
leaves inside a pytree get None). A call
specialises the function on its arguments (`trace`), differentiates the IR (`ad`), lowers the
forward and backward functions with the chosen backend (`backend="numba"`, the default:
fused, disk-cached Numba kernels; `backend="numpy"`: the readable NumPy reference;
ADCOMPILER_BACKEND sets the default) and caches the result per signature.
`g.adjoint_source(*args)` / `g.ir(*args)` show the generated code (without arguments: the last
specialisation called).

NaNs: by default the generated code runs under `np.errstate(invalid="raise")`; an operation
that makes a NaN raises `NaNError` naming the user's file:line whose code produced it.
"""
from __future__ import annotations

import functools
import importlib
import inspect
import os
import types
from collections.abc import MutableSequence
from dataclasses import dataclass

import numpy as np

from .ad import differentiate
from .ad.traced import (UNROLL_FOR_SECOND_ORDER, bound_leaves, call_backward, call_forward,
                        run_time_floats, statics_to_none, traced_grad_tree, value_arrays,
                        vjp_trace)
from .errors import AdcompilerError, RecompileWarning, user_facing, warn_at_caller, where
from .frontend import TRACING, signature, traced
from .frontend.calls import parameters_of
from .frontend.outside import changed
from .frontend.pytree import (flatten, leaves_like, node_fields, structure_difference,
                               unflatten)
from .frontend.signature import is_runtime_leaf, split_outputs, writable
from .frontend.values import Traced
from .ir import registry
from .ir.core import Op
from .ir.types import DTYPES
from .pickling import reduced
from .runtime.nans import run_checked


BACKENDS = {"numpy": "adcompiler.backends.numpy", "numba": "adcompiler.backends.numba_cpu"}
DEFAULT_BACKEND = "numba"      # fused Numba kernels; "numpy" is the readable reference


def backend_module(name):
    """The backend module (see the protocol in `backends/numpy/__init__.py`); without a name,
    the one the environment variable ADCOMPILER_BACKEND names, else DEFAULT_BACKEND."""
    name = name or os.environ.get("ADCOMPILER_BACKEND") or DEFAULT_BACKEND
    if name not in BACKENDS:
        raise AdcompilerError(f"unknown backend {name!r} (available: {', '.join(BACKENDS)})")
    return importlib.import_module(BACKENDS[name])


def _program_for(primal, leaves, seeded, backend):
    """The compiled adjoint of this trace differentiating `leaves` from the results `seeded`,
    kept on the trace (its `meta`) per backend and backend options: every grad,
    value_and_grad or vjp of the function shares it, so a `grad(loss)` made anew each step
    (JAX's habit) costs no differentiation or code generation."""
    module = backend_module(backend)
    programs = primal.meta.setdefault("adjoint_programs", {})
    key = (tuple(leaves), tuple(seeded), module.__name__, tuple(sorted(module.OPTIONS.items())))
    if key not in programs:
        programs[key] = module.AdjointProgram(differentiate(primal, leaves, seeded), primal.name)
    return programs[key]


def _leaf_ranges(key):
    """Parameter name -> (first flat leaf, number of leaves), from a signature key."""
    out, start = {}, 0
    for part in key:
        n = len(part[2]) if len(part) == 3 else 0
        out[part[0]] = (start, n)
        start += n
    return out


@dataclass
class _Compiled:
    primal: object
    program: object
    wrt_names: tuple
    wrt_leaves: tuple


RESPECIALISED = 8      # compilations for new values of static arguments before a warning


def _without_static_values(treedef):
    """A typed treedef (pytree.typed_treedef) with its static values left out, their types
    kept, and a node's class by its name (a class defined anew on each call is a new class
    each time)."""
    kind = treedef[0]
    if kind == "static":
        return treedef[:2]
    if kind == "leaf":
        return treedef
    head = (kind, treedef[1].__qualname__, *treedef[2:-1]) if kind in ("node", "dict") \
        else treedef[:-1]
    return (*head, tuple(_without_static_values(c) for c in treedef[-1]))


class _Specialised:
    """A function compiled per specialisation key (`Signature.describe`), the key computed
    once per call from a Signature built once: calls that hit the cache skip `trace`.
    `_compiled_for(key)` notes each compilation: the RESPECIALISED-th one for keys that differ
    only in static values (a training loop passing its step as a Python int) warns, once."""

    _signature = None
    _static_values: dict | None = None

    def _compiled_for(self, key) -> None:
        if self._static_values is None:
            self._static_values = {}
        shape = tuple((p[0], _without_static_values(p[1]), p[2]) if len(p) == 3 else p
                      for p in key)
        seen = self._static_values.setdefault(shape, set())
        seen.add(key)
        if len(seen) != RESPECIALISED:
            return
        names = [part[0] for part in key]
        varying = [n for i, n in enumerate(names) if len({k[i] for k in seen}) > 1]
        warn_at_caller(f"{name_of(self.fun)} was compiled {RESPECIALISED} "
                       f"times for new values of {', '.join(varying)}: ints, bools, strings and "
                       "other values that are not arrays or floats are compile-time constants, "
                       "so each new value compiles anew; pass a run-time value instead "
                       "(np.int64(step), np.array(step)); so is the class of a named tuple, "
                       "dataclass or model object: define it once, not on each call",
                       RecompileWarning)

    def __get__(self, obj, owner=None):
        """As a method (`@jit` or `@grad` on a def in a class): `obj.method(x)` passes the
        object first, as Python binds a function (and jax.jit its result)."""
        return self if obj is None else types.MethodType(self, obj)

    def _describe(self, args, kwargs):
        """(each argument passed: name -> (its leaves, its treedef), runtime leaves,
        specialisation key) of a call."""
        return self._own().describe(args, kwargs, params=False)

    def _own(self):
        if self._signature is None:
            self._signature = signature(self.fun)[1]
        return self._signature

    def _traced(self, primal):
        """The trace's signature, binding this function's own `self` or partial arguments."""
        return primal.meta["signature"].for_caller(self._own())


class GradFunction(_Specialised):
    """What `grad`/`value_and_grad` return. Call it like the original function."""

    def __init__(self, fun, wrt, backend, has_aux, with_value, check_nans=True):
        check_callable(fun, "value_and_grad" if with_value else "grad")
        self.fun = fun
        self.wrt = wrt
        self.backend = backend
        self.has_aux = has_aux
        self.with_value = with_value
        self.check_nans = check_nans
        self._cache: dict = {}
        self._last = None
        self._fun_name = name_of(fun)
        self.__name__ = f"grad_{self._fun_name}"
        self.__doc__ = getattr(fun, "__doc__", None)

    def __reduce__(self):
        return reduced(self, self.fun, (self.fun, self.wrt, self.backend, self.has_aux,
                                        self.with_value, self.check_nans))

    # -- specialisation ------------------------------------------------------------------
    def _wrt_names(self, names):
        single = not isinstance(self.wrt, (tuple, list))
        if not single and not self.wrt:
            raise AdcompilerError(f"wrt={self.wrt!r} names no parameter of {self._fun_name} "
                                  "to differentiate with respect to")
        out = []
        for w in ([self.wrt] if single else self.wrt):
            if isinstance(w, (int, np.integer)) and not isinstance(w, bool):
                w = int(w)
                if not -len(names) <= w < len(names):
                    raise AdcompilerError(f"wrt={w}: {self._fun_name} has {len(names)} "
                                          f"parameters ({', '.join(names)})" + self._star_hint())
                out.append(names[w])
            elif w in names:
                out.append(w)
            else:
                raise AdcompilerError(f"wrt={w!r}: {self._fun_name} has no parameter {w!r} "
                                      f"(parameters: {', '.join(names)})")
        return single, tuple(out)

    def _star_hint(self) -> str:
        """For a function with *args: wrt counts declared parameters, not the call's
        positions (JAX's argnums do)."""
        try:
            star = [p.name for p in parameters_of(self.fun).parameters.values()
                    if p.kind is inspect.Parameter.VAR_POSITIONAL]
        except (TypeError, ValueError):
            return ""
        return (f"; wrt counts declared parameters, and wrt='{star[0]}' takes the gradient for "
                f"each of the arguments *{star[0]} gathers" if star else "")

    def _result_problem(self, results, returned=0.0) -> str | None:
        """What is wrong with the arrays `fun` returns (IR values; `returned`, what it returns
        as Python sees it, where known), for grad, or None."""
        if not results and returned is None:
            return f"{self._fun_name} returns None: nothing to differentiate (a missing return?)"
        if not results:
            return (f"{self._fun_name} returns no run-time array to differentiate: what it "
                    "returns does not depend on the arguments (a constant, a value computed "
                    "while tracing), so its gradient would be zero")
        out = results[0]
        if out.type.rank != 0 or not out.type.is_float:
            return (f"grad needs {self._fun_name} to return a float scalar"
                    + (" (first of (value, aux))" if self.has_aux else "")
                    + f", got {out.type}; use vjp for other outputs")
        if not self.has_aux and len(results) != 1:
            return (f"{self._fun_name} returns {len(results)} arrays; grad needs one scalar "
                    "(or has_aux=True for (value, aux))")
        return None

    def _structure_problem(self, result) -> str | None:
        """What is wrong with what `fun` returns, as Python sees it (has_aux: a pair), or None."""
        if self.has_aux and not (isinstance(result, tuple) and len(result) == 2):
            return f"has_aux=True needs {self._fun_name} to return a pair (value, aux)"
        if not self.has_aux and (isinstance(result, (list, tuple, dict))
                                 or node_fields(result) is not None):
            return (f"{self._fun_name} returns a {type(result).__name__}; grad needs it to "
                    "return one float scalar (has_aux=True for (value, aux))")
        return None

    def _specialise(self, args, kwargs) -> _Compiled:
        primal, _ = traced(self.fun, *args, **kwargs)
        # errors name the function's def line (a partial's, a layer object's __call__'s)
        at = f"{where(primal.loc)}: " if primal.loc and not primal.loc[0].startswith("<") else ""
        sig = self._traced(primal)
        hit = self._cache.get(sig.key)
        if hit is not None and hit.primal is primal:
            self._last = hit
            return hit
        single, names = self._wrt_names(sig.params)
        ranges = _leaf_ranges(sig.key)
        bound = sig.bind(args, kwargs)
        leaves = []
        for n in names:
            if n not in bound.arguments:
                kind = bound.signature.parameters[n].kind
                why = ("no positional arguments were passed for it"
                       if kind is inspect.Parameter.VAR_POSITIONAL
                       else "no keyword arguments were passed for it"
                       if kind is inspect.Parameter.VAR_KEYWORD
                       else "it was not passed (defaults are compile-time constants)")
                raise AdcompilerError(f"{at}cannot differentiate with respect to {n!r}: {why}")
            start, count = ranges[n]
            if count == 0:
                raise AdcompilerError(
                    f"{at}cannot differentiate with respect to {n!r}: it holds no float data "
                    f"(it is {type(bound.arguments[n]).__name__}: a Python int, bool, str or "
                    f"None is a compile-time constant; pass a float or a NumPy float array)")
            # integer and boolean leaves of a pytree get no gradient (None)
            floats = [i for i in range(start, start + count) if primal.args[i].type.is_float]
            if not floats:
                held = sorted({DTYPES[primal.args[i].type.dtype]
                               for i in range(start, start + count)})
                raise AdcompilerError(f"{at}cannot differentiate with respect to {n!r}: it holds "
                                      f"{', '.join(held)} data; gradients need floats")
            leaves += floats
        results = sig.returned(primal.results)
        ret = primal.body.terminator.loc      # errors about the result name the return's line
        at = f"{where(ret)}: " if ret and not ret[0].startswith("<adcompiler") else at
        problem = self._result_problem(results, sig.result) or \
            self._structure_problem(sig.result)
        if problem:
            raise AdcompilerError(at + problem)
        compiled = _Compiled(primal, _program_for(primal, leaves, (0,), self.backend),
                             (single, names), tuple(leaves))
        self._cache[sig.key] = compiled
        self._compiled_for(sig.key)
        self._last = compiled
        return compiled

    # -- calling -------------------------------------------------------------------------
    @user_facing
    def __call__(self, *args, **kwargs):
        trees, leaves, key = self._describe(args, kwargs)
        c = self._cache.get(key)
        if c is None or changed(c.primal.meta["reads"]):
            with TRACING:       # (another thread may have compiled it meanwhile)
                c = self._cache.get(key)
                if c is None or changed(c.primal.meta["reads"]):
                    c = self._specialise(args, kwargs)
        self._last = c
        sig = self._traced(c.primal)
        flat = sig.flatten_leaves(leaves, key)
        results, grads = run_checked(lambda: c.program.grad(*flat), self.check_nans)
        single, names = c.wrt_names
        # the gradients are shaped as the arguments were (write_back may change them)
        shapes = [trees[n] for n in names]
        apart = _apart([*results, *grads], leaves)
        results, grads = sig.write_back(args, kwargs, leaves, apart[:len(results)],
                                        apart[len(results):])
        it = iter(grads)
        per_arg = tuple(_grad_tree(s, it, floats_only=True) for s in shapes)
        g = per_arg[0] if single else per_arg
        if not self.with_value and not self.has_aux:
            return g
        value = sig.unflatten_result(results)
        if self.with_value:
            return value, g
        return g, value[1]

    def __adcompiler_trace__(self, ctx, args, kwargs):
        """Called inside traced code (grad of grad, a gradient step inside a traced
        function): differentiate the IR of `fun` and call its forward and backward functions
        from the IR being built, so the result can be differentiated again."""
        pysig = parameters_of(self.fun)
        single, names = self._wrt_names(list(pysig.parameters))
        try:
            bound = pysig.bind(*args, **kwargs)
        except TypeError as e:      # (a wrong call: Python's TypeError, at the user's line)
            raise ctx.error(f"{self._fun_name}(): {e}") from None
        for n in names:
            if n in bound.arguments:
                bound.arguments[n] = run_time_floats(ctx, bound.arguments[n])
        args, kwargs = bound.args, bound.kwargs
        with ctx.unrolling(UNROLL_FOR_SECOND_ORDER):
            ir_fn, operands, rebuild = ctx.function(self.fun, *args, **kwargs)
        ranges, start = {}, bound_leaves(ctx, self.fun)
        for pname in pysig.parameters:
            n = len(flatten(bound.arguments[pname], ctx.is_traced)[0]) \
                if pname in bound.arguments else 0
            ranges[pname] = (start, n)
            start += n
        leaves = []
        for n in names:     # (an argument's integer leaves get None, as outside traced code)
            floats = [i for i in range(ranges[n][0], sum(ranges[n]))
                      if ir_fn.args[i].type.is_float]
            if not floats:
                raise ctx.error(f"cannot differentiate {self._fun_name} with respect to {n}: "
                                "gradients need float arrays")
            leaves += floats
        problem = self._result_problem(
            split_outputs(ir_fn.meta["written"], ir_fn.meta["rebound"], ir_fn.results)[0])
        if problem:
            raise ctx.error(problem)
        adj = differentiate(ir_fn, leaves, seeded=(0,))
        results, residuals = call_forward(ctx, adj, operands)
        seed = ctx.builder.op("constant", value=1.0, dtype=results[0].type.dtype)
        grads = iter(call_backward(ctx, adj, residuals, [seed]))
        per_arg = tuple(traced_grad_tree(bound.arguments[n], grads, ctx) for n in names)
        g = per_arg[0] if single else per_arg
        value = rebuild(results)    # also changes the arguments `fun` changes in place
        problem = self._structure_problem(value)
        if problem:
            raise ctx.error(problem)
        if not self.with_value and not self.has_aux:
            return g
        return (value, g) if self.with_value else (g, value[1])

    def _compiled(self, args, kwargs) -> _Compiled:
        if args or kwargs:
            return self._specialise(args, kwargs)
        if self._last is None:
            raise AdcompilerError("no specialisation yet: call the gradient function or pass "
                                  "example arguments")
        return self._last

    @user_facing
    def adjoint_source(self, *args, **kwargs) -> str:
        """The generated Python source: forward pass, its stash, backward pass, driver."""
        return self._compiled(args, kwargs).program.source

    @user_facing
    def ir(self, *args, **kwargs) -> str:
        """The printed primal IR, then the forward and backward IR."""
        c = self._compiled(args, kwargs)
        adj = c.program.adj
        return "\n".join(["// primal", str(c.primal), "// forward (results, then residuals)",
                          str(adj.fwd), "// backward (residuals, cotangents -> gradients)",
                          str(adj.bwd)])


def check_callable(fun, entry):
    """A transform takes a function (or a bound method, partial or layer object)."""
    if not callable(fun):
        raise AdcompilerError(f"{entry} takes a function, got {type(fun).__name__} {fun!r:.40}")


def _is_float_leaf(leaf) -> bool:
    """A run-time leaf (an array, a NumPy scalar or a Python float) holding floats."""
    dtype = getattr(leaf, "dtype", None)     # a Python float has none
    return dtype is None or dtype.kind == "f"


def _root(a):
    """The object that owns an array's memory (an array's `base` chain ends there)."""
    while isinstance(a, np.ndarray) and a.base is not None:
        a = a.base
    return a


def _fresh_results(primal) -> bool:
    """Are the results of `primal` (a traced function) arrays of their own whatever a backend
    does: none an argument, another result, or a view of one (`return x.copy()` is the
    argument's value, `return h, h.copy()` one value twice), nor made by an op whose result
    may be one of its operands (an `if`, a loop, a call)? Then `_apart` can be skipped (an
    optimiser's update returns ~100 arrays a step). Worked out once per trace."""
    fresh = primal.meta.get("fresh_results")
    if fresh is None:
        seen, fresh = set(), True
        for v in primal.results:
            while isinstance(v.owner, Op) and registry.get(v.owner.name).view:
                v = v.owner.operands[0]
            if v in seen or not isinstance(v.owner, Op) \
                    or registry.get(v.owner.name).kind in ("control", "call"):
                fresh = False       # (an argument: a block's value, not an op's)
            seen.add(v)
        primal.meta["fresh_results"] = fresh
    return fresh


def name_of(fun) -> str:
    """What messages call a function given to a transform: its name, a partial's function's,
    a layer object's class's."""
    while isinstance(fun, functools.partial):
        fun = fun.func
    return getattr(fun, "__name__", None) or type(fun).__name__


def _not_sharing(residual, owners: set):
    """`residual`, or a copy where it shares memory with one of `owners` (ids of arrays'
    owners, `_owner_ids`); a loop's tape (a list, or Numba's typed list where a compiled loop
    filled it; its entries maybe tapes) entry by entry, in place."""
    if isinstance(residual, MutableSequence):
        for k, x in enumerate(residual):
            kept = _not_sharing(x, owners)
            if kept is not x:
                residual[k] = kept
        return residual
    if isinstance(residual, np.ndarray) and id(_root(residual)) in owners:
        return residual.copy()
    return residual


def _owner_ids(arrays) -> set:
    """The ids of the memory owners of `arrays`' NumPy arrays. (Most own theirs: no call for
    them. This runs on every gradient call, for every leaf.)"""
    return {id(x if x.base is None else _root(x)) for x in arrays if isinstance(x, np.ndarray)}


def _apart(arrays, inputs) -> list:
    """The results or gradients, each its own memory: generated code may return one array for
    two (`d_b1 = d_b2 = d_h`, `return h, h.copy()`) or an input itself (`return w.copy()`), and
    a caller scaling one in place (`g[k] *= 0.5`) must not change another or an argument."""
    seen = _owner_ids(inputs)
    out = []
    for g in arrays:
        if isinstance(g, np.ndarray):
            key = id(g if g.base is None else _root(g))
            if key in seen:
                g = g.copy()
                key = id(g)
            seen.add(key)
        out.append(g)
    return out


def _grad_tree(flat, it, floats_only=False):
    """The gradient pytree of one argument, from its (leaves, treedef): its structure, each
    leaf's type; None for static leaves (and, with `floats_only`, for integer and boolean
    arrays, which get no gradient)."""
    leaves, treedef = flat
    out = []
    for leaf in leaves:
        if floats_only and not _is_float_leaf(leaf):
            out.append(None)
            continue
        g = next(it)
        if isinstance(leaf, np.generic):      # before float: np.float64 is a float too
            out.append(np.asarray(g, dtype=leaf.dtype)[()])
        elif isinstance(leaf, float):
            out.append(float(g))
        elif isinstance(g, np.ndarray) and g.dtype == leaf.dtype:
            out.append(writable(g))
        else:
            out.append(writable(np.asarray(g, dtype=leaf.dtype)))
    return unflatten(statics_to_none(treedef), out)


def no_argnums(argnums, name):
    """JAX's `argnums=` is `wrt=` here: say so (Python's TypeError named no alternative)."""
    if argnums is not None:
        raise AdcompilerError(f"{name} takes wrt=, not JAX's argnums=: wrt={argnums!r} picks "
                              "those arguments (wrt also takes parameter names)")


@user_facing
def grad(fun=None, *, wrt=0, backend=None, has_aux=False, check_nans=True, argnums=None):
    """The gradient of a scalar function (see the module docstring)."""
    no_argnums(argnums, "grad")
    if fun is None:
        return lambda f: GradFunction(f, wrt, backend, has_aux, False, check_nans)
    return GradFunction(fun, wrt, backend, has_aux, False, check_nans)


@user_facing
def value_and_grad(fun=None, *, wrt=0, backend=None, has_aux=False, check_nans=True,
                   argnums=None):
    """Like `grad`, returning (value, gradients)."""
    no_argnums(argnums, "value_and_grad")
    if fun is None:
        return lambda f: GradFunction(f, wrt, backend, has_aux, True, check_nans)
    return GradFunction(fun, wrt, backend, has_aux, True, check_nans)


@user_facing
def show(g, *args, file=None, backend=None, **kwargs):
    """Print the IR (primal, forward, backward) and the generated source of the gradient
    function `g` for these arguments (without any: its last call), as its own backend
    compiles it, or as `backend` does ("numba": the driver, then its kernels)."""
    if not isinstance(g, GradFunction):
        raise AdcompilerError(f"show() takes what grad or value_and_grad returned, not "
                              f"{type(g).__name__}")
    if backend is not None and backend != g.backend:
        if not (args or kwargs):
            raise AdcompilerError("show(g, backend=...) needs example arguments: the other "
                                  "backend compiles g anew")
        g = GradFunction(g.fun, g.wrt, backend, g.has_aux, g.with_value, g.check_nans)
    print(g.ir(*args, **kwargs), file=file)
    print(g.adjoint_source(*args, **kwargs), file=file)


@user_facing
def vjp(fun, *args, backend=None, check_nans=True, has_aux=False, **kwargs):
    """(value, pullback): `pullback(cotangent)` takes a cotangent shaped like the value and
    returns the gradients of every positional argument, as a tuple (None for arguments with
    no float data). Keyword arguments are passed on, not differentiated. With has_aux=True
    `fun` returns a pair (value, aux) and vjp gives (value, pullback, aux), as JAX's: aux is
    not differentiated."""
    value, pullback = pullback_of(fun, args, kwargs, backend, check_nans, aux=has_aux)
    return (value[0], pullback, value[1]) if has_aux else (value, pullback)


def pullback_of(fun, args, kwargs, backend=None, check_nans=True, positions=None, aux=False):
    """`vjp`; with `positions` (a tuple of argument positions), a pullback that differentiates
    only those arguments, None in the others' places (jacobian's: the other gradients cost a
    sweep's work, and a NaN in one would raise where the asked ones are finite). With `aux`,
    `fun` returns a pair: the pullback takes a cotangent of its first entry, and the second
    is not differentiated (no zero cotangent flows back through it: 0 * inf would be NaN)."""
    check_callable(fun, "vjp")
    primal, own = traced(fun, *args, **kwargs)
    sig = primal.meta["signature"].for_caller(own)
    seeded_count = value_arrays(sig.result) if aux else None      # (None: all results)
    if aux and seeded_count is None:
        raise AdcompilerError(f"{where(primal.loc)}: has_aux=True needs {name_of(fun)} to "
                              "return a pair (value, aux)")
    with TRACING:
        program = _vjp_program(fun, primal, sig, args, backend, positions, seeded_count)
    _, given, described = sig.describe(args, kwargs, params=False)
    flat = sig.flatten_leaves(given, described)
    results, residuals = run_checked(lambda: program.fwd(*flat), check_nans)
    shapes = [flatten(a, is_runtime_leaf) if _has_float(a)
              and (positions is None or k in positions) else None for k, a in enumerate(args)]
    results, residuals = sig.write_back(args, kwargs, given, _apart(results, given), residuals)
    # what the pullback reads is the arguments' and the value's arrays now, not after the
    # caller reuses or changes them (`v, pb = vjp(np.exp, x); v -= 1.0`), also on a loop's
    # tape (a list: its first entry may be an argument)
    inputs = _owner_ids([*given, *results])
    residuals = type(residuals)(_not_sharing(r, inputs) for r in residuals)
    value = sig.unflatten_result(results)
    out_types = [r.type for r in sig.returned(primal.results)]

    @user_facing
    def pullback(cotangent):
        differs = structure_difference(value[0] if aux else value, cotangent)
        if differs:
            raise AdcompilerError(f"the cotangent must have the value's structure: {differs}")
        # (the value's static leaves, a returned Python float, take no cotangent)
        cts = leaves_like(sig.result, (cotangent, None) if aux else cotangent,
                          lambda x: isinstance(x, Traced))
        seeds = []
        for k, (ct, t) in enumerate(zip(cts, out_types, strict=True)):
            if not t.is_float or seeded_count is not None and k >= seeded_count:
                continue        # (no gradient flows from integer results: any cotangent)
            dtype = np.dtype(DTYPES[t.dtype])
            raw = np.asarray(ct) if ct is not None else None
            if raw is not None and raw.dtype.kind not in "biuf":   # (complex: its real part)
                raise AdcompilerError(f"a cotangent of dtype {raw.dtype} for a value of "
                                      f"dtype {dtype}: a cotangent holds real numbers")
            arr = np.zeros(t.shape, dtype) if ct is None else raw.astype(dtype, copy=False)
            if arr.shape != t.shape:
                raise AdcompilerError(f"cotangent of shape {arr.shape} for a value of shape "
                                      f"{t.shape}")
            seeds.append(arr)
        grads = run_checked(lambda: program.bwd(residuals, seeds), check_nans)
        # (residuals may nest: a loop's stacked per-iteration values)
        kept = flatten(residuals, lambda x: isinstance(x, np.ndarray))[0]
        it = iter(_apart(grads, [*given, *seeds, *kept]))
        return tuple(None if s is None else _grad_tree(s, it, floats_only=True)
                     for s in shapes)

    return value, pullback


vjp.__adcompiler_trace__ = vjp_trace


def _vjp_program(fun, primal, sig, args, backend, positions, seeded_count=None):
    """The compiled adjoint `vjp` runs for this trace of `fun` (`_program_for`'s, kept on the
    trace, not per `fun`: a bound method is a new object at each `m.loss`), differentiating
    the positional arguments `positions` (None: all), seeded at the float results among the
    first `seeded_count` (None: all)."""
    # the positional arguments' arrays are differentiated, not those of a method's object
    # (first) or of the keyword arguments (last: they name later parameters)
    start = len(flatten(sig.prefix, is_runtime_leaf)[0])
    chosen = set()
    for k, a in enumerate(args):
        count = len(flatten(a, is_runtime_leaf)[0])
        if positions is None or k in positions:
            chosen.update(range(start, start + count))
        start += count
    leaves = [i for i, a in enumerate(primal.args) if a.type.is_float and i in chosen]
    if not leaves:
        raise AdcompilerError(f"vjp of {name_of(fun)}: no argument holds "
                              "float data, so there is nothing to differentiate")
    if not sig.returned(primal.results):
        raise AdcompilerError(f"vjp of {name_of(fun)}: it returns no run-time array, so "
                              "there is nothing to differentiate")
    seeded = tuple(k for k, r in enumerate(sig.returned(primal.results)) if r.type.is_float
                   and (seeded_count is None or k < seeded_count))
    return _program_for(primal, leaves, seeded, backend)


def _has_float(arg) -> bool:
    return any(_is_float_leaf(x) for x in flatten(arg, is_runtime_leaf)[0])


class JitFunction(_Specialised):
    """What `jit` returns: `f` compiled by a backend, specialised and cached per signature."""

    def __init__(self, fun, backend=None):
        check_callable(fun, "jit")
        self.fun, self.backend = fun, backend
        self._cache: dict = {}
        self.__name__ = name_of(fun)

    def __reduce__(self):
        return reduced(self, self.fun, (self.fun, self.backend))

    @user_facing
    def __call__(self, *args, **kwargs):
        _, leaves, key = self._describe(args, kwargs)
        if key not in self._cache or changed(self._cache[key][0].meta["reads"]):
            with TRACING:
                if key not in self._cache or changed(self._cache[key][0].meta["reads"]):
                    primal, _ = traced(self.fun, *args, **kwargs)
                    self._cache[key] = (primal,
                                        backend_module(self.backend).compile_function(primal))
                    self._compiled_for(key)
        primal, call = self._cache[key]
        sig = self._traced(primal)
        flat = sig.flatten_leaves(leaves, key)
        out = run_checked(lambda: call(*flat), check_nans=False)
        # (a program of no results, a function returning None or static values, returns None)
        out = (out,) if len(primal.results) == 1 else out or ()
        if not _fresh_results(primal):
            out = _apart(out, leaves)
        out, _ = sig.write_back(args, kwargs, leaves, out)
        return sig.unflatten_result(out)

    def __adcompiler_trace__(self, ctx, args, kwargs):
        """Called inside traced code: `fun` is traced as part of its caller, which is compiled
        whole (a `jit` function inside `grad` is differentiated)."""
        return ctx.call(self.fun, *args, **kwargs)


@user_facing
def jit(fun=None, *, backend=None):
    """Compile `fun` (no differentiation) with a backend: `jit(f)(*args)` equals `f(*args)`."""
    if fun is None:
        return lambda f: JitFunction(f, backend)
    return JitFunction(fun, backend)
