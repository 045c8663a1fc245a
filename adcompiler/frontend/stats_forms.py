"""The scipy.stats distributions adcompiler knows, as plain NumPy and scipy.special code that is
traced like the user's (so derivatives in x and in every parameter are those of the ops):
each distribution's standard forms, functions of the standardised z = (x - loc) / scale (k - loc
for a discrete one) and the shape parameters, and the loc-scale transforms around them.

Contract: `FORMS[name]` maps a method ("logpdf", "cdf", "logcdf", "sf", "logsf", "ppf", "isf";
"logpmf" and "pmf" for discrete ones) to its standard form, "shapes" to the shape parameters'
names and "valid" to SciPy's check of them (`_argcheck`). pdf is exp of logpdf. Results are
float64, as SciPy's. Out of the support a log-density is -inf and a density 0; parameters
that are not valid (a scale that is not positive too), and a probability outside [0, 1]
given to ppf / isf, give NaN, as SciPy's. Arguments outside a form's domain are first
replaced by a harmless one (`_inside`), so the branch `np.where` leaves out has a finite
derivative and no 0 * inf reaches the gradient.
"""
from __future__ import annotations

import numpy as np
from scipy import linalg, special

LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)


def _inside(ok, z, harmless):
    return np.where(ok, z, harmless)


# -- the loc-scale transforms (traced with the form, the distribution's check of its shape
# parameters, `valid`, and the bound parameters): NaN where those are not valid, as SciPy's

def _valid(valid, shape, scale=1.0):
    return scale > 0 if valid is None else valid(*shape) & (scale > 0)


def log_density(form, valid, x, shape, loc, scale):
    ok = _valid(valid, shape, scale)
    z = (np.asarray(x, np.float64) - loc) / scale
    return np.where(ok, form(z, *shape) - np.log(np.where(scale > 0, scale, 1.0)), np.nan)


def density(form, valid, x, shape, loc, scale):
    return np.exp(log_density(form, valid, x, shape, loc, scale))


def probability(form, valid, x, shape, loc, scale):
    z = (np.asarray(x, np.float64) - loc) / scale
    return np.where(_valid(valid, shape, scale), form(z, *shape), np.nan)


def quantile(form, valid, q, shape, loc, scale):
    q = np.asarray(q, np.float64)
    inside = (q >= 0) & (q <= 1) & _valid(valid, shape, scale)
    return np.where(inside, loc + scale * form(_inside(inside, q, 0.5), *shape), np.nan)


def mass(form, valid, k, shape, loc):
    """logpmf and pmf, each its own form (a pmf as exp(logpmf) has 0 * inf for a derivative
    where a probability is 0)."""
    return np.where(_valid(valid, shape), form(np.asarray(k, np.float64) - loc, *shape), np.nan)


# -- continuous distributions ------------------------------------------------------------------

def norm_logpdf(z):
    return -0.5 * z * z - LOG_SQRT_2PI


def expon_logpdf(z):
    return np.where(z >= 0, -z, -np.inf)


def expon_cdf(z):
    return np.where(z > 0, -np.expm1(-_inside(z > 0, z, 1.0)), 0.0)


def expon_logcdf(z):
    # log(1 - e^-z): log(-expm1(-z)) near 0, log1p(-exp(-z)) beyond log 2 (each keeps its digits)
    near = _inside((z > 0) & (z <= np.log(2.0)), z, 0.5)
    far = _inside(z > np.log(2.0), z, 1.0)
    return np.where(z <= 0, -np.inf, np.where(z <= np.log(2.0), np.log(-np.expm1(-near)),
                                              np.log1p(-np.exp(-far))))


def expon_sf(z):
    return np.where(z > 0, np.exp(-_inside(z > 0, z, 0.0)), 1.0)


def expon_logsf(z):
    return np.where(z > 0, -z, 0.0)


def uniform_logpdf(z):
    return np.where((z >= 0) & (z <= 1), 0.0, -np.inf)


def uniform_cdf(z):
    return np.clip(z, 0.0, 1.0)


def uniform_sf(z):
    return 1.0 - np.clip(z, 0.0, 1.0)


def laplace_logpdf(z):
    return -np.abs(z) - np.log(2.0)


def laplace_cdf(z):
    half_tail = 0.5 * np.exp(-np.abs(z))
    return np.where(z < 0, half_tail, 1.0 - half_tail)


def laplace_sf(z):
    return laplace_cdf(-z)


def laplace_ppf(q):
    return np.where(q <= 0.5, np.log(2.0 * _inside(q <= 0.5, q, 0.25)),
                    -np.log(2.0 - 2.0 * _inside(q > 0.5, q, 0.75)))


def logistic_logpdf(z):
    return -np.abs(z) - 2.0 * np.log1p(np.exp(-np.abs(z)))


def cauchy_logpdf(z):
    # (z * z overflows beyond 1e154: there log1p(z^2) is 2 log|z|)
    huge = np.abs(z) > 1e150
    return -np.log(np.pi) - np.where(huge, 2.0 * np.log(np.abs(_inside(huge, z, 1e151))),
                                     np.log1p(_inside(huge, 0.0, z) ** 2))


def cauchy_cdf(z):
    # (in the lower tail 1/2 + arctan(z) / pi cancels: there it is -arctan(1 / z) / pi)
    tail = z < -1
    return np.where(tail, -np.arctan(1.0 / _inside(tail, z, -2.0)) / np.pi,
                    0.5 + np.arctan(z) / np.pi)


def cauchy_sf(z):
    return cauchy_cdf(-z)


def cauchy_ppf(q):
    # tan(pi (q - 1/2)) about the median (q - 1/2 is exact there), -1 / tan(pi q) from the
    # nearer end beyond (keeping its digits there, as SciPy's); the ends are infinite
    middle = np.abs(q - 0.5) <= 0.25
    near = np.where(q > 0.5, 1.0 - q, q)
    inner = _inside((near > 0) & ~middle, near, 0.1)
    tail = np.where(near == 0, -np.inf, -1.0 / np.tan(np.pi * inner))
    return np.where(middle, np.tan(np.pi * (_inside(middle, q, 0.5) - 0.5)),
                    np.where(q > 0.5, -tail, tail))


def t_logpdf(z, df):
    finite = np.isfinite(df)        # (an infinite df is the normal, as SciPy's)
    d = _inside(finite, df, 1.0)
    return np.where(finite, _half_step_lgamma(d / 2) - 0.5 * np.log(d * np.pi)
                    - (d + 1) / 2 * np.log1p(z * z / d), norm_logpdf(z))


def _half_step_lgamma(h):
    """gammaln(h + 1/2) - gammaln(h), which cancels as h grows (SciPy's t takes log(poch(h,
    1/2))): above h = 200 its asymptotic series, within 1e-16 there (the difference of
    gammalns was 1e-9 off at df = 1e6, and its derivative wrong from 1e7)."""
    far = h > 200
    s = _inside(far, h, 1000.0)
    series = 0.5 * np.log(s) - 1 / (8 * s) + 1 / (192 * s ** 3) + 1 / (640 * s ** 5) \
        - 17 / (14336 * s ** 7)
    return np.where(far, series, special.gammaln(h + 0.5) - special.gammaln(h))


def gamma_logpdf(z, a):
    # (at 0 xlogy gives the density's limit: 1 for a = 1, 0 above and inf below, as SciPy's)
    zs = _inside(z >= 0, z, 1.0)
    return np.where(z >= 0, special.xlogy(a - 1, zs) - zs - special.gammaln(a), -np.inf)


def chi2_logpdf(z, df):
    return gamma_logpdf(z / 2, df / 2) - np.log(2.0)


def beta_logpdf(z, a, b):
    inside = (z >= 0) & (z <= 1)       # (the ends' limits, as gamma's at 0)
    zs = _inside(inside, z, 0.5)
    inner = special.xlogy(a - 1, zs) + special.xlog1py(b - 1, -zs) - special.betaln(a, b)
    return np.where(inside, inner, -np.inf)


def lognorm_logpdf(z, s):
    zs = _inside(z > 0, z, 1.0)
    y = np.log(zs) / s
    return np.where(z > 0, -0.5 * y * y - LOG_SQRT_2PI - np.log(s * zs), -np.inf)


def lognorm_cdf(z, s):
    return np.where(z > 0, special.ndtr(np.log(_inside(z > 0, z, 1.0)) / s), 0.0)


def lognorm_ppf(q, s):
    return np.exp(s * special.ndtri(q))


def weibull_min_logpdf(z, c):
    # (at 0: log c for c = 1, +inf below it, -inf above it, as SciPy's)
    inside = _inside(z > 0, z, 1.0)
    at_zero = np.where(c == 1, np.log(c), np.where(c < 1, np.inf, -np.inf))
    return np.where(z > 0, np.log(c) + (c - 1) * np.log(inside) - inside ** c,
                    np.where(z == 0, at_zero, -np.inf))


def _weibull_power(z, c):
    """z ** c where z > 0, else 0."""
    return np.where(z > 0, _inside(z > 0, z, 1.0) ** c, 0.0)


def weibull_min_cdf(z, c):
    return -np.expm1(-_weibull_power(z, c))


def weibull_min_logcdf(z, c):
    return expon_logcdf(_weibull_power(z, c))


def halfnorm_logpdf(z):
    return np.where(z >= 0, np.log(2.0) + norm_logpdf(z), -np.inf)


def halfnorm_cdf(z):
    return np.where(z > 0, special.erf(_inside(z > 0, z, 0.0) / np.sqrt(2.0)), 0.0)


# -- discrete distributions: log-masses of k (already less loc) ---------------------------------

def _counts(k, low, high):
    """Is k an integer in [low, high]?"""
    return (k >= low) & (k <= high) & (np.floor(k) == k)


def _on_integers(k, low, high, value, outside=-np.inf):
    """value where k is an integer in [low, high], else `outside` (a log-mass's -inf)."""
    return np.where(_counts(k, low, high), value, outside)


def poisson_logpmf(k, mu):
    ks = _inside(k >= 0, k, 0.0)
    return _on_integers(k, 0, np.inf, special.xlogy(ks, mu) - special.gammaln(ks + 1) - mu)


def bernoulli_logpmf(k, p):
    ks = _inside((k >= 0) & (k <= 1), k, 0.0)
    return _on_integers(k, 0, 1, special.xlogy(ks, p) + special.xlog1py(1 - ks, -p))


def binom_logpmf(k, n, p):
    ks = _inside((k >= 0) & (k <= n), k, 0.0)
    return _on_integers(k, 0, n, special.gammaln(n + 1) - special.gammaln(ks + 1)
                        - special.gammaln(n - ks + 1) + special.xlogy(ks, p)
                        + special.xlog1py(n - ks, -p))


def geom_logpmf(k, p):
    ks = _inside(k >= 1, k, 1.0)
    return _on_integers(k, 1, np.inf, special.xlog1py(ks - 1, -p) + np.log(p))


def _power(base, k):
    """base ** k for counts k, 1 at k = 0 with no derivative there (0 ** 0's is 0 * inf)."""
    return np.where(k == 0, 1.0, base ** np.where(k == 0, 1.0, k))


def poisson_pmf(k, mu):
    # exp(logpmf), as SciPy's (mu ** k and k! alone overflow), but at mu = 0 the power, whose
    # derivative is finite there (exp(logpmf)'s is 0 * inf): mass and slope only at k <= 1
    ks = _inside(_counts(k, 0, np.inf), k, 0.0)
    zero = mu == 0
    inner = np.exp(poisson_logpmf(ks, np.where(zero, 1.0, mu)))
    low = _inside(ks <= 1, ks, 0.0)
    at_zero = np.where(ks <= 1, np.exp(-mu) * _power(mu, low), 0.0)
    return _on_integers(k, 0, np.inf, np.where(zero, at_zero, inner), 0.0)


def bernoulli_pmf(k, p):
    return _on_integers(k, 0, 1, np.where(k == 1, p, 1.0 - p), 0.0)


def binom_pmf(k, n, p):
    # exp(logpmf) as poisson_pmf's, the powers at p = 0 or 1, where only the counts at the
    # ends have mass or slope (their binomial coefficients 1 and n, the others left out)
    ks = _inside(_counts(k, 0, n), k, 0.0)
    edge = (p == 0) | (p == 1)
    inner = np.exp(binom_logpmf(ks, n, np.where(edge, 0.5, p)))
    ends = (ks <= 1) | (ks >= n - 1)
    e = _inside(ends, ks, 0.0)
    ways = np.where(ends, np.exp(special.gammaln(n + 1) - special.gammaln(e + 1)
                                 - special.gammaln(n - e + 1)), 0.0)
    at_edge = ways * _power(p, ks) * _power(1.0 - p, n - ks)
    return _on_integers(k, 0, n, np.where(edge, at_edge, inner), 0.0)


def geom_pmf(k, p):
    ks = _inside(k >= 1, np.floor(k), 1.0)
    return _on_integers(k, 1, np.inf, _power(1.0 - p, ks - 1) * p, 0.0)


# -- the multivariate normal -----------------------------------------------------------------

def multivariate_normal_logpdf(x, mean, cov):
    """SciPy's: the dimension is mean's (or cov's), a 1-d dimension takes x's entries as
    samples, and the result is squeezed."""
    x = np.asarray(x, np.float64)
    cov = np.asarray(cov, np.float64)
    dim = np.shape(mean)[-1] if mean is not None and np.ndim(mean) else \
        cov.shape[-1] if cov.ndim else 1
    if dim == 1 and (x.ndim == 0 or x.shape[-1] != 1):
        x = x[..., None]
    dev = x - (0.0 if mean is None else mean)
    if cov.ndim == 0:
        logdet, maha = dim * np.log(cov), np.sum(dev * dev, axis=-1) / cov
    elif cov.ndim == 1:
        logdet, maha = np.sum(np.log(cov)), np.sum(dev * dev / cov, axis=-1)
    else:
        lower = np.linalg.cholesky(cov)
        y = linalg.solve_triangular(lower, np.reshape(dev, (-1, dim)).T, lower=True)
        logdet = 2.0 * np.sum(np.log(np.diagonal(lower)))
        maha = np.reshape(np.sum(y * y, axis=0), dev.shape[:-1])
    return np.squeeze(-0.5 * (dim * np.log(2 * np.pi) + logdet + maha))


FORMS = {
    "norm": {"logpdf": norm_logpdf, "cdf": special.ndtr, "logcdf": special.log_ndtr,
             "sf": lambda z: special.ndtr(-z), "logsf": lambda z: special.log_ndtr(-z),
             "ppf": special.ndtri, "isf": lambda q: -special.ndtri(q)},
    "expon": {"logpdf": expon_logpdf, "cdf": expon_cdf, "logcdf": expon_logcdf,
              "sf": expon_sf, "logsf": expon_logsf, "ppf": lambda q: -np.log1p(-q),
              "isf": lambda q: -np.log(q)},
    "uniform": {"logpdf": uniform_logpdf, "cdf": uniform_cdf, "sf": uniform_sf,
                "ppf": lambda q: q, "isf": lambda q: 1.0 - q},
    "laplace": {"logpdf": laplace_logpdf, "cdf": laplace_cdf, "sf": laplace_sf,
                "ppf": laplace_ppf, "isf": lambda q: -laplace_ppf(q)},
    "logistic": {"logpdf": logistic_logpdf, "cdf": special.expit, "logcdf": special.log_expit,
                 "sf": lambda z: special.expit(-z), "logsf": lambda z: special.log_expit(-z),
                 "ppf": special.logit, "isf": lambda q: -special.logit(q)},
    "cauchy": {"logpdf": cauchy_logpdf, "cdf": cauchy_cdf, "sf": cauchy_sf, "ppf": cauchy_ppf,
               "isf": lambda q: -cauchy_ppf(q)},
    "t": {"shapes": ("df",), "logpdf": t_logpdf, "valid": lambda df: df > 0},
    "gamma": {"shapes": ("a",), "logpdf": gamma_logpdf, "valid": lambda a: a > 0},
    "chi2": {"shapes": ("df",), "logpdf": chi2_logpdf, "valid": lambda df: df > 0},
    "beta": {"shapes": ("a", "b"), "logpdf": beta_logpdf,
             "valid": lambda a, b: (a > 0) & (b > 0)},
    "lognorm": {"shapes": ("s",), "logpdf": lognorm_logpdf, "cdf": lognorm_cdf,
                "ppf": lognorm_ppf, "valid": lambda s: s > 0},
    "weibull_min": {"shapes": ("c",), "logpdf": weibull_min_logpdf, "cdf": weibull_min_cdf,
                    "logcdf": weibull_min_logcdf,
                    "sf": lambda z, c: np.exp(-_weibull_power(z, c)),
                    "logsf": lambda z, c: -_weibull_power(z, c),
                    "ppf": lambda q, c: (-np.log1p(-q)) ** (1.0 / c),
                    "isf": lambda q, c: (-np.log(q)) ** (1.0 / c), "valid": lambda c: c > 0},
    "halfnorm": {"logpdf": halfnorm_logpdf, "cdf": halfnorm_cdf},
    "poisson": {"shapes": ("mu",), "logpmf": poisson_logpmf, "pmf": poisson_pmf,
                "valid": lambda mu: mu >= 0},
    "bernoulli": {"shapes": ("p",), "logpmf": bernoulli_logpmf, "pmf": bernoulli_pmf,
                  "valid": lambda p: (p >= 0) & (p <= 1)},
    "binom": {"shapes": ("n", "p"), "logpmf": binom_logpmf, "pmf": binom_pmf,
              "valid": lambda n, p: (n >= 0) & (np.floor(n) == n) & (p >= 0) & (p <= 1)},
    "geom": {"shapes": ("p",), "logpmf": geom_logpmf, "pmf": geom_pmf,
             "valid": lambda p: (p > 0) & (p <= 1)},
}
