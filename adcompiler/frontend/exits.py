"""`break`, `continue`, `return` and a loop's `else` as flags, so a loop may leave early on a
run-time condition (a convergence test, a tolerance reached): the IR's loops have no early
exit, but a flag they carry and `if` ops that test it do the same.

Contract: `remove_exits(fn_node)` rewrites, in place, every `for`/`while` loop of the function
(not of its nested functions, which are rewritten when their own code is read) whose body
breaks, continues or returns (outside nested loops) or that has an `else`, into a loop
without them:

    for t in it:                  __break_L_C = False
        A                         for __item_L_C in it:
        if c:                         if not __break_L_C:
            break           ->            t = __item_L_C
        B                                 A
    else:                                 if c:
        E                                     __break_L_C = True
                                          if not __break_L_C:
                                              B
                                  if not __break_L_C:
                                      E

(L_C: the loop's line and column). `continue` sets `__continue_L_C`, which each iteration
resets first; the statements after one that may set a flag run under `if not <flags>`. A
`while` loop that breaks tests `__go_L_C`, set to its test before the loop and at the end of
each iteration, to False instead once it has broken (Python evaluates the test no more: it
may index past the end). The loop target is assigned under the guard, so after a break it
holds the value it had when the loop broke, as in Python. The k-th `return e` in a loop sets
`__return_L_C = k` and breaks; after the loop, `if __return_L_C == k: return e` evaluates e
where every name holds what it held at the return (nothing ran since); those `if`s and the
`else` are chained as `if`/`elif`/`else`. Inner loops are
rewritten first, so such an `if` in an outer loop's body is that loop's return in turn.

On static conditions the flags are Python bools and the guards are resolved while tracing (an
unrolled loop stops at a static break: the new loop's `exit_flag` names the flag that
`LoopsMixin.unroll` reads). On run-time conditions they are run-time booleans: a `for` loop
that may break becomes a `while` op on a counter that stops at the break (`LoopsMixin.loop_op`),
a `while` loop stops on its test. Rewriting a
loop that has no break, continue, return or else is a no-op, so the pass may run again on a
function. After it, no loop of the function holds any of them.
"""
from __future__ import annotations

import ast
import copy

from .analysis import _SCOPES, contains
from .problems import construct_text

_EXITS = (ast.Break, ast.Continue, ast.Return)


def remove_exits(fn_node) -> None:
    body = fn_node.body
    if isinstance(body, list):
        fn_node.body = _block(body)


def _block(stmts: list) -> list:
    """The statements with every loop among them (at any depth of `if`s and loops) rewritten."""
    out = []
    for s in stmts:
        if isinstance(s, _SCOPES):
            out.append(s)
            continue
        if isinstance(s, ast.If):
            s.body, s.orelse = _block(s.body), _block(s.orelse)
        elif isinstance(s, (ast.For, ast.While)):
            s.body, s.orelse = _block(s.body), _block(s.orelse)   # inner loops first
            if s.orelse or contains(s.body, _EXITS, through_loops=False):
                out.extend(_loop(s))
                continue
        out.append(s)
    return out


def _name(ident: str, node, store=False) -> ast.Name:
    return ast.copy_location(ast.Name(id=ident, ctx=ast.Store() if store else ast.Load()), node)


def _set(ident: str, value, node) -> ast.Assign:
    return ast.copy_location(ast.Assign(targets=[_name(ident, node, store=True)],
                                        value=ast.copy_location(ast.Constant(value), node)), node)


def _unless(flags: list, body: list, node, loop) -> ast.If:
    """`if not flag: body` (`if not (f1 or f2): body` for two flags), marked with the line of
    the loop whose exit it guards (`exit_loop`: errors name the loop, not this if)."""
    test = _name(flags[0], node) if len(flags) == 1 else ast.copy_location(
        ast.BoolOp(op=ast.Or(), values=[_name(f, node) for f in flags]), node)
    test = ast.copy_location(ast.UnaryOp(op=ast.Not(), operand=test), node)
    guard = ast.copy_location(ast.If(test=test, body=body, orelse=[]), node)
    guard.exit_loop = loop.lineno
    return guard


def _loop(loop) -> list:
    """The statements that replace `loop`: its flags set, the loop, its returns, its `else`."""
    tag = f"{loop.lineno}_{loop.col_offset}"
    # errors show the user's header, not the flags (kept if the AST is rewritten again)
    loop.header = getattr(loop, "header", None) or construct_text(loop)
    returns = _returns(loop.body)
    breaks = contains(loop.body, ast.Break, through_loops=False)
    # `while True:` without a break ends by a return only: the last needs no test (the path
    # past the loop, which would return None, is never taken)
    endless = isinstance(loop, ast.While) and isinstance(loop.test, ast.Constant) \
        and loop.test.value is True and not breaks
    brk = f"__break_{tag}" if returns or breaks else None
    cnt = f"__continue_{tag}" if contains(loop.body, ast.Continue, through_loops=False) \
        else None
    ret = f"__return_{tag}" if returns else None
    exits = _Exits(brk, cnt, ret, loop, {id(r): k for k, r in enumerate(returns, 1)})
    body = _guarded(loop.body, exits)
    if cnt:
        body.insert(0, _set(cnt, False, loop.body[0]))
    if brk and isinstance(loop, ast.For):
        item = f"__item_{tag}"
        assign = ast.copy_location(ast.Assign(targets=[loop.target], value=_name(item, loop)),
                                   loop)
        body = [_unless([brk], [assign, *body], loop, loop)]
        body[0].header = loop.header
        loop.user_target = loop.target      # (generated code names values after it)
        loop.target = _name(item, loop, store=True)
    before = ([_set(brk, False, loop)] if brk else []) + ([_set(ret, 0, loop)] if ret else [])
    if brk and isinstance(loop, ast.While):
        # the test, evaluated last in the body only while the loop has not broken (Python
        # does not evaluate it after a break: it may index past the end)
        go = f"__go_{tag}"

        def test():
            return ast.copy_location(ast.Assign(targets=[_name(go, loop, store=True)],
                                                value=copy.deepcopy(loop.test)), loop)
        body.append(ast.copy_location(ast.If(test=_name(brk, loop), body=[_set(go, False, loop)],
                                             orelse=[test()]), loop))
        before.append(test())
        loop.test = _name(go, loop)
    orelse, loop.body, loop.orelse = loop.orelse, body, []
    loop.exit_flag = brk
    # each return, evaluated after the loop: the loop broke right after it, so every name
    # holds what it held there. They are chained (if, elif, else: the else, or the last
    # return of an endless loop), so where the loop is left by returns only, every path past
    # it returns, as in Python
    if returns and endless:
        after, numbered = [returns[-1]], returns[:-1]
    else:
        after, numbered = orelse, returns
        if orelse and breaks:
            after = [_unless([brk], orelse, orelse[0], loop)]
    for k, r in reversed(list(enumerate(numbered, 1))):
        guard = _returned(ret, k, r, loop)
        guard.orelse = after
        after = [guard]
    return before + [loop] + after


def _returned(ret: str, k: int, r: ast.Return, loop) -> ast.If:
    """`if <ret> == k: r`, marked with the loop's line (`returns_from`: errors name it)."""
    test = ast.copy_location(ast.Compare(left=_name(ret, r), ops=[ast.Eq()],
                                         comparators=[ast.copy_location(ast.Constant(k), r)]), r)
    guard = ast.copy_location(ast.If(test=test, body=[r], orelse=[]), r)
    guard.returns_from = loop.lineno
    return guard


class _Exits:
    """A loop's flags (`brk`, `cnt`, `ret`: names or None; `flags`: those a guard tests) and
    the number each of its returns sets `ret` to (`codes`, by id of the Return node)."""

    def __init__(self, brk, cnt, ret, loop, codes):
        self.brk, self.cnt, self.ret = brk, cnt, ret
        self.flags = [f for f in (brk, cnt) if f]
        self.loop, self.codes = loop, codes


def _returns(stmts) -> list:
    """The `return` statements of a loop body (not of nested functions; nested loops have
    been rewritten, their returns moved after them), in order."""
    found, stack = [], list(reversed(stmts))
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Return):
            found.append(n)
        elif isinstance(n, ast.If):
            stack.extend(reversed(n.body + n.orelse))
    return found


def _guarded(stmts: list, exits: _Exits) -> list:
    """`stmts` with break, continue and return as flag assignments, the rest after a statement
    that may set a flag under a guard."""
    out = []
    for i, s in enumerate(stmts):
        if isinstance(s, ast.Break):
            out.append(_set(exits.brk, True, s))
            return out                      # what follows a break never runs
        if isinstance(s, ast.Continue):
            out.append(_set(exits.cnt, True, s))
            return out
        if isinstance(s, ast.Return):
            out += [_set(exits.ret, exits.codes[id(s)], s), _set(exits.brk, True, s)]
            return out
        if isinstance(s, ast.If) and contains([s], _EXITS, through_loops=False):
            s.body = _guarded(s.body, exits)
            s.orelse = _guarded(s.orelse, exits)
            out.append(s)
            rest = _guarded(stmts[i + 1:], exits)
            if rest:
                out.append(_unless(exits.flags, rest, rest[0], exits.loop))
            return out
        out.append(s)
    return out
