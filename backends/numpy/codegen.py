"""IR -> Python source that calls NumPy: the reference backend, and how `evaluate` runs IR.

Contract: `generate(fn)` returns the source of a module defining one Python function per IR
function (the entry first, then its callees); each takes the IR function's parameters in order
and returns its result (a tuple when there are several). One statement per op, names from the
user's variables, and before the statements of each Python source line a comment quoting it
(`# model.py:5  h = np.tanh(x @ W + b)`). Ops are lowered from their registry entry's
`lower["numpy"]`: a format string over operands `{0}`, `{args}` and attributes, or a function
`(op, operand_names) -> expression | [statement lines using {out}]`; a lowering may name
`np` and `scipy.special` (imported when used). An array literal of more than
`ArrayConstants.INLINE_MAX` entries (a global array the function reads) is defined once at
module level, as `CONSTANT_<n>`, and copied where a function makes its value.
"""
from __future__ import annotations

import itertools
import linecache
import os

import math

from ...ir import registry
from ...ir.names import Namer, identifier
from ...ir.rewrite import TERMINATORS, users
from ...ir.types import DTYPES

RESERVED = ("np", "scipy", "range", "True", "False", "None", "print")


def py_attr(name: str, value):
    if name == "dtype":
        return f"np.{DTYPES[value]}"
    return repr(value)


def lower_expr(op, args: list[str]):
    """The lowering of a plain op: an expression string, or statement lines using `{out}`."""
    rule = registry.get(op.name).lower.get("numpy")
    if rule is None:
        raise NotImplementedError(f"op {op.name!r} has no NumPy lowering")
    if callable(rule):
        return rule(op, args)
    attrs = {k: py_attr(k, v) for k, v in op.attrs.items()}
    return rule.format(*args, args=", ".join(args), **attrs)


class ArrayConstants:
    """The big array literals of some functions, by module-level name. Inline, a literal is
    parsed again on every call (a 200x200 global array: 6 ms a call, where the product with it
    took 0.4) and printed once per function that makes it; at module level it is built once, and
    each use copies it (`NAME.copy()`: the value is the function's own array, as the literal's
    was, whatever the function or its caller then does with it)."""
    INLINE_MAX = 16     # entries: small literals (an index list, a 3x4 matrix) read best inline

    def __init__(self, fns=()):
        self.names: dict = {}   # (dtype, value) -> name
        self.made: dict = {}    # name -> its literal
        for f in fns:
            for op in f.body.walk():
                if self.is_big(op) and self._key(op) not in self.names:
                    name = self.names[self._key(op)] = f"CONSTANT_{len(self.names)}"
                    self.made[name] = lower_expr(op, [])

    def is_big(self, op) -> bool:
        return op.name == "constant" and math.prod(op.result.type.shape) > self.INLINE_MAX

    @staticmethod
    def _key(op):
        return op.attrs["dtype"], op.attrs["value"]

    def use(self, op) -> str | None:
        """The expression that makes `op`'s value, when it is a module-level constant."""
        name = self.names.get(self._key(op)) if self.is_big(op) else None
        return None if name is None else f"{name}.copy()"

    def definitions(self) -> list[str]:
        return [f"{name} = {literal}" for name, literal in self.made.items()]


class PythonGen:
    """Emits one IR function as Python source. Structured control flow, calls and the
    `# file:line` comments are common to every backend that writes Python (NumPy here, the
    Numba driver by subclassing); `plain` lowers one ordinary op and is what a backend
    overrides, with `block` where it groups ops into kernels."""

    def __init__(self, fn, reserved=(), constants=None):
        self.fn = fn
        self.constants = constants or ArrayConstants()
        # a value must not shadow a function it (or a callee) calls, nor a module-level
        # constant: reserve their names
        functions = tuple(identifier(n) for n in fn.module.functions) if fn.module else ()
        self.name = Namer(RESERVED + tuple(reserved) + functions + tuple(self.constants.made),
                          style=identifier)
        self.lines: list[str] = []
        self.last_loc = None
        # scalar constants read only by plain ops are written where they are read
        # (`h * np.float64(2.0)`), not as a `constant_3 = ...` line (which the passes share
        # between unrelated lines); those returned, yielded or passed keep a name
        structural = {*TERMINATORS, "if", "for", "while", "call"}
        readers = users([fn])
        self.literal = {op.result: lower_expr(op, []) for op in fn.body.walk()
                        if op.name == "constant" and op.result.type.rank == 0
                        and all(u.name not in structural for u in readers.get(op.result, ()))}

    def emit(self, depth, text):
        self.lines.append("    " * depth + text)

    def comment_loc(self, depth, loc):
        if not loc or loc == self.last_loc:
            return
        self.last_loc = loc
        src = linecache.getline(loc[0], loc[1]).strip()
        self.emit(depth, f"# {os.path.basename(loc[0])}:{loc[1]}" + (f"  {src}" if src else ""))

    def n(self, v) -> str:
        return self.literal.get(v) or self.name(v)

    def assign(self, depth, targets, sources):
        if targets:
            self.emit(depth, f"{', '.join(targets)} = {', '.join(sources)}")

    def block(self, block, depth, results=None):
        """Emit the ops of a block; its terminator assigns `results` (names) or returns."""
        for op in block.ops:
            self.op(op, depth, results)

    def op(self, op, depth, results):
        if op.results and op.results[0] in self.literal:
            return
        self.comment_loc(depth, op.loc)
        args = [self.n(v) for v in op.operands]
        if op.name == "return":
            self.emit(depth, "return " + (", ".join(args) if args else "None"))
        elif op.name in ("yield", "condition"):
            if results is not None:
                self.assign(depth, results, args)
        elif op.name in ("if", "for", "while"):
            getattr(self, "op_" + op.name)(op, args, depth)
        elif op.name == "call":
            out = ", ".join(self.n(r) for r in op.results)
            call = f"{identifier(op.attrs['callee'])}({', '.join(args)})"
            self.emit(depth, f"{out} = {call}" if out else call)
        else:
            self.plain(op, args, depth)

    def plain(self, op, args, depth):
        out = self.n(op.result)
        code = self.constants.use(op) or lower_expr(op, args)
        if isinstance(code, str):
            self.emit(depth, f"{out} = {code}")
        else:
            for ln in code:
                self.emit(depth, ln.format(out=out))

    def region(self, block, depth, results):
        """A nested block; `pass` when it emits nothing."""
        self.last_loc = None
        mark = len(self.lines)
        self.block(block, depth, results)
        if all(ln.lstrip().startswith("#") for ln in self.lines[mark:]):   # comments only
            self.emit(depth, "pass")

    def op_if(self, op, args, depth):
        outs = [self.n(r) for r in op.results]
        self.emit(depth, f"if {args[0]}:")
        for i, region in enumerate(op.regions):
            if i == 1:
                self.emit(depth, "else:")
            self.region(region, depth + 1, outs)

    def op_for(self, op, args, depth):
        (body,) = op.regions
        i, *carried = [self.n(a) for a in body.args]
        self.assign(depth, carried, args[1:])
        # np.arange: the index is an i64[] value (a NumPy integer, with .astype), not a Python int
        self.emit(depth, f"for {i} in np.arange({args[0]}):")
        self.region(body, depth + 1, carried)
        self.assign(depth, [self.n(r) for r in op.results], carried)

    def op_while(self, op, args, depth):
        cond, body = op.regions
        carried = [self.n(a) for a in cond.args]
        self.assign(depth, carried, args)
        self.emit(depth, "while True:")
        self.last_loc = None
        flag = self.name.fresh("keep_going")
        self.block(cond, depth + 1, [flag])
        self.emit(depth + 1, f"if not {flag}:")
        self.emit(depth + 2, "break")
        self.assign(depth + 1, [self.n(a) for a in body.args], carried)
        self.block(body, depth + 1, carried)
        self.assign(depth, [self.n(r) for r in op.results], carried)

    def body(self):
        self.block(self.fn.body, 1)

    def function(self) -> str:
        params = ", ".join(self.n(a) for a in self.fn.args)
        self.emit(0, f"def {identifier(self.fn.name)}({params}):")
        self.body()
        return "\n".join(self.lines)


def generate(*fns, epilogue: str = "", names=None) -> str:
    """Python source of `fns` and the functions they call (each once), then `epilogue`.
    `names`: {function name: {value: name}} for values named before (`residual_names`)."""
    seen: dict[str, object] = {}
    for fn in fns:
        for f in [fn] + (fn.callees() if fn.module else []):
            seen.setdefault(f.name, f)
    constants = ArrayConstants(seen.values())
    chunks = ["\n".join(constants.definitions())] if constants.made else []
    for f in seen.values():
        gen = PythonGen(f, constants=constants)
        for v, name in (names or {}).get(f.name, {}).items():
            if name not in gen.name.taken:      # (a value returned twice: named once)
                gen.name.bind(v, name)
        chunks.append(gen.function())
    chunks += [epilogue] if epilogue else []
    body = "\n\n\n".join(chunks)
    # SciPy only where a lowering names it (erf, expit): other programs skip its import time
    special = "import scipy.special\n" if "scipy.special." in body else ""
    imports = "import numpy as np\n" + special
    return imports + "\n\n" + body + "\n"


def residual_names(fwd, n_results: int) -> list[str]:
    """The names the forward function's source gives the residuals it returns, so the
    backward function's parameters and the driver's stash can be called the same (each
    function's own naming would number one hint's values in its own order: a reader
    following `h` from one to the other would follow another value)."""
    gen = PythonGen(fwd)
    gen.function()
    return [gen.n(r) for r in fwd.results[n_results:]]


_COMPILED = itertools.count()     # numbers the generated files


def compile_source(source: str, name: str) -> dict:
    """Execute generated source; returns its namespace. The source is registered with
    linecache under a file name of its own (two programs of one function, say its gradient
    and its `jit`, must not share one), so tracebacks, `inspect` and the run-time errors
    (runtime/nans.py) read the generated lines."""
    filename = f"<adcompiler numpy: {name} #{next(_COMPILED)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {}
    exec(compile(source, filename, "exec"), namespace)
    return namespace


def compile_function(fn, source: str | None = None):
    """Compile `fn` (or the given source for it) to a Python callable."""
    return compile_source(source or generate(fn), fn.name)[identifier(fn.name)]
