"""Array updates that write into the array they update, where a loop passes that array on.

An update op (`update_slice`, `put`, `scatter_add`) makes a new array in the IR, and both
backends lower it as a copy of operand 0 followed by the write. In a loop that fills a buffer
(`out[t] = f(out[t - 1])`, and the backward loop accumulating `d_out[t - 1] += ...`) that copy
costs the whole buffer at every iteration: time grew with the square of the trip count.

Contract: `in_place(fn)` returns (the update ops of `fn` that may write into their operand 0,
loop op -> the indices of its carried values to copy once on entry). Updates are found per
`for`/`while` loop and carried value x, in the loop body's own block: a chain
x -> update -> update ... whose every link is read, apart from by the next update, only before
that update and only by ops that make new arrays (elementwise but `stop_gradient`, reductions,
`take`, `concatenate`, linear algebra: no view, tape, call, branch, loop or yield holds it),
and whose end is what the body yields for x, once, and is otherwise read only so. A `while`
loop's condition may read x only so too. The array then has no other name while the loop
runs: the loop copies x's initial value on entry (never writing the caller's array, a constant
or a read-only broadcast; once per loop, not per iteration), and each update of the chain
writes in place. Updates nested in a branch or an inner loop are left as copies.
A lowering of an update op lists the copy as its first statement (`{out} = np.array(a)`,
`{out}[...] = a`); in place, the backends bind `{out}` to operand 0 and run the rest.
"""
from __future__ import annotations

from ..ir import registry

UPDATES = ("update_slice", "put", "scatter_add")
_FRESH_KINDS = ("elementwise", "reduce", "linalg")


def makes_new_arrays(op) -> bool:
    """Do `op`'s results share no memory with its operands, and does it keep none of them?"""
    if op.regions or op.name == "stop_gradient":     # (lowered as its operand itself)
        return False
    return registry.get(op.name).kind in _FRESH_KINDS or op.name in ("take", "concatenate")


def in_place(fn):
    updates, copies = set(), {}
    for loop in fn.walk():
        if loop.name not in ("for", "while"):
            continue
        body = loop.regions[-1]
        first = 1 if loop.name == "for" else 0          # (a for loop's index comes first)
        readers = _readers(body)
        cond_readers = _readers(loop.regions[0]) if loop.name == "while" else {}
        for k, x in enumerate(body.args[first:]):
            if loop.name == "while" and not all(
                    makes_new_arrays(op) for op in cond_readers.get(loop.regions[0].args[k], ())):
                continue
            chain = _chain(body, x, k, readers)
            if chain:
                updates.update(chain)
                copies.setdefault(loop, []).append(k)
    return updates, copies


def _readers(block) -> dict:
    """Value -> the ops of `block` itself (not nested) that read it, an op's regions' reads
    counted as the op's."""
    out: dict = {}
    for op in block.ops:
        for v in set(op.operands) | {v for region in op.regions for inner in region.walk()
                                     for v in inner.operands}:
            out.setdefault(v, []).append(op)
    return out


def _chain(body, x, k, readers) -> list:
    """The updates of the chain from `x` (the body's carried value k), or [] when there is
    none or it does not qualify (module docstring)."""
    position = {op: i for i, op in enumerate(body.ops)}
    chain, v = [], x
    while True:
        ops = readers.get(v, [])
        update = next((op for op in ops if op.name in UPDATES and op.operands[0] is v
                       and v not in op.operands[1:]), None)
        rest = [op for op in ops if op is not update]
        if update is None:
            break
        if not all(makes_new_arrays(op) and position[op] < position[update] for op in rest):
            return []
        chain.append(update)
        v = update.result
    terminator = body.terminator
    end_ok = terminator.operands.count(v) == 1 and terminator.operands[k] is v and all(
        op is terminator or makes_new_arrays(op) for op in readers.get(v, []))
    return chain if chain and end_ok else []
