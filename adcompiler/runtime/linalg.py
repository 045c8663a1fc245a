"""Linear-algebra helpers the generated code of both backends calls (`rt.` in the source).

- `cofactor(a)`: the matrices of cofactors of a stack `(..., n, n)`, det(A) A^-T: the gradient
  of det. Where a matrix is singular (np.linalg.inv fails) they come from its SVD, A = U S V^T:
  det(U) det(V) U diag(c) V^T with c_i the product of the singular values other than s_i, the
  transpose of the adjugate (what JAX gives; the inverse does not exist there).
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
