"""Python's math module on run-time numbers: values, types (Python floats, ints and bools, weak
with float32 arrays) against the same function run by Python and NumPy; gradients against
central finite differences in float64 on both backends; CPython's domain and range errors as
AssertionFailed at the user's line; arrays refused at the call."""
import math

import numpy as np
import pytest

import adcompiler
from fecheck import check, located_error

FILE = "test_frontend_pymath.py"


def smooth(x):
    a, b, c = x[0], x[1], x[2]
    return (math.exp(a) * math.sin(b) + math.cos(a * b) + math.tan(0.3 * c) + math.sqrt(c)
            + math.log(c) + math.log(c, 2.0) + math.log2(c) + math.log10(c) + math.log1p(c)
            + math.expm1(a) + math.atan2(b, a) + math.pow(c, 1.5) + math.hypot(a, b, c)
            + math.hypot(a, b) + math.hypot(b) + math.asin(0.5 * b) + math.acos(0.4 * b)
            + math.atan(a) + math.sinh(a) + math.cosh(b) + math.tanh(c) + math.asinh(a)
            + math.acosh(1.0 + c) + math.atanh(0.5 * b) + math.fabs(b) + math.erf(a)
            + math.erfc(b) + math.gamma(c) + math.lgamma(c) + math.degrees(a)
            + math.radians(b) + math.copysign(a, b) + math.fmod(c, 0.7) + math.exp2(a)
            + math.cbrt(b))


def with_ints_and_tests(x):
    a, b = x[0], x[1]
    n = math.floor(a * 3) + math.ceil(b) + math.trunc(float(-a))   # (np.float32: no __trunc__)
    flags = (math.isnan(a), math.isinf(b), math.isfinite(a))
    return n, flags, math.exp(a) * x, math.sqrt(2.0) * x


def test_values_and_types_against_python():
    x = np.array([0.7, -0.4, 1.3])
    check(smooth, x)
    check(with_ints_and_tests, x)
    # a Python float keeps float32 arrays float32, as with NumPy running the function
    check(with_ints_and_tests, x.astype(np.float32))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_gradients_against_finite_differences(backend):
    adcompiler.check_grad(smooth, np.array([0.7, -0.4, 1.3]), rtol=1e-6, backend=backend)


def sqrt_of(x):
    return math.sqrt(x[0]) * x


def exp_of(x):
    return math.exp(x[0]) * x


def log_of(x):
    return math.log(x[0]) * x


def to_base(x):
    return math.log(x[0], x[1]) * x


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("f, bad, python, error", [
    (sqrt_of, [-1.0, 1.0], ValueError, "math domain error"),
    (exp_of, [1000.0, 1.0], OverflowError, "math range error"),
    (log_of, [0.0, 1.0], ValueError, "math domain error"),
    (to_base, [2.0, 1.0], ZeroDivisionError, "float division by zero")])
def test_python_errors_where_the_program_runs(f, bad, python, error, backend):
    """Where Python's math raises, the program raises AssertionFailed naming the line; NaN
    in gives NaN out without an error, as in Python; valid values run."""
    g = adcompiler.jit(f, backend=backend)
    good = np.array([2.0, 3.0])
    np.testing.assert_allclose(g(good), f(good), rtol=1e-12)
    with pytest.raises(python):
        f(np.array(bad))
    with pytest.raises(adcompiler.AssertionFailed, match=error) as e:
        g(np.array(bad))
    assert f"{FILE}:{f.__code__.co_firstlineno + 1}" in str(e.value)
    assert np.isnan(g(np.array([np.nan, 3.0]))).all()


def exp_of_array(x):
    return math.exp(x)


def test_an_array_is_refused_at_the_call():
    located_error(exp_of_array, (np.ones(3),), r"math.exp\(\) takes a number, not an array of "
                  r"shape \(3,\)", FILE)


def test_degrees_never_raises():
    """CPython's math.degrees multiplies: 1e308 degrees are inf radians, no error."""
    f = lambda x: math.degrees(x[0] * 1e308)      # noqa: E731
    assert adcompiler.jit(f)(np.array([2.0])) == math.inf == math.degrees(2.0 * 1e308)
