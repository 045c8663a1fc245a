"""np.linalg's qr, pinv, matrix_power, lstsq, matrix_rank, cond, svdvals and multi_dot, and
np.searchsorted,
digitize, interp, partition and argpartition: values and dtypes against NumPy running the
same function (fecheck.check, and each backend's compiled code), float32 and stacks,
gradients against float64 finite differences of what NumPy computes (adcompiler.check_grad)
on both backends, a gradient of a gradient for qr, partition's contract (not NumPy's
arbitrary order), and the errors: located refusals at trace time, run-time asserts.
"""
import numpy as np
import pytest

import adcompiler
from fecheck import central_differences, check, located_error, rand, same

BACKENDS = ["numpy", "numba"]
W = rand(2, 5, 5)       # fixed weights that make a matrix result a scalar loss


def well_conditioned(*shape):
    return rand(*shape) + shape[-1] * np.eye(shape[-1])


def against_numpy(f, *args):
    """fecheck.check (the traced IR against NumPy), then each backend's compiled code."""
    check(f, *args)
    want = f(*args)
    for backend in BACKENDS:
        same(adcompiler.jit(f, backend=backend)(*args), want, f"{backend}", rtol=1e-10)


# ------------------------------------------------------------------------------ values

def qr_everything(a, s):
    q, r = np.linalg.qr(a)
    return (q, r, np.linalg.qr(a, mode="r"), tuple(np.linalg.qr(s, "complete")),
            tuple(np.linalg.qr(np.swapaxes(a, -1, -2))),
            tuple(np.linalg.qr(np.swapaxes(a, -1, -2), mode="complete")))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (2, 5, 3), (2, 1, 4, 2)], ids=str)
def test_qr_values(dtype, shape):
    """Tall, square and stacked a, its wide transpose ('complete' too: it is 'reduced' for a
    wide matrix), a square s with mode='complete'."""
    against_numpy(qr_everything, rand(*shape).astype(dtype), rand(3, 3).astype(dtype))


def test_qr_of_integers_is_float64():
    check(qr_everything, np.arange(12).reshape(4, 3) ** 2, np.eye(3, dtype=np.int32))


def solvers(a, w, s, b, c):
    """a tall, w wide, s square and well conditioned; b a vector, c a matrix of right-hand
    sides for a."""
    return (np.linalg.pinv(a), np.linalg.pinv(w, rtol=None), np.linalg.pinv(s, 1e-3),
            np.linalg.pinv(a, rtol=0.4),
            np.linalg.matrix_power(s, 0), np.linalg.matrix_power(s, 1),
            np.linalg.matrix_power(s, 2), np.linalg.matrix_power(s, 3),
            np.linalg.matrix_power(s, 6), np.linalg.matrix_power(s, 11),
            np.linalg.matrix_power(s, -1), np.linalg.matrix_power(s, -5),
            np.linalg.lstsq(a, b), np.linalg.lstsq(a, c, rcond=None),
            np.linalg.lstsq(a[:3], c[:3], rcond=-1), np.linalg.lstsq(w, b[:3]),
            np.linalg.lstsq(w, c[:3], 1e-10), np.linalg.svdvals(a), np.linalg.svdvals(w),
            np.linalg.multi_dot([a, w]), np.linalg.multi_dot([a, w, a, s]),
            np.linalg.multi_dot((b, a, w, c)), np.linalg.multi_dot([b, a, s, w, b]),
            np.linalg.multi_dot([w, a, s, s, s[0]]))


def ranks_and_conditions(a, w, s):
    return (np.linalg.matrix_rank(a), np.linalg.matrix_rank(w, tol=0.5),
            np.linalg.matrix_rank(a, rtol=0.3), np.linalg.matrix_rank(s @ s.T, hermitian=True),
            np.linalg.matrix_rank(a[0]), np.linalg.matrix_rank(a[0] * 0),
            np.linalg.cond(a), np.linalg.cond(w, 2), np.linalg.cond(w, -2),
            np.linalg.cond(s, "fro"), np.linalg.cond(s, "nuc"), np.linalg.cond(s, np.inf),
            np.linalg.cond(s, -np.inf), np.linalg.cond(s, 1), np.linalg.cond(s, -1))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_solver_values(dtype):
    a, w, s = rand(5, 3), rand(3, 5), well_conditioned(3, 3)
    args = [x.astype(dtype) for x in (a, w, s, rand(5), rand(5, 2))]
    against_numpy(solvers, *args)
    against_numpy(ranks_and_conditions, *args[:3])


def test_integers_stacks_and_rank_deficient_ranks():
    ints = np.array([[2, 1, 0], [1, 3, 1], [0, 1, 2]])
    wide = np.array([[1, 2, 0, 1, 3], [0, 1, 4, 1, 0], [2, 0, 1, 0, 1]])
    # w as float: NumPy's pinv(rtol=None) of integers fails (finfo of an integer dtype)
    against_numpy(solvers, wide.T.copy(), wide.astype(float), ints,
          np.arange(5), np.ones((5, 2), np.int32))
    low = rand(5, 1) @ rand(1, 3)       # rank 1: matrix_rank, pinv and cond see it
    against_numpy(ranks_and_conditions, low, low.T.copy(), well_conditioned(3, 3))
    against_numpy(lambda a: np.linalg.pinv(a), low)
    stack = rand(2, 4, 3)
    against_numpy(lambda a: (np.linalg.pinv(a), np.linalg.matrix_rank(a), np.linalg.cond(a),
                             np.linalg.matrix_power(a[..., :3, :], 4),
                             np.linalg.matrix_rank(a, tol=np.array([0.1, 5.0]))), stack)


def sum_of_pinv(a):
    return np.sum(np.linalg.pinv(a))


def test_pinv_of_a_matrix_with_no_entries():
    """pinv of (0, 0), (0, 3) and a stack of (0, 0) was a TraceError: the cut-off's largest
    singular value of none."""
    for shape in ((0, 0), (0, 3), (2, 0, 0)):
        a = np.zeros(shape)
        against_numpy(lambda a: np.linalg.pinv(a), a)
        for backend in ("numpy", "numba"):
            g = adcompiler.grad(sum_of_pinv, backend=backend)(a)
            assert g.shape == shape and g.dtype == np.float64


def test_cond_is_inf_for_0_over_0_unless_x_holds_nan():
    """(NumPy's SVD refuses a NaN matrix, so the 'fro' norm's path shows the NaN kept.)"""
    zero = np.zeros((2, 2))
    nan = np.array([[1.0, np.nan], [0.0, 1.0]])
    with np.errstate(all="ignore"):
        against_numpy(lambda a, b: (np.linalg.cond(a), np.linalg.cond(b, "fro")), zero, nan)


def sorted_with_ties(n):
    a = np.sort(rand(n))
    a[2] = a[3]
    return a


def searches(a, v, an, x, bins, xp, fp):
    """a sorted (ties), v with an entry equal to one of a's and a NaN, an sorted with NaNs
    at the end (NumPy's sort order), x hitting the bins and knots; xp with a repeated knot."""
    return (np.searchsorted(a, v), np.searchsorted(a, v, side="right"),
            np.searchsorted(an, v), np.searchsorted(an, v, "right"), np.searchsorted(a, 0.5),
            np.searchsorted(a[::-1], v, sorter=np.argsort(a[::-1])),
            np.digitize(x, bins), np.digitize(x, bins, right=True), np.digitize(x, bins[::-1]),
            np.digitize(x, bins[::-1], True), np.digitize(x, bins[:1]),
            np.interp(x, xp, fp), np.interp(x, xp, fp, left=-7.0, right=9),
            np.interp(x[3], xp, fp), np.interp(x, xp, fp, period=3.0),
            np.interp(x, xp, fp, period=-2.5), np.interp(x, xp[:1], fp[:1]),
            np.interp(x, xp[:2], fp[:2], 1.0, 2.0))


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_search_values(dtype):
    a = sorted_with_ties(7)
    v = rand(3, 4)
    v[0, 0], v[0, 1] = a[3], np.nan
    an = np.append(a, [np.nan, np.nan])
    knots = np.array([0.0, 1.0, 1.0, 2.5, 4.0])
    x = np.array([-1, 0, 0.5, 1, 2, 2.5, 3, 4, 5, np.nan, 1.7, 0.2])
    args = [t.astype(dtype) for t in (a, v, an, x, knots, knots[[0, 1, 3, 4, 2]], rand(5))]
    args[5] = np.sort(args[5])
    against_numpy(searches, *args)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_search_dtypes_and_infinities():
    """Integer a and v (int64 results), int bins for float x, interp of integers (float64),
    an infinite fp (NumPy's NaN fallbacks)."""
    knots = np.array([0.0, 1.0, 1.0, 2.5, 4.0])
    x = np.array([-1, 0, 0.5, 1, 2, 2.5, 3, 4, 5, np.nan])
    check(searches, np.arange(7), np.array([[0, 2, 7, -1]]), np.arange(3.0), x,
          np.array([0, 1, 1, 3, 4]), knots, np.array([1.0, np.inf, 3.0, 3.0, 5.0]))
    against_numpy(lambda x, xp, fp: np.interp(x, xp, fp), np.arange(6), np.arange(0, 6, 2),
                  np.array([1, 4, 2]))


# ---------------------------------------------------------------- partition's contract

def partitions(a):
    return (np.partition(a, 2), np.partition(a, (0, -1), axis=0), np.partition(a, [1, 3], None),
            np.argpartition(a, 2), np.argpartition(a, (0, -1), axis=0),
            np.argpartition(a, [1, 3], axis=None))


def holds_contract(part, a, kths, axis):
    """NumPy's: the kth entries are where a sort puts them, the others on their side."""
    if axis is None:
        a, axis = a.ravel(), 0
    n = a.shape[axis]
    want = np.sort(a, axis=axis)
    part, want = np.moveaxis(part, axis, -1), np.moveaxis(want, axis, -1)
    np.testing.assert_array_equal(np.sort(part, axis=-1), want)     # a permutation
    for k in np.atleast_1d(kths) % n:
        np.testing.assert_array_equal(part[..., k], want[..., k])
        assert np.all(part[..., :k] <= part[..., k:k + 1])
        assert np.all(part[..., k + 1:] >= part[..., k:k + 1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_partition_meets_numpys_contract(backend):
    a = rand(4, 5)
    a[0, :2] = a[1, 1]     # ties
    got = adcompiler.jit(partitions, backend=backend)(a)
    want = partitions(a)
    for i, (kths, axis) in enumerate([(2, -1), ((0, -1), 0), ([1, 3], None)]):
        assert got[i].dtype == want[i].dtype and got[i].shape == want[i].shape
        holds_contract(got[i], a, kths, axis)
        idx = got[i + 3]
        assert idx.dtype == np.int64 and idx.shape == want[i + 3].shape
        picked = np.take_along_axis(a if axis is not None else a.ravel(), idx,
                                    axis if axis is not None else 0)
        holds_contract(picked, a, kths, axis)


# ------------------------------------------------------------------------ gradients

def qr_loss(a):
    """Q and R themselves (NumPy's Householder signs are locally constant)."""
    q, r = np.linalg.qr(a)
    m, k = q.shape[-2:]
    return np.sum(q * W[0, :m, :k]) + np.sum(r ** 2 * W[1, :k, :r.shape[-1]]) + \
        np.sum(np.linalg.qr(a, mode="r") * W[0, :k, :r.shape[-1]])


def solver_loss(a, b):
    """a tall (lstsq's solution and residuals, pinv), its leading square block (matrix
    powers, the 2-norm and Frobenius condition numbers)."""
    x, res, rank, s = np.linalg.lstsq(a, b)
    sq = a[:3, :3] + 3 * np.eye(3)
    p = np.linalg.matrix_power(sq, 5) + np.linalg.matrix_power(sq, -2)
    return (np.sum(x * W[0, :3, 0]) + np.sum(res) + np.sum(s * W[1, 0, :3]) +
            np.sum(np.linalg.pinv(a) * W[0, :3, :a.shape[0]]) + np.sum(p * W[1, :3, :3]) / 100 +
            np.linalg.cond(a) + np.linalg.cond(sq, "fro"))


def wide_lstsq_loss(a, b):
    x = np.linalg.lstsq(a, b)[0]
    return np.sum(x * W[0, :a.shape[1], :b.shape[1]]) + np.sum(np.linalg.pinv(a) ** 2)


def interp_loss(x, xp, fp):
    """x away from the knots (interp is not differentiable at them): inside, left and right of
    the range; and a periodic one (x and xp modulo 3 away from each other too)."""
    y = np.interp(x, xp, fp, left=-1.5) + np.interp(x, xp, fp, period=3.0)
    return np.sum(y * W.ravel()[:x.shape[0]])


def products_and_singular_values(a, w):
    """multi_dot in NumPy's order of products (a 1-d first and last array), svdvals."""
    return (np.sum(np.linalg.multi_dot([a, w, a, w]) * W[0]) + np.sum(np.linalg.svdvals(a) ** 3)
            + np.linalg.multi_dot([W[1, 0], a, w, np.sin(a), W[1, 1, :3]]))


def interp_of_constant_knots(x):
    """The knots a constant: folding the sort of the periodic knots raised a NameError (the
    fold ran the NumPy lowering without the `rt` helpers it names)."""
    return np.sum(np.interp(x, [0.0, 1.0, 2.5], [1.0, -2.0, 0.5], period=4.0) ** 2)


CASES = [
    (qr_loss, lambda: (rand(5, 3),), 0),
    (qr_loss, lambda: (rand(3, 3),), 0),
    (qr_loss, lambda: (rand(3, 5),), 0),
    (qr_loss, lambda: (rand(2, 4, 2),), 0),
    (solver_loss, lambda: (rand(5, 3), rand(5)), (0, 1)),
    (wide_lstsq_loss, lambda: (rand(3, 5), rand(3, 2)), (0, 1)),
    (interp_loss, lambda: (np.array([-0.4, 0.3, 0.9, 1.6, 2.2, 3.1, 2.45]),
                           np.array([0.0, 0.5, 1.2, 2.0, 2.5]), rand(5)), (0, 1, 2)),
    (interp_of_constant_knots, lambda: (np.array([0.3, 1.7, 3.9, -0.6]),), 0),
    (products_and_singular_values, lambda: (rand(5, 3), rand(3, 5)), (0, 1)),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("loss, args, wrt", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_gradients_against_finite_differences(loss, args, wrt, backend):
    xs = args()
    adcompiler.check_grad(loss, *xs, wrt=wrt, backend=backend, samples=24)
    # float32 in: float32 gradients, close to the float64 derivative (every entry)
    g32 = adcompiler.grad(loss, wrt=wrt, backend=backend)(*(x.astype(np.float32) for x in xs))
    for g, k in zip((g32,) if wrt == 0 else g32, (0,) if wrt == 0 else wrt, strict=True):
        h = central_differences(loss, *xs, wrt=k)
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, h, rtol=2e-3, atol=2e-3 * np.abs(h).max())


def qr_loss(a):
    m, n = a.shape
    return np.sum(np.linalg.qr(a)[0] * W[0, :m, :min(m, n)]) + np.sum(np.linalg.qr(a, "r") ** 3)


def qr_gradient_norm(a):
    g = adcompiler.grad(qr_loss)(a)
    return np.sum(g * g)


def qr_gradient_norm_by_differences(a):
    """qr_gradient_norm with the first gradient by central differences of NumPy."""
    g = central_differences(qr_loss, a, eps=1e-5)
    return np.sum(g * g)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_of_a_qr_gradient(backend):
    for a in (rand(4, 3), rand(3, 4)):
        want = central_differences(qr_gradient_norm_by_differences, a, eps=1e-4)
        np.testing.assert_allclose(adcompiler.grad(qr_gradient_norm, backend=backend)(a), want,
                                   rtol=1e-4, atol=1e-6 * np.abs(want).max())


PARTITION_WEIGHTS = np.array([1.0, 1.0, 5.0, 2.0, 2.0])   # one weight per side of kth=2


def search_weighted(x, a):
    """The integer results carry no gradient: only x * positions. (The partition's entries
    on each side of kth are in no set order: each side has one weight.)"""
    return np.sum(x * np.searchsorted(a, x)) + np.sum(x * np.digitize(x, a)) + \
        np.sum(np.partition(x, 2) * PARTITION_WEIGHTS)


@pytest.mark.parametrize("backend", BACKENDS)
def test_integer_results_are_constants_in_gradients(backend):
    x, a = rand(5), np.sort(rand(4))
    g = adcompiler.grad(search_weighted, wrt=(0, 1), backend=backend)(x, a)
    order = np.argsort(x, kind="stable")
    want = (np.searchsorted(a, x) + np.digitize(x, a)).astype(np.float64)
    want[order] += PARTITION_WEIGHTS   # x[order[i]] is the i-th smallest: its side's weight
    np.testing.assert_allclose(g[0], want)
    np.testing.assert_array_equal(g[1], np.zeros(4))


# --------------------------------------------------------------------------- errors

def qr_complete_tall(a):
    return np.linalg.qr(a, mode="complete")


def qr_raw(a):
    return np.linalg.qr(a, mode="raw")


def pinv_hermitian(a):
    return np.linalg.pinv(a, hermitian=True)


def pinv_both_tolerances(a):
    return np.linalg.pinv(a, 1e-3, rtol=1e-3)


def matrix_power_float(a):
    return np.linalg.matrix_power(a, 2.0)


def matrix_power_oblong(a):
    return np.linalg.matrix_power(a, 2)


def lstsq_stacked(a, b):
    return np.linalg.lstsq(a, b)


def interp_lengths(x, xp, fp):
    return np.interp(x, xp, fp)


def searchsorted_2d(a, v):
    return np.searchsorted(a, v)


def partition_out_of_bounds(a):
    return np.partition(a, 5)


def partition_run_time_kth(a, k):
    return np.partition(a, k)


@pytest.mark.parametrize("f,args,message", [
    (qr_complete_tall, [rand(4, 3)], "mode='complete' on a tall 4 x 3 matrix.*pass "
                                     "mode='reduced'"),
    (qr_raw, [rand(3, 3)], "mode='raw'.*not supported"),
    (pinv_hermitian, [rand(3, 3)], "hermitian=True is not supported"),
    (pinv_both_tolerances, [rand(3, 3)], "`rtol` and `rcond` can't be both set"),
    (matrix_power_float, [rand(3, 3)], "exponent must be an integer"),
    (matrix_power_oblong, [rand(3, 2)], "must be square"),
    (lstsq_stacked, [rand(2, 3, 2), rand(2, 3)], "a must be one matrix"),
    (interp_lengths, [rand(3), rand(4), rand(5)], "fp and xp are not of the same length"),
    (searchsorted_2d, [rand(2, 3), rand(3)], "a must be 1-D"),
    (partition_out_of_bounds, [rand(5)], r"kth\(=5\) out of bounds \(5\)"),
    (partition_run_time_kth, [rand(5), np.int64(2)], "kth must be compile-time ints")])
def test_refusals_are_trace_errors(f, args, message):
    located_error(f, args, message, "test_frontend_linalg_search.py")


def rank_deficient_lstsq(a, b):
    return np.linalg.lstsq(a, b)[0]


def non_monotonic_bins(x, bins):
    return np.digitize(x, bins)


@pytest.mark.parametrize("backend", BACKENDS)
def test_run_time_refusals_name_the_line(backend):
    """A rank-deficient lstsq (NumPy's minimum-norm solution) and bins that are not
    monotonic (NumPy's ValueError) fail an assert when the code runs."""
    low = rand(5, 1) @ rand(1, 3)
    line = rank_deficient_lstsq.__code__.co_firstlineno + 1
    with pytest.raises(adcompiler.AssertionFailed,
                       match=f"test_frontend_linalg_search.py:{line}.*full-rank"):
        adcompiler.jit(rank_deficient_lstsq, backend=backend)(low, rand(5))
    a, b = rand(5, 3), rand(5)
    np.testing.assert_allclose(adcompiler.jit(rank_deficient_lstsq, backend=backend)(a, b),
                               rank_deficient_lstsq(a, b), rtol=1e-10)
    line = non_monotonic_bins.__code__.co_firstlineno + 1
    with pytest.raises(adcompiler.AssertionFailed,
                       match=f"test_frontend_linalg_search.py:{line}.*monotonically"):
        adcompiler.jit(non_monotonic_bins, backend=backend)(rand(3), np.array([0.0, 2, 1]))


def interp_sum(x, xp, fp):
    return np.sum(np.interp(x, xp, fp))


def test_interp_gradient_at_the_sample_points_is_a_slope():
    """x exactly on a sample point got the exact value fp[k] as a constant: gradient 0. Now the
    slope of the interval on its right (of the last interval at xp[-1]), JAX's convention."""
    xp, fp = np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 1.0, 4.0, 9.0])
    x = np.array([0.0, 1.0, 2.0, 3.0, 2.5])
    against_numpy(lambda x: np.interp(x, xp, fp), x)
    for backend in ("numpy", "numba"):
        g = adcompiler.grad(interp_sum, backend=backend)(x, xp, fp)
        np.testing.assert_array_equal(g, [1.0, 3.0, 5.0, 5.0, 5.0])


def searched_in_a_list(x):
    return np.searchsorted([-1.0, 0.0, 5.0], x), np.einsum("i,i->", x, [1.0, 2.0, 3.0])


def test_python_lists_as_operands_of_searchsorted_and_einsum():
    """np.result_type read the list as a structured dtype's fields: 'Field elements must be
    2- or 3-tuples'."""
    check(searched_in_a_list, np.array([0.5, -2.0, 7.0]))
