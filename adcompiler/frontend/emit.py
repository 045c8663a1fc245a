"""The emission context every IR-building helper takes (`cx`).

Contract: `Emitter` wraps an `ir.Builder` positioned where the user's current statement builds
ops. `cx.op(name, *values, **attrs)` appends one registry op and returns its result `ir.Value`;
a shape-rule ValueError becomes a `FrontendError` (the interpreter adds the user's line).
`cx.value(x, dtype)` turns any array operand (a `Traced`, a Python or NumPy scalar, a static
ndarray) into an `ir.Value` of `dtype`, inserting `astype` or a `constant` as NumPy would
convert it. Ops get the op name as hint; the interpreter renames the value a statement assigns
(`fresh` records the ops of the current statement for that).
A pure op without regions that equals one already built in the same block
(`ir.rewrite.merge_key`) is not built again: `emit` returns the earlier op, which keeps its
name. Tracing an optimiser unrolled over a model's parameters reads `coef[0]` once per
parameter; the CSE pass would merge those copies later, but building, inferring and verifying
them first was a fifth of the time of tracing AdamW. Only the same block: a value built inside
a region must not stand in for one outside it, nor one outside for a branch's own copy
(branches.py compares them).
"""
from __future__ import annotations

import numpy as np

from ..ir import Builder
from ..ir.rewrite import merge_key, merges
from .problems import FrontendError
from .values import INT_RANGE, NP_OF, Traced, contains_traced, ir_dtype, static_array


def _literal(arr, dtype: str):
    """Constant payload: a Python scalar or nested tuples, converted to `dtype`. A Python float
    keeps the literal the user wrote (`1e-05`, not its float32 rounding `9.99999974e-06`): the
    constant means that number converted to `dtype`."""
    if isinstance(arr, float) and dtype in ("f32", "f16"):
        return arr
    arr = np.asarray(arr).astype(NP_OF[dtype])

    def conv(a):
        if isinstance(a, list):
            return tuple(conv(v) for v in a)
        return a
    return conv(arr.tolist())


class Emitter:
    def __init__(self, builder: Builder):
        self.builder = builder
        self.fresh: set[int] = set()      # ids of ops built by the current statement
        self.named: set[int] = set()      # values the current statement already named
        self.collectors: list[set] = []   # op ids built during inlined calls (see calls.py)
        self.built: dict = {}             # block -> {merge key: op} of its pure ops

    # -- raw ops ---------------------------------------------------------------------------
    def emit(self, name, operands=(), attrs=None, result_types=None, regions=(), hints=None):
        key = self._merge_key(name, operands, attrs, result_types, regions)
        built = self.built.setdefault(self.builder.block, {})
        if key in built:
            return built[key]
        try:
            op = self.builder.emit(name, operands, attrs, result_types, regions, hints)
        except ValueError as e:
            raise FrontendError(str(e)) from None
        if key is not None:
            built[key] = op
        self.fresh.add(id(op))
        for c in self.collectors:
            c.add(id(op))
        return op

    @staticmethod
    def _merge_key(name, operands, attrs, result_types, regions):
        """The op's merge key, or None when it must be built each time."""
        if regions or name == "call" or not merges(name):
            return None
        key = merge_key(name, operands, attrs or {}, result_types or ())
        try:
            hash(key)
        except TypeError:       # an unhashable attribute: not worth merging
            return None
        return key

    def op(self, name, *operands, hint=None, **attrs):
        op = self.emit(name, operands, attrs, hints=[hint or name] * 8)
        return op.results[0] if len(op.results) == 1 else tuple(op.results)

    def wrap(self, value, weak=False, nonneg=False) -> Traced:
        return Traced(value, weak=weak, nonneg=nonneg)

    # -- operands --------------------------------------------------------------------------
    def bound_flag(self, value: bool) -> Traced:
        """A constant run-time flag saying whether a name is bound (branches.py, loops.py)."""
        return self.wrap(self.const(value, "bool", hint="bound"))

    def const(self, value, dtype: str, hint=None):
        return self.op("constant", value=_literal(value, dtype), dtype=dtype,
                       hint=hint or "constant")

    def cast(self, v, dtype: str):
        return v if v.type.dtype == dtype else self.op("astype", v, dtype=dtype)

    def nonzero(self, v):
        """`v != 0`, NumPy's truth of each entry (`v` itself when it is bool already)."""
        return v if v.type.dtype == "bool" else self.op("ne", v, self.const(0, v.type.dtype))

    def value(self, x, dtype: str | None = None, exact: bool = False):
        """`x` (Traced or static array data) as an ir.Value, converted to `dtype`; `exact`: a
        Python int that integer `dtype` cannot hold is NumPy's OverflowError where NumPy
        raises it (a fill value, an assigned one, a reduction's `initial`), not wrapped as
        np.where's and np.select's arrays are."""
        if isinstance(x, Traced):
            return self.cast(x.value, dtype or x.dtype)
        arr = static_array(x)
        if arr is None and isinstance(x, (list, tuple)) and contains_traced(x):
            # (NumPy's functions take a list of arrays as the array np.array makes of it:
            # np.mean([a, b]))
            from .shapes import array       # (shapes builds on this module)
            return self.value(array(self, x), dtype)
        if arr is None:
            raise FrontendError(f"cannot use {type(x).__name__} {x!r:.60} as an array")
        if dtype is None:
            dtype = ir_dtype(arr.dtype)
        if exact and type(x) is int and dtype in INT_RANGE and not \
                INT_RANGE[dtype][0] <= x <= INT_RANGE[dtype][1]:
            raise FrontendError(f"Python integer {x} out of bounds for {NP_OF[dtype]}")
        if arr.size > 100_000:
            raise FrontendError(f"a constant array of {arr.size} elements (a global the code "
                                "reads, or an array computed while tracing, as draws from a "
                                "generator seeded inside are) is too large to embed in the "
                                "IR; pass it as an argument")
        return self.const(x if isinstance(x, float) else arr, dtype)

    def tensor(self, x, dtype: str | None = None) -> Traced:
        """`x` as a Traced (static data becomes a constant; weak if a Python scalar)."""
        if isinstance(x, Traced) and (dtype is None or x.dtype == dtype):
            return x
        weak = isinstance(x, Traced) and x.weak or isinstance(x, (bool, int, float)) \
            and not isinstance(x, np.generic)
        return Traced(self.value(x, dtype), weak=weak and dtype is None)
