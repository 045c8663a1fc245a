"""Loop fusion: partition the ops of one block into loop groups (one generated kernel each) and
driver steps (BLAS, views, gathers, control flow), in program order.

Model. A group iterates over a *domain*: a tuple of axis sizes (no axis of size 1). Every value
in the group has an *axis map*: per dimension, the domain axis it runs along, or None for a
size-1 dimension; maps are strictly increasing (transposes are views, done by the driver).
Loop-fusible ops (`loop_kind`): elementwise ops, broadcasts and reshapes that only add or drop
size-1 axes, scalar constants, iotas, and the reductions with a loop lowering. A reduction is
- a *row reduction* when it reduces exactly the group's inner axes (the trailing axes from the
  split `k` on; the first such reduction fixes `k`): its result is a value per row that later
  ops of the group read (softmax, layer norm and their adjoints become one kernel that makes
  a few passes over each row while the row sits in cache);
- otherwise an *accumulation* into an array (bias gradients: a sum over the leading axes); its
  result is only complete when the kernel ends, so no op of the group may read it.
An op joins the group of an operand's producer, else a group that reads one of its operands
(input fusion: layer norm's backward reads its incoming gradient three times); when it reads
values of several open groups they merge if their loops line up (same domain and split for
groups with reductions). Scalars link nothing to arrays (`_links`): an array op joins and
merges groups only through its array operands, and a scalar op joins an array group only as
a producer's reader (a mean after its sum), so a scalar computed from the driver's values is
its own small kernel that every reader takes as an input. `update_slice` is a loop op too: a
select on the loop indices.

Guarantees: `partition(block)` returns steps `("kernel", Group)` and `("op", Op)` in an order
where every step's inputs are computed by earlier steps. A group runs at the position of its last
op; it is *closed* as soon as an op outside it reads one of its values, so nothing outside reads
a group's value before the group has run, and no cycle between groups can form.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ...ir import registry
from ...ir.rewrite import used_values

MAX_GROUP_OPS = 96   # compile time grows faster than linearly with kernel size (also when
                     # groups merge: a GRU unrolled over 100 steps made one kernel of 1214
                     # lines and 300 arguments, 11.5 s of Numba compile)
MAX_GROUP_DEPTH = 48  # ... and exponentially with the longest chain of ops in the kernel's loop,
                      # in LLVM's loop vectorizer: an unrolled scalar recurrence of 3 ops a step,
                      # 20 steps 0.6 s, 26 steps 8.8 s, 250 steps no end in 500 s


def numba_rule(op):
    """The op's registry lowering for this backend (`lower["numba"]`)."""
    return registry.get(op.name).lower["numba"]


def loop_kind(op) -> str | None:
    """How a loop kernel computes `op`, or None when the driver runs it."""
    opdef = registry.get(op.name)
    rule = opdef.lower.get("numba")
    if opdef.kind == "elementwise":
        return "elementwise"
    if opdef.kind == "reduce" and isinstance(rule, dict) and "update" in rule:
        return "reduce"
    kind = rule.get("loop") if isinstance(rule, dict) else None
    if kind == "update_slice":      # a select on the loop indices (positive steps only)
        return kind if all(step > 0 for step in op.attrs["steps"]) else None
    if kind == "unit_reshape":
        return kind if _nonunit(op.operands[0].shape) == _nonunit(op.result.shape) else None
    if kind == "constant":
        return kind if op.result.type.rank == 0 else None
    if kind == "broadcast" and scalar_constant(op.operands[0]):
        return "constant"       # a kernel reads it as a literal; never worth writing out
    return kind


def scalar_constant(v):
    """The `constant` op of a scalar constant, seen through broadcasts; else None."""
    op = v.owner
    while getattr(op, "name", None) == "broadcast_to":
        op = op.operands[0].owner
    if getattr(op, "name", None) == "constant" and op.result.type.rank == 0:
        return op
    return None


def _nonunit(shape):
    return [s for s in shape if s != 1]


def iteration_shape(op):
    return op.operands[0].shape if loop_kind(op) == "reduce" else op.result.shape


def operand_links(op, kind):
    """Per operand, pairs (operand dim, iteration dim) for its dims of size > 1."""
    shape = iteration_shape(op)
    links = []
    for n, x in enumerate(op.operands):
        if kind == "update_slice" and n == 1:
            links.append([])        # the value is read at shifted indices: never in-group
        elif kind == "unit_reshape":
            src = [i for i, s in enumerate(x.shape) if s != 1]
            dst = [j for j, s in enumerate(shape) if s != 1]
            links.append(list(zip(src, dst, strict=True)))
        else:   # right-aligned broadcasting (a reduction's operand has the iteration shape)
            lead = len(shape) - x.type.rank
            links.append([(i, i + lead) for i, s in enumerate(x.shape) if s != 1])
    return links


@dataclass(eq=False)
class Group:
    domain: list
    ops: list = field(default_factory=list)
    maps: dict = field(default_factory=dict)      # Value -> axis map
    itmaps: dict = field(default_factory=dict)    # Op -> iteration map
    k: int | None = None                          # split into outer / inner axes
    accums: set = field(default_factory=set)      # accumulation results
    depth: dict = field(default_factory=dict)     # Value -> longest chain of the group's ops
    reduces: int = 0
    open: bool = True

    def split(self) -> int:
        """The outer/inner split; without a row reduction the last axis is the inner loop."""
        return self.k if self.k is not None else max(len(self.domain) - 1, 0)

    def reduced_axes(self, op) -> set:
        it = self.itmaps[op]
        return {it[a % len(it)] for a in op.attrs["axes"]} - {None}

    def is_row_reduction(self, op) -> bool:
        axes = self.reduced_axes(op)
        return bool(axes) and axes == set(range(self.split(), len(self.domain)))

    def _insert_axis(self, pos, size):
        bump = {a: a + 1 if a >= pos else a for a in range(len(self.domain))}
        self.domain.insert(pos, size)
        for table in (self.maps, self.itmaps):
            for key, m in table.items():
                table[key] = tuple(None if a is None else bump[a] for a in m)


def _assign(group, shape, fixed, may_insert):
    """An increasing iteration map for `shape` honouring `fixed` (iteration dim -> axis);
    free dims take the next domain axis of their size, or a new axis when allowed."""
    out, lo = [], -1
    for j, size in enumerate(shape):
        if size == 1:
            out.append(None)
            continue
        if j in fixed:
            a = fixed[j]
            if a <= lo:
                return None
        else:
            hi = min([fixed[t] for t in fixed if t > j], default=len(group.domain))
            free = [a for a in range(lo + 1, hi) if group.domain[a] == size]
            if free:
                a = free[0]
            elif may_insert:
                group._insert_axis(lo + 1, size)
                out = [None if b is None else b + (b >= lo + 1) for b in out]
                fixed = {t: b + (b >= lo + 1) for t, b in fixed.items()}
                a = lo + 1
            else:
                return None
        out.append(a)
        lo = a
    return tuple(out)


def _result_map(op, kind, itmap):
    if kind == "reduce":
        axes = {a % max(len(itmap), 1) for a in op.attrs["axes"]}
        if op.attrs["keepdims"]:
            return tuple(None if i in axes else a for i, a in enumerate(itmap))
        return tuple(a for i, a in enumerate(itmap) if i not in axes)
    if kind == "unit_reshape":
        axes = iter([a for a in itmap if a is not None])
        return tuple(None if s == 1 else next(axes) for s in op.result.shape)
    return itmap


def _try_join(group, op, kind, owner, position, may_insert=True):
    """Add `op` to `group` (returns True) if its loops fit the group's; other open groups whose
    values it reads are merged in when they embed into the domain. Without `may_insert` the op
    must fit the group's existing loops (a sibling that only shares an input must not turn the
    domain into the product of two unrelated ones)."""
    links = operand_links(op, kind)
    shape = iteration_shape(op)
    if kind == "update_slice" and owner.get(op.operands[1]) is group:
        return False
    fixed = {}
    for x, pairs in zip(op.operands, links, strict=True):
        if owner.get(x) is group:
            if x in group.accums:
                return False
            for i, j in pairs:
                if fixed.setdefault(j, group.maps[x][i]) != group.maps[x][i]:
                    return False
    others = {owner[x] for x, pairs in zip(op.operands, links, strict=True)
              if owner.get(x) not in (None, group) and owner[x].open
              and (pairs or _scalar(x) and _scalar(op.results[0]))}
    saved = (list(group.domain), dict(group.maps), dict(group.itmaps))
    itmap = _assign(group, shape, fixed, may_insert=may_insert and group.reduces == 0)
    # axes inserted for an op that skips some of the group's other loops would make the domain
    # the product of two unrelated ones (two parameters' updates sharing one scalar)
    product = itmap is not None and len(group.domain) > len(saved[0]) \
        and len({a for a in itmap if a is not None}) < len(group.domain)
    depth = 1 + max((g.depth.get(x, 0) for g in (group, *others) for x in op.operands),
                    default=0)
    if itmap is None or product or len(group.ops) >= MAX_GROUP_OPS or depth > MAX_GROUP_DEPTH:
        group.domain, group.maps, group.itmaps = saved
        return False
    group.itmaps[op] = itmap
    group.depth.update((r, depth) for r in op.results)
    if kind == "reduce":
        axes = group.reduced_axes(op)
        n = len(group.domain)
        if group.k is None and axes and axes == set(range(n - len(axes), n)):
            group.k = n - len(axes)
        if axes and not group.is_row_reduction(op):
            group.accums.add(op.result)
        group.reduces += 1
    group.maps[op.result] = _result_map(op, kind, itmap)
    group.ops.append(op)
    for other in others:
        _merge(group, other, op, links, itmap, position)
    return True


def _merge(group, other, op, links, itmap, position):
    """Embed `other` (an open group whose values `op` reads) into `group`: each of its axes
    must line up with one of `group`'s; a group with reductions only merges into the same
    domain with a compatible split; the two have at most MAX_GROUP_OPS ops together.
    Otherwise `other` is closed."""
    if len(group.ops) + len(other.ops) > MAX_GROUP_OPS:
        other.open = False
        return
    emb = {}
    for x, pairs in zip(op.operands, links, strict=True):
        if other.maps.get(x) is None:
            continue
        if x in other.accums:
            other.open = False
            return
        for i, j in pairs:
            src = other.maps[x][i]
            if emb.setdefault(src, itmap[j]) != itmap[j]:
                other.open = False
                return
    if other.domain == group.domain and all(emb[a] == a for a in emb):
        emb = {a: a for a in range(len(other.domain))}    # same loops, partly read
    axes = sorted(emb)
    ok = (axes == list(range(len(other.domain)))
          and all(emb[a] < emb[b] for a, b in zip(axes, axes[1:]))
          and all(other.domain[a] == group.domain[emb[a]] for a in axes))
    if ok and other.reduces:
        ok = (len(axes) == len(group.domain) and all(emb[a] == a for a in axes)
              and (None in (group.k, other.k) or group.k == other.k))
    if not ok:
        other.open = False
        return
    group.k = group.k if group.k is not None else other.k
    group.depth.update(other.depth)
    group.reduces += other.reduces
    group.accums |= other.accums
    for v, m in other.maps.items():
        group.maps[v] = tuple(None if a is None else emb[a] for a in m)
    for o, m in other.itmaps.items():
        group.itmaps[o] = tuple(None if a is None else emb[a] for a in m)
    group.ops = sorted(group.ops + other.ops, key=position)
    other.ops = []
    other.open = False


def _links(op):
    """The operands through which `op` may join a group. An array op is not drawn into a
    group by a scalar: reading it saves no memory traffic, and a scalar shared by unrelated
    arrays (AdamW's `coef[0]`, read by every parameter's update) would otherwise merge them
    all into a few large kernels, no longer shared between identical layers (the small GPT's
    AdamW: 17 distinct kernels instead of 3, its cold compile of the GPT step 14 -> 28 s)."""
    if _scalar(op.results[0]):
        return op.operands
    return [x for x in op.operands if not _scalar(x)]


def _scalar(v) -> bool:
    """One element (a shape of 1s): a scalar to the fusion, whatever its rank."""
    return not _nonunit(v.type.shape)


def partition(block):
    """The block's ops as steps ("kernel", Group) / ("op", Op), in an executable order."""
    owner: dict = {}        # Value -> Group
    readers: dict = {}      # Value -> groups that read it from outside
    last: dict = {}         # id(Group) -> index of its last op
    groups: list[Group] = []
    index_of = {id(o): i for i, o in enumerate(block.ops)}

    def position(o):
        return index_of[id(o)]

    for index, op in enumerate(block.ops):
        kind = loop_kind(op)
        joined = None
        if kind is not None and not (kind == "constant"):
            links = _links(op)
            producers = {owner[x] for x in links if owner.get(x) is not None and owner[x].open}
            # else a group that reads one of the same inputs (layer norm's backward reads
            # its incoming gradient for the bias, the gain and the input gradient)
            siblings = {g for x in links for g in readers.get(x, ()) if g.open
                        and (not _scalar(op.results[0]) or not g.domain)}   # see _links
            order = sorted(producers, key=lambda g: -len(g.domain)) + \
                sorted(siblings - producers, key=lambda g: -groups.index(g))
            for g in order:
                if _try_join(g, op, kind, owner, position, may_insert=g in producers):
                    joined = g
                    break
            if joined is None:
                joined = Group(domain=[])
                groups.append(joined)
                _try_join(joined, op, kind, {}, position)
        for x in used_values(op):
            g = owner.get(x)
            if g is not None and g is not joined:
                g.open = False
        if joined is not None:
            for o in joined.ops:
                for r in o.results:
                    owner[r] = joined
            for x in op.operands:
                if owner.get(x) is not joined:
                    readers.setdefault(x, []).append(joined)
            last[id(joined)] = index
    at = {}
    for g in groups:
        if g.ops:
            at.setdefault(last[id(g)], []).append(g)
    steps = []
    for index, op in enumerate(block.ops):
        for g in at.get(index, ()):
            steps.append(("kernel", g))
        if loop_kind(op) is None or loop_kind(op) == "constant":
            steps.append(("op", op))
    return steps
