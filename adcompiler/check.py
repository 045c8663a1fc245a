"""`check_grad`: the compiled gradient against central finite differences in float64.

The arguments are converted to float64 copies (the caller's arrays are never changed, even by a
function that changes its arguments in place: every evaluation gets fresh copies). A function
that computes in float32 or float16 inside (`x.astype(np.float32)`) rounds each evaluation
far more than float64 does, so the finite differences take a larger step and the check a
looser tolerance (`PRECISION`) unless `eps` and `rtol` are given.
"""
from __future__ import annotations

import numpy as np

from .errors import AdcompilerError, user_facing
from .frontend.calls import parameters_of
from .frontend.pytree import flatten, node_fields, unflatten
from .frontend.signature import is_runtime_leaf
from .ir.types import DTYPES

# the lowest float precision the traced function computes in -> (eps, rtol) by default
PRECISION = {"f64": (1e-6, 1e-5), "f32": (1e-3, 1e-2), "f16": (1e-2, 5e-2)}


class GradientCheckError(AdcompilerError):
    """`check_grad` found a gradient that differs from finite differences."""


@user_facing
def check_grad(f, *args, wrt=0, eps=None, rtol=None, samples=16, seed=0, backend=None,
               has_aux=False):
    """Compare the compiled gradient of `f` (returning (value, aux) with `has_aux`, as `grad`
    takes it) with central finite differences in float64 on up to
    `samples` random coordinates of each array of each differentiated argument. Returns
    {argument: worst relative error}: of the argument (relative to its largest gradient) and
    of each of its arrays (relative to the larger of its own gradients and the differences'
    rounding over `rtol`); raises GradientCheckError when one exceeds `rtol`. `eps` (the step) and
    `rtol` default by the lowest float precision `f` computes in (`PRECISION`)."""
    args64 = tuple(_to_f64(a) for a in args)
    from .api import grad
    g = grad(f, wrt=wrt, backend=backend, has_aux=has_aux)
    grads = g(*_fresh(args64))
    grads = grads[0] if has_aux else grads
    lowest = _lowest_precision(g._last.program.adj.bwd)
    eps = PRECISION[lowest][0] if eps is None else eps
    rtol = PRECISION[lowest][1] if rtol is None else rtol
    names = g._last.wrt_names[1]
    single = not isinstance(wrt, (tuple, list))
    grads = (grads,) if single else grads
    # the parameters wrt names: a partial's or a method's left, a jit's function's
    pysig = parameters_of(f)
    bound = pysig.bind(*args64)
    rng = np.random.default_rng(seed)
    report = {}
    for name, gtree in zip(names, grads, strict=True):
        leaves, treedef = flatten(bound.arguments[name], is_runtime_leaf)
        # the gradient's leaf (None where it has none: an integer) of each array, from every
        # leaf of both (a static one's, a dataclass's str field's, is None)
        every = flatten(bound.arguments[name], lambda x: is_runtime_leaf(x) or _static(x))[0]
        gevery = flatten(gtree, lambda x: x is None or is_runtime_leaf(x) or _static(x))[0]
        gleaves = [g for a, g in zip(every, gevery, strict=True) if is_runtime_leaf(a)]
        # the argument's error (relative to its largest gradient), and each leaf's relative
        # to its own gradients (another leaf's, 1e5 times as large, hid a 10% error) or to the
        # differences' rounding (the values' spacing over the step) where that is larger: a
        # gradient of 0 is not failed for the differences' noise
        report[name] = 0.0
        spacing = float(np.finfo(np.dtype(DTYPES[lowest])).eps)
        total_num, total_den = 0.0, 0.0
        for k, (leaf, gl) in enumerate(zip(leaves, gleaves, strict=True)):
            if gl is None:
                continue
            arr = np.array(leaf, dtype=np.float64)
            ga = np.asarray(gl, dtype=np.float64)
            coords = list(np.ndindex(arr.shape))
            pick = rng.permutation(len(coords))[:samples]
            num, den, noise = 0.0, 0.0, 0.0
            for c in (coords[i] for i in pick):
                hi = _perturbed(f, pysig, args64, name, treedef, leaves, k, arr, c, eps)
                lo = _perturbed(f, pysig, args64, name, treedef, leaves, k, arr, c, -eps)
                fd = (hi - lo) / (2 * eps)
                num = max(num, abs(ga[c] - fd))
                den = max(den, abs(fd), abs(ga[c]))
                noise = max(noise, (abs(hi) + abs(lo)) * spacing / eps)
            total_num, total_den = max(total_num, num), max(total_den, den)
            floor = max(den, noise / rtol) if rtol > 0 else den
            report[name] = max(report[name], num / floor if floor > 0 else num)
        report[name] = max(report[name], total_num / total_den if total_den > 0 else total_num)
    bad = {k: v for k, v in report.items() if v > rtol}
    if bad:
        raise GradientCheckError("gradient differs from central finite differences: "
                                 + ", ".join(f"{k}: relative error {v:.2e}" for k, v in bad.items())
                                 + f" (rtol {rtol:g}, step {eps:g}"
                                 + (f"; the function computes in {DTYPES[lowest]})"
                                    if lowest != "f64" else ")"))
    return report


def _static(x) -> bool:
    """A leaf that is no array: neither a container nor a pytree node."""
    return not isinstance(x, (list, tuple, dict)) and node_fields(x) is None


def _lowest_precision(fn) -> str:
    """The least precise float dtype among the values `fn` (the backward function: the
    values the gradient is computed through, not a float32 side value) computes."""
    functions = (fn, *fn.callees()) if fn.module else (fn,)
    dtypes = {r.type.dtype for f in functions for op in f.walk() for r in op.results}
    return next((d for d in ("f16", "f32") if d in dtypes), "f64")


def _fresh(tree):
    """`tree` with new containers and copies of its arrays (static leaves, which may not be
    copyable, are kept)."""
    leaves, treedef = flatten(tree, is_runtime_leaf)
    return unflatten(treedef, [v.copy() if isinstance(v, np.ndarray) else v for v in leaves])


def _to_f64(x):
    """`x` with its float arrays as float64 copies."""
    leaves, treedef = flatten(x, is_runtime_leaf)
    return unflatten(treedef, [np.array(v, np.float64) if isinstance(v, np.ndarray)
                               and np.issubdtype(v.dtype, np.floating) else v for v in leaves])


def _perturbed(f, pysig, args, name, treedef, leaves, k, arr, coord, delta):
    a = arr.copy()
    a[coord] += delta
    new_leaves = list(leaves)
    new_leaves[k] = float(a) if isinstance(leaves[k], float) else a
    bound = pysig.bind(*_fresh(args))     # fresh copies: `f` may change them in place
    bound.arguments[name] = _fresh(unflatten(treedef, new_leaves))
    out = f(*bound.args, **bound.kwargs)
    return float(np.asarray(out[0] if isinstance(out, tuple) else out))


