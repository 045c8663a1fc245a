"""A/B of a run-time setting of the Numba backend on one GPT config's gradient, alternating
the two settings call by call in one process, so that a machine whose speed drifts (a shared
VM: 1.5-2x within minutes) slows both alike.

    python benchmarks/ab.py CONFIG 'mkl.SPIN_BELOW = 0' [--pairs 20]
    python benchmarks/ab.py CONFIG 'mkl.LIB = None'     # SciPy's OpenBLAS path instead of MKL

The setting is an assignment run with `runtime`, `mkl` and `driver` (the backend's modules) in
scope; A is the value before it, B after. It re-executes itself without OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE and with 2 threads for every library, like gpt_step.py. Prints the median
gradient time of each and the median of the B/A ratios of neighbouring calls.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import gpt_step


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config")
    ap.add_argument("setting", help="a statement, e.g. 'mkl.SPIN_BELOW = 0'")
    ap.add_argument("--pairs", type=int, default=20)
    a = ap.parse_args()
    gpt_step.benchmark_env(2)
    sys.path.insert(0, str(gpt_step.BENCH))
    from adcompiler.backends.numba_cpu import driver, mkl, runtime
    scope = {"runtime": runtime, "mkl": mkl, "driver": driver}
    _, prog, state, data, _ = gpt_step.adcompiler_step(a.config, "numba")

    def grad():
        prog.grad(*state["p"], *data)

    target = a.setting.split("=")[0].strip()
    settings = {"A": eval(target, scope)}
    exec(a.setting, scope)
    settings["B"] = eval(target, scope)
    times = {"A": [], "B": []}
    for i in range(a.pairs):
        for name in ("AB" if i % 2 == 0 else "BA"):
            scope["_value"] = settings[name]
            exec(f"{target} = _value", scope)
            grad()                          # one call to settle after the switch
            t = time.perf_counter()
            grad()
            times[name].append(time.perf_counter() - t)
    ta, tb = np.array(times["A"]), np.array(times["B"])
    print(f"{a.config}: A ({target} = {settings['A']!r}) {np.median(ta) * 1e3:.2f} ms, "
          f"B ({settings['B']!r}) {np.median(tb) * 1e3:.2f} ms; B/A {np.median(tb / ta):.3f} "
          f"(B faster in {np.mean(tb < ta) * 100:.0f}% of {a.pairs} pairs)")


if __name__ == "__main__":
    main()
