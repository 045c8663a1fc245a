"""The supported Python subset, checked before tracing (after `inline_errstate`, which
splices `with np.errstate(...):` blocks into their places).

`check_syntax(fn_node, filename)` walks a function's AST (nested functions included) and raises
ONE `UnsupportedSyntax` listing every unsupported construct with its line, so a user fixes them
all at once. What is rejected here can never be traced (generators, exceptions, context
managers, classes, scope declarations, `del`, `match`, `:=`, sets, decorated nested
functions; attribute assignment is checked while tracing: statements.store_attribute). What
depends on values (a run-time mask read, a shape that depends on data) is reported while
tracing, as a TraceError.
"""
from __future__ import annotations

import ast

from ..errors import UnsupportedSyntax

_NAMES = {
    ast.Yield: "yield", ast.YieldFrom: "yield from", ast.Await: "await",
    ast.AsyncFunctionDef: "async def", ast.AsyncFor: "async for", ast.AsyncWith: "async with",
    ast.Try: "try", ast.With: "with", ast.ClassDef: "class", ast.Global: "global",
    ast.Nonlocal: "nonlocal", ast.Delete: "del", ast.NamedExpr: "walrus (:=)",
    ast.Set: "set literal", ast.SetComp: "set comprehension",
}
for _name, _what in (("TryStar", "try"), ("Match", "match"), ("TypeAlias", "type alias")):
    if hasattr(ast, _name):
        _NAMES[getattr(ast, _name)] = _what


def problems(fn_node) -> list[tuple[str, int]]:
    """(construct, line) for each unsupported construct under `fn_node`."""
    found = []
    call_args = set()
    for n in ast.walk(fn_node):
        if isinstance(n, ast.Call):
            call_args.update(id(a) for a in n.args)
    for n in ast.walk(fn_node):
        what = _NAMES.get(type(n))
        if what is None and isinstance(n, ast.GeneratorExp) and id(n) not in call_args:
            what = "generator expression outside a call"
        if what is None and isinstance(n, ast.FunctionDef) and n is not fn_node \
                and n.decorator_list:
            what = "decorator on a nested function"
        if what is None and isinstance(n, ast.Starred) and isinstance(n.ctx, ast.Store) \
                and isinstance(getattr(n, "value", None), ast.Starred):
            what = "nested starred assignment"
        if what is not None:
            found.append((what, n.lineno))
    return sorted(found, key=lambda p: p[1])


class _InlineErrstate(ast.NodeTransformer):
    def visit_With(self, node):
        self.generic_visit(node)
        return node.body if all(_errstate(item) for item in node.items) else node


def _errstate(item) -> bool:
    """Is a with's item `np.errstate(...)` (no `as`) whose modes only ignore or warn? One that
    raises or calls would need NumPy's error state in the compiled code: it stays refused."""
    call = item.context_expr
    return item.optional_vars is None and isinstance(call, ast.Call) and not call.args \
        and isinstance(call.func, ast.Attribute) and call.func.attr == "errstate" \
        and isinstance(call.func.value, ast.Name) and call.func.value.id in ("np", "numpy") \
        and all(isinstance(k.value, ast.Constant) and k.value.value in ("ignore", "warn")
                for k in call.keywords)


def inline_errstate(fn_node) -> None:
    """Splice the bodies of `with np.errstate(...):` blocks that ignore or warn into their
    places: NumPy's error state inside the compiled code is adcompiler's own (its NaN check,
    its warnings at the user's line), so such a block is traced as if written without it."""
    _InlineErrstate().visit(fn_node)


def check_syntax(fn_node, filename: str) -> None:
    found = problems(fn_node)
    if found:
        raise UnsupportedSyntax([(what, (filename, line)) for what, line in found])
