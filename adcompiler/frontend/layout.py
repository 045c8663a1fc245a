"""Memory layouts, where NumPy's choice between a view and a copy depends on them.

Contract: a traced array's `layout` (values.Traced) is None where its memory layout is not
known while tracing (an argument, a value a loop or branch carried, most op results), else a
*probe*: an int8 array of the array's shape and strides (in elements) made with
`as_strided` over one byte, whose memory is never read. The arrays the frontend knows are
C-contiguous are those of the creation functions (np.zeros, np.empty, np.full, np.arange...),
x.copy(), and np.copy or the *_like functions of one known to be; a view of an array whose
layout is known has the probe NumPy's own indexing or transpose gives on its base's probe.

With that, a reshape or ravel is what NumPy makes of it: `reshaped` gives the view's probe, or
None where NumPy copies (np.reshape(..., copy=False) on the probe refuses exactly there; ravel
views only a C-contiguous array). Only NumPy calls that make views are applied to probes.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .values import Traced

_BYTE = np.zeros(1, np.int8)


def c_order(shape) -> np.ndarray:
    """The probe of a C-contiguous array of `shape`."""
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return as_strided(_BYTE, tuple(shape), tuple(reversed(strides)), writeable=False)


def c_contiguous(probe) -> bool:
    return probe is not None and probe.flags.c_contiguous


def reshaped(probe, shape, ravel=False):
    """The probe of a reshape's view, or None where NumPy copies (also a ravel that is not
    of a C-contiguous array)."""
    if ravel and not probe.flags.c_contiguous:
        return None
    try:
        return np.reshape(probe, shape, copy=False)
    except ValueError:
        return None


def indexed(probe, key):
    """The probe of a basic index's view (`key` as getitem takes it; a run-time integer
    picks one entry, which strides do not depend on; None where a slice bound is known only
    at run time)."""
    items = []
    for k in key if isinstance(key, tuple) else (key,):
        if isinstance(k, slice) and any(isinstance(b, Traced) for b in (k.start, k.stop, k.step)):
            return None
        items.append(0 if isinstance(k, Traced) else k)
    return probe[tuple(items)]
