"""Syntactic facts about function bodies, read before or while tracing them.

- `local_names(fn_node)`: the names Python treats as local to a function (parameters and every
  name stored in its body, outside nested functions and comprehensions).
- `loaded_names(nodes)`: every name read anywhere below the nodes (nested functions included):
  a conservative liveness, used to decide which values an `if`/loop op must produce.
- `rebound_names(stmts)`: names a block may rebind or mutate: assignment targets, roots of
  `x[i] = v` / `x.a = v` / `x += v`, roots of mutating method calls (`xs.append(v)`), nested
  `def` names. These are the candidates for an `if`'s results and a loop's carried values.
- `contains(stmts, kinds)`: whether a statement of the given kinds occurs, not looking inside
  nested functions, and (for break/continue) not inside nested loops.
"""
from __future__ import annotations

import ast

MUTATING_METHODS = {"append", "extend", "insert", "pop", "remove", "clear", "update",
                    "setdefault", "popitem", "sort", "reverse", "add", "discard", "fill"}
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _walk_scope(node):
    """Nodes below `node`, not entering nested functions or comprehensions."""
    stack = list(ast.iter_child_nodes(node))
    while stack:
        n = stack.pop()
        yield n
        if not isinstance(n, _SCOPES + _COMPREHENSIONS):
            stack.extend(ast.iter_child_nodes(n))


def _arg_names(args: ast.arguments):
    every = args.posonlyargs + args.args + args.kwonlyargs
    every += [a for a in (args.vararg, args.kwarg) if a is not None]
    return [a.arg for a in every]


def local_names(fn) -> frozenset:
    names = set(_arg_names(fn.args))
    body = fn.body if isinstance(fn.body, list) else [fn.body]
    for stmt in body:
        for n in [stmt, *_walk_scope(stmt)]:
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                names.add(n.id)
            elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(n.name)
            elif isinstance(n, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in n.names)
    return frozenset(names)


def rebound_params(fn) -> frozenset:
    """The parameters a function binds again by name (`p = ...`, `p += ...`, a loop's target;
    `del` is unsupported): after one, the name may hold another container than the caller's."""
    params = set(_arg_names(fn.args))
    body = fn.body if isinstance(fn.body, list) else [fn.body]
    return frozenset(n.id for stmt in body for n in [stmt, *_walk_scope(stmt)]
                     if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
                     and n.id in params)


def loaded_names(nodes) -> set:
    """Names the nodes read, an augmented assignment's target (`z += x` reads `z`) included."""
    out = set()
    for node in nodes:
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                out.add(n.id)
            elif isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name):
                out.add(n.target.id)
    return out


def nested_loads(fn) -> frozenset:
    """Names read inside functions nested in `fn` (they may read `fn`'s locals at any time)."""
    out = set()
    for n in _walk_scope(fn):
        if isinstance(n, _SCOPES):
            out |= loaded_names([n])
    return frozenset(out)


def root_name(node):
    """`x` for `x`, `x[i]`, `x.a[j]`, ...; None otherwise."""
    while isinstance(node, (ast.Subscript, ast.Attribute, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def rebound_names(stmts, through_calls=True) -> set:
    """(See the module docstring; `through_calls`: with the names passed to calls, whose
    containers a callee may change.)"""
    out = set()
    for stmt in stmts:
        for n in [stmt, *_walk_scope(stmt)]:
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                out.add(n.id)
            elif isinstance(n, (ast.Subscript, ast.Attribute)) and isinstance(n.ctx, ast.Store):
                out.add(root_name(n))
            elif isinstance(n, ast.AugAssign):
                out.add(root_name(n.target))
            elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) \
                    and n.func.attr in MUTATING_METHODS:
                out.add(root_name(n.func.value))
            elif isinstance(n, (ast.FunctionDef, ast.Import, ast.ImportFrom)):
                out.update([n.name] if isinstance(n, ast.FunctionDef) else
                           [(a.asname or a.name).split(".")[0] for a in n.names])
            if isinstance(n, ast.Call) and through_calls:
                # a container passed to a call may have its entries set by the callee (a helper,
                # grad or vjp of a function that sets them): the region may rebind its entries
                out.update(root_name(a) for a in [*n.args, *(k.value for k in n.keywords)]
                           if isinstance(a, (ast.Name, ast.Subscript, ast.Attribute)))
    out.discard(None)
    return out


def contains(stmts, kinds, through_loops=True) -> bool:
    """Whether a node of `kinds` occurs in `stmts` (not in nested functions; not in nested
    loops unless `through_loops`)."""
    stack = list(stmts)
    while stack:
        n = stack.pop()
        if isinstance(n, kinds):
            return True
        if isinstance(n, _SCOPES):
            continue
        if not through_loops and isinstance(n, (ast.For, ast.While)):
            stack.extend(n.orelse)
            continue
        stack.extend(ast.iter_child_nodes(n))
    return False


def mutates_params(fn) -> bool:
    """Whether a function may change its arguments in place (then it is inlined, so the
    caller sees the change as NumPy's would)."""
    params = set(_arg_names(fn.args))
    body = fn.body if isinstance(fn.body, list) else [fn.body]
    for stmt in body:
        for n in [stmt, *_walk_scope(stmt)]:
            if isinstance(n, (ast.Subscript, ast.Attribute)) and isinstance(n.ctx, ast.Store) \
                    and root_name(n) in params:
                return True
            if isinstance(n, ast.AugAssign) and root_name(n.target) in params:
                return True
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) \
                    and n.func.attr in MUTATING_METHODS and root_name(n.func.value) in params:
                return True
    return False


def _stored(targets) -> set:
    return {n.id for t in targets for n in ast.walk(t)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def exposed_reads(stmts, assigned=frozenset()) -> tuple[set, set]:
    """(names a block may read before assigning them, names surely assigned after it). A loop's
    exposed reads are what its next iteration reads from the previous one."""
    reads, assigned = set(), set(assigned)
    for s in stmts:
        if isinstance(s, ast.If):
            reads |= loaded_names([s.test]) - assigned
            r1, a1 = exposed_reads(s.body, assigned)
            r2, a2 = exposed_reads(s.orelse, assigned)
            reads |= r1 | r2
            assigned = a1 & a2
        elif isinstance(s, ast.For):
            reads |= loaded_names([s.iter]) - assigned
            r1, _ = exposed_reads(s.body, assigned | _stored([s.target]))
            r2, _ = exposed_reads(s.orelse, assigned)
            reads |= r1 | r2
        elif isinstance(s, ast.While):
            reads |= loaded_names([s.test]) - assigned
            r1, _ = exposed_reads(s.body, assigned)
            r2, _ = exposed_reads(s.orelse, assigned)
            reads |= r1 | r2
        elif isinstance(s, (ast.Assign, ast.AnnAssign)):
            targets = s.targets if isinstance(s, ast.Assign) else [s.target]
            reads |= loaded_names([s.value] if s.value is not None else []) - assigned
            reads |= loaded_names(targets) - assigned      # x[i] = v reads x and i
            assigned |= _stored(targets)
        elif isinstance(s, ast.AugAssign):
            reads |= (loaded_names([s.value, s.target]) | {root_name(s.target)}) - assigned
            assigned |= _stored([s.target])
        elif isinstance(s, ast.FunctionDef):
            reads |= loaded_names(s.args.defaults + [d for d in s.args.kw_defaults if d]) \
                - assigned
            assigned.add(s.name)
        elif isinstance(s, (ast.Import, ast.ImportFrom)):
            assigned |= {(a.asname or a.name).split(".")[0] for a in s.names}
        else:
            reads |= loaded_names([s]) - assigned
    reads.discard(None)
    return reads, assigned
