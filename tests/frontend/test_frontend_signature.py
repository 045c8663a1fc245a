"""Pytree arguments and results, specialisation on the argument signature, the trace cache."""
import collections

import numpy as np
import pytest

import adcompiler
from fecheck import check, rand


def pytree_fn(params, x):
    out = {}
    for name, p in params["layers"].items():
        out[name] = x @ p["w"]
    first = params["pair"][0]
    keys = list(params["layers"].keys())
    vals = [v["w"].sum() for v in params["layers"].values()]
    return out, (first * 2, params["pair"][1]), keys, vals, params["n"]


def test_nested_containers_in_and_out():
    params = {"layers": {"a": {"w": rand(2, 2)}, "b": {"w": rand(2, 3)}},
              "pair": (rand(2), "tag"), "n": 3}
    fn = check(pytree_fn, params, rand(2))
    assert [a.hint for a in fn.args] == ["params.layers.a.w", "params.layers.b.w",
                                         "params.pair.0", "x"]


def test_container_literals_and_unpacking():
    def f(x):
        a, (b, c), *rest = x[0], (x[1], x[2]), x[3], x[4]
        t = (a, b)
        lst = [c, *rest]
        d = {"t": t, **{"lst": lst}}
        first, *_ = lst
        return d, first
    check(f, rand(5, 2))


def test_list_append_during_tracing():
    def f(x):
        hs = []
        for k in range(3):
            hs.append(x * k)
        hs.extend([x])
        return np.concatenate(hs)
    check(f, rand(2))


def test_specialisation_and_cache():
    def f(x, n, mode="a"):
        return x * n if mode == "a" else x - n
    x = rand(3)
    a = adcompiler.trace(f, x, 2)
    assert adcompiler.trace(f, rand(3), 2) is a                 # same signature: cached
    assert adcompiler.trace(f, x, 3) is not a                   # static value differs
    assert adcompiler.trace(f, x, 2, mode="b") is not a
    assert adcompiler.trace(f, x.astype(np.float32), 2) is not a
    assert adcompiler.trace(f, rand(4), 2) is not a
    assert adcompiler.trace(f, x, True) is not a                # True and 1 differ


def test_python_float_and_numpy_scalar_arguments_are_runtime():
    def f(x, a, b):
        return x * a + b
    fn = check(f, rand(2, dtype=np.float32), 0.5, np.float32(2.0))
    assert [str(v.type) for v in fn.args] == ["f32[2]", "f64[]", "f32[]"]
    # a NumPy float64 is a Python float too, but strong (NEP 50): f32 * f64 scalar is f64,
    # and f64 scalars give an f64 scalar, not a Python float
    check(f, rand(2, dtype=np.float32), np.float64(0.5), np.float64(2.0))
    check(lambda a, b: a - b, np.float64(1.0), np.float64(2.0))
    check(lambda a, b: a - b, 1.0, 2.0)


def test_sorted_over_a_dict_of_arrays_sorts_its_keys():
    check(lambda p: [p[k] * 2.0 for k in sorted(p, reverse=True)],
          {"b": rand(2), "a": rand(3), "c": rand(1)})


def decayed(w, x, step):
    return np.sum((x @ w) ** 2) * (0.1 / (1 + step))


@pytest.mark.parametrize("make", ["grad", "jit"])
def test_compiling_anew_for_each_static_value_warns_once(make, recwarn):
    """A Python int is a compile-time constant: a loop passing its step so compiles every call.
    The RESPECIALISED-th compilation for new static values warns, naming the argument, once;
    np.int64(step) is a run-time value (one compilation, and NumPy's values)."""
    w, x = rand(3), rand(4, 3)
    f = getattr(adcompiler, make)(decayed, backend="numpy")
    def want(step):         # the value, or the gradient 2 c x^T (x w) worked out by hand
        return decayed(w, x, step) if make == "jit" else 2 * (0.1 / (1 + step)) * x.T @ (x @ w)
    for step in range(1, 2 * adcompiler.api.RESPECIALISED):
        np.testing.assert_allclose(f(w, x, step), want(step), rtol=1e-12)
        np.testing.assert_allclose(f(w, x, np.int64(step)), want(step), rtol=1e-12)
        warned = [w for w in recwarn.list if w.category is adcompiler.RecompileWarning]
        assert len(warned) == (step >= adcompiler.api.RESPECIALISED)
    (warning,) = warned
    assert "decayed was compiled 8 times for new values of step" in str(warning.message)
    assert warning.filename == __file__
    assert len(f._cache) == 2 * adcompiler.api.RESPECIALISED     # one for np.int64 steps
    np.testing.assert_allclose(adcompiler.jit(decayed)(w, x, np.int64(3)), decayed(w, x, 3),
                               rtol=1e-12)


def test_defaults_are_static():
    def f(x, eps=1e-3):
        return x + eps
    fn = check(f, rand(2))
    assert len(fn.args) == 1


def test_evaluate_rejects_other_signatures():
    def f(x):
        return x * 2
    fn = adcompiler.trace(f, rand(3))
    with pytest.raises(adcompiler.TraceError, match="do not match"):
        adcompiler.evaluate(fn, rand(4))


def test_unsupported_argument_dtype():
    with pytest.raises(adcompiler.TraceError, match=r"argument x has dtype uint8"):
        adcompiler.trace(lambda x: x, np.zeros(3, np.uint8))


def test_a_compiled_call_names_an_unsupported_leaf_in_a_tree():
    def f(p, x):
        return p["w"] * x
    g = adcompiler.jit(f, backend="numpy")
    np.testing.assert_array_equal(g({"w": np.ones(3)}, 2.0), np.full(3, 2.0))
    with pytest.raises(adcompiler.TraceError, match=r"argument p\.b has dtype uint16"):
        g({"w": np.ones(3), "b": np.zeros(2, np.uint16)}, 2.0)


def test_scalar_results_are_scalars():
    def f(x, lr):
        return np.sum(x), lr * 2, x.shape[0], np.sum(x) > 0, None
    check(f, rand(3), 0.25)


def test_integer_and_bool_arrays_are_data():
    def f(tokens, mask):
        return tokens * 2, np.where(mask, tokens, -1), np.sum(mask)
    check(f, np.array([1, 5, 3]), np.array([True, False, True]))


TEMPERATURE = 1.0
SETTINGS = {"scale": 1.0}


class Scaler:
    def __init__(self, w):
        self.w = w

    def loss(self, x):
        return np.sum(np.exp(x / TEMPERATURE) * self.w * SETTINGS["scale"])


def test_values_read_from_outside_are_traced_again_when_rebound():
    """A global, an object's attribute, a dict entry and a closure variable read while tracing
    are compile-time constants; rebinding one makes the next call (of the same gradient object
    or a new one, of jit and vjp too) trace again instead of computing with the old value."""
    global TEMPERATURE
    x = np.array([0.1, 0.2, 0.3])
    m = Scaler(2.0)

    def want():
        return np.exp(x / TEMPERATURE) / TEMPERATURE * m.w * SETTINGS["scale"]

    g = adcompiler.grad(m.loss)
    f = adcompiler.jit(m.loss)
    try:
        for change in (lambda: None, lambda: globals().update(TEMPERATURE=2.0),
                       lambda: setattr(m, "w", 3.0), lambda: SETTINGS.update(scale=0.5)):
            change()
            np.testing.assert_allclose(g(x), want(), rtol=1e-12)
            np.testing.assert_allclose(adcompiler.grad(m.loss)(x), want(), rtol=1e-12)
            np.testing.assert_allclose(adcompiler.vjp(m.loss, x)[1](1.0)[0], want(),
                                       rtol=1e-12)
            np.testing.assert_allclose(f(x), np.sum(want()) * TEMPERATURE, rtol=1e-12)
    finally:
        TEMPERATURE = 1.0
        SETTINGS["scale"] = 1.0

    k = 1.0

    def closure(x):
        return np.sum(x * k)

    h = adcompiler.grad(closure)
    np.testing.assert_allclose(h(x), np.ones(3))
    k = 4.0
    np.testing.assert_allclose(h(x), np.full(3, 4.0))


DEFAULT_CFG = {"scale": 2.0}
DEFAULT_MODEL = Scaler(1.5)


def scaled_by_defaults(x, cfg=DEFAULT_CFG, model=DEFAULT_MODEL):
    return np.sum(x * x * cfg["scale"] * model.w)


def keeps_in_its_default(x, memo={}):     # noqa: B006 (the mutable default is the point)
    memo["y"] = x * 2.0
    return np.sum(memo["y"])


def fills_its_kwargs(x, **kw):
    kw.setdefault("b", x)
    return np.sum(kw["b"])


def test_what_a_default_holds_is_watched_like_a_global():
    """A default container or object was read through a copy the trace made of it: an entry
    or attribute changed later (a config dict, a model object) kept the old value; a run-time
    value stored into a default would outlive the call there."""
    x = np.array([1.0, 2.0])
    g = adcompiler.grad(scaled_by_defaults)
    try:
        for change in (lambda: None, lambda: DEFAULT_CFG.update(scale=3.0),
                       lambda: setattr(DEFAULT_MODEL, "w", 0.5)):
            change()
            want = 2 * x * DEFAULT_CFG["scale"] * DEFAULT_MODEL.w
            np.testing.assert_allclose(g(x), want, rtol=1e-12)
            np.testing.assert_allclose(adcompiler.jit(scaled_by_defaults)(x),
                                       scaled_by_defaults(x), rtol=1e-12)
    finally:
        DEFAULT_CFG["scale"], DEFAULT_MODEL.w = 2.0, 1.5
    with pytest.raises(adcompiler.TraceError, match=r"keeps_in_its_default puts a run-time value "
                                                    r"into its default argument memo"):
        adcompiler.grad(keeps_in_its_default)(x)
    np.testing.assert_allclose(adcompiler.grad(fills_its_kwargs)(x), np.ones(2))   # (fresh)


def scaled_by(x, c=1.0, *, k=np.ones(2)):
    return np.sum(x * c * k)


def calls_scaled(x):
    return scaled_by(x * 2.0)


def test_default_arguments_assigned_anew_are_seen():
    """`f.__defaults__ = (0.25,)` (or `__kwdefaults__`) kept the compiled code of the old
    defaults, of the traced function and of one it calls."""
    x = np.array([1.0, 2.0])
    old = scaled_by.__defaults__, scaled_by.__kwdefaults__
    g, h = adcompiler.grad(scaled_by), adcompiler.grad(calls_scaled, backend="numba")
    try:
        for change in (lambda: None, lambda: setattr(scaled_by, "__defaults__", (0.25,)),
                       lambda: setattr(scaled_by, "__kwdefaults__", {"k": np.array([3.0, 5.0])}),
                       lambda: scaled_by.__kwdefaults__.__setitem__("k", np.array([7.0, 1.0]))):
            change()
            want = scaled_by.__defaults__[0] * scaled_by.__kwdefaults__["k"]
            np.testing.assert_allclose(g(x), want, rtol=1e-12)
            np.testing.assert_allclose(h(x), 2.0 * want, rtol=1e-12)
    finally:
        scaled_by.__defaults__, scaled_by.__kwdefaults__ = old


def closing_over(X, scale=1.0):
    return lambda w, c=scale: np.sum(np.tanh(X @ w) * c)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_traced_function_and_what_it_closes_over_are_freed(backend):
    """The trace cache keys its entries by the function weakly, but an entry held the
    function (its signature, the watch on its defaults): every function traced, and the
    arrays it closed over, stayed for good."""
    import gc
    import weakref
    kept = []
    for k in range(3):
        X = np.full((4, 4), float(k))
        f = closing_over(X)
        adcompiler.grad(f, backend=backend)(np.ones(4))
        kept.append((weakref.ref(f), weakref.ref(X)))
        del f, X
    gc.collect()
    assert [(f(), X()) for f, X in kept] == [(None, None)] * 3


WEIGHT_LIST = [1.0, 2.0]
LAYER_LIST = [np.ones(2), 2 * np.ones(2)]
CFG_DICT = {"k": 1.0}
TABLE_ROWS = [[1.0, 2.0], [3.0, 4.0]]


def reads_containers_natively(x):
    return np.sum(x * (np.array(WEIGHT_LIST)[0] + np.stack(LAYER_LIST)[0]
                       + dict(CFG_DICT)["k"] + np.mean(WEIGHT_LIST))) \
        + np.sum(x @ np.array(TABLE_ROWS))


def test_containers_handed_whole_to_a_library_are_watched():
    """np.array(LIST), np.stack(LIST), dict(CFG) ran natively on the global containers, and an
    entry set later was not seen: the trace kept the old values (np.array of a list of rows:
    an entry of a row)."""
    x = np.ones(2)
    g = adcompiler.grad(reads_containers_natively, backend="numpy")
    try:
        for change in (lambda: None, lambda: WEIGHT_LIST.__setitem__(0, 4.0),
                       lambda: LAYER_LIST.__setitem__(0, 3 * np.ones(2)),
                       lambda: CFG_DICT.update(k=5.0),
                       lambda: TABLE_ROWS[0].__setitem__(0, 10.0)):
            change()
            want = WEIGHT_LIST[0] + LAYER_LIST[0][0] + CFG_DICT["k"] + np.mean(WEIGHT_LIST)
            np.testing.assert_allclose(g(x), want + np.sum(TABLE_ROWS, axis=1), rtol=1e-12)
    finally:
        WEIGHT_LIST[0], LAYER_LIST[0], CFG_DICT["k"] = 1.0, np.ones(2), 1.0
        TABLE_ROWS[0][0] = 1.0


def builds_lists_of_its_own(x):
    total = np.sum(np.array([3.0, 4.0])) + len(np.stack([[1.0], [2.0]]))
    for k in range(20):
        total = total + np.sum(x * np.array([k, 1.0])) + sum([k, 2.0])
    return total


def test_containers_the_trace_builds_are_not_watched():
    """Each list a function builds and hands to np.array was watched, and compared on every
    call (100 of them: 3 -> 80 us a call): nothing outside the trace holds them."""
    fn, _ = adcompiler.frontend.traced(builds_lists_of_its_own, np.ones(2))
    assert not [r for r in fn.meta["reads"] if r[0] in ("whole", "item", "has")]


def test_a_trace_is_reused_while_nothing_it_read_changes():
    """No spurious tracing: the same primal IR serves every call (the model reads globals,
    functions, module attributes and its parameter dict)."""
    x = np.array([0.1, 0.2, 0.3])
    m = Scaler(2.0)
    g = adcompiler.grad(m.loss)
    g(x)
    first = g._last.primal
    global TEMPERATURE
    for _ in range(3):
        TEMPERATURE = float("1.0")              # rebound to an equal number: no new trace
        g(x + 1.0)
        assert g._last.primal is first
    assert adcompiler.trace(m.loss, x) is first


class Config:
    SCALE = 1.0                                   # a class attribute


class Slotted:
    __slots__ = ("w",)

    def __init__(self, w):
        self.w = w


CFG = {"lr": 1.0}
LAYERS = [1.0]
NESTED = {"opt": {"lr": 1.0}}


def test_outside_values_read_in_other_ways_are_watched_too():
    """Class attributes, __slots__, getattr(), dict.get, `in`, len and iteration of a list, and
    dict subclasses: changing what the trace read makes the next call trace again."""
    from collections import OrderedDict, defaultdict
    x = np.array([0.1, 0.2, 0.3])
    s = Slotted(2.0)
    od = OrderedDict(a=1.0)
    dd = defaultdict(float, b=1.0)

    def f(x):
        k = CFG.get("k", 0.0) + (5.0 if "flag" in CFG else 0.0)
        for w in LAYERS:
            x = x * w
        return np.sum(x * Config.SCALE * s.w * getattr(s, "w") * od["a"] * dd["b"]
                      * NESTED.get("opt").get("lr") * getattr(Config, "EXTRA", 1.0)
                      + k * len(LAYERS))

    def scale():
        return np.prod(LAYERS) * Config.SCALE * s.w ** 2 * od["a"] * dd["b"] \
            * NESTED["opt"]["lr"] * getattr(Config, "EXTRA", 1.0)

    def want_value():
        k = CFG.get("k", 0.0) + (5.0 if "flag" in CFG else 0.0)
        return np.sum(x * scale() + k * len(LAYERS))

    g, j = adcompiler.grad(f), adcompiler.jit(f)
    changes = [lambda: None, lambda: setattr(Config, "SCALE", 2.0), lambda: setattr(s, "w", 3.0),
               lambda: CFG.update(k=1.0), lambda: CFG.update(flag=True),
               lambda: LAYERS.append(2.0), lambda: LAYERS.__setitem__(0, 0.5),
               lambda: od.update(a=4.0), lambda: dd.update(b=0.25),
               lambda: NESTED["opt"].update(lr=3.0), lambda: setattr(Config, "EXTRA", 0.5)]
    try:
        for change in changes:
            change()
            np.testing.assert_allclose(g(x), np.full(3, scale()), rtol=1e-12)
            np.testing.assert_allclose(j(x), want_value(), rtol=1e-12)
    finally:
        Config.SCALE = 1.0
        del Config.EXTRA
        NESTED["opt"]["lr"] = 1.0
        CFG.clear()
        CFG["lr"] = 1.0
        LAYERS[:] = [1.0]


def test_a_container_rebuilt_with_the_same_entries_is_no_change():
    global CFG
    x = np.array([0.1, 0.2, 0.3])

    def f(x):
        return np.sum(x * CFG["lr"])

    g = adcompiler.grad(f)
    g(x)
    first = g._last.primal
    try:
        for _ in range(3):
            CFG = {"lr": float("1.0")}            # a new dict, equal entries: no new trace
            g(x)
            assert g._last.primal is first
        CFG = {"lr": 2.0}
        np.testing.assert_allclose(g(x), np.full(3, 2.0))
    finally:
        CFG = {"lr": 1.0}


STATE = {"lr": 1.0, "step": 0}
CALLS = []


def test_changes_the_trace_did_not_read_or_made_itself_are_no_change():
    """A step counter beside the learning rate, a log list grown by the training loop, and a
    counter the traced code itself bumps: the same trace serves every call."""
    x = np.array([0.1, 0.2, 0.3])

    def f(x):
        CALLS.append(1)
        return np.sum(x * STATE["lr"] * len(CALLS[:0]) + x * STATE.get("lr"))

    g = adcompiler.grad(f)
    g(x)
    first = g._last.primal
    for i in range(3):
        STATE["step"] = i
        g(x)
        assert g._last.primal is first
    assert len(CALLS) == 1
    STATE["lr"] = 2.0
    try:
        np.testing.assert_allclose(g(x), np.full(3, 2.0))
    finally:
        STATE["lr"] = 1.0


class Model:
    def __init__(self):
        self._s, self._w = 2.0, np.ones(3)

    @property
    def scale(self):                # a plain value made afresh at each read
        return self._s * 1.0

    @property
    def weights(self):              # an array made afresh at each read
        return self._w * 1.0

    def act(self, x):
        return x * 1.0


OPTIONS = {1}


def test_properties_methods_partial_keywords_and_sets_are_watched():
    """A user property's value, a method replaced on the class, a partial's keywords changed in
    place, a set's membership: a change traces again; a property building a new array at each
    read, or a method bound afresh, is not a change."""
    import functools
    x = np.array([0.1, 0.2, 0.3])
    m = Model()
    part = functools.partial(lambda x, a: x * a, a=2.0)

    def f(x):
        return np.sum(m.act(part(x)) * m.scale * m.weights * (3.0 if 1 in OPTIONS else 1.0))

    def want():
        return np.full(3, part.keywords["a"] * m._s * (3.0 if 1 in OPTIONS else 1.0)
                       * (2.0 if "act" in Model.__dict__ and Model.act is not act else 1.0))

    act = Model.act

    g = adcompiler.grad(f)
    g(x)
    first = g._last.primal
    g(x)
    assert g._last.primal is first
    try:
        for change in (lambda: setattr(m, "_s", 5.0), lambda: part.keywords.update(a=4.0),
                       lambda: OPTIONS.discard(1),
                       lambda: setattr(Model, "act", lambda self, x: x * 2.0)):
            change()
            np.testing.assert_allclose(g(x), want(), rtol=1e-12)
    finally:
        OPTIONS.add(1)
        Model.act = act


def sum_of_fields(p):
    return np.sum(p.w * p.w)


def test_a_class_defined_on_each_call_warns_too(recwarn):
    g = adcompiler.grad(sum_of_fields, backend="numpy")
    w = rand(2)
    for _ in range(adcompiler.api.RESPECIALISED):
        Params = collections.namedtuple("Params", "w")     # a new class each time
        np.testing.assert_allclose(g(Params(w)).w, 2 * w, rtol=1e-15)
    (warning,) = [w for w in recwarn.list if w.category is adcompiler.RecompileWarning]
    assert "class of a named tuple" in str(warning.message)


BATCH = rand(4, 3)


def global_batch_loss(w):
    return np.sum((BATCH @ w) ** 2)


def test_tracing_again_for_changed_outside_values_warns_once(recwarn, monkeypatch):
    """A global batch rebound each step, or a new lambda each step: each call traces and
    compiles anew (correctly, but slowly): the RETRACED-th time warns, at the user's line."""
    from adcompiler import frontend
    w = rand(3)
    g = adcompiler.grad(global_batch_loss, backend="numpy")
    for _ in range(frontend.RETRACED + 2):
        monkeypatch.setitem(globals(), "BATCH", rand(4, 3))
        np.testing.assert_allclose(g(w), 2 * BATCH.T @ (BATCH @ w), rtol=1e-12)
    for _ in range(frontend.RETRACED + 2):
        x = rand(4, 3)
        np.testing.assert_allclose(adcompiler.grad(lambda v: np.sum((x @ v) ** 2))(w),
                                   2 * x.T @ (x @ w), rtol=1e-12)
    warned = [w for w in recwarn.list if w.category is adcompiler.RecompileWarning]
    assert [w.filename for w in warned] == [__file__, __file__]
    assert "global_batch_loss was traced and compiled again 8 times" in str(warned[0].message)
    assert "<lambda> was traced and compiled again 8 times" in str(warned[1].message)


def fails_to_trace(x, n):
    return np.sum(np.zeros(n) + x)


def test_traces_that_fail_are_not_counted_as_compiled_again(recwarn):
    """Each failed call (a run-time shape) warned, from the 8th, that the function 'was traced
    and compiled again': nothing was compiled, nothing outside changed."""
    from adcompiler import frontend
    for f in (adcompiler.grad(fails_to_trace, backend="numpy"),
              adcompiler.jit(lambda x: x[5], backend="numpy")):
        for _ in range(frontend.RETRACED + 2):
            with pytest.raises(adcompiler.TraceError):
                f(np.ones(3), np.int64(3)) if isinstance(f, adcompiler.api.GradFunction) \
                    else f(np.ones(3))
    assert not [w for w in recwarn.list if w.category is adcompiler.RecompileWarning]


def keeps_state_in_its_default(x, st={"m": np.zeros(2)}):     # noqa: B006
    st["m"] = st["m"] + x
    return st["m"] * 1.0


SCALE = {"s": 1.0}
MEMO: dict = {}


def scaled(x, s):
    return x * s


def scales_by_keywords(x):
    return scaled(x, **SCALE) + scaled(x, **{**SCALE})


def memo_coefficients():
    if "c" not in MEMO:
        MEMO["c"] = [2.0, 1.0]
    return MEMO["c"]


def reads_a_memo(x):
    c = memo_coefficients()
    return x * c[0] + c[1]


def test_outside_state_after_a_refused_trace_and_in_other_reads():
    """A trace refused for storing a run-time value in a default left its placeholder there
    (the plain function then failed); `f(x, **CFG)` and a memo dict the function fills itself
    kept old values when an entry changed."""
    x = np.ones(2)
    with pytest.raises(adcompiler.TraceError, match="into its default argument st"):
        adcompiler.jit(keeps_state_in_its_default)(x)
    np.testing.assert_array_equal(keeps_state_in_its_default.__defaults__[0]["m"], np.zeros(2))
    f, g = adcompiler.jit(scales_by_keywords), adcompiler.jit(reads_a_memo)
    try:
        for s, c0 in ((1.0, 2.0), (3.0, 5.0)):
            SCALE["s"] = s
            memo_coefficients()[0] = c0
            np.testing.assert_allclose(f(x), 2 * s * x)
            np.testing.assert_allclose(g(x), x * c0 + 1.0)
    finally:
        SCALE["s"] = 1.0
        MEMO.clear()
