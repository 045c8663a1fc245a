"""Every op of the registry lowered by the Numba backend against the NumPy backend, each as a
one-op function on random inputs; and the registry walk: an op without a Numba lowering fails.
Tapes and control flow run in the corpus (loops and branches), not here."""
import sys

import numpy as np
import pytest

from adcompiler.backends import numba_cpu, numpy as numpy_backend
from adcompiler.ir import Block, Builder, Function, TensorType, registry
from adcompiler.ir.types import FROM_NUMPY

R = np.random.default_rng(5)


def normal(*s):
    return R.normal(size=s)


def positive(*s):
    return R.uniform(0.2, 2.0, s)


def unit(*s):
    return R.uniform(-0.9, 0.9, s)


def probability(*s):    # with 0, 1 and beyond, the ends' inf and NaN
    return R.choice([0.0, 1.0, -0.5, 1.5, 1e-300, 0.3, 0.6, 0.975], s)


def grid(*s):     # repeated values: comparisons see ties, maximum/minimum too
    return R.integers(-3, 4, s) * 0.5


def wide(*s):    # exp of these overflows (float32 beyond 88, float64 beyond 709)
    return R.normal(size=s) * 400


def square(*s):    # far from singular; its lower triangle that of a positive definite matrix
    return R.uniform(-1, 1, s) + s[-1] * np.eye(s[-1])


def above_one(*s):
    return R.uniform(1.0, 3.0, s)


def halves(*s):  # x.5 rounds to the even neighbour
    return R.integers(-6, 7, s) * 0.5


def specials(*s):
    return R.choice([0.5, -2.0, np.nan, np.inf, -np.inf], s)


def ints(*s):
    return R.integers(-5, 6, s)


def bools(*s):
    return R.random(s) > 0.5


UNARY = {"neg": normal, "exp": normal, "log": positive, "log1p": positive, "expm1": normal,
         "sqrt": positive, "tanh": normal, "sin": normal, "cos": normal, "tan": unit,
         "arcsin": unit, "arccos": unit, "arctan": normal, "sinh": normal, "cosh": normal,
         "abs": normal, "sign": grid, "floor": normal, "stop_gradient": normal,
         "log2": positive, "log10": positive, "exp2": normal, "erf": normal, "erfc": normal,
         "gammaln": normal, "gamma": normal, "ndtri": probability, "erfinv": unit,
         "expit": wide,
         "arcsinh": normal, "arccosh": above_one, "arctanh": unit, "ceil": normal,
         "trunc": normal, "rint": halves, "isnan": specials, "isinf": specials,
         "isfinite": specials, "cbrt": normal}
BINARY = {"add": normal, "sub": normal, "mul": normal, "div": positive, "pow": positive,
          "maximum": grid, "minimum": grid, "lt": grid, "le": grid, "gt": grid, "ge": grid,
          "eq": grid, "ne": grid, "logical_and": bools, "logical_or": bools, "arctan2": normal,
          "hypot": normal, "logaddexp": wide, "fmod": normal, "copysign": specials}
SL = dict(starts=(1, 0), stops=(4, 5), steps=(2, 1))
CASES = {  # op -> list of (operand arrays, attrs)
    **{op: [([gen(3, 4)], {}), ([gen(2, 1, 3)], {})] for op, gen in UNARY.items()},
    **{op: [([gen(3, 4), gen(3, 4)], {}), ([gen(2, 1, 4), gen(3, 1)], {})]
       for op, gen in BINARY.items()},
    "floordiv": [([normal(3, 4), positive(3, 4)], {}), ([ints(5), np.array([2, 3, 1, 4, 2])], {})],
    "mod": [([normal(3, 4), positive(4)], {}), ([ints(6), np.array([2, 3, 1, 4, 2, 5])], {})],
    "logical_not": [([bools(3, 4)], {})],
    "where": [([bools(3, 4), normal(3, 4), normal(4)], {}), ([bools(4), normal(2, 4), normal()], {})],
    "astype": [([normal(3, 4)], {"dtype": "f32"}), ([grid(5)], {"dtype": "i64"}),
               ([bools(4)], {"dtype": "f64"}), ([ints(4)], {"dtype": "bool"})],
    "sum": [([normal(3, 4, 5)], {"axes": (2,), "keepdims": True}),
            ([normal(3, 4, 5)], {"axes": (0, 1), "keepdims": False}),
            ([normal(3, 4, 5)], {"axes": (1,), "keepdims": False}),
            ([normal(6)], {"axes": (0,), "keepdims": False}),
            ([bools(3, 4)], {"axes": (1,), "keepdims": False})],
    "prod": [([positive(3, 4)], {"axes": (1,), "keepdims": False}),
             ([positive(3, 4)], {"axes": (0,), "keepdims": True})],
    "max": [([normal(3, 4, 5)], {"axes": (2,), "keepdims": True}),
            ([normal(3, 4)], {"axes": (0,), "keepdims": False}),
            ([ints(3, 4)], {"axes": (1,), "keepdims": False})],
    "min": [([normal(3, 4, 5)], {"axes": (1, 2), "keepdims": False}),
            ([normal(3, 4)], {"axes": (1,), "keepdims": True})],
    "cumsum": [([normal(3, 4)], {"axis": 1}), ([ints(3, 4)], {"axis": 0})],
    "argmax": [([normal(3, 4)], {"axis": 1, "keepdims": False})],
    "argmin": [([normal(3, 4)], {"axis": 0, "keepdims": True})],
    "argsort": [([normal(3, 4)], {"axis": 1}), ([grid(5, 3)], {"axis": 0}),
                ([ints(2, 6)], {"axis": -1})],
    "reshape": [([normal(3, 4)], {"shape": (2, 6)}), ([normal(3, 4)], {"shape": (3, 1, 4)})],
    "transpose": [([normal(2, 3, 4)], {"perm": (2, 0, 1)})],
    "broadcast_to": [([normal(4)], {"shape": (3, 4)}), ([normal(3, 1)], {"shape": (2, 3, 5)})],
    "concatenate": [([normal(2, 3), normal(4, 3)], {"axis": 0})],
    "slice": [([normal(5, 5)], SL)],
    "update_slice": [([normal(5, 5), normal(2, 5)], SL),
                     ([normal(4, 6), normal(4, 2)], dict(starts=(0, 1), stops=(4, 6), steps=(1, 3)))],
    "take": [([normal(5, 3), np.array([4, 0, 4, -1])], {"axis": 0}),
             ([normal(2, 5), np.array([[1, 2], [0, 0]])], {"axis": 1})],
    "scatter_add": [([normal(5, 3), np.array([4, 0, 4, -1]), normal(4, 3)], {"axis": 0}),
                    ([normal(2, 5), np.array([1, 1, 3]), normal(2, 3)], {"axis": 1})],
    "put": [([normal(5, 3), np.array([4, 0, 2]), normal(3, 3)], {"axis": 0})],
    "matmul": [([normal(3, 4), normal(4, 5)], {}), ([normal(2, 3, 4), normal(4, 5)], {}),
               ([normal(2, 1, 3, 4), normal(5, 4, 2)], {})],
    "correlate": [([normal(7), normal(3)], {}), ([normal(4), normal(4)], {}),
                  ([normal(6).astype(np.float32), normal(2).astype(np.float32)], {}),
                  ([normal(5, 4), normal(2, 3)], {}), ([ints(4, 3, 2), ints(2, 3, 1)], {})],
    "inv": [([square(3, 3)], {}), ([square(2, 3, 3)], {})],
    "solve": [([square(3, 3), normal(3, 2)], {}), ([square(2, 3, 3), normal(3, 1)], {})],
    "det": [([square(3, 3)], {}), ([square(2, 3, 3)], {})],
    "cofactor": [([square(3, 3)], {}), ([square(2, 3, 3)], {})],
    "logabsdet": [([square(3, 3)], {}), ([square(2, 3, 3)], {})],
    "detsign": [([-square(3, 3)], {}), ([square(2, 3, 3)], {})],
    "cholesky": [([square(3, 3)], {}), ([square(2, 3, 3)], {})],
    **{op: [([square(3, 3)], {"uplo": "L"}), ([square(2, 3, 3)], {"uplo": "U"})]
       for op in ("eigh_values", "eigh_vectors")},
    **{op: [([normal(3, 3)], {}), ([normal(2, 4, 2)], {}), ([normal(2, 3)], {})]
       for op in ("svd_values", "svd_u", "svd_vt", "qr_q", "qr_r")},
    "constant": [([], {"value": 2.5, "dtype": "f32"}),
                 ([], {"value": ((1, 2), (3, 4)), "dtype": "i64"})],
    "assert": [([np.array(True)], {"message": "holds"})],
    "iota": [([], {"shape": (3, 4), "axis": 1, "dtype": "i64"}),
             ([], {"shape": (5,), "axis": 0, "dtype": "f64"})],
}
COVERED_ELSEWHERE = ("tape",)     # tape ops: test_numba_corpus (loops differentiated)
CHECKED_BELOW = ("print",)        # what it writes, against Python's print (its value is a flag)


def test_every_op_has_a_numba_lowering():
    missing = [n for n, d in registry.all_ops().items()
               if "numba" not in d.lower and n not in numba_cpu.STRUCTURED]
    assert not missing, f"ops without lower['numba']: {missing}"


def test_every_op_has_a_case_here():
    missing = [n for n, d in registry.all_ops().items() if n not in CASES
               and n not in numba_cpu.STRUCTURED and d.kind not in COVERED_ELSEWHERE
               and n not in CHECKED_BELOW]
    assert not missing, f"add cases for: {missing}"


def test_a_false_assert_raises_with_its_message():
    fn = one_op_function("assert", [np.array(False)], {"message": "x {must} be 'positive'"})
    for backend in (numpy_backend, numba_cpu):
        with pytest.raises(AssertionError, match="x {must} be 'positive'"):
            backend.compile_function(fn)(np.array(False))


def test_a_print_writes_what_pythons_print_writes(capsys):
    x, y = np.float32(0.25), np.arange(3.0)
    fn = one_op_function("print", [np.asarray(x), y], {"format": "x={!s} {{y}}: [{!r}]",
                                                       "python": (False, False), "end": "!",
                                                       "stream": "stderr", "flush": True})
    for backend in (numpy_backend, numba_cpu):
        backend.compile_function(fn)(np.asarray(x), y)
        print(f"x={x} {{y}}: [{y!r}]", end="!", file=sys.stderr)
        err = capsys.readouterr().err
        assert err[:len(err) // 2] == err[len(err) // 2:], err


def one_op_function(name, arrays, attrs):
    types = [TensorType(FROM_NUMPY[a.dtype.name], a.shape) for a in arrays]
    body = Block(types, [f"a{i}" for i in range(len(types))])
    b = Builder(body)
    out = b.op(name, *body.args, **attrs)
    b.emit("return", [out])
    return Function(f"op_{name}", body)


# constant and iota take no float operands: their float32 run would repeat the float64 one
@pytest.mark.parametrize("name, dtype", [(n, d) for n in sorted(CASES)
                                         for d in (np.float64, np.float32)
                                         if d == np.float64 or n not in ("constant", "iota")])
def test_op_matches_numpy(name, dtype):
    for arrays, attrs in CASES[name]:
        arrays = [a.astype(dtype) if a.dtype == np.float64 else a for a in map(np.asarray, arrays)]
        fn = one_op_function(name, arrays, attrs)
        with np.errstate(all="ignore"):
            ref = numpy_backend.compile_function(fn)(*arrays)
        got = numba_cpu.compile_function(fn)(*arrays)
        ref, got = np.asarray(ref), np.asarray(got)
        assert got.shape == ref.shape and got.dtype == ref.dtype, (name, attrs)
        tol = 1e-12 if dtype == np.float64 else 2e-6
        np.testing.assert_allclose(got, ref, rtol=tol, atol=tol, err_msg=f"{name} {attrs}")


def int64_edges(n, m):
    return (n + 1) > n, (n * 2) // 2 == n, n * 10 > 0, n // m, n % m, -n, n - m


def test_int64_arithmetic_wraps_as_numpys():
    """Numba's integer add, sub and mul carry LLVM's `nsw`, so LLVM folded `n + 1 > n` to True
    for n = 2**63 - 1 (NumPy's wrapped value says False), and its INT64_MIN // -1 was 0 (NumPy:
    INT64_MIN): a gradient masked by such a comparison changed with it."""
    import adcompiler
    n = np.array([2 ** 62, 2 ** 63 - 1, -2 ** 63, 5, -2 ** 63], dtype=np.int64)
    m = np.array([3, -1, -1, 2, 1], dtype=np.int64)
    with np.errstate(over="ignore"):
        want = int64_edges(n, m)
        got = adcompiler.jit(int64_edges, backend="numba")(n, m)
    for w, g in zip(want, got, strict=True):
        np.testing.assert_array_equal(g, w)
