"""Named tuples and dataclass instances as pytrees (pytree.py): as arguments, results and
gradients (a gradient of one is one of its class), built and taken apart inside traced code
(`Params(W, b)`, `p.W`, `p._replace`, `dataclasses.replace`), their arrays changed in place
reaching the caller; values against NumPy running the function, gradients against finite
differences, on both backends."""
import copy
import dataclasses
import functools
import types
from typing import NamedTuple

import numpy as np
import pytest

import adcompiler
from fecheck import central_differences, check, located_error, rand

FILE = "test_frontend_pytrees.py"


class Params(NamedTuple):
    W: np.ndarray
    b: np.ndarray
    name: str = "layer"


@dataclasses.dataclass
class Layer:
    W: np.ndarray
    b: np.ndarray
    act: str = "tanh"


@dataclasses.dataclass(frozen=True)
class Frozen:
    W: np.ndarray
    scale: float


@dataclasses.dataclass
class Checked:
    W: np.ndarray

    def __post_init__(self):
        assert self.W.ndim == 2


def forward(p, x):
    h = x @ p.W + p.b
    return np.tanh(h) if p.act == "tanh" else h


def loss_namedtuple(p, x):
    return np.sum(np.tanh(x @ p.W + p.b) ** 2) + len(p.name)


def loss_dataclass(layers, x):
    for layer in layers:
        x = forward(layer, x)
    return np.mean(x ** 2)


def loss_frozen(f, x):
    return np.sum((x @ f.W) ** 2) * f.scale


def built_inside(W, b, x):
    p = Params(W, b)
    q = p._replace(b=2.0 * p.b)
    layer = dataclasses.replace(Layer(q.W, q.b), act="linear")
    return np.sum(forward(layer, x) ** 2) + np.sum(Frozen(W, 0.5).W) + np.sum(q._asdict()["b"])


def sgd(p, g, lr):
    return Params(p.W - lr * g.W, p.b - lr * g.b, p.name)


def sgd_in_place(layer, g, lr):
    layer.W -= lr * g.W
    layer.b[:] = layer.b - lr * g.b


def test_values_match_numpy():
    p, x = Params(rand(3, 2), rand(2)), rand(4, 3)
    layers = [Layer(rand(3, 3), rand(3)), Layer(rand(3, 2), rand(2), act="linear")]
    check(loss_namedtuple, p, x)
    check(loss_dataclass, layers, x)
    check(loss_frozen, Frozen(rand(3, 2), 0.25), x)
    check(built_inside, p.W, p.b, x)
    check(sgd, p, Params(rand(3, 2), rand(2)), 0.1)
    check(sgd_in_place, Layer(rand(3, 2), rand(2)), Layer(rand(3, 2), rand(2)), 0.1)


def _finite_differences(f, args, index, eps=1e-6):
    """d f / d args[index]: a flat array of the leaves of that argument in field order."""
    base = args[index]
    fields = [k for k in ("W", "b") if hasattr(base, k)]
    out = []
    for k in fields:
        arr = getattr(base, k)
        g = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            for sign in (1, -1):
                moved = arr.copy()
                moved[i] += sign * eps
                changed = list(args)
                changed[index] = dataclasses.replace(base, **{k: moved}) \
                    if dataclasses.is_dataclass(base) else base._replace(**{k: moved})
                g[i] += sign * f(*changed) / (2 * eps)
        out.append(g)
    return out


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_gradients_have_the_arguments_class(backend):
    p, x = Params(rand(3, 2), rand(2)), rand(4, 3)
    g = adcompiler.grad(loss_namedtuple, backend=backend)(p, x)
    assert type(g) is Params and g.name is None      # a static field has no gradient
    for got, want in zip(g[:2], _finite_differences(loss_namedtuple, (p, x), 0), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)
    f = Frozen(rand(3, 2), 0.25)
    g = adcompiler.grad(loss_frozen, backend=backend)(f, x)
    assert type(g) is Frozen and isinstance(g.scale, float)
    np.testing.assert_allclose(g.W, 2 * 0.25 * x.T @ (x @ f.W), rtol=1e-12)
    np.testing.assert_allclose(g.scale, np.sum((x @ f.W) ** 2), rtol=1e-12)
    layers = [Layer(rand(3, 3), rand(3)), Layer(rand(3, 2), rand(2), act="linear")]
    value, g = adcompiler.value_and_grad(loss_dataclass, backend=backend)(layers, x)
    np.testing.assert_allclose(value, loss_dataclass(layers, x), rtol=1e-12)
    assert [type(layer) for layer in g] == [Layer, Layer] and g[1].act is None
    for k, layer in enumerate(layers):
        def one(lay, k=k):
            return loss_dataclass(layers[:k] + [lay] + layers[k + 1:], x)
        want = _finite_differences(one, (layer,), 0)
        np.testing.assert_allclose(g[k].W, want[0], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(g[k].b, want[1], rtol=1e-6, atol=1e-9)


def loss_mapping(p, x):
    return np.sum(np.tanh(x @ p["W"]) * p["b"])


class Weights(dict):
    """A user's mapping class whose __init__ takes other arguments."""

    def __init__(self, scale):
        super().__init__(W=scale * rand(3, 2), b=rand(2))


class Tagged(dict):
    """One whose __new__ takes an argument: its gradient is a plain dict."""

    def __new__(cls, tag, **entries):
        return super().__new__(cls)

    def __init__(self, tag, **entries):
        super().__init__(**entries)


class Logged(dict):
    """One whose update needs what its __init__ sets: its gradient is a plain dict."""

    def __init__(self, **entries):
        self.log = []
        super().__init__(**entries)

    def update(self, *args, **kwargs):
        self.log.append(args)
        super().update(*args, **kwargs)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_gradients_of_dict_subclasses_have_their_class(backend):
    """An OrderedDict's gradient is an OrderedDict in its order (a plain dict and an
    OrderedDict with the same keys are two specialisations), a user's dict subclass's one of
    its class, made without its __init__ (a plain dict where it cannot be made so). A loop
    whose body builds a plain dict from an OrderedDict carries it on."""
    from collections import OrderedDict
    x = rand(4, 3)
    W, b = rand(3, 2), rand(2)
    g = adcompiler.grad(loss_mapping, backend=backend)
    for p in (OrderedDict(b=b, W=W), {"W": W, "b": b}, Weights(0.5), Tagged("t", W=W, b=b),
              Logged(W=W, b=b)):
        got = g(p, x)
        assert type(got) is (dict if isinstance(p, (Tagged, Logged)) else type(p))
        assert list(got) == list(p)
        h = np.tanh(x @ p["W"])
        np.testing.assert_allclose(got["b"], np.sum(h, axis=0), rtol=1e-12)
        np.testing.assert_allclose(got["W"], x.T @ ((1 - h ** 2) * p["b"]), rtol=1e-12)
    doubled = adcompiler.grad(doubled_while_below, backend=backend)
    for p in (OrderedDict(w=W[0]), {"w": W[0]}):
        np.testing.assert_allclose(doubled(p, 0.0)["w"], np.full(2, 8.0), rtol=1e-12)


def doubled_while_below(p, c):
    while c < 3.0:
        p = {"w": p["w"] * 2.0}
        c = c + 1.0
    return np.sum(p["w"])


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_jit_of_an_optimiser_step(backend):
    p, g = Params(rand(3, 2), rand(2)), Params(rand(3, 2), rand(2))
    new = adcompiler.jit(sgd, backend=backend)(p, g, 0.1)
    assert type(new) is Params and new.name == "layer"
    np.testing.assert_allclose(new.W, p.W - 0.1 * g.W, rtol=1e-15)
    layer = Layer(rand(3, 2), rand(2))
    W, b = layer.W.copy(), layer.b.copy()
    adcompiler.jit(sgd_in_place, backend=backend)(layer, Layer(p.W, p.b), 0.1)
    np.testing.assert_allclose(layer.W, W - 0.1 * p.W, rtol=1e-15)
    np.testing.assert_allclose(layer.b, b - 0.1 * p.b, rtol=1e-15)


def post_init_on_run_time_arrays(x):
    return Checked(x).W


def scales_a_float_attribute(f):
    f.scale *= 2.0


def test_unsupported_uses_are_located_errors():
    located_error(post_init_on_run_time_arrays, (rand(3, 3),),
                  "building a Checked from run-time arrays .* __post_init__ would run as "
                  "Python", FILE)
    located_error(scales_a_float_attribute, (Frozen(rand(2, 2), 0.5),),
                  "cannot set attribute 'scale' of a Frozen object", FILE)


def replaces_entries(params, g):
    params["p"] = params["p"]._replace(W=params["p"].W - g)
    params["layers"][0] = dataclasses.replace(params["layers"][0], b=params["layers"][0].b + 1)
    params["frozen"] = dataclasses.replace(params["frozen"], W=2.0 * params["frozen"].W)
    return np.sum(params["p"].W)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_entries_set_to_new_instances_reach_the_caller(backend):
    """A dict or list entry of an argument set to a new named tuple or dataclass instance: the
    caller's container holds the new instance, and the old one is left as it was, as in
    Python (setting the old one's attribute failed on a named tuple, and changed a dataclass
    the caller may hold elsewhere)."""
    want_args = {"p": Params(rand(3, 2), rand(2)), "layers": [Layer(rand(2, 2), rand(2))],
                 "frozen": Frozen(rand(2, 2), 0.5)}
    got_args = copy.deepcopy(want_args)
    old = (got_args["p"], got_args["layers"][0], got_args["frozen"])
    kept = [x.copy() for x in (old[0].W, old[1].b, old[2].W)]
    g = rand(3, 2)
    got = adcompiler.jit(replaces_entries, backend=backend)(got_args, g)
    want = replaces_entries(want_args, g)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert type(got_args["p"]) is Params and got_args["p"].name == "layer"
    for k in ("p", "frozen"):
        np.testing.assert_array_equal(got_args[k].W, want_args[k].W)
    np.testing.assert_array_equal(got_args["layers"][0].b, want_args["layers"][0].b)
    for before, now in zip(kept, (old[0].W, old[1].b, old[2].W), strict=True):
        np.testing.assert_array_equal(now, before)


def checked_loss(c):
    return np.sum(c.W ** 2)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_an_argument_with_post_init(backend):
    """A dataclass with __post_init__ as an argument: rebuilt around the tracer's stand-ins
    (and as the gradient) without running __post_init__ on them (it ran on the caller's
    values; `self.W.ndim` failed on a stand-in)."""
    c = Checked(rand(3, 2))
    g = adcompiler.grad(checked_loss, backend=backend)(c)
    assert type(g) is Checked
    np.testing.assert_allclose(g.W, 2 * c.W, rtol=1e-12)


def adds_to_a_named_tuple_field(p, g):
    p.W -= g


def adds_to_a_frozen_field(f, g):
    f.W += g


def test_fields_python_cannot_set_are_located_errors():
    """`obj.a += v` sets obj.a after the in-place change: Python raises for a named tuple or a
    frozen dataclass, so adcompiler does too (it changed the caller's array silently)."""
    located_error(adds_to_a_named_tuple_field, (Params(rand(3, 2), rand(2)), rand(3, 2)),
                  r"Params.W cannot be set.* p.W\[\.\.\.\] -= g", FILE)
    located_error(adds_to_a_frozen_field, (Frozen(rand(3, 2), 0.5), rand(3, 2)),
                  "Frozen.W cannot be set", FILE)


class MLP:
    """A model object as PyTorch users write them: weights as attributes, set in __init__."""

    def __init__(self, sizes, act=np.tanh):
        self.sizes = sizes
        self.layers = [Linear(rand(a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
        self.act = act

    def __call__(self, x):
        for layer in self.layers[:-1]:
            x = self.act(layer(x))
        return self.layers[-1](x)


class Linear:
    def __init__(self, W):
        self.W = W
        self.b = np.zeros(W.shape[1])
        self.parent = None          # an attribute without an array

    def __call__(self, x):
        return x @ self.W + self.b


class Settings:
    """No array: a static value, as before."""

    def __init__(self, scale):
        self.scale = scale


def mlp_loss(model, x, y, settings):
    return settings.scale * np.mean((model(x) - y) ** 2)


def sgd_on_a_model(model, grads, lr):
    for layer, g in zip(model.layers, grads.layers):
        layer.W -= lr * g.W
        layer.b -= lr * g.b


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_model_object_as_argument_and_gradient(backend):
    model, x, y = MLP([3, 4, 2]), rand(5, 3), rand(5, 2)
    value, g = adcompiler.value_and_grad(mlp_loss, backend=backend)(model, x, y, Settings(0.5))
    np.testing.assert_allclose(value, mlp_loss(model, x, y, Settings(0.5)), rtol=1e-12)
    assert type(g) is MLP and [type(layer) for layer in g.layers] == [Linear, Linear]
    assert g.sizes == [None, None, None] and g.act is None and g.layers[0].parent is None
    # by hand: h = tanh(x W0 + b0), out = h W1 + b1, loss = 0.5 mean((out - y)^2)
    (W0, b0), (W1, b1) = [(layer.W, layer.b) for layer in model.layers]
    h = np.tanh(x @ W0 + b0)
    d_out = (h @ W1 + b1 - y) / y.size
    d_pre = d_out @ W1.T * (1 - h ** 2)
    for got, want in ((g.layers[1].W, h.T @ d_out), (g.layers[1].b, d_out.sum(0)),
                      (g.layers[0].W, x.T @ d_pre), (g.layers[0].b, d_pre.sum(0))):
        np.testing.assert_allclose(got, want, rtol=1e-10)
    before = [layer.W.copy() for layer in model.layers]
    adcompiler.jit(sgd_on_a_model, backend=backend)(model, g, 0.1)
    for layer, W, gl in zip(model.layers, before, g.layers, strict=True):
        np.testing.assert_allclose(layer.W, W - 0.1 * gl.W, rtol=1e-15)


class Child:
    def __init__(self, parent):
        self.W = rand(2, 2)
        self.parent = parent


class Parent:
    def __init__(self):
        self.children = [Child(self)]


def child_loss(model, x):
    return np.sum(x @ model.children[0].W)


def test_a_model_that_refers_back_to_itself_is_an_error():
    with pytest.raises(adcompiler.TraceError, match="holds itself"):
        adcompiler.grad(child_loss)(Parent(), rand(3, 2))


class LogScale:
    """A property computed from the object's arrays: traced like a method."""

    def __init__(self):
        self.log_s = np.array([0.1, -0.2])

    @property
    def s(self):
        return np.exp(self.log_s)


def scaled_loss(m, x):
    return np.sum((x * m.s) ** 2)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_property_and_a_simple_namespace(backend):
    m, x = LogScale(), np.array([1.0, 2.0])
    g = adcompiler.grad(scaled_loss, backend=backend)(m, x)
    np.testing.assert_allclose(g.log_s, 2 * x ** 2 * np.exp(2 * m.log_s), rtol=1e-12)
    p = types.SimpleNamespace(w=np.array([0.5, 1.0]), name="p")
    g = adcompiler.grad(namespace_loss, backend=backend)(p, x)
    assert type(g) is types.SimpleNamespace and g.name is None
    np.testing.assert_allclose(g.w, x * (1 - np.tanh(x * p.w) ** 2), rtol=1e-12)


def namespace_loss(p, x):
    return np.sum(np.tanh(x * p.w))


class Slotted:
    __slots__ = ("W", "act")

    def __init__(self, W):
        self.W = W
        self.act = "tanh"


def slotted_loss(m, x):
    return np.sum(np.tanh(x @ m.W))


def test_a_model_object_with_slots():
    m, x = Slotted(rand(2, 2)), rand(1, 2)
    g = adcompiler.grad(slotted_loss)(m, x)
    assert type(g) is Slotted and g.act is None
    np.testing.assert_allclose(g.W, x.T @ (1 - np.tanh(x @ m.W) ** 2), rtol=1e-12)


def sgd_over_attributes(model, grads, lr):
    for layer, g in zip(model.layers, grads.layers):
        if hasattr(layer, "W") and type(layer) is Linear:
            for name, value in vars(layer).items():
                if isinstance(value, np.ndarray):
                    value -= lr * getattr(g, name)


def test_introspection_of_model_objects_in_traced_code():
    model, grads = MLP([2, 2]), MLP([2, 2])
    grads.layers[0].b = rand(2)
    W, b = model.layers[0].W.copy(), model.layers[0].b.copy()
    adcompiler.jit(sgd_over_attributes)(model, grads, 0.5)
    np.testing.assert_allclose(model.layers[0].W, W - 0.5 * grads.layers[0].W, rtol=1e-15)
    np.testing.assert_allclose(model.layers[0].b, b - 0.5 * grads.layers[0].b, rtol=1e-15)


class BatchNorm:
    """A layer that replaces its buffers when called, as torch.nn.BatchNorm1d does."""

    def __init__(self, n):
        self.gamma, self.beta = np.ones(n), np.zeros(n)
        self.running_mean, self.running_var = np.zeros(n), np.ones(n)

    def __call__(self, x):
        mean, var = x.mean(axis=0), x.var(axis=0)
        self.running_mean = 0.9 * self.running_mean + 0.1 * mean
        self.running_var = 0.9 * self.running_var + 0.1 * x.var(axis=0, ddof=1)
        return self.gamma * (x - mean) / np.sqrt(var + 1e-5) + self.beta


class NormedNet:
    def __init__(self):
        self.W = rand(3, 4)
        self.bn = BatchNorm(4)


def normed_loss(net, x):
    return np.sum(np.tanh(net.bn(x @ net.W)) ** 2)


def recurrent_step(cell, x):
    cell.h = np.tanh(cell.h @ cell.Wh + x)
    return np.sum(cell.h ** 2)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_model_object_replaces_its_arrays(backend):
    net, ref, x = NormedNet(), NormedNet(), rand(5, 3)
    ref.W, ref.bn.gamma = net.W.copy(), net.bn.gamma.copy()
    old_mean = net.bn.running_mean
    for _ in range(2):          # the second call starts from the stats the first left
        value, g = adcompiler.value_and_grad(normed_loss, backend=backend)(net, x)
        np.testing.assert_allclose(value, normed_loss(ref, x), rtol=1e-12)
        np.testing.assert_allclose(net.bn.running_mean, ref.bn.running_mean, rtol=1e-12)
        np.testing.assert_allclose(net.bn.running_var, ref.bn.running_var, rtol=1e-12)
    assert not old_mean.any()                   # rebound, as in Python: the old array kept
    W = net.W.copy()
    want = central_differences(lambda w: normed_loss(_with_W(ref, w), x), W)
    np.testing.assert_allclose(g.W, want, rtol=1e-6, atol=1e-8)
    cell = types.SimpleNamespace(Wh=rand(3, 3), h=np.zeros(3))
    mirror = types.SimpleNamespace(Wh=cell.Wh, h=np.zeros(3))
    step = adcompiler.jit(recurrent_step, backend=backend)
    for t in range(3):
        np.testing.assert_allclose(step(cell, x[t]), recurrent_step(mirror, x[t]), rtol=1e-12)
        np.testing.assert_allclose(cell.h, mirror.h, rtol=1e-12)


def _with_W(net, W):
    other = copy.deepcopy(net)
    other.W = W
    return other


def adds_an_attribute(net, x):
    net.cache = x @ net.W
    return np.sum(net.cache)


def sets_a_static_attribute(net, x):
    net.bn.running_mean = None
    return np.sum(x @ net.W)


def sets_in_a_loop(net, x, n):
    for _ in range(n):
        net.bn.running_mean = net.bn.running_mean + 1.0
    return np.sum(x @ net.W)


def calls_a_setter_in_a_loop(net, x, n):
    s = 0.0
    for _ in range(n):
        s = s + np.sum(net.bn(x @ net.W))
    return s


OUTSIDE = NormedNet()


def sets_an_outside_object(x):
    OUTSIDE.W = x
    return np.sum(x)


def sets_an_array_attribute(x):
    x.flags = 1
    return x


class WithDefaults(NormedNet):
    scale = None                    # a class attribute the instance's attribute shadows

    def __init__(self):
        super().__init__()
        self.scale = np.ones(4)

    @property
    def double_W(self):
        return 2 * self.W

    @double_W.setter
    def double_W(self, value):
        self.W = value / 2


def rescales(net, x):
    net.scale = net.scale * 2.0
    return np.sum(x @ net.W * net.scale)


def sets_a_property(net, x):
    net.double_W = x
    return np.sum(x)


def test_a_class_attribute_may_be_shadowed_and_a_property_is_not_set():
    net, x = WithDefaults(), rand(5, 3)
    adcompiler.jit(rescales)(net, x)
    np.testing.assert_array_equal(net.scale, np.full(4, 2.0))
    located_error(sets_a_property, (net, rand(3, 4)), "'WithDefaults.double_W' is a property",
                  FILE)


def test_attribute_assignments_that_cannot_be_compiled_are_located_errors():
    net, x = NormedNet(), rand(5, 3)
    located_error(adds_an_attribute, (net, x), r"'NormedNet.cache' can be set only to an "
                  r"array, where it holds an array already", FILE)
    located_error(sets_a_static_attribute, (net, x), "'BatchNorm.running_mean' can be set "
                  "only to an array", FILE)
    located_error(sets_an_outside_object, (x,), "cannot set attribute 'W' of a NormedNet "
                  "object: only a model object passed to the function", FILE)
    located_error(sets_an_array_attribute, (x,), "cannot set attribute 'flags' of an array",
                  FILE)
    with pytest.raises(adcompiler.TraceError, match="inside a run-time if or loop"):
        adcompiler.trace(sets_in_a_loop, net, x, np.int64(2))
    with pytest.raises(adcompiler.TraceError, match="inside a run-time if or loop"):
        adcompiler.trace(calls_a_setter_in_a_loop, net, x, np.int64(2))
    assert isinstance(OUTSIDE.W, np.ndarray) and not hasattr(net, "cache")


def counts_calls(net, x):
    net.calls += 1.0            # a 0-d array: taken as a NumPy scalar, so rebound
    net.bn.running_var = 1.0    # a float is a run-time value
    return np.sum(x @ net.W)


def copies_a_model(net, x):
    return np.sum(x @ copy.copy(net).W)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_scalar_attribute_counts_calls(backend):
    net, x = NormedNet(), rand(5, 3)
    net.calls = np.zeros(())
    for n in (1.0, 2.0):
        adcompiler.grad(counts_calls, backend=backend)(net, x)
        assert net.calls == n and net.bn.running_var == 1.0
    # copy.copy of a model object (stdlib.py): a shallow copy, holding the model's arrays
    np.testing.assert_allclose(adcompiler.jit(copies_a_model, backend=backend)(net, x),
                               copies_a_model(net, x), rtol=1e-14)


def records_activations(net, x):
    h = x @ net.W
    net.acts.append(h)
    return np.sum(h)


def test_an_entry_added_to_an_arguments_list_is_an_error_at_that_line():
    net = NormedNet()
    net.acts = []
    with pytest.raises(adcompiler.TraceError, match="argument net has entries added") as e:
        adcompiler.grad(records_activations)(net, rand(5, 3))
    assert str(e.value).startswith(f"{FILE}:{records_activations.__code__.co_firstlineno + 2}:")


class Accumulating:
    """A layer that keeps a running sum of its inputs, and a model counting its calls."""

    def __init__(self):
        self.total, self.g = np.zeros(2), np.array([1.0, 2.0])

    def __call__(self, x):
        self.total = self.total + x
        return np.sum(self.g * x ** 2)


class Counting:
    def __init__(self):
        self.layer, self.calls = Accumulating(), np.zeros(1)

    def __call__(self, x):
        y = self.layer(x)               # sets the layer's attribute, then its own
        self.calls = self.calls + 1.0
        return y


def accumulates_three_times(layer, x):
    for _ in range(3):                  # a static loop: unrolled
        layer.total = layer.total + x
    return np.sum(layer.total)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_each_layer_object_gets_its_own_attributes_set(backend):
    x = np.array([0.5, 1.5])
    for make in (adcompiler.jit, adcompiler.grad, adcompiler.value_and_grad):
        layer = Accumulating()          # a new object for each: one trace serves them all
        make(layer, backend=backend)(x)
        np.testing.assert_array_equal(layer.total, x)
    layer = Accumulating()
    adcompiler.vjp(layer, x, backend=backend)
    np.testing.assert_array_equal(layer.total, x)
    model = Counting()
    g = adcompiler.grad(model, backend=backend)(x)
    np.testing.assert_allclose(g, 2 * model.layer.g * x, rtol=1e-12)
    assert model.calls[0] == 1.0 and np.array_equal(model.layer.total, x)
    layer = Accumulating()
    assert adcompiler.jit(accumulates_three_times, backend=backend)(layer, x) == 6.0
    np.testing.assert_array_equal(layer.total, 3 * x)


def builds_a_layer(x):
    return np.sum(Linear(x * 2.0).W)


def test_building_a_model_object_inside_says_to_pass_it_in():
    located_error(builds_a_layer, (rand(2, 2),), "building a Linear from run-time arrays inside "
                  "traced code is not supported: build it outside and pass it in", FILE)


def test_a_trace_evaluates_with_the_object_it_is_given():
    """One trace serves every Accumulating; evaluate runs it with the object traced for."""
    x = np.array([0.5, 1.5])
    first, second = Accumulating(), Accumulating()
    second.g = np.array([3.0, -1.0])
    for layer in (first, second):
        fn = adcompiler.trace(layer, x)
        assert adcompiler.evaluate(fn, x) == np.sum(layer.g * x ** 2)


def lstm_like_step(w, states):
    h, c = states[0]
    states[0] = (h * w, c)
    return np.sum(states[0][0] * c)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_plain_tuple_entry_set_anew_reaches_the_caller(backend):
    """`states[0] = (h, c)` on a list argument: writing it back tried to assign into the
    caller's old tuple (TypeError), after the arrays changed in place had been written."""
    w, h, c = rand(2), rand(2), rand(2)
    check(lstm_like_step, w, [(h, c)])
    states = [(h.copy(), c)]
    g = adcompiler.grad(lstm_like_step, backend=backend)(w, states)
    np.testing.assert_allclose(g, h * c, rtol=1e-12)
    assert type(states[0]) is tuple and states[0][1] is c
    np.testing.assert_allclose(states[0][0], h * w, rtol=1e-15)


@dataclasses.dataclass(eq=False)
class Counted:
    w: np.ndarray
    calls: int = dataclasses.field(init=False, default=0)


@dataclasses.dataclass
class CountedEq:
    w: np.ndarray
    calls: int = dataclasses.field(init=False, default=0)


def counted_loss(layer, x):
    return np.sum(np.tanh(x @ layer.w))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("cls", [Counted, CountedEq])
def test_a_dataclass_with_a_field_init_does_not_take_is_a_model_object(backend, cls):
    """Such a dataclass is no pytree node (class(**fields) cannot rebuild it) and was no model
    object either (dataclasses were left out): it was a static value, its arrays constants of
    the compiled code (jit kept the first w after w changed in place, grad said it held no
    float data), or an unhashable one (eq=True)."""
    layer, x = cls(rand(2, 3)), rand(4, 2)
    f = adcompiler.jit(counted_loss, backend=backend)
    assert np.isclose(f(layer, x), counted_loss(layer, x))
    layer.w[:] = 2.0
    assert np.isclose(f(layer, x), counted_loss(layer, x))
    g = adcompiler.grad(counted_loss, backend=backend)(layer, x)
    assert type(g) is cls
    np.testing.assert_allclose(g.w, x.T @ (1 - np.tanh(x @ layer.w) ** 2), rtol=1e-12)


class Doubling:
    """Attributes computed on access by the user's __getattr__ and a cached_property."""

    def __init__(self, w):
        self.w = w

    def __getattr__(self, name):
        if name == "w2":
            return self.w * 2.0
        raise AttributeError(name)

    @functools.cached_property
    def w3(self):
        return self.w ** 3


def computed_attributes_loss(m, x):
    extra = getattr(m, "missing", 0.5) + hasattr(m, "w2") + hasattr(m, "nope")
    return np.sum(m.w2 * x) + np.sum(m.w3) * extra


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_getattr_and_cached_property_of_a_model_object_are_traced(backend):
    """They ran natively on the trace's stand-ins: "unsupported operand type(s) for *:
    'run-time array' and 'float'" at the caller's line."""
    w, x = np.array([0.5, -1.0]), np.array([1.0, 2.0])
    value = adcompiler.jit(computed_attributes_loss, backend=backend)(Doubling(w), x)
    np.testing.assert_allclose(value, computed_attributes_loss(Doubling(w), x), rtol=1e-15)
    g = adcompiler.grad(computed_attributes_loss, backend=backend)(Doubling(w), x)
    np.testing.assert_allclose(g.w, 2 * x + 1.5 * 3 * w ** 2, rtol=1e-12)
    with pytest.raises(AttributeError, match="raised AttributeError: nope"):
        adcompiler.trace(lambda m: m.nope * 2.0, Doubling(w))


@dataclasses.dataclass
class Dense:
    W: np.ndarray
    b: np.ndarray
    name: str = "dense"


def copies(m, p, x):
    """copy.deepcopy of a dict (MAML's fast weights) and of a dataclass instance, holding one
    array twice (copied once, as Python's memo does); copy.copy of an array and of an
    instance (sharing its arrays)."""
    fast = copy.deepcopy(p)
    fast["W"] -= 0.1 * x[:2]
    deep, shallow = copy.deepcopy(m), copy.copy(m)
    deep.W *= 2.0
    shallow.b += 1.0            # (m's own b: a shallow copy shares it)
    a = copy.copy(x)
    a[0] = 5.0
    twice = copy.deepcopy([x, x])
    twice[0][1] = 7.0
    return (np.sum(fast["W"] * p["W"]) + np.sum(deep.W * m.W) + np.sum(a * x)
            + np.sum(twice[1] * x), deep.name, m.b)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_copy_and_deepcopy_of_run_time_arrays_and_containers(backend):
    """(They were refused: 'deepcopy is not supported on run-time arrays'.)"""
    args = (Dense(rand(2, 3), rand(3)), {"W": rand(2, 3)}, rand(2, 3))
    check(copies, *args)
    adcompiler.check_grad(lambda m, p, x: copies(m, p, x)[0], *args, wrt=(0, 1, 2),
                          rtol=1e-6, backend=backend)
