"""Ops that create arrays from attributes alone.

- `constant {value, dtype}`: a scalar or a (nested tuple) array literal.
- `iota {shape, axis, dtype}`: the index along `axis`, broadcast to `shape` (np.arange as a
  building block of `arange`, `triu`, `tril` and causal masks).
"""
import math

from ..ir.types import DTYPES, TensorType
from .family import check, declare, norm_axis


def literal_shape(value):
    """The shape of a (nested tuple) literal; ValueError when it is ragged, as for np.array."""
    if not isinstance(value, tuple):
        return ()
    rows = {literal_shape(v) for v in value}
    check(len(rows) <= 1, f"ragged array literal: rows of shapes {sorted(rows)}")
    return (len(value),) + (rows.pop() if rows else ())


def _constant(types, attrs):
    check(not types, "takes no operands")
    return [TensorType(attrs["dtype"], literal_shape(attrs["value"]))]


def _iota(types, attrs):
    shape = attrs["shape"]
    check(len(shape) > 0, "needs a shape of rank >= 1")
    check(attrs["dtype"] != "bool", "needs a numeric dtype")   # np.arange(3, dtype=bool) fails
    norm_axis(attrs["axis"], len(shape))
    return [TensorType(attrs["dtype"], shape)]


def _lower_constant(op, a):
    dtype = DTYPES[op.attrs["dtype"]]
    value = op.attrs["value"]
    if isinstance(value, tuple):
        return f"np.array({list_literal(value)}, dtype=np.{dtype})"
    return f"np.{dtype}({list_literal(value)})"


def list_literal(value):
    if isinstance(value, tuple):
        return "[" + ", ".join(list_literal(v) for v in value) + "]"
    if isinstance(value, float) and not math.isfinite(value):   # repr gives bare `inf`/`nan`
        return f"np.{value!r}".replace("np.-", "-np.")
    return repr(value)


def _lower_iota(op, a):
    shape, axis = op.attrs["shape"], norm_axis(op.attrs["axis"], len(op.attrs["shape"]))
    view = tuple(n if i == axis else 1 for i, n in enumerate(shape))
    return (f"np.broadcast_to(np.arange({shape[axis]}, dtype=np.{DTYPES[op.attrs['dtype']]})"
            f".reshape({view}), {shape})")


# Numba: the driver builds the same NumPy value; inside a loop kernel a scalar constant is a
# literal and an iota is its loop index (`loop`)
declare("constant", _constant, attrs=("value", "dtype"), arity=0, kind="create",
        lower={"numpy": _lower_constant, "numba": {"driver": _lower_constant, "loop": "constant"}})
declare("iota", _iota, attrs=("shape", "axis", "dtype"), arity=0, kind="create", nondiff=True,
        lower={"numpy": _lower_iota, "numba": {"driver": _lower_iota, "loop": "iota"}})
