"""Constant folding.

Assumes: `fn` verifies. Guarantees: `fn` computes what the NumPy backend computes for the
original, and still verifies:
- a pure op without regions whose operands (at least one) are all `constant` results becomes
  a `constant` holding the value the op's NumPy lowering gives (`lower_expr`, the reference),
  when that value has at most `MAX_ELEMENTS` entries (so IR text stays readable), exactly
  the op's result type, and a literal form; the op keeps its result value, name and loc;
  ops whose evaluation fails (an index out of range, ...) are left alone;
- an `if` on a constant condition is replaced by the ops of the taken region;
- a `for` whose trip count is a constant <= 0 is replaced by its initial values.
Constants that become unused are left for `dce`. Non-finite results fold too (`inf`, and
`nan` from a NaN operand), but a NaN the op makes itself (`log(-2.0)`, the derivative of
`(-2.0) ** x`) stays an op: then the run-time NaN check names the user's line that makes it.
"""
from __future__ import annotations

import numpy as np

from ..backends.numpy.codegen import imports, lower_expr
from ..ir import registry
from ..ir.core import Block, Op, Value
from ..ir.passes import register_pass
from ..ir.rewrite import splice, substitute
from ..ir.types import DTYPES
from ..ir.verify import TERMINATORS
from ..ops.create import literal_shape

MAX_ELEMENTS = 16


@register_pass("fold")
def fold(fn):
    _block(fn.body, {})
    return fn


def constant_value(v: Value):
    """The NumPy value of `v` if a `constant` op defines it (a NumPy scalar for rank 0, as
    the backend makes it), else None."""
    op = v.owner
    if isinstance(op, Op) and op.name == "constant":
        return np.array(op.attrs["value"], dtype=DTYPES[op.attrs["dtype"]])[()]
    return None


def _block(block: Block, remap: dict) -> None:
    i = 0
    while i < len(block.ops):
        op = block.ops[i]
        substitute(op, remap)
        known = constant_value(op.operands[0]) if op.name in ("if", "for") else None
        if op.name == "if" and known is not None:
            taken = op.regions[0 if known else 1]
            remap.update(zip(op.results, taken.ops[-1].operands, strict=True))
            splice(block, i, taken.ops[:-1])
            continue   # the moved ops are folded next
        if op.name == "for" and known is not None and known <= 0:
            remap.update(zip(op.results, op.operands[1:], strict=True))
            splice(block, i, [])
            continue
        for region in op.regions:
            _block(region, remap)
        _fold(op)
        i += 1


def _fold(op: Op) -> None:
    """Turn `op` into a `constant` in place when it can be evaluated now."""
    opdef = registry.get(op.name)
    # a broadcast scalar already reads as a constant (`zeros`); a literal would read worse
    if (op.regions or op.name in TERMINATORS or op.name in ("constant", "broadcast_to")
            or not op.operands or len(op.results) != 1 or not opdef.pure
            or "numpy" not in opdef.lower or op.result.type.size > MAX_ELEMENTS):
        return
    args = [constant_value(v) for v in op.operands]
    if any(a is None for a in args):
        return
    try:
        out = np.asarray(_evaluate(op, args))
    except (ArithmeticError, IndexError, ValueError):
        return
    if out.dtype.kind in "fc" and np.isnan(out).any() and not any(
            np.asarray(a).dtype.kind in "fc" and np.isnan(a).any() for a in args):
        return
    t = op.result.type
    if out.shape != t.shape or out.dtype != np.dtype(DTYPES[t.dtype]):
        return   # the reference would give another type: keep the op to keep that
    value = _literal(out.tolist())
    if literal_shape(value) != t.shape:   # e.g. shape (0, 3) has no literal
        return
    op.name, op.operands, op.attrs = "constant", [], {"value": value, "dtype": t.dtype}


def _evaluate(op: Op, args: list):
    names = [f"a{k}" for k in range(len(args))]
    code = lower_expr(op, names)
    lines = [f"out = {code}"] if isinstance(code, str) else [ln.format(out="out") for ln in code]
    text = "\n".join(lines)
    env = dict(zip(names, args, strict=True))
    exec(imports(text), env)        # (as the NumPy backend's program has them: rt, scipy)
    with np.errstate(all="ignore"):   # inf and nan fold like any value
        exec(text, env)
    return env["out"]


def _literal(x):
    return tuple(_literal(e) for e in x) if isinstance(x, list) else x
