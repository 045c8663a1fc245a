"""NumPy functions, array methods and attributes: each traced function's IR, run by the NumPy
backend, gives what NumPy gives (values, dtype, shape)."""
import numpy as np
import pytest

import adcompiler
from fecheck import check, ops, rand

UNARY = [np.exp, np.log, np.log1p, np.expm1, np.sqrt, np.tanh, np.sin, np.cos, np.tan,
         np.arcsin, np.arccos, np.arctan, np.sinh, np.cosh, np.abs, np.sign, np.floor,
         np.square, np.negative]


@pytest.mark.parametrize("ufunc", UNARY, ids=lambda u: u.__name__)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_unary(ufunc, dtype):
    x = (np.tanh(rand(2, 3)) * 0.9).astype(dtype) if dtype != np.int64 else np.arange(6).reshape(2, 3)
    if ufunc in (np.log, np.sqrt, np.log1p):
        x = np.abs(x) + 1
    if ufunc in (np.arcsin, np.arccos) and dtype == np.int64:
        x = np.zeros((2, 3), np.int64)
    check(lambda x: ufunc(x), x)


def test_binary_functions():
    def f(x, y):
        return (np.maximum(x, y), np.minimum(x, 0.0), np.add(x, y), np.subtract(x, 1),
                np.multiply(x, y), np.divide(x, 2), np.power(np.abs(x), y),
                np.where(x > y, x, y), np.where(x > 0, 1.0, x), np.clip(x, -0.5, 0.5),
                np.clip(x, None, 0.1), x.clip(0, 1), np.logical_and(x > 0, y > 0))
    check(f, rand(3, 4), rand(4))
    check(f, rand(3, 4, dtype=np.float32), rand(4, dtype=np.float32))


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "prod", "var", "std"])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions(name, axis, keepdims):
    fn = getattr(np, name)
    check(lambda x: fn(x, axis=axis, keepdims=keepdims), rand(2, 3, 4))


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int32, np.int64, np.bool_])
def test_reduction_dtypes(dtype):
    x = (rand(3, 5) * 3).astype(dtype)
    check(lambda x: (np.sum(x), x.sum(0), np.mean(x, 1), x.mean(), np.var(x), np.std(x, 0),
                     np.max(x, 1), x.min(), np.prod(x[:, :2], 1)), x)


def test_reduction_methods_and_variants():
    def f(x):
        return (x.sum(axis=1), x.mean(-1, keepdims=True), x.max(0), x.min(axis=(0, 1)),
                x.var(ddof=1), x.std(axis=0, ddof=1), x.prod(), np.argmax(x), np.argmax(x, 1),
                x.argmax(axis=0), np.argmin(x, axis=1, keepdims=True), np.any(x > 1),
                np.all(x > -5, axis=0), np.sum(x, dtype=np.float32), np.amax(x), x.any())
    check(f, rand(3, 4))


def test_reduction_arguments_by_position_land_where_numpys_do():
    # NumPy's `out` slot sits before keepdims (after dtype, or after axis): given by position,
    # keepdims, initial and ddof must be read from NumPy's places, not one slot early
    def f(x):
        return (np.sum(x, 0, None, None, True), np.sum(x, 1, None, None, False, 5.0),
                np.prod(x, 0, None, None, True), np.max(x, 0, None, True), np.amin(x, 1, None, True),
                np.min(x, 1, None, False, 9.0), np.mean(x, 0, None, None, True),
                np.var(x, 0, None, None, 1), np.std(x, 1, None, None, 1, True),
                np.any(x > 0, 0, None, True), np.all(x > -1, 1, None, True),
                np.argmax(x, 1, None, keepdims=True), np.argmin(x, 0, None),
                x.sum(0, None, None, True), x.max(1, None, True), x.mean(1, None, None, True),
                x.var(1, None, None, 1), x.argmax(0, None),
                np.concatenate([x, x], 1, None), np.stack([x, x], 0, None, dtype=np.float32),
                np.zeros_like(x, np.float32, "C"), np.ones_like(x, None, "K", True, (2,)),
                np.full_like(x, 2.0, None, "C", True))
    check(f, rand(3, 4))


@pytest.mark.parametrize("call", [lambda x, o: np.sum(x, 0, None, o), lambda x, o: np.max(x, 0, o),
                                  lambda x, o: np.mean(x, None, None, o), lambda x, o: x.any(0, o),
                                  lambda x, o: np.argmax(x, 0, o),
                                  lambda x, o: np.concatenate([x, x], 0, o)])
def test_reduction_out_is_refused(call):
    x = rand(3, 4)
    with pytest.raises(adcompiler.AdcompilerError, match=r"out=\.\.\.\) is not supported"):
        adcompiler.jit(lambda x: call(x, np.empty(4)), backend="numpy")(x)


def test_ufunc_operands_given_as_lists_of_run_time_values():
    def f(x):
        return (np.exp([x[0], 1.0]), np.where([x[0] > 1, True], [x[1], 2.0], x),
                np.add((x[0], x[1]), [1.0, x[0]]))
    check(f, rand(2))
    g = adcompiler.grad(lambda x: sum(np.sum(v) for v in f(x)), backend="numpy")(np.array([1.0, 2.0]))
    np.testing.assert_allclose(g, [np.e + 1 + 2, 1.0])


def test_numpy_spellings_numpy_takes():
    def f(x):
        return (np.sum(x, axis=np.int64(1)), x.mean(np.int32(-1)), x.transpose(None),
                np.clip(x, None, None), x.flatten("F"), np.ravel(x, "F"), x.ravel(order="C"),
                np.take(x, []), x.take([], axis=1))
    check(f, rand(2, 3))
    with pytest.raises(adcompiler.AdcompilerError, match="only order='C' and order='F'"):
        adcompiler.jit(lambda x: x.ravel("K"), backend="numpy")(rand(2, 3))


def test_shape_functions():
    def f(x, v):
        return (np.reshape(x, (4, 6)), x.reshape(2, -1), x.reshape((6, 4)), x.T,
                np.transpose(x), np.transpose(x, (1, 0, 2)), x.transpose(2, 0, 1),
                np.swapaxes(x, 0, 2), x.swapaxes(1, 2), np.expand_dims(v, 0),
                np.expand_dims(v, (0, 2)), np.squeeze(x[:, :1]), np.squeeze(x[:1], axis=0),
                x[:1].squeeze(0), np.ravel(x), x.flatten(), np.moveaxis(x, 0, -1),
                np.broadcast_to(v, (3, 4)), np.concatenate([x, x], axis=1),
                np.concatenate((v, v)), np.stack([v, v, v]), np.stack([v, v], axis=1),
                np.vstack([v, v]), np.hstack([v, v]), np.concatenate([x, x], axis=None))
    check(f, rand(2, 3, 4), rand(4))


def test_atleast_and_asanyarray():
    """Values and shapes as NumPy's; an array that has the axes already is itself (a change
    through the result reaches it), one that gets axes is a view."""
    def f(s, v, m, c):
        a = np.atleast_2d(m)
        a += c
        b1, b2 = np.atleast_1d(s, v)
        return (a, m, b1, b2, np.atleast_2d(s), np.atleast_2d(v), np.atleast_3d(s),
                np.atleast_3d(v), np.atleast_3d(m), np.atleast_1d(v * 2.0),
                np.asanyarray(m) * 2.0, np.asanyarray(v, dtype=np.float32))
    check(f, rand(), rand(4), rand(2, 3), np.float64(0.5))


def test_creation_functions():
    def f(x, n):
        e = np.empty((1, 2))        # its contents are NumPy's garbage: compared once written
        e[:] = 2.0
        return (np.zeros((2, 3)), np.ones(4), np.ones((2,), dtype=np.float32), np.full((2, 2), 7),
                np.full((2,), 0.5, dtype=np.float32), np.zeros_like(x), np.ones_like(x),
                np.full_like(x, 3), np.zeros_like(x, dtype=np.int32), e,
                np.arange(n), np.arange(2, 10, 3), np.arange(0.0, 1.0, 0.25),
                np.arange(5, dtype=np.float32), np.eye(3), np.eye(2, 3, k=1),
                np.triu(x), np.tril(x), np.triu(x, 1), np.tril(x, -1), np.identity(2),
                np.full((3,), np.sum(x)))
    fn = check(f, rand(3, 3), 4)
    assert "iota" in ops(fn)


def test_triu_tril_batched():
    check(lambda a: (np.tril(a), np.triu(a, k=-1)), rand(2, 3, 4))


def test_dot_matmul_outer():
    def f(a, b, v, w, t):
        return (np.dot(a, b), np.dot(v, w), np.dot(a, v), np.dot(v, b), np.matmul(a, b),
                np.matmul(t, b), np.matmul(v, b), np.outer(v, w), np.dot(2.0, v),
                np.dot(t, v), a.dot(b), np.dot(t, np.ones((2, 3, 5))))
    check(f, rand(2, 3), rand(3, 2), rand(3), rand(3), rand(4, 2, 3))


@pytest.mark.parametrize("spec,shapes", [
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
    ("ij,ij->j", [(3, 4), (3, 4)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij,jk", [(3, 4), (4, 2)]),
    ("ij->ji", [(3, 4)]),
    ("ij->", [(3, 4)]),
    ("bqk,bkd->bqd", [(2, 3, 4), (2, 4, 5)]),
    ("ijk,ikl,lm->jm", [(2, 3, 4), (2, 4, 5), (5, 2)]),
    ("ij,kj->ik", [(3, 4), (2, 4)]),
    ("i,i->", [(5,), (5,)]),
    ("...i,...i->...", [(2, 3, 4), (3, 4)]),           # ellipses broadcast, as NumPy's
    ("...ij,...jk->...ik", [(1, 3, 4), (2, 4, 5)]),
    ("i...->...", [(3, 2, 4)]),
    ("...", [(2, 3)]),
    ("ij...,j...", [(3, 4, 2), (4, 1)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("ij,ij->ij", [(2, 1), (2, 3)]),                    # any index's size 1 broadcasts
    ("ij,jk->ik", [(2, 1), (3, 4)]),
])
def test_einsum(spec, shapes):
    arrays = [rand(*s) for s in shapes]
    fn = check(lambda *xs: np.einsum(spec, *xs), *arrays)
    if spec == "bij,bjk->bik":
        assert ops(fn) == ["matmul", "return"]


def test_einsum_repeated_output_index_is_an_error():
    """A repeated index within an operand is a trace or diagonal (test_frontend_assembly.py);
    repeated in the output it is an error, as in NumPy."""
    with pytest.raises(adcompiler.TraceError, match="bad output subscripts 'ii'"):
        adcompiler.trace(lambda a: np.einsum("ij->ii", a), rand(3, 3))


def test_einsum_sublist_form_and_optimize():
    """np.einsum(a, [0, 1], b, [1, 2], [0, 2]) was a TraceError about dtypes ('Field
    elements must be 2- or 3-tuples'), optimize= an unexpected keyword."""
    a, b, c = rand(2, 3), rand(3, 4), rand(4, 2)
    check(lambda a, b: np.einsum(a, [0, 1], b, [1, 2], [0, 2]), a, b)
    check(lambda a, b: np.einsum(a, [30, 1], b, [1, 2]), a, b)        # implicit: 2, then 30
    check(lambda a: np.einsum(a, [Ellipsis, 0], [0, Ellipsis]), rand(2, 3, 4))
    check(lambda a, b, c: np.einsum("ij,jk,kl->il", a, b, c, optimize=True), a, b, c)
    check(lambda a, b: np.einsum(a, range(2), b, (1, np.int64(2))), a, b)
    for bad in ([0, 60], [0, -1], [True, 1]):       # NumPy: out of range, a bool
        with pytest.raises(adcompiler.TraceError, match="labels are lists of ints 0-51"):
            adcompiler.trace(lambda a: np.einsum(a, bad), a)
    with pytest.raises(adcompiler.TraceError, match="index 'i' has sizes 1 and 3"):
        adcompiler.trace(lambda a: np.einsum("ii->i", a), rand(1, 3))   # NumPy: ValueError


def test_einsum_with_ellipses_differentiates():
    adcompiler.check_grad(lambda x, y: np.sum(np.sin(np.einsum("...ij,...j->...i", x, y))),
                          rand(2, 3, 4), rand(4), wrt=("x", "y"), backend="numpy")
    adcompiler.check_grad(lambda x, y: np.sum(np.sin(np.einsum("ij,jk->ik", x, y))),
                          rand(2, 1), rand(3, 4), wrt=("x", "y"), backend="numpy")


def test_einsum_ellipsis_axes_must_reach_the_output():
    """'...->' summed the ellipsis axes, where NumPy raises."""
    check(lambda x: (np.einsum("ij...->", x), np.einsum("...i->...", x)), rand(2, 3))
    for spec in ("...->", "...i->"):
        with pytest.raises(adcompiler.AdcompilerError, match="no '...' to broadcast"):
            adcompiler.jit(lambda x: np.einsum(spec, x), backend="numpy")(rand(2, 3))


def test_more_array_methods_attributes_and_builtins():
    def f(x, k, s, i):
        y = x.copy()
        y.fill(s)
        z = x.copy()
        z.partition(1, axis=0)
        w = x.copy()
        w.fill(3)
        return (y, z[1], w, x.view(), x.real, x.imag, np.real(x), np.imag(k), np.conj(x),
                x.conj(), x.nbytes + x.itemsize, k.argpartition(2)[:, 2],
                round(s), round(s, 1), round(float(s)), divmod(x, s), divmod(i, 3), pow(x, 2),
                pow(s, i))
    check(f, rand(3, 4), np.arange(12).reshape(3, 4) % 5, np.float64(2.675), np.int64(7))
    with pytest.raises(adcompiler.TraceError, match=r"round\(2.675, 2\) is 2.67"):
        adcompiler.trace(lambda s: round(float(s), 2), np.float64(2.675))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_choose(backend):
    def f(a, x, y):
        # (choices as an array too: its rows, a policy's probabilities at the actions taken;
        # it was refused, 'iteration needs a compile-time value')
        return (np.choose(a, [x, y, 2.0]), np.choose(a + 3, [x, y, x * y], mode="wrap"),
                np.choose(a - 1, [x, y], mode="clip"), np.choose(np.int64(1), [x, y]),
                np.choose(a, x))
    a, x, y = np.array([[0, 1, 2, 1]]), rand(3, 4), rand(4)
    got = adcompiler.jit(f, backend=backend)(a, x, y)
    for g, w in zip(got, f(a, x, y), strict=True):
        np.testing.assert_array_equal(g, w)
    with pytest.raises(adcompiler.AssertionFailed, match="invalid entry in choice array"):
        adcompiler.jit(f, backend=backend)(np.array([[0, 3, 0, 0]]), x, y)
    adcompiler.check_grad(lambda x, y: np.sum(np.sin(np.choose(a, [x, y, x * y]))), x, y,
                          wrt=("x", "y"), backend=backend)


def test_take_and_astype_and_attributes():
    def f(x, idx):
        return (np.take(x, idx, axis=0), np.take(x, idx), x.take(idx, axis=1),
                x.astype(np.float32), x.astype("int32"), x.astype(x.dtype), (x > 0).astype(float),
                x.shape, x.ndim, x.size, x.shape[0] * 2, len(x), x.dtype == np.float64,
                np.float32(x), x.copy(), np.array(x), np.asarray(x, dtype=np.float32))
    check(f, rand(4, 3), np.array([2, 0, 1]))


def test_static_numpy_calls_are_computed_at_trace_time():
    def f(x):
        c = np.sqrt(2.0 / np.pi)
        return x * c + np.exp(1.0) + np.max([1.0, 3.0])
    fn = check(f, rand(3))
    assert "sqrt" not in ops(fn) and "exp" not in ops(fn)


def test_array_from_traced_scalars():
    def f(x):
        return np.array([np.sum(x), np.max(x), 1.0]), np.array([[x[0], x[1]], [x[2], 0.0]])
    check(f, rand(3))


def test_item_and_python_conversions():
    def f(x):
        s = np.sum(x)
        return s.item() * 2, float(s) + 1, int(s * 10), float(x[0]) * x
    check(f, rand(3, dtype=np.float32))


def test_item_of_an_entry_and_a_view_as_its_own_dtype():
    """x.item(k), x.item(i, j), x.item((i, j)) and x.view(x.dtype) were refused."""
    def f(x):
        return x.item(4) * x.item(1, 0) + x.item((0, 1)), x.view(np.float64) * 2, \
            x.item(-1) + 0 * x
    check(f, rand(3, 2))


def test_cumsum():
    def f(x, k):
        return (np.cumsum(x), np.cumsum(x, axis=0), x.cumsum(-1), np.cumsum(k, axis=1),
                np.cumsum(x[0], dtype=np.float32), np.cumsum(k > 0), k.cumsum())
    check(f, rand(3, 4), np.arange(12, dtype=np.int32).reshape(3, 4) - 5)


def test_unsupported_numpy_function_is_named():
    with pytest.raises(adcompiler.TraceError, match=r"np\.spacing is not supported"):
        adcompiler.trace(lambda x: np.spacing(x), rand(3))


def test_a_ufunc_from_elsewhere_is_not_called_numpys():
    """SciPy's ufuncs carry no module: one (erf, before it was supported) was reported as
    np.erf."""
    from scipy import special
    with pytest.raises(adcompiler.TraceError, match=r"'?dawsn is not supported") as e:
        adcompiler.trace(lambda x: special.dawsn(x), rand(3))
    assert "np.dawsn" not in str(e.value)


def test_a_list_of_run_time_values_is_an_array_to_numpy_functions():
    """np.mean([a, b]) of traced scalars, or of arrays (nested too), is what NumPy computes of
    np.array of the list; it was refused ('make it one with np.array')."""
    def f(x):
        a, b = np.sum(x), np.max(x)
        return (np.mean([a, b]), np.maximum([x[0], x[1]], 0.0), np.std([[a, b], [b * 2, a]]),
                np.sum([x, 2 * x], axis=0), np.exp([a, 1.0]))
    check(f, rand(3))


def test_ufunc_reduce_is_numpys_reduction_of_the_ufunc():
    """np.add.reduce and the like were refused ('ufunc.reduce is not supported')."""
    def f(x, m):
        return (np.add.reduce(x), np.multiply.reduce(x, axis=1, keepdims=True),
                np.maximum.reduce(x, axis=None), np.minimum.reduce([x[0], x[1]]),
                np.logaddexp.reduce(x, axis=1), np.logical_and.reduce(m, axis=0),
                np.logical_or.reduce(x > 0.5, axis=1), np.add.reduce(m, dtype=np.float32))
    check(f, rand(3, 4), rand(3, 4) > 0.3)
    # a 0-d value reduces to itself along axis 0 or -1 (np.sum refuses those axes)
    check(lambda x: (np.add.reduce(np.sum(x)), np.maximum.reduce(np.sum(x), axis=-1),
                     np.logaddexp.reduce(np.sum(x))), rand(3))
    with pytest.raises(adcompiler.TraceError, match=r"np\.arctan2\.reduce is not supported"):
        adcompiler.trace(lambda x: np.arctan2.reduce(x), rand(3))


def test_ufunc_at_refuses_what_it_does_not_do():
    """np.add.at's values and gradients: test_inplace_updates.py."""
    def into_ints(x):
        n = np.zeros(3, np.int64)
        np.add.at(n, [0, 0], x)
        return n

    for f, said in ((lambda x: np.multiply.at(x, [0], 2.0), r"np\.multiply\.at is not supported"),
                    (into_ints, r"np\.add\.at of float64 values into an array of int64"),
                    (lambda x: np.add.at(x, x > 0.5, 1.0), r"np\.add\.at with a run-time "
                                                         r"boolean mask")):
        with pytest.raises(adcompiler.TraceError, match=said):
            adcompiler.trace(f, rand(3))


def pairwise(x, labels):
    """ufunc.outer as metric-learning code writes it: differences, same-label pairs."""
    d = np.subtract.outer(x, x)
    same = np.equal.outer(labels, labels)
    return np.where(same, d ** 2, 0.0), np.multiply.outer(x, x[:2]), np.add.outer(x, 1.0)


def test_ufunc_outer():
    check(pairwise, rand(4), np.array([0, 1, 0, 1]))
    for backend in ("numpy", "numba"):
        adcompiler.check_grad(lambda x, lab: sum(np.sum(r) for r in pairwise(x, lab)), rand(4),
                              np.array([0, 1, 0, 1]), backend=backend)
