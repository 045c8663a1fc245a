"""The abstract interpreter: walks a function's AST, computing static values in Python and
building IR for everything that touches a traced array.

Contract:
- A `Frame` is one activation of a Python function being traced (the entry function, an
  inlined callee, a nested def): its local bindings, the frame it was defined in (closures),
  its globals. Names resolve as Python resolves them: locals, enclosing functions, the real
  closure cells, globals, then builtins (`pybuiltins.BUILTINS` overrides Python's).
- A `Tracer` builds one IR function. It is an `Emitter` (the `cx` of the helper modules) and
  mixes in expressions (`expressions.py`), statements (`statements.py`), control flow
  (`branches.py`, `loops.py`) and calls (`calls.py`). Errors raised as `FrontendError` by
  helpers become `TraceError`s at the innermost expression or statement (file, line, construct).
- A `Session` is one `trace` call: the `ir.Module` being filled, the specialised callees built so
  far (deduplicated by signature), the unique function names, and the values read from outside
  the traced code (`outside.py`: globals, closure cells, attributes, dict and list entries).
- `build_function` makes an IR function from a Python function and parameter pytrees whose
  run-time leaves are `Spec`s; it returns the function and the result's structure. With
  `write_back` (the traced entry function), the arrays among its arguments that it changed in
  place follow its results, then the arrays it set as entries of its dict and list arguments;
  `fn.meta["written"]` lists the first by leaf index, `fn.meta["rebound"]` the second by (leaf
  index, keys from the parameter name, weak), so that the caller's arrays and containers can
  be changed as NumPy's and Python's would be (`Signature.write_back`, `calls.returned`).
"""
from __future__ import annotations

import ast
import builtins
import linecache
import sys
from dataclasses import dataclass

from ..errors import TraceError, is_ours
from ..ir import Block, Builder, Function, Module
from ..ir.types import TensorType
from . import analysis, carry, masked
from .calls import CallsMixin, Lifted
from .branches import BranchesMixin
from .emit import Emitter
from .expressions import ExpressionsMixin
from .loops import LoopsMixin
from .outside import Reads
from .problems import FrontendError, at_or_def, located, located_at
from .pytree import containers, flatten, leaf_keys, leaf_paths, unflatten
from .statements import FUNCTION, Return, StatementsMixin, Undefined
from .values import STALE, Traced

@dataclass(frozen=True)
class Spec:
    """A run-time leaf of a function's parameters: its type and NumPy weakness."""
    type: TensorType
    weak: bool = False


class Frame:
    def __init__(self, code, parent=None, globals_=None, closure=None):
        self.code = code
        self.vars: dict = {}
        self.parent = parent
        self.globals = globals_ if globals_ is not None else (parent.globals if parent else {})
        self.closure = closure if closure is not None else (parent.closure if parent else {})
        self.blocks: list = []       # [stmts, index] entries and FUNCTION markers
        self.loops: list = []        # enclosing loop nodes (their whole bodies are live)
        self.scope = None            # the comprehension running, whose variables a function
                                     # defined in it closes over (expressions.comprehension)
        self.via = None              # the loc of the call a frame traced in its caller's IR
                                     # was reached through (CallsMixin.inline)


class Session:
    def __init__(self):
        self.module = Module()
        self.callees: dict = {}      # specialisation key -> CalleeEntry
        self.active: set = set()     # keys being built (recursion)
        self.reads = Reads()         # values taken from outside the traced code (outside.py)
        # containers a run-time if chose between (id -> (container, why writing into it would
        # differ from Python)): reading them is fine, changing them is an error; once one of
        # the containers it was chosen from is changed (`chosen_from`: id -> [(that container,
        # the chosen one)]), reading it is an error too (`stale_chosen`, like `chosen`)
        self.chosen: dict = {}
        self.chosen_from: dict = {}
        self.stale_chosen: dict = {}
        self.seeded: dict = {}       # random generators the traced code seeded (randomness.py)
        # the loop ops and run-time branches being traced (randomness.py; a raise outside all
        # of them is one every run takes: statements.stmt_Raise)
        self.draw_scopes: list = []
        # iterators the traced code made (id -> (iterator, len(draw_scopes) where made)):
        # consumed in a loop or branch traced inside that, they would be consumed once
        self.iterators: dict = {}
        self.made: dict = {}         # id -> a dict or list the traced code built (not watched)
        self.defaults: list = []     # the default arguments the trace binds as themselves
        # dicts and lists the traced code changed (id -> (container, the first change's line,
        # its order, its entries before)): where an argument's container got entries added, its
        # error names that line; a container that outlives the call and got a run-time value
        # (its first such change in `stored_at`, alike) is put back as it was
        self.changed_at: dict = {}
        self.stored_at: dict = {}
        # a static loop of more iterations is a loop op, of as many or fewer unrolled (more
        # inside a gradient taken in traced code, which may be differentiated again:
        # TraceContext.unrolling)
        self.unroll_limit = 1
        self.call_sites: list = []   # the (file, line) of each call being traced, innermost last
        self.native_calls = 0        # functions run natively that may change what they reach

    def unique_name(self, base: str) -> str:
        return self.module.fresh_name(base)


_READ_LATER: dict = {}


def _read_later(stmts, k) -> set:
    """What the statements after stmts[k] may read before assigning it (a loop index that a
    later `for i` or `i = 3` binds anew is not read after its loop)."""
    hit = _READ_LATER.get((id(stmts), k))
    if hit is None or hit[0] is not stmts:
        hit = _READ_LATER[id(stmts), k] = (stmts, analysis.exposed_reads(stmts[k + 1:])[0])
    return hit[1]


_CARRIED: dict = {}


def _carried_reads(loop) -> set:
    """What a loop's next iteration may read from this one (its test is re-evaluated too)."""
    hit = _CARRIED.get(id(loop))
    if hit is None or hit[0] is not loop:
        reads = analysis.exposed_reads(loop.body)[0]
        if isinstance(loop, ast.While):
            reads |= analysis.loaded_names([loop.test])
        hit = _CARRIED[id(loop)] = (loop, reads)
    return hit[1]


class Tracer(Emitter, ExpressionsMixin, StatementsMixin, BranchesMixin, LoopsMixin, CallsMixin):
    def __init__(self, session: Session, builder: Builder):
        super().__init__(builder)
        self.session = session
        self.frame: Frame | None = None
        self.top = builder.block        # the function's own block: not a run-time if or loop
        self.masked = None              # masked.Reads while a whole reduction's argument runs

    # -- errors ----------------------------------------------------------------------------
    @property
    def filename(self) -> str:
        return self.frame.code.filename

    def loc_at(self, lineno: int):
        """The loc of this frame's line `lineno`: (file, line), or, in a function traced into
        its caller's IR, (file, line, the call's loc), as the inline pass makes it."""
        via = self.frame.via
        return (self.filename, lineno) if via is None else (self.filename, lineno, via)

    def located(self, err: FrontendError, node) -> TraceError:
        site = self.users_call() if is_ours(self.filename) else None
        if site is not None:
            return located_at(err, site, linecache.getline(*site).strip())
        return located(err, self.filename, node)

    def users_call(self):
        """The (file, line) of the innermost call of the user's code being traced (else of
        the user's Python code that called adcompiler): where an error found in adcompiler's
        own code (an adapter `<adcompiler-calls-...>`, jacobian's loop, traced as user code
        is) is named; None when there is none."""
        # (a call site's loc may hold the calls that reached it, `loc_at`: its line is [:2])
        site = next((s[:2] for s in reversed(self.session.call_sites) if s and not is_ours(s[0])),
                    None)
        frame = sys._getframe(1)
        while site is None and frame is not None:
            if not is_ours(frame.f_code.co_filename):
                site = (frame.f_code.co_filename, frame.f_lineno)
            frame = frame.f_back
        return site

    # -- names -----------------------------------------------------------------------------
    def lookup(self, name: str):
        f = self.frame
        if name in f.code.locals:
            if name not in f.vars:
                raise FrontendError(f"local variable '{name}' is read before it is assigned")
            return self._defined(f.vars[name])
        p = f.parent
        while p is not None:
            if name in p.code.locals:
                if name not in p.vars:
                    raise FrontendError(f"free variable '{name}' is read before it is assigned "
                                        "in the enclosing function")
                return self._defined(p.vars[name])
            p = p.parent
        if name in f.closure:
            value = f.closure[name]
            cell = getattr(f.closure, "cells", {}).get(name)
            if cell is not None:
                self.session.reads.add("cell", cell)
            return value
        if name in f.globals:
            value = f.globals[name]
            self.session.reads.add("global", f.globals, name)
            return value
        if hasattr(builtins, name):
            return getattr(builtins, name)
        raise FrontendError(f"name '{name}' is not defined")

    def _defined(self, v):
        if isinstance(v, Undefined):
            if v.value is None:
                raise FrontendError(v.message)
            self.op("assert", v.bound.value, message=v.message)
            return v.value
        if isinstance(v, Lifted):       # (a helper a transform's function takes: calls.py)
            return v.bound(self)
        if isinstance(v, masked.Named):
            return v.read(self)
        return v

    # -- blocks ----------------------------------------------------------------------------
    def exec_block(self, stmts, marker=None):
        """Run statements; returns None or a Return."""
        blocks = self.frame.blocks
        if marker:
            blocks.append(marker)
        entry = [stmts, 0]
        blocks.append(entry)
        try:
            for k, stmt in enumerate(stmts):
                entry[1] = k
                done = self.exec_stmt(stmt)
                if done is not None:
                    return done
            return None
        finally:
            blocks.pop()
            if marker:
                blocks.pop()

    def continuation(self):
        """Statements that run after the current one up to the end of the function (no loop
        holds the current one: a `return` in a loop is a flag, exits.py)."""
        rest = []
        for entry in reversed(self.frame.blocks):
            if entry == FUNCTION:
                return rest
            stmts, k = entry
            rest += stmts[k + 1:]
        return rest

    def live_after(self) -> set:
        """Names that may be read after the current statement (conservative)."""
        live = set(self.frame.code.nested_loads)
        for entry in self.frame.blocks:
            if isinstance(entry, list):
                live |= _read_later(*entry)
        for loop in self.frame.loops:
            live |= _carried_reads(loop)
        return live

    def run_frame(self, frame: Frame):
        """Run a function body in `frame`; its return value."""
        saved, self.frame = self.frame, frame
        try:
            done = self.exec_block(frame.code.body, FUNCTION)
        finally:
            self.frame = saved
        return done.value if isinstance(done, Return) else None





def build_function(session: Session, code, name: str, params: dict, parent=None,
                   globals_=None, closure=None, exact_name=False, write_back=False,
                   as_is=()):
    """An IR function for `code` called with `params` (name -> pytree, `Spec` leaves run-time).
    The parameters named in `as_is` (left to their defaults) are bound to their objects
    themselves, not to rebuilt containers: what the code reads in them is watched there, as in
    a global (a default `cfg=CFG` whose entry changes later).

    Returns (function, result value): the result's `Traced` leaves are the function's results,
    in `carry.split` order (then, with `write_back`, the arguments changed in place). The
    function is added to `session.module`."""
    flat = {p: flatten(tree, _is_spec) for p, tree in params.items() if p not in as_is}
    specs = [s for leaves, _ in flat.values() for s in leaves]
    hints = [h for p, (_, treedef) in flat.items() for h in leaf_paths(treedef, p)]
    block = Block([s.type for s in specs], hints=hints)
    tracer = Tracer(session, Builder(block, loc=(code.filename, code.node.lineno)))
    frame = Frame(code, parent, globals_, closure)
    holders = [Traced(a, weak=s.weak) for a, s in zip(block.args, specs, strict=True)]
    given = iter(holders)
    trees = {}
    for p, tree in params.items():
        if p in as_is:
            frame.vars[p] = tree
            session.defaults.append(tree)
            continue
        leaves, treedef = flat[p]
        frame.vars[p] = trees[p] = unflatten(treedef, [next(given) for _ in leaves])
    result = tracer.run_frame(frame)
    outs = [x for x in carry.split(result)[0] if isinstance(x, Traced)]
    tracer.builder.loc = (code.filename, getattr(tracer, "return_line", None) or _last_line(code))
    try:
        values = [t.value for t in outs]
    except FrontendError as e:
        raise TraceError(e.message, tracer.builder.loc, "return") from None
    written = _written(holders, block.args, specs, hints, code) if write_back else []
    rebound = _rebound(frame, trees, flat, holders, code, session.changed_at) \
        if write_back else []
    tracer.emit("return", values + [holders[i].value for i in written]
                + [t.value for _, _, t in rebound])
    fn = Function(name if exact_name else session.unique_name(name), block,
                  loc=(code.filename, code.node.lineno))
    if write_back:
        fn.meta["written"] = tuple(written)
        fn.meta["rebound"] = tuple((i, keys, t.weak) for i, keys, t in rebound)
        fn.meta["returns_written"] = {k: i for k, t in enumerate(outs) for i in written
                                      if t is holders[i]}
        fn.meta["returns_aliases"] = _aliases(outs, holders)
    session.module.add(fn)
    return fn, result


def _aliases(outs, holders) -> bool:
    """Whether results share memory with an argument or with each other, as NumPy's would: an
    argument or a view of one returned, one array and a view of it, two views of one array,
    an array that a run-time if or loop may have made one of those (`shares`). A call's
    results are arrays of their own, so such a callee is inlined instead."""
    roots = []
    for t in outs:
        chain = [t, *t.bases()]
        if any(c.shares or any(c is h for h in holders) for c in chain):
            return True
        roots.append(chain[-1])
    return len({id(r) for r in roots}) < len(roots)


def _written(holders, args, specs, hints, code) -> list:
    """The indices of the argument leaves whose holders were changed in place (a Python float
    argument is rebound, not changed, as in Python). One changed where adcompiler cannot say
    to what (through a view, or maybe, through an array an `if` may have made it) is an
    error: the caller's array would not end as NumPy's does."""
    out = []
    for i, (h, arg, spec) in enumerate(zip(holders, args, specs, strict=True)):
        if spec.weak or (h.stale is None and h._value is arg):
            continue
        if h.stale:
            why = h.stale.removeprefix(STALE)
            raise TraceError(f"argument {hints[i]} is changed in place where its new value is "
                             f"unknown, so the caller's array cannot be changed as NumPy would "
                             f"change it: {why}", *at_or_def(h.stale_at, code))
        out.append(i)
    return out


def _rebound(frame, trees, flat, holders, code, changed_at) -> list:
    """(leaf index, keys from the parameter name, new holder) of each entry of an argument's
    dict or list that the function set to another array (`p["w"] = p["w"] - lr * g["w"]`):
    the caller's container is changed so too. Its state is the one the parameter's name ends
    with (after a run-time `if` or loop that is a copy the frontend joined), or, where the
    function binds the name again, the caller's own container object as it was left. Adding
    or removing entries, or setting one to a static value, is an error."""
    out, start = [], 0
    for p, (leaves, treedef) in flat.items():
        count, first = len(leaves), start
        start += count
        if treedef == ("leaf",):
            continue            # an array argument: its changes are its holder's (`_written`)
        final = trees[p] if p in code.rebound_params else frame.vars.get(p)
        now, shape = flatten(final, lambda v: isinstance(v, Traced))
        if shape != treedef:
            first = min((changed_at[id(c)] for c in containers(final) if id(c) in changed_at),
                        key=lambda hit: hit[2], default=None)
            raise TraceError(f"argument {p} has entries added, removed or set to a static value; "
                             "the caller's container could not be changed as Python would "
                             "change it (return the new container instead)",
                             *((first[1],) if first else
                               ((code.filename, code.node.lineno), f"def {code.name}")))
        for k, (t, keys) in enumerate(zip(now, leaf_keys(treedef), strict=True)):
            if t is not holders[first + k]:
                out.append((first + k, (p, *keys), t))
    return out


def _is_spec(v) -> bool:
    return isinstance(v, Spec)


def _last_line(code) -> int:
    return max(getattr(n, "lineno", 0) for n in code.body)
