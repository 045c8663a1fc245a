"""Covariance and correlation: np.cov and np.corrcoef, written as NumPy computes them
(`numpy/lib/_function_base_impl.py`): the variables as rows in at least float64 (or `dtype`),
their means subtracted, X X^T scaled by 1 / (N - ddof), squeezed; corrcoef divides by the
outer product of the standard deviations and clips to [-1, 1].

Contract: rowvar, bias, ddof and dtype are static; frequency and analytic weights (`fweights`,
`aweights`) are refused. N - ddof <= 0 scales by inf, as NumPy (which warns). The results are
fresh arrays.
"""
from __future__ import annotations

import numpy as np

from .arith import astype, binary, clip, unary
from .composites import diagonal
from .emit import Emitter
from .linalg import matmul
from .problems import FrontendError, StaticNeeded
from .reductions import mean
from .shapes import as_array, concatenate, reshape, squeeze, transpose
from .values import NP_OF, Traced, contains_traced, dtype_arg, ir_dtype


def _variables(cx: Emitter, a, dtype: str, rowvar) -> Traced:
    """`a` as a 2-d array of variables (rows) of `dtype`."""
    t = astype(cx, a, dtype)
    if t.ndim < 2:
        return reshape(cx, t, (1,) * (2 - t.ndim) + t.shape)
    return t if rowvar else transpose(cx, t)


def cov(cx: Emitter, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None,
        aweights=None, dtype=None) -> Traced:
    if fweights is not None or aweights is not None:
        raise FrontendError("np.cov with fweights or aweights is not supported")
    if contains_traced((rowvar, bias, ddof)):
        raise StaticNeeded("np.cov's rowvar, bias and ddof must be compile-time values")
    if ddof is not None and ddof != int(ddof):
        raise FrontendError("ddof must be integer")
    ts = [as_array(cx, a) for a in (m, y) if a is not None]
    if any(t.ndim > 2 for t in ts):
        raise FrontendError(f"{'m' if ts[0].ndim > 2 else 'y'} has more than 2 dimensions")
    want = dtype_arg(dtype) or ir_dtype(np.result_type(*(NP_OF[t.dtype] for t in ts),
                                                       np.float64))
    x = _variables(cx, ts[0], want, rowvar or ts[0].ndim == 1)
    if len(ts) > 1:
        x = concatenate(cx, [x, _variables(cx, ts[1], want, rowvar or ts[1].shape[0] == 1)])
    if ddof is None:
        ddof = 0 if bias else 1
    fact = max(x.shape[1] - ddof, 0.0)
    x = binary(cx, "sub", x, mean(cx, x, axis=1, keepdims=True))
    c = matmul(cx, x, transpose(cx, x))
    with np.errstate(divide="ignore"):
        scale = np.true_divide(1, fact)      # a NumPy float64, as NumPy's: inf for fact 0
    return squeeze(cx, astype(cx, binary(cx, "mul", c, scale), c.dtype))


def corrcoef(cx: Emitter, x, y=None, rowvar=True, dtype=None) -> Traced:
    c = cov(cx, x, y, rowvar, dtype=dtype)
    if c.ndim == 0:         # one variable: NumPy's c / c
        return binary(cx, "div", c, c)
    stddev = unary(cx, "sqrt", diagonal(cx, c))
    c = binary(cx, "div", c, reshape(cx, stddev, (-1, 1)))
    c = binary(cx, "div", c, reshape(cx, stddev, (1, -1)))
    return clip(cx, c, -1, 1)
