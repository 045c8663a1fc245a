"""TensorType: printing and parsing its text form, its properties, and `broadcast_shapes`
checked against NumPy's own `np.broadcast_shapes` on random shapes."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from adcompiler.ir import DTYPES, TensorType
from adcompiler.ir.types import DYNAMIC, broadcast_shapes

SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)


@pytest.mark.parametrize("t, text", [
    (TensorType("f64"), "f64[]"),
    (TensorType("f32", (3,)), "f32[3]"),
    (TensorType("i32", (2, 0, 4)), "i32[2,0,4]"),
    (TensorType("bool", (1, 1)), "bool[1,1]"),
    (TensorType("f64", (DYNAMIC, 8)), "f64[?,8]"),
])
def test_str(t, text):
    assert str(t) == text
    assert TensorType.parse(text) == t


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(sorted(DTYPES)), SHAPES)
def test_str_parse_round_trip(dtype, shape):
    t = TensorType(dtype, shape)
    assert TensorType.parse(str(t)) == t
    assert str(TensorType.parse(str(t))) == str(t)


def test_parse_tolerates_spaces():
    assert TensorType.parse(" f64[2, 3] ") == TensorType("f64", (2, 3))


@pytest.mark.parametrize("text", ["f99[2]", "f64[2,", "f64[a]", "f64[-1]", "f64[2]]", "f64[2,,3]",
                                  "", "[2]", "f64"])
def test_parse_rejects_malformed(text):
    with pytest.raises(ValueError):
        TensorType.parse(text)


def test_constructor_checks():
    with pytest.raises(ValueError, match="unknown dtype"):
        TensorType("float64", (2,))
    with pytest.raises(ValueError):
        TensorType("f64", (2, -2))           # -1 is DYNAMIC (a tape's length); others are errors
    t = TensorType("f32", [np.int64(2), 3])      # NumPy ints and lists are normalised
    assert t.shape == (2, 3) and all(type(s) is int for s in t.shape)
    assert hash(t) == hash(TensorType("f32", (2, 3)))


def test_properties():
    t = TensorType("f16", (2, 3, 4))
    assert (t.rank, t.size, t.is_float) == (3, 24, True)
    assert TensorType("i64").rank == 0 and TensorType("i64").size == 1
    assert TensorType("bool", (0, 5)).size == 0
    assert not TensorType("i32", (2,)).is_float
    assert t.with_shape((4,)) == TensorType("f16", (4,))
    assert t.with_dtype("bool") == TensorType("bool", (2, 3, 4))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4).flatmap(lambda k: hnp.mutually_broadcastable_shapes(
    num_shapes=k, min_dims=0, max_dims=4, min_side=0, max_side=4)))
def test_broadcast_shapes_matches_numpy(shapes):
    assert broadcast_shapes(*shapes.input_shapes) == np.broadcast_shapes(*shapes.input_shapes)
    assert broadcast_shapes(*shapes.input_shapes) == shapes.result_shape


@settings(max_examples=80, deadline=None)
@given(st.lists(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=3),
                min_size=0, max_size=4))
def test_broadcast_shapes_agrees_with_numpy_on_errors(shapes):
    try:
        expected = np.broadcast_shapes(*shapes)
    except ValueError:
        with pytest.raises(ValueError):
            broadcast_shapes(*shapes)
        return
    assert broadcast_shapes(*shapes) == expected
