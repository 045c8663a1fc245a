"""The IR text form: stable, readable, and read back by `parser.py`.

    func @loss(%x: f64[8], %w: f64[8]) -> f64[] {
      %z = mul %x, %w : f64[8]                  # model.py:3
      %r = if %c : f64[8] {
        yield %z
      } else {
        yield %x
      }
      %acc_1 = for %i in range(%n) carry(%acc = %a0) : f64[] { ... yield %acc_2 }
      %x_1 = while carry(%x = %x0) : f64[] cond(%x_c) { ... condition %p } do(%x_b) { ... yield %y }
      %y = call @helper(%x, %w) : f64[8]
      return %r
    }

One op per line: `%results = name operands {attrs} : result types`, then `# file:line`.
Functions called by the printed one follow it, each once.
"""
from __future__ import annotations

import linecache
import math
import os
import re

from ..errors import is_ours
from .names import Namer, ir_name

LOC_COLUMN = 44
_BARE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def format_attr(v) -> str:
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return v if _bare(v) else repr(v)
    if isinstance(v, tuple):
        return "[" + ", ".join(format_attr(x) for x in v) + "]"
    raise TypeError(f"cannot print attribute {v!r}")


def _bare(word: str) -> bool:
    """Can the string `word` be printed without quotes and read back as itself? Not a word the
    parser reads as another value: true, false, none, or one float() takes (nan, inf, NaN,
    Infinity)."""
    if not _BARE.match(word) or word in ("true", "false", "none"):
        return False
    try:
        float(word)
    except ValueError:
        return True
    return False


def format_loc(loc) -> str:
    return f"{os.path.basename(loc[0])}:{loc[1]}" if loc else ""


def frames(loc) -> list:
    """The (file, line) of each call an op was inlined through, outermost first, then the op's
    own: `loc` is (file, line) or, inlined, (file, line, the call's loc). Lines of adcompiler's
    own code are left out (jacobian's and hessian's loops, the adapters it writes): what they
    compute is quoted as the user's line that called them (an op no line of the user's reached
    keeps its own)."""
    out, own = [], tuple(loc[:2]) if loc else None
    while loc:
        if not is_ours(loc[0]):
            out.append(tuple(loc[:2]))
        loc = loc[2] if len(loc) > 2 else None
    return out[::-1] or ([own] if own else [])


class _Printer:
    def __init__(self):
        self.name = Namer(style=ir_name)
        self.lines: list[str] = []

    def v(self, value) -> str:
        return "%" + self.name(value)

    def vs(self, values) -> str:
        return ", ".join(self.v(x) for x in values)

    def line(self, depth: int, text: str, loc=None):
        text = "  " * depth + text
        if loc:
            text = f"{text + '  ':<{LOC_COLUMN}}# {format_loc(loc)}"
        self.lines.append(text)

    def block(self, block, depth):
        for op in block.ops:
            self.op(op, depth)

    def carry(self, args, inits) -> str:
        return ", ".join(f"{self.v(a)} = {self.v(i)}" for a, i in zip(args, inits, strict=True))

    def op(self, op, depth):
        lhs = f"{self.vs(op.results)} = " if op.results else ""
        types = (" : " + ", ".join(str(r.type) for r in op.results)) if op.results else ""
        if op.name == "if":
            then, other = op.regions
            self.line(depth, f"{lhs}if {self.v(op.operands[0])}{types} {{", op.loc)
            self.block(then, depth + 1)
            self.line(depth, "} else {")
            self.block(other, depth + 1)
            self.line(depth, "}")
        elif op.name == "for":
            (body,) = op.regions
            n, *inits = op.operands
            i, *carried = body.args
            self.line(depth, f"{lhs}for {self.v(i)} in range({self.v(n)}) "
                             f"carry({self.carry(carried, inits)}){types} {{", op.loc)
            self.block(body, depth + 1)
            self.line(depth, "}")
        elif op.name == "while":
            cond, body = op.regions
            self.line(depth, f"{lhs}while carry({self.carry(cond.args, op.operands)}){types} {{",
                      op.loc)
            self.block(cond, depth + 1)
            self.line(depth, f"}} do({self.vs(body.args)}) {{")
            self.block(body, depth + 1)
            self.line(depth, "}")
        elif op.name == "call":
            extra = {k: v for k, v in op.attrs.items() if k != "callee"}
            attrs = (" {" + ", ".join(f"{k}={format_attr(v)}" for k, v in extra.items()) + "}"
                     if extra else "")
            self.line(depth, f"{lhs}call @{op.attrs['callee']}({self.vs(op.operands)}){attrs}"
                             f"{types}", op.loc)
        else:
            text = f"{lhs}{op.name}"
            if op.operands:
                text += " " + self.vs(op.operands)
            attrs = {k: v for k, v in op.attrs.items()}
            if attrs:
                text += " {" + ", ".join(f"{k}={format_attr(v)}" for k, v in attrs.items()) + "}"
            self.line(depth, text + types, op.loc)

    def function(self, fn):
        params = ", ".join(f"{self.v(a)}: {a.type}" for a in fn.args)
        rtypes = ", ".join(str(t) for t in fn.result_types)
        self.line(0, f"func @{fn.name}({params}) -> ({rtypes}) {{", fn.loc)
        self.block(fn.body, 1)
        self.line(0, "}")


def locations(fn) -> list:
    """fn's source location, then each op's, in walk order: the full paths that the text
    abbreviates to base names (`format_loc`)."""
    return [fn.loc] + [op.loc for op in fn.walk()]


def quoted(locs) -> list:
    """The source lines at each location, its call sites' too: what generated code quotes in
    its comments (a program cache key holds them, so an edit that leaves the IR as it was, a
    comment, is not shown from an older build)."""
    lines = [frames(loc) for loc in locs]
    for filename in {f for chain in lines for f, _ in chain}:
        linecache.checkcache(filename)      # (the text now, not as first read)
    return ["\n".join(linecache.getline(f, n).strip() for f, n in chain) for chain in lines]


def hint_printed_names(fn) -> None:
    """Set each value's hint to the name `print_function` gives it (unique in `fn`; the text
    prints the same): what a transform names after the values then follows the printed names
    (the adjoint of `%h_1` is `d_h_1`, and a function made from `fn` calls it `h_1` too).
    Where two values want one name, `fn`'s own values and those named after a call's result
    (`fn.meta["named_at"]`, set by inlining) get it before an inlined helper's own: the
    caller's `h` stays `h`, a helper's own `h` becomes `h_1`."""
    p = _Printer()
    named_at = fn.meta.get("named_at", ())
    for v in fn.args:
        p.name(v)
    values = [v for op in fn.walk() for v in op.results]
    for v in sorted(values, key=lambda v: v not in named_at and len(frames(v.owner.loc)) > 1):
        p.name(v)       # (a stable sort: then in program order)
    p.function(fn)
    for v in fn.args:
        v.hint = p.name(v)
    for op in fn.walk():
        for block in op.regions:
            for v in block.args:
                v.hint = p.name(v)
        for v in op.results:
            v.hint = p.name(v)


def print_function(fn, with_callees: bool = True) -> str:
    chunks = []
    for f in [fn] + (fn.callees() if with_callees and fn.module else []):
        p = _Printer()
        p.function(f)
        chunks.append("\n".join(p.lines))
    return "\n\n".join(chunks) + "\n"
