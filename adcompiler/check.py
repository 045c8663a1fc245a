"""`check_grad`: the compiled gradient against central finite differences in float64."""
from __future__ import annotations

import inspect

import numpy as np

from .errors import AdcompilerError
from .frontend.pytree import flatten, unflatten
from .frontend.signature import is_runtime_leaf


class GradientCheckError(AdcompilerError):
    """`check_grad` found a gradient that differs from finite differences."""


def check_grad(f, *args, wrt=0, eps=1e-6, rtol=1e-5, samples=16, seed=0, backend=None):
    """Compare the compiled gradient of `f` with central finite differences in float64 on up to
    `samples` random coordinates of each differentiated argument. Returns {argument: worst
    relative error}; raises GradientCheckError when one exceeds `rtol`."""
    args64 = tuple(_to_f64(a) for a in args)
    from .api import grad
    g = grad(f, wrt=wrt, backend=backend)
    grads = g(*args64)
    names = g._last.wrt_names[1]
    single = not isinstance(wrt, (tuple, list))
    grads = (grads,) if single else grads
    pysig = inspect.signature(f)
    rng = np.random.default_rng(seed)
    report = {}
    for name, gtree in zip(names, grads, strict=True):
        pos = list(pysig.parameters).index(name)
        leaves, treedef = flatten(args64[pos], is_runtime_leaf)
        gleaves, _ = flatten(gtree, is_runtime_leaf)
        num, den = 0.0, 0.0
        for k, (leaf, gl) in enumerate(zip(leaves, gleaves, strict=True)):
            arr = np.array(leaf, dtype=np.float64)
            ga = np.asarray(gl, dtype=np.float64)
            coords = list(np.ndindex(arr.shape))
            pick = rng.permutation(len(coords))[:samples]
            for c in (coords[i] for i in pick):
                fd = (_perturbed(f, args64, pos, treedef, leaves, k, arr, c, eps)
                      - _perturbed(f, args64, pos, treedef, leaves, k, arr, c, -eps)) / (2 * eps)
                num = max(num, abs(ga[c] - fd))
                den = max(den, abs(fd), abs(ga[c]))
        report[name] = num / den if den > 0 else num
    bad = {k: v for k, v in report.items() if v > rtol}
    if bad:
        raise GradientCheckError("gradient differs from central finite differences: "
                                 + ", ".join(f"{k}: relative error {v:.2e}" for k, v in bad.items()))
    return report


def _to_f64(x):
    leaves, treedef = flatten(x, is_runtime_leaf)
    return unflatten(treedef, [np.asarray(v, np.float64) if isinstance(v, np.ndarray)
                               and np.issubdtype(v.dtype, np.floating) else v for v in leaves])


def _perturbed(f, args, pos, treedef, leaves, k, arr, coord, delta):
    a = arr.copy()
    a[coord] += delta
    new_leaves = list(leaves)
    new_leaves[k] = float(a) if isinstance(leaves[k], float) else a
    new_args = list(args)
    new_args[pos] = unflatten(treedef, new_leaves)
    out = f(*new_args)
    return float(np.asarray(out[0] if isinstance(out, tuple) else out))


