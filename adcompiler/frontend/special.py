"""scipy.special's functions on run-time arrays: `erf`, `erfc`, `expit`, `gammaln`, `gamma`,
`ndtri` and `erfinv` are registry ops (SciPy's result dtypes: float32 stays float32, integers
give float64). Built from registry ops, so that their derivatives are theirs:
- `digamma` (`psi`, ops.elementwise.digamma) and `polygamma` (its static n-th derivative);
- `erfcinv` from ndtri, `ndtr` from erfc;
- `log_ndtr`, in float64, in SciPy's three ranges (log1p(-ndtr(-x)) above 0, the asymptotic
  series below -20);
- `betaln` as gammaln(a) + gammaln(b) - gammaln(a + b), SciPy's asymptotic form where one
  argument is a million times the other;
- `softplus` as np.logaddexp(0, x), as SciPy computes it, `log_expit` as -softplus(-x);
- `xlogy(x, y)`: x log(y), 0 where x is 0 (unless y is NaN; a y of 0, negative or inf is read
  as 1 there, so no NaN reaches the gradient, whose derivative in x is log(y) wherever that is
  finite), and `xlog1py` the same with log1p; `logit` as log(x) - log1p(-x); `entr`,
  `rel_entr` and `kl_div` with SciPy's values at 0 and outside their domain (0, inf, -inf),
  whose branches read safe values, so no inf reaches the gradient from one not taken;
- `logsumexp`, `softmax` and `log_softmax` as SciPy computes them: x shifted by its maximum
  along the axes, so exp never overflows (logsumexp of [1000, 1000] is 1000 + log 2). The
  maximum is a `stop_gradient`: the results do not depend on it, and its gradient would only
  cancel.

Contract: `functions()` maps these SciPy functions to handlers `(cx, *args, **kwargs)` with
SciPy's parameters, and is empty unless the user's program has imported scipy.special (it is
in sys.modules): importing adcompiler never imports SciPy, which takes a good part of a second.
logsumexp's `b=` and `return_sign=` are not supported (a FrontendError).
"""
from __future__ import annotations

import math
import sys
from functools import cache, partial

import numpy as np

from ..ad.emit import const
from ..ops import elementwise as ops
from . import arith, reductions as red, shapes
from .problems import FrontendError
from .values import result_dtype


def functions() -> dict:
    special = sys.modules.get("scipy.special")
    return {} if special is None else _table(special)


@cache
def _table(special) -> dict:
    table = {special.erf: _ufunc("erf", special.erf), special.erfc: _ufunc("erfc", special.erfc),
             special.gammaln: _ufunc("gammaln", special.gammaln),
             special.gamma: _ufunc("gamma", special.gamma),
             special.digamma: partial(digamma, special.digamma),
             special.polygamma: polygamma,
             special.betaln: partial(betaln, special.betaln),
             special.ndtri: _ufunc("ndtri", special.ndtri),
             special.erfinv: _ufunc("erfinv", special.erfinv),
             special.erfcinv: partial(erfcinv, special.erfcinv),
             special.ndtr: partial(ndtr, special.ndtr),
             special.log_ndtr: partial(log_ndtr, special.log_ndtr),
             special.expit: _ufunc("expit", special.expit),
             special.log_expit: partial(log_expit, special.log_expit),
             special.xlogy: partial(xlogy, "log", special.xlogy),
             special.xlog1py: partial(xlogy, "log1p", special.xlog1py),
             special.logit: partial(logit, special.logit),
             special.entr: partial(entr, special.entr),
             special.rel_entr: partial(relative_entropy, special.rel_entr, False),
             special.kl_div: partial(relative_entropy, special.kl_div, True),
             special.logsumexp: logsumexp, special.softmax: softmax,
             special.log_softmax: log_softmax}
    if hasattr(special, "softplus"):        # (SciPy 1.15 and later)
        table[special.softplus] = softplus
    return table


def _ufunc(name, ufunc):
    return lambda cx, x, /: arith.unary(cx, name, x, ufunc=ufunc)


def _in_result_dtype(ufunc, cx, x):
    """x in the dtype SciPy's `ufunc` gives it (float32 stays, integers become float64)."""
    return arith.astype(cx, cx.tensor(x), result_dtype(ufunc, x))


def softplus(cx, x):
    return arith.binary(cx, "logaddexp", 0, x)


def log_expit(ufunc, cx, x, /):
    t = _in_result_dtype(ufunc, cx, x)
    return arith.unary(cx, "neg", softplus(cx, arith.unary(cx, "neg", t)))


def digamma(ufunc, cx, x, /):
    t = _in_result_dtype(ufunc, cx, x)
    return cx.wrap(ops.digamma(cx, t.value))


def _emitter(cx, dt):
    """(op, c) for the composites below: `op(name, *operands)` emits a registry op on IR
    values, `c(v)` a constant of dtype `dt`."""
    return cx.op, lambda v: const(cx, v, dt)


def erfcinv(ufunc, cx, y, /):
    """-ndtri(y / 2) / sqrt(2): y / 2 is exact, so the tail (erfcinv(1e-300)) keeps its
    digits."""
    t = _in_result_dtype(ufunc, cx, y)
    op, c = _emitter(cx, t.dtype)
    return cx.wrap(op("mul", op("ndtri", op("mul", t.value, c(0.5))), c(-math.sqrt(0.5))))


def ndtr(ufunc, cx, x, /):
    """The standard normal's CDF as erfc(-x / sqrt(2)) / 2 (no 1 - erf(..) cancels below 0),
    in float64 whatever x's float dtype, as SciPy's float32 loop (float32's erfc lost ~1e-5
    in the far tail)."""
    out = _in_result_dtype(ufunc, cx, x)
    op, c = _emitter(cx, "f64")
    a = arith.astype(cx, out, "f64").value
    value = cx.wrap(op("mul", c(0.5), op("erfc", op("mul", a, c(-math.sqrt(0.5))))))
    return arith.astype(cx, value, out.dtype)


LOG_NDTR_TERMS = 10     # of the asymptotic series below -20 (the 10th is below 1e-20 there)


def log_ndtr(ufunc, cx, x, /):
    """log(ndtr(x)) as SciPy computes it, in float64 whatever x's float dtype: above 0
    log1p(-ndtr(-x)), which keeps the digits log(1 - tiny) loses; down to -20 log(ndtr(x));
    below, where ndtr underflows, the asymptotic series -x^2/2 - log(-x) - log(2 pi)/2 +
    log(1 - 1/x^2 + 3/x^4 - ...). Each branch reads x only where it is taken (else a value of
    its own range), so no inf from an untaken one reaches the gradient."""
    out = _in_result_dtype(ufunc, cx, x)
    op, c = _emitter(cx, "f64")
    a = arith.astype(cx, out, "f64").value

    def phi(v):
        return op("mul", c(0.5), op("erfc", op("mul", v, c(-math.sqrt(0.5)))))
    high = op("gt", a, c(0))
    low = op("le", a, c(-20))
    upper = op("log1p", op("neg", phi(op("neg", op("where", high, a, c(1))))))
    middle = op("log", phi(op("where", op("logical_or", high, low), c(-1), a)))
    s = op("where", low, a, c(-20))
    w = op("div", c(1), op("mul", s, s))
    series, term = c(1), c(1)
    for i in range(1, LOG_NDTR_TERMS + 1):
        term = op("mul", term, op("mul", w, c(-(2 * i - 1))))
        series = op("add", series, term)
    tail = op("add", op("sub", op("mul", c(-0.5), op("mul", s, s)), op("log", op("neg", s))),
              op("sub", op("log", series), c(0.5 * math.log(2 * math.pi))))
    r = op("where", high, upper, op("where", low, tail, middle))
    return arith.astype(cx, cx.wrap(r), out.dtype)


BETALN_ASYMPTOTIC = 1e6     # SciPy's ASYMP_FACTOR


def betaln(ufunc, cx, a, b, /):
    """log|B(a, b)| as gammaln(a) + gammaln(b) - gammaln(a + b); where the larger is above
    1e6 and a million times the other (gammaln(a + b) - gammaln(a) would cancel), SciPy's
    asymptotic form in the smaller s and the larger l: gammaln(s) - s log(l) + s(1 - s)/(2l)
    + s(1 - s)(1 - 2s)/(12 l^2) - s^2 (1 - s)^2/(12 l^3). Where a or b is a negative integer
    it is NaN or inf (SciPy's finite limit there, lbeta_negint, is not followed)."""
    out = result_dtype(ufunc, a, b)
    a, b = (arith.astype(cx, cx.tensor(v), out).value for v in (a, b))
    op, c = _emitter(cx, out)
    direct = op("sub", op("add", op("gammaln", a), op("gammaln", b)),
                op("gammaln", op("add", a, b)))
    a_large = op("ge", op("abs", a), op("abs", b))
    large, small = op("where", a_large, a, b), op("where", a_large, b, a)
    far = op("logical_and", op("gt", large, c(BETALN_ASYMPTOTIC)),
             op("gt", op("abs", large), op("mul", c(BETALN_ASYMPTOTIC), op("abs", small))))
    big = op("where", far, large, c(1))
    one_less = op("sub", c(1), small)
    q = op("div", op("mul", small, one_less), big)            # s (1 - s) / l
    series = op("add", op("mul", c(0.5), q),
                op("mul", op("div", q, op("mul", c(12), big)),
                   op("sub", op("sub", c(1), op("mul", c(2), small)), q)))
    asymptotic = op("add", op("sub", op("gammaln", small), op("mul", small, op("log", big))),
                    series)
    return cx.wrap(op("where", far, asymptotic, direct))


# Bernoulli numbers B_2 .. B_16, the coefficients of polygamma's asymptotic series
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510)


def polygamma(cx, n, x):
    """The n-th derivative of digamma for a static integer n, in float64 (SciPy's): digamma
    for n = 0; else, for x >= 0, (-1)^(n+1) n! times the Hurwitz zeta(n + 1, x), as
    sum_{k<10} (x + k)^-(n+1) plus zeta's asymptotic series at z = x + 10, and below 0 the
    reflection psi^(n)(x) = (-1)^n psi^(n)(1 - x) - pi^(n+1) P_n(cot(pi x)), P_n the n-th
    derivative of cot as a polynomial in cot. Built from registry ops, so its derivative is
    polygamma(n + 1) to rounding. Within about 1e-15 of SciPy's for x > 0, 1e-13 below 0."""
    (n,) = shapes.static_ints(n, "scipy.special.polygamma's n")
    if n < 0:
        raise FrontendError(f"scipy.special.polygamma: n must be >= 0, got {n}")
    t = arith.astype(cx, cx.tensor(x), "f64")
    if n == 0:
        return cx.wrap(ops.digamma(cx, t.value))
    op, c = _emitter(cx, "f64")
    x = t.value
    neg = op("lt", x, c(0))
    r = op("sub", x, op("rint", x))       # (as digamma's: exact near the poles)
    pole = op("logical_and", neg, op("eq", r, c(0)))
    y = op("where", neg, op("sub", c(1), x), x)
    shifted = c(0)
    for k in range(ops.PSI_SHIFT):
        shifted = op("add", shifted, op("pow", op("add", y, c(k)), c(-(n + 1))))
    z = op("add", y, c(ops.PSI_SHIFT))
    w = op("div", c(1), op("mul", z, z))
    coefs = [b / math.factorial(2 * j) * math.prod(range(n + 1, n + 2 * j))
             for j, b in enumerate(_BERNOULLI, 1)]
    series = c(coefs[-1])
    for coef in reversed(coefs[:-1]):
        series = op("add", c(coef), op("mul", w, series))
    zeta = op("mul", op("pow", z, c(-n)), op("add", op("add", c(1 / n), op("div", c(0.5), z)),
                                              op("mul", w, series)))
    psi = op("mul", c((-1) ** (n + 1) * math.factorial(n)), op("add", shifted, zeta))
    # d^k/dt^k cot t = P_k(cot t): P_0(c) = c, P_{k+1}(c) = -(1 + c^2) P_k'(c)
    poly = np.polynomial.Polynomial([0, 1])
    for _ in range(n):
        poly = -np.polynomial.Polynomial([1, 0, 1]) * poly.deriv()
    safe = op("where", op("logical_and", neg, op("logical_not", pole)), r, c(0.5))
    cot = op("div", c(1), op("tan", op("mul", c(math.pi), safe)))
    p_n = c(poly.coef[-1])
    for coef in reversed(poly.coef[:-1]):
        p_n = op("add", c(coef), op("mul", cot, p_n))
    reflected = op("sub", op("mul", c((-1) ** n), psi), op("mul", c(math.pi ** (n + 1)), p_n))
    inf = c((-1) ** (n + 1) * math.inf)       # (SciPy's at the poles 0, -1, -2, ...)
    return cx.wrap(op("where", pole, inf, op("where", neg, reflected, psi)))


def entr(ufunc, cx, x, /):
    """-x log(x), 0 at 0, -inf below 0 (SciPy's); x is read as 1 where it is not above 0, so
    no inf of an untaken branch reaches the gradient, which is 0 at 0 (JAX's is inf)."""
    t = _in_result_dtype(ufunc, cx, x)
    op, c = _emitter(cx, t.dtype)
    x = t.value
    positive = op("gt", x, c(0))
    value = op("neg", op("mul", x, op("log", op("where", positive, x, c(1)))))
    rest = op("where", op("eq", x, c(0)), c(0), c(-math.inf))
    return cx.wrap(op("where", op("isnan", x), x, op("where", positive, value, rest)))


def relative_entropy(ufunc, kl, cx, x, y, /):
    """rel_entr(x, y) = x log(x / y) where both are above 0, 0 where x is 0 and y is not
    negative, inf elsewhere, NaN where either is; kl_div (`kl`) is x log(x / y) - x + y
    there, and y where x is 0 (SciPy's). rel_entr's log is SciPy's: log1p((x - y) / y) where
    x / y is within (1/2, 2) (no digits lost to x ~ y), log(x) - log(y) where x / y
    overflows or underflows; kl_div's is the plain one, as SciPy's. The logs read 1 where not
    both are above 0."""
    out = result_dtype(ufunc, x, y)
    x, y = (arith.astype(cx, cx.tensor(v), out).value for v in (x, y))
    op, c = _emitter(cx, out)
    both = op("logical_and", op("gt", x, c(0)), op("gt", y, c(0)))
    xs, ys = op("where", both, x, c(1)), op("where", both, y, c(1))
    ratio = op("div", xs, ys)
    log = op("log", ratio)
    if kl:
        value = op("add", op("sub", op("mul", x, log), x), y)
        at_zero = y
    else:
        near = op("logical_and", op("gt", ratio, c(0.5)), op("lt", ratio, c(2)))
        inside = op("logical_and", op("gt", ratio, c(0)), op("lt", ratio, c(math.inf)))
        log = op("where", near, op("log1p", op("div", op("sub", xs, ys), ys)),
                 op("where", inside, log, op("sub", op("log", xs), op("log", ys))))
        value, at_zero = op("mul", x, log), c(0)
    zero = op("logical_and", op("eq", x, c(0)), op("ge", y, c(0)))
    rest = op("where", zero, at_zero, c(math.inf))
    nan = op("logical_or", op("isnan", x), op("isnan", y))
    return cx.wrap(op("where", nan, c(math.nan), op("where", both, value, rest)))


def logit(ufunc, cx, x, /):
    """log(x / (1 - x)) as log(x) - log1p(-x): -inf at 0, inf at 1, NaN outside [0, 1]."""
    t = _in_result_dtype(ufunc, cx, x)
    return arith.binary(cx, "sub", arith.unary(cx, "log", t),
                        arith.unary(cx, "log1p", arith.unary(cx, "neg", t)))


def xlogy(log, ufunc, cx, x, y, /):
    """x log(y) (`log` "log") or x log1p(y) ("log1p"), 0 where x is 0."""
    out = result_dtype(ufunc, x, y)
    x, y = arith.astype(cx, cx.tensor(x), out), arith.astype(cx, cx.tensor(y), out)
    both = partial(arith.binary, cx, "logical_and")
    zero = arith.binary(cx, "eq", x, 0)
    # where x is 0, a y whose log is not finite (0, negative, inf; log1p's: -1 and below) reads
    # as one whose log is 0: the product is 0, not NaN, and so is its gradient; a NaN y stays
    # (SciPy's NaN); elsewhere the derivative in x is log(y), x = 0 included
    low = 0 if log == "log" else -1
    kept = arith.binary(cx, "logical_or", both(arith.binary(cx, "gt", y, low),
                                               arith.classify(cx, "isfinite", y)),
                        arith.classify(cx, "isnan", y))
    guard = both(zero, arith.unary(cx, "logical_not", kept))
    t = arith.binary(cx, "mul", x, arith.unary(cx, log, arith.where(cx, guard, low + 1, y)))
    return arith.where(cx, zero, arith.binary(cx, "add", t, 0), t)     # (SciPy's 0 is +0.0)


def _shifted(cx, x, axis, finite_shift):
    """(x - m, m): x in the float dtype np.exp gives it, m its maximum over `axis` (kept as
    size-1 axes) with the gradient stopped; with `finite_shift` m is 0 where the maximum is
    not finite (SciPy's logsumexp and log_softmax: all -inf gives -inf, not NaN)."""
    t = cx.tensor(x)
    t = arith.astype(cx, t, result_dtype(np.exp, t))
    # over an empty axis (SciPy's logsumexp: -inf) the maximum is its identity, -inf
    empty = finite_shift and red.count(t.shape, red.norm_axes(axis, t.ndim)) == 0
    m = red.reduce(cx, "max", t, axis, keepdims=True, initial=-np.inf if empty else np._NoValue)
    if finite_shift:
        finite = arith.classify(cx, "isfinite", m)
        m = arith.where(cx, finite, m, 0.0)
    m = cx.wrap(cx.op("stop_gradient", m.value))
    return arith.binary(cx, "sub", t, m), m


def _sum_exp(cx, d, axis, keepdims):
    return red.reduce(cx, "sum", arith.unary(cx, "exp", d), axis, keepdims)


def logsumexp(cx, a, axis=None, b=None, keepdims=False, return_sign=False):
    if b is not None or return_sign:
        raise FrontendError("scipy.special.logsumexp: b= and return_sign= are not supported "
                            "by adcompiler; scale inside the exponent (a + np.log(b)) instead")
    d, m = _shifted(cx, a, axis, finite_shift=True)
    s = _sum_exp(cx, d, axis, keepdims)
    return arith.binary(cx, "add", arith.unary(cx, "log", s), shapes.reshape(cx, m, s.shape))


def softmax(cx, x, axis=None):
    # SciPy's softmax shifts by the maximum itself: a row holding inf is NaN throughout
    d, _ = _shifted(cx, x, axis, finite_shift=False)
    e = arith.unary(cx, "exp", d)
    return arith.binary(cx, "div", e, red.reduce(cx, "sum", e, axis, keepdims=True))


def log_softmax(cx, x, axis=None):
    d, _ = _shifted(cx, x, axis, finite_shift=True)
    return arith.binary(cx, "sub", d, arith.unary(cx, "log", _sum_exp(cx, d, axis, True)))
