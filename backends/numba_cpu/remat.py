"""Rematerialisation of cheap residuals in a spliced forward+backward function.

The reverse transform keeps every forward value the backward sweep reads; for elementwise
chains that is most of them (GELU's backward reads u, 0.5u, 0.044715u, 0.044715u^2, tanh(.)
and 1 + tanh(.): six arrays the forward kernel must write and the backward must read back).
`rematerialise(block, split)` takes the ops of a block whose first `split` ops are the forward
sweep and recomputes, in the backward sweep, every forward value that
- is made by a loop op the registry declares `cheap` (arithmetic, compare, select, cast,
  broadcast: no exp/tanh/log, no reduction), and
- whose operands are constants, parameters, values the backward reads anyway, matrix
  products (in memory anyway: BLAS wrote them), or (up to three levels) cheap values of such,
  recomputed with it, and
- is read in the backward sweep only by loop-fusible ops at the top level (so the copy fuses
  into the backward's kernels instead of being written to memory again), and in the forward
  sweep by loop-fusible ops only (a value a product reads is written by the forward anyway),
- when a comparison reads it, is recomputed by at most one op the registry declares
  `reassociable` (add, sub, mul, div): under the `reassociate` option LLVM may evaluate a
  chain of them in another order in the backward's kernel than in the forward's, and a
  last-bit difference flips `y == max(y)` (a
  layer norm's output compared with its row maximum matched nowhere in a row, and max's
  gradient divided by that count of zero). Attention's scaled, masked scores (one multiply
  and a select) are still recomputed.
A product kept so replaces a residual of at least its size (attention's masked scores are
recomputed from q k^T, GELU's input from the fc product): the forward kernel has one array
less to write, and the residual memory does not grow.
The copy goes right before its first backward reader. Repeated to a fixed point, so chains of
cheap ops collapse onto the values that are kept. Results are unchanged up to the order of
float operations (the same ops on the same values); memory traffic and residual memory go
down.
"""
from __future__ import annotations

from ...ir import registry
from ...ir.core import Op
from ...ir.rewrite import clone_op, users
from .fusion import loop_kind
from .memory import nbytes


def _cheap(op) -> bool:
    """Declared cheap in the registry, and computed by a kernel's loop (a reshape the driver
    runs as a view is not)."""
    opdef = registry.get(op.name)
    return opdef.cheap and opdef.pure and not op.regions \
        and loop_kind(op) in ("elementwise", "broadcast", "unit_reshape")


def _compares_floats(op) -> bool:
    """A comparison (a bool result) of float operands."""
    return op.result.type.dtype == "bool" and any(x.type.is_float for x in op.operands)


def _exact(ops) -> bool:
    """Do `ops` recompute bit for bit what the forward computed, whatever order LLVM picks? Not
    two reassociable ops, nor one where a value they read was made by a reassociable op, also
    through loop ops that pass values on (a negation, a broadcast): the forward's kernel may
    have computed them fused, in another order (w * -(s / 3) as -(w * s) / 3)."""
    chained = [op for op in ops if registry.get(op.name).reassociable]
    if not chained:
        return True
    return len(chained) == 1 and not any(_made_by_reassociable(x, ops)
                                         for op in ops for x in op.operands)


def _made_by_reassociable(v, ops, depth=8) -> bool:
    """Is `v` (read by `ops`, made outside them) made by a reassociable op, or by loop ops
    the forward fuses (elementwise, broadcasts) over one? Reductions and products end the
    search: their results are computed apart; so do integers and bools (a causal mask made by
    integer ops), which no order rounds."""
    op = v.owner
    if not v.type.is_float or not isinstance(op, Op) or op in ops or depth == 0 \
            or loop_kind(op) not in ("elementwise", "broadcast", "unit_reshape"):
        return False
    return registry.get(op.name).reassociable or any(
        _made_by_reassociable(x, ops, depth - 1) for x in op.operands)


def _inexact_compare(op, operand_steps) -> bool:
    """Would `op`, a comparison of floats recomputed from operands that `operand_steps`
    recompute, see other values than the forward's?"""
    return _compares_floats(op) and not _exact(operand_steps)


def _product(op, block) -> bool:
    """A top-level matrix product: its result is an array of its own in memory."""
    return isinstance(op, Op) and op.parent is block and registry.get(op.name).kind == "linalg"


def rematerialise(block, split: int, depth: int = 3) -> None:
    fwd = block.ops[:split]     # copies go into the backward sweep: the forward stays as is
    made_in_fwd = {r for op in fwd for r in op.results}
    fwd_read = users(fwd)
    # the backward's readers, kept up to date as ops are copied: walking the whole sweep again
    # after every copy took most of the medium GPT's splice
    read = users(block.ops[split:])
    changed = True
    while changed:      # passes over the forward until one copies nothing (a copy can make an
        changed = False  # earlier value recomputable: its readers changed)
        kept_products = set()

        def recipe(v, budget):
            """The forward ops to copy so that `v` can be recomputed from kept values."""
            if v not in made_in_fwd or v in read or getattr(v.owner, "name", "") == "constant":
                return []
            if _product(v.owner, block):
                kept_products.add(v)
                return []
            if budget == 0 or not _cheap(v.owner):
                return None
            steps = []
            for x in v.owner.operands:
                sub = recipe(x, budget - 1)
                if sub is None:
                    return None
                steps += [o for o in sub if o not in steps]
            if _inexact_compare(v.owner, steps):
                return None
            return steps + [v.owner]

        for op in fwd:
            if not _cheap(op) or op.result not in read:
                continue
            readers = read[op.result]
            if any(r.parent is not block or loop_kind(r) in (None, "constant") for r in readers):
                continue
            needed = []
            kept_products.clear()
            for x in op.operands:
                sub = recipe(x, depth)
                if sub is None:
                    break
                needed += [o for o in sub if o not in needed]
            else:
                if _inexact_compare(op, needed) or any(
                        _inexact_compare(r, needed + [op]) for r in readers):
                    continue
                if kept_products and (
                        sum(map(nbytes, kept_products)) > nbytes(op.result)
                        or not all(loop_kind(r) not in (None, "constant")
                                   for r in fwd_read.get(op.result, []))):
                    continue    # more bytes kept than saved (a bool mask of a float product),
                                # or the forward writes the value anyway
                at = min(block.ops.index(r, split) for r in readers)
                vmap: dict = {}
                for o in needed + [op]:
                    copy: Op = clone_op(o, vmap)
                    copy.parent = block
                    block.ops.insert(at, copy)
                    at += 1
                    for x in copy.operands:
                        read.setdefault(x, []).append(copy)
                for r in list(readers):
                    for x in r.operands:
                        if x in vmap:
                            _move_read(read, r, x, vmap[x])
                    r.operands = [vmap.get(x, x) for x in r.operands]
                changed = True


def _move_read(read, reader, old, new) -> None:
    """In `read` (value -> the ops reading it), `reader` reads `new` where it read `old`."""
    readers = read[old]
    readers.remove(reader)
    if not readers:
        del read[old]
    read.setdefault(new, []).append(reader)
