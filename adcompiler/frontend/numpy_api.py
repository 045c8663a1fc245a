"""The table from NumPy functions, array methods and array attributes to IR construction.

Contract:
- `FUNCTIONS[np_fn](cx, *args, **kwargs)` builds the call's value; parameter names follow
  NumPy's, so an unsupported keyword is a plain TypeError the interpreter reports.
- `ALWAYS_TRACED` functions build IR even with static arguments (array creation: an
  `np.zeros((T, T))` stays a `constant` + `broadcast_to`, not a literal). Other table functions
  called with only static arguments are computed by NumPy at trace time (`np.sqrt(2 / np.pi)`
  is a static NumPy float64, strong in promotions, exactly as when NumPy runs the function).
- `METHODS[name](cx, self, *args, **kwargs)` are array methods (`x.sum(axis=0)`), `ATTRIBUTES`
  array attributes (`x.T`, `x.shape`: static tuples).
- `DTYPE_TYPES` (np.float32, ...) called on a traced value are an `astype` (strong result).
Anything else NumPy offers is not in the IR: calling it on a traced value is an error.
"""
from __future__ import annotations

import ast

import numpy as np

from . import (arith, calculus, composites, creation, inplace, linalg, linalg_derived as lind,
               masked, nanfunctions as nan, reductions as red, searching, segments, shapes,
               sorting, statistics, ufuncs, vectorize, windows)
from .indexing import Flat, along, getitem, ix_, unravel_index
from .problems import FrontendError, no_out
from .values import Traced, contains_traced, dtype_arg, ir_dtype, result_dtype

UNARY = {np.exp: "exp", np.log: "log", np.log1p: "log1p", np.expm1: "expm1", np.sqrt: "sqrt",
         np.tanh: "tanh", np.sin: "sin", np.cos: "cos", np.tan: "tan", np.arcsin: "arcsin",
         np.arccos: "arccos", np.arctan: "arctan", np.sinh: "sinh", np.cosh: "cosh",
         np.arcsinh: "arcsinh", np.arccosh: "arccosh", np.arctanh: "arctanh",
         np.abs: "abs", np.sign: "sign", np.floor: "floor", np.ceil: "ceil",
         np.trunc: "trunc", np.rint: "rint", np.negative: "neg",
         np.logical_not: "logical_not", np.log2: "log2", np.log10: "log10", np.exp2: "exp2",
         np.cbrt: "cbrt"}
BINARY = {np.add: "add", np.subtract: "sub", np.multiply: "mul", np.divide: "div",
          np.power: "pow", np.floor_divide: "floordiv", np.remainder: "mod",
          np.maximum: "maximum", np.minimum: "minimum", np.less: "lt", np.less_equal: "le",
          np.greater: "gt", np.greater_equal: "ge", np.equal: "eq", np.not_equal: "ne",
          np.logical_and: "logical_and", np.logical_or: "logical_or", np.arctan2: "arctan2",
          np.hypot: "hypot", np.logaddexp: "logaddexp", np.copysign: "copysign"}


def _operand(cx, x):
    """A ufunc's operand: a list or tuple holding run-time values stacked into one array, as
    NumPy converts it (np.exp([x[0], 1.0]))."""
    return shapes.as_array(cx, x) if isinstance(x, (list, tuple)) else x


def _unary(ufunc, name):
    def fn(cx, x, /, out=None, *, where=True):
        return ufuncs.with_out(cx, ufunc, lambda a: arith.unary(cx, name, a),
                               [_operand(cx, x)], out, where)
    return fn


def _binary(ufunc, name):
    def fn(cx, x1, x2, /, out=None, *, where=True):
        return ufuncs.with_out(cx, ufunc, lambda a, b: arith.binary(cx, name, a, b),
                               [_operand(cx, x1), _operand(cx, x2)], out, where)
    return fn


def _angle(ufunc):
    return lambda cx, x, /: ufuncs.angle(cx, ufunc, x)


# The reductions take NumPy's parameters in NumPy's order, `out` too (refused unless None), so
# that arguments given by position land where NumPy puts them (np.sum(x, 0, None, None, True)
# keeps the axis)

def _reduce(name):
    def fn(cx, a, axis=None, dtype=None, out=None, keepdims=False, initial=np._NoValue,
           where=True):
        no_out(out, f"np.{name}")
        return red.reduce(cx, name, a, axis, keepdims, dtype, initial, where)
    return fn


def _extreme(name):
    def fn(cx, a, axis=None, out=None, keepdims=False, initial=np._NoValue, where=True):
        no_out(out, f"np.{name}")
        return red.reduce(cx, name, a, axis, keepdims, None, initial, where)
    return fn


def _any_all(name):
    def fn(cx, a, axis=None, out=None, keepdims=False, *, where=True):
        no_out(out, f"np.{name}")
        return red.any_all(cx, name, a, axis, keepdims, where)
    return fn


def _mean(cx, a, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    no_out(out, "np.mean")
    return red.mean(cx, a, axis, dtype, keepdims, where)


def _var(std):
    def fn(cx, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True):
        no_out(out, "np.std" if std else "np.var")
        return red.var(cx, a, axis, dtype, ddof, keepdims, std=std, where=where)
    return fn


def _argmax(name):
    def fn(cx, a, axis=None, out=None, *, keepdims=False):
        no_out(out, f"np.{name}")
        return red.argmax(cx, name, a, axis, keepdims)
    return fn


def _join(join, name):
    def fn(cx, arrays, axis=0, out=None, *, dtype=None):
        no_out(out, f"np.{name}")
        return join(cx, arrays, axis, dtype)
    return fn


def _where(cx, condition, *xy):
    if len(xy) != 2:
        raise FrontendError("np.where(condition) without x and y has a data-dependent shape; "
                            "use np.where(condition, x, y)")
    return arith.where(cx, *(_operand(cx, v) for v in (condition, *xy)))


def _data_dependent(name):
    """np.unique, np.nonzero and the like: how many entries they return depends on the values,
    and a compiled program's shapes are fixed when it is traced."""
    def fn(cx, *args, **kwargs):
        raise FrontendError(f"np.{name} returns as many entries as the values decide (a "
                            "data-dependent shape), which compiled code cannot have; keep the "
                            "shape with a mask (np.where(cond, x, 0)) or sort (np.sort)")
    return fn


DATA_DEPENDENT = ("unique", "unique_values", "unique_counts", "unique_inverse", "unique_all",
                  "nonzero", "flatnonzero", "argwhere", "extract", "compress", "trim_zeros")


def _read_only(t: Traced, why: str) -> Traced:
    """`t`, which NumPy returns as a read-only view: a write to it is an error saying `why`."""
    t.readonly = why
    return t


def _imag(cx, t):
    """A real array's imaginary part: read-only zeros, as NumPy's."""
    return _read_only(creation.zeros(cx, t.shape, t.np_dtype),
                      "the imaginary part of a real array is read-only")


def _choose(cx, a, choices, out=None, mode="raise"):
    """np.choose: the entry of choices[a] at each position, as a chain of wheres; an index out
    of range is a run-time assertion for mode='raise' (NumPy's ValueError), wraps or clips as
    NumPy's other modes."""
    no_out(out, "np.choose")
    options = [cx.tensor(c) for c in cx.iterate(choices)]     # (an array: its rows)
    n = len(options)
    index = cx.tensor(a, "i64")
    if mode == "raise":
        inside = FUNCTIONS[np.all](cx, arith.binary(cx, "logical_and",
                                                    arith.binary(cx, "ge", index, 0),
                                                    arith.binary(cx, "lt", index, n)))
        cx.op("assert", inside.value, message="invalid entry in choice array")
    elif mode == "wrap":
        index = arith.binary(cx, "mod", index, n)
    elif mode == "clip":
        index = arith.clip(cx, index, 0, n - 1)
    else:
        raise FrontendError(f"np.choose: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    out = options[0]        # every choice is tested, the first too: all broadcast together
    for k, option in enumerate(options):
        out = arith.where(cx, arith.binary(cx, "eq", index, k), option, out)
    return out


def _clip(cx, a, a_min=None, a_max=None, out=None, *, min=None, max=None):
    """np.clip; with `out=`, written into it (a PGD step's np.clip(x, lo, hi, out=x))."""
    lo, hi = a_min if min is None else min, a_max if max is None else max
    return ufuncs.with_out(cx, np.clip, lambda v: arith.clip(cx, v, lo, hi), [a], out, True)


def _take(cx, a, indices, axis=None, out=None, mode="raise"):
    """np.take; mode 'wrap' takes indices modulo the axis's size, 'clip' clips them into it
    (a negative one to 0), as NumPy's."""
    no_out(out, "np.take")
    t = cx.tensor(a)
    if isinstance(indices, (list, tuple)) and not indices:
        indices = np.zeros(0, np.intp)      # (NumPy takes an empty list as no indices)
    if axis is None:
        t, axis = shapes.ravel(cx, t), 0
    (axis,) = red.norm_axes((axis,), t.ndim)
    if mode not in ("raise", "wrap", "clip"):
        raise FrontendError(f"np.take: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    if mode != "raise":
        n = t.shape[axis]
        if n == 0 and np.size(indices):
            raise FrontendError("cannot do a non-empty take from an empty axes.")
        if contains_traced(indices):
            i = shapes.as_array(cx, indices)
            indices = arith.binary(cx, "mod", i, n) if mode == "wrap" else \
                arith.clip(cx, i, 0, n - 1)
        else:
            i = np.asarray(indices)
            indices = np.mod(i, n) if mode == "wrap" else np.clip(i, 0, n - 1)
    return along(cx, t, axis, indices, copy=True)      # (np.take's result is never a view)


def _ravel(cx, a, order):
    """np.ravel in row-major ('C') or column-major ('F') order; 'A' and 'K' follow the memory
    layout, which is not known of every traced array (layout.py): refused."""
    if order not in ("C", "F"):
        raise FrontendError(f"only order='C' and order='F' are supported, got {order!r} (which "
                            "follows the array's memory layout)")
    t = cx.tensor(a)
    return shapes.ravel(cx, shapes.transpose(cx, t) if order == "F" else t)


def _reshape(cx, a, shape=None, order="C", *, newshape=None):
    if order != "C":
        raise FrontendError("only order='C' reshapes are supported")
    return shapes.reshape(cx, a, newshape if shape is None else shape)


def _broadcast_arrays(cx, *args, subok=False):
    shape = np.broadcast_shapes(*[cx.tensor(a).shape for a in args])
    return tuple(_read_only(shapes.broadcast_to(cx, a, shape), "np.broadcast_arrays returns "
                            "views NumPy warns not to write to; call .copy() on one to get an "
                            "array you can change") for a in args)


def _square(cx, x, /):
    result_dtype(np.square, x)      # (NumPy's square of bools is int8: refused, as x // x is)
    return arith.binary(cx, "mul", x, x, hint="square")


FUNCTIONS = {
    **{getattr(np, n): _data_dependent(n) for n in DATA_DEPENDENT if hasattr(np, n)},
    **{f: _unary(f, n) for f, n in UNARY.items()},
    **{f: _binary(f, n) for f, n in BINARY.items()},
    np.square: _square,
    np.fabs: lambda cx, x, /: arith.unary(cx, "abs", _operand(cx, x), ufunc=np.fabs),
    np.reciprocal: ufuncs.reciprocal, np.positive: ufuncs.positive, np.fmod: ufuncs.fmod,
    np.fmax: lambda cx, x1, x2, /: ufuncs.fextreme(cx, "fmax", x1, x2),
    np.fmin: lambda cx, x1, x2, /: ufuncs.fextreme(cx, "fmin", x1, x2),
    np.heaviside: ufuncs.heaviside, np.signbit: ufuncs.signbit,
    np.logical_xor: ufuncs.logical_xor, np.sinc: ufuncs.sinc, np.logaddexp2: ufuncs.logaddexp2,
    np.invert: lambda cx, x, /: cx.unaryop(ast.Invert, _operand(cx, x)),     # (bitwise_not)
    np.deg2rad: _angle(np.deg2rad), np.radians: _angle(np.deg2rad),
    np.rad2deg: _angle(np.rad2deg), np.degrees: _angle(np.rad2deg),
    np.float_power: ufuncs.float_power, np.isclose: ufuncs.isclose,
    np.allclose: ufuncs.allclose,
    np.isnan: lambda cx, x, /: arith.classify(cx, "isnan", x),
    np.isinf: lambda cx, x, /: arith.classify(cx, "isinf", x),
    np.isposinf: lambda cx, x, out=None: ufuncs.isinf_signed(cx, x, out, "gt"),
    np.isneginf: lambda cx, x, out=None: ufuncs.isinf_signed(cx, x, out, "lt"),
    np.isfinite: lambda cx, x, /: arith.classify(cx, "isfinite", x),
    np.round: lambda cx, a, decimals=0: arith.round_(cx, a, decimals),
    np.around: lambda cx, a, decimals=0: arith.round_(cx, a, decimals),
    np.nan_to_num: lambda cx, x, copy=True, nan=0.0, posinf=None, neginf=None:
        arith.nan_to_num(cx, x, copy, nan, posinf, neginf),
    np.dot: lambda cx, a, b: linalg.dot(cx, a, b),
    np.matmul: lambda cx, x1, x2, /: linalg.matmul(cx, x1, x2),
    np.outer: lambda cx, a, b: linalg.outer(cx, a, b),
    np.einsum: linalg.einsum,
    np.tensordot: lambda cx, a, b, axes=2: linalg.tensordot(cx, a, b, axes),
    np.linalg.norm: lambda cx, x, ord=None, axis=None, keepdims=False:
        composites.norm(cx, x, ord, axis, keepdims),
    np.linalg.inv: lambda cx, a: linalg.inv(cx, a),
    np.linalg.solve: lambda cx, a, b: linalg.solve(cx, a, b),
    np.linalg.det: lambda cx, a: linalg.det(cx, a),
    np.linalg.slogdet: lambda cx, a: linalg.slogdet(cx, a),
    np.linalg.cholesky: lambda cx, a, /, *, upper=False: linalg.cholesky(cx, a, upper),
    np.linalg.eigh: lambda cx, a, UPLO="L": linalg.eigh(cx, a, UPLO),
    np.linalg.eigvalsh: lambda cx, a, UPLO="L": linalg.eigvalsh(cx, a, UPLO),
    np.linalg.svd: lambda cx, a, full_matrices=True, compute_uv=True, hermitian=False:
        linalg.svd(cx, a, full_matrices, compute_uv, hermitian),
    np.linalg.qr: lambda cx, a, mode="reduced": linalg.qr(cx, a, mode),
    np.linalg.pinv: lambda cx, a, rcond=None, hermitian=False, *, rtol=np._NoValue:
        lind.pinv(cx, a, rcond, hermitian, rtol),
    np.linalg.matrix_power: lambda cx, a, n: lind.matrix_power(cx, a, n),
    np.linalg.lstsq: lambda cx, a, b, rcond=None: lind.lstsq(cx, a, b, rcond),
    np.linalg.matrix_rank: lambda cx, A, tol=None, hermitian=False, *, rtol=None:
        lind.matrix_rank(cx, A, tol, hermitian, rtol),
    np.linalg.cond: lambda cx, x, p=None: lind.cond(cx, x, p),
    np.linalg.multi_dot: lambda cx, arrays, *, out=None: lind.multi_dot(cx, arrays, out),
    **({np.linalg.svdvals: lambda cx, x, /: lind.svdvals(cx, x)}
       if hasattr(np.linalg, "svdvals") else {}),        # (NumPy 2.0)
    np.searchsorted: lambda cx, a, v, side="left", sorter=None:
        searching.searchsorted(cx, a, v, side, sorter),
    np.digitize: lambda cx, x, bins, right=False: searching.digitize(cx, x, bins, right),
    np.interp: lambda cx, x, xp, fp, left=None, right=None, period=None:
        searching.interp(cx, x, xp, fp, left, right, period),
    np.partition: lambda cx, a, kth, axis=-1, kind="introselect", order=None:
        searching.partition(cx, a, kth, axis, kind, order),
    np.argpartition: lambda cx, a, kth, axis=-1, kind="introselect", order=None:
        searching.partition(cx, a, kth, axis, kind, order, arg=True),
    np.sum: _reduce("sum"), np.prod: _reduce("prod"),
    np.max: _extreme("max"), np.min: _extreme("min"),
    np.amax: _extreme("max"), np.amin: _extreme("min"),
    np.any: _any_all("any"), np.all: _any_all("all"),
    np.mean: _mean, np.var: _var(std=False), np.std: _var(std=True),
    np.nansum: lambda cx, *a, **k: nan.nansum(cx, "sum", *a, **k),
    np.nanprod: lambda cx, *a, **k: nan.nansum(cx, "prod", *a, **k),
    np.nanmax: lambda cx, *a, **k: nan.nanextreme(cx, "max", *a, **k),
    np.nanmin: lambda cx, *a, **k: nan.nanextreme(cx, "min", *a, **k),
    np.nanmean: nan.nanmean, np.nanvar: nan.nanvar,
    np.nanstd: lambda cx, *a, **k: nan.nanvar(cx, *a, **k, std=True),
    np.nanargmax: lambda cx, a, axis=None, out=None, *, keepdims=False:
        nan.nanargmax(cx, "argmax", a, axis, out, keepdims),
    np.nanargmin: lambda cx, a, axis=None, out=None, *, keepdims=False:
        nan.nanargmax(cx, "argmin", a, axis, out, keepdims),
    np.nanmedian: sorting.nanmedian, np.ptp: red.ptp,
    np.cumulative_sum: lambda cx, x, /, *, axis=None, dtype=None, include_initial=False:
        red.cumulative(cx, "sum", x, axis, dtype, include_initial),
    np.cumulative_prod: lambda cx, x, /, *, axis=None, dtype=None, include_initial=False:
        red.cumulative(cx, "prod", x, axis, dtype, include_initial),
    np.cumsum: lambda cx, a, axis=None, dtype=None: red.cumsum(cx, a, axis, dtype),
    np.cumprod: lambda cx, a, axis=None, dtype=None: red.cumprod(cx, a, axis, dtype),
    np.average: lambda cx, a, axis=None, weights=None, returned=False, *, keepdims=np._NoValue:
        red.average(cx, a, axis, weights, returned, keepdims),
    np.count_nonzero: lambda cx, a, axis=None, *, keepdims=False:
        red.count_nonzero(cx, a, axis, keepdims),
    np.argmax: _argmax("argmax"),
    np.argsort: lambda cx, a, axis=-1, kind=None, order=None, *, stable=None:
        sorting.argsort(cx, a, axis, kind, order, stable),
    np.sort: lambda cx, a, axis=-1, kind=None, order=None, *, stable=None:
        sorting.sort(cx, a, axis, kind, order, stable),
    np.lexsort: lambda cx, keys, axis=-1: sorting.lexsort(cx, keys, axis),
    np.apply_along_axis: vectorize.apply_along_axis,
    np.take_along_axis: lambda cx, arr, indices, axis=-1:
        sorting.take_along_axis(cx, arr, indices, axis),
    np.put_along_axis: inplace.put_along_axis, np.bincount: segments.bincount,
    np.put: inplace.put, np.putmask: inplace.putmask, np.place: inplace.place,
    np.copyto: inplace.copyto, np.fill_diagonal: inplace.fill_diagonal,
    np.median: lambda cx, a, axis=None, out=None, overwrite_input=False, keepdims=False:
        sorting.median(cx, a, axis, out, overwrite_input, keepdims),
    np.quantile: lambda cx, a, q, axis=None, out=None, overwrite_input=False, method="linear",
        keepdims=False, *, weights=None, interpolation=None:
        sorting.quantile(cx, a, q, axis, out, overwrite_input, method, keepdims,
                         weights=weights, interpolation=interpolation),
    np.percentile: lambda cx, a, q, axis=None, out=None, overwrite_input=False, method="linear",
        keepdims=False, *, weights=None, interpolation=None:
        sorting.quantile(cx, a, q, axis, out, overwrite_input, method, keepdims,
                         weights=weights, interpolation=interpolation, percent=True),
    np.argmin: _argmax("argmin"),
    np.reshape: _reshape,
    np.transpose: lambda cx, a, axes=None: shapes.transpose(cx, a, axes),
    np.swapaxes: lambda cx, a, axis1, axis2: shapes.swapaxes(cx, a, axis1, axis2),
    np.moveaxis: lambda cx, a, source, destination: shapes.moveaxis(cx, a, source, destination),
    np.expand_dims: lambda cx, a, axis: shapes.expand_dims(cx, a, axis),
    np.squeeze: lambda cx, a, axis=None: shapes.squeeze(cx, a, axis),
    np.ravel: lambda cx, a, order="C": _ravel(cx, a, order),
    np.broadcast_to: lambda cx, array, shape: _read_only(
        shapes.broadcast_to(cx, array, shape), "np.broadcast_to returns a read-only view; "
        "call .copy() on it to get an array you can change"),
    np.broadcast_arrays: _broadcast_arrays,
    np.concatenate: _join(shapes.concatenate, "concatenate"), np.stack: _join(shapes.stack, "stack"),
    np.vstack: lambda cx, tup: shapes.vstack(cx, tup),
    np.split: lambda cx, ary, indices_or_sections, axis=0:
        shapes.array_split(cx, ary, indices_or_sections, axis, equal=True),
    np.array_split: lambda cx, ary, indices_or_sections, axis=0:
        shapes.array_split(cx, ary, indices_or_sections, axis),
    np.hsplit: lambda cx, ary, indices_or_sections:
        shapes.split_along(cx, "hsplit", ary, indices_or_sections),
    np.vsplit: lambda cx, ary, indices_or_sections:
        shapes.split_along(cx, "vsplit", ary, indices_or_sections),
    np.dsplit: lambda cx, ary, indices_or_sections:
        shapes.split_along(cx, "dsplit", ary, indices_or_sections),
    np.meshgrid: lambda cx, *xi, copy=True, sparse=False, indexing="xy":
        shapes.meshgrid(cx, xi, copy, sparse, indexing),
    np.lib.stride_tricks.sliding_window_view: windows.sliding_window_view,
    np.correlate: lambda cx, a, v, mode="valid": windows.correlate(cx, a, v, mode),
    np.convolve: lambda cx, a, v, mode="full": windows.correlate(cx, a, v, mode, flip=True),
    np.hstack: lambda cx, tup: shapes.hstack(cx, tup),
    np.array: lambda cx, object, dtype=None, copy=True: shapes.array(cx, object, dtype, copy),
    np.asarray: lambda cx, a, dtype=None: shapes.array(cx, a, dtype, copy=False),
    np.asanyarray: lambda cx, a, dtype=None: shapes.array(cx, a, dtype, copy=False),
    np.atleast_1d: lambda cx, *arys: shapes.atleast(cx, 1, arys),
    np.atleast_2d: lambda cx, *arys: shapes.atleast(cx, 2, arys),
    np.atleast_3d: lambda cx, *arys: shapes.atleast(cx, 3, arys),
    np.flip: lambda cx, m, axis=None: composites.flip(cx, m, axis),
    np.fliplr: lambda cx, m: composites.fliplr(cx, m),
    np.flipud: lambda cx, m: composites.flipud(cx, m),
    np.roll: lambda cx, a, shift, axis=None: composites.roll(cx, a, shift, axis),
    np.tile: lambda cx, A, reps: composites.tile(cx, A, reps),
    np.repeat: lambda cx, a, repeats, axis=None: composites.repeat(cx, a, repeats, axis),
    np.pad: lambda cx, array, pad_width, mode="constant", constant_values=0,
    reflect_type="even": composites.pad(cx, array, pad_width, mode, constant_values,
                                        reflect_type),
    np.diagonal: lambda cx, a, offset=0, axis1=0, axis2=1:
        composites.diagonal(cx, a, offset, axis1, axis2),
    np.trace: lambda cx, a, offset=0, axis1=0, axis2=1, dtype=None:
        composites.trace(cx, a, offset, axis1, axis2, dtype),
    np.diff: lambda cx, a, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue:
        composites.diff(cx, a, n, axis, prepend, append),
    np.cross: lambda cx, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None:
        composites.cross(cx, a, b, axisa, axisb, axisc, axis),
    np.kron: lambda cx, a, b: composites.kron(cx, a, b),
    np.diag: lambda cx, v, k=0: composites.diag(cx, v, k),
    np.diagflat: lambda cx, v, k=0: composites.diag(cx, shapes.reshape(cx, v, (-1,)), k),
    np.copy: shapes.copy,
    np.choose: _choose,
    np.real: lambda cx, val: ATTRIBUTES["real"](cx, cx.tensor(val)),
    np.imag: lambda cx, val: _imag(cx, cx.tensor(val)),
    np.conj: lambda cx, x, /: shapes.copy(cx, x),      # of real values: a copy (a ufunc's)
    np.where: _where,
    np.clip: _clip,
    np.take: _take, np.unravel_index: unravel_index, np.ix_: ix_,
    np.zeros: lambda cx, shape, dtype=float: creation.zeros(cx, shape, dtype),
    np.ones: lambda cx, shape, dtype=float: creation.ones(cx, shape, dtype),
    np.empty: lambda cx, shape, dtype=float: creation.zeros(cx, shape, dtype),
    np.full: lambda cx, shape, fill_value, dtype=None: creation.full(cx, shape, fill_value, dtype),
    # (subok changes no value; the memory order is the result's layout, layout.py)
    np.zeros_like: lambda cx, a, dtype=None, order="K", subok=True, shape=None:
        creation.zeros_like(cx, a, dtype, shape, order),
    np.ones_like: lambda cx, a, dtype=None, order="K", subok=True, shape=None:
        creation.ones_like(cx, a, dtype, shape, order),
    np.empty_like: lambda cx, prototype, dtype=None, order="K", subok=True, shape=None:
        creation.zeros_like(cx, prototype, dtype, shape, order),
    np.full_like: lambda cx, a, fill_value, dtype=None, order="K", subok=True, shape=None:
        creation.full_like(cx, a, fill_value, dtype, shape, order),
    np.arange: lambda cx, *args, dtype=None: creation.arange(cx, *args, dtype=dtype),
    np.linspace: lambda cx, start, stop, num=50, endpoint=True, retstep=False, dtype=None,
        axis=0: creation.linspace(cx, start, stop, num, endpoint, retstep, dtype, axis),
    np.eye: lambda cx, N, M=None, k=0, dtype=float: creation.eye(cx, N, M, k, dtype),
    np.identity: lambda cx, n, dtype=float: creation.eye(cx, n, None, 0, dtype),
    np.triu: lambda cx, m, k=0: creation.tri(cx, "triu", m, k),
    np.tril: lambda cx, m, k=0: creation.tri(cx, "tril", m, k),
    np.triu_indices: lambda cx, n, k=0, m=None: creation.triangle_indices(cx, "triu", n, k, m),
    np.tril_indices: lambda cx, n, k=0, m=None: creation.triangle_indices(cx, "tril", n, k, m),
    np.triu_indices_from: lambda cx, arr, k=0: creation.triangle_indices_from(cx, "triu", arr, k),
    np.tril_indices_from: lambda cx, arr, k=0: creation.triangle_indices_from(cx, "tril", arr, k),
    np.diag_indices: creation.diag_indices, np.diag_indices_from: creation.diag_indices_from,
    # assembling, choosing, products, calculus and statistics
    np.column_stack: lambda cx, tup: shapes.column_stack(cx, tup),
    np.dstack: lambda cx, tup: shapes.dstack(cx, tup),
    np.block: lambda cx, arrays: shapes.block(cx, arrays),
    np.append: lambda cx, arr, values, axis=None: shapes.append(cx, arr, values, axis),
    np.insert: lambda cx, arr, obj, values, axis=None: shapes.insert(cx, arr, obj, values, axis),
    np.delete: lambda cx, arr, obj, axis=None: shapes.delete(cx, arr, obj, axis),
    np.rot90: lambda cx, m, k=1, axes=(0, 1): composites.rot90(cx, m, k, axes),
    np.select: lambda cx, condlist, choicelist, default=0:
        arith.select(cx, condlist, choicelist, default),
    np.piecewise: lambda cx, x, condlist, funclist, *args, **kw:
        arith.piecewise(cx, x, condlist, funclist, *args, **kw),
    np.polyval: lambda cx, p, x: arith.polyval(cx, p, x),
    np.polyfit: lind.polyfit, np.vander: lind.vander,
    np.vdot: lambda cx, a, b, /: linalg.vdot(cx, a, b),
    np.inner: lambda cx, a, b, /: linalg.inner(cx, a, b),
    np.matvec: lambda cx, x1, x2, /: linalg.matvec(cx, x1, x2),
    np.vecmat: lambda cx, x1, x2, /: linalg.vecmat(cx, x1, x2),
    np.vecdot: lambda cx, x1, x2, /, *, axis=-1: linalg.vecdot(cx, x1, x2, axis),
    np.matrix_transpose: lambda cx, x, /: linalg.matrix_transpose(cx, x),
    np.linalg.matmul: lambda cx, x1, x2, /: linalg.matmul(cx, x1, x2),
    np.linalg.vecdot: lambda cx, x1, x2, /, *, axis=-1: linalg.vecdot(cx, x1, x2, axis),
    np.linalg.matrix_transpose: lambda cx, x, /: linalg.matrix_transpose(cx, x),
    np.linalg.outer: lambda cx, x1, x2, /: linalg.linalg_outer(cx, x1, x2),
    np.linalg.tensordot: lambda cx, x1, x2, /, *, axes=2: linalg.tensordot(cx, x1, x2, axes),
    np.linalg.cross: lambda cx, x1, x2, /, *, axis=-1: composites.cross(cx, x1, x2, axis=axis),
    np.linalg.diagonal: lambda cx, x, /, *, offset=0: composites.diagonal(cx, x, offset, -2, -1),
    np.linalg.trace: lambda cx, x, /, *, offset=0, dtype=None:
        composites.trace(cx, x, offset, -2, -1, dtype),
    np.linalg.vector_norm: lambda cx, x, /, *, axis=None, keepdims=False, ord=2:
        composites.vector_norm(cx, x, axis, keepdims, ord),
    np.linalg.matrix_norm: lambda cx, x, /, *, keepdims=False, ord="fro":
        composites.matrix_norm(cx, x, keepdims, ord),
    np.trapezoid: lambda cx, y, x=None, dx=1.0, axis=-1: calculus.trapezoid(cx, y, x, dx, axis),
    np.gradient: lambda cx, f, *varargs, axis=None, edge_order=1:
        calculus.gradient(cx, f, *varargs, axis=axis, edge_order=edge_order),
    np.cov: lambda cx, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None,
        aweights=None, *, dtype=None:
        statistics.cov(cx, m, y, rowvar, bias, ddof, fweights, aweights, dtype),
    np.corrcoef: lambda cx, x, y=None, rowvar=True, *, dtype=None:
        statistics.corrcoef(cx, x, y, rowvar, dtype),
    np.shape: lambda cx, a: attribute(cx, cx.tensor(a), "shape"),
    np.ndim: lambda cx, a: attribute(cx, cx.tensor(a), "ndim"),
    np.size: lambda cx, a: attribute(cx, cx.tensor(a), "size"),
}
if hasattr(np, "row_stack"):       # NumPy 2's deprecated alias of vstack, while it exists
    FUNCTIONS[np.row_stack] = FUNCTIONS[np.vstack]
ALWAYS_TRACED = {np.zeros, np.ones, np.empty, np.full, np.zeros_like, np.ones_like,
                 np.empty_like, np.full_like, np.arange, np.linspace, np.eye, np.identity,
                 np.triu_indices, np.tril_indices, np.diag_indices}
DTYPE_TYPES = {np.float64, np.float32, np.float16, np.int64, np.int32, np.bool_}


def as_dtype(cx, dtype_type, x):
    """`np.float32(x)` on a traced value."""
    return arith.astype(cx, x, ir_dtype(dtype_type))


def _shape_args(args):
    return args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args


def _method_reshape(cx, self, *shape, order="C"):
    return _reshape(cx, self, _shape_args(shape), order)


def _method_transpose(cx, self, *axes):
    # (x.transpose(None) is x.transpose(), as NumPy reads it)
    return shapes.transpose(cx, self, _shape_args(axes) if axes not in ((), (None,)) else None)


def _astype(cx, self, dtype, *, copy=True):
    # copy=False to its own dtype is the array itself in NumPy: an in-place change through
    # the result changes `self` (a fresh holder made it a silent copy)
    if not copy and dtype_arg(dtype) == self.dtype:
        return self
    return arith.astype(cx, self, dtype_arg(dtype))


def _sort_in_place(cx, self, axis=-1, kind=None, order=None, *, stable=None):
    """x.sort(): x holds its sorted values, as every name holding x sees (Traced.update)."""
    self.update(sorting.sort(cx, self, axis, kind, order, stable).value)


def _partition_in_place(cx, self, kth, axis=-1, kind="introselect", order=None):
    """x.partition(): x holds the partitioned values, as x.sort() (searching.partition)."""
    self.update(searching.partition(cx, self, kth, axis, kind, order).value)


def _fill(cx, self, value):
    """x.fill(v): every entry v cast to x's dtype, in place."""
    v = cx.tensor(value)
    self.update(cx.op("broadcast_to", cx.cast(v.value, self.dtype), shape=self.shape))


def _view(cx, self, dtype=None, type=None):
    if type is not None or dtype is not None and np.dtype(dtype) != np.dtype(self.np_dtype):
        raise FrontendError("x.view(dtype) reads the bytes as another type, which adcompiler "
                            "cannot; use x.astype(dtype)")
    return shapes.broadcast_to(cx, self, self.shape)    # a view of the whole array


def _item(cx, self, *index):
    """x.item(), x.item(k) (the k-th entry in C order), x.item(i, j) or x.item((i, j))."""
    t = cx.tensor(self)
    if len(index) == 1 and not isinstance(index[0], tuple):
        t = getitem(cx, shapes.reshape(cx, t, (t.type.size,)), index[0])
    elif index:
        t = getitem(cx, t, index[0] if len(index) == 1 else index)
    if t.type.size != 1:
        raise FrontendError("can only convert an array of size 1 to a Python scalar")
    v = t.value if t.ndim == 0 else cx.op("reshape", t.value, shape=())
    weak = {"f32": "f64", "f16": "f64", "i32": "i64"}.get(t.dtype, t.dtype)
    return cx.wrap(cx.cast(v, weak), weak=True)


METHODS = {
    "reshape": _method_reshape, "transpose": _method_transpose, "astype": _astype,
    "sum": FUNCTIONS[np.sum], "prod": FUNCTIONS[np.prod], "max": FUNCTIONS[np.max],
    "min": FUNCTIONS[np.min], "mean": FUNCTIONS[np.mean], "var": FUNCTIONS[np.var],
    "std": FUNCTIONS[np.std], "cumsum": FUNCTIONS[np.cumsum],
    "cumprod": FUNCTIONS[np.cumprod], "argmax": FUNCTIONS[np.argmax],
    "argmin": FUNCTIONS[np.argmin], "argsort": FUNCTIONS[np.argsort], "sort": _sort_in_place,
    "round": FUNCTIONS[np.round],
    "any": FUNCTIONS[np.any], "all": FUNCTIONS[np.all],
    "copy": lambda cx, self, order="C": shapes.copy(cx, self, order),
    "squeeze": FUNCTIONS[np.squeeze], "swapaxes": FUNCTIONS[np.swapaxes],
    "flatten": lambda cx, self, order="C": shapes.copy(cx, _ravel(cx, self, order)),
    "ravel": lambda cx, self, order="C": _ravel(cx, self, order),
    "dot": FUNCTIONS[np.dot], "clip": _clip, "take": _take, "item": _item,
    "repeat": FUNCTIONS[np.repeat], "diagonal": FUNCTIONS[np.diagonal],
    "trace": FUNCTIONS[np.trace],
    "fill": _fill, "put": inplace.put, "view": _view, "partition": _partition_in_place,
    "argpartition": FUNCTIONS[np.argpartition], "nonzero": _data_dependent("nonzero"),
    "compress": _data_dependent("compress"),
    "conj": lambda cx, self: self, "conjugate": lambda cx, self: self,   # real: x itself
}
ATTRIBUTES = {
    "T": lambda cx, t: shapes.transpose(cx, t),
    "mT": lambda cx, t: linalg.matrix_transpose(cx, t),
    "shape": lambda cx, t: t.shape,
    "ndim": lambda cx, t: t.ndim,
    "size": lambda cx, t: t.type.size,
    "dtype": lambda cx, t: t.np_dtype,
    "itemsize": lambda cx, t: t.np_dtype.itemsize,
    "nbytes": lambda cx, t: t.type.size * t.np_dtype.itemsize,
    "real": lambda cx, t: shapes.broadcast_to(cx, t, t.shape),      # a view of x itself
    "imag": _imag,
    "flat": lambda cx, t: Flat(t),
}


class BoundMethod:
    """`x.sum` before it is called."""

    def __init__(self, tensor: Traced, name: str):
        self.tensor, self.name = tensor, name

    def __call__(self, cx, *args, **kwargs):
        return METHODS[self.name](cx, self.tensor, *args, **kwargs)

    def __repr__(self):
        return f"<method {self.name} of {self.tensor!r}>"


def attribute(cx, t: Traced, name: str):
    if name in ("shape", "size", "ndim"):
        masked.check_shape(cx, t)
    if name in ATTRIBUTES:
        return ATTRIBUTES[name](cx, t)
    if name in METHODS:
        return BoundMethod(t, name)
    raise FrontendError(f"array attribute or method '.{name}' is not supported")
