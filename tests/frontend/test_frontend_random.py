"""Random numbers in traced code: a draw from a generator the function did not seed itself
would be frozen into the compiled program (the same numbers every call, where NumPy draws new
ones), so it is a located error; a generator seeded inside from a static seed gives NumPy's
numbers (the same every call, in NumPy too), in loops too, where a draw makes the loop unroll,
or is an error where it cannot (a run-time trip count or branch)."""
import random

import numpy as np
import pytest

import adcompiler
from fecheck import located_error, rand

FILE = "test_frontend_random.py"
RNG = np.random.default_rng(7)
PY_RNG = random.Random(7)


def legacy_rand(x):
    return x * (np.random.rand(*x.shape) < 0.5)


def legacy_normal(x):
    return x + np.random.normal(0.0, 1.0, x.shape)


def legacy_seed(x):
    np.random.seed(0); return x + np.random.rand()  # noqa: E702 (one line: see located_error)


def outside_generator(x):
    return x * (RNG.random(x.shape) < 0.5)


def unseeded_generator(x):
    return x + np.random.default_rng().normal(size=x.shape)


def python_random(x):
    return x * random.random()


def python_generator(x):
    return x * PY_RNG.gauss(0.0, 1.0)


@pytest.mark.parametrize("f, spelled", [
    (legacy_rand, "np.random.rand"), (legacy_normal, "np.random.normal"),
    (legacy_seed, "np.random.seed"), (outside_generator, "Generator.random"),
    (unseeded_generator, "Generator.normal"), (python_random, "random.random"),
    (python_generator, "random.gauss")])
def test_draws_from_outside_generators_are_located_errors(f, spelled):
    e = located_error(f, (rand(3, 4),), f"{spelled} would run once, while adcompiler traces", FILE)
    assert "pass the array in as an argument" in str(e)


def seeded_noise(w, x, seed):
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=x.shape) + np.random.RandomState(seed).rand(*x.shape)
    bits = np.random.Generator(np.random.PCG64(seed)).random(x.shape[1])
    return np.sum(np.tanh((x + noise) @ w) * bits[0]) + random.Random(seed).random()


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_generators_seeded_inside_give_numpys_numbers(backend):
    w, x = rand(4), rand(3, 4)
    g = adcompiler.value_and_grad(seeded_noise, backend=backend)
    for seed in (0, 1, 0):
        value, grad = g(w, x, seed)
        np.testing.assert_allclose(value, seeded_noise(w, x, seed), rtol=1e-12)
        eps = 1e-6
        fd = [(seeded_noise(w + eps * e, x, seed) - seeded_noise(w - eps * e, x, seed)) / (2 * eps)
              for e in np.eye(4)]
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


def random_walk(x, n):
    rng = np.random.default_rng(0)
    for _ in range(n):
        x = x + rng.normal(size=x.shape)
    return x


def noisy_rows(x, n):
    r = random.Random(1)
    out = []
    for _ in range(n):
        out.append(x * r.random())
    return np.stack(out)


def seeded_each_iteration(x, n):
    for _ in range(n):
        rng = np.random.default_rng(0)
        x = x + rng.normal(size=x.shape)
    return x


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_draws_in_loops_give_numpys_numbers(backend):
    """A draw in a loop kept as a loop gave every iteration the same numbers (the body is
    traced once), and a loop traced as a loop first and then unrolled skipped the numbers the
    abandoned trace drew."""
    x = rand(2)
    for f in (random_walk, noisy_rows, seeded_each_iteration):
        np.testing.assert_allclose(adcompiler.jit(f, backend=backend)(x, 3), f(x, 3),
                                   rtol=1e-12)
    loss = lambda x: np.sum(random_walk(x, 3) ** 2)      # noqa: E731
    np.testing.assert_allclose(adcompiler.grad(loss, backend=backend)(x),
                               2 * random_walk(x, 3), rtol=1e-12)


def walk_run_time_steps(x, n):
    rng = np.random.default_rng(0)
    for _ in range(n):
        x = x + rng.normal(size=x.shape)
    return x


def noise_in_a_branch(x):
    rng = np.random.default_rng(0); return x + rng.normal(size=2) if np.sum(x) > 0 else x  # noqa: E702


def test_draws_a_run_time_loop_or_branch_cannot_repeat_are_errors():
    with pytest.raises(adcompiler.TraceError, match=rf"{FILE}:\d+: it draws random numbers from "
                       r"a generator made before the loop .*which a loop with a run-time trip "
                       r"count cannot do"):
        adcompiler.trace(walk_run_time_steps, rand(2), np.int64(3))
    located_error(noise_in_a_branch, (rand(2),), "a draw from a random generator made before "
                  "this run-time if: NumPy draws only in the branch taken", FILE)


def reparameterised(mu, s):
    rng = np.random.default_rng(3)
    legacy = np.random.RandomState(3)
    a = rng.normal(loc=mu, scale=s)
    b = rng.lognormal(mu, s, size=(2, 3))
    c = legacy.uniform(mu, mu + s) + legacy.normal(mu[0], 2.0, size=2)[0]
    return np.sum(a * b[0] * c + rng.exponential(s) + legacy.exponential(s[1]))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_draws_with_run_time_parameters_are_numpys_and_reparameterised(backend):
    """rng.normal(loc=mu, scale=s) with run-time mu and s (lognormal, uniform, exponential;
    Generator and RandomState) was refused; it is NumPy's draw (loc + scale * the standard
    draw, as NumPy computes it) and its gradient the pathwise one (finite differences of
    NumPy's own draws); a negative scale is NumPy's ValueError, when the draw runs."""
    mu, s = np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.3, 2.0])
    g = adcompiler.value_and_grad(reparameterised, wrt=(0, 1), backend=backend)
    value, (gmu, gs) = g(mu, s)
    np.testing.assert_allclose(value, reparameterised(mu, s), rtol=1e-14)
    eps = 1e-6
    for got, shift in ((gmu, lambda e: (mu + eps * e, s)), (gs, lambda e: (mu, s + eps * e))):
        fd = [(reparameterised(*shift(e)) - reparameterised(*shift(-e))) / (2 * eps)
              for e in np.eye(3)]
        np.testing.assert_allclose(got, fd, rtol=1e-6)
    with pytest.raises(ValueError):
        reparameterised(mu, -s)
    with pytest.raises(adcompiler.AssertionFailed, match=r"scale < 0 \(NumPy's ValueError\)"):
        g(mu, -s)


def test_reparameterised_draws_are_numpys_generators_only_and_bad_calls_are_located():
    """random.Random's uniform is no NumPy generator's (it said 'internal error'), and a call
    that does not fit NumPy's parameters is Python's TypeError at the user's line."""
    def python_uniform(x):
        r = random.Random(0)
        return x * r.uniform(x[0], 2.0)

    def bad_keyword(x):
        rng = np.random.default_rng(0)
        return rng.normal(x, scal=1.0)
    with pytest.raises(adcompiler.TraceError, match=rf"{FILE}:\d+: Random\.uniform is not "
                                                    r"supported on run-time arrays"):
        adcompiler.trace(python_uniform, rand(3))
    with pytest.raises(adcompiler.TraceError, match=rf"{FILE}:\d+: normal\(\): got an "
                                                    r"unexpected keyword argument 'scal'"):
        adcompiler.trace(bad_keyword, rand(3))


def test_a_generators_uniform_with_high_below_low_is_numpys_error():
    """Generator.uniform raises where high < low (RandomState's draws, as NumPy's)."""
    def draw(low):
        return np.random.default_rng(0).uniform(low, 0.0), \
            np.random.RandomState(0).uniform(low, 0.0)
    with pytest.raises(ValueError):
        draw(np.array([1.0]))
    with pytest.raises(adcompiler.AssertionFailed, match=r"high - low < 0"):
        adcompiler.jit(draw)(np.array([1.0]))
    low = np.array([-1.0])
    for got, want in zip(adcompiler.jit(draw)(low), draw(low), strict=True):
        np.testing.assert_array_equal(got, want)


def seeded_by_an_array(x):
    return x * np.random.default_rng(np.int64(np.sum(x > 0))).random(x.shape)


def generator_seeded_by_an_array(x):
    return x * np.random.RandomState(np.int64(np.sum(x > 0))).rand(*x.shape)


@pytest.mark.parametrize("f", [seeded_by_an_array, generator_seeded_by_an_array])
def test_a_run_time_seed_says_to_pass_a_python_int(f):
    located_error(f, (rand(3),), "a generator's seed must be static: pass it as a Python int",
                  FILE)
