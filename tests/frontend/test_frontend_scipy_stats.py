"""scipy.stats distributions on run-time values (frontend/scipy_stats.py, stats_forms.py):
every method of every distribution against SciPy itself, at points inside, on the edge of and
outside the support (and at probabilities 0, 1 and outside them), with loc and scale, and a
scale that is not positive; gradients in the values and the parameters against float64 finite
differences on both backends; frozen distributions; the multivariate normal; errors naming
what is supported."""
import warnings

import numpy as np
import pytest
from scipy import stats

import adcompiler
from adcompiler.frontend.stats_forms import FORMS
from fecheck import central_differences, located_error

FILE = "test_frontend_scipy_stats.py"
XS = np.array([-2.0, -0.5, 0.0, 0.3, 0.5, 1.0, 1.5, 2.0, 7.0, 40.0])
QS = np.array([-0.1, 0.0, 1e-12, 0.2, 0.5, 0.9, 1.0, 1.1])
KS = np.array([-1.0, 0.0, 1.0, 2.0, 2.5, 3.0, 10.0])
SHAPES = {"t": (3.5,), "gamma": (0.7,), "chi2": (3.0,), "beta": (2.5, 0.6), "lognorm": (0.8,),
          "poisson": (2.3,), "bernoulli": (0.3,), "binom": (5, 0.4), "geom": (0.35,)}
METHODS = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf", "isf", "logpmf", "pmf"]


def call_method(method, values, parameters):
    return method(values, *parameters)


@pytest.mark.parametrize("name", FORMS)
def test_every_method_is_scipys(name):
    forms = FORMS[name]
    discrete = "logpmf" in forms
    checked = 0
    for m in METHODS:
        if {"pdf": "logpdf", "pmf": "logpmf"}.get(m, m) not in forms:
            continue
        method = getattr(getattr(stats, name), m)
        values = QS if m in ("ppf", "isf") else KS if discrete else XS
        for loc, scale in ((0.0, 1.0), (0.4, 2.0), (0.0, -1.0)):
            if discrete and scale != 1.0:
                continue
            parameters = tuple(np.float64(p) for p in SHAPES.get(name, ())) + (
                (np.float64(loc),) if discrete else (np.float64(loc), np.float64(scale)))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                got = adcompiler.jit(call_method)(method, values, parameters)
                want = method(values, *parameters)
            assert got.dtype == np.float64
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300,
                                       err_msg=f"{name}.{m} loc={loc} scale={scale}")
            checked += 1
    assert checked >= 2


X = np.array([0.3, -1.2, 2.0, 0.7])
P = np.array([0.4, 1.7])
INSIDE = np.abs(X) / 3 + 0.05        # in (0, 1): probabilities, and every support's inside


def log_likelihoods(x, p):
    loc, scale = p[0], p[1]
    a = np.abs(x) + 0.1
    total = (stats.norm.logpdf(x, loc, scale) + stats.norm.cdf(x, loc=loc) * scale
             + stats.norm.logsf(x, loc, scale) + stats.expon.logpdf(a, -loc, scale)
             + stats.expon.logcdf(a, scale=scale) + stats.laplace.logpdf(x, loc, scale)
             + stats.laplace.cdf(x, loc, scale) + stats.logistic.logcdf(x, loc, scale)
             + stats.cauchy.logpdf(x, loc, scale) + stats.t.logpdf(x, 2 * scale, loc)
             + stats.gamma.logpdf(a, scale, scale=loc + 1) + stats.chi2.logpdf(a, 2 * scale)
             + stats.beta.logpdf(INSIDE * np.cos(x) ** 2, loc + 1, scale)
             + stats.lognorm.logpdf(a, scale, scale=loc + 1) + stats.halfnorm.cdf(a, scale=scale)
             + stats.uniform.logpdf(0.1 * x, -loc - 1, 3 * scale)
             + stats.norm.ppf(INSIDE, loc, scale) + stats.laplace.ppf(INSIDE, loc, scale)
             + stats.cauchy.isf(INSIDE, loc, scale) + stats.lognorm.ppf(INSIDE, scale))
    k = np.array([0, 1, 3, 2])
    masses = (stats.poisson.logpmf(k, scale * x * x) + stats.bernoulli.logpmf(k % 2, loc)
              + stats.binom.logpmf(k, 4, loc) + stats.geom.pmf(k + 1, loc))
    return np.sum(total) + np.sum(masses)


def frozen_and_multivariate(x, p):
    d = stats.norm(p[0], scale=p[1])
    g = stats.gamma(p[1], scale=2.0)
    a = np.outer(x, p)[:2]
    cov = a @ a.T + np.eye(2)
    return (np.sum(d.logpdf(x)) + np.sum(d.cdf(x)) + np.sum(g.logpdf(np.abs(x) + 0.1))
            + np.sum(stats.multivariate_normal.logpdf(np.stack([x[:2], x[2:]]), p, cov))
            + stats.multivariate_normal.logpdf(x[:2], mean=p, cov=p ** 2)
            + np.sum(stats.multivariate_normal.pdf(x, p[0], p[1])))


@pytest.mark.parametrize("f", [log_likelihoods, frozen_and_multivariate])
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_gradients_in_values_and_parameters(f, backend):
    gx, gp = adcompiler.grad(f, wrt=(0, 1), backend=backend)(X, P)
    np.testing.assert_allclose(gx, central_differences(f, X, P, wrt=0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(gp, central_differences(f, X, P, wrt=1), rtol=1e-6, atol=1e-7)


def test_frozen_and_multivariate_values_are_scipys():
    got = adcompiler.jit(frozen_and_multivariate)(X, P)
    assert np.isclose(got, frozen_and_multivariate(X, P), rtol=1e-12)


def frozen_entropy(p):
    return stats.norm(p[0], 1.0).entropy()


def cdf_without_a_closed_form(p):
    return stats.t.cdf(X, p[0])


def too_many_parameters(p):
    return stats.norm.logpdf(X, p[0], 1.0, 2.0)


def missing_shape(p):
    return stats.t.logpdf(X, loc=p[0])


def misspelled_parameter(p):
    return stats.norm.logpdf(X, p[0], lox=1.0)


def run_time_draws(p):
    return stats.norm.rvs(loc=p[0], size=3)


@pytest.mark.parametrize("f, match", [
    (frozen_entropy, "has no 'entropy' in adcompiler"),
    (cdf_without_a_closed_form, r"scipy.stats.t.cdf of run-time values is not supported by "
                                r"adcompiler \(t has logpdf, pdf\)"),
    (too_many_parameters, r"takes at most 2 parameters after the values \(loc, scale\)"),
    (missing_shape, r"missing its shape parameter\(s\) df"),
    (misspelled_parameter, "unexpected or repeated argument 'lox'"),
    (run_time_draws, "scipy.stats.norm.rvs of run-time values is not supported"),
])
def test_what_is_not_supported_is_a_located_error(f, match):
    located_error(f, (P,), match, FILE)
