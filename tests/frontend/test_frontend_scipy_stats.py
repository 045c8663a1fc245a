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
          "weibull_min": (1.7,),
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
             + stats.cauchy.isf(INSIDE, loc, scale) + stats.lognorm.ppf(INSIDE, scale)
             + stats.weibull_min.logpdf(a, scale + 0.5, scale=loc + 1)
             + stats.weibull_min.logsf(a, scale) + stats.weibull_min.logcdf(a, loc + 1)
             + stats.weibull_min.ppf(INSIDE, scale))
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


STANDARD_NORMAL = stats.norm()         # frozen natively, with static parameters


def black_scholes(s, sigma):
    d1 = (np.log(s / 95.0) + 0.02 + 0.5 * sigma ** 2) / sigma
    d2 = d1 - sigma
    return s * STANDARD_NORMAL.cdf(d1) - 95.0 * np.exp(-0.02) * stats.norm(0.0, 1.0).cdf(d2) \
        + np.sum(stats.poisson(3.0).logpmf(np.array([0, 2])) * s)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_distributions_frozen_with_static_parameters_are_the_closed_forms(backend):
    """Black-Scholes as it is written: delta and vega are the closed forms."""
    value, (delta, vega) = adcompiler.value_and_grad(black_scholes, wrt=(0, 1),
                                                     backend=backend)(100.0, 0.3)
    d1 = (np.log(100.0 / 95.0) + 0.02 + 0.045) / 0.3
    poisson = np.sum(stats.poisson.logpmf([0, 2], 3.0))
    assert np.isclose(value, black_scholes(100.0, 0.3), rtol=1e-13)
    assert np.isclose(delta, stats.norm.cdf(d1) + poisson, rtol=1e-12)
    assert np.isclose(vega, 100.0 * stats.norm.pdf(d1), rtol=1e-12)


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


def static_frozen_cdf_without_a_closed_form(p):
    return stats.t(3).cdf(p)


def frozen_given_parameters_again(p):
    return stats.norm(p[0]).logpdf(X, scale=2.0)


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
    (frozen_given_parameters_again, r"a frozen scipy.stats.norm's logpdf takes the values only"),
    (static_frozen_cdf_without_a_closed_form, r"scipy.stats.t.cdf of run-time values is not "
                                              r"supported by adcompiler \(t has logpdf, pdf\)"),
])
def test_what_is_not_supported_is_a_located_error(f, match):
    located_error(f, (P,), match, FILE)


INVALID = [("bernoulli", "logpmf", (1.5,)), ("binom", "logpmf", (3.5, 0.3)),
           ("binom", "pmf", (4, 1.2)), ("poisson", "pmf", (-1.0,)), ("geom", "logpmf", (0.0,)),
           ("lognorm", "cdf", (-1.0,)), ("gamma", "logpdf", (-1.0,)), ("chi2", "pdf", (0.0,)),
           ("beta", "logpdf", (0.5, -2.0)), ("t", "logpdf", (-3.0,)), ("lognorm", "ppf", (0.0,))]


@pytest.mark.parametrize("name, method, shapes", INVALID)
def test_shape_parameters_scipy_refuses_give_its_nan(name, method, shapes):
    values = np.array([0.0, 1.0, 2.0]) + (0.25 if method == "ppf" else 0.0)
    got = adcompiler.jit(call_method)(getattr(getattr(stats, name), method), values,
                                      tuple(np.float64(s) for s in shapes))
    assert np.isnan(got).all()


def edges_scipy_computes(x):
    return (stats.t.logpdf(x, np.inf), stats.cauchy.logpdf(x * 1e200),
            stats.cauchy.ppf(np.array([0.5, 0.3, 1e-14, 1.0]) + 0 * x[:4]))


def test_an_infinite_df_and_huge_values_are_scipys():
    for got, want in zip(adcompiler.jit(edges_scipy_computes)(XS), edges_scipy_computes(XS),
                         strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def median_of_a_cauchy(q, scale):
    return stats.cauchy.ppf(q, 0.0, scale) + stats.cauchy.isf(q, 1.0, scale)


def probability_of_one_success(p):
    return stats.bernoulli.pmf(1.0, p) + stats.binom.pmf(1, 3, p) + stats.poisson.pmf(1, p)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_derivatives_at_the_median_and_at_probability_zero(backend):
    """The Cauchy quantile's slope at the median is pi scale (a flat branch there gave 0); a
    pmf's derivative where the probability is 0 is finite (exp(logpmf)'s is 0 * inf)."""
    g = adcompiler.grad(median_of_a_cauchy, wrt=0, backend=backend)(0.5, 2.0)
    assert np.isclose(g, 0.0, atol=1e-12)      # (ppf's slope and isf's cancel)
    g = adcompiler.grad(lambda q: stats.cauchy.ppf(q, 0.0, 2.0), backend=backend)(0.5)
    assert np.isclose(g, 2.0 * np.pi, rtol=1e-14)
    g = adcompiler.grad(probability_of_one_success, backend=backend)(0.0)
    assert np.isclose(g, 1.0 + 3.0 + 1.0, rtol=1e-14)


def far_from_the_middle(k):
    return (stats.poisson.pmf(k, 150.0), stats.poisson.pmf(k, 1000.0),
            stats.binom.pmf(k * 10, 2000, 0.5), stats.cauchy.sf(k * 1e196),
            stats.cauchy.cdf(-k * 1e4), stats.norm.pdf(x=k, loc=150.0, scale=20.0))


def test_masses_and_tails_far_from_the_middle_are_scipys():
    """A pmf's factors overflow alone (mu ** k, k!); 1/2 - arctan(z) / pi cancels."""
    k = np.array([0.0, 100.0, 144.0, 150.0, 200.0, 1000.0])
    for got, want in zip(adcompiler.jit(far_from_the_middle)(k), far_from_the_middle(k),
                         strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=0)


FROZEN_MVN = stats.multivariate_normal(np.zeros(2), np.array([[2.0, 0.3], [0.3, 1.0]]))


def frozen_normals(m, x):
    return FROZEN_MVN.logpdf(x) + stats.multivariate_normal(m, np.eye(2) * 2.0).pdf(x)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_frozen_multivariate_normal(backend):
    m, x = np.array([0.5, -0.2]), np.array([[0.3, -1.0], [1.0, 2.0]])
    f = lambda m: np.sum(frozen_normals(m, x))      # noqa: E731
    value, g = adcompiler.value_and_grad(f, backend=backend)(m)
    assert np.isclose(value, f(m), rtol=1e-12)
    np.testing.assert_allclose(g, central_differences(f, m), rtol=1e-6)


def test_student_t_at_large_degrees_of_freedom():
    """gammaln((df + 1) / 2) - gammaln(df / 2) cancelled: 1e-9 off at df = 1e6 (SciPy's
    1e-15), the derivative in df wrong from 1e7 (against the derivative in log df computed
    with mpmath, in 50 digits)."""
    import mpmath as mp
    x = np.array([0.3, -2.0])

    def exact(p):       # the log density's sum at df = exp(p)
        d = mp.e ** p
        return sum(mp.loggamma((d + 1) / 2) - mp.loggamma(d / 2) - mp.log(d * mp.pi) / 2
                   - (d + 1) / 2 * mp.log1p(mp.mpf(v) ** 2 / d) for v in x)
    for df in (30.0, 1e3, 1e6, 1e8, 1e10):
        p = np.float64(np.log(df))
        got, slope = adcompiler.value_and_grad(lambda p: stats.t.logpdf(x, np.exp(p)).sum())(p)
        assert got == pytest.approx(stats.t.logpdf(x, df).sum(), rel=1e-12)
        with mp.workdps(50):
            want = float(mp.diff(exact, mp.mpf(p)))
        assert slope == pytest.approx(want, rel=1e-5 if df > 1e7 else 1e-8)
