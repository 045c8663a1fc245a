"""Reductions over a static set of axes. `mean`, `var`, `std`, softmax and logsumexp are
compositions built by the frontend, not primitives."""
from ..ir.types import TensorType
from .family import check, declare, norm_axis


def reduced_shape(shape, axes, keepdims):
    axes = {norm_axis(a, len(shape)) for a in axes}
    if keepdims:
        return tuple(1 if i in axes else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in axes)


def _rule(dtype_of):
    def infer(types, attrs):
        (t,) = types
        axes = attrs["axes"]
        check(len(set(norm_axis(a, t.rank) for a in axes)) == len(axes), f"repeated axis in {axes}")
        if t.rank == 0:
            check(axes == (), "a scalar has no axes to reduce")
        return [TensorType(dtype_of(t.dtype), reduced_shape(t.shape, axes, attrs["keepdims"]))]
    return infer


def _sum_dtype(dtype):   # NumPy sums small integers and booleans as int64
    return "i64" if dtype in ("i32", "bool") else dtype


def _nonempty(infer):
    def rule(types, attrs):
        out = infer(types, attrs)
        t = types[0]
        check(all(t.shape[norm_axis(a, t.rank)] > 0 for a in attrs["axes"]),
              "zero-size reduction has no identity")
        return out
    return rule


REDUCE = dict(attrs=("axes", "keepdims"), arity=1, kind="reduce")
declare("sum", _rule(_sum_dtype), lower={"numpy": "np.sum({0}, axis={axes}, keepdims={keepdims})"},
        **REDUCE)
declare("prod", _rule(_sum_dtype), lower={"numpy": "np.prod({0}, axis={axes}, keepdims={keepdims})"},
        **REDUCE)
declare("max", _nonempty(_rule(lambda d: d)),
        lower={"numpy": "np.max({0}, axis={axes}, keepdims={keepdims})"}, **REDUCE)
declare("min", _nonempty(_rule(lambda d: d)),
        lower={"numpy": "np.min({0}, axis={axes}, keepdims={keepdims})"}, **REDUCE)


def _argmax_rule(types, attrs):
    (t,) = types
    return [TensorType("i64", reduced_shape(t.shape, (attrs["axis"],), attrs["keepdims"]))]


declare("argmax", _argmax_rule, attrs=("axis", "keepdims"), arity=1, kind="reduce", nondiff=True,
        lower={"numpy": "np.argmax({0}, axis={axis}, keepdims={keepdims})"})
declare("argmin", _argmax_rule, attrs=("axis", "keepdims"), arity=1, kind="reduce", nondiff=True,
        lower={"numpy": "np.argmin({0}, axis={axis}, keepdims={keepdims})"})
