"""Small IR-building helpers that VJP rules and the reverse transform share.

All take an `ir.Builder` and return Values; none materialises more than it must (`sum_to`
of a value that already has the target shape returns it unchanged).
"""
from __future__ import annotations

from ..ir.types import TensorType


def const(b, value, dtype: str, shape=()):
    """A constant scalar, broadcast to `shape` when one is given."""
    c = b.op("constant", value=float(value) if dtype.startswith("f") else value, dtype=dtype)
    return b.op("broadcast_to", c, shape=tuple(shape)) if shape else c


def zeros(b, type: TensorType):
    return const(b, 0, type.dtype, type.shape)


def ones_at_zeros(b, x):
    """(x == 0, x with its zeros replaced by 1): a divisor or a log argument that is safe
    where a rule then takes another value at the zeros (prod's and pow's gradients)."""
    zero = b.op("eq", x, const(b, 0, x.type.dtype))
    return zero, b.op("where", zero, const(b, 1, x.type.dtype, x.type.shape), x)


def sum_to(b, ct, shape):
    """Sum a broadcast cotangent back to `shape` (the undo of NumPy broadcasting), as explicit
    `sum` and `reshape` ops."""
    shape = tuple(shape)
    if ct.type.shape == shape:
        return ct
    lead = ct.type.rank - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and ct.type.shape[lead + i] != 1)
    out = b.op("sum", ct, axes=axes, keepdims=False) if axes else ct
    return out if out.type.shape == shape else b.op("reshape", out, shape=shape)


def keepdims_shape(shape, axes):
    axes = {a % len(shape) for a in axes}
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def expand_reduced(b, ct, in_shape, axes, keepdims):
    """Broadcast the cotangent of a reduction back over the reduced axes."""
    if not keepdims and axes:
        ct = b.op("reshape", ct, shape=keepdims_shape(in_shape, axes))
    return b.op("broadcast_to", ct, shape=tuple(in_shape)) if ct.type.shape != tuple(in_shape) else ct


def add(b, x, y):
    """Accumulate two adjoint contributions (None means zero)."""
    if x is None:
        return y
    if y is None:
        return x
    return b.op("add", x, y)


def swap_last(b, x):
    perm = tuple(range(x.type.rank - 2)) + (x.type.rank - 1, x.type.rank - 2)
    return b.op("transpose", x, perm=perm)
