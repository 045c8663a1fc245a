"""Helpers the generated code of both backends calls (`rt.` in the source).

- `argsort(x, axis)`: np.argsort(x, axis=axis, kind='stable'), the order np.sort's gradient
  follows (ties in their original order), in about a third of its time where few lines along
  the axis hold ties: NumPy's default sort (its SIMD quicksort) orders a line without ties as the
  stable sort does, so only the lines with two equal entries (two NaNs count as equal) are
  sorted again, stably (a 1000 x 1000 float64 array along its rows: 42 -> 15 ms here).
- `cofactor(a)`: the matrices of cofactors of a stack `(..., n, n)`, det(A) A^-T: the gradient
  of det. Where a matrix is singular (np.linalg.inv fails) they come from its SVD, A = U S V^T:
  det(U) det(V) U diag(c) V^T with c_i the product of the singular values other than s_i, the
  transpose of the adjugate (what JAX gives; the inverse does not exist there).
- `correlate(a, v)`: the valid correlation of two arrays of one rank, a no smaller than v on
  each axis (the registry's correlate of rank >= 2): SciPy's, direct or by FFT as it finds
  faster (with that method's rounding), scipy.signal imported at the first call.
"""
import numpy as np


def cofactor(a):
    try:
        return np.linalg.det(a)[..., None, None] * np.swapaxes(np.linalg.inv(a), -1, -2)
    except np.linalg.LinAlgError:
        pass
    u, s, vt = np.linalg.svd(a)
    n = s.shape[-1]
    others = np.prod(np.where(np.eye(n, dtype=bool), 1, s[..., None, :]), axis=-1)
    sign = np.linalg.det(u) * np.linalg.det(vt)
    return sign[..., None, None] * ((u * others[..., None, :]) @ vt)


def argsort(x, axis):
    order = np.argsort(x, axis=axis)
    lines = np.moveaxis(np.take_along_axis(x, order, axis), axis, -1)
    ties = lines[..., 1:] == lines[..., :-1]
    if lines.dtype.kind == "f":
        ties |= np.isnan(lines[..., 1:]) & np.isnan(lines[..., :-1])
    tied = ties.any(axis=-1)
    if tied.any():
        # (a view of `order`: the lines are written into it)
        np.moveaxis(order, axis, -1)[tied] = np.argsort(np.moveaxis(x, axis, -1)[tied], axis=-1,
                                                        kind="stable")
    return order


def correlate(a, v):
    from scipy import signal     # (imported where a program correlates arrays: it is slow)
    return signal.correlate(a, v, mode="valid")
