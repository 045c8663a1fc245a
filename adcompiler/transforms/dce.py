"""Dead-code elimination.

Assumes: `fn` verifies. Guarantees: `fn` computes the same results and effects; afterwards
- no pure op (`ir.rewrite.is_pure`: regions and callees included) has all its results unused;
- an `if` has no unused result;
- a `for`/`while` carried value whose result is unused is gone (result, initial value, region
  arguments, yielded value) unless another needed carried value, the `while` condition or an
  impure op may depend on it. "Needed" is a fixpoint, so unused carried values that only feed
  each other are removed together.
Works backwards through each block, recursing into the regions of live ops.
"""
from __future__ import annotations

from ..ir.core import Block, Op
from ..ir.passes import register_pass
from ..ir.rewrite import is_pure
from ..ir.verify import TERMINATORS


@register_pass("dce")
def dce(fn):
    _sweep(fn.body, set(), fn.module)
    return fn


def _sweep(block: Block, used: set, module) -> None:
    """Drop dead ops of `block`, last first. `used` holds the values used by the live ops
    after this point (in program order) and gains those used by live ops of `block`."""
    live = []
    for op in reversed(block.ops):
        if is_pure(op, module) and not any(r in used for r in op.results):
            continue
        drop = _unneeded(op, used, module) if op.name in ("if", "for", "while") else []
        _drop_carried(op, drop)
        for region in op.regions:
            _sweep(region, used, module)
        _drop_region_args(op, drop)
        used.update(op.operands)
        live.append(op)
    block.ops = live[::-1]


def _bits(mask: int) -> set[int]:
    return {k for k in range(mask.bit_length()) if mask >> k & 1}


def _unneeded(op: Op, used: set, module) -> list[int]:
    """Indices of the results of a control op that can be removed."""
    unused = [k for k, r in enumerate(op.results) if r not in used]
    if op.name == "if" or not unused:
        return unused
    # bit k of a value's mask: it may depend on carried value k
    masks, needed = {}, {k for k, r in enumerate(op.results) if r in used}
    if op.name == "for":
        (body,) = op.regions
        masks.update((a, 1 << k) for k, a in enumerate(body.args[1:]))
        needed |= _bits(_depends(body, masks, module)[1])
    else:
        cond, body = op.regions
        for region in (cond, body):
            masks.update((a, 1 << k) for k, a in enumerate(region.args))
            needed |= _bits(_depends(region, masks, module)[1])
        needed |= _bits(masks.get(cond.ops[-1].operands[0], 0))
    yields = body.ops[-1].operands
    todo = list(needed)
    while todo:   # a needed carried value needs what its next value is computed from
        for k in _bits(masks.get(yields[todo.pop()], 0)) - needed:
            needed.add(k)
            todo.append(k)
    return [k for k in unused if k not in needed]


def _depends(block: Block, masks: dict, module) -> tuple[int, int]:
    """Give every value defined in `block` (nested regions too) a dependency mask; return the
    union of the masks of all values used in `block` and the union of those used by impure
    ops (whose effects must be kept)."""
    seen = effects = 0
    for op in block.ops:
        m = 0
        for v in op.operands:
            m |= masks.get(v, 0)
        results = [m] * len(op.results)
        if op.regions:
            inner = _regions(op, m, masks, module)
            if op.name != "if" and inner[0] & ~m:   # loop arguments carry what the body computes
                inner = _regions(op, m | inner[0], masks, module)
            seen, effects = seen | inner[0], effects | inner[1]
            if not is_pure(op, module):   # whether and how often its effects happen
                effects |= m | inner[0]
            if op.name == "if":   # result k: the condition and the values yielded as k
                then, other = (r.ops[-1].operands for r in op.regions)
                results = [m | masks.get(a, 0) | masks.get(b, 0)
                           for a, b in zip(then, other, strict=True)]
            else:
                results = [m | inner[0]] * len(op.results)
        elif not is_pure(op, module) and op.name not in TERMINATORS:
            effects |= m
        masks.update(zip(op.results, results, strict=True))
        seen |= m
    return seen, effects


def _regions(op: Op, arg_mask: int, masks: dict, module) -> tuple[int, int]:
    seen = effects = 0
    for region in op.regions:
        masks.update((a, arg_mask) for a in region.args)
        s, e = _depends(region, masks, module)
        seen, effects = seen | s, effects | e
    return seen, effects


def _drop_carried(op: Op, drop: list[int]) -> None:
    """Remove results `drop` of a control op with their initial and yielded values."""
    if not drop:
        return
    gone = set(drop)
    op.results = [r for k, r in enumerate(op.results) if k not in gone]
    for k, r in enumerate(op.results):
        r.index = k
    first = {"if": None, "for": 1, "while": 0}[op.name]   # operand of carried value 0
    if first is not None:
        op.operands = op.operands[:first] + [v for k, v in enumerate(op.operands[first:])
                                             if k not in gone]
    for region in op.regions:
        term = region.ops[-1]
        if term.name == "yield":
            term.operands = [v for k, v in enumerate(term.operands) if k not in gone]


def _drop_region_args(op: Op, drop: list[int]) -> None:
    """Remove the region arguments of dropped carried values (now unused)."""
    if not drop or op.name == "if":
        return
    gone = set(drop)
    first = 1 if op.name == "for" else 0   # the `for` index argument stays
    for region in op.regions:
        region.args = region.args[:first] + [a for k, a in enumerate(region.args[first:])
                                             if k not in gone]
        for k, a in enumerate(region.args):
            a.index = k
