"""Run-time errors of generated code, named at the user's line: NaNs, indices out of bounds,
failed assertions and singular matrices.

The compiled program runs under `np.errstate(invalid="raise")`; when an operation makes a NaN
that reaches a result (`raising_where_a_result_is_nan`: a NaN that a `where` drops is no
error, as in NumPy), the traceback's generated line is mapped back, through the
`# file:line  code` comment the code generator wrote above it, to the user's line, and a
`NaNError` names it. An index out of bounds (an integer array or scalar passed at run time;
NumPy raises IndexError) is named the same way, as an `IndexOutOfBounds`, which is also an
IndexError, a failed `assert` on a run-time value as an `AssertionFailed`, which is also an
AssertionError, and a matrix np.linalg cannot invert or factor (singular, or not positive
definite for cholesky) as a `LinAlgError`, which is also NumPy's `np.linalg.LinAlgError`.
NumPy's floating-point warnings (divide by zero, overflow...: where `np.geterr()` says
"warn") are RuntimeWarnings at the user's line too, not the generated one's, through NumPy's
error callback (`np.errstate` is per thread and context in NumPy 2, unlike
`warnings.catch_warnings`).
"""
from __future__ import annotations

import contextlib
import contextvars
import linecache
import os
import re
import sys
import threading
import traceback
import warnings
from typing import NamedTuple

import numpy as np

from ..errors import AdcompilerError


class NaNError(AdcompilerError):
    """An operation of the compiled program produced a NaN."""


class IndexOutOfBounds(AdcompilerError, IndexError):
    """An index passed at run time is out of bounds of the axis it indexes."""


class AssertionFailed(AdcompilerError, AssertionError):
    """A user's `assert` on a run-time value failed in compiled code."""


class LinAlgError(AdcompilerError, np.linalg.LinAlgError):
    """np.linalg failed on a run-time matrix: singular, or not positive definite."""


_JOINED_BELOW = 1 << 12      # elements: smaller float arrays are looked at together (has_nan)


def has_nan(out) -> bool:
    """Does a generated function's output (an array, a scalar or tuples of them) hold a NaN?
    (This runs on every checked call, on every result and gradient. An array's maximum is NaN
    where an element is: one NumPy call that writes no temporary, where isnan and any are two
    calls and a boolean array, and raises no floating-point error (NumPy's maximum loops clear
    the invalid flag a NaN sets); small arrays are joined first, so they take one such call
    all together.)"""
    small = []
    for x in _floats(out, []):
        if x.ndim == 0:
            if x != x:
                return True
        elif x.size < _JOINED_BELOW:
            small.append(x)
        elif np.isnan(np.maximum.reduce(x, axis=None)):
            return True
    return bool(small) and bool(np.isnan(np.maximum.reduce(np.concatenate(small, axis=None),
                                                           initial=-np.inf)))


def _floats(out, found: list) -> list:
    """`found` with the float arrays and scalars of an output (tuples taken apart)."""
    if isinstance(out, tuple):
        for x in out:
            _floats(x, found)
    elif isinstance(out, (np.ndarray, np.floating)) and out.dtype.kind == "f":
        found.append(out)
    return found


def raising_where_a_result_is_nan(run, again=None, values=0, differs=""):
    """`run()` as a backend runs its generated code when the caller asked for invalid-value
    errors (`np.errstate(invalid="raise")`, as the API does by default): only a NaN that
    reaches a result is an error (NumPy's own `np.where(x > 0, np.log(x), x)` warns and goes
    on; so do these programs). Run without raising first; when a result holds a NaN, run
    `again` (default: `run`; the Numba backend's kernels cannot note invalid values: its
    `again` is the NumPy reference) noting each operation that made a NaN: the last one made
    the NaN that reached a result (those before it may be NaNs a where dropped), and the
    NaNError names it. None: the NaN came in with an input, and is returned; or, where the
    NumPy reference's results hold none, the backend's own kernels made it beyond what they
    compute, and an error says so. Otherwise just `run()`. The first `values` outputs are
    results of the forward sweep (a gradient's loss): where one holds a NaN, the NaN to name
    is the last the forward made (the gradient's NaNs follow from it: a 0/0 loss). `differs`:
    what else may make the backend's result differ from the reference's (its options)."""
    if np.geterr()["invalid"] != "raise":
        return run()
    if not _WARNS.get():
        with np.errstate(invalid="ignore"):
            out = run()
        nan = has_nan(out)
    else:               # NumPy's warnings of the run, held until its results are looked at
        held, nan = [], None

        def hold(kind, flag):
            held.append((kind, _running_site()))
        try:
            with np.errstate(invalid="call", call=hold):
                out = run()
            nan = has_nan(out)
        finally:        # (an invalid value that made a NaN result: the NaNError says it)
            for kind, site in held:
                if not (nan and kind == "invalid value"):
                    _warn_at(kind, site)
    if not nan:
        return out
    found, overflows = [], []

    def note(kind, flag):       # NumPy's error callback: the generated line running the op
        site = _running_site()
        if site is not None:
            if kind == "overflow":
                overflows.append((len(found), site))   # (how many NaNs came before)
            else:
                found.append(site)
    with np.errstate(call=note, invalid="call", divide="ignore", over="call", under="ignore"), \
            _searching():
        reference = (again or run)()
    if again is not None and not has_nan(reference):
        raise NaNError("the Numba backend's result holds a NaN that NumPy's computation of it "
                       "does not. The two differ where values overflow (the kernels fuse and "
                       "order operations their own way: inf - inf, 0 * inf) and in float32 sin "
                       "and cos of |x| above 4.2e8 (where float32 holds no phase: its spacing "
                       "there is 32). Look for values that grow out of range (a learning rate "
                       "too large), or run with backend='numpy', which computes this without "
                       "the NaN and whose overflow warnings name the line" + differs)
    if found:
        value_nan = values and has_nan(out[:values] if isinstance(out, tuple) else out)
        if value_nan:
            last = max((k for k, e in enumerate(found) if not _in_gradient(e)), default=None)
            found = found if last is None else found[:last + 1]
        raise NaNError(_nan_message(found, [e for k, e in overflows if k < len(found)],
                                    gradient_only=bool(values) and not value_nan))
    return out


_SEARCH = threading.local()


@contextlib.contextmanager
def _searching():
    """This thread runs the program again to find a NaN's line: its prints are not shown
    (`generated_print`; what it prints, the first run printed). Not by redirecting
    sys.stdout, which every thread shares: two threads searching at once each put back the
    other's stand-in, and the program's output was lost from then on."""
    before = getattr(_SEARCH, "on", False)
    _SEARCH.on = True
    try:
        yield
    finally:
        _SEARCH.on = before


def generated_print(*args, **kwargs):
    """The `print` of generated code (backends/numpy/codegen.py `compile_source`)."""
    if not getattr(_SEARCH, "on", False):
        print(*args, **kwargs)


def _nan_message(found, overflows=(), gradient_only=False) -> str:
    """Where the last of the invalid operations `found` (`_site`s) is, the user's lines of the
    ones before it, and of the first overflow to inf before it. `gradient_only`: the NaN
    reached the gradient, not the value (`found[-1]` may be in the forward sweep, in a where's
    branch not taken)."""
    def user(site):
        where, code, via = _quoted_above(site.filename, site.lineno)
        return where or "<unknown>", code, via
    where, code, via = user(found[-1])
    line = _generated_line(found[-1])
    earlier = sorted({user(e)[0] for e in found[:-1]} - {where})
    return (f"NaN produced at {where}" + (f" in '{code}'" if code else "") + via
            + f" (an invalid value; generated line: {line})"
            + (f"; operations at {', '.join(earlier)} made NaNs before it, which a where may "
               "have dropped" if earlier else "")
            + (f"; values overflowed to inf before it, first at {user(overflows[0])[0]} (inf - "
               "inf, inf / inf and 0 * inf are NaN): values grown out of range (a learning "
               "rate too large?), or a where's branch not taken that overflows"
               if overflows else "")
            + (("; it is in the gradient: a where's branch not taken that holds inf or NaN "
                "(np.log of 0, np.sqrt of a negative) still gets 0 times its derivative, which "
                "is NaN: make that branch finite, np.where(p > 0, np.log(np.where(p > 0, p, "
                "1.0)), 0.0)" if _selects(found[-1]) else
                "; it is in the gradient: a derivative with no value there (0 / 0, as np.std's "
                "of equal values; inf - inf; 0 * inf, as a norm of order below 1 at 0; the log of "
                "a negative base, in a power's derivative in its exponent)")
               if _in_gradient(found[-1]) or gradient_only and _selects(found[-1]) else ""))


def _selects(site) -> bool:
    """Does the user's code that `site`'s generated code computes choose with a where (the
    only way a NaN made in a branch not taken reaches the gradient)? Read from the user's
    lines the generated code quotes, not from the code itself: the derivatives of a power,
    a median or a maximum choose with wheres of their own."""
    quoted = (_QUOTED.match(line) for line in linecache.getlines(site.filename))
    return any(m and re.search(r"\bwhere\(", m.group(3) or "") for m in quoted)


# a generated comment quoting the user's line: (indent of its call depth, file:line, code)
# (`codegen.comment_loc` writes them)
_QUOTED = re.compile(r"\s*#( +)(\S+:\d+)(?:  (.*))?$")


def _generated_frame(frame):
    """The innermost frame of generated code at or above `frame`, or None."""
    while frame is not None and not frame.f_code.co_filename.startswith("<adcompiler"):
        frame = frame.f_back
    return frame


class _Site(NamedTuple):
    """A generated line as a frame ran it (the frame moves on)."""
    filename: str
    lineno: int
    function: str


def _site(frame) -> _Site:
    return _Site(frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name)


def _running_site() -> _Site | None:
    """The generated line running the operation whose NumPy error callback calls this (None
    where no generated code runs it)."""
    frame = _generated_frame(sys._getframe(2))
    return None if frame is None else _site(frame)


def _generated_line(site: _Site) -> str:
    return linecache.getline(site.filename, site.lineno).strip()


def _in_gradient(site: _Site) -> bool:
    """Is the generated line a backward sweep's: a `_bwd` function's, or one naming an adjoint
    (`d_x`) in a fused one?"""
    return re.search(r"_bwd(_\d+)?$", site.function) is not None or \
        re.search(r"\bd_\w", _generated_line(site)) is not None


_SHOWN: dict = {}   # the warnings registry of each user's file: "default" shows a warning once


_OPERATORS = {"/": "divide", "*": "multiply", "+": "add", "-": "subtract", "**": "power",
              "//": "floor_divide", "%": "remainder"}


def _ufunc_of(line: str) -> str | None:
    """The NumPy function a generated line calls (`y = np.log(x)`, `div = c / x`), named as
    NumPy's warnings name it, or None."""
    called = re.findall(r"\bnp\.(\w+)\(", line)
    if len(called) == 1:
        return called[0]
    op = re.fullmatch(r"\s*\w+ = \w+ (\S+) \w+\s*", line)
    return _OPERATORS.get(op.group(1)) if op and not called else None


def _warn_at_user_line(kind, flag):
    """NumPy's error callback: warn as NumPy does, at the user's line the generated one runs:
    NumPy's words ('divide by zero encountered in log', which warning filters match), then
    the user's code."""
    _warn_at(kind, _running_site())


def _warn_at(kind, site):
    """NumPy's warning of `kind` at the user's line of the generated line `site` (None: none
    known)."""
    if site is None:
        warnings.warn(f"{kind} encountered", RuntimeWarning, stacklevel=3)
        return
    line = _generated_line(site)
    ufunc = _ufunc_of(line)
    message = f"{kind} encountered" + (f" in {ufunc}" if ufunc else "")
    where, code = loc_of_generated_line(site.filename, site.lineno)
    if where is None:
        message += f" (generated line: {line})"
        filename, lineno = site.filename, site.lineno
    else:
        filename, lineno = where.rsplit(":", 1)
        lineno = int(lineno)
        filename = _user_file(filename, lineno, code)
        message += (", in " + ("the gradient of " if _in_gradient(site) else "")
                    + (f"'{code}'" if code else f"line {lineno}"))
    warnings.warn_explicit(message, RuntimeWarning, filename, lineno,
                           registry=_SHOWN.setdefault(filename, {}))


def _user_file(name, lineno, code):
    """The full path of the user's file `name` (the generated comments give its base name)
    whose line `lineno` reads `code`, as linecache holds it (a traced function's file is
    read through linecache); `name` itself where no file, or more than one, does."""
    found = {path for path in list(linecache.cache)
             if os.path.basename(path) == name
             and linecache.getline(path, lineno).strip().startswith(code)}
    return found.pop() if len(found) == 1 else name


# whether the caller's invalid values warn where `_errstate` made them raise: then the first
# run of `raising_where_a_result_is_nan` warns of those that reach no result, as NumPy would
_WARNS = contextvars.ContextVar("adcompiler_invalid_warns", default=False)


def _errstate(check_nans: bool):
    """(the np.errstate generated code runs under, whether invalid values that reach no
    result warn: `_WARNS`): invalid values raise when `check_nans`, and NumPy's warnings name
    the user's line (see the docstring). A caller who set a mode to "call" or "log" has an
    error callback of their own, which the latter would replace for every kind: then their
    callback stays."""
    modes = np.geterr()
    state = {}
    if "warn" in modes.values() and "call" not in modes.values() \
            and "log" not in modes.values():
        state = {kind: "call" for kind, mode in modes.items() if mode == "warn"}
        state["call"] = _warn_at_user_line
    if check_nans:
        state["invalid"] = "raise"
    return (np.errstate(**state) if state else contextlib.nullcontext(),
            check_nans and "call" in state and modes["invalid"] == "warn")


def loc_of_generated_line(filename: str, lineno: int):
    """(file:line, code) of the `# file:line  code` comment that precedes line `lineno` of
    generated file `filename` (linecache holds its text)."""
    where, code, _ = _quoted_above(filename, lineno)
    return where, code


def _quoted_above(filename: str, lineno: int):
    """`loc_of_generated_line`'s two, and the " via the call(s) at ..." that reached a helper's
    line: the less indented comments above it quote those calls (`codegen.comment_loc`)."""
    where, code, calls, indent = None, None, [], None
    for ln in reversed(linecache.getlines(filename)[:lineno]):
        m = _QUOTED.match(ln)
        if not m or (indent is not None and len(m.group(1)) >= indent):
            continue
        if where is None:
            where, code = m.group(2), (m.group(3) or "").strip()
        else:
            calls.append(m.group(2))
        indent = len(m.group(1))
        if indent == 1:
            break
    many = "s" if len(calls) > 1 else ""
    return where, code, f" via the call{many} at {' -> '.join(calls[::-1])}" if calls else ""


def _user_line(exc):
    """(user's file:line, code, generated line) of the innermost generated frame of `exc`'s
    traceback, read from that frame's own generated file (linecache has it: the Numba
    backend's drivers and its NumPy reference are files apart from any program's `.source`),
    or None when no generated code raised it."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f.filename.startswith("<adcompiler")]
    if not frames:
        return None
    where, code, via = _quoted_above(frames[-1].filename, frames[-1].lineno)
    return where or "<unknown>", (f" in '{code}'" if code else "") + via, frames[-1].line


def run_checked(thunk, check_nans: bool):
    """`thunk()` (a call of generated code), with NaN checking when `check_nans`, and indices
    out of bounds, failed assertions and singular matrices named at the user's line in any
    case; NumPy's warnings name the user's line."""
    state, warns = _errstate(check_nans)
    token = _WARNS.set(warns)
    try:
        with state:
            return thunk()
    except FloatingPointError as e:
        if not check_nans:      # the caller's own np.errstate: theirs to handle
            raise
        where, code, line = _user_line(e) or ("<unknown>", "", "?")
        raise NaNError(f"NaN produced at {where}{code} ({e}; generated line: {line})") from None
    except (np.linalg.LinAlgError, AssertionError, IndexError) as e:
        found = _user_line(e)
        if isinstance(e, AdcompilerError) or found is None:
            raise
        where, code, line = found
        if isinstance(e, np.linalg.LinAlgError):
            raise LinAlgError(f"{e} at {where}{code} (generated line: {line})") from None
        if isinstance(e, AssertionError):
            raise AssertionFailed(f"assertion failed at {where}{code}"
                                  + (f": {e}" if str(e) else "")) from None
        # NumPy's words are about the generated line's arrays: an index into several axes is
        # linearised there, so its index and axis are not the user's
        raise IndexOutOfBounds(f"index out of bounds at {where}{code} (generated line: "
                               f"{line}: {e})") from None
    finally:
        _WARNS.reset(token)
