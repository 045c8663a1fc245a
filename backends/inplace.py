"""Array updates that write into the array they update, where a loop passes that array on.

An update op (`update_slice`, `put`, `scatter_add`) makes a new array in the IR, and both
backends lower it as a copy of operand 0 followed by the write. In a loop that fills a buffer
(`out[t] = f(out[t - 1])`, and the backward loop accumulating `d_out[t - 1] += ...`) that copy
costs the whole buffer at every iteration: time grew with the square of the trip count.

Contract: `in_place(fn)` returns (the update ops of `fn` that may write into their operand 0,
loop op -> the indices of its carried values to copy once on entry, `if` op -> (the array,
the updates inside it) for each `if` that is a link below). Updates are found per `for`/`while`
loop and carried value x, in the loop body's own block: a chain x -> link -> link ... whose
links are updates of the array, or `if`s each of whose branches passes on such a chain from
the array (or the array itself) as one same result; every value of the chain is read, apart
from by its next link, only before that link and only by ops that make new arrays
(elementwise, reductions, `take`, `concatenate`, linear algebra, none a registry `view`: no
view, tape, call, other branch, loop or yield holds it), and the chain's end is what the body
yields for x, once, and is otherwise read only so. A `while` loop's condition may read x only
so too. The array then has no other name while the loop runs: the loop copies x's initial
value on entry (never writing the caller's array, a constant or a read-only broadcast; once
per loop, not per iteration), and each update of the chain writes in place (a buffer filled
under a run-time condition, `if keep: buf[count] = v; count += 1`, too). Updates in an inner
loop are left as copies.
A lowering of an update op lists the copy as its first statement (`{out} = np.array(a)`,
`{out}[...] = a`); in place, the backends bind `{out}` to operand 0 and run the rest.
"""
from __future__ import annotations

from ..ir import registry

UPDATES = ("update_slice", "put", "scatter_add")
_FRESH_KINDS = ("elementwise", "reduce", "linalg")


def makes_new_arrays(op) -> bool:
    """Do `op`'s results share no memory with its operands, and does it keep none of them?"""
    opdef = registry.get(op.name)
    if op.regions or opdef.view:
        return False
    return opdef.kind in _FRESH_KINDS or op.name in ("take", "concatenate")


def in_place(fn):
    updates, copies, links = set(), {}, {}
    for loop in fn.walk():
        if loop.name not in ("for", "while"):
            continue
        body = loop.regions[-1]
        first = 1 if loop.name == "for" else 0          # (a for loop's index comes first)
        cond_readers = _readers(loop.regions[0]) if loop.name == "while" else {}
        for k, x in enumerate(body.args[first:]):
            if loop.name == "while" and not all(
                    makes_new_arrays(op) for op in cond_readers.get(loop.regions[0].args[k], ())):
                continue
            found = _chain(body, x, k)
            if found and found[0]:
                updates.update(found[0])
                links.update(found[1])
                copies.setdefault(loop, []).append(k)
    return updates, copies, links


def _readers(block) -> dict:
    """Value -> the ops of `block` itself (not nested) that read it, an op's regions' reads
    counted as the op's."""
    out: dict = {}
    for op in block.ops:
        for v in set(op.operands) | {v for region in op.regions for inner in region.walk()
                                     for v in inner.operands}:
            out.setdefault(v, []).append(op)
    return out


def _chain(block, x, k):
    """(updates, links) of the chain from `x` in `block` to what the block's terminator
    passes on as its k-th value, or None where there is no such chain or it does not qualify
    (module docstring); the chain may be empty (x passed on as it is)."""
    readers = _readers(block)
    position = {op: i for i, op in enumerate(block.ops)}
    updates, links, v = [], {}, x
    while True:
        ops = readers.get(v, [])
        link = next((op for op in ops if op.name in UPDATES and op.operands[0] is v
                     and v not in op.operands[1:]), None)
        inner = None
        if link is None:
            link, inner = next(((op, found) for op in ops if op.name == "if"
                                and v not in op.operands
                                and (found := _branches(op, v)) is not None), (None, None))
        if link is None:
            break
        if not all(makes_new_arrays(op) and position[op] < position[link]
                   for op in ops if op is not link):
            return None
        if inner is None:
            updates.append(link)
            v = link.result
        else:
            j, inner_updates, inner_links = inner
            updates += inner_updates
            links.update(inner_links)
            links[link] = (v, inner_updates)
            v = link.results[j]
    terminator = block.terminator
    if terminator.operands.count(v) != 1 or terminator.operands[k] is not v or not all(
            op is terminator or makes_new_arrays(op) for op in readers.get(v, [])):
        return None
    return updates, links


def _branches(branch, x):
    """(j, updates, links) where each region of the `if` op `branch` passes on as its j-th
    result a chain from x (or x itself), else None."""
    for j in range(len(branch.results)):
        found = [_chain(region, x, j) for region in branch.regions]
        if all(f is not None for f in found):
            return (j, [u for f in found for u in f[0]],
                    {op: d for f in found for op, d in f[1].items()})
    return None
