"""The reverse-mode transform: a primal Function -> a forward and a backward Function.

Contract. Given a primal function with no `call` ops left but custom-VJP calls (inline first)
and the indices of the parameters to differentiate, `reverse` returns `(fwd, bwd)`:
- `fwd` takes the primal's parameters and returns its results followed by the *residuals*:
  the primal values the backward sweep reads. The residuals are the explicit boundary between
  the two sweeps (the scheduler may later choose to recompute some instead of saving them).
- `bwd` takes the residuals followed by one cotangent per primal result and returns one
  gradient per differentiated parameter (same type as the parameter).
Only *active* values (floating point, depending on a differentiated parameter) get
adjoints, and an adjoint known to be zero is never materialised (a missing entry in the adjoint
map means zero), so no work is spent on gradients nobody asked for.

Control flow: an `if` is reversed as an `if` on the same condition whose branches recompute
their forward branch and then run its reverse. A `for`/`while` loop pushes its carried state
at the start of every iteration onto tapes (stacks whose length is the run-time trip count;
a `while` also counts its iterations); the reverse loop runs the iterations backwards, and in
each one recomputes the body from the state on the tape and runs the body's reverse. A carried
array the body only reads entries of by index and updates in place (`out[t] = f(out[t - 1])`:
`take` of it, `put`, `scatter_add` and `update_slice` into it, whose derivatives need no value
of the array) is not taped whole: the entries read are, so the tapes grow with what the body
reads, not with the array times the trip count (a `slice` is a view, which would keep the
array). Values a
loop body reads from outside get their adjoints accumulated in extra loop-carried values. What
is recomputed leaves out the user's prints and asserts (ops of kind "check"), which the forward
sweep ran.
"""
from __future__ import annotations

from ..ir import registry
from ..ir.builder import Builder
from ..ir.core import Block, Function, Op, Value
from ..errors import AdcompilerError, where
from ..ir.names import adjoint, recomputed
from ..ir.rewrite import TERMINATORS, clone_block, clone_body, replace_all, used_values
from ..ir.types import TensorType
from .emit import add, const, zeros


def activity(fn: Function, wrt_args) -> set:
    """Values that depend on a differentiated parameter and can carry a gradient (floats).
    Conservative for region ops: if any value flowing into one is active, all its float block
    arguments and results are."""
    active = {a for a in wrt_args if a.type.is_float}

    def visit(block):
        for op in block.ops:
            if op.regions:
                if any(v in active for v in used_values(op)):
                    for region in op.regions:
                        active.update(a for a in region.args if a.type.is_float)
                    for region in op.regions:
                        visit(region)
                    active.update(r for r in op.results if r.type.is_float)
            elif any(v in active for v in op.operands):
                opdef = registry.get(op.name)
                # a tape carries activity through so differentiating it again is caught
                if not opdef.nondiff or opdef.kind == "tape":
                    active.update(r for r in op.results if r.type.is_float)

    visit(fn.body)
    return active


def defined_in(block: Block) -> set:
    out = set(block.args)
    for op in block.walk():
        out.update(op.results)
        for r in op.regions:
            out.update(r.args)
    return out


def _insert_before(op: Op, new_ops):
    parent = op.parent
    i = parent.ops.index(op)
    for o in new_ops:
        o.parent = parent
    parent.ops[i:i] = new_ops


# ops that read entries of their first operand into an array of their own, and ops that
# update entries of it in place (functionally) whose derivatives need no value of it
_READS = ("take",)
_UPDATES = ("put", "scatter_add", "update_slice")


def _entries_read(user_ops: list[Op], arg: Value, slot: int) -> list[Op] | None:
    """The ops of a loop body (`user_ops`, its terminator last) that read entries of the
    carried `arg` when reading and updating entries is all the body does with it (the updated
    array passed on as `arg`'s next value, at `slot`, or not at all) and they read fewer
    entries than it has, else None."""
    derived, reads = {arg}, []
    top = set(map(id, user_ops))
    for op in user_ops[:-1]:
        for inner in op.walk():
            for p, v in enumerate(inner.operands):
                if v not in derived:
                    continue
                if id(inner) in top and p == 0 and v is arg and inner.name in _READS:
                    reads.append(inner)
                elif id(inner) in top and p == 0 and inner.name in _UPDATES:
                    derived.add(inner.result)
                else:
                    return None
    passed = [k for k, v in enumerate(user_ops[-1].operands) if v in derived]
    smaller = sum(r.result.type.size for r in reads) < arg.type.size
    return reads if passed in ([], [slot]) and smaller else None


def _add_arg(block: Block, type, hint) -> Value:
    v = Value(type, hint, block, len(block.args))
    block.args.append(v)
    return v


def _add_result(op: Op, type, hint) -> Value:
    v = Value(type, hint, op, len(op.results))
    op.results.append(v)
    return v


class Reverser:
    """Accumulates adjoints while walking ops backwards, emitting through `b`."""

    def __init__(self, b: Builder, active: set, module=None):
        self.b = b
        self.active = active
        self.module = module
        self.adj: dict[Value, Value] = {}
        self.quiet_copies: dict[str, str] = {}     # callee -> itself, or its print-free copy

    def contribute(self, v: Value, g):
        if g is not None and v in self.active:
            before = self.adj.get(v)
            total = add(self.b, before, g)
            if isinstance(total.owner, Op) and (total is not g or g.hint == g.owner.name):
                total.hint = adjoint(v.hint)     # name the adjoint after its primal: d_h
                if before is not None and before.hint == total.hint:
                    before.hint += "_part"       # (a partial sum: the total is d_h)
            self.adj[v] = total

    def seed_or_zero(self, v: Value, ct):
        return ct if ct is not None else zeros(self.b, v.type)

    def run(self, ops):
        for op in reversed(ops):
            if op.name in TERMINATORS:
                continue
            cts = [self.adj.get(r) for r in op.results]
            if all(c is None for c in cts):
                continue
            self.b.loc = op.loc
            if op.name in ("if", "for", "while", "call"):
                getattr(self, "rev_" + op.name)(op, cts)
                continue
            opdef = registry.get(op.name)
            needs = [v in self.active for v in op.operands]
            if opdef.kind == "tape" and any(needs):
                raise AdcompilerError(
                    f"differentiating the reverse sweep of a loop again (second-order "
                    f"derivatives through the loop at {where(op.loc)}) is not supported: a "
                    "short loop over a Python-int count is unrolled for them, this one runs "
                    "longer or counts a run-time value; where it solves for something (a "
                    "fixed point, a root), a custom_vjp with the implicit derivative needs no "
                    "second sweep")
            if opdef.nondiff or not any(needs):
                continue
            if opdef.vjp is None:
                raise NotImplementedError(f"op {op.name!r} has no VJP rule")
            grads = opdef.vjp(self.b, op, cts, needs)
            for v, g, need in zip(op.operands, grads, needs, strict=True):
                if need:
                    self.contribute(v, g)

    def sub_reverse(self, block: Block, ops, seeds):
        """Reverse `ops` (placed in `block`), seeding the given values; returns the adjoints
        of values defined outside `block` (the free values the ops read)."""
        sub = Reverser(self.b, self.active, self.module)
        loc = self.b.loc
        with self.b.at(block):
            for v, s in seeds:
                sub.contribute(v, s)
            sub.run(ops)
        self.b.loc = loc    # what follows (the region op, its yields) is the region op's line
        inside = defined_in(block)
        return sub, {v: g for v, g in sub.adj.items() if v not in inside}

    def recompute(self, block: Block, region: Block, args, vmap=None):
        """Clone `region`'s ops into `block` with its arguments bound to `args`; cloned values
        inherit activity (`vmap` gets the clones of region's values). Returns (ops, yielded
        values)."""
        vmap = {} if vmap is None else vmap
        ops, yielded = clone_body(region, args, vmap)
        ops = self.quiet(ops)
        for op in ops:
            block.append(op)
            for r in op.results:          # recomputation is visible in the code: `h_r`
                r.hint = recomputed(r.hint)
        self.active.update(new for old, new in vmap.items() if old in self.active)
        return ops, yielded

    def quiet(self, ops: list) -> list:
        """Recomputed ops less the user's prints and asserts, at any depth and in what they
        call (a copy of the callee without them): they ran in the forward sweep, and their
        results are read by nothing."""
        kept = [op for op in ops if registry.get(op.name).kind != "check"]
        for op in kept:
            if op.name == "call" and self.module is not None:
                op.attrs["callee"] = self.quiet_callee(op.attrs["callee"])
            for region in op.regions:
                region.ops = self.quiet(region.ops)
        return kept

    def quiet_callee(self, name: str) -> str:
        """`name`, or a copy of that function without prints and asserts where it (or a
        function it calls) has some; each decided once."""
        if name not in self.quiet_copies:
            fn = self.module.functions[name]
            if not any(registry.get(o.name).kind == "check"
                       for f in (fn, *fn.callees()) for o in f.body.walk()):
                self.quiet_copies[name] = name
                return name
            copy = Function(self.module.fresh_name(name + "_quiet"), clone_block(fn.body, {}),
                            loc=fn.loc)
            self.quiet_copies[name] = copy.name
            self.module.add(copy)
            copy.body.ops = self.quiet(copy.body.ops)
        return self.quiet_copies[name]

    def rev_if(self, op: Op, cts):
        seeds = [self.seed_or_zero(r, ct) if r in self.active else None
                 for r, ct in zip(op.results, cts, strict=True)]
        branches = []
        for region in op.regions:
            block = Block()
            ops, yielded = self.recompute(block, region, [])
            _, free = self.sub_reverse(block, ops, [(y, s) for y, s in
                                                    zip(yielded, seeds, strict=True) if s is not None])
            branches.append((block, free))
        keys = list(dict.fromkeys(v for _, free in branches for v in free))
        if not keys:
            return
        for block, free in branches:
            with self.b.at(block):
                self.b.op("yield", *[free.get(v) or zeros(self.b, v.type) for v in keys])
        new = self.b.emit("if", [op.operands[0]], result_types=[v.type for v in keys],
                          regions=[block for block, _ in branches],
                          hints=[adjoint(v.hint) for v in keys])
        for v, g in zip(keys, new.results, strict=True):
            self.contribute(v, g)

    def rev_call(self, op: Op, cts):
        """A call with a custom derivative: call its backward function."""
        if "vjp" not in op.attrs:
            raise NotImplementedError("plain calls are inlined before differentiation")
        k = op.attrs.get("outputs", len(op.results))
        seeds = [self.seed_or_zero(r, ct) for r, ct in zip(op.results[:k], cts[:k], strict=True)]
        bwd = self.module.functions[op.attrs["vjp"]]
        grads = self.b.emit("call", op.results[k:] + seeds, {"callee": bwd.name},
                            result_types=bwd.result_types,
                            hints=[adjoint(v.hint) for v in op.operands if v.type.is_float])
        floats = [v for v in op.operands if v.type.is_float]
        for v, g in zip(floats, grads.results, strict=True):
            self.contribute(v, g)

    def pristine(self, body: Block) -> Block:
        """A copy of a loop body as the user wrote it, taken before the forward augmentation;
        its values inherit activity."""
        vmap: dict = {}
        copy = clone_block(body, vmap)
        self.active.update(new for old, new in vmap.items() if old in self.active)
        return copy

    def rev_for(self, op: Op, cts):
        n, *inits = op.operands
        (body,) = op.regions
        self.reverse_loop(op, cts, n, inits, self.pristine(body), body.args[1:], True)

    def rev_while(self, op: Op, cts):
        b = self.b
        cond, body = op.regions
        pristine = self.pristine(body)
        inits, carried = list(op.operands), list(body.args)
        with b.at(Block()) as pre:                # count the trips: the reverse loop runs as many
            zero = const(b, 0, "i64")
        _insert_before(op, pre.ops)
        arg, trips = self.carry(op, zero, "trips")
        with b.at(Block()) as inc:
            nxt = b.op("add", arg, const(b, 1, "i64"), hint="trips")
        self.prepend(body, inc.ops, nxt)
        self.reverse_loop(op, cts, trips, inits, pristine, carried, False)

    @staticmethod
    def carry(op: Op, init: Value, hint):
        """Add a loop-carried value to `op` (forward augmentation): an operand, an argument of
        each region, a result. Returns (the body's argument, the result); `prepend` then gives
        the body's yield its next value."""
        op.operands.append(init)
        args = [_add_arg(r, init.type, hint) for r in op.regions]
        return args[-1], _add_result(op, init.type, hint)

    @staticmethod
    def prepend(body: Block, ops, next_value: Value):
        for o in ops:
            o.parent = body
        body.ops[0:0] = ops
        body.terminator.operands.append(next_value)

    def tape(self, op: Op, value: Value, after: Op | None = None) -> Value:
        """Push `value` onto a new tape carried by the loop `op` in each iteration, at the
        start of its body or right after the op `after`; returns the tape after the loop."""
        b, body = self.b, op.regions[-1]
        with b.at(Block()) as pre:
            t0 = b.op("tape_new", dtype=value.type.dtype, shape=value.type.shape, hint="tape")
        _insert_before(op, pre.ops)
        tape_arg, tape = self.carry(op, t0, "tape")
        loc = b.loc
        b.loc = loc if after is None else after.loc     # (pushed under the read's line)
        with b.at(Block()) as push:
            pushed = b.op("tape_push", tape_arg, value, hint="tape")
        b.loc = loc
        if after is None:
            self.prepend(body, push.ops, pushed)
        else:
            _insert_before(body.ops[body.ops.index(after) + 1], push.ops)
            body.terminator.operands.append(pushed)
        return tape

    def reverse_loop(self, op, cts, n, inits, pristine, carried_args, with_index):
        """Tape the state entering each iteration of `op` (whose body is being augmented),
        then emit the reverse loop: recompute `pristine` from the taped state, reverse it."""
        b = self.b
        body = op.regions[-1]
        user_ops = body.ops[len(body.ops) - len(pristine.ops):]    # (augmentation prepends)
        reads = [_entries_read(user_ops, a, k) for k, a in enumerate(carried_args)]
        states = [self.tape(op, a) if r is None else [self.tape(op, o.result, after=o) for o in r]
                  for a, r in zip(carried_args, reads, strict=True)]

        d_idx = [k for k, a in enumerate(carried_args) if a in self.active]
        d_init = [self.seed_or_zero(op.results[k], cts[k]) for k in d_idx]
        rbody = Block([TensorType("i64")] + [v.type for v in d_init],
                      ["j"] + [adjoint(carried_args[k].hint) for k in d_idx])
        got = {}        # a taped read's op in the user's body -> its entries from the tape
        with b.at(rbody):
            n64 = b.op("astype", n, dtype="i64") if n.type.dtype != "i64" else n
            i = b.op("sub", b.op("sub", n64, const(b, 1, "i64")), rbody.args[0], hint="i")
            state, stand_ins = [], []
            for t, a, r in zip(states, carried_args, reads, strict=True):
                if r is None:
                    state.append(b.op("tape_get", t, i, hint=a.hint))
                    continue
                # a stand-in defined nowhere: its reads read their tapes, and what else reads
                # it (its recomputed updates) is read by nothing, so dce drops them all (what
                # it left would not verify)
                stand_ins.append(Value(a.type, a.hint))
                state.append(stand_ins[-1])
                got.update((o, b.op("tape_get", tr, i, hint=o.result.hint))
                           for o, tr in zip(r, t, strict=True))
        vmap: dict = {}
        ops, yielded = self.recompute(rbody, pristine, ([i] if with_index else []) + state, vmap)
        # each recomputed read of a stand-in: its users read the tape instead, and its
        # derivative is taken below, once they have given it their adjoints
        taped = [(vmap[pristine.ops[user_ops.index(o)].result], g) for o, g in got.items()]
        replace_all(rbody, dict(taped))
        self.active.update(g for v, g in taped if v in self.active)
        sub, free = self.sub_reverse(rbody, ops, [(yielded[k], d) for k, d in
                                                  zip(d_idx, rbody.args[1:], strict=True)])
        loc = b.loc
        with b.at(rbody):
            for v, g in taped:
                if sub.adj.get(g) is not None and v in self.active:
                    read = v.owner
                    b.loc = read.loc
                    needs = [True] + [False] * (len(read.operands) - 1)
                    grad = registry.get(read.name).vjp(b, read, [sub.adj[g]], needs)[0]
                    sub.contribute(read.operands[0], grad)
        b.loc = loc
        free_vals = [v for v in free if v not in stand_ins]
        with b.at(rbody):
            d_next = [sub.adj.get(state[k]) or zeros(b, state[k].type) for k in d_idx]
            accs = [b.op("add", _add_arg(rbody, v.type, adjoint(v.hint)), free[v])
                    for v in free_vals]
            b.op("yield", *d_next, *accs)
        acc_init = [zeros(b, v.type) for v in free_vals]
        new = b.emit("for", [n] + d_init + acc_init,
                     result_types=[v.type for v in d_init + acc_init], regions=[rbody],
                     hints=[adjoint(carried_args[k].hint) for k in d_idx]
                     + [adjoint(v.hint) for v in free_vals])
        for k, g in zip(d_idx, new.results[:len(d_idx)], strict=True):
            self.contribute(inits[k], g)
        for v, g in zip(free_vals, new.results[len(d_idx):], strict=True):
            self.contribute(v, g)


def reverse(primal: Function, wrt, seeded=None) -> tuple[Function, Function]:
    """Split `primal` into (fwd, bwd) as the module docstring says; `seeded` lists the results
    that get a cotangent parameter (default: all). `primal` is not changed."""
    fn = Function(primal.name, clone_block(primal.body, {}), loc=primal.loc,
                  module=primal.module)
    wrt_args = [fn.args[i] for i in wrt]
    active = activity(fn, wrt_args)
    block = Block()
    b = Builder(block)
    seeded = range(len(fn.results)) if seeded is None else seeded
    outs = [fn.results[k] for k in seeded]
    seeds = [Value(r.type, adjoint(r.hint)) for r in outs]
    rev = Reverser(b, active, primal.module)
    for r, s in zip(outs, seeds, strict=True):
        rev.contribute(r, s)
    rev.run(fn.body.ops)
    b.loc = None
    grads = [rev.adj.get(a) or zeros(b, a.type) for a in wrt_args]
    b.op("return", *grads)

    inside = defined_in(block) | set(seeds)
    residuals = list(dict.fromkeys(v for op in block.walk() for v in op.operands
                                   if v not in inside))
    # constants are cheaper to rebuild in the backward function than to stash
    rebuilt = {}
    for v in residuals:
        if isinstance(v.owner, Op) and v.owner.name in ("constant", "iota"):
            rebuilt[v] = b.emit(v.owner.name, [], v.owner.attrs, hints=[v.hint]).result
            block.ops.insert(0, block.ops.pop())
    replace_all(block, rebuilt)
    residuals = [v for v in residuals if v not in rebuilt]
    bwd_body = Block([v.type for v in residuals + seeds], [v.hint for v in residuals + seeds])
    for op in block.ops:
        bwd_body.append(op)
    replace_all(bwd_body, dict(zip(residuals + seeds, bwd_body.args, strict=True)))
    bwd = Function(primal.unused_name(primal.name + "_bwd"), bwd_body, loc=primal.loc,
                   module=primal.module)

    fn.name = primal.unused_name(primal.name + "_fwd")
    fn.body.terminator.operands.extend(residuals)
    return fn, bwd
