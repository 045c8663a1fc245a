"""Matrix product with NumPy `matmul` semantics for operands of rank >= 2 (batch dimensions
broadcast). 1-D `dot`/`matmul` operands, `outer` and `einsum` are built by the frontend from
`matmul`, `reshape`, `transpose`, `mul` and `sum`. The Numba driver calls BLAS through
`rt.matmul`, which folds batch axes and transposed views into the BLAS call.
`correlate a, v`: arrays of one rank and numeric dtype, a no smaller than v on each axis,
`(n - m + 1, ...)`: the valid correlation (np.correlate's and scipy.signal.correlate's 'valid'
mode; np.correlate, np.convolve and scipy.signal's in every mode are built on it).

The LAPACK ops take float32 or float64 stacks of square matrices `(..., n, n)` (the frontend
converts as `np.linalg` does):
- `inv a`, `cholesky a` (lower; reads a's lower triangle only, as NumPy's): `(..., n, n)`;
- `solve a, b` with b a stack of matrices `(..., n, k)`, batch axes broadcast (the frontend
  makes a vector b a one-column matrix, NumPy 2's rule);
- `det a`, `logabsdet a` and its nondifferentiable `detsign a` (np.linalg.slogdet's two
  parts): `(...)`; `cofactor a` `(..., n, n)`, the matrices of cofactors (det's gradient,
  adcompiler/runtime/helpers.py, defined for singular matrices too);
- `eigh_values a {uplo}` `(..., n)` (ascending) and `eigh_vectors a {uplo}` `(..., n, n)`
  (the columns), np.linalg.eigh's two parts, reading the triangle `uplo` ("L" or "U") only;
- on stacks of any matrices `(..., m, n)`, k = min(m, n): `svd_values a` `(..., k)`
  (descending), `svd_u a` `(..., m, k)` and `svd_vt a` `(..., k, n)`, the reduced SVD's
  parts (np.linalg.svd's with full_matrices=False); `qr_q a` `(..., m, k)` and `qr_r a`
  `(..., k, n)`, the reduced QR's parts (np.linalg.qr's mode='reduced').
Their VJPs (Giles 2008; eigh and svd as in JAX, Townsend 2016 for the non-square svd terms;
qr as Walter & Lehmann 2018 / Liao et al. 2019, PyTorch's, wide matrices split in two)
are written with these ops and `matmul`, so they differentiate again. One op per result, as
slogdet's: eigh and svd used whole run LAPACK once per part used (each part its own NumPy
call; values alone are the cheaper eigvalsh / svd(compute_uv=False), equal to the full
call's to rounding). Calls on one matrix give the same vectors, signs included, so svd_u's
columns belong to svd_vt's rows.
The eigenvector and singular-vector VJPs divide by the gaps between eigenvalues (squared
singular values), and svd's non-square term by the singular values: where two are equal (or
a singular value of a non-square matrix is 0) the gradient is inf or NaN, as JAX's, since
the vectors are not differentiable there (a NaN that reaches a result is a NaNError naming
the user's line). The values' VJPs have no such division. qr's VJP solves with R (for a wide
matrix, with its leading square block): inf or NaN where that is singular. qr_q and qr_r of
one matrix come from the same Householder factorisation (geqrf), signs included.
Both backends run them as NumPy calls (the Numba driver's, outside loop kernels); a singular
matrix raises NumPy's LinAlgError there (runtime.nans names the user's line), except in
det's gradient, `cofactor`, whose second derivative however inverts the matrix."""
import math

from ..ad.emit import add, const, sum_to, swap_last
from ..ir.types import TensorType, broadcast_shapes
from .family import check, declare, same_dtype


def _matmul(types, attrs):
    a, b = types
    dtype = same_dtype(types, "matmul")
    check(a.rank >= 2 and b.rank >= 2, f"needs operands of rank >= 2, got {a.shape} and {b.shape}")
    check(a.shape[-1] == b.shape[-2], f"inner dimensions differ: {a.shape} @ {b.shape}")
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return [TensorType(dtype, batch + (a.shape[-2], b.shape[-1]))]


def _flat_rows(b, x):
    """(..., m, k) -> (rows, k): a batched operand seen as one matrix."""
    return b.op("reshape", x, shape=(math.prod(x.type.shape[:-1]), x.type.shape[-1]))


def _matmul_vjp(b, op, cts, needs):
    """dA = C @ B^T, dB = A^T @ C, summed over broadcast batch axes. A weight shared by a batch
    (x of rank > 2 times W of rank 2) gets its gradient from one matrix product over the
    flattened rows instead of a batched product and a sum."""
    (ct,), (x, w) = cts, op.operands
    dx = dw = None
    if needs[0]:
        dx = sum_to(b, b.op("matmul", ct, swap_last(b, w)), x.type.shape)
    if needs[1]:
        if w.type.rank == 2 and x.type.rank > 2:
            dw = b.op("matmul", swap_last(b, _flat_rows(b, x)), _flat_rows(b, ct))
        else:
            dw = sum_to(b, b.op("matmul", swap_last(b, x), ct), w.type.shape)
    return [dx, dw]


def _numpy_matmul(op, a):
    """`x @ W` with x of rank > 2 and W a matrix is one BLAS product over the flattened rows;
    NumPy's stacked matmul would run one small product per leading index, far slower."""
    x, w = op.operands
    if x.type.rank > 2 and w.type.rank == 2:
        rows = math.prod(x.type.shape[:-1])
        return (f"np.reshape(np.reshape({a[0]}, ({rows}, {x.type.shape[-1]})) @ {a[1]}, "
                f"{op.result.type.shape})")
    if x.type.rank <= 2 and w.type.rank <= 2:
        # the same product; np.dot's call costs 0.8 us against matmul's 1.2 (a loop body's
        # small products feel it)
        return f"np.dot({a[0]}, {a[1]})"
    return f"{a[0]} @ {a[1]}"


declare("matmul", _matmul, arity=2, kind="linalg", vjp=_matmul_vjp,
        lower={"numpy": _numpy_matmul, "numba": ["rt.matmul({0}, {1}, {{out}})"]})


def _float(types, name):
    """The operands' common dtype, float32 or float64; the first must be a stack of matrices."""
    dtype = same_dtype(types, name)
    check(dtype in ("f32", "f64"), f"needs float32 or float64 operands, got {dtype}")
    check(types[0].rank >= 2, f"needs a stack of matrices (..., m, n), got {types[0].shape}")
    return dtype


def _square(types, name):
    """The operands' common float dtype; the first must be a stack of square matrices."""
    dtype = _float(types, name)
    a = types[0]
    check(a.shape[-1] == a.shape[-2],
          f"needs a stack of square matrices (..., n, n), got {a.shape}")
    return dtype


def _same_as_a(types, attrs):
    _square(types, "a square-matrix op")
    return [types[0]]


def _per_matrix(types, attrs):
    return [TensorType(_square(types, "a determinant"), types[0].shape[:-2])]


def _solve(types, attrs):
    a, b = types
    dtype = _square(types, "solve")
    check(b.rank >= 2 and b.shape[-2] == a.shape[-1],
          f"needs b of shape (..., {a.shape[-1]}, k), got {b.shape}")
    return [TensorType(dtype, broadcast_shapes(a.shape[:-2], b.shape[:-2]) + b.shape[-2:])]


def _inv_vjp(b, op, cts, needs):
    """d inv(A) = -A^-1 dA A^-1, so dA = -A^-T C A^-T."""
    r = swap_last(b, op.result)
    return [b.op("neg", b.op("matmul", b.op("matmul", r, cts[0]), r))]


def _solve_vjp(b, op, cts, needs):
    """x = A^-1 B: dB = A^-T C, dA = -dB x^T, summed over broadcast batch axes."""
    (ct,), (a, rhs) = cts, op.operands
    g = b.op("solve", swap_last(b, a), ct)
    da = None
    if needs[0]:
        da = sum_to(b, b.op("neg", b.op("matmul", g, swap_last(b, op.result))), a.type.shape)
    return [da, sum_to(b, g, rhs.type.shape) if needs[1] else None]


def _scaled(b, scale, m):
    """scale[..., None, None] * m: each matrix of the stack m times its number of scale."""
    return b.op("mul", b.op("reshape", scale, shape=scale.type.shape + (1, 1)), m)


def _det_vjp(b, op, cts, needs):
    """dA = C cofactor(A): det(A) A^-T where A is invertible, the adjugate's transpose where
    it is singular (np.linalg.inv would fail there)."""
    return [_scaled(b, cts[0], b.op("cofactor", op.operands[0]))]


def _cofactor_vjp(b, op, cts, needs):
    """C = det(A) A^-T, so dC = det(A) (tr(A^-1 dA) A^-T - A^-T dA^T A^-T), and with W = A^-T
    and G the cotangent, dA = det(A) (<G, W> W - W G^T W). It inverts A: a second derivative
    of det at a singular matrix raises LinAlgError."""
    (g,), a = cts, op.operands[0]
    w = swap_last(b, b.op("inv", a))
    rank = a.type.rank
    inner = b.op("sum", b.op("mul", g, w), axes=(rank - 2, rank - 1), keepdims=True)
    both = b.op("sub", b.op("mul", inner, w),
                b.op("matmul", b.op("matmul", w, swap_last(b, g)), w))
    return [_scaled(b, b.op("det", a), both)]


def _logabsdet_vjp(b, op, cts, needs):
    """The gradient of log|det A| is A^-T."""
    return [_scaled(b, cts[0], swap_last(b, b.op("inv", op.operands[0])))]


def _rows_cols(b, n):
    """The row and the column index of each entry of an n x n matrix."""
    return (b.op("iota", shape=(n, n), axis=0, dtype="i64"),
            b.op("iota", shape=(n, n), axis=1, dtype="i64"))


def _eye(b, n, dtype):
    rows, cols = _rows_cols(b, n)
    return b.op("where", b.op("eq", rows, cols), const(b, 1, dtype, (n, n)),
                const(b, 0, dtype, (n, n)))


def _phi(b, x):
    """The lower triangle of x with its diagonal halved (Murray 2016's Phi)."""
    n, dtype = x.type.shape[-1], x.type.dtype
    rows, cols = _rows_cols(b, n)
    zero = const(b, 0, dtype, (n, n))
    diag = b.op("where", b.op("eq", rows, cols), const(b, 0.5, dtype, (n, n)), zero)
    mask = b.op("where", b.op("gt", rows, cols), const(b, 1, dtype, (n, n)), diag)
    return b.op("mul", x, mask)


def _read_triangle(b, g, upper=False):
    """G, a gradient with respect to a symmetric matrix as if its entries were independent,
    as one for an op that reads one triangle only: each entry off the diagonal stands for
    itself and its mirror, so dA = Phi(G + G^T) (or its transpose, for the upper one)."""
    da = _phi(b, b.op("add", g, swap_last(b, g)))
    return swap_last(b, da) if upper else da


def _cholesky_vjp(b, op, cts, needs):
    """Murray 2016 (as PyTorch's): S = L^-T Phi(L^T C) L^-1 is the gradient in symmetric
    matrices. NumPy's cholesky reads A's lower triangle only: dA = Phi(S + S^T)."""
    lt = swap_last(b, op.result)
    y = b.op("solve", lt, _phi(b, b.op("matmul", lt, cts[0])))          # L^-T P
    s = swap_last(b, b.op("solve", lt, swap_last(b, y)))                # (L^-T P) L^-1
    return [_read_triangle(b, s)]


def _row(b, x):
    """(..., k) -> (..., 1, k): multiplies each column j of a matrix by x[j]."""
    return b.op("reshape", x, shape=x.type.shape[:-1] + (1, x.type.shape[-1]))


def _col(b, x):
    """(..., k) -> (..., k, 1): multiplies each row i of a matrix by x[i]."""
    return b.op("reshape", x, shape=x.type.shape + (1,))


def _inverse_gaps(b, w):
    """F[..., i, j] = 1 / (w_j - w_i) off the diagonal, 0 on it. Equal values give inf
    (see the module docstring)."""
    n, dtype = w.type.shape[-1], w.type.dtype
    eye = _eye(b, n, dtype)
    gaps = b.op("add", b.op("sub", _row(b, w), _col(b, w)), eye)     # 1 on the diagonal
    return b.op("div", b.op("sub", const(b, 1, dtype, (n, n)), eye), gaps)


def _eigh_values_vjp(b, op, cts, needs):
    """dw_i = v_i^T dA v_i: G = V diag(C) V^T, read as eigh reads A (one triangle)."""
    a, uplo = op.operands[0], op.attrs["uplo"]
    v = b.op("eigh_vectors", a, uplo=uplo)
    g = b.op("matmul", b.op("mul", v, _row(b, cts[0])), swap_last(b, v))
    return [_read_triangle(b, g, uplo == "U")]


def _eigh_vectors_vjp(b, op, cts, needs):
    """dV = V (F o (V^T dA V)) with F_ij = 1/(w_j - w_i) off the diagonal (0 on it: a unit
    vector's change is orthogonal to it), so G = V (F o (V^T C)) V^T, read as eigh reads A
    (one triangle). For A built symmetric (B + B^T) this is the gradient of the symmetric
    matrix's function in each of its entries."""
    a, uplo, v = op.operands[0], op.attrs["uplo"], op.result
    f = _inverse_gaps(b, b.op("eigh_values", a, uplo=uplo))
    inner = b.op("mul", f, b.op("matmul", swap_last(b, v), cts[0]))
    g = b.op("matmul", b.op("matmul", v, inner), swap_last(b, v))
    return [_read_triangle(b, g, uplo == "U")]


def _svd_values_vjp(b, op, cts, needs):
    """ds_i = u_i^T dA v_i: dA = U diag(C) V^T."""
    a = op.operands[0]
    u = b.op("mul", b.op("svd_u", a), _row(b, cts[0]))
    return [b.op("matmul", u, b.op("svd_vt", a))]


def _svd_gaps(b, s):
    """J's factor F_ij = 1 / (s_j^2 - s_i^2) off the diagonal."""
    return _inverse_gaps(b, b.op("mul", s, s))


def _svd_u_vjp(b, op, cts, needs):
    """dU = U (F o (dS S + S dS^T)) + (I - U U^T) dA V S^-1 with dS = U^T dA V (the second
    term only for m > n: U is square otherwise), so with J = F o (U^T C):
    dA = (U (J + J^T) S + (C - U U^T C) S^-1) V^T."""
    (c,), a, u = cts, op.operands[0], op.result
    s, vt = b.op("svd_values", a), b.op("svd_vt", a)
    utc = b.op("matmul", swap_last(b, u), c)
    j = b.op("mul", _svd_gaps(b, s), utc)
    left = b.op("matmul", u, b.op("mul", b.op("add", j, swap_last(b, j)), _row(b, s)))
    m, n = a.type.shape[-2:]
    if m > n:
        rest = b.op("sub", c, b.op("matmul", u, utc))
        left = b.op("add", left, b.op("div", rest, _row(b, s)))
    return [b.op("matmul", left, vt)]


def _svd_vt_vjp(b, op, cts, needs):
    """The transpose of svd_u's: with V = Vt^T and J = F o (Vt C^T),
    dA = U (S (J + J^T) Vt + S^-1 (C - C V Vt)), the second term only for n > m."""
    (c,), a, vt = cts, op.operands[0], op.result
    s, u = b.op("svd_values", a), b.op("svd_u", a)
    j = b.op("mul", _svd_gaps(b, s), b.op("matmul", vt, swap_last(b, c)))
    right = b.op("matmul", b.op("mul", _col(b, s), b.op("add", j, swap_last(b, j))), vt)
    m, n = a.type.shape[-2:]
    if n > m:
        rest = b.op("sub", c, b.op("matmul", b.op("matmul", c, swap_last(b, vt)), vt))
        right = b.op("add", right, b.op("div", rest, _col(b, s)))
    return [b.op("matmul", u, right)]


# name, shape rule, arity, VJP (None: not differentiable), the NumPy call both backends make
# (the Numba driver's too: LAPACK, not a loop kernel)
LAPACK = [("inv", _same_as_a, 1, _inv_vjp, "np.linalg.inv({0})"),
          ("solve", _solve, 2, _solve_vjp, "np.linalg.solve({0}, {1})"),
          ("det", _per_matrix, 1, _det_vjp, "np.linalg.det({0})"),
          ("cofactor", _same_as_a, 1, _cofactor_vjp, "rt.cofactor({0})"),
          ("logabsdet", _per_matrix, 1, _logabsdet_vjp, "np.linalg.slogdet({0})[1]"),
          ("detsign", _per_matrix, 1, None, "np.linalg.slogdet({0})[0]"),
          ("cholesky", _same_as_a, 1, _cholesky_vjp, "np.linalg.cholesky({0})")]
for name, infer, arity, vjp, call in LAPACK:
    declare(name, infer, arity=arity, kind="linalg", vjp=vjp, nondiff=vjp is None,
            lower={"numpy": call, "numba": call})


def _correlate(types, attrs):
    a, v = types
    dtype = same_dtype(types, "correlate")
    check(dtype != "bool", "needs numeric operands, got bool")
    check(a.rank == v.rank >= 1, f"needs arrays of one rank, got {a.shape} and {v.shape}")
    check(a.rank == 1 or dtype != "f16", "needs float32 or float64 arrays of rank >= 2 "
          "(SciPy's correlate), got float16")
    check(all(n >= m >= 1 for n, m in zip(a.shape, v.shape)),
          f"needs a no smaller than v on each axis and v not empty, got {a.shape} and {v.shape}")
    return [TensorType(dtype, tuple(n - m + 1 for n, m in zip(a.shape, v.shape)))]


def _correlate_vjp(b, op, cts, needs):
    """out[k] = sum_j a[j + k] v[j] (k, j multi-indices), so da[i] = sum_k g[k] v[i - k], the
    correlation of g zero-padded by m - 1 on both sides of each axis with v reversed along
    all, and dv[j] = sum_k g[k] a[j + k], the correlation of a with g: correlations again,
    so they differentiate again."""
    (g,), (a, v) = cts, op.operands
    da = dv = None
    if needs[0]:
        padded = g
        for axis, m in enumerate(v.type.shape):
            if m > 1:
                shape = list(padded.type.shape)
                shape[axis] = m - 1
                pad = const(b, 0, g.type.dtype, shape)
                padded = b.op("concatenate", pad, padded, pad, axis=axis)
        shape = v.type.shape
        flipped = b.op("slice", v, starts=tuple(n - 1 for n in shape), stops=(-1,) * len(shape),
                       steps=(-1,) * len(shape))
        da = b.op("correlate", padded, flipped)
    if needs[1]:
        dv = b.op("correlate", a, g)
    return [da, dv]


def _lower_correlate(op, a):
    if op.result.type.rank == 1:
        return f"np.correlate({a[0]}, {a[1]})"
    return f"rt.correlate({a[0]}, {a[1]})"


# the valid correlation, the longer operand first (the frontend pads and slices for the other
# modes, np.convolve and scipy.signal's): NumPy's loop of dot products for vectors (which
# Numba compiles in loops too), SciPy's for arrays (runtime/helpers.py); O(n m), no windows
declare("correlate", _correlate, arity=2, kind="linalg", vjp=_correlate_vjp,
        lower={"numpy": _lower_correlate, "numba": _lower_correlate})


def _eigh(part):
    def infer(types, attrs):
        dtype = _square(types, "eigh")
        uplo = attrs.get("uplo")
        check(uplo in ("L", "U"), f"uplo must be 'L' or 'U', got {uplo!r}")
        a = types[0]
        return [TensorType(dtype, a.shape[:-1] if part == "values" else a.shape)]
    return infer


def _svd(part):
    def infer(types, attrs):
        dtype = _float(types, "svd")
        batch, (m, n) = types[0].shape[:-2], types[0].shape[-2:]
        k = min(m, n)
        return [TensorType(dtype, batch + {"values": (k,), "u": (m, k), "vt": (k, n)}[part])]
    return infer


def _copyltu(b, m):
    """tril(M) + tril(M, -1)^T: M's lower triangle mirrored onto the upper one."""
    p = _phi(b, m)
    return b.op("add", p, swap_last(b, p))


def _cols(b, x, start, stop):
    """x[..., :, start:stop]."""
    shape = x.type.shape
    return b.op("slice", x, starts=(0,) * (len(shape) - 1) + (start,),
                stops=shape[:-1] + (stop,), steps=(1,) * len(shape))


def _qr_square_vjp(b, q, r, gq, gr):
    """dA for A = QR with R square (m >= n), either cotangent None (zero): with
    M = R gR^T - gQ^T Q, dA = (gQ + Q copyltu(M)) R^-T (Liao et al. 2019, eq. 9)."""
    m = add(b, b.op("matmul", r, swap_last(b, gr)) if gr is not None else None,
            b.op("neg", b.op("matmul", swap_last(b, gq), q)) if gq is not None else None)
    lhs = add(b, gq, b.op("matmul", q, _copyltu(b, m)))
    return swap_last(b, b.op("solve", r, swap_last(b, lhs)))          # lhs R^-T


def _qr_vjp(b, a, gq, gr):
    """A wide A = [X | Y] (m < n) is Q [U | V] with X = QU a square QR and V = Q^T Y, so
    dY = Q gV and dX is the square VJP with gQ + Y gV^T for gQ (Liao et al. 2019, sec. 3)."""
    q, r = b.op("qr_q", a), b.op("qr_r", a)
    m, n = a.type.shape[-2:]
    if m >= n:
        return _qr_square_vjp(b, q, r, gq, gr)
    gu = gv = None
    if gr is not None:
        gu, gv = _cols(b, gr, 0, m), _cols(b, gr, m, n)
        ygv = b.op("matmul", _cols(b, a, m, n), swap_last(b, gv))
        gq = add(b, gq, ygv)
    dx = _qr_square_vjp(b, q, _cols(b, r, 0, m), gq, gu)
    dy = b.op("matmul", q, gv) if gv is not None else \
        const(b, 0, a.type.dtype, a.type.shape[:-1] + (n - m,))
    return b.op("concatenate", dx, dy, axis=a.type.rank - 1)


def _qr_q_vjp(b, op, cts, needs):
    return [_qr_vjp(b, op.operands[0], cts[0], None)]


def _qr_r_vjp(b, op, cts, needs):
    return [_qr_vjp(b, op.operands[0], None, cts[0])]


def _qr(part):
    def infer(types, attrs):
        dtype = _float(types, "qr")
        batch, (m, n) = types[0].shape[:-2], types[0].shape[-2:]
        k = min(m, n)
        return [TensorType(dtype, batch + ((m, k) if part == "q" else (k, n)))]
    return infer


# the decompositions, each result its own op (see the module docstring): name, shape rule,
# attributes, VJP, the NumPy call both backends make
DECOMPOSITIONS = [
    ("eigh_values", _eigh("values"), ("uplo",), _eigh_values_vjp,
     "np.linalg.eigvalsh({0}, UPLO={uplo})"),
    ("eigh_vectors", _eigh("vectors"), ("uplo",), _eigh_vectors_vjp,
     "np.linalg.eigh({0}, UPLO={uplo})[1]"),
    ("svd_values", _svd("values"), (), _svd_values_vjp, "np.linalg.svd({0}, compute_uv=False)"),
    ("svd_u", _svd("u"), (), _svd_u_vjp, "np.linalg.svd({0}, full_matrices=False)[0]"),
    ("svd_vt", _svd("vt"), (), _svd_vt_vjp, "np.linalg.svd({0}, full_matrices=False)[2]"),
    ("qr_q", _qr("q"), (), _qr_q_vjp, "np.linalg.qr({0})[0]"),
    ("qr_r", _qr("r"), (), _qr_r_vjp, "np.linalg.qr({0}, mode='r')")]
for name, infer, attrs, vjp, call in DECOMPOSITIONS:
    declare(name, infer, attrs=attrs, arity=1, kind="linalg", vjp=vjp,
            lower={"numpy": call, "numba": call})
