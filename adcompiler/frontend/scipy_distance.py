"""scipy.spatial.distance's `cdist(XA, XB, metric)` and `pdist(X, metric)` on run-time arrays,
built from registry ops (so their gradients are those ops'), for the metrics "euclidean",
"sqeuclidean", "cityblock", "chebyshev", "minkowski" (with `p`) and "cosine": each pair's
difference along the last axis, reduced, as SciPy computes it (no |a|^2 + |b|^2 - 2ab
expansion, whose cancellation SciPy avoids too). `pdist` gives SciPy's condensed vector: the
pairs i < j in row-major order. The gradient of a euclidean distance of 0 (cdist(X, X)'s
diagonal) is NaN, as JAX's: take "sqeuclidean" there.

Contract: `functions()` maps them to handlers `(cx, *args, **kwargs)` with SciPy's
parameters, and is empty unless the user's program has imported scipy.spatial.distance;
other metrics, a callable metric, `w=` and `out=` raise FrontendError.
"""
from __future__ import annotations

import sys
from functools import cache

import numpy as np

from . import arith, creation, reductions, shapes
from .indexing import getitem
from .problems import FrontendError
from .values import Traced

METRICS = ("euclidean", "sqeuclidean", "cityblock", "chebyshev", "minkowski", "cosine")


def functions() -> dict:
    distance = sys.modules.get("scipy.spatial.distance")
    return {} if distance is None else _table(distance)


@cache
def _table(distance) -> dict:
    return {distance.cdist: cdist, distance.pdist: pdist}


def _metric(name, metric, kwargs):
    if not isinstance(metric, str) or metric not in METRICS:
        raise FrontendError(f"scipy.spatial.distance.{name}: metric {metric!r} is not supported "
                            f"(the supported ones: {', '.join(METRICS)})")
    extra = set(kwargs) - ({"p"} if metric == "minkowski" else set())
    if extra:
        raise FrontendError(f"scipy.spatial.distance.{name}: {', '.join(sorted(extra))}= is not "
                            f"supported for metric {metric!r}")
    p = kwargs.get("p", 2)
    if isinstance(p, Traced):
        raise FrontendError(f"scipy.spatial.distance.{name}: p must be a compile-time number")
    return metric, p


def _pairs(cx, a, b, metric, p):
    """The distances between a's rows (..., m, 1, d) and b's (..., 1, n, d): (..., m, n)."""
    if metric == "cosine":
        dot = reductions.reduce(cx, "sum", arith.binary(cx, "mul", a, b), -1)
        norms = [arith.unary(cx, "sqrt", reductions.reduce(
            cx, "sum", arith.binary(cx, "mul", v, v), -1)) for v in (a, b)]
        return arith.binary(cx, "sub", 1.0, arith.binary(
            cx, "div", dot, arith.binary(cx, "mul", *norms)))
    diff = arith.binary(cx, "sub", a, b)
    if metric in ("euclidean", "sqeuclidean"):
        sq = reductions.reduce(cx, "sum", arith.binary(cx, "mul", diff, diff), -1)
        return sq if metric == "sqeuclidean" else arith.unary(cx, "sqrt", sq)
    size = arith.unary(cx, "abs", diff)
    if metric == "cityblock" or metric == "minkowski" and p == 1:
        return reductions.reduce(cx, "sum", size, -1)
    if metric == "chebyshev" or metric == "minkowski" and p == np.inf:
        return reductions.reduce(cx, "max", size, -1)
    total = reductions.reduce(cx, "sum", arith.binary(cx, "pow", size, float(p)), -1)
    return arith.binary(cx, "pow", total, 1.0 / p)


def _float_rows(cx, name, x):
    t = cx.tensor(x)
    if t.ndim != 2:
        raise FrontendError(f"scipy.spatial.distance.{name}: XA and XB must be 2-dimensional "
                            f"arrays, got {t.ndim} dimensions")
    return arith.astype(cx, t, "f64")        # (SciPy's distances are float64)


def cdist(cx, XA, XB, metric="euclidean", *, out=None, **kwargs):
    if out is not None:
        raise FrontendError("scipy.spatial.distance.cdist: out= is not supported; assign the "
                            "result")
    metric, p = _metric("cdist", metric, kwargs)
    a, b = _float_rows(cx, "cdist", XA), _float_rows(cx, "cdist", XB)
    if a.shape[1] != b.shape[1]:
        raise FrontendError("scipy.spatial.distance.cdist: XA and XB must have the same number "
                            f"of columns, got {a.shape[1]} and {b.shape[1]}")
    return _pairs(cx, shapes.expand_dims(cx, a, 1), shapes.expand_dims(cx, b, 0), metric, p)


def pdist(cx, X, metric="euclidean", *, out=None, **kwargs):
    if out is not None:
        raise FrontendError("scipy.spatial.distance.pdist: out= is not supported; assign the "
                            "result")
    metric, p = _metric("pdist", metric, kwargs)
    x = _float_rows(cx, "pdist", X)
    rows, cols = creation.triangle_indices(cx, "triu", x.shape[0], 1)
    return _pairs(cx, getitem(cx, x, rows), getitem(cx, x, cols), metric, p)
