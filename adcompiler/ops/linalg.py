"""Matrix product with NumPy `matmul` semantics for operands of rank >= 2 (batch dimensions
broadcast). 1-D `dot`/`matmul` operands, `outer` and `einsum` are built by the frontend from
`matmul`, `reshape`, `transpose`, `mul` and `sum`. The Numba driver calls BLAS through
`rt.matmul`, which folds batch axes and transposed views into the BLAS call.

The LAPACK ops take float32 or float64 stacks of square matrices `(..., n, n)` (the frontend
converts as `np.linalg` does):
- `inv a`, `cholesky a` (lower; reads a's lower triangle only, as NumPy's): `(..., n, n)`;
- `solve a, b` with b a stack of matrices `(..., n, k)`, batch axes broadcast (the frontend
  makes a vector b a one-column matrix, NumPy 2's rule);
- `det a`, `logabsdet a` and its nondifferentiable `detsign a` (np.linalg.slogdet's two
  parts): `(...)`.
Their VJPs (Giles 2008) are written with these ops and `matmul`, so they differentiate again.
Both backends run them as NumPy calls (the Numba driver's, outside loop kernels); a singular
matrix raises NumPy's LinAlgError there (runtime.nans names the user's line)."""
import math

from ..ad.emit import const, sum_to, swap_last
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
    return b.op("reshape", x, shape=(x.type.size // x.type.shape[-1], x.type.shape[-1]))


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
    return f"{a[0]} @ {a[1]}"


declare("matmul", _matmul, arity=2, kind="linalg", vjp=_matmul_vjp,
        lower={"numpy": _numpy_matmul, "numba": ["rt.matmul({0}, {1}, {{out}})"]})


def _square(types, name):
    """The operands' common float dtype; the first must be a stack of square matrices."""
    dtype = same_dtype(types, name)
    check(dtype in ("f32", "f64"), f"needs float32 or float64 operands, got {dtype}")
    a = types[0]
    check(a.rank >= 2 and a.shape[-1] == a.shape[-2],
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


def _scaled_inv_t(b, a, scale):
    """scale[..., None, None] * A^-T: the gradient of log|det A| is A^-T."""
    s = b.op("reshape", scale, shape=scale.type.shape + (1, 1))
    return b.op("mul", s, swap_last(b, b.op("inv", a)))


def _det_vjp(b, op, cts, needs):
    return [_scaled_inv_t(b, op.operands[0], b.op("mul", cts[0], op.result))]


def _logabsdet_vjp(b, op, cts, needs):
    return [_scaled_inv_t(b, op.operands[0], cts[0])]


def _phi(b, x):
    """The lower triangle of x with its diagonal halved (Murray 2016's Phi)."""
    n, dtype = x.type.shape[-1], x.type.dtype
    rows = b.op("iota", shape=(n, n), axis=0, dtype="i64")
    cols = b.op("iota", shape=(n, n), axis=1, dtype="i64")
    zero = const(b, 0, dtype, (n, n))
    diag = b.op("where", b.op("eq", rows, cols), const(b, 0.5, dtype, (n, n)), zero)
    mask = b.op("where", b.op("gt", rows, cols), const(b, 1, dtype, (n, n)), diag)
    return b.op("mul", x, mask)


def _cholesky_vjp(b, op, cts, needs):
    """Murray 2016 (as PyTorch's): S = L^-T Phi(L^T C) L^-1 is the gradient in symmetric
    matrices. NumPy's cholesky reads A's lower triangle only, so each entry below the
    diagonal stands for itself and its mirror: dA = Phi(S + S^T)."""
    lt = swap_last(b, op.result)
    y = b.op("solve", lt, _phi(b, b.op("matmul", lt, cts[0])))          # L^-T P
    s = swap_last(b, b.op("solve", lt, swap_last(b, y)))                # (L^-T P) L^-1
    return [_phi(b, b.op("add", s, swap_last(b, s)))]


# name, shape rule, arity, VJP (None: not differentiable), the NumPy call both backends make
# (the Numba driver's too: LAPACK, not a loop kernel)
LAPACK = [("inv", _same_as_a, 1, _inv_vjp, "np.linalg.inv({0})"),
          ("solve", _solve, 2, _solve_vjp, "np.linalg.solve({0}, {1})"),
          ("det", _per_matrix, 1, _det_vjp, "np.linalg.det({0})"),
          ("logabsdet", _per_matrix, 1, _logabsdet_vjp, "np.linalg.slogdet({0})[1]"),
          ("detsign", _per_matrix, 1, None, "np.linalg.slogdet({0})[0]"),
          ("cholesky", _same_as_a, 1, _cholesky_vjp, "np.linalg.cholesky({0})")]
for name, infer, arity, vjp, call in LAPACK:
    declare(name, infer, arity=arity, kind="linalg", vjp=vjp, nondiff=vjp is None,
            lower={"numpy": call, "numba": call})
