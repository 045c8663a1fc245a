"""The verifier: checks that a Function is well-formed SSA with consistent types.

Checks: every operand is defined before its use, in the same block or an enclosing one
(dominance in structured control flow); op names exist in the registry with the right number
of operands/regions; result types equal what the op's shape rule infers; regions end with the
right terminator and yield the right types; calls match their callee's signature.
Raises `VerifyError` naming the op and its source line.
"""
from __future__ import annotations

from . import registry
from .core import Function
from .printer import format_loc
from .types import TensorType

TERMINATORS = ("return", "yield", "condition")


class VerifyError(ValueError):
    pass


def _fail(op, msg):
    where = f" at {format_loc(op.loc)}" if op is not None and op.loc else ""
    name = (f"function @{op.name}" if isinstance(op, Function) else f"'{op.name}'"
            if op is not None else "function")
    raise VerifyError(f"{name}{where}: {msg}")


def _types(values):
    return [str(v.type) for v in values]


class _Verifier:
    def __init__(self, fn):
        self.fn = fn

    def block(self, block, scope: set, terminator: str, yield_types):
        scope = scope | {id(a) for a in block.args}    # a copy: the block's own values stay in it
        if not block.ops or block.ops[-1].name != terminator:
            # name the op (or function) the block belongs to: that is where the user looks
            owner = block.parent
            what = (f"region {[id(r) for r in owner.regions].index(id(block))}"
                    if block in getattr(owner, "regions", ()) else "body")
            last = f", not '{block.ops[-1].name}'" if block.ops else " (it is empty)"
            _fail(owner, f"{what} must end with '{terminator}'{last}")
        for op in block.ops:
            for v in op.operands:
                if id(v) not in scope:
                    _fail(op, f"operand %{v.hint} is used before it is defined (or out of scope)")
            if op.name in TERMINATORS and op is not block.ops[-1]:
                _fail(op, "terminator in the middle of a block")
            self.op(op, scope)
            scope.update(id(r) for r in op.results)
        if yield_types is not None and _types(block.ops[-1].operands) != yield_types:
            _fail(block.ops[-1], f"yields {_types(block.ops[-1].operands)}, expected {yield_types}")

    def op(self, op, scope):
        try:
            opdef = registry.get(op.name)
        except KeyError:
            _fail(op, "unknown op")
        if opdef.arity is not None and len(op.operands) != opdef.arity:
            _fail(op, f"takes {opdef.arity} operands, got {len(op.operands)}")
        if len(op.regions) != opdef.n_regions:
            _fail(op, f"takes {opdef.n_regions} regions, got {len(op.regions)}")
        check = getattr(self, "op_" + op.name, None)
        if check:
            check(op, scope)
        elif op.name not in TERMINATORS:
            try:
                expected = [str(t) for t in opdef.infer([v.type for v in op.operands], op.attrs)]
            except (ValueError, KeyError, TypeError, IndexError) as e:
                _fail(op, f"bad operands or attributes: {e}")
            if expected != _types(op.results):
                _fail(op, f"result types {_types(op.results)} but the shape rule gives {expected}")

    def op_if(self, op, scope):
        if str(op.operands[0].type) != "bool[]":
            _fail(op, f"condition must be bool[], got {op.operands[0].type}")
        for region in op.regions:
            self.block(region, scope, "yield", _types(op.results))

    def op_for(self, op, scope):
        if not op.operands:
            _fail(op, "needs a trip count operand")
        n, *inits = op.operands
        (body,) = op.regions
        if n.type.rank != 0 or n.type.dtype not in ("i64", "i32"):
            _fail(op, f"trip count must be an integer scalar, got {n.type}")
        if _types(body.args) != [str(TensorType("i64"))] + _types(inits):
            _fail(op, "body arguments must be (i64 index, carried values)")
        if _types(op.results) != _types(inits):
            _fail(op, "results must have the types of the carried values")
        self.block(body, scope, "yield", _types(inits))

    def op_while(self, op, scope):
        cond, body = op.regions
        for region in (cond, body):
            if _types(region.args) != _types(op.operands):
                _fail(op, "region arguments must have the types of the carried values")
        if _types(op.results) != _types(op.operands):
            _fail(op, "results must have the types of the carried values")
        self.block(cond, scope, "condition", ["bool[]"])
        self.block(body, scope, "yield", _types(op.operands))

    def op_call(self, op, scope):
        module = self.fn.module
        callee = module.functions.get(op.attrs.get("callee")) if module else None
        if callee is None:
            _fail(op, f"calls unknown function @{op.attrs.get('callee')}")
        if _types(op.operands) != _types(callee.args):
            _fail(op, f"arguments {_types(op.operands)} do not match @{callee.name}'s "
                      f"parameters {_types(callee.args)}")
        if _types(op.results) != [str(t) for t in callee.result_types]:
            _fail(op, f"results do not match @{callee.name}'s results")
        if "vjp" in op.attrs and op.attrs["vjp"] not in module.functions:
            _fail(op, f"custom derivative @{op.attrs['vjp']} is not in the module")


def verify(fn) -> None:
    """Verify `fn` and every function it calls; raise VerifyError on the first problem."""
    for f in [fn] + (fn.callees() if fn.module else []):
        _Verifier(f).block(f.body, set(), "return", None)
