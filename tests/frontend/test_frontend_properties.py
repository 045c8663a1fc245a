"""Property tests (hypothesis): broadcasting, NumPy 2 promotion and reductions of traced code
agree with NumPy on random shapes, dtypes and Python scalars."""
import numpy as np
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import adcompiler
from fecheck import same

DTYPES = [np.float64, np.float32, np.int64, np.int32, np.bool_]
OPS = {"add": lambda a, b: a + b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b,
       "sub_or_max": lambda a, b: np.maximum(a, b), "lt": lambda a, b: a < b,
       "where": lambda a, b: np.where(a > b, a, b)}


def _array(data, shape, dtype):
    return data.draw(hnp.arrays(dtype, shape, elements=st.integers(-3, 3).map(
        lambda v: np.asarray(v).astype(dtype).item())))


@settings(max_examples=40, deadline=None)
@given(data=st.data(), shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3,
                                                                   max_side=3),
       da=st.sampled_from(DTYPES), db=st.sampled_from(DTYPES), op=st.sampled_from(sorted(OPS)))
def test_binary_ops_broadcast_and_promote_like_numpy(data, shapes, da, db, op):
    a = _array(data, shapes.input_shapes[0], da)
    b = _array(data, shapes.input_shapes[1], db)
    f = OPS[op]
    with np.errstate(all="ignore"):
        try:
            want = f(a, b)
        except TypeError:                     # NumPy refuses (e.g. bool - bool): so must we
            return
        got = adcompiler.evaluate(adcompiler.trace(f, a, b), a, b)
    same(got, want)


@settings(max_examples=30, deadline=None)
@given(data=st.data(), shape=hnp.array_shapes(max_dims=3, max_side=3),
       dtype=st.sampled_from(DTYPES),
       scalar=st.one_of(st.integers(-2, 2), st.floats(-2, 2, width=16), st.booleans()))
def test_python_scalars_are_weak_like_numpy(data, shape, dtype, scalar):
    a = _array(data, shape, dtype)

    def f(x):
        return x * scalar, x + scalar, scalar - x if dtype is not np.bool_ else x

    with np.errstate(all="ignore"):
        try:
            want = f(a)
        except TypeError:
            return
        got = adcompiler.evaluate(adcompiler.trace(f, a), a)
    same(got, want)


@settings(max_examples=30, deadline=None)
@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=3),
       dtype=st.sampled_from(DTYPES), keepdims=st.booleans(),
       name=st.sampled_from(["sum", "mean", "max", "min", "prod"]))
def test_reductions_like_numpy(data, shape, dtype, keepdims, name):
    a = _array(data, shape, dtype)
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))

    def f(x):
        return getattr(np, name)(x, axis=axis, keepdims=keepdims)
    same(adcompiler.evaluate(adcompiler.trace(f, a), a), f(a))
