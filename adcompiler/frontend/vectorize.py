"""np.vectorize(f)(*arrays) on run-time arrays: f called on each entry of the broadcast
arrays in turn, in a loop the tracer keeps as a loop (a Python `if` on the entry is a run-time
branch, as in the user's own loops), its results gathered into an array of the inputs' shape;
and np.apply_along_axis(f, axis, arr, *args, **kwargs), f called on each 1-d slice so.

Contract: as NumPy's vectorize: the result's dtype is `otypes[0]`, or that of f's result on
the first entries as traced (later results are cast to it; where a run-time `if` in f returns
an int on one branch and a float on the other, a float, where NumPy's dtype depends on the
branch the first entry takes); f is called once per entry; inputs of size 0
need otypes. A function returning several values, `excluded`, `signature` and keyword arguments
of the call are refused (FrontendError). apply_along_axis's result has f's result's axes in
place of `axis`, its dtype f's on the first slice, as NumPy's. `vectorized` and
`applied_along_axis` are traced like user code.
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


def apply_along_axis(tracer, func1d, axis, arr, *args, **kwargs):
    """The traced call np.apply_along_axis(func1d, axis, arr, *args, **kwargs)."""
    ndim = tracer.tensor(arr).ndim
    if not isinstance(axis, (int, np.integer)) or not -ndim <= axis < ndim:
        raise FrontendError(f"np.apply_along_axis: axis {axis!r} is not a static axis of a "
                            f"{ndim}-d array")
    pyfunc = getattr(func1d, "user_function", func1d)
    return tracer.call(applied_along_axis, [pyfunc, int(axis) % ndim, arr, args, kwargs], {})


def applied_along_axis(func1d, axis, arr, args, kwargs):
    moved = np.moveaxis(np.asarray(arr), axis, -1)
    rows = np.reshape(moved, (-1, moved.shape[-1]))
    first = np.asarray(func1d(rows[0], *args, **kwargs))
    out = np.zeros((rows.shape[0],) + first.shape, first.dtype)
    out[0] = first
    for i in range(1, rows.shape[0]):
        out[i] = func1d(rows[i], *args, **kwargs)
    out = np.reshape(out, moved.shape[:-1] + first.shape)
    if first.ndim:      # (f's result's axes go where `axis` was)
        out = np.moveaxis(out, list(range(out.ndim - first.ndim, out.ndim)),
                          list(range(axis, axis + first.ndim)))
    return out
