"""Reductions over a static set of axes, and `cumsum` and `argsort` along one. `mean`, `var`,
`std`, softmax and logsumexp are compositions built by the frontend, not primitives.
`lower["numba"]` of a loop reduction is its identity (`init`: a number, or `lowest`/`highest`
of the dtype) and its update of the accumulator `{acc}` by an element `{x}` (NaN-propagating,
as NumPy's); `"wide": True` makes float32/float16 inputs accumulate in float64 (sum, prod), as
the NumPy lowering of a sum over other than the last axis does too.
The VJP of `cumsum` is the reversed cumsum of the reversed cotangent, in float64 for narrower
floats (the total less the cumsum before each entry lost the small sums at the end)."""
from ..ad.emit import const, expand_reduced, ones_at_zeros, zeros
from ..ir.types import DTYPES, TensorType
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


def _sum_vjp(b, op, cts, needs):
    x = op.operands[0]
    return [expand_reduced(b, cts[0], x.type.shape, op.attrs["axes"], op.attrs["keepdims"])]


def _prod_vjp(b, op, cts, needs):
    """d prod / d x_i is the product of the other entries, without a division by a zero (NaN,
    where JAX and PyTorch give the product of the others): with P the product of a slice's
    nonzero entries and Z that of its zero ones (1 if none), it is P Z / x_i at a nonzero x_i,
    and P times the product of the other zeros at a zero: 1 for the only one, the other's
    value for one of two (Z_slice - x_i: its derivative in x_i cancels), else 0. Each is a
    differentiable function of the zeros too, so second derivatives are right where a slice
    holds one or two zeros (a constant 0 there made the Hessian of np.prod wrong)."""
    x, a = op.operands[0], op.attrs
    dt, shape = x.type.dtype, x.type.shape

    def expand(v):
        return expand_reduced(b, v, shape, a["axes"], a["keepdims"])

    zero, safe = ones_at_zeros(b, x)
    nonzero_prod = b.op("prod", safe, **a)
    zero_prod = b.op("prod", b.op("where", zero, x, const(b, 1, dt, shape)), **a)
    count = expand(b.op("sum", b.op("astype", zero, dtype=dt), **a))
    zero_sum = expand(b.op("sum", b.op("where", zero, x, zeros(b, x.type)), **a))
    at_nonzero = b.op("div", expand(b.op("mul", cts[0], b.op("mul", nonzero_prod, zero_prod))),
                      safe)
    other_zeros = b.op("where", b.op("eq", count, const(b, 1, dt)), const(b, 1, dt, shape),
                       b.op("where", b.op("eq", count, const(b, 2, dt)),
                            b.op("sub", zero_sum, x), zeros(b, x.type)))
    at_zero = b.op("mul", expand(b.op("mul", cts[0], nonzero_prod)), other_zeros)
    return [b.op("where", zero, at_zero, at_nonzero)]


def _extremum_vjp(b, op, cts, needs):
    """The gradient goes to the entries equal to the extremum, split evenly between ties; where
    the extremum is NaN (NumPy's of a slice that holds one), to the NaN entries, as torch.max's
    does (no entry equals NaN: the share was 0 / 0, NaN, as torch.amax's and JAX's). Elsewhere
    no entry is NaN, so x != x adds none."""
    x, a = op.operands[0], op.attrs
    y = expand_reduced(b, op.result, x.type.shape, a["axes"], a["keepdims"])
    mask = b.op("astype", b.op("logical_or", b.op("eq", x, y), b.op("ne", x, x)),
                dtype=x.type.dtype)
    count = b.op("sum", mask, axes=a["axes"], keepdims=a["keepdims"])
    share = b.op("div", cts[0], count)
    return [b.op("mul", expand_reduced(b, share, x.type.shape, a["axes"], a["keepdims"]), mask)]


def _lower_sum(op, a):
    """NumPy's sum, but float32/float16 accumulated in float64 (as `wide` makes the Numba
    backend's) where an axis other than the last is reduced: NumPy adds such an axis's entries
    one after the other (pairwise only along the last), so a bias gradient summed over a
    million rows was 1e-4 off in float32, where torch's is 1e-7."""
    t = op.operands[0].type
    text = f"np.sum({a[0]}, axis={op.attrs['axes']!r}, keepdims={op.attrs['keepdims']!r}"
    if t.dtype in NARROW and {norm_axis(x, t.rank) for x in op.attrs["axes"]} - {t.rank - 1}:
        return f"{text}, dtype=np.float64).astype(np.{DTYPES[t.dtype]})"
    return text + ")"


NARROW = ("f32", "f16")     # floats whose sums accumulate in float64
REDUCE = dict(attrs=("axes", "keepdims"), arity=1, kind="reduce")
declare("sum", _rule(_sum_dtype), vjp=_sum_vjp, lower={"numpy": _lower_sum,
                                                    "numba": {"init": "0", "update": "{acc} + {x}", "wide": True,
                                                              "combine": "add"}},
        **REDUCE)
declare("prod", _rule(_sum_dtype), vjp=_prod_vjp, lower={"numpy": "np.prod({0}, axis={axes}, keepdims={keepdims})",
                                                      "numba": {"init": "1", "update": "{acc} * {x}", "wide": True,
                                                                "combine": "multiply"}},
        **REDUCE)
declare("max", _nonempty(_rule(lambda d: d)), vjp=_extremum_vjp,
        lower={"numpy": "np.max({0}, axis={axes}, keepdims={keepdims})",
               "numba": {"init": "lowest", "update": "vmax({acc}, {x})",
                         "combine": "maximum"}}, **REDUCE)
declare("min", _nonempty(_rule(lambda d: d)), vjp=_extremum_vjp,
        lower={"numpy": "np.min({0}, axis={axes}, keepdims={keepdims})",
               "numba": {"init": "highest", "update": "vmin({acc}, {x})",
                         "combine": "minimum"}}, **REDUCE)


def _cumsum_rule(types, attrs):
    (t,) = types
    check(t.rank > 0, "cumsum needs an axis: reshape a scalar first")
    norm_axis(attrs["axis"], t.rank)
    return [TensorType(_sum_dtype(t.dtype), t.shape)]


def _cumsum_vjp(b, op, cts, needs):
    """d cumsum(x)_j / d x_i = 1 for i <= j: the cotangent summed from i to the end."""
    ct, axis = cts[0], norm_axis(op.attrs["axis"], op.result.type.rank)
    shape, dt = ct.type.shape, ct.type.dtype
    flip = dict(starts=tuple(n - 1 if a == axis else 0 for a, n in enumerate(shape)),
                stops=tuple(-1 if a == axis else n for a, n in enumerate(shape)),
                steps=tuple(-1 if a == axis else 1 for a in range(len(shape))))
    wide = b.op("astype", ct, dtype="f64") if dt in NARROW else ct
    out = b.op("slice", b.op("cumsum", b.op("slice", wide, **flip), axis=axis), **flip)
    return [b.op("astype", out, dtype=dt) if dt in NARROW else out]


# (the Numba backend calls NumPy's for this too: a scan, not a loop op of the fusion)
declare("cumsum", _cumsum_rule, attrs=("axis",), arity=1, kind="reduce", vjp=_cumsum_vjp,
        lower={"numpy": "np.cumsum({0}, axis={axis})", "numba": "np.cumsum({0}, axis={axis})"})


def _argmax_rule(types, attrs):
    (t,) = types
    shape = reduced_shape(t.shape, (attrs["axis"],), attrs["keepdims"])
    check(t.rank == 0 or t.shape[norm_axis(attrs["axis"], t.rank)] > 0,
          "an empty axis has no argmax/argmin")
    return [TensorType("i64", shape)]


# (the Numba backend calls NumPy's for these: a string lowering is a whole-array expression)
declare("argmax", _argmax_rule, attrs=("axis", "keepdims"), arity=1, kind="reduce", nondiff=True,
        lower={"numpy": "np.argmax({0}, axis={axis}, keepdims={keepdims})",
               "numba": "np.argmax({0}, axis={axis}, keepdims={keepdims})"})
declare("argmin", _argmax_rule, attrs=("axis", "keepdims"), arity=1, kind="reduce", nondiff=True,
        lower={"numpy": "np.argmin({0}, axis={axis}, keepdims={keepdims})",
               "numba": "np.argmin({0}, axis={axis}, keepdims={keepdims})"})


def _argsort_rule(types, attrs):
    (t,) = types
    check(t.rank > 0, "argsort needs an axis: reshape a scalar first")
    norm_axis(attrs["axis"], t.rank)
    return [TensorType("i64", t.shape)]


# the stable order (ties in their original order) on both backends: NumPy's default quicksort
# may order ties either way, and np.sort's gradient follows this order (rt.argsort: NumPy's
# stable sort where ties need it)
declare("argsort", _argsort_rule, attrs=("axis",), arity=1, kind="reduce", nondiff=True,
        lower={"numpy": "rt.argsort({0}, {axis})", "numba": "rt.argsort({0}, {axis})"})
