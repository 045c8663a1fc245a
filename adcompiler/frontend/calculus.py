"""Numerical calculus on sampled values: np.trapezoid (the trapezoidal rule) and np.gradient
(central differences inside, one-sided ones of order 1 or 2 at the ends), composed of slices,
arithmetic, concatenation and sums, so their gradients come from those ops' VJPs.

Contract: axes, `edge_order` and the shapes are static; `dx` and the spacings of np.gradient
may be run-time scalars; trapezoid's `x` may be a run-time array. Values and dtypes are
NumPy's: the same arithmetic in the same order, so NumPy's promotions (np.gradient computes
an integer array in float64, and its results are stored in the array's float dtype, as
NumPy's preallocated output does). np.gradient with sample coordinates (1-d arrays as
spacings) is refused: only uniform spacings.
"""
from __future__ import annotations

import operator

from .arith import astype, binary
from .composites import diff
from .emit import Emitter
from .indexing import along
from .problems import FrontendError, StaticNeeded
from .reductions import norm_axes, reduce
from .shapes import concatenate, reshape
from .values import Traced


def trapezoid(cx: Emitter, y, x=None, dx=1.0, axis=-1) -> Traced:
    """sum(d * (y[1:] + y[:-1]) / 2.0) along `axis`, d the spacing: `dx`, or the differences
    of `x` (a 1-d x laid along `axis`)."""
    t = cx.tensor(y)
    (ax,) = norm_axes((axis,), t.ndim)
    d = dx
    if x is not None:
        xt = cx.tensor(x)
        if xt.ndim == 1:
            d = diff(cx, xt)
            d = reshape(cx, d, tuple(d.shape[0] if k == ax else 1 for k in range(t.ndim)))
        else:
            d = diff(cx, xt, axis=ax)
    pairs = binary(cx, "add", along(cx, t, ax, slice(1, None)), along(cx, t, ax, slice(None, -1)))
    return reduce(cx, "sum", binary(cx, "div", binary(cx, "mul", d, pairs), 2.0), ax)


def _spacing(dx):
    if isinstance(dx, Traced) and dx.ndim or not isinstance(dx, Traced) and getattr(
            dx, "ndim", 0):
        raise FrontendError("np.gradient: only uniform spacings (scalars) are supported, not "
                            "sample coordinates")
    return dx


_PYTHON = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
           "div": operator.truediv}


def _op(cx: Emitter, name: str, a, b):
    """a <op> b as NumPy's Python code computes it: in Python for static numbers (a spacing's
    `2. * dx`), else in the IR with the Python operator's promotion."""
    if not isinstance(a, Traced) and not isinstance(b, Traced):
        return _PYTHON[name](a, b)
    return binary(cx, name, a, b, python_op=True)


def gradient(cx: Emitter, f, *varargs, axis=None, edge_order=1):
    """The derivative of `f` along each axis asked for, for samples `dx` apart: (f[2:] -
    f[:-2]) / (2 dx) inside, and at each end (f[1] - f[0]) / dx (edge_order 1) or the
    second-order one-sided differences; one array per axis (a tuple for several)."""
    t = cx.tensor(f)
    axes = norm_axes(axis, t.ndim)
    if isinstance(edge_order, Traced):
        raise StaticNeeded("np.gradient's edge_order must be a compile-time int")
    if len(varargs) == 0:
        spacings = [1.0] * len(axes)
    elif len(varargs) == 1 and not (isinstance(varargs[0], Traced) and varargs[0].ndim):
        spacings = list(varargs) * len(axes)
    elif len(varargs) == len(axes):
        spacings = list(varargs)
    else:
        raise FrontendError("np.gradient: invalid number of arguments")
    spacings = [_spacing(dx) for dx in spacings]
    if edge_order > 2:
        raise FrontendError("'edge_order' greater than 2 not supported")
    out_dtype = t.dtype if t.type.is_float else "f64"
    if t.dtype in ("i64", "i32"):
        t = astype(cx, t, "f64")
    outs = []
    for ax, dx in zip(axes, spacings, strict=True):
        if t.shape[ax] < edge_order + 1:
            raise FrontendError("Shape of array too small to calculate a numerical gradient, "
                                "at least (edge_order + 1) elements are required.")

        def at(start, stop=None):
            return along(cx, t, ax, slice(start, stop))

        def combo(a, b, c, f1, f2, f3):
            """a * f1 + b * f2 + c * f3 with a = a' / dx, ..., as NumPy's edge_order 2."""
            a, b, c = (_op(cx, "div", k, dx) for k in (a, b, c))
            return _op(cx, "add", _op(cx, "add", _op(cx, "mul", a, f1), _op(cx, "mul", b, f2)),
                       _op(cx, "mul", c, f3))
        inside = _op(cx, "div", _op(cx, "sub", at(2), at(None, -2)), _op(cx, "mul", 2.0, dx))
        if edge_order == 1:
            first = _op(cx, "div", _op(cx, "sub", at(1, 2), at(0, 1)), dx)
            last = _op(cx, "div", _op(cx, "sub", at(-1), at(-2, -1)), dx)
        else:
            first = combo(-1.5, 2.0, -0.5, at(0, 1), at(1, 2), at(2, 3))
            last = combo(0.5, -2.0, 1.5, at(-3, -2), at(-2, -1), at(-1))
        parts = [astype(cx, p, out_dtype) for p in (first, inside, last) if p.shape[ax]]
        outs.append(concatenate(cx, parts, axis=ax))
    return outs[0] if len(outs) == 1 else tuple(outs)
