"""Every op's VJP, generated from the op registry.

For each differentiable op in `adcompiler.ir.registry` (not `nondiff`, not control flow, calls
or tapes, not the creation ops `constant`/`iota`), the table `CASES` below gives a generator of
argument arrays (each in the op's domain: positive bases and logarithms, arcsin in (-0.9, 0.9),
maximum/minimum without ties, indices in range...) and attributes, drawn from a seeded RNG with
random shapes that include rank 0, size-1 axes and broadcasting. For every case a one-op IR
function is built with `ir.Builder` in float64, differentiated with `adcompiler.ad.differentiate`
and run with the NumPy backend (`NumpyProgram.fwd`/`bwd`) for a random cotangent c, and

(a) the gradient J^T c equals central finite differences of <c, f(x)> in float64, where f is the
    op's own NumPy evaluation (`adcompiler.evaluate`);
(b) the dot-product test <J t, c> = <t, J^T c> holds, J t from central differences along a
    random direction t;
(c) where the op is declared by a SymPy expression, J^T c equals c times `sympy.diff` of that
    expression (evaluated by `sympy.lambdify`), summed back over broadcast axes;
(d) with float32 operands the gradients are float32 and agree with the float64 ones.

An op added to the registry without an entry here fails `test_vjp_matches_finite_differences`
(and `test_every_op_is_in_a_table`), so an op cannot ship without a checked derivative.
Non-differentiable ops (`NONDIFF`) must give a zero gradient without computing anything, and
integer or boolean operands (indices, conditions) never get a gradient.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest
import sympy as sp

import adcompiler
from adcompiler.ad import differentiate
from adcompiler.ad.sympy_ir import expression
from adcompiler.backends.numpy.program import NumpyProgram
from adcompiler.ir import Block, Builder, Function, TensorType, registry
from adcompiler.ir.types import FROM_NUMPY

SKIP_KINDS = ("control", "call", "tape")   # regions, callees, tapes: covered by test_control_flow
CREATE = ("constant", "iota")              # no operands to differentiate
EPS = 1e-6
TOL = 1e-6


def differentiable_ops():
    return sorted(n for n, d in registry.all_ops().items()
                  if not d.nondiff and d.kind not in SKIP_KINDS and n not in CREATE)


def nondiff_ops():
    return sorted(n for n, d in registry.all_ops().items()
                  if d.nondiff and d.kind not in SKIP_KINDS and n not in CREATE)


# ------------------------------------------------------------------------- argument domains

def normal(rng, shape):
    return rng.standard_normal(shape)


def uniform(lo, hi):
    return lambda rng, shape: rng.uniform(lo, hi, shape)


def away_from_zero(lo=0.3, hi=2.0):
    """|x| in [lo, hi], either sign (abs, denominators, products)."""
    return lambda rng, shape: rng.choice([-1.0, 1.0], shape) * rng.uniform(lo, hi, shape)


def grid(offset):
    """Values on the grid 0.5 * k + offset: two grids with different offsets never tie."""
    return lambda rng, shape: rng.integers(-4, 5, shape) * 0.5 + offset


def with_zeros(rng, shape):
    """Away from zero but for exact zeros, one or two in most rows (products: the gradient at
    a zero is the product of the others, at a second zero 0)."""
    x = away_from_zero(0.5, 1.5)(rng, shape)
    return np.where(rng.random(shape) < 0.35, 0.0, x)


def distinct(rng, shape):
    """Pairwise distinct values (at least 0.3 apart): max/min reductions have no ties."""
    n = int(np.prod(shape, dtype=np.int64))
    return (rng.permutation(n) * 0.3 - 0.15 * n + rng.uniform(0, 0.05, n)).reshape(shape)


# ------------------------------------------------------------------------- random shapes

def rand_shape(rng, rank_lo=0, rank_hi=3, dim_hi=3):
    return tuple(int(d) for d in rng.integers(1, dim_hi + 1, rng.integers(rank_lo, rank_hi + 1)))


def broadcastable(rng, k, out=None):
    """k shapes that broadcast to `out` (random): leading axes dropped, some axes set to 1."""
    out = out if out is not None else rand_shape(rng, 1, 3)
    shapes = []
    for _ in range(k):
        s = out[rng.integers(0, len(out) + 1):]
        shapes.append(tuple(1 if rng.random() < 0.3 else d for d in s))
    return shapes


# fixed shape cases that every op family sees (rank 0, size-1 axes, broadcasting both ways)
UNARY_SHAPES = [(), (1,), (3, 1), (2, 1, 3)]
BINARY_SHAPES = [((), (3,)), ((2, 1), (1, 3)), ((2, 3), (3,)), ((1,), (2, 2)), ((2, 3), (2, 3))]


@dataclass
class Case:
    args: list                      # NumPy arrays: float64 operands are differentiated
    attrs: dict = field(default_factory=dict)
    eps: float = EPS
    tol: float = TOL


def unary(domain=normal):
    def cases(rng):
        shapes = UNARY_SHAPES + [rand_shape(rng) for _ in range(2)]
        return [Case([domain(rng, s)]) for s in shapes]
    return cases


def binary(dx=normal, dy=normal):
    def cases(rng):
        pairs = BINARY_SHAPES + [tuple(broadcastable(rng, 2)) for _ in range(2)]
        pairs += [(b, a) for a, b in BINARY_SHAPES[:3]]
        return [Case([dx(rng, a), dy(rng, b)]) for a, b in pairs]
    return cases


def where_cases(rng):
    triples = [((2, 3), (2, 3), (2, 3)), ((2, 1), (3,), ()), ((), (2, 2), (1, 2)),
               ((3,), (2, 1), (2, 3))] + [tuple(broadcastable(rng, 3)) for _ in range(2)]
    return [Case([rng.random(c) < 0.5, normal(rng, x), normal(rng, y)]) for c, x, y in triples]


def astype_cases(rng):
    return [Case([normal(rng, (2, 3))], {"dtype": "f64"}),
            Case([normal(rng, ())], {"dtype": "f64"}),
            # rounding to float32 makes the output noisy at 1e-7: wider steps, looser check
            Case([normal(rng, (3, 1))], {"dtype": "f32"}, eps=1e-2, tol=1e-4),
            Case([normal(rng, (2,)).astype(np.float32)], {"dtype": "f64"}, eps=1e-2, tol=1e-4)]


def reduce_cases(domain):
    def cases(rng):
        out = [Case([domain(rng, (2, 3))], {"axes": (0, 1), "keepdims": False}),
               Case([domain(rng, (2, 3))], {"axes": (-1,), "keepdims": True}),
               Case([domain(rng, (2, 1, 3))], {"axes": (1,), "keepdims": False}),
               Case([domain(rng, (3,))], {"axes": (), "keepdims": False}),
               Case([domain(rng, ())], {"axes": (), "keepdims": True})]
        for _ in range(3):
            s = rand_shape(rng, 1, 3)
            axes = tuple(int(a) - len(s) * int(rng.integers(0, 2))
                         for a in np.flatnonzero(rng.random(len(s)) < 0.5))
            out.append(Case([domain(rng, s)], {"axes": axes, "keepdims": bool(rng.integers(2))}))
        return out
    return cases


def cumsum_cases(rng):
    out = [Case([normal(rng, (4,))], {"axis": 0}), Case([normal(rng, (2, 3))], {"axis": -1}),
           Case([normal(rng, (3, 1, 2))], {"axis": 1})]
    for _ in range(3):
        s = rand_shape(rng, 1, 3)
        out.append(Case([normal(rng, s)], {"axis": int(rng.integers(-len(s), len(s)))}))
    return out


def reshape_cases(rng):
    out = [Case([normal(rng, (2, 3))], {"shape": (3, 2)}),
           Case([normal(rng, (2, 3))], {"shape": (6,)}),
           Case([normal(rng, ())], {"shape": (1, 1)}),
           Case([normal(rng, (1,))], {"shape": ()}),
           Case([normal(rng, (2, 1, 2))], {"shape": (1, 4, 1)})]
    for _ in range(2):
        s = rand_shape(rng, 1, 3)
        flat = [d for d in s if d > 1] + [1] * int(rng.integers(0, 2))
        out.append(Case([normal(rng, s)], {"shape": tuple(rng.permutation(flat).tolist())}))
    return out


def transpose_cases(rng):
    out = [Case([normal(rng, ())], {"perm": ()}),
           Case([normal(rng, (2, 3))], {"perm": (1, 0)}),
           Case([normal(rng, (2, 1, 3))], {"perm": (2, 0, 1)})]
    for _ in range(2):
        s = rand_shape(rng, 1, 4)
        out.append(Case([normal(rng, s)], {"perm": tuple(rng.permutation(len(s)).tolist())}))
    return out


def broadcast_to_cases(rng):
    out = [Case([normal(rng, ())], {"shape": (2, 3)}),
           Case([normal(rng, (3, 1))], {"shape": (2, 3, 2)}),
           Case([normal(rng, (1,))], {"shape": (1,)}),
           Case([normal(rng, (2, 3))], {"shape": (2, 3)})]
    for _ in range(2):
        target = rand_shape(rng, 1, 3)
        (s,) = broadcastable(rng, 1, target)
        out.append(Case([normal(rng, s)], {"shape": target}))
    return out


def concatenate_cases(rng):
    out = [Case([normal(rng, (2,))], {"axis": 0}),
           Case([normal(rng, (2, 3)), normal(rng, (1, 3))], {"axis": 0}),
           Case([normal(rng, (2, 1)), normal(rng, (2, 3)), normal(rng, (2, 2))], {"axis": -1})]
    for _ in range(2):
        s = rand_shape(rng, 1, 3)
        axis = int(rng.integers(len(s)))
        parts = [s[:axis] + (int(rng.integers(1, 4)),) + s[axis + 1:]
                 for _ in range(int(rng.integers(1, 4)))]
        out.append(Case([normal(rng, p) for p in parts], {"axis": axis}))
    return out


def random_slice(rng, n):
    """A normalised (start, stop, step) for an axis of length n, as `slice.indices` gives it,
    negative steps included."""
    for _ in range(10):     # mostly non-empty: an empty slice checks little
        step = int(rng.choice([1, 1, 2, -1, -2]))
        start = int(rng.integers(-n - 1, n + 1)) if rng.random() < 0.7 else None
        stop = int(rng.integers(-n - 1, n + 1)) if rng.random() < 0.7 else None
        if range(*slice(start, stop, step).indices(n)):
            break
    return slice(start, stop, step).indices(n)


def slice_attrs(shape, slices):
    starts, stops, steps = zip(*slices) if slices else ((), (), ())
    return {"starts": tuple(starts), "stops": tuple(stops), "steps": tuple(steps)}


SLICE_FIXED = [((4,), [slice(None, None, -1)]), ((4, 3), [slice(1, 3), slice(None, None, -2)]),
               ((3, 2), [slice(2, None, -1), slice(0, 1)]), ((1, 2), [slice(None), slice(1, 2)]),
               ((5,), [slice(-1, 0, -2)])]


def slice_shapes(rng):
    out = [(s, slice_attrs(s, [sl.indices(n) for sl, n in zip(sls, s)])) for s, sls in SLICE_FIXED]
    for _ in range(3):
        s = rand_shape(rng, 1, 3, dim_hi=4)
        out.append((s, slice_attrs(s, [random_slice(rng, n) for n in s])))
    return out


def sliced_shape(shape, attrs):
    return tuple(len(range(a, b, c)) for a, b, c in
                 zip(attrs["starts"], attrs["stops"], attrs["steps"]))


def slice_cases(rng):
    return [Case([normal(rng, s)], a) for s, a in slice_shapes(rng)]


def update_slice_cases(rng):
    return [Case([normal(rng, s), normal(rng, sliced_shape(s, a))], a)
            for s, a in slice_shapes(rng)]


def gather_setups(rng, unique=False):
    """(x shape, indices, axis) with repeated (or, `unique`, distinct) and negative indices."""
    out = []
    fixed = [((4,), (3,), 0), ((3, 2), (2, 2), 0), ((2, 3), (), 1), ((2, 3, 2), (4,), -2),
             ((3, 1), (1,), 1)]
    for xs, ishape, axis in fixed + [(rand_shape(rng, 1, 3), rand_shape(rng, 0, 2), None)
                                     for _ in range(2)]:
        axis = int(rng.integers(len(xs))) if axis is None else axis
        n = xs[axis]
        if unique:
            count = int(np.prod(ishape, dtype=np.int64))
            if count > n:
                ishape = (n,)
                count = n
            idx = rng.permutation(n)[:count].reshape(ishape)
        else:
            idx = rng.integers(0, n, ishape)
            if idx.ndim and idx.size > 1:
                idx.flat[-1] = idx.flat[0]          # at least one repeat
        idx = np.where(rng.random(idx.shape) < 0.3, idx - n, idx).astype(np.int64)
        out.append((xs, idx.astype(np.int32) if len(out) == 1 else idx, axis))
    return out


def gathered(xs, idx, axis):
    axis %= len(xs)
    return xs[:axis] + idx.shape + xs[axis + 1:]


def take_cases(rng):
    return [Case([normal(rng, xs), idx], {"axis": axis}) for xs, idx, axis in gather_setups(rng)]


def scatter_cases(unique):
    def cases(rng):
        return [Case([normal(rng, xs), idx, normal(rng, gathered(xs, idx, axis))], {"axis": axis})
                for xs, idx, axis in gather_setups(rng, unique)]
    return cases


def matmul_cases(rng):
    pairs = [((2, 3), (3, 2)), ((1, 3), (3, 1)), ((2, 2, 3), (3, 2)), ((3, 2), (2, 2, 1)),
             ((2, 1, 2, 3), (3, 3, 2)), ((1, 2, 3), (2, 3, 2))]
    for _ in range(2):
        m, k, n = (int(v) for v in rng.integers(1, 4, 3))
        ba, bb = broadcastable(rng, 2, rand_shape(rng, 0, 2))
        pairs.append((ba + (m, k), bb + (k, n)))
    return [Case([normal(rng, a), normal(rng, b)]) for a, b in pairs]


def correlate_cases(rng):
    return [Case([normal(rng, a), normal(rng, v)]) for a, v in (((7,), (3,)), ((4,), (4,)),
                                                                  ((5,), (1,)), ((4, 3), (2, 3)))]


def well_conditioned(rng, shape):
    """A stack of n x n matrices N(0, 1) + n I: far from singular, so inverses, solves and
    determinants change smoothly within a finite-difference step."""
    return normal(rng, shape) + shape[-1] * np.eye(shape[-1])


SQUARE_SHAPES = [(1, 1), (3, 3), (2, 3, 3), (2, 1, 2, 2)]


def square_cases(rng):
    return [Case([well_conditioned(rng, s)]) for s in SQUARE_SHAPES]


def solve_cases(rng):
    pairs = [((3, 3), (3, 2)), ((3, 3), (3, 1)), ((2, 3, 3), (3, 2)), ((3, 3), (2, 3, 1)),
             ((2, 1, 2, 2), (3, 2, 2)), ((1, 1), (1, 3))]
    return [Case([well_conditioned(rng, a), normal(rng, b)]) for a, b in pairs]


def cholesky_cases(rng):
    """X X^T + n I below the diagonal and on it, noise above it: NumPy's cholesky reads the
    lower triangle only, so the noise must get a zero gradient."""
    out = []
    for s in SQUARE_SHAPES:
        x = normal(rng, s)
        spd = x @ np.swapaxes(x, -1, -2) + s[-1] * np.eye(s[-1])
        out.append(Case([np.tril(spd) + np.triu(normal(rng, s), 1)]))
    return out


def orthonormal(rng, batch, n, k):
    """A stack of n x k matrices with orthonormal columns."""
    return np.linalg.qr(normal(rng, batch + (n, k)))[0]


def eigh_cases(rng):
    """Q diag(w) Q^T with eigenvalues at least 0.7 apart (an eigenvector is a smooth function
    of the matrix only away from equal eigenvalues) in the triangle `uplo`, noise in the
    other: eigh reads one triangle, so the noise must get a zero gradient."""
    out = []
    for s, uplo in zip(SQUARE_SHAPES, "LULU", strict=True):
        n = s[-1]
        q = orthonormal(rng, s[:-2], n, n)
        w = rng.permutation(n) - n / 2 + rng.uniform(0, 0.3, s[:-2] + (n,))
        sym = (q * w[..., None, :]) @ np.swapaxes(q, -1, -2)
        noise = normal(rng, s)
        kept, other = (np.tril, np.triu) if uplo == "L" else (np.triu, np.tril)
        out.append(Case([kept(sym) + other(noise, 1 if uplo == "L" else -1)], {"uplo": uplo}))
    return out


def svd_cases(rng):
    """U diag(s) V^T with singular values at least 0.7 apart and away from 0, square, tall
    and wide (the non-square VJP terms), stacked."""
    out = []
    for shape in [(3, 3), (4, 2), (2, 4), (2, 3, 2), (1, 1), (2, 1, 3)]:
        batch, (m, n) = shape[:-2], shape[-2:]
        k = min(m, n)
        s = np.arange(k, 0, -1) + rng.uniform(0.3, 0.6, batch + (k,))
        u, v = orthonormal(rng, batch, m, k), orthonormal(rng, batch, n, k)
        out.append(Case([(u * s[..., None, :]) @ np.swapaxes(v, -1, -2)]))
    return out


# op -> case generator. Keep one line per op: a new op needs a line here (and its domain).
CASES: dict[str, Callable] = {
    "neg": unary(), "exp": unary(uniform(-2, 2)), "log": unary(uniform(0.2, 3)),
    "log1p": unary(uniform(-0.5, 2)), "expm1": unary(uniform(-2, 2)),
    "sqrt": unary(uniform(0.2, 3)), "tanh": unary(), "sin": unary(), "cos": unary(),
    "tan": unary(uniform(-1.2, 1.2)), "arcsin": unary(uniform(-0.9, 0.9)),
    "arccos": unary(uniform(-0.9, 0.9)), "arctan": unary(), "sinh": unary(), "cosh": unary(),
    "arcsinh": unary(), "arccosh": unary(uniform(1.2, 3)), "arctanh": unary(uniform(-0.9, 0.9)),
    "abs": unary(away_from_zero()), "log2": unary(uniform(0.2, 3)),
    "log10": unary(uniform(0.2, 3)), "exp2": unary(uniform(-2, 2)), "erf": unary(), "erfc": unary(),
    "gammaln": unary(uniform(0.2, 6)), "gamma": unary(uniform(0.3, 4)),
    "ndtri": unary(uniform(0.05, 0.95)), "erfinv": unary(uniform(-0.9, 0.9)),
    "expit": unary(uniform(-4, 4)), "cbrt": unary(away_from_zero()),
    "add": binary(), "sub": binary(), "mul": binary(), "div": binary(normal, away_from_zero()),
    "pow": binary(uniform(0.5, 2.0), uniform(-2, 2)), "mod": binary(normal, away_from_zero()),
    "maximum": binary(grid(0.0), grid(0.25)), "minimum": binary(grid(0.25), grid(0.0)),
    "arctan2": binary(away_from_zero(), away_from_zero()), "hypot": binary(),
    "logaddexp": binary(), "fmod": binary(normal, away_from_zero()),
    "copysign": binary(away_from_zero(), away_from_zero()),
    "where": where_cases, "astype": astype_cases,
    "sum": reduce_cases(normal),
    "prod": lambda rng: reduce_cases(away_from_zero(0.5, 1.5))(rng) + reduce_cases(with_zeros)(rng),
    "max": reduce_cases(distinct), "min": reduce_cases(distinct), "cumsum": cumsum_cases,
    "reshape": reshape_cases, "transpose": transpose_cases, "broadcast_to": broadcast_to_cases,
    "concatenate": concatenate_cases,
    "slice": slice_cases, "update_slice": update_slice_cases, "take": take_cases,
    "scatter_add": scatter_cases(unique=False), "put": scatter_cases(unique=False),
    "matmul": matmul_cases, "correlate": correlate_cases,
    "inv": square_cases, "solve": solve_cases, "det": square_cases, "logabsdet": square_cases,
    "cofactor": square_cases,
    "cholesky": cholesky_cases, "eigh_values": eigh_cases, "eigh_vectors": eigh_cases,
    "svd_values": svd_cases, "svd_u": svd_cases, "svd_vt": svd_cases,
    "qr_q": svd_cases, "qr_r": svd_cases,
}


def cases_of(name):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    return CASES[name](rng)


# ------------------------------------------------------------------------- building and running

def ir_type(a):
    a = np.asarray(a)
    return TensorType(FROM_NUMPY[a.dtype.name], a.shape)


def one_op_function(name, args, attrs):
    block = Block([ir_type(a) for a in args], hints=[f"x{i}" for i in range(len(args))])
    b = Builder(block)
    b.op("return", b.op(name, *block.args, hint="out", **attrs))
    return Function(f"op_{name}", block)


def is_float(a):
    return np.issubdtype(np.asarray(a).dtype, np.floating)


@dataclass
class Run:
    fn: Function
    wrt: list
    out: np.ndarray
    cot: np.ndarray
    grads: list
    program: NumpyProgram


def run_vjp(name, case, rng):
    fn = one_op_function(name, case.args, case.attrs)
    wrt = [i for i, a in enumerate(case.args) if is_float(a)]
    adj = differentiate(fn, wrt)
    program = NumpyProgram(adj, fn.name)
    (out,), residuals = program.fwd(*case.args)
    expected = adcompiler.evaluate(fn, *case.args)
    np.testing.assert_array_equal(out, expected, err_msg=f"{name}: forward differs from the op")
    cot = rng.standard_normal(np.shape(out)).astype(np.asarray(out).dtype)
    grads = list(program.bwd(residuals, [cot]))
    assert len(grads) == len(wrt), f"{name}: {len(grads)} gradients for {len(wrt)} operands"
    for i, g in zip(wrt, grads):
        arg = np.asarray(case.args[i])
        assert np.shape(g) == arg.shape, (f"{name}: gradient of operand {i} has shape "
                                          f"{np.shape(g)}, the operand {arg.shape}")
        assert np.asarray(g).dtype == arg.dtype, (f"{name}: gradient of operand {i} is "
                                                  f"{np.asarray(g).dtype}, the operand {arg.dtype}")
    return Run(fn, wrt, np.asarray(out), cot, [np.asarray(g, np.float64) for g in grads], program)


def evaluate(fn, args):
    return np.asarray(adcompiler.evaluate(fn, *args), dtype=np.float64)


def with_arg(args, i, value):
    out = list(args)
    out[i] = value
    return out


def fd_vjp(run, args, eps):
    """J^T c by central differences of <c, f(x)>, one coordinate at a time."""
    cot = run.cot.astype(np.float64)
    out = []
    for i in run.wrt:
        dtype = np.asarray(args[i]).dtype
        x = np.asarray(args[i], dtype=np.float64)
        g = np.zeros(x.shape)
        for k in np.ndindex(x.shape):
            xp, xm = x.copy(), x.copy()
            xp[k] += eps
            xm[k] -= eps
            fp = evaluate(run.fn, with_arg(args, i, xp.astype(dtype)))
            fm = evaluate(run.fn, with_arg(args, i, xm.astype(dtype)))
            g[k] = np.sum(cot * (fp - fm)) / (2 * eps)
        out.append(g)
    return out


def assert_close(actual, expected, tol, what):
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    err = float(np.max(np.abs(actual - expected), initial=0.0))
    assert err <= tol * scale, f"{what}: max error {err:.3e} (scale {scale:.3g})\n" \
                               f"got\n{actual}\nexpected\n{expected}"


def case_id(name, k, case):
    shapes = ", ".join(str(np.shape(a)) for a in case.args)
    return f"{name} case {k}: ({shapes}) {case.attrs}"


# ------------------------------------------------------------------------- the tests

def test_every_op_is_in_a_table():
    """Each registry op is either tested here (CASES / NONDIFF) or excluded by kind."""
    missing = [n for n in differentiable_ops() if n not in CASES]
    missing += [n for n in nondiff_ops() if n not in NONDIFF]
    assert not missing, (f"ops without a gradient test: {missing}; add them to CASES (or NONDIFF)"
                         " in tests/ad/test_op_gradients.py with their argument domains")
    stale = [n for n in CASES if n not in differentiable_ops()]
    stale += [n for n in NONDIFF if n not in nondiff_ops()]
    assert not stale, (f"the tables name ops the registry no longer has, or whose "
                       f"differentiability changed: {stale}")


@pytest.mark.parametrize("name", differentiable_ops())
def test_vjp_matches_finite_differences(name):
    """(a) J^T c against central differences and (b) the dot-product test, per shape case."""
    if name not in CASES:
        pytest.fail(f"op {name!r} has no entry in CASES: add it to tests/ad/test_op_gradients.py "
                    "with an argument generator for its domain and its attributes, so its VJP "
                    "is checked against finite differences")
    rng = np.random.default_rng(1)
    for k, case in enumerate(cases_of(name)):
        what = case_id(name, k, case)
        run = run_vjp(name, case, rng)
        fd = fd_vjp(run, case.args, case.eps)
        for i, g, f in zip(run.wrt, run.grads, fd):
            assert_close(g, f, case.tol, f"{what}: gradient of operand {i} vs finite differences")
        # dot-product test along a random direction t
        ts = [rng.standard_normal(np.shape(case.args[i])) for i in run.wrt]

        def moved(sign):
            args = list(case.args)
            for i, t in zip(run.wrt, ts):
                args[i] = np.array(np.asarray(case.args[i], np.float64) + sign * case.eps * t,
                                   dtype=np.asarray(case.args[i]).dtype)
            return evaluate(run.fn, args)
        jt = (moved(1) - moved(-1)) / (2 * case.eps)
        lhs = float(np.sum(jt * run.cot))
        rhs = float(sum(np.sum(t * g) for t, g in zip(ts, run.grads)))
        scale = max(1.0, abs(lhs), abs(rhs))
        assert abs(lhs - rhs) <= 10 * case.tol * scale, \
            f"{what}: dot-product test <J t, c> = {lhs!r} but <t, J^T c> = {rhs!r}"


def sympy_ops():
    return [n for n in differentiable_ops() if registry.get(n).sympy is not None]


def sum_to_shape(g, shape):
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


@pytest.mark.parametrize("name", sympy_ops())
def test_vjp_matches_sympy_derivative(name):
    """(c) c * d expr / d operand from sympy.diff + lambdify, an independent reference."""
    params, expr = expression(name)
    real = {p: sp.Symbol(p.name, real=True) for p in params}
    e = expr.xreplace(real)
    derivs = [sp.lambdify([real[p] for p in params], sp.diff(e, real[p]), "numpy") for p in params]
    rng = np.random.default_rng(2)
    for k, case in enumerate(cases_of(name)):
        run = run_vjp(name, case, rng)
        full = np.broadcast_shapes(*(np.shape(a) for a in case.args))
        for i, g in zip(run.wrt, run.grads):
            d = np.broadcast_to(np.asarray(derivs[i](*case.args), np.float64), full)
            want = sum_to_shape(run.cot * d, np.shape(case.args[i]))
            assert_close(g, want, 1e-12, f"{case_id(name, k, case)}: operand {i} vs sympy.diff "
                                         f"{sp.diff(e, real[params[i]])}")


@pytest.mark.parametrize("name", differentiable_ops())
def test_float32_operands_get_float32_gradients(name):
    """(d) the first case of each op in float32: gradient dtypes follow the operands (no
    float64 constant upcasts an adjoint) and the values agree with float64."""
    if name not in CASES:
        pytest.fail(f"op {name!r} has no entry in CASES in tests/ad/test_op_gradients.py")
    case = cases_of(name)[0]
    attrs = dict(case.attrs)
    if name == "astype":
        attrs["dtype"] = "f32"
    case32 = Case([a.astype(np.float32) if is_float(a) else a for a in case.args], attrs)
    rng = np.random.default_rng(3)
    run32 = run_vjp(name, case32, rng)      # checks the dtypes
    rng = np.random.default_rng(3)
    run64 = run_vjp(name, case, rng)
    for g32, g64 in zip(run32.grads, run64.grads):
        assert_close(g32, g64, 1e-4, f"{name}: float32 gradient vs float64")


@pytest.mark.parametrize("name", [n for n in differentiable_ops() if registry.get(n).arity != 1])
def test_dead_adjoints_are_not_computed(name):
    """A VJP rule asked for the gradient of one operand only returns None for the others."""
    if name not in CASES:
        pytest.fail(f"op {name!r} has no entry in CASES in tests/ad/test_op_gradients.py")
    case = max(cases_of(name), key=lambda c: len(c.args))
    fn = one_op_function(name, case.args, case.attrs)
    (op,) = [o for o in fn.body.ops if o.name == name]
    floats = [i for i, a in enumerate(case.args) if is_float(a)]
    if len(floats) < 2:
        return
    ct = Block([op.result.type]).args[0]
    for i in floats:
        needs = [j == i for j in range(len(case.args))]
        grads = registry.get(name).vjp(Builder(Block()), op, [ct], needs)
        assert len(grads) == len(case.args)
        for j, g in enumerate(grads):
            if j == i:
                assert g is not None and g.type == op.operands[j].type, f"{name}: operand {j}"
            else:
                assert g is None, f"{name}: computed the gradient of operand {j} nobody asked for"


@pytest.mark.parametrize("name", [n for n in differentiable_ops() if n in CASES
                                  and any(not is_float(a) for c in cases_of(n) for a in c.args)])
def test_integer_and_boolean_operands_get_no_gradient(name):
    """Indices and conditions are data: the VJP rule gives them None even when asked, and
    differentiating with respect to them gives a zero that no op computes."""
    case = next(c for c in cases_of(name) if any(not is_float(a) for a in c.args))
    fn = one_op_function(name, case.args, case.attrs)
    (op,) = [o for o in fn.body.ops if o.name == name]
    ct = Block([op.result.type]).args[0]
    grads = registry.get(name).vjp(Builder(Block()), op, [ct], [True] * len(case.args))
    for j, (a, g) in enumerate(zip(case.args, grads)):
        if not is_float(a):
            assert g is None, f"{name}: the {np.asarray(a).dtype} operand {j} got a gradient"
    data = [j for j, a in enumerate(case.args) if not is_float(a)]
    adj = differentiate(fn, data)
    assert_zero_gradient(adj, fn, case.args, data, name)


def assert_zero_gradient(adj, fn, args, wrt, what):
    """The backward function computes nothing but zeros for `wrt`."""
    work = [o.name for o in adj.bwd.walk() if o.name not in ("constant", "broadcast_to", "return")]
    assert not work, f"{what}: the backward pass computes {work} for a zero gradient"
    program = NumpyProgram(adj, fn.name)
    (out,), residuals = program.fwd(*args)
    grads = program.bwd(residuals, [np.ones_like(out)])
    for i, g in zip(wrt, grads, strict=True):
        assert np.shape(g) == np.shape(args[i]) and not np.any(g), f"{what}: gradient {g}"


# ------------------------------------------------------------------------- non-differentiable ops

def as_bool(b, v):
    return b.op("gt", v, b.op("constant", value=0.0, dtype="f64"))


# op -> (operand shapes, prepare: (builder, float params) -> operands, attrs). The float params
# are what gets differentiated; `prepare` turns them into the operands the op accepts.
NONDIFF = {
    "sign": ([(2, 3)], None, {}), "floor": ([(3,)], None, {}), "ceil": ([(2, 3)], None, {}),
    "trunc": ([(3,)], None, {}), "rint": ([(2, 1)], None, {}),
    "isnan": ([(3,)], None, {}), "isinf": ([(2, 3)], None, {}), "isfinite": ([(3,)], None, {}),
    "floordiv": ([(2, 3), (3,)], None, {}),
    "lt": ([(2, 3), (3,)], None, {}), "le": ([(3,), ()], None, {}),
    "gt": ([(2, 1), (1, 2)], None, {}), "ge": ([(3,), (3,)], None, {}),
    "eq": ([(3,), (3,)], None, {}), "ne": ([(), (2,)], None, {}),
    "logical_and": ([(3,), (3,)], as_bool, {}), "logical_or": ([(2, 3), (3,)], as_bool, {}),
    "logical_not": ([(2, 2)], as_bool, {}),
    "argmax": ([(2, 3)], None, {"axis": 1, "keepdims": False}),
    "argmin": ([(2, 3)], None, {"axis": -2, "keepdims": True}),
    "argsort": ([(2, 3)], None, {"axis": -1}),
    "stop_gradient": ([(2, 3)], None, {}), "detsign": ([(3, 3)], None, {}),
    "assert": ([()], lambda b, v: b.op("eq", v, v), {"message": "holds"}),
    "print": ([(), (2,)], None, {"format": "{!s} and {!r}", "python": (True, False),
                                 "end": "\n", "stream": "stdout", "flush": False}),
}


@pytest.mark.parametrize("name", nondiff_ops())
def test_nondiff_op_gives_zero_gradient(name):
    """f(x) = op(x) (as float): the gradient is zero and no backward op computes it; where
    the op's result is float, finite differences agree (away from its jumps)."""
    if name not in NONDIFF:
        pytest.fail(f"non-differentiable op {name!r} has no entry in NONDIFF in "
                    "tests/ad/test_op_gradients.py")
    shapes, prepare, attrs = NONDIFF[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    args = [rng.uniform(0.1, 0.9, s) + rng.integers(-2, 3, s) for s in shapes]
    block = Block([ir_type(a) for a in args], hints=[f"x{i}" for i in range(len(args))])
    b = Builder(block)
    operands = [prepare(b, v) if prepare else v for v in block.args]
    out = b.op(name, *operands, hint="out", **attrs)
    if not out.type.is_float:
        out = b.op("astype", out, dtype="f64")
    # times a differentiable path, so the function has a non-zero gradient elsewhere
    y = b.op("mul", out, b.op("sum", block.args[0], axes=tuple(range(len(shapes[0]))),
                              keepdims=False))
    b.op("return", y)
    fn = Function(f"op_{name}", block)
    adj = differentiate(fn, list(range(len(args))))
    program = NumpyProgram(adj, fn.name)
    (value,), residuals = program.fwd(*args)
    cot = rng.standard_normal(np.shape(value))
    grads = program.bwd(residuals, [cot])
    # only the sum's path contributes: d/dx0 = sum(c * op(x)) broadcast; others zero
    opval = np.asarray(adcompiler.evaluate(one_op_function_prepared(name, args, prepare, attrs),
                                           *args), np.float64)
    want0 = np.full(shapes[0], np.sum(cot * opval))
    assert_close(np.asarray(grads[0]), want0, 1e-12, f"{name}: gradient of x0")
    for g in grads[1:]:
        assert not np.any(g), f"{name}: non-zero gradient {g} through a non-differentiable op"
    # the op alone: zero gradient, nothing computed
    fn1 = one_op_function_prepared(name, args, prepare, attrs)
    assert_zero_gradient(differentiate(fn1, list(range(len(args)))), fn1, args,
                         list(range(len(args))), name)


def one_op_function_prepared(name, args, prepare, attrs):
    block = Block([ir_type(a) for a in args], hints=[f"x{i}" for i in range(len(args))])
    b = Builder(block)
    out = b.op(name, *[prepare(b, v) if prepare else v for v in block.args], hint="out", **attrs)
    b.op("return", out if out.type.is_float else b.op("astype", out, dtype="f64"))
    return Function(f"op_{name}", block)


def test_integer_arrays_through_numeric_ops_get_no_gradient():
    """Integer data flowing through ops that accept ints (neg, sub, pow, abs, mul) and then
    into floats: differentiating with respect to the int parameter gives an int zero."""
    x = np.array([1, -2, 3], dtype=np.int64)
    w = np.array([0.5, 1.5, -2.0])
    block = Block([ir_type(x), ir_type(w)], hints=["k", "w"])
    b = Builder(block)
    k = b.op("mul", b.op("abs", b.op("neg", block.args[0])), block.args[0])
    k = b.op("pow", b.op("sub", k, block.args[0]), b.op("constant", value=2, dtype="i64"))
    y = b.op("mul", b.op("astype", k, dtype="f64"), block.args[1])
    b.op("return", b.op("sum", y, axes=(0,), keepdims=False))
    fn = Function("ints", block)
    assert_zero_gradient(differentiate(fn, [0]), fn, [x, w], [0], "int parameter")
    adj = differentiate(fn, [0, 1])
    program = NumpyProgram(adj, fn.name)
    (value,), residuals = program.fwd(x, w)
    gk, gw = program.bwd(residuals, [np.float64(1.0)])
    assert gk.dtype == np.int64 and not np.any(gk)
    kk = np.abs(-x) * x
    np.testing.assert_allclose(gw, ((kk - x) ** 2).astype(np.float64))


def test_pow_gradient_wrt_the_exponent_at_a_zero_base():
    """d x**y / dy = x**y log x is 0 at x = 0 (0**y is flat in y for y > 0), as in JAX and
    PyTorch; it was 0 * -inf = NaN."""
    x, y = np.array([0.0, 0.5, 2.0, 0.0]), np.array([2.0, 1.5, 0.5, 0.7])

    def f(y):
        return np.sum(x ** y)
    fd = np.array([(f(y + e) - f(y - e)) / 2e-6 for e in np.eye(4) * 1e-6])
    for backend in ("numpy", "numba"):
        g = adcompiler.grad(lambda x, y: np.sum(x ** y), wrt=1, backend=backend)(x, y)
        np.testing.assert_allclose(g, fd, rtol=1e-7, atol=1e-12)


def polynomial(x, c):
    return np.sum(sum([c[k] * x ** k for k in range(3)]))


def test_pow_gradient_at_a_zero_exponent_and_base():
    """d x**y / dx = y x**(y-1) is 0 where y = 0 (x**0 = 1 is flat), as in PyTorch; at x = 0
    SymPy's form was 0 * inf = NaN, in polynomial features and in a Hessian's x**1."""
    x, c = np.array([0.0, 2.0]), np.array([1.0, 3.0, 0.5])
    for backend in ("numpy", "numba"):
        np.testing.assert_allclose(adcompiler.grad(polynomial, backend=backend)(x, c),
                                   c[1] + 2 * c[2] * x, rtol=1e-15)
        g = adcompiler.grad(lambda x, p: np.sum(x ** p), backend=backend)
        np.testing.assert_array_equal(g(x, 0.0), [0.0, 0.0])
        np.testing.assert_allclose(g(x, 2.0), 2 * x)
        h = adcompiler.hessian(lambda v: np.sum(v ** 1 + v ** 2), backend=backend)(x)
        np.testing.assert_allclose(h, 2 * np.eye(2))


def squared_tanh_of_product(a, b):
    return np.sum(np.tanh(a @ b) ** 2)


@pytest.mark.parametrize("shapes", [((2, 3, 0), (0, 2)), ((2, 3, 4), (4, 0)), ((2, 0, 3), (3, 2)),
                                    ((2, 3, 0), (0,))])
def test_products_with_a_zero_size_dimension_have_zero_size_or_zero_gradients(shapes):
    """A stack times a matrix with k = 0 or n = 0: the gradient raised (ZeroDivisionError
    counting the flattened rows; NumPy's reshape(-1, 0) in the Numba driver)."""
    a, b = np.ones(shapes[0]), np.ones(shapes[1])
    for backend in ("numpy", "numba"):
        ga, gb = adcompiler.grad(squared_tanh_of_product, wrt=(0, 1), backend=backend)(a, b)
        want_a = 2 * np.tanh(a @ b) * (1 - np.tanh(a @ b) ** 2) @ np.swapaxes(b, -1, -2) \
            if b.ndim == 2 else np.zeros(a.shape)
        assert ga.shape == a.shape and gb.shape == b.shape
        np.testing.assert_array_equal(ga, want_a)
        np.testing.assert_array_equal(gb, np.zeros(b.shape))


def masked_extremes(a, b):
    y = np.minimum(a, b) + np.maximum(a, 2.0) + np.clip(b, 0.0, a)
    return np.sum(np.where(np.isnan(y), 0.0, y))


def test_extremes_of_a_nan_dropped_by_a_where_have_zero_gradients():
    """maximum/minimum's derivative was SymPy's (sign(x - y) + 1) / 2: NaN where an operand is
    NaN, so the finite operand's gradient was NaN where a where dropped the result (JAX and
    torch: 0). Ties still share half each."""
    a, b = np.array([1.0, np.nan, 2.0, 3.0]), np.array([0.5, 3.0, 2.0, 1.0])
    for backend in ("numpy", "numba"):
        ga, gb = adcompiler.grad(masked_extremes, wrt=(0, 1), backend=backend)(a, b)
        # minimum: b, -, tie, b; maximum with 2: 2, -, tie, a; clip(b, 0, a): b, -, tie, b
        np.testing.assert_array_equal(ga, [0.0 + 0.0 + 0.0, 0.0, 0.5 + 0.5 + 0.5, 0 + 1 + 0])
        np.testing.assert_array_equal(gb, [1.0 + 0.0 + 1.0, 0.0, 0.5 + 0.0 + 0.5, 1 + 0 + 1])
