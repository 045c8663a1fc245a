"""Tensor types of the IR: a dtype name and a static shape.

Contract: every IR value has a `TensorType`; scalars are rank-0 (`f64[]`). Shapes are tuples
of non-negative Python ints (functions are specialised on shapes, so nothing is symbolic).
The one exception is the length of a tape (the stack a loop's reverse sweep reads, whose
length is a run-time trip count): `DYNAMIC` (-1), printed `?`, only as the leading dimension
of the tape ops' values.
This module imports no NumPy: dtypes are the short names below, mapped to NumPy names by the
backends.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# short name -> NumPy dtype name; the order is the printing/parsing vocabulary.
DTYPES = {"f64": "float64", "f32": "float32", "f16": "float16",
          "i64": "int64", "i32": "int32", "bool": "bool"}
FROM_NUMPY = {v: k for k, v in DTYPES.items()}
FLOATS = ("f64", "f32", "f16")
DYNAMIC = -1
INTS = ("i64", "i32")
_DIM = r"\s*(?:\d+|\?)\s*"
_TYPE_TEXT = re.compile(rf"(\w+)\[((?:{_DIM}(?:,{_DIM})*)?)\]")


@dataclass(frozen=True)
class TensorType:
    dtype: str
    shape: tuple[int, ...] = ()

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise ValueError(f"unknown dtype {self.dtype!r}")
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        if any(s < 0 and s != DYNAMIC for s in self.shape):
            raise ValueError(f"negative dimension in shape {self.shape}")

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOATS

    def with_shape(self, shape) -> "TensorType":
        return TensorType(self.dtype, tuple(shape))

    def with_dtype(self, dtype: str) -> "TensorType":
        return TensorType(dtype, self.shape)

    def __str__(self) -> str:
        return f"{self.dtype}[{','.join('?' if s == DYNAMIC else str(s) for s in self.shape)}]"

    @staticmethod
    def parse(text: str) -> "TensorType":
        m = _TYPE_TEXT.fullmatch(text.strip())
        if not m:
            raise ValueError(f"malformed type {text!r} (expected e.g. f64[2,3])")
        dtype, dims = m.group(1), m.group(2).strip()
        return TensorType(dtype, tuple(DYNAMIC if d.strip() == "?" else int(d)
                                       for d in dims.split(",")) if dims else ())


def inverse_perm(perm) -> tuple[int, ...]:
    """The permutation that undoes `perm` (transpose by `perm`, then by this, is the identity)."""
    return tuple(perm.index(i) for i in range(len(perm)))


def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy broadcasting of static shapes; raises ValueError when they do not broadcast."""
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for axis in range(rank):
        dims = {s[axis - rank + len(s)] for s in shapes if axis - rank + len(s) >= 0} - {1}
        if len(dims) > 1:
            raise ValueError(f"shapes {' and '.join(map(str, shapes))} do not broadcast")
        out.append(dims.pop() if dims else 1)
    return tuple(out)
