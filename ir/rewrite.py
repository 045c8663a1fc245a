"""Shared rewriting helpers for passes and the autodiff transform: replacing uses of values,
cloning ops and blocks with a value map, and the purity test passes agree on.

Contract:
- Value maps are dicts keyed by `Value` (identity semantics), so they hold their keys alive
  and never confuse a dead value with a new one. `lookup` follows chains (a -> b -> c).
- `merge_key(name, operands, attrs, result_types)` is equal for two pure ops only when one may
  stand for the other (CSE, and the frontend as it builds), of names that `merges`.
- `replace_uses(root, old, new)` rewrites every use of `old` in `root` (a Function, Block or
  Op, nested regions included) and nothing else: the definition of `old` is left in place.
- Cloning makes fresh Values (same types and hints) for every result and block argument it
  copies; operands not in the map are kept (values from enclosing scopes). Locations, attrs
  and hints are kept. The map is extended with old -> new for everything cloned.
Nothing here imports NumPy.
"""
from __future__ import annotations

from . import registry
from .core import Block, Op, Value
from .verify import TERMINATORS


def lookup(mapping: dict, v: Value) -> Value:
    """`v` after every replacement recorded in `mapping` (chains followed)."""
    while v in mapping:
        v = mapping[v]
    return v


def users(roots) -> dict:
    """Value -> the ops that read it, in `roots` (ops, blocks or functions, nested regions
    included), in walk order."""
    out: dict = {}
    for root in roots:
        for op in root.walk():
            for v in op.operands:
                out.setdefault(v, []).append(op)
    return out


def substitute(op: Op, mapping: dict) -> None:
    """Rewrite the operands of `op` (not of its nested ops) through `mapping`."""
    if mapping:
        op.operands = [lookup(mapping, v) for v in op.operands]


def replace_all(root, mapping: dict) -> None:
    """Rewrite every operand in `root`, nested regions included, through `mapping`."""
    if mapping:
        for op in root.walk():
            substitute(op, mapping)


def replace_uses(root, old: Value, new: Value) -> None:
    """Replace every use of `old` in `root` (Function, Block or Op) by `new`."""
    if old.type != new.type:
        raise TypeError(f"cannot replace {old} by {new}: types differ")
    replace_all(root, {old: new})


def clone_op(op: Op, vmap: dict) -> Op:
    """A copy of `op` (regions included) with operands mapped through `vmap`."""
    regions = [clone_block(r, vmap) for r in op.regions]
    new = Op(op.name, [lookup(vmap, v) for v in op.operands], op.attrs,
             [r.type for r in op.results], regions, loc=op.loc, hints=[r.hint for r in op.results])
    vmap.update(zip(op.results, new.results, strict=True))
    return new


def clone_block(block: Block, vmap: dict) -> Block:
    """A copy of `block` with fresh arguments; `vmap` gains old -> new for all it defines."""
    new = Block([a.type for a in block.args], [a.hint for a in block.args])
    vmap.update(zip(block.args, new.args, strict=True))
    for op in block.ops:
        new.append(clone_op(op, vmap))
    return new


def clone_body(block: Block, args, vmap: dict | None = None) -> tuple[list[Op], list[Value]]:
    """Copies of `block`'s ops with its arguments bound to `args`, minus the terminator, and
    the values the terminator passes on (mapped). The caller places the ops (for inlining a
    region or a callee in place of the op that runs it)."""
    vmap = {} if vmap is None else vmap
    vmap.update(zip(block.args, args, strict=True))
    ops = [clone_op(op, vmap) for op in block.ops[:-1]]
    return ops, [lookup(vmap, v) for v in block.ops[-1].operands]


def defined_inside(op: Op) -> set[Value]:
    """Values defined in `op`'s regions: their arguments and their ops' results, nested
    regions included."""
    inside = set()
    for region in op.regions:
        inside.update(region.args)
        for inner in region.walk():
            inside.update(inner.results)
            for nested in inner.regions:
                inside.update(nested.args)
    return inside


def used_values(op: Op) -> list[Value]:
    """Values `op` reads, those read by ops nested in its regions included."""
    used = list(op.operands)
    for region in op.regions:
        for inner in region.walk():
            used.extend(inner.operands)
    return used


def splice(block: Block, index: int, ops: list[Op], remove: int = 1) -> None:
    """Put `ops` into `block` in place of the `remove` ops at `index`."""
    for op in ops:
        op.parent = block
    block.ops[index:index + remove] = ops


def _attr_key(v):
    """A key equal only for attribute values that print the same (lists as tuples)."""
    if isinstance(v, (tuple, list)):
        return tuple(_attr_key(x) for x in v)
    if isinstance(v, float):
        return ("float", repr(v))   # repr tells -0.0 from 0.0; nan equals nan
    return (type(v).__name__, v)


def merge_key(name: str, operands, attrs: dict, result_types) -> tuple:
    """The key under which equal pure ops merge: same name, operands (by identity), attributes
    (by type as well as value, so `0.0` and `-0.0`, or `1` and `True`, stay apart) and result
    types. Ops with equal keys compute the same; ops that compute the same may still differ
    (an `np.int64` and an `int` attribute). Hashing it fails on an unhashable attribute."""
    return (name, tuple(id(v) for v in operands),
            tuple(sorted((k, _attr_key(v)) for k, v in attrs.items())), tuple(result_types))


def pure_name(name: str) -> bool:
    """Can an op of this name be pure? (Yes for the registry's pure ops other than
    terminators; for a call and a region op, `is_pure` then asks what it runs.)"""
    return name not in TERMINATORS and registry.get(name).pure


def merges(name: str) -> bool:
    """May two equal ops of this name be one? Pure ones, but for `fresh` ones (each result an
    object of its own: an empty tape, which is then appended to)."""
    return pure_name(name) and not registry.get(name).fresh


def is_pure(op: Op, module=None, _seen=None) -> bool:
    """True when `op` has no effect besides its results: it may be dropped when they are
    unused, and merged with an equal op. Terminators are never pure (they move values out).
    Region ops are pure when everything nested is; calls when the callee's body is (a call of
    an unknown or recursive callee counts as impure)."""
    if not pure_name(op.name):
        return False
    if op.name == "call":
        seen = _seen or set()
        callee = module.functions.get(op.attrs["callee"]) if module else None
        if callee is None or callee.name in seen:
            return False
        return all(is_pure(o, module, seen | {callee.name}) for o in callee.body.ops[:-1])
    return all(is_pure(o, module, _seen) for r in op.regions for o in r.ops[:-1])
