"""custom_vjp, elementwise (SymPy-derived derivatives), stop_gradient, straight_through,
higher-order derivatives and NaN errors. References: float64 central differences, closed-form
derivatives, SymPy, NumPy."""
import functools
import math
import pickle
import re
import typing

import numpy as np
import pytest
import sympy as sp

import adcompiler as adc


def fd_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        a, b = x.copy(), x.copy()
        a[i] += eps
        b[i] -= eps
        g[i] = (f(a) - f(b)) / (2 * eps)
    return g


X = np.linspace(-2.0, 2.0, 7)
W = np.linspace(0.5, 1.5, 7)


@adc.elementwise
def gelu(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def gelu_loss(x, w):
    return np.sum(gelu(x * w))


def test_elementwise_value_and_gradient():
    np.testing.assert_allclose(gelu(X), 0.5 * X * (1 + np.tanh(math.sqrt(2 / math.pi)
                                                               * (X + 0.044715 * X**3))))
    gx, gw = adc.grad(gelu_loss, wrt=(0, 1))(X, W)
    np.testing.assert_allclose(gx, fd_grad(lambda a: gelu_loss(a, W), X), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(gw, fd_grad(lambda a: gelu_loss(X, a), W), rtol=1e-7, atol=1e-9)


ALPHA = 2.0


@adc.elementwise
def scaled_square(x):
    return ALPHA * x * x


def scaled_square_loss(x):
    return np.sum(scaled_square(x))


def test_elementwise_reads_its_globals_as_they_are():
    """The body's expression was derived once per process: a global it reads rebound later
    kept the old value, in its gradient and in a plain call."""
    global ALPHA
    x = np.array([1.0, 2.0])
    g = adc.grad(scaled_square_loss)
    try:
        for alpha in (2.0, 5.0):
            ALPHA = alpha
            np.testing.assert_allclose(scaled_square(x), alpha * x * x)
            np.testing.assert_allclose(g(x), 2 * alpha * x)
    finally:
        ALPHA = 2.0


@adc.elementwise
def leaky_clipped(x):
    return np.minimum(np.maximum(x, 0.1 * x), 1.0)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_elementwise_with_maximum_and_minimum(backend):
    x = np.array([-1.5, -0.2, 0.3, 0.8, 2.0])
    want = np.minimum(np.maximum(x, 0.1 * x), 1.0)
    np.testing.assert_allclose(leaky_clipped(x), want)
    g = adc.grad(lambda a: np.sum(leaky_clipped(a) * a), backend=backend)(x)
    np.testing.assert_allclose(g, fd_grad(lambda a: np.sum(leaky_clipped(a) * a), x),
                               rtol=1e-7)


@adc.elementwise
def softplus_accurate(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0.0) + np.expm1(1e-3 * x)


@adc.elementwise
def signed_square(x):
    return np.sign(x) * x ** 2


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_elementwise_keeps_log1p_expm1_and_sign(backend):
    """np.log1p and np.expm1 were log(1 + x) and exp(x) - 1 (0 for log1p(1e-17)); sign's
    derivative (SymPy's DiracDelta) could not be lowered."""
    x = np.array([-40.0, -0.5, 1e-12, 0.5, 40.0])
    want = np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0.0) + np.expm1(1e-3 * x)
    got = adc.jit(softplus_accurate, backend=backend)(x)
    np.testing.assert_allclose(got, want, rtol=1e-15)
    np.testing.assert_allclose(adc.jit(softplus_accurate, backend=backend)(np.array([-60.0])),
                               np.log1p(np.exp(-60.0)) + np.expm1(-0.06), rtol=1e-15)
    g = adc.grad(lambda a: np.sum(softplus_accurate(a)), backend=backend)(x)
    np.testing.assert_allclose(g, 1 / (1 + np.exp(-x)) + 1e-3 * np.exp(1e-3 * x), rtol=1e-12)
    g = adc.grad(lambda a: np.sum(signed_square(a)), backend=backend)(x)
    np.testing.assert_allclose(g, 2 * np.abs(x), rtol=1e-15)


@adc.elementwise
def relu_by_where(x):
    return np.where(x > 0, x, 0.0)


@adc.elementwise
def relu_by_if(x):
    if x > 0:
        return x
    return 0.0 * x


@adc.elementwise
def two_arguments(x, k):
    return x * k


def test_unsupported_elementwise_bodies_are_located_errors():
    for f, name, why in ((relu_by_where, "relu_by_where", "no attribute 'where'"),
                         (relu_by_if, "relu_by_if", "truth value"),
                         (lambda x: two_arguments(x, 2.0), "two_arguments", "with 2 arguments")):
        with pytest.raises(adc.AdcompilerError,
                           match=rf"test_custom.py:\d+: @elementwise {name} \(test_custom.py:"
                                 rf"\d+\) must return one expression.*{why}"):
            adc.grad(lambda a: np.sum(f(a)))(X)


def test_an_unsupported_elementwise_body_called_outside_traced_code_says_so():
    """Called on NumPy arrays it leaked "AttributeError: 'types.SimpleNamespace' object has
    no attribute 'where'"."""
    with pytest.raises(adc.TraceError, match=r"@elementwise relu_by_where \(test_custom.py:\d+\) "
                                             r"must return one expression.*no attribute 'where'"):
        relu_by_where(X)


def test_elementwise_derivative_is_sympys_and_is_printed():
    x = sp.Symbol("x")
    ref = sp.lambdify(x, sp.diff(0.5 * x * (1 + sp.tanh(sp.sqrt(2 / sp.pi)
                                                         * (x + 0.044715 * x**3))), x))
    gx = adc.grad(lambda_free_gelu_sum)(X)
    np.testing.assert_allclose(gx, ref(X), rtol=1e-10)
    src = adc.grad(lambda_free_gelu_sum, backend="numpy").adjoint_source(X)
    assert "def gelu_vjp" in src and "np.tanh" in src


def lambda_free_gelu_sum(x):
    return np.sum(gelu(x))


@adc.custom_vjp
def clip_gradient(x):
    return x


def _clip_fwd(x):
    return x, ()


def _clip_bwd(res, g):
    return (np.clip(g, -0.1, 0.1),)


clip_gradient.defvjp(_clip_fwd, _clip_bwd)


def scaled_clip(x):
    return np.sum(clip_gradient(x) * 3.0)


def test_custom_vjp_replaces_the_derivative():
    np.testing.assert_allclose(adc.grad(scaled_clip)(X), np.full_like(X, 0.1))
    assert "{vjp=" in adc.grad(scaled_clip).ir(X)


@adc.custom_vjp
def clip_gradient_to(x, bound, k):
    return x * k


def _clip_to_fwd(x, bound, k):
    return x * k, (bound, k)


def _clip_to_bwd(res, g):
    bound, k = res
    # one per argument: the bound's is sum |g| (a rule's choice, to see where it goes)
    return np.clip(g * k, -bound, bound), np.sum(np.abs(g)) + 0.0 * bound, None


clip_gradient_to.defvjp(_clip_to_fwd, _clip_to_bwd)


def clipped_to_a_constant(x):
    return np.sum(clip_gradient_to(x, np.array(0.5), 2) * np.array([3.0, 0.1, 1.0]))


def clipped_to_an_argument(x, bound):
    return np.sum(clip_gradient_to(x, bound, 2) * np.array([3.0, 0.1, 1.0]))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_custom_vjp_gradients_of_constant_and_static_arguments_are_dropped(backend):
    # d/dx by the rule: clip(2 * [3, 0.1, 1], -0.5, 0.5)
    x, want = np.array([1.0, -2.0, 0.5]), np.array([0.5, 0.2, 0.5])
    np.testing.assert_allclose(adc.grad(clipped_to_a_constant, backend=backend)(x), want)
    gx, gb = adc.grad(clipped_to_an_argument, wrt=(0, 1), backend=backend)(x, np.array(0.5))
    np.testing.assert_allclose(gx, want)
    np.testing.assert_allclose(gb, 3.0 + 0.1 + 1.0)    # the rule's: sum |d loss / d out|


@adc.custom_vjp
def scaled_product(a, b, k):
    return a * b * k


def _product_fwd(a, b, k):
    return a * b * k, (b, k)


def _product_bwd(res, g):
    b, k = res
    return g * b * k, None, np.ones_like(k) * 5.0     # None for b: zero; k's (an int) ignored


scaled_product.defvjp(_product_fwd, _product_bwd)


def product_loss(x, y, k):
    return np.sum(scaled_product(x, y, k))


@adc.custom_vjp
def scaled_by(x, c):
    return x * c


def _scaled_by_fwd(x, c):
    return x * c, c


def _scaled_by_bwd(c, g):
    return g * c, 0.0               # a number for the float c: its gradient is zero


scaled_by.defvjp(_scaled_by_fwd, _scaled_by_bwd)


def scaled_loss(x, c):
    return np.sum(scaled_by(x, c))


def product_loss_by_keyword(x, y):
    return np.sum(scaled_product(x, k=np.array([1, 2, 3]), b=y))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_custom_vjp_gradients_go_to_their_arguments(backend):
    x, y, k = np.array([0.3, -0.7, 1.1]), np.array([1.0, 2.0, 0.5]), np.array([1, 2, 3])
    gx, gy = adc.grad(product_loss, wrt=(0, 1), backend=backend)(x, y, k)
    np.testing.assert_array_equal(gx, y * k)
    np.testing.assert_array_equal(gy, np.zeros(3))
    gx, gy = adc.grad(product_loss_by_keyword, wrt=(0, 1), backend=backend)(x, y)
    np.testing.assert_array_equal(gx, y * k)
    np.testing.assert_array_equal(gy, np.zeros(3))
    gx, gc = adc.grad(scaled_loss, wrt=(0, 1), backend=backend)(x, 2.5)
    np.testing.assert_array_equal(gx, np.full(3, 2.5))
    assert gc == 0.0


@adc.custom_vjp
def weighted_pair(p):
    return p["a"] * 2.0 + p["b"] * 3.0


weighted_pair.defvjp(lambda p: (weighted_pair(p), None),
                     lambda _, g: ({"b": g * 3.0, "a": g * 2.0},))


@adc.custom_vjp
def misnamed_pair(p):
    return p["a"] * 2.0 + p["b"] * 3.0


misnamed_pair.defvjp(lambda p: (misnamed_pair(p), None),
                     lambda _, g: ({"x": g * 3.0, "y": g * 2.0},))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_custom_vjp_gradients_of_a_dict_go_by_key(backend):
    """They went by position: bwd's {'b': ..., 'a': ...} gave 'a' the gradient of 'b', and
    keys the argument does not have were taken too."""
    p = {"a": np.ones(2), "b": np.ones(2)}
    g = adc.grad(lambda q: np.sum(weighted_pair(q)), backend=backend)(p)
    np.testing.assert_array_equal(g["a"], [2.0, 2.0])
    np.testing.assert_array_equal(g["b"], [3.0, 3.0])
    with pytest.raises(adc.TraceError, match=r"returns gradients at \[x, y\] for argument 0 "
                       r"of misnamed_pair, whose float arrays are at \[a, b\]"):
        adc.grad(lambda q: np.sum(misnamed_pair(q)), backend=backend)(p)


@adc.custom_vjp
def safe_log(x):
    return np.log(x)


def _safe_log_fwd(x):
    return np.log(x), x


def _safe_log_bwd(x, g):
    return (g / np.maximum(x, 1e-3),)


safe_log.defvjp(_safe_log_fwd, _safe_log_bwd)


def uses_residuals(x):
    return np.sum(safe_log(x * x))


def test_custom_vjp_with_residuals():
    x = np.array([0.5, 1.0, 2.0])
    # d/dx log(x^2) via the custom rule: 2x / max(x^2, 1e-3) = 2/x here
    np.testing.assert_allclose(adc.grad(uses_residuals)(x), 2 / x)


def maml_loss(w, x):
    """One inner gradient step, then the loss: its gradient is a second derivative."""
    inner = adc.grad(uses_residuals)(w * x)
    return np.sum(np.sin(w - 0.1 * inner) * x) + gelu_loss(w, x)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_second_derivatives_through_custom_derivatives(backend):
    """The backward sweep reads a custom_vjp's residuals: their derivative is fwd's (they were
    dropped, and these Hessians were zero). Against the Hessian of the rules written out (the
    custom one: d/dx 2x/x^2 = -2/x^2) and finite differences of gelu's derivative."""
    x = np.array([0.5, 1.0, 2.0])
    h = adc.hessian(uses_residuals, backend=backend)(x)
    np.testing.assert_allclose(h, np.diag(-2 / x ** 2), rtol=1e-10)
    h = adc.hessian(gelu_loss, backend=backend)(X, W)
    d_gelu = adc.grad(lambda_free_gelu_sum)
    np.testing.assert_allclose(h, fd_jacobian_of(lambda a: d_gelu(a * W) * W, X), rtol=1e-6,
                               atol=1e-8)
    want = fd_grad(lambda a: maml_loss(a, x + 1.0), x)
    np.testing.assert_allclose(adc.grad(maml_loss, backend=backend)(x, x + 1.0), want,
                               rtol=1e-6)


@adc.custom_vjp
def clip_straight_through(x, lo=-1.0, hi=1.0):
    return np.clip(x, lo, hi)


def _clip_st_fwd(x, lo=-1.0, hi=1.0):
    return clip_straight_through(x, lo, hi), None       # f itself, as JAX's docs write fwd


def _clip_st_bwd(res, g):
    return g, None, None


clip_straight_through.defvjp(_clip_st_fwd, _clip_st_bwd)


def clip_defaults(x):
    return np.sum(clip_straight_through(x * 3.0) + clip_straight_through(x, hi=0.5)
                  + clip_straight_through(x, -0.5, 0.5) ** 2)


@adc.custom_vjp
def double(x):
    return x * 2.0


double.defvjp(lambda x: (x * 2.0, None), lambda res, g: (np.sum(g) * 2.0,))


def double_loss(w):
    return np.sum(double(w) ** 2)


def test_custom_vjp_parameters_left_to_defaults_and_fwd_calling_f():
    """bwd returns one gradient per parameter, those left to their defaults too (it returned
    1, 2 or 3 by the call before); fwd may call f, whose body then runs (it recursed)."""
    x = np.array([0.2, 0.9, -0.3])
    clipped = np.clip(x, -0.5, 0.5)
    np.testing.assert_allclose(adc.grad(clip_defaults)(x), 3.0 + 1.0 + 2 * clipped)
    np.testing.assert_allclose(adc.jit(clip_defaults)(x), clip_defaults(x))


def test_custom_vjp_gradient_of_the_wrong_shape_is_an_error():
    with pytest.raises(adc.TraceError, match=r"<lambda> returns a gradient of type f64\[\] "
                       r"for argument 0 of double, which is f64\[3\]"):
        adc.grad(double_loss)(np.ones(3))


@adc.custom_vjp
def product_of_two(x, y):
    return x * y


product_of_two.defvjp(lambda x, y: (x * y, (x, y)), lambda r, g: None)     # (forgot the return)


def test_custom_vjp_bwd_returning_none_says_so():
    """It said 'returns 1 gradients, product_of_two has 2 arguments'."""
    with pytest.raises(adc.TraceError, match=r"<lambda> returns None, product_of_two has 2 "
                                             r"arguments: return a tuple of one gradient per"):
        adc.grad(lambda x: np.sum(product_of_two(x, x)))(np.ones(3))


@adc.custom_vjp
def rounded_ste(x):
    return np.round(x)


rounded_ste.defvjp(lambda x: (np.round(x), None), lambda r, g: (1.0,))    # (meant (g,))


def test_custom_vjp_bwd_returning_a_nonzero_number_is_an_error():
    """A number other than 0 was taken for a zero gradient, silently (JAX refuses it); 0 and
    None still are one."""
    with pytest.raises(adc.TraceError, match=r"<lambda> returns the number 1.0 for argument 0 "
                                             r"of rounded_ste: a gradient is an array shaped"):
        adc.grad(lambda x: np.sum(rounded_ste(x) * 3.0))(np.array([0.2, 1.7]))
    rounded_ste.defvjp(lambda x: (np.round(x), None), lambda r, g: (0,))
    try:
        np.testing.assert_array_equal(adc.grad(lambda x: np.sum(rounded_ste(x) * 3.0))(
            np.array([0.2, 1.7])), np.zeros(2))
    finally:
        rounded_ste.defvjp(lambda x: (np.round(x), None), lambda r, g: (1.0,))


@adc.custom_vjp
def sine_without_residuals(x):
    return np.sin(x)


def sine_without_residuals_fwd(x):
    return np.sin(x)                    # (value, residuals) forgotten


sine_without_residuals.defvjp(sine_without_residuals_fwd, lambda r, g: (g,))


def test_a_custom_fwd_returning_no_pair_is_an_error():
    """It said an iteration needed a compile-time value."""
    with pytest.raises(adc.TraceError, match=r"sine_without_residuals_fwd must return a pair "
                                             r"\(value, residuals\).*it returns an array"):
        adc.grad(lambda x: np.sum(sine_without_residuals(x)))(np.ones(3))


@adc.custom_vjp
def untraceable_square(x):
    try:                        # (syntax adcompiler does not read: fwd and bwd stand for it)
        return x * x
    finally:
        pass


untraceable_square.defvjp(lambda x: (x * x, x), lambda x, g: (2.0 * x * g,))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_custom_vjp_whose_function_cannot_be_traced_runs_its_rules(backend):
    x = np.array([1.0, -2.0])
    value, grad = adc.value_and_grad(lambda x: np.sum(untraceable_square(x)), backend=backend)(x)
    assert value == 5.0
    np.testing.assert_allclose(grad, 2.0 * x)


def fd_jacobian_of(f, x, eps=1e-6):
    return np.stack([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(x.size)],
                    axis=1)


@adc.custom_vjp
def loud_double(x):
    return x * 2.0


def _loud_double_fwd(x):
    print("fwd", x)
    return x * 2.0, ()


def _loud_double_bwd(res, g):
    return (g * 2.0,)


loud_double.defvjp(_loud_double_fwd, _loud_double_bwd)


def doubles_in_a_loop(x, n):
    y = x * 1.0
    for _ in range(n):
        y = loud_double(y)
    if np.sum(y) > 0:
        y = loud_double(y)
    return np.sum(y)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_a_custom_vjp_forward_prints_once_per_gradient(backend, capsys):
    """The reverse sweep recomputes a loop body and a branch, calls to the rule's forward
    included, from a copy without the prints: they ran once, in the forward sweep."""
    got = adc.grad(doubles_in_a_loop, wrt="x", backend=backend)(np.array([1.0]), np.int64(3))
    np.testing.assert_allclose(got, [16.0])
    assert capsys.readouterr().out == "fwd [1.]\nfwd [2.]\nfwd [4.]\nfwd [8.]\n"


def with_stop(x, w):
    return np.sum(adc.stop_gradient(x * w) * x)


def test_stop_gradient():
    gx, gw = adc.grad(with_stop, wrt=(0, 1))(X, W)
    np.testing.assert_allclose(gx, X * W)       # only the unstopped factor
    np.testing.assert_allclose(gw, np.zeros_like(W))


def with_stopped_tree(x, w):
    stopped = adc.stop_gradient({"xw": x * w, "pair": (x, 2.0)})
    return np.sum(stopped["xw"] * x + stopped["pair"][0] * w)


def test_stop_gradient_of_a_pytree_stops_each_array():
    """As JAX's: it returned a dict, tuple or model object unchanged (gradients flowed)."""
    gx, gw = adc.grad(with_stopped_tree, wrt=(0, 1))(X, W)
    np.testing.assert_allclose(gx, X * W)
    np.testing.assert_allclose(gw, X)
    with pytest.raises(adc.AdcompilerError, match="stop_gradient takes one argument"):
        adc.grad(lambda a: np.sum(adc.stop_gradient(a, a)))(X)


def rounded(x):
    return np.sum(adc.straight_through(x, np.floor(x)) ** 2)


def test_straight_through():
    np.testing.assert_allclose(adc.grad(rounded)(X + 0.25), 2 * np.floor(X + 0.25))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_straight_through_has_the_value_and_dtype_numpy_gives(backend):
    """Traced, y was cast to x's dtype: an int x truncated y, a float32 x rounded it, where
    the call itself gives x + (y - x) in NumPy's dtype."""
    through = adc.jit(lambda x, y: adc.straight_through(x, y), backend=backend)
    y = np.array([1.83, -3.08, 0.96])
    for x in (np.arange(3), np.array([0.1, 0.2, 0.3], np.float32)):
        got, want = through(x, y), adc.straight_through(x, y)
        assert got.dtype == want.dtype == np.float64
        np.testing.assert_allclose(got, y, rtol=1e-15)


def sin_x(x):
    return np.sum(np.sin(x) * x)


grad_sin_x = adc.grad(sin_x)


def sum_of_grad(x):
    return np.sum(grad_sin_x(x))


def test_grad_of_grad():
    # d/dx_i sum_j d/dx_j (x_j sin x_j) = 2 cos x_i - x_i sin x_i
    np.testing.assert_allclose(adc.grad(sum_of_grad)(X), 2 * np.cos(X) - X * np.sin(X),
                               rtol=1e-12)


def hvp_inner(x, v):
    _, pullback = adc.vjp(sin_x, x)
    (gx,) = pullback(1.0)
    return np.sum(gx * v)


def test_hessian_vector_product_via_grad_of_vjp():
    v = np.linspace(-1, 1, 7)
    hv = adc.grad(hvp_inner)(X, v)
    np.testing.assert_allclose(hv, (2 * np.cos(X) - X * np.sin(X)) * v, rtol=1e-12)


def makes_nan(x):
    y = np.log(x - 10.0)
    return np.sum(y)


def test_nan_error_names_the_users_line():
    with pytest.raises(adc.NaNError) as e:
        adc.grad(makes_nan)(X)
    line = makes_nan.__code__.co_firstlineno + 1
    assert f"test_custom.py:{line}" in str(e.value) and "np.log" in str(e.value)


def int_arg(x, n):
    return np.sum(x * n)


def ignores_second(x, n):
    return np.sum(x)


def test_errors_for_integer_and_bad_wrt():
    """Each names the function's file and def line (the parameter is one of its), or the
    line of its return."""
    at = rf"test_custom.py:{int_arg.__code__.co_firstlineno}: "
    with pytest.raises(adc.AdcompilerError, match=at + ".*it is int: .*compile-time constant"):
        adc.grad(int_arg, wrt=1)(X, 3)
    at_none = rf"test_custom.py:{ignores_second.__code__.co_firstlineno}: "
    with pytest.raises(adc.AdcompilerError, match=at_none + ".*it is NoneType: .*or None is a"):
        adc.grad(ignores_second, wrt=1)(X, None)
    with pytest.raises(adc.AdcompilerError, match=at + ".*'n': it holds int64 data"):
        adc.grad(int_arg, wrt=1)(X, np.arange(7))
    with pytest.raises(adc.AdcompilerError, match="no parameter 'z'"):
        adc.grad(int_arg, wrt="z")(X, 3)
    # the call's own mistakes (the traceback names the caller's line)
    with pytest.raises(adc.TraceError, match=at + r"int_arg\(\): too many positional"):
        adc.grad(int_arg)(X, 3, 4)
    with pytest.raises(adc.TraceError, match=at + "argument n has dtype complex128"):
        adc.grad(int_arg)(X, np.ones(7, np.complex128))
    with pytest.raises(adc.TraceError, match=at + "argument n holds an unhashable"):
        adc.grad(int_arg)(X, [{3}])
    line = lambda_vector.__code__.co_firstlineno + 1      # (its return's)
    with pytest.raises(adc.AdcompilerError, match=rf"test_custom.py:{line}: .*float scalar"):
        adc.grad(lambda_vector)(X)
    # JAX's argnums= (a TypeError that named no alternative)
    for transform in (adc.grad, adc.value_and_grad, adc.jacobian, adc.hessian):
        with pytest.raises(adc.AdcompilerError, match=r"takes wrt=, not JAX's argnums=: "
                                                      r"wrt=\(0, 1\) picks those arguments"):
            transform(int_arg, argnums=(0, 1))


def product_of_all(*xs):
    return np.sum(xs[0] * xs[1] ** 2)


def test_wrt_of_a_star_args_function_says_what_it_counts():
    """wrt=1 of f(*xs) said only 'f has 1 parameters'; JAX's argnums count the call's
    positions, adcompiler's the declared parameters."""
    x, y = np.ones(2), np.full(2, 3.0)
    with pytest.raises(adc.AdcompilerError, match=r"wrt=1: product_of_all has 1 parameters "
                       r"\(xs\); wrt counts declared parameters, and wrt='xs' takes"):
        adc.grad(product_of_all, wrt=1)(x, y)
    gx, gy = adc.grad(product_of_all, wrt="xs")(x, y)
    np.testing.assert_allclose(gx, y ** 2)
    np.testing.assert_allclose(gy, 2 * x * y)


def lambda_vector(x):
    return x * 2.0


def looped(x, n):
    for i in range(n[0]):
        x = np.sin(x) * x
    return np.sum(x)


grad_looped = adc.grad(looped)


def second_order_through_loop(x, n):
    return np.sum(grad_looped(x, n))


def test_second_order_through_a_runtime_loop_is_a_clear_error():
    """The reverse sweep of a loop reads tapes; differentiating it again is refused rather
    than silently wrong."""
    with pytest.raises(adc.AdcompilerError, match="second-order .* test_custom.py.*a custom_vjp "
                                                  "with the implicit derivative"):
        adc.grad(second_order_through_loop)(np.ones(3), np.array([3]))
    # first order through the same loop is right (reference: unrolled by hand)
    x = np.array([0.3, -0.7, 1.1])
    xs = [x]
    for _ in range(3):
        xs.append(np.sin(xs[-1]) * xs[-1])
    d = np.ones(3)
    for xi in reversed(xs[:-1]):
        d = d * (np.cos(xi) * xi + np.sin(xi))
    np.testing.assert_allclose(grad_looped(x, np.array([3])), d, rtol=1e-12)


def sine_sum(x, n):
    s = 0.0
    for k in range(n):
        s = s + np.sum(np.sin(x * k))
    return s


def test_second_order_through_a_runtime_loop_that_stores_nothing_per_iteration():
    """The README said every loop kept as a loop refuses a second derivative; one whose
    backward sweep reads no tape (the body reads x and the counter only) is differentiated
    again: against the Hessian worked out by hand."""
    x = np.array([0.3, -0.7, 1.1])
    H = adc.hessian(sine_sum)(x, np.int64(3))
    np.testing.assert_allclose(H, np.diag(-sum(k * k * np.sin(k * x) for k in range(3))),
                               rtol=1e-12, atol=1e-15)


def embed_loss(p):
    return np.sum(p["W"][p["idx"]] ** 2)


def test_grad_of_a_pytree_with_integer_leaves():
    W = np.arange(6.0).reshape(3, 2)
    idx = np.array([0, 2, 2])
    g = adc.grad(embed_loss)({"W": W, "idx": idx})
    assert g["idx"] is None
    np.testing.assert_allclose(g["W"], 2 * W * np.array([[1], [0], [2]]))


def scalar_leaves(p):
    return p["a"] * p["a"] + p["b"] * 2.0 + p["c"] * 3.0


def test_scalar_leaves_get_gradients_of_their_own_type():
    g = adc.grad(scalar_leaves)({"a": np.float64(3.0), "b": 1.5, "c": np.float32(2.0)})
    assert type(g["a"]) is np.float64 and g["a"] == 6.0
    assert type(g["b"]) is float and g["b"] == 2.0
    assert type(g["c"]) is np.float32 and g["c"] == 3.0


def two_names_one_array(a, n):
    s = a
    t = a
    for i in range(n):
        s = s * 2.0
        t = t + 1.0
    return np.sum(t * 10.0 + s)


def test_loop_carried_names_bound_to_one_array_stay_apart():
    x = np.array([1.0, 2.0])
    for n in (3, np.int64(3)):
        np.testing.assert_allclose(adc.jit(two_names_one_array)(x, n), two_names_one_array(x, n))
        np.testing.assert_allclose(adc.grad(two_names_one_array)(x, n), np.full(2, 18.0))


def outer_of_inner_grad(x):
    return np.sum(adc.grad(sin_x)(x) ** 2)


def test_grad_made_inside_traced_code():
    d = np.sin(X) + X * np.cos(X)                    # d/dx (x sin x)
    dd = 2 * np.cos(X) - X * np.sin(X)
    np.testing.assert_allclose(adc.grad(outer_of_inner_grad)(X), 2 * d * dd, rtol=1e-12)


def calls_a_library_helper(grads, max_norm):
    from adcompiler.optim.clip import clip_grads
    clipped, norm, _ = clip_grads(grads, max_norm)
    return np.sum(clipped[0]) + norm


def test_adcompiler_helpers_are_traced_on_runtime_arrays():
    g = [np.array([3.0, 4.0])]
    norm = 5.0
    expected = np.sum(g[0] * min(1.0, 2.0 / norm)) + norm
    np.testing.assert_allclose(adc.jit(calls_a_library_helper)(g, 2.0), expected, rtol=1e-6)


def grad_of_a_lambda(x):
    g = adc.grad(lambda z: np.sum(z * np.sin(z)))(x)
    return np.sum(g * g)


def value_and_grad_of_a_nested_def(x):
    def inner(z, scale):
        return np.sum(z * np.sin(z)) * scale
    v, g = adc.value_and_grad(inner)(x, 2.0)
    return v + np.sum(g)


def test_grad_of_a_function_defined_in_traced_code_is_an_array():
    """A lambda or nested def has its own parameters: its gradient is one array, not a tuple
    of one (which broadcast silently to a new leading axis)."""
    d = np.sin(X) + X * np.cos(X)                    # d/dx (x sin x)
    dd = 2 * np.cos(X) - X * np.sin(X)
    np.testing.assert_allclose(adc.grad(grad_of_a_lambda)(X), 2 * d * dd, rtol=1e-12)
    np.testing.assert_allclose(adc.grad(value_and_grad_of_a_nested_def)(X), 2 * d + 2 * dd,
                               rtol=1e-12)


class Model:
    def __init__(self, w):
        self.w = w

    def loss(self, x, y):
        return np.sum(np.tanh(x * self.w) * y)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_grad_of_a_bound_method(backend):
    """`self` is bound: wrt counts the caller's arguments, as the call does."""
    m, y = Model(W), np.cos(X)
    want_x = (1 - np.tanh(X * W) ** 2) * W * y
    np.testing.assert_allclose(adc.grad(m.loss, backend=backend)(X, y), want_x, rtol=1e-12)
    np.testing.assert_allclose(adc.grad(m.loss, wrt="y", backend=backend)(X, y),
                               np.tanh(X * W), rtol=1e-12)
    value, (gx, gy) = adc.value_and_grad(m.loss, wrt=(0, 1), backend=backend)(X, y)
    np.testing.assert_allclose(gx, fd_grad(lambda x: m.loss(x, y), X), rtol=1e-7)
    assert adc.check_grad(m.loss, X, y, wrt=1, backend=backend)["y"] < 1e-7


def test_a_method_and_its_function_are_traced_apart():
    """grad(m.loss) binds `self`; grad(Model.loss) takes it as its first argument: one's trace
    must not serve the other (it did, and the second call bound one argument too many)."""
    m, y = Model(W), np.cos(X)
    adc.grad(m.loss)(X, y)
    g = adc.grad(Model.loss)(m, X, y)
    np.testing.assert_allclose(g.w, fd_grad(lambda w: Model(w).loss(X, y), W), rtol=1e-7)


class Cubic:
    def __init__(self, w):
        self.w = w

    def energy(self, x):
        return np.sum(self.w * x ** 3)


def squared_method_gradient(m, x):
    g = adc.grad(m.energy)(x)               # m's arrays are run-time values here
    return np.sum(g * g)


def squared_method_pullback(m, x):
    _, pullback = adc.vjp(m.energy, x)
    return np.sum(pullback(1.0)[0] ** 2)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_grad_and_vjp_of_a_method_of_a_traced_object(backend):
    """Inside traced code the object's arrays come first among the method's run-time leaves;
    the gradient is of the method's arguments. sum((3 w x^2)^2): d/dx = 36 w^2 x^3, d/dw =
    18 w x^4."""
    w = np.array([1.0, 2.0, 3.0])
    for f in (squared_method_gradient, squared_method_pullback):
        gm, gx = adc.grad(f, wrt=(0, 1), backend=backend)(Cubic(w), X[:3])
        np.testing.assert_allclose(gx, 36 * w ** 2 * X[:3] ** 3, rtol=1e-12)
        np.testing.assert_allclose(gm.w, 18 * w * X[:3] ** 4, rtol=1e-12)


def scaled_power(scale, x, p=2.0):
    return np.sum(scale * x ** p)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_grad_of_a_partial(backend):
    """A functools.partial's arguments come first and its keywords are defaults, as a call
    of it binds them; wrt counts the caller's arguments."""
    g = adc.grad(functools.partial(scaled_power, 3.0, p=3.0), backend=backend)(X)
    np.testing.assert_allclose(g, 9.0 * X ** 2, rtol=1e-12)
    g = adc.grad(functools.partial(scaled_power, p=3.0), wrt=1, backend=backend)(2.0, X)
    np.testing.assert_allclose(g, 6.0 * X ** 2, rtol=1e-12)
    np.testing.assert_allclose(adc.grad(scaled_power, wrt=1, backend=backend)(2.0, X), 4.0 * X,
                               rtol=1e-12)


class Squash:
    def __init__(self, w):
        self.w = w

    def __call__(self, x):
        return np.tanh(self.w * x)


def returns_a_constant(x):
    return 0.0


def forgets_to_return(x):
    np.sum(x * x)


def test_a_function_returning_a_constant_says_its_result_does_not_depend_on_its_arguments():
    """It said the function returned nothing."""
    with pytest.raises(adc.AdcompilerError, match=r"test_custom.py:\d+: returns_a_constant "
                                                  r"returns no run-time array to differentiate: "
                                                  r"what it returns does not depend"):
        adc.grad(returns_a_constant)(X)
    with pytest.raises(adc.AdcompilerError, match=r"forgets_to_return returns None: nothing to "
                                                  r"differentiate \(a missing return\?\)"):
        adc.grad(forgets_to_return)(X)


def test_errors_about_a_partial_or_a_layer_object_name_it():
    """Messages took the function's __name__, which a partial and a layer object have not: an
    AttributeError in place of the message."""
    with pytest.raises(adc.AdcompilerError, match=r"test_custom.py:\d+: grad needs Squash to "
                                                  "return a float scalar"):
        adc.grad(Squash(W))(X)
    with pytest.raises(adc.AdcompilerError, match="scaled_power has no parameter 'q'"):
        adc.grad(functools.partial(scaled_power, 3.0), wrt="q")(X)
    with pytest.raises(adc.AdcompilerError, match="has_aux=True needs scaled_power to return"):
        adc.grad(functools.partial(scaled_power, 3.0), has_aux=True)(X)


def ignores_w(x, w):
    return np.sum(np.tanh(x))


def makes_zeros(x):
    return np.zeros((2, 3)), x * 0.0


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_constant_results_are_writable_arrays(backend):
    """A gradient that is identically zero and a jit's np.zeros come back as arrays of their
    own, as NumPy's would (they were read-only broadcast views: `g *= 0.5` raised)."""
    gx, gw = adc.grad(ignores_w, wrt=(0, 1), backend=backend)(X, W)
    z, _ = adc.jit(makes_zeros, backend=backend)(X)
    for a in (gw, z):
        a *= 0.5
        assert not np.any(a)
    np.testing.assert_allclose(gx, 1 - np.tanh(X) ** 2)


@adc.custom_vjp
def twice_sin(x):
    return 2.0 * np.sin(x)


def twice_sin_fwd(x):
    return 2.0 * np.sin(x), np.cos(x)


def twice_sin_bwd(c, g):
    return (2.0 * g * c,)


twice_sin.defvjp(twice_sin_fwd, twice_sin_bwd)


def summed_twice_sin(x):
    return np.sum(twice_sin(x))


def summed_twice_sin_grad(x):       # the name of the NumPy driver a gradient would get
    return summed_twice_sin(x) * 3.0


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_user_functions_named_like_generated_ones(backend):
    """A custom_vjp's forward named `f_fwd` (JAX's naming) and a helper named like a gradient
    driver (`loss_grad`) were replaced by the generated functions of those names: a RecursionError,
    or the user's function called in place of the generated one."""
    x = np.linspace(0.1, 1.0, 4)
    _, pullback = adc.vjp(twice_sin, x, backend=backend)
    np.testing.assert_allclose(pullback(np.ones(4))[0], 2 * np.cos(x))
    np.testing.assert_allclose(adc.jacobian(twice_sin, backend=backend)(x),
                               np.diag(2 * np.cos(x)))
    np.testing.assert_allclose(adc.grad(summed_twice_sin, backend=backend)(x), 2 * np.cos(x))
    np.testing.assert_allclose(adc.grad(summed_twice_sin_grad, backend=backend)(x),
                               6 * np.cos(x))


@adc.custom_vjp
def rescaled_gradient(x):
    return x


def ten_times_rescaled(x):
    return np.sum(rescaled_gradient(x) * 10.0)


def test_defvjp_again_is_seen_by_callers_traced_before():
    """A second defvjp was ignored by a gradient that had traced the first rules."""
    g = adc.grad(ten_times_rescaled)
    rescaled_gradient.defvjp(lambda x: (x, ()), lambda r, c: (np.clip(c, -1.0, 1.0),))
    np.testing.assert_allclose(g(X), np.ones_like(X))
    rescaled_gradient.defvjp(lambda x: (x, ()), lambda r, c: (0.5 * c,))
    np.testing.assert_allclose(g(X), np.full_like(X, 5.0))


@adc.custom_vjp
def scaled_by_keywords(x, **k):
    return x * k["a"] + k["b"]


scaled_by_keywords.defvjp(lambda x, **k: (x * k["a"] + k["b"], (x, k["a"])),
                          lambda r, g: (g * r[1], g * r[0], g))


def test_custom_vjp_keywords_through_double_star_are_refused():
    """The bwd's gradients were matched to the keywords in the caller's order: b=, a= swapped
    the gradients of a and b."""
    with pytest.raises(adc.TraceError, match=r"scaled_by_keywords gets keywords through \*\*k"):
        adc.grad(lambda x, a, b: np.sum(scaled_by_keywords(x, b=b, a=a)), wrt=(1, 2))(X, X, X)


class WeightAndBias(typing.NamedTuple):
    w: np.ndarray
    b: np.ndarray


@adc.custom_vjp
def weighted_fields(p):
    return p.w * 2.0 + p.b * 3.0


weighted_fields.defvjp(lambda p: (weighted_fields(p), None), lambda _, g: ((g * 2.0, g * 3.0),))


def test_custom_vjp_gradients_of_a_named_tuple_may_be_a_plain_tuple():
    """Matched by key, the plain tuple's positions were refused against the fields' names."""
    g = adc.grad(lambda q: np.sum(weighted_fields(q)), backend="numpy")(
        WeightAndBias(np.ones(2), np.ones(2)))
    np.testing.assert_array_equal(g.w, [2.0, 2.0])
    np.testing.assert_array_equal(g.b, [3.0, 3.0])


@adc.elementwise
def shifted_log(v):
    return np.log(v - 1.0)


def doubled_shifted_log(x):
    h = shifted_log(x) * 2.0
    return np.sum(h)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_an_elementwise_functions_lines_are_its_body_reached_through_the_call(backend):
    """Its generated function quoted the caller's line, and a NaN in it named that line only."""
    call = doubled_shifted_log.__code__.co_firstlineno + 1
    body = call - 4     # (shifted_log's return, two blank lines above the def)
    with pytest.raises(adc.NaNError, match=rf"NaN produced at test_custom.py:{body} in 'return "
                                           rf"np.log\(v - 1.0\)' via the call at "
                                           rf"test_custom.py:{call} \("):
        adc.grad(doubled_shifted_log, backend=backend)(np.array([0.5, 3.0]))
    src = adc.grad(doubled_shifted_log, backend=backend).adjoint_source(np.array([2.0, 3.0]))
    # (the Numba drivers' residual naming took the forward's callee for the backward sweep
    # and named its parameter after the forward's first residual, `def shifted_log(h):`)
    assert set(re.findall(r"def shifted_log\((\w+)\):", src)) == {"v"}


@adc.custom_vjp(nondiff_argnums=(1,))
def clip_gradient_at(x, bound):
    return x


clip_gradient_at.defvjp(lambda x, bound: (x, None),
                     lambda bound, residuals, g: (np.clip(g, -bound, bound),))


@adc.custom_vjp(nondiff_argnums=(0,))
def applied(f, x):
    return f(x)


applied.defvjp(lambda f, x: (f(x), x), lambda f, x, g: (g * 2 * x,))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_custom_vjp_nondiff_argnums_as_jax(backend):
    """JAX's clip_gradient_at and a function argument: bwd takes the nondiff arguments first and
    returns the others' gradients (it was a TypeError); they survive pickling; a run-time
    array there, or one gradient too many, is an error naming the rule."""
    x = np.array([0.1, 2.0, -3.0])
    # d/dx sum(clip_gradient_at(x) * 3x) = clip(3x, -1/2, 1/2) + 3x
    g = adc.grad(lambda x: np.sum(clip_gradient_at(x, 0.5) * x * 3), backend=backend)(x)
    np.testing.assert_allclose(g, np.clip(3 * x, -0.5, 0.5) + 3 * x, rtol=1e-15)
    g = adc.grad(lambda x: np.sum(applied(np.square, x)), backend=backend)(x)
    np.testing.assert_allclose(g, 2 * x, rtol=1e-15)
    assert pickle.loads(pickle.dumps(clip_gradient_at)).nondiff == (1,)
    g = adc.grad(lambda x: np.sum(clip_gradient_at(x, bound=0.5) * x * 3), backend=backend)(x)
    np.testing.assert_allclose(g, np.clip(3 * x, -0.5, 0.5) + 3 * x, rtol=1e-15)
    with pytest.raises(adc.TraceError, match=r"nondiff_argnums must be positions from 0"):
        adc.custom_vjp(lambda x, b: x, nondiff_argnums=(-1,))
    with pytest.raises(adc.TraceError, match=r"argument 1 of clip_gradient_at is in "
                                             r"nondiff_argnums but holds run-time arrays"):
        adc.grad(lambda x, b: np.sum(clip_gradient_at(x, b)), backend=backend)(x, np.array(0.5))
    clip_gradient_at.defvjp(lambda x, bound: (x, None), lambda bound, residuals, g: (g, None))
    try:
        with pytest.raises(adc.TraceError, match=r"returns 2 gradients; with "
                                                 r"nondiff_argnums=\(1,\) it returns one per"):
            adc.grad(lambda x: np.sum(clip_gradient_at(x, 0.25)), backend=backend)(x)
    finally:
        clip_gradient_at.defvjp(lambda x, bound: (x, None),
                             lambda bound, residuals, g: (np.clip(g, -bound, bound),))


@adc.custom_vjp(nondiff_argnums=(1,))
def power_with_default(x, k, y=2.0):
    return x ** k * y


power_with_default.defvjp(lambda x, k, y=2.0: (x ** k * y, (x, y)),
                    lambda k, res, g: (g * k * res[0] ** (k - 1) * res[1],
                                       np.sum(g * res[0] ** k)))


def test_custom_vjp_nondiff_argnums_with_a_parameter_left_to_its_default():
    """bwd returns a gradient for every other parameter, a defaulted one too, as in JAX (no
    count satisfied both checks); by keyword as well."""
    x = np.array([0.3, 1.2, 2.0])
    np.testing.assert_allclose(adc.grad(lambda x: np.sum(power_with_default(x, 3)))(x), 6 * x ** 2,
                               rtol=1e-15)
    np.testing.assert_allclose(adc.grad(lambda x: np.sum(power_with_default(x, k=3, y=1.0)))(x),
                               3 * x ** 2, rtol=1e-15)
