"""Reverse-mode AD on the IR. `differentiate` is the stage the API calls:

    primal --inline, residuals of custom derivatives--> reverse (fwd, bwd)
           --simplify, fold, licm, cse, dce--> prune residuals

(or the adjoint an earlier process derived from the same primal, read back from disk: `cache`)

Result: an `Adjoint` with `fwd` (primal params -> primal results + residuals) and `bwd`
(residuals + one cotangent per seeded result -> one gradient per differentiated param). The
residuals left are exactly those the optimised backward sweep reads. Its `key` names the input
(`cache.key`: the primal's text and locations, `wrt`, `seeded`, the code that derives
adjoints): equal keys give equal adjoints, so a backend may key what it builds by it.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..ir.core import Function, Op
from ..ir.passes import maybe_print, run_passes
from ..ir.printer import hint_printed_names
from ..ir.rewrite import clone_block, replace_all, users
from . import cache
from .reverse import reverse

CLEANUP = ("fold", "simplify", "licm", "cse", "dce")


@dataclass
class Adjoint:
    fwd: Function
    bwd: Function
    n_results: int          # primal results at the head of fwd's results
    n_residuals: int
    seeded: tuple           # indices of the primal results that get a cotangent
    wrt: tuple              # indices of the differentiated parameters
    key: str | None = None  # names the input (`cache.key`): equal keys, equal adjoints, so a
                            # backend may find what it built from this adjoint by the key alone


def _drop_params(fn: Function, keep) -> None:
    body = fn.body
    body.args = [a for a, k in zip(body.args, keep, strict=True) if k]
    for i, a in enumerate(body.args):
        a.index = i


def differentiate(primal: Function, wrt, seeded=None) -> Adjoint:
    seeded = tuple(range(len(primal.results)) if seeded is None else seeded)
    entry = cache.key(primal, wrt, seeded)
    adj = cache.load(entry, wrt, seeded)
    if adj is None:
        adj = _derive(primal, wrt, seeded)
        cache.store(entry, adj)
    else:
        maybe_print("ad", adj.fwd)
        maybe_print("ad", adj.bwd)
    adj.key = entry
    return adj


def _residuals_from_plain_calls(fn: Function) -> bool:
    """A call with a custom derivative (`call @f_fwd {vjp=f_bwd, outputs=k}`) whose residuals
    `fn` reads, as the backward sweep of a first derivative does when a second is taken, gets
    them from a plain call of f_fwd, which is inlined and differentiated: f_bwd gives the
    outputs' derivative, f_fwd's own code the residuals' (else their cotangents were lost, and
    second derivatives through custom_vjp and elementwise functions were zero). Whether it
    changed `fn`."""
    readers = users([fn])
    changed = False
    for op in list(fn.walk()):
        residuals = op.results[op.attrs.get("outputs", 0):] if "vjp" in op.attrs else []
        if not any(r in readers for r in residuals):
            continue
        plain = Op("call", op.operands, {"callee": op.attrs["callee"]},
                   [r.type for r in op.results], loc=op.loc, hints=[r.hint for r in op.results])
        plain.parent = op.parent
        op.parent.ops.insert(op.parent.ops.index(op) + 1, plain)
        replace_all(fn, dict(zip(residuals, plain.results[len(op.results) - len(residuals):],
                                 strict=True)))
        changed = True
    return changed


def _derive(primal: Function, wrt, seeded) -> Adjoint:
    fn = Function(primal.name, clone_block(primal.body, {}), loc=primal.loc, module=primal.module)
    fn = run_passes(fn, ["inline", "cse"])      # (calls of a helper with equal arguments: one)
    if _residuals_from_plain_calls(fn):
        fn = run_passes(fn, ["inline", "cse"])
    # the forward function names the primal's values as the primal's text does, and the
    # backward one their adjoints after those names: `d_h_1` is the adjoint of `h_1`
    hint_printed_names(fn)
    n_results = len(fn.results)
    fwd, bwd = reverse(fn, wrt, seeded)
    bwd = run_passes(bwd, CLEANUP)
    n_res = len(bwd.args) - len(seeded)
    used = {v for op in bwd.walk() for v in op.operands}
    keep = [a in used for a in bwd.args[:n_res]]
    _drop_params(bwd, keep + [True] * len(seeded))
    ret = fwd.body.terminator
    ret.operands = ret.operands[:n_results] + [v for v, k in zip(ret.operands[n_results:], keep,
                                                                 strict=True) if k]
    fwd = run_passes(fwd, CLEANUP)
    maybe_print("ad", fwd)
    maybe_print("ad", bwd)
    return Adjoint(fwd, bwd, n_results, sum(keep), seeded, tuple(wrt))


__all__ = ["Adjoint", "differentiate", "reverse"]
