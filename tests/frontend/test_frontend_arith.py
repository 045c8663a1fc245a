"""Python operators and NumPy 2 promotion (NEP 50) on traced arrays, checked against NumPy."""
import itertools
import operator

import numpy as np
import pytest

import adcompiler
from fecheck import check, ops, rand


def arith_all(x, y):
    return x + y, x - y, x * y, x / y, x ** 2, -x, +y, x // (np.abs(y) + 1), x % (np.abs(y) + 1)


def compare_all(x, y):
    return x < y, x <= y, x > y, x >= y, x == y, x != y


def chained(x, y):
    return (0 < x) & (x < 1), 0 < np.sum(x) < 10


def matmul_op(a, b, v):
    return a @ b, a @ v, v @ b, v @ v


def augmented(x, y):
    z = x * 1.0
    z += y
    z -= 1
    z *= y
    z /= 2
    z **= 2
    return z


def bool_logic(x):
    m = x > 0
    return m & (x < 1), m | (x < -1), m ^ (x < 0.5), ~m


def scalar_logic(x):
    s = np.sum(x)
    a = s > 0 and s < 10
    b = s < 0 or s > 1
    c = not s > 0
    return a, b, c


def static_then_traced(x, flag):
    return (flag and x) * 2 if isinstance(flag, bool) else x


@pytest.mark.parametrize("f", [arith_all, compare_all, chained, augmented])
def test_operators_f64(f):
    check(f, rand(3, 4), rand(3, 4) + 0.5)


def test_operators_broadcast():
    check(arith_all, rand(2, 1, 4), rand(3, 1) + 3.0)


def test_matmul_operator_with_vectors():
    check(matmul_op, rand(3, 4), rand(4, 4), rand(4))


def test_boolean_operators():
    check(bool_logic, rand(10))


def test_invert_of_integers_and_python_scalar_conversions():
    """~ of an int array was refused (NumPy's is -x - 1); float() and int() of a size-1 array
    that is not 0-d gave its entry, where NumPy 2.4 raises a TypeError."""
    def f(k, k32, x):
        return ~k, ~k32, ~int(k[0]), ~np.int64(7), float(x[0]) * 2, int(k[1]), x[:1].item()
    check(f, np.array([0, 5, -3, np.iinfo(np.int64).min, np.iinfo(np.int64).max]),
          np.array([2, -9], np.int32), rand(3))
    for g in (lambda x: float(x[:1]), lambda x: int(x.reshape(3, 1)[1:2])):
        with pytest.raises(adcompiler.TraceError, match="only 0-dimensional arrays can be "
                                                         "converted to Python scalars"):
            adcompiler.trace(g, rand(3))


def test_and_or_not_on_traced_scalars():
    check(scalar_logic, rand(5))
    check(scalar_logic, -np.abs(rand(5)))


@pytest.mark.parametrize("da,db", [(np.float32, np.float64), (np.int64, np.float32),
                                   (np.int32, np.int64), (np.bool_, np.int32),
                                   (np.float16, np.float32), (np.int64, np.int64),
                                   (np.bool_, np.float16)])
def test_array_array_promotion(da, db):
    a = (rand(4) * 3).astype(da)
    b = (np.abs(rand(4)) * 3 + 5).astype(db)
    check(lambda a, b: (a + b, a * b, a / b, a < b, np.maximum(a, b)), a, b)


def python_literals(x):
    return x * 2, x + 1.5, x / 3, 2 ** x if x.dtype.kind == "f" else x, x * True, x - 0.25


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int32, np.int64])
def test_python_scalars_are_weak(dtype):
    fn = check(python_literals, (np.abs(rand(5)) * 4).astype(dtype))
    if dtype == np.float32:
        assert "f64" not in str(fn).split("{", 1)[1]


def numpy_scalar_is_strong(x):
    return x * np.float64(2.0), x * np.sqrt(2.0 / np.pi), x + np.float32(1), x * np.int64(3)


def test_numpy_scalars_are_strong():
    check(numpy_scalar_is_strong, rand(3, dtype=np.float32))
    check(numpy_scalar_is_strong, rand(3, dtype=np.float16))


def weak_float_argument(x, lr):
    return x - lr * x, lr * 2, lr + 1


def test_python_float_argument_is_weak():
    fn = check(weak_float_argument, rand(4, dtype=np.float32), 0.1)
    assert str(fn).startswith("func @weak_float_argument(%x: f32[4], %lr: f64[])")


def scaled_by_min_and_max(w, g, gnorm):
    scale = min(1.0, 0.5 / gnorm)
    return w - scale * g, w * max(gnorm, 0.5), w * max([gnorm, 2.0, 1]), w * min(gnorm, w[0])


def test_min_and_max_of_python_floats_are_weak():
    """They were strong float64: a float32 array scaled by min(1.0, c / norm) became float64
    (the last, with a float32 item, is float32 too: Python's min returns one of its items)."""
    fn = check(scaled_by_min_and_max, rand(3, dtype=np.float32), rand(3, dtype=np.float32), 2.0)
    assert [str(r.type) for r in fn.results] == ["f32[3]"] * 4


def int_division(i, j):
    return i / j, i // j, i % j, i / 2, i * 0.5


def test_integer_true_division_gives_float64():
    check(int_division, np.arange(1, 7), np.arange(2, 8).astype(np.int32))


def test_integer_arguments_are_static_and_float_arguments_runtime():
    def f(x, n, scale):
        return x * n * scale
    fn = check(f, rand(3), 4, 2.5)
    assert [str(a.type) for a in fn.args] == ["f64[3]", "f64[]"]


def test_in_place_add_keeps_dtype_and_rejects_unsafe_casts():
    def ok(x, y):
        x += y
        return x
    check(ok, rand(3, dtype=np.float32), rand(3))

    def bad(n):
        n += 1.5
        return n
    with pytest.raises(adcompiler.TraceError, match="same_kind"):
        adcompiler.trace(bad, np.arange(3))


def test_unary_minus_on_bool_is_an_error():
    with pytest.raises(adcompiler.TraceError, match="test_frontend_arith.py"):
        adcompiler.trace(lambda m: -m, np.array([True, False]))


def test_static_arithmetic_is_folded_in_python():
    def f(x, n):
        k = (n * 3 + 1) // 2
        return x * k
    fn = check(f, rand(3), 5)
    assert ops(fn).count("mul") == 1 and "constant {value=8.0" in str(fn)


def test_promotion_answers_are_remembered_only_for_what_decides_them():
    # the frontend remembers NumPy's promotion answers: an int's value must stay in the key,
    x = np.arange(3, dtype=np.int32)
    check(lambda x: x + 3, x)
    with pytest.raises(adcompiler.TraceError, match="NumPy rejects"):
        adcompiler.trace(lambda x: x + 2**40, x)
    n = np.arange(1, 4)
    check(lambda n: n ** np.int64(2), n)
    with pytest.raises(adcompiler.TraceError, match="negative integer powers"):
        adcompiler.trace(lambda n: n ** np.int64(-1), n)
    # and equal tuples of other types promote differently: (1, 0) == (True, False)
    big = np.array([2**31 - 1, 5], np.int32)
    for other in ((True, False), (1, 0), (1.0, 0.0)):
        check(lambda big: big + other, big)


def repeated(x, c):
    a = x * c[0]
    b = x * c[0]            # built once, but b is its own array
    a[0] = 5.0
    return a, b, a + b


def repeated_in_branch(x, c):
    a = x * c[0]
    if np.sum(x) > 0:
        b = x * c[0]        # the branch's own copy, not a
        b[0] = 1.0
    else:
        b = a
    return a, b


def test_equal_expressions_are_built_once():
    fn = check(repeated, rand(3), rand(2))
    assert ops(fn).count("mul") == 1 and str(fn).count("= slice %c") == 1
    for sign in (1.0, -1.0):
        check(repeated_in_branch, sign * np.abs(rand(3)), rand(2))


def compares_with_big_ints(ids, n):
    return (ids < 2 ** 40, ids == 2 ** 32, ids >= -2 ** 31 - 1, ids != 2 ** 32 + 7,
            n < 2 ** 64, n == 2 ** 63)


def test_integer_arrays_compared_with_python_ints_they_cannot_hold():
    """As NumPy 2 compares them (the int wrapped to the array's dtype: 2**40 was 0)."""
    check(compares_with_big_ints, np.array([0, 1, 7, -5], np.int32),
          np.array([5, -10], np.int64))


def int_power(x, p):
    return x ** p


def int_power_of_minus_one(x):
    return x ** -1


def test_integer_to_a_negative_integer_power_is_an_error():
    """NumPy raises ValueError; the Numba backend's power made 2 ** -1 zero, silently."""
    x = np.array([2, 3], np.int32)
    with pytest.raises(ValueError, match="negative integer powers"):
        x ** np.array([-1, 2], np.int32)
    for backend in ("numpy", "numba"):
        run = adcompiler.jit(int_power, backend=backend)
        np.testing.assert_array_equal(run(x, np.array([0, 2], np.int32)), [1, 9])
        for p in (np.array([-1, 2], np.int32), np.int64(-2)):
            with pytest.raises(adcompiler.AssertionFailed,
                               match=r"test_frontend_arith.py:\d+ in 'return x \*\* p': "
                                     "Integers to negative integer powers are not allowed"):
                run(x, p)
        np.testing.assert_allclose(run(x, np.array([-1.0, 2.0])), [0.5, 9.0])    # floats may
    with pytest.raises(adcompiler.TraceError, match="negative integer powers"):
        adcompiler.trace(int_power_of_minus_one, x)
    empty = np.ones((0, 2), np.int32)      # no power taken: NumPy does not raise
    assert adcompiler.jit(int_power)(empty, np.array([-1, 2], np.int32)).shape == (0, 2)


def clipped_to_python_ints_beyond_int32(a):
    return np.clip(a, 0, 2 ** 31), np.clip(a, -2 ** 40, 5), a.clip(max=2 ** 32 + 3)


def chosen_beyond_int32(a):
    return np.where(a > 1, a, 2 ** 40), np.select([a > 1], [a], default=2 ** 40)


def test_clip_bounds_beyond_the_integer_dtype_clip_at_its_ends():
    """The bounds were cast to int32 with wrap-around: np.clip(a, 0, 2**31) gave -2**31.
    (np.where and np.select wrap such a number, as NumPy does, without an error.)"""
    check(clipped_to_python_ints_beyond_int32, np.array([7, -3, 2], np.int32))
    check(chosen_beyond_int32, np.array([0, 2, 3], np.int32))


def filled_beyond_int32(a):
    return np.full(2, 2 ** 40, dtype=np.int32)


def like_filled_beyond_int32(a):
    return np.full_like(a, 2 ** 40)


def max_from_beyond_int32(a):
    return np.max(a, where=a > 100, initial=-2 ** 40)


def written_beyond_int32(a):
    b = a.copy()
    b[1] = 2 ** 40
    return b


@pytest.mark.parametrize("f", [filled_beyond_int32, like_filled_beyond_int32,
                               max_from_beyond_int32, written_beyond_int32])
def test_a_python_int_an_int32_array_cannot_hold_is_an_error(f):
    """NumPy 2 raises OverflowError; the constant was cast with wrap-around (0 written)."""
    a = np.array([7, -3, 2], np.int32)
    with pytest.raises(OverflowError, match="out of bounds for int32"):
        f(a)
    with pytest.raises(adcompiler.TraceError, match=r"test_frontend_arith.py:\d+: Python "
                       r"integer -?1099511627776 out of bounds for int32"):
        adcompiler.trace(f, a)


def test_a_run_time_python_int_to_a_negative_power_is_a_float():
    """Python's int ** negative int is a float; NumPy's rule refused it ('Integers to
    negative integer powers'). A run-time exponent, whose sign decides the dtype, says to
    make the base a float."""
    x = np.array([0.31, 0.72, -0.23, 0.54])
    check(lambda x: x[0] * int(np.sum(x) * 10) ** -1 + int(x[1] * 10) ** -2, x)
    with pytest.raises(adcompiler.AssertionFailed, match=r"write float\(base\) \*\* n"):
        adcompiler.jit(lambda x: x[0] * pow(2, -int(np.sum(x) * 10)))(x)


def test_dict_of_run_time_values():
    """dict(a=x), dict(d), dict(pairs) holding arrays were refused ('dict is not supported
    on run-time arrays'); d.copy() and {**d} were not."""
    def f(x):
        d = dict(a=x, b=x * 2)
        e = dict(d, c=x + 1)
        return dict(zip(["p", "q"], [e["c"], d["b"] ** 2])), dict([("r", x)]), dict(e)
    check(f, np.array([0.5, 1.5]))
    g = adcompiler.grad(lambda x: np.sum(dict(dict(a=x), b=x * 3)["b"] ** 2))(np.ones(2))
    np.testing.assert_allclose(g, 18 * np.ones(2))


def test_any_all_and_functools_reduce_of_run_time_values():
    """They were refused ('any is not supported on run-time arrays'): any/all give a run-time
    bool of the items' truth, reduce calls its function on the items in turn."""
    import functools

    def f(xs):
        s = np.sum(xs)
        c = any(v > 1.0 for v in xs[0]) and all([s > 0, xs[0, 0] < 5])
        a = functools.reduce(np.add, [xs[0], xs[1], xs[2]])
        b = functools.reduce(lambda u, v: u * v + 1.0, xs, 0.5)
        return (np.sum(a ** 2) + np.sum(b)) * (2.0 if c else 3.0), any([]), all(())
    for x in (np.linspace(0.1, 1.2, 12).reshape(3, 4), np.linspace(0.1, 0.9, 12).reshape(3, 4)):
        check(f, x)
        for backend in ("numpy", "numba"):
            adcompiler.check_grad(lambda x: f(x)[0], x, backend=backend)
    with pytest.raises(adcompiler.TraceError, match="the truth value of an array of shape"):
        adcompiler.trace(lambda x: any([x, x]), rand(2))
    with pytest.raises(adcompiler.TraceError, match=r"reduce\(\) of empty iterable"):
        adcompiler.trace(lambda x: functools.reduce(np.add, []), rand(2))


def test_operator_itertools_and_dataclasses_on_run_time_values():
    """operator.mul, itertools.chain, dataclasses.asdict and the like on run-time values were
    refused ('chain is not supported on run-time arrays'); they are the operators and Python's
    iteration as a traced program's own code is."""
    import dataclasses
    import functools
    import itertools
    import operator

    @dataclasses.dataclass
    class Pair:
        w: np.ndarray
        b: list

    def f(x):
        ops = (operator.mul(x, operator.add(x, 1.0)) - operator.neg(operator.getitem(x, 0))
               + operator.truediv(x, 2) @ operator.pow(x, 2), operator.lt(x, 0.5),
               operator.not_(np.sum(x) > 1), functools.reduce(operator.mul, [x, x, 2 * x]))
        rows, y = x.reshape(2, 2), x[:2]
        its = (sum(a * b for a, b in itertools.pairwise([y, 2 * y, rows[0]])),
               list(itertools.chain([x], rows, [3 * y])),
               list(itertools.chain.from_iterable([[x], rows])),
               [a - b for a, b in itertools.product(rows, [y, 1.0])],
               [a * b for a, b in zip(itertools.repeat(y), rows)],
               list(itertools.accumulate(rows, initial=y)),
               list(itertools.accumulate([x, x + 1.0], operator.mul)),
               list(itertools.starmap(np.maximum, [(x, 0.5), (rows[1], y)])),
               list(itertools.islice(itertools.combinations([y, rows[0], rows[1]], 2), 1, None)),
               list(itertools.compress([x, rows[0]], [0, 1])),
               list(itertools.takewhile(lambda a: a.shape[0] > 2, [x, x[1:], x])),
               list(itertools.zip_longest(rows, [y], fillvalue=0.5)))
        p = Pair(x, [rows, {"c": x * 2}])
        return ops, its, dataclasses.astuple(p), dataclasses.asdict(p)
    x = np.array([0.3, -1.2, 0.8, 2.0])
    check(f, x)

    def loss(x):
        (a, _, _, r), its, t, d = f(x)
        return (np.sum(a) + np.sum(r) + np.sum(its[0]) + np.sum(its[5][-1]) * np.sum(its[6][-1])
                + np.sum(its[7][1]) + np.sum(its[8][0][1]) + np.sum(t[1][1]["c"] * d["w"]))
    for backend in ("numpy", "numba"):
        adcompiler.check_grad(loss, x, backend=backend)
    for g, said in ((lambda x: list(itertools.compress([x, x], x > 0)), "run-time selectors"),
                    (lambda x: list(itertools.takewhile(lambda a: a > 0, x)), "static truth"),
                    (lambda x: dataclasses.asdict(x), r"asdict\(\) should be called on "
                                                      r"dataclass instances")):
        with pytest.raises(adcompiler.TraceError, match=said):
            adcompiler.trace(g, rand(3))


def takes_items_in_a_loop(x):
    g, z, s = itertools.chain(x, x), zip(x, x), x[0] * 0
    for _ in range(3):
        a, b = next(z)
        s = s + next(g) * a * b
    return s + sum(itertools.starmap(operator.mul, itertools.pairwise(x)))


def takes_items_in_a_run_time_loop(x):
    g, s = itertools.pairwise(x), x[0] * 0
    for _ in range(int(np.sum(x > 0))):
        a, b = next(g)
        s = s + a * b
    return s


def takes_items_in_a_run_time_if(x):
    g, s = itertools.islice(x, 4), x[0] * 0
    if x[0] > 100:
        s = s + sum(g)
    return s + sum(g)


def test_iterators_taken_inside_loops_and_branches():
    """An iterator made before a loop and consumed in it gave its first items on every
    iteration (the loop was traced once) or an internal error; in a run-time if, both branches
    took its items. A static loop now unrolls; run-time ones are refused, saying what to write.
    starmap and accumulate of an iterator ran their function as Python on run-time values."""
    x = np.array([0.3, -1.2, 2.1, 0.7])
    check(takes_items_in_a_loop, x)
    for backend in ("numpy", "numba"):
        adcompiler.check_grad(takes_items_in_a_loop, x, backend=backend)
    for f, said in ((lambda x: next(v for v in x), r"next\(\) takes an iterator, got a list"),
                    (takes_items_in_a_run_time_loop, r"takes items of an iterator made before "
                                                      r"the loop \(make a list"),
                    (takes_items_in_a_run_time_if, r"an iterator made before this run-time if "
                                                    r"is consumed in it"),
                    (lambda x: sum(itertools.islice(x, -1)), r"Stop argument for islice\(\) "
                                                              r"must be None or an integer")):
        with pytest.raises(adcompiler.TraceError, match=said):
            adcompiler.trace(f, x)


def test_more_of_operator_and_dataclasses_and_np_invert():
    """operator.abs, itemgetter and attrgetter objects, asdict's and astuple's factories and
    np.invert were refused (itemgetter's message named 'operator.operator.itemgetter(0)')."""
    import dataclasses

    @dataclasses.dataclass
    class Pair:
        w: np.ndarray
        b: np.ndarray

    def f(x, k):
        p = Pair(x, 2 * x)
        return (operator.abs(x), operator.itemgetter(0, 2)(x), operator.itemgetter(1)(x) * 2,
                operator.attrgetter("w", "b")(p), operator.is_not(x, None),
                operator.concat([x[0]], [x[1]]), np.invert(k), np.bitwise_not(k > 0),
                dataclasses.asdict(p, dict_factory=lambda items: dict(items[::-1])),
                dataclasses.astuple(p, tuple_factory=list))
    check(f, rand(4), np.array([3, -4, 0]))
    with pytest.raises(adcompiler.TraceError, match=r"^[^:]+:\d+: operator\.methodcaller"):
        adcompiler.trace(lambda x: operator.methodcaller("sum")(x), rand(3))


FLAT = np.array([[1.0, 2.0], [3.0, 4.0]])


def cycles_and_flat_iterators(x):
    c, s = itertools.cycle([1.0, 2.0]), x[0] * 0
    for _ in range(4):                      # a static loop: unrolled to take the items
        s = s + next(c) * x[0]
    if np.sum(x) > 0:
        for v in FLAT.flat:                 # (made in the branch: taken there)
            s = s + v * x[1]
    return s + next(reversed([x[0], x[1]])) + next(map(np.exp, [x[0]]))


def test_iterators_of_native_calls_and_attributes():
    """itertools.cycle in a static loop gave its first item each time (native calls' iterators
    were not noted); an array's .flat in a run-time if must still work."""
    x = np.array([0.5, 1.5])
    check(cycles_and_flat_iterators, x)
    check(cycles_and_flat_iterators, -x)
