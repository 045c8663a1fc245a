"""IR function -> the Python driver: kernel calls, BLAS calls, views and control flow.

Contract: `DriverGen(fn, kernels).function()` returns the source of one Python function taking
`fn`'s parameters and returning its results (a tuple when there are several). Each block is
partitioned by `fusion.partition`: a loop group becomes one call of its kernel module
(`rt.run(k_<key>, rows, ...)` on the calling thread, or `rt.launch(k_<key>, rows, ...)` over
threads when the domain is big enough to pay for them) with its outputs preallocated; other ops
follow their registry entry's `lower["numba"]` (an expression, or statements writing a
preallocated `{out}`), but for steps whose whole cost is their call: integer and boolean scalar
arithmetic (`index_arithmetic`) and products too small for BLAS with no planned buffer
(`small_product`) are written as the NumPy backend writes them; `if`/`for`/`while`/`call` are
Python control flow, but that a `for` or `while` not inside another loop is, where it can be,
a function of its own module, which Numba compiles once it is hot (loops.py), and that a
function on small arrays (`small_function`) is also written whole so, called first in its
driver (`w_<key>.WHOLE(...)`), which runs its own steps until that runs compiled. The top-level
block's buffers come from the function's `Arena` (`memory.plan`): `B[i]` below is a planned
buffer, reused every call; a value that outlives the call (returned, carried into a loop, kept
on a tape) gets an array recycled from an earlier call (`Arena.fresh`, per allocation site) or
a new one, and everything inside a loop or branch a new one. Products whose results are only
assembled into one array write into their slices of it (`placement.py`: `x = <view of the
array>  # in array`), and the kernel that would assemble them is left out. Comments quote the
user's source lines, as in the NumPy backend.
"""
from __future__ import annotations


from ...ir import registry
from ...ir.core import Op
from ...ir.names import identifier
from ...ir.rewrite import used_values, users
from ...ir.types import DTYPES
from ...ops.tape import is_tape
from ..numpy.codegen import PythonGen, lower_expr, py_attr
from . import kernels as kgen, loops
from .fusion import loop_kind, numba_rule, partition, scalar_constant
from .memory import Arena, plan
from .runtime import NUMPY_BELOW
from .placement import assemblies

PAR_MIN = 1 << 19       # elements below which starting threads costs more than it saves:
                        # on a 2-core AVX-512 VM, alternating in one process, 1 << 16 -> 1 << 19
                        # made the gradient of train.py's tiny model 13 % faster, small GPT's
                        # 5 %, medium's unchanged (its row kernels have 2**19 elements or more)
WHOLE_PRODUCT_BELOW = 1 << 18  # multiply-adds of a product a function compiled whole may
                                # hold (see `small_function`)
STRUCTURED = ("if", "for", "while", "call", "return", "yield", "condition")
VIEW_KINDS = ("broadcast", "unit_reshape")


def rule_of(op, compiling=False):
    """The op's driver lowering; `compiling`, the one for a loop compiled whole (loops.py)."""
    rule = numba_rule(op)
    if not isinstance(rule, dict):
        return rule
    return rule.get("compiled", rule["driver"]) if compiling else rule["driver"]


def writes_out(op) -> bool:
    """Does the op's lowering write into a preallocated `{out}`? (Statements that bind
    `{out} = ...` themselves, like a tape push, and expressions make their own value.)"""
    rule = rule_of(op)
    code = rule(op, ["_"] * len(op.operands)) if callable(rule) else rule
    return isinstance(code, list) and not any(line.startswith("{out} =") for line in code)


def scalar_arithmetic(group, any_dtype: bool) -> bool:
    """Is the group scalar arithmetic: integer or boolean (a reversed loop's `i = n - 1 - j`),
    or with `any_dtype` of one entry of any dtype (and size-1 reshapes)? NumPy scalars do it in
    ~0.1 us an op, against ~0.8 for a kernel call and its 0-d output, and with no kernel to
    compile (a loop of scalar steps unrolled 40 times made 53 kernels of them: 50 s of Numba
    compiling)."""
    if any_dtype:
        return all(loop_kind(op) in ("elementwise", "unit_reshape", "constant")
                   and all(r.type.size == 1 for r in op.results) for op in group.ops)
    return all(loop_kind(op) == "elementwise"
               and all(r.type.rank == 0 and r.dtype[0] in "ib" for r in op.results)
               for op in group.ops)


def small_product(op) -> bool:
    """A product of fewer multiply-adds than runtime.NUMPY_BELOW, which NumPy's matmul runs:
    where its result has no buffer planned, the driver writes the NumPy backend's `a @ b`
    (~0.6 us, against ~1.3 for an output allocated first and rt.matmul's checks). An RNN on 8
    numbers unrolled 40 steps: its gradient 889 -> 490 us with this, index arithmetic on
    NumPy scalars and runtime.run's shortcut (the NumPy backend's: 440)."""
    return op.name == "matmul" and multiply_adds(op) < NUMPY_BELOW


def multiply_adds(product) -> int:
    """The multiply-adds of a `matmul` op (all its products, a stack's too)."""
    return product.result.type.size * product.operands[0].type.shape[-1]


def small_function(fn) -> bool:
    """Can `fn` be one function compiled whole (loops.py) at no loss, its steps then costing no
    Python call each? Not with a call of another generated function, linear algebra other than
    products (Numba's LAPACK is not NumPy's), a product of `WHOLE_PRODUCT_BELOW` multiply-adds
    or more (compiled, one BLAS call on the calling thread; from the driver, NumPy's matmul on
    its BLAS threads), or an array of `PAR_MIN` elements or more (whose kernel the driver
    runs on the backend's threads)."""
    for op in fn.walk():
        if op.name == "call" or registry.get(op.name).kind == "linalg" and op.name != "matmul":
            return False
        if op.name == "matmul" and multiply_adds(op) >= WHOLE_PRODUCT_BELOW:
            return False
        # (a tape's length is the trip count: its entries count)
        if any(abs(v.type.size) >= PAR_MIN for v in op.results):
            return False
    return all(a.type.size < PAR_MIN for a in fn.args)


def steps_of(block, any_dtype: bool):
    """`partition`, with a lone broadcast or size-1 reshape left to the driver as a view, and
    scalar arithmetic (`scalar_arithmetic`) to NumPy scalars, lowered as the NumPy backend
    lowers it (kind "numpy")."""
    out = []
    for kind, item in partition(block):
        if kind == "kernel" and len(item.ops) == 1 and loop_kind(item.ops[0]) in VIEW_KINDS:
            out.append(("op", item.ops[0]))
        elif kind == "kernel" and scalar_arithmetic(item, any_dtype):
            out.extend(("numpy", op) for op in item.ops)
        else:
            out.append((kind, item))
    return out


class DriverGen(PythonGen):
    """The NumPy code generator's Python (control flow, calls, comments), with plain ops
    grouped into kernel launches and BLAS calls writing into planned buffers."""

    def __init__(self, fn, table, parallel=True, flags="", profile=False, recycle=True,
                 constants=None, functions=None, whole=True):
        # (a value named like a driver's arena, the module global `arena_<function>`, would
        # shadow it)
        arenas = [f"arena_{identifier(name)}" for name in (functions or [fn.name])]
        super().__init__(fn, reserved=arenas, constants=constants, functions=functions)
        self.table, self.parallel, self.flags = table, parallel, flags
        self.profile, self.recycle, self.whole = profile, recycle, whole
        self.sites = 0          # allocation sites of arrays that outlive the call
        self.users = users([fn])
        self.slot_of: dict = {}
        self.arena = None
        self.placed: dict = {}  # product result -> its Assembly (placement.py)
        self.compiling = False  # writing a loop compiled whole (loops.py)

    # -- planning ------------------------------------------------------------------------
    def prepare(self, block):
        """Steps with their kernels, and (defines, reads) per step for the planner."""
        prepared, io = [], []
        # (compiled, a loop or function runs float scalar arithmetic in kernels: Numba's
        # own, in line)
        for kind, item in steps_of(block, any_dtype=not self.compiling):
            if kind == "kernel":
                members = set(item.ops)
                outs = [r for op in item.ops for r in op.results
                        if any(u not in members for u in self.users.get(r, ()))]
                kern = kgen.generate(item, outs, self.flags)
                prepared.append((kind, item, kern))
                io.append((kern.outputs, kern.inputs))
            else:
                prepared.append((kind, item, None))
                io.append((item.results, used_values(item)))
        return prepared, io

    def place(self, prepared, io):
        """Products that write into the array they are assembled into (placement.py): the
        block's assemblies, and the steps left with nothing to do (their kernels, the views
        that led the products' results there, the zeros only those kernels read), with the
        planner's view of the block changed to match."""
        found = assemblies(prepared, self.users)
        if not found:
            return [], set()
        idle = {a.step for a in found}
        unread = {op for a in found for op in prepared[a.step][1].ops}
        unread |= {op for a in found for _, chain in a.pieces.values() for op in chain}
        for index in reversed(range(len(prepared))):
            kind, op, _ = prepared[index]
            if kind == "op" and (op in unread or len(op.results) == 1
                                 and scalar_constant(op.result)
                                 and all(u in unread for u in self.users.get(op.result, ()))):
                idle.add(index)
                unread.add(op)
        for a in found:
            io[a.first] = (list(io[a.first][0]) + [a.value], io[a.first][1])
            self.placed.update(dict.fromkeys(a.pieces, a))
        for index in idle:
            io[index] = ((), ())
        return found, idle

    def plan_top(self, prepared, io):
        aliases, escaping, candidates = {}, set(), set()
        for kind, item, kern in prepared:
            if kind == "kernel":
                candidates.update(kern.outputs)
                continue
            op = item
            if kind == "numpy":
                continue                # NumPy scalars, never in a buffer
            if op.name in STRUCTURED or op.name == "tape_push":
                # what a region reads may leave it as the op's result (`out = y` in a branch
                # yields y itself), which the planner cannot see: such values keep their own
                # memory
                escaping.update(used_values(op))
            elif writes_out(op):
                candidates.update(op.results)
            elif op.operands and op.results:
                aliases[op.result] = op.operands[0]    # may be a view of it
        escaping.update(self.fn.body.terminator.operands)
        for root, a in self.placed.items():
            aliases[root] = a.value
        owner, slots = plan(io, aliases, escaping, candidates)
        self.arena = Arena(slots, owner, {v: perm for v in owner
                                          if (perm := self.read_transposed(v))})
        self.slot_of = {v: i for i, v in enumerate(owner)}

    def read_transposed(self, v):
        """The axis order v is read in when every use of it is one same transpose, else None:
        stored so, the transpose is contiguous (see memory.Arena)."""
        perms = {op.attrs["perm"] if op.name == "transpose" else None
                 for op in self.users.get(v, ())}
        if len(perms) == 1 and None not in perms:
            return tuple(perms.pop())
        return None

    def late_reads(self, prepared):
        """Leave to a copy each update inplace.py would write in place (the updates in an `if`
        that passes the array on) whose array a kernel reads after it: a kernel runs at its
        last op's step, which may come after the update even where the op reading the array
        comes before it."""
        step = {}
        for index, (kind, item, _) in enumerate(prepared):
            for op in item.ops if kind == "kernel" else [item]:
                step[op] = index
        for index, (kind, item, _) in enumerate(prepared):
            if kind != "op" or item not in self.in_place and item not in self.links:
                continue
            array, updates = self.links.get(item, (item.operands[0], [item]))
            if any(step.get(r, -1) > index for r in self.users.get(array, ())):
                self.in_place.difference_update(updates)

    # -- emission ------------------------------------------------------------------------
    def alloc(self, depth, v):
        if self.compiling and v not in self.placed:
            self.emit(depth, f"{self.n(v)} = np.empty({v.type.shape}, np.{DTYPES[v.dtype]})")
        elif v in self.placed:
            whole = self.n(self.placed[v].value)
            self.emit(depth, f"{self.n(v)} = {self.placed[v].view(v, whole)}  # in {whole}")
        elif v in self.slot_of:
            self.emit(depth, f"{self.n(v)} = B[{self.slot_of[v]}]")
        elif depth == 1 and self.recycle:       # outlives the call: memory.Arena.fresh
            self.sites += 1
            self.emit(depth, f"{self.n(v)} = arena_{identifier(self.fn.name)}.fresh("
                             f"{self.sites}, {v.type.shape}, np.{DTYPES[v.dtype]})")
        else:
            self.emit(depth, f"{self.n(v)} = np.empty({v.type.shape}, np.{DTYPES[v.dtype]})")

    def block(self, block, depth, results=None, top=False):
        prepared, io = self.prepare(block)
        self.late_reads(prepared)
        found, idle = self.place(prepared, io)
        firsts = {a.first: a.value for a in found}
        assembled = {a.step: a.value for a in found}
        if top:
            self.plan_top(prepared, io)
            if self.slot_of:
                self.emit(depth, f"B = arena_{identifier(self.fn.name)}.take()")
        for index, (kind, item, kern) in enumerate(prepared):
            if index in firsts:
                self.alloc(depth, firsts[index])
            if index in assembled:
                for op in item.ops:
                    self.comment_loc(depth, op.loc)
                self.emit(depth, f"# {self.n(assembled[index])}: written by its products above")
            if index in idle or kind == "numpy" and self.inlined(item):
                continue
            timed = self.profile and (kind == "kernel" or item.name not in STRUCTURED)
            if timed:
                self.emit(depth, "t_ = rt.clock()")
            if kind == "kernel":
                self.kernel(item, kern, depth)
            elif kind == "numpy":
                self.comment_loc(depth, item.loc)
                self.scalar_step(item, depth)
            else:
                self.op(item, depth, results)
            if timed:
                label = (f"kernel {kern.key[:8]} {kern.domain} "
                         + ",".join(sorted({op.name for op in item.ops})) if kind == "kernel"
                         else f"{item.name} {tuple(item.result.shape) if item.results else ''}")
                self.emit(depth, f"rt.tick({label!r}, t_)")

    def op(self, op, depth, results):
        if op.name in ("for", "while") and not self.compiling and self.compiled_loop(op, depth):
            return
        if op.name == "return" and depth == 1 and self.slot_of:
            self.emit(depth, f"arena_{identifier(self.fn.name)}.give(B)")
        PythonGen.op(self, op, depth, results)
        if self.compiling and loop_kind(op) in VIEW_KINDS and op.result.type.rank == 0:
            # a scalar, as a kernel's 0-d outputs are: Numba adds no 0-d array into an entry
            # (`d[i] += v`, a gather's gradient)
            self.emit(depth, f"{self.n(op.result)} = {self.n(op.result)}[()]")

    def compiled_lines(self, write) -> list:
        """The lines `write()` emits for a loop or function compiled whole (loops.py), taken
        out of the driver's."""
        mark, shown = len(self.lines), (self.last_loc, self.shown)
        self.compiling, self.last_loc = True, None
        try:
            write()
        finally:
            self.compiling = False
        lines = self.lines[mark:]
        del self.lines[mark:]
        self.last_loc, self.shown = shown
        return lines

    def compiled_loop(self, op, depth) -> bool:
        """Write the loop `op` as a function of its own module (loops.py) and its call, if
        it can be one."""
        if not loops.compilable(op):
            return False
        lines = self.compiled_lines(lambda: PythonGen.op(self, op, 1, None))
        free = [v for v in loops.free_values(op) if v not in self.literal]
        moved = self.tapes_filled_by(op, free)
        free = [v for v in free if v not in moved]
        params = [self.n(v) for v in free]
        results = [self.n(r) for r in op.results]
        source = loops.module(params, ["    " + self.lines[i].strip() for i in moved.values()]
                              + self.scalars_read(free) + lines, results)
        if source is None:
            return False
        for i in sorted(moved.values(), reverse=True):
            del self.lines[i]
        self.comment_loc(depth, op.loc)
        call = f"{self.table.add_loop(source)}.LOOP({', '.join(params)})"
        self.emit(depth, f"{', '.join(results)} = {call}" if results else call)
        self.numbers_back(depth, results, op.results)
        return True

    def scalars_read(self, values) -> list:
        """The lines with which a compiled function reads its 0-d parameters among `values`
        as scalars (loops.py)."""
        return [f"    {self.n(v)} = rt.scalar({self.n(v)})" for v in values if v.type.rank == 0]

    def numbers_back(self, depth, names, values):
        """Make a compiled function's 0-d results `names` (of `values`), which come back as
        Python numbers, NumPy scalars again."""
        for name, v in zip(names, values, strict=True):
            if v.type.rank == 0:
                self.emit(depth, f"{name} = np.{DTYPES[v.dtype]}({name})")

    def whole_module(self):
        """(the name of a loop module whose function runs the whole function compiled, its
        parameters' names), where it can be one (`small_function`), else None. Its lines are
        the driver's as a compiled loop's are (loops.py)."""
        if not (self.whole and small_function(self.fn)):
            return None
        lines = self.compiled_lines(lambda: self.block(self.fn.body, 1))
        returned = self.fn.body.terminator.operands
        if returned:    # (its last line)
            lines[-1] = "    return " + ", ".join(self.returned_apart(returned))
        params = [self.n(a) for a in self.fn.args]
        source = loops.module(params, self.scalars_read(self.fn.args) + lines, None,
                              runner="Whole")
        return None if source is None else (self.table.add_loop(source, "w"), params)

    def returned_apart(self, returned) -> list:
        """The compiled function's results, each its own memory: Numba gives an array it
        returns a new owner object each time, so the API could not tell that two results, or
        a result and an argument or a tape's entry, share memory (api._apart, _not_sharing)
        where the driver's could. Copied: an argument, a value returned before, what a view op,
        a tape, a loop or an `if` gave, and a value a loop or an `if` reads or a tape keeps (a
        loop may carry it in as it is, onto a tape)."""
        out = []
        for k, v in enumerate(returned):
            op = v.owner if isinstance(v.owner, Op) else None
            made = op is not None and not op.regions and not registry.get(op.name).view \
                and registry.get(op.name).kind != "tape"
            kept = any(u.regions or u.name == "tape_push" for u in self.users.get(v, ()))
            shared = v in returned[:k] or not made or kept
            out.append(f"{self.n(v)}.copy()" if shared and v.type.rank and not is_tape(v.type)
                       else self.n(v))
        return out

    def tier_up(self, module, params):
        """The lines that return what `module`'s function gives, once it runs compiled
        (`runtime.Whole`), and start the clock on the driver's own steps otherwise."""
        got, clock = self.name.fresh("whole"), self.name.fresh("t_whole")
        returned = self.fn.body.terminator.operands
        results = [self.name.fresh("result") if v in returned[:k] else self.n(v)
                   for k, v in enumerate(returned)]
        self.emit(1, f"# once hot, {module}'s function runs the steps below compiled whole "
                     "(small arrays)")
        self.emit(1, f"{got} = {module}.WHOLE({', '.join(params)})")
        self.emit(1, f"if {got} is not rt.NOT_YET:")
        if results:
            self.emit(2, f"{', '.join(results)} = {got}")
        self.numbers_back(2, results, returned)
        self.emit(2, f"return {', '.join(results) or 'None'}")
        self.emit(1, f"{clock} = rt.clock()")
        return clock

    def tapes_filled_by(self, loop, free) -> dict:
        """Value -> index in `lines` of the empty tapes among `loop`'s `free` values that only
        it fills, made just above it: its function makes them instead (compiled, a list made
        outside would be an empty Python list, which Numba cannot type)."""
        moved = {}
        for v in free:
            made = v.owner if isinstance(v.owner, Op) else None
            if made is None or made.name != "tape_new" or self.users.get(v) != [loop]:
                continue
            line = f"{self.n(v)} = {rule_of(made)(made, [])}"
            at = [i for i, ln in enumerate(self.lines) if ln.strip() == line]
            if at:
                moved[v] = at[-1]
        return moved

    def entering(self, loop, args) -> list:
        if not self.compiling:
            return PythonGen.entering(self, loop, args)
        copied = self.copied.get(loop, ())
        carried = loop.operands[len(loop.operands) - len(args):]    # (a for's trip count first)
        return [f"{a}.copy()" if k in copied
                else f"np.ascontiguousarray({a})" if v.type.rank and not is_tape(v.type) else a
                for k, (a, v) in enumerate(zip(args, carried, strict=True))]

    def kernel(self, group, kern, depth):
        for op in group.ops:
            self.comment_loc(depth, op.loc)
        for v in kern.outputs:
            self.alloc(depth, v)
        size = 1
        for s in kern.domain:
            size *= s
        module = self.table.add(kern)
        args = ", ".join([str(s) for s in kern.domain + kern.bounds]
                         + [self.n(v) for v in kern.inputs + kern.outputs])
        if self.compiling:      # one chunk; its partial sums, if any, are the outputs'
            parts = [self.name.fresh("partial") for _ in kern.accumulations]
            for p, (k, init, ctor) in zip(parts, kern.accumulations, strict=True):
                out = self.n(kern.outputs[k])
                self.emit(depth, f"{p} = np.full((1,) + {out}.shape, {init}, {ctor})")
            self.emit(depth, f"{module}.body(0, 0, {kern.rows}, {', '.join([args, *parts])})")
            for p, (k, _, _) in zip(parts, kern.accumulations, strict=True):
                self.emit(depth, f"{self.n(kern.outputs[k])}[...] = {p}[0]")
            for v in kern.outputs:  # a scalar, as a loop's other 0-d values are (loops.py)
                if v.type.rank == 0:
                    self.emit(depth, f"{self.n(v)} = {self.n(v)}[()]")
            return
        call = "launch" if self.parallel and kern.rows >= 2 and size >= PAR_MIN else "run"
        self.emit(depth, f"rt.{call}({module}, {kern.rows}, {args})")

    def scalar_step(self, op, depth):
        """Scalar arithmetic as the NumPy backend writes it. A size-1 reshape is a copy: as
        NumPy's view of a planned buffer it would read what the buffer holds later. Compiled,
        an int32 result is made int32 again: Numba computes int32 arithmetic in int64, which
        neither wraps where NumPy's does nor stays the type a loop carries."""
        args = [self.n(v) for v in op.operands]
        if loop_kind(op) == "unit_reshape":
            self.emit(depth, f"{self.n(op.result)} = np.array({args[0]})"
                             f".reshape({tuple(op.result.shape)!r})")
            return
        if self.compiling and op.result.dtype == "i32" and op not in self.in_place \
                and not self.constants.is_big(op):
            code = lower_expr(op, args)
            if isinstance(code, str):
                self.emit(depth, f"{self.n(op.result)} = np.int32({code})")
                return
        PythonGen.plain(self, op, args, depth)

    def plain(self, op, args, depth):
        if self.constants.is_big(op) or (small_product(op) and op.result not in self.placed
                                         and op.result not in self.slot_of):
            PythonGen.plain(self, op, args, depth)
            return
        rule = rule_of(op, self.compiling)
        attrs = {k: py_attr(k, v) for k, v in op.attrs.items()}
        if callable(rule):
            code = rule(op, args)
        elif isinstance(rule, list):
            code = [r.format(*args, args=", ".join(args), **attrs) for r in rule]
        else:
            code = rule.format(*args, args=", ".join(args), **attrs)
        out = self.n(op.result)
        if isinstance(code, str):
            self.emit(depth, f"{out} = {code}")
        else:
            if op in self.in_place:
                code = self.updated_in_place(code, args)
            elif writes_out(op):
                self.alloc(depth, op.result)
            for line in code:
                self.emit(depth, line.format(out=out))

    def body(self):
        whole = self.whole_module()
        clock = self.tier_up(*whole) if whole else None
        self.block(self.fn.body, 1, top=True)
        if clock:       # (the function's last line is its return)
            self.lines.insert(len(self.lines) - 1, f"    {whole[0]}.WHOLE.ran({clock})")
