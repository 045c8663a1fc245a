"""What a program sees while a hot function is compiled: the gradient of a small program called
in a loop from a cold start (an empty cache directory), with the compile of its function
compiled whole done aside, in a child process (runtime.Compiled, ADCOMPILER_LOOPS=auto, the
default) and, as before that, in the calling process, which stopped the program meanwhile.

    python benchmarks/tiering.py [--seconds 20]

Each way runs in a fresh process of its own with a cache directory of its own, the program
small_models.rnn (an RNN of 4x8 arrays unrolled 40 steps, small_programs.py's first). Prints
per way: the first call (tracing, differentiation, code generation and the driver's kernels),
the longest call after it, when the calls start to run compiled (the first 50 calls in a row
that average under 1.5 times the median of the last 100), how many calls ran in the time,
and the median call before that (less any call of 0.1 s or more) and after. Re-executes
itself without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE and with every library on 2 threads, as
gpt_step.py does.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import gpt_step

WAYS = {"aside": "compiled aside (a child process)",
        "here": "compiled here (the calling process, as before)"}


def run(way, seconds):
    """Call the gradient for `seconds`; print one JSON line of what the calls took."""
    import adcompiler
    import small_models as m
    from adcompiler.backends.numba_cpu import runtime
    if way == "here":       # the old way: a hot function compiles at its next call
        runtime.Compiled._compiled_aside = lambda self, args: True
    rng = np.random.default_rng(0)
    w, u = rng.normal(size=(8, 8)) * 0.3, rng.normal(size=(8, 8)) * 0.3
    xs, y = rng.normal(size=(40, 4, 8)), rng.normal(size=(4, 8))
    g = adcompiler.grad(m.rnn)
    ts = []
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        t = time.perf_counter()
        g(w, u, xs, y)
        ts.append(time.perf_counter() - t)
    ts = np.array(ts)
    last = np.median(ts[-100:])         # (compiled, where the time sufficed)
    runs = np.convolve(ts, np.ones(50) / 50, mode="valid")
    k = 1 + int(np.argmax(runs[1:] < 1.5 * last))
    before = ts[1:k][ts[1:k] < 0.1]     # (not the call that compiled)
    print(json.dumps({"first": ts[0], "longest": ts[1:].max(), "compiled_from": ts[:k].sum(),
                      "calls": len(ts), "before": np.median(before) if before.size else None,
                      "after": np.median(ts[k:])}, default=float))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--worker", choices=WAYS)
    a = ap.parse_args()
    gpt_step.benchmark_env(2)
    if a.worker:
        run(a.worker, a.seconds)
        return
    print(f"# gradient of small_models.rnn called for {a.seconds:g} s from a cold start, "
          "each way in its own process and cache directory")
    print("| the hot function | first call s | longest later call s | runs compiled from s "
          "| calls | median call before us | after us |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for way, label in WAYS.items():
        with tempfile.TemporaryDirectory(prefix="adcompiler-tiering-") as cache:
            out = subprocess.run([sys.executable, __file__, "--worker", way, "--seconds",
                                  str(a.seconds)], env=dict(os.environ, ADCOMPILER_CACHE_DIR=cache),
                                 capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        before = f"{r['before'] * 1e6:.0f}" if r["before"] is not None else "-"
        print(f"| {label} | {r['first']:.2f} | {r['longest']:.2f} | {r['compiled_from']:.1f} "
              f"| {r['calls']} | {before} | {r['after'] * 1e6:.0f} |")


if __name__ == "__main__":
    main()
