"""NumPy's functions that change an array in place (frontend/inplace.py): np.copyto, np.put
(and x.put), np.fill_diagonal, np.putmask, np.place and np.put_along_axis, and ufuncs' (and
np.clip's) out= and where= (ufuncs.with_out). Values and the
arrays changed against NumPy running the same Python, gradients on both backends against
float64 finite differences (what was written is differentiated, what was overwritten is not),
and NumPy's errors at the user's line."""
import numpy as np
import pytest

import adcompiler
from fecheck import central_differences, check, check_gradients, located_error, rand, weighted

FILE = "test_frontend_inplace.py"
X = rand(3, 3)
V = rand(4)


def diagonal_of_v(x, v):
    y = x * 2.0
    np.fill_diagonal(y, v[:2])          # (repeated along the diagonal: v0, v1, v0)
    return y


def diagonal_wrapped(x, v):
    y = np.zeros((5, 2)) + v[:2]
    np.fill_diagonal(y, x[0], wrap=True)
    return y


def diagonal_of_a_cube(x, v):
    y = np.zeros((2, 2, 2)) + x[0, 0]
    np.fill_diagonal(y, v[3])
    return y


def put_static_indices(x, v):
    y = x.copy()
    np.put(y, [0, -1, 4], v[:2] ** 2)
    return y


def put_method_wrapping(x, v):
    y = x.copy()
    y.put(np.array([5, 12, -20]), v[1:], mode="wrap")
    return y


def put_run_time_indices(x, v):
    y = x.copy()
    np.put(y, np.argsort(v)[:3] * 2, v[:3], mode="clip")
    return y


def putmask_cycling(x, v):
    y = x.copy()
    np.putmask(y, x > 0, v)
    return y


def place_in_order(x, v):
    y = x.copy()
    np.place(y, x > 0, v[:2])
    return y


def copyto_where(x, v):
    y = np.zeros_like(x)
    np.copyto(y, v[:3] * 2.0, where=x > 0)
    return y


def copyto_cast(x, v):
    y = np.zeros((3, 3), np.float32)
    np.copyto(y, x)
    return y


def put_along_rows(x, v):
    y = x.copy()
    np.put_along_axis(y, np.argsort(x, axis=1)[:, :1], v[:3, None], axis=1)
    return y


def put_along_flat(x, v):
    y = x.copy()
    np.put_along_axis(y, np.array([1, 4]), v[0], axis=None)
    return y


def fill_diagonal_of_an_argument(a, v):
    np.fill_diagonal(a, v)              # the caller's array changes, as NumPy's
    return np.sum(a)


FUNCTIONS = [diagonal_of_v, diagonal_wrapped, diagonal_of_a_cube, put_static_indices,
             put_method_wrapping, put_run_time_indices, putmask_cycling, place_in_order,
             copyto_where, copyto_cast, put_along_rows, put_along_flat]


@pytest.mark.parametrize("f", FUNCTIONS)
def test_values_are_numpys(f):
    check(f, X, V)


def test_the_callers_array_changes_as_with_numpy():
    check(fill_diagonal_of_an_argument, X, V[:3])


def all_of_them(x, v):
    # (copyto_cast's float32 rounding would be the finite differences' noise)
    return sum(weighted(f(x, v)) for f in FUNCTIONS if f is not copyto_cast) \
        + fill_diagonal_of_an_argument(x * 1.0, v[:3])


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_gradients_against_finite_differences(backend):
    check_gradients(all_of_them, X, V, backend=backend)


def copyto_float_into_int(x):
    np.copyto(np.zeros(3, np.int64) + x[0].astype(np.int64), x[0])


def copyto_wider(x):
    np.copyto(x[0].copy(), x)


def put_out_of_bounds(x):
    np.put(x.copy(), [20], 1.0)


def putmask_of_another_size(x):
    np.putmask(x.copy(), np.ones(3, bool), 1.0)


def fill_diagonal_of_a_vector(x):
    np.fill_diagonal(x[0].copy(), 1.0)


def fill_diagonal_of_a_non_cube(x):
    np.fill_diagonal(np.zeros((2, 2, 3)) + x[0], 1.0)


def put_along_another_rank(x):
    np.put_along_axis(x.copy(), np.array([0, 1]), 1.0, axis=1)


CONSTANT = np.arange(4.0)


def put_into_a_constant(x):
    np.put(CONSTANT, [0], x[0, 0])


@pytest.mark.parametrize("f, match", [
    (copyto_float_into_int, "cannot cast float64 to int64 according to the rule 'same_kind'"),
    (copyto_wider, r"could not broadcast input array from shape \(3, 3\) into shape \(3,\)"),
    (put_out_of_bounds, "index 20 is out of bounds"),
    (putmask_of_another_size, "mask and data must be the same size"),
    (fill_diagonal_of_a_vector, "at least 2-d"),
    (fill_diagonal_of_a_non_cube, "of equal length"),
    (put_along_another_rank, "the same number of dimensions"),
    (put_into_a_constant, "must be a run-time array"),
])
def test_numpys_errors_are_located(f, match):
    located_error(f, (X,), match, FILE)


def put_far_out(x, i):
    y = x.copy()
    np.put(y, i + 20, 1.0)
    return y


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_run_time_index_out_of_bounds_is_numpys_index_error(backend):
    with pytest.raises(adcompiler.AdcompilerError, match="index 20 is out of bounds"):
        adcompiler.jit(put_far_out, backend=backend)(X, np.array([0]))


def safe_division(x, v):
    # NumPy's idiom: entries where the divisor is 0 keep out's 0, and get no gradient (no NaN)
    return np.divide(x, np.abs(v[:3]) * (x > 0), out=np.zeros_like(x), where=x > 0)


def ufuncs_into_out(x, v):
    y = np.zeros(3)
    np.exp(x[0], out=y)
    np.log(x[1], y, where=x[1] > 0)
    np.arcsin(x[2] / 3, out=(y,), where=x[2] > -0.5)
    z = np.add(x, v[:3], out=x * 1.0)
    w = x[2] * 3.0
    np.clip(w, -1.0, 1.2, out=w)       # (a PGD step's projection, in place)
    return y, z, w, np.clip(x[1], -0.2, 0.4, out=np.zeros_like(x[1]))


def test_ufuncs_write_into_out_where_asked():
    check(safe_division, X, V)
    check(ufuncs_into_out, X, V)


def ufunc_losses(x, v):
    return weighted(safe_division(x, v)) + sum(weighted(r) for r in ufuncs_into_out(x, v))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_ufunc_out_and_where_gradients(backend):
    check_gradients(ufunc_losses, X, V, backend=backend)


def where_without_out(x):
    return np.log(x, where=x > 0)


def out_of_ints(x):
    return np.add(x, 1.0, out=np.zeros(3, np.int64))


@pytest.mark.parametrize("f, match", [
    (where_without_out, r"np.log\(where=...\) without out= leaves the other entries "
                        "uninitialised"),
    (out_of_ints, "Cannot cast ufunc 'add' output from float64 to int64 with casting rule "
                  "'same_kind'"),
])
def test_ufunc_out_and_where_errors_are_numpys(f, match):
    located_error(f, (X[0],), match, FILE)


def messages_into(x, v, dtype=np.float32):
    out = np.zeros(3, dtype)
    np.add.at(out, np.array([0, 2, 2]), x[0] * v[0] + v[1:])     # (float64 values)
    return out


def test_add_at_rounds_float64_values_into_a_float32_array():
    check(messages_into, X, V)
    # the gradient is the float64 buffer's (finite differences of float32 sums are noise)
    got = adcompiler.grad(lambda x, v: weighted(messages_into(x, v)), wrt=(0, 1))(X, V)
    for k, g in enumerate(got):
        np.testing.assert_allclose(g, central_differences(
            lambda x, v: weighted(messages_into(x, v, np.float64)), X, V, wrt=k), atol=1e-5)


def integer_quotients(x, v):
    a, b = np.array([5, 7, 4, -9]), (np.abs(v) > 0.5).astype(np.int64) * 2
    out = np.floor_divide(a, b, out=np.zeros_like(a), where=b != 0)
    return out, np.remainder(a, b, out=np.zeros_like(b) + a, where=b != 0)


def non_bool_masks_and_no_values(x, v):
    y, z = x.copy(), x.copy()
    np.place(y, np.array([0.0, 0.5, 0.0, 1.0, 1.0, 0.0, 2.0, 0.0, 0.0]).reshape(3, 3), v[:2])
    np.place(z, x > 100.0, [])          # (no True: nothing to insert, no error)
    np.putmask(z, x > 0, [])
    return y, z


def test_ufunc_where_on_ints_and_numpys_edge_cases():
    check(integer_quotients, X, V)
    check(non_bool_masks_and_no_values, X, V)


def place_nothing_where_asked(x):
    y = x.copy()
    np.place(y, x > 0, [])
    return y


def test_placing_nothing_where_the_mask_has_a_true_fails_when_it_runs():
    with pytest.raises(adcompiler.AssertionFailed, match="Cannot insert from an empty array"):
        adcompiler.jit(place_nothing_where_asked)(X)
