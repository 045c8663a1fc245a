"""Property tests of every op's shape/dtype rule against NumPy's own results.

For each op in the registry that has a NumPy lowering and no regions (control flow, calls and
tapes are skipped by `kind`), hypothesis draws operand types and attributes (random shapes of
rank 0..4 with size-0 and size-1 axes, broadcasting and non-broadcasting combinations, every
dtype, valid and invalid attributes) and checks:

(a) when NumPy accepts the inputs, the rule's inferred type equals the shape and dtype of
    - the op's direct NumPy equivalent, written independently of the lowering in `CASES`, and
    - the result of evaluating a one-op IR function (the lowering) with `adcompiler.evaluate`,
    and the two agree in value;
(b) when NumPy raises, the rule raises ValueError (and never another exception).

The IR is deliberately narrower than NumPy in a few documented ways (operands of one dtype,
normalised slices, exact value shapes for updates...): a case's `narrower` predicate names
them; outside them, a rule that rejects what NumPy accepts fails the test.

An op added to the registry without an entry in `CASES` fails `test_shape_rule_matches_numpy`.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.lib.array_utils import normalize_axis_index
from scipy import special

import adcompiler
from adcompiler.ir import Block, Builder, Function, TensorType, parse, registry, verify
from adcompiler.ir.types import DTYPES, FROM_NUMPY

SKIP_KINDS = {
    "control": "regions; covered by test_printer_parser and test_verify",
    "call": "needs a module; covered by test_printer_parser and test_verify",
    "tape": "tape values are Python lists whose length is known only at run time",
    "check": "assert and print have no NumPy counterpart; tests/backends/test_numba_ops.py and "
             "tests/ad/test_control_flow.py run them",
}
FLOATS = ("f64", "f32", "f16")
INTS = ("i64", "i32")
ALL = FLOATS + INTS + ("bool",)
# what NumPy raises for inputs it rejects (AxisError is a ValueError and an IndexError)
NUMPY_ERRORS = (ValueError, TypeError, IndexError, ZeroDivisionError)

SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)
SMALL_SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)


def T(dtype, shape):
    return TensorType(dtype, shape)


def shapes_of(k):
    """k shapes that broadcast together, or k independent shapes (which mostly do not)."""
    return st.one_of(
        hnp.mutually_broadcastable_shapes(num_shapes=k, min_dims=0, max_dims=4, min_side=0,
                                          max_side=4).map(lambda s: s.input_shapes),
        st.tuples(*[SHAPES] * k))


def dtypes_of(draw, k, allowed=ALL):
    """k dtypes: usually all equal (drawn from `allowed`), sometimes mixed."""
    d = draw(st.sampled_from(allowed))
    if draw(st.integers(0, 3)) == 0:
        return [draw(st.sampled_from(ALL)) for _ in range(k)]
    return [d] * k


def mixed(types) -> bool:
    return len({t.dtype for t in types}) > 1


def never(types, attrs) -> bool:
    return False


# ---------------------------------------------------------------- operand generators
# each returns (operand types, attributes)

def gen_unary(allowed=ALL):
    def gen(draw):
        return [T(draw(st.sampled_from(allowed if draw(st.booleans()) else ALL)),
                  draw(SHAPES))], {}
    return gen


def gen_elementwise(k, allowed=ALL):
    def gen(draw):
        shapes = draw(shapes_of(k))
        return [T(d, s) for d, s in zip(dtypes_of(draw, k, allowed), shapes, strict=True)], {}
    return gen


def gen_where(draw):
    shapes = draw(shapes_of(3))
    c = "bool" if draw(st.integers(0, 4)) else draw(st.sampled_from(ALL))
    a, b = dtypes_of(draw, 2)
    return [T(d, s) for d, s in zip((c, a, b), shapes, strict=True)], {}


def gen_astype(draw):
    return [T(draw(st.sampled_from(ALL)), draw(SHAPES))], {"dtype": draw(st.sampled_from(ALL))}


def axis_of(draw, rank):
    return draw(st.integers(-rank - 1, rank))


def gen_reduce(draw):
    t = T(draw(st.sampled_from(ALL)), draw(SHAPES))
    axes = draw(st.lists(st.integers(-t.rank - 1, t.rank), max_size=t.rank + 1))
    return [t], {"axes": tuple(axes), "keepdims": draw(st.booleans())}


def gen_arg_reduce(draw):
    t = T(draw(st.sampled_from(ALL)), draw(SHAPES))
    return [t], {"axis": axis_of(draw, t.rank), "keepdims": draw(st.booleans())}


def gen_cumsum(draw):
    t = T(draw(st.sampled_from(ALL)), draw(SHAPES))
    return [t], {"axis": axis_of(draw, t.rank)}


def gen_reshape(draw):
    t = T(draw(st.sampled_from(ALL)), draw(SHAPES))
    if draw(st.booleans()):
        return [t], {"shape": draw(SHAPES)}
    dims = list(t.shape)                    # same size: merge neighbours, add 1s, permute
    for _ in range(draw(st.integers(0, 2))):
        if len(dims) >= 2:
            i = draw(st.integers(0, len(dims) - 2))
            dims[i:i + 2] = [dims[i] * dims[i + 1]]
    dims += [1] * draw(st.integers(0, 2))
    return [t], {"shape": tuple(draw(st.permutations(dims)))}


def gen_transpose(draw):
    t = T(draw(st.sampled_from(ALL)), draw(SHAPES))
    perm = draw(st.one_of(st.permutations(range(t.rank)),
                          st.lists(st.integers(-t.rank - 1, t.rank), max_size=t.rank + 1)))
    return [t], {"perm": tuple(perm)}


def gen_broadcast_to(draw):
    src, dst = draw(st.one_of(
        hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=0,
                                          max_side=4).map(lambda s: (s.input_shapes[0],
                                                                     s.result_shape)),
        st.tuples(SHAPES, SHAPES)))
    return [T(draw(st.sampled_from(ALL)), src)], {"shape": dst}


def gen_concatenate(draw):
    k = draw(st.integers(1, 3))
    base = draw(SMALL_SHAPES)
    axis = axis_of(draw, len(base))
    shapes = []
    for _ in range(k):
        if draw(st.integers(0, 4)) == 0:
            shapes.append(draw(SMALL_SHAPES))
        else:
            s = list(base)
            if -len(s) <= axis < len(s):
                s[axis] = draw(st.integers(0, 3))
            shapes.append(tuple(s))
    return [T(d, s) for d, s in zip(dtypes_of(draw, k), shapes, strict=True)], {"axis": axis}


def draw_slice_attrs(draw, shape):
    """Normalised (start, stop, step) per axis as `slice.indices` gives them; sometimes raw,
    zero-step or wrong-length triples."""
    how = draw(st.integers(0, 9))
    if how == 0:    # raw ints: usually not normalised
        n = len(shape) + draw(st.integers(0, 1))
        ints = st.integers(-6, 6)
        return {"starts": tuple(draw(ints) for _ in range(n)),
                "stops": tuple(draw(ints) for _ in range(n)),
                "steps": tuple(draw(ints) for _ in range(n))}
    triples = []
    for n in shape:
        bound = st.one_of(st.none(), st.integers(-n - 2, n + 2))
        step = draw(st.one_of(st.none(), st.integers(-3, 3).filter(bool)))
        triples.append(slice(draw(bound), draw(bound), step).indices(n))
    if how == 1 and triples:
        triples.pop()
    starts, stops, steps = (tuple(x) for x in zip(*triples, strict=True)) if triples else ((),) * 3
    return {"starts": starts, "stops": stops, "steps": steps}


def gen_slice(draw):
    t = T(draw(st.sampled_from(ALL)), draw(hnp.array_shapes(min_dims=0, max_dims=3,
                                                             min_side=0, max_side=5)))
    return [t], draw_slice_attrs(draw, t.shape)


def np_slice_shape(shape, attrs):
    """The shape NumPy gives `x[start:stop:step, ...]`, from np.arange (not the op's rule)."""
    return tuple(len(np.arange(a, b, c)) for a, b, c in
                 zip(attrs["starts"], attrs["stops"], attrs["steps"], strict=True))


def gen_update_slice(draw):
    [t], attrs = gen_slice(draw)
    try:
        vshape = np_slice_shape(t.shape, attrs)
    except (ValueError, ZeroDivisionError):
        vshape = ()
    if draw(st.integers(0, 3)) == 0:
        vshape = draw(SMALL_SHAPES)
    vdtype = t.dtype if draw(st.integers(0, 4)) else draw(st.sampled_from(ALL))
    return [t, T(vdtype, vshape)], attrs


def _index_dtype(draw):
    return draw(st.sampled_from(INTS)) if draw(st.integers(0, 5)) else draw(st.sampled_from(ALL))


def gen_take(draw):
    x = T(draw(st.sampled_from(ALL)), draw(SMALL_SHAPES))
    idx = T(_index_dtype(draw), draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=0,
                                                      max_side=3)))
    return [x, idx], {"axis": axis_of(draw, x.rank)}


def gathered(x, idx, axis):
    ax = normalize_axis_index(axis, len(x))
    return x[:ax] + idx + x[ax + 1:]


def gen_scatter(draw):
    [x, idx], attrs = gen_take(draw)
    try:
        vshape = gathered(x.shape, idx.shape, attrs["axis"])
    except ValueError:
        vshape = ()
    if draw(st.integers(0, 3)) == 0:
        vshape = draw(SMALL_SHAPES)
    vdtype = x.dtype if draw(st.integers(0, 4)) else draw(st.sampled_from(ALL))
    return [x, idx, T(vdtype, vshape)], attrs


def gen_matmul(draw):
    shapes = draw(st.one_of(
        hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, min_dims=0, max_dims=2,
                                          min_side=0, max_side=4).map(lambda s: s.input_shapes),
        st.tuples(SHAPES, SHAPES)))
    return [T(d, s) for d, s in zip(dtypes_of(draw, 2), shapes, strict=True)], {}


def gen_square(draw):
    """A stack of square matrices (sometimes any shape), float32/float64 (sometimes any)."""
    dtype = draw(st.sampled_from(("f64", "f32") if draw(st.booleans()) else ALL))
    shape = draw(st.one_of(
        st.tuples(hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3),
                  st.integers(0, 4)).map(lambda bn: bn[0] + (bn[1], bn[1])),
        SHAPES))
    return [T(dtype, shape)], {}


def gen_eigh(draw):
    """gen_square's matrices, reading the triangle "L" or "U" (sometimes neither)."""
    types, _ = gen_square(draw)
    return types, {"uplo": draw(st.sampled_from(("L", "U", "L", "U", "X")))}


def gen_matrices(draw):
    """A stack of m x n matrices (sometimes any shape), float32/float64 (sometimes any)."""
    dtype = draw(st.sampled_from(("f64", "f32") if draw(st.booleans()) else ALL))
    shape = draw(st.one_of(hnp.array_shapes(min_dims=2, max_dims=4, min_side=0, max_side=4),
                           SHAPES))
    return [T(dtype, shape)], {}


def gen_solve(draw):
    shapes = draw(st.one_of(
        hnp.mutually_broadcastable_shapes(signature="(m,m),(m,n)->(m,n)", max_dims=2,
                                          min_side=0, max_side=4).map(lambda s: s.input_shapes),
        st.tuples(SHAPES, SHAPES)))
    return [T(d, s) for d, s in zip(dtypes_of(draw, 2, ("f64", "f32")), shapes,
                                    strict=True)], {}


def gen_correlate(draw):
    same_rank = st.integers(1, 3).flatmap(
        lambda r: st.tuples(*[st.tuples(*[st.integers(0, 5)] * r)] * 2))
    shapes = draw(st.one_of(same_rank, st.tuples(SHAPES, SHAPES)))
    return [T(d, s) for d, s in zip(dtypes_of(draw, 2), shapes, strict=True)], {}


ELEMENTS = {"f": st.floats(), "i": st.integers(-100, 100), "b": st.booleans()}


def gen_constant(draw):
    dtype = draw(st.sampled_from(ALL))
    elem = ELEMENTS[dtype[0]]
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3))

    def build(shape):
        return tuple(build(shape[1:]) for _ in range(shape[0])) if shape else draw(elem)

    value = build(shape)
    if len(shape) >= 2 and shape[0] >= 2 and draw(st.integers(0, 3)) == 0:   # ragged
        first = value[0]
        first = first[:-1] if first and draw(st.booleans()) else (first + (draw(elem),)
                                                                  if draw(st.booleans())
                                                                  else draw(elem))
        value = (first,) + value[1:]
    return [], {"value": value, "dtype": dtype}


def gen_iota(draw):
    shape = draw(SMALL_SHAPES)
    return [], {"shape": shape, "axis": axis_of(draw, len(shape)),
                "dtype": draw(st.sampled_from(ALL))}


# ---------------------------------------------------------------- direct NumPy calls

def ufunc(f):
    return lambda xs, a: f(*xs)


def reduce_with(f):
    return lambda xs, a: f.reduce(xs[0], axis=a["axes"], keepdims=a["keepdims"])


def np_slice(xs, a):
    ranges = [np.arange(s, e, k) for s, e, k in
              zip(a["starts"], a["stops"], a["steps"], strict=True)]
    return xs[0][np.ix_(*ranges)]


def np_update_slice(xs, a):
    out = xs[0].copy()
    ranges = [np.arange(s, e, k) for s, e, k in
              zip(a["starts"], a["stops"], a["steps"], strict=True)]
    out[np.ix_(*ranges)] = xs[1]
    return out


def _along(x, axis, idx):
    return (slice(None),) * normalize_axis_index(axis, x.ndim) + (idx,)


def np_scatter_add(xs, a):
    x, idx, v = xs
    out = x.copy()
    where = _along(x, a["axis"], idx)
    # NumPy 2.4's add.at crashes (segfault) on an empty `out` when `v` does not broadcast to
    # out[where]; the check it skips raises here instead
    np.broadcast_to(v, out[where].shape)
    np.add.at(out, where, v)
    return out


def np_put(xs, a):
    x, idx, v = xs
    out = x.copy()
    out[_along(x, a["axis"], idx)] = v
    return out


# --- the IR's documented restrictions relative to NumPy

def float_only(ts, a):
    return mixed(ts) or ts[0].dtype not in FLOATS


def single_double_only(ts, a):     # (NumPy's LAPACK calls convert integers to float64)
    return mixed(ts) or ts[0].dtype not in ("f64", "f32")


def numeric_only(ts, a):    # NumPy gives bool ** bool, bool // bool, bool % bool as int8
    return mixed(ts) or ts[0].dtype == "bool"


def bool_only(ts, a):
    return mixed(ts) or ts[0].dtype != "bool"


def mixed_dtypes(ts, a):
    return mixed(ts)


def scalar_axis(ts, a):     # NumPy lets 0-d arrays take axis 0 / -1
    return ts[0].rank == 0


def slice_not_normalised(ts, a):
    shape = ts[0].shape
    if not len(a["starts"]) == len(a["stops"]) == len(a["steps"]) == len(shape):
        return True
    return any(not ((0 <= s <= n and 0 <= e <= n) if k > 0 else (-1 <= s < n and -1 <= e < n))
               for n, s, e, k in zip(shape, a["starts"], a["stops"], a["steps"], strict=True))


def update_not_exact(ts, a):
    return (slice_not_normalised(ts, a) or ts[1].dtype != ts[0].dtype
            or ts[1].shape != np_slice_shape(ts[0].shape, a))


def scatter_not_exact(ts, a):
    x, idx, v = ts
    return (v.dtype != x.dtype or idx.dtype not in INTS
            or v.shape != gathered(x.shape, idx.shape, a["axis"]))


def solve_narrower(ts, a):  # NumPy's solve also takes a vector b (the frontend reshapes it)
    return single_double_only(ts, a) or ts[1].rank < 2


def np_correlate(xs, a):
    """The valid correlation: NumPy's of vectors, SciPy's of arrays."""
    if max(x.ndim for x in xs) <= 1:
        return np.correlate(*xs)
    from scipy import signal
    return signal.correlate(*xs, mode="valid")


def correlate_narrower(ts, a):  # NumPy's and SciPy's also take bools, 0-d and empty arrays, a
    return (mixed(ts) or ts[0].dtype == "bool" or any(t.rank == 0 for t in ts)  # smaller first
            or 0 in ts[0].shape + ts[1].shape                # one (the frontend casts and pads)
            or any(n < m for n, m in zip(ts[0].shape, ts[1].shape)))


def well_conditioned(arrays):
    """n on the diagonal of a float stack of n x n matrices: far from singular, and its
    lower triangle (all cholesky reads) that of a positive definite matrix."""
    a = arrays[0]
    if a.dtype.kind == "f" and a.ndim >= 2 and a.shape[-1] == a.shape[-2]:
        arrays[0] = a + a.shape[-1] * np.eye(a.shape[-1], dtype=a.dtype)
    return arrays


def take_narrower(ts, a):
    """np.take also takes from 0-d arrays, with boolean indices, and from an axis of size 0
    when the result is empty; the IR's gather (like `x[:, idx]`) does not."""
    x, idx = ts
    return (x.rank == 0 or idx.dtype not in INTS
            or (idx.size > 0 and x.shape[normalize_axis_index(a["axis"], x.rank)] == 0))


@dataclass
class Case:
    gen: Callable                      # draw -> (operand types, attrs)
    numpy: Callable                    # (arrays, attrs) -> array: the direct NumPy call
    narrower: Callable = never         # (types, attrs) -> True where the IR rejects on purpose
    domain: Callable = None            # arrays -> arrays within the op's domain


def U(f, allowed=FLOATS, narrower=float_only):
    return Case(gen_unary(allowed), ufunc(f), narrower)


def B(f, allowed=ALL, narrower=mixed_dtypes):
    return Case(gen_elementwise(2, allowed), ufunc(f), narrower)


CASES = {
    "neg": U(np.negative, ALL, numeric_only),
    "exp": U(np.exp), "log": U(np.log), "log1p": U(np.log1p), "expm1": U(np.expm1),
    "sqrt": U(np.sqrt), "tanh": U(np.tanh), "sin": U(np.sin), "cos": U(np.cos),
    "tan": U(np.tan), "arcsin": U(np.arcsin), "arccos": U(np.arccos), "arctan": U(np.arctan),
    "sinh": U(np.sinh), "cosh": U(np.cosh), "floor": U(np.floor),
    "arcsinh": U(np.arcsinh), "arccosh": U(np.arccosh), "arctanh": U(np.arctanh),
    "ceil": U(np.ceil), "trunc": U(np.trunc), "rint": U(np.rint),
    "isnan": U(np.isnan), "isinf": U(np.isinf), "isfinite": U(np.isfinite),
    "log2": U(np.log2), "log10": U(np.log10), "exp2": U(np.exp2), "cbrt": U(np.cbrt),
    # SciPy computes float16 in float32 (the frontend casts): the ops take float32 and float64
    "erf": U(special.erf, narrower=single_double_only),
    "erfc": U(special.erfc, narrower=single_double_only),
    "gammaln": U(special.gammaln, narrower=single_double_only),
    "gamma": U(special.gamma, narrower=single_double_only),
    "ndtri": U(special.ndtri, narrower=single_double_only),
    "erfinv": U(special.erfinv, narrower=single_double_only),
    "expit": U(special.expit, narrower=single_double_only),
    "abs": U(np.absolute, ALL, never),
    "sign": U(np.sign, ALL, numeric_only),
    "logical_not": U(np.logical_not, ("bool",), bool_only),
    "stop_gradient": U(np.copy, ALL, never),
    "add": B(np.add), "sub": B(np.subtract, narrower=numeric_only), "mul": B(np.multiply),
    "div": B(np.true_divide, FLOATS, float_only), "pow": B(np.power, narrower=numeric_only),
    "maximum": B(np.maximum), "minimum": B(np.minimum),
    "arctan2": B(np.arctan2, FLOATS, float_only), "hypot": B(np.hypot, FLOATS, float_only),
    "logaddexp": B(np.logaddexp, FLOATS, float_only),
    "fmod": B(np.fmod, FLOATS, float_only), "copysign": B(np.copysign, FLOATS, float_only),
    "floordiv": B(np.floor_divide, narrower=numeric_only),
    "mod": B(np.remainder, narrower=numeric_only),
    "lt": B(np.less), "le": B(np.less_equal), "gt": B(np.greater),
    "ge": B(np.greater_equal), "eq": B(np.equal), "ne": B(np.not_equal),
    "logical_and": B(np.logical_and, ("bool",), bool_only),
    "logical_or": B(np.logical_or, ("bool",), bool_only),
    "where": Case(gen_where, ufunc(np.where),
                  lambda ts, a: ts[0].dtype != "bool" or mixed(ts[1:])),
    "astype": Case(gen_astype, lambda xs, a: np.array(xs[0], dtype=DTYPES[a["dtype"]])),
    "sum": Case(gen_reduce, reduce_with(np.add), scalar_axis),
    "prod": Case(gen_reduce, reduce_with(np.multiply), scalar_axis),
    "max": Case(gen_reduce, reduce_with(np.maximum), scalar_axis),
    "min": Case(gen_reduce, reduce_with(np.minimum), scalar_axis),
    "argmax": Case(gen_arg_reduce, lambda xs, a: np.argmax(xs[0], axis=a["axis"],
                                                           keepdims=a["keepdims"]), scalar_axis),
    "argmin": Case(gen_arg_reduce, lambda xs, a: np.argmin(xs[0], axis=a["axis"],
                                                           keepdims=a["keepdims"]), scalar_axis),
    "cumsum": Case(gen_cumsum, lambda xs, a: np.cumsum(xs[0], axis=a["axis"]), scalar_axis),
    "argsort": Case(gen_cumsum, lambda xs, a: np.argsort(xs[0], axis=a["axis"], kind="stable"),
                    scalar_axis),
    "reshape": Case(gen_reshape, lambda xs, a: xs[0].reshape(a["shape"])),
    "transpose": Case(gen_transpose, lambda xs, a: xs[0].transpose(a["perm"]),
                      lambda ts, a: any(p < 0 for p in a["perm"])),
    "broadcast_to": Case(gen_broadcast_to, lambda xs, a: np.broadcast_to(xs[0], a["shape"])),
    "concatenate": Case(gen_concatenate, lambda xs, a: np.concatenate(xs, axis=a["axis"]),
                        mixed_dtypes),
    "slice": Case(gen_slice, np_slice, slice_not_normalised),
    "update_slice": Case(gen_update_slice, np_update_slice, update_not_exact),
    "take": Case(gen_take, lambda xs, a: np.take(xs[0], xs[1], axis=a["axis"]),
                 take_narrower),
    "scatter_add": Case(gen_scatter, np_scatter_add, scatter_not_exact),
    "put": Case(gen_scatter, np_put, scatter_not_exact),
    "matmul": Case(gen_matmul, ufunc(np.matmul),
                   lambda ts, a: mixed(ts) or min(t.rank for t in ts) < 2),
    "correlate": Case(gen_correlate, np_correlate, correlate_narrower),
    "inv": Case(gen_square, lambda xs, a: np.linalg.inv(xs[0]), single_double_only,
                well_conditioned),
    "solve": Case(gen_solve, lambda xs, a: np.linalg.solve(*xs), solve_narrower,
                  well_conditioned),
    "det": Case(gen_square, lambda xs, a: np.linalg.det(xs[0]), single_double_only,
                well_conditioned),
    "cofactor": Case(gen_square, lambda xs, a: np.linalg.det(xs[0])[..., None, None]
                     * np.swapaxes(np.linalg.inv(xs[0]), -1, -2), single_double_only,
                     well_conditioned),
    "logabsdet": Case(gen_square, lambda xs, a: np.linalg.slogdet(xs[0])[1], single_double_only,
                      well_conditioned),
    "detsign": Case(gen_square, lambda xs, a: np.linalg.slogdet(xs[0])[0], single_double_only,
                    well_conditioned),
    "cholesky": Case(gen_square, lambda xs, a: np.linalg.cholesky(xs[0]), single_double_only,
                     well_conditioned),
    "eigh_values": Case(gen_eigh, lambda xs, a: np.linalg.eigvalsh(xs[0], UPLO=a["uplo"]),
                        single_double_only, well_conditioned),
    "eigh_vectors": Case(gen_eigh, lambda xs, a: np.linalg.eigh(xs[0], UPLO=a["uplo"])[1],
                         single_double_only, well_conditioned),
    "svd_values": Case(gen_matrices, lambda xs, a: np.linalg.svd(xs[0], compute_uv=False),
                       single_double_only),
    "svd_u": Case(gen_matrices, lambda xs, a: np.linalg.svd(xs[0], full_matrices=False).U,
                  single_double_only),
    "svd_vt": Case(gen_matrices, lambda xs, a: np.linalg.svd(xs[0], full_matrices=False).Vh,
                   single_double_only),
    "qr_q": Case(gen_matrices, lambda xs, a: np.linalg.qr(xs[0])[0], single_double_only),
    "qr_r": Case(gen_matrices, lambda xs, a: np.linalg.qr(xs[0])[1], single_double_only),
    "constant": Case(gen_constant, lambda xs, a: np.array(a["value"], dtype=DTYPES[a["dtype"]])),
    "iota": Case(gen_iota, lambda xs, a: np.indices(a["shape"], dtype=DTYPES[a["dtype"]])[
        a["axis"]], lambda ts, a: a["dtype"] == "bool"),
}


# ---------------------------------------------------------------- the check

def make_arrays(types, attrs, rng):
    arrays = []
    for t in types:
        dtype = DTYPES[t.dtype]
        if t.dtype == "bool":
            value = rng.random(t.shape) < 0.5
        elif t.dtype in INTS:
            value = rng.integers(1, 4, t.shape)
        else:
            value = rng.uniform(0.1, 0.9, t.shape)
        arrays.append(np.asarray(value, dtype=dtype))     # 0-d arrays, not NumPy scalars
    if "axis" in attrs and len(types) >= 2 and types[1].dtype in INTS:   # indices in range
        x = types[0]
        try:
            n = x.shape[normalize_axis_index(attrs["axis"], x.rank)]
        except ValueError:
            n = 1
        if n:
            arrays[1] = np.asarray(rng.integers(0, n, types[1].shape), DTYPES[types[1].dtype])
    return arrays


def one_op_function(name, types, attrs):
    block = Block(types, hints=[f"x{i}" for i in range(len(types))])
    b = Builder(block, loc=("model.py", 1))
    b.op("return", b.op(name, *block.args, hint="out", **attrs))
    return Function(f"op_{name}", block)


def ir_type_of(array, what):
    array = np.asarray(array)
    assert array.dtype.name in FROM_NUMPY, \
        f"{what} has dtype {array.dtype}, which the IR cannot represent"
    return TensorType(FROM_NUMPY[array.dtype.name], array.shape)


def check_op(name, case, types, attrs, seed):
    arrays = make_arrays(types, attrs, np.random.default_rng(seed))
    if case.domain:
        arrays = case.domain(arrays)
    what = f"{name}({', '.join(map(str, types))}) {attrs}"
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            expected, numpy_error = case.numpy(arrays, attrs), None
        except NUMPY_ERRORS as e:
            expected, numpy_error = None, e
    try:
        (inferred,) = registry.get(name).infer(types, attrs)
        rule_error = None
    except ValueError as e:
        rule_error = e
    if numpy_error is not None:
        assert rule_error is not None, \
            f"{what}: NumPy raises {numpy_error!r} but the shape rule infers {inferred}"
        return
    if rule_error is not None:
        assert case.narrower(types, attrs), \
            f"{what}: NumPy accepts it (giving {np.asarray(expected).dtype}" \
            f"{np.asarray(expected).shape}) but the shape rule raises: {rule_error}"
        return
    assert inferred == ir_type_of(expected, f"NumPy's result of {what}"), \
        f"{what}: the rule infers {inferred}, NumPy gives {ir_type_of(expected, what)}"

    fn = one_op_function(name, types, attrs)
    verify(fn)
    text = str(fn)
    assert str(parse(text)) == text
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        got = adcompiler.evaluate(fn, *arrays)
    assert ir_type_of(got, f"the lowering of {what}") == inferred, \
        f"{what}: the lowering gives {np.asarray(got).dtype}{np.asarray(got).shape}, " \
        f"the rule {inferred}"
    got, expected = np.asarray(got), np.asarray(expected)
    if name == "matmul" and expected.dtype.kind == "f":
        # matmul's lowering flattens x's rows into one BLAS product, whose blocking rounds the
        # last bit differently from NumPy's stacked product for a quarter of small float
        # shapes (the operands are positive: no cancellation)
        np.testing.assert_allclose(got, expected, rtol=8 * np.finfo(expected.dtype).eps,
                                   atol=0, err_msg=what)
    elif name == "sum" and expected.dtype in (np.float16, np.float32):
        # float16/float32 sums over an axis other than the last accumulate in float64 (ops/
        # reduce.py), where NumPy adds in the narrow dtype: the last bit may differ
        np.testing.assert_allclose(got, expected, rtol=4 * np.finfo(expected.dtype).eps,
                                   atol=4 * np.finfo(expected.dtype).tiny, err_msg=what)
    else:
        np.testing.assert_array_equal(got, expected, err_msg=what)


def _tested_ops():
    return sorted(name for name, d in registry.all_ops().items()
                  if d.n_regions == 0 and "numpy" in d.lower and d.kind not in SKIP_KINDS)


@pytest.mark.parametrize("name", _tested_ops())
def test_shape_rule_matches_numpy(name):
    if name not in CASES:
        pytest.fail(f"op {name!r} has no entry in CASES in tests/ir/test_shapes.py: add its "
                    f"direct NumPy call and an operand generator")
    case = CASES[name]

    @SETTINGS
    @given(st.data(), st.integers(0, 2**32 - 1))
    def run(data, seed):
        types, attrs = data.draw(st.composite(lambda draw: case.gen(draw))(), label="op")
        check_op(name, case, types, attrs, seed)

    run()


def test_cases_table_has_no_stale_entries():
    ops = registry.all_ops()
    assert sorted(set(CASES) - set(ops)) == []
    assert all(ops[n].kind not in SKIP_KINDS for n in CASES)
