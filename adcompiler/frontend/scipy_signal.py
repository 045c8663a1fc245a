"""scipy.signal's convolutions on run-time arrays: `correlate`, `convolve`, `fftconvolve`,
`oaconvolve` (N-d, of arrays of one rank) and `correlate2d`, `convolve2d` (2-d, zero-filled
boundary), each the registry's valid correlation of the zero-padded stretch of in1 the mode's
shifts read (windows.correlation), so their gradients are correlations again; and `lfilter`
of vectors (no zi=), its recursion traced as a loop (`recursion`).

Contract: modes are SciPy's, axis by axis: 'full' (n + m - 1 shifts), 'same' (in1's size,
centred on the full output: from (m - 1) // 2, correlate2d's from m // 2), 'valid'
(|n - m| + 1, where one operand lies inside the other on every axis, else SciPy's
ValueError); a convolution is the correlation
with in2 reversed along every axis. The result dtype is SciPy's (the operands' common one;
fftconvolve and oaconvolve give floats); values equal SciPy's to rounding (the Numba and NumPy
backends correlate arrays as scipy.signal.correlate does, direct or by FFT as it finds faster,
vectors as np.correlate). `method=` is accepted and does not change the values past rounding;
bool and float16 operands (SciPy refuses them), a boundary other than 'fill' with fillvalue 0,
and fftconvolve's `axes=` raise FrontendError. `functions()` is empty unless the user's program
has imported scipy.signal.
"""
from __future__ import annotations

import sys
from functools import cache, partial

import numpy as np

from . import arith
from .arith import astype
from .indexing import getitem
from .problems import FrontendError
from .values import Traced, ir_dtype
from .windows import correlation

MODES = ("full", "same", "valid")


def functions() -> dict:
    signal = sys.modules.get("scipy.signal")
    return {} if signal is None else _table(signal)


@cache
def _table(signal) -> dict:
    return {signal.correlate: partial(_nd, "correlate", False, False),
            signal.convolve: partial(_nd, "convolve", True, False),
            signal.fftconvolve: partial(_fft, "fftconvolve"),
            signal.oaconvolve: partial(_fft, "oaconvolve"),
            signal.correlate2d: partial(_2d, "correlate2d", False),
            signal.convolve2d: partial(_2d, "convolve2d", True), signal.lfilter: _lfilter}


def _convolution(cx, name, in1, in2, mode, flip, floats):
    a, v = cx.tensor(in1), cx.tensor(in2)
    if a.ndim != v.ndim:
        raise FrontendError(f"scipy.signal.{name}: in1 and in2 should have the same "
                            f"dimensionality, got shapes {a.shape} and {v.shape}")
    if mode not in MODES:
        raise FrontendError(f"scipy.signal.{name}: acceptable mode flags are 'valid', 'same', "
                            f"or 'full', got {mode!r}")
    dtype = np.result_type(a.np_dtype, v.np_dtype)
    if dtype in (np.bool_, np.float16):
        raise FrontendError(f"scipy.signal.{name}: {dtype} arrays are not supported (SciPy's "
                            "'Unsupported type'); convert them to float32 or float64")
    if floats and dtype.kind != "f":
        dtype = np.dtype(np.float64)
    if a.ndim == 0:         # (SciPy's: the product)
        return arith.binary(cx, "mul", *(astype(cx, t, ir_dtype(dtype)) for t in (a, v)))
    if 0 in a.shape or 0 in v.shape:
        raise FrontendError(f"scipy.signal.{name}: empty arrays (shapes {a.shape} and "
                            f"{v.shape}) are not supported")
    if mode == "valid" and not (all(n >= m for n, m in zip(a.shape, v.shape)) or
                                all(m >= n for n, m in zip(a.shape, v.shape))):
        raise FrontendError(f"scipy.signal.{name}: for 'valid' mode, one must be at least as "
                            f"large as the other in every dimension (shapes {a.shape} and "
                            f"{v.shape})")
    if flip:
        v = getitem(cx, v, (slice(None, None, -1),) * v.ndim)
    # (correlate2d centres 'same' a shift later where m is even: SciPy's)
    late = name == "correlate2d"
    spans = [{"full": (0, n + m - 1), "same": (m // 2 if late else (m - 1) // 2, n),
              "valid": (min(n, m) - 1, abs(n - m) + 1)}[mode]
             for n, m in zip(a.shape, v.shape)]
    return correlation(cx, a, v, spans, ir_dtype(dtype))


def _nd(name, flip, floats, cx, in1, in2, mode="full", method="auto"):
    if method not in ("auto", "direct", "fft"):
        raise FrontendError(f"scipy.signal.{name}: acceptable method flags are 'auto', "
                            f"'direct', or 'fft', got {method!r}")
    return _convolution(cx, name, in1, in2, mode, flip, floats)


def _fft(name, cx, in1, in2, mode="full", axes=None):
    if axes is not None:
        raise FrontendError(f"scipy.signal.{name}: axes= is not supported; convolve along "
                            "every axis (axes=None)")
    a, v = cx.tensor(in1), cx.tensor(in2)
    # (SciPy's multiplies along axes where an operand has one entry: with no axis left to
    # transform, integers stay integers)
    floats = any(n > 1 and m > 1 for n, m in zip(a.shape, v.shape))
    return _convolution(cx, name, a, v, mode, True, floats)


def _2d(name, flip, cx, in1, in2, mode="full", boundary="fill", fillvalue=0):
    if boundary != "fill" or isinstance(fillvalue, Traced) or fillvalue != 0:
        raise FrontendError(f"scipy.signal.{name}: only boundary='fill' with fillvalue=0 is "
                            "supported; pad the array yourself (np.pad) for the others")
    a, v = cx.tensor(in1), cx.tensor(in2)
    if a.ndim != 2 or v.ndim != 2:
        raise FrontendError(f"scipy.signal.{name}: in1 and in2 should be 2-dimensional, got "
                            f"shapes {a.shape} and {v.shape}")
    return _convolution(cx, name, a, v, mode, flip, False)


def _lfilter(cx, b, a, x, axis=-1, zi=None):
    """scipy.signal.lfilter of a vector: its direct-form recursion, traced (`recursion`)."""
    if zi is not None:
        raise FrontendError("scipy.signal.lfilter: zi= (initial conditions) is not supported")
    bt, at, xt = cx.tensor(b), cx.tensor(a), cx.tensor(x)
    if bt.ndim != 1 or at.ndim != 1 or xt.ndim != 1 or axis not in (-1, 0):
        raise FrontendError("scipy.signal.lfilter: only 1-d b, a and x are supported (got "
                            f"shapes {bt.shape}, {at.shape} and {xt.shape}); filter each "
                            "row in a loop")
    if not bt.shape[0] or not at.shape[0] or not xt.shape[0]:
        raise FrontendError("scipy.signal.lfilter: b, a and x must not be empty")
    dtype = np.result_type(bt.np_dtype, at.np_dtype, xt.np_dtype, np.float32 if all(
        t.np_dtype.kind == "f" for t in (bt, at, xt)) else np.float64)
    return cx.call(recursion, [bt, at, xt, dtype], {})


def recursion(b, a, x, dtype):
    """y[t] = (sum_k b[k] x[t - k] - sum_{k >= 1} a[k] y[t - k]) / a[0], traced as a user's
    function is (adcompiler's own, given run-time arrays): the moving-average part is a
    convolution, the recursive part a loop writing y (kept with len(a) - 1 zeros before it)."""
    n, na = x.shape[0], a.shape[0]
    fir = (np.convolve(x, b)[:n]).astype(dtype)
    if na == 1:
        return fir / a[0]
    y = np.zeros(n + na - 1, dtype)
    for t in range(n):
        y[t + na - 1] = (fir[t] - a[:0:-1] @ y[t:t + na - 1]) / a[0]
    return y[na - 1:]
