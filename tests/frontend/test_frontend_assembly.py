"""NumPy functions that assemble, reshape, choose among or combine arrays, built from existing
IR ops: column_stack, dstack, row_stack, block, append, insert, delete, rot90 (frontend/
shapes.py, composites.py); select, piecewise, polyval (arith.py); vdot, inner, matvec, vecmat,
vecdot, np.linalg's product and norm functions, einsum's repeated indices (linalg.py);
trapezoid and gradient (calculus.py); cov and corrcoef (statistics.py). Values, dtypes and
shapes against NumPy running the same function (int, bool and float32 inputs too); gradients
against central finite differences in float64 (NumPy backend, and one Numba program covering
them together); views as NumPy makes them; located errors for the variants left out."""
import numpy as np
import pytest

import adcompiler
from adcompiler import TraceError
from fecheck import check, rand, weighted

FILE = "test_frontend_assembly.py"
row_stack = getattr(np, "row_stack", np.vstack)     # NumPy 2's deprecated alias, while it exists


def ints(*shape, dtype=np.int64):
    return np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape) - 3


# -- assembling ----------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:.*row_stack:DeprecationWarning")
def test_stacks_and_block():
    def f(x, y, v, s, k, b):
        rs = row_stack([v, v])
        return (np.column_stack([v, v * 2.0]), np.column_stack((x, v[:3], k[:, 0])),
                np.column_stack([s, s]), np.column_stack([b[0], v[:3]]),
                np.dstack([x, y]), np.dstack((v, v)), np.dstack([s, 1.0]),
                np.dstack([k[:2], b.astype(np.float32)]), rs, row_stack((x, y)),
                np.block([x, y]), np.block([[x, y], [y, x]]),
                np.block([[v[:2], 1.0], [s, k[0, :2]]]),
                np.block(x), np.block([[[x]], [[y]]]), np.block([v, 2, s]),
                np.block([[x], [k[:2, :2].astype(np.float32)]]), np.block([[b[0]], [b[1]]]))
    check(f, rand(3, 2), rand(3, 2), rand(5), rand(), ints(3, 3, dtype=np.int32), rand(2, 3) > 0)


def test_append_insert_delete():
    def f(x, t3, v, s, k, b):
        return (np.append(v, s), np.append(x, [1.0, 2.0]), np.append(x, x, axis=0),
                np.append(x, [[7, 8, 9]], axis=0), np.append(k, v[:3]), np.append(b, True),
                np.append(v.astype(np.float32), 2.5),
                np.insert(v, 1, s), np.insert(v, [0, 2, 5], [s, 2.0, 3.0]), np.insert(v, -1, x[0]),
                np.insert(x, 1, 5.0, axis=1), np.insert(x, [1], [[1], [2]], axis=1),
                np.insert(x, 2, v[:2], axis=1), np.insert(x, 0, v[:3], axis=0),
                np.insert(x, slice(0, 3, 2), s, axis=1), np.insert(x, [2, 0], x[:, :2], axis=1),
                np.insert(t3, 1, s, axis=-1), np.insert(k, 1, 2.7), np.insert(b, 0, False, 0),
                np.insert(x, [], 1.0, axis=0), np.insert(x, np.array([True, False, True]), s, 1),
                np.delete(v, 2), np.delete(v, [0, -1]), np.delete(x, 1, axis=1),
                np.delete(x, slice(None, None, 2), 0), np.delete(t3, [0, 1], axis=2),
                np.delete(x, [1, 4]), np.delete(k, np.array([True, False, True]), axis=0),
                np.delete(b, 0, axis=1), np.delete(v, []))
    check(f, rand(2, 3), rand(2, 3, 4), rand(5), rand(), ints(3, 2, dtype=np.int32),
          rand(2, 3) > 0)


def test_rot90():
    def f(x, t3, k):
        return (np.rot90(x), np.rot90(x, 2), np.rot90(x, -1), np.rot90(x, 3), np.rot90(x, 4),
                np.rot90(t3, 1, (1, 2)), np.rot90(t3, k=-3, axes=(2, 0)), np.rot90(t3, 2, (0, -1)),
                np.rot90(k), np.rot90(x, axes=(1, 0)))
    check(f, rand(3, 4), rand(2, 3, 4), ints(2, 3, dtype=np.int32) > 0)


# -- choosing ------------------------------------------------------------------------------------

def test_select():
    def f(x, v, s, k):
        return (np.select([x < -0.5, x > 0.5], [x * 2.0, -x]), np.select([x > 0], [x], default=s),
                np.select([v > 0, v < 0.3], [1, 2], 3.5),
                np.select([x > 0, x < 0], [k[0], v[:3, None]]),
                np.select([k > 0], [k]), np.select([x > 0], [x.astype(np.float32)], 2.0),
                np.select([v > 0], [0]), np.select([x > 0, x > 1], [1, 2], default=-1))
    check(f, rand(3, 2), rand(5), rand(), ints(3, 2, dtype=np.int32))


def test_piecewise():
    def f(x, v, s, k):
        def cube(y, a):
            return y ** 3 + a
        return (np.piecewise(v, [v < 0, v >= 0], [lambda y: -y, lambda y: y ** 2]),
                np.piecewise(x, [x < -0.5, x > 0.5], [np.sin, 2.0, np.cos]),
                np.piecewise(v, [v > 0], [lambda y: y * s]), np.piecewise(v, v > 0, [s, 1.0]),
                np.piecewise(k, [k < 0, k > 1], [lambda y: y * 2.5, 7]),
                np.piecewise(v.astype(np.float32), [v < 0], [cube, 0.0], 1.5),
                np.piecewise(x, [x < 0], [cube], a=2.0), np.piecewise(v, [True, False, True, True,
                                                                         False], [s]),
                np.piecewise(v, [v > 0, v > 0.5], [1.0, 2.0]), np.piecewise(s, [s > 0], [np.exp]))
    check(f, rand(3, 2), rand(5), rand(), ints(3, 2))


def root_of_positives(x):
    return np.sum(np.piecewise(x, [x > 0], [np.sqrt, 0.0]))


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_piecewise_function_on_unselected_entries(backend):
    """np.piecewise's functions run on the whole array here: np.sqrt's NaN on the negative
    entries is dropped from the value, as NumPy's (which never computes it), but its NaN
    derivative there reaches the gradient, a NaNError naming the line."""
    x = np.array([-1.0, 4.0])
    assert adcompiler.jit(root_of_positives, backend=backend)(x) == root_of_positives(x) == 2.0
    line = root_of_positives.__code__.co_firstlineno + 1
    with pytest.raises(adcompiler.NaNError, match=f"NaN produced at {FILE}:{line} "):
        adcompiler.grad(root_of_positives, backend=backend)(x)


@pytest.mark.parametrize("p", [[2.0, -1.0, 0.5], [3], np.array([1, 2, 3]), [1.5, 0.0, -2.0, 4.0]])
def test_polyval_static_coefficients(p):
    def f(x, v, k, h):
        return np.polyval(p, x), np.polyval(p, v), np.polyval(p, k), np.polyval(p, h)
    check(f, rand(3, 2), rand(5), ints(4), rand(4, dtype=np.float32))


def test_polyval_run_time_coefficients():
    def f(c, x, s, k, h):
        return (np.polyval(c, x), np.polyval(c, s), np.polyval(c, 2.0), np.polyval(c[:1], x),
                np.polyval(k, x), np.polyval(h, x), np.polyval(h, h), np.polyval(c, k),
                np.polyval(x, c[:2]))
    check(f, rand(4), rand(3, 2), rand(), ints(3), rand(3, dtype=np.float32))


# -- products ------------------------------------------------------------------------------------

def test_vdot_inner_gufuncs():
    def f(x, y, t3, v, k, b, h):
        return (np.vdot(x, y), np.vdot(v[:4], x[:2].T), np.vdot(k, k), np.vdot(b, b),
                np.inner(v, v), np.inner(x, y), np.inner(t3, x), np.inner(v[:2], t3[:, :2, :2]),
                np.inner(x, 2.0), np.inner(k, x[:, :2]), np.inner(b, b), np.inner(h, h),
                np.matvec(x.T, v[:3]), np.matvec(t3, x[0]),
                np.matvec(x.T[None], v[:3, None, ...].T),
                np.matvec(k.T, k[0]), np.vecmat(v[:3], x), np.vecmat(v[:3], t3), np.vecmat(k[0], k),
                np.vecdot(x, y), np.vecdot(x, v[:2]), np.vecdot(t3, x), np.vecdot(x, y, axis=0),
                np.vecdot(b, b), np.vecdot(k, k), np.vecdot(h, h), np.vecdot(h, x))
    check(f, rand(3, 2), rand(3, 2), rand(4, 3, 2), rand(5), ints(2, 2), rand(2, 3) > 0,
          rand(3, 2, dtype=np.float32))


def test_products_keep_int32_and_bool_and_take_python_scalars_as_arrays():
    """Sums of products of int32 stay int32 and einsum's sums of booleans are booleans (the sum
    op widens both to int64); boolean products of empty vectors are False; Python scalars are
    arrays (strong) to np.dot, inner, vdot and outer."""
    def f(k, b, e, x, s):
        return (np.vdot(k, k), np.inner(k[0], k[1]), np.dot(k[0], k[1]), k[0] @ k[1],
                np.vecdot(k, k), np.inner(k, b), np.einsum("ii", k), np.einsum("ij->", k),
                np.einsum("ii", b), np.einsum("ij->j", b), np.vdot(e, e), np.inner(e, e),
                np.einsum("i->", e), np.inner(x, 2.0), np.inner(x, s), np.dot(x, s),
                np.outer(x, s), np.vdot(x[0], s), np.inner(x[0], 3))
    check(f, ints(3, 3, dtype=np.int32), rand(3, 3) > 0, np.ones(0, bool),
          rand(2, dtype=np.float32), 2.5)


def test_linalg_namespace():
    la = np.linalg

    def f(x, y, t3, v, k):
        return (la.matmul(x, y.T), la.matmul(v[:3], x.T), la.vecdot(x, y), la.vecdot(x, y, axis=0),
                la.matrix_transpose(t3), np.matrix_transpose(x), t3.mT, la.outer(v, v[:2]),
                la.outer(k[0], v), la.tensordot(x, y), la.tensordot(t3, x, axes=([1], [0])),
                la.tensordot(x, y.T, axes=1), la.cross(x, y),
                la.cross(t3[0, :, 0], y, axis=-1), la.diagonal(t3), la.diagonal(x, offset=-1),
                la.trace(t3), la.trace(k, offset=1), la.trace(x, dtype=np.float32),
                la.vector_norm(x), la.vector_norm(t3, axis=1), la.vector_norm(t3, axis=(0, 2)),
                la.vector_norm(t3, axis=(2, 0), keepdims=True), la.vector_norm(x, ord=1),
                la.vector_norm(t3, keepdims=True, ord=np.inf), la.vector_norm(k, ord=3, axis=-1),
                la.vector_norm(v, ord=0), la.matrix_norm(x), la.matrix_norm(t3, ord=1),
                la.matrix_norm(t3, keepdims=True, ord="nuc"), la.matrix_norm(k, ord=-np.inf),
                la.vector_norm(x.astype(np.float32), axis=-1))
    check(f, rand(3, 3), rand(3, 3), rand(2, 3, 4), rand(5), ints(3, 3, dtype=np.int32))


def test_einsum_repeated_indices():
    def f(x, t3, a4, v, k, h):
        return (np.einsum("ii", x), np.einsum("ii->i", x), np.einsum("ii->", x),
                np.einsum("bii->b", t3), np.einsum("bii->bi", t3), np.einsum("bii", t3),
                np.einsum("iji->j", a4), np.einsum("ii,i->i", x, v[:3]),
                np.einsum("ij,jj->i", x, x), np.einsum("iii->i", a4),
                np.einsum("ijij->ij", x[:, :, None, None] * x),
                np.einsum("ii->i", k), np.einsum("ii", k), np.einsum("ii->i", h),
                np.einsum("jii->ij", t3), np.einsum("ij,kk->ij", x, x))
    check(f, rand(3, 3), rand(2, 3, 3), rand(3, 3, 3), rand(5), ints(3, 3), rand(2, 2) > 0)


# -- calculus and statistics ----------------------------------------------------------------------

def test_trapezoid():
    def f(y, t3, v, s, k, h):
        return (np.trapezoid(v), np.trapezoid(y), np.trapezoid(y, axis=0), np.trapezoid(v, dx=0.5),
                np.trapezoid(v, dx=s), np.trapezoid(y, v[:3]), np.trapezoid(y, y, axis=0),
                np.trapezoid(t3, dx=np.float32(2.0), axis=1), np.trapezoid(k), np.trapezoid(h),
                np.trapezoid(h, dx=2), np.trapezoid(k, x=np.arange(4.0)), np.trapezoid(v[:1]))
    check(f, rand(2, 3), rand(2, 3, 4), rand(5), rand(), ints(3, 4), rand(6, dtype=np.float32))


@pytest.mark.parametrize("edge_order", [1, 2])
def test_gradient(edge_order):
    def f(y, t3, v, s, k, h):
        return (np.gradient(v, edge_order=edge_order), np.gradient(y, edge_order=edge_order),
                np.gradient(y, 0.5, edge_order=edge_order),
                np.gradient(y, s, 2.0, edge_order=edge_order),
                np.gradient(t3, axis=1, edge_order=edge_order),
                np.gradient(t3, 2.0, axis=(0, 2), edge_order=edge_order),
                np.gradient(t3, np.float64(0.25), axis=-1, edge_order=edge_order),
                np.gradient(k, edge_order=edge_order), np.gradient(h, 2, edge_order=edge_order),
                np.gradient(h, np.float64(0.1), edge_order=edge_order),
                np.gradient(v[:3], s, edge_order=edge_order))
    check(f, rand(3, 4), rand(3, 4, 3), rand(5), np.float64(0.3), ints(3, 4) ** 2,
          rand(6, dtype=np.float32))


@pytest.mark.filterwarnings("ignore:Degrees of freedom:RuntimeWarning")   # cov of 1 sample
@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_cov_and_corrcoef():
    def f(x, y, v, k, h):
        return (np.cov(x), np.cov(x, rowvar=False), np.cov(x, bias=True), np.cov(x, ddof=0),
                np.cov(x, ddof=2), np.cov(v), np.cov(v, v[::-1]), np.cov(x, y),
                np.cov(x, x[:, :2] ** 2, rowvar=False), np.cov(k), np.cov(h),
                np.cov(x, dtype=np.float32),
                np.cov(v[:1], ddof=1), np.cov(x, x[:, 0], rowvar=False),
                np.corrcoef(x), np.corrcoef(x, rowvar=False), np.corrcoef(v), np.corrcoef(x, y),
                np.corrcoef(k), np.corrcoef(h), np.corrcoef(v, v[::-1] ** 2),
                np.corrcoef(x, dtype=np.float32))
    check(f, rand(3, 5), rand(2, 5), rand(5), ints(2, 4) ** 2, rand(3, 4, dtype=np.float32))


# -- views and copies ---------------------------------------------------------------------------

def write_through_rot90(x):
    y = x * 1.0
    r = np.rot90(y)
    r[0, 0] = 5.0             # a view in NumPy: y changes too
    return r


def write_through_einsum_diagonal(x):
    d = np.einsum("ii->i", x * 1.0)
    d[1] = 7.0                # a writeable view in NumPy
    return d


def write_into_copies(x, k):
    outs = [np.column_stack([x, x]), np.dstack([x]), np.block([[x, x]]), np.append(x, 1.0),
            np.insert(x, 0, 2.0), np.delete(x, 0), np.select([x > 0], [x]),
            np.piecewise(x, [x > 0], [1.0]), np.polyval([1.0, 2.0], x),
            np.inner(x, x), np.matvec(x, x[0]), np.vecdot(x, x), np.einsum("ij->j", x),
            np.trapezoid(x), np.gradient(x, axis=0), np.cov(x), np.corrcoef(x), np.block(x),
            np.insert(k, [1], 0), np.delete(k, [], axis=0)]
    for o in outs:
        o[...] = 0
    return x, k, outs


def test_views_and_copies_behave_like_numpy():
    check(write_through_rot90, rand(3, 3))
    check(read_base_after_rot90_write, rand(3, 3))       # (these two were errors)
    check(read_base_after_matrix_transpose_write, rand(3, 3))
    check(write_through_einsum_diagonal, rand(3, 3))
    check(write_into_copies, rand(3, 3), ints(3, 3))


def read_base_after_rot90_write(x):
    y = x * 1.0
    r = np.rot90(y, 2)
    r[0, 0] = 9.0
    return y


def read_base_after_einsum_write(x):
    y = x * 1.0
    d = np.einsum("ii->i", y)
    d[0] = 9.0
    return y


def write_into_linalg_diagonal(x):
    d = np.linalg.diagonal(x)
    d[0] = 1.0


def read_base_after_matrix_transpose_write(x):
    y = x * 1.0
    t = np.linalg.matrix_transpose(y)
    t[0, 1] = 2.0
    return y


# -- unsupported variants -------------------------------------------------------------------------

UNSUPPORTED = [      # the variants left out, and what their errors say
    (lambda x: np.insert(x, np.argmax(x[0]), 1.0),
     "np.insert's positions would give a data-dependent shape"),
    (lambda x: np.delete(x, [0, np.argmax(x[0])], axis=0),
     "np.delete's positions would give a data-dependent shape"),
    (lambda x: np.gradient(x[0], x[1]), "only uniform spacings"),
    (lambda x: np.cov(x, fweights=[1, 2, 1]), "fweights or aweights is not supported"),
    (lambda x: np.cov(x, aweights=np.ones(3)), "fweights or aweights is not supported"),
    (lambda x: np.select([x], [x]), "invalid entry 0 in condlist: should be boolean"),
    (lambda x: np.block([(x, x)]), r"arrays\[0\] is a tuple"),
    (lambda x: np.block([[x], x]), "List depths are mismatched"),
    (lambda x: np.piecewise(x, [x > 0], [1.0, 2.0, 3.0]), "with 1 condition"),
    (lambda x: np.rot90(x, 1, (1, 1)), "Axes must be different"),
    (lambda x: np.insert(x, 7, 1.0, axis=0), "np.insert: index 7 is out of bounds"),
    (lambda x: np.linalg.outer(x, x), "Input arrays must be one-dimensional"),
    (lambda x: np.vecdot(x, x[:2], axis=0), "core dimension n has sizes 3 and 2"),
    (lambda x: np.gradient(x[:2], edge_order=2, axis=0), "Shape of array too small"),
    (lambda x: np.cov(x[None]), "m has more than 2 dimensions"),
]


VIEWS = [(read_base_after_einsum_write, r"modified through a view .* \(changed at "
                                        r"test_frontend_assembly.py:\d+: d\[0\] = 9.0\)"),
         (write_into_linalg_diagonal, "read-only")]


@pytest.mark.parametrize("f,match", VIEWS + UNSUPPORTED)
def test_errors_are_located(f, match):
    """Writes NumPy would share or refuse, and the variants left out: errors at the line of
    the function that raises them, its last."""
    with pytest.raises(TraceError, match=match) as e:
        adcompiler.trace(f, rand(3, 3))
    last = max(line for *_, line in f.__code__.co_lines() if line)
    assert str(e.value).startswith(f"{FILE}:{last}: ")


# -- gradients -----------------------------------------------------------------------------------

def grad_assembly(x):
    v = x[0]
    return (weighted(np.column_stack([v, v * v])) + weighted(np.dstack([x, np.cos(x)]))
            + weighted(np.block([[x, x[:, :1]], [x[:1] * 2.0, x[:1, :1]]]))
            + weighted(np.append(x, v)) + weighted(np.append(x, x * x, axis=1))
            + weighted(np.insert(x, [0, 2, 2], v[:3] ** 2, axis=1))
            + weighted(np.insert(x, 1, v[0]))
            + weighted(np.insert(x, 1, v, axis=0)) + weighted(np.delete(x, [0, 2], axis=1))
            + weighted(np.rot90(x)) + weighted(np.rot90(x, 2) * x) + weighted(np.rot90(x, -1)))


def grad_choices(x):
    v = x[1]
    return (weighted(np.select([x < -0.3, x > 0.3], [x ** 2, np.sin(x)], default=x * 0.5))
            + weighted(np.piecewise(x, [x < 0, x > 0.8], [lambda y: y ** 3, np.exp, lambda y: -y]))
            + weighted(np.polyval(v, x)) + weighted(np.polyval([1.5, -2.0, 0.5], x)))


def grad_products(x):
    y = np.cos(x)
    return (np.vdot(x, y) + weighted(np.inner(x, y)) + weighted(np.matvec(x, y[0]))
            + weighted(np.vecmat(x[0], y)) + weighted(np.vecdot(x, y))
            + weighted(np.vecdot(x, y, axis=0))
            + weighted(np.linalg.matrix_transpose(x) @ y) + np.linalg.vector_norm(x, axis=(0, 1))
            + weighted(np.linalg.vector_norm(x, ord=3, axis=0)) + np.linalg.matrix_norm(x)
            + np.linalg.trace(x) ** 2 + weighted(np.linalg.diagonal(x))
            + np.einsum("ii", x) * np.einsum("ii->", y) + weighted(np.einsum("ii->i", x) * 2.0)
            + weighted(np.einsum("ij,jj->i", x, y)))


def grad_calculus_statistics(x):
    return (weighted(np.trapezoid(x)) + np.trapezoid(x[0], x[1] ** 2)
            + weighted(np.trapezoid(x, dx=0.3, axis=0))
            + weighted(np.gradient(x, axis=0)) + weighted(np.gradient(x, 0.5, edge_order=2, axis=1))
            + weighted(np.cov(x)) + weighted(np.cov(x, rowvar=False, bias=True))
            + weighted(np.corrcoef(x)) + weighted(np.corrcoef(x[0], x[2] ** 2)))


@pytest.mark.parametrize("f", [grad_assembly, grad_choices, grad_products,
                               grad_calculus_statistics])
def test_gradients_against_finite_differences(f):
    # entries away from the select/piecewise boundaries, so the differences do not cross them
    x = rand(3, 3) + 0.05 * np.arange(9).reshape(3, 3)
    adcompiler.check_grad(f, x, samples=12, rtol=1e-6, backend="numpy")


def test_gradients_on_the_numba_backend():
    def all_together(x):
        return grad_assembly(x) + grad_choices(x) + grad_products(x) + grad_calculus_statistics(x)
    x = rand(3, 3) + 0.05 * np.arange(9).reshape(3, 3)
    adcompiler.check_grad(all_together, x, samples=12, rtol=1e-6, backend="numba")


def index_concatenations(x, v):
    """np.r_ of arrays, scalars and a static range; np.c_ of vectors and a matrix."""
    return (np.r_[x, v, 2.0, 0:3], np.r_[x], np.c_[x, v], np.c_[np.outer(x, v), x])


def test_r_and_c_of_run_time_arrays():
    """(They ran natively on the tracer's stand-ins: a StaticValueError.)"""
    check(index_concatenations, rand(3), rand(3))
    check(index_concatenations, rand(3, dtype=np.float32), rand(3, dtype=np.float32))
    for backend in ("numpy", "numba"):
        adcompiler.check_grad(lambda x, v: sum(np.sum(r ** 2) for r in index_concatenations(
            x, v)), rand(3), rand(3), wrt=(0, 1), backend=backend)
