"""Gradients through the public API (`grad`, `value_and_grad`, `vjp`, `check_grad`) of functions
with data-dependent control flow, loops, containers, indexing and NumPy idioms, against float64
central finite differences.

Two references: `adcompiler.check_grad` (itself a finite-difference check), and this file's own
`fd_grad`/`fd_jacobian` helpers, written independently of adcompiler, so the tests also fail if
`check_grad` were wrong. Each model function is small, every RNG seeded.
"""
from __future__ import annotations

import ast
import functools
import os
import re
import sys

import numpy as np
import pytest

import adcompiler as adc

RNG_SEED = 1234
THIS_FILE = os.path.basename(__file__)


def rng(k=0):
    return np.random.default_rng(RNG_SEED + k)


# ------------------------------------------------------------------------- independent FD

def _leaves(tree, path=()):
    """(path, leaf) for every float array / float leaf of a pytree of dicts, lists, tuples."""
    if isinstance(tree, dict):
        for k in tree:
            yield from _leaves(tree[k], path + (k,))
    elif isinstance(tree, (list, tuple)):
        for i, v in enumerate(tree):
            yield from _leaves(v, path + (i,))
    elif isinstance(tree, float) or (isinstance(tree, (np.ndarray, np.generic))
                                     and np.issubdtype(np.asarray(tree).dtype, np.floating)):
        yield path, tree


def _get(tree, path):
    for p in path:
        tree = tree[p]
    return tree


def _set(tree, path, value):
    """A copy of `tree` with the leaf at `path` replaced (containers copied along the path)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(tree, dict):
        out = dict(tree)
    elif isinstance(tree, tuple):
        out = list(tree)
    else:
        out = list(tree)
    out[head] = _set(tree[head], rest, value)
    return tuple(out) if isinstance(tree, tuple) else out


def _scalar(out):
    return float(np.asarray(out[0] if isinstance(out, tuple) else out, dtype=np.float64))


def _static_to_none(tree):
    if isinstance(tree, dict):
        return {k: _static_to_none(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_static_to_none(v) for v in tree)
    return tree if next(_leaves(tree), None) else None


def fd_grad(f, args, argnum=0, eps=1e-6):
    """Central differences of the scalar f(*args) in float64 with respect to every float leaf
    of args[argnum]; returns the same structure (floats for float leaves, arrays for arrays,
    None for static leaves)."""
    tree = args[argnum]
    grads = {}
    for path, leaf in _leaves(tree):
        x = np.array(leaf, dtype=np.float64)
        g = np.zeros_like(x)
        for k in np.ndindex(x.shape):
            vals = []
            for d in (eps, -eps):
                xp = x.copy()
                xp[k] += d
                new = float(xp) if isinstance(leaf, float) else xp
                a = list(args)
                a[argnum] = _set(tree, path, new)
                vals.append(_scalar(f(*a)))
            g[k] = (vals[0] - vals[1]) / (2 * eps)
        grads[path] = float(g) if isinstance(leaf, float) else g
    out = _static_to_none(tree)
    for path, g in grads.items():
        out = _set(out, path, g)
    return out


def fd_jacobian(f, args, argnum, eps=1e-6):
    """J of f (array-valued) w.r.t. the array args[argnum]: shape out.shape + x.shape."""
    x = np.array(args[argnum], dtype=np.float64)
    out0 = np.asarray(f(*args))
    jac = np.zeros(out0.shape + x.shape)
    for k in np.ndindex(x.shape):
        vals = []
        for d in (eps, -eps):
            xp = x.copy()
            xp[k] += d
            a = list(args)
            a[argnum] = xp
            vals.append(np.asarray(f(*a), dtype=np.float64))
        jac[(...,) + k] = (vals[0] - vals[1]) / (2 * eps)
    return jac


def assert_tree_close(got, want, rtol=1e-6, atol=1e-8, path="grad"):
    """Same structure, same leaf types; values close."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), f"{path}: {got!r} vs {want!r}"
        for k in want:
            assert_tree_close(got[k], want[k], rtol, atol, f"{path}[{k!r}]")
    elif isinstance(want, (list, tuple)):
        assert type(got) is type(want) and len(got) == len(want), f"{path}: {type(got)}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_tree_close(g, w, rtol, atol, f"{path}[{i}]")
    elif want is None:
        assert got is None, f"{path}: a static leaf got {got!r}"
    else:
        if isinstance(want, float):
            assert isinstance(got, float), f"{path}: a float argument got {type(got)}"
        else:
            assert np.shape(got) == np.shape(want), f"{path}: shape {np.shape(got)}"
        scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
        err = float(np.max(np.abs(np.asarray(got, np.float64) - want), initial=0.0))
        assert err <= atol + rtol * scale, f"{path}: error {err:.2e}\ngot {got}\nwant {want}"


def ops_of(f, *args):
    """The op names of f's IR for these arguments (control flow that must stay in the IR)."""
    return [op.name for op in adc.trace(f, *args).walk()]


def check_both(f, *args, wrt=0, rtol=1e-6):
    """The compiled gradient vs this file's FD, and check_grad (vs its own FD)."""
    g = adc.grad(f, wrt=wrt)(*args)
    several = isinstance(wrt, tuple)
    for k, gk in zip(wrt if several else (wrt,), g if several else (g,)):
        assert_tree_close(gk, fd_grad(f, args, k), rtol=rtol, path=f"grad wrt {k}")
    adc.check_grad(f, *args, wrt=wrt)
    return g


# ------------------------------------------------------------------------- branches

def branch_on_data(x, w):
    h = np.tanh(x * w)
    if np.sum(h) > 0:
        y = h * h + w
    else:
        y = np.exp(h) - x
    return np.sum(y * y)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_if_on_a_runtime_value_takes_either_branch(sign):
    x = sign * (np.abs(rng(1).standard_normal(4)) + 0.2)
    w = np.abs(rng(2).standard_normal(4)) + 0.1
    check_both(branch_on_data, x, w, wrt=0)
    check_both(branch_on_data, x, w, wrt=1)
    assert "if" in ops_of(branch_on_data, x, w)


def nested_branches(x):
    s = np.sum(x)
    if s > 1.0:
        if np.max(x) > 1.5:
            y = x * 3.0
        else:
            y = np.sin(x)
    elif s < -1.0:
        y = x ** 2
    else:
        if x[0] > 0:
            y = np.cos(x) * x
        else:
            y = -x
    return np.sum(y * x)


@pytest.mark.parametrize("x", [[2.0, 0.1, 0.2], [0.5, 0.4, 0.3], [-1.0, -0.5, -0.2],
                               [0.3, 0.1, -0.5], [-0.3, 0.1, 0.5]])
def test_nested_branches(x):
    check_both(nested_branches, np.array(x))
    assert ops_of(nested_branches, np.array(x)).count("if") >= 3


def ternary(x, y):
    z = x * y if np.sum(x) > np.sum(y) else x / y
    return np.sum(np.sin(z))


def test_conditional_expression_on_data():
    x = np.array([1.0, 2.0, 0.5])
    for y in (np.array([0.3, 0.2, 0.4]), np.array([3.0, 2.0, 4.0])):
        check_both(ternary, x, y, wrt=(0, 1))


def early_return(x):
    if np.sum(x) > 0:
        return np.sum(x * x)
    y = np.exp(x)
    return np.sum(y)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_return_under_a_runtime_if(sign):
    check_both(early_return, sign * np.array([0.5, 0.2, 0.1]))


# ------------------------------------------------------------------------- loops

def static_loop(x, w):
    h = x
    for _ in range(4):
        h = np.tanh(h * w + 0.1)
    return np.sum(h)


def test_for_loop_with_static_trip_count():
    x, w = rng(3).standard_normal(3), rng(4).standard_normal(3)
    check_both(static_loop, x, w, wrt=(0, 1))


def runtime_loop(x, w, n):
    h = x
    for i in range(n):
        h = np.sin(h * w) + x * i
    return np.sum(h * h)


@pytest.mark.parametrize("n", [0, 1, 3])
def test_for_loop_with_runtime_trip_count(n):
    x, w = rng(5).standard_normal(3), rng(6).standard_normal(3)
    g = adc.grad(runtime_loop, wrt=(0, 1))
    gx, gw = g(x, w, np.int64(n))
    args = (x, w, np.int64(n))
    assert_tree_close(gx, fd_grad(runtime_loop, args, 0))
    assert_tree_close(gw, fd_grad(runtime_loop, args, 1))
    adc.check_grad(runtime_loop, *args, wrt=(0, 1))
    assert "for" in ops_of(runtime_loop, *args)


def test_one_specialisation_serves_every_trip_count():
    x, w = rng(5).standard_normal(3), rng(6).standard_normal(3)
    g = adc.grad(runtime_loop)
    for n in (3, 0, 2):
        assert_tree_close(g(x, w, np.int64(n)), fd_grad(runtime_loop, (x, w, np.int64(n))))
    assert "for" in g.ir()


def data_count(x):
    n = int(np.sum(x > 0))
    acc = x
    for i in range(n):
        acc = acc * np.cos(x)
    return np.sum(acc)


def ragged_counts(x, counts):
    acc = x
    for i in range(counts.shape[0]):
        for j in range(counts[i]):
            acc = np.sin(acc) + x * j
    return np.sum(acc)


def test_trip_counts_computed_from_data():
    check_both(data_count, np.array([0.5, -0.3, 0.8]))
    check_both(data_count, np.array([-0.5, -0.3, -0.8]))
    x = np.array([0.5, -0.3, 0.8])
    check_both(ragged_counts, x, np.array([2, 0, 3]))
    assert ops_of(ragged_counts, x, np.array([2, 0, 3])).count("for") >= 1


def loop_count_from_data(x, counts):
    acc = 0.0
    for i in range(counts[0]):
        acc = acc + np.sum(x[i] * x)
    return acc


def test_trip_count_read_from_an_int_array():
    x = rng(7).standard_normal(4)
    for k in (2, 4):
        args = (x, np.array([k, 0], dtype=np.int64))
        check_both(loop_count_from_data, *args)
    assert "for" in ops_of(loop_count_from_data, *args)


def newton_sqrt(a):
    x = a
    while np.max(np.abs(x * x - a)) > 1e-12:
        x = 0.5 * (x + a / x)
    return np.sum(x)


def test_while_loop_newton_iterations():
    a = np.array([2.0, 3.0, 0.5])
    g = adc.grad(newton_sqrt)(a)
    # the unrolled iterations converge to d sqrt(a) / da = 1 / (2 sqrt(a))
    np.testing.assert_allclose(g, 0.5 / np.sqrt(a), rtol=1e-6)
    assert_tree_close(g, fd_grad(newton_sqrt, (a,)), rtol=1e-5)


def grow(x):
    while np.sum(x) < 10.0:
        x = x * 1.5
    return np.sum(x * x)


def test_while_loop_on_data():
    x = np.array([0.5, 1.0, 0.25])
    g = check_both(grow, x)
    k = int(np.ceil(np.log(10.0 / 1.75) / np.log(1.5)))      # trips taken
    np.testing.assert_allclose(g, 2 * x * 1.5 ** (2 * k))
    assert "while" in ops_of(grow, x)
    big = np.array([5.0, 6.0])                                 # no trip at all
    np.testing.assert_allclose(adc.grad(grow)(big), 2 * big)


def while_with_branch(x):
    y = x
    t = 0
    while np.sum(y) < 4.0:
        if np.max(y) > 1.0:
            y = y + x
        else:
            y = y * 2.0 + 0.1
        t = t + 1
    return np.sum(y * y) + t


def test_while_with_a_counter_and_a_branch():
    check_both(while_with_branch, np.array([0.3, 0.2]))


def while_in_for(x, n):
    y = x
    for i in range(n):
        while np.sum(y * y) < 4.0:
            y = y * 1.3
        y = y * 0.5
    return np.sum(y)


def test_while_nested_in_a_runtime_for():
    check_both(while_in_for, np.array([0.3, 0.4]), np.int64(3))


def rnn(W, U, xs, h0):
    T = xs.shape[0]
    h = np.zeros((T + 1, h0.shape[0]))
    h[0] = h0
    for t in range(T):
        h[t + 1] = np.tanh(h[t] @ W + xs[t] @ U)
    return np.sum(h[1:] ** 2) + np.sum(h[T])


def test_rnn_overwriting_a_preallocated_array_by_index():
    r = rng(8)
    W, U = 0.5 * r.standard_normal((3, 3)), 0.5 * r.standard_normal((2, 3))
    xs, h0 = r.standard_normal((4, 2)), r.standard_normal(3)
    for k in range(4):
        check_both(rnn, W, U, xs, h0, wrt=k)
    assert "for" in ops_of(rnn, W, U, xs, h0)


def rnn_runtime(W, xs, n):
    h = np.zeros((xs.shape[0] + 1, W.shape[0]))
    for t in range(n):
        h[t + 1] = np.tanh(h[t] @ W + xs[t])
    return np.sum(h * h)


def test_rnn_with_runtime_length():
    r = rng(9)
    W, xs = 0.5 * r.standard_normal((3, 3)), r.standard_normal((5, 3))
    for n in (1, 5):
        check_both(rnn_runtime, W, xs, np.int64(n))


def loop_with_branch(x, n):
    acc = np.zeros_like(x)
    for i in range(n):
        if np.sum(acc) > 1.0:
            acc = acc * 0.5 + np.sin(x)
        else:
            acc = acc + x * x
    return np.sum(acc)


def test_branch_inside_a_runtime_loop():
    x = np.array([0.7, 0.4, 0.3])
    for n in (1, 4, 7):
        check_both(loop_with_branch, x, np.int64(n))


def first_above(x, n):
    total = 0.0
    for i in range(n):
        y = x[i] * 2.0
        if y > 3.0:
            z = np.sin(y)
            break
        z = -y * y
        total = total + z
    return total + z


def best_hit(xs):
    found = False
    for i in range(xs.shape[0]):
        if xs[i] > 1.0:
            hit = xs[i] ** 2
            found = True
    if found:
        return hit
    return 0.0


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_names_bound_on_the_paths_that_ran(backend):
    """A name bound before a run-time `break` and after it, or in one branch of an `if` that
    a flag guards later: each path binds it where Python does; values as Python's, gradients
    as finite differences'."""
    x = np.array([0.5, 1.0, 2.0, 0.3])
    for n in (1, 3, 4):
        want = first_above(x, n)
        assert adc.jit(first_above, backend=backend)(x, np.int64(n)) == pytest.approx(want)
        g = adc.grad(first_above, backend=backend)(x, np.int64(n))
        assert_tree_close(g, fd_grad(first_above, (x, np.int64(n))))
    for xs in (np.array([0.5, 2.0, 3.0]), np.array([0.5, 0.2])):
        assert adc.jit(best_hit, backend=backend)(xs) == pytest.approx(best_hit(xs))
        assert_tree_close(adc.grad(best_hit, backend=backend)(xs), fd_grad(best_hit, (xs,)))
    with pytest.raises(adc.AssertionFailed, match="'z' is not defined"):
        adc.jit(first_above, backend=backend)(x, np.int64(0))


def last_hit_so_far(x, t):
    acc = 0.0
    for i in range(x.shape[0]):
        if x[i] > t:
            y = x[i] * x[i]
        if i > 0:
            acc = acc + y           # y from this iteration or an earlier one
    return acc


def last_hit_so_far_while(x, t):
    acc = 0.0
    i = 0
    while i < x.shape[0]:
        if x[i] > t:
            y = x[i] * x[i]
        if i > 0:
            acc = acc + y
        i += 1
    return acc


def inner_loop_local(x, m):
    s = 0.0
    for i in range(m):
        for j in range(m - i):
            y = x[j] * 2.0
        s = s + y * x[i]
    return s


def squared_steps(x, n):
    s = 0.0
    for i in range(n):
        if i > 0:
            s = s + (x[i] - last) ** 2     # the previous iteration's entry
        last = x[i]
    return s + last


def products_of_neighbour_rows(xs, n):
    s = np.zeros(xs.shape[1])
    for i in range(n):
        if i > 0:
            s = s + xs[i] * prev
        prev = xs[i]
    return np.sum(s)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_name_read_before_the_first_iteration_binds_it(backend):
    """Read in the body before any assignment in it (a previous-iteration value): its type
    comes from the first trace, which reads a stand-in (it was a TraceError 'read before it
    is assigned'); Python's UnboundLocalError where no iteration bound it."""
    x, xs = np.array([1.0, -2.0, 3.0, -1.0]), np.arange(12.0).reshape(4, 3) / 10
    for f, args in ((squared_steps, (x, np.int64(4))),
                    (products_of_neighbour_rows, (xs, np.int64(4)))):
        assert adc.jit(f, backend=backend)(*args) == pytest.approx(f(*args), rel=1e-12)
        assert_tree_close(adc.grad(f, backend=backend)(*args), fd_grad(f, args))
    with pytest.raises(adc.AssertionFailed, match="'last' is not defined"):
        adc.jit(squared_steps, backend=backend)(x, np.int64(0))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_name_bound_in_an_earlier_iteration(backend):
    """Read in a later iteration (and only there): its value and flag are carried, so a read
    after an iteration that did not bind it sees the earlier one, as in Python (it was an
    AssertionFailed depending on the data); an inner loop that runs no iteration leaves the
    outer one's."""
    x = np.array([1.0, 5.0, 2.0, 7.0, 0.5])
    for f, args in ((last_hit_so_far, (x, 1.5)), (last_hit_so_far, (x, 3.0)),
                    (last_hit_so_far_while, (x, 1.5)), (inner_loop_local, (x, np.int64(3)))):
        assert adc.jit(f, backend=backend)(*args) == pytest.approx(f(*args), rel=1e-12)
        assert_tree_close(adc.grad(f, backend=backend)(*args), fd_grad(f, args))
    with pytest.raises(adc.AssertionFailed, match="'y' is not defined"):
        adc.jit(last_hit_so_far, backend=backend)(x, 6.0)     # Python: UnboundLocalError


def carried_containers(p, n):
    st = {"a": p["a"], "b": (p["b"], p["b"] * 2)}
    u, v = p["a"] + 0.5, p["b"] - 0.5
    for i in range(n):
        st = {"a": st["a"] * st["b"][0], "b": (np.sin(st["b"][1]), st["a"])}
        u, v = v * 0.5, u + v
    return np.sum(st["a"]) + np.sum(st["b"][0]) + np.sum(u * v)


def test_loop_carrying_dicts_and_tuples():
    p = {"a": rng(27).standard_normal(2), "b": rng(28).standard_normal(2)}
    check_both(carried_containers, p, np.int64(3))


def running_product(x, n):
    y = x
    for i in range(n):
        y = y * x[i]
    return np.sum(y)


def test_runtime_index_of_a_value_the_loop_reads():
    check_both(running_product, np.array([0.3, 0.2, 0.9]), np.int64(3))


def nested_loops(x, n):
    acc = x
    for i in range(n):
        for j in range(2):
            acc = np.sin(acc) * x + j
    return np.sum(acc)


def test_nested_loops():
    x = np.array([0.3, -0.2])
    check_both(nested_loops, x, np.int64(3))


# ------------------------------------------------------------------------- calls, containers

def dense(x, p):
    return np.tanh(x @ p["W"] + p["b"])


def mlp(params, x, y):
    h = x
    for layer in params["layers"]:
        h = dense(h, layer)
    err = h - y
    return np.mean(err ** 2)


def test_helper_calls_and_dict_of_lists_of_dicts():
    r = rng(10)
    params = {"layers": [{"W": r.standard_normal((3, 4)), "b": r.standard_normal(4)},
                         {"W": r.standard_normal((4, 2)), "b": r.standard_normal(2)}]}
    x, y = r.standard_normal((5, 3)), r.standard_normal((5, 2))
    g = check_both(mlp, params, x, y)
    assert isinstance(g, dict) and isinstance(g["layers"], list)
    assert isinstance(g["layers"][0], dict) and g["layers"][0]["W"].shape == (3, 4)


def tuple_args(pair, scale):
    a, b = pair
    return np.sum(a * b) * scale[0] + np.sum(scale[1] * a)


def test_tuple_and_list_arguments_keep_their_structure():
    r = rng(11)
    pair = (r.standard_normal(3), r.standard_normal(3))
    scale = [r.standard_normal(()), r.standard_normal(3)]
    ga, gs = adc.grad(tuple_args, wrt=(0, 1))(pair, scale)
    assert isinstance(ga, tuple) and isinstance(gs, list)
    assert_tree_close(ga, fd_grad(tuple_args, (pair, scale), 0))
    assert_tree_close(gs, fd_grad(tuple_args, (pair, scale), 1))


def augmented(x, y):
    s = x * 1.0
    s += y
    s *= x
    s -= 0.5 * y
    s /= 2.0
    return np.sum(s ** 2)


def test_augmented_assignment():
    check_both(augmented, rng(12).standard_normal(4), rng(13).standard_normal(4), wrt=(0, 1))


def slicing(x):
    y = x[1:, ::-1] * x[:-1, :]
    z = x.copy()
    z[0, 1:] = np.sin(x[0, :-1])
    z[:, 0] = z[:, 0] * 2.0
    return np.sum(y * y) + np.sum(z[::2] ** 3)


def test_slices_and_slice_assignment():
    check_both(slicing, rng(14).standard_normal((3, 4)))


def embedding(W, idx):
    e = W[idx]
    return np.sum(np.tanh(e) * np.arange(e.shape[1]))


def test_gather_with_repeated_indices():
    W = rng(15).standard_normal((5, 3))
    idx = np.array([0, 3, 3, 1, 3], dtype=np.int64)
    g = check_both(embedding, W, idx)
    assert not np.any(g[[2, 4]])           # rows never gathered get nothing


def scatter_assign(x, v, idx):
    y = x * 1.0
    y[idx] = v * 2.0
    return np.sum(y * np.arange(1.0, 6.0))


def test_assignment_by_integer_array_with_repeats():
    x, v = rng(16).standard_normal(5), rng(17).standard_normal(3)
    idx = np.array([1, 3, 1], dtype=np.int64)
    check_both(scatter_assign, x, v, idx, wrt=(0, 1))


def masked(x, y):
    z = np.where(x > 0, x * y, np.exp(y) - x)
    return np.sum(z * z)


def test_where():
    x = np.array([-1.0, 0.5, 2.0, -0.3])
    y = np.array([0.1, -0.2, 0.3, 0.4])
    check_both(masked, x, y, wrt=(0, 1))


def reductions(x):
    m = np.max(x, axis=1, keepdims=True)
    e = np.exp(x - m)
    softmax = e / np.sum(e, axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.sum(np.exp(x - m), axis=1))
    return np.sum(softmax * softmax) + np.sum(lse) + np.max(x) - np.min(x[0])


def test_max_reductions_softmax_logsumexp():
    check_both(reductions, rng(18).standard_normal((3, 4)))


def moments(x):
    return np.mean(x) * np.var(x, axis=0).sum() + np.std(x) + np.mean(x, axis=1).prod()


def test_mean_var_std():
    check_both(moments, rng(19).standard_normal((3, 4)))


def contractions(a, b):
    c = np.einsum("ij,jk->ik", a, b)
    d = np.einsum("ij,ij->i", a, a)
    e = np.einsum("bi,ij,bj->b", a, b, a)
    return np.sum(c ** 2) + np.sum(d * e) + np.einsum("ij,ij->", b, b)


def test_einsum():
    r = rng(20)
    check_both(contractions, r.standard_normal((2, 3)), r.standard_normal((3, 3)), wrt=(0, 1))


# ------------------------------------------------------------------------- dtypes and scalars

def cubic(x, w):
    return np.sum(np.tanh(x * w) ** 3 + x * 0.5)


def loop32(x, n):
    h = x
    for i in range(n):
        if np.sum(h) > 0:
            h = np.tanh(h * 0.5 + x)
        else:
            h = h * 2.0 - 1.0
    while np.sum(h * h) < 3.0:
        h = h * 1.5
    return np.mean(h ** 2)


def test_float32_through_loops_and_branches():
    x = np.array([0.3, -0.2, 0.4])
    value, g32 = adc.value_and_grad(loop32)(x.astype(np.float32), np.int64(3))
    assert g32.dtype == np.float32 and np.asarray(value).dtype == np.float32
    g64 = adc.grad(loop32)(x, np.int64(3))
    np.testing.assert_allclose(g32, g64, rtol=1e-4)
    assert_tree_close(g64, fd_grad(loop32, (x, np.int64(3))))


def test_float32_inputs_get_float32_gradients():
    r = rng(21)
    x, w = r.standard_normal(4), r.standard_normal(4)
    g32 = adc.grad(cubic, wrt=(0, 1))(x.astype(np.float32), w.astype(np.float32))
    g64 = adc.grad(cubic, wrt=(0, 1))(x, w)
    for a, b in zip(g32, g64):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def scalar_fn(s, a, x):
    return np.sum(np.sin(s * x) * a) + s * s


def test_python_float_and_0d_array_arguments():
    s, a, x = 0.7, np.array(1.3), rng(22).standard_normal(3)
    gs, ga = adc.grad(scalar_fn, wrt=(0, 1))(s, a, x)
    assert type(gs) is float
    assert isinstance(ga, np.ndarray) and ga.shape == () and ga.dtype == np.float64
    args = (s, a, x)
    assert abs(gs - fd_grad(scalar_fn, args, 0)) < 1e-6
    np.testing.assert_allclose(ga, fd_grad(scalar_fn, args, 1), rtol=1e-6)
    adc.check_grad(scalar_fn, *args, wrt=(0, 1))


# ------------------------------------------------------------------------- the API

def two(x, y):
    return np.sum(x * y ** 2)


def test_wrt_by_name_position_and_tuples():
    x, y = rng(23).standard_normal(3), rng(24).standard_normal(3)
    gx, gy = y ** 2, 2 * x * y
    np.testing.assert_allclose(adc.grad(two)(x, y), gx)
    np.testing.assert_allclose(adc.grad(two, wrt=1)(x, y), gy)
    np.testing.assert_allclose(adc.grad(two, wrt="y")(x, y), gy)
    a, b = adc.grad(two, wrt=("y", 0))(x, y)
    np.testing.assert_allclose(a, gy)
    np.testing.assert_allclose(b, gx)
    (only,) = adc.grad(two, wrt=("x",))(x, y)
    np.testing.assert_allclose(only, gx)

    @adc.grad(wrt=("x", "y"))
    def decorated(x, y):
        return np.sum(x * y ** 2)
    a, b = decorated(x, y)
    np.testing.assert_allclose(a, gx)
    np.testing.assert_allclose(b, gy)


def with_aux(x):
    loss = np.sum(x ** 2)
    return loss, {"mean": np.mean(x), "double": x * 2}


def test_has_aux_and_value_and_grad():
    x = rng(25).standard_normal(3)
    g, aux = adc.grad(with_aux, has_aux=True)(x)
    np.testing.assert_allclose(g, 2 * x)
    np.testing.assert_allclose(aux["mean"], np.mean(x))
    np.testing.assert_allclose(aux["double"], 2 * x)
    value, g = adc.value_and_grad(two, wrt=(0, 1))(x, x + 1)
    np.testing.assert_allclose(value, two(x, x + 1))
    np.testing.assert_allclose(g[0], (x + 1) ** 2)
    (value, aux), g = adc.value_and_grad(with_aux, has_aux=True)(x)
    np.testing.assert_allclose(value, np.sum(x ** 2))
    np.testing.assert_allclose(g, 2 * x)


def vector_fn(x, w):
    h = np.tanh(x @ w)
    return h * np.sum(x)


def test_vjp_of_a_non_scalar_function():
    r = rng(26)
    x, w = r.standard_normal(3), r.standard_normal((3, 2))
    value, pullback = adc.vjp(vector_fn, x, w)
    np.testing.assert_allclose(value, vector_fn(x, w))
    c = r.standard_normal(value.shape)
    gx, gw = pullback(c)
    jx = fd_jacobian(vector_fn, (x, w), 0)
    jw = fd_jacobian(vector_fn, (x, w), 1)
    np.testing.assert_allclose(gx, np.tensordot(c, jx, axes=c.ndim), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gw, np.tensordot(c, jw, axes=c.ndim), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_vjp_value_changed_in_place_leaves_the_pullback_as_it_was(backend):
    """The pullback read the value's own array (exp's derivative is exp): `v -= 1.0` changed
    the gradient it gives."""
    x = np.array([0.5, -1.0, 2.0])
    v, pullback = adc.vjp(lambda x: np.exp(x), x, backend=backend)
    v -= 1.0
    (g,) = pullback(np.ones(3))
    np.testing.assert_allclose(g, np.exp(x), rtol=1e-15)


def tanh_loop(x, n):
    h = x
    for t in range(n):
        h = np.tanh(h) * 1.5
    return np.sum(h)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_vjp_argument_changed_in_place_leaves_a_loops_tape_as_it_was(backend):
    """A loop's tape holds the state entering each iteration, the first the argument itself:
    `x[:] = 7.0` after the vjp changed the gradient its pullback gave."""
    x = np.array([0.1, 0.2, 0.3])
    want = fd_grad(tanh_loop, (x.copy(), np.int64(2)))
    _, pullback = adc.vjp(tanh_loop, x, np.int64(2), backend=backend)
    x[:] = 7.0
    np.testing.assert_allclose(pullback(np.float64(1.0))[0], want, rtol=1e-7)


SOURCE_CASES = [
    (loop_with_branch, (np.array([0.7, 0.4, 0.3]), np.int64(3))),
    (rnn_runtime, (0.5 * rng(9).standard_normal((3, 3)), rng(9).standard_normal((5, 3)),
                   np.int64(3))),
    (while_with_branch, (np.array([0.3, 0.2]),)),
    (embedding, (rng(15).standard_normal((5, 3)), np.array([0, 3, 3], dtype=np.int64))),
    (scatter_assign, (rng(16).standard_normal(5), rng(17).standard_normal(3),
                      np.array([1, 3, 1], dtype=np.int64))),
    (reductions, (rng(18).standard_normal((3, 4)),)),
    (masked, (np.array([-1.0, 0.5]), np.array([0.1, -0.2]))),
    (mlp, ({"layers": [{"W": np.ones((2, 2)), "b": np.ones(2)}]}, np.ones((3, 2)),
           np.ones((3, 2)))),
]
# methods of NumPy arrays and of the Python lists used as tapes
METHODS = {"copy", "astype", "reshape", "transpose", "take", "append"}


@pytest.mark.parametrize("f, args", SOURCE_CASES, ids=[f.__name__ for f, _ in SOURCE_CASES])
def test_adjoint_source_names_only_numpy(f, args):
    """The generated source compiles, imports only NumPy as np, and calls nothing but NumPy,
    the functions it defines and array/list methods: no runtime helper library."""
    g = adc.grad(f, backend="numpy")
    g(*args)
    src = g.adjoint_source()
    tree = ast.parse(src)
    compile(tree, "adjoint", "exec")
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert [(a.name, a.asname) for n in imports for a in n.names] == [("numpy", "np")]
    assert not any(isinstance(n, ast.ImportFrom) for n in imports)
    defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    local = {a.arg for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) for a in n.args.args}
    local |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
              and isinstance(n.ctx, ast.Store)}
    free = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
            and isinstance(n.ctx, ast.Load)} - defined - local
    assert free <= {"np", "range"}, f"names from outside NumPy: {free}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            fn = node.func
            if isinstance(fn, ast.Name):
                assert fn.id in defined | {"range"}, ast.unparse(node)
            else:
                assert isinstance(fn, ast.Attribute), ast.unparse(node)
                root = fn
                while isinstance(root, ast.Attribute):
                    root = root.value
                assert (isinstance(root, ast.Name) and root.id == "np") or fn.attr in METHODS, \
                    ast.unparse(node)


# ------------------------------------------------------------------------- errors

def test_grad_with_respect_to_an_int_argument_is_an_error():
    with pytest.raises(adc.AdcompilerError, match="int"):
        adc.grad(runtime_loop, wrt=2)(np.ones(3), np.ones(3), np.int64(2))
    with pytest.raises(adc.AdcompilerError, match="idx"):
        adc.grad(embedding, wrt="idx")(np.ones((3, 2)), np.array([0, 1]))


def value_and_extra(x):
    y = x * 2.0
    return np.sum(y), y


def test_non_scalar_output_is_an_error():
    """Naming the return's line."""
    ret = vector_fn.__code__.co_firstlineno + 2
    with pytest.raises(adc.AdcompilerError, match=f"test_control_flow.py:{ret}: .*scalar"):
        adc.grad(vector_fn)(np.ones(3), np.ones((3, 2)))
    ret = value_and_extra.__code__.co_firstlineno + 2
    with pytest.raises(adc.AdcompilerError, match=f"test_control_flow.py:{ret}: value_and_extra "
                       r"returns 2 arrays; grad needs one scalar \(or has_aux=True"):
        adc.grad(value_and_extra)(np.ones(3))


def test_a_container_of_one_scalar_is_not_a_scalar_result():
    """(loss, "tag"), [loss] or {"loss": loss} was taken for loss (only run-time leaves were
    counted), where (loss, aux_array) was refused; JAX refuses them all."""
    for f, kind in ((lambda x: (np.sum(x), "tag"), "tuple"), (lambda x: [np.sum(x)], "list"),
                    (lambda x: {"loss": np.sum(x)}, "dict")):
        with pytest.raises(adc.AdcompilerError, match=f"returns a {kind}; grad needs it to "
                                                      r"return one float scalar \(has_aux"):
            adc.grad(f)(np.ones(3))
        with pytest.raises(adc.TraceError, match=f"returns a {kind}"):      # in traced code
            adc.grad(lambda x, f=f: np.sum(adc.grad(f)(x)))(np.ones(3))
    np.testing.assert_array_equal(adc.grad(lambda x: (np.sum(x), "tag"), has_aux=True)(
        np.ones(3))[0], np.ones(3))


def nan_maker(x):
    y = np.log(x)
    z = np.sqrt(y - 1.0)
    return np.sum(z)


def test_nan_names_the_users_file_and_line():
    line = nan_maker.__code__.co_firstlineno + 2
    with pytest.raises(adc.NaNError, match=rf"{THIS_FILE}:{line}"):
        adc.grad(nan_maker)(np.array([0.5, 2.0]))


def nan_in_backward(x):
    r = np.sqrt(x)
    return np.sum(r * 0.0 + x)


def test_nan_in_the_backward_pass_names_the_line_it_comes_from():
    line = nan_in_backward.__code__.co_firstlineno + 1      # d sqrt(0) = inf, times 0
    with np.errstate(divide="ignore"):
        with pytest.raises(adc.NaNError, match=rf"{THIS_FILE}:{line}"):
            adc.grad(nan_in_backward)(np.array([0.0, 1.0]))


def pick_label(logits, labels):
    return np.sum(logits[np.arange(labels.shape[0]), labels] ** 2)


def gather_rows(x, idx):
    return np.sum(x[idx] ** 2)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_runtime_index_out_of_bounds_names_the_line(backend):
    """Labels out of bounds, as NumPy: an IndexError, here naming the line (a label of 3 or
    -4 of 3 classes was read as 0 or 2 when the linearised index wrapped with a mod). NumPy's
    words about the index are given as the generated line's: its index is a linearised one,
    named so (the message's numbers are the merged axes')."""
    logits = np.arange(6.0).reshape(2, 3)
    line = pick_label.__code__.co_firstlineno + 1
    for labels in (np.array([0, 3]), np.array([0, -4])):
        with pytest.raises(adc.IndexOutOfBounds,
                           match=rf"{THIS_FILE}:{line} in .* \(generated line: "
                           r".*\.take\(flat_index, axis=0\): index"):
            adc.grad(pick_label, backend=backend)(logits, labels)
        with pytest.raises(IndexError, match=rf"{THIS_FILE}:{line}"):
            adc.jit(pick_label, backend=backend)(logits, labels)
    g = adc.grad(pick_label, backend=backend)(logits, np.array([2, -1]))   # -1 is column 2
    np.testing.assert_allclose(g, [[0, 0, 4], [0, 0, 10]])
    line = gather_rows.__code__.co_firstlineno + 1
    with pytest.raises(adc.IndexOutOfBounds, match=rf"{THIS_FILE}:{line}"):
        adc.value_and_grad(gather_rows, backend=backend)(np.ones((3, 2)), np.array([0, 5]))
    line = columns_past_the_end.__code__.co_firstlineno + 3
    for n, step in ((4, 1), (5, -1)):      # column 3 of 3, column -4 of 3
        with pytest.raises(adc.IndexOutOfBounds, match=rf"{THIS_FILE}:{line} in .* \(generated "
                           r"line: .*\[.*\]\.copy\(\): index -?\d+ is out of bounds for axis 1"):
            adc.grad(columns_past_the_end, backend=backend)(np.ones((2, 3)), np.int64(n),
                                                            np.int64(step))


def columns_past_the_end(x, n, step):
    s = 0.0
    for t in range(n):
        s = s + np.sum(x[:, t * step] ** 2)     # one run-time column index
    return s


def sum_of_squares(x):
    return np.sum(x * x)


def test_jit_leaves_the_callers_errstate_to_the_caller():
    """jit checks no NaNs itself: under the caller's np.errstate(invalid="raise") the NumPy
    backend's log raises FloatingPointError, as NumPy's would."""
    with np.errstate(invalid="raise"), pytest.raises(FloatingPointError):
        adc.jit(nan_maker, backend="numpy")(np.array([0.5, 2.0]))


def test_has_aux_needs_a_pair():
    with pytest.raises(adc.AdcompilerError, match=r"has_aux=True needs sum_of_squares to "
                                                  r"return a pair \(value, aux\)"):
        adc.grad(sum_of_squares, has_aux=True)(np.ones(3))


def test_vjp_without_float_arguments_is_an_error():
    with pytest.raises(adc.AdcompilerError, match="no argument holds float data"):
        adc.vjp(sum_of_squares, np.arange(3))


def test_float16_on_the_numba_backend_is_an_error():
    x = np.ones(3, np.float16)
    for call in (adc.grad(sum_of_squares, backend="numba"),
                 adc.jit(sum_of_squares, backend="numba")):
        with pytest.raises(adc.AdcompilerError, match=r"sum_of_squares: the numba backend "
                           r"cannot compute in float16 .*\(argument x is float16; "
                           r"sum_of_squares is at test_control_flow\.py:\d+\)"):
            call(x)
    np.testing.assert_array_equal(adc.grad(sum_of_squares, backend="numpy")(x), 2 * x)


def scaled_by_root_of_mask(x, mask):
    return np.sum(x * np.sqrt(mask))


def test_a_float16_made_from_a_bool_array_says_where_and_why():
    """np.sqrt of a bool array is float16 in NumPy: the error named neither the line nor
    that promotion, which a user who never wrote float16 cannot guess."""
    line = scaled_by_root_of_mask.__code__.co_firstlineno + 1
    with pytest.raises(adc.AdcompilerError, match=rf"made at test_control_flow.py:{line}; "
                       r"NumPy computes a float function of a bool array, as np.sqrt\(mask\), "
                       "in float16"):
        adc.jit(scaled_by_root_of_mask, backend="numba")(np.ones(3, np.float32),
                                                         np.array([True, False, True]))


def safe_log(x):
    return np.sum(np.where(x > 0, np.log(x), x))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_nan_that_a_where_drops_is_no_error(backend):
    """Only a NaN that reaches a result is an error: NumPy's own `where` over a log of
    negatives warns and goes on (the numpy backend raised here, the numba one did not)."""
    x = np.array([-1.0, 2.0, 4.0])
    with np.errstate(invalid="ignore"):
        want = safe_log(x)
    value, g = adc.value_and_grad(safe_log, backend=backend)(x)
    np.testing.assert_allclose(value, want)
    np.testing.assert_allclose(g, [1.0, 0.5, 0.25])
    line = nan_maker.__code__.co_firstlineno + 2
    with pytest.raises(adc.NaNError, match=rf"{THIS_FILE}:{line}"):     # this one does reach
        adc.grad(nan_maker, backend=backend)(np.array([0.5, 2.0]))


def full_truncation(v, w):
    # Heston's full truncation: where v < 0, np.maximum's result is the 0, whose root has an
    # infinite derivative; v has no influence there (the gradient is 0, not 0 * inf)
    vp = np.maximum(v, 0.0)
    return np.sum(np.sqrt(vp * 0.1) * w + np.minimum(v, 0.0) ** 2)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_the_operand_a_max_leaves_out_gets_no_nan_from_an_infinite_cotangent(backend):
    v, w = np.array([-0.3, 0.4, -1e-3, 2.0]), np.array([1.0, -2.0, 0.5, 3.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        g = adc.grad(full_truncation, backend=backend)(v, w)
    want = np.where(v > 0, 0.5 * np.sqrt(0.1) * w / np.sqrt(np.maximum(v, 1e-300)), 2 * v)
    np.testing.assert_allclose(g, want, rtol=1e-12)


def dropped_then_reached(x, y):
    a = np.where(x > 0, np.log(x), 0.0)
    b = np.sqrt(y)
    print("b =", b)
    return np.sum(a) + np.sum(b)


def entropy(p):
    return -np.sum(np.where(p > 0, p * np.log(p), 0.0))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_nan_error_names_the_operation_whose_nan_reached_a_result(backend, capsys):
    """The last operation that made a NaN (the first, a log a where dropped, was named), once
    printed; one in the gradient of a where's untaken branch says so and how to mend it."""
    first = dropped_then_reached.__code__.co_firstlineno
    with pytest.raises(adc.NaNError, match=rf"{THIS_FILE}:{first + 2} in 'b = np.sqrt\(y\)'.*"
                       rf"operations at {THIS_FILE}:{first + 1} made NaNs before it"):
        adc.grad(dropped_then_reached, backend=backend)(np.array([2.0, -1.0]),
                                                        np.array([4.0, -1.0]))
    assert capsys.readouterr().out.count("b =") == 1         # (the search ran it again)
    line = entropy.__code__.co_firstlineno + 1
    with np.errstate(divide="ignore"), pytest.raises(
            adc.NaNError, match=rf"{THIS_FILE}:{line} .* it is in the gradient: a where's branch "
                                "not taken that holds inf or NaN"):
        adc.grad(entropy, backend=backend)(np.array([0.5, 0.5, 0.0]))


def overflowed_difference(x):
    y = np.exp(x)
    return np.sum(y - y)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_nan_error_after_an_overflow_names_the_overflow(backend):
    """inf - inf after exp overflowed (a learning rate blown up) got only the advice about a
    where's untaken branch."""
    line = overflowed_difference.__code__.co_firstlineno + 1
    with np.errstate(over="ignore"), pytest.raises(
            adc.NaNError, match=rf"values overflowed to inf before it, first at {THIS_FILE}:"
                                rf"{line} \(inf - inf"):
        adc.value_and_grad(overflowed_difference, backend=backend)(np.array([1.0, 1000.0]))


def returns_a_constant(x):
    return 3


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_nothing_to_differentiate_is_an_error(backend):
    """vjp of a function with no run-time result was a SyntaxError in the generated source
    (or a TypeError), and wrt=() an IndentationError (or an empty tuple)."""
    with pytest.raises(adc.AdcompilerError, match="returns no run-time array"):
        adc.vjp(returns_a_constant, np.ones(2), backend=backend)
    with pytest.raises(adc.AdcompilerError, match=r"wrt=\(\) names no parameter of two"):
        adc.grad(two, wrt=(), backend=backend)(np.ones(2), np.ones(2))


def test_unknown_wrt_name_is_an_error():
    with pytest.raises(adc.AdcompilerError, match="nope"):
        adc.grad(two, wrt="nope")(np.ones(2), np.ones(2))


def test_wrt_a_parameter_not_passed_says_why():
    """An empty *xs was 'not passed (defaults are compile-time constants)': it has none."""
    def f(*xs, scale=1.0, **kw):
        return scale * sum(np.sum(x) ** 2 for x in xs)
    for wrt, args, kwargs, said in (
            ("xs", (), {"scale": 2.0}, "no positional arguments were passed for it"),
            ("kw", (np.ones(2),), {}, "no keyword arguments were passed for it"),
            ("scale", (np.ones(2),), {}, r"it was not passed \(defaults are compile-time "
                                          r"constants\)")):
        with pytest.raises(adc.AdcompilerError, match=f"with respect to '{wrt}': {said}"):
            adc.grad(f, wrt=wrt)(*args, **kwargs)


def test_check_grad_catches_a_wrong_gradient():
    """check_grad is a reference here, so it must fail on a wrong derivative (a custom VJP
    that forgets a factor of 2) and report small errors on right ones."""
    @adc.custom_vjp
    def square(x):
        return x * x

    def square_fwd(x):
        return x * x, x

    def square_bwd(x, g):
        return (g * x,)                     # wrong: d x^2 = 2 x
    square.defvjp(square_fwd, square_bwd)

    def loss(x):
        return np.sum(square(x) + x)
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(adc.grad(loss)(x), x + 1)     # the custom rule is used
    with pytest.raises(adc.GradientCheckError):
        adc.check_grad(loss, x)
    report = adc.check_grad(branch_on_data, x, np.array([0.3, 0.2, 0.1]), wrt=(0, 1))
    assert set(report) == {"x", "w"} and max(report.values()) < 1e-6


def star_args_loss(w, *rest):
    return np.sum(w * rest[0] ** 2) + np.sum(np.sin(rest[1]))


def tree_with_counts(p, x):
    return np.sum(np.tanh(p["W"] * x) * p["n"])


def test_check_grad_of_star_args_integer_leaves_jit_and_partial():
    """check_grad took the argument at the wrt name's position among the parameters (a *args
    parameter's arguments are several), lost its place after an integer leaf's None gradient,
    and looked a jit object's parameters up in its (*args, **kwargs)."""
    x = np.array([0.5, -1.0, 2.0])
    assert adc.check_grad(star_args_loss, x, x, x, wrt="rest")["rest"] < 1e-6
    assert adc.check_grad(tree_with_counts, {"W": x, "n": np.arange(3)}, x)["p"] < 1e-6
    report = adc.check_grad(adc.jit(branch_on_data), x, np.array([0.3, 0.2, 0.1]), wrt=(0, 1))
    assert set(report) == {"x", "w"} and max(report.values()) < 1e-6
    assert adc.check_grad(functools.partial(star_args_loss, x), x, x)["rest"] < 1e-6

    @adc.custom_vjp
    def cube(u):
        return u ** 3
    cube.defvjp(lambda u: (u ** 3, u), lambda u, g: (2 * g * u * u,))    # wrong: 3 u^2

    def wrong_star(*xs):
        return np.sum(cube(xs[0]) * xs[1])
    with pytest.raises(adc.GradientCheckError, match="xs"):
        adc.check_grad(wrong_star, x, x, wrt="xs")


@adc.custom_vjp
def square_off_by_10_percent(u):
    return u * u


square_off_by_10_percent.defvjp(lambda u: (u * u, u), lambda u, g: (1.8 * g * u,))  # 2 g u


def large_and_small_leaves(p):
    return 1e5 * np.sum(np.sin(p["W"])) + np.sum(square_off_by_10_percent(p["b"]))


def loss_and_aux(p):
    return large_and_small_leaves(p), {"W": p["W"] * 2.0}


def test_check_grad_of_a_function_with_aux():
    """has_aux was grad's only: check_grad of a (loss, aux) function said to pass it."""
    p = {"W": np.array([0.1, 0.2, 0.3]), "b": np.array([0.5, 1.0])}
    with pytest.raises(adc.GradientCheckError, match="p: relative error"):
        adc.check_grad(loss_and_aux, p, has_aux=True)
    p["b"] = np.zeros(2)
    assert adc.check_grad(loss_and_aux, p, has_aux=True)["p"] < 1e-5


def test_check_grad_checks_each_array_against_its_own_gradients():
    """The error was relative to the argument's largest gradient: W's (1e5) hid b's 10%."""
    p = {"W": np.array([0.1, 0.2, 0.3]), "b": np.array([0.5, 1.0])}
    with pytest.raises(adc.GradientCheckError, match="p: relative error"):
        adc.check_grad(large_and_small_leaves, p)
    p["b"] = np.zeros(2)        # b's gradient is 0 (wrong or not): not failed for noise
    assert adc.check_grad(large_and_small_leaves, p)["p"] < 1e-5
    with pytest.raises(adc.GradientCheckError):     # (rtol=0: every rounding fails it)
        adc.check_grad(large_and_small_leaves, p, rtol=0.0)


def in_float32(x, w):
    h = np.tanh(x.astype(np.float32) * w.astype(np.float32))
    return np.sum(h * h)


def scaling_its_argument(x, w):
    x *= 2.0
    return np.sum(np.sin(x) * w)


def test_check_grad_of_float32_code_and_of_code_changing_its_arguments():
    """A function computing in float32 inside was misreported (float64 finite differences
    with a 1e-6 step see float32 rounding): its step and tolerance follow its precision, and
    a wrong float32 gradient is still caught. A function that changes its argument in place
    is checked on fresh copies, and the caller's arrays stay as they were."""
    x, w = rng(7).normal(size=4), rng(8).normal(size=4)
    with pytest.raises(adc.GradientCheckError, match="float32"):
        adc.check_grad(in_float32, x, w, eps=1e-6, rtol=1e-5)   # the old defaults
    report = adc.check_grad(in_float32, x, w, wrt=(0, 1))
    assert max(report.values()) < 1e-3      # well inside the float32 tolerance (1e-2)

    @adc.custom_vjp
    def half(u):
        return 0.5 * u
    half.defvjp(lambda u: (0.5 * u, ()), lambda res, g: (g,))     # wrong: 0.5 g

    def wrong32(x):
        return np.sum(np.exp(half(x.astype(np.float32))))
    with pytest.raises(adc.GradientCheckError, match="float32"):
        adc.check_grad(wrong32, x)

    x0 = x.copy()
    report = adc.check_grad(scaling_its_argument, x, w, wrt=(0, 1))
    assert max(report.values()) < 1e-6
    np.testing.assert_array_equal(x, x0)

    @adc.custom_vjp
    def almost(u):
        return u * u
    almost.defvjp(lambda u: (u * u, u), lambda u, g: (2.01 * u * g,))    # 0.5 % off

    def float32_beside(x, lock):
        return np.sum(almost(x)) + np.sum(np.ones(3, np.float32))
    # a float32 value the gradient does not go through keeps float64's tolerance; a static
    # argument that cannot be copied (a lock) is passed as it is
    import threading
    with pytest.raises(adc.GradientCheckError, match=r"rtol 1e-05"):
        adc.check_grad(float32_beside, x, threading.Lock())


def asserting(x, n):
    assert np.all(x > 0), "x must be positive"
    h = x
    for _ in range(n):
        assert np.sum(h) < 100.0
        h = np.sqrt(h) * 2.0
    return np.sum(h * x)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_asserts_on_runtime_values_are_checked_when_the_code_runs(backend):
    """An `assert` on a run-time value is compiled into a check (it was dropped): a false one
    raises AssertionFailed (an AssertionError) naming the line and the message, in grad, jit
    and vjp alike; a true one changes nothing."""
    x = np.array([1.0, 4.0])
    fd = np.array([(asserting(x + e, 2) - asserting(x - e, 2)) / 2e-6
                   for e in np.eye(2) * 1e-6])
    np.testing.assert_allclose(adc.grad(asserting, backend=backend)(x, 2), fd, rtol=1e-7)
    first = asserting.__code__.co_firstlineno
    for bad, line, message in ((np.array([-1.0, 4.0]), first + 1, ": x must be positive"),
                               (np.array([99.0, 4.0]), first + 4, "$")):
        for call in (adc.grad(asserting, backend=backend), adc.jit(asserting, backend=backend),
                     lambda a, n: adc.vjp(asserting, a, n, backend=backend)):
            with pytest.raises(adc.AssertionFailed, match=rf"{THIS_FILE}:{line} in 'assert .*"
                                                          rf"'{message}"):
                call(bad, 2)
    with pytest.raises(AssertionError, match="x must be positive"):
        adc.evaluate(adc.trace(asserting, x, 2), np.array([-1.0, 4.0]), 2)


def masked_mean(w, m):
    valid = m != 0
    return np.sum(w * valid) / np.sum(valid)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_nan_loss_is_named_where_the_forward_made_it(backend):
    """An all-zero padding mask makes the loss 0/0: the error named a gradient line after it
    and advised about a where's untaken branch, which does not apply."""
    line = masked_mean.__code__.co_firstlineno + 2
    with pytest.raises(adc.NaNError, match=rf"{THIS_FILE}:{line} .*generated line: div = ") as e:
        adc.value_and_grad(masked_mean, backend=backend)(np.ones(3), np.zeros(3, np.int64))
    assert "where's branch" not in str(e.value)


def renamed_twice(x, w):
    h = np.maximum(x, 0.0)
    h = np.tanh(h)
    return np.sum(h * w)


def test_a_residual_has_one_name_in_the_forward_the_backward_and_the_driver():
    """Each function numbered one hint's values in its own order: the backward's `h` was the
    forward's `h_1` (the tanh, not the relu), and the driver bound them crosswise."""
    src = adc.grad(renamed_twice, backend="numpy").adjoint_source(np.ones(3), np.ones(3))
    fwd_return = next(l for l in src.splitlines() if l.strip().startswith("return sum,"))
    stash = [n.strip() for n in fwd_return.split("return sum,")[1].split(",")]
    bwd_def = next(l for l in src.splitlines() if l.startswith("def renamed_twice_bwd("))
    assert bwd_def == f"def renamed_twice_bwd({', '.join(stash)}, d_sum):"
    assert f"sum, {', '.join(stash)} = renamed_twice_fwd(x, w)" in src
    tanh_name = next(l.split(" = ")[0].strip() for l in src.splitlines()
                     if "np.tanh(" in l and not l.strip().startswith("#"))
    assert f"{tanh_name} * {tanh_name}" in src         # tanh' = 1 - tanh^2, by the same name


def branch_then_loop(x, n):
    s = np.sum(x)
    if s > 0:
        z = np.sin(s)
    else:
        z = np.cos(s) * 2.0
    w = x * 1.0
    for _ in range(n):
        w = w * 1.5
    return z + np.sum(w)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_reverse_regions_carry_the_line_of_their_statement(backend):
    """The backward's `if` and `for` were commented with the line of the last op reversed in
    their bodies (the else branch's, the loop body's). (The Numba backend's driver calls the
    loop, written as a function of its own: `l_<key>.LOOP(...)`, after the call of the
    function compiled whole and its `if`.)"""
    first = branch_then_loop.__code__.co_firstlineno
    src = adc.grad(branch_then_loop, backend=backend).adjoint_source(np.ones(3), 2)
    lines = src.split("# ===== kernels")[0].splitlines()
    bwd = next(i for i, l in enumerate(lines) if l.startswith("def branch_then_loop_bwd("))
    heads = {}
    for i in range(bwd, len(lines)):
        head = lines[i].strip()
        if head.startswith(("if ", "for ")) and "rt.NOT_YET" not in head or ".LOOP(" in head:
            comment = next(l.strip() for l in reversed(lines[bwd:i]) if l.strip().startswith("#"))
            heads.setdefault("for" if ".LOOP(" in head else head.split()[0], comment)
    assert heads["if"].startswith(f"# {THIS_FILE}:{first + 2}  if s > 0:"), heads
    assert heads["for"].startswith(f"# {THIS_FILE}:{first + 7}  for _ in range(n):"), heads


def tanh_twice(x):
    h = np.tanh(x * 3.0)
    h = np.tanh(h * 2.0)
    return np.sum(h)


def test_an_adjoint_is_named_after_the_forward_name_of_its_value():
    """The backward numbered adjoints in its own order: its `d_h` was the adjoint of the
    forward's `h_1` (the second tanh), and a partial sum took the name of the total."""
    src = adc.grad(tanh_twice, backend="numpy").adjoint_source(np.ones(3))
    fwd = src.split("def tanh_twice_fwd(")[1].split("\ndef ")[0]
    assert "h_1 = np.tanh(mul)" in fwd or "h_1 = np.tanh(mul_1)" in fwd
    lines = [l.strip() for l in src.split("def tanh_twice_bwd(")[1].splitlines()]
    first = {name: next(i for i, l in enumerate(lines) if l.startswith(name + " = "))
             for name in ("d_h_1", "d_h")}
    assert first["d_h_1"] < first["d_h"]        # the second tanh's adjoint comes first


def test_the_numba_drivers_name_a_residual_as_the_forward_returns_it():
    """The Numba backend's backward driver numbered the residuals it takes in its own order
    (`a` and `a_1` swapped between the forward's return and the backward's parameters)."""
    src = adc.grad(renamed_twice, backend="numba").adjoint_source(np.ones(3), np.ones(3))
    fwd_return = next(l for l in src.splitlines() if l.strip().startswith("return sum,"))
    stash = [n.strip() for n in fwd_return.split("return sum,")[1].split(",")]
    assert f"def renamed_twice_bwd({', '.join(stash)}, d_sum):" in src


def spread(x):
    return np.std(x)


def log_unless_nan(x):
    y = np.log(x)
    return np.sum(np.where(np.isnan(y), 0.0, y))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_nan_gradient_without_a_where_is_not_blamed_on_one(backend):
    """Every NaN in a gradient was said to come from a where's branch not taken."""
    with pytest.raises(adc.NaNError, match="a derivative with no value there") as e:
        adc.grad(spread, backend=backend)(np.array([2.0, 2.0, 2.0]))
    assert "where" not in str(e.value)


def power_of_a_negative_base(y):
    return np.sum(np.array([-2.0]) ** y)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_nan_from_a_where_adcompiler_wrote_is_not_blamed_on_the_users(backend):
    """The derivative of (-2)**y in y is log(-2) (NaN), under a where of the power's own
    derivative: the hint blamed a where's branch not taken in code that has no where."""
    with pytest.raises(adc.NaNError, match="a derivative with no value there.*negative base") \
            as e:
        adc.grad(power_of_a_negative_base, backend=backend)(np.array([2.0]))
    assert "branch not taken" not in str(e.value)


def nan_on_a_later_line(x):
    y = x * 2.0
    return np.sum(
        y +
        np.arcsin(x))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_nan_in_a_statement_of_several_lines_is_named_at_its_line(backend):
    """It named the statement's first line and quoted 'return np.sum('."""
    line = nan_on_a_later_line.__code__.co_firstlineno + 4
    with pytest.raises(adc.NaNError, match=rf"{THIS_FILE}:{line} in 'np.arcsin\(x\)\)'"):
        adc.value_and_grad(nan_on_a_later_line, backend=backend)(np.array([0.5, 2.0]))


def root_past_five(x):
    return np.sum(np.where(x > 5, np.sqrt(x - 3.0), 0.0))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_nan_made_in_a_branch_not_taken_that_reaches_the_gradient_gets_the_where_hint(backend):
    """The forward's sqrt of a negative, in a where's branch not taken, makes the gradient NaN
    (0 times NaN), not the loss: the where hint was given only for a NaN the backward sweep
    made (np.log of 0)."""
    line = root_past_five.__code__.co_firstlineno + 1
    assert root_past_five(np.array([1.0, 2.0])) == 0.0
    with pytest.raises(adc.NaNError, match=rf"{THIS_FILE}:{line} .*it is in the gradient: a "
                                           r"where's branch not taken"):
        adc.grad(root_past_five, backend=backend)(np.array([1.0, 2.0]))


def test_a_nan_fast_math_keeps_is_blamed_on_fast_math(monkeypatch):
    """Under ADCOMPILER_FASTMATH=1 np.isnan reads False, and the where keeps log(-1): the
    error named the NumPy reference's NaN that its where drops, and never fast math."""
    from adcompiler.backends.numba_cpu import options
    monkeypatch.setitem(options.OPTIONS, "fastmath", True)
    x = np.array([-1.0, 2.0])
    assert np.isfinite(log_unless_nan(x))
    with pytest.raises(adc.NaNError, match="NumPy's computation of it does not.*"
                                           "ADCOMPILER_FASTMATH=1 is set"):
        adc.value_and_grad(log_unless_nan, backend="numba")(x)


def branches_on_h(x):
    h = x * 2.0
    if np.sum(x) > 0:
        h = np.sin(h)
        g = h * 3.0
    else:
        h = np.cos(h)
        g = h * 4.0
    return np.sum(h * g)


def squared_sine(h):
    s = np.sin(h)
    return s * s


def calls_a_helper_twice(x):
    return np.sum(squared_sine(x) * 3.0) + np.sum(squared_sine(x))


def test_adjoint_copies_are_not_named_like_forward_values():
    """A branch's part of the adjoint of h was `d_h_2`, which reads as the adjoint of the
    forward's h_2 (the sine); a helper called twice with one argument was one call in the
    forward and two in the backward, which took `s_1`, a value the forward does not have."""
    src = adc.grad(branches_on_h, backend="numpy").adjoint_source(np.ones(2))
    bwd = src.split("def branches_on_h_bwd(")[1]
    assert "d_h_2 " not in bwd and "d_h__1 = " in bwd
    src = adc.grad(calls_a_helper_twice, backend="numpy").adjoint_source(np.ones(3))
    assert "s_1" not in src and "def calls_a_helper_twice_bwd(s, x, d_add):" in src


def dense_tanh(x, w):
    h = x @ w
    return np.tanh(h)


def two_layers(w1, w2, x):
    h = dense_tanh(x, w1)
    y = dense_tanh(h, w2)
    return np.mean(np.log(y + 0.5))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_helpers_lines_are_quoted_under_the_call_that_reached_them(backend):
    """An inlined helper's lines were quoted alone, the same for both calls, and the value a
    call returned was named after the helper's last op (`tanh`, its adjoint `d_tanh`), while
    the caller's `h` went to the helper's own: each call's line now heads the helper's lines,
    indented under it, and the result takes the caller's name."""
    first = two_layers.__code__.co_firstlineno
    inner = dense_tanh.__code__.co_firstlineno
    w1, w2, x = rng(30).standard_normal((3, 4)), rng(31).standard_normal((4, 2)), np.ones((5, 3))
    src = adc.grad(two_layers, backend=backend).adjoint_source(w1, w2, x)
    fwd = src.split("def two_layers_fwd(")[1].split("\ndef ")[0]
    comments = [ln.strip() for ln in fwd.splitlines() if ln.strip().startswith("#")]
    at = f"{THIS_FILE}:"
    want = [f"# {at}{first + 1}  h = dense_tanh(x, w1)", f"#   {at}{inner + 1}  h = x @ w",
            f"#   {at}{inner + 2}  return np.tanh(h)", f"# {at}{first + 2}  y = dense_tanh(h, w2)",
            f"#   {at}{inner + 1}  h = x @ w", f"#   {at}{inner + 2}  return np.tanh(h)"]
    assert [c for c in comments if "dense_tanh" in c or c.startswith("#   ")][:6] == want
    if backend == "numpy":
        assert "    h = np.tanh(h_1)\n" in fwd and "    y = np.tanh(h_2)\n" in fwd
        bwd = src.split("def two_layers_bwd(")[1]
        assert "d_h = " in bwd and "d_h_2 = " in bwd and "d_tanh" not in bwd


def shifted_root(x):
    return np.sqrt(x - 1.0)


def two_roots(x):
    a = np.sum(shifted_root(x * 2.0))
    b = np.sum(shifted_root(x))
    return a + b


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_nan_in_a_helper_names_the_call_that_reached_it(backend):
    """A NaN made in a helper called from two lines named the helper's line only."""
    root, first = shifted_root.__code__.co_firstlineno, two_roots.__code__.co_firstlineno
    with pytest.raises(adc.NaNError, match=rf"NaN produced at {THIS_FILE}:{root + 1} in "
                                           rf"'return np\.sqrt\(x - 1\.0\)' via the call at "
                                           rf"{THIS_FILE}:{first + 2} \("):
        adc.grad(two_roots, backend=backend)(np.full(3, 0.75))


def cubed_tanh(x):
    return np.sum(np.tanh(x) ** 3)


def hessian_norm(x):
    h = adc.hessian(cubed_tanh)(x)
    return np.sum(h * h)


def test_lines_of_adcompilers_own_helpers_are_quoted_as_the_users_call():
    """A hessian taken inside the differentiated function quoted jacobian.py's loop lines and
    an adapter's `<adcompiler-calls-...>` line between the user's: now the user's call heads
    the lines of the function it differentiates."""
    src = adc.grad(hessian_norm, backend="numpy").adjoint_source(np.linspace(-1.0, 1.0, 3))
    comments = [ln.strip() for ln in src.splitlines() if ln.strip().startswith("# ")]
    assert not [c for c in comments if "jacobian.py" in c or "<adcompiler" in c]
    call, inner = hessian_norm.__code__.co_firstlineno + 1, cubed_tanh.__code__.co_firstlineno + 1
    assert [c for c in comments if THIS_FILE in c][:2] == [
        f"# {THIS_FILE}:{call}  h = adc.hessian(cubed_tanh)(x)",
        f"#   {THIS_FILE}:{inner}  return np.sum(np.tanh(x) ** 3)"]


def looped_and_branched(w, x, n):
    s = np.sum(w) * 0.0
    for k in range(n):
        h = np.tanh(x @ w) * (k + 1)
        if np.sum(h) > 0:
            s = s + np.sum(h * h)
        else:
            s = s + np.sum(np.sin(h))
    return s


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_threads_may_trace_and_call_at_once(backend):
    """Tracing kept state in modules (the journals of in-place changes, the trace caches):
    threads compiling at once could mix them. One trace runs at a time now (frontend.TRACING),
    and every thread gets its right gradient."""
    import threading
    w = rng(40).standard_normal((4, 4))
    cases = [(rng(41 + m).standard_normal((m, 4)), n) for m in (2, 3, 5) for n in (1, 2)]
    want = [fd_grad(looped_and_branched, (w, x, n), 0) for x, n in cases]
    g = adc.grad(looped_and_branched, backend=backend)
    barrier, errors = threading.Barrier(8), []

    def work(t):
        try:
            barrier.wait()
            for k in range(len(cases)):
                j = (t + k) % len(cases)
                np.testing.assert_allclose(g(w, *cases[j]), want[j], rtol=1e-6, atol=1e-8)
        except Exception as e:      # noqa: BLE001  (reported below, from the main thread)
            errors.append(e)
    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)     # threads take turns often: the mix-ups are likely
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors[0]


@adc.elementwise
def rt(v):
    return v / (1.0 + np.exp(-v))


@adc.elementwise
def B(v):       # noqa: N802  (named like the Numba driver's buffer views)
    return v * v


def uses_functions_named_like_the_drivers_globals(x):
    return np.sum(rt(x) * 2.0 + B(x))


def names_a_value_like_its_arena(x):
    arena_names_a_value_like_its_arena_grad = np.sum(np.sin(x) * x)
    return arena_names_a_value_like_its_arena_grad


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("f", [uses_functions_named_like_the_drivers_globals,
                               names_a_value_like_its_arena])
def test_functions_and_values_named_like_the_generated_codes_globals(backend, f):
    """An elementwise function `rt` or `B` was a `def rt` that shadowed the Numba driver's
    runtime module (or its buffer views), and a value named `arena_<function>` the driver's
    arena: AttributeError, UnboundLocalError."""
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(adc.grad(f, backend=backend)(x), fd_grad(f, (x,)), rtol=1e-6)


def logs_through_a_closure(x):
    s = x * 2.0

    def inner(v):
        return np.log(s) * v
    return np.sum(inner(x))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_helper_traced_into_its_callers_code_names_the_call_too(backend):
    """A closure over its caller's array (traced into the caller, not a function of its own)
    was quoted unindented, before the caller's line, and its NaN named no call."""
    first = logs_through_a_closure.__code__.co_firstlineno
    with pytest.raises(adc.NaNError, match=rf"NaN produced at {THIS_FILE}:{first + 4} in "
                                           rf"'return np.log\(s\) \* v' via the call at "
                                           rf"{THIS_FILE}:{first + 5} \("):
        adc.grad(logs_through_a_closure, backend=backend)(np.array([1.0, -1.0]))


def doubling_helper(a):
    trips = 0
    while np.sum(a) < 10.0:
        a = a * 2.0
        trips = trips + 1
    return a * trips


def doubles_twice(x):
    return np.sum(doubling_helper(x) + doubling_helper(x * 3.0))


def test_the_numba_sweeps_name_a_residual_alike():
    """Each Numba driver numbered one hint's values in its own order: the backward's `trips`
    was the forward's `trips_4`."""
    import re
    src = adc.grad(doubles_twice, backend="numba").adjoint_source(np.array([0.5, 1.0]))
    returned = re.search(r"def doubles_twice_fwd\(.*?\n(?:.*\n)*?    return (.*)\n", src).group(1)
    taken = re.search(r"def doubles_twice_bwd\((.*)\):", src).group(1)
    assert returned.split(", ")[1:] == taken.split(", ")[:-1]


def recurrence(x, n):
    out = np.zeros_like(x)
    for t in range(1, n):
        out[t] = np.sin(out[t - 1]) + x[t]
    return np.sum(out ** 2)


def rnn_into_a_buffer(W, xs):
    hs = np.zeros((xs.shape[0] + 1, W.shape[0]))
    for t in range(xs.shape[0]):
        hs[t + 1] = np.tanh(W @ hs[t] + xs[t])
    return np.sum(hs ** 2)


def ring_buffer(x, n):
    acc = np.ones(3)
    for t in range(n):
        acc[t % 3] += x[t] * np.cos(acc[(t + 1) % 3])
    return np.sum(acc * acc)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_loops_that_read_and_update_entries_of_a_buffer(backend):
    """Such loops tape the entries they read, not the buffer (below): the gradients, through
    put, scatter_add and take of a row, against finite differences."""
    x = rng(40).normal(size=8) * 0.5
    W, xs = rng(41).normal(size=(4, 4)) * 0.5, rng(42).normal(size=(70, 4))
    for f, args in ((recurrence, (x, np.int64(8))), (rnn_into_a_buffer, (W, xs)),
                    (ring_buffer, (x, np.int64(7)))):
        g = adc.grad(f, backend=backend)
        np.testing.assert_allclose(g(*args), fd_grad(f, args), rtol=1e-6, atol=1e-8)
        # (the backward loop's stand-in for the buffer, zeros, was shown named after it)
        src = g.adjoint_source(*args)
        backward = src[src.index("for j in"):]
        assert not re.search(r"\b(out|hs|acc)\w* = np\.broadcast_to\(np\.float64\(0\.0\)",
                             backward[:backward.find("\ndef ")])


def test_a_loop_updating_entries_of_a_buffer_does_not_tape_the_buffer_each_iteration():
    """`out[t] = f(out[t - 1])` taped the whole of `out` at every iteration: memory of the
    trip count times the buffer (18 MB here, 244 MB for an RNN's (1001, 32) buffer over 1000
    steps), where the entries read are what the backward sweep needs."""
    import tracemalloc

    def peak(f, *args):
        tracemalloc.start()
        try:
            f(*args)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    x = rng(43).normal(size=1500) * 0.5
    g = adc.grad(recurrence, backend="numpy")
    g(x[:10], np.int64(10))
    assert peak(g, x, np.int64(1500)) < 1_000_000
    W, xs = rng(44).normal(size=(32, 32)) * 0.2, rng(45).normal(size=(400, 32))
    g = adc.grad(rnn_into_a_buffer, backend="numpy")
    g(W, xs)
    assert peak(g, W, xs) < 2_000_000          # (taped whole: 400 x 401 x 32 x 8 B = 41 MB)


def sum_squares_until_large(x, n):
    total = 0.0
    for t in range(n):
        if x[t] > 2.0:
            break
        total = total + x[t] ** 2
    return total


def test_a_loop_that_may_break_names_its_counter_after_the_loop_target():
    """The counter of a `for` that may break (a `while` op) was named after the break flag:
    `x.take(broke_5_4_count_2, axis=0)` for the user's x[t]."""
    x = np.array([0.5, 1.0, 3.0, 1.5])
    g = adc.grad(sum_squares_until_large, backend="numpy")
    np.testing.assert_allclose(g(x, np.int64(4)), [1.0, 2.0, 0.0, 0.0])
    src = g.adjoint_source(x, np.int64(4))
    assert "x[t_count" in src and "_count" not in src.replace("t_count", "")


WEIGHTS = [1.0, 2.0, 3.0, 4.0]


def first_large_weighted(x):
    for i in range(4):
        if x[i] > 1.0:
            return x[i] * WEIGHTS[i]
    return np.sum(x)


def test_a_return_in_a_loop_that_needs_the_static_index_says_to_break_instead():
    """The return value of a loop that may return on a run-time condition is computed after
    the loop, where the index is a run-time value: the error said only that WEIGHTS[i] needs a
    compile-time index, and not why nor what to write."""
    line = first_large_weighted.__code__.co_firstlineno + 3
    with pytest.raises(adc.TraceError, match=rf"{THIS_FILE}:{line}: .*the loop at line "
                                             rf"{line - 2} may return on a run-time condition.*"
                                             r"break instead"):
        adc.grad(first_large_weighted, backend="numpy")(np.array([0.3, -0.4, 1.5, 0.2]))
