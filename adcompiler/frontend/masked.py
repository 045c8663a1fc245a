"""Reductions of reads at a run-time boolean mask: np.sum(x[m]), x[m].mean(), -logp[m].sum(),
np.max((a[m] - b[m]) ** 2), emb[labels == c].mean(axis=0), len(x[m]), np.linalg.norm(r[m]),
x[m] @ y[m] (`dot`); and assignments at the mask: V[m] = payoff[m], out[m] = np.log(p[m]).

Contract: `x[m]` with a run-time mask m of x's leading axes has a shape that depends on the data
(k entries, k the mask's True count; indexing.py refuses it), but a reduction over those k
entries does not. These calls, written around the read in one expression, are reductions:
np.sum, np.mean, np.var, np.std, np.max / np.amax, np.min / np.amin, np.linalg.norm (the 2-norm)
of the read (and an axis), and the methods .sum(), .mean(), .var(), .std(), .max(), .min(), with
`axis` None (every entry) or 0 (over the k entries), `keepdims` and a var's or std's `ddof`, and
len(). The argument is evaluated with each read `x[m]` (one mask throughout) standing for x, its
entries off the mask replaced by those at the mask's first True position, or by 1 where it has
none (`Reads.read`: what the expression computes there, and its derivative, is then as finite as
at the entries it keeps). The argument must be such reads combined by elementwise operations
with operands that broadcast against one masked entry (scalars; a vector along x's trailing
axes), as NumPy's entries of the masked array are; the reduction then runs over the mask's
entries: a sum of `where(m, value, 0)` (a mean divided by the count), a maximum or minimum of
`where(m, value, the reduction's identity)`, of no entry NumPy's error, raised at run time. A
shape query of such a value is refused (it would be x's). An assignment `y[m] = f(x[m])` (or
`y[m] += f(x[m])`) of such an expression at the same mask is where(m, value, y) (`assign`). Such
an expression may be bound to a name first, in the function's own block (`pred_v = pred[valid]`;
`Named`). A function called on such reads (a helper of the user's, scipy.stats' methods) is
inlined and its operations checked alike (calls.specialise); an operand computed from the reads
otherwise (an np.linalg.norm(x[m]) inside the argument) is refused, as is any other use of a
masked read.
"""
from __future__ import annotations

import ast
import builtins

import numpy as np

from ..ir import registry
from ..ir.core import Op
from .arith import astype
from .problems import FrontendError
from .values import NP_OF, Traced

REDUCERS = {np.sum: "sum", np.mean: "mean", np.var: "var", np.std: "std", np.max: "max",
            np.amax: "max", np.min: "min", np.amin: "min", builtins.len: "len",
            np.linalg.norm: "norm"}
METHODS = ("sum", "mean", "var", "std", "max", "min")
KEYWORDS = {"axis", "ddof", "keepdims"}
MASKED_ONLY = ("a run-time boolean mask's read can be used only by a reduction of its "
               "entries written around it (np.sum(x[m]), x[m].mean(axis=0), np.max(...), "
               "len(x[m])), through elementwise operations with scalars and reads at the "
               "same mask")


class Reads:
    """The masked reads made while a reduction's argument is evaluated."""

    def __init__(self):
        self.mask = None
        self.stand_ins = set()      # the ir.Values standing for the reads

    def read(self, tr, x: Traced, mask: Traced) -> Traced:
        if self.mask is not None and mask.value is not self.mask.value:
            raise FrontendError(MASKED_ONLY + "; here two masks meet")
        self.mask = mask
        rest = x.shape[mask.ndim:]
        rows = tr.call(np.reshape, [x, (-1, *rest)], {})
        first = tr.subscript(rows, tr.call(np.argmax, [tr.call(np.ravel, [mask], {})], {}))
        # (of a mask with no entry, 1: a reduction's derivative there is 0 times the
        # expression's, which x's first entry, outside its domain, would make NaN)
        first = tr.call(np.where, [tr.call(np.any, [mask], {}), first, 1], {})
        out = tr.call(np.where, [spread(tr, mask, x.ndim), x, first], {})
        self.stand_ins.add(out.value)
        return out


class Named:
    """A value made from masked reads and bound to a name (`pred_v = pred[valid]`), in the
    function's own block: reading the name inside a reduction's argument (or an assignment
    at the mask, or another such binding) is that value, made at the reads' mask; reading it
    anywhere else is refused (`read`)."""

    def __init__(self, value: Traced, reads: Reads):
        self.value, self.reads = value, reads

    def read(self, tr) -> Traced:
        reads = getattr(tr, "masked", None)
        if reads is None:
            raise FrontendError(MASKED_ONLY + "; this name holds one")
        if reads.mask is not None and reads.mask.value is not self.reads.mask.value:
            raise FrontendError(MASKED_ONLY + "; here two masks meet")
        reads.mask = self.reads.mask
        reads.stand_ins |= self.reads.stand_ins
        return self.value


def named(tr, value, reads: Reads) -> Named:
    """`value`, made from `reads`, to be bound to a name (`Named`)."""
    if not isinstance(value, Traced) or not _elementwise_of(value.value, reads.stand_ins,
                                                            reads.mask.ndim, {}):
        raise FrontendError(MASKED_ONLY)
    return Named(value, reads)


def check_shape(cx, t) -> None:
    """Refuse a shape query (.shape, .size, .ndim, np.shape...) of a value made from masked
    reads: it stands in with the array's shape, not NumPy's count of entries."""
    reads = getattr(cx, "masked", None)
    if reads is not None and reads.mask is not None and isinstance(t, Traced) \
            and _depends(t.value, reads.stand_ins):
        raise FrontendError(MASKED_ONLY + "; its shape is a run-time value (len(x[m]) is one)")


def _depends(v, stand_ins) -> bool:
    """Whether `v` is computed from a stand-in (a walk of its operands, without recursion)."""
    todo, seen = [v], set()
    while todo:
        v = todo.pop()
        if v in stand_ins:
            return True
        if id(v) not in seen and isinstance(v.owner, Op):
            seen.add(id(v))
            todo += v.owner.operands
    return False


def spread(tr, mask, rank):
    """The mask with size-1 axes after its own, up to `rank`."""
    return tr.call(np.reshape, [mask, mask.shape + (1,) * (rank - mask.ndim)], {})


def reducer(fn, node):
    """The reduction `fn` (an evaluated callee) makes of the call `node`, or None."""
    try:
        kind = REDUCERS.get(fn)
    except TypeError:           # (unhashable)
        return None
    if kind and 1 <= len(node.args) <= (1 if kind in ("len", "norm") else 2) \
            and not any(isinstance(a, ast.Starred) for a in node.args) \
            and all(k.arg in KEYWORDS or kind == "norm" and k.arg == "ord"
                    for k in node.keywords) \
            and (kind != "len" or not node.keywords):
        return kind
    return None


def method(node):
    """The reduction a method call `node` (`expr.sum()`, `expr.mean(0)`) makes, or None."""
    f = node.func
    if isinstance(f, ast.Attribute) and f.attr in METHODS and len(node.args) <= 1 \
            and not any(isinstance(a, ast.Starred) for a in node.args) \
            and all(k.arg in KEYWORDS for k in node.keywords):
        return f.attr
    return None


def options(tr, node, at: int) -> dict:
    """The call's `axis` (also its positional argument `at`: a method's first, a function's
    second), `ddof` and `keepdims`, static."""
    out = {k.arg: tr.eval(k.value) for k in node.keywords}
    if len(node.args) > at:
        out["axis"] = tr.eval(node.args[at])
    if any(isinstance(v, Traced) for v in out.values()):
        raise FrontendError("a reduction's axis and ddof must be compile-time ints")
    return out


def evaluate(tr, node):
    """(value of the expression `node`, the masked reads it made)."""
    reads, saved = Reads(), tr.masked
    tr.masked = reads
    try:
        return tr.eval(node), reads
    finally:
        tr.masked = saved


def reduce(tr, kind: str, value, reads: Reads, axis=None, ddof=0, keepdims=False,
           ord=None) -> Traced:
    """The reduction `kind` of the entries of `value` on the reads' mask: over all of them
    (`axis` None) or over the masked entries (`axis` 0); with `keepdims`, NumPy's shape of it
    (the masked array's axes kept as 1s). A norm is the 2-norm (`ord` None), of every entry
    (NumPy's Frobenius norm) or per column."""
    if kind == "norm":
        if ord is not None:
            raise FrontendError("np.linalg.norm of a run-time boolean mask's read takes ord=None "
                                f"(the 2-norm), got {ord!r}")
        squares = tr.binop(ast.Mult, value, value)
        return tr.call(np.sqrt, [reduce(tr, "sum", squares, reads, axis, 0, keepdims)], {})
    out = _reduce(tr, kind, value, reads, axis, ddof)
    if not keepdims or kind == "len":
        return out
    rest = value.shape[reads.mask.ndim:]
    return tr.call(np.reshape, [out, (1,) + (rest if axis is not None else (1,) * len(rest))],
                   {})


def _reduce(tr, kind: str, value, reads: Reads, axis, ddof) -> Traced:
    m = reads.mask
    if not isinstance(value, Traced) or not _elementwise_of(value.value, reads.stand_ins,
                                                            m.ndim, {}):
        raise FrontendError(MASKED_ONLY)
    lead = tuple(range(m.ndim))
    if axis not in (None, 0, -(value.ndim - m.ndim + 1)):
        raise FrontendError(f"a reduction of a run-time boolean mask's read takes axis None or "
                            f"0 (over the entries it picks), got {axis!r}")
    axes = None if axis is None else lead
    count = tr.call(np.count_nonzero, [m], {})
    if kind == "len":               # (a Python int)
        return tr.wrap(count.value, weak=True, nonneg=True)
    mask = spread(tr, m, value.ndim)
    if kind in ("sum", "mean", "var", "std"):
        if kind in ("var", "std"):
            mean = _reduce(tr, "mean", value, reads, axis, 0)
            value = tr.binop(ast.Sub, value, mean if axis is None else tr.call(
                np.reshape, [mean, (1,) * m.ndim + mean.shape], {}))
            value = tr.binop(ast.Mult, value, value)
        total = tr.call(np.sum, [tr.call(np.where, [mask, value, 0], {})], {"axis": axes})
        if kind == "sum":
            return total
        if axis is None and value.ndim > m.ndim:
            count = tr.binop(ast.Mult, count, int(np.prod(value.shape[m.ndim:])))
        if ddof:
            count = tr.binop(ast.Sub, count, ddof)
        if total.dtype in ("f32", "f16"):       # (a float32 mean stays float32)
            count = tr.call(getattr(np, str(NP_OF[total.dtype])), [count], {})
        out = tr.binop(ast.Div, total, count)
        return tr.call(np.sqrt, [out], {}) if kind == "std" else out
    tr.op("assert", tr.call(np.any, [m], {}).value,
          message=f"zero-size array to reduction operation {kind}imum which has no identity")
    if value.dtype == "bool":
        fill = kind == "min"
    elif value.type.is_float:
        fill = -np.inf if kind == "max" else np.inf
    else:
        info = np.iinfo(NP_OF[value.dtype])
        fill = info.min if kind == "max" else info.max
    return tr.call(getattr(np, kind), [tr.call(np.where, [mask, value, fill], {})],
                   {"axis": axes})


def dot(tr, a, b, reads: Reads) -> Traced:
    """`a @ b` of two vectors made from reads at a 1-d mask (`x[m] @ y[m]`): the sum of their
    products over the mask's entries."""
    if reads.mask.ndim != 1 or not all(isinstance(v, Traced) and v.ndim == 1 for v in (a, b)):
        raise FrontendError("a product of run-time boolean mask's reads is supported for "
                            "vectors at a 1-d mask (x[m] @ y[m])")
    return reduce(tr, "sum", tr.binop(ast.Mult, a, b), reads)


def assign(tr, obj, key, value, reads: Reads, name: str) -> None:
    """`obj[key] = value` where `value` was made from reads at a run-time mask: `key` must be
    that mask, and then the entries it picks are value's there (`where`)."""
    m = reads.mask
    if not (isinstance(obj, Traced) and isinstance(key, Traced) and key.value is m.value
            and obj.shape[:m.ndim] == m.shape):
        raise FrontendError("a run-time boolean mask's read can be assigned only at that mask "
                            "of an array of its shape (y[m] = f(x[m]))")
    if not isinstance(value, Traced) or not _elementwise_of(value.value, reads.stand_ins,
                                                            m.ndim, {}):
        raise FrontendError(MASKED_ONLY)
    new = tr.call(np.where, [spread(tr, m, obj.ndim), astype(tr, value, obj.dtype), obj], {})
    obj.update(new.value)
    tr.name_value(obj, name)


def _elementwise_of(v, stand_ins, lead, memo) -> bool:
    """Whether `v` is computed from stand-ins by elementwise ops whose other operands
    broadcast against one masked entry (size 1 along the mask's `lead` axes) and are not
    computed from stand-ins otherwise."""
    if v in stand_ins:
        return True
    if id(v) in memo:
        return memo[id(v)]
    op = v.owner
    ok = isinstance(op, Op) and registry.get(op.name).kind == "elementwise"
    if ok:
        found = False
        for o in op.operands:
            if _elementwise_of(o, stand_ins, lead, memo):
                found = True
            elif _depends(o, stand_ins) or not _per_entry(o, v.type.rank - lead):
                ok = False      # (np.linalg.norm(x[m]) would be of the stand-in's entries)
        ok = ok and found
    memo[id(v)] = ok
    return ok


def _per_entry(v, trailing: int) -> bool:
    """Whether `v`, before the broadcasts that gave it its shape, has no more axes (but
    leading size-1 ones) than a masked entry's `trailing`."""
    while isinstance(v.owner, Op) and (v.owner.name == "broadcast_to" or (
            v.owner.name == "reshape" and v.owner.operands[0].type.size == v.type.size)):
        v = v.owner.operands[0]
    shape = list(v.type.shape)
    while shape and shape[0] == 1:
        shape.pop(0)
    return len(shape) <= trailing
