"""NaN-ignoring reductions, as NumPy's `numpy/lib/_nanfunctions_impl.py` computes them: the NaNs
replaced by the reduction's identity (0 for nansum, 1 for nanprod, -inf / +inf for nanmax /
nanargmax, nanmin / nanargmin), then the ordinary reduction, with where=, initial=, dtype= and
keepdims= passed on. nanmean, nanvar and nanstd count the entries that are not NaN (their
gradient reaches those only). Integer and boolean arrays have no NaNs: theirs are the ordinary
reductions. (np.nanmedian is in sorting.py, with np.median.)

All-NaN slices, where NumPy warns: nanmean, nanmax, nanmin, nanvar and nanstd give NaN (nanvar
and nanstd also where no more than `ddof` entries are left), nansum 0, nanprod 1, as NumPy.
nanargmax / nanargmin of an all-NaN slice, where NumPy raises ValueError, stop the compiled
program with an `AssertionFailed` ("All-NaN slice encountered", an AssertionError) at the
user's line: the data is known only at run time.
"""
from __future__ import annotations

import numpy as np

from . import reductions as red
from .arith import binary, where as where_
from .emit import Emitter
from .problems import FrontendError, no_out
from .values import Traced


def _replace_nan(cx: Emitter, a, fill):
    """(a with its NaNs replaced by `fill`, where a is NaN), or (a, None) when a has no floats."""
    t = cx.tensor(a)
    if not t.type.is_float:
        return t, None
    isnan = cx.op("isnan", t.value)
    return cx.wrap(cx.op("where", isnan, cx.const(fill, t.dtype), t.value)), isnan


def _not_nan(cx: Emitter, isnan, arr: Traced, where) -> Traced:
    """The entries that are not NaN and `where=` keeps."""
    keep = cx.op("logical_not", isnan)
    given = red.mask(cx, where, arr)
    return cx.wrap(keep if given is None else cx.op("logical_and", keep, given))


def nansum(cx: Emitter, name, a, axis=None, dtype=None, out=None, keepdims=False,
           initial=np._NoValue, where=True) -> Traced:
    """np.nansum (name "sum") and np.nanprod ("prod")."""
    no_out(out, f"np.nan{name}")
    arr, _ = _replace_nan(cx, a, int(name == "prod"))
    return red.reduce(cx, name, arr, axis, keepdims, dtype, initial, where)


def nanmean(cx: Emitter, a, axis=None, dtype=None, out=None, keepdims=False,
            where=True) -> Traced:
    no_out(out, "np.nanmean")
    arr, isnan = _replace_nan(cx, a, 0)
    if isnan is not None:
        where = _not_nan(cx, isnan, arr, where)
    return red.mean(cx, arr, axis, dtype, keepdims, where)


def nanextreme(cx: Emitter, name, a, axis=None, out=None, keepdims=False,
               initial=np._NoValue, where=True) -> Traced:
    """np.nanmax (name "max") and np.nanmin ("min"): NumPy's fmax / fmin reductions, NaN for
    an all-NaN slice unless `initial` is given."""
    no_out(out, f"np.nan{name}")
    arr, isnan = _replace_nan(cx, a, -np.inf if name == "max" else np.inf)
    result = red.reduce(cx, name, arr, axis, keepdims, None, initial, where)
    if isnan is None or initial is not np._NoValue:
        return result
    all_nan = red.any_all(cx, "all", cx.wrap(isnan), axis, keepdims)
    return where_(cx, all_nan, np.array(np.nan, result.np_dtype), result)


def nanvar(cx: Emitter, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *,
           where=True, mean=np._NoValue, correction=np._NoValue, std=False) -> Traced:
    """np.nanvar and np.nanstd (`std`): var over the entries that are not NaN, NaN where no
    more than `ddof` of them are left."""
    no_out(out, "np.nanstd" if std else "np.nanvar")
    if mean is not np._NoValue or correction is not np._NoValue:
        raise FrontendError("np.nanvar/np.nanstd with mean= or correction= is not supported; "
                            "use ddof=")
    arr, isnan = _replace_nan(cx, a, 0)
    if isnan is None:
        return red.var(cx, arr, axis, dtype, ddof, keepdims, std, where)
    kept = _not_nan(cx, isnan, arr, where)
    v = red.var(cx, arr, axis, dtype, ddof, keepdims, std, kept)
    too_few = binary(cx, "le", red.count_nonzero(cx, kept, axis, keepdims), ddof)
    return where_(cx, too_few, np.array(np.nan, v.np_dtype), v)


def nanargmax(cx: Emitter, name, a, axis=None, out=None, keepdims=False) -> Traced:
    """np.nanargmax (name "argmax") and np.nanargmin ("argmin"): the index NumPy gives, after
    a run-time check that no slice is all NaN."""
    no_out(out, f"np.nan{name}")
    arr, isnan = _replace_nan(cx, a, -np.inf if name == "argmax" else np.inf)
    if isnan is not None and arr.type.size:
        all_nan = red.any_all(cx, "all", cx.wrap(isnan), axis)
        red.assert_none(cx, all_nan, "All-NaN slice encountered")
    return red.argmax(cx, name, arr, axis, keepdims)
