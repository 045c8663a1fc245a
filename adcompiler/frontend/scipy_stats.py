"""scipy.stats distributions on run-time values: `stats.norm.logpdf(x, loc, scale)` and the
frozen `stats.norm(loc, scale).logpdf(x)`, for the distributions and methods of
stats_forms.FORMS (norm, expon, uniform, laplace, logistic, cauchy, t, gamma, chi2, beta,
lognorm, halfnorm, weibull_min; poisson, bernoulli, binom, geom), and
`stats.multivariate_normal.logpdf` / `.pdf` (x, mean, cov: a matrix, a vector of variances or a
number; frozen too). Their code is traced like the user's, so the derivatives in x and in
every parameter are its ops'.

Contract: `functions()` maps SciPy's bound methods and distribution objects to handlers
`(cx, *args, **kwargs)` taking SciPy's parameters (shape parameters, then loc, then scale, by
position or name), and is empty unless the user's program has imported scipy.stats. A method
SciPy has and this does not (rvs, entropy, moments, a cdf without a closed form here) is a
FrontendError naming it; so is a frozen distribution's.
"""
from __future__ import annotations

import sys
from functools import cache, partial

import numpy as np

from .problems import FrontendError

_DERIVED = {"pdf": "logpdf"}      # exp of the log form
_TRANSFORMS = {"logpdf": "log_density", "pdf": "density", "cdf": "probability",
               "logcdf": "probability", "sf": "probability", "logsf": "probability",
               "ppf": "quantile", "isf": "quantile", "logpmf": "mass", "pmf": "mass"}


def functions() -> dict:
    stats = sys.modules.get("scipy.stats")
    return {} if stats is None else _table(stats)


def frozen_method(fn):
    """The handler of a method of a distribution SciPy froze (`N = stats.norm(0, 1)`, made
    with static parameters, natively), called on run-time values: `N.cdf(x)`; else None."""
    owner = getattr(fn, "__self__", None)
    if type(owner).__name__ == "multivariate_normal_frozen" and fn.__name__ in ("logpdf", "pdf"):
        return _given_to(partial(_multivariate_normal, fn.__name__ == "pdf"), owner.mean,
                         owner.cov, owner.allow_singular)
    name = getattr(getattr(owner, "dist", None), "name", None)
    if "scipy.stats" not in sys.modules or type(owner).__name__ not in _FROZEN_TYPES \
            or name not in _methods():
        return None
    if fn.__name__ not in _methods()[name]:
        return partial(_unsupported, name, fn.__name__, _methods()[name])
    return partial(_call, name, fn.__name__, (owner.args, owner.kwds))


_FROZEN_TYPES = ("rv_continuous_frozen", "rv_discrete_frozen")


@cache
def _methods() -> dict:
    """Each distribution's methods here, by its name."""
    from .stats_forms import FORMS
    return {name: [m for m in _TRANSFORMS if _DERIVED.get(m, m) in forms]
            for name, forms in FORMS.items()}


@cache
def _table(stats) -> dict:
    table = {}
    for name, methods in _methods().items():
        dist = getattr(stats, name)
        for method in methods:
            table[getattr(dist, method)] = partial(_call, name, method, ())
        for method in _OTHERS:      # (SciPy's, named in an error that says what there is)
            if hasattr(dist, method) and method not in methods:
                table[getattr(dist, method)] = partial(_unsupported, name, method, methods)
        table[dist] = partial(_frozen, name, methods)
    mvn = stats.multivariate_normal
    table[mvn.logpdf] = partial(_multivariate_normal, False)
    table[mvn.pdf] = partial(_multivariate_normal, True)
    table[mvn] = _multivariate_normal_frozen
    return table


_OTHERS = ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf", "isf", "logpmf", "pmf",
           "rvs", "entropy", "mean", "var", "std", "median", "interval", "moment", "stats",
           "expect", "fit", "support")


def _unsupported(name, method, methods, cx, *args, **kwargs):
    raise FrontendError(f"scipy.stats.{name}.{method} of run-time values is not supported by "
                        f"adcompiler ({name} has {', '.join(methods)})")


def _parameters(name: str, method: str, args, kwargs):
    """(x, shape parameters, loc, scale) of a call of SciPy's method, bound as SciPy binds them
    (scale is None for a discrete distribution)."""
    from .stats_forms import FORMS
    discrete = "logpmf" in FORMS[name]
    names = [*FORMS[name].get("shapes", ()), "loc", *(() if discrete else ("scale",))]
    spelled = f"scipy.stats.{name}.{method}"
    first = {"ppf": "q", "isf": "q", "pmf": "k", "logpmf": "k"}.get(method, "x")
    if not args and first in kwargs:        # (the values by name: stats.norm.pdf(x=x))
        kwargs = dict(kwargs)
        args = (kwargs.pop(first),)
    if not args:
        raise FrontendError(f"{spelled} takes the values first")
    x, rest = args[0], args[1:]
    if len(rest) > len(names):
        raise FrontendError(f"{spelled} takes at most {len(names)} parameters after the "
                            f"values ({', '.join(names)}), got {len(rest)}")
    bound = dict(zip(names, rest))
    for key, value in kwargs.items():
        if key not in names or key in bound:
            raise FrontendError(f"{spelled} got an unexpected or repeated argument {key!r} "
                                f"(its parameters: {', '.join(names)})")
        bound[key] = value
    missing = [n for n in names if n not in bound and n not in ("loc", "scale")]
    if missing:
        raise FrontendError(f"{spelled} is missing its shape parameter(s) {', '.join(missing)}")
    shape = tuple(bound[n] for n in names if n not in ("loc", "scale"))
    return x, shape, bound.get("loc", 0.0), None if discrete else bound.get("scale", 1.0)


def _call(name, method, given, cx, *args, **kwargs):
    """SciPy's `stats.<name>.<method>(x, ...)`; `given`, a frozen distribution's (args, kwargs)
    before the call's own."""
    from . import stats_forms
    if given:
        if len(args) != 1 or kwargs:
            raise FrontendError(f"a frozen scipy.stats.{name}'s {method} takes the values "
                                "only (its parameters were given when it was made)")
        args, kwargs = args + tuple(given[0]), given[1]
    x, shape, loc, scale = _parameters(name, method, args, kwargs)
    forms = stats_forms.FORMS[name]
    transform = getattr(stats_forms, _TRANSFORMS[method])
    params = [forms[_DERIVED.get(method, method)], forms.get("valid"), x, shape, loc] + (
        [] if scale is None else [scale])
    return cx.call(transform, params, {})


class Frozen:
    """`stats.<name>(...)` with run-time parameters: `handlers` maps its methods to handlers
    `(cx, *args, **kwargs)` that have the parameters."""

    def __init__(self, name, handlers: dict):
        self._name, self._handlers = name, handlers

    def __getattr__(self, method):
        if method.startswith("_") or method not in self._handlers:
            raise AttributeError(f"scipy.stats.{self._name} frozen with run-time parameters "
                                 f"has no {method!r} in adcompiler (it has "
                                 f"{', '.join(self._handlers)})")
        return _Bound(self._handlers[method])


class _Bound:
    """A frozen distribution's method: traced as a call of the handler."""

    def __init__(self, handler):
        self._handler = handler

    def __call__(self, *args, **kwargs):
        raise FrontendError("a frozen scipy.stats distribution of run-time parameters is used "
                            "inside traced code only")

    def __adcompiler_trace__(self, ctx, args, kwargs):
        return self._handler(ctx._tracer, *args, **kwargs)


def _frozen(name, methods, cx, *args, **kwargs):
    _parameters(name, "(frozen)", (None, *args), kwargs)      # (SciPy's binding errors now)
    return Frozen(name, {m: partial(_call, name, m, (args, kwargs)) for m in methods})


def _multivariate_normal(as_density, cx, x, mean=None, cov=1, allow_singular=False):
    if allow_singular:
        raise FrontendError("scipy.stats.multivariate_normal with allow_singular=True is not "
                            "supported")
    from . import stats_forms
    out = cx.call(stats_forms.multivariate_normal_logpdf, [x, mean, cov], {})
    return cx.call(np.exp, [out], {}) if as_density else out


def _given_to(handler, mean, cov, allow_singular):
    """A frozen multivariate normal's method: the handler with its parameters."""
    def frozen(cx, x):
        return handler(cx, x, mean, cov, allow_singular)
    return frozen


def _multivariate_normal_frozen(cx, mean=None, cov=1, allow_singular=False, seed=None):
    return Frozen("multivariate_normal", {
        m: _given_to(partial(_multivariate_normal, m == "pdf"), mean, cov, allow_singular)
        for m in ("logpdf", "pdf")})
