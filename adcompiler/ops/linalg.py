"""Matrix product with NumPy `matmul` semantics for operands of rank >= 2 (batch dimensions
broadcast). 1-D `dot`/`matmul` operands, `outer` and `einsum` are built by the frontend from
`matmul`, `reshape`, `transpose`, `mul` and `sum`."""
from ..ir.types import TensorType, broadcast_shapes
from .family import check, declare, same_dtype


def _matmul(types, attrs):
    a, b = types
    dtype = same_dtype(types, "matmul")
    check(a.rank >= 2 and b.rank >= 2, f"needs operands of rank >= 2, got {a.shape} and {b.shape}")
    check(a.shape[-1] == b.shape[-2], f"inner dimensions differ: {a.shape} @ {b.shape}")
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return [TensorType(dtype, batch + (a.shape[-2], b.shape[-1]))]


declare("matmul", _matmul, arity=2, kind="linalg", lower={"numpy": "{0} @ {1}"})
