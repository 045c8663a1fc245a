"""`break`, `continue` and a loop's `else` as flags, so a loop may leave early on a run-time
condition (a convergence test, a tolerance reached): the IR's loops have no early exit, but a
flag they carry and `if` ops that test it do the same.

Contract: `remove_exits(fn_node)` rewrites, in place, every `for`/`while` loop of the function
(not of its nested functions, which are rewritten when their own code is read) whose body
breaks or continues (outside nested loops) or that has an `else`, into a loop without them:

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
holds the value it had when the loop broke, as in Python.

On static conditions the flags are Python bools and the guards are resolved while tracing (an
unrolled loop stops at a static break: the new loop's `exit_flag` names the flag that
`LoopsMixin.unroll` reads). On run-time conditions they are run-time booleans: the IR's `for`
op runs its remaining iterations doing nothing, a `while` op stops on its test. Rewriting a
loop that has no break, continue or else is a no-op, so the pass may run again on a function.
"""
from __future__ import annotations

import ast
import copy

from .analysis import contains

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_EXITS = (ast.Break, ast.Continue)


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


def _set(ident: str, value: bool, node) -> ast.Assign:
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
    """The statements that replace `loop`: its flags set, the loop, its `else`."""
    tag = f"{loop.lineno}_{loop.col_offset}"
    brk = f"__break_{tag}" if contains(loop.body, ast.Break, through_loops=False) else None
    cnt = f"__continue_{tag}" if contains(loop.body, ast.Continue, through_loops=False) \
        else None
    flags = [f for f in (brk, cnt) if f]
    body = _guarded(loop.body, brk, cnt, flags, loop)
    if cnt:
        body.insert(0, _set(cnt, False, loop.body[0]))
    if brk and isinstance(loop, ast.For):
        item = f"__item_{tag}"
        assign = ast.copy_location(ast.Assign(targets=[loop.target], value=_name(item, loop)),
                                   loop)
        body = [_unless([brk], [assign, *body], loop, loop)]
        loop.target = _name(item, loop, store=True)
    before = [_set(brk, False, loop)] if brk else []
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
    after = [] if not orelse else [_unless([brk], orelse, orelse[0], loop)] if brk else orelse
    return before + [loop] + after


def _guarded(stmts: list, brk, cnt, flags: list, loop) -> list:
    """`stmts` with break/continue as flag assignments, the rest after a statement that may
    set a flag under a guard."""
    out = []
    for i, s in enumerate(stmts):
        if isinstance(s, ast.Break):
            out.append(_set(brk, True, s))
            return out                      # what follows a break never runs
        if isinstance(s, ast.Continue):
            out.append(_set(cnt, True, s))
            return out
        if isinstance(s, ast.If) and contains([s], _EXITS, through_loops=False):
            s.body = _guarded(s.body, brk, cnt, flags, loop)
            s.orelse = _guarded(s.orelse, brk, cnt, flags, loop)
            out.append(s)
            rest = _guarded(stmts[i + 1:], brk, cnt, flags, loop)
            if rest:
                out.append(_unless(flags, rest, rest[0], loop))
            return out
        out.append(s)
    return out
