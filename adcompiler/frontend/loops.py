"""Loops: `for` and `while` on run-time values become the IR's `for` and `while` ops; static
ones are unrolled while tracing.

Contract:
- `for` over `range(n)` or over an array's rows becomes a `for` op whose carried values are the
  variables the body rebinds (flattened pytrees). Static numbers that the body turns into arrays,
  and arrays whose dtype the body widens, are promoted and the body re-traced (a fixed point in
  at most 4 tries). When that fails, or the body needs the index as a static value
  (`params[f'h{i}']`), grows a list, or a loop-local is read after the loop, a static trip
  count is unrolled instead; a run-time trip count is an error, except for a loop-local array
  (of one type on the paths that assign it): it is carried from a placeholder (or its value
  before the loop) with a flag that says whether a path that assigns it ran, which each read
  checks when the code runs (`Undefined` with a value; branches.py joins such names). Loops
  over Python lists, enumerate and zip are unrolled. `break`, `continue`, `return` and `else`
  are flags by then (exits.py): a static range whose loop may break runs iterations while
  tracing until the flag is a run-time value (`peel`), and the rest is a loop as above, but a
  `while` op on a counter, which stops at the break (a `for` op would run, and tape, every
  iteration after it).
- A carried value has the type it has after one iteration: with a run-time trip count of zero a
  Python-float accumulator comes out as a NumPy float64 of the same value (broadcast to the
  shape of the array the body makes it, where it does).
- `while` with a static test runs in Python (iterations peel off until the test becomes a
  run-time value); then it becomes a `while` op whose condition region recomputes the test.
  After STATIC_PEEL iterations of a body carrying run-time values, the static numbers the
  test reads and the body rebinds are made run-time values, so the rest is a `while` op
  (`try_while`: not where later code reads them, nor in code differentiated twice).
"""
from __future__ import annotations

import ast

import numpy as np

from ..errors import AdcompilerError
from ..ir.types import TensorType
from . import analysis, arith, carry, randomness, values
from .carry import MISSING
from .expressions import run_static
from .problems import Fallback, FrontendError, StaticValueError
from .pybuiltins import RuntimeRange
from .statements import Undefined, held_value
from .values import (MAY_BE_CHANGED, WRITTEN_THROUGH_VIEW, Traced, memory_of, older_holders,
                     overlap, readonly_of)

POISONED = ("may change it in place through a name it also rebinds to another array (call "
            ".copy() before the loop)")
MAX_STATIC_ITERATIONS = 100_000
STATIC_PEEL = 3                   # iterations of a static while's test before try_while
MAX_TRIES = 8                     # traces of one loop body: promotions and plan revisions
_I64 = TensorType("i64")


def _names_of(target) -> set:
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}


def _steady_int(name: str, node, seen) -> bool:
    """Did the int `name` change by the same nonzero step at each test in `seen`, are the ints
    the test reads (names and literals) far inside int64's range, and is it no exponent in
    the body (`2 ** i` overflows int64 long before i does) (try_while's)?"""
    steps = {b[name] - a[name] for a, b in zip(seen, seen[1:])}
    ints = [v for s in seen for v in s.values() if isinstance(v, (int, np.integer))] + \
        [c.value for c in ast.walk(node.test) if isinstance(c, ast.Constant)
         and type(c.value) is int]
    exponent = any(
        isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Pow, ast.LShift))
        and name in _names_of(n.right) or isinstance(n, ast.Call)
        and isinstance(n.func, ast.Name) and n.func.id == "pow" and name in _names_of(n)
        for stmt in node.body for n in ast.walk(stmt))
    return len(steps) == 1 and 0 not in steps and not exponent \
        and all(abs(int(v)) < 2 ** 62 for v in ints)


def _bound(name: str, loop) -> str:
    """The frame's name of the run-time flag that says `loop`'s loop-local `name` is bound (a
    loop in its body has its own)."""
    return f"__bound_{name}_{loop.lineno}_{loop.col_offset}"


def _unbound_message(name, kind, node) -> str:
    return (f"'{name}' is not defined: it is assigned only inside the {kind} at line "
            f"{node.lineno}, and no iteration ran a path that assigns it (Python's "
            "UnboundLocalError)")


RANGE_ITERATOR = type(iter(range(0)))


def _made_here(node) -> bool:
    """Is the `for`'s iterable a call of the builtin reversed or iter, so no other code holds
    the iterator it makes?"""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
        and node.func.id in ("reversed", "iter")


class LoopsMixin:
    def stmt_For(self, node):
        it = self.eval(node.iter)
        if type(it) is RANGE_ITERATOR and _made_here(node.iter):
            # `for t in reversed(range(n))`: the iterator no other code sees is a loop over
            # the range it walks, a `for` op as `range(n - 1, -1, -1)` is, not unrolled (a
            # PPO's returns over 3000 steps: 125 s of compile)
            self.consumed(it)
            _, (whole,), done = it.__reduce__()
            it.__setstate__(len(whole))         # (used up, as the loop uses it)
            it = whole[done:]
        if isinstance(it, RuntimeRange):
            return self.runtime_range_loop(node, it)
        if isinstance(it, Traced):
            if it.ndim == 0:
                raise FrontendError("iteration over a 0-d array")
            if it.shape[0] > self.session.unroll_limit:
                from .indexing import getitem
                done = self.try_for(node, it.shape[0], lambda k: getitem(self, it, k))
                if done:
                    return None
            return self.unroll(node, self.iterate_lazily(it))
        if isinstance(it, range) and getattr(node, "exit_flag", None):
            return self.peel(node, it)
        if isinstance(it, range):
            return self.range_loop(node, it)
        return self.unroll(node, self.iterate_lazily(it))

    def range_loop(self, node, it: range):
        """A loop over a static range: a `for` op, or unrolled."""
        if len(it) > self.session.unroll_limit:
            def index(k):
                if it.start == 0 and it.step == 1:
                    return k
                scaled = k if it.step == 1 else self.binop(ast.Mult, k, it.step)
                return self.binop(ast.Add, scaled, it.start) if it.start else scaled
            if self.try_for(node, len(it), index):
                return None
        return self.unroll(node, it)

    def peel(self, node, it: range):
        """A static range whose loop may break (exits.py's flag): iterations run while
        tracing until the flag is set (the loop is done) or becomes a run-time value; the
        iterations left are then a loop as any other, guarded by the flag."""
        for j, item in enumerate(it):
            self.unroll(node, [item])
            flag = self.frame.vars[node.exit_flag]
            if flag is True:
                return None
            if isinstance(flag, Traced):
                return self.range_loop(node, it[j + 1:])
        return None

    def try_for(self, node, n: int, index) -> bool:
        """Build a `for` op with a static trip count; False when it must be unrolled: also
        when tracing its body with a run-time index fails in any other way (`if i % 2 == 0:
        l.append(...)`, `d[i]`, `math.sqrt(i)`), as Python runs it with a static one, which
        unrolling does (and then reports what is wrong there), unless the failed attempt ran
        code natively that may have changed what it reaches (`next(it)`, a deque's append):
        unrolled, that would run again on the changed state, so the error stands."""
        loc, native = self.builder.loc, self.session.native_calls
        try:
            self.loop_op(node, self.const(n, "i64", hint="n"), index, static=True,
                         last=lambda: index(n - 1))
            return True
        except (Fallback, StaticValueError):
            self.builder.loc = loc
            return False
        except (AdcompilerError, FrontendError, LookupError, TypeError):
            if self.session.native_calls != native:
                raise
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
                self.builder.loc = self.loc_at(node.lineno)
                self.assign(node.target, item)
                self.exec_block(node.body)
                if self.frame.vars.get(getattr(node, "exit_flag", None)) is True:
                    return           # a static break (exits.py made it a flag)
        finally:
            self.frame.loops.pop()

    # == while =============================================================================
    def stmt_While(self, node):
        seen = []       # the test's static numbers at each iteration (try_while's)
        for k in range(MAX_STATIC_ITERATIONS):
            self.builder.loc = self.loc_at(node.lineno)
            with self.builder.region():          # a static test builds nothing; drop the rest
                test = self.eval(node.test)
            if isinstance(test, Traced):
                try:
                    self.loop_op(node, None, None, static=False)
                except Fallback as e:
                    raise FrontendError(f"{e.reason}, which a while loop with a run-time "
                                        "condition cannot do") from None
                return None
            if not run_static(bool, test):
                return None
            if k <= STATIC_PEEL:
                seen.append({n: self.frame.vars.get(n) for n in _names_of(node.test)})
                if k == STATIC_PEEL and self.try_while(node, seen):
                    return None
            self.frame.loops.append(node)
            try:
                self.exec_block(node.body)
            finally:
                self.frame.loops.pop()
        raise FrontendError(f"a while loop with a static condition ran {MAX_STATIC_ITERATIONS} "
                            "iterations while tracing")

    def try_while(self, node, seen) -> bool:
        """A while loop whose static test has held for STATIC_PEEL iterations of a body that
        carries run-time values: the static numbers the test reads and the body rebinds become
        run-time scalars, so it is a `while` op, not thousands of iterations unrolled, each
        with its run-time branches (a simulation's `while t < T: ...; t += dt`: minutes of
        Numba compile). Not where code after the loop reads them (it may need them static),
        nor inside code differentiated twice (a while op's reverse sweep cannot be), nor
        where the body needs them static: False, and it goes on unrolled. An int is made an
        int64 only where it moved by one step each iteration (`seen`, the test's numbers at
        each), the test's ints are far inside int64's range and the body raises nothing to
        its power: `i *= 3` would wrap round before `i < 2**70` ends the loop, which then never
        ends, and `2 ** i` wraps round silently."""
        frame = self.frame
        rebound = analysis.rebound_names(node.body)
        counters = {n for n in _names_of(node.test) & rebound
                    if values.is_static_scalar(frame.vars.get(n))
                    and not isinstance(frame.vars[n], bool)
                    and (not isinstance(frame.vars[n], (int, np.integer))
                         or _steady_int(n, node, seen))}
        if not counters or self.session.unroll_limit > 1 or counters & self.live_after() \
                or not any(isinstance(frame.vars.get(n), Traced) for n in rebound):
            return False
        saved = {n: frame.vars[n] for n in counters}
        frame.vars.update({n: self.tensor(v) for n, v in saved.items()})
        loc, native = self.builder.loc, self.session.native_calls
        try:
            self.loop_op(node, None, None, static=True)
            return True
        except (Fallback, StaticValueError, AdcompilerError, FrontendError, LookupError,
                TypeError) as e:
            if self.session.native_calls != native and not isinstance(e, Fallback):
                raise
            frame.vars.update(saved)
            self.builder.loc = loc
            return False

    # == loop ops ==========================================================================
    def loop_op(self, node, trip, index, static: bool, last=None):
        """Build a `for` (trip is an i64 value) or `while` (trip None) op for `node`; `last()`
        gives the target's value in the last iteration of a static one (bound after it).

        The carried values are the variables the body rebinds, plus the arrays made before the
        loop that it changes in place (reached through any name or container). An array that
        carried names share before the loop, and that they still share after the body, is
        carried once as itself (`_Plan.groups`): the body sees the carried value through every
        name and container holding it, and the array is updated after the loop. A name the
        body rebinds to another array is carried on its own (`_Plan.split`). Each fact the
        body reveals (a name rebound, an older array changed) is a new plan, traced again."""
        with randomness.scope(self.session, "loop"):     # (random draws: randomness.py)
            self._loop_op(node, trip, index, static, last)

    def _loop_op(self, node, trip, index, static: bool, last):
        frame = self.frame
        loc = self.builder.loc
        is_for = trip is not None
        targets = _names_of(node.target) if is_for else set()
        # (a name only passed to a call that this frame has not bound, a global function
        # given to grad or a helper, is not rebound: the callee may change its object only)
        assigned = analysis.rebound_names(node.body, through_calls=False)
        names = {n for n in analysis.rebound_names(node.body)
                 if n in frame.vars or n in assigned} | targets
        # a `for` that may break (exits.py's flag) is a `while` op on a counter of its own:
        # it stops at the break, where a `for` op would run, and tape for the reverse sweep,
        # every iteration after it
        flag = getattr(node, "exit_flag", None) if is_for else None
        counter = f"{flag}_count" if flag else None
        if flag:    # (weak: the loop index it gives is a Python int, float32 * i stays float32)
            frame.vars[counter] = self.wrap(self.const(0, "i64", hint="count"), weak=True,
                                            nonneg=True)
            names = names | {counter}
        # a name an earlier run-time loop or branch may have left undefined is the body's own,
        # unless an earlier loop left it bound when that ran and this body reads it before
        # binding it: then it is checked here (`_defined`; a `for` whose trip count is 0 reads
        # nothing) and carried, and after the loop it is bound where it was before
        reads = analysis.exposed_reads(node.body)[0]
        still = {}
        for n in names - targets:
            v = frame.vars.get(n)
            if isinstance(v, Undefined) and v.value is not None and n in reads:
                still[n] = v
                if is_for:
                    skipped = arith.binary(self, "le", Traced(trip), 0, python_op=True)
                    v = Undefined(v.message, v.value, self.logical(False, v.bound, skipped))
                frame.vars[n] = self._defined(v)
        carried = sorted(n for n in names - targets
                         if n in frame.vars and not isinstance(frame.vars[n], Undefined))
        local = names - set(carried)
        live = self.live_after()
        # a static loop's target, which the body does not rebind, ends as its last value,
        # which code after the loop may read (it unrolled the loop)
        tail = targets if last and not flag and targets.isdisjoint(
            analysis.rebound_names(node.body)) else set()
        # (read after it or in a later iteration)
        later = (local & (live | (reads - targets))) - tail
        if static and later:
            raise Fallback(f"{sorted(later)} assigned in the loop and read after it or in a "
                           "later iteration")
        outer = {n: frame.vars[n] for n in names if n in frame.vars}
        init = {n: frame.vars[n] for n in carried}
        # arrays the body assigns on every path and code after the loop reads: carried from
        # their value before the loop (a loop index bound before it, or what an earlier loop
        # bound), else from a placeholder of the type the first trace gives them, with a flag
        # `__bound_<name>` that says whether a path that binds it ran, which each read checks
        # (Python's UnboundLocalError when neither this loop nor an earlier one bound it): in
        # the body they are `Undefined` with that value and flag, so a branch may bind them
        kind = "for loop with a run-time trip count" if is_for else "while loop"
        found, kept_local = {}, {}
        plan = _Plan(static)
        for _ in range(MAX_TRIES):
            if found:
                for n, v in found.items():
                    start, kept_local[n] = self._loop_local_start(outer.get(n), v)
                    init[n] = Traced(carry.materialise(self, start, v.dtype, v.shape),
                                     weak=v.weak)
                    if kept_local[n] is None:
                        init[_bound(n, node)] = self.bound_flag(False)
                    elif kept_local[n] is not True:     # the flag an earlier loop left
                        init[_bound(n, node)] = kept_local[n]
                carried, local = sorted(init), local - set(found)
                names = names | {_bound(n, node) for n in kept_local}
                init, found = {n: init[n] for n in carried}, {}
                # new slots move the leaf positions the plan noted: only what it keyed by
                # array (older arrays changed through other routes) carries over
                extra, plan = plan.extra, _Plan(static)
                plan.extra = extra
            leaves, struct = carry.split(init)
            plan.init = init
            plan.start(leaves)
            types = [h.type for h in plan.groups] + [leaves[j].type for j in plan.own]
            paths = carry.paths(struct, "")
            hints = [carry.hint(h) for h in plan.groups] + [paths[j][1:] for j in plan.own]
            if flag:        # (the counter is the loop target's position in its range)
                target = getattr(node, "user_target", node.target)
                position = f"{target.id}_count" if isinstance(target, ast.Name) else "count"
                hints = [position if h == counter else h for h in hints]
            regions = []
            if not is_for or flag:
                with values.journal(), self.builder.region(types, hints) as cond:
                    self._bind(struct, leaves, plan, cond.args, names, node)
                    try:
                        test = self._counted_test(counter, trip, flag) if flag \
                            else self.eval(node.test)
                        if not isinstance(test, Traced):
                            raise Fallback("the while condition became static inside the loop")
                        self.emit("condition", [arith.truth(self, test).value])
                    finally:
                        self._restore(outer, names)
                regions.append(cond)
            head = [_I64] if is_for and not flag else []
            ihint = [node.target.id if isinstance(node.target, ast.Name) else "i"] if head \
                else []
            with values.journal() as journal, \
                    self.builder.region(head + types, ihint + hints) as body:
                inner = self._bind(struct, leaves, plan, body.args[len(head):], names, node)
                bound = {n: frame.vars.get(n) for n in carried}
                sharing = carry.shared(bound)       # before the body changes the containers
                entries = {n: carry.split(v)[0] for n, v in bound.items()
                           if isinstance(v, carry.CONTAINERS)}
                frame.loops.append(node)
                try:
                    for n in kept_local:    # (before the loop index is bound)
                        if _bound(n, node) in frame.vars:
                            frame.vars[n] = Undefined(_unbound_message(n, kind, node),
                                                      frame.vars[n], frame.vars[_bound(n, node)])
                    # a name the body reads before any iteration binds it (`x[i] - last`
                    # under `if i > 0`) has no type yet: this trace reads a stand-in (an
                    # unbound float), and is done again once it found the name's type
                    for n in sorted(local & (reads - targets) - set(kept_local)) \
                            if not static else ():
                        if isinstance(frame.vars.get(n, MISSING), (Undefined, type(MISSING))):
                            frame.vars[n] = Undefined(
                                f"local variable '{n}' is read before it is assigned",
                                self.wrap(self.const(0.0, "f64"), weak=True),
                                self.bound_flag(False), True)
                    if is_for:
                        self.builder.loc = loc
                        k = frame.vars[counter] if flag else Traced(body.args[0], weak=True,
                                                                       nonneg=True)
                        self.assign(node.target, index(k))
                        if flag:
                            frame.vars[counter] = self.binop(ast.Add, k, 1)
                    self.exec_block(node.body)
                    for n in kept_local:
                        if _bound(n, node) in frame.vars:
                            frame.vars[n], frame.vars[_bound(n, node)] = self._bound_at_end(
                                frame.vars.get(n, MISSING))
                    after = {n: frame.vars.get(n, MISSING) for n in carried}
                    if not static:
                        found = {n: v for n in local & (later | live)
                                 if isinstance(v := held_value(frame.vars.get(n)), Traced)}
                    for n in carried:
                        if isinstance(after[n], Undefined) and n not in live:
                            # a branch left it unjoined, as no later statement, iteration or
                            # code after the loop reads it: it passes through unchanged
                            after[n] = frame.vars[n] = bound[n]
                    # names that end the body holding the containers they began it with
                    plan.kept = {n for n in carried if after[n] is bound[n]}
                    lost = [n for n in entries if n not in plan.kept and not all(
                        x is y for x, y in zip(carry.split(bound[n])[0], entries[n]))]
                    if lost and not static:
                        # the first iteration changes the container the name began with, later
                        # ones another: the loop cannot carry that
                        raise FrontendError(
                            f"the loop at line {node.lineno} (run-time trip count) changes "
                            f"'{lost[0]}' in place and then binds the name to another "
                            "container; copy it before the loop, or change it after the "
                            "rebinding")
                    if sharing != carry.shared(after) and not static:
                        # one container at a place in one iteration, another in the next
                        raise FrontendError(
                            f"the loop at line {node.lineno} (run-time trip count) changes "
                            "which names and entries hold one dict or list (one held at two "
                            "places is replaced at one of them); copy it before the loop")
                finally:
                    frame.loops.pop()
                    self._restore(outer, names)
                changed = journal.changed()
                self.builder.loc = loc
                revised = plan.revise(leaves, inner, carry.split(after)[0], changed,
                                      journal.start)
                if static and (plan.poisoned or plan.first_shared or plan.left_stale):
                    # unrolled, each change is followed
                    raise Fallback("an array changed in place through a name the loop "
                                   "also rebinds")
                if revised or found:
                    continue
                promote, outs = self._compare(struct, leaves, plan, after)
                if not promote:
                    yields = [h._value for h in plan.groups] + [
                        carry.materialise(self, y, leaves[j].dtype, leaves[j].shape)
                        for j, y in outs]
                    self.emit("yield", yields)
            if promote:
                init = self._promote(struct, leaves, promote)
                continue
            regions.append(body)
            operands = ([trip] if head else []) + [h.value for h in plan.groups] + \
                [leaves[j].value for j in plan.own]
            op = self.emit("for" if head else "while", operands,
                           result_types=types, regions=regions, hints=hints)
            self._finish(node, op.results, struct, leaves, plan, outs, changed,
                         start=journal.start, may_skip=not static)
            for n in local:
                frame.vars[n] = Undefined(
                    f"'{n}' is assigned only inside the {kind} at line {node.lineno}, so it may "
                    "be undefined after it; give it a value before the loop")
            if tail:
                self.assign(node.target, last())
            for n, v in still.items():
                frame.vars[n] = Undefined(v.message, frame.vars[n], v.bound)
            for n in kept_local:
                if _bound(n, node) in frame.vars:     # (else bound before the loop)
                    frame.vars[n] = Undefined(_unbound_message(n, kind, node), frame.vars[n],
                                              frame.vars.pop(_bound(n, node)))
            return None
        raise Fallback("the loop's variables do not settle to one type")

    def _bound_at_end(self, v):
        """(value, run-time flag: bound) a loop-local leaves the body with."""
        if isinstance(v, Undefined):
            if v.value is None:
                raise FrontendError(v.message)
            return v.value, v.bound
        return v, self.bound_flag(True)

    def _loop_local_start(self, before, v):
        """(the value a loop-local `v` starts from, whether it is bound before the loop: True,
        the run-time flag an earlier loop left it bound by, or None, unbound) for the name's
        value `before` the loop."""
        if isinstance(before, Undefined) and isinstance(before.value, Traced) \
                and before.value.shape == v.shape:
            return before.value, before.bound
        if isinstance(before, Traced) and before.shape == v.shape or \
                isinstance(before, (int, float, np.number)) and not isinstance(before, bool):
            return before, True
        return 0, None

    def _counted_test(self, counter, trip, flag):
        """`count < trip and not <break flag>`: the test of a `for` that may break."""
        more = arith.binary(self, "lt", self.frame.vars[counter], Traced(trip), python_op=True)
        broke = self.frame.vars[flag]
        if not isinstance(broke, Traced):
            return more if not broke else False     # (broken: no more iterations)
        return self.logical(True, more, arith.unary(self, "logical_not", arith.truth(self, broke),
                                                    python_op=True))

    def _bind(self, struct, leaves, plan, args, names, node) -> list:
        """Bind the carried values to a region's arguments: a group's array holds its argument
        (so every name and container holding it sees it); every other carried slot gets its
        own holder, even when two names start out as one array (`s = t = a`) that the body
        rebinds. The inner holders, by leaf index."""
        groups, rest = args[:len(plan.groups)], args[len(plan.groups):]
        for h, a in zip(plan.groups, groups, strict=True):
            weak = h.weak
            if id(h) in plan.mutated:       # its views, and arrays it may be, are stale
                h.update(a)
            else:
                h.touch()
                h._value = a
            h.weak = weak
        for h in plan.poisoned.values():
            h.invalidate(f"the loop at line {node.lineno} {POISONED}")
        for h, why in plan.left_stale.values():
            h.restale(why)
        inner = list(leaves)
        plan.args = {id(h): a for h, a in zip(plan.groups, groups, strict=True)}
        for j, a in zip(plan.own, rest, strict=True):
            inner[j] = Traced(a, weak=leaves[j].weak, nonneg=False)
            inner[j].readonly = readonly_of(leaves[j])
            plan.args[j] = a
        for j, k in plan.links:         # one array from the second iteration on
            inner[j].share(inner[k] if isinstance(k, int) else k)
        for j in plan.own if not plan.static else []:
            # one array in the first iteration (`a = h` before the loop; `_Plan.revise` unrolls
            # a static loop instead)
            for h in plan.groups:
                if overlap(leaves[j], h):
                    inner[j].share(h)
            for k in plan.own:
                if k < j and overlap(leaves[j], leaves[k]):
                    inner[j].share(inner[k])
        plan.inner = inner
        for n in names:
            self.frame.vars.pop(n, None)
        built = carry.build(struct, inner)
        self.frame.vars.update(carry.relinked(plan.init, built, self.session.chosen))
        return inner

    def _restore(self, outer, names):
        for n in names:
            self.frame.vars.pop(n, None)
        self.frame.vars.update(outer)

    def _finish(self, node, results, struct, leaves, plan, outs, changed, start, may_skip):
        """After the loop op: update the carried arrays, bind the names to the results, and
        mark stale what the body left stale (or may have changed through another name)."""
        k = len(plan.groups)
        for h, r in zip(plan.groups, results[:k], strict=True):
            if id(h) in plan.moved:
                h.update(r)
        for h, _, now in changed:
            h.restale(now[-1], now[-2])       # .stale (and .stale_at) as the body left it
        out_leaves, made = list(leaves), {}
        body_changed = {id(h) for h, _, _ in changed}
        for r, (j, after_leaf) in zip(results[k:], outs, strict=True):
            # slots ending as one array are one after the loop, unless it may run no
            # iteration: then each is its start (and they may be one: `share` below)
            key = j if may_skip else id(after_leaf)
            if key not in made:
                new = Traced(r, weak=leaves[j].weak)
                new.readonly = readonly_of(after_leaf) or (readonly_of(leaves[j]) if may_skip
                                                           else None)
                # it is the array it ends as when that is older than the loop (or a carried
                # value's start), and the one it starts as when the loop may run no iteration
                ends = plan.older_ends(after_leaf, leaves, start)
                carried = {id(h) for h in ends} | {id(leaves[j])} | body_changed
                for older in ends + (older_holders(leaves[j], start) if may_skip else []):
                    new.share(older)
                    # an array the body changed through a view or a name that may hold it:
                    # the value carried for it is its old one. (Not so for another array the
                    # start may be, left stale before the loop by a write through the start:
                    # the start's value has the write, and so has the one carried.)
                    if id(older) in carried and (older.stale_because(WRITTEN_THROUGH_VIEW) or
                                                 older.stale_because(MAY_BE_CHANGED)):
                        new.restale(older.stale, older.stale_at)
                for other, end in made.values():
                    if overlap(after_leaf, end):
                        new.share(other)
                made[key] = (new, after_leaf)
            out_leaves[j] = made[key][0]
        built = carry.relinked(plan.init, carry.build(struct, out_leaves), self.session.chosen)
        for n, value in built.items():
            # a container the body changed in place stays the one object every alias, every
            # container and the caller hold
            before = self.frame.vars.get(n)
            self.frame.vars[n] = carry.keep_containers(before, value) \
                if n in plan.kept and isinstance(before, carry.CONTAINERS) else value
        for h in plan.poisoned.values():
            h.invalidate(f"the loop at line {node.lineno} {POISONED}")

    def _compare(self, struct, leaves, plan, after):
        """Compare the values after a loop body with the carried ones: ([], [(slot leaf index,
        value to yield)] for the plan's own slots) when they match, else (promotions, None) to
        re-trace the body. A group's leaves end as the group's array (`_Plan.revise`)."""
        a_leaves, a_struct = carry.split(after)
        if not carry.same_structure(struct, a_struct):
            names = [n for n in sorted(after) if not n.startswith("__") and not
                     carry.same_structure(carry.split(plan.init[n])[1], carry.split(after[n])[1])]
            grown = [n for n in names if isinstance(after[n], list)
                     and isinstance(plan.init[n], list) and len(after[n]) > len(plan.init[n])]
            raise Fallback("the loop body changes the structure (or a static value) of "
                           f"{names or sorted(n for n in after if not n.startswith('__'))}" + (
                               f" ('{grown[0]}' grows: its length would be the trip count; "
                               "preallocate an array and assign its rows, out[t] = ...)"
                               if grown else ""))
        promote, outs = [], []
        for j, (x, y) in enumerate(zip(leaves, a_leaves, strict=True)):
            if isinstance(x, Traced) and j not in plan.own:
                continue
            if j in plan.own:
                if not isinstance(y, Traced):
                    try:
                        carry.unify(x, y)
                    except carry.Mismatch as e:
                        raise Fallback(f"a carried array gets a static value ({e})") from None
                    outs.append((j, y))
                elif y.shape != x.shape:
                    raise Fallback(f"a carried array changes shape from {x.shape} to {y.shape} "
                                   f"(give it that shape before the loop: np.broadcast_to(h, "
                                   f"{y.shape}) + 0.0, or np.zeros({y.shape}))")
                elif y.dtype != x.dtype:
                    wide = carry.widen(x.dtype, y.dtype)
                    # (a static loop's bool one is not widened but unrolled: its first
                    # iteration's arithmetic may be bool's, True + True is True, where the
                    # wider type's is 2; a run-time loop's is widened, as `m = m * x` needs)
                    if wide is None or wide == x.dtype or x.dtype == "bool" and plan.static:
                        raise Fallback(f"a carried array changes dtype from {x.dtype} to "
                                       f"{y.dtype} (make it {y.dtype} before the loop)")
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


class _Plan:
    """Which carried values a loop's body sees as the arrays themselves (`groups`: the arrays
    made before the loop that names share or the body changes in place) and which on their own
    (`own`: leaf indices; `split` holds those that were in a group until the body rebound them);
    `mutated`: the groups the body changes in place; `poisoned`: older arrays the body may
    change through a name it also rebinds (stale in the body and after the loop);
    `first_shared`: a static loop's own slot starts as an array the body changes in place
    (unrolled); `left_stale`: older arrays the body leaves stale (stale from its start on);
    `args`: the region arguments bound to groups (by id) and to own slots (by leaf index);
    `kept`: the carried names that end the body holding the containers they began it with;
    `init`: the carried names' values before the loop (their containers shared as they are)."""

    def __init__(self, static: bool):
        self.static = static
        self.kept: set = set()
        self.init: dict = {}
        self.first_shared = False
        self.split: set = set()
        self.extra: list = []
        self.mutated: set = set()
        self.poisoned: dict = {}
        self.links: set = set()
        self.left_stale: dict = {}

    def start(self, leaves):
        """Lay out one trace's slots: the groups first, then the own slots."""
        groups = {}
        self.own, self.moved = [], set()
        for j, x in enumerate(leaves):
            if isinstance(x, Traced) and j not in self.split:
                groups.setdefault(id(x), x)
            elif isinstance(x, Traced):
                self.own.append(j)
        for h in self.extra:
            groups.setdefault(id(h), h)
        self.groups = list(groups.values())

    def revise(self, leaves, inner, after, changed, start) -> bool:
        """Learn from one trace of the body; True when the plan changed (trace it again).
        Notes the groups the body changed in place (`moved`), updated after the loop."""
        if len(after) != len(leaves):
            return False                           # a changed structure: _compare says so
        before = (len(self.split), len(self.extra), len(self.mutated), len(self.poisoned),
                  len(self.links), len(self.left_stale))
        self.after = after
        self.moved = {id(h) for h in self.groups if h._value is not self.args[id(h)]}
        # own slots changed in place (through a view of them, or by an inner loop)
        touched = {j for j in self.own if inner[j]._value is not self.args[j]
                   or inner[j].stale_because(WRITTEN_THROUGH_VIEW)
                   or inner[j].stale_because(POISONED)}
        for j, x in enumerate(leaves):
            if not isinstance(x, Traced):
                continue
            if j not in self.own and after[j] is not x:
                self.split.add(j)                  # rebound: no longer the group's array
            elif j in touched:                     # and at some iteration an older array
                for h in older_holders(x, start) + self.older_ends(after[j], leaves, start):
                    self.poisoned.setdefault(id(h), h)
            elif j in self.own and inner[j].stale_because(MAY_BE_CHANGED):
                # changed through a name that may hold it (`t = a if c else b; t += 1`); a
                # group that changed is carried as itself
                for h in older_holders(x, start) + self.older_ends(after[j], leaves, start):
                    if id(h) not in self.moved:
                        self.poisoned.setdefault(id(h), h)
        for j in self.own:      # slots that end as one array (or views of one) are one later
            for k in self.own:
                if k != j and overlap(after[j], after[k]):
                    self.links.add((min(j, k), max(j, k)))
            for h in self.groups:
                if overlap(after[j], h):
                    self.links.add((j, h))
        if self.static:         # `_bind`'s first-iteration shares, for a static loop
            for j in self.own:
                self.first_shared |= any(
                    overlap(leaves[j], h) and (id(h) in self.moved
                                               or h.stale_because(WRITTEN_THROUGH_VIEW))
                    for h in self.groups) or any(
                    k != j and overlap(leaves[j], leaves[k]) and {j, k} & touched
                    for k in self.own)
        ids = {id(h) for h in self.groups}
        for h, was, now in changed:
            if now[-1] and not was[-1]:     # read at the next iteration, it is stale
                self.left_stale.setdefault(id(h), (h, now[-1]))
            if id(h) not in ids and now[0] is not was[0]:
                self.extra.append(h)               # changed in place through another route
            elif id(h) in self.moved and id(h) not in self.mutated and (
                    was[3] is not None or was[4] or was[5]):
                self.mutated.add(id(h))            # its views and sharers go stale
        return before != (len(self.split), len(self.extra), len(self.mutated),
                          len(self.poisoned), len(self.links), len(self.left_stale))

    def older_ends(self, end, leaves, start) -> list:
        """The arrays older than the loop that a carried value ending as `end` may be: those
        `end` may be, and where it may be a carried value as an iteration began, whatever that
        value may be at some iteration (its start, or what it ends as: `a, b = b, a` makes
        each either start)."""
        out, seen, todo = [], set(), [end]
        while todo:
            x = todo.pop()
            out += older_holders(x, start)
            for h in memory_of(x):
                for j in self.own:
                    if h is self.inner[j] and j not in seen:
                        seen.add(j)
                        todo += [leaves[j], self.after[j]]
        return out

