"""Errors a user can see. Each names the user's file, line and the construct involved.

`@user_facing` on each public entry (grad's and jit's calls, vjp, jacobian, show, trace...):
an error found deep inside adcompiler (the frontend's interpreter recurses through a dozen of
its own frames per statement) is raised again without those frames, so that the traceback a
user reads ends at the adcompiler call they made, under the message that names their line.
`ADCOMPILER_FULL_TRACEBACK=1` keeps every frame (for reporting a bug in adcompiler).
"""
from __future__ import annotations

import functools
import os
import sys
import warnings


class AdcompilerError(Exception):
    """Base of every error adcompiler raises on user input."""


def user_facing(fn):
    """`fn`, raising its AdcompilerErrors with a traceback whose last frame is this wrapper's
    (raising an error again starts its traceback at the raise): the user's call, one line of
    adcompiler, the message. ADCOMPILER_FULL_TRACEBACK=1 keeps every frame."""
    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AdcompilerError as e:
            if os.environ.get("ADCOMPILER_FULL_TRACEBACK", "0") not in ("", "0"):
                raise
            raise e.with_traceback(None)
    # traced (a jacobian inside a grad, of a jacobian), `fn` is, not this wrapper
    call.__adcompiler_trace__ = lambda ctx, args, kwargs: ctx.call(fn, *args, **kwargs)
    call.__adcompiler_entry__ = fn
    return call


@functools.cache
def is_ours(filename: str) -> bool:
    """Is `filename` adcompiler's own code (its package, its IR and backends, which install
    beside it in a checkout, or a `<adcompiler-...>` source it writes and traces)?"""
    from . import backends, ir      # (not at the top: errors.py is imported by both)
    ours = tuple(os.path.join(p, "") for m in (sys.modules[__package__], backends, ir)
                 for p in m.__path__)
    return filename.startswith(("<adcompiler", *ours))


def warn_at_caller(message: str, category) -> None:
    """warnings.warn, naming the line of the user's code that called into adcompiler."""
    frame, level = sys._getframe(1), 2      # (warn's stacklevel 2 is our caller)
    while frame is not None and is_ours(frame.f_code.co_filename):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def where(loc) -> str:
    return f"{os.path.basename(loc[0])}:{loc[1]}" if loc else "<unknown>"


class RecompileWarning(UserWarning):
    """A function is compiled again and again for new values of its static arguments."""


class UnsupportedSyntax(AdcompilerError):
    """One or more constructs the frontend cannot compile; `problems` lists (construct, loc)."""

    def __init__(self, problems):
        self.problems = list(problems)
        lines = [f"'{what}' at {where(loc)}" for what, loc in self.problems]
        if len(lines) == 1:
            super().__init__(lines[0])
        else:
            super().__init__(f"{len(lines)} unsupported constructs:\n  " + "\n  ".join(lines))


class TraceError(AdcompilerError):
    """A construct that is supported but used wrongly (bad shapes, types, static values)."""

    def __init__(self, message, loc=None, construct=None):
        self.loc, self.construct, self.message = loc, construct, message
        prefix = f"{where(loc)}: " if loc else ""
        what = f" (in '{construct}')" if construct else ""
        # (Exception's own, not the next class's: one that is also the user's exception class,
        # frontend.problems.Raised, must not call its __init__, which may take other arguments)
        Exception.__init__(self, f"{prefix}{message}{what}")
