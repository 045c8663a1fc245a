"""Helpers that keep an op declaration to one line per op: shape rules shared by a family, and
small checks with readable messages (they raise ValueError; the frontend and the verifier turn
that into an error naming the user's line).
"""
from __future__ import annotations

from ..ir.registry import OpDef, register
from ..ir.types import TensorType, broadcast_shapes


def check(cond: bool, msg: str):
    if not cond:
        raise ValueError(msg)


def norm_axis(axis: int, rank: int) -> int:
    check(-rank <= axis < max(rank, 1), f"axis {axis} is out of bounds for rank {rank}")
    return axis % rank if rank else 0


def same_dtype(types, name):
    dtypes = {t.dtype for t in types}
    check(len(dtypes) == 1, f"{name} needs operands of one dtype, got {sorted(dtypes)}")
    return dtypes.pop()


def broadcast_rule(out_dtype=None, floats_only=False, operand_dtype=None, numeric=False):
    """Elementwise rule: operands share a dtype and broadcast; the result has the broadcast
    shape and `out_dtype` (or the operands' dtype)."""
    def infer(types, attrs):
        dtype = same_dtype(types, "an elementwise op")
        if floats_only:
            check(dtype in ("f64", "f32", "f16"), f"needs floating-point operands, got {dtype}")
        if operand_dtype:
            check(dtype == operand_dtype, f"needs {operand_dtype} operands, got {dtype}")
        if numeric:     # NumPy rejects -b, b - b and sign(b), and gives int8 for b ** b, b // b
            check(dtype != "bool", "needs numeric operands, got bool")
        return [TensorType(out_dtype or dtype, broadcast_shapes(*(t.shape for t in types)))]
    return infer


def declare(name, infer, **kw) -> OpDef:
    def named_infer(types, attrs):
        try:
            return infer(types, attrs)
        except ValueError as e:
            raise ValueError(f"{name}: {e}") from None
    return register(OpDef(name, named_infer, **kw))
