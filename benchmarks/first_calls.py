"""First calls of scalar, loop and second-order programs: how long a gradient's first call
takes (trace, differentiation, code generation and compiling, from empty caches) on the Numba
backend, waiting for its kernels (ADCOMPILER_FIRST_CALLS=compile) and running the NumPy
reference's code while a child process compiles them (the default, tier.py), and on the NumPy
backend, and a later call, in one run.

    python benchmarks/first_calls.py

Each program's first calls run in a process of their own with a cache folder of their own
(which starts empty), so nothing compiled for one program serves another. Programs: a
binomial tree's backward (a loop over shrinking slices), a Holt-Winters recursion whose
season is a list (unrolled, scalar steps), an AR(3) likelihood reading the window y[t - 3:t]
(a loop), a Lennard-Jones cluster's Hessian. Re-executes itself without OPENBLAS_CORETYPE /
OPENBLAS_L2_SIZE and with every library on 2 threads, as gpt_step.py does.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import gpt_step


def binomial_tree(spot, vol, steps):
    """A Cox-Ross-Rubinstein call price (strike 100, rate 5 %, one year)."""
    k, r, dt = 100.0, 0.05, 1.0 / steps
    up = np.exp(vol * np.sqrt(dt))
    down = 1.0 / up
    q = (np.exp(r * dt) - down) / (up - down)
    prices = spot * up ** np.arange(steps, -1, -1) * down ** np.arange(steps + 1)
    values = np.maximum(prices - k, 0.0)
    for i in reversed(range(steps)):
        values = np.exp(-r * dt) * (q * values[:i + 1] + (1 - q) * values[1:i + 2])
    return values[0]


def holt_winters(alpha, beta, gamma, y):
    m = 4
    level, trend, sse = np.mean(y[:m]), 0.0, 0.0
    season = list(y[:m] - level)
    for t in range(m, len(y)):
        s = season[t - m]
        sse = sse + (y[t] - level - trend - s) ** 2
        new = alpha * (y[t] - s) + (1 - alpha) * (level + trend)
        trend = beta * (new - level) + (1 - beta) * trend
        season.append(gamma * (y[t] - new) + (1 - gamma) * s)
        level = new
    return sse


def ar_likelihood(phi, sigma, y):
    p, ll = phi.shape[0], 0.0
    for t in range(p, y.shape[0]):
        e = y[t] - phi @ y[t - p:t][::-1]
        ll += -0.5 * np.log(2 * np.pi * sigma ** 2) - 0.5 * e ** 2 / sigma ** 2
    return ll


def lennard_jones(x, sigma):
    """A cluster's Lennard-Jones energy (its Hessian: the normal modes)."""
    d = x[:, None, :] - x[None, :, :]
    r2 = np.sum(d * d, axis=-1) + np.eye(x.shape[0])
    s6 = (sigma * sigma / r2) ** 3
    return 2.0 * np.sum((s6 * s6 - s6) * (1.0 - np.eye(x.shape[0])))


def programs():
    y = np.random.default_rng(0).normal(size=300)
    atoms = np.random.default_rng(1).normal(size=(6, 3)) * 2.0
    return {"binomial tree, 100 steps": (binomial_tree, (101.0, 0.2, 100), (1,)),
            "Holt-Winters with a list, 60 steps": (holt_winters, (0.3, 0.1, 0.2, y[:60]),
                                                   (0, 1, 2)),
            "AR(3) reading y[t - 3:t], 300 steps": (ar_likelihood,
                                                    (np.array([0.3, -0.2, 0.1]), 1.2, y),
                                                    (0, 1)),
            "Lennard-Jones Hessian, 6 atoms": (lennard_jones, (atoms, 1.0), "hessian")}


def child(name, backend):
    """Print {first, later, compiled} seconds of `name`'s gradient (or Hessian) on `backend`,
    in this process: its first call, the median of the 5 after it, and when the last call
    that ran the NumPy reference's code while kernels compiled aside ended (tier.py; 0: none
    did), from the first call's start."""
    import adcompiler
    from adcompiler.backends.numba_cpu import tier
    ended = [0.0]

    def first_calls(driver, key, reference):
        def timed():
            fn = reference()
            return lambda *args: (fn(*args), ended.__setitem__(0, time.perf_counter()))[0]
        return first_calls_of(driver, key, timed)
    first_calls_of, tier.first_calls = tier.first_calls, first_calls
    f, args, wrt = programs()[name]
    g = (adcompiler.hessian(f, backend=backend) if wrt == "hessian"
         else adcompiler.grad(f, wrt=wrt, backend=backend))
    t0 = time.perf_counter()
    g(*args)
    first = time.perf_counter() - t0
    later = []
    for _ in range(5):
        t = time.perf_counter()
        g(*args)
        later.append(time.perf_counter() - t)
    while time.perf_counter() - max(ended[0], t0) < 5.0 and time.perf_counter() - t0 < 120:
        g(*args)
    print(json.dumps({"first": first, "later": float(np.median(later)),
                      "compiled": max(ended[0] - t0, 0.0)}))


def measure(name, backend, first_calls="numpy") -> dict:
    with tempfile.TemporaryDirectory(prefix="adcompiler-first-") as cache:
        out = subprocess.run([sys.executable, __file__, "--child", name, backend],
                             env={**os.environ, "ADCOMPILER_CACHE_DIR": cache,
                                  "ADCOMPILER_FIRST_CALLS": first_calls},
                             capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:4])
        return
    gpt_step.benchmark_env(2)
    print("| program | numba first call s: waiting for kernels / on NumPy meanwhile "
          "| kernels run from s | numpy first call s | numba later ms: compiled / meanwhile "
          "| numpy later ms |")
    print("|---|--:|--:|--:|--:|--:|")
    for name in programs():
        wait, tiered = measure(name, "numba", "compile"), measure(name, "numba")
        np_ = measure(name, "numpy")
        print(f"| {name} | {wait['first']:.1f} / {tiered['first']:.1f} "
              f"| {tiered['compiled']:.1f} | {np_['first']:.1f} "
              f"| {wait['later'] * 1e3:.2f} / {tiered['later'] * 1e3:.2f} "
              f"| {np_['later'] * 1e3:.2f} |", flush=True)


if __name__ == "__main__":
    main()
