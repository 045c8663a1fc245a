"""Branches: `if` statements and `a if c else b` on run-time conditions become the IR's `if` op
(static conditions are resolved while tracing).

Contract: both branches are traced as regions, each with its own copies of the variables they
may rebind and of every container a variable holds (one copy per container, however many names
and containers hold it: a change through one name is seen through all). The variables either
branch rebinds (or mutates) and that are read later become the op's results (`carry.unify`
joins their types: a Python literal takes the array's dtype); an array assigned in a single
branch (or bound where a run-time flag says: `Undefined` with a value) is joined with a
placeholder and a flag that says where it is bound, which each read checks when the code runs
(Python's UnboundLocalError, as an AssertionFailed); anything else assigned in a single branch
is unbound afterwards (reading it is a TraceError naming the if's line). A dict or list a
branch changes in place is joined back into the original object (`carry.keep_containers`), so
every alias, container and the caller holding it see the change, as in Python. A branch
containing `return` absorbs the rest of the function, so both regions end in a return and the
`if` produces the return value (no loop holds a `return`, `break` or `continue` by then:
exits.py made them flags).
"""
from __future__ import annotations

import ast

from ..ir.rewrite import is_pure
from ..ir.types import TensorType
from . import analysis, arith, carry, randomness, values
from .carry import MISSING
from .expressions import run_static
from .problems import FrontendError, StaticValueError
from .statements import FUNCTION, Return, Undefined, held_value
from .values import Traced, older_holders, overlap, readonly_of


def _copy_containers(x, memo: dict):
    """A copy of a value's containers, so a branch can rebind or mutate them without touching
    the originals; the array holders stay the same objects (the journal undoes their changes).
    `memo` (id of an original -> (original, copy)) is shared between the names: a container
    two names or two containers hold is one copy, so the branch sees a change through either
    in both."""
    if carry.is_leaf(x) or not (isinstance(x, (list, dict)) or _plain_tuple(x)):
        return x
    hit = memo.get(id(x))
    if hit is not None:
        return hit[1]
    if isinstance(x, tuple):
        out = tuple(_copy_containers(v, memo) for v in x)
        memo[id(x)] = (x, out)
        return out
    out = [] if isinstance(x, list) else {}
    memo[id(x)] = (x, out)      # before the entries: a container that holds itself
    if isinstance(x, list):
        out.extend(_copy_containers(v, memo) for v in x)
    else:
        out.update((k, _copy_containers(v, memo)) for k, v in x.items())
    return out


def _condition(node) -> str:
    """How errors name an `if` on a run-time condition: one exits.py made is its loop's
    early exit."""
    if hasattr(node, "exit_loop"):
        return (f"the loop at line {node.exit_loop}, which may break or continue on a run-time "
                "condition (what follows a break or continue runs only when it does not)")
    if hasattr(node, "returns_from"):
        return (f"the loop at line {node.returns_from}, which may return on a run-time condition "
                "(a function that returns inside a loop and after it must return one kind of "
                "value there)")
    return f"the if at line {node.lineno} (a run-time condition)"


def _plain_tuple(x) -> bool:
    return isinstance(x, tuple) and not hasattr(x, "_fields")     # a namedtuple is static


def _has_container(x) -> bool:
    return isinstance(x, (list, dict)) or (_plain_tuple(x) and any(map(_has_container, x)))


class _Branch:
    """One traced branch: its block, how it ended, its variables after, and the final state of
    each older holder it changed in place (`final`: id -> (holder, state))."""

    def __init__(self, block, done, after, changed, start, copies=None, memo=None):
        self.block, self.done, self.after, self.start = block, done, after, start
        self.final = {id(h): (h, now) for h, _, now in changed}
        self.copies = copies or {}      # name -> the copy of its containers the branch began with
        # id of a copy -> the container it copies
        self.originals = {id(c): o for o, c in (memo or {}).values()}

    def original(self, x):
        """The container from before the branch that `x` is this branch's copy of, or None."""
        return self.originals.get(id(x)) if isinstance(x, (list, dict)) else None

    def kept(self, name) -> bool:
        """Whether `name` ends this branch holding the containers it began with (changed in
        place or not), not ones it was bound to in the branch."""
        return name in self.copies and self.after[name] is self.copies[name]

    def leaf(self, x):
        """`x` as this branch left it (an older holder with the value the branch gave it), to
        yield: a holder that is not stale, which `stale` tells."""
        if isinstance(x, Traced):
            return Traced(self.final[id(x)][1][0] if id(x) in self.final else x._value, x.weak)
        return x

    def stale(self, x):
        """(why `x` cannot be read where this branch ends, the write that made it so), or
        (None, None)."""
        if isinstance(x, Traced):
            state = self.final[id(x)][1] if id(x) in self.final else x.state()
            return state[-1], state[-2]
        return None, None


def _stale_in_either(then: _Branch, x, other: _Branch, y) -> tuple:
    """`then.stale(x)` where x is stale where `then` ends, else `other.stale(y)`."""
    stale = then.stale(x)
    return stale if stale[0] else other.stale(y)


class _Slot:
    def __init__(self, k):
        self.k = k


def _maybe_bound(a, b):
    """Where a branch leaves a name unbound, or bound only where a run-time flag says (a loop
    of a run-time trip count assigned it: an `Undefined` with a value), and the other binds it
    to an array of one type or leaves it so too: an array of that type (the placeholder's),
    else None (an error where the name is read)."""
    sides = [x for x in (a, b) if not (x is MISSING or isinstance(x, Undefined) and x.unbound)]
    if not any(isinstance(x, Undefined) for x in (a, b)) and len(sides) == 2:
        return None         # bound on both paths
    arrays = [held_value(x) for x in sides]
    if not arrays or not all(isinstance(x, Traced) for x in arrays) or len(
            {(x.dtype, x.shape) for x in arrays}) != 1:
        return None
    return arrays[0]


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
        try:
            return self.runtime_if(node, arith.truth(self, test))
        except StaticValueError as e:
            if not hasattr(node, "returns_from"):
                raise
            # (exits.py computes a `return` in a loop after the loop, where it left it)
            raise StaticValueError(
                f"{e.message}: the loop at line {node.returns_from} may return on a run-time "
                "condition, and its return value is computed after it, where its variables, "
                "the loop index too, hold run-time values; set a variable to the value in "
                "the loop and break instead", e.loc, e.construct) from None

    def runtime_if(self, node, cond):
        loc = self.builder.loc
        returns = analysis.contains(node.body + node.orelse, ast.Return)
        if returns:
            cont = self.continuation()
            branches = [node.body + cont, node.orelse + cont]
        else:
            branches = [node.body, node.orelse]
        names = analysis.rebound_names(branches[0] + branches[1])
        then, other = (self.trace_branch(stmts, names, returns) for stmts in branches)
        self.builder.loc = loc
        # a name the branches do not rebind whose containers they changed in place (through
        # an alias or an inner container's name) is joined as well
        names = names | {n for n in then.copies if n not in names and not (
            _unchanged(self.frame.vars[n], then.after[n])
            and _unchanged(self.frame.vars[n], other.after[n]))}
        if returns:
            # the function ends in both branches: of the names, only the containers they
            # changed in place live on (an argument's, a caller's), as the path taken left them
            kept = [(n, then.after[n], other.after[n]) for n in sorted(names)
                    if then.kept(n) and other.kept(n) and not (
                        _unchanged(self.frame.vars[n], then.after[n])
                        and _unchanged(self.frame.vars[n], other.after[n]))]
            rebound = self._rebound_changed(then, other, names, {n for n, *_ in kept})
            value, *ends = self.join_if(cond, then, other, [("return", then.done.value,
                                                           other.done.value)] + kept + rebound,
                                        _condition(node))
            for (n, *_), end in zip(kept + rebound, ends, strict=True):
                carry.keep_containers(self.frame.vars[n], end)
            return Return(value)
        live = self.live_after()
        pairs, flags, undefined = [], [], {}
        for name in sorted(names):
            before = self.frame.vars.get(name, MISSING)
            a, b = then.after[name], other.after[name]
            # (a container the name was bound to a copy of, `xs = list(xs)`, is another one)
            if all(_unchanged(before, x) and (branch.kept(name)
                                              or not isinstance(before, carry.CONTAINERS))
                   for branch, x in ((then, a), (other, b))):
                continue
            # (containers changed in place live on in whatever else holds them)
            in_place = then.kept(name) and other.kept(name) and isinstance(before, carry.CONTAINERS)
            like = _maybe_bound(a, b) if name in live else None
            if like is None and name in live and Undefined in (type(a), type(b)):
                va, vb = (x.value if isinstance(x, Undefined) and not x.standin else x
                          for x in (a, b))
                if isinstance(va, Traced) and isinstance(vb, Traced):   # (of two types)
                    raise FrontendError(f"'{name}' is {va.type} on one path of "
                                        f"{_condition(node)} and {vb.type} on the other")
            if like is None and (a is MISSING or b is MISSING or Undefined in (type(a), type(b))
                                 or (name not in live and not in_place)):
                self.frame.vars[name] = Undefined(
                    f"'{name}' is assigned on one path only of {_condition(node)}, so it may be "
                    "undefined here; assign it before the " + (
                        "loop" if hasattr(node, "exit_loop") else "if or in both branches"))
                continue
            if like is not None:    # bound on the paths a run-time flag names: joined with it
                message = next((x.message for x in (a, b) if isinstance(x, Undefined)
                                and not x.unbound),
                               f"'{name}' is not defined: it is assigned on one path only "
                               f"of {_condition(node)}, not the one that ran")
                (a, fa), (b, fb) = (self._bound_side(x, like) for x in (a, b))
                undefined[name] = message
                flags.append((f"'{name}' bound", fa, fb))
            pairs.append((name, a, b))
        rebound = self._rebound_changed(then, other, names, set())
        joined = self.join_if(cond, then, other, pairs + flags + rebound, _condition(node))
        values, bound = joined[:len(pairs)], iter(joined[len(pairs):len(pairs) + len(flags)])
        for (name, *_), value in zip(rebound, joined[len(pairs) + len(flags):], strict=True):
            carry.keep_containers(self.frame.vars[name], value)
        for (name, a, b), value in zip(pairs, values, strict=True):
            self.frame.vars[name] = self._joined_container(name, a, b, value, then, other,
                                                           _condition(node))
            if name in undefined:
                self.frame.vars[name] = Undefined(undefined[name], self.frame.vars[name],
                                                  next(bound))
        return None

    def _bound_side(self, x, like):
        """(value, run-time flag: whether it is bound) of a name a branch leaves as `x`: an
        array, a loop's `Undefined` with a value, or unbound (a placeholder shaped `like`)."""
        if isinstance(x, Traced):
            return x, self.bound_flag(True)
        if isinstance(x, Undefined) and not x.unbound:
            return x.value, x.bound
        return (Traced(carry.materialise(self, 0, like.dtype, like.shape), weak=like.weak),
                self.bound_flag(False))

    def _joined_container(self, name, a, b, value, then, other, where):
        """What `name` holds after the if, given its joined `value`: a container both branches
        changed in place (if at all), or bound to the same container from before the if, stays
        that one object, which every alias, container and the caller hold; one the branches
        bound to different containers from before the if is Python's choice between them, so
        it may be read but not changed (`session.chosen`)."""
        if then.kept(name) and other.kept(name):
            return carry.keep_containers(self.frame.vars[name], value)
        oa, ob = then.original(a), other.original(b)
        if oa is not None and oa is ob:
            return carry.keep_containers(oa, value)
        if (oa is not None or ob is not None) and isinstance(value, (list, dict)):
            for source in {id(o): o for o in (oa, ob) if o is not None}.values():
                self.session.chosen_from.setdefault(id(source), []).append((source, value))
            self.session.chosen[id(value)] = (value, (
                f"'{name}' is a different {type(value).__name__} from before on each path of "
                f"{where}, so changing it would change the one the condition chose; copy it on "
                "both paths, or change the one you mean"))
        return value

    def _rebound_changed(self, then, other, names, done):
        """(name, then's copy, other's copy) of the containers a branch changed in place and
        then bound the name elsewhere (`xs[0] = ...; xs = xs[:]`): the containers it began
        with still hold what the branch gave them, and so must the originals."""
        out, seen = [], set()
        for n in sorted(names):
            before = self.frame.vars.get(n, MISSING)
            if n in done or n not in then.copies or n not in other.copies \
                    or not isinstance(before, carry.CONTAINERS) \
                    or (then.kept(n) and other.kept(n)) or id(before) in seen:
                continue
            a, b = then.copies[n], other.copies[n]
            if _unchanged(before, a) and _unchanged(before, b):
                continue
            seen.add(id(before))
            out.append((n, a, b))
        return out

    def trace_branch(self, stmts, names, returns) -> _Branch:
        """Trace statements into a fresh region, undoing what they changed afterwards."""
        frame = self.frame
        # every name's containers are copied, with one memo: a change through any name (an
        # alias made before or inside the branch, an inner container's name) reaches only
        # the copies, and every name holding a container sees it
        held = [n for n, v in frame.vars.items() if n not in names and _has_container(v)]
        before = {n: frame.vars[n] for n in [*names, *held] if n in frame.vars}
        memo: dict = {}
        copies = {n: _copy_containers(v, memo) for n, v in before.items()}
        frame.vars.update(copies)
        with values.journal() as journal, self.builder.region() as block, \
                randomness.scope(self.session, "branch"):
            try:
                done = self.exec_block(stmts, FUNCTION if returns else None)
                after = {n: frame.vars.get(n, MISSING) for n in [*names, *held]}
                changed = journal.changed()
            finally:
                for n in [*names, *held]:
                    frame.vars.pop(n, None)
                frame.vars.update(before)
        if returns and not isinstance(done, Return):
            done = Return(None)
        return _Branch(block, done, after, changed, journal.start, copies, memo)

    def runtime_choice(self, cond, then, other, where: str):
        """`then() if cond else other()` for a run-time `cond`: each thunk evaluated in its own
        branch of an `if` op, so only the one taken runs (its index checks, its changes)."""
        branches = []
        for thunk in (then, other):
            with values.journal() as journal, self.builder.region() as block, \
                    randomness.scope(self.session, "branch"):
                value = thunk()
                changed = journal.changed()
            branches.append(_Branch(block, None, value, changed, journal.start))
        (value,) = self.join_if(cond, *branches, [("if", branches[0].after, branches[1].after)],
                                where)
        return value

    def join_if(self, cond, then, other, pairs, where):
        """Emit the `if` op yielding what differs between the branches: the older holders
        either changed in place (updated afterwards, so each name holding one sees it) and
        the variables in `pairs`; the joined values of `pairs`."""
        plans, slots, seen = [], [], {}
        holders = [h for h, _ in {**other.final, **then.final}.values()]
        moved = [h for h in holders if then.leaf(h)._value is not other.leaf(h)._value]
        for h in moved:
            slots.append((h, h, (h.dtype, h.shape, False), None))
        for name, a, b in pairs:
            la, sa = carry.split(a)
            lb, sb = carry.split(b)
            # ("if" is `choose`'s value: a conditional expression's, an and's, an or's)
            what, paths_of = ((f"the value of {where}", "its two paths") if name == "if"
                              else (f"'{name}'", f"the two paths of {where}"))
            if not carry.same_structure(sa, sb):
                raise FrontendError(f"{what} has a different structure or static value on "
                                    f"{paths_of}; both must build the same containers")
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
                        raise FrontendError(f"{what} differs between {paths_of}: {e}") \
                            from None
                    seen[key] = len(slots)
                    slots.append((x, y, t, paths[j]))
                out[j] = _Slot(seen[key])
            plans.append((sa, out))
        results = []
        if slots or any(not is_pure(op) for b in (then, other) for op in b.block.ops):
            for branch, side in ((then, 0), (other, 1)):
                with self.builder.at(branch.block):
                    vals = [carry.materialise(self, branch.leaf(s[side]), s[2][0], s[2][1])
                            for s in slots]
                    self.emit("yield", vals)
            op = self.emit("if", [cond.value],
                           result_types=[TensorType(t[0], t[1]) for _, _, t, _ in slots],
                           regions=[then.block, other.block],
                           hints=[p or carry.hint(then.leaf(x)) for x, _, _, p in slots])
            results = list(op.results)
        for h, r in zip(moved, results[:len(moved)], strict=True):
            h.update(r)
        joined, ends = [], []
        for r, (x, y, t, _) in zip(results[len(moved):], slots[len(moved):], strict=True):
            new = Traced(r, weak=t[2])
            new.restale(*_stale_in_either(then, x, other, y))
            new.readonly = readonly_of(x) or readonly_of(y)
            for older in older_holders(x, then.start) + older_holders(y, then.start):
                new.share(older)
            # results that are one array, or views of one, in either branch may be one after
            for other_new, (x2, y2) in zip(joined, ends):
                if overlap(x, x2) or overlap(y, y2):
                    new.share(other_new)
            joined.append(new)
            ends.append((x, y))
        # stale in either branch: stale after the if. Only now: a branch's view of a holder it
        # did not change is the holder's own state, which must not carry the other branch's yet
        for h in holders:
            h.restale(*_stale_in_either(then, h, other, h))
        return [carry.build(sa, [joined[o.k - len(moved)] if isinstance(o, _Slot) else o
                                 for o in out]) for sa, out in plans]
