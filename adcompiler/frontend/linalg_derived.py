"""np.linalg's functions composed from the registry's decompositions and products: pinv,
matrix_power, lstsq, matrix_rank, cond, svdvals and multi_dot; and np.vander and np.polyfit
(lstsq of the scaled Vandermonde matrix, as NumPy's).

Contract: values, dtypes, shapes and argument names are NumPy's (its `_commonType`: float32
stays float32, integers become float64, float16 is an error), computed as NumPy's code does,
with these differences:
- pinv is NumPy's V diag(1/s) U^T of the reduced SVD, singular values at most rcond * s_max
  dropped. Its gradient goes through the SVD's, which divides by singular-value gaps: it is
  inf or NaN (a NaNError) where two singular values are equal or, for a non-square matrix,
  one is 0, although pinv is differentiable wherever its rank is constant.
  hermitian=True is refused (as np.linalg.svd's).
- matrix_power takes a static int n; n < 0 inverts first (float64 for integers), and the
  products follow NumPy's binary decomposition, so the values are NumPy's to rounding.
- lstsq returns NumPy's (x, residuals, rank, s) for matrices of full rank only: x from the
  QR (x = R^-1 Q^T b for m >= n; the minimum-norm A^T-side x = Q R^-T b with QR of A^T for
  m < n), whose gradient is the qr ops' VJP. NumPy's gelsd runs the SVD and gives the
  minimum-norm solution of a rank-deficient matrix too; the QR squares no condition number
  (the normal equations would) and costs less, and the SVD's gradient would divide by the
  gaps between singular values. rank and s are the SVD's (s > rcond * s_max counted, rcond
  None as NumPy's eps * max(m, n), a negative rcond LAPACK's machine precision), and a rank
  below min(m, n) fails a run-time assert (AssertionFailed naming the line), since x and the
  shape of residuals would differ. residuals are |b - A x|^2 summed per column for m > n,
  else empty, as NumPy's for full rank.
- matrix_rank counts singular values above tol (hermitian=True: |eigenvalues|), an int64
  (a Python int of the any-nonzero test for fewer than 2 dimensions, as NumPy's); not
  differentiable.
- multi_dot multiplies in the order NumPy's chooses (fewest multiply-adds, by its dynamic
  program over the shapes), a 1-D first or last array as a row or column, so its values are
  NumPy's to rounding.
- cond's p None, 2 and -2 are ratios of singular values; the other norms are
  norm(x, p) * norm(inv(x), p), whose inv raises LinAlgError for a singular matrix where
  NumPy's gives inf. A NaN ratio without a NaN in x is inf, as NumPy's.
"""
from __future__ import annotations

import operator

import numpy as np

from .arith import astype, binary, classify, unary, where
from .composites import norm
from .creation import eye
from .emit import Emitter
from .indexing import getitem
from .linalg import _lapack, _static_flag, _svd, dot, eigvalsh, inv, matmul, qr, solve, svd
from .problems import FrontendError, StaticNeeded
from .reductions import any_all, count_nonzero, cumprod, reduce
from .shapes import as_array, broadcast_to, concatenate, copy, expand_dims, reshape, swapaxes
from .values import NP_OF, Traced


def _eps(t: Traced) -> float:
    return float(np.finfo(NP_OF[t.dtype]).eps)


def pinv(cx: Emitter, a, rcond=None, hermitian=False, rtol=np._NoValue) -> Traced:
    if _static_flag("pinv", "hermitian", hermitian):
        raise FrontendError("np.linalg.pinv: hermitian=True is not supported; pass "
                            "hermitian=False")
    (a,) = _lapack(cx, "pinv", a, square=False)
    if rcond is None:
        rcond = 1e-15 if rtol is np._NoValue else \
            max(a.shape[-2:]) * _eps(a) if rtol is None else rtol
    elif rtol is not np._NoValue:
        raise FrontendError("np.linalg.pinv: `rtol` and `rcond` can't be both set.")
    u, s, vt = (_svd(cx, a, p) for p in ("u", "values", "vt"))
    # NumPy's asarray(rcond): a float64 array, strong in the product
    rc = cx.tensor(rcond if isinstance(rcond, Traced) else np.asarray(rcond))
    # (a matrix with no singular values, 0 x n: the largest one is taken as 0)
    largest = reduce(cx, "max", s, -1, True, initial=0.0 if s.shape[-1] == 0 else np._NoValue)
    cutoff = binary(cx, "mul", expand_dims(cx, rc, -1), largest)
    large = binary(cx, "gt", s, cutoff)
    # 1 / s where kept: the dropped entries divide 1, so their zero cotangent stays zero
    safe = where(cx, large, s, astype(cx, 1, s.dtype))
    s_inv = where(cx, large, binary(cx, "div", astype(cx, 1, s.dtype), safe),
                  astype(cx, 0, s.dtype))
    scaled = binary(cx, "mul", expand_dims(cx, s_inv, -1), swapaxes(cx, u, -1, -2))
    return matmul(cx, swapaxes(cx, vt, -1, -2), scaled)


def matrix_power(cx: Emitter, a, n) -> Traced:
    if isinstance(n, Traced):
        raise StaticNeeded("np.linalg.matrix_power's n must be a compile-time int")
    try:
        n = operator.index(n)
    except TypeError:
        raise FrontendError("np.linalg.matrix_power: exponent must be an integer") from None
    t = cx.tensor(a)
    if t.ndim < 2:
        raise FrontendError(f"np.linalg.matrix_power: {t.ndim}-dimensional array given. "
                            "Array must be at least two-dimensional")
    if t.shape[-1] != t.shape[-2]:
        raise FrontendError("np.linalg.matrix_power: Last 2 dimensions of the array must be "
                            "square")
    if n == 0:
        return copy(cx, broadcast_to(cx, eye(cx, t.shape[-1], dtype=t.np_dtype), t.shape))
    if n < 0:
        t, n = inv(cx, t), -n
    if n <= 3:      # NumPy's: a, a @ a, (a @ a) @ a (n == 1 is the array itself)
        out = t
        for _ in range(n - 1):
            out = matmul(cx, out, t)
        return out
    z = result = None       # NumPy's binary decomposition
    while n > 0:
        z = t if z is None else matmul(cx, z, z)
        n, bit = divmod(n, 2)
        if bit:
            result = z if result is None else matmul(cx, result, z)
    return result


def lstsq(cx: Emitter, a, b, rcond=None):
    if isinstance(rcond, Traced):
        raise StaticNeeded("np.linalg.lstsq's rcond must be a compile-time number")
    a, b = _lapack(cx, "lstsq", a, b, square=False)
    if a.ndim != 2 or b.ndim not in (1, 2):
        raise FrontendError(f"np.linalg.lstsq: a must be one matrix and b a vector or a matrix, "
                            f"got shapes {a.shape} and {b.shape}")
    (m, n), vector = a.shape, b.ndim == 1
    if b.shape[0] != m:
        raise FrontendError(f"np.linalg.lstsq: Incompatible dimensions: a {a.shape}, b {b.shape}")
    if vector:
        b = reshape(cx, b, (m, 1))
    s = _svd(cx, a, "values")
    rcond = _eps(a) * max(m, n) if rcond is None else _eps(a) if rcond < 0 else rcond
    cutoff = binary(cx, "mul", getitem(cx, s, (0,)), float(rcond)) if s.shape[0] else 0
    rank = astype(cx, count_nonzero(cx, binary(cx, "gt", s, cutoff)), "i32")
    full = binary(cx, "eq", rank, min(m, n))
    cx.op("assert", full.value, message="np.linalg.lstsq: a has rank below min(a.shape); "
          "adcompiler's lstsq solves full-rank systems only (NumPy's minimum-norm solution "
          "of a rank-deficient system is not supported)")
    if m >= n:
        q, r = qr(cx, a)
        x = solve(cx, r, matmul(cx, swapaxes(cx, q, -1, -2), b))
    else:
        q, r = qr(cx, swapaxes(cx, a, -1, -2))
        x = matmul(cx, q, solve(cx, swapaxes(cx, r, -1, -2), b))
    if m > n:
        diff = binary(cx, "sub", b, matmul(cx, a, x))
        residuals = reduce(cx, "sum", binary(cx, "mul", diff, diff), 0)
    else:
        residuals = cx.tensor(np.zeros(0, NP_OF[a.dtype]))
    return (reshape(cx, x, (n,)) if vector else x), residuals, rank, s


def matrix_rank(cx: Emitter, A, tol=None, hermitian=False, rtol=None) -> Traced:
    t = cx.tensor(A)
    if t.ndim < 2:      # NumPy's int(not all(A == 0))
        nonzero = any_all(cx, "any", binary(cx, "ne", t, 0))
        return cx.wrap(astype(cx, nonzero, "i64").value, weak=True)
    (t,) = _lapack(cx, "matrix_rank", t, square=_static_flag("matrix_rank", "hermitian",
                                                              hermitian))
    if hermitian:
        s = unary(cx, "abs", eigvalsh(cx, t))
    else:
        s = _svd(cx, t, "values")
    if tol is None:
        rtol = max(t.shape[-2:]) * _eps(s) if rtol is None else \
            expand_dims(cx, cx.tensor(np.asarray(rtol) if not isinstance(rtol, Traced)
                                      else rtol), -1)
        tol = binary(cx, "mul", reduce(cx, "max", s, -1, True), rtol)
    else:
        tol = expand_dims(cx, cx.tensor(np.asarray(tol) if not isinstance(tol, Traced)
                                        else tol), -1)
    return count_nonzero(cx, binary(cx, "gt", s, tol), -1)


def cond(cx: Emitter, x, p=None) -> Traced:
    if isinstance(p, Traced):
        raise StaticNeeded("np.linalg.cond's p must be a compile-time value")
    t0 = cx.tensor(x)
    if p is None or p in (2, -2):
        (t,) = _lapack(cx, "cond", t0, square=False)
        s = _svd(cx, t, "values")
        first, last = getitem(cx, s, (Ellipsis, 0)), getitem(cx, s, (Ellipsis, -1))
        r = binary(cx, "div", last, first) if p == -2 else binary(cx, "div", first, last)
    else:
        (t,) = _lapack(cx, "cond", t0)
        r = binary(cx, "mul", norm(cx, t, p, (-2, -1)), norm(cx, inv(cx, t), p, (-2, -1)))
    # NumPy's: a NaN from a matrix without NaNs (0 / 0) is inf
    x_nan = any_all(cx, "any", classify(cx, "isnan", t), (-2, -1))
    nan = binary(cx, "logical_and", classify(cx, "isnan", r), unary(cx, "logical_not", x_nan))
    return astype(cx, where(cx, nan, np.inf, r), r.dtype)


def svdvals(cx: Emitter, x) -> Traced:
    return svd(cx, x, compute_uv=False)


def multi_dot(cx: Emitter, arrays, out=None) -> Traced:
    ts = [cx.tensor(a) for a in cx.iterate(arrays)]
    if len(ts) < 2:
        raise FrontendError("np.linalg.multi_dot: Expecting at least two arrays.")
    if out is not None:
        raise FrontendError("np.linalg.multi_dot(out=...) is not supported; assign the result")
    if len(ts) == 2:
        return dot(cx, ts[0], ts[1])        # (NumPy's: np.dot, any ranks)
    first, last = ts[0].ndim, ts[-1].ndim
    if first == 1:
        ts[0] = reshape(cx, ts[0], (1, -1))
    if last == 1:
        ts[-1] = reshape(cx, ts[-1], (-1, 1))
    for t in ts:
        if t.ndim != 2:
            raise FrontendError(f"np.linalg.multi_dot: {t.ndim}-dimensional array given. "
                                "Array must be two-dimensional")
    dims = [t.shape[0] for t in ts] + [ts[-1].shape[1]]
    n = len(ts)
    cost, split = {(i, i): 0 for i in range(n)}, {}
    for span in range(1, n):        # NumPy's _multi_dot_matrix_chain_order
        for i in range(n - span):
            j = i + span
            cost[i, j] = np.inf
            for k in range(i, j):
                c = cost[i, k] + cost[k + 1, j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < cost[i, j]:
                    cost[i, j], split[i, j] = c, k

    def product(i, j):
        return ts[i] if i == j else matmul(cx, product(i, split[i, j]),
                                           product(split[i, j] + 1, j))
    out = product(0, n - 1)
    if first == 1 and last == 1:
        return reshape(cx, out, ())
    return reshape(cx, out, (-1,)) if first == 1 or last == 1 else out


def vander(cx: Emitter, x, N=None, increasing=False) -> Traced:
    """np.vander: the powers of a vector's entries, made as NumPy's are (a running product of
    x from a column of 1s), highest first unless `increasing`."""
    t = as_array(cx, x)
    if t.ndim != 1:
        raise FrontendError("x must be a one-dimensional array or sequence.")
    n = t.shape[0] if N is None else N
    if isinstance(n, Traced) or not isinstance(n, (int, np.integer)):
        raise StaticNeeded("np.vander's N must be a compile-time int")
    rows = t.shape[0]
    factors = concatenate(cx, [astype(cx, broadcast_to(cx, 1, (rows, min(n, 1))), t.dtype),
                               broadcast_to(cx, reshape(cx, t, (rows, 1)), (rows, max(n - 1, 0)))],
                          axis=1)
    out = cumprod(cx, factors, 1)     # 1, x, x^2, ...
    return out if increasing else getitem(cx, out, (slice(None), slice(None, None, -1)))


def polyfit(cx: Emitter, x, y, deg, rcond=None, full=False, w=None, cov=False) -> Traced:
    """np.polyfit's coefficients, highest power first, as NumPy computes them: the least
    squares solution of the Vandermonde system with its columns scaled to unit norm (lstsq:
    full rank only), rcond len(x) * eps by default; not full=, w= or cov=."""
    if full or w is not None or cov:
        raise FrontendError("np.polyfit: full=, w= and cov= are not supported; fit with "
                            "np.linalg.lstsq of np.vander(x, deg + 1) for those")
    if isinstance(deg, Traced) or not isinstance(deg, (int, np.integer)) or deg < 0:
        raise FrontendError("np.polyfit's deg must be a compile-time int >= 0")
    t = astype(cx, as_array(cx, x), "f64")
    lhs = vander(cx, t, int(deg) + 1)
    scale = unary(cx, "sqrt", reduce(cx, "sum", binary(cx, "mul", lhs, lhs), 0))
    rcond = t.shape[0] * float(np.finfo(np.float64).eps) if rcond is None else rcond
    c = lstsq(cx, binary(cx, "div", lhs, scale), y, rcond)[0]
    return binary(cx, "div", c, scale if c.ndim == 1 else reshape(cx, scale, (-1, 1)))
