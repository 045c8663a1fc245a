"""Algebraic simplification of trivial identities.

Assumes: `fn` verifies. Guarantees: `fn` computes the same results (up to the sign of a zero:
`x + 0` becomes `x` even where `x` is `-0.0`) and still verifies. Rules, each applied only
when the replacement has exactly the op's result type (so `x + zeros(3, 4)` with `x: f64[4]`
stays, as does `x * 1` where the `1` widens the shape):
    x*1, 1*x, x+0, 0+x, x-0, x/1, x**1, --x  ->  x
    x + scatter_add(0, i, v) -> scatter_add(x, i, v) (with an index repeated, v's entries are
    added in another order: float rounding); a backward loop's accumulation of a gradient read
    by index (`d_out[t - 1] += ...`) then touches the entries, not the whole array
    transpose(transpose(x, p), q) -> transpose(x, p∘q); transpose with the identity -> x
    reshape(reshape(x)) -> reshape(x) where nothing else reads the inner one, or it is back to
    x's shape (where something does, it is made anyway: of a transposed x, a copy, which the
    outer one would make again);
    reshape, broadcast_to to x's shape, astype to x's dtype, sum/prod/max/min over no axes -> x
A 0 or 1 is a `constant` whose entries all equal it, or a `broadcast_to` of one.
Rewritten ops keep their result values; an op replaced by its operand is removed and its uses
take the operand. Ops that become unused are left for `dce`.
"""
from __future__ import annotations

from functools import partial

from ..ir.core import Block, Op, Value
from ..ir.passes import register_pass
from ..ir.rewrite import substitute, users


@register_pass("simplify")
def simplify(fn):
    _block(fn.body, {}, {**RULES, "reshape": partial(_reshape, readers=users([fn]))})
    return fn


def _block(block: Block, remap: dict, rules: dict) -> None:
    live = []
    for op in block.ops:
        substitute(op, remap)
        for region in op.regions:
            _block(region, remap, rules)
        replacement = _rewrite(op, rules)
        if replacement is None:
            live.append(op)
        else:
            remap[op.result] = replacement
    block.ops = live


def _rewrite(op: Op, rules: dict) -> Value | None:
    """Apply the rules to `op` until none fires; return the value replacing it, if any."""
    rule = rules.get(op.name)
    while rule is not None:
        found = rule(op)
        if found is not True:
            return next((v for v in found if v.type == op.result.type), None)
        rule = rules.get(op.name)   # rewritten in place: try again
    return None


def _splat(v: Value):
    """The single value every entry of `v` has, when `v` is a constant (or a broadcast of
    one) with equal entries; else None."""
    op = v.owner
    if not isinstance(op, Op):
        return None
    if op.name == "broadcast_to":
        return _splat(op.operands[0])
    if op.name != "constant":
        return None
    flat, todo = [], [op.attrs["value"]]
    while todo:
        x = todo.pop()
        if isinstance(x, tuple):
            todo.extend(x)
        else:
            flat.append(x)
    return flat[0] if flat and all(x == flat[0] for x in flat) else None


def _is(v: Value, number) -> bool:
    s = _splat(v)
    return s is not None and s == number


def _identity(number, commutes):
    """x op number -> x (and number op x -> x when the op commutes)."""
    def rule(op):
        x, y = op.operands
        found = [x] if _is(y, number) else []
        if commutes and _is(x, number):
            found.append(y)
        return found
    return rule


_add_zero = _identity(0, True)


def _add(op):
    found = _add_zero(op)
    if found:
        return found
    for x, s in (op.operands, op.operands[::-1]):
        scatter = s.owner
        if isinstance(scatter, Op) and scatter.name == "scatter_add" \
                and _is(scatter.operands[0], 0) and x.type == s.type == op.result.type:
            op.name, op.attrs = "scatter_add", dict(scatter.attrs)
            op.operands = [x, *scatter.operands[1:]]
            return True
    return []


def _neg(op):
    (x,) = op.operands
    return [x.owner.operands[0]] if isinstance(x.owner, Op) and x.owner.name == "neg" else []


def _transpose(op):
    (x,) = op.operands
    perm = op.attrs["perm"]
    if isinstance(x.owner, Op) and x.owner.name == "transpose":
        # out axis i is x's axis perm[i], which is the source's axis inner[perm[i]]
        inner = x.owner.attrs["perm"]
        op.operands = [x.owner.operands[0]]
        op.attrs["perm"] = tuple(inner[p] for p in perm)
        return True
    return [x] if perm == tuple(range(len(perm))) else []


def _reshape(op, readers):
    (x,) = op.operands
    if isinstance(x.owner, Op) and x.owner.name == "reshape" and (
            len(readers[x]) == 1 or x.owner.operands[0].type == op.result.type):
        op.operands = [x.owner.operands[0]]
        return True
    return [x]


def _operand(op):
    return [op.operands[0]]


def _no_axes(op):
    return [op.operands[0]] if op.attrs["axes"] == () else []


# op name -> rule: returns True after rewriting the op in place, else the values that could
# replace it (the first of the op's exact result type is taken); `simplify` adds reshape's,
# which reads who reads each value
RULES = {
    "mul": _identity(1, True), "add": _add, "sub": _identity(0, False),
    "div": _identity(1, False), "pow": _identity(1, False), "neg": _neg, "transpose": _transpose,
    "broadcast_to": _operand, "astype": _operand,
    "sum": _no_axes, "prod": _no_axes, "max": _no_axes, "min": _no_axes,
}
