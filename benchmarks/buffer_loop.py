"""Gradient of a loop that fills an array row by row (an RNN's states, `hs[t + 1] = ...`): how
its time grows with the trip count, adcompiler's two backends beside PyTorch eager (the rows in a
list, then stacked: its autograd refuses the in-place version) and JAX jit (`lax.fori_loop` with
`.at[].set`) when installed, in one run.

    python benchmarks/buffer_loop.py [--steps 250,1000,4000] [--calls 5]

Prints, per trip count, the median time of one gradient, its time per step, and each
reference's ratio to adcompiler-numba, whose loops run compiled (backends/numba_cpu/loops.py)
and, in the column beside it, as Python. Writing each row into the carried array in place
(backends/inplace.py) is what keeps the time per step flat; a copy per iteration made it grow
with the trip count. Re-executes itself without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE and with
every library on 2 threads, as gpt_step.py does.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import gpt_step
from small_programs import median_call

D = 16


def rnn(w, xs, h0):
    hs = np.zeros((xs.shape[0] + 1, D))
    hs[0] = h0
    for t in range(xs.shape[0]):
        hs[t + 1] = np.tanh(w @ hs[t] + xs[t])
    return np.sum(hs * hs)


def numba_grad(loops):
    """The Numba backend's gradient, its loops compiled ("compile": backends/numba_cpu/loops.py)
    or run as Python ("python"), as the option `loops` says."""
    import adcompiler as adc
    from adcompiler.backends.numba_cpu import runtime as rt
    g = adc.grad(rnn, backend="numba")

    def run(*args):
        rt.LOOPS = loops
        return g(*args)
    return run


def torch_grad():
    import torch

    # (rows kept in a list and stacked: autograd refuses `hs[t + 1] = ...` here, "one of the
    # variables needed for gradient computation has been modified by an inplace operation")
    def grad(w, xs, h0):
        w = w.detach().requires_grad_()
        hs = [h0]
        for t in range(xs.shape[0]):
            hs.append(torch.tanh(w @ hs[t] + xs[t]))
        torch.sum(torch.stack(hs) ** 2).backward()
        return w.grad
    return lambda w, xs, h0: grad(*(torch.from_numpy(a) for a in (w, xs, h0)))


def jax_grad():
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)

    def loss(w, xs, h0):
        hs = jnp.zeros((xs.shape[0] + 1, D)).at[0].set(h0)
        hs = jax.lax.fori_loop(0, xs.shape[0],
                               lambda t, hs: hs.at[t + 1].set(jnp.tanh(w @ hs[t] + xs[t])), hs)
        return jnp.sum(hs * hs)
    g = jax.jit(jax.grad(loss))
    return lambda *args: g(*args).block_until_ready()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", default="250,1000,4000")
    ap.add_argument("--calls", type=int, default=5)
    a = ap.parse_args()
    gpt_step.benchmark_env(2)
    import adcompiler as adc
    runs = {"adcompiler-numba": numba_grad("compile"),
            "adcompiler-numba, loops as Python": numba_grad("python"),
            "adcompiler-numpy": adc.grad(rnn, backend="numpy")}
    for name, make in (("torch eager", torch_grad), ("JAX jit", jax_grad)):
        try:
            runs[name] = make()
        except ImportError:
            print(f"({name}: not installed)")
    rng = np.random.default_rng(0)
    w, h0 = rng.normal(size=(D, D)) * 0.3, rng.normal(size=D)
    print(f"| steps | {' | '.join(runs)} | "
          + " | ".join(f"{n} / numba" for n in list(runs)[1:]) + " |")
    print("|---" * (2 * len(runs)) + "|")
    t = time.perf_counter()
    runs["adcompiler-numba"](w, rng.normal(size=(3, D)), h0)
    first = time.perf_counter() - t
    for steps in map(int, a.steps.split(",")):
        xs = rng.normal(size=(steps, D))
        ms = {n: median_call(g, (w, xs, h0), a.calls) * 1e3 for n, g in runs.items()}
        cells = [f"{t:.1f} ms ({t / steps * 1e3:.0f} us/step)" for t in ms.values()]
        ratios = [f"{t / ms['adcompiler-numba']:.2f}" for t in list(ms.values())[1:]]
        print(f"| {steps} | {' | '.join(cells)} | {' | '.join(ratios)} |")
    print(f"\nadcompiler-numba's first call, which compiles its two loops (or loads them from "
          f"Numba's disk cache): {first:.1f} s")


if __name__ == "__main__":
    main()
