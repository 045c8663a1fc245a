"""Errors users see: one UnsupportedSyntax listing every unsupported construct with its line,
and TraceErrors naming the file, line and construct. Never an internal traceback."""
import dataclasses
import logging
import os

import numpy as np
import pytest

import adcompiler
from adcompiler import TraceError, UnsupportedSyntax
from fecheck import located_error, rand

FILE = "test_frontend_errors.py"
G = 1


def uses_yield(x):
    yield x


def uses_try(x):
    try:
        return x
    except ValueError:
        return x


def uses_with(x):
    with open("f") as fh:
        return fh


def uses_class(x):
    class A:
        pass
    return x


def uses_global(x):
    global G
    return x


def uses_nonlocal(x):
    def inner():
        nonlocal x
    return x


def uses_del(x):
    y = x
    del y
    return x


async def uses_async(x):
    return x


def uses_await(x):
    async def inner():
        await x
    return x


def uses_match(x):
    match x:
        case _:
            return x


def uses_walrus(x):
    if (y := x) is not None:
        return y


def uses_set(x):
    return {1, 2}


def uses_setcomp(x):
    return {i for i in range(3)}


def uses_genexp(x):
    g = (i for i in range(3))
    return g


def uses_decorator(x):
    @staticmethod
    def inner():
        return 1
    return x


@pytest.mark.parametrize("f,construct,offset", [
    (uses_yield, "yield", 1), (uses_try, "try", 1), (uses_with, "with", 1),
    (uses_class, "class", 1), (uses_global, "global", 1), (uses_nonlocal, "nonlocal", 2),
    (uses_del, "del", 2), (uses_async, "async def", 0), (uses_await, "await", 2),
    (uses_match, "match", 1), (uses_walrus, "walrus (:=)", 1), (uses_set, "set literal", 1),
    (uses_setcomp, "set comprehension", 1), (uses_genexp, "generator expression outside a call", 1),
    (uses_decorator, "decorator on a nested function", 2),
], ids=lambda v: v if isinstance(v, str) else None)
def test_each_unsupported_construct(f, construct, offset):
    line = f.__code__.co_firstlineno + offset
    with pytest.raises(UnsupportedSyntax) as e:
        adcompiler.trace(f, rand(2))
    expected = f"'{construct}' at {FILE}:{line}"
    assert str(e.value) == expected or (construct == "await" and expected in str(e.value))
    assert e.value.__cause__ is None and e.value.__context__ is None


def many_problems(x):
    try:
        y = x
    finally:
        pass
    del y
    s = {1}
    with open("x"):
        pass
    return x


def test_several_problems_are_listed_together():
    first = many_problems.__code__.co_firstlineno
    with pytest.raises(UnsupportedSyntax) as e:
        adcompiler.trace(many_problems, rand(2))
    msg = str(e.value)
    assert msg.startswith("4 unsupported constructs:")
    for construct, off in [("try", 1), ("del", 5), ("set literal", 6), ("with", 7)]:
        assert f"'{construct}' at {FILE}:{first + off}" in msg
    assert [p[0] for p in e.value.problems] == ["try", "del", "set literal", "with"]


def unsupported_in_callee(x):
    return uses_class(x)


def test_unsupported_syntax_in_a_callee():
    with pytest.raises(UnsupportedSyntax, match=rf"'class' at {FILE}:"):
        adcompiler.trace(unsupported_in_callee, rand(2))


def bad_shapes(x, w):
    h = np.tanh(x)
    y = h @ w
    return y


def test_bad_shapes_name_line_and_construct():
    with pytest.raises(TraceError) as e:
        adcompiler.trace(bad_shapes, rand(2, 3), rand(4, 5))
    line = bad_shapes.__code__.co_firstlineno + 2
    msg = str(e.value)
    assert msg.startswith(f"{FILE}:{line}: matmul: inner dimensions differ")
    # a 1-d operand is named as the user wrote it, not as the column it is multiplied as
    # (it read '(2, 2) @ (3, 1)')
    with pytest.raises(TraceError, match=r"inner dimensions differ: \(2, 2\) @ \(3,\) \(size 3 "
                                         r"is different from 2\)"):
        adcompiler.trace(lambda x: x @ np.ones(3), rand(2, 2))
    assert msg.endswith("(in 'h @ w')")
    assert e.value.loc[1] == line and e.value.construct == "h @ w"
    assert e.value.__cause__ is None and e.value.__suppress_context__


def calls_bad_shapes(x, w):
    return np.sum(bad_shapes(x, w))


def logs(x):
    return np.sum(np.log(x))


ENTRIES = {     # a public entry, and the error its call raises
    "grad": (lambda: adcompiler.grad(calls_bad_shapes, backend="numpy")(rand(2, 3), rand(4, 5)),
             TraceError),
    "jit syntax": (lambda: adcompiler.jit(uses_try)(rand(2)), UnsupportedSyntax),
    "trace": (lambda: adcompiler.trace(calls_bad_shapes, rand(2, 3), rand(4, 5)), TraceError),
    "jacobian": (lambda: adcompiler.jacobian(bad_shapes)(rand(2, 3), rand(4, 5)), TraceError),
    "grad nan": (lambda: adcompiler.grad(logs)(-np.abs(rand(3))), adcompiler.NaNError),
}


@pytest.mark.parametrize("full", ["0", "1"])
@pytest.mark.parametrize("entry", ENTRIES)
def test_traceback_ends_at_the_adcompiler_call(entry, full, monkeypatch):
    """The interpreter's own frames (a dozen per statement, more per call) are dropped: the
    traceback is the user's call, the one frame of the public entry's wrapper and the message
    naming the line; ADCOMPILER_FULL_TRACEBACK=1 keeps them all."""
    import traceback
    monkeypatch.setenv("ADCOMPILER_FULL_TRACEBACK", full)
    call, error = ENTRIES[entry]
    with pytest.raises(error, match=FILE) as e:
        call()
    frames = [f.filename for f in traceback.extract_tb(e.value.__traceback__)]
    inside = [f for f in frames if f.startswith(os.path.dirname(adcompiler.__file__))]
    assert (len(inside) == 1) == (full == "0"), frames
    assert len(inside) >= 1


@pytest.mark.parametrize("transform", ["grad", "value_and_grad", "jit", "jacobian",
                                       "hessian"])
def test_a_transform_of_no_function_names_it_under_one_frame(transform):
    """The check ran two or three frames below the public entry (the transform's class)."""
    import traceback
    with pytest.raises(adcompiler.AdcompilerError, match=f"{transform} takes a function") as e:
        getattr(adcompiler, transform)(3)
    frames = [f.filename for f in traceback.extract_tb(e.value.__traceback__)]
    assert len([f for f in frames if f.startswith(os.path.dirname(adcompiler.__file__))]) == 1


def test_broadcast_error():
    with pytest.raises(TraceError, match=r"do not broadcast.*\(in 'x \+ y'\)"):
        adcompiler.trace(lambda x, y: x + y, rand(3), rand(4))


def test_undefined_name():
    def f(x):
        return x * undefined_thing  # noqa: F821
    with pytest.raises(TraceError, match=r"name 'undefined_thing' is not defined"):
        adcompiler.trace(f, rand(2))


def test_local_read_before_assignment():
    def f(x):
        y = z + 1  # noqa: F821
        z = 2
        return x * y
    with pytest.raises(TraceError, match=r"local variable 'z' is read before it is assigned"):
        adcompiler.trace(f, rand(2))


def test_static_value_needed():
    def f(x):
        n = np.sum(x)
        return x.reshape(n, -1)
    with pytest.raises(TraceError, match=r"compile-time.*\(in 'x.reshape\(n, -1\)'\)"):
        adcompiler.trace(f, rand(4))


TABLE = np.linspace(0.1, 0.6, 6).reshape(2, 3)


def writes_a_copy_of_a_global(w):
    out = np.array(TABLE)
    out[0] = w
    return np.sum(out * w)


def writes_a_run_time_copy(w):
    out = np.zeros(TABLE.shape) + TABLE
    out[0] = w
    return np.sum(out * w)


def test_writing_into_a_static_copy_says_how_to_make_a_run_time_one():
    """The advice was 'copy it with np.array', which is what failed; what it says works."""
    line = writes_a_copy_of_a_global.__code__.co_firstlineno + 2
    with pytest.raises(TraceError, match=rf"{FILE}:{line}: cannot assign into a static NumPy "
                                         r"array .*np\.zeros\(a\.shape, a\.dtype\) \+ a"):
        adcompiler.jit(writes_a_copy_of_a_global)(rand(3))
    w = rand(3)
    np.testing.assert_allclose(adcompiler.jit(writes_a_run_time_copy)(w),
                               writes_a_run_time_copy(w))


def literal_state(x, n):
    y = np.array([1.0, 0.0])
    for _ in range(n):                  # a run-time trip count
        y += 0.1 * x * y
    return y[0]


def literal_state_made_run_time(x, n):
    y = np.array([1.0, 0.0])
    y = np.zeros(y.shape, y.dtype) + y  # what the error says
    for _ in range(n):
        y += 0.1 * x * y
    return y[0]


def counts_in_a_static_loop(x):
    c = np.array([0, 0])
    for _ in range(100):
        c += 1
    return x * c[0]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_an_array_of_literals_changed_in_place_in_a_loop(backend):
    """`y += ...` on a static array (np.array of literals) inside a run-time loop ran once,
    while tracing: a wrong value, silently (a while loop on it never ended). It is refused,
    saying how to make it a run-time array; a static loop doing it unrolls (it too had
    changed it once)."""
    line = literal_state.__code__.co_firstlineno + 3
    with pytest.raises(TraceError, match=rf"{FILE}:{line}: 'y' is a static array .* changed in "
                                         r"place inside a run-time if or loop.*np\.zeros"):
        adcompiler.jit(literal_state, backend=backend)(0.7, np.int64(5))
    got = adcompiler.value_and_grad(literal_state_made_run_time, backend=backend)(
        0.7, np.int64(5))
    np.testing.assert_allclose(got, (1.07 ** 5, 5 * 0.1 * 1.07 ** 4), rtol=1e-13)
    assert adcompiler.jit(counts_in_a_static_loop, backend=backend)(2.0) == 200.0


def by_run_time_key(x, k):
    d = {0: x, 1: x * 2.0}
    return np.sum(d[k])


def test_a_dict_read_by_a_run_time_key_says_so():
    """It was Python's own 'KeyError: <traced i64[]>'."""
    line = by_run_time_key.__code__.co_firstlineno + 2
    with pytest.raises(TraceError, match=rf"{FILE}:{line}: a dict key needs a compile-time "
                                         r"value.*np\.stack.*\(in 'd\[k\]'\)"):
        adcompiler.grad(by_run_time_key)(rand(3), np.int64(1))


def test_python_comparing_run_time_values_is_an_error():
    """`in`, .count and == of lists compared the holders of run-time values by identity: `v not
    in out` kept duplicates, `[x[0]].count(x[0])` was 0. The same holder is still found."""
    def dedupe(x):
        out = []
        for v in [x[0], x[1], x[0] * 1.0]:
            if v not in out:
                out.append(v)
        return sum(out)

    def counts(x):
        return x[0] * [x[0]].count(x[0])

    def same_holder(x):
        a = x[0]
        return x[1] * (a in [a, x[1]])
    for f, code in ((dedupe, "v not in out"), (counts, r"\[x\[0\]\]\.count\(x\[0\]\)")):
        with pytest.raises(TraceError, match=rf"Python compares these run-time values.*\(in "
                                             rf"'{code}'\)"):
            adcompiler.trace(f, rand(2))
    x = rand(2)
    np.testing.assert_allclose(adcompiler.jit(same_holder)(x), x[1])


def test_data_dependent_shapes():
    with pytest.raises(TraceError, match="data-dependent"):
        adcompiler.trace(lambda x: np.where(x > 0), rand(3))
    with pytest.raises(TraceError, match=r"np\.where"):
        adcompiler.trace(lambda x: x[x > 0], rand(3))
    for f, name in ((lambda x: np.unique(x), "unique"), (lambda x: np.nonzero(x > 0), "nonzero"),
                    (lambda x: np.argwhere(x), "argwhere"), (lambda x: np.unique_counts(x),
                                                              "unique_counts")):
        with pytest.raises(TraceError, match=rf"np\.{name} returns as many entries as the "
                                             "values decide"):
            adcompiler.trace(f, rand(3))
    x = rand(2)     # on static data NumPy runs it while tracing
    np.testing.assert_array_equal(adcompiler.jit(lambda x: x + np.unique([3.0, 1.0, 3.0]))(x),
                                  x + [1.0, 3.0])


def test_wrong_number_of_arguments_to_numpy():
    with pytest.raises(TraceError, match=r"np\.sum\(out=\.\.\.\) is not supported; "
                                         r"assign the result"):
        adcompiler.trace(lambda x: np.sum(x, out=x), rand(3))     # (it read as a typo)
    # a method is named as the method the user called, its `out` given by name or position
    for f in (lambda x: x.sum(out=x), lambda x: x.sum(0, None, x)):
        with pytest.raises(TraceError, match=r": \.sum\(out=\.\.\.\) is not supported; "
                                             r"assign the result"):
            adcompiler.trace(f, rand(3))
    with pytest.raises(TraceError, match=r"np\.cumsum: the keyword out= is not supported; "
                                         r"assign the result"):
        adcompiler.trace(lambda x: np.cumsum(x, out=x), rand(3))
    with pytest.raises(TraceError, match=r"np\.fmax: the keyword out= is not supported"):
        adcompiler.trace(lambda x: np.fmax(x, x, out=x), rand(3))
    # NumPy's other keywords read as typos too ("got an unexpected keyword argument")
    for f, said in ((lambda x: np.fmax(x, x, where=x > 0), r"np\.fmax: the keyword where="),
                    (lambda x: np.exp(x, dtype=np.float32), r"np\.exp: the keyword dtype="),
                    (lambda x: x.cumsum(out=x), r"\.cumsum\(\): the keyword out="),
                    (lambda x: x.std(mean=0.0), r"\.std\(\): the keyword mean="),
                    (lambda x: np.matmul(x, x, axes=[(0,), (0,), ()]),
                     r"np\.matmul: the keyword axes=")):
        with pytest.raises(TraceError, match=said + " is not supported"):
            adcompiler.trace(f, rand(3))
    with pytest.raises(TraceError, match=r"np\.sum.*unexpected keyword argument 'axsi'"):
        adcompiler.trace(lambda x: np.sum(x, axsi=0), rand(3))


def test_array_truth_value():
    def f(x):
        if x > 0:
            return x
        return -x
    with pytest.raises(TraceError, match="ambiguous"):
        adcompiler.trace(f, rand(3))


def test_static_exception_is_reported():
    def f(x, params):
        return x * params["missing"]
    with pytest.raises(TraceError, match=r"KeyError: 'missing'.*params\['missing'\]"):
        adcompiler.trace(f, rand(2), {"w": rand(2)})


def test_raise_while_tracing():
    def f(x):
        if x.shape[0] != 3:
            raise ValueError("need 3")
        return x
    with pytest.raises(TraceError, match="ValueError: need 3"):
        adcompiler.trace(f, rand(2))


def test_tracing_a_non_function():
    with pytest.raises(TraceError, match=r"Python function.*wrap it in one \(lambda x: "
                                         r"np\.sum\(x\)\)"):
        adcompiler.trace(np.sum, rand(2))
    with pytest.raises(TraceError, match=r"wrap it in one \(lambda x: np\.sin\(x\)\)"):
        adcompiler.grad(np.sin)(rand(2))


def test_errors_are_adcompiler_errors():
    assert issubclass(TraceError, adcompiler.AdcompilerError)
    assert issubclass(UnsupportedSyntax, adcompiler.AdcompilerError)


def test_the_same_function_text_in_two_files_names_its_own_file(tmp_path):
    """Code objects compare equal across files: the error must still name the file traced."""
    import importlib.util
    text = "def f(x):\n    y = x.reshape(-1)\n    y += 1.0\n    return x\n"
    for name in ("first_copy", "second_copy"):
        path = tmp_path / f"{name}.py"
        path.write_text(text)
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        with pytest.raises(adcompiler.TraceError, match=f"{name}.py:4"):
            adcompiler.trace(mod.f, np.ones((2, 3)))


def test_a_module_changed_on_disk_is_traced_as_it_runs(tmp_path, monkeypatch):
    """After importlib.reload (Jupyter's autoreload), the new text (the old one was traced);
    before it, a function traced first then is the code that runs: its text as loaded (kept
    from its first trace), or an error, not the text on disk."""
    import importlib
    import sys
    module = tmp_path / "edited_model.py"
    source = "import numpy as np\n\ndef f(x):\n    return np.sum(np.{}(x))\n\n\n" \
             "def g(x):\n    return np.sum(np.{}(x))\n"
    module.write_text(source.format("sin", "sin"))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "edited_model", raising=False)
    import edited_model
    x = rand(3)
    assert adcompiler.jit(edited_model.f)(x) == pytest.approx(np.sum(np.sin(x)))
    module.write_text(source.format("cos", "cos"))
    os.utime(module, (1e9, 1e9))        # (a new mtime, whatever the clock's resolution)
    assert adcompiler.grad(edited_model.f)(x) == pytest.approx(np.cos(x))
    with pytest.raises(TraceError, match=r"edited_model.py:7: the source of g in "
                       r"edited_model.py changed since Python loaded it"):
        adcompiler.jit(edited_model.g)(x)
    importlib.reload(edited_model)
    assert adcompiler.jit(edited_model.f)(x) == pytest.approx(np.sum(np.cos(x)))
    assert adcompiler.grad(edited_model.g)(x) == pytest.approx(-np.sin(x))


def product_sum(x, w):
    return np.sum(x @ w)


def test_none_where_an_array_is_wanted_says_so():
    """(it said 'dtype object is not supported')"""
    with pytest.raises(TraceError, match=r"test_frontend_errors.py:\d+: an operand is neither a "
                       r"number nor an array \(None"):
        adcompiler.grad(product_sum)(rand(2, 2), None)


def warns_twice(x):
    y = np.log(x)
    return np.sum(np.exp(y * 2000.0))


def test_numpy_warnings_name_the_users_line():
    """NumPy's RuntimeWarnings of generated code named its file and line
    ('<adcompiler numpy: f #0>:6'), which the user cannot open."""
    import inspect
    import warnings
    first = inspect.getsourcelines(warns_twice)[1]
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
        warnings.simplefilter("always")
        out = adcompiler.jit(warns_twice, backend="numpy")(np.array([0.0, 2.0]))
    assert out == np.inf
    got = [(w.category, os.path.basename(w.filename), w.lineno, str(w.message)) for w in caught]
    assert got == [(RuntimeWarning, FILE, first + 1,
                    "divide by zero encountered in log, in 'y = np.log(x)'"),
                   (RuntimeWarning, FILE, first + 2,
                    "overflow encountered in exp, in 'return np.sum(np.exp(y * 2000.0))'")]
    assert os.path.isabs(caught[0].filename)
    with warnings.catch_warnings(record=True) as caught, np.errstate(divide="ignore"):
        warnings.simplefilter("always")
        adcompiler.jit(warns_twice, backend="numpy")(np.array([0.0, 2.0]))
    assert [w.lineno for w in caught] == [first + 2]       # the caller's errstate holds


def overflows(x):
    return np.sum(np.exp(x * 1000.0))


def test_a_gradient_under_numpy_warnings_warns_at_the_users_line_and_checks_nans():
    """The NaN check (invalid values raise) and the warnings at the user's line are one
    np.errstate together; a caller's own error callback is kept."""
    import inspect
    import warnings
    line = inspect.getsourcelines(overflows)[1] + 1
    x = np.array([1.0, 0.0])
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
        warnings.simplefilter("always")
        g = adcompiler.grad(overflows, backend="numpy")(x)
    assert g[0] == np.inf and g[1] == 1000.0      # inf is no NaN
    assert {(os.path.basename(w.filename), w.lineno) for w in caught} == {(FILE, line)}
    assert all("overflow" in str(w.message) for w in caught)
    seen = []
    with np.errstate(call=lambda kind, flag: seen.append(kind), over="call"):
        adcompiler.grad(overflows, backend="numpy")(x)
        with pytest.raises(adcompiler.NaNError, match=rf"{FILE}:\d+"):
            adcompiler.grad(logs, backend="numpy")(-np.abs(rand(3)))
    assert seen and set(seen) == {"overflow"}


def drops_a_nan(x, y):
    return np.sum(y ** 2) + np.nan_to_num(np.sqrt(x[0]))


def test_an_invalid_value_no_result_holds_warns_as_numpy_does():
    """Under grad (invalid values raise, for the NaN check) an invalid value that no result
    held was silent, where NumPy, and jit, warn; one that makes a NaN result is the
    NaNError alone."""
    import inspect
    import warnings
    line = inspect.getsourcelines(drops_a_nan)[1] + 1
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
        warnings.simplefilter("always")
        g = adcompiler.grad(drops_a_nan, wrt=1, backend="numpy")(-np.ones(1), np.arange(3.0))
        np.testing.assert_array_equal(g, [0.0, 2.0, 4.0])
        assert [(os.path.basename(w.filename), w.lineno, str(w.message)[:33])
                for w in caught] == [(FILE, line, "invalid value encountered in sqrt")]
        caught.clear()
        with pytest.raises(adcompiler.NaNError):
            adcompiler.grad(logs, backend="numpy")(-np.abs(rand(3)))
        assert caught == []


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_the_nan_check_finds_exactly_the_nans(dtype):
    """`has_nan` looks at small arrays joined, large ones each (their maxima): checked against
    np.isnan on outputs with NaNs, infinities of both signs, empty and 0-d arrays, scalars and
    nested tuples, and integer arrays (never NaN)."""
    from adcompiler.runtime.nans import _JOINED_BELOW, has_nan
    rng = np.random.default_rng(0)
    inf_pair = np.array([np.inf, -np.inf], dtype)
    for trial in range(200):
        parts = []
        for _ in range(rng.integers(1, 6)):
            size = int(rng.choice([0, 1, 3, _JOINED_BELOW - 1, _JOINED_BELOW + 5]))
            a = rng.normal(size=size).astype(dtype)
            if size and rng.random() < 0.3:
                a[rng.integers(size)] = rng.choice([np.inf, -np.inf])
            if size and rng.random() < 0.15:
                a[rng.integers(size)] = np.nan
            parts.append(a.reshape(-1, 1) if rng.random() < 0.3 else a)
        parts.append(inf_pair)
        if rng.random() < 0.5:
            parts.append(dtype(rng.choice([1.0, np.inf, np.nan], p=[0.6, 0.3, 0.1])))
        parts.append(np.arange(3))
        if rng.random() < 0.3:
            parts.append(np.array(rng.choice([2.0, np.nan]), dtype))
        expected = any(np.isnan(p).any() for p in parts)
        out = (tuple(parts[:2]), *parts[2:]) if trial % 2 else tuple(parts)
        with np.errstate(all="raise"):
            assert has_nan(out) is expected, (trial, parts)
    assert has_nan(np.zeros((0, 3), dtype)) is False
    assert has_nan(np.float64("nan")) is True


HISTORY = []


class Log:
    def __init__(self):
        self.values = []


LOG = Log()


def records_its_loss(x):
    s = np.sum(x ** 2)
    HISTORY.append(s)
    return s


def logs_into_an_object(x):
    s = np.sum(x ** 2)
    LOG.values.append(s)
    return s


def records_in_two_places(x):
    s = np.sum(x ** 2)
    HISTORY.append("start")         # (a static change: the error names the run-time one)
    HISTORY.append(s)
    LOG.values.append(s * 2.0)
    return s


def records_then_fails(x):
    s = np.sum(x ** 2)
    HISTORY.append(s)
    return np.sum(x @ np.ones((3, 2)))


def test_a_run_time_value_kept_in_a_global_list_is_an_error():
    """It stayed there after the call as a placeholder of the trace (a later trace reading it
    built invalid IR); the error named the def line, and the list kept the placeholder."""
    line = records_its_loss.__code__.co_firstlineno + 2
    with pytest.raises(TraceError, match=rf"{FILE}:{line}: records_its_loss puts a run-time "
                                         r"value into HISTORY, .*return the value instead "
                                         r"\(in 'HISTORY.append\(s\)'\)"):
        adcompiler.grad(records_its_loss)(rand(2))
    assert HISTORY == []
    # (named at the append too: the object was no longer found to hold it once put back)
    line = logs_into_an_object.__code__.co_firstlineno + 2
    with pytest.raises(TraceError, match=rf"{FILE}:{line}: logs_into_an_object puts a run-time "
                                         r"value into LOG.*'LOG.values.append\(s\)'"):
        adcompiler.jit(logs_into_an_object)(rand(2))
    assert LOG.values == []
    line = records_in_two_places.__code__.co_firstlineno + 3
    with pytest.raises(TraceError, match=rf"{FILE}:{line}: .*into HISTORY.*'HISTORY.append\(s\)'"):
        adcompiler.grad(records_in_two_places)(rand(2))
    assert HISTORY == [] and LOG.values == []       # (as before the call that failed)
    # a trace failing for another reason after the append leaves the list as it was too
    with pytest.raises(TraceError, match="inner dimensions differ"):
        adcompiler.grad(records_then_fails)(rand(2))
    assert HISTORY == []


def logs_its_loss(x):
    s = np.sum(x)
    logging.info(f"loss {s}")
    return s


def test_text_of_run_time_values_given_to_a_library_is_an_error():
    """logging swallowed the error its str() raised and printed a traceback of adcompiler's."""
    with pytest.raises(TraceError, match=rf"{FILE}:\d+: info gets text made from run-time "
                                         r"values.*print shows it"):
        adcompiler.grad(logs_its_loss)(rand(2))


def truncated(x):
    return int(x[0]) + 1.0 * x[1]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_int_of_nan_inf_or_a_huge_float_is_an_error(backend):
    """Python raises ValueError or OverflowError; the cast made them -2^63."""
    f = adcompiler.jit(truncated, backend=backend)
    assert f(np.array([2.7, 1.0])) == 3.0
    for bad in (np.nan, np.inf, -3e38):
        with pytest.raises(adcompiler.AssertionFailed, match=r"int\(\) of NaN, inf or a float "
                                                             "beyond the int64 range"):
            f(np.array([bad, 1.0]))


def test_a_square_of_bools_is_refused_as_numpy_makes_it_int8():
    """NumPy's np.square of bools is int8, a dtype adcompiler does not compute with (x // x of
    bools is refused so); it gave bools."""
    with pytest.raises(TraceError, match=r"dtype int8 is not supported.*np\.square\(m\)"):
        adcompiler.trace(lambda m: np.square(m), np.array([True, False]))
    # so is m ** 2, which NumPy computes as np.square (it gave int64); np.power(m, 2) and
    # m ** 2.0 are int64 and float64 in NumPy too
    m = np.array([True, False])
    with pytest.raises(TraceError, match=r"NumPy makes \*\* 2 of bools int8.*'m \*\* 2'"):
        adcompiler.trace(lambda m: m ** 2, m)
    for f in (lambda m: np.power(m, 2), lambda m: m ** 2.0, lambda m: m ** 3,
              lambda m: np.any(m) ** 2):       # (a NumPy bool scalar's is its power, int64)
        got = adcompiler.jit(f)(m)
        assert got.dtype == f(m).dtype
        np.testing.assert_array_equal(got, f(m))


def counts_its_locals(x):
    return np.sum(x * len(locals()))


def test_locals_and_globals_are_refused_in_words():
    """They were adcompiler's own frame's: a count of its variables, a KeyError for a global."""
    located_error(counts_its_locals, (rand(2),), r"locals\(\) is not supported in traced code",
                  FILE)


OUTSIDE = np.zeros(2)


def scales_an_outside_array(x):
    c = OUTSIDE; c *= 0; c += x; return c + OUTSIDE  # noqa: E702


def accumulates_in_its_default(x, buf=np.zeros(2)):     # noqa: B008
    buf += x; return buf * 1.0  # noqa: E702


def test_an_outside_array_changed_in_place_is_refused():
    """`c = GLOBAL; c *= 0` changed the global once, while tracing (and `buf += x` on a default
    array gave [1, 1] on every call where Python accumulates)."""
    for f in (scales_an_outside_array, accumulates_in_its_default):
        located_error(f, (rand(2),), "is an array from outside the function", FILE)
    np.testing.assert_array_equal(OUTSIDE, np.zeros(2))


def test_eval_a_list_of_run_time_values_and_a_misshaped_straight_through_are_named():
    """eval ran while tracing, reading the tracer's names (NameError: name 'v' is not
    defined); straight_through of two shapes said 'sub: shapes (2,) and (3,) do not
    broadcast'. (A list of run-time scalars given for an array is the array np.array makes
    of it: test_frontend_numpy.py.)"""
    for f, said in ((lambda v: eval("np.sum(v)"), r"eval\(\) is not supported in traced code"),
                    (lambda v: adcompiler.straight_through(v, v[:2]),
                     r"straight_through\(x, y\): y must be shaped like x \(3,\), got \(2,\)")):
        with pytest.raises(TraceError, match=said):
            adcompiler.trace(f, rand(3))


@dataclasses.dataclass
class Checked:
    w: np.ndarray

    def __post_init__(self):
        assert self.w.ndim == 1


def test_math_operator_and_post_init_refusals_say_what_to_write():
    """They said 'ldexp is not supported on run-time arrays' (no module, no way out), and a
    dataclass with a __post_init__ 'Checked is not supported on run-time arrays'. (math's
    functions of floats run: test_frontend_pymath.py.)"""
    import math
    import operator
    for f, said in ((lambda x: math.ldexp(float(np.sum(x)), 2),
                     r"math\.ldexp is not supported on run-time arrays.*; np\.ldexp is"),
                    (lambda x: operator.imul(x, x), r"operator\.imul .*write the operator"),
                    (lambda x: np.sum(Checked(x).w), r"building a Checked .*its __post_init__ "
                                                     r"would run as Python")):
        with pytest.raises(TraceError, match=said):
            adcompiler.trace(f, rand(3))


def _tries(x):
    try:
        return x
    except KeyError:
        return x


def _bad_product(x):
    return x @ np.ones(5)


def _through(x):
    return _bad_product(x) + 1.0


def test_an_error_in_a_called_function_names_the_calls_that_reached_it():
    """An error in a helper (another module's, a library's traced as code) named only the
    helper's line; it names the user's calls that reached it too, outermost first, as a NaN
    error does; one at the call's own line gets no note."""
    def line(f, offset=1):
        return f"test_frontend_errors.py:{f.__code__.co_firstlineno + offset}"
    def calls_tries(x):
        return _tries(x) * 2

    def calls_through(x):
        return np.sum(_through(x))
    with pytest.raises(adcompiler.UnsupportedSyntax,
                       match=rf"'try' at {line(_tries)} \(via the call at {line(calls_tries)}\)"):
        adcompiler.trace(calls_tries, rand(3))
    with pytest.raises(TraceError, match=rf"^{line(_bad_product)}: .* \(via the calls at "
                                         rf"{line(calls_through)} -> {line(_through)}\)$"):
        adcompiler.trace(calls_through, rand(3))
    with pytest.raises(TraceError) as e:
        adcompiler.trace(lambda x: _bad_product(x, 2), rand(3))
    assert "via the call" not in str(e.value)


def test_a_run_time_value_given_to_scipy_code_is_not_called_numpys():
    """It said 'a NumPy function adcompiler does not trace' of scipy.optimize.brentq."""
    from scipy import optimize

    def root(c):
        return optimize.brentq(lambda x: x ** 3 - c, 0.0, 10.0)
    with pytest.raises(TraceError, match=r"a function adcompiler does not trace \(NumPy, SciPy or "
                                         r"other code that converts it to an array\)"):
        adcompiler.trace(root, np.float64(2.0))
