"""scipy.linalg's functions on run-time arrays, built from np.linalg's (frontend/linalg.py), so
their gradients are those ops':
- `cholesky(a, lower=False)`: the upper factor by default, from a's upper triangle, as SciPy;
  `cho_factor` gives (that factor, lower), its other triangle zero (SciPy's holds leftovers);
- `cho_solve((c, lower), b)`: a x = b for a = L L^T (U^T U), two solves with the factor;
- `solve_triangular(a, b, trans=0, lower=False, unit_diagonal=False)`: a solve with a's
  triangle (its diagonal taken as ones where `unit_diagonal`), transposed for trans 1, 'T', 2
  or 'C'; the gradient reaches that triangle only. (A general solve of the triangle: the same
  values to rounding, at an LU's cost.)
- `solve(a, b, lower=False, assume_a=None, transposed=False)`: for assume_a "pos" (or
  "positive definite") by the Cholesky factor of a's triangle (`lower`), as SciPy (a
  LinAlgError where a is not positive definite); for "sym" or "her", that triangle mirrored;
  for "upper triangular" or "lower triangular" that triangle;
- `inv`, `det` (in the dtype the installed SciPy gives: float64 of float32 in 1.17), and
  `eigh(a, lower=True, eigvals_only=False)` as NumPy's.

Contract: `functions()` maps these to handlers `(cx, *args, **kwargs)` with SciPy's parameters
(overwrite_*, check_finite and driver choices are accepted and change nothing), and is empty
unless the user's program has imported scipy.linalg. Flags are compile-time values; others
(eigh's generalized `b`, subsets of eigenvalues) raise FrontendError.
"""
from __future__ import annotations

import sys
from functools import cache

import numpy as np

from . import arith, creation, linalg
from .problems import FrontendError, StaticNeeded
from .values import Traced, ir_dtype


def _scipy_det(dtype):
    return sys.modules["scipy.linalg"].det(np.eye(1, dtype=dtype)).dtype


def functions() -> dict:
    scipy_linalg = sys.modules.get("scipy.linalg")
    return {} if scipy_linalg is None else _table(scipy_linalg)


@cache
def _table(sl) -> dict:
    return {sl.cholesky: cholesky, sl.cho_factor: cho_factor, sl.cho_solve: cho_solve,
            sl.solve_triangular: solve_triangular, sl.solve: solve, sl.inv: inv, sl.det: det,
            sl.eigh: eigh}


def _flag(name, value):
    if isinstance(value, Traced):
        raise StaticNeeded(f"scipy.linalg.{name}'s flags must be compile-time values")
    return value


def cholesky(cx, a, lower=False, overwrite_a=False, check_finite=True):
    return linalg.cholesky(cx, a, upper=not _flag("cholesky", lower))


def cho_factor(cx, a, lower=False, overwrite_a=False, check_finite=True):
    lower = bool(_flag("cho_factor", lower))
    return linalg.cholesky(cx, a, upper=not lower), lower


def _triangle(cx, a, lower, unit_diagonal=False):
    t = creation.tri(cx, "tril" if lower else "triu", a)
    if unit_diagonal:
        n = t.shape[-1]
        t = arith.where(cx, creation.eye(cx, n, dtype=bool), 1.0, t)
    return t


def cho_solve(cx, c_and_lower, b, overwrite_b=False, check_finite=True):
    if not (isinstance(c_and_lower, (tuple, list)) and len(c_and_lower) == 2):
        raise FrontendError("scipy.linalg.cho_solve takes (c, lower), cho_factor's result, "
                            "first")
    c, lower = c_and_lower
    factor = _triangle(cx, c, bool(_flag("cho_solve", lower)))
    first, second = (factor, linalg.matrix_transpose(cx, factor)) if lower else \
        (linalg.matrix_transpose(cx, factor), factor)
    return linalg.solve(cx, second, linalg.solve(cx, first, b))


def solve_triangular(cx, a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
                     check_finite=True):
    trans = _flag("solve_triangular", trans)
    if trans not in (0, 1, 2, "N", "T", "C"):
        raise FrontendError(f"scipy.linalg.solve_triangular: trans must be 0, 1, 2, 'N', 'T' "
                            f"or 'C', got {trans!r}")
    t = _triangle(cx, a, bool(_flag("solve_triangular", lower)),
                  bool(_flag("solve_triangular", unit_diagonal)))
    return linalg.solve(cx, t if trans in (0, "N") else linalg.matrix_transpose(cx, t), b)


POSITIVE = ("pos", "positive definite")
SYMMETRIC = ("sym", "her", "symmetric", "hermitian")


def solve(cx, a, b, lower=False, overwrite_a=False, overwrite_b=False, check_finite=True,
          assume_a=None, transposed=False):
    assume_a, lower = _flag("solve", assume_a), bool(_flag("solve", lower))
    if assume_a in POSITIVE:        # (SciPy's Cholesky: a LinAlgError where a is not positive
        factor = linalg.cholesky(cx, a, upper=not lower)      # definite)
        return cho_solve(cx, (factor, lower), b)
    if assume_a in SYMMETRIC:       # (SciPy reads the one triangle)
        half = _triangle(cx, a, lower)
        a = arith.binary(cx, "add", half, linalg.matrix_transpose(cx, creation.tri(
            cx, "tril" if lower else "triu", a, -1 if lower else 1)))
    elif assume_a in ("upper triangular", "lower triangular"):
        a = _triangle(cx, a, assume_a.startswith("lower"))
    elif assume_a not in (None, "gen", "general"):
        raise FrontendError(f"scipy.linalg.solve: assume_a={assume_a!r} is not supported "
                            "(general, symmetric, positive definite and triangular are)")
    if _flag("solve", transposed):
        a = linalg.matrix_transpose(cx, cx.tensor(a))
    return linalg.solve(cx, a, b)


def inv(cx, a, overwrite_a=False, check_finite=True):
    return linalg.inv(cx, a)


def det(cx, a, overwrite_a=False, check_finite=True):
    d = linalg.det(cx, a)
    # (SciPy 1.17's det of float32 is float64; the installed SciPy's dtype, whichever it is)
    return arith.astype(cx, d, ir_dtype(_scipy_det(d.np_dtype)))


def eigh(cx, a, b=None, *, lower=True, eigvals_only=False, overwrite_a=False,
         overwrite_b=False, type=1, check_finite=True, subset_by_index=None,
         subset_by_value=None, driver=None):
    if b is not None or subset_by_index is not None or subset_by_value is not None:
        raise FrontendError("scipy.linalg.eigh: the generalized problem (b) and subsets of "
                            "eigenvalues are not supported; np.linalg.eigh's is")
    uplo = "L" if _flag("eigh", lower) else "U"
    if _flag("eigh", eigvals_only):
        return linalg.eigvalsh(cx, a, UPLO=uplo)
    return linalg.eigh(cx, a, UPLO=uplo)
