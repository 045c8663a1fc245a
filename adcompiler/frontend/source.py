"""Finding a Python function's AST and what the interpreter needs to know about it.

Contract: `code_of(pyfn)` returns a `Code` for a Python function or lambda: its `ast` node with
absolute line numbers (the whole source file is parsed, so nested functions and lambdas on a
line with other code are found), the file name, the names local to it, the names its nested
functions read, and whether it mutates its arguments. The syntax check (`syntax.check_syntax`)
runs once per function. `code_of_node(node, filename)` does the same for a `def`/`lambda`
met while interpreting. Results are cached per code object / AST node.
"""
from __future__ import annotations

import ast
import inspect
import linecache
import os
import textwrap
import types
from dataclasses import dataclass, replace

from ..errors import TraceError
from . import analysis
from .exits import remove_exits
from .syntax import check_syntax, inline_errstate


@dataclass(frozen=True, eq=False)
class Code:
    node: ast.AST                      # ast.FunctionDef or ast.Lambda
    filename: str
    name: str
    locals: frozenset
    nested_loads: frozenset
    mutates_params: bool
    rebound_params: frozenset

    @property
    def body(self) -> list:
        return self.node.body if isinstance(self.node.body, list) else \
            [ast.Return(value=self.node.body, lineno=self.node.lineno,
                        col_offset=self.node.col_offset)]


_BY_CODE: dict = {}
_BY_NODE: dict = {}
_FILES: dict = {}


def code_of_node(node, filename: str) -> Code:
    key = id(node)
    hit = _BY_NODE.get(key)
    if hit is None or hit[0] is not node:
        name = getattr(node, "name", "lambda")
        remove_exits(node)
        code = Code(node, filename, name, analysis.local_names(node),
                    analysis.nested_loads(node), analysis.mutates_params(node),
                    analysis.rebound_params(node))
        _BY_NODE[key] = hit = (node, code)
    return hit[1]


def _parse_file(filename: str):
    """(the file's AST, its module's code compiled from the same text) or None. The text is
    the file's now (`checkcache`: after `importlib.reload` the old text was traced)."""
    linecache.checkcache(filename)
    lines = linecache.getlines(filename)
    if not lines:
        return None
    text = "".join(lines)
    hit = _FILES.get(filename)
    if hit is not None and hit[0] == text:
        return hit[1]
    try:
        parsed = ast.parse(text, filename), compile(text, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return None
    _FILES[filename] = (text, parsed)
    return parsed


def _runs(module_code, co) -> bool:
    """Does the module compiled from the text hold `co`'s code (the same bytecode at the same
    line)? Not when the file changed since Python loaded the function: the text would not be
    what runs."""
    for c in module_code.co_consts:
        if isinstance(c, types.CodeType):
            if c.co_name == co.co_name and c.co_firstlineno == co.co_firstlineno \
                    and _same(c, co) or _runs(c, co):
                return True
    return False


def _same(text_code, running) -> bool:
    """Whether `running` is compiled from the text `text_code` is: the same bytecode, names and
    constants; for a function pytest rewrote the asserts of (in a test module: its names start
    '@py'), each name and constant of the text's is still among the running code's."""
    a, b = text_code, running
    if any(n.startswith("@py") for n in b.co_varnames + b.co_names):
        consts = {repr(c) for c in b.co_consts if not isinstance(c, types.CodeType)}
        return set(a.co_names) <= set(b.co_names) and set(a.co_varnames) <= set(b.co_varnames) \
            and all(repr(c) in consts for c in a.co_consts if not isinstance(c, types.CodeType))
    if (a.co_code, a.co_names, a.co_varnames) != (b.co_code, b.co_names, b.co_varnames):
        return False
    ca, cb = a.co_consts, b.co_consts
    return len(ca) == len(cb) and all(
        _same(x, y) if isinstance(x, types.CodeType) and isinstance(y, types.CodeType)
        else type(x) is type(y) and repr(x) == repr(y) for x, y in zip(ca, cb))


def _find(tree, pyfn):
    """The def or lambda node of `pyfn` in its file's AST (None if not found)."""
    co = pyfn.__code__
    name = co.co_name       # (not __name__: functools.wraps sets it to the wrapped function's)
    hits = []
    for n in ast.walk(tree):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name:
            first = min([n.lineno] + [d.lineno for d in n.decorator_list])
            if co.co_firstlineno in (n.lineno, first):
                hits.append(n)
        elif isinstance(n, ast.Lambda) and name == "<lambda>" and n.lineno == co.co_firstlineno:
            if [a.arg for a in n.args.args] == list(co.co_varnames[:co.co_argcount]):
                hits.append(n)
    if len(hits) > 1 and name == "<lambda>":
        hits = _by_column(hits, co)
    if len(hits) > 1:
        raise TraceError(f"cannot tell which of {len(hits)} functions on line "
                         f"{co.co_firstlineno} is {pyfn.__qualname__}; give it its own line "
                         "or a name", (co.co_filename, co.co_firstlineno))
    return hits[0] if hits else None


def _by_column(nodes, co):
    """Several lambdas on one line: pick the one whose body spans the code's instructions."""
    if not hasattr(co, "co_positions"):          # Python 3.10: no column information
        return nodes
    spans = [(c, e) for line, end_line, c, e in co.co_positions()
             if line == end_line == co.co_firstlineno and c is not None and e and e > c]
    if not spans:
        return nodes
    lo, hi = min(c for c, _ in spans), max(e for _, e in spans)
    return [n for n in nodes if (n.body.col_offset, n.body.end_col_offset) == (lo, hi)]


def code_of(pyfn) -> Code:
    co = getattr(pyfn, "__code__", None)
    if co is None:
        raise TraceError(f"cannot trace {pyfn!r}: not a Python function")
    key = (co, co.co_filename)      # equal code objects may come from two files
    if key in _BY_CODE:
        return _BY_CODE[key]
    filename = co.co_filename
    parsed = _parse_file(filename)
    # (a file on disk: a notebook cell's text is what its kernel compiled, with its flags)
    if parsed is not None and os.path.isfile(filename) and not _runs(parsed[1], co):
        raise TraceError(f"the source of {pyfn.__qualname__} in {os.path.basename(filename)} "
                         "changed since Python loaded it, so it is not the code that runs: "
                         "reload its module (importlib.reload) or restart",
                         (filename, co.co_firstlineno))
    node = _find(parsed[0], pyfn) if parsed is not None else None
    if node is None:
        node = _from_getsource(pyfn)
    inline_errstate(node)
    check_syntax(node, filename)
    code = code_of_node(node, filename)
    _BY_CODE[key] = code
    return code


def code_signature(pyfn) -> inspect.Signature:
    """The parameters of `pyfn`'s own code, which its arguments bind to when it is traced (a
    decorated function's: inspect.signature shows the wrapped function's)."""
    return inspect.signature(pyfn, follow_wrapped=False)


_WITH_LOCALS: dict = {}


def with_locals(code: Code, names) -> Code:
    """`code` with `names` among its locals too (a comprehension's variables; the run-time
    arrays a function made in traced code closes over, bound as its own), one per (code,
    names)."""
    names = frozenset(names) - code.locals
    if not names:
        return code
    key = (id(code), names)
    hit = _WITH_LOCALS.get(key)
    if hit is None or hit[0] is not code:
        hit = _WITH_LOCALS[key] = (code, replace(code, locals=code.locals | names))
    return hit[1]


def register(pyfn, node, filename: str) -> None:
    """`pyfn`'s AST is `node`: a function adcompiler made from its own text, which has no
    file (calls.calling)."""
    _BY_CODE[(pyfn.__code__, pyfn.__code__.co_filename)] = code_of_node(node, filename)


def _from_getsource(pyfn):
    try:
        src = textwrap.dedent(inspect.getsource(pyfn.__code__))   # (not a __wrapped__'s)
        tree = ast.parse(src)
    except (OSError, TypeError, SyntaxError):
        raise TraceError(f"cannot find the source of {pyfn.__qualname__} (adcompiler reads "
                         "Python source; functions made by exec or in a REPL have none)",
                         (pyfn.__code__.co_filename, pyfn.__code__.co_firstlineno)) from None
    ast.increment_lineno(tree, pyfn.__code__.co_firstlineno - 1)
    for n in ast.walk(tree):
        if isinstance(n, (ast.FunctionDef, ast.Lambda)):
            return n
    raise TraceError(f"cannot find the source of {pyfn.__qualname__}")
