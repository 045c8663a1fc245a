"""np.vectorize of a Python function with a run-time branch on run-time arrays (a loop the
tracer keeps: frontend/vectorize.py), np.apply_along_axis, and np.broadcast_arrays: values and dtypes against
NumPy running the same Python, gradients on both backends against float64 finite
differences, and NumPy's errors at the user's line."""
import math

import numpy as np
import pytest

from fecheck import check, check_gradients, located_error

FILE = "test_frontend_vectorize.py"
X = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
Y = np.array([0.5, 1.5, 2.0, -1.0])


def kinked(t, s):
    if t > 0:       # a branch on each entry: what NumPy's own ufuncs cannot say
        return t * t * s
    return np.sin(t) + s


def vectorized_kink(x, y):
    return np.vectorize(kinked)(x, y)


def vectorized_lambda_to_ints(x, y):
    return np.vectorize(lambda t: int(t > 0))(x)


def vectorized_with_otypes(x, y):
    return np.vectorize(lambda t: t > 0, otypes=[float])(x)


def vectorized_math(x, y):
    """math's functions of each entry, a Python float each (a domain error would be Python's
    ValueError: the branch keeps sqrt's argument at or above 0)."""
    return np.vectorize(lambda t, s: math.exp(-t) * math.sqrt(t) if t > 0
                        else math.atan2(t, s))(x, y)


def broadcast_pair(x, y):
    a, b = np.broadcast_arrays(x[:, :1], y)
    return a * b


def normalised(row):
    return row / np.sum(np.abs(row))


def extremes(row, scale=1.0):
    return np.array([np.max(row), np.min(row) * scale])


def kinked_total(row):
    if row[0] > 0:
        return np.sum(row ** 2)
    return np.sum(row)


def along_axes(x, y):
    cube = np.reshape(np.concatenate([x, x * 0.5]), (2, 3, 4))
    return (np.apply_along_axis(normalised, 1, cube),
            np.apply_along_axis(extremes, -1, cube, scale=2.0),
            np.apply_along_axis(kinked_total, 0, cube),
            np.apply_along_axis(extremes, 0, cube), np.apply_along_axis(np.cumsum, 2, cube))


@pytest.mark.parametrize("f", [vectorized_kink, vectorized_lambda_to_ints,
                               vectorized_with_otypes, vectorized_math, broadcast_pair,
                               along_axes])
def test_values_and_dtypes_are_numpys(f):
    check(f, X, Y)


def vectorized_loss(x, y):
    return np.sum(vectorized_kink(x, y) ** 2) + np.sum(broadcast_pair(x, y) ** 2) + sum(
        np.sum(np.sin(r)) for r in along_axes(x, y)) + np.sum(vectorized_math(x, y))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_gradients_through_each_entrys_branch(backend):
    check_gradients(vectorized_loss, X, Y, backend=backend)


def two_results(x):
    return np.vectorize(lambda t: (t, 2 * t))(x)


def with_a_signature(x):
    return np.vectorize(np.sum, signature="(n)->()")(x)


def of_nothing(x):
    return np.vectorize(np.sin)(x[:0])


def written_to(x):
    np.broadcast_arrays(x, x[:1])[1][0, 0] = 1.0


def math_inside(x):
    return np.vectorize(lambda t: math.ldexp(t, 2))(x)


@pytest.mark.parametrize("f, match", [
    (math_inside, r"math.ldexp is not supported on run-time arrays by adcompiler; np.ldexp "
                  r"is \(in 'math.ldexp\(t, 2\)'\)$"),   # (no call inside adcompiler named)
    (two_results, "returning several values is not supported"),
    (with_a_signature, "signature=, excluded= or keyword arguments is not supported"),
    (of_nothing, "size 0 inputs unless `otypes` is set"),
    (written_to, "np.broadcast_arrays returns views NumPy warns not to write to"),
])
def test_what_is_not_supported_is_a_located_error(f, match):
    located_error(f, (X,), match, FILE)
