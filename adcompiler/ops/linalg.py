"""Matrix product with NumPy `matmul` semantics for operands of rank >= 2 (batch dimensions
broadcast). 1-D `dot`/`matmul` operands, `outer` and `einsum` are built by the frontend from
`matmul`, `reshape`, `transpose`, `mul` and `sum`. The Numba driver calls BLAS through
`rt.matmul`, which folds batch axes and transposed views into the BLAS call."""
import math

from ..ad.emit import sum_to, swap_last
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
