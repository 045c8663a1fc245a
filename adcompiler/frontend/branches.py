"""Branches: `if` statements and `a if c else b` on run-time conditions become the IR's `if` op
(static conditions are resolved while tracing).

Contract: both branches are traced as regions, each with its own copies of the variables they
may rebind (`carry`'s view of values). The variables either branch rebinds (or mutates) and that
are read later become the op's results (`carry.unify` joins their types: a Python literal takes
the array's dtype); one assigned in a single branch is unbound afterwards (reading it is a
TraceError naming the if's line). A branch containing `return` absorbs the rest of the function,
so both regions end in a return and the `if` produces the return value. `break`/`continue`
under a run-time condition, and `return` under one inside a loop, are errors.
"""
from __future__ import annotations

import ast

from ..ir.types import TensorType
from . import analysis, arith, carry
from .carry import MISSING
from .expressions import run_static
from .problems import FrontendError
from .statements import FUNCTION, Return, Undefined
from .values import Traced


def _clone(value, holders: dict):
    """A copy of a value's containers and array holders, so a region can rebind or mutate
    them without touching the originals (holders shared by several names stay shared)."""
    leaves, struct = carry.split(value)
    out = []
    for leaf in leaves:
        if isinstance(leaf, Traced):
            if id(leaf) not in holders:
                new = Traced(leaf._value, leaf.weak, leaf.nonneg)
                new.stale = leaf.stale
                holders[id(leaf)] = (new, leaf)
            out.append(holders[id(leaf)][0])
        else:
            out.append(leaf)
    return carry.build(struct, out)


def _unclone(value, holders: dict):
    """Map unchanged clones back to their originals (keeps aliasing with the outside)."""
    back = {id(new): orig for new, orig in holders.values()}
    leaves, struct = carry.split(value)
    out = [back[id(x)] if isinstance(x, Traced) and id(x) in back
           and x._value is back[id(x)]._value and not x.stale else x for x in leaves]
    return carry.build(struct, out)


class _Slot:
    def __init__(self, k):
        self.k = k


def _unchanged(before, after) -> bool:
    if before is MISSING or after is MISSING:
        return before is after
    lb, sb = carry.split(before)
    la, sa = carry.split(after)
    return carry.same_structure(sb, sa) and all(
        carry.same_leaf(x, y) for x, y in zip(lb, la, strict=True))


class BranchesMixin:
    def stmt_If(self, node):
        test = self.eval(node.test)
        if not isinstance(test, Traced):
            return self.exec_block(node.body if run_static(bool, test) else node.orelse)
        return self.runtime_if(node, arith.truth(self, test))

    def runtime_if(self, node, cond):
        loc = self.builder.loc
        if analysis.contains(node.body + node.orelse, (ast.Break, ast.Continue),
                             through_loops=False):
            raise FrontendError("break/continue under a run-time condition is not supported "
                                "(the loop's exit would depend on data); use a while loop "
                                "whose test is that condition, or np.where")
        returns = analysis.contains(node.body + node.orelse, ast.Return)
        if returns:
            cont = self.continuation()
            if cont is None:
                raise FrontendError("return under a run-time condition inside a loop is not "
                                    "supported; assign the result and return after the loop")
            branches, names = [node.body + cont, node.orelse + cont], set()
        else:
            branches = [node.body, node.orelse]
            names = analysis.rebound_names(branches[0] + branches[1])
        traced = [self.trace_branch(stmts, names, returns) for stmts in branches]
        self.builder.loc = loc
        (tb, t_done, t_after), (eb, e_done, e_after) = traced
        if returns:
            (value,) = self.join_if(cond, tb, eb, [("return", t_done.value, e_done.value)],
                                    node.lineno)
            return Return(value)
        live = self.live_after()
        pairs = []
        for name in sorted(names):
            before = self.frame.vars.get(name, MISSING)
            a, b = t_after[name], e_after[name]
            if _unchanged(before, a) and _unchanged(before, b):
                continue
            if a is MISSING or b is MISSING or name not in live:
                self.frame.vars[name] = Undefined(
                    f"'{name}' is assigned in only one branch of the if at line {node.lineno} "
                    "(a run-time condition), so it may be undefined here; assign it before the "
                    "if or in both branches")
                continue
            pairs.append((name, a, b))
        for (name, *_), value in zip(pairs, self.join_if(cond, tb, eb, pairs, node.lineno),
                                     strict=True):
            self.frame.vars[name] = value
        return None

    def trace_branch(self, stmts, names, returns):
        """Trace statements into a fresh region; (block, completion, {name: value after})."""
        frame = self.frame
        before = {n: frame.vars[n] for n in names if n in frame.vars}
        holders: dict = {}
        for n, v in before.items():
            frame.vars[n] = _clone(v, holders)
        with self.builder.region() as block:
            try:
                done = self.exec_block(stmts, FUNCTION if returns else None)
                after = {n: _unclone(frame.vars.get(n, MISSING), holders) for n in names}
            finally:
                for n in names:
                    frame.vars.pop(n, None)
                frame.vars.update(before)
        if returns:
            if not isinstance(done, Return):
                done = Return(None)
            done = Return(_unclone(done.value, holders))
        return block, done, after

    def runtime_ifexp(self, node, cond):
        blocks, values = [], []
        for expr in (node.body, node.orelse):
            with self.builder.region() as block:
                values.append(self.eval(expr))
            blocks.append(block)
        (value,) = self.join_if(cond, blocks[0], blocks[1], [("if", *values)], node.lineno)
        return value

    def join_if(self, cond, tb, eb, pairs, line):
        """Emit the `if` op yielding what differs between the branches; the joined values."""
        plans, slots, seen = [], [], {}
        for name, a, b in pairs:
            la, sa = carry.split(a)
            lb, sb = carry.split(b)
            if not carry.same_structure(sa, sb):
                raise FrontendError(f"'{name}' has a different structure or static value in the "
                                    f"two branches of the if at line {line} (a run-time "
                                    "condition); both must build the same containers")
            paths = carry.paths(sa, name)
            out = list(la)
            for j, (x, y) in enumerate(zip(la, lb, strict=True)):
                if carry.same_leaf(x, y):
                    continue
                key = (id(x), id(y))
                if key not in seen:
                    try:
                        t = carry.unify(x, y)
                    except carry.Mismatch as e:
                        raise FrontendError(f"'{name}' differs between the two branches of the "
                                            f"if at line {line}: {e}") from None
                    seen[key] = len(slots)
                    slots.append((x, y, t, paths[j]))
                out[j] = _Slot(seen[key])
            plans.append((sa, out))
        if slots:
            for block, side in ((tb, 0), (eb, 1)):
                with self.builder.at(block):
                    vals = [carry.materialise(self, s[side], s[2][0], s[2][1]) for s in slots]
                    self.emit("yield", vals)
            op = self.emit("if", [cond.value],
                           result_types=[TensorType(t[0], t[1]) for _, _, t, _ in slots],
                           regions=[tb, eb], hints=[p for *_, p in slots])
            results = [Traced(r, weak=s[2][2]) for r, s in zip(op.results, slots, strict=True)]
        return [carry.build(sa, [results[o.k] if isinstance(o, _Slot) else o for o in out])
                for sa, out in plans]
