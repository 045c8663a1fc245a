"""Gradients of small programs, where each op's call costs more than its arithmetic: the Numba
backend (the default) against the NumPy backend, in one run.

    python benchmarks/small_programs.py [--calls 300]

Prints, per program, the median time of one `grad` call on each backend and their ratio.
Re-executes itself without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE and with every library on 2
threads, as gpt_step.py does. The programs live in small_models.py (functions given to
adcompiler must be in a file).
"""
from __future__ import annotations

import argparse
import time

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


def median_call(g, args, calls):
    g(*args)                                # compile (or load) first
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        g(*args)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=300)
    a = ap.parse_args()
    gpt_step.benchmark_env(2)
    import adcompiler
    print("| program | numba us | numpy us | numba / numpy |")
    print("|---|--:|--:|--:|")
    for name, f, args, wrt in programs():
        t = {b: median_call(adcompiler.grad(f, wrt=wrt, backend=b), args, a.calls)
             for b in ("numba", "numpy")}
        print(f"| {name} | {t['numba'] * 1e6:.1f} | {t['numpy'] * 1e6:.1f} | "
              f"{t['numba'] / t['numpy']:.2f} |")


if __name__ == "__main__":
    main()
