"""Specialisation of a traced function on its arguments, and the trace cache.

Contract:
- Arguments are bound to the function's parameters (`inspect.signature`). Each supplied
  argument is a pytree (nested tuples/lists/dicts); its leaves are run-time data when they are
  NumPy arrays, NumPy scalars or Python floats (weak f64[] scalars), and compile-time constants
  otherwise (ints, bools, strings, None, any hashable object). Parameters left to their
  defaults are compile-time constants.
- The specialisation key is the argument structure with its static values (typed, so 1, 1.0 and
  True differ) and the (dtype, shape, weak) of every run-time leaf; `trace` caches one IR
  function per (function, key).
- `Signature` is stored as `fn.meta["signature"]`: `flatten_args(args, kwargs)` gives the run-time
  leaves in parameter order as arrays of the traced dtypes (checking the arguments fit the
  specialisation), `unflatten_result(outputs)` rebuilds the function's return value (weak
  results as Python scalars, rank-0 results as NumPy scalars, as NumPy returns them).
"""
from __future__ import annotations

import numpy as np

from ..errors import TraceError
from ..ir.types import TensorType
from . import carry
from .pytree import flatten, leaf_paths, unflatten
from .values import NP_OF, IR_OF, Traced


def is_runtime_leaf(x) -> bool:
    return isinstance(x, (np.ndarray, np.generic, float)) and not isinstance(x, bool)


def _typed(treedef):
    from .calls import _typed as typed
    return typed(treedef)


class Signature:
    def __init__(self, pysig, name: str, prefix=()):
        self.pysig = pysig
        self.name = name
        self.prefix = tuple(prefix)     # a bound method's `self`
        self.result = None          # the traced return value (Traced leaves are the outputs)

    def describe(self, args, kwargs):
        """(params: name -> pytree with Spec leaves, runtime leaves, key)."""
        from .interpreter import Spec
        try:
            bound = self.pysig.bind(*self.prefix, *args, **kwargs)
        except TypeError as e:
            raise TraceError(f"{self.name}(): {e}") from None
        supplied = set(bound.arguments)
        bound.apply_defaults()
        params, leaves, key = {}, [], []
        for pname, value in bound.arguments.items():
            if pname not in supplied:
                params[pname] = value
                key.append((pname, "default"))
                continue
            found, treedef = flatten(value, is_runtime_leaf)
            specs = []
            for leaf, path in zip(found, leaf_paths(treedef, pname), strict=True):
                dtype = np.asarray(leaf).dtype
                if dtype not in IR_OF:
                    raise TraceError(f"argument {path} has dtype {dtype}, which adcompiler does "
                                     "not support (float64/32/16, int64/32, bool)")
                specs.append(Spec(TensorType(IR_OF[dtype], np.shape(leaf)),
                                  weak=isinstance(leaf, float)))
            typed = _typed(treedef)
            try:
                hash(typed)
            except TypeError:
                raise TraceError(f"argument {pname} holds an unhashable static value (static "
                                 "arguments are part of the specialisation key)") from None
            params[pname] = unflatten(treedef, specs)
            leaves += found
            key.append((pname, typed, tuple(specs)))
        return params, leaves, tuple(key)

    def flatten_args(self, args, kwargs=None):
        _, leaves, key = self.describe(args, kwargs or {})
        return self.flatten_leaves(leaves, key)

    def flatten_leaves(self, leaves, key):
        """`flatten_args` for leaves and key that `describe` already gave."""
        if key != self.key:
            raise TraceError(f"the arguments do not match the signature {self.name} was traced "
                             "for (shapes, dtypes and static values must be the same; trace "
                             "again for new ones)")
        specs = [s for part in key if len(part) == 3 for s in _spec_leaves(part[2])]
        return [np.asarray(x, dtype=NP_OF[s.type.dtype])
                for x, s in zip(leaves, specs, strict=True)]

    def unflatten_result(self, outputs):
        outputs = () if outputs is None else tuple(outputs)
        leaves, struct = carry.split(self.result)
        it = iter(outputs)
        out = [_as_numpy(next(it), x) if isinstance(x, Traced) else x for x in leaves]
        if next(it, None) is not None:
            raise TraceError("more outputs than the traced function returns")
        return carry.build(struct, out)


def _spec_leaves(specs):
    return list(specs)


def _as_numpy(value, traced: Traced):
    arr = np.asarray(value)
    if traced.weak:
        return arr.item()
    return arr[()] if arr.ndim == 0 else arr
