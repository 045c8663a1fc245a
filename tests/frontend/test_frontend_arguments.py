"""Arguments changed in place: after the call the caller's arrays, and the entries of its dicts
and lists, hold what NumPy running the function would have left in them, through `evaluate`,
`jit`, `grad`, `value_and_grad` and `vjp`, on both backends (`fecheck.check` compares the
arguments after every frontend test's call too). A change whose new value adcompiler cannot
know (through a view; entries added to a container) is a located error rather than a caller's
array left unchanged."""
import copy
import re

import numpy as np
import pytest
import scipy.sparse

import adcompiler
from fecheck import check, rand, same


def set_item(x, y):
    x[0] = y[1] * 2.0
    return np.sum(x * y)


def augmented(x, y):
    x += y
    y *= 0.5
    return x * 1.0


def entries(params, grads, lr):
    for k in params:
        params[k] -= lr * grads[k]      # an optimiser step written in place: returns nothing


def in_list(xs):
    xs[1][0] = 1.0
    return xs[0] * 2.0


def changed_in_runtime_if(x, c):
    if c > 0:
        x *= 2.0
    return x + 1.0


def changed_in_runtime_loop(x, n):
    for _ in range(n):
        x[1:] += x[:-1]
    return np.sum(x)


def rebound_not_changed(x, s, f):
    x = x * 2.0     # a new array: the caller's is untouched
    s += 1.0        # a NumPy scalar or a Python float is rebound, as in NumPy
    f += 1.0
    x += s
    return x, s, f


def changes_through_another_name(x):
    y = x
    y += 1.0            # not inlined (its parameters are not written by name): a separate function
    return np.sum(y)


def calls_a_changing_function(x):
    s = changes_through_another_name(x)
    return s + np.sum(x)


def gradient_of_a_changing_function(x):
    g = adcompiler.grad(changes_through_another_name)(x)
    value, pullback = adcompiler.vjp(augmented, x, g)
    return np.sum(g) + np.sum(x) + np.sum(pullback(value)[1])


def sgd_rebinding(params, grads, lr):
    for k in params:
        params[k] = params[k] - lr * grads[k]      # new arrays set in the caller's dict


def rebinding_in_runtime_if(p, c):
    if c > 0:
        p["w"] = p["w"] * 2.0
    p["s"] = p["s"] * 0.5           # a Python float entry: set to a Python float
    return np.sum(p["w"])


def rebinding_nested(p):
    p["layers"][0]["w"] = p["layers"][0]["w"] * 2.0
    p["layers"][1]["b"] -= 1.0
    return p["layers"][1]["b"] * 1.0


def rebinding_then_name_rebound(p):
    p["w"] = p["w"] * 3.0           # the caller's dict
    p = {"w": p["w"] * 0.0}         # a new dict: not the caller's
    p["w"] = p["w"] + 1.0
    return p["w"]


def sets_through_another_name(q):
    r = q
    r["w"] = r["w"] + 1.0           # not inlined: a separate function, its entry set after


def calls_a_setting_function(p):
    sets_through_another_name(p)
    return np.sum(p["w"])


def alias_set_in_runtime_loop(p, n):
    q = p
    for _ in range(n):
        q["w"] = q["w"] * 2.0       # the one dict p, q and the caller hold
    return np.sum(p["w"])


def alias_set_in_runtime_if(p, c):
    inner = p["layers"][0]
    if c > 0:
        inner["w"] = inner["w"] * 2.0
    return np.sum(p["layers"][0]["w"])


def set_in_loop_then_name_rebound(p, n):
    for _ in range(n):
        p["w"] = p["w"] * 2.0
    p = {"w": p["w"]}
    return np.sum(p["w"])


def _update_if(p, c):
    if c > 0:
        p["w"] = p["w"] * 3.0       # an inlined helper: its own name for the caller's dict


def helper_sets_in_runtime_if(p, c):
    _update_if(p, c)
    return np.sum(p["w"])


def sets_then_returns_early(p, c):
    if c > 0:
        p["w"] = p["w"] * 3.0
        return np.sum(p["w"])
    p["b"] = p["b"] + 1.0
    return np.sum(p["w"])


def alias_read_in_runtime_if(p, c):
    q, inner = p, p["layers"][0]
    if c > 0:
        p["w"] = p["w"] * 2.0
        p["layers"][0]["w"] = p["layers"][0]["w"] * 3.0
        s = np.sum(q["w"]) + np.sum(inner["w"])     # the entries just set, through aliases
    else:
        s = np.sum(q["w"]) * 0.5
    return s


def aliases_set_in_both_branches(p, c):
    q = p
    if c > 0:
        p["w"] = p["w"] * 2.0
    else:
        q["b"] = q["b"] * 3.0
    return np.sum(p["w"]) + 2.0 * np.sum(q["b"])


def alias_made_in_branch(p, c):
    if c > 0:
        inner = p["layers"][0]       # p is only read: its inner dict is set through inner
        inner["w"] = inner["w"] * 2.0
    return np.sum(p["layers"][0]["w"])


def alias_returns_early(p, c):
    q = p
    if c > 0:
        q["w"] = q["w"] * 2.0
        return np.sum(p["w"])
    p["b"] = p["b"] * 3.0
    return np.sum(q["b"]) + np.sum(p["w"])


def alias_made_after_early_return(xs, t, c):
    if c > 0.5:
        return xs[0]
    u = t
    if c > 0:
        u[1] = u[1] * 2.0
    return u[1]


def set_in_runtime_if_then_name_rebound(xs, c):
    if c > 0:
        xs[0] = xs[1] * 1.5
        xs = xs[:]                   # the caller's list keeps the entry set before
    return np.sum(xs[0])


def set_then_name_rebound_after_early_return(xs, c):
    if c > 0.5:
        return np.sum(xs[0])
    xs[0] = xs[1] * 1.5
    xs = xs[:]
    return np.sum(xs[0])


def aliases_in_runtime_loop(p, n):
    inner = p["layers"][0]
    q = p
    for _ in range(n):
        p["layers"][0]["w"] = p["layers"][0]["w"] * 2.0
        inner["w"] = inner["w"] + 1.0       # one dict with p["layers"][0]
        p["b"] = p["b"] + q["w"]            # q is p
        q["w"] = q["w"] * 0.5
    return np.sum(p["layers"][0]["w"]) + np.sum(inner["w"]) + np.sum(p["b"])


@pytest.mark.parametrize("f,args", [
    (alias_read_in_runtime_if, ({"w": rand(2), "layers": [{"w": rand(2)}]}, np.float64(1.0))),
    (alias_read_in_runtime_if, ({"w": rand(2), "layers": [{"w": rand(2)}]}, np.float64(-1.0))),
    (aliases_set_in_both_branches, ({"w": rand(2), "b": rand(2)}, np.float64(1.0))),
    (aliases_set_in_both_branches, ({"w": rand(2), "b": rand(2)}, np.float64(-1.0))),
    (alias_made_in_branch, ({"layers": [{"w": rand(2)}]}, np.float64(1.0))),
    (alias_made_in_branch, ({"layers": [{"w": rand(2)}]}, np.float64(-1.0))),
    (alias_returns_early, ({"w": rand(2), "b": rand(2)}, np.float64(1.0))),
    (alias_returns_early, ({"w": rand(2), "b": rand(2)}, np.float64(-1.0))),
    (alias_made_after_early_return, ([rand(2)], [rand(2), rand(2)], np.float64(1.0))),
    (alias_made_after_early_return, ([rand(2)], [rand(2), rand(2)], np.float64(0.2))),
    (alias_made_after_early_return, ([rand(2)], [rand(2), rand(2)], np.float64(-1.0))),
    (set_in_runtime_if_then_name_rebound, ([rand(2), rand(2)], np.float64(1.0))),
    (set_in_runtime_if_then_name_rebound, ([rand(2), rand(2)], np.float64(-1.0))),
    (set_then_name_rebound_after_early_return, ([rand(2), rand(2)], np.float64(1.0))),
    (set_then_name_rebound_after_early_return, ([rand(2), rand(2)], np.float64(-1.0))),
    (aliases_in_runtime_loop, ({"layers": [{"w": rand(2)}], "w": rand(2), "b": rand(2)},
                               np.int64(3))),
    (aliases_in_runtime_loop, ({"layers": [{"w": rand(2)}], "w": rand(2), "b": rand(2)},
                               np.int64(0))),
    (alias_set_in_runtime_loop, ({"w": rand(2)}, np.int64(2))),
    (alias_set_in_runtime_loop, ({"w": rand(2)}, np.int64(0))),
    (alias_set_in_runtime_if, ({"layers": [{"w": rand(2)}]}, np.float64(1.0))),
    (alias_set_in_runtime_if, ({"layers": [{"w": rand(2)}]}, np.float64(-1.0))),
    (set_in_loop_then_name_rebound, ({"w": rand(2)}, np.int64(2))),
    (helper_sets_in_runtime_if, ({"w": rand(2)}, np.float64(1.0))),
    (helper_sets_in_runtime_if, ({"w": rand(2)}, np.float64(-1.0))),
    (sets_then_returns_early, ({"w": rand(2), "b": rand(2)}, np.float64(1.0))),
    (sets_then_returns_early, ({"w": rand(2), "b": rand(2)}, np.float64(-1.0))),
    (sgd_rebinding, ({"w": rand(3), "b": rand(2)}, {"w": rand(3), "b": rand(2)}, 0.1)),
    (rebinding_in_runtime_if, ({"w": rand(3), "s": 2.0}, np.float64(1.0))),
    (rebinding_in_runtime_if, ({"w": rand(3), "s": 2.0}, np.float64(-1.0))),
    (rebinding_nested, ({"layers": [{"w": rand(2)}, {"b": rand(2)}]},)),
    (rebinding_then_name_rebound, ({"w": rand(2)},)),
    (calls_a_setting_function, ({"w": rand(2)},)),
    (calls_a_changing_function, (rand(3),)),
    (gradient_of_a_changing_function, (rand(3),)),
    (set_item, (rand(3), rand(3))),
    (augmented, (rand(2, 3), rand(2, 3))),
    (augmented, (rand(2, 3, dtype=np.float32), rand(3, dtype=np.float32))),
    (entries, ({"w": rand(3), "b": rand(2)}, {"w": rand(3), "b": rand(2)}, 0.1)),
    (in_list, ([rand(2), rand(3)],)),
    (changed_in_runtime_if, (rand(3), np.float64(1.0))),
    (changed_in_runtime_if, (rand(3), np.float64(-1.0))),
    (changed_in_runtime_loop, (rand(4), np.int64(3))),
    (rebound_not_changed, (rand(3), np.float64(2.0), 3.0)),
], ids=lambda v: getattr(v, "__name__", ""))
def test_arguments_changed_in_place_match_numpy(f, args):
    check(f, *args)


def test_only_changed_arguments_are_extra_results():
    fn = adcompiler.trace(augmented, rand(2, 3), rand(2, 3))
    assert fn.meta["written"] == (0, 1) and len(fn.results) == 3
    fn = adcompiler.trace(rebound_not_changed, rand(3), np.float64(2.0), 3.0)
    assert fn.meta["written"] == () and len(fn.results) == 3


def returns_nothing(x):
    y = x * 2.0     # noqa: F841


def only_checks(x):
    assert np.all(x > 0), "x must be positive"


def dims(x):
    return x.shape, x.ndim


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_jit_of_a_function_returning_no_array(backend):
    """None, or static values only: the program has no results (a TypeError before)."""
    x = np.abs(rand(3, 4)) + 0.1
    assert adcompiler.jit(returns_nothing, backend=backend)(x) is None
    assert adcompiler.jit(only_checks, backend=backend)(x) is None
    with pytest.raises(adcompiler.AssertionFailed, match="x must be positive"):
        adcompiler.jit(only_checks, backend=backend)(-x)
    assert adcompiler.jit(dims, backend=backend)(x) == ((3, 4), 2)


MASKED = np.ma.array([1.0, 2.0, 3.0], mask=[0, 1, 0])


class ArrayLike:
    """Another library's array (a torch tensor, a CuPy array): NumPy can convert it."""

    def __init__(self, a):
        self.a = a

    def __array__(self, dtype=None, copy=None):
        return self.a


def test_another_librarys_array_is_refused_not_compiled_in():
    """It would be a static value: its later changes unseen by the compiled code."""
    with pytest.raises(adcompiler.TraceError, match=r"argument x of dims\(\): it holds a "
                       r".*ArrayLike; adcompiler takes NumPy arrays: pass np.asarray"):
        adcompiler.jit(dims)(ArrayLike(rand(2)))
    with pytest.raises(adcompiler.TraceError, match="ArrayLike"):
        adcompiler.grad(augmented)(rand(2), {"b": ArrayLike(rand(2))})
    # NumPy's subclasses that compute otherwise were taken as plain arrays: a masked array
    # lost its mask, a matrix's `*` became elementwise
    with pytest.raises(adcompiler.TraceError, match=r"numpy.ma.MaskedArray; .*np.ma.filled"):
        adcompiler.jit(dims)(np.ma.array(rand(3), mask=[0, 1, 0]))
    with pytest.raises(adcompiler.TraceError, match=r"numpy.matrix; .*np.asarray"):
        adcompiler.grad(augmented)(rand(2), {"b": np.matrix(rand(2))})
    with pytest.raises(adcompiler.TraceError, match=r"this constant is a numpy.ma.MaskedArray"):
        adcompiler.jit(lambda x: np.sum(x * MASKED))(rand(3))     # (a global's too)
    # (a class with __array__, a NumPy scalar type, is a static value as before)
    x = rand(3)
    assert adcompiler.jit(cast_sum)(x, np.float32).dtype == np.float32
    assert adcompiler.jit(cast_sum)(x, np.float32) == pytest.approx(np.sum(x), rel=1e-6)


def cast_sum(x, dtype):
    return np.sum(x.astype(dtype))


SPARSE = scipy.sparse.csr_matrix(np.eye(3))


def sparse_product(a, h):
    return np.sum(a @ h)


def global_sparse_product(h):
    return np.sum(SPARSE @ h) + np.sum(h @ scipy.sparse.csr_array(SPARSE))


def sparse_method(h):
    return np.sum(SPARSE.dot(h))


def test_a_sparse_matrix_is_refused_with_what_to_pass():
    """A GCN's adjacency as a scipy.sparse matrix: said so, with the dense or COO way."""
    said = r"a scipy.sparse csr_\w+; adcompiler computes with dense NumPy arrays: pass " \
        r"it.toarray\(\), or its COO arrays"
    with pytest.raises(adcompiler.TraceError, match=r"argument a of sparse_product\(\): it "
                                                    r"holds " + said):
        adcompiler.grad(sparse_product, wrt=1)(SPARSE, rand(3))
    with pytest.raises(adcompiler.TraceError, match="an operand is " + said):
        adcompiler.grad(global_sparse_product)(rand(3))
    with pytest.raises(adcompiler.TraceError, match="it is a method of " + said):
        adcompiler.grad(sparse_method)(rand(3))


def two_biases(p, x):
    h = x @ p["W"] + p["b1"]
    return np.mean(np.tanh(h + p["b2"]) ** 2)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_each_gradient_is_its_own_array(backend):
    """b1's and b2's gradients are equal, and were one array: scaling one in place (gradient
    clipping by hand) scaled the other too."""
    p, x = {"W": rand(2, 3), "b1": rand(3), "b2": rand(3)}, rand(4, 2)
    g = adcompiler.grad(two_biases, backend=backend)(p, x)
    y = np.tanh(x @ p["W"] + p["b1"] + p["b2"])
    want = np.sum(2 * y * (1 - y ** 2), axis=0) / y.size    # d mean(y^2) / d b, by hand
    g["b1"] *= 0.5
    np.testing.assert_allclose(g["b2"], want, rtol=1e-12)
    np.testing.assert_allclose(g["b1"], 0.5 * want, rtol=1e-12)
    _, pullback = adcompiler.vjp(two_biases, p, x, backend=backend)
    (gp, _) = pullback(np.float64(1.0))
    assert not np.shares_memory(gp["b1"], gp["b2"])


MASK = np.tril(np.ones((3, 3)))


def copies(x):
    h = np.tanh(x)
    return MASK.copy(), h, h.copy(), x.copy()


def scaled_copy(x):
    return x * 1.0


def as_dict(x):
    return {"a": x * 2.0, "b": x * 3.0}


def stopped(x):
    h = x * 2.0
    return adcompiler.stop_gradient(x), h, adcompiler.stop_gradient(h)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_each_result_is_its_own_array(backend):
    """NumPy's copies are new arrays: a compiled static array, one array returned twice and an
    argument returned were each one array, and a caller changing one changed the others (and
    every later call's constant)."""
    x = rand(3)
    x0 = x.copy()
    mask, h, h2, x2 = adcompiler.jit(copies, backend=backend)(x)
    mask[:] = 0.0
    h += 1.0
    x2 += 1.0
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_allclose(h2, np.tanh(x))
    np.testing.assert_array_equal(adcompiler.jit(copies, backend=backend)(x)[0], MASK)
    value, pullback = adcompiler.vjp(scaled_copy, x, backend=backend)
    value += 1.0
    np.testing.assert_array_equal(x, x0)
    ct = np.ones(3)
    (g,) = pullback(ct)
    g *= 0.5
    np.testing.assert_array_equal(ct, np.ones(3))
    np.testing.assert_array_equal(pullback(ct)[0], np.ones(3))
    # stop_gradient's value is its operand: the NumPy backend returned the argument itself
    # and one array for h and stop_gradient(h)
    s, h, sh = adcompiler.jit(stopped, backend=backend)(x)
    s += 1.0
    h += 1.0
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(sh, x0 * 2.0)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_pullback_reads_the_cotangent_by_its_structure(backend):
    """A dict cotangent is matched by its keys, as JAX does (it was read in its own order);
    one of another structure is an error; None is a zero cotangent."""
    x = rand(3)
    _, pullback = adcompiler.vjp(as_dict, x, backend=backend)
    np.testing.assert_allclose(pullback({"b": np.ones(3), "a": np.zeros(3)})[0], 3.0)
    np.testing.assert_allclose(pullback({"a": np.ones(3), "b": None})[0], 2.0)
    for wrong, says in (({"c": np.ones(3), "d": np.ones(3)}, "it has keys 'c', 'd', not 'a', 'b'"),
                        ([np.ones(3), np.ones(3)], "it is a list, not a dict")):
        with pytest.raises(adcompiler.AdcompilerError, match=f"the value's structure: {says}"):
            pullback(wrong)


def bumped(x, p):
    x += 1.0
    p["w"] *= 2.0
    return x, p["w"], x * 1.0


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_an_argument_changed_in_place_and_returned_is_the_callers_array(backend):
    """As NumPy returns it: the caller's array itself (it was a copy: a write through the
    result did not reach the argument), not for a new array equal to it."""
    x, p = rand(3), {"w": rand(2)}
    x0, w0, w = x.copy(), p["w"].copy(), p["w"]
    y, pw, z = adcompiler.jit(bumped, backend=backend)(x, p)
    assert y is x and pw is w and p["w"] is w and z is not x
    np.testing.assert_array_equal(x, x0 + 1.0)
    np.testing.assert_array_equal(w, w0 * 2.0)
    np.testing.assert_array_equal(z, x0 + 1.0)


def tail_product(x, w):
    return np.tanh(x[1:] @ w)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_pullback_differentiates_at_the_arguments_vjp_was_given(backend):
    """Not at what the caller's arrays hold when it calls the pullback (a buffer it reuses):
    the forward sweep kept the argument itself, or a view of it, for the backward sweep."""
    x, w = rand(3, 2), rand(2, 2)
    x0, w0 = x.copy(), w.copy()
    _, pullback = adcompiler.vjp(tail_product, x, w, backend=backend)
    x[:], w[:] = 5.0, -1.0
    ct = rand(2, 2)
    dh = ct * (1 - np.tanh(x0[1:] @ w0) ** 2)
    gx, gw = pullback(ct)
    np.testing.assert_allclose(gw, x0[1:].T @ dh, rtol=1e-12)
    np.testing.assert_allclose(gx[1:], dh @ w0.T, rtol=1e-12)


def scaled_in_place(x, w):
    x *= 2.0
    return np.sum((x * w) ** 2)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_jit_grad_and_vjp_change_the_callers_arrays(backend):
    p, g = {"w": rand(3), "b": rand(2)}, {"w": rand(3), "b": rand(2)}
    want = copy.deepcopy(p)
    entries(want, g, 0.1)
    assert adcompiler.jit(entries, backend=backend)(p, g, 0.1) is None
    same(p, want)

    x0, w = rand(4), rand(4)
    x = x0.copy()
    grads = adcompiler.grad(scaled_in_place, wrt=(0, 1), backend=backend)(x, w)
    # d/dx0 sum((2 x0 w)^2) = 8 x0 w^2 and d/dw = 8 x0^2 w, of the value x had on entry
    np.testing.assert_allclose(grads[0], 8 * x0 * w ** 2, rtol=1e-12)
    np.testing.assert_allclose(grads[1], 8 * x0 ** 2 * w, rtol=1e-12)
    np.testing.assert_array_equal(x, 2 * x0)

    x = x0.copy()
    value, _ = adcompiler.value_and_grad(scaled_in_place, backend=backend)(x, w)
    np.testing.assert_allclose(value, np.sum((2 * x0 * w) ** 2), rtol=1e-12)
    np.testing.assert_array_equal(x, 2 * x0)

    x = x0.copy()
    value, pullback = adcompiler.vjp(augmented, x, w.copy(), backend=backend)
    np.testing.assert_allclose(value, x0 + w, rtol=1e-12)
    np.testing.assert_array_equal(x, x0 + w)
    dx, dw = pullback(np.ones(4))
    np.testing.assert_allclose(dx, np.ones(4))
    np.testing.assert_allclose(dw, np.ones(4))


def through_a_slice(x):
    v = x[1:]
    v += 1.0
    return np.sum(v)


def through_a_reshape(x):
    x = x.reshape(2, 3)
    x[0] = 0.0
    return x


def through_a_slice_in_an_if(x, c):
    y = x * 1.0
    if c > 0:
        v = x[1:]
        v *= 2.0
    return np.sum(y)


def maybe_changed(x, c):
    o = x if c > 0 else x * 2.0
    o[0] = 0.0
    return o


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_an_argument_changed_through_a_slice_is_the_callers_array_changed(backend):
    """A basic slice of an argument is a view NumPy makes whatever the layout: writing
    through it, in a run-time if too, changes the caller's array (it was an error)."""
    for f, args in ((through_a_slice, (rand(4),)),
                    (through_a_slice_in_an_if, (rand(3), np.float64(1.0))),
                    (through_a_slice_in_an_if, (rand(3), np.float64(-1.0)))):
        ours, theirs = [a.copy() for a in args], [a.copy() for a in args]
        np.testing.assert_allclose(adcompiler.jit(f, backend=backend)(*ours), f(*theirs),
                                   rtol=1e-12)
        np.testing.assert_array_equal(ours[0], theirs[0])


@pytest.mark.parametrize("f,args,at", [(through_a_reshape, (rand(6),), (2, "x[0] = 0.0")),
                                       (maybe_changed, (rand(3), np.float64(1.0)),
                                        (2, "o[0] = 0.0"))],
                         ids=lambda v: getattr(v, "__name__", ""))
def test_an_argument_changed_to_an_unknown_value_is_a_located_error(f, args, at):
    """The error is located at the write (it named the def line)."""
    line = f.__code__.co_firstlineno + at[0]
    with pytest.raises(adcompiler.TraceError,
                       match=rf"test_frontend_arguments.py:{line}: argument x is changed in "
                             rf"place where its new value is unknown.*'{re.escape(at[1])}'"):
        adcompiler.trace(f, *args)


@adcompiler.custom_vjp
def scaled(x):
    return 2.0 * x


def scaled_fwd(x):
    x *= 2.0
    return x, ()


scaled.defvjp(scaled_fwd, lambda res, g: (2.0 * g,))


def uses_scaled(x):
    return np.sum(scaled(x))


def test_a_custom_vjp_changing_its_arguments_is_an_error():
    with pytest.raises(adcompiler.TraceError, match="scaled_fwd changes its arguments in place"):
        adcompiler.grad(uses_scaled, backend="numpy")(rand(3))


def adds_one_then_reads(a, b):
    q = a
    q += 1.0            # not inlined on its own: changes a through another name
    return np.sum(q * b)


def passes_one_array_twice(x):
    return adds_one_then_reads(x, x) + np.sum(x)


def test_a_separate_callee_given_one_array_twice_sees_its_own_change():
    # NumPy: b is a, so q * b reads the changed array (was: the callee read b as it was)
    check(passes_one_array_twice, rand(4))


def grad_of_one_array_twice(x):
    return adcompiler.grad(adds_one_then_reads)(x, x)


def test_grad_inside_traced_code_of_one_array_twice_is_an_error():
    with pytest.raises(adcompiler.TraceError, match="given one array .* as two arguments"):
        adcompiler.trace(grad_of_one_array_twice, rand(3))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_an_argument_changed_in_place_aliasing_another_is_an_error(backend):
    x = rand(3)
    before = x.copy()
    for args in [(x, x), (x, x[1:]), ({"w": x, "v": x},)]:
        f = changes_first if len(args) == 2 else entries_alias
        at = f"test_frontend_arguments.py:{f.__code__.co_firstlineno}: "
        with pytest.raises(adcompiler.TraceError, match=at + ".*shares memory with another"):
            adcompiler.jit(f, backend=backend)(*args)
    np.testing.assert_array_equal(x, before)     # nothing ran
    y = rand(3)
    want = before[:2] + y[:2]
    out = adcompiler.jit(augmented, backend=backend)(x[:2].copy(), y[:2])  # y's view: no alias
    np.testing.assert_allclose(out, want)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_disjoint_views_of_one_array_are_separate_arguments(backend):
    """Column blocks of one matrix, or x[::2] and x[1::2], span overlapping addresses but
    have no element in common: NumPy's result is well defined, and they were refused as
    sharing memory."""
    f = adcompiler.jit(changes_first_by_second, backend=backend)
    for make in (lambda: rand(3, 4), lambda: rand(8)):
        mine = make()
        numpys = mine.copy()
        halves = (lambda a: (a[:, :2], a[:, 2:])) if mine.ndim == 2 else \
            (lambda a: (a[::2], a[1::2]))
        np.testing.assert_allclose(f(*halves(mine)), changes_first_by_second(*halves(numpys)))
        np.testing.assert_allclose(mine, numpys)


def changes_first_by_second(x, y):
    x -= 0.5 * y
    return np.sum(x * y)


def changes_first(x, y):
    x += 1.0
    return np.sum(y)


def entries_alias(p):
    p["w"] += 1.0
    return np.sum(p["v"])


def kept_copy(x):
    r = x.copy()        # the backend may return x itself for r: its value equals x's on entry
    x += 1.0
    return r


def swapped(x, y):
    a, b = y.copy(), x.copy()
    x[:] = a            # x's new value is y's old one: the caller's y itself
    y[:] = b
    return np.sum(x)


def sin_then_changed(x, w):
    s = np.sum(np.sin(x) * w)     # the pullback needs x as it was on entry
    x += 1.0
    return s


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_results_and_residuals_are_not_the_callers_changed_arrays(backend):
    x0 = rand(3)
    x = x0.copy()
    np.testing.assert_array_equal(adcompiler.jit(kept_copy, backend=backend)(x), x0)
    np.testing.assert_array_equal(x, x0 + 1.0)
    x = x0.copy()
    value, _ = adcompiler.vjp(kept_copy, x, backend=backend)
    np.testing.assert_array_equal(value, x0)
    x, y = x0.copy(), rand(3)
    y0 = y.copy()
    adcompiler.jit(swapped, backend=backend)(x, y)
    np.testing.assert_array_equal(x, y0)
    np.testing.assert_array_equal(y, x0)
    x, w = x0.copy(), rand(3)
    _, pullback = adcompiler.vjp(sin_then_changed, x, w, backend=backend)
    np.testing.assert_allclose(pullback(1.0)[0], np.cos(x0) * w, rtol=1e-12)


@pytest.mark.parametrize("f,args", [(kept_copy, (rand(3),)), (swapped, (rand(3), rand(3)))],
                         ids=lambda v: getattr(v, "__name__", ""))
def test_results_aliasing_changed_arguments_match_numpy(f, args):
    check(f, *args)


def adds_an_entry(p):
    p["new"] = p["w"] * 2.0
    return np.sum(p["w"])


def extends_its_history(w, hist):
    loss = np.sum(w ** 2)
    hist += [loss]
    return loss


def test_adding_entries_to_an_argument_container_is_a_located_error():
    """(`hist += [loss]` was located at the def line: the line that adds is the one named.)"""
    for f, args in ((adds_an_entry, ({"w": rand(2)},)), (extends_its_history, (rand(2), []))):
        line = f.__code__.co_firstlineno + (1 if f is adds_an_entry else 2)
        with pytest.raises(adcompiler.TraceError, match=rf"test_frontend_arguments.py:{line}: "
                                                        r"argument \w+ has entries added"):
            adcompiler.trace(f, *args)


def scaled_entry(p, x):
    p["w"] = p["w"] * 2.0
    return np.sum(p["w"] * x)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_grad_of_a_function_setting_an_entry(backend):
    w0, x = rand(3), rand(3)
    p = {"w": w0.copy()}
    old = p["w"]
    g = adcompiler.grad(scaled_entry, backend=backend)(p, x)
    np.testing.assert_allclose(g["w"], 2.0 * x, rtol=1e-12)    # of the entry on entry
    np.testing.assert_allclose(p["w"], 2.0 * w0, rtol=1e-12)
    np.testing.assert_array_equal(old, w0)      # a new array in the dict, as in Python


def _set_first(xs):
    ys = xs
    ys[0] = ys[0] + 1.0         # a separate function: sets the caller's list entry


def reads_the_other_name(xs, t):
    _set_first(xs)
    return np.sum(t[0][0])


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_container_passed_twice_to_a_changing_function_is_an_error(backend):
    """Traced with each argument's lists its own, the function read t[0][0] unchanged (2.0
    where Python gives 3.0): an error before anything is returned or changed."""
    xs = [np.ones(2), np.zeros(2)]
    with pytest.raises(adcompiler.TraceError, match="is given one list twice"):
        adcompiler.jit(reads_the_other_name, backend=backend)(xs, (xs, 1.0))
    np.testing.assert_array_equal(xs[0], np.ones(2))
    ys = [np.ones(2), np.zeros(2)]
    assert adcompiler.jit(reads_the_other_name, backend=backend)(ys, ([np.ones(2)], 1.0)) == 2.0
    np.testing.assert_array_equal(ys[0], 2.0 * np.ones(2))


def picks_one_inner_dict(p, c):
    if c > 0:
        r = p["layers"][0]
    else:
        r = p["layers"][0]
    r["w"] = r["w"] * 2.0           # the one inner dict either way: the caller's
    return np.sum(p["layers"][0]["w"])


def picks_between_inner_dicts(p, c):
    if c > 0:
        r = p["layers"][0]
    else:
        r = p["layers"][1]
    return np.sum(r["w"])           # reading Python's choice is fine


def changes_a_dict_an_if_chose(p, c):
    if c > 0:
        r = p["layers"][0]
    else:
        r = p["layers"][1]
    r["w"] = r["w"] * 2.0
    return np.sum(p["layers"][0]["w"])


def copies_in_one_branch_then_appends(xs, c):
    if c > 0:
        xs = list(xs)
    xs.append(xs[0] * 2.0)
    return np.sum(xs[-1])


@pytest.mark.parametrize("c", [1.0, -1.0])
def test_a_container_an_if_chose_is_read_but_not_changed(c):
    layers = {"layers": [{"w": rand(2)}, {"w": rand(2)}]}
    check(picks_one_inner_dict, layers, np.float64(c))
    check(picks_between_inner_dicts, layers, np.float64(c))
    for f, args in ((changes_a_dict_an_if_chose, (layers,)),
                    (copies_in_one_branch_then_appends, ([rand(2)],))):
        with pytest.raises(adcompiler.TraceError, match=r"is a different (dict|list) from "
                                                        r"before on each path of the if at line"):
            adcompiler.trace(f, *copy.deepcopy(args), np.float64(c))


def replaces_a_shared_dict_in_runtime_loop(p, n):
    inner = p["layers"][0]
    for _ in range(n):
        p["layers"][0] = {"w": inner["w"] * 2.0}    # one dict at two places, then two
        inner["w"] = inner["w"] + 1.0
    return p["layers"][0]["w"]


def changes_a_chosen_dict_in_runtime_loop(p, c, n):
    if c > 0:
        r = p["layers"][0]
    else:
        r = p["layers"][1]
    for _ in range(n):
        r["w"] = r["w"] * 2.0
    return p["layers"][0]["w"]


def test_run_time_loops_that_would_lose_a_containers_identity_are_errors():
    layers = {"layers": [{"w": rand(2)}, {"w": rand(2)}]}
    with pytest.raises(adcompiler.TraceError, match="changes which names and entries hold one"):
        adcompiler.trace(replaces_a_shared_dict_in_runtime_loop, copy.deepcopy(layers),
                         np.int64(2))
    with pytest.raises(adcompiler.TraceError, match="is a different dict from before on each path of the if"):
        adcompiler.trace(changes_a_chosen_dict_in_runtime_loop, copy.deepcopy(layers),
                         np.float64(0.5), np.int64(1))


def reads_a_chosen_dict_after_its_source_changed(p, c):
    if c > 0:
        r = p["layers"][0]
    else:
        r = p["layers"][1]
    p["layers"][0]["w"] = p["layers"][0]["w"] * 3.0
    return np.sum(r["w"])           # Python: the new entry when c > 0, the old one else


def reads_a_chosen_dict_before_its_source_changed(p, c):
    if c > 0:
        r = p["layers"][0]
    else:
        r = p["layers"][1]
    v = np.sum(r["w"])
    p["layers"][0]["w"] = p["layers"][0]["w"] * 3.0
    return v + np.sum(p["layers"][0]["w"])


@pytest.mark.parametrize("c", [1.0, -1.0])
def test_a_chosen_container_is_unreadable_once_a_source_changed(c):
    layers = {"layers": [{"w": rand(2)}, {"w": rand(2)}]}
    check(reads_a_chosen_dict_before_its_source_changed, layers, np.float64(c))
    with pytest.raises(adcompiler.TraceError, match="one of those was changed since"):
        adcompiler.trace(reads_a_chosen_dict_after_its_source_changed, copy.deepcopy(layers),
                         np.float64(c))


def sets_then_rebinds_in_runtime_loop(xs, n):
    for _ in range(n):
        xs[0] = xs[0] * 1.5         # the caller's list in the first iteration, a copy after
        xs = xs[:]
    return np.sum(xs[0])


def rebinds_then_sets_in_runtime_loop(xs, n):
    for _ in range(n):
        xs = xs[:]
        xs[0] = xs[0] * 1.5         # always the new list: the caller's is untouched
    return np.sum(xs[0])


def test_a_run_time_loop_changing_then_rebinding_a_container_is_an_error():
    check(rebinds_then_sets_in_runtime_loop, [rand(2), rand(2)], np.int64(2))
    with pytest.raises(adcompiler.TraceError, match="changes 'xs' in place and then binds"):
        adcompiler.trace(sets_then_rebinds_in_runtime_loop, [rand(2), rand(2)], np.int64(2))


def test_grad_and_vjp_inside_traced_code_change_the_arguments_by_hand():
    """By hand (check's reference runs adcompiler's own grad and vjp in Python): grad adds 1 to
    x and gives g = 1; vjp's augmented adds g to x (x0 + 2), halves g (sum 1.5) and returns
    x0 + 2, whose cotangent x0 + 2 gives y's gradient: 1.5 + 2 sum(x0 + 2)."""
    x0 = rand(3)
    x = x0.copy()
    got = adcompiler.jit(gradient_of_a_changing_function, backend="numpy")(x)
    np.testing.assert_allclose(got, 1.5 + 2 * np.sum(x0 + 2), rtol=1e-12)
    np.testing.assert_allclose(x, x0 + 2, rtol=1e-12)


def steps_params_in_place(params, g):
    params["w"] -= 0.1 * g
    return np.sum(params["w"])


def test_a_read_only_argument_changed_in_place_is_named():
    """NumPy raises 'output array is read-only'; the write-back raised NumPy's 'assignment
    destination is read-only', naming nothing. (A TraceError and a ValueError.)"""
    g = np.ones(3)
    for w in (np.broadcast_to(np.ones(1), (3,)), np.ones(3)):
        w.flags.writeable = False if w.flags.owndata else w.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            steps_params_in_place({"w": w}, g)
        for backend in ("numpy", "numba"):
            with pytest.raises(adcompiler.ReadOnlyArgument, match="steps_params_in_place changes "
                               "params.w in place, but the array passed is read-only"):
                adcompiler.jit(steps_params_in_place, backend=backend)({"w": w}, g)
    w = np.ones(3)
    assert adcompiler.jit(steps_params_in_place)({"w": w}, g) == np.float64(2.7)
    np.testing.assert_allclose(w, 0.9)
