"""Shared checks for the frontend tests: trace a function, run its IR with the NumPy backend and
compare with NumPy running the function itself (values, dtypes, shapes, Python-scalar-ness)."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import adcompiler
from adcompiler.frontend.pytree import flatten
from adcompiler.frontend.signature import is_runtime_leaf
from adcompiler.ir import parse, verify


def same(got, want, path="result", rtol=1e-9, atol=1e-12):
    if isinstance(want, (tuple, list)):
        assert type(got) is type(want), f"{path}: {type(got).__name__} != {type(want).__name__}"
        assert len(got) == len(want), f"{path}: length {len(got)} != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            same(g, w, f"{path}[{i}]", rtol, atol)
        return
    if isinstance(want, dict):
        assert isinstance(got, dict) and list(got) == list(want), f"{path}: keys differ"
        for k in want:
            same(got[k], want[k], f"{path}[{k!r}]", rtol, atol)
        return
    if want is None or isinstance(want, str):
        assert got == want, f"{path}: {got!r} != {want!r}"
        return
    # Python scalars stay Python scalars (weak); NumPy scalars and 0-d arrays are not told apart
    py = (bool, int, float)
    assert (type(got) in py) == (type(want) in py), \
        f"{path}: {type(got).__name__} vs NumPy's {type(want).__name__}"
    g, w = np.asarray(got), np.asarray(want)
    assert g.dtype == w.dtype, f"{path}: dtype {g.dtype} != NumPy's {w.dtype}"
    assert g.shape == w.shape, f"{path}: shape {g.shape} != NumPy's {w.shape}"
    if w.dtype.kind in "biu":
        np.testing.assert_array_equal(g, w, err_msg=path)
    else:
        tol = 1e-5 if w.dtype == np.float32 else 2e-3 if w.dtype == np.float16 else rtol
        np.testing.assert_allclose(g, w, rtol=tol, atol=atol if w.dtype == np.float64 else tol,
                                   err_msg=path)


def roundtrip(fn):
    """The IR verifies, prints, and parses back to the same text."""
    verify(fn)
    text = str(fn)
    back = parse(text)
    verify(back)
    assert str(back) == text
    return text


def check(f, *args, **kwargs):
    """trace + evaluate equals calling `f`: its result, and its arrays arguments afterwards
    (each run gets its own copies of them: `f` may change them in place)."""
    fn = adcompiler.trace(f, *copy.deepcopy(args), **copy.deepcopy(kwargs))
    roundtrip(fn)
    np_args = copy.deepcopy((args, kwargs))
    want = f(*np_args[0], **np_args[1])
    our_args = copy.deepcopy((args, kwargs))
    got = adcompiler.evaluate(fn, *our_args[0], **our_args[1])
    same(got, want)
    ours, theirs = (flatten(a, is_runtime_leaf)[0] for a in (our_args, np_args))
    same(ours, theirs, "arguments after the call")
    return fn


def located_error(f, args, match, file):
    """Tracing `f` raises a TraceError matching `match` at `file` and the line after f's def
    (its one statement); the error, for more checks."""
    with pytest.raises(adcompiler.TraceError, match=match) as e:
        adcompiler.trace(f, *args)
    assert str(e.value).startswith(f"{file}:{f.__code__.co_firstlineno + 1}: ")
    return e.value


def ops(fn) -> list[str]:
    """Names of the ops of a function and its callees, in program order."""
    out = [op.name for op in fn.walk()]
    for callee in fn.callees():
        out += [op.name for op in callee.walk()]
    return out


rng = np.random.default_rng(1234)


def rand(*shape, dtype=np.float64):
    return rng.normal(size=shape).astype(dtype)


WEIGHTS = rand(256)


def weighted(y):
    """A scalar that weighs every entry of y differently (so misplaced entries change it), for
    gradient checks of functions returning arrays."""
    flat = np.ravel(y)
    return np.sum(np.sin(flat) * WEIGHTS[:flat.shape[0]])


def central_differences(f, *args, wrt=0, eps=1e-6):
    """d f / d args[wrt] (a float64 array argument), every entry by central differences of
    Python running f: the reference for gradients."""
    x = np.asarray(args[wrt], np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        at = lambda v: f(*args[:wrt], v, *args[wrt + 1:])     # noqa: E731
        g[i] = (at(up) - at(down)) / (2 * eps)
    return g


def check_gradients(f, *args, backend, atol=1e-7):
    """grad of the scalar f with respect to every argument (float64 arrays) on `backend`
    equals central differences of Python running f."""
    grads = adcompiler.grad(f, wrt=tuple(range(len(args))), backend=backend)(*args)
    for k, g in enumerate(grads):
        np.testing.assert_allclose(g, central_differences(f, *args, wrt=k), atol=atol,
                                   err_msg=f"gradient of argument {k}")
