"""grad, value_and_grad, jit, custom_vjp and elementwise objects pickle and deep-copy (a
multiprocessing Pool sends them so) without their compiled programs; checked against NumPy's
values and hand-derived gradients."""
import copy
import multiprocessing
import pickle
import sys

import numpy as np
import pytest

import adcompiler


@adcompiler.jit
def jitted(x):
    return np.sum(np.tanh(x) ** 2)


@adcompiler.value_and_grad
def cubed(w):
    return np.sum(w ** 3)


@adcompiler.custom_vjp
def square(x):
    return x * x


square.defvjp(lambda x: (x * x, x), lambda x, g: (2 * x * g,))


@adcompiler.elementwise
def cube(x):
    return x ** 3


def loss(w):
    return np.sum(square(w) + cube(w))


X = np.array([0.5, -1.0, 2.0])
WANT = {"jitted": np.sum(np.tanh(X) ** 2), "cubed": (np.sum(X ** 3), 3 * X ** 2),
        "loss": 2 * X + 3 * X ** 2}


def _same(got, want):
    if isinstance(want, tuple):
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-12)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_function_objects_pickle_and_deep_copy_after_compiling():
    """After a first call they held their compiled programs: pickle raised "Can't pickle
    <function Namer.<lambda>>", deepcopy "cannot pickle 'module' object"; a decorated
    module-level def did not pickle at all ("it's not the same object as ...jitted")."""
    g = adcompiler.grad(loss)
    for obj, want in ((jitted, "jitted"), (cubed, "cubed"), (g, "loss")):
        _same(obj(X), WANT[want])
        for back in (pickle.loads(pickle.dumps(obj)), copy.deepcopy(obj)):
            _same(back(X), WANT[want])
    assert pickle.loads(pickle.dumps(jitted)) is jitted     # by name, as a function
    assert pickle.loads(pickle.dumps(square)) is square
    rebuilt = pickle.loads(pickle.dumps(g))
    assert rebuilt is not g and not rebuilt._cache          # compiles again (or reads the disk)
    np.testing.assert_allclose(adcompiler.grad(loss)(X), WANT["loss"], rtol=1e-12)


@pytest.mark.skipif(sys.platform != "linux", reason="the fork start method is Linux's")
def test_a_pool_maps_a_grad_object():
    g = adcompiler.grad(loss)
    g(X)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        got = pool.map(g, [X, 2 * X])
        vals = pool.map(cubed, [X])
    _same(got[0], WANT["loss"])
    _same(got[1], 2 * (2 * X) + 3 * (2 * X) ** 2)
    _same(vals[0], WANT["cubed"])
