"""The training example's step (examples/gpt/train.py with its defaults: the tiny model, a batch
of 16 x 32 characters of a 101-character vocabulary, AdamW with weight decay 0.01 and
gradient clipping at 1.0), adcompiler's two backends against PyTorch eager.

    python benchmarks/train_step.py [--config tiny] [--bursts 20]

A step is what train.py's loop does per batch: the loss and its gradient through
`adcompiler.value_and_grad(model.loss)`, then `adcompiler.optim.AdamW.update` (clipping,
gradient norms, the update; compiled by the same backend). torch-eager is the same
architecture and shapes (shared/bench/torch_gpt.py, math attention, torch's own initial
weights) with `clip_grad_norm_` and `torch.optim.AdamW`. The loop's bookkeeping (its one-batch
gradient accumulator, progress bar, CSV rows) is left out. Like gpt_step.py it re-executes
itself without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE and with 2 threads for every library;
its processes also get train.py's OPENBLAS_THREAD_TIMEOUT=4 (unless set). Each implementation
is set up in its own idle process, then they are timed in turn, 3 steps at a time
(`gpt_step.paired`), so a drift of the machine's speed falls on all of them.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

import gpt_step

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "examples" / "gpt"), str(gpt_step.BENCH)]
VOCAB = 101         # the default data's (the Python standard library's) characters
WARMUP = 5


def _shapes(config):
    import train
    return dict(train.CONFIGS[config], V=VOCAB, B=train.DEFAULTS["batch_size"])


def _batch(s):
    rng = np.random.default_rng(0)
    return tuple(rng.integers(0, s["V"], (s["B"], s["T"])) for _ in range(2))


def adcompiler_step(config, backend):
    import adcompiler
    import model
    import train
    from adcompiler.optim import AdamW
    s = _shapes(config)
    params = model.init_params(s["V"], s["T"], s["d"], s["H"], s["L"], s["dff"])
    opt = AdamW(lr=train.DEFAULT_LR["adamw"], weight_decay=train.DEFAULT_WD["adamw"],
                clip=train.DEFAULTS["clip"], backend=backend)
    state = {"params": params, "opt": opt.init(params)}
    value_and_grad = adcompiler.value_and_grad(model.loss, backend=backend)
    x, y = _batch(s)

    def step():
        loss, grads = value_and_grad(state["params"], x, y, s["H"])
        state["params"], state["opt"], _ = opt.update(state["params"], grads, state["opt"])
        return loss
    return step


def torch_step(config, threads):
    import torch
    import train
    from gptconfig import GPTConfig
    from torch_gpt import GPT
    torch.set_num_threads(threads)
    s = _shapes(config)
    model = GPT(GPTConfig(config, **s), attn_impl="math", ckpt=False)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=train.DEFAULT_LR["adamw"],
                            weight_decay=train.DEFAULT_WD["adamw"])
    x, y = (torch.from_numpy(a) for a in _batch(s))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), train.DEFAULTS["clip"])
        opt.step()
        return loss.item()
    return step


STEPS = {"adcompiler-numba": lambda c, t: adcompiler_step(c, "numba"),
         "adcompiler-numpy": lambda c, t: adcompiler_step(c, "numpy"),
         "torch-eager": torch_step}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="tiny", help="train.py's --config (default tiny)")
    ap.add_argument("--bursts", type=int, default=20, help="bursts of 3 steps per implementation")
    ap.add_argument("--threads", type=int, default=2, help="threads of every library")
    ap.add_argument("--serve", nargs=3, metavar=("CONFIG", "IMPL", "THREADS"))
    a = ap.parse_args()
    if a.serve:
        config, impl, threads = a.serve
        gpt_step.serve(STEPS[impl](config, int(threads)), WARMUP)
        return
    want = gpt_step.benchmark_env(a.threads)
    env = dict(os.environ)
    env.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")      # as train.py does
    rivals = ["adcompiler-numpy"] + (["torch-eager"] if gpt_step.installed("torch", env) else [])
    found = gpt_step.paired(a.config, env, a.threads, a.bursts, rivals, script=__file__)
    if found is None:
        sys.exit("an implementation failed to start (run it with --serve to see why)")
    medians, ratios = found
    s = _shapes(a.config)
    tokens = s["B"] * s["T"]
    print(f"# train.py's step, config {a.config}, batch {s['B']} x {s['T']}; OPENBLAS_CORETYPE/"
          f"OPENBLAS_L2_SIZE unset; {a.threads} threads: {want}; medians of {a.bursts} bursts "
          "of 3 steps, in turn")
    print("\n| impl | step ms | tokens/s | numba ÷ impl |\n|---|--:|--:|--:|")
    for impl, ms in medians.items():
        ratio = f"{ratios[impl]:.2f}" if impl in ratios else "1.00"
        print(f"| {impl} | {ms:.2f} | {tokens / ms * 1e3:,.0f} | {ratio} |")
    if "torch-eager" not in rivals:
        print("| torch-eager | not installed | | |")


if __name__ == "__main__":
    main()
