"""The one op registry. Each op is declared once, in `adcompiler/ops/`, as an `OpDef`; every
stage (builder type inference, verifier, parser, passes, AD, backends) reads it from here.

An OpDef holds:
- `infer(types, attrs) -> list[TensorType]`: the shape/dtype rule (raises ValueError with a
  readable message when the operands do not fit);
- `attrs`: attribute names, in printing order;
- `arity`: number of operands (None: variadic); `n_regions`: number of regions;
- `kind`: the family, read by passes and backends ("elementwise", "reduce", "shape", "index",
  "linalg", "create", "control", "call");
- `vjp(builder, op, cotangents) -> list[Value | None]`: the derivative rule, written with the
  IR builder (None: that operand gets no gradient); `nondiff=True` means zero gradient;
- `lower`: a dict backend-name -> lowering (a format string over operands `{0}` and
  attributes `{axis}`, or an emitter function); an elementwise op may add "numba_i64", the
  Numba kernels' lowering where its result is int64;
- `pure`: no side effects, so DCE may drop it and CSE may merge it;
- `fresh`: each result is an object of its own (an empty tape, which is then appended to):
  pure for DCE, never merged by CSE;
- `view`: the NumPy lowering's result may be operand 0 itself or a view of its memory (a
  reshape, a slice, stop_gradient's identity): a result of it is no array of its own;
- `cheap`: an elementwise or view op that costs about as little as reading its result back
  from memory (arithmetic, compares, select, casts, broadcasts): a backend may recompute it
  instead of keeping its value (the Numba backend's `remat` does);
- `reassociable`: float arithmetic whose chains a compiler allowed to regroup them (LLVM's
  `reassoc` flag) may evaluate in another order, so a recomputed chain can differ from the
  first in the last bit (`remat` recomputes no compared value by more than one such op);
- `sympy`: for elementwise ops declared from a SymPy expression, its text in the operands
  `x` (and `y`), e.g. "tanh(x)" (`ad.sympy_ir.expression` parses it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class OpDef:
    name: str
    infer: Callable
    attrs: tuple = ()
    arity: int | None = None
    n_regions: int = 0
    kind: str = "other"
    vjp: Callable | None = None
    nondiff: bool = False
    lower: dict = field(default_factory=dict)
    pure: bool = True
    fresh: bool = False
    view: bool = False
    cheap: bool = False
    reassociable: bool = False
    sympy: Any = None
    doc: str = ""


_REGISTRY: dict[str, OpDef] = {}


def register(opdef: OpDef) -> OpDef:
    if opdef.name in _REGISTRY:
        raise ValueError(f"op {opdef.name!r} declared twice")
    _REGISTRY[opdef.name] = opdef
    return opdef


def get(name: str) -> OpDef:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown op {name!r}") from None


def all_ops() -> dict[str, OpDef]:
    return dict(_REGISTRY)
