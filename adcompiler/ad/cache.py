"""Adjoints kept on disk, so a second process that differentiates the same function reads its
adjoint back instead of deriving it, and never imports SymPy (together 0.3 s of the medium
GPT's 2 s warm start; reading back takes 0.04 s).

Contract: `key(primal, wrt, seeded)` names the entry of an input; `load(entry, wrt, seeded)`
returns the `Adjoint` that `differentiate` made for it before, or None; `store(entry, adjoint)`
keeps it. The key is a hash of: the sources of the packages that shape an adjoint (`ad`, `ops`,
`transforms`, `ir`) and SymPy's version, the primal's IR text with its callees (custom
derivatives are IR functions there too), its ops' full source locations (the text names files
by base name only), `wrt` and `seeded`. The value
is the fwd and bwd IR texts with their full locations in walk order; a text that does not read
back to itself is not stored. Files: `<cache dir>/adjoints/<key>.json` (`adcompiler.cachedir`:
written whole; an entry that cannot be read or parsed, or a folder that cannot be made, is a
miss).
"""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
from pathlib import Path

from .. import ir
from ..cachedir import read_entry, source_stamp, write_entry
from ..ir.parser import parse
from ..ir.printer import locations, print_function, quoted


@functools.cache
def _code_stamp() -> str:
    here = Path(__file__).resolve().parent
    folders = [here, here.parent / "ops", here.parent / "transforms", Path(ir.__file__).parent]
    return source_stamp([p for folder in folders for p in folder.glob("*.py")],
                        importlib.metadata.version("sympy"))    # SymPy derives the rules


def key(primal, wrt, seeded) -> str:
    """The entry name of this input (see the module docstring)."""
    fns = [primal] + (primal.callees() if primal.module else [])
    locs = [locations(f) for f in fns]
    # (with the lines generated code quotes: a backend keys what it built by this key)
    text = json.dumps([_code_stamp(), print_function(primal), locs, [quoted(x) for x in locs],
                       list(wrt), list(seeded)])
    return hashlib.sha1(text.encode()).hexdigest() + ".json"


def _read_back(text, locs):
    fn = parse(text)
    ops = list(fn.walk())
    if len(locs) != len(ops) + 1:
        return None
    fn.loc = _loc(locs[0])
    for op, loc in zip(ops, locs[1:]):
        op.loc = _loc(loc)
    return fn


def _loc(raw):
    """A loc read back from JSON: (file, line), or (file, line, the call's loc) inlined."""
    if not raw:
        return None
    return (raw[0], raw[1], _loc(raw[2])) if len(raw) > 2 else tuple(raw)


def load(entry, wrt, seeded):
    """The adjoint kept under `entry` (a `key`), or None."""
    from . import Adjoint
    raw = read_entry("adjoints", entry)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        fwd, bwd = (_read_back(data[k], data[k + "_locations"]) for k in ("fwd", "bwd"))
        if fwd is None or bwd is None:
            return None
        return Adjoint(fwd, bwd, data["n_results"], data["n_residuals"], tuple(seeded),
                       tuple(wrt))
    except Exception:   # noqa: BLE001  damaged: derive it again
        return None


def store(entry, adj) -> None:
    data = {"n_results": adj.n_results, "n_residuals": adj.n_residuals}
    for k in ("fwd", "bwd"):
        fn = getattr(adj, k)
        text = print_function(fn)
        if fn.module and fn.callees() or print_function(parse(text)) != text:
            return          # kept only when the text alone gives the function back
        data[k], data[k + "_locations"] = text, locations(fn)
    write_entry("adjoints", entry, json.dumps(data).encode())
