"""jacobian, hessian and jvp (adcompiler/jacobian.py) against derivatives worked out by hand,
on both backends: shapes S + A, pytree arguments and results, wrt by position and name."""
import collections
import dataclasses
import functools

import numpy as np
import pytest
import scipy.special

import adcompiler

A = np.array([[1.0, 2.0, 0.5], [0.3, -1.0, 2.0]])
X = np.array([0.1, -0.2, 0.3])
BACKENDS = ["numpy", "numba"]


def squashed(x):
    return np.tanh(A @ x)


def affine_and_total(p, x):
    return p["W"] @ x + p["b"], np.sum(x), x.shape[0]


def quadratic(x, M):
    return x @ M @ x


def x_sin_x(x):
    return np.sum(np.sin(x) * x)


def logsumexp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_jacobian_of_a_vector_function(backend):
    J = adcompiler.jacobian(squashed, backend=backend)(X)
    t = np.tanh(A @ X)
    np.testing.assert_allclose(J, (1 - t ** 2)[:, None] * A, rtol=1e-12)   # diag(1 - t^2) A
    J32 = adcompiler.jacobian(squashed, backend=backend)(X.astype(np.float32))
    assert J32.dtype == np.float32
    np.testing.assert_allclose(J32, (1 - t ** 2)[:, None] * A, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_jacobian_of_pytree_results_with_respect_to_pytree_arguments(backend):
    p = {"W": np.arange(6.0).reshape(2, 3), "b": np.array([0.5, -1.0])}
    J = adcompiler.jacobian(affine_and_total, wrt=("p", 1), backend=backend)(p, X)
    # JAX's jacrev(argnums=(0, 1)) layout: the result's structure, each leaf a tuple over wrt
    jp, jx = [J[i][0] for i in range(2)] + [None], [J[i][1] for i in range(2)] + [None]
    # d(Wx + b)_i / dW_jk = [i == j] x_k;  / db = I;  / dx = W;  d sum(x) / dx = 1
    want_W = np.einsum("ij,k->ijk", np.eye(2), X)
    np.testing.assert_allclose(jp[0]["W"], want_W, rtol=1e-15)
    np.testing.assert_allclose(jp[0]["b"], np.eye(2), rtol=1e-15)
    np.testing.assert_allclose(jx[0], p["W"], rtol=1e-15)
    np.testing.assert_allclose(jx[1], np.ones(3), rtol=1e-15)
    np.testing.assert_array_equal(jp[1]["W"], np.zeros((2, 3)))
    np.testing.assert_array_equal(jp[1]["b"], np.zeros(2))
    assert J[2] is None          # an int result has no derivative


@pytest.mark.parametrize("backend", BACKENDS)
def test_jacobian_and_hessian_differentiate_only_the_arguments_asked_for(backend):
    """A NaN derivative in another argument (sqrt at 0, a float power of a negative number)
    does not make jacobian or hessian raise: they differentiate only `wrt` (JAX's values)."""
    x, y = np.array([0.0, 1.0]), np.array([0.0, 4.0])
    J = adcompiler.jacobian(lambda x, y: x * np.sqrt(y), wrt=0, backend=backend)(x, y)
    np.testing.assert_array_equal(J, np.diag(np.sqrt(y)))
    H = adcompiler.hessian(lambda x, y: np.sum(x ** 2 * np.sqrt(y)), wrt=0,
                           backend=backend)(x, y)
    np.testing.assert_array_equal(H, np.diag(2 * np.sqrt(y)))
    H = adcompiler.hessian(lambda x, p: np.sum(x ** p), wrt=0, backend=backend)(
        np.array([-2.0]), np.array([3.0]))
    np.testing.assert_allclose(H, [[-12.0]], rtol=1e-14)      # p (p - 1) x^(p - 2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_hessians(backend):
    M = np.array([[1.0, 2.0, 0.0], [0.5, -1.0, 3.0], [0.0, 1.0, 2.0]])
    np.testing.assert_allclose(adcompiler.hessian(quadratic, backend=backend)(X, M), M + M.T,
                               rtol=1e-15)
    np.testing.assert_array_equal(adcompiler.hessian(quadratic, wrt="M", backend=backend)(X, M),
                                  np.zeros((3, 3, 3, 3)))
    np.testing.assert_allclose(adcompiler.hessian(x_sin_x, backend=backend)(X),
                               np.diag(2 * np.cos(X) - X * np.sin(X)), rtol=1e-12)
    s = np.exp(X) / np.sum(np.exp(X))
    np.testing.assert_allclose(adcompiler.hessian(logsumexp, backend=backend)(X),
                               np.diag(s) - np.outer(s, s), rtol=1e-12, atol=1e-15)


def product(x):
    return np.prod(x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_hessian_of_a_product_with_zeros(backend):
    """H[i, j] is the product of the entries but i and j, zeros or not (a gradient that was a
    constant 0 beside a zero lost its derivative in that zero: rows were 0)."""
    for x in ([0.5, 0.0, 2.0, 0.3], [0.0, 0.0, 2.0, 0.3], [0.0, 0.0, 0.0, 1.5],
              [0.5, 1.5, 2.0, 0.3]):
        x = np.array(x)
        want = np.array([[0.0 if i == j else np.prod(np.delete(x, [i, j])) for j in range(4)]
                         for i in range(4)])
        np.testing.assert_allclose(adcompiler.hessian(product, backend=backend)(x), want,
                                   rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(adcompiler.grad(product, backend=backend)(x),
                                   [np.prod(np.delete(x, i)) for i in range(4)], rtol=1e-14)


def layer_and_norm(p, x):
    return {"y": p["W"] @ x + p["b"], "norm": np.sum(x ** 2), "best": np.argmax(x)}


@pytest.mark.parametrize("backend", BACKENDS)
def test_jvp(backend):
    v = np.array([1.0, 0.5, -1.0])
    value, tangent = adcompiler.jvp(squashed, (X,), (v,), backend=backend)
    t = np.tanh(A @ X)
    np.testing.assert_allclose(value, t, rtol=1e-15)
    np.testing.assert_allclose(tangent, (1 - t ** 2) * (A @ v), rtol=1e-12)   # J v
    p = {"W": np.arange(6.0).reshape(2, 3), "b": np.array([0.5, -1.0])}
    tp = {"W": np.full((2, 3), 0.1), "b": np.array([1.0, 2.0])}
    value, tangent = adcompiler.jvp(layer_and_norm, (p, X), (tp, v), backend=backend)
    assert value["best"] == 2 and tangent["best"] is None     # an int result: no tangent
    # d(Wx + b) = dW x + db + W dx;  d sum(x^2) = 2 x . dx
    np.testing.assert_allclose(tangent["y"], tp["W"] @ X + tp["b"] + p["W"] @ v, rtol=1e-12)
    np.testing.assert_allclose(tangent["norm"], 2 * X @ v, rtol=1e-12)
    assert isinstance(tangent["norm"], np.float64)


def test_bad_wrt_is_an_error():
    with pytest.raises(adcompiler.AdcompilerError, match="wrt='y'"):
        adcompiler.jacobian(squashed, wrt="y")(X)
    with pytest.raises(adcompiler.AdcompilerError, match="wrt=3"):
        adcompiler.jacobian(squashed, wrt=3)(X)
    with pytest.raises(adcompiler.AdcompilerError, match="argument 1: it holds no float data"):
        adcompiler.jacobian(repeated_scale, wrt=1)(X, np.int64(3))
    with pytest.raises(adcompiler.AdcompilerError, match="one argument position or name"):
        adcompiler.hessian(quadratic, wrt=(0, 1))
    with pytest.raises(adcompiler.AdcompilerError, match="1 arguments but 2 tangents"):
        adcompiler.jvp(squashed, (X,), (X, X))


class Layer:
    """A layer object holding its weights: differentiated with respect to its input only."""

    def __init__(self):
        self.W = np.array([[0.5, -0.2, 0.1], [0.3, 0.8, -0.4]])

    def __call__(self, x):
        return np.tanh(x @ self.W)


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b


def affine_tanh(m, x):
    return np.tanh(x @ m.W + m.b)


def repeated_scale(x, n):
    return x * np.sin(x) * n


@pytest.mark.parametrize("backend", BACKENDS)
def test_vjp_jacobian_and_jvp_of_layer_and_model_objects(backend):
    layer, x = Layer(), np.array([0.4, -0.7])
    t = np.tanh(x @ layer.W)
    want = (1 - t ** 2)[:, None] * layer.W.T                   # d tanh(x W) / dx
    _, pullback = adcompiler.vjp(layer, x, backend=backend)
    np.testing.assert_allclose(pullback(np.ones(3))[0], want.sum(0), rtol=1e-12)
    np.testing.assert_allclose(adcompiler.jacobian(layer, backend=backend)(x), want, rtol=1e-12)
    v = np.array([1.0, 2.0])
    np.testing.assert_allclose(adcompiler.jvp(layer, (x,), (v,), backend=backend)[1], want @ v,
                               rtol=1e-12)
    m = Affine(layer.W, np.zeros(3))
    dm = Affine(np.ones((2, 3)), np.full(3, 0.5))
    _, tangent = adcompiler.jvp(affine_tanh, (m, x), (dm, v), backend=backend)
    # d tanh(xW + b) = (1 - t^2) (x dW + db + v W)
    np.testing.assert_allclose(tangent, (1 - t ** 2) * (x @ dm.W + dm.b + v @ layer.W),
                               rtol=1e-12)
    _, tangent = adcompiler.jvp(repeated_scale, (x, np.int64(3)), (v, None), backend=backend)
    np.testing.assert_allclose(tangent, 3 * (np.sin(x) + x * np.cos(x)) * v, rtol=1e-12)


def test_jvp_tangents_must_be_shaped_like_their_arguments():
    with pytest.raises(adcompiler.AdcompilerError, match="tangent of argument 0 must be shaped"):
        adcompiler.jvp(squashed, (X,), (X[:2],))
    # None is a zero tangent, as inside traced code (it was refused as misshaped there)
    with pytest.raises(adcompiler.AdcompilerError, match="every tangent is None"):
        adcompiler.jvp(squashed, (X,), (None,))
    value, tangent = adcompiler.jvp(lambda x, y: x * y, (X, X + 1.0), (None, np.ones(3)))
    np.testing.assert_allclose(tangent, X, rtol=1e-15)
    # a function of no float result has None for its tangent (the error named our 'u')
    assert adcompiler.jvp(lambda x: np.argmax(x), (X,), (np.ones(3),)) == (np.argmax(X), None)
    # (an array given for the tuple: 'squashed(): too many positional arguments')
    with pytest.raises(adcompiler.AdcompilerError, match=r"jvp takes the primals as a tuple, "
                                                         r"one per argument.*got a ndarray"):
        adcompiler.jvp(squashed, X, np.ones(3))


def test_jacobian_of_a_jit_function_by_parameter_name():
    J = adcompiler.jacobian(adcompiler.jit(squashed), wrt="x")(X)
    t = np.tanh(A @ X)
    np.testing.assert_allclose(J, (1 - t ** 2)[:, None] * A, rtol=1e-12)


def test_the_hessian_of_a_vector_function_is_an_error_at_the_users_function():
    with pytest.raises(adcompiler.AdcompilerError,
                       match=r"test_jacobian.py:\d+: hessian needs squashed to return one float "
                             r"scalar, got f64\[2\]"):
        adcompiler.hessian(squashed)(X)


class Cubic:
    """sum(w x^3) as a layer object and as a method: its Hessian is diag(6 w x)."""

    def __init__(self):
        self.w = np.array([1.0, 2.0, 3.0])

    def __call__(self, x):
        return np.sum(self.w * x ** 3)

    def energy(self, x):
        return np.sum(self.w * x ** 3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_hessians_of_layer_objects_and_bound_methods(backend):
    c = Cubic()
    want = np.diag(6 * c.w * X)
    for f in (c, c.energy):
        np.testing.assert_allclose(adcompiler.hessian(f, backend=backend)(X), want, rtol=1e-12)
    g = adcompiler.grad(c, backend=backend)
    np.testing.assert_allclose(adcompiler.jacobian(g, backend=backend)(X), want, rtol=1e-12)


def scaled_tanh(x, *, w):
    return np.tanh(w * x)


def nothing_of(x):
    return x[:0] * 2.0


def test_keyword_arguments_are_passed_on_and_empty_results_have_empty_jacobians():
    w = np.array([0.5, 2.0, -1.0])
    J = adcompiler.jacobian(scaled_tanh)(X, w=w)
    np.testing.assert_allclose(J, np.diag(w * (1 - np.tanh(w * X) ** 2)), rtol=1e-12)
    H = adcompiler.hessian(lambda x, *, w: np.sum(scaled_tanh(x, w=w)))(X, w=w)
    t = np.tanh(w * X)
    np.testing.assert_allclose(H, np.diag(-2 * w ** 2 * t * (1 - t ** 2)), rtol=1e-12)
    with pytest.raises(adcompiler.AdcompilerError, match="wrt='w' is given as a keyword"):
        adcompiler.jacobian(scaled_tanh, wrt="w")(X, w=w)
    assert adcompiler.jacobian(nothing_of)(X).shape == (0, 3)


def scaled(x, w):
    return np.tanh(w * x)


def test_wrt_names_an_argument_passed_by_keyword():
    """jacobian and hessian, as grad, differentiate the argument wrt names or counts where
    the call passes it by keyword (it may be passed by position; a parameter before it may be
    left to its default), outside and inside traced code, of a function defined there too."""
    w = np.array([0.5, 2.0, -1.0])
    t = np.tanh(w * X)
    J = adcompiler.jacobian(scaled, wrt="w")(X, w=w)
    np.testing.assert_allclose(J, np.diag(X * (1 - t ** 2)), rtol=1e-12)
    H = adcompiler.hessian(lambda x, w: np.sum(scaled(x, w)), wrt="w")(X, w=w)
    np.testing.assert_allclose(H, np.diag(-2 * X ** 2 * t * (1 - t ** 2)), rtol=1e-12)
    inside = adcompiler.jit(lambda x, w: adcompiler.jacobian(scaled, wrt="w")(x, w=w))
    np.testing.assert_allclose(inside(X, w), J, rtol=1e-12)
    np.testing.assert_allclose(adcompiler.jacobian(scaled, wrt=1)(X, w=w), J, rtol=1e-12)
    np.testing.assert_allclose(adcompiler.jacobian(scaled_after, wrt="w")(X, w=w), J,
                               rtol=1e-12)

    def defined_inside(x, w):
        return adcompiler.jacobian(lambda x, w: np.tanh(w * x), wrt="w")(x, w=w)
    np.testing.assert_allclose(adcompiler.jit(defined_inside)(X, w), J, rtol=1e-12)


def scaled_after(x, shift=None, w=None):
    """A parameter between them is left to its default."""
    return np.tanh(w * x) if shift is None else np.tanh(w * x + shift)


def test_a_tangent_must_have_its_arguments_structure():
    m = Affine(np.ones((2, 3)), np.zeros(3))
    with pytest.raises(adcompiler.AdcompilerError,
                       match="tangent of argument 0 must have its structure: it is a dict, "
                             "not a Affine"):
        adcompiler.jvp(affine_tanh, (m, X[:2]), ({"W": m.W, "b": m.b}, X[:2]))


def doubled_and_shifted(a):
    return a * 2.0, a + 1.0


def product_of_pair(t):
    return np.sum(t[0] * t[1])


def test_a_namedtuple_is_a_tuple_for_cotangents_and_tangents():
    """np.linalg.qr's result is a namedtuple where adcompiler's is a tuple: a pullback given
    one was an internal TypeError. Against the derivatives by hand."""
    pair = collections.namedtuple("Pair", "x y")
    _, pullback = adcompiler.vjp(doubled_and_shifted, X)
    np.testing.assert_allclose(pullback(pair(X, 3 * X))[0], 2 * X + 3 * X)
    value, tangent = adcompiler.jvp(product_of_pair, ((X, X + 1),), (pair(X, 2 * X),))
    np.testing.assert_allclose(tangent, np.sum(X * (X + 1) + X * 2 * X))
    with pytest.raises(adcompiler.AdcompilerError, match="cotangent must have the value's "
                                                         "structure: it is a ndarray, not a "
                                                         "tuple of 2"):    # ('it has a ndarray')
        pullback(X)


class Weighted:
    def __init__(self, w):
        self.w = w

    @adcompiler.jit
    def energy(self, x):
        return np.sum(self.w * x ** 2)

    @adcompiler.grad
    def energy_grad(self, x):
        return np.sum(self.w * x ** 2)

    def doubled(self, x):
        return self.energy(x) * 2.0


def test_methods_decorated_with_jit_and_grad_take_their_object_first():
    """As Python binds a method (and jax.jit's result): `m.energy(x)` said 'missing a
    required argument: x'. Against the derivatives by hand."""
    m = Weighted(np.array([1.0, 2.0, 3.0]))
    assert m.energy(X) == Weighted.energy(m, X) == np.sum(m.w * X ** 2)
    np.testing.assert_allclose(m.energy_grad(X).w, X ** 2)
    np.testing.assert_allclose(adcompiler.grad(m.doubled)(X), 4 * m.w * X)
    np.testing.assert_allclose(adcompiler.grad(Weighted.doubled)(m, X).w, 2 * X ** 2)
    np.testing.assert_allclose(adcompiler.grad(m.energy, wrt="x")(X), 2 * m.w * X)
    np.testing.assert_allclose(adcompiler.jacobian(m.energy, wrt="x")(X), 2 * m.w * X)


def iterated_sine(x):
    """A static loop, with a run-time if inside: a loop op in a first gradient, unrolled where
    the gradient is differentiated again."""
    y = x
    for _ in range(3):
        if np.sum(y) > 0:
            y = np.sin(y) * 1.5
        else:
            y = y ** 2 + 0.1
    return np.sum(y * x)


def second_differences(f, x, h=1e-4):
    """The Hessian of f by central second differences (float64)."""
    n = x.size
    H = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            e, d = np.eye(n)[i] * h, np.eye(n)[j] * h
            H[i, j] = (f(x + e + d) - f(x + e - d) - f(x - e + d) + f(x - e - d)) / (4 * h * h)
    return H


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_hessian_through_a_static_loop(backend):
    for x in (X, -X):           # one path of the if, then the other
        np.testing.assert_allclose(adcompiler.hessian(iterated_sine, backend=backend)(x),
                                   second_differences(iterated_sine, x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_object_and_partial_gets_its_own_data(backend):
    """One trace serves every Cubic and every partial of a function; each call computes with
    its own object's arrays and partial's arguments (they took the first one's)."""
    for w in (np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.5, 4.0])):
        c = Cubic()
        c.w = w
        value, pullback = adcompiler.vjp(c, X, backend=backend)
        np.testing.assert_allclose(value, np.sum(w * X ** 3), rtol=1e-12)
        np.testing.assert_allclose(pullback(1.0)[0], 3 * w * X ** 2, rtol=1e-12)
        np.testing.assert_allclose(adcompiler.jacobian(c.energy, backend=backend)(X),
                                   3 * w * X ** 2, rtol=1e-12)
        scaled = functools.partial(quadratic, M=np.diag(w))
        np.testing.assert_allclose(adcompiler.hessian(scaled, backend=backend)(X),
                                   2 * np.diag(w), rtol=1e-12)
        _, tangent = adcompiler.jvp(scaled, (X,), (np.ones(3),), backend=backend)
        np.testing.assert_allclose(tangent, 2 * w @ X, rtol=1e-12)


@functools.wraps(quadratic)
def logged_quadratic(*args, **kwargs):
    return quadratic(*args, **kwargs)


@pytest.mark.parametrize("backend", ["numpy"])
def test_wrt_names_a_parameter_of_a_partial_of_a_decorated_function(backend):
    """A partial of a functools.wraps wrapper has the wrapped function's parameters, less those
    it binds: wrt="x" names x, as grad's does (jacobian and hessian refused it)."""
    M = np.diag([1.0, 2.0, 3.0])
    bound = functools.partial(logged_quadratic, M=M)
    for wrt in ("x", 0):
        np.testing.assert_allclose(adcompiler.jacobian(bound, wrt=wrt, backend=backend)(X),
                                   2 * M @ X, rtol=1e-12)
        np.testing.assert_allclose(adcompiler.hessian(bound, wrt=wrt, backend=backend)(X),
                                   2 * M, rtol=1e-12)


def scaled_by_a_square(x, s):
    return np.sum(x * s ** 2)


def test_jvp_with_a_float32_scalar_argument():
    x, s = np.array([1.0, 2.0], np.float32), np.float32(3.0)
    value, tangent = adcompiler.jvp(scaled_by_a_square, (x, s), (np.ones(2, np.float32),
                                                                 np.float32(1.0)))
    assert value == 27.0 and tangent == 2 * 9.0 + 2 * 3.0 * 3.0    # s^2 sum(v) + 2 s sum(x)


def cubic_sine(x):
    return x ** 3 * np.sin(x)


def tanh_sum(x, w):
    return np.sum(np.tanh(x * w))


@pytest.mark.parametrize("backend", BACKENDS)
def test_transforms_of_transforms(backend):
    """grad(grad(f)), jit(grad(f)), grad(jit(f)), vjp/jvp/hessian/jacobian of them: what grad
    and jit return is traced as a call of it (it was 'trace needs a Python function'), with
    the parameters of the function it transforms. Against derivatives worked out by hand."""
    grad, jit = (functools.partial(f, backend=backend) for f in (adcompiler.grad,
                                                                   adcompiler.jit))
    x = 1.3
    d2 = 6 * x * np.sin(x) + 6 * x ** 2 * np.cos(x) - x ** 3 * np.sin(x)
    d3 = (6 * np.sin(x) + 18 * x * np.cos(x) - 9 * x ** 2 * np.sin(x)
          - x ** 3 * np.cos(x))
    assert grad(grad(cubic_sine))(x) == pytest.approx(d2, rel=1e-12)
    assert grad(grad(grad(cubic_sine)))(x) == pytest.approx(d3, rel=1e-12)
    xs, w = np.array([0.5, 0.2, -0.4]), np.array([0.7, 0.1, 1.5])
    sech2 = 1 - np.tanh(xs * w) ** 2
    dw = xs * sech2                                             # d tanh_sum / d w
    dxdw = sech2 - 2 * xs * w * np.tanh(xs * w) * sech2          # d (dw_i) / d x_i
    np.testing.assert_allclose(jit(grad(tanh_sum, wrt="w"))(xs, w), dw, rtol=1e-12)
    np.testing.assert_allclose(grad(jit(tanh_sum), wrt=1)(xs, w), dw, rtol=1e-12)
    np.testing.assert_allclose(
        adcompiler.jacobian(grad(tanh_sum, wrt="w"), wrt="x", backend=backend)(xs, w),
        np.diag(dxdw), rtol=1e-12)
    (g,) = adcompiler.vjp(grad(tanh_sum, wrt="w"), xs, w, backend=backend)[1](np.ones(3))[:1]
    np.testing.assert_allclose(g, dxdw, rtol=1e-12)
    _, t = adcompiler.jvp(grad(tanh_sum, wrt="w"), (xs, w), (np.ones(3), np.zeros(3)),
                          backend=backend)
    np.testing.assert_allclose(t, dxdw, rtol=1e-12)
    h = adcompiler.hessian(jit(tanh_sum), wrt="x", backend=backend)(xs, w)
    np.testing.assert_allclose(h, np.diag(-2 * w ** 2 * np.tanh(xs * w) * sech2), rtol=1e-12)


def sin_times_reversed(x):
    return np.sin(x) * x[::-1]


def its_jacobian_by_hand(x):
    return np.diag(np.cos(x) * x[::-1]) + np.diag(np.sin(x))[:, ::-1]


def sum_sin_times_reversed(x):
    return np.sum(sin_times_reversed(x))


def its_hessian_by_hand(x):
    return np.diag(-np.sin(x) * x[::-1]) + np.diag(np.cos(x) + np.cos(x[::-1]))[:, ::-1]


def jacobian_penalty(x):
    return np.sum(adcompiler.jacobian(sin_times_reversed)(x) ** 2)


def hessian_penalty(x):
    return np.sum(adcompiler.hessian(sum_sin_times_reversed)(x) ** 2)


def jvp_sum(x):
    return np.sum(adcompiler.jvp(sin_times_reversed, (x,), (x,))[1])


def central(f, x, eps=1e-6):
    return np.array([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(x.size)])


@pytest.mark.parametrize("backend", BACKENDS)
def test_jacobian_hessian_and_jvp_inside_traced_code(backend):
    """A gradient penalty on a Jacobian or Hessian, grad of a jvp, jacobian(jacobian(f)):
    against central differences of the derivatives written out in NumPy (they were an
    UnsupportedSyntax in adcompiler's own code)."""
    x = np.array([0.3, 0.7, 1.1])
    grad = functools.partial(adcompiler.grad, backend=backend)
    np.testing.assert_allclose(grad(jacobian_penalty)(x), central(
        lambda v: np.sum(its_jacobian_by_hand(v) ** 2), x), rtol=1e-7)
    np.testing.assert_allclose(grad(hessian_penalty)(x), central(
        lambda v: np.sum(its_hessian_by_hand(v) ** 2), x), rtol=1e-7)
    np.testing.assert_allclose(grad(jvp_sum)(x), central(
        lambda v: np.sum(its_jacobian_by_hand(v) @ v), x), rtol=1e-7)
    second = adcompiler.jacobian(adcompiler.jacobian(sin_times_reversed), backend=backend)(x)
    want = np.stack([central(lambda v: its_jacobian_by_hand(v)[i], x).T for i in range(3)])
    np.testing.assert_allclose(second, want, rtol=1e-7, atol=1e-9)


def tanh_loss(w, x):
    return np.sum(np.tanh(x @ w) ** 2)


def gradient_norm_of_a_closure(w, x):
    g = adcompiler.grad(lambda v: tanh_loss(v, x))(w)          # closes over x, a run-time array
    return np.sum(g ** 2)


def pullback_of_a_closure(w, x):
    y, pullback = adcompiler.vjp(lambda v: np.tanh(x @ v), w)
    return np.sum(pullback(np.ones_like(y))[0] ** 2)


def gradient_norm_by_hand(w, x):
    t = np.tanh(x @ w)
    return np.sum((x.T @ (2 * t * (1 - t ** 2))) ** 2)


def pullback_by_hand(w, x):
    t = np.tanh(x @ w)
    return np.sum((x.T @ (1 - t ** 2)) ** 2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_grad_and_vjp_of_closures_over_run_time_arrays_inside_traced_code(backend):
    """The arrays a lambda closes over are its arguments after its own (it was 'closes over
    run-time arrays, so it cannot be a separate function'): derivatives with respect to them
    too, against central differences of the gradients written out in NumPy."""
    w, x = np.linspace(-0.5, 0.5, 6).reshape(3, 2), np.arange(12.0).reshape(4, 3) / 10
    for f, by_hand in ((gradient_norm_of_a_closure, gradient_norm_by_hand),
                       (pullback_of_a_closure, pullback_by_hand)):
        gw, gx = adcompiler.grad(f, wrt=(0, 1), backend=backend)(w, x)
        np.testing.assert_allclose(gw, central_nd(lambda v: by_hand(v, x), w), rtol=1e-6)
        np.testing.assert_allclose(gx, central_nd(lambda v: by_hand(w, v), x), rtol=1e-6)


def central_nd(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


def jvp_of_a_closure(w, x, v):
    return np.sum(adcompiler.jvp(lambda u: np.sin(u) * np.sum(x), (w,), (v,))[1])


def hessian_vector_product(w, x, v):
    return np.sum(adcompiler.jvp(lambda u: adcompiler.grad(tanh_loss_1d)(u, x), (w,), (v,))[1])


def tanh_loss_1d(w, x):
    return np.sum(np.tanh(x * w) ** 2)


def hvp_by_hand(w, x, v):
    t = np.tanh(x * w)
    return np.sum(2 * x * x * (1 - t ** 2) * (1 - 3 * t ** 2) * v)


@pytest.mark.parametrize("backend", BACKENDS)
def test_jvp_of_closures_inside_traced_code(backend):
    """JAX's Hessian-vector product, jvp(lambda w: grad(f)(w, x), ...), traced (invalid IR:
    the function computing it got the closure and was kept apart); against the product
    written out and central differences of it."""
    w, x, v = np.array([0.3, 0.5]), np.array([1.0, 2.0]), np.array([1.0, -1.0])
    assert adcompiler.jit(jvp_of_a_closure, backend=backend)(w, x, v) == pytest.approx(
        np.sum(np.cos(w) * v) * np.sum(x), rel=1e-12)
    assert adcompiler.jit(hessian_vector_product, backend=backend)(w, x, v) == pytest.approx(
        hvp_by_hand(w, x, v), rel=1e-12)
    np.testing.assert_allclose(
        adcompiler.grad(hessian_vector_product, backend=backend)(w, x, v),
        central_nd(lambda u: hvp_by_hand(u, x, v), w), rtol=1e-6)


def hessian_of_a_closure(w, x):
    return np.sum(adcompiler.hessian(lambda v: np.sum(np.sin(w @ v)))(x) ** 2)


def hessian_taking_w(w, x):
    return np.sum(adcompiler.hessian(lambda v, u: np.sum(np.sin(u @ v)))(x, w) ** 2)


def grad_of_a_caller_of_a_closures_grad(w, x):
    f = lambda v: np.sum(np.sin(v) * w[0])        # noqa: E731
    return np.sum(adcompiler.grad(lambda v: adcompiler.grad(f)(v)[0])(x))


def test_a_closure_transformed_twice_in_traced_code_is_a_located_error():
    """hessian (jacobian of grad) of a lambda closing over run-time arrays built the gradient's
    function inside the jacobian's, reading the outer function's arrays: an internal
    IRParseError. Passing them as arguments works."""
    w = np.arange(9.0).reshape(3, 3) / 10
    with pytest.raises(adcompiler.TraceError, match=r"test_jacobian.py:\d+: lambda closes over "
                                                    r"run-time arrays.*pass those arrays"):
        adcompiler.jit(hessian_of_a_closure)(w, X)
    u = w @ X
    want = np.sum((-w.T @ np.diag(np.sin(u)) @ w) ** 2)
    np.testing.assert_allclose(adcompiler.jit(hessian_taking_w)(w, X), want, rtol=1e-12)


def eikonal(params, pts):
    """An SDF's normals by a gradient inside the loss: the helper the differentiated lambda
    calls closes over the model's run-time parameters."""
    def sdf(p):
        return np.tanh(p @ params["W"]) @ params["w"] + np.linalg.norm(p, axis=-1) - 1.0
    normals = adcompiler.grad(lambda p: np.sum(sdf(p)))(pts)
    return np.mean((np.linalg.norm(normals, axis=-1) - 1.0) ** 2)


def jacobian_and_jvp_of_callers(x, w):
    """(jacobian's and jvp's function was a separate IR function reading the outer w: an
    internal error, 'operand %w is used before it is defined'.)"""
    def u(p):
        return np.sin(p * w)
    jac = adcompiler.jacobian(lambda p: u(p) * 2)(x)
    _, tangent = adcompiler.jvp(lambda p: u(p), (x,), (np.ones(3),))
    return np.sum(jac) + np.sum(tangent)


def eikonal_by_hand(params, pts):
    t = np.tanh(pts @ params["W"])
    normals = ((1 - t ** 2) * params["w"]) @ params["W"].T \
        + pts / np.linalg.norm(pts, axis=-1, keepdims=True)
    return np.mean((np.linalg.norm(normals, axis=-1) - 1.0) ** 2)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_transformed_function_calling_helpers_that_close_over_run_time_arrays(backend):
    """The arrays the helpers read are arguments of the transform's function too (it was an
    error: 'sdf closes over run-time arrays ... transformed here through another function');
    so are those of a closure whose grad a differentiated function calls."""
    rng = np.random.default_rng(3)
    params = {"W": rng.normal(size=(3, 8)), "w": rng.normal(size=8) * 0.3}
    pts = rng.normal(size=(5, 3))
    assert adcompiler.jit(eikonal, backend=backend)(params, pts) == pytest.approx(
        eikonal_by_hand(params, pts), rel=1e-12)
    got = adcompiler.grad(eikonal, backend=backend)(params, pts)
    for k in params:
        np.testing.assert_allclose(got[k], central_nd(
            lambda v: eikonal_by_hand({**params, k: v}, pts), params[k]), rtol=1e-6)
    x, v = rng.normal(size=3), rng.normal(size=3)
    assert adcompiler.jit(jacobian_and_jvp_of_callers, backend=backend)(x, v) == \
        pytest.approx(np.sum(2 * np.cos(x * v) * v) + np.sum(np.cos(x * v) * v), rel=1e-12)
    adcompiler.check_grad(jacobian_and_jvp_of_callers, x, v, wrt=(0, 1), backend=backend)
    w = np.arange(9.0).reshape(3, 3) / 10 + 1.0
    assert adcompiler.jit(grad_of_a_caller_of_a_closures_grad, backend=backend)(w, X) == \
        pytest.approx(-np.sin(X[0]) * w[0, 0], rel=1e-12)
    adcompiler.check_grad(grad_of_a_caller_of_a_closures_grad, w, X, wrt=(0, 1),
                          backend=backend)


def sine_and_its_scale(x, scale=0.5):
    return np.sin(x) * scale, scale


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_static_result_beside_arrays_has_no_derivative(backend):
    """A Python float returned as it is was given a cotangent of its own: 'the cotangent has 2
    arrays, the value has 1' from jacobian and jvp."""
    J, none = adcompiler.jacobian(sine_and_its_scale, backend=backend)(X)
    np.testing.assert_allclose(J, np.diag(0.5 * np.cos(X)), rtol=1e-12)
    assert none is None
    (value, scale), (t, _) = adcompiler.jvp(sine_and_its_scale, (X,), (np.ones(3),),
                                            backend=backend)
    np.testing.assert_allclose(t, 0.5 * np.cos(X), rtol=1e-12)
    _, pullback = adcompiler.vjp(sine_and_its_scale, X, backend=backend)
    np.testing.assert_allclose(pullback((np.ones(3), 1.0))[0], 0.5 * np.cos(X), rtol=1e-12)


@dataclasses.dataclass
class TanhLayer:
    W: np.ndarray

    def __call__(self, x):
        return np.tanh(self.W @ x)


def counted_loss(p, x):
    return np.sum(np.tanh(p["w"] * x) ** 2) * p["n"].sum()


def penalty_of_counted_loss(p, x):
    return np.sum(adcompiler.grad(counted_loss)(p, x)["w"] ** 2)


def jacobian_of_a_dict(p, x):
    return np.sum(adcompiler.jacobian(lambda q, v: np.tanh(q["w"] * v))(p, x)["w"] ** 2)


def jvp_without_tangents(x):
    return np.sum(adcompiler.jvp(sine_and_its_scale, (x,), (None,))[1][0])


def jacobian_of_an_empty_result(x):
    return np.sum(adcompiler.jacobian(lambda v: v[:0] * 2.0)(x)) + np.sum(x)


def test_transform_arguments_of_every_kind():
    """A dataclass layer object (unhashable) in jvp, np.int64 as wrt, a traced grad of a dict
    with an integer leaf (refused), and traced jacobian/jvp of a dict, of no tangent or of an
    empty result (internal errors inside jacobian.py)."""
    layer = TanhLayer(np.eye(3) * 0.5)
    J = np.diag(0.5 / np.cosh(0.5 * X) ** 2)
    np.testing.assert_allclose(adcompiler.jvp(layer, (X,), (np.ones(3),))[1], J @ np.ones(3),
                               rtol=1e-12)
    J, _ = adcompiler.jacobian(sine_and_its_scale, wrt=np.int64(0))(X)    # (not a 1-tuple)
    np.testing.assert_allclose(J, np.diag(0.5 * np.cos(X)), rtol=1e-12)
    p = {"w": np.array([0.1, 0.2, 0.3]), "n": np.array([2, 3])}
    g = adcompiler.grad(penalty_of_counted_loss)(p, X)
    assert g["n"] is None
    w, e = p["w"], np.array([0.0, 1e-6, 0.0])

    def penalty(w):      # by hand: d/dw of 5 sum(tanh(w x)^2) is 10 tanh sech^2 x
        t = np.tanh(w * X)
        return np.sum((10 * t * (1 - t ** 2) * X) ** 2)
    np.testing.assert_allclose(g["w"][1], (penalty(w + e) - penalty(w - e)) / 2e-6, rtol=1e-6)
    for f, arg, message in ((jacobian_of_a_dict, (p, X), "argument 0 is a dict"),
                            (jvp_without_tangents, (X,), "every tangent is None")):
        with pytest.raises(adcompiler.TraceError, match=rf"test_jacobian.py:\d+: .*{message}"):
            adcompiler.grad(f)(*arg)
    np.testing.assert_allclose(adcompiler.grad(jacobian_of_an_empty_result)(X), np.ones(3))


def exact_gelu_sum(u):
    return np.sum(0.5 * u * (1.0 + scipy.special.erf(u * 0.7071067811865476)))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype, far", [(np.float64, 40.0), (np.float32, 14.0)])
def test_the_hessian_through_erf_is_finite_far_out(backend, dtype, far):
    """erf's derivative was written 2/(sqrt(pi) exp(x^2)): exp overflowed to inf beyond
    |x| ~ 26.6 (9.4 in float32), so the second derivative was inf * 0 = NaN (JAX: 0)."""
    u = np.array([-far, 0.5, far], dtype)
    h = np.diag(adcompiler.hessian(exact_gelu_sum, backend=backend)(u))
    # d2/du2 of 0.5 u (1 + erf(u / sqrt 2)) = (2 - u^2) phi(u), phi the normal density
    want = (2 - u.astype(np.float64) ** 2) * np.exp(-u.astype(np.float64) ** 2 / 2) \
        / np.sqrt(2 * np.pi)
    np.testing.assert_allclose(h, want, rtol=1e-5, atol=1e-30)


def jvp_along_a_scalar(w):
    _, t = adcompiler.jvp(lambda v: np.tanh(v), (w,), (1.0,))
    return t


def pullback_of_four(w):
    _, pullback = adcompiler.vjp(lambda v: np.tanh(v), w)
    (g,) = pullback(np.ones(4))
    return np.sum(g)


def test_tangents_and_cotangents_in_traced_code_are_shaped_like_their_values():
    """Inside traced code a (3,) function's jvp along 1.0 broadcast the tangent and returned
    the (3, 3) Jacobian, and a (4,) cotangent for a (3,) value was an internal error; outside
    both are refused, as here now."""
    w = np.array([0.3, -0.8, 1.1])
    with pytest.raises(adcompiler.TraceError, match=r"test_jacobian.py:\d+: jvp: the tangent of "
                       r"argument 0 must be shaped like it \(\(3,\)\), got \(\)"):
        adcompiler.jit(jvp_along_a_scalar, backend="numpy")(w)
    with pytest.raises(adcompiler.TraceError, match=r"test_jacobian.py:\d+: cotangent of shape "
                       r"\(4,\) for a value of shape \(3,\)"):
        adcompiler.jit(pullback_of_four, backend="numpy")(w)


@pytest.mark.parametrize("cotangent", ["abc", np.ones(3) + 1j])
def test_a_cotangent_that_is_not_real_numbers_is_an_error(cotangent):
    """A string was NumPy's bare ValueError from inside the API; a complex array lost its
    imaginary part with a ComplexWarning."""
    _, pullback = adcompiler.vjp(squashed, X, backend="numpy")
    with pytest.raises(adcompiler.AdcompilerError, match="a cotangent holds real numbers"):
        pullback(cotangent if isinstance(cotangent, str) else cotangent[:2])


@adcompiler.custom_vjp
def summed_sine(x):
    return np.sin(x)


summed_sine.defvjp(lambda x: (np.sin(x), x), lambda x, g: (np.sum(g * np.cos(x)),))  # () not (3,)


def hessian_of_a_vector_function(w):
    h = adcompiler.hessian(lambda v: np.tanh(v))(w)
    return np.sum(h)


def jacobian_of_a_wrong_custom_vjp(w):
    return np.sum(adcompiler.jacobian(summed_sine)(w))


def test_errors_found_in_adcompilers_own_adapters_name_the_users_call():
    """They named `<adcompiler-calls-...>:2`, the adapter jacobian and hessian trace."""
    w = np.array([0.3, -0.8, 1.1])
    for f, want in ((hessian_of_a_vector_function, "grad needs lambda to return a float scalar"),
                    (jacobian_of_a_wrong_custom_vjp, "<lambda> returns a gradient of type f64")):
        line = f.__code__.co_firstlineno + 1
        with pytest.raises(adcompiler.TraceError, match=rf"^test_jacobian.py:{line}: {want}"):
            adcompiler.jit(f, backend="numpy")(w)
    with pytest.raises(adcompiler.TraceError, match=r"^test_jacobian.py:\d+: <lambda> returns"):
        adcompiler.jacobian(summed_sine, backend="numpy")(w)


def dict_model(p):
    return np.tanh(p["w"]) @ p["b"][:3] + np.sum(p["b"])


def test_a_tangent_dict_may_list_its_keys_in_another_order():
    """The tangent's arrays were compared with the argument's in their listed order: a dict
    keyed b, w against one keyed w, b was refused as shaped otherwise."""
    p = {"w": np.array([0.3, -0.5, 0.8]), "b": np.array([1.0, 2.0, 0.5, -1.0])}
    t = {"b": np.array([0.1, 0.2, 0.3, 0.4]), "w": np.array([1.0, -1.0, 0.5])}
    value, tangent = adcompiler.jvp(dict_model, (p,), (t,), backend="numpy")
    eps = 1e-6
    shifted = {k: p[k] + eps * t[k] for k in p}
    back = {k: p[k] - eps * t[k] for k in p}
    np.testing.assert_allclose(tangent, (dict_model(shifted) - dict_model(back)) / (2 * eps),
                               rtol=1e-7)


def scaled_square(v, scale):
    return scale * np.sum(v * v) + scale ** 2


def gradient_in_a_literal_scale(v):
    return adcompiler.grad(scaled_square, wrt=1)(v, 3.0) * np.sum(v)


@pytest.mark.parametrize("backend", BACKENDS)
def test_grad_inside_traced_code_with_respect_to_a_python_float(backend):
    """Outside traced code a Python float argument is differentiated; inside, one written as
    a literal was refused ('gradients need float arrays')."""
    v = np.array([0.5, -1.0])
    value = adcompiler.jit(gradient_in_a_literal_scale, backend=backend)(v)
    np.testing.assert_allclose(value, (np.sum(v * v) + 6.0) * np.sum(v), rtol=1e-15)
    g = adcompiler.grad(gradient_in_a_literal_scale, backend=backend)(v)
    np.testing.assert_allclose(g, 2 * v * np.sum(v) + np.sum(v * v) + 6.0, rtol=1e-12)


def sum_and_cube_sum(v):
    return np.sum(v ** 2), np.sum(v ** 3)


def squared_sum(v):
    return np.sum(v ** 2)


MISUSED_IN_TRACED_CODE = {
    # (silently the first result's gradient)
    "two_results": (lambda v: adcompiler.grad(sum_and_cube_sum)(v),
                    r"sum_and_cube_sum returns 2 arrays; grad needs one scalar"),
    "aux_missing": (lambda v: adcompiler.value_and_grad(squared_sum, has_aux=True)(v)[1],
                    r"has_aux=True needs squared_sum to return a pair \(value, aux\)"),
    # ("internal error while tracing ... (please report this)")
    "too_many": (lambda v: adcompiler.grad(squared_sum)(v, v),
                 r"squared_sum\(\): too many positional arguments"),
    "keyword": (lambda v: adcompiler.grad(squared_sum)(v, q=1.0),
                r"squared_sum\(\): got an unexpected keyword argument 'q'"),
    "not_a_function": (lambda v: adcompiler.grad(3)(v), r"grad takes a function, got int 3"),
    "wrt": (lambda v: adcompiler.grad(squared_sum, wrt=2)(v),
            r"wrt=2: squared_sum has 1 parameters"),
    "jacobian_of_a_pair": (lambda v: adcompiler.jacobian(sum_and_cube_sum)(v)[0],
                           r"jacobian inside traced code takes a function returning one array, "
                           r"not a tuple"),
}


@pytest.mark.parametrize("case", MISUSED_IN_TRACED_CODE)
def test_transforms_misused_inside_traced_code_are_errors_at_the_users_line(case):
    """Inside traced code these named no place, were internal errors, or (the first two)
    returned a value where grad outside traced code refuses the function."""
    f, want = MISUSED_IN_TRACED_CODE[case]
    line = f.__code__.co_firstlineno
    with pytest.raises(adcompiler.TraceError, match=rf"^test_jacobian.py:{line}: .*{want}"):
        adcompiler.jit(f, backend="numpy")(np.array([1.0, 2.0, 3.0]))


def product_of_gathered(*xs):
    return np.sum(xs[0] * xs[1])


def test_wrt_naming_star_args_is_refused_by_jacobian_and_hessian():
    """jacobian(f, wrt='xs') took only the first of the arguments *xs gathers, and hessian
    one block row of its Hessian, where grad takes them all."""
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    for transform in (adcompiler.jacobian, adcompiler.hessian):
        with pytest.raises(adcompiler.AdcompilerError,
                           match=r"wrt='xs' names \*xs, which gathers the arguments from "
                                 r"position 0 on"):
            transform(product_of_gathered, wrt="xs")(a, b)
    np.testing.assert_allclose(adcompiler.jacobian(product_of_gathered, wrt=(0, 1))(a, b)[1], a)


@pytest.mark.parametrize("backend", BACKENDS)
def test_hessian_of_hypot_at_zero(backend):
    """hypot's derivative v / r is 0 at r = 0 as a constant there: its Hessian at 0 is JAX's
    0 (it was the identity: v / 1 differentiated), elsewhere [[y^2, -xy], [-xy, x^2]] / r^3."""
    def f(x):
        return np.hypot(x[0], x[1])
    np.testing.assert_array_equal(adcompiler.hessian(f, backend=backend)(np.zeros(2)),
                                  np.zeros((2, 2)))
    np.testing.assert_allclose(adcompiler.hessian(f, backend=backend)(np.array([3.0, 4.0])),
                               np.array([[16.0, -12.0], [-12.0, 9.0]]) / 125, rtol=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
def test_hessian_of_a_squared_norm_at_zero(backend):
    """norm(x) ** 2 (np.square, n * n, 0.5 * n * n, (n / 2) ** 2, per row) is sum(x * x) times
    a number, whose Hessian is 2 I (times it) at x = 0 too: it was 0 there (the root's
    derivative is guarded to 0 at 0), a silently wrong Newton step from zero weights under a
    penalty. Away from 0, and its value, unchanged."""
    def penalties(w):
        rows = np.linalg.norm(w, axis=1)
        n = np.linalg.norm(w)
        # (0.5 n n + (n / 2) ** 2 - (-n) n / 4 is n^2 again)
        return np.linalg.norm(w) ** 2 + np.square(np.linalg.norm(w[0])) + np.sum(rows * rows) \
            + 0.5 * n * n + (n / 2) ** 2 - (-n) * n / 4
    w = np.zeros((2, 3))
    want = 4 * np.eye(6) + 2 * np.diag([1.0, 1, 1, 0, 0, 0]) + 2 * np.eye(6)
    H = adcompiler.hessian(penalties, backend=backend)(w).reshape(6, 6)
    np.testing.assert_array_equal(H, want)
    w = np.arange(6.0).reshape(2, 3) - 2.5
    np.testing.assert_allclose(adcompiler.hessian(penalties, backend=backend)(w).reshape(6, 6),
                               want, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(adcompiler.jit(penalties, backend=backend)(w), penalties(w),
                               rtol=1e-14)


def test_a_squared_norm_is_a_new_array_each_time():
    """Each n ** 2 of a norm is its own array (writing into one changed the others), and a
    norm changed through a view is squared as the array it now is (it was refused)."""
    def squares(x):
        n = np.linalg.norm(x, axis=0)
        s = n ** 2
        s[0] = 100.0
        t = n * n
        t += 1.0
        return s, t, n ** 2

    def through_a_view(x):
        n = np.linalg.norm(x, axis=0)
        m = n[:]
        m[0] = 5.0
        return n ** 2
    x = np.arange(6.0).reshape(2, 3)
    for got, want in zip(adcompiler.jit(squares)(x), squares(x), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-15)
    np.testing.assert_allclose(adcompiler.jit(through_a_view)(x), through_a_view(x),
                               rtol=1e-15)


def tanh_layer_with_metrics(x, w):
    y = np.tanh(x @ w)
    # aux has an infinite log at x = 0: a zero cotangent through it would be 0 * inf = NaN
    return {"y": y}, {"log_scale": np.sum(np.log(np.abs(x))), "top": np.argmax(y), "n": 3}


def tanh_layer_jacobian_by_hand(x, w):
    d = 1 - np.tanh(x @ w) ** 2                       # (rows, outs)
    jw = np.einsum("io,ik->iok", d, x)[..., None]     # d y[i, o] / d w[k, o'] (o' = o = 0)
    jx = np.einsum("io,ik,po->iokp", d, np.eye(len(x)), w)      # d y[i, o] / d x[k, p]
    return jx, jw


@pytest.mark.parametrize("backend", BACKENDS)
def test_vjp_jvp_and_jacobian_with_has_aux_return_aux_undifferentiated(backend):
    """JAX's has_aux: (value, pullback, aux), (value, tangent, aux), (Jacobian, aux); aux is
    not differentiated, so its infinite log at x = 0 raises no NaN error."""
    x = np.array([[0.0, 1.0], [2.0, -1.0]])
    w = np.array([[0.5], [-0.3]])
    jx, jw = tanh_layer_jacobian_by_hand(x, w)
    want_aux = {"log_scale": -np.inf, "top": 1, "n": 3}
    with np.errstate(divide="ignore"):
        value, pullback, aux = adcompiler.vjp(tanh_layer_with_metrics, x, w, has_aux=True,
                                              backend=backend)
        assert aux == want_aux and np.allclose(value["y"], np.tanh(x @ w))
        ct = np.array([[1.0], [-2.0]])
        gx, gw = pullback({"y": ct})
        assert np.allclose(gx, np.einsum("io,iokp->kp", ct, jx))
        assert np.allclose(gw, np.einsum("io,iokp->kp", ct, jw))

        tw = np.array([[1.0], [0.5]])
        value, tangent, aux = adcompiler.jvp(tanh_layer_with_metrics, (x, w), (None, tw),
                                             has_aux=True, backend=backend)
        assert aux == want_aux and np.allclose(value["y"], np.tanh(x @ w))
        assert np.allclose(tangent["y"], np.einsum("iokp,kp->io", jw, tw))

        jac, aux = adcompiler.jacobian(tanh_layer_with_metrics, wrt=(0, 1), has_aux=True,
                                       backend=backend)(x, w)
        assert aux == want_aux
        assert np.allclose(jac["y"][0], jx) and np.allclose(jac["y"][1], jw)


def gradient_norm_through_an_aux_vjp(w, x):
    value, pullback, aux = adcompiler.vjp(tanh_layer_with_metrics, x, w, has_aux=True)
    gx, gw = pullback({"y": np.ones_like(value["y"])})
    return np.sum(gw ** 2) + 0.0 * aux["log_scale"]


def aux_gradient_norm_by_hand(w, x):
    return np.sum((x.T @ (1 - np.tanh(x @ w) ** 2)) ** 2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_vjp_with_has_aux_inside_traced_code(backend):
    x = np.array([[0.5, 1.0], [2.0, -1.0]])
    w = np.array([[0.5], [-0.3]])
    g = adcompiler.grad(gradient_norm_through_an_aux_vjp, backend=backend)(w, x)
    assert np.allclose(g, central_nd(lambda v: aux_gradient_norm_by_hand(v, x), w),
                       atol=1e-7)


def not_a_pair(x):
    return np.sin(x)


def _doubled_tanh_with_size(v):
    return np.tanh(v) * 2.0, {"size": np.sum(v ** 2)}


def jvp_with_aux(x):
    """jvp with has_aux inside traced code (it was refused): (value, tangent, aux)."""
    value, tangent, aux = adcompiler.jvp(_doubled_tanh_with_size, (x,), (x,), has_aux=True)
    return np.sum(value) + np.sum(tangent) + aux["size"]


def test_jvp_with_has_aux_inside_traced_code():
    x = np.array([0.3, -1.2, 0.8])
    want = np.sum(2 * np.tanh(x)) + np.sum(2 * (1 - np.tanh(x) ** 2) * x) + np.sum(x ** 2)
    assert adcompiler.jit(jvp_with_aux)(x) == pytest.approx(want, rel=1e-12)
    adcompiler.check_grad(jvp_with_aux, x)


def jacobian_with_aux(x):
    return adcompiler.jacobian(tanh_layer_with_metrics, has_aux=True)(x, x.T)[0]["y"]


@pytest.mark.parametrize("call, message", [
    (lambda: adcompiler.vjp(not_a_pair, X, has_aux=True), "to return a pair"),
    (lambda: adcompiler.jvp(not_a_pair, (X,), (X,), has_aux=True), "to return a pair"),
    (lambda: adcompiler.jacobian(not_a_pair, has_aux=True)(X), "to return a pair"),
    (lambda: adcompiler.grad(lambda x: np.sum(jacobian_with_aux(x)))(A), "has_aux=False"),
])
def test_has_aux_misused_is_an_error_at_the_users_line(call, message):
    with pytest.raises(adcompiler.AdcompilerError, match=message) as e:
        call()
    assert "test_jacobian.py:" in str(e.value)


def curvature_at_a_fixed_point(x):
    """grad and hessian inside traced code at a constant array (a prior's mode): it was
    refused ('argument 0 is a constant float64 array', 'gradients need float arrays')."""
    def loglik(q, xs):
        return np.sum(np.sin(xs[:, None] * q) ** 2)
    mode = np.array([0.2, -0.4])
    return (np.sum(adcompiler.hessian(loglik, wrt=0)(mode, x))
            + np.sum(adcompiler.grad(loglik)(mode, x)))


def test_transforms_at_a_constant_point_in_traced_code():
    x = np.array([0.1, 1.5, -0.7])
    q = np.array([0.2, -0.4])
    s = np.sin(2 * np.outer(x, q))
    want = np.sum(2 * x[:, None] ** 2 * np.cos(2 * np.outer(x, q))) + np.sum(x[:, None] * s)
    assert adcompiler.jit(curvature_at_a_fixed_point)(x) == pytest.approx(want, rel=1e-12)
    adcompiler.check_grad(curvature_at_a_fixed_point, x)


SHIFT = np.array([1.0, 2.0])      # a global's array: a constant in traced code


def _scaled(p, x):
    return np.sum(p["a"] * p["b"] * x) + p["c"] * np.sum(x ** 2)


def transforms_of_constant_containers(b, x):
    """An inner grad, vjp and jvp at pytrees whose float entries (some or all) are constants:
    a global's array, a Python float, an np.float64. They got None gradients (a TypeError at
    the user's line), 'gradients need float arrays', or were refused."""
    g = adcompiler.grad(_scaled)({"a": SHIFT, "b": b, "c": np.float64(0.5)}, x)
    whole = adcompiler.grad(_scaled)({"a": SHIFT, "b": SHIFT, "c": 2.0}, x)
    _, pull = adcompiler.vjp(lambda s: np.tanh(s @ b), SHIFT[:, None] * SHIFT)
    (gs,) = pull(np.ones(2))
    _, tangent = adcompiler.jvp(lambda s: np.sin(s * b), (SHIFT,), (x,))
    return (np.sum(g["a"] ** 2) + g["c"] + np.sum(whole["a"] * b) + whole["c"] + np.sum(gs ** 2)
            + np.sum(tangent))


def test_transforms_in_traced_code_at_constant_entries_of_pytrees():
    b, x = np.array([0.5, -1.0]), np.array([3.0, 4.0])
    s = SHIFT[:, None] * SHIFT
    t = np.tanh(s @ b)
    want = (np.sum((b * x) ** 2) + np.sum(x ** 2) + np.sum(SHIFT * x * b) + np.sum(x ** 2)
            + np.sum(np.outer(1 - t ** 2, b) ** 2) + np.sum(np.cos(SHIFT * b) * b * x))
    for backend in ("numpy", "numba"):
        got = adcompiler.jit(transforms_of_constant_containers, backend=backend)(b, x)
        assert got == pytest.approx(want, rel=1e-12)
    adcompiler.check_grad(transforms_of_constant_containers, b, x, wrt=(0, 1))


def sliced_score(w, x, v):
    """Sliced score matching's term <v, J v> of a network's output along random directions."""
    _, jv = adcompiler.jvp(lambda xx: np.tanh(xx @ w), (x,), (v,))
    return np.sum(v * jv)


@pytest.mark.filterwarnings("ignore:.*traced and compiled again")  # (the lambda, per trace)
def test_jvp_in_traced_code_costs_no_backward_sweep_per_entry_of_the_result():
    """J v is the gradient in u of <J^T u, v>: a forward, a backward and its transpose. A
    Jacobian of one backward sweep per entry made a sliced score-matching loss cost B * D
    sweeps (8000x JAX's at B = 256, D = 2)."""
    rng = np.random.default_rng(5)
    w = rng.standard_normal((3, 3))
    lines = []
    for b in (2, 16):
        x, v = rng.standard_normal((b, 3)), rng.standard_normal((b, 3))
        t = np.tanh(x @ w)
        want = np.sum(v * ((1 - t ** 2) * (v @ w)))
        assert adcompiler.jit(sliced_score)(w, x, v) == pytest.approx(want, rel=1e-12)
        adcompiler.check_grad(sliced_score, w, x, v, wrt=(0, 1, 2))
        lines.append(len(adcompiler.grad(sliced_score).adjoint_source(w, x, v).splitlines()))
    assert lines[0] == lines[1]


COUPLING = np.array([[0.1, 0.15, 0.0], [0.05, 0.0, 0.2], [0.1, 0.1, 0.05]])


@adcompiler.custom_vjp
def fixed_point(x):
    """A rule whose derivative is the implicit one, (I - A)^-1: its bwd iterates u = g + A^T u
    to a tolerance."""
    return 2.0 * x


def _fixed_point_fwd(x):
    return 2.0 * x, ()


def _fixed_point_bwd(res, g):
    u, previous = g, g + 1.0
    while np.max(np.abs(u - previous)) > 1e-14:
        previous, u = u, g + COUPLING.T @ u
    return (u,)


fixed_point.defvjp(_fixed_point_fwd, _fixed_point_bwd)


def jvp_of_the_fixed_point(x, v):
    return adcompiler.jvp(fixed_point, (x,), (v,))[1]


def test_jvp_through_a_rule_iterating_to_a_tolerance():
    """jvp differentiates the pullback in its cotangent u at ones: at zeros the rule's loop
    stopped at once, and jvp gave (I + A) v, one iteration's, silently."""
    x, v = np.array([0.3, -0.2, 0.5]), np.array([1.0, 0.5, -0.25])
    want = np.linalg.solve(np.eye(3) - COUPLING, v)
    np.testing.assert_allclose(adcompiler.jvp(fixed_point, (x,), (v,))[1], want, rtol=1e-12)
    np.testing.assert_allclose(adcompiler.jit(jvp_of_the_fixed_point)(x, v), want, rtol=1e-12)
