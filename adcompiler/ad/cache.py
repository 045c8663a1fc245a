"""Adjoints kept on disk, so a second process that differentiates the same function reads its
adjoint back instead of deriving it, and never imports SymPy (together 0.3 s of the medium
GPT's 2 s warm start; reading back takes 0.04 s).

Contract: `load(primal, wrt, seeded)` returns the `Adjoint` that `differentiate` made for the
same input before, or None; `store(primal, wrt, seeded, adjoint)` keeps it. The key is a hash
of: the sources of the packages that shape an adjoint (`ad`, `ops`, `transforms`, `ir`) and
SymPy's version, the
primal's IR text with its callees (custom derivatives are IR functions there too), its ops'
full source locations (the text names files by base name only), `wrt` and `seeded`. The value
is the fwd and bwd IR texts with their full locations in walk order; a text that does not read
back to itself is not stored. Files: `<cache dir>/adjoints/<key>.json` (`adcompiler.cachedir`),
written whole and then renamed, so a concurrent process reads all of one or nothing. An entry
that cannot be read or parsed, or a cache directory that cannot be made, is a miss.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
import tempfile
from pathlib import Path

from .. import ir
from ..cachedir import cache_dir
from ..ir.parser import parse
from ..ir.printer import locations, print_function


@functools.cache
def _code_stamp() -> str:
    here = Path(__file__).resolve().parent
    folders = [here, here.parent / "ops", here.parent / "transforms", Path(ir.__file__).parent]
    h = hashlib.sha1(importlib.metadata.version("sympy").encode())   # it derives the rules
    for path in sorted(p for folder in folders for p in folder.glob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()


def _key(primal, wrt, seeded) -> str:
    fns = [primal] + (primal.callees() if primal.module else [])
    text = json.dumps([_code_stamp(), print_function(primal), [locations(f) for f in fns],
                       list(wrt), list(seeded)])
    return hashlib.sha1(text.encode()).hexdigest()


def _path(primal, wrt, seeded) -> Path:
    return cache_dir("adjoints") / f"{_key(primal, wrt, seeded)}.json"


def _read_back(text, locs):
    fn = parse(text)
    ops = list(fn.walk())
    if len(locs) != len(ops) + 1:
        return None
    fn.loc = tuple(locs[0]) if locs[0] else None
    for op, loc in zip(ops, locs[1:]):
        op.loc = tuple(loc) if loc else None
    return fn


def load(primal, wrt, seeded):
    from . import Adjoint
    try:
        data = json.loads(_path(primal, wrt, seeded).read_text())
        fwd, bwd = (_read_back(data[k], data[k + "_locations"]) for k in ("fwd", "bwd"))
        if fwd is None or bwd is None:
            return None
        return Adjoint(fwd, bwd, data["n_results"], data["n_residuals"], tuple(seeded),
                       tuple(wrt))
    except Exception:   # noqa: BLE001  missing, unreadable or damaged: derive it again
        return None


def store(primal, wrt, seeded, adj) -> None:
    data = {"n_results": adj.n_results, "n_residuals": adj.n_residuals}
    for k in ("fwd", "bwd"):
        fn = getattr(adj, k)
        text = print_function(fn)
        if fn.module and fn.callees() or print_function(parse(text)) != text:
            return          # kept only when the text alone gives the function back
        data[k], data[k + "_locations"] = text, locations(fn)
    try:
        path = _path(primal, wrt, seeded)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    except OSError:
        pass                # an unwritable cache directory only costs the next process time
