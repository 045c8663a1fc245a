"""Loops: `for` and `while` on run-time values become the IR's `for` and `while` ops; static
ones are unrolled while tracing.

Contract:
- `for` over `range(n)` or over an array's rows becomes a `for` op whose carried values are the
  variables the body rebinds (flattened pytrees). Static numbers that the body turns into arrays,
  and arrays whose dtype the body widens, are promoted and the body re-traced (a fixed point in
  at most 4 tries). When that fails, or the body needs the index as a static value
  (`params[f'h{i}']`), grows a list, or a loop-local is read after the loop, a static trip count
  is unrolled instead; a run-time trip count is an error. Loops over Python lists, enumerate and
  zip, and loops with break/continue/return, are unrolled.
- A carried value has the type it has after one iteration: with a run-time trip count of zero a
  Python-float accumulator comes out as a NumPy float64 of the same value.
- `while` with a static test runs in Python (iterations peel off until the test becomes a
  run-time value); then it becomes a `while` op whose condition region recomputes the test.
"""
from __future__ import annotations

import ast

from ..ir.types import TensorType
from . import analysis, arith, carry
from .carry import MISSING
from .expressions import run_static
from .problems import Fallback, FrontendError, StaticValueError
from .pybuiltins import RuntimeRange
from .shapes import rows
from .statements import BREAK, LOOP, Return, Undefined
from .values import Traced

MAX_STATIC_ITERATIONS = 100_000
_I64 = TensorType("i64")


def _names_of(target) -> set:
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}


class LoopsMixin:
    def stmt_For(self, node):
        it = self.eval(node.iter)
        loopable = not node.orelse and not analysis.contains(
            node.body, (ast.Break, ast.Continue), through_loops=False) and \
            not analysis.contains(node.body, ast.Return)
        if isinstance(it, RuntimeRange):
            if not loopable:
                raise FrontendError("break, continue, return and for-else are not supported in a "
                                    "loop with a run-time trip count")
            return self.runtime_range_loop(node, it)
        if isinstance(it, Traced):
            if it.ndim == 0:
                raise FrontendError("iteration over a 0-d array")
            if loopable and it.shape[0] > 1:
                from .indexing import getitem
                done = self.try_for(node, it.shape[0], lambda k: getitem(self, it, k))
                if done:
                    return None
            return self.unroll(node, rows(self, it))
        if isinstance(it, range) and loopable and len(it) > 1:
            def index(k):
                if it.start == 0 and it.step == 1:
                    return k
                scaled = k if it.step == 1 else self.binop(ast.Mult, k, it.step)
                return self.binop(ast.Add, scaled, it.start) if it.start else scaled
            if self.try_for(node, len(it), index):
                return None
        return self.unroll(node, self.iterate(it))

    def try_for(self, node, n: int, index) -> bool:
        """Build a `for` op with a static trip count; False when it must be unrolled."""
        loc = self.builder.loc
        try:
            self.loop_op(node, self.const(n, "i64", hint="n"), index, static=True)
            return True
        except (Fallback, StaticValueError):
            self.builder.loc = loc
            return False

    def runtime_range_loop(self, node, r: RuntimeRange):
        trip, index = r.trip_count(self)
        try:
            self.loop_op(node, trip, index, static=False)
        except Fallback as e:
            raise FrontendError(f"{e.reason}, which a loop with a run-time trip count cannot "
                                "do") from None

    def unroll(self, node, items):
        self.frame.loops.append(node)
        try:
            for item in items:
                self.builder.loc = (self.filename, node.lineno)
                self.assign(node.target, item)
                done = self.exec_block(node.body, LOOP)
                if done is BREAK:
                    return None
                if isinstance(done, Return):
                    return done
            if node.orelse:
                return self.exec_block(node.orelse)
            return None
        finally:
            self.frame.loops.pop()

    # == while =============================================================================
    def stmt_While(self, node):
        exits = analysis.contains(node.body, (ast.Break, ast.Continue), through_loops=False) \
            or analysis.contains(node.body, ast.Return) or bool(node.orelse)
        for _ in range(MAX_STATIC_ITERATIONS):
            self.builder.loc = (self.filename, node.lineno)
            with self.builder.region():          # a static test builds nothing; drop the rest
                test = self.eval(node.test)
            if isinstance(test, Traced):
                if exits:
                    raise FrontendError("break, continue, return and while-else are not "
                                        "supported in a while loop with a run-time condition")
                try:
                    self.loop_op(node, None, None, static=False)
                except Fallback as e:
                    raise FrontendError(f"{e.reason}, which a while loop with a run-time "
                                        "condition cannot do") from None
                return None
            if not run_static(bool, test):
                return self.exec_block(node.orelse) if node.orelse else None
            self.frame.loops.append(node)
            try:
                done = self.exec_block(node.body, LOOP)
            finally:
                self.frame.loops.pop()
            if done is BREAK:
                return None
            if isinstance(done, Return):
                return done
        raise FrontendError(f"a while loop with a static condition ran {MAX_STATIC_ITERATIONS} "
                            "iterations while tracing")

    # == loop ops ==========================================================================
    def loop_op(self, node, trip, index, static: bool):
        """Build a `for` (trip is an i64 value) or `while` (trip None) op for `node`."""
        frame = self.frame
        loc = self.builder.loc
        is_for = trip is not None
        targets = _names_of(node.target) if is_for else set()
        names = analysis.rebound_names(node.body) | targets
        carried = sorted(n for n in names - targets if n in frame.vars)
        local = names - set(carried)
        live = self.live_after()
        if static and local & live:
            raise Fallback(f"{sorted(local & live)} assigned in the loop and read after it")
        outer = {n: frame.vars[n] for n in names if n in frame.vars}
        init = {n: frame.vars[n] for n in carried}
        for _ in range(4):
            leaves, struct = carry.split(init)
            slots = [j for j, x in enumerate(leaves) if isinstance(x, Traced)]
            types = [leaves[j].type for j in slots]
            paths = carry.paths(struct, "")
            hints = [paths[j][1:] for j in slots]
            regions = []
            if not is_for:
                with self.builder.region(types, hints) as cond:
                    self._bind(struct, leaves, slots, cond.args, names)
                    try:
                        test = self.eval(node.test)
                        if not isinstance(test, Traced):
                            raise Fallback("the while condition became static inside the loop")
                        self.emit("condition", [arith.truth(self, test).value])
                    finally:
                        self._restore(outer, names)
                regions.append(cond)
            head = [_I64] if is_for else []
            ihint = [node.target.id if isinstance(node.target, ast.Name) else "i"] if is_for \
                else []
            with self.builder.region(head + types, ihint + hints) as body:
                self._bind(struct, leaves, slots, body.args[len(head):], names)
                frame.loops.append(node)
                try:
                    if is_for:
                        self.builder.loc = loc
                        self.assign(node.target, index(Traced(body.args[0], weak=True,
                                                              nonneg=True)))
                    self.exec_block(node.body, LOOP)
                    after = {n: frame.vars.get(n, MISSING) for n in carried}
                finally:
                    frame.loops.pop()
                    self._restore(outer, names)
                self.builder.loc = loc
                promote, outs = self._compare(struct, leaves, slots, after)
                if not promote:
                    yields = [carry.materialise(self, y, x.dtype, x.shape)
                              for x, y in ((leaves[j], y) for j, y in outs)]
                    self.emit("yield", yields)
            if promote:
                init = self._promote(struct, leaves, promote)
                continue
            regions.append(body)
            operands = ([trip] if is_for else []) + [leaves[j].value for j in slots]
            op = self.emit("for" if is_for else "while", operands,
                           result_types=types, regions=regions, hints=hints)
            out_leaves, made = list(leaves), {}
            for r, (j, after_leaf) in zip(op.results, outs, strict=True):
                key = id(after_leaf)
                if key not in made:
                    made[key] = Traced(r, weak=leaves[j].weak)
                out_leaves[j] = made[key]
            frame.vars.update(carry.build(struct, out_leaves))
            kind = "for loop with a run-time trip count" if is_for else "while loop"
            for n in local:
                frame.vars[n] = Undefined(
                    f"'{n}' is assigned only inside the {kind} at line {node.lineno}, so it may "
                    "be undefined after it; give it a value before the loop")
            return None
        raise Fallback("the loop's variables do not settle to one type")

    def _bind(self, struct, leaves, slots, args, names):
        # every carried slot gets its own value, even when two names start out as one array
        # (`s = t = a`): the body may rebind one of them, and the next iteration must see
        # each name's own value
        inner = list(leaves)
        for j, a in zip(slots, args, strict=True):
            inner[j] = Traced(a, weak=leaves[j].weak, nonneg=False)
        for n in names:
            self.frame.vars.pop(n, None)
        self.frame.vars.update(carry.build(struct, inner))

    def _restore(self, outer, names):
        for n in names:
            self.frame.vars.pop(n, None)
        self.frame.vars.update(outer)

    def _compare(self, struct, leaves, slots, after):
        """Compare the values after a loop body with the carried ones: ([], [(slot leaf index,
        value to yield)]) when they match, else (promotions, None) to re-trace the body."""
        a_leaves, a_struct = carry.split(after)
        if not carry.same_structure(struct, a_struct):
            raise Fallback("the loop body changes the structure (or a static value) of "
                           f"{sorted(after)}")
        promote, outs = [], []
        for j, (x, y) in enumerate(zip(leaves, a_leaves, strict=True)):
            if j in slots:
                if not isinstance(y, Traced):
                    try:
                        carry.unify(x, y)
                    except carry.Mismatch as e:
                        raise Fallback(f"a carried array gets a static value ({e})") from None
                    outs.append((j, y))
                elif y.shape != x.shape:
                    raise Fallback(f"a carried array changes shape from {x.shape} to {y.shape}")
                elif y.dtype != x.dtype:
                    wide = carry.widen(x.dtype, y.dtype)
                    if wide is None or wide == x.dtype:
                        raise Fallback(f"a carried array changes dtype from {x.dtype} to "
                                       f"{y.dtype}")
                    promote.append((j, wide, x.shape, False))
                elif x.weak and not y.weak:
                    promote.append((j, x.dtype, x.shape, False))
                else:
                    outs.append((j, y))
            elif not carry.same_leaf(x, y):
                try:
                    promote.append((j, *carry.unify(x, y)))
                except carry.Mismatch as e:
                    raise Fallback(f"a loop variable changes type ({e})") from None
        return promote, (None if promote else outs)

    def _promote(self, struct, leaves, promote):
        """The loop's initial values with the promotions applied (built before the loop)."""
        new = list(leaves)
        for j, dtype, shape, weak in promote:
            new[j] = Traced(carry.materialise(self, leaves[j], dtype, shape), weak=weak)
        return carry.build(struct, new)
