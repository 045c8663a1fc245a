"""Common-subexpression elimination.

Assumes: `fn` verifies. Guarantees: `fn` computes the same results; of two pure ops without
regions (`ir.rewrite.is_pure`) that have the same name, operands, attributes and result types,
where the first is visible from the second (same block or an enclosing one, earlier), the
second is removed and its results replaced by the first's (`ir.rewrite.merge_key`). Constants
are such ops, so equal constants (value and dtype) merge. A value computed inside a region never
replaces one outside it: each region opens a scope that is dropped when it ends.
Operands are not reordered (no commutativity).
"""
from __future__ import annotations

from ..ir.core import Block
from ..ir.passes import register_pass
from ..ir.rewrite import is_pure, merge_key, merges, substitute


@register_pass("cse")
def cse(fn):
    _block(fn.body, [], {}, fn.module)
    return fn


def _block(block: Block, scopes: list[dict], remap: dict, module) -> None:
    """Merge within `block`. `scopes` are the tables of the enclosing blocks, outermost first;
    `remap` maps removed results to their replacements."""
    table: dict = {}
    scopes = scopes + [table]
    live = []
    for op in block.ops:
        substitute(op, remap)
        for region in op.regions:
            _block(region, scopes, remap, module)
        if op.regions or not is_pure(op, module) or not merges(op.name):
            live.append(op)
            continue
        key = merge_key(op.name, op.operands, op.attrs, [r.type for r in op.results])
        found = next((s[key] for s in reversed(scopes) if key in s), None)
        if found is None:
            table[key] = op
            live.append(op)
        else:
            remap.update(zip(op.results, found.results, strict=True))
    block.ops = live
