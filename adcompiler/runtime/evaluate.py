"""`evaluate(ir_fn, *args)`: run an IR function with NumPy, through the NumPy backend.

A function from `trace` takes the original Python function's arguments (pytrees; static
values are baked in) and returns its result structure; a parsed function takes its flat
parameters and returns a value, or a tuple for several results.
"""
from __future__ import annotations

from ..backends.numpy import compile_function


def evaluate(fn, *args, **kwargs):
    call = fn.meta.get("numpy_callable")
    if call is None:
        call = fn.meta["numpy_callable"] = compile_function(fn)
    signature = fn.meta.get("signature")
    if signature is None:
        return call(*args)
    _, leaves, key = signature.describe(args, kwargs, params=False)
    out = call(*signature.flatten_leaves(leaves, key))
    out = out if len(fn.results) != 1 else (out,)
    out, _ = signature.write_back(args, kwargs, leaves, out)    # what it changes in place
    return signature.unflatten_result(out)
