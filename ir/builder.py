"""Builds ops at an insertion point, inferring result types from the op registry.

`b.op("add", x, y)` appends `add` to the current block and returns its result Value (a tuple
for several results). `b.loc` and `b.hint` set the source location and the name hint of what
is built next. Structured control flow is built with `region()`: a fresh Block built into and
then handed to `b.emit(...)`.
"""
from __future__ import annotations

from contextlib import contextmanager

from . import registry
from .core import Block, Op, Value


def _freeze(v):
    if isinstance(v, (list, tuple)):
        return tuple(_freeze(x) for x in v)
    return v


class Builder:
    def __init__(self, block: Block | None = None, loc=None):
        self.block = block if block is not None else Block()
        self.loc = loc

    def infer(self, name: str, operands, attrs):
        return registry.get(name).infer([v.type for v in operands], attrs)

    def emit(self, name, operands=(), attrs=None, result_types=None, regions=(), hints=None) -> Op:
        # attributes in the registry's declared order, so printing is deterministic
        order = registry.get(name).attrs
        attrs = dict(sorted(((k, _freeze(v)) for k, v in (attrs or {}).items()),
                            key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))
        operands = list(operands)
        for v in operands:
            if not isinstance(v, Value):
                raise TypeError(f"operand of {name} is not a Value: {v!r}")
        if result_types is None:
            result_types = self.infer(name, operands, attrs)
        op = Op(name, operands, attrs, result_types, regions, loc=self.loc, hints=hints)
        return self.block.append(op)

    def op(self, name: str, *operands: Value, hint: str | None = None, **attrs):
        # without a variable name to go by, a value is named after what computes it
        hint = hint or ("c" if name == "constant" else name)
        op = self.emit(name, operands, attrs, hints=[hint] * 8)
        if len(op.results) == 1:
            return op.results[0]
        return tuple(op.results)

    @contextmanager
    def at(self, block: Block):
        """Build into `block` inside the `with`, then return to the current block."""
        saved, self.block = self.block, block
        try:
            yield block
        finally:
            self.block = saved

    @contextmanager
    def region(self, arg_types=(), hints=None):
        block = Block(arg_types, hints)
        with self.at(block):
            yield block
