"""Gradients of small programs, where each op's call costs more than its arithmetic: the Numba
backend (the default) against the NumPy backend and JAX's jit, in one run.

    python benchmarks/small_programs.py [--calls 300]

Prints, per program, the median time of one gradient call, the four called in turn in
bursts: the Numba backend once the function runs compiled whole (its steps in one compiled
function, as a hot function's are: `ADCOMPILER_LOOPS=compile`), the same with its driver's
steps as Python (`=python`, as before it is hot; a run-time loop then runs as Python too,
where hot it would be compiled on its own), the NumPy backend, and `jax.jit(jax.grad(...))`
of the same program in jax.numpy where JAX is installed (its loop a `lax.fori_loop` of static
bounds: JAX's reverse mode refuses a `while_loop`), and the first's ratios to the others.
Re-executes itself without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE and with every library on 2
threads, as gpt_step.py does. The programs live in small_models.py (functions given to
adcompiler must be in a file).
"""
from __future__ import annotations

import argparse
import time
import types

import numpy as np

import gpt_step


def programs():
    """(name, function, arguments, wrt) of each program."""
    import small_models as m
    rng = np.random.default_rng(0)
    out = []
    for n, steps in ((8, 40), (64, 20)):
        w, u = rng.normal(size=(n, n)) * 0.3, rng.normal(size=(n, n)) * 0.3
        xs, y = rng.normal(size=(steps, 4, n)), rng.normal(size=(4, n))
        out.append((f"RNN unrolled, {steps} steps of 4x{n}", m.rnn, (w, u, xs, y), (0, 1)))
    params = {"W1": rng.normal(size=(16, 32)) * 0.2, "b1": np.zeros(32),
              "W2": rng.normal(size=(32, 4)) * 0.2, "b2": np.zeros(4)}
    out.append(("MLP 16-32-4, batch 8", m.mlp, (params, rng.normal(size=(8, 16)),
                                                rng.normal(size=(8, 4))), 0))
    out.append(("logistic regression, run-time loop of 10", m.logistic_steps,
                (rng.normal(size=5), rng.normal(size=(20, 5)), rng.random(20) > 0.5), 0))
    return out


def medians(runs, args, calls, burst=25):
    """The median time of one call of each of `runs` (label -> (function, setup)): each called
    in bursts of `burst` calls (`setup()` first, the burst's first call untimed), in turn, so
    that a drift of the machine's speed falls on all alike."""
    times = {label: [] for label in runs}
    for _ in range(max(calls // burst, 1)):
        for label, (g, setup) in runs.items():
            setup()
            g(*args)                        # (the very first compiles or loads)
            for _ in range(burst):
                t = time.perf_counter()
                g(*args)
                times[label].append(time.perf_counter() - t)
    return {label: float(np.median(ts)) for label, ts in times.items()}


def jax_programs():
    """The programs in jax.numpy, by name, or {} without JAX: small_models' own, but for the
    run-time loop, which JAX's reverse mode takes only as a loop of static bounds."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return {}
    jax.config.update("jax_enable_x64", True)

    import small_models as m

    def in_jax(f):      # small_models' own function, its `np` jax.numpy
        return types.FunctionType(f.__code__, dict(f.__globals__, np=jnp), f.__name__)

    def logistic_steps(w, x, labels):
        def step(_, b):
            z = x @ w + b
            return b - 0.1 * jnp.mean(1 / (1 + jnp.exp(-z)) - labels)
        # (JAX's reverse mode refuses a while_loop: a fori_loop of static bounds, a scan)
        b = jax.lax.fori_loop(0, 10, step, 0.0)
        z = x @ w + b
        return jnp.mean(jnp.logaddexp(0.0, z) - labels * z)

    def jitted(f, wrt):
        g = jax.jit(jax.grad(f, argnums=wrt))
        return lambda *args: jax.block_until_ready(g(*args))
    return {"rnn": lambda wrt: jitted(in_jax(m.rnn), wrt),
            "mlp": lambda wrt: jitted(in_jax(m.mlp), wrt),
            "logistic_steps": lambda wrt: jitted(logistic_steps, wrt)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=300)
    a = ap.parse_args()
    gpt_step.benchmark_env(2)
    import adcompiler
    from adcompiler.backends.numba_cpu import runtime
    jaxed = jax_programs()
    print("| program | numba compiled whole us | numba, steps as Python us | numpy us | jax jit us "
          "| ÷ steps as Python | ÷ numpy | ÷ jax |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    def loops(mode):
        return lambda: setattr(runtime, "LOOPS", mode)      # (read at each call)
    for name, f, args, wrt in programs():
        runs = {"whole": (adcompiler.grad(f, wrt=wrt, backend="numba"), loops("compile")),
                "steps": (adcompiler.grad(f, wrt=wrt, backend="numba"), loops("python")),
                "numpy": (adcompiler.grad(f, wrt=wrt, backend="numpy"), lambda: None)}
        if f.__name__ in jaxed:
            runs["jax"] = (jaxed[f.__name__](wrt), lambda: None)
        t = medians(runs, args, a.calls)
        us = {k: f"{v * 1e6:.1f}" for k, v in t.items()}
        ratio = {k: f"{t['whole'] / v:.2f}" for k, v in t.items()}
        print(f"| {name} | {us['whole']} | {us['steps']} | {us['numpy']} | {us.get('jax', '-')} "
              f"| {ratio['steps']} | {ratio['numpy']} | {ratio.get('jax', '-')} |")


if __name__ == "__main__":
    main()
