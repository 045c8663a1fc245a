"""One GPT training step (forward + backward + AdamW), adcompiler against hand-written NumPy,
PyTorch eager and JAX jit, on the workloads of shared/bench/workload.md (same weights, same
batch: loss0 must read 4.171836 / 4.884884 / 5.600760 for tiny / small / medium).

    python benchmarks/gpt_step.py [--configs tiny,small,medium] [--cpus 0,1] [--rounds 2]

(shared/bench is found beside the repository, or at ADCOMPILER_BENCH_DIR.)

It re-executes itself with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from the
environment (they force OpenBLAS onto its slower AVX2 kernels; only this benchmark's processes
lose them) and with 2 threads for every library (`--threads`). Each implementation runs in its own process
(peak RSS is per process): the adcompiler rows here (`--worker`), the others through the
reference scripts of shared/bench (bench_numpy.py, bench_torch.py, bench_jax.py), skipped with
"not installed" when their library is missing. adcompiler-numba runs twice: with an empty
kernel cache (cold compile: trace, differentiate, generate and compile, until the first step
is done) and again in `WARM_RUNS` fresh processes on the filled cache (warm start: their
medians); both are also shown without one step's computing, which on a slow machine is most of
a warm start.

On a shared VM the speed drifts by tens of percent within minutes, so besides the table (each
implementation in its own process, one after the other; `--rounds N` repeats them) it times
adcompiler-numba, torch-eager and jax-jit in turn (`--paired BURSTS`): all set up in idle
processes, then 3 steps of one, 3 of the next, and so on; the ratios of those are the ones to
read.

adcompiler rows call the compiled program directly (`program.grad` on the flattened
parameters; AdamW is the local `adamw` below, traced and compiled by the same backend, without
clipping, as the reference scripts do it): the step times the generated code, not the
`value_and_grad(...)(params, ...)` call path (its pytree walk, argument conversion and NaN check:
about 0.8 ms per call on tiny) nor train.py's optimiser with its gradient-norm sums.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(os.environ.get("ADCOMPILER_BENCH_DIR") or ROOT.parent / "shared" / "bench")
DROP = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def thread_env(n):
    """Every library on n threads; a GPU, if any, stays unused."""
    return dict({k: str(n) for k in THREAD_VARS}, JAX_PLATFORMS="cpu")


def benchmark_env(threads):
    """Re-execute this process without `DROP` and with every library on `threads` threads,
    unless its environment is so already; return the thread settings. A program's first calls
    wait for its kernels (ADCOMPILER_FIRST_CALLS=compile, unless set): calls timed while a
    child compiled them would time the NumPy backend's code."""
    want = dict(thread_env(threads),
                ADCOMPILER_FIRST_CALLS=os.environ.get("ADCOMPILER_FIRST_CALLS", "compile"))
    if any(k in os.environ for k in DROP) or any(os.environ.get(k) != v
                                                 for k, v in want.items()):
        env = {k: v for k, v in os.environ.items() if k not in DROP}
        os.execve(sys.executable, [sys.executable] + sys.argv, dict(env, **want))
    return want


def adamw(params, grads, m, v, coef):
    """torch.optim.AdamW on lists of arrays; coef = (b1, b2, 1 - lr*wd, lr/(1-b1^t),
    sqrt(1-b2^t), eps) as a float array of the parameters' dtype."""
    new_p, new_m, new_v = [], [], []
    for p, g, mi, vi in zip(params, grads, m, v, strict=True):
        mi = coef[0] * mi + (1.0 - coef[0]) * g
        vi = coef[1] * vi + (1.0 - coef[1]) * (g * g)
        p = p * coef[2] - coef[3] * (mi / (np.sqrt(vi) / coef[4] + coef[5]))
        new_p.append(p)
        new_m.append(mi)
        new_v.append(vi)
    return new_p, new_m, new_v


def adcompiler_step(cfg_name, backend):
    """(step, prog, params and data, loss0) of one adcompiler backend, its first step done."""
    import gptconfig as G
    import adcompiler
    from adcompiler.api import backend_module
    from adcompiler.frontend import trace
    sys.path.insert(0, str(ROOT / "examples" / "gpt"))
    import model

    c = G.get_config(cfg_name)
    flat = G.init_params(c)
    P = {k: flat[k] for k in ("wte", "wpe", "lnf_g", "lnf_b", "head_w")}
    P["layers"] = [{k.split(".", 1)[1]: v for k, v in flat.items() if k.startswith(f"h{l}.")}
                   for l in range(c.L)]
    idx, tgt = G.make_batch(c)
    g = adcompiler.value_and_grad(model.loss, backend=backend)
    loss0, grads0 = g(P, idx, tgt, c.H)         # the first step's gradients
    prog = g._last.program
    sig = g._last.primal.meta["signature"]
    args = sig.flatten_args((P, idx, tgt, c.H), {})
    n = len(prog.adj.wrt)
    params, data = list(args[:n]), list(args[n:])
    first = sig.flatten_args((grads0, idx, tgt, c.H), {})[:n]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    coef = np.zeros(6, params[0].dtype)
    opt_primal = trace(adamw, params, params, m, v, coef)
    opt_sig = opt_primal.meta["signature"]
    opt = backend_module(backend).compile_function(opt_primal)
    state = {"t": 0, "p": params, "m": m, "v": v, "primal": g._last.primal}

    def step(grads=None):
        loss = None
        if grads is None:
            (loss,), grads = prog.grad(*state["p"], *data)
        state["t"] += 1
        t = state["t"]
        b1, b2 = G.BETAS
        coef[:] = (b1, b2, 1 - G.LR * G.WEIGHT_DECAY, G.LR / (1 - b1 ** t),
                   np.sqrt(1 - b2 ** t), G.ADAM_EPS)
        out = opt(*opt_sig.flatten_args((state["p"], list(grads), state["m"], state["v"],
                                         coef), {}))
        state["p"], state["m"], state["v"] = (list(x) for x in
                                             opt_sig.unflatten_result(out))
        return loss

    step(first)
    return step, prog, state, data, loss0


def interleaved(f, g, warmup, reps):
    """`gptconfig.time_fn` of f and of g, timed in runs of reps/2 calls in the order f g g f
    (each run after `warmup` untimed calls), so that a machine whose speed drifts slows both
    alike and the backward/forward ratio is not the drift's artefact. Runs, not single calls
    in turn: a forward sweep right after a gradient ran 1.6x slower on small (its fresh
    residual arrays page-faulted again)."""
    times = {f: [], g: []}
    for fn in (f, g, g, f):
        for _ in range(warmup):
            fn()
        for _ in range(max(reps // 2, 1)):
            t = time.perf_counter()
            fn()
            times[fn].append((time.perf_counter() - t) * 1e3)
    return tuple({"median_ms": statistics.median(ts), "min_ms": min(ts), "max_ms": max(ts),
                  "n": len(ts), "warmup": warmup} for ts in (times[f], times[g]))


def worker(cfg_name, backend, first_step_only=False):
    """Time one adcompiler backend in this process; print one JSON line (with
    `first_step_only`, as soon as the first step is done: the warm-start run)."""
    import gptconfig as G
    from adcompiler.api import backend_module
    t_start = time.perf_counter()
    step, prog, state, data, loss0 = adcompiler_step(cfg_name, backend)
    c = G.get_config(cfg_name)
    res = {"impl": f"adcompiler-{backend}", "config": c.name, **G.env_info()}
    res["first_step_s"] = time.perf_counter() - t_start     # import to first update done
    if first_step_only:
        t = time.perf_counter()
        step()
        res["second_step_s"] = time.perf_counter() - t
        print(json.dumps(res, default=float))
        return
    res["loss0"] = float(loss0)
    warmup, reps = G.REPS[c.name]
    res["step"] = G.time_fn(step, warmup, reps)
    # the forward: the loss alone, compiled by the same backend (as the workload times JAX's
    # jit(loss)); `prog.fwd`, the forward sweep that returns residuals for a later `bwd`,
    # allocates them anew every call, and the train step never runs it
    loss = backend_module(backend).compile_function(state["primal"])
    res["fwd"], res["fwdbwd"] = interleaved(lambda: loss(*state["p"], *data),
                                            lambda: prog.grad(*state["p"], *data),
                                            warmup, reps)
    with G.PeakMem() as pm:
        step()
    res["mem_step"] = pm.as_dict()
    res["ru_maxrss_mb"] = round(G.ru_maxrss_mb(), 1)
    G.add_rates(res, c)
    print(json.dumps(res, default=float))


def torch_step(cfg_name, threads):
    """The torch-eager row's step (bench_torch.py's defaults: math attention, AdamW)."""
    import gptconfig as G
    import torch
    from torch_gpt import GPT, make_optimizer
    torch.set_num_threads(threads)
    torch.manual_seed(G.SEED)
    c = G.get_config(cfg_name)
    model = GPT(c, attn_impl="math", ckpt=False).load_canonical(G.init_params(c))
    model.train()
    opt = make_optimizer(model)
    x, y = (torch.from_numpy(a) for a in G.make_batch(c))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model(x, y)
        loss.backward()
        opt.step()
        return loss
    return step


def jax_step(cfg_name):
    """The jax-jit row's step: bench_jax.py's own model, AdamW and state. That script times at
    import, so its text up to its timing (`rss_setup = `) runs here, and its train step is
    jitted as it does it (parameters and optimiser state donated)."""
    import jax
    path = BENCH / "bench_jax.py"
    text = path.read_text()
    ns = {"__name__": "bench_jax", "__file__": str(path)}
    argv, sys.argv = sys.argv, [str(path), "--config", cfg_name]
    try:
        exec(compile(text[:text.index("\nrss_setup = ")], str(path), "exec"), ns)
    finally:
        sys.argv = argv
    f = jax.jit(ns["train_step"], donate_argnums=(0, 1, 2))
    state = {k: ns[name] for k, name in (("p", "params"), ("m", "mstate"), ("v", "vstate"),
                                         ("t", "tstep"))}

    def step():
        p, m, v, t, loss = f(state["p"], state["m"], state["v"], state["t"], ns["idx"],
                             ns["tgt"])
        state.update(p=p, m=m, v=v, t=t)
        return jax.block_until_ready((p, m, v, loss))
    return step


STEPS = {"adcompiler-numba": lambda cfg, threads: adcompiler_step(cfg, "numba")[0],
         "torch-eager": torch_step, "jax-jit": lambda cfg, threads: jax_step(cfg)}


def serve(step, warmup):
    """After `warmup` untimed calls of `step`, for each line n on stdin time n steps and print
    their times (ms) as a JSON list; stop at end of input. The paired timing drives several of
    these in turn (`paired`)."""
    for _ in range(warmup):
        step()
    print("ready", flush=True)
    for line in sys.stdin:
        times = []
        for _ in range(int(line)):
            t = time.perf_counter()
            step()
            times.append((time.perf_counter() - t) * 1e3)
        print(json.dumps(times), flush=True)


def paired(cfg, env, threads, bursts, rivals, steps=3, script=__file__):
    """adcompiler-numba against each of `rivals` (here torch-eager, jax-jit), all set up in their own
    idle process (`script --serve`) and timed in turn, `steps` steps at a time (`bursts` times
    each, the order reversed every other burst): a slow spell of the machine then falls on all
    of them. {impl: median step ms} and {rival: median of the burst-by-burst ratios numba ÷
    rival}, or None when one of them failed to start."""
    me = [sys.executable, str(Path(script).resolve())]
    procs = {impl: subprocess.Popen(me + ["--serve", cfg, impl, str(threads)], env=env,
                                    cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    text=True)
             for impl in ("adcompiler-numba", *rivals)}
    try:
        for p in procs.values():
            if not any(line.strip() == "ready" for line in p.stdout):     # EOF: it failed
                return None
        times = {impl: [] for impl in procs}
        for b in range(bursts):
            for impl in (list(procs) if b % 2 == 0 else list(procs)[::-1]):
                procs[impl].stdin.write(f"{steps}\n")
                procs[impl].stdin.flush()
                times[impl].append(json.loads(procs[impl].stdout.readline()))
                time.sleep(0.05)    # the other's library threads stop spinning
    finally:
        for p in procs.values():
            p.stdin.close()
            p.wait()
    bursts_ms = {impl: np.median(np.array(t), axis=1) for impl, t in times.items()}
    ours = bursts_ms["adcompiler-numba"]
    return ({impl: float(np.median(np.array(t))) for impl, t in times.items()},
            {r: float(np.median(ours / bursts_ms[r])) for r in rivals})


def run(cmd, env, cwd):
    """The JSON object a benchmark process prints last, or {"error": ...}."""
    p = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    for line in reversed(p.stdout.strip().splitlines() or [""]):
        if line.startswith("{") and line.endswith("}"):
            return json.loads(line)
    text = p.stdout.strip()
    if text.startswith("{"):
        return json.loads(text)
    return {"error": (p.stderr or p.stdout).strip().splitlines()[-1:] or ["no output"]}


def installed(module, env):
    return subprocess.run([sys.executable, "-c", f"import {module}"], env=env,
                          capture_output=True).returncode == 0


REFERENCES = {"numpy-manual": ("numpy", "bench_numpy.py", ["--threads"]),
              "torch-eager": ("torch", "bench_torch.py", ["--no-profile-mem", "--threads"]),
              "jax-jit": ("jax", "bench_jax.py", None)}
TIMED = ("step", "fwdbwd", "fwd")
WARM_RUNS = 3       # one warm process read 3.4 s where the next two read 2.0 and 1.8 (medium)


def collect(cfg, env, threads, rounds, bursts):
    """Every implementation's row. With rounds > 1 the timed processes run again, in reverse
    order every other round, and each timing is the median of the rounds' medians: on a
    shared VM whose speed drifts by tens of percent over minutes, a slow spell then falls on
    every implementation alike. Compile, warm start and memory come from the first round;
    adcompiler-numpy (slow, and no target) runs in the first round only."""
    me = [sys.executable, str(Path(__file__).resolve())]
    have = {name: installed(module, env) for name, (module, _, _) in REFERENCES.items()}
    with tempfile.TemporaryDirectory() as cache:
        numba_env = dict(env, ADCOMPILER_CACHE_DIR=cache)

        def one(name):
            if name.startswith("adcompiler-"):
                backend = name.split("-", 1)[1]
                return run(me + ["--worker", cfg, backend],
                           numba_env if backend == "numba" else env, ROOT)
            if not have[name]:
                return {"error": ["not installed"]}
            _, script, extra = REFERENCES[name]
            args = [] if extra is None else extra + [str(threads)]
            return run([sys.executable, str(BENCH / script), "--config", cfg] + args, env, BENCH)

        names = ["adcompiler-numba", "adcompiler-numpy", *REFERENCES]
        rows = {name: one(name) for name in names}     # the first adcompiler-numba run is cold
        warm = [run(me + ["--worker", cfg, "numba", "--first-step-only"], numba_env, ROOT)
                for _ in range(WARM_RUNS)]
        warm = [w for w in warm if "first_step_s" in w]
        if warm:
            rows["adcompiler-numba"]["warm_start_s"] = statistics.median(
                w["first_step_s"] for w in warm)
            rows["adcompiler-numba"]["warm_less_step_s"] = statistics.median(
                w["first_step_s"] - w["second_step_s"] for w in warm)
        timed = [n for n in names if "step" in rows[n] and n != "adcompiler-numpy"]
        runs = {n: [rows[n]] for n in timed}
        for r in range(1, rounds):
            for name in (timed[::-1] if r % 2 else timed):
                runs[name].append(one(name))
        rivals = [n for n in ("torch-eager", "jax-jit") if have[n]]
        if bursts and rivals and "step" in rows["adcompiler-numba"]:
            rows["adcompiler-numba"]["paired"] = paired(cfg, numba_env, threads, bursts, rivals)
    for name in timed:
        ok = [x for x in runs[name] if "step" in x]
        rows[name]["round_step_ms"] = [x["step"]["median_ms"] for x in ok]
        for key in TIMED:
            if all(key in x for x in ok):
                rows[name][key]["median_ms"] = float(np.median([x[key]["median_ms"] for x in ok]))
    return rows


def table(cfg, rows):
    base = rows["adcompiler-numba"].get("step", {}).get("median_ms")
    out = [f"\n## {cfg}\n",
           "| impl | step ms | x numba | fwd ms | fwd+bwd ms | bwd/fwd | loss0 | "
           "compile s (less a step) | warm start s (less a step) | peak RSS MB | step dRSS MB |",
           "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for name, r in rows.items():
        if "error" in r:
            out.append(f"| {name} | {' '.join(r['error'])[:80]} |")
            continue

        def ms(key):
            return f"{r[key]['median_ms']:.2f}" if key in r else "-"
        step = r["step"]["median_ms"]
        compile_s = r.get("first_step_s") if name.startswith("adcompiler") else r.get("compile_s")
        compile_cell = f"{compile_s:.1f}" if compile_s else "-"
        if compile_s and name.startswith("adcompiler"):
            compile_cell += f" ({compile_s - step / 1e3:.1f})"
        warm, less = r.get("warm_start_s"), r.get("warm_less_step_s")
        warm_cell = f"{warm:.2f} ({less:.2f})" if warm else "-"
        fields = [name, ms("step"), f"{step / base:.2f}" if base else "-", ms("fwd"),
                  ms("fwdbwd"), f"{r.get('bwd_over_fwd', float('nan')):.2f}",
                  f"{r.get('loss0', float('nan')):.6f}",
                  compile_cell, warm_cell,
                  f"{r.get('ru_maxrss_mb', float('nan')):.0f}",
                  f"{r.get('mem_step', {}).get('peak_delta_mb', float('nan')):.1f}"]
        out.append("| " + " | ".join(fields) + " |")
    pair = rows["adcompiler-numba"].get("paired")
    if pair:
        steps, ratios = pair
        out.append("\npaired, in turn (bursts of 3 steps): "
                   + ", ".join(f"{impl} {ms:.2f} ms" for impl, ms in steps.items()) + "; "
                   + ", ".join(f"numba ÷ {r} {x:.2f}" for r, x in ratios.items())
                   + " (medians of the bursts' ratios)")
    ours = rows["adcompiler-numba"].get("round_step_ms", [])
    for name, r in rows.items():
        theirs = r.get("round_step_ms", [])
        if len(ours) > 1 and name != "adcompiler-numba" and len(theirs) == len(ours):
            ratios = " ".join(f"{a / b:.2f}" for a, b in zip(ours, theirs))
            out.append(f"\nnumba ÷ {name}, step, round by round: {ratios}")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="tiny,small,medium")
    ap.add_argument("--cpus", default=None, help="pin every process to these CPUs, e.g. 0,1")
    ap.add_argument("--threads", type=int, default=2, help="threads of every library")
    ap.add_argument("--worker", nargs=2, metavar=("CONFIG", "BACKEND"))
    ap.add_argument("--first-step-only", action="store_true",
                    help="with --worker: stop after the first step (warm-start run)")
    ap.add_argument("--json", default=None, help="also write all results here")
    ap.add_argument("--paired", type=int, default=10, metavar="BURSTS",
                    help="then time adcompiler-numba, torch-eager and jax-jit (where "
                         "installed) in turn, BURSTS times 3 steps each (0: not)")
    ap.add_argument("--serve", nargs=3, metavar=("CONFIG", "IMPL", "THREADS"))
    ap.add_argument("--rounds", type=int, default=1,
                    help="time every implementation this many times, alternating the order; "
                         "report the median of the rounds (for a machine whose speed drifts)")
    a = ap.parse_args()
    sys.path.insert(0, str(BENCH))
    if a.worker:
        worker(*a.worker, first_step_only=a.first_step_only)
        return
    if a.serve:
        import gptconfig as G
        cfg, impl, threads = a.serve
        serve(STEPS[impl](cfg, int(threads)), G.REPS[cfg][0])
        return
    want = benchmark_env(a.threads)
    if a.cpus:
        os.sched_setaffinity(0, {int(x) for x in a.cpus.split(",")})
    env = dict(os.environ)
    print(f"# GPT train step, {os.cpu_count()} CPUs visible, affinity "
          f"{sorted(os.sched_getaffinity(0))}; OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset for "
          f"this benchmark's processes; {a.threads} threads: {want}")
    print("# medians (ms); 'x numba' = step time / adcompiler-numba's; compile s = cold first "
          "step for adcompiler-numba (trace + AD + codegen + Numba), torch.compile/XLA for "
          "others; warm start = first step of a fresh process on the disk cache (median of "
          f"{WARM_RUNS}); "
          "(less a step): without one step's computing (cold: less the median step; warm: "
          "less that process's second step); adcompiler's fwd is the loss alone compiled by "
          "the same backend, timed in runs in the order fwd, fwd+bwd, fwd+bwd, fwd")
    results = {}
    for cfg in a.configs.split(","):
        results[cfg] = collect(cfg, env, a.threads, a.rounds, a.paired)
        print(table(cfg, results[cfg]), flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
