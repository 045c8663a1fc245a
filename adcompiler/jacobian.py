"""Jacobians, Hessians and Jacobian-vector products, in reverse mode, from `vjp` and `grad`.

    jacobian(f, wrt=0)(*args)    d f(args) / d args[wrt]
    hessian(f, wrt=0)(*args)     the Jacobian of grad(f, wrt) with respect to the same argument
    jvp(f, args, tangents)       (f(*args), J tangents): the derivative along the tangents

Contract: for a result leaf of shape S and an argument leaf of shape A, the Jacobian is an
array of shape S + A (`J[s + a] = d out[s] / d arg[a]`); a pytree result gets that pytree,
each result leaf holding the argument's pytree of such arrays, as JAX's `jacrev` gives them
(a result that is one array: the argument's pytree; an argument that is one array: one array).
`wrt` is a position or parameter name, or a tuple of them: then each result leaf holds a tuple
of Jacobians, one per argument of `wrt`, as JAX's `jacrev` with a tuple of argnums gives them
(a result that is one array: that tuple). Only those arguments are differentiated. `wrt` may
pick an argument the call passes by keyword where that one could be passed by position (not a
keyword-only one, nor one **kwargs collects: those are passed on, not differentiated). One
forward run, then one backward run per entry of the result, each a `vjp` pullback of a one-hot
cotangent: reverse mode pays per output, so it suits few outputs and many inputs. Integer and
static results have no derivative (None in their place), nor have static argument leaves.
`hessian` differentiates the gradient's generated code again (grad inside traced code).

`jvp` needs no forward-mode rules: the pullback u -> J^T u is linear in u, so J v is the
gradient in u of <J^T u, v> (the transpose trick), one traced program with two reverse sweeps,
compiled and cached like any gradient. Tangents are shaped like their arguments (None for
arguments without float data); arguments and results are pytrees (frontend/pytree.py).
"""
from __future__ import annotations

import inspect

import numpy as np

from .ad.traced import run_time_floats, statics_to_none
from .api import (_has_float, check_callable, grad, jit, name_of, no_argnums, pullback_of,
                  vjp)
from .errors import AdcompilerError, user_facing, where
from .ir.types import DTYPES
from .frontend import trace
from .frontend.calls import parameters_of
from .frontend.pytree import attributes, flatten, leaves_like, structure_difference, unflatten
from .frontend.signature import is_runtime_leaf
from .frontend.values import Traced


@user_facing
def jacobian(fun, *, wrt=0, backend=None, check_nans=True, argnums=None, has_aux=False):
    """The Jacobian of `fun` with respect to argument(s) `wrt` (see the module docstring).
    With has_aux=True `fun` returns a pair (value, aux) and the Jacobian function gives
    (Jacobian of value, aux), as JAX's jacrev."""
    no_argnums(argnums, "jacobian")
    check_callable(fun, "jacobian")
    @user_facing
    def jac(*args, **kwargs):
        args, kwargs = _by_position(fun, args, kwargs)
        positions = _positions(fun, wrt, len(args), kwargs)
        for p in positions:
            if not _has_float(args[p]):
                raise AdcompilerError(f"jacobian with respect to argument {p}: it holds no "
                                      "float data (integers and booleans have no derivative)")
        value, pullback = pullback_of(fun, args, kwargs, backend, check_nans,
                                      tuple(sorted(set(positions))), aux=has_aux)
        result = trace(fun, *args, **kwargs).meta["signature"].result      # (cached)
        if has_aux:
            (value, aux), result = value, result[0]
        outs, out_def = flatten(value, is_runtime_leaf)
        # a static result (a Python float returned as it is) has no derivative either
        computed = [isinstance(r, Traced) for r in leaves_like(value, result, is_runtime_leaf)]
        per_out = []
        for i, out in enumerate(outs):
            if not computed[i] or np.asarray(out).dtype.kind != "f":
                per_out.append(None)
                continue
            rows = []
            for k in range(max(np.size(out), 1)):    # (an empty result: one zero row)
                # new cotangents for each row: a gradient may be the cotangent itself
                cts = [np.zeros(np.shape(o), _float_dtype(o)) for o in outs]
                cts[i].flat[k:k + 1] = 1
                grads = pullback(unflatten(out_def, cts))
                rows.append([grads[p] for p in positions])
            per_out.append([_stacked([r[j] for r in rows], np.shape(out))
                            for j in range(len(positions))])
        # (JAX's jacrev with argnums a tuple: each result leaf holds a tuple over them)
        several = isinstance(wrt, (tuple, list))
        jac = unflatten(statics_to_none(out_def), [o if o is None else tuple(o) if several
                                                   else o[0] for o in per_out])
        return (jac, aux) if has_aux else jac

    jac.__name__ = f"jacobian_{name_of(fun)}"
    return _traceable(jac, fun, wrt, fun, has_aux)


@user_facing
def hessian(fun, *, wrt=0, backend=None, check_nans=True, argnums=None):
    """The Hessian of the scalar function `fun` with respect to argument `wrt` (one position
    or name): for an array argument of shape A, an array of shape A + A."""
    no_argnums(argnums, "hessian")
    check_callable(fun, "hessian")
    if isinstance(wrt, (tuple, list)):
        raise AdcompilerError("hessian takes one argument position or name as wrt")
    g = grad(fun, wrt=wrt, backend=backend, check_nans=check_nans)
    jacobians: dict = {}        # one per position: its traced gradient, so its compiled code

    @user_facing
    def hess(*args, **kwargs):
        args, kwargs = _by_position(fun, args, kwargs)
        (position,) = _positions(fun, wrt, len(args), kwargs)
        if position not in jacobians:
            _check_scalar(fun, args, kwargs)
            jacobians[position] = jacobian(g, wrt=position, backend=backend,
                                           check_nans=check_nans)
        return jacobians[position](*args, **kwargs)

    hess.__name__ = f"hessian_{name_of(fun)}"
    return _traceable(hess, fun, wrt, g)


def _check_scalar(fun, args, kwargs):
    """A Hessian is of a function returning one float scalar: say so at the user's function
    (the gradient's own error would name this module, where it is traced)."""
    primal = trace(fun, *args, **kwargs)
    results = primal.meta["signature"].returned(primal.results)
    if len(results) != 1 or results[0].type.rank or not results[0].type.is_float:
        got = ", ".join(str(r.type) for r in results) or "nothing"
        raise AdcompilerError(f"{where(primal.loc)}: hessian needs "
                              f"{name_of(fun)} to return one float scalar, "
                              f"got {got} (jacobian gives a vector function's derivatives)")


def _traceable(entry, fun, wrt, differentiated, has_aux=False):
    """`entry` (jacobian's or hessian's function), which traced code may call: traced as a
    call of it (calls.transformed), it traces `_rows` for the Jacobian of `differentiated`
    (fun, or its gradient) with respect to one argument."""
    def traced(ctx, args, kwargs):
        if isinstance(wrt, (tuple, list)) or has_aux:
            raise ctx.error(f"{entry.__name__} inside traced code takes one argument position "
                            "or name as wrt, and has_aux=False (outside traced code, a tuple "
                            "or True)")
        args, kwargs = _by_position(fun, tuple(args), kwargs)
        (position,) = _positions(fun, wrt, len(args), kwargs)
        args = (*args[:position], run_time_floats(ctx, args[position]), *args[position + 1:])
        _float_array_argument(ctx, entry.__name__, args[position], position)
        ctx.check_transformable(differentiated)
        return ctx.call(_rows, differentiated, (position,), args, kwargs)[1][0]
    entry.__adcompiler_trace__ = traced
    entry.__adcompiler_transform__ = True
    entry.fun = fun             # (its parameters are fun's)
    return entry


def _rows(fun, positions, args, kwargs):
    """(fun's one array result, its Jacobian with respect to each argument of `positions`), in
    traced code (traced as user code is): one pullback of a one-hot cotangent per entry."""
    value, pullback = vjp(fun, *args, **kwargs)
    if not hasattr(value, "size"):       # (a tuple, dict, dataclass: a pytree)
        raise TypeError("jacobian inside traced code takes a function returning one array, "
                        f"not a {type(value).__name__} (outside traced code it may return a "
                        "pytree)")
    if value.size == 0:
        return value, [np.zeros(value.shape + args[p].shape, value.dtype) for p in positions]
    rows = []
    for k in range(value.size):
        onehot = np.zeros(value.size, value.dtype)
        onehot[k] = 1.0
        rows.append(pullback(onehot.reshape(value.shape)))
    return value, [np.stack([r[p] for r in rows]).reshape(value.shape + args[p].shape)
                   for p in positions]


def _jvp_transposed(fun, primals, tangents, has_aux):
    """jvp in traced code, of a function of one array result: J t as the gradient in u of
    <J^T u, t> (the pullback is linear in u: the transpose trick of jvp outside traced code):
    two forward sweeps (the value's, the pullback's), a backward sweep and its transpose, where
    a Jacobian of one backward sweep per entry of the result cost a sliced score-matching loss
    B * D sweeps. With `has_aux`, fun returns (value, aux), and so (value, J t, aux)."""
    positions = [p for p in range(len(primals)) if tangents[p] is not None]
    value, _, *aux = vjp(fun, *primals, has_aux=has_aux)
    if not hasattr(value, "size"):       # (a tuple, dict, dataclass: a pytree)
        raise TypeError("jvp inside traced code takes a function returning one array, not a "
                        f"{type(value).__name__} (outside traced code it may return a pytree)")

    def along(u, *args):
        pullback = vjp(fun, *args, has_aux=has_aux)[1]
        cts = pullback(u)
        return sum(np.sum(cts[p] * tangents[p]) for p in positions)
    tangent = grad(along)(np.ones(value.shape, value.dtype), *primals)     # (as jvp's u)
    return (value, tangent, *aux)


def _by_position(fun, args, kwargs):
    """(args, kwargs) of the same call with every keyword argument that may be passed by
    position so passed, the parameters before it that were not given passed their defaults:
    the pullback differentiates positional arguments, and `wrt` may name or count one passed
    by keyword. Left as they are where the call does not fit the parameters."""
    if not kwargs:
        return args, kwargs
    try:
        bound = parameters_of(fun).bind(*args, **kwargs)
    except TypeError:
        return args, kwargs     # (the function's own call says what is wrong)
    bound.apply_defaults()
    return bound.args, bound.kwargs


def _positions(fun, wrt, n_args, kwargs) -> list[int]:
    """The positional indices that `wrt` (positions or parameter names) picks."""
    # (a jit or grad function: the parameters of the function it compiles)
    params = parameters_of(fun).parameters
    names = list(params)
    out = []
    for w in (wrt if isinstance(wrt, (tuple, list)) else [wrt]):
        if isinstance(w, str) and w in kwargs:
            raise AdcompilerError(f"wrt={w!r} is given as a keyword argument that cannot be "
                                  "passed by position (keyword-only, or collected by **kwargs): "
                                  "keyword arguments are passed on, not differentiated")
        if isinstance(w, str) and w in params \
                and params[w].kind is inspect.Parameter.VAR_POSITIONAL:
            raise AdcompilerError(f"wrt={w!r} names *{w}, which gathers the arguments from "
                                  f"position {names.index(w)} on: give their positions (wrt=("
                                  f"{names.index(w)}, {names.index(w) + 1}, ...)); grad alone "
                                  f"takes wrt={w!r} for all of them")
        if isinstance(w, str):
            if w not in names[:n_args]:
                raise AdcompilerError(f"wrt={w!r}: no positional argument of that name was "
                                      "given")
            w = names.index(w)
        if not -n_args <= w < n_args:
            raise AdcompilerError(f"wrt={w}: {n_args} positional arguments were given")
        out.append(w % n_args)
    return out


def _float_dtype(x):
    dtype = np.asarray(x).dtype
    return dtype if dtype.kind == "f" else np.float64


def _stacked(rows, out_shape):
    """One argument's gradient pytrees, one per result entry, as one pytree of arrays of shape
    out_shape + the leaf's shape (None where the argument's leaf has no gradient)."""
    if rows[0] is None:
        return None
    leaves = [flatten(r, is_runtime_leaf) for r in rows]
    treedef = leaves[0][1]
    # (an empty result's one zero row is cut to no entries)
    n = int(np.prod(out_shape))
    stacked = [np.stack([np.asarray(ls[j]) for ls, _ in leaves])[:n].reshape(
        out_shape + np.shape(leaves[0][0][j])) for j in range(len(leaves[0][0]))]
    return unflatten(treedef, stacked)


@user_facing
def jvp(fun, primals, tangents, *, backend=None, check_nans=True, has_aux=False):
    """(fun(*primals), its derivative along `tangents`), shaped like fun's result. With
    has_aux=True `fun` returns a pair (value, aux) and jvp gives (value, tangent, aux), as
    JAX's: aux is not differentiated."""
    for what, given in (("primals", primals), ("tangents", tangents)):
        if not isinstance(given, (tuple, list)):
            raise AdcompilerError(f"jvp takes the {what} as a tuple, one per argument: "
                                  f"jvp(f, (x,), (t,)), got a {type(given).__name__}")
    if len(tangents) != len(primals):
        raise AdcompilerError(f"jvp: {len(primals)} arguments but {len(tangents)} tangents")
    for k, (p, t) in enumerate(zip(primals, tangents)):
        _check_tangent(k, p, t)
    if all(t is None for t in tangents):
        raise AdcompilerError("jvp: every tangent is None: there is no direction to "
                              "differentiate in")
    primal = trace(fun, *primals)       # (cached) for the result's types
    sig = primal.meta["signature"]
    # the cotangent u at which the pullback is differentiated in it: any u gives J t (it is
    # linear in u), but ones, not zeros, so a custom_vjp's bwd iterating to a tolerance (an
    # implicit derivative's fixed point) runs its iterations: at 0 it stopped at once
    ones = sig.unflatten_result([np.ones(r.type.shape, DTYPES[r.type.dtype])
                                 for r in primal.results])
    if has_aux:
        if not (isinstance(ones, tuple) and len(ones) == 2):
            raise AdcompilerError(f"{where(primal.loc)}: has_aux=True needs {name_of(fun)} "
                                  "to return a pair (value, aux)")
        ones = ones[0]
    leaves, treedef = flatten(ones, is_runtime_leaf)
    u = unflatten(statics_to_none(treedef), leaves)     # cotangents shaped as the value
    try:
        key = (fun, backend, check_nans, has_aux)
        hash(key)
    except TypeError:       # (a dataclass layer object: eq=True leaves it unhashable)
        key = (id(fun), backend, check_nans, has_aux)
    if not any(x.dtype.kind == "f" for x in leaves):
        # no float result to differentiate: None for each, as for the integer results of a
        # function that has float ones too
        if key not in _VALUES:
            _VALUES[key] = jit(fun, backend=backend)
        value = _VALUES[key](*primals)
        tangent = unflatten(statics_to_none(treedef), [None] * len(leaves))
    else:
        tangent, value = _PAIRED_GRAD[key](fun, tuple(primals), u, tuple(tangents), has_aux)
    return (value[0], tangent, value[1]) if has_aux else (value, tangent)


def _jvp_trace(ctx, args, kwargs):
    fun, primals, tangents = args
    has_aux = kwargs.get("has_aux", False)
    if not isinstance(has_aux, bool):
        raise ctx.error("jvp's has_aux must be True or False when the code is traced")
    if len(tangents) != len(primals):
        raise ctx.error(f"jvp: {len(primals)} arguments but {len(tangents)} tangents")
    primals = [p if t is None else run_time_floats(ctx, p) for p, t in zip(primals, tangents)]
    for k, (p, t) in enumerate(zip(primals, tangents)):
        if t is not None:
            _float_array_argument(ctx, "jvp", p, k)
            shape = t.type.shape if ctx.is_traced(t) else np.shape(t)
            if shape != p.type.shape:       # (it broadcast: a (3, 3) result for a (3,) one)
                raise ctx.error(f"jvp: the tangent of argument {k} must be shaped like it "
                                f"({p.type.shape}), got {shape}")
    if all(t is None for t in tangents):
        raise ctx.error("jvp: every tangent is None: there is no direction to differentiate in")
    return ctx.call(_jvp_transposed, fun, tuple(primals), tuple(tangents), has_aux)


def _float_array_argument(ctx, entry, arg, k):
    """Inside traced code jacobian, hessian and jvp differentiate with respect to one float
    array (or scalar) per argument: `_rows` stacks one gradient per entry."""
    if not (ctx.is_traced(arg) and arg.type.is_float):
        kind = f"{arg.type} array" if ctx.is_traced(arg) else \
            f"constant {arg.dtype} array" if isinstance(arg, np.ndarray) else type(arg).__name__
        raise ctx.error(f"{entry} inside traced code differentiates with respect to float "
                        f"arrays; argument {k} is a {kind} (outside traced code it may be a "
                        "pytree)")


jvp.__adcompiler_trace__ = _jvp_trace


def _check_tangent(k, primal, tangent):
    """A tangent must be shaped like its argument where that holds floats, or be None (a zero
    tangent, as inside traced code)."""
    if tangent is None:
        return
    leaves = flatten(primal, is_runtime_leaf)[0]
    if not any(np.asarray(x).dtype.kind == "f" for x in leaves):
        return
    differs = structure_difference(primal, tangent)
    if differs:
        raise AdcompilerError(f"jvp: the tangent of argument {k} must have its structure: "
                              f"{differs}")
    given = leaves_like(primal, tangent, is_runtime_leaf)   # (a dict's keys in any order)
    if len(given) != len(leaves) or any(
            np.asarray(x).dtype.kind == "f" and (t is None or np.shape(t) != np.shape(x))
            for x, t in zip(leaves, given)):
        raise AdcompilerError(f"jvp: the tangent of argument {k} must be shaped like it "
                              f"(shapes {[np.shape(x) for x in leaves]}), got "
                              f"{[None if t is None else np.shape(t) for t in given]}")


def _paired(fun, primals, u, tangents, has_aux):
    """<pullback(u), tangents>: its gradient in u is the Jacobian times the tangents (with
    has_aux, of fun's value; the value returned is then (value, aux))."""
    if has_aux:
        value, pullback, aux = vjp(fun, *primals, has_aux=True)
        return _dot(pullback(u), tangents), (value, aux)
    value, pullback = vjp(fun, *primals)
    return _dot(pullback(u), tangents), value


def _dot(g, t):
    """The sum of the products of two pytrees' arrays (g's None leaves: no float data; a None
    tangent: zero)."""
    if g is None or t is None:
        return 0.0
    if isinstance(g, dict):
        return sum(_dot(g[k], t[k]) for k in g)
    if isinstance(g, (list, tuple)):
        return sum(_dot(a, b) for a, b in zip(g, t, strict=True))
    if isinstance(g, (np.ndarray, np.generic, float)):
        return np.sum(g * t)
    return sum(_dot(v, getattr(t, k)) for k, v in attributes(g).items())   # a model object


class _GradCache(dict):
    def __missing__(self, key):
        _, backend, check_nans, _ = key
        self[key] = grad(_paired, wrt="u", has_aux=True, backend=backend, check_nans=check_nans)
        return self[key]


# one gradient of _paired per (function, backend, check_nans): a function is a static argument
# of _paired, so one shared gradient would count each function as a recompilation
_PAIRED_GRAD = _GradCache()
_VALUES: dict = {}      # jvp's (function, backend, check_nans) -> jit of one without float results
