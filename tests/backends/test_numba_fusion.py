"""The fusion pass's loop domains (`fusion.partition`): a group's loops are those of its
biggest op, never the product of unrelated ones."""
import math

import numpy as np

from adcompiler.backends.numba_cpu import program
from adcompiler.backends.numba_cpu.fusion import partition
from adcompiler.backends.numba_cpu.program import inlined
from adcompiler.frontend import trace
from adcompiler.ir.passes import run_passes


def update(params, grads, coef):
    """An optimiser step: after CSE every parameter's chain reads the same scalars."""
    return [p * coef[0] - (1.0 - coef[0]) * coef[1] * g for p, g in zip(params, grads)]


def test_chains_sharing_a_scalar_keep_their_own_loops():
    params = [np.ones((4, 6)), np.ones((5, 3)), np.ones((7,))]
    fn = inlined(trace(update, params, params, np.ones(2)))
    fn = run_passes(fn, ["fold", "simplify", "cse", "dce"])
    groups = [g for kind, g in partition(fn.body) if kind == "kernel"]
    assert groups
    for g in groups:
        biggest = max(math.prod(op.result.type.shape) for op in g.ops)
        assert math.prod(g.domain) <= biggest, (g.domain, [op.name for op in g.ops])


def test_chains_sharing_a_scalar_are_not_merged():
    """Identical layers' updates stay separate kernels of one source, so they share one
    compiled kernel; the scalars they share (the frontend builds `coef[0]` once) are computed
    by kernels of their own."""
    params = [np.full((4, 6), 1.0 + i) for i in range(4)] + [np.full(7, 2.0), np.full(7, 3.0)]
    grads = [p * 0.5 for p in params]
    coef = np.array([0.9, 0.1])
    fn = inlined(trace(update, params, grads, coef))
    assert str(fn).count("= slice %coef") == 2
    groups = [g for kind, g in partition(fn.body) if kind == "kernel"]
    arrays = [g for g in groups if g.domain]       # the rest compute shared scalars
    assert len(arrays) == len(params)
    for g in arrays:
        assert len({tuple(op.result.type.shape) for op in g.ops} - {()}) == 1, g.domain
    source, ns, _ = program.build(fn.name, lambda: [(fn, True)])
    kernels = {line.split("(")[1].split(",")[0] for line in source.split("# =====")[0]
               .splitlines() if "rt.run(" in line or "rt.launch(" in line}
    assert len(kernels) <= 4
    got = ns[fn.name](*params, *grads, coef)
    for x, p, g in zip(got, params, grads, strict=True):
        np.testing.assert_allclose(x, update([p], [g], coef)[0], rtol=1e-15)


def per_step_losses(xs, ys, w):
    """A loss summed over steps (unrolled: the list is built in the loop): each step's mean is
    a reduction of its own, and the running total, a scalar chain reading every one of them,
    merges their groups."""
    losses = []
    for t in range(xs.shape[0]):
        losses.append(np.mean((xs[t] @ w - ys[t]) ** 2))
    return sum(losses)


def test_merged_groups_stay_under_the_size_cap():
    """Merging open groups obeys MAX_GROUP_OPS as joining does (a GRU's loss over 100 unrolled
    steps made one kernel of 1214 lines and 300 arguments: 11.5 s of Numba compile)."""
    from adcompiler.backends.numba_cpu import fusion
    fn = inlined(trace(per_step_losses, np.ones((60, 4, 5)), np.ones((60, 4)), np.ones(5)))
    fn = run_passes(fn, ["fold", "simplify", "cse", "dce"])
    sizes = [len(g.ops) for kind, g in partition(fn.body) if kind == "kernel"]
    assert max(sizes) <= fusion.MAX_GROUP_OPS, sizes


def relaxed(a, x0):
    """A scalar recurrence unrolled while tracing (the while test is static, and k is read
    after the loop, so it stays a Python int: loops.try_while): one long chain."""
    x, k = x0, 0
    while k < 120:
        x = x + 1e-4 * (a - x)
        k += 1
    return x if k == 120 else None


def chain_depth(group) -> int:
    depth = {}
    for op in group.ops:
        d = 1 + max((depth.get(x, 0) for x in op.operands), default=0)
        depth.update((r, d) for r in op.results)
    return max(depth.values())


def test_a_long_chain_is_split_into_kernels_of_bounded_depth():
    """LLVM's loop vectorizer takes time exponential in a kernel's longest chain of ops (an
    unrolled recurrence of 26 steps compiled in 8.8 s, of 250 not in 500 s)."""
    from adcompiler.backends.numba_cpu import fusion
    fn = inlined(trace(relaxed, 2.0, np.ones(3)))
    fn = run_passes(fn, ["fold", "simplify", "cse", "dce"])
    groups = [g for kind, g in partition(fn.body) if kind == "kernel"]
    assert len(groups) > 1 and max(map(chain_depth, groups)) <= fusion.MAX_GROUP_DEPTH
    source, ns, _ = program.build(fn.name, lambda: [(fn, True)])
    np.testing.assert_allclose(ns[fn.name](2.0, np.ones(3)), relaxed(2.0, np.ones(3)),
                               rtol=1e-14)


def binomial_tree(s0, sigma, n):
    """A loop over shrinking slices: step i reads V[:i + 1] and V[1:i + 2]."""
    dt = 1.0 / n
    u = np.exp(sigma * np.sqrt(dt))
    p = (np.exp(0.05 * dt) - 1.0 / u) / (u - 1.0 / u)
    j = np.arange(n + 1)
    v = np.maximum(s0 * u ** (n - 2 * j) - 100.0, 0.0)
    for i in range(n - 1, -1, -1):
        v = np.exp(-0.05 * dt) * (p * v[:i + 1] + (1 - p) * v[1:i + 2])
    return v[0]


def test_the_steps_of_a_loop_over_shrinking_slices_share_their_kernels():
    """The backward of every step adds its gradient into a slice of a longer array; the
    slice's bounds are kernel arguments, so the number of distinct kernels does not grow
    with the number of steps (it grew by 1.5 a step: 29-66 s of compiling at 100 steps)."""
    import adcompiler

    def distinct(n):
        src = adcompiler.grad(binomial_tree, wrt=1, backend="numba").adjoint_source(
            101.0, 0.2, n)
        heads = [line for line in src.splitlines() if line.startswith("# ----- kernel")]
        return {line.split()[3] for line in heads}

    few, many = distinct(8), distinct(24)
    assert len(many) <= len(few) + 1, (len(few), len(many))


def scalar_steps(x, n):
    """A scalar recursion unrolled (a list grows): every step's arithmetic is on scalars,
    SciPy's special functions too."""
    from scipy import special
    level, out = x[0], [x[1]]
    for t in range(n):
        level = 0.7 * level + 0.3 * math.erf(out[-1]) + special.ndtr(level) * x[2]
        out.append(level - special.gammaln(2.0 + level ** 2))
    return out[-1] ** 2


def test_scalar_arithmetic_runs_on_numpy_scalars_without_kernels():
    """Scalar steps are the NumPy backend's code on NumPy scalars, not kernels to compile
    (a recursion unrolled 40 times compiled 53 of them: 50 s), SciPy imported where they
    name it (it was missing: NameError)."""
    import adcompiler
    x = np.array([0.2, -0.4, 0.5])
    g = adcompiler.grad(scalar_steps, backend="numba")
    driver = g.adjoint_source(x, 6).split("# ===== kernels")[0]
    launched = {line.split("(")[1].split(",")[0] for line in driver.splitlines()
                if "rt.run(" in line or "rt.launch(" in line}
    assert len(launched) <= 1, launched       # (d_x assembled from its entries)
    want = adcompiler.grad(scalar_steps, backend="numpy")(x, 6)
    np.testing.assert_allclose(g(x, 6), want, rtol=1e-13)
    adcompiler.check_grad(scalar_steps, x, 6, backend="numba")
