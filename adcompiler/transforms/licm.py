"""Loop-invariant code motion: the views and constants a loop body makes from values defined
outside the loop are made once, before it.

Assumes: `fn` verifies. Guarantees: `fn` computes the same results and still verifies. An op
of a `for` or `while` loop's own blocks (not one in a branch inside them) moves to just before
the loop when it is a `constant`, `broadcast_to`, `reshape` or `transpose` (ops that cannot
fail, so a loop that runs no iteration raises nothing new) and reads only values defined
before the loop or moved there; inner loops first, so an op can leave several. A reversed
loop's backward sweep made the zeros of each `d_out[t] = 0` (np.broadcast_to: ~3 us) and the
transposed weights of each product anew at every iteration.
"""
from __future__ import annotations

from ..ir.core import Block
from ..ir.passes import register_pass
from ..ir.rewrite import defined_inside

MOVABLE = ("constant", "broadcast_to", "reshape", "transpose")


@register_pass("licm")
def licm(fn):
    _block(fn.body)
    return fn


def _block(block: Block) -> None:
    for op in list(block.ops):
        for region in op.regions:
            _block(region)
        if op.name in ("for", "while"):
            _hoist(op, block)


def _hoist(loop, block: Block) -> None:
    inside = defined_inside(loop)
    moved = []
    for region in loop.regions:
        for op in list(region.ops):
            if op.name in MOVABLE and not op.regions and not any(v in inside
                                                                 for v in op.operands):
                region.ops.remove(op)
                inside.difference_update(op.results)
                moved.append(op)
    at = block.ops.index(loop)
    for op in moved:
        op.parent = block
    block.ops[at:at] = moved
