"""The frontend's internal error signals, and how they become user-visible errors.

Contract:
- Helpers that build IR (arith, shapes, indexing, ...) know no source locations: they raise
  `FrontendError(message)`. The interpreter catches it at the innermost AST expression or
  statement and re-raises `TraceError(message, loc, construct)` naming the user's file, line and
  `ast.unparse` of the construct (`located`).
- `StaticNeeded` is the `FrontendError` for "a compile-time value was needed but this is a run-time
  array" (a loop index used as a dict key, a traced value as a shape). It surfaces as
  `StaticValueError`, a `TraceError`, so a loop traced as an IR `for` can catch it and fall back
  to unrolling.
- `Raised` is the `FrontendError` for an exception the user's code raises where every run would
  (a static `raise` or `assert`): its TraceError is also of the exception's class.
- `Fallback` is raised by the control-flow builder when a loop cannot be an IR loop (the carried
  values change type); it never reaches users.
- `reached_through`: an error found in a function the user's code called names the calls
  that reached it, too.
- `api_misuse_located`: an adcompiler function called from traced code (`grad(3)`, a `wrt`
  naming no parameter) raises a plain AdcompilerError, which names no place; it becomes a
  FrontendError, located at the user's call.
"""
from __future__ import annotations

import ast
import contextlib
import functools
import linecache
import sys

from ..errors import AdcompilerError, TraceError, UnsupportedSyntax, is_ours, where


def too_deep(name: str) -> str:
    """The message of a recursion the tracer cannot finish."""
    return (f"recursion too deep while tracing {name}: does it reach its base case? (a "
            "recursion that stops only on a run-time value must be written as a loop; one "
            "that does stop, deeper than about 60 calls, needs a higher "
            f"sys.setrecursionlimit than {sys.getrecursionlimit()}: tracing a call takes "
            "several Python frames)")


def reached_through(err: TraceError | UnsupportedSyntax, site) -> None:
    """Note on an error found in a function the user's code called (a helper in another
    module, a library's function traced as code) the call `site` (file, line) that reached
    it: its message ends "(via the call(s) at user.py:5 -> helper.py:9)", outermost first, as
    a NaN error's does. An error at the call's own line needs no note."""
    locs = [err.loc] if isinstance(err, TraceError) else [loc for _, loc in err.problems]
    if any(loc is None or tuple(loc[:2]) == site for loc in locs) or is_ours(str(site[0])):
        return      # (adcompiler's own code traced as the user's: np.vectorize calling f)
    if not hasattr(err, "via_calls"):
        err.via_calls, err.own_text = [], str(err)
    err.via_calls.append(site)
    many = "s" if len(err.via_calls) > 1 else ""
    chain = " -> ".join(where(s) for s in reversed(err.via_calls))
    err.args = (f"{err.own_text} (via the call{many} at {chain})",)


class FrontendError(Exception):
    """A problem found while building IR; the interpreter adds the location."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@contextlib.contextmanager
def api_misuse_located():
    """Plain AdcompilerErrors raised in the block as FrontendErrors (the module docstring)."""
    try:
        yield
    except AdcompilerError as e:
        if type(e) is not AdcompilerError:      # a TraceError names its place already
            raise
        raise FrontendError(str(e)) from None


class Raised(FrontendError):
    """The traced code raised `exc` on a path every run takes (no run-time branch or loop
    around it): the TraceError is also of exc's class, so `except ValueError` catches it."""

    def __init__(self, message: str, exc: BaseException):
        super().__init__(message)
        self.exc = exc


class StaticNeeded(FrontendError):
    """A run-time value was used where a compile-time (static) value is required."""


class StaticValueError(TraceError):
    """User-visible form of `StaticNeeded`."""


class Fallback(Exception):
    """A loop cannot be built as an IR loop (internal; the caller unrolls or reports `reason`)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def construct_text(node) -> str:
    """Short source text of a node: the header line of compound statements (of a guard that
    exits.py made, the statement it guards first, or the header of the loop it rewrote)."""
    if hasattr(node, "header"):
        return node.header
    if isinstance(node, ast.If) and (hasattr(node, "exit_loop") or hasattr(node, "returns_from")):
        return construct_text(node.body[0])
    if isinstance(node, ast.If):
        return f"if {ast.unparse(node.test)}:"
    if isinstance(node, ast.While):
        return f"while {ast.unparse(node.test)}:"
    if isinstance(node, ast.For):
        return f"for {ast.unparse(node.target)} in {ast.unparse(node.iter)}:"
    if isinstance(node, ast.FunctionDef):
        return f"def {node.name}(...)"
    text = ast.unparse(node)
    return text if len(text) <= 200 else text[:197] + "..."


def located(err: FrontendError, filename: str, node) -> TraceError:
    """The TraceError for `err` raised while handling `node` of `filename`."""
    loc = (filename, getattr(node, "lineno", None)) if getattr(node, "lineno", None) else None
    return located_at(err, loc, construct_text(node))


def at_or_def(at, code) -> tuple:
    """(loc, construct) of an error about `code`'s function as a whole: at the user's line
    `at` that caused it, where the frontend noted one, else at the def."""
    if at:
        return at, linecache.getline(*at[:2]).strip()
    return (code.filename, code.node.lineno), f"def {code.name}"


def located_at(err: FrontendError, loc, construct: str) -> TraceError:
    """The TraceError for `err` at `loc` (file, line), in `construct` (source text)."""
    cls = StaticValueError if isinstance(err, StaticNeeded) else TraceError
    if isinstance(err, Raised):
        try:
            return _raised_as(type(err.exc))(err.message, loc, construct)
        except Exception:       # noqa: BLE001  a class that cannot be mixed in or made so
            pass
    return cls(err.message, loc, construct)


@functools.cache
def _raised_as(exc_class):
    """A TraceError class that is also `exc_class` (a ValueError the user's code raised),
    pickled as itself (a process pool's worker sends it back)."""
    def __reduce__(self):
        return _raised, (exc_class, self.message, self.loc, self.construct)
    return type(exc_class.__name__, (TraceError, exc_class),
                {"__module__": __name__, "__reduce__": __reduce__})


def _raised(exc_class, message, loc, construct):
    return _raised_as(exc_class)(message, loc, construct)


def no_out(out, what: str) -> None:
    """NumPy's `out=` is refused: traced code assigns results."""
    if out is not None:
        raise FrontendError(f"{what}(out=...) is not supported; assign the result")
