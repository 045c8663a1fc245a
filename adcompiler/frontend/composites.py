"""NumPy functions built from the registry's existing ops, so that their gradients come from
those ops' VJPs on every backend: np.linalg.norm (and np.linalg.vector_norm / matrix_norm),
flip / fliplr / flipud, rot90, roll, tile, repeat, pad (modes constant, edge, wrap, reflect,
symmetric), diagonal, trace, diag, diff, cross (of 3-vectors) and kron.

Contract: shifts, repetitions, pad widths, norm orders, offsets and axes are static (a run-time
value raises `StaticNeeded`); values, dtypes, shapes and argument names are NumPy's. Views as in
NumPy: flip's and rot90's results are views (negative-step slices, a transpose); diagonal's,
and diag's of a 2-D array, a read-only view (transpose + reshape + strided slice), so writing
into it is an error, as in NumPy. roll, tile, repeat, pad, trace, norm, diag of a 1-D array,
diff and kron are fresh arrays (matrix 2-norms and nuclear norms from the singular values:
ops/linalg.py's svd_values).
Variants that would need other ops raise FrontendError: the other pad modes (linear_ramp,
maximum, mean, median, minimum, empty, a function), run-time repeats, cross products of
2-vectors (deprecated in NumPy 2).
"""
from __future__ import annotations

import numpy as np

from ..ad.emit import ones_at_zeros
from ..ir.types import FLOATS
from .arith import astype, binary, where
from .creation import full, zeros
from .emit import Emitter
from .indexing import along, getitem, setitem
from .problems import FrontendError, StaticNeeded
from .reductions import norm_axes, reduce
from .shapes import (broadcast_to, concatenate, copy, expand_dims, merge_axes, moveaxis, ravel,
                     reshape, stack, static_ints, transpose)
from .values import Traced, contains_traced, ir_dtype


def _static_int(x, what: str) -> int:
    if isinstance(x, (tuple, list)):
        raise FrontendError(f"{what} must be an int, got {x!r}")
    return static_ints(x, what)[0]


# -- flips and rolls -------------------------------------------------------------------------

def flip(cx: Emitter, m, axis=None) -> Traced:
    t = cx.tensor(m)
    axes = norm_axes(axis, t.ndim)
    return getitem(cx, t, tuple(slice(None, None, -1) if a in axes else slice(None)
                                for a in range(t.ndim)))


def fliplr(cx: Emitter, m) -> Traced:
    t = cx.tensor(m)
    if t.ndim < 2:
        raise FrontendError("np.fliplr: input must be >= 2-d")
    return flip(cx, t, 1)


def flipud(cx: Emitter, m) -> Traced:
    t = cx.tensor(m)
    if t.ndim < 1:
        raise FrontendError("np.flipud: input must be >= 1-d")
    return flip(cx, t, 0)


def rot90(cx: Emitter, m, k=1, axes=(0, 1)) -> Traced:
    """Rotated k quarter turns from the first axis towards the second: flips and a transpose,
    as NumPy's (so a view, as NumPy's)."""
    t = cx.tensor(m)
    axes = static_ints(axes, "axes")
    if len(axes) != 2:
        raise FrontendError("len(axes) must be 2.")
    a, b = axes
    if a == b or abs(a - b) == t.ndim:
        raise FrontendError("Axes must be different.")
    a, b = norm_axes((a,), t.ndim) + norm_axes((b,), t.ndim)
    k = _static_int(k, "k") % 4
    if k == 0:
        return getitem(cx, t, ...)
    if k == 2:
        return flip(cx, flip(cx, t, a), b)
    perm = list(range(t.ndim))
    perm[a], perm[b] = perm[b], perm[a]
    if k == 1:
        return transpose(cx, flip(cx, t, b), perm)
    return flip(cx, transpose(cx, t, perm), b)


def roll(cx: Emitter, a, shift, axis=None) -> Traced:
    """Each axis rolled by s is its last s entries followed by the others."""
    t = cx.tensor(a)
    if axis is None:        # NumPy rolls the flattened array and reshapes it back
        return copy(cx, reshape(cx, roll(cx, ravel(cx, t), shift, 0), t.shape))
    shifts, axes = static_ints(shift, "shift"), static_ints(axis, "axis")
    try:
        pairs = list(np.broadcast(shifts, axes))
    except ValueError:
        raise FrontendError("'shift' and 'axis' should be scalars or 1D sequences of the "
                            "same length") from None
    total = {}
    for s, ax in pairs:     # several shifts of one axis add up
        (ax,) = norm_axes((int(ax),), t.ndim)
        total[ax] = total.get(ax, 0) + int(s)
    out = t
    for ax, s in total.items():
        n = t.shape[ax]
        if n and s % n:
            cut = n - s % n
            out = concatenate(cx, [along(cx, out, ax, slice(cut, n)),
                                   along(cx, out, ax, slice(0, cut))], axis=ax)
    return copy(cx, out)


# -- repetition and padding ------------------------------------------------------------------

def tile(cx: Emitter, A, reps) -> Traced:
    """Each axis of size s repeated r times is a broadcast (r, s) reshaped to r * s."""
    t = cx.tensor(A)
    reps = static_ints(reps, "reps")
    if any(r < 0 for r in reps):
        raise FrontendError(f"np.tile: negative repetitions {reps}")
    d = max(len(reps), t.ndim)
    reps = (1,) * (d - len(reps)) + reps
    shape = (1,) * (d - t.ndim) + t.shape
    pairs = reshape(cx, t, tuple(n for s in shape for n in (1, s)))
    pairs = broadcast_to(cx, pairs, tuple(n for r, s in zip(reps, shape, strict=True)
                                          for n in (r, s)))
    return copy(cx, reshape(cx, pairs, tuple(r * s for r, s in zip(reps, shape, strict=True))))


def repeat(cx: Emitter, a, repeats, axis=None) -> Traced:
    """One repeat count for all elements: a broadcast along a new axis after `axis`, merged
    into it; one count per element: a `take` of the static indices np.repeat gives."""
    if contains_traced(repeats):
        raise StaticNeeded("np.repeat with run-time repeats has a data-dependent shape; the "
                           "repeats must be compile-time ints")
    t = cx.tensor(a)
    if axis is None:
        t, axis = ravel(cx, t), 0
    (ax,) = norm_axes((axis,), t.ndim)
    reps = static_ints(repeats.tolist() if isinstance(repeats, np.ndarray) else repeats,
                       "repeats")
    n = t.shape[ax]
    if any(r < 0 for r in reps):
        raise FrontendError(f"np.repeat: negative repeats {reps}")
    if len(reps) not in (1, n):
        raise FrontendError(f"np.repeat: {len(reps)} repeats for an axis of size {n}")
    if len(reps) == 1:
        (r,) = reps
        wide = broadcast_to(cx, expand_dims(cx, t, ax + 1),
                            t.shape[:ax + 1] + (r,) + t.shape[ax + 1:])
        return copy(cx, reshape(cx, wide, t.shape[:ax] + (n * r,) + t.shape[ax + 1:]))
    idx = cx.const(np.repeat(np.arange(n), reps), "i64")
    return cx.wrap(cx.op("take", t.value, idx, axis=ax, hint="repeat"))


def _pairs(x, ndim: int):
    """One (before, after) per axis from np.pad's pad_width or constant_values, broadcast as
    NumPy's `_as_pairs` does (a scalar, one pair, or one pair per axis)."""
    arr = np.asarray(x)
    if arr.ndim < 3 and arr.size == 1:
        return [(arr.ravel()[0],) * 2] * ndim
    if arr.ndim < 3 and arr.size == 2 and arr.shape != (2, 1):
        return [tuple(arr.ravel())] * ndim
    try:
        return [tuple(p) for p in np.broadcast_to(arr, (ndim, 2))]
    except ValueError:
        raise FrontendError(f"np.pad: {x!r} does not give one (before, after) pair per axis "
                            f"of an array of dimension {ndim}") from None


def _block(cx: Emitter, t: Traced, axis: int, width, value) -> list:
    """[`width` entries of `value` along `axis`, t's size on the others], or [] for width 0."""
    if not width:
        return []
    return [full(cx, t.shape[:axis] + (int(width),) + t.shape[axis + 1:], value, t.np_dtype)]


def _pad_source(mode: str, i, n: int):
    """The entry of an axis of n entries that each padded position in `i` copies (position 0 is
    the first original entry): np.pad's 'edge', 'wrap', 'reflect' and 'symmetric' extend the
    axis periodically, wider pads included, as NumPy's repeated padding does."""
    if mode == "edge":
        return np.clip(i, 0, n - 1)
    if mode == "wrap":
        return i % n
    period = 2 * n - 2 if mode == "reflect" else 2 * n     # reflect: the edges not repeated
    if not period:
        return np.zeros_like(i)
    j = i % period
    return np.where(j < n, j, period - j - (mode == "symmetric"))


PAD_MODES = ("constant", "edge", "wrap", "reflect", "symmetric")


def _odd(cx: Emitter, t: Traced, ax: int, index, before: int, n: int, mode: str) -> Traced:
    """np.pad's odd reflection along `ax`: a padded entry is 2 edge - the entry it mirrors."""
    reach = n - 1 if mode == "reflect" else n
    if before > reach or len(index) - before - n > reach:
        raise FrontendError(f"np.pad: reflect_type='odd' with a pad wider than {reach} on an "
                            f"axis of {n} is not supported")
    mirrored = along(cx, t, ax, index)
    edge = along(cx, t, ax, np.where(np.arange(len(index)) < before, 0, n - 1))
    shape = [1] * t.ndim
    shape[ax] = len(index)
    inner = np.zeros(shape, bool)
    inner.reshape(-1)[before:before + n] = True         # the original entries stay
    odd = binary(cx, "sub", binary(cx, "add", edge, edge), mirrored)
    return where(cx, inner, mirrored, odd)


def pad(cx: Emitter, array, pad_width, mode="constant", constant_values=0,
        reflect_type="even") -> Traced:
    """Each axis in turn padded before and after (later axes pad across the earlier ones'
    padding, so corners hold the last axis's values, as in NumPy): with filled blocks for
    'constant', else with entries of the axis gathered by a static index (`_pad_source`), so
    the gradient of the copies adds up on the entries they copy. 'reflect' and 'symmetric'
    with reflect_type='odd' take 2 edge - the reflected entry (`_odd`), for pads no wider
    than one reflection (NumPy's wider ones extend the axis again from the padded end)."""
    if mode not in PAD_MODES:
        raise FrontendError(f"np.pad: mode={mode!r} is not supported (supported: "
                            f"{', '.join(PAD_MODES)})")
    if reflect_type not in ("even", "odd"):
        raise FrontendError(f"np.pad: reflect_type must be 'even' or 'odd', got "
                            f"{reflect_type!r}")
    if contains_traced(pad_width):
        raise StaticNeeded("np.pad's pad_width must be compile-time ints")
    t = cx.tensor(array)
    widths = _pairs(pad_width, t.ndim)
    if np.asarray(pad_width).dtype.kind not in "iu" or any(w < 0 for p in widths for w in p):
        raise FrontendError(f"np.pad: pad_width must be non-negative ints, got {pad_width!r}")
    if mode != "constant":
        out = t
        for ax, (before, after) in enumerate(widths):
            n = t.shape[ax]
            if before or after:
                if not n:
                    raise FrontendError(f"np.pad: can't extend empty axis {ax} using modes "
                                        "other than 'constant' or 'empty'")
                index = _pad_source(mode, np.arange(-int(before), n + int(after)), n)
                if reflect_type == "odd" and mode in ("reflect", "symmetric"):
                    out = _odd(cx, out, ax, index, int(before), n, mode)
                else:
                    out = along(cx, out, ax, index)
        return copy(cx, out)
    if isinstance(constant_values, Traced):
        if constant_values.ndim:
            raise FrontendError("np.pad: a run-time constant_values must be a scalar")
        values = [(constant_values,) * 2] * t.ndim
    elif contains_traced(constant_values):
        raise FrontendError("np.pad: constant_values must be one run-time scalar or static "
                            "numbers")
    else:
        values = _pairs(constant_values, t.ndim)
    out = t
    for ax, (ws, cs) in enumerate(zip(widths, values, strict=True)):
        out = concatenate(cx, _block(cx, out, ax, ws[0], cs[0]) + [out] +
                          _block(cx, out, ax, ws[1], cs[1]), axis=ax)
    return copy(cx, out)


# -- diagonals -------------------------------------------------------------------------------

def diagonal(cx: Emitter, a, offset=0, axis1=0, axis2=1) -> Traced:
    """np.diagonal's read-only view (`diagonal_view`)."""
    out = diagonal_view(cx, a, offset, axis1, axis2)
    out.readonly = ("np.diagonal (and np.diag of a 2-d array) returns a read-only view; "
                    "call .copy() on it to get an array you can change")
    return out


def diagonal_view(cx: Emitter, a, offset=0, axis1=0, axis2=1) -> Traced:
    """The diagonal as a writeable view (np.einsum's 'ii->i'). The two axes moved last and
    merged; entry (i, i + offset) is then every (m + 1)-th element from `offset` (or from
    -offset * m below the main diagonal)."""
    t = cx.tensor(a)
    if t.ndim < 2:
        raise FrontendError("diag requires an array of at least two dimensions")
    a1, a2 = norm_axes((axis1,), t.ndim) + norm_axes((axis2,), t.ndim)
    if a1 == a2:
        raise FrontendError("axis1 and axis2 cannot be the same")
    k = _static_int(offset, "offset")
    n, m = t.shape[a1], t.shape[a2]
    rest = tuple(d for d in range(t.ndim) if d not in (a1, a2))
    flat = transpose(cx, t, rest + (a1, a2))
    flat = reshape(cx, flat, flat.shape[:-2] + (n * m,), by_layout=False)   # (a view always)
    count = max(0, min(n, m - k) if k >= 0 else min(n + k, m))
    return getitem(cx, flat, (Ellipsis, _diagonal_slice(k, count, m)))


def _diagonal_slice(k, count, width):
    """The slice of a flattened matrix `width` wide holding the `count` entries of its k-th
    diagonal."""
    if not count:
        return slice(0, 0)
    start = k if k >= 0 else -k * width
    return slice(start, start + (count - 1) * (width + 1) + 1, width + 1)


def trace(cx: Emitter, a, offset=0, axis1=0, axis2=1, dtype=None) -> Traced:
    return reduce(cx, "sum", diagonal(cx, a, offset, axis1, axis2), -1, dtype=dtype)


def diag(cx: Emitter, v, k=0) -> Traced:
    """A 2-D array's k-th diagonal, or a square array with a 1-D array on its k-th diagonal
    (written into zeros as a strided slice of the flattened square)."""
    t = cx.tensor(v)
    k = _static_int(k, "k")
    if t.ndim == 2:
        return diagonal(cx, t, k)
    if t.ndim != 1:
        raise FrontendError("np.diag: input must be 1- or 2-d")
    count = t.shape[0]
    n = count + abs(k)
    square = setitem(cx, zeros(cx, (n * n,), t.np_dtype), _diagonal_slice(k, count, n), t)
    return cx.wrap(cx.op("reshape", square, shape=(n, n)))


# -- differences and products ----------------------------------------------------------------

def diff(cx: Emitter, a, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue) -> Traced:
    """a[1:] - a[:-1] along `axis`, n times (`!=` for booleans), after concatenating
    `prepend` and `append` (a scalar one broadcast to one slice), as NumPy's."""
    n = _static_int(n, "n")
    if n < 0:
        raise FrontendError(f"order must be non-negative but got {n}")
    t = cx.tensor(a)
    if n == 0:
        return t
    if t.ndim == 0:
        raise FrontendError("diff requires input that is at least one dimensional")
    (ax,) = norm_axes(axis, t.ndim)
    parts = []
    for extra in (prepend, t, append):
        if extra is t:
            parts.append(t)
        elif extra is not np._NoValue:
            e = cx.tensor(extra)
            parts.append(e if e.ndim else
                         broadcast_to(cx, e, t.shape[:ax] + (1,) + t.shape[ax + 1:]))
    out = concatenate(cx, parts, axis=ax) if len(parts) > 1 else t
    for _ in range(n):
        out = binary(cx, "ne" if out.dtype == "bool" else "sub",
                     along(cx, out, ax, slice(1, None)), along(cx, out, ax, slice(None, -1)))
    return out


def cross(cx: Emitter, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None) -> Traced:
    """Cross products of 3-vectors along `axisa` / `axisb` (broadcast over the other axes),
    placed along `axisc`, in the operands' promoted dtype: NumPy's a1 b2 - a2 b1, ..."""
    if axis is not None:
        axisa = axisb = axisc = axis
    ta, tb = cx.tensor(a), cx.tensor(b)
    if ta.ndim < 1 or tb.ndim < 1:
        raise FrontendError("At least one array has zero dimension")
    dtype = ir_dtype(np.promote_types(ta.np_dtype, tb.np_dtype))
    ta = moveaxis(cx, astype(cx, ta, dtype), axisa, -1)
    tb = moveaxis(cx, astype(cx, tb, dtype), axisb, -1)
    if ta.shape[-1] != 3 or tb.shape[-1] != 3:
        raise FrontendError("np.cross: only 3-vectors are supported (NumPy 2 deprecates "
                            f"2-vectors), got vectors of {ta.shape[-1]} and {tb.shape[-1]}")
    a0, a1, a2 = (getitem(cx, ta, (Ellipsis, i)) for i in range(3))
    b0, b1, b2 = (getitem(cx, tb, (Ellipsis, i)) for i in range(3))

    def minor(p, q, r, s):
        return binary(cx, "sub", binary(cx, "mul", p, q), binary(cx, "mul", r, s))
    cp = stack(cx, [minor(a1, b2, a2, b1), minor(a2, b0, a0, b2), minor(a0, b1, a1, b0)], -1)
    (axc,) = norm_axes(axisc, cp.ndim)
    return moveaxis(cx, cp, -1, axc)


def kron(cx: Emitter, a, b) -> Traced:
    """Every entry of `a` times all of `b`: the operands (as arrays of one rank, leading 1s
    added) reshaped to interleaved axes (a0, 1, a1, 1, ...) and (1, b0, 1, b1, ...),
    multiplied, and merged pairwise."""
    ta, tb = (cx.wrap(cx.tensor(x).value) for x in (a, b))   # as NumPy's arrays: not weak
    nd = max(ta.ndim, tb.ndim)
    sa = (1,) * (nd - ta.ndim) + ta.shape
    sb = (1,) * (nd - tb.ndim) + tb.shape
    wide_a = reshape(cx, ta, tuple(d for s in sa for d in (s, 1)))
    wide_b = reshape(cx, tb, tuple(d for s in sb for d in (1, s)))
    prod = binary(cx, "mul", wide_a, wide_b)
    return copy(cx, reshape(cx, prod, tuple(p * q for p, q in zip(sa, sb, strict=True))))


# -- norms -----------------------------------------------------------------------------------


def norm(cx: Emitter, x, ord=None, axis=None, keepdims=False) -> Traced:
    """Vector norms over one axis, matrix norms over two, as `numpy.linalg.norm` computes them
    (integer arrays in float64). Each is reduced with keepdims and reshaped at the end. A
    2-norm (Frobenius) keeps its sum of squares (`Traced.norm`), which its square is
    (arith.binary: n ** 2, n * n, 0.5 * n * n): norm(x) ** 2 is smooth at x = 0, where the
    root's derivative, guarded to 0 there, made its Hessian 0, not 2 I (a Newton step from
    zero weights under a penalty)."""
    if isinstance(ord, Traced):
        raise StaticNeeded("np.linalg.norm's ord must be a compile-time value")
    t = cx.tensor(x)
    v = t.value if t.dtype in FLOATS else cx.cast(t.value, "f64")
    dtype = v.type.dtype
    axes = norm_axes(axis, t.ndim)
    fro = ord is None or isinstance(ord, str) and ord in ("f", "fro")
    # NumPy's 2-norm of the flattened array, whatever the rank, when no axis is given
    flat = axis is None and (ord is None or (fro and t.ndim == 2) or (ord == 2 and t.ndim == 1))

    def total(w, over):
        return cx.op("sum", w, axes=over, keepdims=True)

    def extreme(w, over):
        return cx.op("max" if ord > 0 else "min", w, axes=over, keepdims=True)

    def power(w, p):
        return cx.op("pow", w, cx.const(p, dtype))

    def root(s, p):
        """s ** (1/p) for s >= 0, taken where s != 0 only: at 0 the root's derivative is
        infinite and the gradient 0 * inf NaN, where 0 is a subgradient (the norm of a zero
        vector, zero-initialised weights under a norm penalty); a NaN stays NaN."""
        zero, safe = ones_at_zeros(cx, s)
        r = cx.op("sqrt", safe) if p == 2 else power(safe, 1 / p)
        return cx.op("where", zero, cx.const(0, dtype), r)
    squares = None
    if flat or (len(axes) == 2 and fro) or (len(axes) == 1 and ord in (None, 2)):
        squares = total(cx.op("mul", v, v), axes)
        out = root(squares, 2)
    elif len(axes) == 1:
        if isinstance(ord, str):
            raise FrontendError(f"Invalid norm order '{ord}' for vectors")
        if ord == 0:
            out = total(cx.cast(cx.nonzero(v), dtype), axes)
        elif ord == np.inf and any(v.type.shape[a] == 0 for a in axes):
            out = total(cx.op("abs", v), axes)      # NumPy's: 0 over no entries (a sum of none)
        elif ord in (np.inf, -np.inf):
            out = extreme(cx.op("abs", v), axes)
        elif ord == 1:
            out = total(cx.op("abs", v), axes)
        else:
            out = root(total(power(cx.op("abs", v), ord), axes), ord)
    elif len(axes) == 2 and ord in (2, -2, "nuc"):
        # the largest, smallest or summed singular values of the matrices over the two axes
        rest = tuple(d for d in range(t.ndim) if d not in axes)
        perm = rest + axes
        mats = v if perm == tuple(range(t.ndim)) else cx.op("transpose", v, perm=perm)
        s = cx.op({2: "max", -2: "min", "nuc": "sum"}[ord], cx.op("svd_values", mats),
                  axes=(len(rest),), keepdims=False)
        out = cx.op("reshape", s, shape=tuple(1 if d in axes else n
                                               for d, n in enumerate(v.type.shape)))
    elif len(axes) == 2:
        if ord not in (1, -1, np.inf, -np.inf):
            raise FrontendError("Invalid norm order for matrices.")
        row, col = axes     # ord=+-1: column sums' extreme; ord=+-inf: row sums'
        first, then = ((row,), (col,)) if abs(ord) == 1 else ((col,), (row,))
        out = extreme(total(cx.op("abs", v), first), then)
    else:
        raise FrontendError("Improper number of dimensions to norm.")
    if not keepdims:
        kept = tuple(s for d, s in enumerate(out.type.shape) if d not in axes)
        out = cx.op("reshape", out, shape=kept)
        squares = squares and cx.op("reshape", squares, shape=kept)
    result = cx.wrap(out)
    if squares is not None:
        result.norm = (squares, 1.0)
    return result


def vector_norm(cx: Emitter, x, axis=None, keepdims=False, ord=2) -> Traced:
    """np.linalg.vector_norm: the vector norm of the flattened array (axis None) or of the
    axes given, merged into one (NumPy's transpose + reshape), by `norm`."""
    t = cx.tensor(x)
    shape = t.shape
    if axis is None:
        t, over = ravel(cx, t), 0
    elif isinstance(axis, tuple):
        t, over = merge_axes(cx, t, axis), -1
    else:
        over = axis
    out = norm(cx, t, ord, over)
    if keepdims:
        kept = norm_axes(axis, len(shape))
        out = reshape(cx, out, tuple(1 if d in kept else s for d, s in enumerate(shape)))
    return out


def matrix_norm(cx: Emitter, x, keepdims=False, ord="fro") -> Traced:
    return norm(cx, x, ord, (-2, -1), keepdims)
