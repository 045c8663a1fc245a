"""The IR's data structures: values, operations, blocks (regions), functions, modules.

Contract:
- SSA: a `Value` is defined once, by an `Op` result or a `Block` argument, and never mutated.
- An `Op` has operands (Values), attributes (a dict of plain Python data: ints, floats, bools,
  strings, tuples of them), results and regions. Each region is one `Block` with its own
  arguments; ops in a region may use values defined in enclosing blocks (MLIR `scf` style).
- A block ends with a terminator op (`yield`, `condition` or `return`) when it belongs to a
  region or a function.
- Every op name refers to an entry in the one op registry (`registry.py`).
- `loc` is the (file, line) of the Python code an op came from (the line of its expression,
  in a statement of several lines), or None; an op inlined from a helper has (file, line, the
  call's loc) (`printer.frames` reads the chain).
Nothing here imports NumPy; constant payloads are kept as given.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from .names import GENERATED_GLOBALS, Namer
from .types import TensorType


class Value:
    """An SSA value. `hint` is the preferred printed name (uniquified by `names.py`)."""
    __slots__ = ("type", "hint", "owner", "index")

    def __init__(self, type: TensorType, hint: str = "v", owner=None, index: int = 0):
        self.type = type
        self.hint = hint
        self.owner = owner          # the defining Op, or the Block whose argument this is
        self.index = index

    @property
    def shape(self):
        return self.type.shape

    @property
    def dtype(self):
        return self.type.dtype

    def __repr__(self):
        return f"<Value %{self.hint}: {self.type}>"


class Op:
    __slots__ = ("name", "operands", "attrs", "results", "regions", "loc", "parent")

    def __init__(self, name: str, operands, attrs=None, result_types=(), regions=(),
                 loc=None, hints=None):
        self.name = name
        self.operands: list[Value] = list(operands)
        self.attrs: dict = dict(attrs or {})
        hints = list(hints) if hints else []
        self.results = [Value(t, hints[i] if i < len(hints) else "v", self, i)
                        for i, t in enumerate(result_types)]
        self.regions: list[Block] = list(regions)
        for r in self.regions:
            r.parent = self
        self.loc = loc
        self.parent: Block | None = None

    @property
    def result(self) -> Value:
        (r,) = self.results
        return r

    def walk(self) -> Iterator["Op"]:
        """This op, then every op nested in its regions, in program order."""
        yield self
        for r in self.regions:
            yield from r.walk()

    def __repr__(self):
        return f"<Op {self.name} -> {[str(r.type) for r in self.results]}>"


class Block:
    __slots__ = ("args", "ops", "parent")

    def __init__(self, arg_types=(), hints=None):
        hints = list(hints) if hints else []
        self.args = [Value(t, hints[i] if i < len(hints) else "a", self, i)
                     for i, t in enumerate(arg_types)]
        self.ops: list[Op] = []
        self.parent: Op | Function | None = None

    def append(self, op: Op) -> Op:
        op.parent = self
        self.ops.append(op)
        return op

    @property
    def terminator(self) -> Op | None:
        return self.ops[-1] if self.ops else None

    def walk(self) -> Iterator[Op]:
        for op in self.ops:
            yield from op.walk()


@dataclass(eq=False)
class Function:
    """A function: `body.args` are its parameters; `body` ends with a `return` op."""
    name: str
    body: Block
    loc: tuple | None = None
    module: "Module | None" = None
    meta: dict = field(default_factory=dict)   # frontend data (pytree structure); not printed

    def __post_init__(self):
        self.body.parent = self

    @property
    def args(self) -> list[Value]:
        return self.body.args

    @property
    def results(self) -> list[Value]:
        return self.body.terminator.operands

    @property
    def result_types(self) -> list[TensorType]:
        return [v.type for v in self.results]

    def walk(self) -> Iterator[Op]:
        return self.body.walk()

    def callees(self) -> list["Function"]:
        """Functions this one calls, transitively, in first-call order."""
        seen: dict[str, Function] = {}
        stack = [self]
        while stack:
            for op in stack.pop().walk():
                if op.name != "call":
                    continue
                # a custom derivative's backward function belongs to the program too
                for name in (op.attrs["callee"], op.attrs.get("vjp")):
                    if name and name not in seen and name in self.module.functions:
                        f = self.module.functions[name]   # (an unknown one: verify says)
                        seen[f.name] = f
                        stack.append(f)
        return list(seen.values())

    def unused_name(self, base: str) -> str:
        """`base`, or a variant of it where a function of this one's module (a user's helper
        called `loss_grad`, a custom_vjp forward called `f_fwd`) has that name: for a function
        built from this one (its adjoint's, a backend's driver)."""
        return base if self.module is None else self.module.unused_name(base)

    def __str__(self):
        from .printer import print_function
        return print_function(self)

    def __eq__(self, other):
        return isinstance(other, Function) and str(self) == str(other)

    __hash__ = object.__hash__


class Module:
    """Named functions that `call` ops refer to. `fresh_name` hands out names no function of
    the module has or will have (a name can be taken before its function is built)."""

    def __init__(self):
        self.functions: dict[str, Function] = {}
        # (a function's name is its generated code's too: an elementwise `rt` would shadow
        # the Numba driver's runtime module)
        self._names = Namer(GENERATED_GLOBALS)

    def fresh_name(self, base: str) -> str:
        return self._names.fresh(base)

    def unused_name(self, base: str) -> str:
        """`base` where no function of the module has that name, else a fresh variant: the
        same name each time for a function built outside the module (an adjoint, a driver)."""
        return self.fresh_name(base) if base in self.functions else base

    def add(self, fn: Function) -> Function:
        fn.module = self
        self._names.taken.add(fn.name)
        self.functions[fn.name] = fn
        return fn
