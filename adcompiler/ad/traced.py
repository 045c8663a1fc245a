"""Differentiation inside traced code: `grad` or `vjp` called from a function being traced
(grad of grad, Hessian-vector products, a gradient step inside a compiled function).

The differentiated function's forward and backward IR functions are added to the module being
traced and called with `call` ops, so the outer program can be differentiated again.
"""
from __future__ import annotations

import numpy as np

from ..errors import AdcompilerError
from ..frontend.calls import unwrap
from ..frontend.pytree import flatten, leaves_like, structure_difference, unflatten
from ..frontend.signature import split_outputs
from ..frontend.values import Traced
from . import differentiate


def statics_to_none(td):
    """A treedef whose static leaves become None (a gradient tree has no statics)."""
    kind = td[0]
    if kind == "static":
        return ("static", None)
    if kind in ("tuple", "list"):
        return (kind, tuple(statics_to_none(c) for c in td[1]))
    if kind in ("dict", "node"):
        return (*td[:-1], tuple(statics_to_none(c) for c in td[-1]))
    return td


def run_time_floats(ctx, tree):
    """`tree` with its constant float leaves (float arrays, Python floats: a global's
    parameters, a prior's mode) made run-time values, to be differentiated as outside traced
    code (a constant is no argument of the IR: its gradient was None, or "gradients need float
    arrays")."""
    def constant(v):        # (np.float64 too, a subclass of float: a params dict's x.mean())
        return isinstance(v, (float, np.floating)) or isinstance(v, np.ndarray) \
            and v.dtype.kind == "f"
    leaves, treedef = flatten(tree, lambda v: ctx.is_traced(v) or constant(v))
    if not any(map(constant, leaves)):
        return tree
    return unflatten(treedef, [ctx.tensor(v) if constant(v) else v for v in leaves])


def value_arrays(result) -> int | None:
    """How many run-time arrays the value of a traced function's (value, aux) pair `result`
    (its return structure) holds, the first of its results (has_aux: the ones seeded); None
    where it returns no pair."""
    if not (isinstance(result, tuple) and len(result) == 2):
        return None
    return len(flatten(result[0], lambda x: isinstance(x, Traced))[0])


def call_forward(ctx, adj, operands):
    """Add the adjoint's functions to the module being traced; call the forward one."""
    for f in (adj.fwd, adj.bwd):
        f.name = ctx.module.fresh_name(f.name)
        ctx.module.add(f)
    call = ctx.builder.emit("call", operands, {"callee": adj.fwd.name},
                            result_types=adj.fwd.result_types,
                            hints=[r.hint for r in adj.fwd.results])
    return call.results[:adj.n_results], call.results[adj.n_results:]


def call_backward(ctx, adj, residuals, seeds):
    call = ctx.builder.emit("call", list(residuals) + list(seeds), {"callee": adj.bwd.name},
                            result_types=adj.bwd.result_types,
                            hints=[r.hint for r in adj.bwd.results])
    return [ctx.wrap(g) for g in call.results]


def traced_grad_tree(arg, grads, ctx):
    """The gradient pytree of one argument: None for its integer and boolean arrays."""
    leaves, treedef = flatten(arg, ctx.is_traced)
    return unflatten(statics_to_none(treedef),
                     [next(grads) if leaf.type.is_float else None for leaf in leaves])


class TracedPullback:
    """The pullback `vjp` returns inside traced code: calling it emits the backward call."""

    def __init__(self, adj, residuals, args, value, out_types):
        self.adj, self.residuals, self.args = adj, residuals, args
        self.value, self.out_types = value, out_types

    def __call__(self, cotangent):
        raise AdcompilerError("a pullback made inside traced code can only be called there")

    def __adcompiler_trace__(self, ctx, args, kwargs):
        (cotangent,) = args
        differs = structure_difference(self.value, cotangent)
        if differs:
            raise ctx.error(f"the cotangent must have the value's structure: {differs}")
        # (the value's static leaves, a returned Python float, take no cotangent)
        cts = leaves_like(self.value, cotangent, ctx.is_traced)
        seeds = []
        for ct, t in zip(cts, self.out_types, strict=True):
            if t.is_float:
                v = ctx.value(0.0 if ct is None else ct, t.dtype)
                if ct is not None and v.type.shape != t.shape:     # (as the API's pullback)
                    raise ctx.error(f"cotangent of shape {v.type.shape} for a value of shape "
                                    f"{t.shape}")
                if v.type.shape != t.shape:
                    v = ctx.builder.op("broadcast_to", v, shape=t.shape)
                seeds.append(v)
        grads = iter(call_backward(ctx, self.adj, self.residuals, seeds))
        return tuple(traced_grad_tree(a, grads, ctx) if flatten(a, ctx.is_traced)[0] else None
                     for a in self.args)


def bound_leaves(ctx, fun) -> int:
    """How many run-time leaves `ctx.function(fun, ...)` passes before the arguments: those of
    a functools.partial's arguments and a bound method's or layer object's `self`, which are
    not differentiated."""
    return len(flatten(list(unwrap(fun)[1]), ctx.is_traced)[0])


# static loops of up to this many iterations are unrolled in a function differentiated inside
# traced code, which may be differentiated again (a Hessian): the reverse sweep of a loop op
# cannot be, that of straight-line code can
UNROLL_FOR_SECOND_ORDER = 64


def vjp_trace(ctx, args, kwargs):
    fun, *fargs = args
    # (the backend and NaN checks are the outer program's; has_aux must be known now)
    kwargs = {k: v for k, v in kwargs.items() if k not in ("backend", "check_nans")}
    aux = kwargs.pop("has_aux", False)
    if not isinstance(aux, bool):
        raise ctx.error("vjp's has_aux must be True or False when the code is traced")
    fargs = [run_time_floats(ctx, a) for a in fargs]
    with ctx.unrolling(UNROLL_FOR_SECOND_ORDER):
        ir_fn, operands, rebuild = ctx.function(fun, *fargs, **kwargs)
    result = rebuild.result
    # the arguments' arrays are differentiated: not those of a method's object or partial's
    # arguments (first), nor of keyword arguments (last), which the pullback does not return
    skip = bound_leaves(ctx, fun)
    end = skip + len(flatten(fargs, ctx.is_traced)[0])
    leaves = [i for i, a in enumerate(ir_fn.args) if a.type.is_float and skip <= i < end]
    returned = split_outputs(ir_fn.meta["written"], ir_fn.meta["rebound"], ir_fn.results)[0]
    if aux:
        count = value_arrays(result)
        if count is None:
            raise ctx.error("has_aux=True needs the function to return a pair (value, aux)")
        returned = returned[:count]     # (the pullback takes a cotangent of the value only)
    seeded = tuple(k for k, r in enumerate(returned) if r.type.is_float)
    adj = differentiate(ir_fn, leaves, seeded)
    results, residuals = call_forward(ctx, adj, operands)
    value = rebuild(results)
    pullback = TracedPullback(adj, residuals, fargs, value[0] if aux else value,
                              [r.type for r in returned])
    return (value[0], pullback, value[1]) if aux else (value, pullback)
