"""Inlining of calls.

Assumes: `fn` verifies (every callee is in `fn.module`). Guarantees: `fn` computes the same
results and contains no `call` op but those with a custom derivative (`vjp` attribute, kept
for the AD transform), in any region: each call is replaced by a copy of the
callee's body (fresh values; operands bound to the call's arguments; name hints kept, so the
user's names survive), itself inlined first. Each copied op's loc is its own line followed by
the call's loc (`(file, line, call loc)`, see `printer.frames`): generated code quotes the
calls a helper's line was reached through, and errors name them. The values the callee
returns, where made inside it, take the hints of the call's results: the caller's names
(`h = layer_norm(x)` names layer_norm's result `h`; an unnamed call's result is named after
the callee), and `fn.meta["named_at"]` holds them: `printer.hint_printed_names` names them
first (the caller's `h` keeps the name before a helper's own `h`). The module keeps the
callees, unchanged. A recursive call cannot be inlined and raises `TraceError`.
"""
from __future__ import annotations

from ..errors import TraceError
from ..ir.core import Block
from ..ir.passes import register_pass
from ..ir.rewrite import clone_body, lookup, splice, substitute


@register_pass("inline")
def inline(fn):
    fn.meta["named_at"] = set()
    _block(fn.body, {}, fn.module, (fn.name,), fn.meta["named_at"])
    return fn


def _block(block: Block, remap: dict, module, stack: tuple, named_at: set) -> None:
    """Inline the calls of `block`, nested regions included. `remap` maps call results to the
    inlined values; `stack` names the functions being expanded (to detect recursion);
    `named_at` gets the values named after a call's result."""
    i = 0
    while i < len(block.ops):
        op = block.ops[i]
        substitute(op, remap)
        for region in op.regions:
            _block(region, remap, module, stack, named_at)
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
            for inner_op in new.walk():
                inner_op.loc = _called_from(inner_op.loc, op.loc)
        _block(copy, inner, module, stack + (name,), named_at)   # the callee's own calls
        made = {v for new in copy.ops for v in new.results}
        results = [lookup(inner, v) for v in results]
        for result, v in zip(op.results, results, strict=True):
            if v in made:
                v.hint = result.hint
                named_at.add(v)
        remap.update(zip(op.results, results, strict=True))
        splice(block, i, copy.ops)
        i += len(copy.ops)


def _called_from(loc, call):
    """`loc` of a line reached through one more call (the outermost, at `call`)."""
    if not loc or not call:
        return loc
    return (*loc[:2], _called_from(loc[2], call) if len(loc) > 2 else call)
