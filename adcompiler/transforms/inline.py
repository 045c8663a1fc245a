"""Inlining of calls.

Assumes: `fn` verifies (every callee is in `fn.module`). Guarantees: `fn` computes the same
results and contains no `call` op but those with a custom derivative (`vjp` attribute, kept
for the AD transform), in any region: each call is replaced by a copy of the
callee's body (fresh values; operands bound to the call's arguments; source locations and
name hints kept, so the user's names and lines survive), itself inlined first. The module
keeps the callees, unchanged. A recursive call cannot be inlined and raises `TraceError`.
"""
from __future__ import annotations

from ..errors import TraceError
from ..ir.core import Block
from ..ir.passes import register_pass
from ..ir.rewrite import clone_body, lookup, splice, substitute


@register_pass("inline")
def inline(fn):
    _block(fn.body, {}, fn.module, (fn.name,))
    return fn


def _block(block: Block, remap: dict, module, stack: tuple) -> None:
    """Inline the calls of `block`, nested regions included. `remap` maps call results to the
    inlined values; `stack` names the functions being expanded (to detect recursion)."""
    i = 0
    while i < len(block.ops):
        op = block.ops[i]
        substitute(op, remap)
        for region in op.regions:
            _block(region, remap, module, stack)
        if op.name != "call" or "vjp" in op.attrs:   # AD must see a custom derivative
            i += 1
            continue
        name = op.attrs["callee"]
        if name in stack:
            raise TraceError(f"recursive call of @{name} cannot be inlined "
                             f"(call chain: {' -> '.join('@' + n for n in stack + (name,))})",
                             op.loc)
        ops, results = clone_body(module.functions[name].body, op.operands)
        copy, inner = Block(), {}
        for new in ops:
            copy.append(new)
        _block(copy, inner, module, stack + (name,))   # the callee's own calls
        remap.update(zip(op.results, [lookup(inner, v) for v in results], strict=True))
        splice(block, i, copy.ops)
        i += len(copy.ops)
