"""Calls to user functions (specialised into IR functions or inlined), nested defs, closures,
lambdas, builtins and the `__adcompiler_trace__` hook."""
import functools
import io
import math
import os
import subprocess
import sys

import numpy as np
import numpy as xp
import pytest

import adcompiler
from fecheck import check, ops, rand

SCALE = 0.5


def dense(x, layer, act=True):
    y = x @ layer["w"] + layer["b"]
    return np.tanh(y) if act else y


def two_results(x):
    return x * 2, {"shape": x.shape, "sum": x.sum(), "kind": "double"}


def mlp(x, layers):
    for layer in layers[:-1]:
        x = dense(x, layer)
    return dense(x, layers[-1], act=False) * SCALE


def test_identical_layers_share_one_callee():
    layers = [{"w": rand(3, 3), "b": rand(3)} for _ in range(3)]
    fn = check(mlp, rand(2, 3), layers)
    text = str(fn)
    assert text.count("func @dense(") == 1 and text.count("func @dense_1(") == 1
    assert text.count("call @dense(") == 2 and text.count("call @dense_1(") == 1


def test_callee_results_mix_tensors_and_statics():
    def f(x):
        y, info = two_results(x)
        return y + info["sum"] * info["shape"][0], info["kind"]
    fn = check(f, rand(3))
    assert "call @two_results" in str(fn)


def test_module_alias_and_math_on_statics():
    def f(x):
        d = x.shape[-1]
        return xp.exp(x) / math.sqrt(d) + math.pi
    check(f, rand(2, 4))


def test_nested_def_closing_over_traced_value_is_inlined():
    def f(x, w):
        def scaled(v):
            return v * w
        return scaled(x) + scaled(x * 2)
    fn = check(f, rand(3), rand(3))
    assert "call" not in ops(fn)


def test_nested_def_without_traced_closure_is_a_callee():
    def f(x, n):
        def act(v):
            return np.maximum(v, 0) * n
        return act(x) + act(x + 1)
    fn = check(f, rand(3), 3)
    assert ops(fn).count("call") == 2 and len(fn.callees()) == 1


def test_lambdas_and_map():
    def f(x):
        sq = lambda v: v * v  # noqa: E731
        return sq(x), list(map(sq, [x, x + 1])), sorted([3, 1, 2], key=lambda k: -k)
    check(f, rand(2))


def lambdas_made_in_comprehensions(x):
    late = [lambda z: z * k for k in range(3)]               # each sees k's last value
    now = [(lambda z: z * k)(x) for k in range(3)]          # called while k is each one
    grid = [[lambda z: z * (i + j) for j in range(2)] for i in range(3)]
    a = 1.0
    outer = [lambda z: z * k * a for k in range(2)]
    a = 3.0                                                  # seen: a is the function's
    return ([g(x) for g in late], now, [f(x) for row in grid for f in row],
            [g(x) for g in outer])


def test_lambdas_made_in_comprehensions_close_over_its_scope():
    """Python's late binding: a comprehension's variables as they are when the lambda is
    called, their last values after it ('name k is not defined' before)."""
    check(lambdas_made_in_comprehensions, rand(2))


def test_default_static_arguments_and_keywords():
    def norm(x, eps=1e-5, axis=-1):
        return x / np.sqrt((x * x).mean(axis=axis, keepdims=True) + eps)

    def f(x):
        return norm(x), norm(x, axis=0), norm(x, eps=0.1)
    fn = check(f, rand(2, 3))
    assert len(fn.callees()) == 3


def test_star_args_and_kwargs():
    def g(*xs, **kw):
        return sum(xs) * kw["k"]

    def f(a, b):
        args = (a, b)
        return g(*args, k=2), g(a, **{"k": 3})
    check(f, rand(2), rand(2))


def test_callee_mutating_its_argument_is_inlined_with_numpy_aliasing():
    def zero_first(v):
        v[0] = 0.0

    def f(x):
        zero_first(x)
        return x
    fn = check(f, rand(3))
    assert "call" not in ops(fn)


def test_static_recursion():
    def power(x, n):
        return x if n == 1 else x * power(x, n - 1)
    check(lambda x: power(x, 4), rand(3))


def repeated_sine(x, k):
    if k == 0:
        return x
    return repeated_sine(np.sin(x) * 1.1, k - 2)


def test_recursion_on_a_run_time_value_names_the_recursive_call():
    """It named the outermost traced function's def line."""
    line = repeated_sine.__code__.co_firstlineno + 3
    for k in (np.int64(3), 3):      # run-time; static, never reaching 0 (3, 1, -1, ...)
        with pytest.raises(adcompiler.TraceError, match=rf"test_frontend_calls.py:{line}: "
                           "recursion too deep while tracing repeated_sine: does it reach its "
                           "base case"):
            adcompiler.trace(lambda x, k: np.sum(repeated_sine(x, k)), rand(2), k)


def test_builtins():
    def f(x, xs):
        return (len(x), abs(-np.sum(x)), min(np.sum(x), 50.0), max(x[0], x[1], x[2]),
                sum([x, x]), isinstance(x, np.ndarray), isinstance(np.sum(x), float),
                list(range(3)), tuple(x[:2]), float(np.sum(x)), abs(-2), max([1, 5, 2]),
                round(2.6), list(reversed(xs)))
    check(f, rand(3), [rand(2), rand(2)])


def prints_as_it_goes(x, n):
    y = np.sum(x ** 2)
    print("loss", y, "of", x.shape, {"first": x[0], "n": 2}, [x[1:]], (y > 1,), sep=" | ")
    for i in range(n):
        print("step", i, end=";\n", file=sys.stderr)
        y = y * 1.5
    if y > 4:
        print("{big}", y)
    return y


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_print_prints_on_every_call_what_python_prints(backend, capsys):
    g = adcompiler.grad(prints_as_it_goes, wrt="x", backend=backend)
    for x, n in ((np.array([1.0, 2.0, 0.5]), np.int64(2)), (np.array([0.1, 0.2, 0.3]), np.int64(1))):
        prints_as_it_goes(x, n)
        want = capsys.readouterr()
        g(x, n)                 # the backward sweep prints nothing again
        assert capsys.readouterr() == want


def prints_then_logs_a_negative(x):
    print("loss of", x.shape)
    h = np.tanh(x) * 2.0
    h = np.sin(h) + np.exp(-h * h)
    return np.sum(np.log(h @ np.ones((40, 40)) - 1.0))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_nan_search_prints_nothing_and_leaves_the_streams_alone(backend, capsys):
    """The search for a NaN's line runs the program again without showing its prints; it
    redirected sys.stdout and sys.stderr, which threads share: two threads searching at once
    put back each other's stand-in, and every print of the program was lost from then on."""
    import concurrent.futures
    g = adcompiler.grad(prints_then_logs_a_negative, backend=backend)
    with pytest.raises(adcompiler.NaNError):
        g(-np.ones((40, 40)))
    assert capsys.readouterr().out == "loss of (40, 40)\n"      # once: the search's not shown
    streams = sys.stdout, sys.stderr

    def fail(_):
        for _ in range(20):
            with pytest.raises(adcompiler.NaNError):
                g(-np.ones((40, 40)))
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(fail, range(4)))
    assert (sys.stdout, sys.stderr) == streams
    assert capsys.readouterr().out == "loss of (40, 40)\n" * 80


def test_nans_found_again_and_again_build_the_numpy_reference_once():
    """The Numba backend built the NumPy program that names a NaN's line anew at each NaN:
    a training loop catching NaNErrors grew by a program (and a linecache entry) a call."""
    import linecache
    g = adcompiler.grad(prints_then_logs_a_negative, backend="numba")
    with pytest.raises(adcompiler.NaNError):
        g(-np.ones((40, 40)))
    known = len(linecache.cache)
    for _ in range(5):
        with pytest.raises(adcompiler.NaNError):
            g(-np.ones((40, 40)))
    assert len(linecache.cache) == known


def prints_formatted(x, lr):
    s = np.sum(x ** 2)
    print(f"loss {s:.3f} first={x[0]!r} lr={lr} {{braces}} {x.shape}", float(s), [lr, s])
    print("step {} of {n}: {:.2e}".format(1, s, n=3), s, x[0], sep="}{")
    print("{0[1]} {1[2]!r} {p[0]:.1f} {1.shape}".format(x, x, p=x), "{[1]}".format(x))
    note = f"mean {np.mean(x):8.4f}|"
    print(note, end="")
    return s * lr


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_print_of_formatted_strings_and_scalars(backend, dtype, capsys):
    """f-strings and str.format of run-time values, float32 scalars (str, not float64 digits),
    Python floats (an argument, float()) in containers, a sep with braces."""
    x = np.array([0.5, 1.25, -2.0], dtype=dtype)
    prints_formatted(x, 0.1)
    want = capsys.readouterr().out
    adcompiler.grad(prints_formatted, backend=backend)(x, 0.1)
    assert capsys.readouterr().out == want


def prints_containers_in_strings(x):
    s = np.sum(x)
    print(f"list {[s, x[0]]}", f"{(s, 2.0)}", f"{ {'k': s} }", "{} {}".format([s, x[1]], (s,)))
    print([f"{v:.1f}" for v in x])
    assert s < 100, f"sum {s:.3f} from {x[0]!r}"
    return s


def asserts_with_a_formatted_message(x):
    s = np.sum(x)
    assert s > 0, f"sum must be positive, got {s:.3f} from {x[0]!r}"
    return s * 2.0


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_strings_of_containers_and_assert_messages_of_runtime_values(backend, capsys):
    x = np.array([0.5, 1.125])
    prints_containers_in_strings(x)
    want = capsys.readouterr().out
    adcompiler.jit(prints_containers_in_strings, backend=backend)(x)
    assert capsys.readouterr().out == want
    g = adcompiler.grad(asserts_with_a_formatted_message, backend=backend)
    np.testing.assert_allclose(g(x), [2.0, 2.0])
    with pytest.raises(adcompiler.AssertionFailed,
                       match=r"sum must be positive, got -0\.500 from np\.float64\(-1\.0\)"):
        g(np.array([-1.0, 0.5]))


def prints_concatenated_strings(x, lr):
    s = np.sum(x)
    print("loss=" + str(s) + " lr=" + repr(lr) + " " + format(s, ".2f"), str(3), repr("a"))
    print(", ".join([f"{v:.2f}" for v in x]), "|".join(["a", str(s)]), str([s, 1]))
    return s * lr


def returns_a_formatted_string(x):
    return np.sum(x), f"{np.sum(x):.2f}"


def adds_to_a_formatted_string(x):
    return len("s=" + f"{np.sum(x):.2f}")


def percent_formats(x, n):
    s = np.sum(x)
    print("loss %.3f | %8.2e | %-6.1f| %+g %s %r %5s %d%%" % (s, s, s, s, s, s, s, n))
    print("step %d of %d: %s" % (3, n, x[0]), "%(a).2f and %(b)s" % {"a": s, "b": "static"})
    print("%05.1f %x" % (s, n))
    return s


def formats_a_formatted_string(x):
    print("v {}".format(f"{x[0]}"))
    return np.sum(x)


def formats_containers_and_strings_with_percent(x):
    s = np.sum(x)
    print("v=%s" % ([s, 1.5],), "w=%s" % [s], "u=%s" % str(s), "r=%r" % (f"{s:.1f}",),
          f"{str(s)!r}")
    return s


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("f, args", [
    (prints_concatenated_strings, (np.array([0.5, 1.125, -2.0]), 0.1)),
    (percent_formats, (np.array([0.5, 1.125, 2.0]), np.int64(26))),
    (formats_a_formatted_string, (np.array([0.25, 0.5]),)),
    (formats_containers_and_strings_with_percent, (np.array([0.25, 0.5]),))],
    ids=lambda v: getattr(v, "__name__", ""))
def test_a_gradient_prints_what_python_prints(f, args, backend, capsys):
    """str, repr, format, join and +; %-formatting (of containers and strings of run-time
    values too); str.format of an f-string."""
    f(*args)
    want = capsys.readouterr().out
    adcompiler.grad(f, backend=backend)(*args)
    assert capsys.readouterr().out == want


def test_print_to_another_file_is_an_error():
    def f(x):
        print(x, file=io.StringIO())
        return np.sum(x)
    with pytest.raises(adcompiler.TraceError, match="sys.stdout or sys.stderr"):
        adcompiler.trace(f, rand(2))

    def keeps_a_formatted_string(x):
        return {f"{np.sum(x)}": x}
    for f, words in ((keeps_a_formatted_string, "can only be printed"),
                     (adds_to_a_formatted_string, "can only be printed"),
                     (returns_a_formatted_string, "cannot be returned")):
        with pytest.raises(adcompiler.TraceError, match=words):
            adcompiler.trace(f, rand(2))


def asserts_in_a_branch(x):
    if np.sum(x) > 0:
        assert np.max(x) < 10, "too large"
    return np.sum(x ** 2)


def test_an_assert_under_a_runtime_condition_runs_when_the_branch_does():
    g = adcompiler.grad(asserts_in_a_branch)
    np.testing.assert_allclose(g(np.array([-20.0, 15.0])), [-40.0, 30.0])  # branch not taken
    np.testing.assert_allclose(g(np.array([2.0, 1.0])), [4.0, 2.0])
    with pytest.raises(adcompiler.AssertionFailed, match="too large"):
        g(np.array([20.0, 1.0]))


OPTIMISED_RUN = """
import numpy as np
import adcompiler


def asserts_in_a_branch(x):
    if np.sum(x) > 0:
        assert np.max(x) < 10, "too large"
    return np.sum(x ** 2)


x = np.array([20.0, 1.0])
print(asserts_in_a_branch(x), adcompiler.grad(asserts_in_a_branch, backend="numpy")(x))
"""


def test_python_O_skips_asserts_as_python_does(tmp_path):
    """Under `python -O` Python skips an assert (its test is not even evaluated); the compiled
    code checked it still: an AssertionFailed where Python returns."""
    script = tmp_path / "optimised.py"
    script.write_text(OPTIMISED_RUN)
    env = {**os.environ, "ADCOMPILER_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-O", str(script)], capture_output=True, text=True,
                         env=env, check=True).stdout
    assert out.split() == ["401.0", "[40.", "2.]"]


class StopGradient:
    """A stand-in for the autodiff hook: emits `astype` to its own dtype via ctx."""

    calls = []

    def __adcompiler_trace__(self, ctx, args, kwargs):
        (x,) = args
        self.calls.append(ctx.loc)
        assert ctx.is_traced(x) and isinstance(x, ctx.Traced)
        return ctx.emit("neg", ctx.emit("neg", x))

    def __call__(self, x):
        return x


stop = StopGradient()


def test_trace_hook_gets_the_context():
    def f(x):
        return stop(x) * 2
    fn = check(f, rand(3))
    assert ops(fn).count("neg") == 2
    assert stop.calls[-1][1] == f.__code__.co_firstlineno + 1


class Declared:
    def __adcompiler_trace__(self, ctx, args, kwargs):
        fn, operands, rebuild = ctx.function(lambda v: np.tanh(v) * 2, *args)
        op = ctx.builder.emit("call", operands, {"callee": fn.name},
                              result_types=fn.result_types)
        return rebuild(op.results)

    def __call__(self, x):
        return np.tanh(x) * 2


def test_trace_hook_can_build_a_separate_function():
    declared = Declared()

    def f(x):
        return declared(x) + 1
    fn = check(f, rand(3))
    assert "call" in ops(fn)


def test_trace_hook_functions_are_specialised_per_signature():
    declared = Declared()

    def f(x, y):
        return declared(x), declared(y), declared(x * 2)
    fn = check(f, rand(3), rand(2, dtype=np.float32))
    assert len(fn.callees()) == 2


def test_bound_methods_and_static_objects():
    class Model:
        def __init__(self):
            self.n_head = 2

        def heads(self, x):
            return x.reshape(x.shape[0], self.n_head, -1)
    m = Model()
    check(m.heads, rand(3, 4))


def jitted_helper(x):
    return np.tanh(x) * 2.0


JITTED = adcompiler.jit(jitted_helper)


def calls_a_jit_function(x):
    return np.sum(JITTED(x) ** 2)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_jit_function_inside_traced_code_is_traced_with_its_caller(backend):
    x = rand(3)
    want = 8.0 * np.tanh(x) * (1.0 - np.tanh(x) ** 2)      # d/dx sum((2 tanh x)^2)
    np.testing.assert_allclose(adcompiler.grad(calls_a_jit_function, backend=backend)(x), want,
                               rtol=1e-12)


class Dense:
    """A layer object as users write them: hyperparameters on the instance, weights passed in."""

    def __init__(self, act):
        self.act = act

    def __call__(self, p, x):
        y = x @ p["w"] + p["b"]
        return self.act(y)


TANH_LAYER = Dense(np.tanh)


def calls_a_layer_object(p, x):
    return np.sum(TANH_LAYER(p, x) ** 2)


def test_an_object_with_a_call_method_is_traced_like_a_function():
    p, x = {"w": rand(3, 2), "b": rand(2)}, rand(4, 3)
    check(calls_a_layer_object, p, x)
    t = np.tanh(x @ p["w"] + p["b"])
    dy = 2 * t * (1 - t ** 2)                     # d/dy sum(tanh(y)^2)
    got = adcompiler.grad(calls_a_layer_object)(p, x)
    np.testing.assert_allclose(got["w"], x.T @ dy, rtol=1e-12)
    np.testing.assert_allclose(got["b"], dy.sum(0), rtol=1e-12)


class StaticTanh:
    @staticmethod
    def __call__(x):
        return np.tanh(x)


class ScaledTanh:
    k = 2.0

    @classmethod
    def __call__(cls, x):
        return np.tanh(x) * cls.k


class Doubled(Dense):
    def __call__(self, p, x):
        return super().__call__(p, x) * 2.0


def calls_static_and_class_call_methods(x):
    return np.sum(StaticTanh()(x) * ScaledTanh()(x))


def calls_a_subclass_with_super(p, x):
    return np.sum(Doubled(np.tanh)(p, x))


def test_call_methods_static_class_and_through_super():
    x = rand(3)
    t = np.tanh(x)
    np.testing.assert_allclose(adcompiler.grad(calls_static_and_class_call_methods)(x),
                               4 * t * (1 - t ** 2), rtol=1e-10)     # d/dx 2 tanh^2
    p = {"w": rand(3, 2), "b": rand(2)}
    got = adcompiler.grad(calls_a_subclass_with_super)(p, np.tile(x, (4, 1)))
    y = np.tanh(x @ p["w"] + p["b"])
    np.testing.assert_allclose(got["b"], 8 * (1 - y ** 2), rtol=1e-10)   # 4 rows of 2 tanh'


def test_grad_and_jit_of_a_layer_object():
    layer, x = Dense(np.tanh), rand(4, 3)
    p = {"w": rand(3, 2), "b": rand(2)}
    np.testing.assert_allclose(adcompiler.jit(layer)(p, x), layer(p, x), rtol=1e-15)
    y = layer(p, x)
    np.testing.assert_allclose(adcompiler.grad(lambda_free_sum)(p, x)["b"],
                               (1 - y ** 2).sum(0), rtol=1e-12)
    np.testing.assert_allclose(adcompiler.grad(layer_sum)(p, x)["b"], (1 - y ** 2).sum(0),
                               rtol=1e-12)


class SummedDense(Dense):
    def __call__(self, p, x):
        return np.sum(super().__call__(p, x))


layer_sum = SummedDense(np.tanh)


def lambda_free_sum(p, x):
    return layer_sum(p, x)


def static_divmod_and_pow(x):
    q, r = divmod(7, 2)
    return x[q:q + 1] * pow(2, 3) + r, divmod(x, 2.0), pow(x, 2), pow(3, 2, 5)


def test_divmod_and_pow_of_static_numbers_stay_static():
    check(static_divmod_and_pow, rand(4))


def asks_the_type_of_an_array(x):
    return x * (2.0 if type(x) is np.ndarray else 3.0)


def test_introspecting_a_runtime_array_itself_is_an_error():
    with pytest.raises(adcompiler.TraceError, match="type is not supported on run-time arrays"):
        adcompiler.trace(asks_the_type_of_an_array, rand(2))




def test_a_users_module_named_like_a_standard_one_is_traced(monkeypatch):
    """The standard library's modules run natively; a user's module of the same name (a
    `trace.py` beside the model) is the user's, by where its file is."""
    import types
    from adcompiler.frontend import calls
    monkeypatch.setattr(calls, "_LIBRARY_MODULES", {})
    mine = types.ModuleType("wave")
    mine.__file__ = __file__
    monkeypatch.setitem(sys.modules, "wave", mine)
    assert not calls.library("wave") and calls.library("copy") and calls.library("numpy.linalg")


def compares_a_string(x):
    if str(np.sum(x)) == "3.0":
        return x * 2.0
    return x


def test_a_string_of_runtime_values_cannot_be_compared():
    with pytest.raises(adcompiler.TraceError, match="can only be printed"):
        adcompiler.trace(compares_a_string, np.array([1.0, 2.0]))


def doubled(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return 2.0 * fn(*args, **kwargs)
    return wrapper


@doubled
def decorated_loss(w, x):
    return np.sum((w * x) ** 2)


@doubled
def decorated_helper(v):
    return v + 1.0


def calls_decorated(w):
    return np.sum(decorated_helper(w) * w)


def with_scale(fn):
    @functools.wraps(fn)
    def wrapper(x, scale=1.0):          # parameters of its own: they are what is called
        return scale * fn(x)
    return wrapper


@with_scale
def scaled_squares(x):
    return np.sum(x ** 2)


def test_a_functools_wraps_decorator_runs_its_wrapper():
    """functools.wraps makes inspect.signature and getsource describe the wrapped function:
    the wrapper's own code is what runs, and its signature is what a wrt counts."""
    w, x = rand(3), rand(3)
    check(decorated_loss, w, x)
    check(calls_decorated, w)
    value, (dw, dx) = adcompiler.value_and_grad(decorated_loss, wrt=("w", "x"))(w, x)
    np.testing.assert_allclose(value, 2 * np.sum((w * x) ** 2))
    np.testing.assert_allclose(dw, 4 * w * x * x)
    np.testing.assert_allclose(dx, 4 * w * w * x)
    np.testing.assert_allclose(adcompiler.grad(calls_decorated)(w), 4 * w + 2)
    np.testing.assert_allclose(adcompiler.grad(scaled_squares)(w, scale=3.0), 6 * w)


def sorts_run_time_values(x):
    return sum(sorted([x[0], x[1], x[2]]))


def test_sorted_of_run_time_values_says_to_sort_an_array():
    """It was Python's "'<' not supported between instances of 'run-time array'"."""
    with pytest.raises(adcompiler.TraceError, match=r"test_frontend_calls.py:\d+: sorted\(\) of "
                       r"run-time values is not supported .*np.sort"):
        adcompiler.trace(sorts_run_time_values, np.array([3.0, 1.0, 2.0]))


def dense_act(x, w, act=np.tanh):
    return act(x @ w)


def partials_made_inside(w, x):
    first = functools.partial(dense_act, act=np.sin)
    second = functools.partial(dense_act, w=w)          # holding a run-time array
    return np.sum(first(x, w)) + np.sum(second(x) ** 2)


def test_a_partial_of_a_user_function_made_inside():
    """It was refused: with a run-time argument ('partial is not supported on run-time
    arrays'), and without one with an error naming adcompiler's own CallsMixin.call (the
    function had been wrapped for native code)."""
    w, x = rand(3, 3), rand(2, 3)
    check(partials_made_inside, w, x)
    for backend in ("numpy", "numba"):
        adcompiler.check_grad(partials_made_inside, w, x, wrt=(0, 1), backend=backend)
