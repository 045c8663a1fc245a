"""np.vectorize(f)(*arrays) on run-time arrays: f called on each entry of the broadcast
arrays in turn, in a loop the tracer keeps as a loop (a Python `if` on the entry is a run-time
branch, as in the user's own loops), its results gathered into an array of the inputs' shape.

Contract: as NumPy's vectorize: the result's dtype is `otypes[0]`, or that of f's result on
the first entries (later results are cast to it); f is called once per entry; inputs of size 0
need otypes. A function returning several values, `excluded`, `signature` and keyword arguments
of the call are refused (FrontendError). `vectorized` is traced like user code.
"""
from __future__ import annotations

import numpy as np

from .problems import FrontendError


def call(tracer, vectorizer: np.vectorize, args, kwargs):
    """The traced call `vectorizer(*args, **kwargs)`."""
    if vectorizer.signature is not None or vectorizer.excluded or kwargs:
        raise FrontendError("np.vectorize with signature=, excluded= or keyword arguments is not "
                            "supported on run-time arrays; call it with the arrays by position")
    otypes = vectorizer.otypes or None
    if otypes is not None and len(otypes) != 1:
        raise FrontendError("np.vectorize of a function returning several values is not "
                            "supported on run-time arrays")
    dtype = None if otypes is None else np.dtype(otypes[0])
    # (a user's function reaches np.vectorize wrapped for native code: calls.foreign)
    pyfunc = getattr(vectorizer.pyfunc, "user_function", vectorizer.pyfunc)
    return tracer.call(vectorized, [pyfunc, dtype, *args], {})


def vectorized(pyfunc, dtype, *args):
    arrays = np.broadcast_arrays(*[np.asarray(a) for a in args])
    flat = [np.ravel(a) for a in arrays]
    size = flat[0].shape[0]
    if size == 0:
        if dtype is None:
            raise ValueError("cannot call `vectorize` on size 0 inputs unless `otypes` is set")
        return np.zeros(arrays[0].shape, dtype)
    first = pyfunc(*[a[0] for a in flat])
    if isinstance(first, tuple):
        raise TypeError("np.vectorize of a function returning several values is not supported "
                        "on run-time arrays")
    out = np.zeros(size, np.asarray(first).dtype if dtype is None else dtype)
    out[0] = first
    for i in range(1, size):
        out[i] = pyfunc(*[a[i] for a in flat])
    return np.reshape(out, arrays[0].shape)
