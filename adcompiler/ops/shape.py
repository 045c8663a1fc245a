"""Shape ops: reshape, transpose, broadcast_to, concatenate. (`squeeze`, `expand_dims`,
`swapaxes`, `stack` are built from these by the frontend.) `lower["numba"]`: the driver's
NumPy expression (a view where NumPy makes one); `loop` says how a loop kernel reads the op
inside a fused loop nest (`broadcast`, or `unit_reshape` when only size-1 axes change)."""
from ..ad.emit import sum_to
from ..ir.core import Op
from ..ir.types import TensorType, broadcast_shapes, inverse_perm
from .family import check, declare, norm_axis, same_dtype


def _reshape(types, attrs):
    (t,) = types
    shape = attrs["shape"]
    n = 1
    for s in shape:
        n *= s
    check(n == t.size, f"cannot reshape {t.shape} ({t.size} elements) into {shape}")
    return [t.with_shape(shape)]


def _transpose(types, attrs):
    (t,) = types
    perm = attrs["perm"]
    check(sorted(perm) == list(range(t.rank)), f"perm {perm} is not a permutation of {t.rank} axes")
    return [t.with_shape(tuple(t.shape[p] for p in perm))]


def _broadcast_to(types, attrs):
    (t,) = types
    shape = attrs["shape"]
    check(len(shape) >= t.rank and broadcast_shapes(t.shape, shape) == tuple(shape),
          f"cannot broadcast {t.shape} to {shape}")
    return [t.with_shape(shape)]


def _concatenate(types, attrs):
    check(len(types) > 0, "needs at least one array")
    dtype = same_dtype(types, "concatenate")
    rank = types[0].rank
    check(rank > 0 and all(t.rank == rank for t in types), "needs arrays of one rank >= 1")
    axis = norm_axis(attrs["axis"], rank)
    for t in types:
        check(all(a == b for i, (a, b) in enumerate(zip(t.shape, types[0].shape)) if i != axis),
              f"shapes {[t.shape for t in types]} differ off axis {axis}")
    shape = list(types[0].shape)
    shape[axis] = sum(t.shape[axis] for t in types)
    return [TensorType(dtype, shape)]


def _reshape_vjp(b, op, cts, needs):
    return [b.op("reshape", cts[0], shape=op.operands[0].type.shape)]


def _transpose_vjp(b, op, cts, needs):
    perm = op.attrs["perm"]
    return [b.op("transpose", cts[0], perm=inverse_perm(perm))]


def _broadcast_vjp(b, op, cts, needs):
    return [sum_to(b, cts[0], op.operands[0].type.shape)]


def _concatenate_vjp(b, op, cts, needs):
    (ct,) = cts
    axis = norm_axis(op.attrs["axis"], ct.type.rank)
    out, start = [], 0
    for x, need in zip(op.operands, needs, strict=True):
        stop = start + x.type.shape[axis]
        if need:
            starts = tuple(start if i == axis else 0 for i in range(ct.type.rank))
            stops = tuple(stop if i == axis else n for i, n in enumerate(ct.type.shape))
            out.append(b.op("slice", ct, starts=starts, stops=stops, steps=(1,) * ct.type.rank))
        else:
            out.append(None)
        start = stop
    return out


def _lower_reshape(op, a):
    """The method, not np.reshape's wrapper: 0.16 us against 1.0, four times in each step of an
    RNN's gradient loop. A 0-d operand, which may be a Python float (no method) or, in a
    compiled loop (backends/numba_cpu/loops.py), a Numba scalar (which Numba cannot reshape),
    fills a new array."""
    if op.operands[0].type.rank == 0:
        return f"np.full({op.attrs['shape']}, {a[0]})"
    return f"{a[0]}.reshape({op.attrs['shape']})"


def _lower_reshape_numba(op, a):
    """The Numba driver's reshape, which a loop or function compiled whole compiles too: of an
    operand that may not be C-contiguous (an argument, or a view: a column slice, a
    transpose), `rt.reshape`, which copies it there first (Numba's reshape refuses it, where
    NumPy's copies: such a function stayed Python); others the method (`_lower_reshape`)."""
    x = op.operands[0]
    if x.type.rank and (not isinstance(x.owner, Op)
                        or x.owner.name in ("slice", "transpose", "broadcast_to")):
        return f"rt.reshape({a[0]}, {op.attrs['shape']})"
    return _lower_reshape(op, a)


declare("reshape", _reshape, attrs=("shape",), arity=1, kind="shape", vjp=_reshape_vjp, cheap=True,
        view=True, lower={"numpy": _lower_reshape,
                          "numba": {"driver": _lower_reshape_numba, "loop": "unit_reshape"}})


def _lower_transpose(op, a):
    """The method, not np.transpose's wrapper: 0.1 us against 0.4, which small arrays feel (a
    0-d operand may be a Python float, which has no method)."""
    if op.result.type.rank == 0:
        return a[0]
    return f"{a[0]}.transpose({op.attrs['perm']})"


declare("transpose", _transpose, attrs=("perm",), arity=1, kind="shape", vjp=_transpose_vjp,
        view=True, lower={"numpy": _lower_transpose, "numba": {"driver": _lower_transpose}})
declare("broadcast_to", _broadcast_to, attrs=("shape",), arity=1, kind="shape", vjp=_broadcast_vjp,
        cheap=True, view=True,
        lower={"numpy": "np.broadcast_to({0}, {shape})",
               "numba": {"driver": "np.broadcast_to({0}, {shape})", "loop": "broadcast"}})
declare("concatenate", _concatenate, attrs=("axis",), kind="shape", vjp=_concatenate_vjp,
        lower={"numpy": "np.concatenate(({args},), axis={axis})",
               "numba": {"driver": "np.concatenate(({args},), axis={axis})"}})
