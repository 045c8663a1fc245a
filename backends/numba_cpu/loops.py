"""Loops compiled whole: a driver's `for` or `while` as one `@njit` function.

A driver runs a loop's body as Python, each step a few kernel calls and NumPy lines: 13-15 us a
step for the gradient of an RNN on 16 numbers, whose arithmetic takes well under one. So a
loop (one not inside another loop) becomes the function `loop` of a module of its own, taking
the values the loop reads and returning its results, and the driver calls it
(`hs_2, tape_1 = l_<key>.LOOP(n, hs_1, w, xs)`, `runtime.Loop`). Its text is what the driver
would have written in the loop's place (`DriverGen` with `compiling` set), but for five
things Numba needs: kernels are called directly, as one chunk (`k.body(0, 0, rows, ...)`,
partial sums allocated and combined in line), arrays carried into the loop are C-ordered
arrays of their own (`.copy()` where the loop updates them in place, else
`np.ascontiguousarray`: a broadcast zero is read-only, and Numba cannot give one variable a
read-only array and then a writable one), 0-d values are scalars (`rt.scalar(x)` of those it
reads, `x = x[()]` after a kernel wrote one: a 0-d array and a scalar are two types to Numba,
and one variable must keep one), new arrays are `np.empty`, never the arena's, and gathers and
assignments at arrays of indices are the runtime's `take` and `put` (registry lowering
`compiled`), which check their indices: Numba's `take` has no `axis`, and its fancy indexing
takes one 1-d index array only.
The one text runs either way: as Python (a step then costs what it cost in the driver, as it
does while a child process compiles it once hot: runtime.Compiled) or compiled with bounds
checks (an index out of bounds raises, the Python run names the user's line). A loop with a
step Numba cannot run (other `runtime` calls: big products; the arena; module-level array
constants) or a call of another generated function stays in the driver.

A function on small arrays (driver.small_function) is written so too, whole, its lines
ending in its `return`, as the function `loop` of a module run by `runtime.Whole`
(`WHOLE = rt.Whole(loop)`), which the driver calls before its own steps: compiled, it gives the
function's results, else the driver runs its steps (the text's Python run is never used).

The module is a kernel file (`cache.load`): keyed by its text (which holds a stamp of
runtime.py), shared by identical loops, and its machine code kept in Numba's disk cache.
"""
from __future__ import annotations

import re
from pathlib import Path

from ...cachedir import source_stamp
from ...ir.rewrite import defined_inside, used_values

# what a compiled loop cannot hold: runtime helpers but the tape's, the scalars', the
# gathers' and reshape's, a planned buffer or the arena, a module-level array constant
UNSUPPORTED = re.compile(r"\brt\.(?!(new_tape|scalar|take|put|scatter_add|reshape)\()|\bB\[|"
                         r"\barena_\w+\.|\bCONSTANT_\d+")
KERNEL = re.compile(r"\bk_[0-9a-f]{16}\b")
FLAGS = "cache=True, nogil=True, boundscheck=True, error_model='numpy'"
# Numba's disk cache does not see the runtime's helpers change (the tape's typed list): its
# stamp in the text gives a changed runtime other files
STAMP = f"# runtime {source_stamp([Path(__file__).parent / 'runtime.py'])[:12]}"


def free_values(op) -> list:
    """The values `op`'s regions read that are defined outside it, operands first, each once."""
    inside = defined_inside(op)
    return list(dict.fromkeys(v for v in used_values(op) if v not in inside))


def compilable(op) -> bool:
    """Can the loop `op` be one function? Not with a call of another generated function."""
    return not any(inner.name == "call" for region in op.regions for inner in region.walk())


def module(params: list[str], lines: list[str], results: list[str] | None,
           runner="Loop") -> str | None:
    """The source of the module of a loop written as `lines` (at depth 1) reading `params` and
    assigning `results` (None: a whole function's lines, which end in its `return`), run by
    `runtime.<runner>`, or None where a line cannot be compiled."""
    body = "\n".join(lines)
    if UNSUPPORTED.search(body):
        return None
    kernels = sorted(set(KERNEL.findall(body)))
    head = [STAMP, "import numpy as np", "from numba import njit",
            "from adcompiler.backends.numba_cpu import runtime as rt",
            "from adcompiler.backends.numba_cpu.cache import load_key", "",
            *(f"{k} = load_key({k[2:]!r})" for k in kernels)]
    ret = [] if results is None else [f"    return {', '.join(results) or 'None'}"]
    return "\n".join([*head, "", "", f"@njit({FLAGS})", f"def loop({', '.join(params)}):",
                      body, *ret, "", "", f"{runner.upper()} = rt.{runner}(loop)", ""])
