"""Train a small GPT on the CPU, with gradients from adcompiler.

    python examples/gpt/train.py                       # the Python stdlib's sources, ~2-3 min
    python examples/gpt/train.py --data book.txt --config tiny --steps 2000
    python examples/gpt/train.py --resume              # continue the run in --out
    python examples/gpt/sample.py                      # generate text from the checkpoint

The model is model.py, plain NumPy; `adcompiler.value_and_grad(model.loss)` compiles its
gradient and `adcompiler.optim` applies AdamW or SGD (compiled too). What it promises:
- every `--eval-every` steps and at the end, the validation loss, printed next to the unigram
  baseline (the loss of a model that ignores the context);
- at the end, on Ctrl-C and on a NaN loss, in --out: ckpt.npz + ckpt.json (parameters,
  optimiser state, step, shapes, vocabulary, arguments), losses.csv, grad_norms.csv (gradient
  norm per layer group and step) and, with matplotlib, loss.png and grad_norms.png;
- `--resume` continues bit for bit: the batch of step s depends only on (--seed, s), the learning
  rate only on s, and the checkpoint keeps every bit of the parameters and optimiser state;
- bad inputs (missing/empty/undecodable data, a context longer than the data) stop with a
  message and exit status 2; a NaN loss stops with status 1 after saving the last good state;
  Ctrl-C saves and exits with status 130.
"""
from __future__ import annotations

import argparse
import csv
import math
import os
import sys
import tempfile
import time

# NumPy's OpenBLAS runs on every core, its threads sleeping soon after each product (2^4
# cycles of spinning instead of 2^28) unless the user says otherwise: spinning, they hold the
# cores the next kernels want, and a core another program holds. (The numba backend shortens
# the spin itself at its first product; this covers the numpy backend.) Must be set before
# NumPy loads OpenBLAS. Not one BLAS thread, as before: single-threaded, OpenBLAS runs
# products of these sizes at 10-12 GFLOP/s on an AMD Zen 1 VM (38 at 512^3; torch's 36-39 at
# every size). Measured there, default run, ms/step: numba backend 18.2-18.3 against 32.9-36.3
# with one thread (24-30 against 34.4 while another process spins on one core), numpy
# backend 31.8-34.7 against 58.3-58.9. Only as a program: imported (by the tests and
# benchmarks/train_step.py), it leaves the process's environment alone.
if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import adcompiler  # noqa: E402
from adcompiler.optim import SGD, AdamW, GradAccumulator, warmup_cosine  # noqa: E402

import checkpoint  # noqa: E402
import model  # noqa: E402
from data import Dataset, DataError, Vocab, fingerprint, read_text  # noqa: E402

# The shapes of ../../shared/bench/gptconfig.py (vocabulary size comes from the data, batch
# size from --batch-size); copied here so the example runs from a plain clone.
# tests/examples checks that they agree.
CONFIGS = {
    "tiny": dict(T=32, d=64, H=4, L=2, dff=256),
    "small": dict(T=64, d=128, H=4, L=4, dff=512),
    "medium": dict(T=128, d=256, H=8, L=6, dff=1024),
}
# The default run: tiny model, 5000 steps of 16 x 32 characters (about 1-3 min on 2 cores);
# measured against batch 8 x 8000 steps and the small config, it reaches the lowest
# validation loss in that time.
DEFAULTS = dict(data=None, vocab="char", config="tiny", steps=5000, batch_size=16, lr=None,
                warmup=None, weight_decay=None, momentum=0.9, grad_accum=1, clip=1.0,
                optimizer="adamw", seed=0, val_fraction=0.1, eval_every=None, eval_batches=8,
                backend=None)
DEFAULT_LR = {"adamw": 3e-3, "sgd": 0.3}
DEFAULT_WD = {"adamw": 0.01, "sgd": 0.0}
# settings a resumed run may change; the others come from the checkpoint
# (--data may name the same text moved elsewhere: its fingerprint must match)
RESUME_FREE = {"steps", "backend", "out", "eval_every", "eval_batches", "resume", "data"}


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="a UTF-8 text file (default: the Python stdlib's sources)")
    ap.add_argument("--vocab", choices=["char", "byte"], help="default char")
    ap.add_argument("--config", choices=list(CONFIGS), help="model shapes (default tiny)")
    ap.add_argument("--steps", type=int, help="total optimiser steps (default 5000; a resumed "
                    "run may raise it: the learning-rate decay then stretches to the new end)")
    ap.add_argument("--batch-size", type=int, help="sequences per micro-batch (default 16)")
    ap.add_argument("--grad-accum", type=int, help="micro-batches per step (default 1)")
    ap.add_argument("--optimizer", choices=["adamw", "sgd"], help="default adamw")
    ap.add_argument("--lr", type=float, help="peak learning rate (default 3e-3 adamw, 0.3 sgd)")
    ap.add_argument("--warmup", type=int, help="warm-up steps (default steps/10, at most 100)")
    ap.add_argument("--weight-decay", type=float, help="default 0.01 adamw, 0 sgd")
    ap.add_argument("--momentum", type=float, help="SGD momentum (default 0.9)")
    ap.add_argument("--clip", type=float, help="global gradient-norm clip, 0 = off (default 1)")
    ap.add_argument("--seed", type=int, help="initialisation and batch order (default 0)")
    ap.add_argument("--val-fraction", type=float, help="tail of the text kept for validation")
    ap.add_argument("--backend", choices=["numba", "numpy"],
                    help="adcompiler backend (default $ADCOMPILER_BACKEND, else numba)")
    ap.add_argument("--out", default="runs/gpt", help="output folder (default runs/gpt)")
    ap.add_argument("--resume", action="store_true", help="continue the checkpoint in --out")
    ap.add_argument("--eval-every", type=int, help="validation every N steps (default steps/10)")
    ap.add_argument("--eval-batches", type=int, help="batches per validation (default 8)")
    return ap, ap.parse_args(argv)


def resolve(ap, args):
    """Fill unset arguments from the checkpoint (on --resume) or the defaults."""
    given = {k: v for k, v in vars(args).items() if v is not None}
    if "data" in given:     # saved absolute, so --resume works from another folder
        given["data"] = os.path.abspath(given["data"])
    settings = dict(DEFAULTS)
    if args.resume:
        if not checkpoint.exists(args.out):
            ap.error(f"--resume: no checkpoint in {args.out} (ckpt.npz + ckpt.json)")
        try:
            saved = checkpoint.load_meta(args.out)["args"]
        except checkpoint.CheckpointError as e:
            ap.error(f"--resume: {e}")
        for k, v in given.items():
            if k in saved and k not in RESUME_FREE and saved[k] != v:
                ap.error(f"--{k.replace('_', '-')} {v}: the checkpoint in {args.out} was "
                         f"trained with {saved[k]!r}; a resumed run keeps it")
        settings.update(saved)
        if "data" not in given and saved.get("data") and not os.path.exists(saved["data"]):
            ap.error(f"--resume: the checkpoint in {args.out} was trained on {saved['data']}, "
                     "which is gone: pass --data with the same text where it is now")
    settings.update(given)
    s = argparse.Namespace(**settings)
    s.lr = s.lr if s.lr is not None else DEFAULT_LR[s.optimizer]
    s.weight_decay = s.weight_decay if s.weight_decay is not None else DEFAULT_WD[s.optimizer]
    s.warmup = s.warmup if s.warmup is not None else min(100, s.steps // 10)
    s.eval_every = s.eval_every if s.eval_every is not None else max(1, s.steps // 10)
    for name in ("steps", "batch_size", "grad_accum", "eval_every", "eval_batches"):
        if getattr(s, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")
    if not (0 < s.lr < math.inf and 0 <= s.clip < math.inf and s.warmup >= 0
            and 0 <= s.weight_decay < math.inf and 0 <= s.momentum < math.inf and s.seed >= 0):
        ap.error("--lr must be positive; --clip, --warmup, --weight-decay, --momentum and --seed "
                 "not negative (and none of them infinite)")
    if s.optimizer == "adamw" and "momentum" in given:
        ap.error("--momentum is SGD's: AdamW's moments are its betas (use --optimizer sgd)")
    return s


def pick_backend(name):
    if name in adcompiler.api.BACKENDS:
        return name
    print(f"note: this adcompiler has no {name!r} backend yet (available: "
          f"{', '.join(adcompiler.api.BACKENDS)}); using 'numpy'", file=sys.stderr)
    return "numpy"


def layer_group(path):
    """Where a parameter sits, for the gradient-norm report: embed, layerN.{ln,attn,mlp},
    final_ln, head."""
    parts = path.split("/")
    if parts[0] == "layers":
        leaf = parts[2]
        kind = "attn" if leaf.startswith(("attn", "proj")) else (
            "mlp" if leaf.startswith("fc") else "ln")
        return f"layer{parts[1]}.{kind}"
    return {"wte": "embed", "wpe": "embed", "lnf_g": "final_ln", "lnf_b": "final_ln",
            "head_w": "head"}[parts[0]]


def group_norms(grad_sq, groups):
    sums = dict.fromkeys(groups, 0.0)
    for path, sq in grad_sq.items():
        sums[layer_group(path)] += sq
    return [math.sqrt(sums[g]) for g in groups]


class Progress:
    """A tqdm bar on a terminal; plain lines (about 20 per run) otherwise."""

    def __init__(self, start, total):
        self.total, self.bar = total, None
        self.every = max(1, (total - start) // 20)
        if sys.stderr.isatty():
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total, initial=start, unit="step", dynamic_ncols=True)

    def step(self, done, loss, tok_s, ms):
        text = f"loss {loss:.3f} | {tok_s:,.0f} tok/s | {ms:.1f} ms/step"
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=False)
            self.bar.update(1)
        elif done % self.every == 0 or done == self.total:
            print(f"step {done:5d}/{self.total} | {text}", flush=True)

    def write(self, line):
        if self.bar is not None:
            self.bar.write(line)
        else:
            print(line, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


LOSS_FIELDS = ["step", "lr", "train_loss", "val_loss", "grad_norm", "ms_per_step",
               "tokens_per_s"]


def read_history(out_dir, name, start):
    """Rows of an earlier run's CSV for steps before `start` (on --resume)."""
    path = os.path.join(out_dir, name)
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return [row for row in csv.DictReader(f) if int(row["step"]) < start]


def write_csv(path, fields, rows):
    """Written whole, then renamed over the old file (as the checkpoint is): a save cut short
    leaves the old file, which --resume reads."""
    with open(path + ".tmp", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    os.replace(path + ".tmp", path)


def plot(out_dir, losses, norms, groups, baseline):
    """loss.png and grad_norms.png; returns the files written ([] without matplotlib)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    steps = [int(r["step"]) for r in losses if r["train_loss"] != ""]
    train = [float(r["train_loss"]) for r in losses if r["train_loss"] != ""]
    if not train:           # stopped before the first step: nothing to draw
        return []
    val = [(int(r["step"]), float(r["val_loss"])) for r in losses if r["val_loss"] != ""]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(steps, train, lw=0.6, alpha=0.5, color="C0", label="train (per step)")
    k = max(1, len(train) // 50)
    smooth = np.convolve(train, np.ones(k) / k, mode="valid")
    ax.plot(steps[k - 1:], smooth, color="C0", label=f"train ({k}-step mean)")
    if val:
        ax.plot(*zip(*val, strict=True), "o-", color="C1", label="validation")
    ax.axhline(baseline, ls="--", color="gray", label=f"unigram baseline {baseline:.2f}")
    ax.set(xlabel="step", ylabel="cross-entropy (nats/token)", title="GPT training loss")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "loss.png"), dpi=120)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    k = max(1, len(norms) // 50)      # a running mean: per-step norms are too noisy to read
    nsteps = [int(r["step"]) for r in norms][k - 1:]
    for i, g in enumerate(groups):
        mean = np.convolve([float(r[g]) for r in norms], np.ones(k) / k, mode="valid")
        ax.plot(nsteps, mean, lw=1.0, label=g, color=plt.cm.tab20(i % 20),
                ls="-" if i < 10 else "--")
    ax.set(xlabel="step", ylabel=f"gradient norm before clipping ({k}-step mean)",
           yscale="log", title="gradient norm per layer group")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "grad_norms.png"), dpi=120)
    plt.close(fig)
    return ["loss.png", "grad_norms.png"]


def norm_table(norms, groups):
    """Mean gradient norm per group over the first and the last tenth of the steps."""
    if not norms:
        return ""
    k = max(1, len(norms) // 10)
    first = [np.mean([float(r[g]) for r in norms[:k]]) for g in groups]
    last = [np.mean([float(r[g]) for r in norms[-k:]]) for g in groups]
    total = sum(x * x for x in last) or 1.0
    lines = [f"gradient norm per layer group (mean over the first / last {k} steps):",
             f"  {'group':<14}{'first':>11}{'last':>11}{'share':>8}"]
    for g, a, b in zip(groups, first, last, strict=True):
        # (4 significant digits: a norm grown to 1e7 before a NaN keeps its column)
        lines.append(f"  {g:<14}{a:>11.4g}{b:>11.4g}{b * b / total:>8.1%}")
    return "\n".join(lines)


def main(argv=None):
    ap, cli = parse_args(argv)
    s = resolve(ap, cli)
    try:
        text, source = read_text(s.data, s.vocab)
        if s.resume:
            meta = checkpoint.load_meta(s.out)
            if meta["data"]["fingerprint"] != fingerprint(text):
                ap.error(f"--resume: the data differs from the data the checkpoint in {s.out} "
                         f"was trained on ({meta['data']['source']})")
            vocab = Vocab.from_json(meta["vocab"])
        else:
            vocab = Vocab.build(text, s.vocab)
        shapes = dict(CONFIGS[s.config], V=vocab.size)
        data = Dataset(vocab.encode(text), shapes["T"], s.val_fraction)
    except DataError as e:
        ap.error(str(e))
    backend = pick_backend(s.backend or os.environ.get("ADCOMPILER_BACKEND", "numba"))
    V, T, d, H, L, dff = (shapes[k] for k in ("V", "T", "d", "H", "L", "dff"))
    B = s.batch_size

    params = model.init_params(V, T, d, H, L, dff, seed=s.seed)
    clip = s.clip if s.clip > 0 else None
    if s.optimizer == "adamw":
        opt = AdamW(lr=s.lr, weight_decay=s.weight_decay, clip=clip, backend=backend)
    else:
        opt = SGD(lr=s.lr, momentum=s.momentum, weight_decay=s.weight_decay, clip=clip,
                  backend=backend)
    state = opt.init(params)
    start = 0
    if s.resume:
        try:
            params, state, meta = checkpoint.load(s.out, params, state)
        except checkpoint.CheckpointError as e:
            ap.error(f"--resume: {e}")
        start = meta["step"]
        if start > s.steps:
            ap.error(f"--resume: the checkpoint in {s.out} is at step {start}, past --steps "
                     f"{s.steps} (give a larger --steps to train on)")
    schedule = warmup_cosine(s.lr, s.warmup, s.steps, min_lr=s.lr / 10)
    value_and_grad = adcompiler.value_and_grad(model.loss, backend=backend)
    eval_loss = adcompiler.jit(model.loss, backend=backend)
    accumulate = GradAccumulator(backend=backend)
    val_batches = data.val_batches(B, s.eval_batches)
    groups = (["embed"] + [f"layer{i}.{k}" for i in range(L) for k in ("ln", "attn", "mlp")]
              + ["final_ln", "head"])
    baseline = data.unigram_loss(V)
    n_params = sum(x.size for x in adcompiler.optim.flatten(params)[1])
    tokens_per_step = B * T * s.grad_accum

    print(f"data: {source} | {s.vocab} vocabulary of {V} | {len(data.train):,} train / "
          f"{len(data.val):,} validation tokens")
    print(f"model: {s.config} (T={T} d={d} heads={H} layers={L} d_ff={dff}), "
          f"{n_params:,} parameters | backend {backend} | {s.optimizer} lr {s.lr:g} | "
          f"batch {B}x{s.grad_accum} x {T} tokens")
    print(f"unigram baseline (validation): {baseline:.3f} nats/token "
          f"(uniform over the vocabulary: {math.log(V):.3f})")
    if start:
        print(f"resuming from step {start} in {s.out}")
    print(f"compiling the loss, its gradient and the optimiser update with the {backend} "
          "backend: the first steps take longer" + (" (the kernels compile in the background, "
                                                    "cached on disk for the next run)"
                                                    if backend == "numba" else ""))
    try:        # (not before: bad data leaves no folder behind)
        os.makedirs(s.out, exist_ok=True)
        tempfile.TemporaryFile(dir=s.out).close()     # (one that exists may be read-only)
    except OSError as e:
        ap.error(f"--out {s.out!r}: {e.strerror}; give a folder that can be made or written")
    losses = read_history(s.out, "losses.csv", start) if start else []
    norms = read_history(s.out, "grad_norms.csv", start) if start else []

    def validate():
        return float(np.mean([eval_loss(params, x, y, H) for x, y in val_batches]))

    def finish(status, why):
        params, state, step = good
        # rows of a step whose update a Ctrl-C kept out of `good` (appended just before it)
        # are dropped with it: --resume runs that step again and writes them
        losses[:] = [r for r in losses if int(r["step"]) < step
                     or int(r["step"]) == step and r["train_loss"] == ""]
        norms[:] = [r for r in norms if int(r["step"]) < step]
        meta = {"format": 1, "step": step, "status": why, "shapes": shapes,
                "vocab": vocab.to_json(), "args": {k: getattr(s, k) for k in DEFAULTS},
                "data": {"source": source, "fingerprint": fingerprint(text),
                         "train_tokens": len(data.train), "val_tokens": len(data.val)},
                "rng": {"batches": "numpy default_rng([seed, step])", "seed": s.seed,
                        "next_step": step},
                "unigram_baseline": baseline}
        checkpoint.save(s.out, params, state, meta)
        write_csv(os.path.join(s.out, "losses.csv"), LOSS_FIELDS, losses)
        write_csv(os.path.join(s.out, "grad_norms.csv"), ["step"] + groups, norms)
        files = ["ckpt.npz", "ckpt.json", "losses.csv", "grad_norms.csv"]
        files += plot(s.out, losses, norms, groups, baseline)
        table = norm_table(norms, groups)
        if table:
            print(table)
        vals = [float(r["val_loss"]) for r in losses if r["val_loss"] != ""]
        if vals:
            print(f"validation loss {vals[0]:.3f} -> {vals[-1]:.3f} "
                  f"(unigram baseline {baseline:.3f}, {vals[-1] / baseline:.0%} of it)")
        print(f"{why} at step {step}: wrote {', '.join(files)} to {s.out}")
        return status

    progress = Progress(start, s.steps)
    step = start
    # what a checkpoint saves, set in one assignment: a Ctrl-C anywhere saves a step count with
    # the parameters and optimiser state of that step, so --resume continues bit for bit
    good = (params, state, step)
    t_run = time.perf_counter()
    timed_steps, timed_s = 0, 0.0
    try:
        while True:
            row = {"step": step, "lr": "", "train_loss": "", "val_loss": "", "grad_norm": "",
                   "ms_per_step": "", "tokens_per_s": ""}
            if step % s.eval_every == 0 or step == s.steps:
                row["val_loss"] = repr(validate())
                progress.write(f"step {step:5d} | validation loss {float(row['val_loss']):.3f}")
            if step == s.steps:
                losses.append(row)
                break
            lr = schedule(step)
            rng = np.random.default_rng([s.seed, step])
            t0 = time.perf_counter()
            for _ in range(s.grad_accum):
                x, y = data.train_batch(rng, B)
                accumulate.add(*value_and_grad(params, x, y, H))
            loss, grads = accumulate.mean()
            if not math.isfinite(loss):
                raise FloatingPointError(f"the training loss is {loss}")
            new_params, new_state, info = opt.update(params, grads, state, lr=lr)
            if not math.isfinite(info["grad_norm"]):
                raise FloatingPointError(f"the gradient norm is {info['grad_norm']}")
            dt = time.perf_counter() - t0
            if step > start:   # the first step of a process includes compilation
                timed_steps, timed_s = timed_steps + 1, timed_s + dt
            row.update(lr=repr(lr), train_loss=repr(loss), grad_norm=repr(info["grad_norm"]),
                       ms_per_step=f"{dt * 1e3:.2f}", tokens_per_s=f"{tokens_per_step / dt:.0f}")
            losses.append(row)
            norms.append({"step": step, **dict(zip(
                groups, (f"{n:.6g}" for n in group_norms(info["grad_sq"], groups)),
                strict=True))})
            good = (new_params, new_state, step + 1)    # after the rows: see finish()
            params, state = new_params, new_state
            step += 1
            progress.step(step, loss, tokens_per_step / dt, dt * 1e3)
    except KeyboardInterrupt:
        progress.close()
        return finish(130, "interrupted")
    except (FloatingPointError, adcompiler.NaNError) as e:
        progress.close()
        if not all(np.isfinite(x).all() for x in adcompiler.optim.flatten(good[0])[1]):
            print(f"stopping: NaN or infinity at step {step} ({e}); the update before it "
                  "overflowed the parameters, so no checkpoint is written. Train again with "
                  "a lower --lr or a --clip.", file=sys.stderr)
            return 1
        print(f"stopping: NaN or infinity at step {step} ({e}); the checkpoint keeps the "
              f"parameters of step {step}, which are finite but give that NaN, so sampling or "
              "resuming from them fails too. Train again with a lower --lr or a --clip (a "
              "resumed run keeps its settings).", file=sys.stderr)
        return finish(1, "stopped on NaN")
    progress.close()
    wall = time.perf_counter() - t_run
    if timed_steps:
        print(f"{step - start} steps in {wall:.1f} s; {timed_s / timed_steps * 1e3:.1f} ms/step, "
              f"{tokens_per_step * timed_steps / timed_s:,.0f} tokens/s (after the first step)")
    return finish(0, "finished")


if __name__ == "__main__":
    sys.exit(main())
