"""Constants in the generated source of both backends. Global arrays a function reads (array
constants of the IR): defined once at module level, not as a literal in every function that
makes them (parsed again on every call: a 200x200 global cost 2-6 ms a call), and each use a
fresh array. Scalar constants: written where they are read."""
import re

import numpy as np
import pytest

import adcompiler

rng = np.random.default_rng(7)
C = rng.normal(size=(9, 8))
SMALL = np.array([1.0, -2.0, 3.0])


def reads_globals(w):
    return np.sum(np.tanh(C @ w) ** 2) + np.sum(SMALL * w[:3])


def maybe_the_global(x):
    return C if np.sum(x) > 0 else x


def central_differences(f, w, h=1e-6):
    e = np.eye(w.size) * h
    return np.array([(f(w + e[i]) - f(w - e[i])) / (2 * h) for i in range(w.size)])


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_global_array_is_written_once_and_read_right(backend):
    w = np.linspace(-1.0, 1.0, 8)
    g = adcompiler.grad(reads_globals, backend=backend)
    np.testing.assert_allclose(g(w), central_differences(reads_globals, w), atol=1e-7)
    src = g.adjoint_source(w)
    first = f"{float(C[0, 0])!r}, {float(C[0, 1])!r}"
    assert src.count(first) == 1, "C's literal once, at module level"
    assert "CONSTANT_0 = np.array([[" in src and "= CONSTANT_0.copy()" in src
    assert "np.array([1.0, -2.0, 3.0]" in src       # a small literal stays inline


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_global_array_returned_is_the_callers_own(backend):
    f = adcompiler.jit(maybe_the_global, backend=backend)
    x = np.ones((9, 8))
    first = f(x)
    np.testing.assert_array_equal(first, C)
    first[0, 0] = 99.0
    np.testing.assert_array_equal(f(x), C)
    assert C[0, 0] != 99.0


def two_scales(x):
    h = np.tanh(x * 8.0)
    return np.sum(h * 0.5) / 8.0


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_scalar_constants_are_written_where_they_are_read(backend):
    """A scalar constant was a line of its own (`constant_2 = np.float64(8.0)`), which the
    passes shared between unrelated lines (LayerNorm's d read as the mean's count)."""
    x = np.linspace(-1.0, 1.0, 5)
    g = adcompiler.grad(two_scales, backend=backend)
    np.testing.assert_allclose(g(x), central_differences(two_scales, x), atol=1e-7)
    src = g.adjoint_source(x)
    assert not re.search(r"\bconstant\w* = ", src)
    if backend == "numpy":
        assert "* np.float64(8.0)" in src and "/ np.float64(8.0)" in src


ZEROS, NEGATIVE_ZEROS = np.zeros(20), -np.zeros(20)


def signs_of_zeros(x):
    o = x * 0.0 + 1.0
    return np.copysign(o, ZEROS) + 10.0 * np.copysign(o, NEGATIVE_ZEROS)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_arrays_of_zeros_and_negative_zeros_are_two_constants(backend):
    """They were one module-level constant (their values compare equal): 11 for -9."""
    x = np.linspace(-1.0, 1.0, 20)
    np.testing.assert_array_equal(adcompiler.jit(signs_of_zeros, backend=backend)(x),
                                  signs_of_zeros(x))
