"""Loop group -> the source of an `@njit` kernel with explicit loops.

Contract: `generate(group, outputs)` returns a `Kernel`: its source, and the values the driver
passes (domain sizes, slice bounds, `inputs`, then preallocated C-contiguous `outputs`). The
source names nothing from the user's program (inputs `x0..`, outputs `o0..`, locals `v0..`),
no sizes and no slice starts and stops (they are arguments; steps are literals), so the
identical layers of a model, and the same layer at another batch size, give the same text;
the text is the kernel's key (`kernels.key`).

Shape of the code: the domain's outer axes (before the group's split) are flattened into rows;
`body(c, r0, r1, ...)` runs rows r0..r1 (chunk c) and, per row, the phases: phase p computes
the row-level values that became available (row reductions of phase p-1 and what depends on
them), then one loop nest over the inner axes that accumulates the row reductions of phase p,
accumulations, and stores outputs. An inner value a later phase reads is stored (output or row
scratch), not recomputed; it is read back from an output only where every row stores its own
entries of it (one that varies along inner axes only is stored by the first row alone). The
driver runs all rows as one chunk (`runtime.run`) or chunks of rows in threads
(`runtime.launch`), each chunk accumulating into its own partial (`partials`), combined at the
end (`combine`). `body` is the only compiled function: each one is compile time.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...ir import registry
from ...ir.types import DTYPES
from ..numpy.codegen import py_attr
from . import cache
from .fusion import loop_kind, numba_rule, operand_links, scalar_constant

WIDE = {"f32": "f64", "f16": "f64"}   # reductions declared "wide" (sum, prod) of narrow floats
                                      # accumulate in float64


@dataclass
class Kernel:
    source: str
    inputs: list
    outputs: list
    domain: tuple
    bounds: tuple       # the update_slices' bounds, passed after the domain's sizes
    rows: int
    # per partial sum `partials` allocates: (its output's index, initial value, constructor)
    accumulations: tuple

    @property
    def key(self) -> str:
        return cache.key(self.source)


def ctor(dtype: str) -> str:
    return "np.bool_" if dtype == "bool" else f"np.{DTYPES[dtype]}"


def literal(value, dtype: str) -> str:
    """A constant as source text: float64 and bool as Python literals (Numba types a float
    literal float64), other dtypes as a call such as np.float32(0.5)."""
    if dtype == "bool":
        return repr(bool(value))
    text = repr(float(value)) if dtype.startswith("f") else repr(int(value))
    text = text.replace('inf', 'np.inf').replace('nan', 'np.nan')
    return text if dtype == "f64" else f"{ctor(dtype)}({text})"


def identity(init: str, dtype: str) -> str:
    if init in ("lowest", "highest"):
        sign = "-" if init == "lowest" else ""
        if dtype.startswith("f"):
            return literal(float(f"{sign}inf"), dtype)
        if dtype == "bool":
            return repr(init == "highest")
        return f"np.iinfo({ctor(dtype)}).{'min' if init == 'lowest' else 'max'}"
    return literal(int(init), dtype)


class _Gen:
    def __init__(self, group, outputs):
        self.g, self.n, self.k = group, len(group.domain), group.split()
        self.members = {r for op in group.ops for r in op.results}
        self.outputs = list(outputs)
        self.out_name = {v: f"o{i}" for i, v in enumerate(self.outputs)}
        self.inputs, self.in_name = [], {}
        self.local = {}
        self.consts = {}        # call text -> module-level name (see `constant`)
        self.scopes = [{}]      # input reads -> local names, the row's then the inner loop's
        self.pending = []       # reads to emit before the next statement (see `read`)
        self.reads = 0
        self.phase = {}
        self.accums = [op for op in group.ops if loop_kind(op) == "reduce"
                       and op.result in group.accums]
        for op in group.ops:
            for x in op.operands:
                if x not in self.members and not scalar_constant(x) and x not in self.in_name:
                    self.in_name[x] = f"x{len(self.inputs)}"
                    self.inputs.append(x)
            self.local[op.result] = f"v{len(self.local)}"
            self.phase[op.result] = self._phase(op)
        # an update_slice's bounds are arguments (b0, b1, ...), not literals: the steps of a
        # loop over shrinking slices (a binomial tree's backward) share one kernel instead of
        # compiling one each (45 kernels for 30 steps)
        self.bounds, self.bound_name = [], {}
        for op in group.ops:
            if loop_kind(op) == "update_slice":
                for d, box in enumerate(sliced(op)):
                    if box:
                        self.bound_name[op, d] = (f"b{len(self.bounds)}",
                                                  f"b{len(self.bounds) + 1}")
                        self.bounds += box[:2]

    # -- analysis ------------------------------------------------------------------------
    def inner(self, v) -> bool:
        return any(a is not None and a >= self.k for a in self.g.maps[v])

    def _phase(self, op):
        ins = [self.phase[x] for x in op.operands if x in self.members]
        p = max(ins, default=0)
        if loop_kind(op) == "reduce" and self.g.is_row_reduction(op):
            return p + 1
        return p

    def row_reduction(self, op):
        return loop_kind(op) == "reduce" and op.result not in self.g.accums \
            and self.g.is_row_reduction(op)

    def reads_inner(self, op) -> bool:
        """A reduction whose operand varies along inner axes runs in an inner loop."""
        x = op.operands[0]
        if x in self.members:
            return self.inner(x)
        return any(a is not None and a >= self.k for a in self.g.itmaps[op])

    def in_loop(self, op) -> bool:
        if loop_kind(op) == "reduce" and (self.row_reduction(op) or op.result in self.g.accums):
            return self.reads_inner(op)
        return self.inner(op.result)

    # -- expressions ---------------------------------------------------------------------
    def constant(self, text) -> str:
        """A constant the kernel reads: a call such as np.float32(0.5) becomes a module-level
        name (K0, K1, ...), which Numba freezes into a typed constant; typing each call in the
        body instead cost ~8 ms of compile time apiece on a slow machine."""
        if "(" not in text:
            return text
        return self.consts.setdefault(text, f"K{len(self.consts)}")

    def index(self, m, shape) -> str:
        if not shape:
            return "()"
        return ", ".join("0" if a is None or s == 1 else f"i{a}" for a, s in zip(m, shape,
                                                                                  strict=True))

    def operand(self, op, i, loop) -> str:
        x = op.operands[i]
        const = scalar_constant(x)
        if const:
            return self.constant(literal(const.attrs["value"], const.attrs["dtype"]))
        if x in self.members:
            if self.inner(x) and self.phase[x] != loop:   # stored by an earlier phase
                if self.stored_by_every_row(x):
                    return f"{self.out_name[x]}[{self.index(self.g.maps[x], x.shape)}]"
                return f"s_{self.local[x]}[{', '.join(f'i{a}' for a in range(self.k, self.n))}]"
            return self.local[x]
        if x.type.rank == 0:
            return self.read(f"ld0({self.in_name[x]})")
        itmap = self.g.itmaps[op]
        m = [None] * x.type.rank
        for d, j in operand_links(op, loop_kind(op))[i]:
            m[d] = itmap[j]
        return self.read(f"{self.in_name[x]}[{self.index(m, x.shape)}]")

    def read(self, text) -> str:
        """An input element (or rank-0 input) as a local, read once per row or loop body: Numba
        types and lowers every indexing it sees (a kernel read 45 of its 131 elements twice or
        more), where LLVM would have merged the repeated loads anyway. Every operand read is
        in bounds, so a read can move before the statement (or the branch) that needs it."""
        for scope in reversed(self.scopes):
            if text in scope:
                return scope[text]
        name = f"e{self.reads}"
        self.reads += 1
        self.scopes[-1][text] = name
        self.pending.append(f"{name} = {text}")
        return name

    def emit(self, out, depth, line):
        """`line` after the reads it needs."""
        out += ["    " * depth + r for r in self.pending] + ["    " * depth + line]
        self.pending = []

    def expr(self, op, loop) -> str:
        kind = loop_kind(op)
        if kind in ("broadcast", "unit_reshape"):
            return self.operand(op, 0, loop)
        if kind == "reduce":    # over size-1 axes only: a copy
            x = self.operand(op, 0, loop)
            return x if op.operands[0].dtype == op.result.dtype else f"{ctor(op.result.dtype)}({x})"
        if kind == "update_slice":
            return self.update_slice(op, loop)
        if kind == "iota":
            a = self.g.itmaps[op][op.attrs["axis"] % op.result.type.rank]
            return f"{ctor(op.result.dtype)}({'0' if a is None else f'i{a}'})"
        args = [self.operand(op, i, loop) for i in range(len(op.operands))]
        attrs = {k: ctor(v) if k == "dtype" else py_attr(k, v) for k, v in op.attrs.items()}
        int64 = registry.get(op.name).lower.get("numba_i64") if op.result.dtype == "i64" else None
        text = (int64 or numba_rule(op)).format(*args, **attrs)
        return text if op.result.type.is_float else f"{ctor(op.result.dtype)}({text})"

    def update_slice(self, op, loop) -> str:
        """x with v in the slice: v's element at the loop point shifted by the slice start."""
        v, itmap, a = op.operands[1], self.g.itmaps[op], op.attrs
        idx, conds = [], []
        for d, step in enumerate(a["steps"]):
            var = "0" if itmap[d] is None else f"i{itmap[d]}"
            start, stop = self.bound_name.get((op, d), (0, None))
            if stop:
                conds.append(f"{start} <= {var} < {stop}")
                if step != 1:
                    conds.append(f"({var} - {start}) % {step} == 0")
            idx.append("0" if v.shape[d] == 1 else
                       (f"({var} - {start})" if step == 1 else f"({var} - {start}) // {step}"))
        const = scalar_constant(v)
        inside = self.constant(literal(const.attrs["value"], const.attrs["dtype"])) if const else \
            f"{self.in_name[v]}[{', '.join(idx)}]"
        return f"({inside} if {' and '.join(conds) or 'True'} else {self.operand(op, 0, loop)})"

    def stored_by_every_row(self, v) -> bool:
        """Whether v is an output each row stores its own entries of, so a later phase of the
        row may read them back from it. One varying along inner axes only is stored by the
        first row (`guard`): a row another thread runs would read it before it is stored, so
        a later phase reads the row's own copy (`s_...`) instead."""
        return v in self.out_name and not self.guard(self.g.maps[v], range(self.k))

    def guard(self, m, axes) -> str:
        missing = [a for a in axes if a not in set(m)]
        return " and ".join(f"i{a} == 0" for a in missing)

    def effect(self, lines, depth, cond, stmt):
        if cond:
            self.emit(lines, depth, f"if {cond}:")
            depth += 1
        self.emit(lines, depth, stmt)

    def init(self, op) -> str:
        """The identity a reduction's accumulator starts from, as source text of the kernel
        (a module constant, `constant`)."""
        return self.constant(self.identity(op))

    def identity(self, op) -> str:
        """That identity as an expression any module with NumPy as `np` can evaluate."""
        return identity(numba_rule(op)["init"], self.acc_dtype(op))

    def acc_dtype(self, op):
        dt = op.result.dtype
        return WIDE.get(dt, dt) if numba_rule(op).get("wide") else dt

    def update(self, op, acc, x) -> str:
        rule = numba_rule(op)
        dt, acc_dt = op.operands[0].dtype, self.acc_dtype(op)
        if dt != acc_dt and (dt, acc_dt) != ("f32", "f64"):   # float32 promotes exactly
            x = f"{ctor(acc_dt)}({x})"
        return rule["update"].format(acc=acc, x=x)

    # -- code ----------------------------------------------------------------------------
    def body(self):
        n, k = self.n, self.k
        sizes = [f"n{a}" for a in range(n)] + [f"b{i}" for i in range(len(self.bounds))]
        parts = [f"p{i}" for i in range(len(self.accums))]
        head = ", ".join(["c", "r0", "r1"] + sizes + [self.in_name[x] for x in self.inputs]
                         + list(self.out_name.values()) + parts)
        out = [f"def body({head}):"]
        later = self._read_later()
        for v in sorted(later, key=lambda v: self.local[v]):
            dims = ", ".join(f"n{a}" for a in range(k, n))
            out.append(f"    s_{self.local[v]} = np.empty(({dims},), {ctor(v.dtype)})")
        # the first row's outer indices by division, then counted up row by row: a division
        # per axis and row cost ~1/3 of a kernel with short rows (the q/k/v gradient's 32)
        rest = "r0"
        for a in reversed(range(k)):
            out.append(f"    i{a} = {rest} % n{a}" if a else f"    i{a} = {rest}")
            if a:
                out.append(f"    q{a} = {rest} // n{a}")
                rest = f"q{a}"
        out.append("    for r in range(r0, r1):")
        start = len(out)
        top = max(self.phase.values(), default=0)
        for p in range(top + 1):
            self.row_level(out, p)
            self.loop(out, p, later)
        if len(out) == start:
            out.append("        pass")
        for depth, a in enumerate(reversed(range(k)), start=2):    # the next row's indices
            pad = "    " * depth
            out.append(f"{pad}i{a} += 1")
            if a:
                out += [f"{pad}if i{a} == n{a}:", f"{pad}    i{a} = 0"]
        return out

    def row_level(self, out, p):
        outer_axes = range(self.k)
        for op in self.g.ops:
            v = op.result
            if self.in_loop(op) or self._exec_phase(op) != p:
                continue
            if op in self.accums:
                self.accumulate(out, 2, op, self.operand(op, 0, p), outer_axes)
                continue
            if not self.row_reduction(op):
                self.emit(out, 2, f"{self.local[v]} = {self.expr(op, p)}")
            self.store(out, 2, v, outer_axes)
        for op in self.g.ops:   # row reductions of the previous loop: their outputs
            if self.row_reduction(op) and self.phase[op.result] == p:
                self.store(out, 2, op.result, outer_axes)

    def store(self, out, depth, v, axes):
        if v in self.out_name:
            m = self.g.maps[v]
            self.effect(out, depth, self.guard(m, axes),
                        f"{self.out_name[v]}[{self.index(m, v.shape)}] = {self.local[v]}")

    def accumulate(self, out, depth, op, x, axes):
        i = self.accums.index(op)
        idx = ", ".join(["c"] + [a for a in [self.index(self.g.maps[op.result], op.result.shape)]
                                 if a != "()"])
        self.effect(out, depth, self.guard(self.g.itmaps[op], axes),
                    f"p{i}[{idx}] = {self.update(op, f'p{i}[{idx}]', x)}")

    def _read_later(self):
        later = set()
        for op in self.g.ops:
            for x in op.operands:
                if x in self.members and self.inner(x) and not self.stored_by_every_row(x) \
                        and self.phase[x] < self._exec_phase(op):
                    later.add(x)
        return later

    def _exec_phase(self, op):
        """The loop an op's operands are read in (a row reduction reads in its input's)."""
        return self.phase[op.result] - 1 if self.row_reduction(op) else self.phase[op.result]

    def loop(self, out, p, later):
        g, n, k = self.g, self.n, self.k
        ops = [op for op in g.ops if self._exec_phase(op) == p and self.in_loop(op)]
        if not ops:
            return
        rows = [op for op in ops if self.row_reduction(op)]
        for op in rows:
            out.append(f"        a_{self.local[op.result]} = "
                       f"{self.init(op)}")
        depth = 2
        for a in range(k, n):
            out.append("    " * depth + f"for i{a} in range(n{a}):")
            depth += 1
        self.scopes.append({})
        all_axes = range(n)
        for op in ops:
            v = op.result
            if op in rows:
                acc = f"a_{self.local[v]}"
                self.emit(out, depth, f"{acc} = {self.update(op, acc, self.operand(op, 0, p))}")
                continue
            if op in self.accums:
                self.accumulate(out, depth, op, self.operand(op, 0, p), all_axes)
                continue
            self.emit(out, depth, f"{self.local[v]} = {self.expr(op, p)}")
            self.store(out, depth, v, all_axes)
            if v in later:
                idx = ", ".join(f"i{a}" for a in range(k, n))
                out.append("    " * depth + f"s_{self.local[v]}[{idx}] = {self.local[v]}")
        self.scopes.pop()
        for op in rows:
            v = op.result
            acc = f"a_{self.local[v]}"
            out.append(f"        {self.local[v]} = "
                       + (acc if self.acc_dtype(op) == v.dtype else f"{ctor(v.dtype)}({acc})"))

    def accumulations(self) -> tuple:
        """Per partial sum, in `accums` order: (the index of its output `o<k>`, its initial
        value (`identity`: the driver allocates a compiled loop's partials too), its
        constructor)."""
        return tuple((int(self.out_name[op.result][1:]), self.identity(op),
                      ctor(self.acc_dtype(op))) for op in self.accums)

    def wrappers(self):
        """(`partials`, `combine`) for a group with accumulations: the driver runs `body` on
        chunks of rows (`runtime.launch`, `runtime.run`), each chunk accumulating into its own
        row of the partials, which `combine` reduces into the outputs, in chunk order, with the
        reduction's NumPy ufunc (registry `combine`). Both are plain Python (a few NumPy calls
        on arrays of the outputs' size): compiled, they would only add compile and load time
        (combine took 0.5-1.7 s of Numba compile each on a slow machine)."""
        if not self.accums:
            return None, None
        n = self.n
        args = [f"n{a}" for a in range(n)] + [f"b{i}" for i in range(len(self.bounds))] \
            + [self.in_name[x] for x in self.inputs] \
            + list(self.out_name.values())
        parts = [f"p{i}" for i in range(len(self.accums))]
        alloc = ["def partials(nch, " + ", ".join(args) + "):"]
        for i, (k, init, make) in enumerate(self.accumulations()):
            alloc.append(f"    p{i} = np.full((nch,) + o{k}.shape, {self.constant(init)}, "
                         f"{make})")
        alloc.append(f"    return ({''.join(p + ', ' for p in parts)})")
        combine = ["def combine(" + ", ".join(args + parts) + "):"]
        # (the one chunk of a loop compiled whole allocates and combines them in line)
        for i, op in enumerate(self.accums):
            combine.append(f"    {self.out_name[op.result]}[...] = "
                           f"np.{numba_rule(op)['combine']}.reduce(p{i}, axis=0)")
        return alloc, combine


def sliced(op) -> list:
    """Per axis of an update_slice, (start, stop, step) where it is sliced, else None."""
    a = op.attrs
    return [None if box == (0, n, 1) else box for n, box in
            zip(op.result.shape, zip(a["starts"], a["stops"], a["steps"]), strict=True)]


def generate(group, outputs, flags: str) -> Kernel:
    """The kernel of `group` writing `outputs`; `flags` are the `@njit` options."""
    gen = _Gen(group, outputs)
    body = gen.body()
    partials, combine = gen.wrappers()
    src = ["import math", "import numpy as np", "from numba import njit",
           "from adcompiler.backends.numba_cpu.mathlib import (fcos, ferfinv, fexp, fexpit,"
           " fexpm1, flog, flog1p, fndtri, fpow, fsin, ftanh, iadd, imul, isub, ld0, vmax,"
           " vmin)", "",
           f"ACCUMULATES = {bool(gen.accums)}"]
    src += [f"{name} = {text}" for text, name in gen.consts.items()]
    src += ["", "", f"@njit({flags})", *body]
    if partials:
        src += ["", "", *partials, "", "", *combine]
    rows = 1
    for s in group.domain[:gen.k]:
        rows *= s
    return Kernel("\n".join(src) + "\n", gen.inputs, gen.outputs, tuple(group.domain),
                  tuple(gen.bounds), rows, gen.accumulations())
