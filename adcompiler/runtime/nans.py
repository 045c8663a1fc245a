"""NaN checking for generated NumPy code.

The compiled program runs under `np.errstate(invalid="raise")`; when an operation makes a NaN,
the traceback's generated line is mapped back, through the `# file:line  code` comment the
code generator wrote above it, to the user's line, and a `NaNError` names it.
"""
from __future__ import annotations

import re
import sys
import traceback

import numpy as np

from ..errors import AdcompilerError


class NaNError(AdcompilerError):
    """An operation of the compiled program produced a NaN."""


def loc_of_generated_line(source: str, lineno: int):
    """The `# file:line  code` comment that precedes a generated line."""
    lines = source.splitlines()
    for ln in reversed(lines[:lineno]):
        m = re.match(r"\s*# (\S+:\d+)(?:  (.*))?$", ln)
        if m:
            return m.group(1), (m.group(2) or "").strip()
    return None, None


def run_checked(program, thunk, check_nans: bool):
    if not check_nans:
        return thunk()
    try:
        with np.errstate(invalid="raise"):
            return thunk()
    except FloatingPointError as e:
        tb = [f for f in traceback.extract_tb(sys.exc_info()[2])
              if f.filename.startswith("<adcompiler")]
        where, code = loc_of_generated_line(program.source, tb[-1].lineno) if tb else (None,
                                                                                         None)
        raise NaNError(f"NaN produced at {where or '<unknown>'}"
                       + (f" in '{code}'" if code else "")
                       + f" ({e}; generated line: {tb[-1].line if tb else '?'})") from None


