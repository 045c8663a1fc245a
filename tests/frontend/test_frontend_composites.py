"""NumPy functions the frontend builds from existing IR ops (frontend/composites.py and
linalg.tensordot): values, dtypes and shapes against NumPy running the same function; gradients
against central finite differences in float64 (NumPy backend, and one Numba program covering
them together); views, read-only views and copies as NumPy makes them; located errors for the
variants left out."""
import numpy as np
import pytest

import adcompiler
from adcompiler import TraceError
from fecheck import check, located_error, ops, rand, weighted

FILE = "test_frontend_composites.py"
INF = np.inf


def test_flips():
    def f(x, t3, v):
        return (np.flip(x), np.flip(x, 1), np.flip(t3, (0, 2)), np.flip(t3, axis=-1),
                np.fliplr(x), np.flipud(v), np.flipud(t3), np.flip(v[0]))
    fn = check(f, rand(3, 4), rand(2, 3, 4), rand(5))
    assert "slice" in ops(fn) and "take" not in ops(fn)


def test_roll():
    def f(x, t3, v):
        return (np.roll(v, 2), np.roll(v, -7), np.roll(x, -1), np.roll(x, 5), np.roll(x, 1, axis=1),
                np.roll(x, 4, axis=0), np.roll(t3, (1, 2), axis=(0, 2)), np.roll(x, (1, 2), (1, 1)),
                np.roll(t3, -1, axis=(0, 1)), np.roll(x, (1, -1)), np.roll(v, 0))
    check(f, rand(3, 4), rand(2, 3, 4), rand(5))


def test_tile_and_repeat():
    def f(x, t3, v, s, k):
        return (np.tile(v, 2), np.tile(x, (2, 1, 3)), np.tile(t3, 2), np.tile(v, (2, 2)),
                np.tile(x, 1), np.tile(s, 3), np.tile(k, (2, 1)),
                np.repeat(x, 2), np.repeat(x, 3, axis=1), np.repeat(x, [1, 0, 2], axis=0),
                np.repeat(t3, 2, axis=-2), np.repeat(v, np.array([2]), axis=0), np.repeat(s, 2),
                x.repeat(2, 0), v.repeat([0, 1, 2, 1, 3]), np.repeat(k, 2, axis=0))
    check(f, rand(3, 4), rand(2, 3, 2), rand(5), rand(), np.arange(6, dtype=np.int32).reshape(2, 3))


def test_pad_constant():
    def f(x, t3, v, k, c):
        return (np.pad(x, 1), np.pad(x, ((1, 2), (0, 3)), constant_values=(5.0, -1.0)),
                np.pad(x, ((1, 2), (3, 0)), "constant", constant_values=((1, 2), (3, 4))),
                np.pad(v, (2, 1), constant_values=7), np.pad(k, 1, constant_values=0.7),
                np.pad(x, 1, constant_values=c), np.pad(t3, ((0, 1),), constant_values=2),
                np.pad(t3, [(1, 0), (0, 0), (2, 1)]), np.pad(v, 0), np.pad(x, (1,)),
                np.pad(x.astype(np.float32), 2, mode="constant", constant_values=c))
    check(f, rand(3, 4), rand(2, 3, 2), rand(5), np.arange(6).reshape(2, 3), np.float64(-0.5))


@pytest.mark.parametrize("mode", ["edge", "wrap", "reflect", "symmetric"])
def test_pad_modes(mode):
    """Pads wider than the axis included (NumPy pads them again and again)."""
    def f(x, t3, v, k, one):
        return (np.pad(x, 1, mode), np.pad(x, ((2, 0), (1, 3)), mode=mode),
                np.pad(v, (7, 11), mode), np.pad(t3, ((0, 1), (3, 3), (2, 0)), mode),
                np.pad(k, (1, 4), mode), np.pad(one, 3, mode), np.pad(x, 0, mode),
                np.pad(x.astype(np.float32), ((5, 5), (0, 0)), mode))
    check(f, rand(3, 4), rand(2, 3, 2), rand(5), np.arange(6).reshape(2, 3), rand(1, 1))


@pytest.mark.parametrize("mode", ["reflect", "symmetric"])
def test_pad_odd_reflections(mode):
    def f(x, v, k):
        return (np.pad(x, 1, mode, reflect_type="odd"),
                np.pad(x, ((2, 0), (1, 3 if mode == "reflect" else 4)), mode, reflect_type="odd"),
                np.pad(v, (4, 3), mode=mode, reflect_type="odd"),
                np.pad(k, (1, 1), mode, reflect_type="odd"))
    check(f, rand(3, 4), rand(5), np.arange(6).reshape(2, 3))
    with pytest.raises(adcompiler.TraceError, match="reflect_type='odd' with a pad wider"):
        adcompiler.trace(lambda v: np.pad(v, 6, mode, reflect_type="odd"), rand(5))


def test_diagonal_trace_diag():
    def f(x, t3, v, k, b):
        return (np.diagonal(x), np.diagonal(x, 1), np.diagonal(x, -2), x.diagonal(offset=2),
                x.diagonal(1, 1, 0), np.diagonal(t3, 0, 2, 0), np.diagonal(t3, -1, -1, 1),
                np.diagonal(x, 5), np.diagonal(k), np.trace(x), x.trace(1), x.trace(-1),
                np.trace(t3, -1, 1, 2), np.trace(t3, axis1=2, axis2=0), np.trace(k),
                np.trace(k, dtype=np.float32), k.trace(), np.trace(b), np.diag(v), np.diag(v, 2),
                np.diag(v, k=-1), np.diag(x), np.diag(x, 1), np.diag(x, -3), np.diag(k[0]),
                np.diag(b[0], 1))
    check(f, rand(3, 4), rand(2, 3, 4), rand(5), np.arange(12, dtype=np.int32).reshape(3, 4),
          rand(3, 3) > 0)



def test_diagflat_and_triangles_of_a_vector():
    """np.diagflat and np.triu / np.tril of a 1-d array (NumPy 2 repeats the row into a
    square) were refused."""
    def f(x, v, k):
        return (np.diagflat(x), np.diagflat(v, 1), np.diagflat(k, -2), np.triu(v),
                np.tril(v, -1), np.triu(k, 1), np.tril(x[0], 2))
    check(f, rand(2, 2), rand(3), np.arange(3))


def test_tensordot():
    def f(x, y, t3, v, k):
        return (np.tensordot(x, y), np.tensordot(x, y.T, 1),
                np.tensordot(t3, x, axes=([0, 1], [0, 1])),
                np.tensordot(v, v, 0), np.tensordot(t3, t3, axes=((2, 0), (2, 0))),
                np.tensordot(x, v[:4], axes=(1, 0)), np.tensordot(t3, y.T[:2], axes=([-1], [0])),
                np.tensordot(k, x, axes=[[0], [0]]), np.tensordot(x.astype(np.float32), y, 2),
                np.tensordot(t3, t3, axes=np.array([[1, 2], [1, 2]])))
    check(f, rand(3, 4), rand(3, 4), rand(3, 4, 2), rand(5), np.arange(6).reshape(3, 2))


@pytest.mark.parametrize("ord,axis", [
    (None, None), (2, None), (1, None), (INF, None), (-INF, None), (0, None), (3, None),
    (0.5, None), (-1, None), (-2.5, None)])
def test_vector_norms(ord, axis):
    def f(v, k, h):
        return (np.linalg.norm(v, ord, axis), np.linalg.norm(k, ord),
                np.linalg.norm(h, ord, keepdims=True))
    ints = np.arange(-2, 4) if ord is None or ord >= 0 else np.arange(1, 7)   # 0 ** -1 = inf
    check(f, rand(6), ints, rand(4, dtype=np.float32))


@pytest.mark.parametrize("ord", [None, "fro", "f", 1, -1, INF, -INF, 2, -2, "nuc"])
def test_matrix_norms(ord):
    def f(x, t3, k):
        return (np.linalg.norm(x, ord), np.linalg.norm(x, ord, keepdims=True),
                np.linalg.norm(t3, ord, axis=(0, 2)), np.linalg.norm(t3, ord, (2, 0), True),
                np.linalg.norm(k, ord=ord), np.linalg.norm(x.astype(np.float32), ord))
    check(f, rand(3, 4), rand(3, 4, 2), np.arange(12).reshape(3, 4) - 5)


def test_norm_axes_and_ranks():
    def f(x, t3):
        return (np.linalg.norm(t3), np.linalg.norm(t3, keepdims=True), np.linalg.norm(x, axis=1),
                np.linalg.norm(x, 1, axis=0, keepdims=True), np.linalg.norm(t3, INF, axis=-1),
                np.linalg.norm(x[0, 0]), np.linalg.norm(t3, axis=(1,)))
    check(f, rand(3, 4), rand(2, 3, 4))


# -- views, read-only views and copies --------------------------------------------------------

def write_into_flip(x):
    y = x * 1.0
    f = np.flip(y, 0)
    f[0] = 9.0                  # a view in NumPy: f changes, and so does y
    return f


def write_into_copies(x, k):
    d = np.diagonal(x).copy()
    d[0] = 7.0
    outs = [np.roll(x, 1), np.tile(x, 2), np.repeat(x, 2), np.pad(x, 1), np.diag(x[0]),
            np.tensordot(x, x, 1), np.array(np.diagonal(x)), np.diag(k[0])]
    for o in outs:
        o[0] = 5
    return d, x, k, outs


def test_flip_view_and_copies_behave_like_numpy():
    check(write_into_flip, rand(3, 2))
    check(write_into_copies, rand(3, 3), np.arange(9).reshape(3, 3))


def read_base_after_flip_write(x):
    y = x * 1.0
    f = np.fliplr(y)
    f[0, 0] = 9.0
    return y


def write_into_diagonal(x):
    d = np.diagonal(x)
    d[0] = 1.0
    return d


def add_into_trace_view(x):
    d = x.diagonal(1)
    d += 1.0
    return d


def write_into_slice_of_diag(x):
    d = np.diag(x)[1:]
    d[0] = 1.0
    return d


def test_a_write_through_a_flipped_view_reaches_the_array():
    """np.fliplr is a view NumPy makes whatever the layout: the write reaches y (an error
    before)."""
    check(read_base_after_flip_write, rand(3, 3))


def read_diagonal_after_base_write(x):
    y = x * 1.0
    d = np.diagonal(y)
    y[0, 0] = 5.0
    return d


@pytest.mark.parametrize("f,offset,match", [
    (write_into_diagonal, 2, "read-only.*np.diagonal"),
    (add_into_trace_view, 2, "read-only"),
    (write_into_slice_of_diag, 2, "read-only"),
    (read_diagonal_after_base_write, 4, "view of an array modified later"),
])
def test_writes_numpy_would_share_or_reject_are_located_errors(f, offset, match):
    with pytest.raises(TraceError, match=match) as e:
        adcompiler.trace(f, rand(3, 3))
    assert e.value.loc == (e.value.loc[0], f.__code__.co_firstlineno + offset)
    assert e.value.loc[0].endswith(FILE)


def diagonal_or_row(x, c):
    if c > 0:
        d = np.diagonal(x)
    else:
        d = x[0]
    d[0] = 5.0                  # NumPy refuses it when c > 0
    return d


def diagonal_in_a_loop(x, c):
    d = x[0]
    s = c * 0.0
    while s < c:
        s = s + 1.0
        d = np.diagonal(x)
    d[0] = 3.0                  # NumPy refuses it when the loop ran
    return d


@pytest.mark.parametrize("f,offset", [(diagonal_or_row, 5), (diagonal_in_a_loop, 6)])
def test_array_that_may_be_read_only_is_not_written(f, offset):
    with pytest.raises(TraceError, match="read-only") as e:
        adcompiler.trace(f, rand(3, 3), np.float64(1.0))
    assert str(e.value).startswith(f"{FILE}:{f.__code__.co_firstlineno + offset}: ")


def diagonal_read_in_a_loop(x, c):
    d = np.diagonal(x)
    s = c * 0.0
    while s < c:
        s = s + 1.0
        d = d + 1.0
    return d, np.trace(x)


@pytest.mark.parametrize("c", [-1.0, 2.0])
def test_read_only_view_carried_by_a_loop_reads_as_numpy(c):
    check(diagonal_read_in_a_loop, rand(3, 3), np.float64(c))


# -- unsupported variants -----------------------------------------------------------------------

def fro_of_vector(x):
    return np.linalg.norm(x[0], "fro")


def norm_of_three_axes(x):
    return np.linalg.norm(x[None], 1)


def pad_linear_ramp(x):
    return np.pad(x, 1, mode="linear_ramp")


def repeat_run_time(x):
    return np.repeat(x, np.argmax(x, axis=0))


def tensordot_mismatch(x):
    return np.tensordot(x, x[:2], axes=([0], [0]))


def fliplr_of_vector(x):
    return np.fliplr(x[0])


def diag_of_3d(x):
    return np.diag(x[None])


@pytest.mark.parametrize("f,match", [
    (fro_of_vector, "Invalid norm order 'fro' for vectors"),
    (norm_of_three_axes, "Improper number of dimensions to norm"),
    (pad_linear_ramp, "mode='linear_ramp' is not supported"),
    (repeat_run_time, "run-time repeats has a data-dependent shape"),
    (tensordot_mismatch, "shape-mismatch for sum"),
    (fliplr_of_vector, "must be >= 2-d"),
    (diag_of_3d, "must be 1- or 2-d"),
])
def test_unsupported_variants_are_located_errors(f, match):
    assert located_error(f, (rand(3, 3),), match, FILE).construct.startswith("np.")


# -- gradients -----------------------------------------------------------------------------------

def grad_flips_rolls(x):
    return (weighted(np.flip(x, 0)) + weighted(np.fliplr(x) * x)
            + weighted(np.roll(x, (1, -2), (0, 1))) + weighted(np.roll(x, 4)))


def grad_tile_repeat_pad(x):
    return (weighted(np.tile(x, (2, 1))) + weighted(np.repeat(x, 2, axis=1))
            + weighted(np.repeat(x, [2, 0, 1], axis=0))
            + weighted(np.pad(x, ((1, 0), (2, 1)), constant_values=3.0))
            + weighted(np.pad(x, ((4, 1), (0, 2)), "reflect"))
            + weighted(np.pad(x, 3, "wrap")) + weighted(np.pad(x, (2, 5), "symmetric"))
            + weighted(np.pad(x, 2, "edge")) + weighted(np.pad(x, (1, 2), "reflect",
                                                             reflect_type="odd")))


def grad_diagonals(x):
    return (weighted(np.diagonal(x, 1)) + np.trace(x) ** 2 + weighted(np.diag(x[0], -1))
            + weighted(np.diag(x)) + x.trace(-1))


def grad_diagflat_triangles(x):
    return (weighted(np.diagflat(x[:2, 1:3], -1)) + weighted(np.triu(x[0], 1))
            + weighted(np.tril(np.sin(x[2]))))


def grad_tensordot(x):
    return weighted(np.tensordot(x, x)) + weighted(np.tensordot(x, np.cos(x), axes=([0], [0])))


def grad_norms(x):
    return (np.linalg.norm(x) + np.linalg.norm(x, 1, axis=1).sum() + np.linalg.norm(x[0], 3)
            + np.linalg.norm(x, INF) + np.linalg.norm(x, -INF, axis=0).sum() + np.linalg.norm(x, 1)
            + weighted(np.linalg.norm(x, axis=0)) + np.linalg.norm(x, "fro", keepdims=True)[0, 0]
            + np.linalg.norm(x, 2) + np.linalg.norm(x, -2) + np.linalg.norm(x, "nuc"))


@pytest.mark.parametrize("f", [grad_flips_rolls, grad_tile_repeat_pad, grad_diagonals,
                               grad_diagflat_triangles, grad_tensordot, grad_norms])
def test_gradients_against_finite_differences(f):
    x = rand(3, 4) + 0.1 * np.arange(12).reshape(3, 4)    # no ties among the norms' maxima
    adcompiler.check_grad(f, x, samples=12, rtol=1e-6, backend="numpy")


def all_together(x, v):
    return (grad_flips_rolls(x) + grad_tile_repeat_pad(x) + grad_diagonals(x)
            + grad_diagflat_triangles(x) + weighted(np.diag(v, 1)) + np.linalg.norm(v, 3) + weighted(np.tensordot(x, v[:4], 1)))


def test_gradients_on_the_numba_backend():
    x, v = rand(3, 4) + 0.1 * np.arange(12).reshape(3, 4), rand(5)
    report = adcompiler.check_grad(all_together, x, v, wrt=("x", "v"), samples=12, rtol=1e-6,
                                   backend="numba")
    assert set(report) == {"x", "v"}


def norms_of_rows(x):
    return np.sum(np.linalg.norm(x, axis=1)) + np.linalg.norm(x[0], 3) + np.linalg.norm(x[0])


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_norm_gradient_at_zero_is_zero_not_nan(backend):
    """The 2-norm's and p-norm's root has an infinite derivative at 0, and 0 * inf made a NaN
    (a NaNError for a zero row, say zero-initialised weights under a norm penalty): a zero
    vector's norm has the subgradient 0, and the other rows keep x / |x|."""
    x = np.array([[0.0, 0.0], [3.0, 4.0]])
    g = adcompiler.grad(norms_of_rows, backend=backend)(x)
    np.testing.assert_allclose(g, [[0.0, 0.0], [0.6, 0.8]], rtol=1e-12)
    assert norms_of_rows(x) == adcompiler.jit(norms_of_rows, backend=backend)(x)


def test_norm_of_nan_is_nan():
    """The zero guard of the norm's root must not take a NaN sum for a zero (it gave 0.0)."""
    check(lambda x: (np.linalg.norm(x), np.linalg.norm(x[0], 3), np.linalg.norm(x, axis=0)),
          np.array([[np.nan, 1.0], [2.0, 3.0]]))
